"""CMS's National Correct Coding Initiative (NCCI) edit files, read as published and compiled into typed tables.

Why: a claim line can be denied by NCCI before any coverage policy is asked, so the screen needs the three
public-domain NCCI tables as integer-keyed frames (procedure codes as ``codeindex.code`` keys, dates as dates),
with every row traceable to its file and line.  ``load_ncci`` reads them once and caches the compiled tables
as parquet, keyed by the files' checksums.

Where the files come from
-------------------------
https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits (one page per kind:
``.../medicare-ncci-procedure-procedure-ptp-edits``, ``.../medicare-ncci-medically-unlikely-edits``,
``.../medicare-ncci-add-code-edits``), each a zip per quarter.  What we could establish of the layouts
(third-party readers of the real files, cited; CMS's own file-structure PDFs were not in reach):

**PTP** (procedure-to-procedure) files are named ``ccipra-v321r0-f1.txt`` .. ``-f4.txt`` (practitioner) and
``ccioph-...`` (outpatient hospital): version 32.1, revision 0, four parts split by column-1 code range, each
also published as ``.xlsx``.  Tab-delimited text, cp1252 (the AMA notice carries a raw ``®``), CRLF.  A notice
row ("CPT only copyright 20xx American Medical Association ..."), a title row ("Column1/Column2 Edits"), the
header row ``Column 1 | Column 2 | *=in existence prior to 1996 | Effective Date | Deletion Date *=no data |
Modifier 0=not allowed 1=allowed 9=not applicable | PTP Edit Rationale`` and, in the spreadsheet at least,
legend rows below it whose code cells are empty (``*=no data``, ``0=not allowed``, ``1=allowed``,
``9=not applicable``); then one row per edit.  Sources: github.com/andrewallenbruce (R ``data-raw`` scripts
reading ``ccipra-v301r0-f1.xlsx``: header in the 3rd row, data from the 7th); test fixtures "mirroring CMS
format" in public claim checkers; https://www.palmettogba.com/palmetto/rr.nsf/DID/YOA1CXNI0E (columns).
Header rows are therefore found, not counted: notice rows are any rows before the row whose first two cells
are ``Column 1`` and ``Column 2``; rows after it whose first two cells are empty and that hold no bare number
or ``*`` are its continuation (their text is added to the column names).  Files without a rationale column
(older releases) give a null ``rationale``.  A pair can appear more than once with different effective dates (an
edit deleted and later added again): the key of an edit is (setting, column 1, column 2, effective date), and
two edits of one pair in force on the same date (their windows overlap; an indicator-9 edit applies on no date)
fail the load naming both rows, as two add-on edits of one pair do (a public reader of the real files reports
that a pair's windows never overlap there).
The header row is the same in both settings, so a PTP file's setting is told from its name alone.

**MUE** (medically unlikely edits) files are named ``MCR_MUE_PractitionerServices_Eff_10-01-2025.csv``
(also ``OutpatientHospitalServices``, ``DMESupplierServices``; the real names write the effective date
MM-DD-YYYY, we also accept YYYY-MM-DD) and ``.xlsx``.  CSV whose first record is one quoted, multi-line AMA
notice cell, then the header ``HCPCS/CPT Code, Practitioner Services MUE Values, MUE Adjudication Indicator,
MUE Rationale`` (the first cell is written ``"HCPCS/\\nCPT Code"`` in some releases), one row per code.  The
second header cell names the setting, which must agree with the file name.  The indicator cell is the MAI
digit and its text: ``1 Line Edit``, ``2 Date of Service Edit: Policy``, ``3 Date of Service Edit:
Clinical``.  Sources: https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits/medicare-ncci-medically-unlikely-edits
(via public loaders quoting the headers), github.com/andrewallenbruce R scripts (``substr(mai, 1, 1)``).

**AOC** (add-on code) files are named ``AOC_V2025Q4-MCR.txt`` (``AOC_V2025Q4_01-MCR.txt`` for a re-issue)
and ``.xlsx`` (https://www.cms.gov/medicare/coding-billing/national-correct-coding-initiative-ncci-edits/medicare-ncci-add-code-edits;
CMS's page says that since 2022 the text file is fixed-width, described in a file-structure PDF we could not
read, while public loaders read ``AOC_V2025Q4_01-MCR.txt`` as tab-delimited with a header row).  Eight columns (per
https://rwbayer.com/posts/parsing-cms-add-on-code-edit-dates and the R scripts reading
``AOC_V2024Q2-MCR.xlsx``): ``Add-on Code, Primary Code, AOC Edit Type, AOC_DEL_DT, Primary_Code_Del_Dt,
AOC_Edit_Eff_Dt, AOC_Edit_Del_Dt, Special Instruction Notes`` (2025 files add ``(Julian)`` to the date
names); dates are Julian ``YYYYDDD`` (year and day of the year), a type-2 add-on's primary is ``CCCCC``
("contractor defined") or blank.  CMS's Medicaid NCCI Edit Design Manual writes its fixed-width files the same
way ("Julian date format: yyyyddd", "Edits with <blank> Deletion Date values are ACTIVE";
https://1library.net/article/txt-edit-file-applies.q78vvmvz).  **Not established, so read tolerantly here
only**: the exact header text and column order (columns are found by name, spaces, underscores and case
ignored, extra columns ignored), whether the text file is tab-delimited (it is read so, and a file without a
tab-delimited header row fails saying so; beside its ``.xlsx`` twin the spreadsheet is read when fastexcel is
installed) and how an absent date is written (blank, ``*``, ``9999999`` or ``99999999``
all mean none; dates may be ``YYYYDDD`` or ``YYYYMMDD``).  The AOC table's ``deleted`` is the earliest of the
edit's, the add-on code's and the primary code's deletion dates: the edit cannot outlive either code.

Dates and indicators
--------------------
An edit applies to a date of service from its effective date through its deletion date, inclusive: CMS writes
deletion dates as the last day an edit is in force (the last day of a quarter, ``20231231`` for an edit gone
from the January 2024 release), and public claim-edit engines test ``effective <= date <= deletion``.  We
could not read CMS's own sentence on this; it is the most plausible reading, and the screen must treat a
line dated on the deletion date as edited.  ``*`` (PTP) or none (AOC) means not deleted: ``deleted`` is null.
PTP modifier indicator: 0 no modifier lets both codes be paid; 1 a PTP-associated modifier (59, XE, XS, XP,
XU, anatomic modifiers) may; 9 not applicable (the edit was deleted, retroactively to its effective date).
MUE: the ``limit`` is the most units of the code one provider reports for one beneficiary on one date; MAI 1
is checked per claim line, 2 and 3 per date of service (2 an absolute policy limit, 3 a clinical one that
may be appealed).  An MUE file applies from the effective date in its name until the next loaded quarter's
for the same setting (``until``, exclusive; null for the newest).

Reading rules
-------------
A file's kind and setting come from its name and are confirmed by its header row.  Text is UTF-8 (a BOM is
dropped) or else cp1252 (latin-1 for bytes cp1252 leaves undefined); CRLF or LF.  Every row after the header
is read or the load fails with one line naming the file, its line (text) or row (spreadsheet) and what is
wrong; blank rows carry nothing and are passed over.  In a spreadsheet a number cell ``20200101.0`` reads as
``20200101``, a date cell as ``YYYYMMDD``, and a numeric code cell shorter than five digits is zero-padded
(``100`` -> ``00100``).  The same key twice with different values in one release, or two edits of one pair in
force on one date, is an error naming both rows; exact duplicates (across the four PTP parts, say) are kept
once.  One PTP release per setting and one AOC release are read (each is
cumulative: deleted edits stay in it with their dates); MUE files may span quarters.

In a directory, files are read recursively in sorted order.  A file that is none of the three kinds fails the
load, naming it, unless it is a CMS companion document or system litter: ``.pdf``, ``.doc(x)``, ``.rtf``,
``.htm(l)`` (CMS's zips carry their file-structure and read-me documents as such), ``.DS_Store``,
``Thumbs.db``, ``desktop.ini``, ``~$`` lock files and ``._`` AppleDouble files.  The zips publish each table
twice (text and ``.xlsx``); when both are present one is read (the text one; for the add-on code file the
spreadsheet, when fastexcel is installed) and the other is listed in ``skipped`` with the reason.  Files of
the same content are read once.

The cache
---------
``<cache_dir>/ncci/<fingerprint>/`` (``cache_dir`` defaults to ``$CODEINDEX_CACHE`` or ``~/.cache/codeindex``)
holds ``ptp.parquet``, ``mue.parquet``, ``aoc.parquet`` and ``manifest.json``, written last; the fingerprint is
a sha256 over the table format version and the read files' names and sha256 checksums.  A second load of the
same files hashes them and reads the parquet, never parsing the text again; an entry whose manifest is
missing or does not match its tables is rebuilt; an unwritable cache directory means no cache, not an error.
Each quarter's files make a new entry of tens of MB, so the cache is bounded: a load marks the entry it reads
or writes as used (its manifest's modification time), and a load that writes an entry then removes the entries
beyond the ``CACHE_ENTRIES`` most recently used.  Only whole entries are removed (named by a fingerprint; the
temporary directories of writes under way have other names), never the one just written, and an error while
removing is passed over: the cache never fails a load.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

import polars as pl

from codeindex.errors import InvalidCodeError, NcciFileError, first_line
from codeindex.files import scan_parquet_files
from codeindex.systems import parse_code

FORMAT_VERSION = 1  # of the compiled tables: a change of schema or of reading rules bumps it (new cache entries)
# Cache entries kept, the most recently used: a year of quarterly releases, so moving between this quarter's files
# and the last few never compiles them again, and the cache holds at most four entries of tens of MB each.
CACHE_ENTRIES = 4

PTP_SETTINGS = ("practitioner", "outpatient_hospital")
MUE_SETTINGS = ("practitioner", "outpatient_hospital", "dme")
KINDS = ("ptp", "mue", "aoc")

_Schema = dict[str, pl.DataType | type[pl.DataType]]

PTP: _Schema = {  # one procedure-to-procedure edit: column 2 is not paid with column 1 (one beneficiary, date)
    "column1": pl.Int64,  # the column 1 code's key (codeindex.code: Code.lo), the code that stays payable
    "column2": pl.Int64,  # the column 2 code's key, the code the edit denies
    "code1": pl.String,  # column 1 as text (short form, "97530")
    "code2": pl.String,  # column 2 as text
    "setting": pl.Enum(list(PTP_SETTINGS)),  # ccipra files: practitioner; ccioph: outpatient hospital
    "effective": pl.Date,  # the first date of service the edit applies to
    "deleted": pl.Date,  # the last date of service it applies to (inclusive); null: in force ("*" in the file)
    "modifier": pl.UInt8,  # 0 no modifier bypasses it, 1 a PTP-associated modifier may, 9 not applicable
    "rationale": pl.Categorical(),  # the PTP edit rationale as written (null when the file has none)
    "source": pl.Categorical(),  # the file's name
    "line": pl.UInt32,  # its line (text) or row (spreadsheet) in that file, 1-based
}

MUE: _Schema = {  # one medically unlikely edit: the most units of a code on one date for one beneficiary
    "code": pl.Int64,  # the code's key
    "code_text": pl.String,  # the code as text
    "setting": pl.Enum(list(MUE_SETTINGS)),  # practitioner, outpatient hospital or DME supplier services
    "limit": pl.UInt32,  # the MUE value: most units of service (0: the code is not payable in the setting)
    "indicator": pl.UInt8,  # MAI: 1 line edit, 2 date-of-service edit (policy), 3 date-of-service edit (clinical)
    "rationale": pl.Categorical(),  # the MUE rationale as written
    "effective": pl.Date,  # the file's effective date (from its name)
    "until": pl.Date,  # the next loaded quarter's effective date for the setting (exclusive); null: the newest
    "source": pl.Categorical(),  # the file's name
    "line": pl.UInt32,  # its line (text) or row (spreadsheet), 1-based
}

AOC: _Schema = {  # one add-on code edit: the add-on is paid only with a primary (type 1: a listed one)
    "add_on": pl.Int64,  # the add-on code's key
    "add_on_code": pl.String,
    "primary": pl.Int64,  # the primary code's key; null for type 2 (no primaries listed: contractor defined)
    "primary_code": pl.String,
    "type": pl.UInt8,  # 1 only the listed primaries; 2 none listed; 3 some listed, contractors may add others
    "effective": pl.Date,  # the edit's effective date
    "deleted": pl.Date,  # the earliest of the edit's, the add-on's and the primary's deletion dates; null: none
    "source": pl.Categorical(),  # the file's name
    "line": pl.UInt32,  # its line (text) or row (spreadsheet), 1-based
}

SCHEMAS: dict[str, _Schema] = {"ptp": PTP, "mue": MUE, "aoc": AOC}



def _schema(kind: str) -> pl.Schema:
    """A table's schema with every type fully specified (as ``DataFrame.cast`` takes it)."""
    return pl.Schema({c: t() if isinstance(t, type) else t for c, t in SCHEMAS[kind].items()})


_PTP_NAME = re.compile(r"cci(pra|oph)-v(\d+)r(\d+)-f(\d+)\.(txt|xlsx)", re.IGNORECASE)
_MUE_NAME = re.compile(r"MCR_MUE_(PractitionerServices|OutpatientHospitalServices|DMESupplierServices)_Eff_"
                       r"(\d{2}-\d{2}-\d{4}|\d{4}-\d{2}-\d{2})\.(csv|xlsx)", re.IGNORECASE)
_AOC_NAME = re.compile(r"AOC_V(\d{4})Q([1-4])(_\d+)?(?:-MCR)?\.(txt|xlsx)", re.IGNORECASE)
_PTP_SETTING = {"pra": "practitioner", "oph": "outpatient_hospital"}
_MUE_SETTING = {"practitionerservices": "practitioner", "outpatienthospitalservices": "outpatient_hospital",
                "dmesupplierservices": "dme"}
_MUE_HEADER_SETTING = {"practitioner services": "practitioner",
                       "outpatient hospital services": "outpatient_hospital", "dme supplier services": "dme"}
_COMPANION_SUFFIXES = {".pdf", ".doc", ".docx", ".rtf", ".htm", ".html"}
_LITTER = {".ds_store", "thumbs.db", "desktop.ini"}
_HEADER_SCAN = 100  # rows searched for the header row
_MAI = {"1": "1", "1 line edit": "1", "2": "2", "2 date of service edit: policy": "2",
        "3": "3", "3 date of service edit: clinical": "3"}
_NO_DATE = ("", "*", "9999999", "99999999")


class NcciFile(NamedTuple):
    """One file read: its name, sha256, kind (ptp, mue, aoc), setting (null for aoc) and rows."""

    name: str
    sha256: str
    kind: str
    setting: str | None
    rows: int


@dataclass(frozen=True, eq=False)
class NcciTables:
    """The compiled NCCI tables (schemas ``PTP``, ``MUE``, ``AOC``), the files they came from, and the
    fingerprint their cache entry is kept under.  ``skipped`` names the files passed over and why."""

    ptp: pl.DataFrame
    mue: pl.DataFrame
    aoc: pl.DataFrame
    files: tuple[NcciFile, ...]
    fingerprint: str
    skipped: tuple[tuple[str, str], ...] = ()
    from_cache: bool = field(default=False, compare=False)

    def table(self, kind: str) -> pl.DataFrame:
        return {"ptp": self.ptp, "mue": self.mue, "aoc": self.aoc}[kind]

    def is_empty(self, kind: str) -> bool:
        """True when no file of ``kind`` (ptp, mue, aoc) was loaded (or it had no rows)."""
        return self.table(kind).is_empty()

    def same_tables(self, other: NcciTables) -> bool:
        """The same rows in the three tables, and the same files."""
        return self.files == other.files and all(self.table(k).equals(other.table(k)) for k in KINDS)


@dataclass(frozen=True)
class _Spec:
    path: Path
    kind: str
    setting: str | None
    release: str  # ptp: "v321r0"; mue: the effective date; aoc: "2025Q4"
    part: int  # ptp: the part number; 0 otherwise
    fmt: str  # txt, csv or xlsx
    effective: date | None  # mue only

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def table_key(self) -> tuple[str, str | None, str, int]:
        return (self.kind, self.setting, self.release, self.part)


# ---------------------------------------------------------------------------------------------- files

def _classify(path: Path) -> _Spec | None:
    """The kind of a file from its name; None when it is none of the three."""
    name = path.name
    if m := _PTP_NAME.fullmatch(name):
        return _Spec(path, "ptp", _PTP_SETTING[m.group(1).lower()], f"v{m.group(2)}r{m.group(3)}",
                     int(m.group(4)), m.group(5).lower(), None)
    if m := _MUE_NAME.fullmatch(name):
        text = m.group(2)
        try:
            day = (date.fromisoformat(text) if text[4] == "-" else
                   date(int(text[6:]), int(text[:2]), int(text[3:5])))
        except ValueError:
            raise NcciFileError(name, None, f"the effective date {text!r} in the name is not a date") from None
        return _Spec(path, "mue", _MUE_SETTING[m.group(1).lower()], day.isoformat(), 0, m.group(3).lower(), day)
    if m := _AOC_NAME.fullmatch(name):
        return _Spec(path, "aoc", None, f"{m.group(1)}Q{m.group(2)}{m.group(3) or ''}", 0, m.group(4).lower(), None)
    return None


def _is_companion(path: Path) -> bool:
    name = path.name.lower()
    return (path.suffix.lower() in _COMPANION_SUFFIXES or name in _LITTER or name.startswith(("~$", "._")))


def _gather(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
            ) -> tuple[list[_Spec], list[tuple[str, str]]]:
    """The files to read, and the ones passed over with the reason."""
    roots = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    specs: list[_Spec] = []
    skipped: list[tuple[str, str]] = []
    for root in map(Path, roots):
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                spec = _classify(path)
                if spec is not None:
                    specs.append(spec)
                elif _is_companion(path):
                    skipped.append((str(path.relative_to(root)), "a CMS companion document or system file"))
                else:
                    raise NcciFileError(str(path), None, "not an NCCI PTP (ccipra-/ccioph-vNNNrN-fN.txt), MUE "
                                        "(MCR_MUE_<Setting>Services_Eff_MM-DD-YYYY.csv) or add-on code "
                                        "(AOC_VyyyyQn-MCR.txt) file by its name")
        elif root.is_file():
            spec = _classify(root)
            if spec is None:
                raise NcciFileError(str(root), None, "not an NCCI PTP, MUE or add-on code file by its name")
            specs.append(spec)
        else:
            raise NcciFileError(str(root), None, "no such file or directory")
    # Each table is published as text and as .xlsx: when both are here, read the text one, except for the
    # add-on code file, whose text layout is the less certain (read the .xlsx when fastexcel is installed).
    by_table: dict[tuple[str, str | None, str, int], list[_Spec]] = {}
    for spec in specs:
        by_table.setdefault(spec.table_key, []).append(spec)
    chosen: list[_Spec] = []
    for group in by_table.values():
        prefer_xlsx = group[0].kind == "aoc" and importlib.util.find_spec("fastexcel") is not None
        preferred = [s for s in group if (s.fmt == "xlsx") == prefer_xlsx] or group
        skipped += [(str(s.path), f"the same table as {preferred[0].name}") for s in group if s not in preferred]
        chosen += preferred
    chosen.sort(key=lambda s: str(s.path))
    for kind, label in (("ptp", "PTP"), ("aoc", "add-on code")):
        releases: dict[str | None, _Spec] = {}
        for spec in (s for s in chosen if s.kind == kind):
            other = releases.setdefault(spec.setting, spec)
            if other.release != spec.release:
                where = f" for {spec.setting}" if spec.setting else ""
                raise NcciFileError(spec.name, None, f"a second {label} release{where} ({spec.release}; "
                                    f"{other.name} is {other.release}): each release is cumulative, load one")
    return chosen, skipped


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


_FINGERPRINT = re.compile(r"[0-9a-f]{64}")  # a cache entry's name: sha256, in hex


def _fingerprint(hashed: list[tuple[_Spec, str]]) -> str:
    payload = json.dumps({"format": FORMAT_VERSION, "files": sorted((s.name, h) for s, h in hashed)})
    return hashlib.sha256(payload.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------- rows

@dataclass
class _Rows:
    """A file's header (column names, continuation rows folded in) and its data rows as cells."""

    header: list[str]
    data: pl.DataFrame  # line UInt32, text String (the row as written, for messages), cells List(String)
    unit: str  # "line" or "row"


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def _norm(cell: str | None) -> str:
    return " ".join((cell or "").split()).lower()


def _alnum(cell: str | None) -> str:
    return re.sub(r"[^0-9a-z]", "", (cell or "").lower())


def _is_header(kind: str, cells: Sequence[str | None]) -> bool:
    first = [_norm(c) for c in cells[:2]] + ["", ""]
    if kind == "ptp":
        return first[0] in ("column 1", "column1") and first[1] in ("column 2", "column2")
    if kind == "mue":
        return _alnum(first[0]) in ("hcpcscptcode", "hcpcscode", "cpthcpcscode") and "mue" in first[1]
    return any(_alnum(c) == "addoncode" for c in cells)


def _find_header(spec: _Spec, rows: list[list[str | None]], unit: str,
                 alternative: Callable[[], list[list[str | None]]] | None = None) -> int:
    """The index of the header row among the first rows; fails naming the file when it is not there or is
    another kind's."""
    for i, cells in enumerate(rows):
        if _is_header(spec.kind, cells):
            return i
    # another kind's header, in this file's delimiter or the other's (a CSV file named as a text one, say)
    resplit = [c[0].split("\t" if "\t" in (c[0] or "") else ",") if len(c) == 1 and c[0] else c for c in rows]
    for other in KINDS:
        candidates = rows + resplit + (alternative() if alternative else [])
        if other != spec.kind and any(_is_header(other, cells) for cells in candidates):
            raise NcciFileError(spec.name, None, f"named as a {spec.kind.upper()} file but its header row is a "
                                f"{other.upper()} file's")
    expected = {"ptp": "'Column 1', 'Column 2', ...", "mue": "'HCPCS/CPT Code', '<Setting> Services MUE Values', ...",
                "aoc": "tab-delimited 'Add-on Code', 'Primary Code', ...; for a fixed-width file load its .xlsx"
                }[spec.kind]
    raise NcciFileError(spec.name, None, f"no header row ({expected}) in its first {len(rows)} {unit}s")


def _fold_header(rows: list[list[str | None]], at: int) -> tuple[list[str], int]:
    """The header's column names with its continuation rows (first two cells empty) folded in, and the index
    of the first row after them."""
    header = [c or "" for c in rows[at]]
    end = at + 1
    while end < len(rows):
        cells = rows[end]
        if not any((c or "").strip() for c in cells):
            end += 1
            continue
        # a legend row ("*=no data", "0=not allowed"): code cells empty, no cell a bare number or "*" as data has
        if any((c or "").strip() for c in cells[:2]) or any(re.fullmatch(r"\s*(\d+|\*)\s*", c or "")
                                                             for c in cells):
            break
        for i, cell in enumerate(cells):
            if cell and cell.strip():
                header += [""] * (i + 1 - len(header))
                header[i] = f"{header[i]} {cell}".strip()
        end += 1
    return header, end


def _read_txt(spec: _Spec, data: bytes) -> _Rows:
    text = _decode(data)
    head = [line.rstrip("\r").split("\t") for line in text.split("\n", _HEADER_SCAN)[:_HEADER_SCAN]]

    def as_csv() -> list[list[str | None]]:
        try:
            return [list(r) for r in csv.reader(io.StringIO("\n".join(text.split("\n", _HEADER_SCAN)[:-1])))]
        except csv.Error:
            return []

    at = _find_header(spec, [list(c) for c in head], "line", as_csv)
    if len(head[at]) < 2:
        raise NcciFileError(spec.name, at + 1, "the header row is not tab-delimited", "\t".join(head[at]))
    header, start = _fold_header([list(c) for c in head], at)
    lines = (pl.Series("text", [text]).str.split("\n").explode().to_frame()
             .with_row_index("line", offset=1).slice(start)
             .with_columns(pl.col("line").cast(pl.UInt32), pl.col("text").str.strip_suffix("\r")))
    lines = lines.filter(pl.col("text").str.contains(r"[^\t ]"))
    return _Rows(header, lines.with_columns(cells=pl.col("text").str.split("\t")), "line")


def _cells_frame(rows: list[tuple[int, list[str]]]) -> pl.DataFrame:
    return pl.DataFrame({"line": [n for n, _ in rows], "text": ["\t".join(c) for _, c in rows],
                         "cells": [c for _, c in rows]},
                        schema={"line": pl.UInt32, "text": pl.String, "cells": pl.List(pl.String)})


def _read_csv(spec: _Spec, data: bytes) -> _Rows:
    reader = csv.reader(io.StringIO(_decode(data), newline=""))
    records: list[tuple[int, list[str]]] = []
    previous = 0
    try:
        for cells in reader:
            records.append((previous + 1, cells))  # a record starts on the line after the last one ended
            previous = reader.line_num
    except csv.Error as exc:
        raise NcciFileError(spec.name, previous + 1, f"not readable as CSV: {first_line(exc)}") from None
    head = [list[str | None](c) for _, c in records[:_HEADER_SCAN]]
    at = _find_header(spec, head, "record")
    header, start = _fold_header(head, at)
    body = [(n, c) for n, c in records[start:] if any(x.strip() for x in c)]
    return _Rows(header, _cells_frame(body), "line")


def _read_xlsx(spec: _Spec, path: Path) -> _Rows:
    if importlib.util.find_spec("fastexcel") is None:
        raise NcciFileError(spec.name, None, "reading .xlsx needs the fastexcel package: pip install fastexcel")
    try:
        sheet = pl.read_excel(path, engine="calamine", has_header=False, infer_schema_length=0,
                              drop_empty_rows=False, drop_empty_cols=False, read_options={"skip_rows": 0})
    except Exception as exc:  # fastexcel raises its own types
        raise NcciFileError(spec.name, None, f"not readable as a spreadsheet: {first_line(exc)}") from None
    # number cells read as "20200101.0", date cells as "2020-01-01 00:00:00": back to the text CMS writes
    sheet = sheet.select(pl.all().cast(pl.String).str.replace(r"^(\d+)\.0$", "${1}")
                         .str.replace(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00:00(?:\.0+)?)?$", "${1}${2}${3}"))
    rows: list[list[str | None]] = [list(r) for r in sheet.iter_rows()]
    at = _find_header(spec, rows[:_HEADER_SCAN], "row")
    header, start = _fold_header(rows, at)
    body = [(i + 1, [c or "" for c in cells]) for i, cells in enumerate(rows[start:], start)
            if any((c or "").strip() for c in cells)]
    return _Rows(header, _cells_frame(body), "row")


# ---------------------------------------------------------------------------------------------- checks

class _Check:
    """Vectorized row checks: the first failing row raises, naming the file and its line."""

    def __init__(self, spec: _Spec, rows: _Rows) -> None:
        self.spec = spec
        self.unit = rows.unit

    def fail(self, frame: pl.DataFrame, bad: pl.Expr, problem: pl.Expr | str) -> None:
        hit = frame.filter(bad).head(1)
        if hit.height:
            expr = pl.lit(problem) if isinstance(problem, str) else problem
            row = hit.select(pl.col("line"), pl.col("text"), expr.alias("problem")).row(0)
            raise NcciFileError(self.spec.name, int(row[0]), str(row[2]), row[1], self.unit)


def _columns(spec: _Spec, header: list[str], wanted: dict[str, tuple[str, ...]],
             optional: frozenset[str] = frozenset()) -> dict[str, int]:
    """Each wanted field's column, found by the words its header cell is, or else starts with (alphanumerics
    only: "Primary Code" is not taken for "Primary Code Del Dt")."""
    names = [_alnum(h) for h in header]
    found: dict[str, int] = {}
    for key, prefixes in wanted.items():
        at = next((i for i, n in enumerate(names) if n in prefixes), None)
        if at is None:
            at = next((i for i, n in enumerate(names) if n.startswith(prefixes)), None)
        if at is None:
            if key in optional:
                continue
            raise NcciFileError(spec.name, None, f"its header row has no {key!r} column (found: "
                                f"{', '.join(repr(h) for h in header if h)})")
        found[key] = at
    return found


def _cells(rows: _Rows, columns: dict[str, int], pad_codes: Sequence[str] = ()) -> pl.DataFrame:
    """The rows with one String column per field, trimmed; ``n`` the number of cells the row has."""
    cells = pl.col("cells")
    frame = rows.data.with_columns(
        n=cells.list.len(), **{k: cells.list.get(i, null_on_oob=True).str.strip_chars() for k, i in columns.items()})
    if rows.unit == "row":  # a numeric code cell loses its leading zeros in a spreadsheet
        frame = frame.with_columns(pl.when(pl.col(c).str.contains(r"^\d{1,4}$")).then(pl.col(c).str.zfill(5))
                                   .otherwise(pl.col(c)).alias(c) for c in pad_codes)
    return frame


def _width(check: _Check, frame: pl.DataFrame, header: list[str], needed: int) -> None:
    """Every row has the columns read; cells beyond the header's are empty."""
    check.fail(frame, pl.col("n") < needed,
               pl.format("has {} fields where the header row has " + str(needed), pl.col("n")))
    width = len(header)
    extra = pl.col("cells").list.slice(width).list.join("").str.strip_chars()
    check.fail(frame, extra.fill_null("") != "", f"has more fields than the {width} of the header row")


def _codes(check: _Check, frame: pl.DataFrame, fields: dict[str, str], nullable: Sequence[str] = ()
           ) -> pl.DataFrame:
    """Each field's code text parsed: ``<field>_key`` (Int64) and ``<field>_code`` (short text)."""
    texts = pl.concat([frame.get_column(f).rename("text") for f in fields]).drop_nulls().unique()
    keys: list[int | None] = []
    shorts: list[str | None] = []
    errors: list[str | None] = []
    for text in texts.to_list():
        try:
            code = parse_code(text, "hcpcs")
            keys.append(code.lo)
            shorts.append(code.short)
            errors.append(None)
        except InvalidCodeError as exc:
            keys.append(None)
            shorts.append(None)
            errors.append(exc.problem)
    table = pl.DataFrame({"text": texts.to_list(), "key": keys, "short": shorts, "error": errors},
                         schema={"text": pl.String, "key": pl.Int64, "short": pl.String, "error": pl.String})
    for name, label in fields.items():
        frame = frame.join(table.rename({"key": f"{name}_key", "short": f"{name}_code", "error": f"{name}_error"}),
                           left_on=name, right_on="text", how="left", maintain_order="left")
        if name not in nullable:
            check.fail(frame, pl.col(name).fill_null("") == "", f"no {label}")
        check.fail(frame, pl.col(f"{name}_error").is_not_null(),
                   pl.format(f"{label} {{}} is not a HCPCS/CPT code: {{}}",
                             pl.concat_str(pl.lit("'"), pl.col(name), pl.lit("'")), pl.col(f"{name}_error")))
    return frame


def _ymd(check: _Check, frame: pl.DataFrame, name: str, label: str, none: Sequence[str] = ()) -> pl.Expr:
    """Check a YYYYMMDD date column (``none``: the texts that mean no date) and return its Date expression."""
    col = pl.col(name).fill_null("")
    parsed = col.str.to_date("%Y%m%d", strict=False)
    ok = col.is_in(list(none)) | (col.str.contains(r"^\d{8}$") & parsed.is_not_null())
    shown = pl.concat_str(pl.lit("'"), col, pl.lit("'"))
    check.fail(frame, ~ok, pl.format(f"{label} {{}} is not a date (YYYYMMDD{', or *' if '*' in none else ''})",
                                     shown))
    return pl.when(col.is_in(list(none))).then(None).otherwise(parsed)


def _any_date(check: _Check, frame: pl.DataFrame, name: str, label: str) -> pl.Expr:
    """An add-on code file's date: Julian YYYYDDD or YYYYMMDD; blank, *, 9999999 or 99999999 for none."""
    col = pl.col(name).fill_null("")
    year = col.str.slice(0, 4).cast(pl.Int32, strict=False)
    day = col.str.slice(4, 3).cast(pl.Int32, strict=False)
    julian = (pl.when(col.str.contains(r"^\d{7}$") & day.is_between(1, 366))
              .then(pl.date(year, 1, 1) + pl.duration(days=day - 1)))
    julian = pl.when(julian.dt.year() == year).then(julian)
    ymd = pl.when(col.str.contains(r"^\d{8}$")).then(col.str.to_date("%Y%m%d", strict=False))
    value = pl.coalesce(julian, ymd)
    none = col.is_in(list(_NO_DATE))
    check.fail(frame, ~none & value.is_null(), pl.format(f"{label} {{}} is not a date (YYYYDDD or YYYYMMDD)",
                                                         pl.concat_str(pl.lit("'"), col, pl.lit("'"))))
    return pl.when(none).then(None).otherwise(value)


def _in(check: _Check, frame: pl.DataFrame, name: str, allowed: Sequence[str], problem: str) -> None:
    check.fail(frame, ~pl.col(name).fill_null("").is_in(list(allowed)),
               pl.format(problem, pl.concat_str(pl.lit("'"), pl.col(name).fill_null(""), pl.lit("'"))))


# ---------------------------------------------------------------------------------------------- kinds

def _ptp(spec: _Spec, rows: _Rows) -> pl.DataFrame:
    check = _Check(spec, rows)
    columns = _columns(spec, rows.header, {"column1": ("column1",), "column2": ("column2",),
                                           "prior": ("inexistence", "existence"), "effective": ("effective",),
                                           "deletion": ("deletion",), "modifier": ("modifier",),
                                           "rationale": ("ptpeditrationale", "rationale")},
                       optional=frozenset({"rationale"}))
    frame = _cells(rows, columns, ("column1", "column2"))
    _width(check, frame, rows.header, max(columns.values()) + 1)
    frame = _codes(check, frame, {"column1": "column 1", "column2": "column 2"})
    _in(check, frame, "prior", ("", "*"), "the in-existence-before-1996 mark {} is neither * nor empty")
    effective = _ymd(check, frame, "effective", "effective date")
    deleted = _ymd(check, frame, "deletion", "deletion date", none=("*",))
    _in(check, frame, "modifier", ("0", "1", "9"), "unknown modifier indicator {} (0, 1 or 9)")
    rationale = pl.col("rationale") if "rationale" in columns else pl.lit(None, pl.String)
    return frame.select(column1="column1_key", column2="column2_key", code1="column1_code", code2="column2_code",
                        setting=pl.lit(spec.setting), effective=effective, deleted=deleted,
                        modifier=pl.col("modifier").cast(pl.UInt8),
                        rationale=pl.when(rationale != "").then(rationale),
                        source=pl.lit(spec.name), line="line")


def _mue(spec: _Spec, rows: _Rows) -> pl.DataFrame:
    check = _Check(spec, rows)
    told = _norm(rows.header[1]) if len(rows.header) > 1 else ""
    setting = next((s for words, s in _MUE_HEADER_SETTING.items() if told.startswith(words)), None)
    if setting is None:
        raise NcciFileError(spec.name, None, f"its header row does not tell the setting ({rows.header[1]!r}: "
                            "expected 'Practitioner|Outpatient Hospital|DME Supplier Services MUE Values')")
    if setting != spec.setting:
        raise NcciFileError(spec.name, None, f"named as a {spec.setting} MUE file but its header row says "
                            f"{rows.header[1]!r}")
    columns = _columns(spec, rows.header, {"code": ("hcpcs", "cpthcpcs"), "limit": (_alnum(rows.header[1]),),
                                           "indicator": ("mueadjudicationindicator",), "rationale": ("muerationale",)})
    frame = _cells(rows, columns, ("code",))
    _width(check, frame, rows.header, max(columns.values()) + 1)
    frame = _codes(check, frame, {"code": "HCPCS/CPT code"})
    limit = pl.col("limit").fill_null("")
    check.fail(frame, ~limit.str.contains(r"^\d{1,9}$"),
               pl.format("MUE value {} is not a whole number of units", pl.concat_str(pl.lit("'"), limit, pl.lit("'"))))
    mai = pl.col("indicator").fill_null("").str.replace_all(r"\s+", " ").str.to_lowercase()
    check.fail(frame, ~mai.is_in(list(_MAI)),
               pl.format("unknown MUE adjudication indicator {} (1 Line Edit, 2 Date of Service Edit: Policy, "
                         "3 Date of Service Edit: Clinical)",
                         pl.concat_str(pl.lit("'"), pl.col("indicator").fill_null(""), pl.lit("'"))))
    rationale = pl.col("rationale")
    return frame.select(code="code_key", code_text="code_code", setting=pl.lit(spec.setting),
                        limit=limit.cast(pl.UInt32), indicator=mai.replace_strict(_MAI).cast(pl.UInt8),
                        rationale=pl.when(rationale != "").then(rationale), effective=pl.lit(spec.effective),
                        until=pl.lit(None, pl.Date), source=pl.lit(spec.name), line="line")


def _aoc(spec: _Spec, rows: _Rows) -> pl.DataFrame:
    check = _Check(spec, rows)
    columns = _columns(spec, rows.header, {
        "add_on": ("addoncode",), "primary": ("primarycode",), "type": ("aocedittype",),
        "add_on_deleted": ("aocdeldt",), "primary_deleted": ("primarycodedeldt",),
        "effective": ("aocediteffdt",), "edit_deleted": ("aoceditdeldt",)})
    frame = _cells(rows, columns, ("add_on", "primary"))
    _width(check, frame, rows.header, max(columns.values()) + 1)
    frame = frame.with_columns(pl.when(pl.col("primary").str.to_uppercase().is_in(["", "CCCCC"])).then(None)
                               .otherwise(pl.col("primary")).alias("primary"))
    frame = _codes(check, frame, {"add_on": "add-on code", "primary": "primary code"}, nullable=("primary",))
    _in(check, frame, "type", ("1", "2", "3"), "unknown AOC edit type {} (1, 2 or 3)")
    check.fail(frame, (pl.col("type") == "2") & pl.col("primary").is_not_null(),
               "a type 2 add-on code edit lists a primary code (type 2 lists none)")
    check.fail(frame, (pl.col("type") != "2") & pl.col("primary").is_null(),
               pl.format("a type {} add-on code edit lists no primary code", pl.col("type")))
    effective = _any_date(check, frame, "effective", "edit effective date")
    check.fail(frame, effective.is_null(), "no edit effective date")
    deleted = pl.min_horizontal(_any_date(check, frame, "add_on_deleted", "add-on code deletion date"),
                                _any_date(check, frame, "primary_deleted", "primary code deletion date"),
                                _any_date(check, frame, "edit_deleted", "edit deletion date"))
    return frame.select(add_on="add_on_key", add_on_code="add_on_code", primary="primary_key",
                        primary_code="primary_code", type=pl.col("type").cast(pl.UInt8), effective=effective,
                        deleted=deleted, source=pl.lit(spec.name), line="line")


_BUILD = {"ptp": _ptp, "mue": _mue, "aoc": _aoc}
_KEYS = {"ptp": ["setting", "column1", "column2", "effective"], "mue": ["setting", "effective", "code"],
         "aoc": ["add_on", "primary", "effective"]}
_SORT = {"ptp": ["setting", "column1", "column2", "effective"], "mue": ["setting", "code", "effective"],
         "aoc": ["add_on", "primary", "effective"]}


def _read(spec: _Spec, data: bytes) -> pl.DataFrame:
    """One file's rows in its kind's schema (``until`` still null)."""
    rows = (_read_xlsx(spec, spec.path) if spec.fmt == "xlsx" else
            _read_csv(spec, data) if spec.fmt == "csv" else _read_txt(spec, data))
    return _BUILD[spec.kind](spec, rows).cast(_schema(spec.kind))


def _where(row: dict[str, object]) -> str:
    unit = "row" if str(row["source"]).lower().endswith(".xlsx") else "line"
    return f"{row['source']} {unit} {row['line']}"


def _what(kind: str, row: dict[str, object]) -> str:
    if kind == "ptp":
        return f"the edit {row['code1']}/{row['code2']}"
    if kind == "mue":
        return f"the MUE of {row['code_text']}"
    return f"the add-on edit {row['add_on_code']} with {row['primary_code'] or 'no primary'}"


def _clash(kind: str, a: dict[str, object], b: dict[str, object], why: str) -> NcciFileError:
    unit = "row" if str(b["source"]).lower().endswith(".xlsx") else "line"
    return NcciFileError(str(b["source"]), int(str(b["line"])), f"{_what(kind, a)} {why} at {_where(a)}",
                         unit=unit)


def _combine(kind: str, frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The files' rows of one kind: exact duplicates once; two rows of one key with other values, or (PTP, AOC)
    two edits of one pair in force on the same date, an error naming both rows."""
    schema = SCHEMAS[kind]
    if not frames:
        return pl.DataFrame(schema=_schema(kind))
    table = pl.concat(frames)
    values = [c for c in schema if c not in ("source", "line")]
    keys = _KEYS[kind]
    # sorted by key, file order kept among equals: each row is checked against the one before it, and an exact
    # duplicate of it (the same key and values) dropped
    same_key = pl.all_horizontal(pl.col(k).eq_missing(pl.col(k).shift(1)) for k in keys)
    same_values = pl.all_horizontal(pl.col(c).eq_missing(pl.col(c).shift(1)) for c in values if c not in keys)
    table = table.sort(keys, maintain_order=True).filter(~(same_key & same_values))
    clash = table.with_row_index("at").filter(same_key)
    if clash.height:
        at = int(clash["at"][0])
        a, b = table.row(at - 1, named=True), table.row(at, named=True)
        differ = ", ".join(f"{c} {a[c]} / {b[c]}" for c in values if a[c] != b[c])
        when = f" effective {a['effective']}" if kind != "mue" else ""
        raise _clash(kind, a, b, f"{when} has other values ({differ}) than".lstrip())
    if kind in ("ptp", "aoc"):
        # Windows [effective, deleted] of one pair must not overlap (an edit deleted and added again follows
        # its deletion); a PTP edit of indicator 9 applies on no date and overlaps nothing.
        live = table.filter(pl.col("modifier") != 9) if kind == "ptp" else table
        same_pair = pl.all_horizontal(pl.col(k).eq_missing(pl.col(k).shift(1)) for k in keys[:-1])
        earlier = pl.col("deleted").shift(1)
        overlap = live.with_row_index("at").filter(same_pair & (earlier.is_null() | (earlier >= pl.col("effective"))))
        if overlap.height:
            at = int(overlap["at"][0])
            a, b = live.row(at - 1, named=True), live.row(at, named=True)
            until = f"until {a['deleted']}" if a["deleted"] is not None else "with no deletion date"
            raise _clash(kind, a, b, f"effective {b['effective']} overlaps the one effective {a['effective']} "
                                     f"{until}")
    if kind == "mue":
        quarters = (table.select("setting", "effective").unique().sort("setting", "effective")
                    .with_columns(until=pl.col("effective").shift(-1).over("setting")))
        table = table.drop("until").join(quarters, on=["setting", "effective"], how="left").select(list(schema))
    return table if _SORT[kind] == keys else table.sort(_SORT[kind], maintain_order=True)


# ---------------------------------------------------------------------------------------------- cache

def _cache_root(cache_dir: str | os.PathLike[str] | bool | None) -> Path | None:
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        env = os.environ.get("CODEINDEX_CACHE")
        return Path(env) if env else Path.home() / ".cache" / "codeindex"
    return Path(cache_dir)


def _read_cache(entry: Path, fingerprint: str, hashed: list[tuple[str, str]]
                ) -> tuple[dict[str, pl.DataFrame], tuple[NcciFile, ...]] | None:
    """The cached tables and files when the entry is whole and is of these files (name, sha256); None otherwise
    (missing, partial, corrupt, unreadable)."""
    try:
        manifest = json.loads((entry / "manifest.json").read_text())
        files = tuple(NcciFile(*f) for f in manifest["files"])
        if (manifest.get("format") != FORMAT_VERSION or manifest.get("fingerprint") != fingerprint
                or sorted((f.name, f.sha256) for f in files) != sorted(hashed)):
            return None
        tables = {}
        for kind in KINDS:
            path = entry / f"{kind}.parquet"
            meta = manifest["tables"][kind]
            if path.stat().st_size != meta["bytes"]:
                return None
            frame = scan_parquet_files(path).collect()
            if frame.height != meta["rows"] or frame.columns != list(SCHEMAS[kind]):
                return None
            tables[kind] = frame.cast(_schema(kind))
        with contextlib.suppress(OSError):  # used now (a read-only cache is still read)
            os.utime(entry / "manifest.json")
        return tables, files
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
        return None


def _write_cache(entry: Path, fingerprint: str, tables: NcciTables) -> None:
    """Write the entry into a temporary directory beside it, manifest last, and rename it into place, then remove
    the entries beyond the ``CACHE_ENTRIES`` most recently used; any failure (read-only, full, raced) leaves no
    entry and no error."""
    tmp: Path | None = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{fingerprint[:16]}-", dir=entry.parent))
        sizes = {}
        for kind in KINDS:
            frame = tables.table(kind)
            frame.write_parquet(tmp / f"{kind}.parquet")
            sizes[kind] = {"rows": frame.height, "bytes": (tmp / f"{kind}.parquet").stat().st_size}
        manifest = {"format": FORMAT_VERSION, "fingerprint": fingerprint, "files": [list(f) for f in tables.files],
                    "skipped": [list(s) for s in tables.skipped], "tables": sizes}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if entry.exists():  # a corrupt entry: replace it
            shutil.rmtree(entry, ignore_errors=True)
        os.replace(tmp, entry)
        tmp = None
        _remove_least_used(entry)
    except (OSError, pl.exceptions.PolarsError):
        pass
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _remove_least_used(written: Path) -> None:
    """Remove the cache entries beside ``written`` beyond the ``CACHE_ENTRIES`` most recently used (by their
    manifests' modification times; an entry without a manifest is the least used).  Only directories named by a
    fingerprint are entries (a write under way is in a ``.``-prefixed temporary directory); ``written`` stays.
    Best effort: an error while listing or removing is passed over."""

    def used(entry: Path) -> int:
        try:
            return (entry / "manifest.json").stat().st_mtime_ns
        except OSError:
            return -1

    try:
        others = [p for p in written.parent.iterdir()
                  if p != written and _FINGERPRINT.fullmatch(p.name) and p.is_dir()]
        by_use = sorted(others, key=lambda p: (used(p), p.name), reverse=True)
    except OSError:
        return
    for entry in by_use[CACHE_ENTRIES - 1:]:
        shutil.rmtree(entry, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- load

def load_ncci(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *,
              cache_dir: str | os.PathLike[str] | bool | None = None) -> NcciTables:
    """Read CMS NCCI PTP, MUE and add-on code files (a file, a directory read recursively, or a list of these)
    into typed tables (schemas ``PTP``, ``MUE``, ``AOC``), from the cache when the same files were compiled
    before.  ``cache_dir``: the cache's root (default ``$CODEINDEX_CACHE`` or ``~/.cache/codeindex``); False
    for none.  Raises NcciFileError naming the file (and line) for anything that cannot be read."""
    specs, skipped = _gather(paths)
    seen: dict[str, _Spec] = {}
    hashed: list[tuple[_Spec, str]] = []
    for spec in specs:
        try:
            digest = _sha256(spec.path)
        except OSError as exc:
            raise NcciFileError(spec.name, None, f"cannot be read: {exc.strerror or exc}") from None
        if digest in seen:
            skipped.append((str(spec.path), f"the same content as {seen[digest].name}"))
            continue
        if any(s.name == spec.name for s in seen.values()):
            raise NcciFileError(str(spec.path), None, "two different files of this name: rows could not be cited")
        seen[digest] = spec
        hashed.append((spec, digest))
    fingerprint = _fingerprint(hashed)
    root = _cache_root(cache_dir)
    entry = root / "ncci" / fingerprint if root is not None else None

    if entry is not None:
        cached = _read_cache(entry, fingerprint, [(s.name, h) for s, h in hashed])
        if cached is not None:
            tables, files = cached
            return NcciTables(tables["ptp"], tables["mue"], tables["aoc"], files, fingerprint, tuple(skipped),
                              from_cache=True)

    frames: dict[str, list[pl.DataFrame]] = {k: [] for k in KINDS}
    read: list[NcciFile] = []
    for spec, digest in hashed:
        try:
            data = b"" if spec.fmt == "xlsx" else spec.path.read_bytes()
        except OSError as exc:
            raise NcciFileError(spec.name, None, f"cannot be read: {exc.strerror or exc}") from None
        frame = _read(spec, data)
        frames[spec.kind].append(frame)
        read.append(NcciFile(spec.name, digest, spec.kind, spec.setting, frame.height))
    compiled = {k: _combine(k, frames[k]) for k in KINDS}
    result = NcciTables(compiled["ptp"], compiled["mue"], compiled["aoc"], tuple(read), fingerprint, tuple(skipped))
    if entry is not None:
        _write_cache(entry, fingerprint, result)
    return result


__all__ = ["AOC", "CACHE_ENTRIES", "FORMAT_VERSION", "MUE", "PTP", "NcciFile", "NcciTables", "load_ncci"]
