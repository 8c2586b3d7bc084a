"""Translate a policy's ICD-9 diagnosis groups to ICD-10-CM through the CMS GEMs.

For each ICD-9 group, every billable ICD-9 code in its ranges is mapped forward
(ICD-9 to ICD-10 GEM), and every ICD-10 code that the backward GEM maps into those
ranges is added too, as CMS advises: the forward map alone misses codes.  A target
code is approximate unless some mapping to it is exact.  Runs of consecutive ICD-10
codes (in code-set order) with the same flag become ranges, so the result is again a
PolicyVersion that screens and prints like any other, and can be compared with the
bulletin's own ICD-10 list.
"""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from codeindex.code import Code
from codeindex.codesets import code_set, successors
from codeindex.data import data_path
from codeindex.policy.model import Policy, PolicyEntry, PolicyGroup, PolicyVersion
from codeindex.ranges import CodeRange
from codeindex.systems import parse_code


@cache
def _gem(file_name: str) -> dict[str, list[tuple[str, bool]]]:
    """source short code -> [(target short code, approximate)], no-map rows left out."""
    mapping: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    with gzip.open(data_path("gems", file_name), "rt", encoding="ascii", newline="") as rows:
        for row in csv.DictReader(rows):
            if row["no_map"] != "1":
                source, target = (row["icd9cm"], row["icd10cm"]) if file_name.startswith("gem_icd9") \
                    else (row["icd10cm"], row["icd9cm"])
                mapping[source].append((target, row["approximate"] == "1"))
    return dict(mapping)


def forward_gem() -> dict[str, list[tuple[str, bool]]]:
    return _gem("gem_icd9_to_icd10cm.csv.gz")


def backward_gem() -> dict[str, list[tuple[str, bool]]]:
    return _gem("gem_icd10cm_to_icd9.csv.gz")


@dataclass(frozen=True)
class GroupComparison:
    """How a translated group compares with the bulletin's own ICD-10 group."""

    coverage: str
    translated: frozenset[str]
    approximate: frozenset[str]
    bulletin: frozenset[str] | None

    @property
    def only_translated(self) -> list[str]:
        return sorted(self.translated - (self.bulletin or frozenset()))

    @property
    def only_bulletin(self) -> list[str]:
        return sorted((self.bulletin or frozenset()) - self.translated)


@dataclass(frozen=True)
class Translation:
    """The translated version; ``followed``: each GEM target the newest release no longer bills, and the
    codes that replaced it there (empty when none did: the target is kept as written)."""

    version: PolicyVersion
    comparisons: tuple[GroupComparison, ...]
    followed: dict[str, tuple[str, ...]]
    release: str

    @property
    def unreplaced(self) -> list[str]:
        return sorted(target for target, codes in self.followed.items() if not codes)


def _billable(group: PolicyGroup) -> set[str]:
    codes = code_set(group.system)
    return {c.short for e in group.entries for c in codes.leaves(e.range.lo, e.range.hi)}


def _entries(targets: dict[str, bool], label: str) -> tuple[PolicyEntry, ...]:
    """Runs of consecutive ICD-10 codes with one approximate flag, as entries; a target the release does
    not bill (nothing replaced it) stands alone, saying so."""
    icd10 = code_set("icd10cm")
    ordered = [c for c in icd10.codes if c.short in targets]
    position = {c.short: i for i, c in enumerate(icd10.codes)}
    entries: list[PolicyEntry] = []
    run: list[Code] = []
    for code in [*ordered, None]:
        if run and (code is None or position[code.short] != position[run[-1].short] + 1
                    or targets[code.short] != targets[run[0].short]):
            note = " (GEM, approximate)" if targets[run[0].short] else " (GEM)"
            entries.append(PolicyEntry(CodeRange(run[0], run[-1]), run[0].decimal, run[-1].decimal,
                                       f"{label}{note}"))
            run = []
        if code is not None:
            run.append(code)
    for short in sorted(set(targets) - set(position)):
        code = parse_code(short, "icd10cm")
        entries.append(PolicyEntry(CodeRange(code, code), code.decimal, code.decimal,
                                   f"{label} (GEM, not billable in {icd10.release}, nothing replaced it)"))
    return tuple(entries)


def _current(targets: list[tuple[str, bool]], followed: dict[str, tuple[str, ...]]) -> list[tuple[str, bool]]:
    """The targets in the newest release: each one it no longer bills replaced by its successors (kept
    when it has none), recorded in ``followed``."""
    current = []
    for target, approx in targets:
        if target not in followed:
            now = successors("icd10cm", target)
            if now != (target,):
                followed[target] = now
        current += [(code, approx) for code in followed.get(target) or (target,)]
    return current


def translate(policy: Policy, to: str = "icd10cm") -> Translation:
    """The ICD-9 version of ``policy`` with its diagnosis groups mapped to ICD-10-CM."""
    if to != "icd10cm":
        raise ValueError(f"translation to {to!r} is not supported: only icd10cm")
    source = policy.version("icd9")
    if source is None:
        raise ValueError(f"{policy.name()} has no ICD-9 version to translate")
    own = policy.version("icd10")
    forward, backward = forward_gem(), backward_gem()
    followed: dict[str, tuple[str, ...]] = {}
    groups: list[PolicyGroup] = []
    comparisons: list[GroupComparison] = []
    for group in source.groups:
        if group.system != "icd9dx":
            groups.append(group)
            continue
        targets: dict[str, bool] = {}  # ICD-10 short code -> approximate, over the group
        entries: list[PolicyEntry] = []
        for entry in group.entries:
            icd9 = {c.short for c in code_set("icd9dx").leaves(entry.range.lo, entry.range.hi)}
            found = [m for s in sorted(icd9) for m in forward.get(s, [])]
            found += [(t, approx) for t, maps in backward.items() for s, approx in maps if s in icd9]
            mine: dict[str, bool] = {}
            for target, approx in _current(found, followed):
                mine[target] = mine.get(target, True) and approx
                targets[target] = targets.get(target, True) and approx
            entries.extend(_entries(mine, f"from {entry.label()}"))
        translated = PolicyGroup("icd10cm", group.coverage, group.all_inclusive, tuple(entries),
                                 f"{group.header} (translated to ICD-10-CM)")
        groups.append(translated)
        theirs = next((g for g in (own.groups if own else ()) if g.system == "icd10cm"
                       and g.coverage == group.coverage), None)
        comparisons.append(GroupComparison(
            group.coverage, frozenset(targets), frozenset(t for t, a in targets.items() if a),
            frozenset(_billable(theirs)) if theirs else None))
    return Translation(PolicyVersion("icd10", tuple(groups)), tuple(comparisons), followed,
                       str(code_set("icd10cm").release))
