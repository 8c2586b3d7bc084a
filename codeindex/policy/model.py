"""A clinical policy bulletin as data: versions by code-set era, groups, entries.

A version applies to dates of service in its era: ICD-9 before 2015-10-01, ICD-10
from that day.  A group is one code list of the bulletin with the coverage status
its header gives; an entry is one range or code of it, with its description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Literal

from codeindex.code import Code
from codeindex.index import CodeIndex, Entry, Hit
from codeindex.ranges import CodeRange

Era = Literal["icd9", "icd10"]
Coverage = Literal["not_covered", "covered_if_criteria_met", "related", "covered"]
ICD10_START = date(2015, 10, 1)
DIAGNOSIS_SYSTEMS = {"icd9": "icd9dx", "icd10": "icd10cm"}
SYSTEM_ERAS: dict[str, Era] = {"icd9dx": "icd9", "icd9pcs": "icd9", "icd10cm": "icd10"}  # HCPCS has none
ERA_NAMES = {"icd9": "ICD-9", "icd10": "ICD-10"}


def era_for_date(day: date) -> Era:
    return "icd9" if day < ICD10_START else "icd10"


@dataclass(frozen=True)
class PolicyEntry:
    """One range or single code of a group, as written (``start``/``end`` keep the page's text)."""

    range: CodeRange
    start: str
    end: str
    description: str = ""
    add_on: bool = False

    def label(self) -> str:
        """The range and its description, as a reason sentence quotes it."""
        return f"{self.range} {self.description}".strip()


@dataclass(frozen=True)
class PolicyGroup:
    """A code list under one header: its system, coverage and entries."""

    system: str
    coverage: Coverage
    all_inclusive: bool
    entries: tuple[PolicyEntry, ...]
    header: str = field(default="", compare=False)


@dataclass(frozen=True)
class PolicyVersion:
    era: Era
    groups: tuple[PolicyGroup, ...]

    @property
    def diagnosis_system(self) -> str:
        return DIAGNOSIS_SYSTEMS[self.era]


@dataclass(frozen=True)
class PolicyHit:
    """A code's match against one entry of one group of one version."""

    version: PolicyVersion
    group: PolicyGroup
    entry: PolicyEntry
    match: str


@dataclass(frozen=True)
class Policy:
    id: str | None
    title: str | None
    source: str | None
    versions: tuple[PolicyVersion, ...]

    def version(self, era: Era) -> PolicyVersion | None:
        return next((v for v in self.versions if v.era == era), None)

    def version_for(self, day: date) -> PolicyVersion | None:
        """The version that applies to a date of service (None when the bulletin has none)."""
        return self.version(era_for_date(day))

    def name(self) -> str:
        return f"CPB {self.id}" if self.id else (self.title or "the policy")

    @cached_property
    def index(self) -> CodeIndex:
        """Every entry of every version in one interval index; payloads are (version, group, entry,
        place), the place being (era, group, entry) positions in the bulletin, the order of lookups."""
        return CodeIndex(Entry(entry.range, (version, group, entry, (version.era == "icd10", g, e)))
                         for version in self.versions for g, group in enumerate(version.groups)
                         for e, entry in enumerate(group.entries))

    def lookup(self, code: Code | str, system: str | None = None, era: Era | None = None) -> list[PolicyHit]:
        """Every entry a code matches, optionally in one era's version only: ICD-9 era first, then in
        range order (then the bulletin's order)."""
        hits: list[Hit] = self.index.lookup(code, system)
        found = [h for h in hits if era is None or h.entry.payload[0].era == era]
        if len(found) > 1:
            found.sort(key=lambda h: (h.entry.payload[3][0], h.entry.range.lo, h.entry.range.hi, h.entry.payload[3]))
        payloads: list[tuple[PolicyVersion, PolicyGroup, PolicyEntry]] = [h.entry.payload[:3] for h in found]
        return [PolicyHit(*payload, h.match) for h, payload in zip(found, payloads, strict=True)]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "versions": [
                {"era": v.era, "groups": [
                    {"system": g.system, "coverage": g.coverage, "all_inclusive": g.all_inclusive,
                     "entries": [{"start": e.start, "end": e.end, "description": e.description,
                                  "add_on": e.add_on} for e in g.entries]}
                    for g in v.groups]}
                for v in self.versions
            ],
        }
