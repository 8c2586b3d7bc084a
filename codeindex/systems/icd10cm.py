"""ICD-10-CM diagnoses: 3 to 7 characters, a dot after the third ("S72.001A", "S72001A").

The second character is a digit, but for a category of the code set whose second character is a
letter (FY2026's QA0, neurodevelopmental disorders): "NULL" is no code.

Key order is CMS's tabular order, not character order (M1A sits between M08 and M10, T50.A
before T50.9): every code any bundled release defines has one position in one order across
releases (``data/codesets/icd10cm.parquet``, built from each release's order file).  A code
spans the codes beneath it ever billable; a well-formed code that no release defines spans the
codes its form prefixes (the placeholder ``S00.00X`` spans S00.00XA-S00.00XS), or, when it
prefixes none, nothing: it is a point just after the code that precedes it in character order.
A trailing "+" on a 6-character code, as bulletins write it ("S00.00X+"), stands for any 7th
character: its span is the same as the code's own, the "+" is kept in the decimal form.
A trailing dot reads as the category before it ("Z85." is Z85), as it does for ICD-9-CM ("800.").
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from functools import cache

import polars as pl

from codeindex.code import SYSTEM_BITS, SYSTEM_IDS, Code, subtree_spans
from codeindex.data import data_path
from codeindex.errors import InvalidCodeError
from codeindex.files import scan_parquet_files

NAME = "icd10cm"
FULL_LENGTH = 7
_FORM = re.compile(r"([A-Z][0-9A-Z][0-9A-Z])(\.?)([0-9A-Z]{0,4})(\+?)", re.ASCII)
POSITION_BITS = 38  # below a code's tabular position: room for the codes no release defines after it
_BASE = SYSTEM_IDS[NAME] << SYSTEM_BITS


@cache
def history() -> pl.DataFrame:
    """Every code any bundled release defines, in tabular order: ``short``, ``key`` (its point),
    ``lo``/``hi`` (its span over every release), ``description`` (the newest), and one column per
    release: 0 absent, 1 a header, 2 billable."""
    table = scan_parquet_files(data_path("codesets", "icd10cm.parquet")).collect()
    releases = [c for c in table.columns if c not in ("short", "rank", "description")]
    table = table.with_columns(key=pl.lit(_BASE, pl.Int64) + pl.col("rank").cast(pl.Int64) * (1 << POSITION_BITS))
    ever_billable = table.filter(pl.any_horizontal(pl.col(r) == 2 for r in releases))
    spans = subtree_spans(table, ever_billable)
    return (table.join(spans, on="short", how="left", maintain_order="left")
            .select("short", "key", "lo", "hi", "description", *releases))


@cache
def _lookup() -> tuple[dict[str, tuple[int, int]], list[str], list[int], list[int], list[int]]:
    """Spans by short form; and the short forms in character order with their keys, los and his."""
    table = history()
    spans = dict(zip(table["short"], zip(table["lo"], table["hi"], strict=True), strict=True))
    ordered = table.select("short", "key", "lo", "hi").sort("short")
    return spans, ordered["short"].to_list(), ordered["key"].to_list(), ordered["lo"].to_list(), ordered["hi"].to_list()


@cache
def letter_pairs() -> frozenset[str]:
    """The first two characters of the categories any release defines whose second character is a letter
    (FY2026's QA0): what a code may start with besides a letter and a digit.

    >>> sorted(letter_pairs())
    ['QA']
    """
    return frozenset(short[:2] for short in _lookup()[0] if short[1].isalpha())


def _value(short: str) -> int:
    return int(short.ljust(FULL_LENGTH, "0"), 36)


def span(short: str) -> tuple[int, int]:
    """The span of a well-formed short form (see the module docstring)."""
    spans, shorts, keys, los, his = _lookup()
    if short in spans:
        return spans[short]
    first, last = bisect_left(shorts, short), bisect_right(shorts, short + "\x7f")
    if first < last:  # it prefixes defined codes
        return min(los[first:last]), max(his[first:last])
    before = first - 1  # "A00" is the first code, so a well-formed form always has one before it
    point = keys[before] + 1 + _value(short) - _value(shorts[before])
    return point, point


def parse(text: str) -> Code:
    """Parse an ICD-10-CM code in decimal or short form, with an optional 7th-character "+"."""
    if not isinstance(text, str):
        raise InvalidCodeError(NAME, text, f"expected text, got {type(text).__name__}")
    clean = text.strip().upper()
    if not clean:
        raise InvalidCodeError(NAME, text, "empty")
    match = _FORM.fullmatch(clean)
    if match is None:
        if len(clean.replace(".", "").rstrip("+")) > FULL_LENGTH:
            raise InvalidCodeError(NAME, text, "longer than 7 characters")
        raise InvalidCodeError(
            NAME, text, "expected a letter, a digit, a digit or letter, then up to 4 more after any dot",
        )
    category, _, rest, plus = match.groups()  # a dot with nothing after it reads as the category ("Z85.")
    if category[1].isalpha() and category not in _lookup()[0]:
        raise InvalidCodeError(NAME, text, "expected a letter, then a digit (or a category of the code set), "
                               "a digit or letter, then up to 4 more after any dot")
    short = category + rest
    if plus and len(short) != FULL_LENGTH - 1:
        raise InvalidCodeError(NAME, text, '"+" (any 7th character) follows exactly 6 characters')
    decimal = category + ("." + rest if rest else "") + plus
    lo, hi = span(short)
    return Code(NAME, "diagnosis", short, decimal, lo, hi)
