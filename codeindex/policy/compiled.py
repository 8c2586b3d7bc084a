"""Policies compiled once into typed tables: all the screen reads of them.

The bulletin model (versions, groups, entries) suits parsing and printing; a bulk screen
wants flat tables it can join against.  ``compile_policies`` builds them once per library
(cached): every entry of every policy in two tables, each row naming its policy by its
position in the library, so a screen of many policies classifies each code once against
all of them and never walks groups and entries, never re-derives an add-on's primary, and
never rebuilds a range table per call.

>>> from codeindex.policy import load_policy
>>> compiled = compile_policies((load_policy("0198"),))
>>> compiled.procedures.filter(era="icd9").select("policy", "range", "coverage", "add_on", "primary").rows()
[(0, '97545', 'not_covered', False, None), (0, '97546', 'not_covered', True, '97545')]
>>> compiled.diagnoses.filter(era="icd9")["range"].to_list()[:2]
['800.00-999.9', 'V10.00-V13.9']
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cache, cached_property
from typing import Any

import polars as pl

from codeindex.errors import PolicyParseError
from codeindex.policy.model import ERA_NAMES, Policy, PolicyGroup
from codeindex.policy.reason_codes import CAUSES, reason_codes

PROCEDURE_SYSTEMS = ("hcpcs",)
POLICY = pl.UInt16  # a policy, by its position in the library

PROCEDURE_RANGES = {  # one row per procedure entry of each version of each policy, in the library's order
    "policy": POLICY,
    "era": pl.String,  # the version's era: icd9 or icd10
    "lo": pl.Int64,  # the entry's first key
    "hi": pl.Int64,  # the entry's last key
    "coverage": pl.String,  # its group's coverage (not_covered, covered_if_criteria_met, covered, related)
    "range": pl.String,  # the entry as text ("97545", "97010 - 97028")
    "description": pl.String,  # the entry's description on the page
    "add_on": pl.Boolean,  # an add-on code (written "+ 97546")
    "primary": pl.String,  # an add-on's primary: the nearest entry above it in its group that is not an add-on
    "seq": pl.Int32,  # position in the library: of a policy's entries holding a code, the first decides
    "rule_id": pl.String,  # the entry's stable id: policy/revision/era/group/entry (see ``rule_id``)
}

REASON_CODES = {  # one row per procedure entry and cause of a denial: the codes a line it denies carries
    "rule_id": pl.String,
    "cause": pl.String,  # reason_codes.CAUSES
    "group_code": pl.String,
    "carc": pl.String,
    "rarc": pl.String,
}

DIAGNOSIS_RANGES = {  # one row per diagnosis entry of each version (groups in the version's diagnosis system)
    "policy": POLICY,
    "era": pl.String,  # the version's era
    "lo": pl.Int64,  # the entry's first key
    "hi": pl.Int64,  # the entry's last key
    "coverage": pl.String,  # its group's coverage
    "range": pl.String,  # the entry as text ("800.00 - 999.9")
    "label": pl.String,  # the range and its description, as a reason quotes it
    "rank": pl.Int32,  # rank of (policy, era, lo, hi): a value's ranges in a policy are listed in this order
}


@dataclass(frozen=True, eq=False)
class CompiledPolicies:
    """A library of policies (in the order given: of findings that tie, the first policy's decides) and its
    tables (``PROCEDURE_RANGES``, ``DIAGNOSIS_RANGES``)."""

    policies: tuple[Policy, ...]
    procedures: pl.DataFrame
    diagnoses: pl.DataFrame
    reason_codes: pl.DataFrame
    # Revisions by date of service: the effective dates at which a revision of an id takes over from an earlier
    # one (sorted), cutting time into epochs (epoch 0 before the first, epoch i from boundaries[i - 1]); and each
    # policy's epochs in force, as (first, last).  A policy that is its id's only revision is in force in all.
    boundaries: tuple[date, ...] = ()
    in_force: tuple[tuple[int, int], ...] = ()

    @property
    def epochs(self) -> int:
        return len(self.boundaries) + 1

    def policies_in_force(self, epoch: int) -> list[int]:
        """The policies in force in an epoch, in library order."""
        return [p for p, (first, last) in enumerate(self.in_force) if first <= epoch <= last]

    def exhaustive(self, policy: int, era: str) -> bool:
        """Whether the policy's version of the era has an exhaustive covered list of diagnoses."""
        version = self.policies[policy].version(era)  # type: ignore[arg-type]
        return version is not None and version.exhaustive

    @property
    def ids(self) -> list[str | None]:
        return [policy.id for policy in self.policies]

    @cached_property
    def revised_ids(self) -> frozenset[str | None]:
        """The ids of which the library holds several revisions (worked out once: every reason names its policy)."""
        return frozenset(policy_id for policy_id, revisions in Counter(self.ids).items() if revisions > 1)

    @cached_property
    def one_policy(self) -> bool:
        """Whether the library holds one policy (in one revision or several)."""
        return len(set(self.ids)) == 1

    def name(self, policy: int | None) -> str:
        """How a reason names a policy ("CPB 0198", "CPB 0198 revision 2014-01-01" when the library holds several
        of its revisions), or, for ``None``, the library."""
        if policy is not None:
            named = self.policies[policy]
            if named.id in self.revised_ids:
                return f"{named.name()} revision {named.revision or named.effective}"
            return named.name()
        if self.one_policy:
            return self.policies[0].name()
        return f"any of the {len(self.policies)} policies screened"

    def version_name(self, policy: int, era: str) -> str:
        """How a reason names one version ("CPB 0198 (ICD-9 version)")."""
        return f"{self.name(policy)} ({ERA_NAMES.get(era, 'unknown')} version)"

    @property
    def lone_policy(self) -> int | None:
        """The policy of a library of one (of its newest revision, for one policy in several revisions), which
        explains a line whose procedure no policy names ("not named by CPB 0198"); None for a library of several
        policies (no policy decides such a line)."""
        return self.lone_at(self.epochs - 1)

    def lone_at(self, epoch: int) -> int | None:
        """The lone policy's revision in force in an epoch (None for a library of several policies)."""
        if not self.one_policy:
            return None
        return self.policies_in_force(epoch)[0]


def rule_id(policy: Policy, era: str, group: int, entry: int) -> str:
    """A procedure entry's stable id, which a claim system can key a finding on: the policy's id, its revision
    (``-`` when the page gives none), the version's era, and the group's and entry's positions in the version
    (from 0).  The bundled CPB 0198 gives no revision: its add-on 97546, second entry of the first group, is

    >>> from codeindex.policy import load_policy
    >>> rule_id(load_policy("0198"), "icd9", 0, 1)
    '0198/-/icd9/0/1'
    """
    return f"{policy.id}/{policy.revision or '-'}/{era}/{group}/{entry}"


def _primary(group: PolicyGroup, index: int) -> str | None:
    """The primary of an add-on entry: the nearest entry above it that is not an add-on."""
    for entry in reversed(group.entries[:index]):
        if not entry.add_on:
            return entry.start
    return None


def _revisions(policies: tuple[Policy, ...]) -> tuple[tuple[date, ...], tuple[tuple[int, int], ...]]:
    """The epochs of a library's revisions: the dates at which a later revision of an id takes over (sorted), and
    each policy's first and last epoch in force.  A revision is in force from its effective date until the next
    one's; the first also before its own (the bulletin's earlier history is not in the library)."""
    by_id: dict[str | None, list[int]] = {}
    for number, policy in enumerate(policies):
        by_id.setdefault(policy.id, []).append(number)
    starts: dict[int, date] = {}  # a later revision -> the date it takes over
    for numbers in by_id.values():
        if len(numbers) > 1:  # load_policies checked each has its own effective date
            ordered = sorted(numbers, key=lambda n: policies[n].effective or date.min)
            starts.update({n: policies[n].effective or date.min for n in ordered[1:]})
    boundaries = tuple(sorted(set(starts.values())))
    epoch_of = {day: i + 1 for i, day in enumerate(boundaries)}
    in_force = []
    for numbers in by_id.values():
        ordered = sorted(numbers, key=lambda n: policies[n].effective or date.min)
        firsts = [epoch_of[starts[n]] if n in starts else 0 for n in ordered]
        lasts = [f - 1 for f in firsts[1:]] + [len(boundaries)]
        in_force += list(zip(ordered, zip(firsts, lasts, strict=True), strict=True))
    return boundaries, tuple(window for _, window in sorted(in_force))


@cache
def compile_policies(policies: tuple[Policy, ...]) -> CompiledPolicies:
    """The library's tables, built once per library (a tuple of policies as ``load_policies`` gives it: at
    least one, ids distinct)."""
    procedures: list[tuple[Any, ...]] = []
    diagnoses: list[tuple[Any, ...]] = []
    codes: list[tuple[Any, ...]] = []
    standard = reason_codes()
    for number, policy in enumerate(policies):
        for version in policy.versions:
            if (found := version.contradiction()) is not None:
                (g, e), (og, oe) = found
                entry, other = version.groups[g].entries[e], version.groups[og].entries[oe]
                raise PolicyParseError(None, None, f"{policy.name()} ({ERA_NAMES[version.era]} version): {entry.range}"
                                       f" is {version.groups[g].coverage}, but {other.range} holds codes of it as "
                                       f"{version.groups[og].coverage}: one code cannot be both", policy.source)
            for g, group in enumerate(version.groups):
                own = dict(group.reason_codes)
                for position, entry in enumerate(group.entries):
                    if group.system in PROCEDURE_SYSTEMS:
                        primary = _primary(group, position) if entry.add_on else None
                        rule = rule_id(policy, version.era, g, position)
                        procedures.append((number, version.era, entry.range.lo, entry.range.hi, group.coverage,
                                           str(entry.range), entry.description, entry.add_on, primary,
                                           len(procedures), rule))
                        codes += [(rule, cause, c.group_code, c.carc, c.rarc)
                                  for cause, c in ((cause, own.get(cause, standard[cause])) for cause in CAUSES)]
                    elif group.system == version.diagnosis_system:
                        diagnoses.append((number, version.era, entry.range.lo, entry.range.hi, group.coverage,
                                          str(entry.range), entry.label()))
    rank = {keys: i for i, keys in enumerate(sorted({row[:4] for row in diagnoses}), start=1)}  # (policy, era, lo, hi)
    diagnoses = [(*row, rank[row[:4]]) for row in diagnoses]
    boundaries, in_force = _revisions(policies)
    return CompiledPolicies(
        boundaries=boundaries, in_force=in_force,
        policies=policies,
        procedures=pl.DataFrame(procedures, schema=PROCEDURE_RANGES, orient="row"),
        diagnoses=pl.DataFrame(diagnoses, schema=DIAGNOSIS_RANGES, orient="row"),
        reason_codes=pl.DataFrame(codes, schema=REASON_CODES, orient="row"))
