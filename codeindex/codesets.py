"""The official CMS code sets: which codes are defined, and which are billable.

A code is billable when it is a leaf of the list, and defined when it is in the list
or a parent of codes in the list ("410" and "100.8" are defined, not billable).
The lists ship in ``data/codesets/`` (see ``data/README.md`` for their source).
CPT is the AMA's and not published, so ``hcpcs`` has no code set.
"""

from __future__ import annotations

import gzip
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cache, cached_property

import polars as pl

from codeindex.code import KIND_BITS, SYSTEM_BITS, SYSTEM_IDS, Code
from codeindex.data import data_path
from codeindex.errors import InvalidCodeError
from codeindex.ranges import CodeRange
from codeindex.systems import SYSTEMS, parse_code, system_name

FILES = {
    "icd9dx": ("icd9cm_v32_dx_long.txt.gz", "latin-1", "ICD-9-CM v32 diagnoses"),
    "icd9pcs": ("icd9cm_v32_sg_long.txt.gz", "ascii", "ICD-9-CM v32 procedures"),
    "icd10cm": ("icd10cm_2024_codes.txt.gz", "ascii", "ICD-10-CM FY2024"),
}


def _key_columns(system: str, short: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """(lo, hi, decimal form, major length) of known-valid short forms, computed by polars: the same keys and forms
    ``parse_code`` gives (a test holds the two together), without a Python call per code."""
    base = SYSTEM_IDS[system] << SYSTEM_BITS
    if system == "icd9dx":
        kind = pl.when(short.str.starts_with("V")).then(1).when(short.str.starts_with("E")).then(2).otherwise(0)
        body = pl.when(kind > 0).then(short.str.slice(1)).otherwise(short)
        width = pl.when(kind > 0).then(4).otherwise(5)
        major = pl.when(kind == 2).then(4).otherwise(3)
        radix, low, high = 10, "0", "9"
    else:
        kind, body = pl.lit(0), short
        width = pl.lit(4 if system == "icd9pcs" else 7)
        major = pl.lit(2 if system == "icd9pcs" else 3)
        radix, low, high = (10, "0", "9") if system == "icd9pcs" else (36, "0", "Z")

    def key(fill: str) -> pl.Expr:
        padded = pl.concat_str(body, pl.lit(fill * 7)).str.slice(0, width)
        return pl.lit(base, pl.Int64) + (kind.cast(pl.Int64) * (1 << KIND_BITS)) + padded.str.to_integer(base=radix)

    rest = short.str.slice(major)
    dotted = pl.when(rest.str.len_chars() > 0).then(pl.concat_str(pl.lit("."), rest)).otherwise(pl.lit(""))
    decimal = pl.concat_str(short.str.slice(0, major), dotted)
    return key(low), key(high), decimal, major


@dataclass(frozen=True)
class CodeSet:
    """The billable codes of one system, sorted by key, with their descriptions."""

    system: str
    release: str
    table: pl.DataFrame  # short, lo, hi, description: billable codes in key order

    def __len__(self) -> int:
        return self.table.height

    @cached_property
    def _keys(self) -> list[int]:
        return self.table["lo"].to_list()

    @cached_property
    def _his(self) -> list[int]:
        return self.table["hi"].to_list()

    @cached_property
    def descriptions(self) -> dict[str, str]:
        return dict(zip(self.table["short"], self.table["description"], strict=True))

    @cached_property
    def codes(self) -> tuple[Code, ...]:
        """Every billable code as a Code, in key order (parsed on first use)."""
        parse = SYSTEMS[self.system].parse
        return tuple(parse(short) for short in self.table["short"])

    def billable(self, code: Code) -> bool:
        return code.short in self.descriptions and code.decimal[-1:] != "+"

    def defined(self, code: Code) -> bool:
        i = bisect_left(self._keys, code.lo)
        # The first leaf at or after the code's start must lie inside its span: a leaf that
        # starts there but ends beyond it is an ancestor ("001.00" under billable "001.0").
        return i < len(self._keys) and self._his[i] <= code.hi

    @cached_property
    def spellings(self) -> pl.DataFrame:
        """Every defined code (billable, and the parents of billable codes) by each way it is
        written, short and decimal, with its keys, sorted by spelling: a table claims' codes can be
        looked up in by binary search."""
        short = pl.col("short")
        lo, hi, decimal, major = _key_columns(self.system, short)
        parents = (self.table.select(short, n=pl.int_ranges(major, short.str.len_chars()))
                   .explode("n").drop_nulls("n").select(short=short.str.slice(0, pl.col("n"))).unique())
        defined = pl.concat([self.table.select("short", billable=pl.lit(True)),
                             parents.join(self.table.select("short"), on="short", how="anti")
                             .with_columns(billable=pl.lit(False))])
        keyed = defined.with_columns(lo=lo, hi=hi, decimal=decimal)
        columns: dict[str, pl.Expr | str] = {"short": short, "lo": "lo", "hi": "hi", "billable": "billable"}
        spelled = [keyed.select(spelling=short, **columns),
                   keyed.filter(pl.col("decimal") != short).select(spelling="decimal", **columns)]
        return pl.concat(spelled).sort("spelling")

    def description(self, code: Code) -> str | None:
        return self.descriptions.get(code.short)

    def leaves(self, lo: int, hi: int) -> tuple[Code, ...]:
        """The billable codes whose keys lie in [lo, hi], in code order."""
        return self.codes[bisect_left(self._keys, lo):bisect_right(self._keys, hi)]

    def expand(self, code_range: CodeRange, parents: bool = False) -> list[Code]:
        """The billable codes inside a range, in code order; with ``parents``, also the
        defined non-billable codes whose span lies inside it, each before its children."""
        leaves = self.leaves(code_range.lo, code_range.hi)
        if leaves and leaves[-1].hi > code_range.hi:  # a billable ancestor of the range's end
            leaves = leaves[:-1]
        if not parents:
            return list(leaves)
        inside = self.spellings.filter(~pl.col("billable"), pl.col("lo") >= code_range.lo,
                                       pl.col("hi") <= code_range.hi)
        found = [*leaves, *(parse_code(short, self.system) for short in inside["short"].unique())]
        return sorted(found, key=lambda c: (c.lo, len(c.short)))


@cache
def code_set(system: str) -> CodeSet:
    """The bundled code set of ``system`` (loaded once)."""
    name = system_name(system)
    if name != system:  # an alias: share the canonical name's one copy
        return code_set(name)
    if name not in FILES:
        raise InvalidCodeError(name, "", "no official code set is bundled for this system (CPT is the AMA's)")
    file_name, encoding, release = FILES[name]
    with gzip.open(data_path("codesets", file_name), "rt", encoding=encoding) as lines:
        rows = [line.rstrip("\n").partition(" ") for line in lines]
    table = pl.DataFrame({"short": [r[0] for r in rows if r[0]],
                          "description": [r[2].strip() for r in rows if r[0]]})
    lo, hi, _, _ = _key_columns(name, pl.col("short"))
    table = table.with_columns(lo=lo, hi=hi).sort("lo").select("short", "lo", "hi", "description")
    return CodeSet(name, release, table)


def has_code_set(system: str) -> bool:
    return system_name(system) in FILES
