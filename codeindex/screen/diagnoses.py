"""A screened line's diagnoses, column by column, with no per-cell strings but the matched values.

Each diagnosis column is read once, as a categorical: one hashing pass per cell gives every
cell a small integer and the lines' distinct values (``DiagnosisCodes``).  The distinct values
are classified once (``edits.classify_diagnoses``): what each is in the release of each line's
date (its own edits, and its span of billable codes), and what each span says against each
policy.  What a value says on a line apart from its own text is its *class*: the pair of its
code class (its edits) and its range class (the not-covered ranges it lies in and the first
one's label, covered, the ranges it only partly overlaps) under the finding's policy.  A
library's values fall in few classes.  A cell's class is three gathers of small integers from
dense tables (value by release, then span by policy), a finding's classes in column order are
integer keys, and findings share few keys, so what a finding's classes say together (how many
values matched, the ranges and edits each once, the first label) is worked out once per
distinct key, by gathers across its columns.  What a finding quotes is found by integers too:
its matched values are its first's text (joined across columns only for the few with several),
and its notes one of the distinct notes, each written once (a note depends only on the value's
row in the classified codes and its range class).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl
import polars.selectors as cs

from codeindex.codesets import releases
from codeindex.screen.columns import ITEM_SEPARATOR, RANGE_SEPARATOR
from codeindex.screen.edits import Classified, nonempty, partly_notes

CODE_TRAITS = ["edits"]  # what makes a code class: its own edits
RANGE_TRAITS = ["not_covered", "ranges", "label", "covered", "partly"]  # what makes a range class

DIAGNOSIS_FACTS = {  # what a finding's diagnoses say, one row per finding, in order
    "dx_key": pl.UInt32,  # the finding's classes in column order, as a row of DIAGNOSIS_KEYS
    "matched": pl.List(pl.String),  # the values in a not-covered range, trimmed, in column order (null: none)
    "notes_id": pl.UInt32,  # the values' notes, as an index of DiagnosisFacts.notes (null: none)
}

DIAGNOSIS_KEYS = {  # what a finding's diagnosis classes in column order say together; few distinct per screen
    "dx_key": pl.UInt32,  # its row
    "n_dx": pl.Int64,  # how many values lie in a not-covered range
    "first_label": pl.String,  # the label of the first one's first not-covered range
    "first_column": pl.Int64,  # the column of the first one, from 0 in the layout's order (null: none)
    "has_covered": pl.Boolean,  # some value lies in a covered range
    "covered_column": pl.Int64,  # the column of the first such value (null: none)
    "ranges": pl.String,  # the matched values' not-covered ranges, each once, joined by RANGE_SEPARATOR
    "dx_edits": pl.String,  # the values' edits, each once, comma-joined
    "has_notes": pl.Boolean,  # some value has a note (an edit): the finding's notes are gathered cell by cell
}


@dataclass(frozen=True)
class DiagnosisCodes:
    """The screened lines' diagnosis cells as integers: ``ids`` has one ``id{i}`` per column, a row per line, the
    index of the cell's value in ``values`` (null for a null cell)."""

    ids: pl.DataFrame
    values: pl.Series

    @classmethod
    def of(cls, diagnoses: pl.DataFrame) -> DiagnosisCodes:
        """The cells of ``diagnoses`` (the lines' diagnosis columns as text, in order) as integers."""
        categories = pl.Categories.random()  # a mapping of this call's own: ids are 0..n-1 in order seen
        cells = diagnoses.select(pl.col(c).cast(pl.Categorical(categories)).alias(f"id{i}")
                                 for i, c in enumerate(diagnoses.columns))
        values = categories.to_series().rename("value")  # taken while ``cells`` holds the mapping
        return cls(cells.select(pl.all().to_physical()), values)


def block(era: pl.Expr, release: pl.Expr) -> pl.Expr:
    """The block of the code tables a line's (era, release) reads: icd9's releases, icd10's, then one for no era
    (saying nothing)."""
    icd9, icd10 = len(releases("icd9dx")), len(releases("icd10cm"))
    return (pl.when(era == "icd9").then(release.cast(pl.Int64)).when(era == "icd10")
            .then(icd9 + release.cast(pl.Int64)).otherwise(icd9 + icd10))


BLOCKS = len(releases("icd9dx")) + len(releases("icd10cm")) + 1


def _numbered(traits: pl.DataFrame, first: str | None = None) -> pl.DataFrame:
    """The distinct rows of ``traits`` numbered from 1 as ``class`` (those with ``first`` true first)."""
    classes = traits.unique(maintain_order=True)
    if first is not None:
        classes = classes.sort(first, descending=True, maintain_order=True)
    return classes.with_row_index("class", offset=1)


def distinct_rows(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """The distinct rows of ``frame``, and each row's position among them (nulls equal): what is worked out once
    per distinct row is gathered back by it.  Rows of small integers are first packed into one (a hash table of
    one column is twice as fast as of three)."""
    key = _packed(frame)
    if key is None:
        distinct = frame.unique()
        at = frame.join(distinct.with_row_index("row_of_distinct"), on=frame.columns, how="left", nulls_equal=True,
                        maintain_order="left")["row_of_distinct"]
        return distinct, at
    first = key.arg_unique()  # each distinct row's first occurrence
    at = key.to_frame("key").join(key.gather(first).to_frame("key").with_row_index("row_of_distinct"), on="key",
                                  how="left", maintain_order="left")["row_of_distinct"]
    return frame[first], at


def _packed(frame: pl.DataFrame) -> pl.Series | None:
    """Each row of a frame of integer columns as one integer (digits in mixed radix, a null the largest digit),
    None when the frame holds other columns or the integer would not fit in 63 bits."""
    if not all(dtype.is_integer() for dtype in frame.dtypes):
        return None
    lows, tops = frame.select(pl.all().min().fill_null(0)).row(0), frame.select(pl.all().max().fill_null(-1)).row(0)
    radices = [top + 2 for top in tops]  # digits 0..top, and null
    if min(lows, default=0) < 0 or math.prod(radices) >= 2**63:
        return None
    key = pl.lit(0, pl.Int64)
    for column, radix in zip(frame.columns, radices, strict=True):
        key = key * radix + pl.col(column).cast(pl.Int64).fill_null(radix - 1)
    return frame.select(key).to_series()


def _dense(size: int, at: pl.Series, values: pl.Series, missing: int) -> pl.Series:
    """A table of ``size`` UInt32 values, ``values`` at positions ``at``, ``missing`` elsewhere (what it gives a
    column of cells holds half what Int64 would)."""
    return pl.repeat(missing, size, dtype=pl.UInt32, eager=True).scatter(at, values.cast(pl.UInt32))


class DiagnosisClasses:
    """The code classes and range classes of the classified values, in dense tables a cell's class is gathered
    from: ``code_span`` (code class * spans + span) and ``code_row`` (its row in ``codes``) at ``value id +
    block offset``, then ``range_class`` at ``span + slot offset`` (a slot per policy, and a last one, of no
    policy, saying nothing).  Code classes are 1..; range classes 1.. with the not-covered ones first; 0 says
    nothing.  A cell's class is ``code class * range_base + range class``."""

    def __init__(self, classified: Classified, values: pl.Series) -> None:
        width = values.len()
        codes = classified.codes.join(values.to_frame("value").with_row_index("id"), on="value")
        spans = codes.filter(pl.col("lo").is_not_null()).select("era", "lo", "hi").unique(maintain_order=True)
        spans = spans.with_row_index("span")
        codes = codes.join(spans, on=["era", "lo", "hi"], how="left", maintain_order="left")
        position = codes.select(pl.col("id").cast(pl.Int64) + block(pl.col("era"), pl.col("release")) * width
                                ).to_series()
        self.width, self.spans = width, spans.height + 1  # a last span, of values with none, says nothing
        says = pl.col("edits").is_not_null()  # a plain code says nothing of itself: class 0
        self.code_table = _numbered(codes.filter(says).select(CODE_TRAITS))
        codes = codes.join(self.code_table, on=CODE_TRAITS, how="left", nulls_equal=True,
                           maintain_order="left").with_columns(pl.col("class").fill_null(0))
        self.codes = codes
        # A cell's code class and span in one integer: code class * spans + span.
        self.code_span = _dense(BLOCKS * width, position,
                                codes["class"].cast(pl.Int64) * self.spans + codes["span"].fill_null(spans.height),
                                spans.height)
        self.code_row = _dense(BLOCKS * width, position, pl.int_range(codes.height, eager=True), codes.height)
        said = classified.spans.join(spans, on=["era", "lo", "hi"])
        self.range_table = _numbered(said.select(RANGE_TRAITS), first="not_covered")
        said = said.join(self.range_table, on=RANGE_TRAITS, nulls_equal=True)
        self.policies = classified.policies
        self.range_class = _dense((self.policies + 1) * self.spans,
                                  said["policy"].cast(pl.Int64) * self.spans + said["span"], said["class"], 0)
        self.not_covered = int(self.range_table["not_covered"].sum())  # range classes 1..this: not covered
        self.range_base = self.range_table.height + 1
        self.base = self.code_table.height * self.range_base + self.range_base
        self.traits = self._traits()  # made now: slices explained side by side read it

    def code_offset(self, era: pl.Expr, release: pl.Expr) -> pl.Expr:
        """Where the block of the code tables of an (era, release) starts."""
        return block(era, release) * self.width

    def range_offset(self, policy: pl.Expr) -> pl.Expr:
        """Where the slot of the range table of a policy (or of none) starts."""
        return policy.cast(pl.Int64).fill_null(self.policies) * self.spans

    def _traits(self) -> pl.DataFrame:
        """Every class (``class``: code class * range_base + range class, 0.., in order) and what it says: its
        ranges joined by RANGE_SEPARATOR and its edits by commas."""
        none = pl.DataFrame({"class": [0]}, schema={"class": pl.UInt32})
        code = pl.concat([none, self.code_table], how="diagonal").select(
            code="class", code_edits="edits")
        ranges = pl.concat([none, self.range_table], how="diagonal").select(
            pl.col("class").alias("range"), *RANGE_TRAITS).with_columns(
            pl.col("not_covered", "covered").fill_null(False))
        partial = pl.when(pl.col("partly").is_not_null()).then(pl.lit("partial_match"))
        return code.join(ranges, how="cross").select(
            (pl.col("code").cast(pl.Int64) * self.range_base + pl.col("range")).alias("class"),
            "not_covered", "label", "covered", "ranges",
            edits=nonempty(pl.concat_str("code_edits", partial, separator=",", ignore_nulls=True))).sort("class")

    def digits_per_key(self) -> int:
        return max(1, 62 // max(1, self.base.bit_length()))

    def keys(self, dx_count: int) -> list[pl.Expr]:
        """Integer keys holding the columns' classes in order (``class{i}``), as many digits per key as fit."""
        per_key = self.digits_per_key()
        return [pl.sum_horizontal(pl.col(f"class{i}").cast(pl.Int64) * self.base ** (i - start)
                                  for i in range(start, min(start + per_key, dx_count))).alias(f"key{start // per_key}")
                for start in range(0, dx_count, per_key)]

    def by_key(self, keys: pl.DataFrame, dx_count: int) -> pl.DataFrame:
        """What each distinct key says: ``n_dx``, ``first_label``, ``has_covered``, ``ranges``, ``dx_edits`` and
        ``has_notes``, and the columns of the first value in a not-covered and in a covered range, from its
        classes in column order (each a row of ``traits``, by a gather)."""
        per_key, traits = self.digits_per_key(), self.traits
        # Each column's class, worked out once (it is read five times below).
        classes = keys.select((pl.col(f"key{i // per_key}") // self.base ** (i % per_key) % self.base).alias(str(i))
                              for i in range(dx_count)).get_columns()
        not_covered, label, covered, ranges, edits = (pl.lit(traits[name]) for name in
                                                      ("not_covered", "label", "covered", "ranges", "edits"))

        said = keys.select(
            *keys.columns,
            n_dx=pl.sum_horizontal(not_covered.gather(c).cast(pl.Int64) for c in classes),
            first_label=pl.coalesce(pl.when(not_covered.gather(c)).then(label.gather(c)) for c in classes),
            first_column=pl.coalesce(*(pl.when(not_covered.gather(c)).then(i) for i, c in enumerate(classes)),
                                     pl.lit(None, pl.Int64)),
            has_covered=pl.any_horizontal(covered.gather(c) for c in classes),
            covered_column=pl.coalesce(*(pl.when(covered.gather(c)).then(i) for i, c in enumerate(classes)),
                                       pl.lit(None, pl.Int64)),
            ranges=pl.concat_str([pl.when(not_covered.gather(c)).then(ranges.gather(c)) for c in classes],
                                 separator=RANGE_SEPARATOR, ignore_nulls=True),
            dx_edits=pl.concat_str([edits.gather(c) for c in classes], separator=",", ignore_nulls=True))
        return said.with_columns(ranges=_each_once(said["ranges"], RANGE_SEPARATOR),
                                 dx_edits=_each_once(said["dx_edits"], ",")).with_columns(
            has_notes=pl.col("dx_edits").is_not_null())


def _each_once(joined: pl.Series, separator: str) -> pl.Series:
    """Each text's ``separator``-joined items, each once in the order found, joined (null: none); worked out once
    per distinct text (keys share few)."""
    distinct, at = distinct_rows(joined.to_frame("joined"))
    once = pl.col("joined").str.split(separator).list.unique(maintain_order=True).list.join(separator)
    return distinct.select(nonempty(once)).to_series()[at]


@dataclass(frozen=True)
class DiagnosisFacts:
    """What the findings' diagnoses say: ``findings`` (``DIAGNOSIS_FACTS``, one row per finding, in order),
    ``keys`` (``DIAGNOSIS_KEYS``: what the findings' classes in column order say together, by ``dx_key``) and
    ``notes`` (the findings' notes, each distinct text once, by ``notes_id``)."""

    findings: pl.DataFrame
    keys: pl.DataFrame
    notes: pl.Series


def diagnosis_facts(findings: pl.DataFrame, codes: DiagnosisCodes, classes: DiagnosisClasses) -> DiagnosisFacts:
    """The diagnosis facts of the ``findings`` (``row`` (a screened line), ``policy``, ``era`` and ``release``;
    the lines' cells are integers in ``codes``, one row per line), from the ``classes`` of ``codes.values``."""
    dx_count = codes.ids.width
    one_per_line = findings.height == codes.ids.height  # findings are the lines, in order: no gather needed
    ids = codes.ids if one_per_line else codes.ids[findings["row"]]
    code_span, range_class, spans = pl.lit(classes.code_span), pl.lit(classes.range_class), classes.spans
    cells = pl.concat([ids, findings.select(
        code_offset=classes.code_offset(pl.col("era"), pl.col("release")),
        range_offset=classes.range_offset(pl.col("policy")))], how="horizontal").with_columns(
        # A cell's code class and span in its line's release, in one integer (code class * spans + span).
        code_span.gather(pl.col(f"id{i}").cast(pl.Int64) + pl.col("code_offset")).fill_null(spans - 1)
        .alias(f"code_span{i}") for i in range(dx_count)
    ).with_columns(  # its span's range class under the finding's policy
        range_class.gather(pl.col(f"code_span{i}") % spans + pl.col("range_offset")).alias(f"range{i}")
        for i in range(dx_count)
    ).with_columns(  # and its class
        (pl.col(f"code_span{i}") // spans * classes.range_base + pl.col(f"range{i}")).alias(f"class{i}")
        for i in range(dx_count)).drop("range_offset", *(f"code_span{i}" for i in range(dx_count)))
    keys = cells.select(*classes.keys(dx_count))
    distinct, dx_key = distinct_rows(keys)  # a finding's dx_key is a row of said_by_key
    said_by_key = classes.by_key(distinct, dx_count).with_row_index("dx_key")
    in_range = [pl.col(f"range{i}") for i in range(dx_count)]
    matched_at = [pl.when((r > 0) & (r <= classes.not_covered)).then(pl.col(f"id{i}")) for i, r in enumerate(in_range)]
    texts = pl.lit(codes.values.str.strip_chars())  # a value as matched_dx quotes it, by its index
    first_id = pl.coalesce(*matched_at, pl.lit(None, pl.UInt32))
    facts = cells.select(dx_key=dx_key, first_id=first_id)
    # The matched values' texts in column order: the first one's, or for the findings with several (few), the
    # texts of the cells in a not-covered range, joined.
    matched = facts.select(texts.gather("first_id")).to_series()
    several = said_by_key["n_dx"].gather(dx_key) > 1  # dx_key is a row of said_by_key
    if several.any():
        matched = matched.scatter(several.arg_true(), cells.filter(several).select(pl.concat_str(
            [texts.gather(at) for at in matched_at], separator=ITEM_SEPARATOR, ignore_nulls=True)).to_series())
    facts = facts.select("dx_key", matched=matched.str.split(ITEM_SEPARATOR))
    noted = said_by_key["has_notes"].gather(dx_key)  # findings a note is gathered for
    notes_id, notes = _notes(cells.select("code_offset", cs.starts_with("id", "range", "class")).filter(noted),
                             dx_count, classes)
    return DiagnosisFacts(findings=facts.with_columns(notes_id=_scattered(notes_id, noted)),
                          keys=said_by_key.select(DIAGNOSIS_KEYS.keys()), notes=notes)


def _scattered(values: pl.Series, at: pl.Series) -> pl.Series:
    """``values`` placed at the true positions of ``at``, null elsewhere."""
    return pl.repeat(None, at.len(), dtype=values.dtype, eager=True).scatter(at.arg_true(), values)


def _notes(cells: pl.DataFrame, dx_count: int, classes: DiagnosisClasses) -> tuple[pl.Series, pl.Series]:
    """The notes of each row's values, in column order, joined by ITEM_SEPARATOR: as an index of the distinct texts, and the
    texts.  Only values with an edit have a note (their own, then their partial overlaps).  A note depends only
    on the value's row in the classified codes (its text, era and release) and its range class, so each distinct
    note is written once and a cell takes its note's index by an integer gather; most rows hold one noted value
    and take its note as theirs, the few others have theirs written."""
    noted = pl.lit(classes.traits["edits"].is_not_null())  # by class (``traits`` has a row per class, in order)
    code_row, range_base = pl.lit(classes.code_row), classes.range_base
    note_keys = cells.select(  # a noted cell's (code row, range class) in one integer, null where no note
        pl.when(noted.gather(pl.col(f"class{i}")))
        .then(code_row.gather(pl.col(f"id{i}").cast(pl.Int64) + pl.col("code_offset")).cast(pl.Int64) * range_base
              + pl.col(f"range{i}")).alias(str(i)) for i in range(dx_count))
    distinct = pl.concat([note_keys[c].drop_nulls().unique() for c in note_keys.columns]).unique()
    row, range_class = distinct // range_base, distinct % range_base
    own = pl.concat([classes.codes["notes"], pl.Series([None], dtype=pl.String)]).gather(row)  # last row: none
    text = pl.concat([classes.codes["text"], pl.Series([None], dtype=pl.String)]).gather(row)
    partly = pl.concat([pl.Series([None], dtype=pl.String), classes.range_table["partly"]]).gather(range_class)
    note = pl.select(nonempty(pl.concat_str(pl.lit(own), partly_notes(pl.lit(text), pl.lit(partly)),
                                            separator=ITEM_SEPARATOR, ignore_nulls=True))).to_series()
    # A note key's position among the distinct notes, by a gather from a table of every key.
    note_at = pl.lit(_dense((classes.codes.height + 1) * range_base, distinct,
                            pl.int_range(distinct.len(), eager=True), distinct.len()))
    # A row's first note, as its position among the distinct notes: the whole of a row with one.
    first = note_keys.select(note_at.gather(pl.coalesce(pl.all()))).to_series()
    several = note_keys.select(pl.sum_horizontal(pl.all().is_not_null()) > 1).to_series()
    if not several.any():
        return first, note
    note_of = pl.lit(note)
    joined = note_keys.filter(several).select(nonempty(pl.concat_str(
        [note_of.gather(note_at.gather(pl.col(c))) for c in note_keys.columns], separator=ITEM_SEPARATOR,
        ignore_nulls=True))).to_series()
    return (first.scatter(several.arg_true(), pl.int_range(note.len(), note.len() + joined.len(), dtype=pl.UInt32,
                                                           eager=True)), note.extend(joined))
