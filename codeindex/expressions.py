"""The core as a polars expression namespace: ``pl.col("dx1").codeindex.normalize("icd9")``.

Claim files hold millions of codes but few distinct ones, so each method reads the distinct values
of its column once per batch (and keeps the column's name): a value spelled as a code of a bundled
release (short or decimal, as the code sets write them: nearly all of them) is found by a binary
search in the sorted spellings of every release's codes, which carry each code's keys and its status
in every release; any other value goes through the parser once (cached); the answer is worked out
per distinct value and gathered to the rows by each value's code in an enum of the distinct values.
No Python runs per row.  A test holds every method to the scalar API (``parse_code``,
``CodeSet.defined`` / ``billable`` of a dated release, ``CodeRange.match``) over whole code sets.

Importing ``codeindex`` registers the namespace.
"""

from __future__ import annotations

from datetime import date
from functools import cache, lru_cache
from typing import Literal

import polars as pl

from codeindex.code import Code
from codeindex.codesets import CodeSet, _decimal, code_set, has_code_set, history, releases
from codeindex.errors import InvalidCodeError
from codeindex.ranges import CodeRange, parse_range
from codeindex.systems import parse_code, system_name

Form = Literal["short", "decimal"]
MATCH = pl.Enum(["contained", "partial"])
FIELDS = pl.Struct({"short": pl.String, "decimal": pl.String, "lo": pl.Int64, "hi": pl.Int64,
                    "defined": pl.Boolean, "billable": pl.Boolean})
"""What a value is in a system: its forms and keys (null when it is no code of the system), and whether the
code set defines it and bills it (null when the system has no code set, or the value is no code)."""


@cache
def _spellings(system: str) -> pl.DataFrame:
    """Every code a bundled release of the system defines, by each way it is written (short and decimal),
    sorted by spelling: its forms, its keys (over every release, as ``parse_code`` gives them) and, one
    column per release, its status there (0 absent, 1 defined, 2 billable)."""
    names = [r.name for r in releases(system)]
    keyed = history(system).select("short", "lo", "hi", *names, decimal=_decimal(system, pl.col("short")))
    spelled = [keyed.with_columns(spelling="short"),
               keyed.filter(pl.col("decimal") != pl.col("short")).with_columns(spelling="decimal")]
    return pl.concat(spelled).sort("spelling")


@lru_cache(maxsize=1 << 16)
def _code_or_none(value: str, system: str) -> Code | None:
    """``parse_code``, with None for an invalid value: cached either way (each batch meets the same values)."""
    try:
        return parse_code(value, system)
    except InvalidCodeError:
        return None


def _parsed(values: list[str], system: str, codes: CodeSet | None) -> pl.DataFrame:
    """The fields of values the code sets do not spell, through the parser, one call per value."""
    rows: list[tuple[str, str | None, str | None, int | None, int | None, bool | None, bool | None]] = []
    for value in values:
        code = _code_or_none(value, system)
        if code is None:
            rows.append((value, None, None, None, None, None, None))
            continue
        defined, billable = (codes.defined(code), codes.billable(code)) if codes else (None, None)
        rows.append((value, code.short, code.decimal, code.lo, code.hi, defined, billable))
    return pl.DataFrame(rows, schema={"value": pl.String, **FIELDS.to_schema()}, orient="row")


def _distinct_fields(values: pl.Series, system: str, codes: CodeSet | None) -> pl.DataFrame:
    """Each distinct value of a text Series (``value``, nulls left out) with its FIELDS in ``system``
    (defined and billable in the release ``codes``, when the system has code sets)."""
    distinct = values.unique().drop_nulls()
    tables = []
    if codes is not None:
        table = _spellings(system)
        at = table["spelling"].search_sorted(distinct).clip(upper_bound=table.height - 1)
        spelled = (table["spelling"].gather(at) == distinct).fill_null(False)
        status = pl.col(codes.release.name)
        tables.append(table[at].filter(spelled).select(
            pl.col("spelling").alias("value"), "short", "decimal", "lo", "hi", defined=status > 0,
            billable=status == 2))
        distinct = distinct.filter(~spelled)
    tables.append(_parsed(distinct.to_list(), system, codes))
    return pl.concat(tables, how="vertical")


def _as_text(values: pl.Series) -> pl.Series:
    """A code column as text: integers as their digits; a float has lost digits and is refused."""
    dtype = values.dtype
    if dtype == pl.String:
        return values
    if dtype in (pl.Categorical, pl.Null) or isinstance(dtype, pl.Enum) or dtype.is_integer():
        return values.cast(pl.String)
    raise TypeError(f"column {values.name!r} holds {dtype}; codes must be text (or integers, read as digits)")


@pl.api.register_expr_namespace("codeindex")
class CodeExpressions:
    """``expr.codeindex``: codes of a column read in one code system (``icd9``, ``icd10``, ``hcpcs`` ...)."""

    def __init__(self, expr: pl.Expr) -> None:
        self._expr = expr

    def _answer(self, system: str, answer: pl.Expr, dtype: pl.DataType, on: date | None = None) -> pl.Expr:
        """``answer``, an expression over a distinct value's ``value`` and FIELDS (defined and billable in the release
        in force ``on`` a date, else the newest), for each value of the column."""
        name = system_name(system)  # an unknown system is an error now, not at collect
        codes = code_set(name, on=on) if has_code_set(name) else None

        def per_batch(values: pl.Series) -> pl.Series:
            text = _as_text(values)
            found = _distinct_fields(text, name, codes)
            # Each value's place among the distinct ones (an enum's code: no join of every row); null stays null.
            at = text.cast(pl.Enum(found["value"])).to_physical()
            return found.select(answer).to_series().gather(at).alias(values.name)

        return self._expr.map_batches(per_batch, return_dtype=dtype, is_elementwise=True)

    def normalize(self, system: str, form: Form = "short") -> pl.Expr:
        """Each code in its ``short`` (claim, ``80000``) or ``decimal`` (bulletin, ``800.00``) form; null
        where the value is no valid code of the system."""
        if form not in ("short", "decimal"):
            raise ValueError(f"form must be 'short' or 'decimal', not {form!r}")
        return self._answer(system, pl.col(form), pl.String())

    def is_valid(self, system: str) -> pl.Expr:
        """Whether each value is a valid code of the system by its form (``is_valid``); null for null."""
        return self._answer(system, pl.col("short").is_not_null(), pl.Boolean())

    def is_defined(self, system: str, on: date | None = None) -> pl.Expr:
        """Whether each value is a code of the system's official code set (the release in force ``on`` a date,
        else the newest), billable or a parent of billable codes (``CodeSet.defined``); false for an invalid
        value, null for null."""
        code_set(system)  # a system without a code set (CPT) is an error now
        return self._answer(system, pl.col("defined").fill_null(False), pl.Boolean(), on)

    def is_billable(self, system: str, on: date | None = None) -> pl.Expr:
        """Whether each value is a billable (leaf) code of the system's code set (the release in force ``on``
        a date, else the newest); false for an invalid value, null for null."""
        code_set(system)
        return self._answer(system, pl.col("billable").fill_null(False), pl.Boolean(), on)

    def match(self, code_range: str | CodeRange, system: str | None = None) -> pl.Expr:
        """How each code's leaf span meets a range (``CodeRange.match``): ``contained``, ``partial``, or null
        (no overlap, not a code of the range's system, or null).  A range given as text needs ``system``."""
        if isinstance(code_range, str):
            if system is None:
                raise TypeError("a range given as text needs its system")
            code_range = parse_range(code_range, system)
        lo, hi = pl.col("lo"), pl.col("hi")
        # Inside the range: contained; overlapping it: partial; otherwise (or no code): null.
        answer = (pl.when((lo >= code_range.lo) & (hi <= code_range.hi)).then(pl.lit("contained"))
                  .when((lo <= code_range.hi) & (hi >= code_range.lo)).then(pl.lit("partial"))
                  .otherwise(pl.lit(None)).cast(MATCH))
        return self._answer(code_range.system, answer, MATCH)
