"""A screened line's diagnosis cells as integers, and the classes of their values in dense tables.

Each diagnosis column is read once, as a categorical: one hashing pass per cell gives every
cell a small integer and the lines' distinct values (``DiagnosisCodes``).  The distinct values
are classified once (``diagnoses.classify_diagnoses``): what each is in the release of each line's
date (its own edits, and its span of billable codes), and what each span says against each
policy.  What a value says on a line apart from its own text is its *class*: the pair of its
code class (its edits) and its range class (the not-covered ranges it lies in and the first
one's label, covered, the ranges it only partly overlaps) under the finding's policy.  A
library's values fall in few classes.  A cell's class is three gathers of small integers from
dense tables (value by release, then span by policy) (``DiagnosisClasses``), a finding's classes
in column order are integer keys (``keys``), and what a key's classes say together (how many values
matched, the first label and its column, the covered column, the ranges and edits each once) is
worked out once per distinct key, by gathers across its columns (``by_key``).

Empty slots follow two rules: a class that says nothing is 0 (a key of plain codes only is 0), and
an index with nothing to point at is one past the real ones (the span of a value with no span, the
slot of no policy, the block of no era, the code row of a value not classified there).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from codeindex.codesets import releases
from codeindex.screen.columns import RANGE_SEPARATOR
from codeindex.screen.diagnoses import Classified
from codeindex.screen.frames import dense, distinct_rows, nonempty

CODE_TRAITS = ["edits"]  # what makes a code class: its own edits
RANGE_TRAITS = ["not_covered", "ranges", "label", "covered", "partly"]  # what makes a range class


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


class DiagnosisClasses:
    """The code classes and range classes of the classified values, in dense tables a cell's class is gathered
    from: ``code_span`` (code class * spans + span, a span being a row of ``codes``) at ``value id + block
    offset``, then ``range_class`` at ``span + slot offset`` (a slot per policy, and a last one, of no
    policy, saying nothing).  Code classes are 1..; range classes 1.. with the not-covered ones first; 0 says
    nothing.  A cell's class is ``code class * range_base + range class``."""

    def __init__(self, classified: Classified, values: pl.Series) -> None:
        width = values.len()
        # A span per code row: the rows of one (era, release, lo, hi) read one range class each, and numbering
        # the rows is cheaper than finding the distinct spans (77,000 rows hashed twice: 20 ms).
        codes = classified.codes.join(values.to_frame("value").with_row_index("id"), on="value").with_row_index(
            "span")
        position = codes.select(pl.col("id").cast(pl.Int64) + block(pl.col("era"), pl.col("release")) * width
                                ).to_series()
        self.width, self.spans = width, codes.height + 1  # a last span, of values with none, says nothing
        says = pl.col("edits").is_not_null()  # a plain code says nothing of itself: class 0
        self.code_table = _numbered(codes.filter(says).select(CODE_TRAITS))
        codes = codes.join(self.code_table, on=CODE_TRAITS, how="left", nulls_equal=True,
                           maintain_order="left").with_columns(pl.col("class").fill_null(0))
        self.codes = codes
        # A cell's code class and span in one integer: code class * spans + span.
        self.code_span = dense(BLOCKS * width, position,
                                codes["class"].cast(pl.Int64) * self.spans + codes["span"], codes.height)
        in_ranges = classified.spans.join(codes.select("era", "release", "lo", "hi", "span"),
                                          on=["era", "release", "lo", "hi"])
        self.range_table = _numbered(in_ranges.select(RANGE_TRAITS), first="not_covered")
        in_ranges = in_ranges.join(self.range_table, on=RANGE_TRAITS, nulls_equal=True)
        self.policies = classified.policies
        self.range_class = dense((self.policies + 1) * self.spans,
                                  in_ranges["policy"].cast(pl.Int64) * self.spans + in_ranges["span"],
                                 in_ranges["class"], 0)
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

        by_key = keys.select(
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
        return by_key.with_columns(ranges=_each_once(by_key["ranges"], RANGE_SEPARATOR),
                                   dx_edits=_each_once(by_key["dx_edits"], ",")).with_columns(
            has_notes=pl.col("dx_edits").is_not_null())


def _each_once(joined: pl.Series, separator: str) -> pl.Series:
    """Each text's ``separator``-joined items, each once in the order found, joined (null: none); worked out once
    per distinct text (keys share few)."""
    distinct, at = distinct_rows(joined.to_frame("joined"))
    once = pl.col("joined").str.split(separator).list.unique(maintain_order=True).list.join(separator)
    return distinct.select(nonempty(once)).to_series()[at]
