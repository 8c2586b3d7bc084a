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

from codeindex.screen.columns import DIAGNOSIS, RANGE_SEPARATOR, dx_column
from codeindex.screen.edits import nonempty

LIST_SEPARATOR = "\x1e"  # joins a line's matched values before they become a list; never in a code
TRAITS = ["not_covered", "ranges", "label", "covered", "edits"]  # what makes a class: all but the text

DIAGNOSIS_FACTS = {  # what a screened line's diagnoses say, one row per line ("row" orders them)
    "row": pl.UInt32,
    "matched": pl.String,  # the values in a not-covered range, in column order, joined by LIST_SEPARATOR
    "n_dx": pl.Int64,  # how many
    "first_label": pl.String,  # the label of its first not-covered range
    "covered_dx": pl.String,  # the first value in a covered range
    "ranges": pl.String,  # the matched values' not-covered ranges, each once, joined by RANGE_SEPARATOR
    "dx_edits": pl.String,  # the values' edits, each once, comma-joined
    "dx_notes": pl.String,  # the values' notes, "; "-joined
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


class _Classes:
    """The classes of the classified values (1..C, not-covered ones first; 0 says nothing) and, for each
    (value, era) at ``value id + era offset``, its class and its row in ``said`` (1-based; 0 for none)."""

    def __init__(self, said: pl.DataFrame, width: int) -> None:
        said = said.with_columns(
            ranges=pl.col("ranges").str.split(RANGE_SEPARATOR), edits=pl.col("edits").str.split(","))
        classes = (said.select(TRAITS).unique(maintain_order=True)
                   .sort("not_covered", descending=True, maintain_order=True))
        self.table = classes.with_row_index("class", offset=1)
        self.not_covered = int(classes["not_covered"].sum())  # classes 1..this lie in a not-covered range
        self.has_covered = bool(classes["covered"].any())
        self.base = classes.height + 1
        self.width = width
        self.said = said
        placed = said.with_row_index("said", offset=1).join(self.table, on=TRAITS, nulls_equal=True).select(
            position=pl.col("id").cast(pl.Int64) + self.era_offset(pl.col("era")), cls="class", said="said")
        at = pl.DataFrame({"position": pl.int_range(3 * width, dtype=pl.Int64, eager=True)}).join(
            placed, on="position", how="left", maintain_order="left").fill_null(0)
        self.class_at, self.said_at = at["cls"].cast(pl.Int64), at["said"].cast(pl.Int64)

    def era_offset(self, era: pl.Expr) -> pl.Expr:
        """Where an era's block of the tables starts: icd9, icd10, then a block for no era (saying nothing)."""
        return era.replace_strict({"icd9": 0, "icd10": self.width}, default=2 * self.width, return_dtype=pl.Int64)

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
            first_label=pl.col("label").filter("not_covered").first(),
            ranges=pl.col("ranges").filter("not_covered").list.explode(keep_nulls=False, empty_as_null=False)
            .unique(maintain_order=True).str.join(RANGE_SEPARATOR),
            dx_edits=pl.col("edits").list.explode(keep_nulls=False, empty_as_null=False)
            .unique(maintain_order=True).str.join(","))
        return keys.with_row_index("k").join(said, on="k", how="left").select(
            *keys.columns, n_dx=pl.col("n_dx").fill_null(0), first_label="first_label",
            ranges=nonempty(pl.col("ranges")), dx_edits=nonempty(pl.col("dx_edits")))


def diagnosis_facts(lines: pl.DataFrame, codes: DiagnosisCodes, said: pl.DataFrame) -> pl.DataFrame:
    """``DIAGNOSIS_FACTS`` of the screened ``lines`` (``LINE`` with their diagnoses; ``codes`` their cells as
    integers), from ``said`` (``DIAGNOSIS``: what the values say)."""
    dx_count = codes.ids.width - 1
    said = said.cast(DIAGNOSIS).join(  # type: ignore[arg-type]
        codes.values.to_frame().with_row_index("id"), on="value")
    classes = _Classes(said, codes.values.len())
    class_at = pl.lit(classes.class_at)
    offset = classes.era_offset(pl.col("era"))
    positions = pl.concat([codes.ids, lines.select(offset=offset)], how="horizontal").select(
        "row", *((pl.col(f"id{i}").cast(pl.Int64) + pl.col("offset")).alias(f"position{i}") for i in range(dx_count)))
    cells = positions.with_columns(class_at.gather(f"position{i}").fill_null(0).alias(f"class{i}")
                                   for i in range(dx_count))
    keys = cells.select("row", *classes.keys(dx_count))
    key_columns = keys.columns[1:]
    keyed = keys.join(classes.by_key(keys.select(key_columns).unique(), dx_count), on=key_columns,
                      how="left", maintain_order="left")
    in_class = [pl.col(f"class{i}") for i in range(dx_count)]
    dx = [pl.col(dx_column(i)) for i in range(dx_count)]
    matched = pl.concat_str([pl.when((c > 0) & (c <= classes.not_covered)).then(value)
                             for c, value in zip(in_class, dx, strict=True)],
                            separator=LIST_SEPARATOR, ignore_nulls=True)
    if said.filter(pl.col("not_covered"), pl.col("value") != pl.col("text")).height:  # some need trimming
        matched = matched.str.replace_all(rf"\s*{LIST_SEPARATOR}\s*", LIST_SEPARATOR).str.strip_chars()
    covered = pl.lit(None, pl.String)
    if classes.has_covered:
        is_covered = pl.lit(pl.Series([False, *classes.table["covered"]]))
        covered = pl.coalesce(*(pl.when(is_covered.gather(c)).then(value.str.strip_chars())
                                for c, value in zip(in_class, dx, strict=True)), pl.lit(None, pl.String))
    texts = pl.concat([cells, lines.select(dx_column(i) for i in range(dx_count))], how="horizontal").select(
        matched=nonempty(matched), covered_dx=covered)
    return (pl.concat([keyed, texts], how="horizontal")
            .join(_notes(cells, dx_count, classes), on="row", how="left", maintain_order="left")
            .select(DIAGNOSIS_FACTS.keys()))


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
