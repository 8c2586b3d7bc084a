"""ICD-9-CM diagnoses: numeric 001-999, V01-V91 (up to 2 minor digits), E000-E999 (1).

Accepts the decimal form ("800.00", "V57.22", "E880.9", "1.0" for 001.0, "V1.2" for V01.2,
"123." for 123) and the claim-style short form ("80000", "V5722", "E8809", "V1" for V01).
Key order is the order of the digits padded to five characters in every kind.  A code spans
the codes beneath it billable in any bundled version (v27-v32), so ``139`` spans 139.0-139.8;
a well-formed code that no version defines spans no code (it sits where its digits put it).
"""

from __future__ import annotations

import re
from functools import cache

import polars as pl

from codeindex.code import KIND_BITS, SYSTEM_BITS, SYSTEM_IDS, Code, key, subtree_spans
from codeindex.data import data_path
from codeindex.errors import InvalidCodeError
from codeindex.files import scan_parquet_files

NAME = "icd9dx"
FULL_LENGTH = 5
_KINDS = {"": 0, "V": 1, "E": 2}
_KIND_NAMES = {"": "a numeric", "V": "a V", "E": "an E"}
_MAJOR_DIGITS = {"": 3, "V": 2, "E": 3}
_MINOR_DIGITS = {"": 2, "V": 2, "E": 1}
_FORM = re.compile(r"([VE]?)([0-9]*)(?:(\.)([0-9]*))?", re.ASCII)


def point_key(short: pl.Expr) -> pl.Expr:
    """The key of known-valid short forms, by polars (``parse`` gives the same: a test holds them together)."""
    kind = pl.when(short.str.starts_with("V")).then(1).when(short.str.starts_with("E")).then(2).otherwise(0)
    body = pl.when(kind > 0).then(short.str.slice(1)).otherwise(short)
    padded = pl.concat_str(body, pl.lit("0000")).str.slice(0, pl.when(kind > 0).then(4).otherwise(5))
    # the padded digits, doubled: odd values are the spans of the forms no version defines
    return (pl.lit(SYSTEM_IDS[NAME] << SYSTEM_BITS, pl.Int64) + kind.cast(pl.Int64) * (1 << KIND_BITS)
            + padded.str.to_integer() * 2)


def major_length(short: pl.Expr) -> pl.Expr:
    return pl.when(short.str.starts_with("E")).then(4).otherwise(3)


@cache
def history() -> pl.DataFrame:
    """Every code any bundled version defines (billable codes and their parents), in key order:
    ``short``, ``key``, ``lo``/``hi`` (its span over every version), ``description``, and one column
    per version: 0 absent, 1 a parent, 2 billable."""
    billable = scan_parquet_files(data_path("codesets", "icd9dx.parquet")).collect()
    versions = [c for c in billable.columns if c not in ("short", "description")]
    short = pl.col("short")
    parents = (billable.select(short, *versions, n=pl.int_ranges(major_length(short), short.str.len_chars()))
               .explode("n").drop_nulls("n").group_by(short.str.slice(0, pl.col("n")))
               .agg(pl.col(v).max() // 2 for v in versions))  # a parent where any child is billable
    # a code billable in one version may be a parent in another (275.0 in v27, then 275.01 ...)
    table = (pl.concat([billable, parents], how="diagonal").group_by("short")
             .agg(pl.col("description").drop_nulls().first(), *(pl.col(v).max() for v in versions))
             .with_columns(key=point_key(short)))
    spans = subtree_spans(table, table.filter(pl.any_horizontal(pl.col(v) == 2 for v in versions)))
    return (table.join(spans, on="short").sort("key", short.str.len_chars())
            .select("short", "key", "lo", "hi", "description", *versions))


@cache
def _spans() -> dict[str, tuple[int, int]]:
    table = history()
    return dict(zip(table["short"], zip(table["lo"], table["hi"], strict=True), strict=True))


def _error(text: object, problem: str) -> InvalidCodeError:
    return InvalidCodeError(NAME, text, problem)


def parse(text: str) -> Code:
    """Parse an ICD-9-CM diagnosis code in decimal or short form."""
    if not isinstance(text, str):
        raise _error(text, f"expected text, got {type(text).__name__}")
    clean = text.strip().upper()
    if not clean:
        raise _error(text, "empty")
    match = _FORM.fullmatch(clean)
    if match is None:
        if "O" in clean:
            raise _error(text, "contains the letter O where a digit 0 belongs")
        raise _error(text, "expected digits, or V or E then digits, with at most one dot")
    prefix, digits, dot, minor = match.groups()
    kind = _KIND_NAMES[prefix]  # with its article, for messages
    major_len = _MAJOR_DIGITS[prefix]
    # A major is written with all its digits, in every kind: "1.0", "V1.2", "V1", "12" and "E1" are no codes
    # (padding them to 001.0, V01.2, V01, 012 would be a guess).
    if dot:
        if not digits:
            raise _error(text, "no digits before the dot")
        if len(digits) != major_len:
            padded = f"{prefix}{digits.zfill(major_len)}{'.' + minor if minor else ''}" \
                if len(digits) < major_len else None
            hint = f" (write {padded!r} if that is meant)" if padded else ""
            raise _error(text, f"{kind} code has {major_len} digits before the dot{hint}")
        major = digits
    else:
        if len(digits) < major_len:
            raise _error(text, f"shorter than the {major_len}-digit major of {kind} code")
        major, minor = digits[:major_len], digits[major_len:]
    if len(minor) > _MINOR_DIGITS[prefix]:
        raise _error(text, f"{kind} code has at most {_MINOR_DIGITS[prefix]} minor digit(s)")
    number = int(major)
    if prefix == "" and number == 0:
        raise _error(text, "numeric codes run from 001 to 999")
    if prefix == "V" and not 1 <= number <= 91:
        raise _error(text, "V codes run from V01 to V91")
    short = prefix + major + minor
    decimal = prefix + major + ("." + minor if minor else "")
    body = short[1:] if prefix else short
    width = FULL_LENGTH - len(prefix)
    kind_id = _KINDS[prefix]
    lo, hi = _spans().get(short) or (key(NAME, kind_id, int(body.ljust(width, "0")) * 2 + 1),
                                      key(NAME, kind_id, int(body.ljust(width, "9")) * 2 + 1))
    return Code(NAME, kind.split()[1], short, decimal, lo, hi)
