"""A policy compiled once into typed tables: all the screen reads of a policy.

The bulletin model (versions, groups, entries) suits parsing and printing; a bulk screen
wants flat tables it can join against.  ``compile_policy`` builds them once per policy
(cached), so a screen never walks groups and entries, never re-derives an add-on's
primary, and never rebuilds a range table per call.

>>> from codeindex.policy import load_policy
>>> compiled = compile_policy(load_policy("0198"))
>>> compiled.procedures.filter(era="icd9").select("range", "coverage", "add_on", "primary").rows()
[('97545', 'not_covered', False, None), ('97546', 'not_covered', True, '97545')]
>>> compiled.diagnoses.filter(era="icd9")["range"].to_list()[:2]
['800.00 - 999.9', 'V10.00 - V13.9']
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import polars as pl

from codeindex.policy.model import ERA_NAMES, Policy, PolicyGroup

PROCEDURE_SYSTEMS = ("hcpcs",)

PROCEDURE_RANGES = {  # one row per procedure entry of each version, in the policy's order
    "era": pl.String,  # the version's era: icd9 or icd10
    "lo": pl.Int64,  # the entry's first key
    "hi": pl.Int64,  # the entry's last key
    "coverage": pl.String,  # its group's coverage (not_covered, covered_if_criteria_met, covered, related)
    "range": pl.String,  # the entry as text ("97545", "97010 - 97028")
    "description": pl.String,  # the entry's description on the page
    "add_on": pl.Boolean,  # an add-on code (written "+ 97546")
    "primary": pl.String,  # an add-on's primary: the nearest entry above it in its group that is not an add-on
    "seq": pl.Int32,  # position in the policy: of several entries holding a code, the first decides
}

DIAGNOSIS_RANGES = {  # one row per diagnosis entry of each version (groups in the version's diagnosis system)
    "era": pl.String,  # the version's era
    "lo": pl.Int64,  # the entry's first key
    "hi": pl.Int64,  # the entry's last key
    "coverage": pl.String,  # its group's coverage
    "range": pl.String,  # the entry as text ("800.00 - 999.9")
    "label": pl.String,  # the range and its description, as a reason quotes it
    "rank": pl.Int32,  # rank of (lo, hi) within the era: a value's ranges are listed in this order
}


@dataclass(frozen=True, eq=False)
class CompiledPolicy:
    """A policy and its tables (``PROCEDURE_RANGES``, ``DIAGNOSIS_RANGES``)."""

    policy: Policy
    procedures: pl.DataFrame
    diagnoses: pl.DataFrame

    @property
    def id(self) -> str | None:
        return self.policy.id

    def name(self) -> str:
        """How a reason names the policy ("CPB 0198")."""
        return self.policy.name()

    def version_name(self, era: str) -> str:
        """How a reason names one version ("CPB 0198 (ICD-9 version)")."""
        return f"{self.name()} ({ERA_NAMES.get(era, 'unknown')} version)"

    def diagnosis_ranges(self, era: str) -> pl.DataFrame:
        return self.diagnoses.filter(pl.col("era") == era)


def _primary(group: PolicyGroup, index: int) -> str | None:
    """The primary of an add-on entry: the nearest entry above it that is not an add-on."""
    for entry in reversed(group.entries[:index]):
        if not entry.add_on:
            return entry.start
    return None


@cache
def compile_policy(policy: Policy) -> CompiledPolicy:
    """The policy's tables, built once per policy."""
    procedures: list[tuple[Any, ...]] = []
    diagnoses: list[tuple[Any, ...]] = []
    for version in policy.versions:
        for group in version.groups:
            for position, entry in enumerate(group.entries):
                if group.system in PROCEDURE_SYSTEMS:
                    primary = _primary(group, position) if entry.add_on else None
                    procedures.append((version.era, entry.range.lo, entry.range.hi, group.coverage,
                                       str(entry.range), entry.description, entry.add_on, primary, len(procedures)))
                elif group.system == version.diagnosis_system:
                    diagnoses.append((version.era, entry.range.lo, entry.range.hi, group.coverage,
                                      str(entry.range), entry.label()))
    rank = {keys: i for i, keys in enumerate(sorted({row[:3] for row in diagnoses}), start=1)}  # by (era, lo, hi)
    diagnoses = [(*row, rank[row[:3]]) for row in diagnoses]
    return CompiledPolicy(
        policy=policy,
        procedures=pl.DataFrame(procedures, schema=PROCEDURE_RANGES, orient="row"),
        diagnoses=pl.DataFrame(diagnoses, schema=DIAGNOSIS_RANGES, orient="row"))
