"""Read the code section of an Aetna-style clinical policy bulletin, as copied from its page.

The section starts at a header such as "CPT Codes / HCPCS Codes / ICD-9 Codes" (its era is the
ICD version it names) and ends where the bulletin moves on (references, background).  A page
copied without that header still has its group headers, and they name their systems: when the
text has no section header at all, the first group header starts the section and its ICD groups
tell its era.

Inside a section: group headers ("CPT codes not covered for indications listed in the CPB:"),
code lines (codes and ranges, then a description), descriptions on lines of their own, notes, and
the same text copied as a "|" table.  Code lines are read as bulletins write them: a bullet, any
common dash or "to"/"through" between a range's ends, commas, semicolons or slashes between codes,
a colon or dash before the description; a code starts with a letter or not, then a digit, or with
the two letters of an ICD-10-CM category (FY2026's QA0.0142).  A line that starts like codes but
cannot be read that way, a group header whose status is unknown, a group with no codes: each is a
PolicyParseError naming its line.  Nothing is skipped silently.

Above the code section, the page's heading gives the bulletin's number, title and source, and on
pages that show them its revision and the date it took effect: "Revision: 12" (as written), "Last
Review: 06/13/2023" (the revision, as 2023-06-13), "Effective: 06/09/1997" (a label alone on a line
takes its date from the next line, as pages laid out in boxes copy).  Dates are written MM/DD/YYYY
(the pages are American), YYYY-MM-DD or "June 9, 1997"; a label with a colon and no readable date is a
PolicyParseError naming the line.

Every line is read in time linear in its length: runs of whitespace are collapsed first, headers
are recognised by string tests, and code lines by one left-to-right scan with anchored patterns
(a backtracking pattern over a whole line once took a minute on one long line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from codeindex.errors import InputError, InvalidCodeError, PolicyParseError
from codeindex.policy.model import (
    COVERED_LISTS,
    DIAGNOSIS_SYSTEMS,
    ERA_NAMES,
    SYSTEM_ERAS,
    Coverage,
    Era,
    ListKind,
    Policy,
    PolicyEntry,
    PolicyGroup,
    PolicyVersion,
    entry_range,
)
from codeindex.systems import icd10cm

_SECTION_PART = re.compile(r"(?:CPT|HCPCS|ICD-9(?:-CM)?|ICD-10(?:-CM|-PCS)?)(?: Procedure)? Codes", re.I)
_SECTION_END = re.compile(
    r"(?:The above policy is based on the following references|"
    r"(?:Background|References|Appendix|Policy History) ?:?$|Copyright\b)", re.I)
# A group header: its systems, then the word "codes"; the status follows (lazy up to the first " codes").
_GROUP = re.compile(r"(?P<other>other )?(?P<systems>(?:cpt|hcpcs|icd-?9|icd-?10)\b[^:]*?) codes?\b", re.I)
_NOT_ALL_INCLUSIVE = re.compile(r" ?[(\[]not all[- ]inclusive[)\]] ?", re.I)
_NO_CODE = re.compile(r"no specific code", re.I)
_COLUMN_HEADS = "code code description"

# Code lines.  Codes are ASCII; a code *start* is looked for in any script (a letter or not, then
# a digit) so that fullwidth digits or a long s are refused, never taken for a description.  Two
# letters then a digit start a code only when an ICD-10-CM category starts with them (FY2026's QA0):
# "GM2 gangliosidosis" and "CD73 deficiency" (E75.0, E83.825) are descriptions.
_CODE_START = re.compile(r"[^\W\d_]?\d")
_LETTERS_START = re.compile(r"([^\W\d_]{2})\d")
_WORDS = re.compile(r"[^\W_]")
_WORD = re.compile(r"[\w.+]+")
_ASCII_CODE = re.compile(r"[A-Za-z]{0,2}[0-9][0-9A-Za-z.+]*")
_LEAD = re.compile(r"\W*")  # bullets, "+", brackets and spaces before the first code
_LEAD_FORMS = re.compile(r"(?:[*\u2022\u00b7\u25e6\u25aa\u25cf\u25cb\u25a0\u25ba\u25b8\u2023\u2043\u2013\u2014-] ?)?"
                         r"(?P<addon>\+ ?)?(?P<open>[(\[] ?)?")
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_RANGE_DASH = re.compile(f" ?[{re.escape(_DASHES)}]+ ?")  # "-", "--", en and em dashes, minus sign, fullwidth
_RANGE_WORD = re.compile(r" (?:to|through|thru) ", re.I)
_LIST_SEP = re.compile(r" ?[,;/] ?")
_CLOSE = re.compile(r" ?[)\]]")
_DESCRIPTION_SEP = f" :{_DASHES}"
# A word between codes that is neither a list separator nor a range's: which was meant is a guess.
_CONNECTOR = re.compile(r"(?:and|or|&|\+|~|\.\.\.?|\u2026) ?", re.I)

_SYSTEM_WORDS = {"hcpcs": "CPT/HCPCS", "icd9dx": "ICD-9", "icd9pcs": "ICD-9 procedure", "icd10cm": "ICD-10"}
_STATUS_WORDS = {"not_covered": "not covered for indications listed in the CPB",
                 "covered_if_criteria_met": "covered if selection criteria are met",
                 "related": "related to the CPB", "covered": "covered"}


def _code_start(text: str, pos: int = 0) -> bool:
    """Whether a code starts at ``pos`` of ``text`` (see the patterns above)."""
    if _CODE_START.match(text, pos):
        return True
    letters = _LETTERS_START.match(text, pos)
    return letters is not None and letters.group(1).upper() in icd10cm.letter_pairs()


class _Unreadable(Exception):
    """A line's problem, raised by the line readers; the parser turns it into a PolicyParseError
    naming the line."""


_SUPPORTS = re.compile(r"\bsupports? medical necessity", re.I)  # an LCD's exhaustive list of diagnoses


def _coverage(other: bool, status: str) -> Coverage | None:
    """The coverage a header's status words give, or None when they are not known."""
    status = status.lower()
    if "not covered" in status or re.search(r"\bdo(?:es)? not support medical necessity", status):
        return "not_covered"
    if "selection criteria" in status or "criteria are met" in status or "support medical necessity" in status:
        return "covered_if_criteria_met"
    if "related" in status or (other and not status.strip()):
        return "related"
    if "covered" in status:
        return "covered"
    return None


def _system(words: str) -> str | None:
    words = words.upper().replace("ICD9", "ICD-9").replace("ICD10", "ICD-10")
    if "ICD-10" in words:
        return None if "PROCEDURE" in words or "PCS" in words else "icd10cm"
    if "ICD-9" in words:
        return "icd9pcs" if "PROCEDURE" in words else "icd9dx"
    return "hcpcs"  # CPT or HCPCS


def _section_era(line: str) -> tuple[bool, Era | None]:
    """Whether a line is a section header, and the one ICD era it names (None: none or both)."""
    if "/" not in line:  # most lines: asked of every line up to three times, so answered cheaply
        return False, None
    parts = [p.strip() for p in line.split("/")]
    if len(parts) < 2 or not all(_SECTION_PART.fullmatch(p) for p in parts):
        return False, None
    eras: set[Era] = {"icd10" if "ICD-10" in p.upper() else "icd9" for p in parts if p.upper().startswith("ICD")}
    return True, eras.pop() if len(eras) == 1 else None


@dataclass
class _Header:
    system: str
    coverage: Coverage
    all_inclusive: bool
    text: str
    kind: ListKind | None = None  # a covered list of diagnoses: exhaustive when it "supports medical necessity"


def _group_header(line: str) -> _Header | None:
    """A group header read from a line, or None when the line is not one; raises _Unreadable for a
    line that is a group header but cannot be read."""
    m = _GROUP.match(line)
    if m is None:
        return None
    tail = line[m.end():]
    all_inclusive = _NOT_ALL_INCLUSIVE.search(tail) is None
    status, _, after = _NOT_ALL_INCLUSIVE.sub(" ", tail).partition(":")
    coverage = _coverage(bool(m["other"]), status)
    if coverage is None:
        known = "; ".join(f"'{w}'" for w in _STATUS_WORDS.values())
        raise _Unreadable(f"a group header whose status is not known (known: {known}; or codes that (do not) "
                          "support medical necessity)")
    if after.strip():
        raise _Unreadable("text after a group header's colon (put the codes on lines of their own)")
    system = _system(m["systems"])
    if system is None:
        raise _Unreadable(f"codes of {m['systems'].strip()!r} are not supported")
    kind: ListKind | None = None
    if system in DIAGNOSIS_SYSTEMS.values() and coverage in COVERED_LISTS:
        kind = "exhaustive" if _SUPPORTS.search(status) else "indicative"
    return _Header(system, coverage, all_inclusive, line.rstrip(":").strip(), kind)


@dataclass
class _CodeLine:
    add_on: bool
    items: list[tuple[str, str, str]]  # (start, end, the item as written)
    description: str


def _word(line: str, pos: int) -> tuple[str, int]:
    """The code-like word at ``pos`` (which holds a code start) and where it ends; raises _Unreadable
    when it is not ASCII letters and digits."""
    m = _WORD.match(line, pos)
    assert m is not None  # pos holds a code start, so a word character
    if not _ASCII_CODE.fullmatch(m.group()):
        raise _Unreadable(f"only ASCII letters and digits are code characters: {m.group()!r}")
    return m.group(), m.end()


def _code_line(line: str) -> _CodeLine | None:
    """A line read as codes, or None when it does not start like codes (a note or a description).

    Raises _Unreadable for a line that starts like codes but cannot be read as them.
    """
    first = _LEAD.match(line).end()  # type: ignore[union-attr]
    if not _code_start(line, first):
        return None
    lead = _LEAD_FORMS.fullmatch(line, 0, first)
    if lead is None:
        raise _Unreadable(f"cannot read {line[:first].strip()!r} before the codes")
    items: list[tuple[str, str, str]] = []
    pos = first
    while True:
        item_start = pos
        start, pos = _word(line, pos)
        end, ranged = start, False
        dash = _RANGE_DASH.match(line, pos)
        joiner = dash or _RANGE_WORD.match(line, pos)
        if joiner and _code_start(line, joiner.end()):
            (end, pos), ranged = _word(line, joiner.end()), True
        elif dash and dash.end() == len(line):
            raise _Unreadable("a range with no end")
        items.append((start, end, line[item_start:pos]))
        items_end = pos
        if dash and not ranged:  # "800.00 - Injuries": the dash comes before the description
            pos = dash.end()
            break
        if (sep := _LIST_SEP.match(line, pos)) is not None:
            pos = sep.end()
            if _code_start(line, pos):
                continue
            break  # "Z86.19, Z86.59, Personal history ...": a separator before the description
        if line.startswith(" ", pos) and _code_start(line, pos + 1):
            pos += 1
            continue
        break
    if lead["open"]:
        if (close := _CLOSE.match(line, pos)) is None:
            raise _Unreadable("an opening bracket before the codes is not closed after them")
        pos = close.end()
    description = line[pos:].lstrip(_DESCRIPTION_SEP)
    if _code_start(description):  # "800.00: 801.0", "(800.00) 801.0", "800.00 - 999.9 - 1000"
        raise _Unreadable(f"{description.split()[0]!r} starts the description like a code: write a comma "
                          "between codes, a dash for a range")
    separated = line[items_end:len(line) - len(description)].strip()  # "800.00: and more" says what it means
    joined = None if separated else _CONNECTOR.match(description)
    if joined is not None and _code_start(description, joined.end()):
        raise _Unreadable(f"{joined.group().strip()!r} between codes: write a comma for a list of codes, "
                         "a dash for a range")
    return _CodeLine(bool(lead["addon"]), items, description)


@dataclass
class _Group:
    header: _Header
    line_no: int
    line: str
    entries: list[PolicyEntry] = field(default_factory=list)
    lines: list[tuple[int, str]] = field(default_factory=list)  # each entry's line (number, text)
    says_no_code: bool = False


@dataclass
class _Section:
    era: Era | None  # None until the section's header or an ICD group header names it
    line_no: int
    line: str
    groups: list[_Group] = field(default_factory=list)


@dataclass
class _Heading:
    title: str | None = None
    number: str | None = None
    source: str | None = None
    revision: str | None = None
    reviewed: str | None = None  # the "Last Review" date: the revision when no "Revision:" line names one
    effective: date | None = None


_NUMBER = re.compile(r"Number: ?(\S+)", re.I)
_TITLE = re.compile(r"Clinical Policy Bulletin: ?(.*)$", re.I)
_SOURCE = re.compile(r"Source: ?(.+)$", re.I)
_REVISION = re.compile(r"Revision(?: Number)? ?: ?(?P<value>\S.*)?$", re.I)
_DATE = r"\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2}|[A-Z][a-z]+\.? \d{1,2}, \d{4}"
_DATE_LABEL = r"Last Review(?:ed)?|Last Revised|Revised|Effective(?: Date)?|Next Review"
# A line of dated labels ("Last Review: 06/13/2023 Effective: 06/09/1997 Next Review: 04/11/2024"), or one
# label alone (its date on the next line); a label with a colon must be followed by a date.
_DATED = re.compile(rf"(?P<label>{_DATE_LABEL})(?: ?(?P<colon>:))?(?: ?(?P<value>{_DATE}))?(?= |$)", re.I)
_DATED_LINE = re.compile(rf"(?:{_DATE_LABEL}) ?(?::|$|{_DATE})", re.I)
_DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%B %d, %Y", "%b %d, %Y", "%b. %d, %Y")


def _date(text: str) -> date | None:
    """A date as a bulletin's heading writes it, or None."""
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None


def _heading(lines: list[str], source: str | None) -> _Heading:
    """What the page says about itself above its code section."""
    heading = _Heading()
    for i, line in enumerate(lines):
        text = " ".join(line.split())
        if _section_era(text)[0]:
            break
        if "|" in text:  # a box of the page copied as a table: "| Last Review | 06/13/2023 |"
            text = _cells(text)
        if heading.source is None and (m := _SOURCE.match(text)):
            heading.source = m.group(1).strip()
        if heading.number is None and (m := _NUMBER.match(text)):
            heading.number = m.group(1)
        if heading.title is None and (m := _TITLE.match(text)):
            heading.title = m.group(1).strip() or next((x.strip() for x in lines[i + 1:] if x.strip()), None)
        if m := _REVISION.match(text):
            if m["value"] is None:
                raise PolicyParseError(i + 1, line, "a revision label with no revision after it", source)
            heading.revision = heading.revision or m["value"]
        elif _DATED_LINE.match(text):
            _dated_labels(heading, text, lines, i, source)
    return heading


def _dated_labels(heading: _Heading, text: str, lines: list[str], i: int, source: str | None) -> None:
    """Read a heading line of dated labels into ``heading`` (the first of each label wins)."""
    for m in _DATED.finditer(text):
        value = m["value"]
        if value is None and m.end() == len(text) and m.start() == 0:  # a label alone: its date is below
            below = next((" ".join(x.split()) for x in lines[i + 1:] if x.strip()), "")
            value = below if _date(below) is not None else None
        day = None if value is None else _date(value)
        if day is None:
            if m["colon"] or value is not None:
                raise PolicyParseError(i + 1, lines[i], f"cannot read the date after {m['label']!r} (write "
                                       "MM/DD/YYYY, YYYY-MM-DD or 'June 9, 1997')", source)
            continue
        label = m["label"].lower()
        if label.startswith("effective"):
            heading.effective = heading.effective or day
        elif not label.startswith("next"):
            heading.reviewed = heading.reviewed or day.isoformat()


def _cells(line: str) -> str:
    """A line as plain text: a table row's non-empty cells joined by a space, whitespace runs as one space."""
    if "|" in line:
        line = " ".join(c for c in line.split("|") if c.strip())
    return " ".join(line.split())


def _is_table_rule(line: str) -> bool:
    return "---" in line and not line.strip("|:- ")


class _Parser:
    """One pass over a bulletin's lines; the state of the section and group being read."""

    def __init__(self, source: str | None, implicit: bool) -> None:
        self.source = source
        self.implicit = implicit  # no section header anywhere: the first group header opens the section
        self.sections: list[_Section] = []
        self.section: _Section | None = None
        self.group: _Group | None = None
        self.pending: list[int] = []  # entries of the group still waiting for a description

    def fail(self, line_no: int | None, line: str | None, problem: str) -> PolicyParseError:
        return PolicyParseError(line_no, line, problem, self.source)

    def close_group(self) -> None:
        group, self.group = self.group, None
        self.pending.clear()
        if group is None:
            return
        if not group.entries and not group.says_no_code:
            raise self.fail(group.line_no, group.line, "a group header with no codes under it (a group the "
                            "bulletin leaves empty says 'No specific code')")

    def close_section(self) -> None:
        self.close_group()
        section, self.section = self.section, None
        if section is None:
            return
        if not section.groups:
            raise self.fail(section.line_no, section.line, "a code section with no group headers")
        if section.era is None:
            raise self.fail(section.line_no, section.line, "cannot tell this code section's ICD era: neither "
                            "its header nor its group headers name ICD-9 or ICD-10 codes")
        if any(s.era == section.era for s in self.sections):
            raise self.fail(section.line_no, section.line, f"a second {section.era} code section")
        self.sections.append(section)

    def open_section(self, line_no: int, raw: str, era: Era | None) -> None:
        self.close_section()
        self.section = _Section(era, line_no, raw)

    def header(self, line_no: int, raw: str, header: _Header) -> None:
        assert self.section is not None
        self.close_group()
        era = SYSTEM_ERAS.get(header.system)
        if era is not None:
            if self.section.era is None:
                self.section.era = era
            elif era != self.section.era:
                raise self.fail(line_no, raw, f"{_SYSTEM_WORDS[header.system]} codes in the "
                                f"{ERA_NAMES[self.section.era]} code section")
        self.group = _Group(header, line_no, raw)
        self.section.groups.append(self.group)

    def codes(self, line_no: int, raw: str, code_line: _CodeLine) -> None:
        group = self.group
        if group is None:
            raise self.fail(line_no, raw, "codes before any group header")
        system = group.header.system
        for start, end, written in code_line.items:
            try:
                code_range = entry_range(start, end, system)
            except InvalidCodeError as exc:
                raise self.fail(line_no, raw, f"cannot read {written.strip()!r} as {system}: {exc.problem}") \
                    from None
            if not code_line.description:
                self.pending.append(len(group.entries))
            group.entries.append(PolicyEntry(code_range, start, end, code_line.description, code_line.add_on))
            group.lines.append((line_no, raw))
        if code_line.description:  # it also describes the codes above that had none
            self.describe(self.pending, code_line.description)

    def describe(self, positions: list[int], description: str) -> None:
        assert self.group is not None
        for i in positions:
            entry = self.group.entries[i]
            self.group.entries[i] = PolicyEntry(entry.range, entry.start, entry.end, description, entry.add_on)
        positions.clear()

    def line(self, line_no: int, raw: str) -> None:
        text = " ".join(raw.split())
        is_section, era = _section_era(text)
        if is_section:
            self.open_section(line_no, raw, era)
            return
        if self.section is None and not self.implicit:
            return
        if self.section is not None and _SECTION_END.match(text):
            self.close_section()
            self.implicit = False  # the header-less section is over; what follows is not codes
            return
        line = _cells(text)
        if not line or _is_table_rule(line) or line.lower() == _COLUMN_HEADS:
            return
        try:
            header = _group_header(line)
        except _Unreadable as exc:
            if self.section is None:  # before a header-less section: prose that mentions codes
                return
            raise self.fail(line_no, raw, str(exc)) from None
        if self.section is None:  # a header-less copy: the first group header opens the section
            if header is None:
                return
            self.open_section(line_no, raw, None)
        if header is not None:
            self.header(line_no, raw, header)
            return
        if _NO_CODE.match(line):
            if self.group is not None:
                self.group.says_no_code = True
            return
        try:
            code_line = _code_line(line)
        except _Unreadable as exc:
            raise self.fail(line_no, raw, str(exc)) from None
        if code_line is not None:
            self.codes(line_no, raw, code_line)
        elif self.pending and _WORDS.search(line):  # a description on a line of its own
            self.describe(self.pending, line.lstrip(_DESCRIPTION_SEP))
        # else: an explanatory note (or a lone ":" or dash)


def parse_cpb(text: str, source: str | None = None) -> Policy:
    """Parse a bulletin page (or just its code sections) into a Policy.

    >>> policy = parse_cpb('''Number: 0198
    ... Last Review: 06/13/2023 Effective: 06/09/1997 Next Review: 04/11/2024
    ... CPT Codes / HCPCS Codes / ICD-9 Codes
    ... CPT codes not covered for indications listed in the CPB:
    ... 97545 Work hardening/conditioning; initial 2 hours
    ... + 97546 each additional hour''')
    >>> policy.id, policy.revision, policy.effective, [str(e.range) for e in policy.versions[0].groups[0].entries]
    ('0198', '2023-06-13', datetime.date(1997, 6, 9), ['97545', '97546'])
    """
    lines = text.removeprefix("\ufeff").splitlines()
    heading = _heading(lines, source)
    implicit = not any(_section_era(" ".join(line.split()))[0] for line in lines)
    parser = _Parser(source, implicit)
    for line_no, raw in enumerate(lines, start=1):
        parser.line(line_no, raw)
    parser.close_section()
    if not parser.sections:
        raise PolicyParseError(None, None, "no code section found (expected a line such as "
                               "'CPT Codes / HCPCS Codes / ICD-9 Codes', or group headers such as "
                               "'CPT codes not covered for indications listed in the CPB:')", source)
    ordered = sorted(parser.sections, key=lambda s: s.era == "icd10")
    versions = tuple(PolicyVersion(s.era, tuple(  # type: ignore[arg-type]  # closed sections have an era
        PolicyGroup(g.header.system, g.header.coverage, g.header.all_inclusive, tuple(g.entries), g.header.text,
                    g.header.kind)
        for g in s.groups)) for s in ordered)
    for section, version in zip(ordered, versions, strict=True):
        if (found := version.contradiction()) is not None:
            (g, e), (og, oe) = found
            (line_no, raw), (other_no, _) = section.groups[g].lines[e], section.groups[og].lines[oe]
            other = section.groups[og]
            raise PolicyParseError(line_no, raw, f"{version.groups[g].entries[e].range} is {version.groups[g].coverage}"
                                   f", but line {other_no} ({other.header.text!r}) holds codes of it as "
                                   f"{other.header.coverage}: one code cannot be both; remove it from one", source)
    return Policy(heading.number, heading.title, heading.source or source, versions,
                  heading.revision or heading.reviewed, heading.effective)


def group_header(group: PolicyGroup) -> str:
    """The canonical header of a group, as the parser reads it back; raises InputError for an exhaustive list
    marked covered, which text writes only as covered if criteria are met (JSON holds it)."""
    other = "Other " if group.coverage == "related" else ""
    inclusive = "" if group.all_inclusive else " (not all-inclusive)"
    status = _STATUS_WORDS[group.coverage]
    if group.reason_codes:
        raise InputError(f"a group of {group.system} codes with its own reason codes: bulletin text has no words for "
                         "them; write the policy as JSON")
    if group.kind == "exhaustive":
        if group.coverage != "covered_if_criteria_met":
            raise InputError(f"an exhaustive list of {group.system} codes marked {group.coverage} would read back "
                             "from bulletin text as covered if selection criteria are met; write the policy as JSON")
        status = "that support medical necessity"
    return f"{other}{_SYSTEM_WORDS[group.system]} codes {status}{inclusive}:"


def format_cpb(policy: Policy) -> str:
    """A policy as bulletin text that ``parse_cpb`` reads back to the same versions; raises InputError for an entry
    whose description bulletin text cannot hold (one that starts like a code: JSON holds it)."""
    lines = []
    if policy.title:
        lines.append(f"Clinical Policy Bulletin: {policy.title}")
    if policy.id:
        lines.append(f"Number: {policy.id}")
    if policy.revision:
        lines.append(f"Revision: {policy.revision}")
    if policy.effective:
        lines.append(f"Effective: {policy.effective.isoformat()}")
    for version in policy.versions:
        lines += ["", f"CPT Codes / HCPCS Codes / {'ICD-10' if version.era == 'icd10' else 'ICD-9'} Codes"]
        for group in version.groups:
            lines.append(group_header(group))
            if not group.entries:
                lines.append("No specific code")
            lines += [_entry_line(e) for e in group.entries]
    return "\n".join(lines) + "\n"


def _entry_line(entry: PolicyEntry) -> str:
    """An entry as a code line that reads back to it: the description after a space, or after a colon when
    a space would let it read otherwise ("to 5 units", "; see below")."""
    codes = entry.start if entry.start == entry.end else f"{entry.start} - {entry.end}"
    for separator in (" ", ": "):
        line = f"{'+ ' if entry.add_on else ''}{codes}{separator}{entry.description}".rstrip()
        try:
            read = _code_line(" ".join(line.split()))
        except _Unreadable:
            continue
        if read is not None and read.description == entry.description and len(read.items) == 1:
            return line
    raise InputError(f"entry {codes}: its description {entry.description!r} would not read back from bulletin "
                     "text (it starts like a code); write the policy as JSON instead")
