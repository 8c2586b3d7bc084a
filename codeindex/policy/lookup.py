"""Looking up a code in a policy as a person types it, and saying what was read.

A miss and an unreadable code are different answers: the result says which system read the code
(the one asked for, else the first that reads it: HCPCS, then the diagnosis systems, the date's era
first), or why none did; whether the code belongs to the other ICD era than the date of service
(which the policy's version for that date cannot match); and every entry it matches, ICD-9 era
first, then in range order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from codeindex.codesets import code_set, has_code_set
from codeindex.errors import InvalidCodeError
from codeindex.policy.model import SYSTEM_ERAS, Policy, PolicyHit, era_for_date
from codeindex.systems import parse_code, system_name

LOOKUP_ORDER = ("hcpcs", "icd9dx", "icd10cm", "icd9pcs")


@dataclass(frozen=True)
class CodeLookup:
    """One code's lookup: what read it (or why nothing did), an era flag, and its matches."""

    input: str
    system: str | None
    error: str | None
    era_mismatch: bool
    hits: tuple[PolicyHit, ...]
    code_edits: tuple[str, ...] = ()  # undefined_code or non_billable_code in the release read (see lookup_code)

    @property
    def valid(self) -> bool:
        return self.error is None

    @property
    def edits(self) -> list[str]:
        """The screen's flags that apply to the code alone: the other era's code, or its own edits in the release
        (undefined, not billable) and a partial match."""
        if self.era_mismatch:
            return ["icd_version_mismatch"]
        partial = ["partial_match"] if any(h.match == "partial" for h in self.hits) else []
        return [*self.code_edits, *partial]


def lookup_code(policy: Policy, text: str, system: str | None = None, day: date | None = None) -> CodeLookup:
    """Look ``text`` up in ``policy``: in ``system`` if given, in the version for ``day`` if given (and, for a
    code of an official code set, as the span it has in the release in force that day, as the screen reads
    it: M54.5 is a billable code on 2017-03-01 and the header of M54.50-M54.59 on 2022-03-01).  Its edits
    are those of the release in force that day, or of the newest without a day, as ``normalize`` says."""
    era = era_for_date(day) if day is not None else None
    if system is not None:
        candidates = [system_name(system)]
    else:  # the date's era first, so that V15 on an ICD-10 date is read as ICD-10's V15
        candidates = sorted(LOOKUP_ORDER, key=lambda s: era is not None and SYSTEM_ERAS.get(s, era) != era)
    problems: list[InvalidCodeError] = []
    for candidate in candidates:
        try:
            code = parse_code(text, candidate)
        except InvalidCodeError as exc:
            problems.append(exc)
            continue
        mismatch = era is not None and SYSTEM_ERAS.get(code.system, era) != era
        edits: tuple[str, ...] = ()
        if has_code_set(code.system):  # its span: the billable codes beneath it that day (the newest release's)
            in_force = code_set(code.system, on=day)
            if not in_force.defined(code):
                edits = ("undefined_code",)
            else:
                edits = () if in_force.billable(code) else ("non_billable_code",)
                code = in_force.code(code) if day is not None else code
        return CodeLookup(text, code.system, None, mismatch, tuple(policy.lookup(code, era=era)), edits)
    if system is not None:
        return CodeLookup(text, candidates[0], str(problems[0]), False, ())
    reasons = "; ".join(f"{p.system}: {p.problem}" for p in problems)
    return CodeLookup(text, None, f"{text!r} is not a valid code of any system ({reasons})", False, ())
