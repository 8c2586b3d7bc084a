"""Read the code section of an Aetna-style clinical policy bulletin, as copied from its page.

The section starts at a header such as "CPT Codes / HCPCS Codes / ICD-9 Codes" (its
era is the ICD version it names) and ends where the bulletin moves on (references,
background).  Inside it: group headers ("CPT codes not covered for indications
listed in the CPB:"), entries (codes or ranges, then a description), descriptions on
lines of their own, notes, and the same text copied as a "|" table.  A line that looks
like codes but cannot be read is a PolicyParseError naming its line; nothing is
skipped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from codeindex.errors import InvalidCodeError, PolicyParseError
from codeindex.policy.model import Coverage, Era, Policy, PolicyEntry, PolicyGroup, PolicyVersion
from codeindex.ranges import parse_range

_SECTION = re.compile(
    r"^(?:(?:CPT|HCPCS|ICD-9(?:-CM)?|ICD-10(?:-CM|-PCS)?)(?:\s+Procedure)?\s+Codes\s*/\s*)+"
    r"(?:CPT|HCPCS|ICD-9(?:-CM)?|ICD-10(?:-CM|-PCS)?)(?:\s+Procedure)?\s+Codes\s*$", re.I)
_SECTION_END = re.compile(
    r"^(?:The above policy is based on the following references|"
    r"(?:Background|References|Appendix|Policy History)\s*:?\s*$|Copyright\b)", re.I)
_GROUP = re.compile(
    r"^(?P<other>Other\s+)?(?P<systems>(?:CPT|HCPCS|ICD-9|ICD-10)[\w\s/\-]*?)\s+codes?\b(?P<status>[^:]*?)"
    r"\s*(?P<ni>\(not all[- ]inclusive\))?\s*:\s*(?P<ni2>\(not all[- ]inclusive\))?\s*$", re.I)
# A code-like token: a digit, or a letter then a digit, then letters, digits, dots, "+".
_CODE_TOKEN = r"[A-Za-z]?[0-9][0-9A-Za-z.+]*"
_CODE_PART = re.compile(
    rf"^(?P<addon>\+\s*)?(?P<codes>{_CODE_TOKEN}(?:(?:\s*[,\-\u2013\u2014]\s*|\s+){_CODE_TOKEN})*)"
    r"(?:\s*,)?(?:\s+|$)(?P<rest>.*)$")
_ITEM_SPLIT = re.compile(r"\s*,\s*|(?<![\-\u2013\u2014])\s+(?![\-\u2013\u2014\s])")
_DASH = re.compile(r"\s*[\-\u2013\u2014]\s*")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")
_COLUMN_HEADS = re.compile(r"^\s*Code\s*\|?\s*Code Description\s*$", re.I)
_NO_CODE = re.compile(r"^no specific code", re.I)


def _coverage(other: str | None, status: str) -> Coverage | None:
    status = status.lower()
    if other and "related" in status:
        return "related"
    if "not covered" in status:
        return "not_covered"
    if "selection criteria" in status or "criteria are met" in status:
        return "covered_if_criteria_met"
    if "covered" in status:
        return "covered"
    return None


def _system(words: str, era: Era) -> str | None:
    words = words.upper()
    if "ICD-10" in words:
        return None if "PROCEDURE" in words or "PCS" in words else "icd10cm"
    if "ICD-9" in words:
        return "icd9pcs" if "PROCEDURE" in words else "icd9dx"
    if "CPT" in words or "HCPCS" in words:
        return "hcpcs"
    return None


@dataclass
class _Section:
    era: Era
    groups: list[PolicyGroup] = field(default_factory=list)


def _heading(lines: list[str]) -> tuple[str | None, str | None, str | None]:
    """The title, number and source the page gives above its code section."""
    title = number = source = None
    for i, line in enumerate(lines):
        text = line.strip()
        if source is None and (m := re.match(r"^Source:\s*(.+)$", text, re.I)):
            source = m.group(1).strip()
        if number is None and (m := re.match(r"^Number:\s*(\S+)", text, re.I)):
            number = m.group(1)
        if title is None and (m := re.match(r"^Clinical Policy Bulletin:\s*(.*)$", text, re.I)):
            title = m.group(1).strip() or next((x.strip() for x in lines[i + 1:] if x.strip()), None)
        if _SECTION.match(text):
            break
    return title, number, source


def _cells(line: str) -> str:
    """A table row as plain text: its non-empty cells joined by a space."""
    if "|" not in line:
        return line.strip()
    return " ".join(c.strip() for c in line.strip().strip("|").split("|") if c.strip())


def parse_cpb(text: str, source: str | None = None) -> Policy:
    """Parse a bulletin page (or just its code sections) into a Policy."""
    lines = text.splitlines()
    title, number, described_source = _heading(lines)
    sections: list[_Section] = []
    section: _Section | None = None
    group: dict | None = None
    pending: list[dict] = []

    def close_group() -> None:
        nonlocal group
        if group is not None and section is not None:
            entries = tuple(PolicyEntry(e["range"], e["start"], e["end"], e["description"], e["add_on"])
                            for e in group["entries"])
            section.groups.append(PolicyGroup(group["system"], group["coverage"], group["all_inclusive"],
                                              entries, group["header"]))
        group = None
        pending.clear()

    for line_no, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if _SECTION.match(stripped):
            close_group()
            era: Era = "icd10" if "ICD-10" in stripped.upper() else "icd9"
            if any(s.era == era for s in sections):
                raise PolicyParseError(line_no, raw, f"a second {era} code section", source)
            section = _Section(era)
            sections.append(section)
            continue
        if section is None:
            continue
        if _SECTION_END.match(stripped):
            close_group()
            section = None
            continue
        if not stripped or _TABLE_RULE.match(stripped) or _COLUMN_HEADS.match(stripped):
            continue
        line = _cells(stripped)
        if (m := _GROUP.match(line)) and (coverage := _coverage(m["other"], m["status"])):
            system = _system(m["systems"], section.era)
            if system is None:
                raise PolicyParseError(line_no, raw, f"codes of {m['systems'].strip()!r} are not supported",
                                       source)
            close_group()
            group = {"system": system, "coverage": coverage, "all_inclusive": not (m["ni"] or m["ni2"]),
                     "entries": [], "header": line.rstrip(":").strip()}
            continue
        if _NO_CODE.match(line):
            continue
        m = _CODE_PART.match(line)
        if m is None:
            if pending:  # a description on a line of its own
                for entry in pending:
                    entry["description"] = line
                pending.clear()
            continue  # an explanatory note
        if group is None:
            raise PolicyParseError(line_no, raw, "codes before any group header", source)
        entries = []
        for item in _ITEM_SPLIT.split(" ".join(m["codes"].split())):  # runs of spaces as one
            try:
                code_range = parse_range(item, group["system"])
            except InvalidCodeError as exc:
                problem = f"cannot read {item!r} as {group['system']}: {exc.problem}"
                raise PolicyParseError(line_no, raw, problem, source) from None
            ends = _DASH.split(item)
            entries.append({"range": code_range, "start": ends[0], "end": ends[-1],
                            "description": "", "add_on": bool(m["addon"])})
        group["entries"].extend(entries)
        description = " ".join(m["rest"].split())
        if description:
            for entry in [*pending, *entries]:
                entry["description"] = description
            pending.clear()
        else:
            pending.extend(entries)
    close_group()
    if not sections:
        raise PolicyParseError(0, "", "no code section found (expected a line such as "
                               "'CPT Codes / HCPCS Codes / ICD-9 Codes')", source)
    ordered = sorted(sections, key=lambda s: s.era == "icd10")
    versions = tuple(PolicyVersion(s.era, tuple(s.groups)) for s in ordered)
    return Policy(number, title, described_source or source, versions)


_SYSTEM_WORDS = {"hcpcs": "CPT/HCPCS", "icd9dx": "ICD-9", "icd9pcs": "ICD-9 procedure", "icd10cm": "ICD-10"}
_STATUS_WORDS = {"not_covered": "not covered for indications listed in the CPB",
                 "covered_if_criteria_met": "covered if selection criteria are met",
                 "related": "related to the CPB", "covered": "covered"}


def group_header(group: PolicyGroup) -> str:
    """The canonical header of a group, as the parser reads it back."""
    other = "Other " if group.coverage == "related" else ""
    inclusive = "" if group.all_inclusive else " (not all-inclusive)"
    return f"{other}{_SYSTEM_WORDS[group.system]} codes {_STATUS_WORDS[group.coverage]}{inclusive}:"


def format_cpb(policy: Policy) -> str:
    """A policy as bulletin text that ``parse_cpb`` reads back to the same versions."""
    lines = []
    if policy.title:
        lines.append(f"Clinical Policy Bulletin: {policy.title}")
    if policy.id:
        lines.append(f"Number: {policy.id}")
    for version in policy.versions:
        lines += ["", f"CPT Codes / HCPCS Codes / {'ICD-10' if version.era == 'icd10' else 'ICD-9'} Codes"]
        for group in version.groups:
            lines.append(group_header(group))
            for e in group.entries:
                codes = e.start if e.start == e.end else f"{e.start} - {e.end}"
                lines.append(f"{'+ ' if e.add_on else ''}{codes} {e.description}".rstrip())
    return "\n".join(lines) + "\n"
