"""A clinical policy bulletin as data: versions by code-set era, groups, entries.

A version applies to dates of service in its era: ICD-9 before 2015-10-01, ICD-10
from that day.  A group is one code list of the bulletin with the coverage status
its header gives; an entry is one range or code of it, with its description.

Bulletin text (``parse_cpb``/``format_cpb``), JSON (``Policy.to_json``/``Policy.from_json``) and
this model are three spellings of one policy: each reads back to an equal Policy.  Equality is the
policy's content (id, title, revision, effective date, versions); where it was read from
(``source``) and a group's header as written are not compared, so the same bulletin read from two
places is one policy.  An entry's range is always read from its start and end text by
``entry_range``, the bulletin parser's own reading, so a JSON entry is the entry the text gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from typing import Any, Literal, get_args

from codeindex.code import Code
from codeindex.errors import InputError, InvalidCodeError
from codeindex.index import CodeIndex, Entry, Hit
from codeindex.policy.reason_codes import CAUSES, ReasonCodes
from codeindex.ranges import CodeRange, parse_range

Era = Literal["icd9", "icd10"]
Coverage = Literal["not_covered", "covered_if_criteria_met", "related", "covered"]
# A covered diagnosis list's kind: *indicative* (a CPB's "covered if selection criteria are met": a listed diagnosis
# supports the line, one not listed does not deny it) or *exhaustive* (an LCD's "support medical necessity": only
# the listed diagnoses support the procedure; a line with none of them is not covered).
ListKind = Literal["indicative", "exhaustive"]
COVERED_LISTS = ("covered", "covered_if_criteria_met")  # the coverages of a diagnosis group that is a covered list
ICD10_START = date(2015, 10, 1)
DIAGNOSIS_SYSTEMS = {"icd9": "icd9dx", "icd10": "icd10cm"}
SYSTEM_ERAS: dict[str, Era] = {"icd9dx": "icd9", "icd9pcs": "icd9", "icd10cm": "icd10"}  # HCPCS has none
ERA_NAMES = {"icd9": "ICD-9", "icd10": "ICD-10"}
GROUP_SYSTEMS = ("hcpcs", "icd9dx", "icd9pcs", "icd10cm")  # the systems a group's codes can be in


def era_for_date(day: date) -> Era:
    return "icd9" if day < ICD10_START else "icd10"


def entry_range(start: str, end: str, system: str) -> CodeRange:
    """The range an entry written ``start`` to ``end`` covers (one code when they are the same text);
    raises InvalidCodeError.  The bulletin parser and the JSON reader both read entries here.

    >>> str(entry_range("800.00", "999.9", "icd9dx")), str(entry_range("V57.22", "V57.22", "icd9dx"))
    ('800.00-999.9', 'V57.22')
    """
    return parse_range(start if start == end else f"{start}-{end}", system)


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
    """A code list under one header: its system, coverage and entries, and for a covered list of diagnoses its
    ``kind`` (indicative unless given; None for any other group)."""

    system: str
    coverage: Coverage
    all_inclusive: bool
    entries: tuple[PolicyEntry, ...]
    header: str = field(default="", compare=False)
    kind: ListKind | None = None
    # A procedure group's own codes for the causes of a denial (cause, codes), in cause order: the payer's choice
    # over ``data/reason_codes.csv``.
    reason_codes: tuple[tuple[str, ReasonCodes], ...] = ()

    def __post_init__(self) -> None:
        if self.covered_diagnoses:
            object.__setattr__(self, "kind", self.kind or "indicative")
        elif self.kind is not None:
            raise ValueError(f"a list kind ({self.kind}) is for covered lists of diagnoses, not {self.system} "
                             f"codes {self.coverage}")
        if self.reason_codes and self.system in DIAGNOSIS_SYSTEMS.values():
            raise ValueError("reason codes are a procedure group's: the group that names the line's procedure")

    @property
    def covered_diagnoses(self) -> bool:
        """Whether the group is a covered list of diagnoses (which has a kind)."""
        return self.system in DIAGNOSIS_SYSTEMS.values() and self.coverage in COVERED_LISTS


@dataclass(frozen=True)
class PolicyVersion:
    era: Era
    groups: tuple[PolicyGroup, ...]

    @property
    def diagnosis_system(self) -> str:
        return DIAGNOSIS_SYSTEMS[self.era]

    @property
    def exhaustive(self) -> bool:
        """Whether the version has an exhaustive covered list of diagnoses: a line of a covered procedure with none
        of its diagnoses in a covered list is then not covered."""
        return any(g.kind == "exhaustive" and g.system == self.diagnosis_system for g in self.groups)

    def contradiction(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """Two entries, as (group, entry) positions, that hold a code in common under different coverages (one
        code both covered and not covered, or covered and covered if criteria are met), or None.  Two covered
        lists of diagnoses may overlap (an indicative and an exhaustive list); related codes conflict with none.

        >>> from codeindex.ranges import parse_range
        >>> def group(coverage, *ranges):
        ...     return PolicyGroup("icd9dx", coverage, True, tuple(PolicyEntry(parse_range(r, "icd9dx"), r, r)
        ...                                                         for r in ranges))
        >>> PolicyVersion("icd9", (group("not_covered", "800.00-999.9"), group("covered_if_criteria_met", "724.2",
        ...                                                                    "850.0"))).contradiction()
        ((1, 1), (0, 0))
        """
        def side(group: PolicyGroup) -> str:
            return "covered list" if group.covered_diagnoses else group.coverage

        spans = sorted((entry.range.lo, entry.range.hi, g, e, group.system, side(group))
                       for g, group in enumerate(self.groups) if group.coverage != "related"
                       for e, entry in enumerate(group.entries))
        widest: dict[tuple[str, str], tuple[int, int, int]] = {}  # (system, side) -> the (hi, g, e) reaching farthest
        for lo, hi, g, e, system, coverage in spans:
            for (other_system, other), (reach, og, oe) in widest.items():
                if other_system == system and other != coverage and reach >= lo:
                    return (g, e), (og, oe)
            if widest.get((system, coverage), (-1, 0, 0))[0] < hi:
                widest[(system, coverage)] = (hi, g, e)
        return None


@dataclass(frozen=True)
class PolicyHit:
    """A code's match against one entry of one group of one version."""

    version: PolicyVersion
    group: PolicyGroup
    entry: PolicyEntry
    match: str


@dataclass(frozen=True)
class Policy:
    """A bulletin: its id ("0198"), title, versions by era, and, when the page gives them, its revision
    (as the page names it: "Revision: 12" as written, or the "Last Review" date as YYYY-MM-DD) and the
    date it took effect.  ``source`` says where it was read from and is not compared."""

    id: str | None
    title: str | None
    source: str | None = field(compare=False)
    versions: tuple[PolicyVersion, ...]
    revision: str | None = None
    effective: date | None = None

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
        """The policy as JSON data; ``Policy.from_json`` reads it back to an equal policy."""
        return {
            "id": self.id,
            "title": self.title,
            "revision": self.revision,
            "effective": None if self.effective is None else self.effective.isoformat(),
            "versions": [
                {"era": v.era, "groups": [
                    {"system": g.system, "coverage": g.coverage, "all_inclusive": g.all_inclusive,
                     **({"kind": g.kind} if g.kind else {}),
                     **({"reason_codes": {cause: {"group_code": codes.group_code, "carc": codes.carc,
                                                  "rarc": codes.rarc} for cause, codes in g.reason_codes}}
                        if g.reason_codes else {}),
                     "entries": [{"start": e.start, "end": e.end, "description": e.description,
                                  "add_on": e.add_on} for e in g.entries]}
                    for g in v.groups]}
                for v in self.versions
            ],
        }

    @classmethod
    def from_json(cls, data: object, source: str | None = None) -> Policy:
        """A policy from JSON data in the form ``to_json`` writes; raises InputError naming ``source``
        (the file), the field and the problem.

        Required: ``versions``, each version's ``era`` and ``groups``, each group's ``system``,
        ``coverage`` and ``entries``, each entry's ``start``.  Optional: ``id``, ``title``,
        ``revision``, ``effective`` (YYYY-MM-DD), a group's ``all_inclusive`` (true) and, for a covered list of
        diagnoses, ``kind`` (``indicative``, the default, or ``exhaustive``), for a procedure group,
        ``reason_codes`` (by cause: ``group_code``, ``carc``, ``rarc``; see ``reason_codes``), an entry's
        ``end`` (its start), ``description`` ("") and ``add_on`` (false).  Versions come out in era
        order, as the parser gives them.

        >>> policy = Policy.from_json({"id": "x", "versions": [{"era": "icd9", "groups": [{"system": "icd9dx",
        ...     "coverage": "not_covered", "entries": [{"start": "800.00", "end": "999.9"}]}]}]})
        >>> entry = policy.versions[0].groups[0].entries[0]
        >>> str(entry.range), entry.description, policy == Policy.from_json(policy.to_json())
        ('800.00-999.9', '', True)
        >>> Policy.from_json({"versions": [{"era": "icd9", "groups": [{"system": "icd9dx", "coverage": "maybe",
        ...     "entries": []}]}]}, source="x.json")
        Traceback (most recent call last):
        codeindex.errors.InputError: policy file x.json: versions[0].groups[0].coverage: 'maybe' is not one of \
not_covered, covered_if_criteria_met, related, covered
        """
        return replace(_JsonReader(source).policy(data), source=source)


_POLICY_KEYS = {"id": False, "title": False, "revision": False, "effective": False, "versions": True}
_VERSION_KEYS = {"era": True, "groups": True}
_GROUP_KEYS = {"system": True, "coverage": True, "all_inclusive": False, "kind": False, "reason_codes": False,
               "entries": True}
_CODES_KEYS = {"group_code": True, "carc": True, "rarc": False}
_ENTRY_KEYS = {"start": True, "end": False, "description": False, "add_on": False}


class _JsonReader:
    """Reads policy JSON, naming the file and the field (``versions[0].groups[1].coverage``) of any problem."""

    def __init__(self, source: str | None) -> None:
        self.where = f"policy file {source}" if source else "policy JSON"

    def fail(self, path: str, problem: str) -> InputError:
        return InputError(f"{self.where}: {path + ': ' if path else ''}{problem}")

    def fields(self, data: object, path: str, keys: dict[str, bool]) -> dict[str, Any]:
        """``data`` as an object with only the known keys and every required one."""
        if not isinstance(data, dict):
            raise self.fail(path, f"expected an object, not {_kind(data)}")
        unknown = [k for k in data if k not in keys]
        if unknown:
            raise self.fail(path, f"unknown key {unknown[0]!r} (known: {', '.join(keys)})")
        missing = [k for k, required in keys.items() if required and k not in data]
        if missing:
            raise self.fail(path, f"missing key {missing[0]!r}")
        return data

    def text(self, value: object, path: str, optional: bool = False) -> Any:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(path, f"expected {'text or null' if optional else 'text'}, not {_kind(value)}")
        return value

    def flag(self, value: object, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, not {_kind(value)}")
        return value

    def items(self, value: object, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, not {_kind(value)}")
        if not value:
            raise self.fail(path, "an empty list (a bulletin has at least one)")
        return value

    def choice(self, value: object, path: str, choices: tuple[str, ...]) -> Any:
        if value not in choices:
            raise self.fail(path, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def policy(self, data: object) -> Policy:
        fields = self.fields(data, "", _POLICY_KEYS)
        effective = self.text(fields.get("effective"), "effective", optional=True)
        if effective is not None:
            try:
                effective = date.fromisoformat(effective) if len(effective) == 10 else None
            except ValueError:
                effective = None
            if effective is None:
                raise self.fail("effective", f"{fields['effective']!r} is not a date YYYY-MM-DD")
        versions = [self.version(v, f"versions[{i}]") for i, v in enumerate(self.items(fields["versions"], "versions"))]
        eras = [v.era for v in versions]
        if len(set(eras)) < len(eras):
            second = next(i for i, era in enumerate(eras) if era in eras[:i])
            raise self.fail(f"versions[{second}].era", f"a second {eras[second]} version")
        return Policy(self.text(fields.get("id"), "id", optional=True),
                      self.text(fields.get("title"), "title", optional=True), None,
                      tuple(sorted(versions, key=lambda v: v.era == "icd10")),
                      self.text(fields.get("revision"), "revision", optional=True), effective)

    def version(self, data: object, path: str) -> PolicyVersion:
        fields = self.fields(data, path, _VERSION_KEYS)
        era: Era = self.choice(fields["era"], f"{path}.era", get_args(Era))
        groups = [self.group(g, f"{path}.groups[{i}]", era)
                  for i, g in enumerate(self.items(fields["groups"], f"{path}.groups"))]
        version = PolicyVersion(era, tuple(groups))
        if (found := version.contradiction()) is not None:
            (g, e), (og, oe) = found
            entry, other = groups[g].entries[e], groups[og].entries[oe]
            raise self.fail(f"{path}.groups[{g}].entries[{e}]", f"{entry.range} is {groups[g].coverage}, but "
                            f"{path}.groups[{og}].entries[{oe}] ({other.range}) holds codes of it as "
                            f"{groups[og].coverage}: one code cannot be both; remove it from one")
        return version

    def group(self, data: object, path: str, era: Era) -> PolicyGroup:
        fields = self.fields(data, path, _GROUP_KEYS)
        system = self.choice(fields["system"], f"{path}.system", GROUP_SYSTEMS)
        if SYSTEM_ERAS.get(system, era) != era:
            raise self.fail(f"{path}.system", f"{system} codes in the {ERA_NAMES[era]} version")
        coverage: Coverage = self.choice(fields["coverage"], f"{path}.coverage", get_args(Coverage))
        all_inclusive = self.flag(fields.get("all_inclusive", True), f"{path}.all_inclusive")
        entries = fields["entries"]
        if not isinstance(entries, list):  # empty is allowed: a group the bulletin leaves without codes
            raise self.fail(f"{path}.entries", f"expected a list, not {_kind(entries)}")
        kind = fields.get("kind")
        if kind is not None:
            kind = self.choice(kind, f"{path}.kind", get_args(ListKind))
            if not (system in DIAGNOSIS_SYSTEMS.values() and coverage in COVERED_LISTS):
                raise self.fail(f"{path}.kind", "a kind is for covered lists of diagnoses only")
        codes = self.reason_codes(fields.get("reason_codes"), f"{path}.reason_codes", system)
        return PolicyGroup(system, coverage, all_inclusive,
                           tuple(self.entry(e, f"{path}.entries[{i}]", system) for i, e in enumerate(entries)),
                           kind=kind, reason_codes=codes)

    def reason_codes(self, data: object, path: str, system: str) -> tuple[tuple[str, ReasonCodes], ...]:
        """A procedure group's own reason codes, by cause (in cause order)."""
        if data is None:
            return ()
        if system in DIAGNOSIS_SYSTEMS.values():
            raise self.fail(path, "reason codes are a procedure group's (the group naming the line's procedure)")
        causes = self.fields(data, path, dict.fromkeys(CAUSES, False))
        found = []
        for cause in CAUSES:
            if cause in causes:
                fields = self.fields(causes[cause], f"{path}.{cause}", _CODES_KEYS)
                texts = [self.text(fields.get(k), f"{path}.{cause}.{k}", optional=k == "rarc") for k in _CODES_KEYS]
                try:
                    found.append((cause, ReasonCodes(*texts)))
                except ValueError as exc:
                    raise self.fail(f"{path}.{cause}", str(exc)) from None
        return tuple(found)

    def entry(self, data: object, path: str, system: str) -> PolicyEntry:
        fields = self.fields(data, path, _ENTRY_KEYS)
        start = self.text(fields["start"], f"{path}.start")
        end = self.text(fields.get("end", start), f"{path}.end")
        try:
            code_range = entry_range(start, end, system)
        except InvalidCodeError as exc:
            written = start if start == end else f"{start} - {end}"
            raise self.fail(path, f"cannot read {written!r} as {system}: {exc.problem}") from None
        return PolicyEntry(code_range, start, end, self.text(fields.get("description", ""), f"{path}.description"),
                           self.flag(fields.get("add_on", False), f"{path}.add_on"))


def _kind(value: object) -> str:
    """A JSON value's kind, as an error names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)
