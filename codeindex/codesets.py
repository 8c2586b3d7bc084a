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

from codeindex.code import Code
from codeindex.data import data_path
from codeindex.errors import InvalidCodeError
from codeindex.ranges import CodeRange
from codeindex.systems import SYSTEMS, parse_code, system_name

FILES = {
    "icd9dx": ("icd9cm_v32_dx_long.txt.gz", "latin-1", "ICD-9-CM v32 diagnoses"),
    "icd9pcs": ("icd9cm_v32_sg_long.txt.gz", "ascii", "ICD-9-CM v32 procedures"),
    "icd10cm": ("icd10cm_2024_codes.txt.gz", "ascii", "ICD-10-CM FY2024"),
}
# Shortest form of a code (its major) per system and kind, for listing parents.
_MAJOR_LEN = {("icd9dx", "numeric"): 3, ("icd9dx", "V"): 3, ("icd9dx", "E"): 4,
              ("icd9pcs", "procedure"): 2, ("icd10cm", "diagnosis"): 3}


@dataclass(frozen=True)
class CodeSet:
    """The billable codes of one system, sorted by key, with their descriptions."""

    system: str
    release: str
    codes: tuple[Code, ...]
    descriptions: dict[str, str]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keys", [c.lo for c in self.codes])

    def __len__(self) -> int:
        return len(self.codes)

    def billable(self, code: Code) -> bool:
        return code.short in self.descriptions and code.decimal[-1:] != "+"

    def defined(self, code: Code) -> bool:
        i = bisect_left(self._keys, code.lo)
        # The first leaf at or after the code's start must lie inside its span: a leaf that
        # starts there but ends beyond it is an ancestor ("001.00" under billable "001.0").
        return i < len(self._keys) and self.codes[i].hi <= code.hi

    @cached_property
    def spellings(self) -> pl.DataFrame:
        """Every defined code (billable, and the parents of billable codes) by each way it is
        written, short and decimal, with its keys: a table claims' codes can be joined against."""
        defined: dict[str, Code] = {c.short: c for c in self.codes}
        for leaf in self.codes:
            for n in range(_MAJOR_LEN[(self.system, leaf.kind)], len(leaf.short)):
                if leaf.short[:n] not in defined:
                    defined[leaf.short[:n]] = parse_code(leaf.short[:n], self.system)
        rows = [(spelling, c.short, c.lo, c.hi, c.short in self.descriptions)
                for c in defined.values() for spelling in {c.short, c.decimal}]
        return pl.DataFrame(rows, schema={"spelling": pl.String, "short": pl.String, "lo": pl.Int64,
                                          "hi": pl.Int64, "billable": pl.Boolean}, orient="row")

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
        seen: dict[str, Code] = {c.short: c for c in leaves}
        for leaf in leaves:
            for n in range(_MAJOR_LEN[(self.system, leaf.kind)], len(leaf.short)):
                prefix = leaf.short[:n]
                if prefix not in seen:
                    parent = parse_code(prefix, self.system)
                    if code_range.contains(parent):
                        seen[prefix] = parent
        return sorted(seen.values(), key=lambda c: (c.lo, len(c.short)))


@cache
def code_set(system: str) -> CodeSet:
    """The bundled code set of ``system`` (loaded once)."""
    name = system_name(system)
    if name != system:  # an alias: share the canonical name's one copy
        return code_set(name)
    if name not in FILES:
        raise InvalidCodeError(name, "", "no official code set is bundled for this system (CPT is the AMA's)")
    file_name, encoding, release = FILES[name]
    parse = SYSTEMS[name].parse
    descriptions: dict[str, str] = {}
    with gzip.open(data_path("codesets", file_name), "rt", encoding=encoding) as lines:
        for line in lines:
            short, _, description = line.rstrip("\n").partition(" ")
            if short:
                descriptions[short] = description.strip()
    codes = sorted((parse(short) for short in descriptions), key=lambda c: c.lo)
    return CodeSet(name, release, tuple(codes), descriptions)


def has_code_set(system: str) -> bool:
    return system_name(system) in FILES
