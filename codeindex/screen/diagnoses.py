"""A screened line's diagnoses, column by column, with no per-cell strings but the matched values.

Each diagnosis column is read once, as a categorical: one hashing pass per cell gives every
cell a small integer and the lines' distinct values (``DiagnosisCodes``).  The distinct values
are classified once (``edits.classify_diagnoses``).  What a value says apart from its own text
(whether it lies in a not-covered range and which, the first one's label, covered, its edits)
is its *class*: a policy's values fall in a few classes.  A cell's class is one gather of small
integers, a line's classes in column order are integer keys, and lines share few keys, so what
a line's classes say together (how many values matched, the ranges and edits each once, the
first label) is worked out once per distinct key.  Only the matched values' text and the
notes (which quote the value) are gathered per line, the notes from the few cells holding one.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from codeindex.codesets import releases
from codeindex.screen.columns import DIAGNOSIS, RANGE_SEPARATOR, dx_column
from codeindex.screen.edits import nonempty

LIST_SEPARATOR = "\x1e"  # joins a line's matched values before they become a list; never in a code
TRAITS = ["not_covered", "ranges", "label", "covered", "edits", "padded"]  # what makes a class: all but the text

DIAGNOSIS_FACTS = {  # what a screened line's diagnoses say, one row per line, in order
    "row": pl.UInt32,
    "dx_key": pl.Int64,  # the line's classes in column order, as a row of DIAGNOSIS_KEYS
    "matched": pl.String,  # the values in a not-covered range, in column order, joined by LIST_SEPARATOR
    "covered_id": pl.UInt32,  # the first value in a covered range, as an index of DiagnosisCodes.values
    "dx_notes": pl.String,  # the values' notes, "; "-joined
}

DIAGNOSIS_KEYS = {  # what a line's diagnosis classes in column order say together; few distinct per screen
    "dx_key": pl.Int64,
    "n_dx": pl.Int64,  # how many values lie in a not-covered range
    "first_label": pl.String,  # the label of the first one's first not-covered range
    "has_covered": pl.Boolean,  # some value lies in a covered range
    "ranges": pl.String,  # the matched values' not-covered ranges, each once, joined by RANGE_SEPARATOR
    "dx_edits": pl.String,  # the values' edits, each once, comma-joined
    "has_notes": pl.Boolean,  # some value has a note (an edit): the line's notes are gathered cell by cell
    "padded": pl.Boolean,  # some matched value is written with spaces around it: the line's list is trimmed
}


@dataclass(frozen=True)
class DiagnosisCodes:
    """The screened lines' diagnosis cells as integers: ``ids`` has ``row`` and one ``id{i}`` per column,
    the index of the cell's value in ``values`` (null for a null cell)."""

    ids: pl.DataFrame
    values: pl.Series
    categories: pl.Categories  # keeps the mapping behind ``ids`` alive

    @classmethod
    def of(cls, lines: pl.DataFrame, dx_count: int) -> DiagnosisCodes:
        categories = pl.Categories.random()  # a mapping of this call's own: ids are 0..n-1 in order seen
        cells = lines.select("row", *(pl.col(dx_column(i)).cast(pl.Categorical(categories)).alias(f"id{i}")
                                      for i in range(dx_count)))
        values = categories.to_series().rename("value")  # taken while ``cells`` holds the mapping
        return cls(cells.with_columns(pl.exclude("row").to_physical()), values, categories)


def _block(era: pl.Expr, release: pl.Expr) -> pl.Expr:
    """The block of the tables a line's (era, release) reads: icd9's releases, icd10's, then one for no era
    (saying nothing)."""
    icd9, icd10 = len(releases("icd9dx")), len(releases("icd10cm"))
    return (pl.when(era == "icd9").then(release.cast(pl.Int64)).when(era == "icd10")
            .then(icd9 + release.cast(pl.Int64)).otherwise(icd9 + icd10))


BLOCKS = len(releases("icd9dx")) + len(releases("icd10cm")) + 1


class _Classes:
    """The classes of the classified values (1..C, not-covered ones first; 0 says nothing) and, for each
    (value, era, release) at ``value id + block offset``, its class and its row in ``said`` (1-based; 0 for
    none)."""

    def __init__(self, said: pl.DataFrame, width: int) -> None:
        said = said.with_columns(  # padded: written with spaces around it, which the text leaves out
            ranges=pl.col("ranges").str.split(RANGE_SEPARATOR), edits=pl.col("edits").str.split(","),
            padded=pl.col("value") != pl.col("text"))
        classes = (said.select(TRAITS).unique(maintain_order=True)
                   .sort("not_covered", descending=True, maintain_order=True))
        self.table = classes.with_row_index("class", offset=1)
        self.not_covered = int(classes["not_covered"].sum())  # classes 1..this lie in a not-covered range
        self.has_covered = bool(classes["covered"].any())
        self.base = classes.height + 1
        self.width = width
        self.said = said
        placed = said.with_row_index("said", offset=1).join(self.table, on=TRAITS, nulls_equal=True).select(
            position=pl.col("id").cast(pl.Int64) + self.offset(pl.col("era"), pl.col("release")), cls="class",
            said="said")
        at = pl.DataFrame({"position": pl.int_range(BLOCKS * width, dtype=pl.Int64, eager=True)}).join(
            placed, on="position", how="left", maintain_order="left").fill_null(0)
        self.class_at, self.said_at = at["cls"].cast(pl.Int64), at["said"].cast(pl.Int64)

    def offset(self, era: pl.Expr, release: pl.Expr) -> pl.Expr:
        """Where the block of the tables of an (era, release) starts."""
        return _block(era, release) * self.width

    def digits_per_key(self) -> int:
        return max(1, 62 // max(1, self.base.bit_length()))

    def keys(self, dx_count: int) -> list[pl.Expr]:
        """Integer keys holding the columns' classes in order (``class{i}``), as many digits per key as fit."""
        per_key = self.digits_per_key()
        return [pl.sum_horizontal(pl.col(f"class{i}") * self.base ** (i - start)
                                  for i in range(start, min(start + per_key, dx_count))).alias(f"key{start // per_key}")
                for start in range(0, dx_count, per_key)]

    def by_key(self, keys: pl.DataFrame, dx_count: int) -> pl.DataFrame:
        """What each distinct key says: ``n_dx``, ``first_label``, ``ranges`` and ``dx_edits``."""
        per_key = self.digits_per_key()
        digits = [(pl.col(f"key{i // per_key}") // self.base ** (i % per_key) % self.base).alias(str(i))
                  for i in range(dx_count)]
        cells = (keys.with_row_index("k").select("k", *digits)
                 .unpivot(index="k", variable_name="column", value_name="class")
                 .filter(pl.col("class") > 0).with_columns(pl.col("column").cast(pl.Int32))
                 .join(self.table, on="class").sort("k", "column"))
        said = cells.group_by("k").agg(
            n_dx=pl.col("not_covered").sum().cast(pl.Int64),
            first_label=pl.col("label").filter("not_covered").first(), has_covered=pl.col("covered").any(),
            padded=(pl.col("padded") & pl.col("not_covered")).any(),
            ranges=pl.col("ranges").filter("not_covered").list.explode(keep_nulls=False, empty_as_null=False)
            .unique(maintain_order=True).str.join(RANGE_SEPARATOR),
            dx_edits=pl.col("edits").list.explode(keep_nulls=False, empty_as_null=False)
            .unique(maintain_order=True).str.join(","))
        return keys.with_row_index("k").join(said, on="k", how="left").select(
            *keys.columns, n_dx=pl.col("n_dx").fill_null(0), first_label="first_label",
            has_covered=pl.col("has_covered").fill_null(False), has_notes=pl.col("dx_edits").is_not_null(),
            padded=pl.col("padded").fill_null(False),
            ranges=nonempty(pl.col("ranges")), dx_edits=nonempty(pl.col("dx_edits")))


@dataclass(frozen=True)
class DiagnosisFacts:
    """What the screened lines' diagnoses say: ``lines`` (``DIAGNOSIS_FACTS``, one row per line, in order) and
    ``keys`` (``DIAGNOSIS_KEYS``: what the lines' classes in column order say together, by ``dx_key``)."""

    lines: pl.DataFrame
    keys: pl.DataFrame


def diagnosis_facts(lines: pl.DataFrame, codes: DiagnosisCodes, said: pl.DataFrame) -> DiagnosisFacts:
    """The facts of the screened ``lines`` (``LINE`` with their diagnoses; ``codes`` their cells as integers),
    from ``said`` (``DIAGNOSIS``: what the values say)."""
    dx_count = codes.ids.width - 1
    said = said.cast(DIAGNOSIS).join(  # type: ignore[arg-type]
        codes.values.to_frame().with_row_index("id"), on="value")
    classes = _Classes(said, codes.values.len())
    class_at = pl.lit(classes.class_at)
    ids = [pl.col(f"id{i}") for i in range(dx_count)]
    offset = classes.offset(pl.col("era"), pl.col("release"))
    cells = pl.concat([codes.ids, lines.select(offset=offset)], how="horizontal").with_columns(
        (pl.col(f"id{i}").cast(pl.Int64) + pl.col("offset")).alias(f"position{i}") for i in range(dx_count)
    ).with_columns(class_at.gather(f"position{i}").fill_null(0).alias(f"class{i}") for i in range(dx_count))
    keys = cells.select(*classes.keys(dx_count))
    if keys.width == 1:  # the classes fit one integer: it is the key
        dx_key, distinct = keys.to_series().alias("dx_key"), keys.unique().with_columns(dx_key=pl.col("key0"))
    else:  # number the distinct keys
        distinct = keys.unique().with_row_index("dx_key").with_columns(pl.col("dx_key").cast(pl.Int64))
        dx_key = keys.join(distinct, on=keys.columns, how="left", maintain_order="left")["dx_key"]
    said_by_key = distinct.join(classes.by_key(distinct.select(keys.columns), dx_count), on=keys.columns,
                                how="left")
    in_class = [pl.col(f"class{i}") for i in range(dx_count)]
    matched_at = [(c > 0) & (c <= classes.not_covered) for c in in_class]
    dx = [pl.col(dx_column(i)) for i in range(dx_count)]
    matched = pl.concat_str([pl.when(m).then(value) for m, value in zip(matched_at, dx, strict=True)],
                            separator=LIST_SEPARATOR, ignore_nulls=True)
    covered_id = pl.lit(None, pl.UInt32)
    if classes.has_covered:
        is_covered = pl.lit(pl.Series([False, *classes.table["covered"]]))
        covered_id = pl.coalesce(*(pl.when(is_covered.gather(c)).then(i) for c, i in zip(in_class, ids, strict=True)),
                                 pl.lit(None, pl.UInt32))
    facts = pl.concat([cells, lines.select(dx_column(i) for i in range(dx_count))], how="horizontal").select(
        "row", dx_key=dx_key, matched=nonempty(matched), covered_id=covered_id)
    padded = facts.select(pl.col("dx_key").is_in(said_by_key.filter("padded")["dx_key"].implode())).to_series()
    if padded.any():  # the few lines with a matched value written with spaces around it: trim them
        trimmed = facts.filter(padded).select(pl.col("matched").str.replace_all(
            rf"\s*{LIST_SEPARATOR}\s*", LIST_SEPARATOR).str.strip_chars()).to_series()
        facts = facts.with_columns(facts["matched"].scatter(padded.arg_true(), trimmed))
    noted = cells.filter(dx_key.is_in(said_by_key.filter("has_notes")["dx_key"].implode()))
    return DiagnosisFacts(
        lines=facts.join(_notes(noted, dx_count, classes), on="row", how="left", maintain_order="left"),
        keys=said_by_key.select(DIAGNOSIS_KEYS.keys()))


def _notes(cells: pl.DataFrame, dx_count: int, classes: _Classes) -> pl.DataFrame:
    """``dx_notes``: the notes of a line's values, in column order, "; "-joined.  Only values with an edit
    have a note, and few cells hold one, so they are gathered from those cells only."""
    with_notes = pl.Series(classes.table.filter(pl.col("edits").is_not_null())["class"]).implode()
    said_at = pl.lit(classes.said_at)
    noted = pl.concat([
        cells.filter(pl.col(f"class{i}").is_in(with_notes))
        .select("row", column=pl.lit(i, pl.Int32), said=said_at.gather(f"position{i}")) for i in range(dx_count)])
    notes = pl.concat([pl.Series([None], dtype=pl.String), classes.said["notes"]])
    return (noted.with_columns(dx_notes=pl.lit(notes).gather("said")).sort("row", "column")
            .group_by("row", maintain_order=True).agg(pl.col("dx_notes").str.join("; ")))
