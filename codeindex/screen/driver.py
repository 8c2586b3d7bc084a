"""The screen's driver: every claim line of the input, in order, with its result, as a LazyFrame that does its
work when collected.

A line walks forward through the wing: ``source`` reads the input, ``layouts`` names its columns,
``line`` reads the line's own facts (date, era, release, ICD version), ``procedures`` says what its
procedure value says, ``diagnoses`` what its diagnosis values say, ``cells`` turns its diagnosis
cells into integers and classes, ``explain`` makes its result, and with NCCI tables ``ncci`` what the lines
billed with it add.  This module runs those steps:

1. classifies each distinct procedure value once (``procedures.classify_procedures``);
2. picks the lines that need an explanation (the *screened* lines: the policy names their
   procedure, it cannot be read, or with ``edits="all"`` a diagnosis draws an edit), reads
   and classifies their distinct diagnosis values once, and explains them (``explain``);
3. places the results by position beside the input rows (the n-th screened line takes
   the n-th result), and gives every other line constants: ``not_applicable``, null
   list columns (nothing was looked for); a line that draws an NCCI edit takes its result
   with the edit's outcome added (``ncci.decided``).

No per-row Python anywhere, and one code path whatever share of lines is screened.
The returned LazyFrame reads nothing until it is collected or sunk.  By default the
lines are then read into memory once; in streaming mode the source is read in passes
(distinct procedures, the claims' primary lines, then the output one slice at a
time, each slice explained on its own), so memory holds one slice.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import polars as pl

from codeindex.errors import InputError
from codeindex.policy.compiled import CompiledPolicies
from codeindex.policy.ncci import NcciTables
from codeindex.screen.cells import BLOCKS, DiagnosisClasses, DiagnosisCodes, block
from codeindex.screen.columns import FINDINGS, RESULT
from codeindex.screen.diagnoses import classify_diagnoses
from codeindex.screen.explain import explain, unscreened
from codeindex.screen.layouts import LineColumns
from codeindex.screen.line import LineFacts, as_text, check_code_columns
from codeindex.screen.ncci import NCCI_RESULT, NcciScreen, decided, outcomes_between, spilled
from codeindex.screen.procedures import classify_procedures

EditsMode = Literal["policy", "all"]
Engine = Literal["in-memory", "streaming"]  # in memory: the lines read once; streaming: read in passes
CHUNK_ROWS = 250_000  # lines in a slice of a streaming output, at most: memory holds about one slice explained
MIN_SLICE_ROWS = 100_000  # screened lines in a slice explained beside others in memory, at least (fixed costs)
SLICES_AT_MOST = pl.thread_pool_size()  # slices explained side by side in memory
CELLS_PER_PAIR_AT_MOST = 4  # diagnosis cells per (value, context) pair, at most, to classify only the pairs seen


@dataclass(frozen=True)
class _Screen(LineFacts):
    """The screen of one input against a library: how its lines' facts are read (``LineFacts``), the ``library``,
    the edits mode, and whether each line lists every named policy's finding (``with_findings``)."""

    library: CompiledPolicies
    edits: EditsMode
    with_findings: bool  # a library was asked for: each line lists every named policy's finding
    ncci: NcciScreen | None = None  # the NCCI edits screened beside the library, if any

    def procedures(self, lines: pl.LazyFrame, engine: Engine) -> pl.DataFrame:
        """What each distinct procedure value of the lines says (``PROCEDURE``)."""
        distinct = lines.select(as_text(self.cols.procedure).unique()).collect(engine=engine)
        return classify_procedures(distinct.to_series().to_list(), self.library)

    def primaries(self, lines: pl.LazyFrame, procedures: pl.DataFrame, engine: Engine) -> pl.DataFrame:
        """The (claim, code) pairs of lines whose code is an add-on's primary, each once."""
        primaries = procedures.filter(pl.col("add_on").fill_null(False))["primary"].unique()
        named = procedures.filter(pl.col("code").is_in(primaries.implode())).select("procedure", "code").unique()
        codes = named["code"].unique().sort()  # a primary line's code is made distinct as its number among these
        number = dict(zip(named["procedure"].to_list(), codes.search_sorted(named["code"]).to_list(), strict=True))
        # A few equalities (the primaries of a policy's add-ons are few), cheaper than a hash lookup per line; the
        # pairs made distinct with the code as a number (with the code as text, the streaming engine held 400 MB
        # for 10 M lines, as a number 230 MB).
        return (lines.filter(_one_of(as_text(self.cols.procedure), pl.Series(list(number), dtype=pl.String))
                             .fill_null(False))
                .select(claim=self.claim(), code=as_text(self.cols.procedure).replace_strict(
                    number, default=None, return_dtype=pl.UInt32))
                .filter(pl.col("claim").is_not_null()).unique().collect(engine=engine)
                .with_columns(code=pl.lit(codes).gather(pl.col("code"))))

    def picker(self, lines: pl.LazyFrame, procedures: pl.DataFrame, engine: Engine) -> _Picker:
        """What picks the lines of a frame that need an explanation: the policy names their procedure (in some
        version), their procedure cannot be read, or (with ``edits="all"``) a diagnosis draws an edit in the
        line's era and release (in any of those the ``lines`` have)."""
        wanted = procedures.filter(pl.col("coverage").is_not_null() | pl.col("error").is_not_null())["procedure"]
        named = _one_of(as_text(self.cols.procedure), wanted.unique(maintain_order=True)).fill_null(False)
        if self.edits == "policy":
            return _Picker(self, named, None)
        contexts = lines.select(era=self.era(), release=self.release()).unique().drop_nulls().collect(engine=engine)
        return _Picker(self, named, _Suspects(self, list(contexts.iter_rows())))

    def screen(self, frame: pl.DataFrame, picked: _Picked, procedures: pl.DataFrame,
               primaries: pl.DataFrame, edited: pl.DataFrame | None = None) -> pl.DataFrame:
        """The output of a frame of lines, of which the ``picked`` are screened: its columns and, beside them, each
        line's result; with NCCI edits, ``edited`` holds the outcome of the frame's lines that draw one (``row``:
        the line in the frame), picked or not."""
        screened = picked.screened.with_row_index("row")
        # The primaries of the screened lines' claims only: a slice's add-ons are looked up among a few, not among
        # every primary line of the input (a hash table of millions of rows per slice).
        primaries = primaries.filter(pl.col("claim").is_in(screened["claim"].implode()))
        results = explain(screened, picked.codes, procedures, picked.classes, primaries, self.library, self.cols,
                          self.with_findings)
        rest = unscreened(self.library, self.edits == "all", self.with_findings)
        if edited is None:
            return pl.concat([frame.select(self.cols.output), _placed(results, picked.lines, rest)], how="horizontal")
        # The lines that draw NCCI edits take the library's result with their outcome added (a few distinct rows),
        # and each its own NCCI_RESULT values.
        line = edited["row"].cast(pl.UInt32)
        own = pl.select(pl.when(pl.lit(picked.lines.gather(line))).then(pl.lit(picked.lines.cum_sum().gather(line))
                                                                         - 1).otherwise(results.height)).to_series()
        # A gather from one chunk: from two, polars takes seconds for a million rows.
        rows, which = decided(pl.concat([results, rest], rechunk=True), own, edited)
        own_values = edited.select(list(NCCI_RESULT))
        at = pl.repeat(edited.height, frame.height, dtype=pl.UInt32, eager=True).scatter(
            line, pl.int_range(edited.height, dtype=pl.UInt32, eager=True))  # a line's row, or the null row after
        return pl.concat([frame.select(self.cols.output), _placed(results, picked.lines, rest, (line, rows, which)),
                          pl.concat([own_values, own_values.clear(1)], rechunk=True)[at]], how="horizontal")


@dataclass(frozen=True)
class _Picked:
    """The lines of a frame that need an explanation (``lines``, a mask of the frame's), and the picked lines
    (``screened``: ``LINE`` and their diagnoses, in one chunk) with their diagnosis cells as integers (``codes``)
    and the classes of their values (``classes``)."""

    lines: pl.Series
    screened: pl.DataFrame
    codes: DiagnosisCodes
    classes: DiagnosisClasses

    def __getitem__(self, part: slice) -> _Picked:
        """The picked of a slice of the frame's lines (its values and their classes shared)."""
        before, count = int(self.lines[:part.start].sum()), int(self.lines[part].sum())
        return _Picked(self.lines[part], self.screened.slice(before, count),
                       DiagnosisCodes(self.codes.ids.slice(before, count), self.codes.values), self.classes)


@dataclass(frozen=True)
class _Picker:
    """Picks the lines of a frame that need an explanation: those whose procedure is ``named`` (an expression of
    the line), and with ``edits="all"`` the ``suspects``; then reads and classifies their diagnoses, once for
    every slice they are explained in."""

    plan: _Screen
    named: pl.Expr
    suspects: _Suspects | None

    def lines(self, frame: pl.DataFrame) -> _Picked:
        """Which lines of ``frame`` need an explanation, and those lines."""
        named = frame.select(self.named).to_series()
        if self.suspects is None:  # the picked lines' diagnoses are read and classified now
            screened = self._screened(frame, named)
            return _Picked(named, screened, *self._diagnoses(frame, named, screened))
        # Every line's diagnoses were read and classified to pick them.
        suspect, cells, values = self.suspects.lines(frame)
        picked = named | suspect
        return _Picked(picked, self._screened(frame, picked), DiagnosisCodes(cells.filter(picked), values),
                       DiagnosisClasses(self.suspects.classified, values))

    def _diagnoses(self, frame: pl.DataFrame, picked: pl.Series,
                   screened: pl.DataFrame) -> tuple[DiagnosisCodes, DiagnosisClasses]:
        """The picked lines' diagnosis cells as integers, and the classes of their values in the lines' (era,
        release) contexts (``screened``: the picked lines)."""
        codes = DiagnosisCodes.of(frame.lazy().filter(pl.lit(picked)).select(self.plan.diagnoses()).collect())
        contexts = list(screened.select("era", "release").unique().drop_nulls().iter_rows())
        seen = None
        if codes.ids.height * codes.ids.width <= CELLS_PER_PAIR_AT_MOST * codes.values.len() * len(contexts):
            # Fast path for few lines: a value is classified only in the contexts of the lines it is on, not in every
            # context of the lines (at 0.5 % named, 38,000 (value, context) pairs instead of 77,000); finding them
            # is a pass over the cells, which with many lines costs more than it saves.
            seen = pl.concat([codes.ids, screened.select("era", "release")], how="horizontal").lazy().unpivot(
                index=["era", "release"], value_name="id").drop_nulls().select("id", "era", "release").unique(
            ).collect()
        classified = classify_diagnoses(codes.values, self.plan.library, contexts, seen)
        return codes, DiagnosisClasses(classified, codes.values)

    def _screened(self, frame: pl.DataFrame, picked: pl.Series) -> pl.DataFrame:
        """The picked lines' ``LINE`` columns, in one chunk: the many gathers of the explanation are far cheaper
        on one.  Only the columns they are made of are filtered."""
        return frame.lazy().filter(pl.lit(picked)).select(**self.plan.line(self.plan.library.boundaries)).collect(
        ).rechunk()


class _Suspects:
    """For ``edits="all"``: which lines have a diagnosis that draws an edit in their context (era and release).

    Each frame's diagnosis cells are read as categoricals of one mapping kept across frames, so a value has one
    integer id for the whole screen and is classified once, when first seen (``diagnoses.classify_diagnoses``, in
    every context of the input).  The contexts where a value draws an edit are bits of one integer (a bit per
    block of the code tables, ``diagnoses.block``), and a line is suspect when a cell's bits hold its context's:
    a gather per cell, and no string lookup but the cast.  The picked lines' cells and the classification are
    then the explanation's too."""

    def __init__(self, plan: _Screen, contexts: list[tuple[str, int]]) -> None:
        self.plan, self.contexts = plan, contexts
        self.categories = pl.Categories.random()  # this screen's own: ids are 0..n-1 in order seen
        self.holds = pl.Series(dtype=pl.Categorical(self.categories))  # keeps the mapping between frames
        self.bits = pl.Series([], dtype=pl.Int64)  # a classified value's contexts with an edit, by its id
        self.classified = classify_diagnoses(pl.Series([], dtype=pl.String), plan.library, contexts)

    @staticmethod
    def bit(era: pl.Expr, release: pl.Expr) -> pl.Expr:
        """A context's bit."""
        return pl.lit(pl.Series([1 << b for b in range(BLOCKS)], dtype=pl.Int64)).gather(block(era, release))

    def lines(self, frame: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame, pl.Series]:
        """Whether each line of ``frame`` has a diagnosis drawing an edit in its context, and its diagnosis cells
        as read: the index of each cell's value (``id{i}`` for the i-th column) in the values seen so far."""
        cells = frame.select(text.cast(pl.Categorical(self.categories)) for text in self.plan.diagnoses())
        values = self.categories.to_series().rename("value")  # every value seen so far, by id
        if values.len() > self.bits.len():
            self.bits = self.bits.extend(self._bits(values[self.bits.len():]))
        cells = cells.select(pl.col(c).to_physical().alias(f"id{i}") for i, c in enumerate(cells.columns))
        bits = pl.lit(self.bits)
        context = pl.lit(frame.select(self.bit(self.plan.era(), self.plan.release())).to_series())
        # Whether a cell's bits hold its line's context, each column its own expression (they run side by side).
        hits = cells.select(((bits.gather(pl.col(c)) & context) != 0).alias(c) for c in cells.columns)
        suspect = hits.select(pl.any_horizontal(pl.all()).fill_null(False)).to_series()  # a null cell: no hit
        return suspect, cells, values

    def _bits(self, values: pl.Series) -> pl.Series:
        """Each value's contexts where it draws an edit: its own edits, and with one policy, a partial overlap of
        its ranges (a line no policy of a library names is explained by none, so only its own edits show).  The
        values' classification joins the screen's."""
        library = self.plan.library
        classified = classify_diagnoses(values, library, self.contexts)
        self.classified = self.classified.merged(classified)
        lone = library.lone_policy  # a line no policy names is explained by it: its partial overlaps are edits too
        rows = classified.by_policy().filter(pl.col("policy") == lone) if lone is not None else classified.codes
        edited = rows.filter(pl.col("edits").is_not_null()).select("value", "era", "release").unique()
        # A value's bits: distinct powers of two, so their sum is their or.
        per_value = edited.group_by("value").agg(bits=self.bit(pl.col("era"), pl.col("release")).sum())
        return (values.to_frame("value").join(per_value, on="value", how="left", maintain_order="left")["bits"]
                .fill_null(0).cast(pl.Int64))  # an empty sum's type is not Int64


def screen_lines(rows: pl.LazyFrame, cols: LineColumns, library: CompiledPolicies, *, where: str = "the input",
                 icd_version: int | None = None, edits: EditsMode = "policy", streaming: bool = False,
                 with_findings: bool = False, ncci: NcciTables | None = None,
                 ncci_setting: str = "practitioner") -> tuple[pl.Schema, Callable[[], Iterator[pl.DataFrame]]]:
    """The output's schema, and what makes the output: every claim line of the input ``rows``, in order, with
    its columns and its determination against the ``library`` of policies (the most severe of theirs), and
    ``with_findings`` each policy's (``FINDINGS``), in a few frames.  With ``ncci`` tables, every line's NCCI edits
    too (for the ``ncci_setting``'s claims: the ``ncci.NCCI_RESULT`` columns are added).

    The input's schema is checked now (a missing or mistyped column, a bad option is an ``InputError``
    before any work); the lines are read when the frames are made.  By default they are read into memory
    once; with ``streaming`` the source is read in passes and the output made one slice at a time, for
    input larger than memory.
    """
    if edits not in ("policy", "all"):
        raise InputError(f"edits must be 'policy' or 'all', not {edits!r}")
    if not isinstance(streaming, bool):
        raise InputError(f"streaming must be True or False, not {streaming!r}")
    if icd_version not in (None, 9, 10):
        raise InputError(f"icd_version must be 9 or 10 (or None), not {icd_version!r}")
    lines = cols.lines(rows)
    schema = lines.collect_schema()
    check_code_columns(cols, schema, where)
    if ncci is not None and not cols.date:
        raise InputError(f"{where}: NCCI edits need the date of service: no date column (pass --date COLUMN)")
    plan = _Screen(cols, schema, where, icd_version, library, edits, with_findings)
    if ncci is not None:  # its lines' facts read as the plan reads them
        plan = replace(plan, ncci=NcciScreen(ncci, ncci_setting, plan))
    if not (cols.icd_version or cols.date or icd_version is not None):
        raise InputError(f"{where}: cannot tell the ICD version of the lines: no icd_version column, "
                         "no date of service column, and no --icd-version")
    plan.line()  # every expression builds (a date column of the wrong type is an error now, not when collected)
    added = (RESULT | FINDINGS if with_findings else RESULT) | (NCCI_RESULT if ncci is not None else {})
    clashes = [name for name in added if name in cols.output]
    if clashes:
        raise InputError(f"{where}: the input already has column(s) {', '.join(map(repr, clashes))}, which the "
                         "screen adds; rename or drop them (a screened output screened again?)")
    output_schema = pl.Schema({name: schema[name] for name in cols.output} | added)
    return output_schema, lambda: _by_slices(rows, plan) if streaming else _in_memory(lines, plan)


def _in_memory(lines: pl.LazyFrame, plan: _Screen) -> Iterator[pl.DataFrame]:
    """The output in a few pieces: the lines read into memory once, every pass over memory, and the screened
    lines explained in as many slices as polars has threads (each of at least ``MIN_SLICE_ROWS`` screened lines),
    side by side: much of an explanation is a sequence of small steps, each using the cores only in part."""
    frame = lines.collect()
    memory = frame.lazy()
    procedures = plan.procedures(memory, "in-memory")
    primaries = plan.primaries(memory, procedures, "in-memory")
    edited = plan.ncci.outcomes(memory, procedures) if plan.ncci else None
    picked = plan.picker(memory, procedures, "in-memory").lines(frame)
    screened = picked.screened.height
    parts = max(1, min(SLICES_AT_MOST, screened // MIN_SLICE_ROWS))
    # Cut where each slice holds as many screened lines as the next (they need not be spread evenly).
    shares = pl.Series([screened * k // parts for k in range(1, parts)], dtype=pl.UInt32)
    cuts = [0, *picked.lines.cum_sum().search_sorted(shares), frame.height]
    with ThreadPoolExecutor(parts) as pool:
        yield from pool.map(lambda start, end: plan.screen(
            frame[start:end], picked[start:end], procedures, primaries,
            outcomes_between(edited.lazy(), start, end) if edited is not None else None),
            cuts[:-1], cuts[1:])


def _by_slices(rows: pl.LazyFrame, plan: _Screen) -> Iterator[pl.DataFrame]:
    """The output one slice of the input rows after another, each explained on its own, so that memory holds
    one slice.  The whole input is read first for what crosses slices: the distinct procedures, the claims'
    primary lines (an add-on may be in another slice than its primary) and, with ``edits="all"``, the (era,
    release) contexts of its lines, each diagnosis value being classified in all of them when first seen.  The
    input is sliced before it becomes lines (a slice of exploded lines would explode every row before it
    again)."""
    lines = plan.cols.lines(rows)
    procedures = plan.procedures(lines, "streaming")
    primaries = plan.primaries(lines, procedures, "streaming")
    picker = plan.picker(lines, procedures, "streaming")
    chunk_rows = max(1, CHUNK_ROWS // plan.cols.lines_per_row)
    total = rows.select(pl.len()).collect(engine="streaming").item()
    with tempfile.TemporaryDirectory(prefix="codeindex-ncci-") as spill:
        # NCCI edits cross slices (a visit's lines may be in two): found for the whole input first, a bucket of
        # visits at a time, and spilled to disk, so memory stays flat in the number of lines.
        edited = (spilled(plan.ncci, lines, procedures, lines.select(pl.len()).collect(engine="streaming").item(),
                          Path(spill)) if plan.ncci else None)
        first_line = 0  # the slice's first line among the input's
        for start in range(0, max(total, 1), chunk_rows):  # a slice's lines are let go once screened, before the next
            frame = plan.cols.lines(rows.slice(start, chunk_rows)).collect()
            own = edited.rows(first_line, first_line + frame.height) if edited is not None else None
            first_line += frame.height
            yield plan.screen(frame, picker.lines(frame), procedures, primaries, own)


def _one_of(expr: pl.Expr, values: pl.Series) -> pl.Expr:
    """Whether ``expr`` is one of ``values`` (null when a null is among them).  A policy names a few
    procedures: a few equalities are three times cheaper per line than a hash lookup."""
    known = values.drop_nulls()
    test = (pl.any_horizontal(expr == value for value in known) if 0 < known.len() <= 8
            else expr.is_in(known.implode()))
    return test | expr.is_null() if values.null_count() else test


def _placed(results: pl.DataFrame, picked: pl.Series, unscreened: pl.DataFrame,
            replaced: tuple[pl.Series, pl.DataFrame, pl.Series] | None = None) -> pl.DataFrame:
    """The result of each line: the n-th picked line takes row n of ``results``, any other the unscreened row;
    ``replaced`` (lines, rows, and the row each of those lines takes) gives those lines other rows."""
    edited = replaced is not None and replaced[0].len() > 0
    if results.height == picked.len() and not edited:  # every line was picked: the results are in place
        return results
    # The results, the unscreened row, then the replacing rows, in one chunk (a gather from one is far cheaper).
    table = pl.concat([results, unscreened, *([replaced[1]] if replaced is not None else [])], how="vertical",
                      rechunk=True)
    # Every line points at the unscreened row, then the picked ones at theirs, the replaced at theirs.
    position = pl.repeat(results.height, picked.len(), dtype=pl.UInt32, eager=True)
    position = position.scatter(picked.arg_true(), pl.int_range(results.height, dtype=pl.UInt32, eager=True))
    if replaced is not None and edited:
        position = position.scatter(replaced[0], replaced[2].cast(pl.UInt32) + results.height + unscreened.height)
    return table[position]
