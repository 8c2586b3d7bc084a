"""CMS NCCI edit files (``codeindex.policy.ncci``): each published layout, written byte for byte, reads back as an
independent expectation says; every malformed row fails naming its file and line; the cache is used, not
re-parsed, and rebuilt when it must be; the synthetic generator's files load as asked."""

from __future__ import annotations

import importlib.util
import json
import os
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from codeindex.code import key
from codeindex.errors import CodeindexError, NcciFileError, PolicyParseError
from codeindex.policy import NcciTables, load_ncci
from codeindex.policy import ncci as ncci_module
from codeindex.policy.ncci import AOC, MUE, PTP
from codeindex.synth import NCCI_AOC_FIXED, NCCI_MUE_FIXED, NCCI_PTP_FIXED, write_ncci_files

NOTICE = "CPT® only copyright 2025 American Medical Association. All rights reserved. Société"
PTP_HEADER = ("Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date\tModifier\t"
              "PTP Edit Rationale")
PTP_LEGEND = ["\t\t\t\t*=no data\t0=not allowed\t", "\t\t\t\t\t1=allowed\t", "\t\t\t\t\t9=not applicable\t"]
PTP_ROWS = [  # column 1, column 2, before 1996, effective, deletion, modifier, rationale
    ("97530", "97140", "", "20200101", "20200101", "9", "Misuse of column two code with column one code"),
    ("97530", "97750", "", "20000101", "*", "1", "Standards of medical / surgical services"),
    ("97545", "97750", "*", "19960101", "20231231", "0", "Mutually exclusive procedures"),
    ("0001F", "G0283", "", "20240401", "*", "1", "CMS policy"),
    ("00100", "0016T", "", "20150101", "*", "0", "Anesthesia service included in surgical procedure"),
]
MUE_HEADER = '"HCPCS/\nCPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator","MUE Rationale"'
MUE_NOTICE = ('"CPT codes, descriptions and other data only are copyright 2025 American Medical Association.\n'
              'All Rights Reserved. Applicable FARS/HHSARS apply.\nFee schedules are not assigned by the AMA.",,,')
MUE_ROWS = [("97545", "1", "2 Date of Service Edit: Policy", "CMS Policy"),
            ("97546", "6", "3 Date of Service Edit: Clinical", "Clinical: Data"),
            ("J1100", "40", "1 Line Edit", "Prescribing Information"),
            ("0016T", "0", "3 Date of Service Edit: Clinical", "Nature of Service/Procedure")]
AOC_HEADER = ("Add-on Code\tPrimary Code\tAOC Edit Type\tAOC Del Dt (Julian)\tPrimary Code Del Dt (Julian)\t"
              "AOC Edit Eff Dt (Julian)\tAOC Edit Del Dt (Julian)\tSpecial Instruction Notes")
AOC_ROWS = [("97546", "97545", "1", "", "", "2000001", "", ""),
            ("99292", "CCCCC", "2", "", "", "2009001", "", "CCCCC = Contractor Defined Primary Codes"),
            ("11001", "11000", "3", "", "2023365", "2010182", "2024060", "")]

HAS_FASTEXCEL = importlib.util.find_spec("fastexcel") is not None


def cpt(text: str) -> int:
    """A procedure code's key, computed here from the key layout (not by the parser under test)."""
    kinds = {"F": 1, "T": 2, "U": 3, "M": 4}
    if text.isdigit():
        return key("hcpcs", 0, int(text))
    if text[-1] in kinds and text[:4].isdigit():
        return key("hcpcs", kinds[text[-1]], int(text[:4]))
    return key("hcpcs", 16 + ord(text[0]) - ord("A"), int(text[1:]))


def ymd(text: str) -> date | None:
    return None if text in ("*", "") else date(int(text[:4]), int(text[4:6]), int(text[6:]))


def julian(text: str) -> date | None:
    return None if not text else date.fromordinal(date(int(text[:4]), 1, 1).toordinal() + int(text[4:]) - 1)


def write(path: Path, lines: list[str], *, newline: str = "\r\n", encoding: str = "cp1252") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def ptp_file(path: Path, rows: list[tuple[str, ...]] | list[str], **kw: str) -> Path:
    body = [r if isinstance(r, str) else "\t".join(r) for r in rows]
    return write(path, [NOTICE, "Column1/Column2 Edits", PTP_HEADER, *PTP_LEGEND, *body], **kw)


def mue_file(path: Path, rows: list[tuple[str, ...]] | list[str], header: str = MUE_HEADER) -> Path:
    body = [r if isinstance(r, str) else ",".join(f'"{c}"' if " " in c else c for c in r) for r in rows]
    return write(path, [MUE_NOTICE, header, *body])


def aoc_file(path: Path, rows: list[tuple[str, ...]] | list[str]) -> Path:
    return write(path, [AOC_HEADER, *(r if isinstance(r, str) else "\t".join(r) for r in rows)])


def expected_ptp(rows: list[tuple[str, ...]], source: str, first_line: int, setting: str = "practitioner"
                 ) -> pl.DataFrame:
    frame = pl.DataFrame(
        [{"column1": cpt(r[0]), "column2": cpt(r[1]), "code1": r[0], "code2": r[1], "setting": setting,
          "effective": ymd(r[3]), "deleted": ymd(r[4]), "modifier": int(r[5]), "rationale": r[6], "source": source,
          "line": first_line + i} for i, r in enumerate(rows)], schema=PTP)
    return frame.sort("setting", "column1", "column2", "effective")


def only(tables: NcciTables, kind: str) -> pl.DataFrame:
    return tables.table(kind)


# ------------------------------------------------------------------------------------------------ layouts

def test_ptp_text_reads_as_published(tmp_path: Path) -> None:
    path = ptp_file(tmp_path / "ccipra-v321r0-f1.txt", PTP_ROWS)
    tables = load_ncci(path, cache_dir=False)
    assert_frame_equal(tables.ptp, expected_ptp(PTP_ROWS, path.name, 7))
    assert tables.mue.is_empty() and tables.aoc.is_empty() and tables.is_empty("mue")
    assert tables.ptp.schema == pl.Schema(PTP)
    (file,) = tables.files
    assert (file.name, file.kind, file.setting, file.rows) == (path.name, "ptp", "practitioner", len(PTP_ROWS))


def test_ptp_lf_utf8_and_outpatient_hospital(tmp_path: Path) -> None:
    path = ptp_file(tmp_path / "ccioph-v321r0-f2.txt", PTP_ROWS, newline="\n", encoding="utf-8")
    tables = load_ncci(path, cache_dir=False)
    assert_frame_equal(tables.ptp, expected_ptp(PTP_ROWS, path.name, 7, "outpatient_hospital"))


def test_ptp_header_without_legend_rows_and_trailing_tabs(tmp_path: Path) -> None:
    path = write(tmp_path / "ccipra-v321r0-f3.txt",
                 [NOTICE, PTP_HEADER, "", *("\t".join(r) + "\t\t" for r in PTP_ROWS), ""])
    assert_frame_equal(load_ncci(path, cache_dir=False).ptp, expected_ptp(PTP_ROWS, path.name, 4))


def test_mue_csv_reads_as_published(tmp_path: Path) -> None:
    old = mue_file(tmp_path / "MCR_MUE_PractitionerServices_Eff_10-01-2025.csv", MUE_ROWS)
    new = mue_file(tmp_path / "MCR_MUE_PractitionerServices_Eff_2026-01-01.csv", MUE_ROWS[:2])
    mue = load_ncci(tmp_path, cache_dir=False).mue
    expected = pl.DataFrame(
        [{"code": cpt(r[0]), "code_text": r[0], "setting": "practitioner", "limit": int(r[1]),
          "indicator": int(r[2][0]), "rationale": r[3], "effective": effective, "until": until, "source": name,
          "line": 6 + i}  # the notice cell spans lines 1-3, the header lines 4-5
         for name, rows, effective, until in ((old.name, MUE_ROWS, date(2025, 10, 1), date(2026, 1, 1)),
                                              (new.name, MUE_ROWS[:2], date(2026, 1, 1), None))
         for i, r in enumerate(rows)], schema=MUE).sort("setting", "code", "effective")
    assert_frame_equal(mue, expected)


def test_mue_settings_are_told_by_name_and_header(tmp_path: Path) -> None:
    for name, column, setting in (("OutpatientHospitalServices", "Outpatient Hospital Services MUE Values",
                                   "outpatient_hospital"),
                                  ("DMESupplierServices", "DME Supplier Services MUE Values", "dme")):
        path = mue_file(tmp_path / f"MCR_MUE_{name}_Eff_07-01-2025.csv", MUE_ROWS,
                        header=f"HCPCS/CPT Code,{column},MUE Adjudication Indicator,MUE Rationale")
        assert load_ncci(path, cache_dir=False).mue["setting"].unique().to_list() == [setting]
    wrong = mue_file(tmp_path / "bad" / "MCR_MUE_PractitionerServices_Eff_07-01-2025.csv", MUE_ROWS,
                     header="HCPCS/CPT Code,DME Supplier Services MUE Values,MUE Adjudication Indicator,MUE Rationale")
    with pytest.raises(NcciFileError, match=r"MCR_MUE_PractitionerServices_Eff_07-01-2025\.csv: named as a "
                                            r"practitioner MUE file but its header row says 'DME Supplier"):
        load_ncci(wrong, cache_dir=False)


def test_aoc_text_reads_julian_dates_and_contractor_primaries(tmp_path: Path) -> None:
    path = aoc_file(tmp_path / "AOC_V2025Q4-MCR.txt", AOC_ROWS)
    aoc = load_ncci(path, cache_dir=False).aoc
    expected = pl.DataFrame(
        [{"add_on": cpt(r[0]), "add_on_code": r[0], "primary": None if r[1] == "CCCCC" else cpt(r[1]),
          "primary_code": None if r[1] == "CCCCC" else r[1], "type": int(r[2]), "effective": julian(r[5]),
          "deleted": min((d for d in map(julian, (r[3], r[4], r[6])) if d), default=None), "source": path.name,
          "line": 2 + i} for i, r in enumerate(AOC_ROWS)], schema=AOC).sort("add_on", "primary", "effective")
    assert_frame_equal(aoc, expected)
    assert aoc.filter(pl.col("add_on_code") == "11001")["deleted"].item() == date(2023, 12, 31)


@pytest.mark.skipif(not HAS_FASTEXCEL, reason="fastexcel is not installed")
def test_xlsx_reads_as_its_text_twin(tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "xlsx" / "ccipra-v321r0-f1.xlsx"
    path.parent.mkdir()
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write(0, 0, NOTICE)
    sheet.write(1, 0, "Column1/Column2 Edits")
    for c, text in enumerate(PTP_HEADER.split("\t")):
        sheet.write(2, c, text)
    for r, legend in enumerate(PTP_LEGEND, 3):
        for c, text in enumerate(legend.split("\t")):
            if text:
                sheet.write(r, c, text)
    for r, row in enumerate(PTP_ROWS, 6):
        for c, text in enumerate(row):
            if c in (0, 1, 3, 4, 5) and text.isdigit():
                sheet.write_number(r, c, int(text))  # codes, dates and indicators as numbers: 00100 becomes 100
            elif text:
                sheet.write_string(r, c, text)
    book.close()
    tables = load_ncci(path, cache_dir=False)
    assert_frame_equal(tables.ptp, expected_ptp(PTP_ROWS, path.name, 7))  # row numbers, 1-based
    # beside its text twin, the text file is read and the spreadsheet passed over
    ptp_file(tmp_path / "xlsx" / "ccipra-v321r0-f1.txt", PTP_ROWS)
    both = load_ncci(tmp_path / "xlsx", cache_dir=False)
    assert [f.name for f in both.files] == ["ccipra-v321r0-f1.txt"]
    assert both.skipped == ((str(path), "the same table as ccipra-v321r0-f1.txt"),)


def test_xlsx_without_fastexcel_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "MCR_MUE_PractitionerServices_Eff_10-01-2025.xlsx"
    path.write_bytes(b"PK")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastexcel" else real(name, *a))
    with pytest.raises(NcciFileError, match=r"MCR_MUE_PractitionerServices_Eff_10-01-2025\.xlsx: .*pip install "
                                            r"fastexcel"):
        load_ncci(path, cache_dir=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from([r[0] for r in PTP_ROWS] + ["99213", "A4550", "0214U"]),
                               st.sampled_from([r[1] for r in PTP_ROWS] + ["36415", "J3490"]),
                               st.sampled_from(["", "*"]), st.dates(date(1996, 1, 1), date(2030, 12, 31)),
                               st.one_of(st.none(), st.dates(date(1996, 1, 1), date(2030, 12, 31))),
                               st.sampled_from("019"), st.sampled_from(["More extensive procedure", "CMS policy"])),
                     max_size=30, unique_by=lambda r: (r[0], r[1])),
       newline=st.sampled_from(["\r\n", "\n"]), encoding=st.sampled_from(["cp1252", "utf-8"]))
def test_any_ptp_rows_read_back(tmp_path: Path, rows: list[tuple[str, str, str, date, date | None, str, str]],
                                newline: str, encoding: str) -> None:
    text = [(a, b, p, f"{e:%Y%m%d}", "*" if d is None else f"{d:%Y%m%d}", m, r) for a, b, p, e, d, m, r in rows]
    path = ptp_file(tmp_path / f"h{len(rows)}{len(newline)}{encoding}" / "ccipra-v321r0-f4.txt", text,
                    newline=newline, encoding=encoding)
    assert_frame_equal(load_ncci(path, cache_dir=False).ptp, expected_ptp(text, path.name, 7))


# ------------------------------------------------------------------------------------------------ bad rows

GOOD_PTP = "\t".join(PTP_ROWS[1])
BAD_PTP = [
    ("97530\t9753\t\t20000101\t*\t1\tx", r"column 1|column 2 '9753' is not a HCPCS/CPT code"),
    ("97530-GP\t97750\t\t20000101\t*\t1\tx", r"column 1 '97530-GP' is not a HCPCS/CPT code"),
    ("\t97750\t\t20000101\t*\t1\tx", r"no column 1"),
    ("97530\t97750\t\t2000011\t*\t1\tx", r"effective date '2000011' is not a date"),
    ("97530\t97750\t\t20000231\t*\t1\tx", r"effective date '20000231' is not a date"),
    ("97530\t97750\t\t*\t*\t1\tx", r"effective date '\*' is not a date"),
    ("97530\t97750\t\t20000101\t\t1\tx", r"deletion date '' is not a date \(YYYYMMDD, or \*\)"),
    ("97530\t97750\t\t20000101\t*\t2\tx", r"unknown modifier indicator '2'"),
    ("97530\t97750\tY\t20000101\t*\t1\tx", r"in-existence-before-1996 mark 'Y'"),
    ("97530\t97750\t\t20000101\t*", r"has 5 fields where the header row has 7"),
    ("97530\t97750\t\t20000101\t*\t1\tx\textra", r"has more fields than the 7 of the header row"),
]


BAD_MUE = [
    ("9754,1,1 Line Edit,x", r"HCPCS/CPT code '9754' is not a HCPCS/CPT code"),
    ("97545,one,1 Line Edit,x", r"MUE value 'one' is not a whole number"),
    ("97545,-1,1 Line Edit,x", r"MUE value '-1'"),
    ("97545,1,4 Line Edit,x", r"unknown MUE adjudication indicator '4 Line Edit'"),
    ("97545,1,2 Line Edit,x", r"unknown MUE adjudication indicator '2 Line Edit'"),
    ("97545,1", r"has 2 fields where the header row has 4"),
]


BAD_AOC = [
    ("97546\t97545\t4\t\t\t2000001\t\t", r"unknown AOC edit type '4'"),
    ("97546\t97545\t2\t\t\t2000001\t\t", r"a type 2 add-on code edit lists a primary code"),
    ("97546\tCCCCC\t1\t\t\t2000001\t\t", r"a type 1 add-on code edit lists no primary code"),
    ("97546\t97545\t1\t\t\t2023400\t\t", r"edit effective date '2023400' is not a date"),
    ("97546\t97545\t1\t\t\t\t\t", r"no edit effective date"),
    ("97546\t97545\t1\tsoon\t\t2000001\t\t", r"add-on code deletion date 'soon' is not a date"),
    ("9754X\t97545\t1\t\t\t2000001\t\t", r"add-on code '9754X' is not a HCPCS/CPT code"),
]


def malformed(directory: Path, kind: str, row: str) -> tuple[Path, int]:
    """A file of ``kind`` whose last row is ``row``, after good ones, and that row's line."""
    if kind == "ptp":
        return ptp_file(directory / "ccipra-v321r0-f2.txt", [GOOD_PTP, GOOD_PTP.replace("97750", "97110"), row]), 9
    if kind == "mue":
        return mue_file(directory / "MCR_MUE_PractitionerServices_Eff_10-01-2025.csv", [*MUE_ROWS[:2], row]), 8
    return aoc_file(directory / "AOC_V2025Q4-MCR.txt", [*AOC_ROWS[1:], row]), 4


@pytest.mark.parametrize(("kind", "row", "problem"), [*(("ptp", *bad) for bad in BAD_PTP),
                                                      *(("mue", *bad) for bad in BAD_MUE),
                                                      *(("aoc", *bad) for bad in BAD_AOC)])
def test_a_malformed_row_names_file_and_line(tmp_path: Path, kind: str, row: str, problem: str) -> None:
    path, line = malformed(tmp_path, kind, row)
    with pytest.raises(NcciFileError) as caught:
        load_ncci(path, cache_dir=False)
    message = str(caught.value)
    assert message.startswith(f"{path.name}, line {line}: ") and "\n" not in message
    assert caught.value.line_no == line and caught.value.path == path.name
    assert isinstance(caught.value, PolicyParseError) and isinstance(caught.value, CodeindexError)
    assert re.search(problem, message), message


def test_conflicting_rows_name_both_and_exact_duplicates_are_kept_once(tmp_path: Path) -> None:
    one = ptp_file(tmp_path / "ok" / "ccipra-v321r0-f1.txt", PTP_ROWS[:3])
    ptp_file(tmp_path / "ok" / "ccipra-v321r0-f2.txt", PTP_ROWS[2:])  # PTP_ROWS[2] in both parts
    tables = load_ncci(tmp_path / "ok", cache_dir=False)
    assert tables.ptp.height == len(PTP_ROWS)
    assert tables.ptp.filter(pl.col("code1") == "97545")[["source", "line"]].row(0) == (one.name, 9)
    changed = (*PTP_ROWS[2][:5], "1", PTP_ROWS[2][6])
    ptp_file(tmp_path / "clash" / "ccipra-v321r0-f1.txt", PTP_ROWS[:3])
    ptp_file(tmp_path / "clash" / "ccipra-v321r0-f2.txt", [PTP_ROWS[3], changed])
    with pytest.raises(NcciFileError, match=r"^ccipra-v321r0-f2\.txt, line 8: the edit 97545/97750 effective "
                                            r"1996-01-01 has other values \(modifier 0 / 1\) than at "
                                            r"ccipra-v321r0-f1\.txt line 9$"):
        load_ncci(tmp_path / "clash", cache_dir=False)
    mue_file(tmp_path / "mue" / "MCR_MUE_PractitionerServices_Eff_10-01-2025.csv",
             [*MUE_ROWS, MUE_ROWS[0], ("97545", "2", *MUE_ROWS[0][2:])])
    with pytest.raises(NcciFileError, match=r"line 11: the MUE of 97545 has other values \(limit 1 / 2\) than at "
                                            r"MCR_MUE_PractitionerServices_Eff_10-01-2025\.csv line 6$"):
        load_ncci(tmp_path / "mue", cache_dir=False)


def test_a_pair_may_recur_in_another_window_but_not_an_overlapping_one(tmp_path: Path) -> None:
    rows = [("97530", "97140", "", "20200101", "20200101", "9", "Misuse of column two code with column one code"),
            ("97530", "97140", "", "20200401", "20201231", "0", "Mutually exclusive procedures"),
            ("97530", "97140", "", "20210101", "*", "1", "Mutually exclusive procedures")]
    path = ptp_file(tmp_path / "ccipra-v321r0-f1.txt", rows)
    ptp = load_ncci(path, cache_dir=False).ptp
    assert ptp["effective"].to_list() == [date(2020, 1, 1), date(2020, 4, 1), date(2021, 1, 1)]
    assert ptp["modifier"].to_list() == [9, 0, 1]
    overlapping = ("97530", "97140", "", "20201001", "*", "1", "Mutually exclusive procedures")
    path = ptp_file(tmp_path / "o" / "ccipra-v321r0-f1.txt", [*rows[1:], overlapping])
    with pytest.raises(NcciFileError, match=r"^ccipra-v321r0-f1\.txt, line 9: the edit 97530/97140 effective "
                                            r"2020-10-01 overlaps the one effective 2020-04-01 until 2020-12-31 at "
                                            r"ccipra-v321r0-f1\.txt line 7$"):
        load_ncci(path, cache_dir=False)
    aoc = [AOC_ROWS[0], ("97546", "97545", "1", "", "", "2005001", "", "")]
    with pytest.raises(NcciFileError, match=r"line 3: the add-on edit 97546 with 97545 effective 2005-01-01 "
                                            r"overlaps the one effective 2000-01-01 with no deletion date at "
                                            r"AOC_V2025Q4-MCR\.txt line 2$"):
        load_ncci(aoc_file(tmp_path / "AOC_V2025Q4-MCR.txt", aoc), cache_dir=False)


# ------------------------------------------------------------------------------------------------ files

def test_kind_told_by_name_must_agree_with_header(tmp_path: Path) -> None:
    path = write(tmp_path / "ccipra-v321r0-f1.txt", [MUE_NOTICE, MUE_HEADER, "97545,1,1 Line Edit,x"])
    with pytest.raises(NcciFileError, match=r"^ccipra-v321r0-f1\.txt: named as a PTP file but its header row is "
                                            r"a MUE file's"):
        load_ncci(path, cache_dir=False)
    path = write(tmp_path / "AOC_V2025Q4-MCR.txt", ["Add-on Code  Primary Code  AOC Edit Type", "97546  97545  1"])
    with pytest.raises(NcciFileError, match=r"^AOC_V2025Q4-MCR\.txt: no header row \(tab-delimited"):
        load_ncci(path, cache_dir=False)


def test_a_stray_file_fails_naming_it_and_companions_are_passed_over(tmp_path: Path) -> None:
    ptp_file(tmp_path / "q1" / "ccipra-v321r0-f1.txt", PTP_ROWS)
    (tmp_path / "q1" / "NCCI_PTP_file_structure.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    tables = load_ncci(tmp_path, cache_dir=False)
    assert [name for name, _ in tables.skipped] == [".DS_Store", "q1/NCCI_PTP_file_structure.pdf"]
    stray = write(tmp_path / "q1" / "README.txt", ["Unzip the files here."])
    with pytest.raises(NcciFileError, match=rf"^{stray}: not an NCCI PTP"):
        load_ncci(tmp_path, cache_dir=False)
    stray.unlink()
    mue_file(tmp_path / "MCD_MUE_PractitionerServices_Eff_10-01-2025.csv", MUE_ROWS)  # Medicaid: not read
    with pytest.raises(NcciFileError, match=r"MCD_MUE_PractitionerServices_Eff_10-01-2025\.csv: not an NCCI"):
        load_ncci(tmp_path, cache_dir=False)
    with pytest.raises(NcciFileError, match=r"nothing\.txt: no such file or directory"):
        load_ncci([tmp_path / "q1", tmp_path / "nothing.txt"], cache_dir=False)


def test_one_ptp_release_per_setting(tmp_path: Path) -> None:
    ptp_file(tmp_path / "ccipra-v321r0-f1.txt", PTP_ROWS)
    ptp_file(tmp_path / "ccipra-v322r0-f1.txt", PTP_ROWS)
    with pytest.raises(NcciFileError, match=r"a second PTP release for practitioner \(v322r0; ccipra-v321r0-f1\.txt "
                                            r"is v321r0\)"):
        load_ncci(tmp_path, cache_dir=False)
    # a list of files and directories; the same content twice is read once
    ptp_file(tmp_path / "copy" / "ccipra-v322r0-f1.txt", PTP_ROWS)
    tables = load_ncci([tmp_path / "ccipra-v322r0-f1.txt", tmp_path / "copy"], cache_dir=False)
    assert tables.ptp.height == len(PTP_ROWS) and len(tables.files) == 1 and len(tables.skipped) == 1


# ------------------------------------------------------------------------------------------------ cache

def small_release(directory: Path) -> Path:
    ptp_file(directory / "ccipra-v321r0-f1.txt", PTP_ROWS)
    mue_file(directory / "MCR_MUE_PractitionerServices_Eff_10-01-2025.csv", MUE_ROWS)
    aoc_file(directory / "AOC_V2025Q4-MCR.txt", AOC_ROWS)
    return directory


def test_a_second_load_reads_the_cache_without_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = small_release(tmp_path / "files")
    first = load_ncci(files, cache_dir=tmp_path / "cache")
    assert not first.from_cache
    entry = tmp_path / "cache" / "ncci" / first.fingerprint
    assert sorted(p.name for p in entry.iterdir()) == ["aoc.parquet", "manifest.json", "mue.parquet", "ptp.parquet"]

    def no_parsing(*args: object) -> None:
        raise AssertionError("the text was parsed again")

    monkeypatch.setattr(ncci_module, "_read", no_parsing)
    second = load_ncci(files, cache_dir=tmp_path / "cache")
    assert second.from_cache and second.same_tables(first) and second.fingerprint == first.fingerprint
    for kind in ("ptp", "mue", "aoc"):
        assert_frame_equal(second.table(kind), first.table(kind))
    monkeypatch.setenv("CODEINDEX_CACHE", str(tmp_path / "cache"))
    assert load_ncci(files).from_cache  # the default root is $CODEINDEX_CACHE
    # the same files elsewhere, in another order: the same entry
    moved = []
    for i, path in enumerate(sorted(files.iterdir(), reverse=True)):  # d0/ccipra..., d1/MCR..., d2/AOC...
        (tmp_path / f"d{i}").mkdir()
        moved.append(path.rename(tmp_path / f"d{i}" / path.name))
    assert load_ncci(moved).from_cache



def test_a_cache_root_named_like_a_pattern_is_that_folder(tmp_path: Path) -> None:
    files = small_release(tmp_path / "files")
    cache = tmp_path / "cache[1]"
    (tmp_path / "cache1").mkdir()  # what the name would match as a pattern
    first = load_ncci(files, cache_dir=cache)
    again = load_ncci(files, cache_dir=cache)
    assert not first.from_cache and again.from_cache and again.same_tables(first)

def test_a_changed_file_makes_a_new_entry(tmp_path: Path) -> None:
    files = small_release(tmp_path / "files")
    first = load_ncci(files, cache_dir=tmp_path / "cache")
    mue_file(files / "MCR_MUE_PractitionerServices_Eff_10-01-2025.csv", [("97545", "3", *MUE_ROWS[0][2:])])
    second = load_ncci(files, cache_dir=tmp_path / "cache")
    assert not second.from_cache and second.fingerprint != first.fingerprint
    assert second.mue["limit"].to_list() == [3]
    assert len(list((tmp_path / "cache" / "ncci").iterdir())) == 2



def test_the_cache_keeps_the_most_recently_used_entries(tmp_path: Path) -> None:
    kept = ncci_module.CACHE_ENTRIES
    releases = []  # kept + 2 releases, each of its own MUE value: an entry each
    for i in range(kept + 2):
        files = small_release(tmp_path / f"files{i}")
        mue_file(files / "MCR_MUE_PractitionerServices_Eff_10-01-2025.csv", [("97545", str(i + 1), *MUE_ROWS[0][2:])])
        releases.append(files)
    cache = tmp_path / "cache"
    writing = cache / "ncci" / ".0123456789abcdef-partial"  # another load's entry under way
    writing.mkdir(parents=True)
    fingerprints = [load_ncci(files, cache_dir=cache).fingerprint for files in releases[:kept]]
    assert len(list((cache / "ncci").iterdir())) == kept + 1  # none removed yet
    assert load_ncci(releases[0], cache_dir=cache).from_cache  # the oldest entry, used again: now the newest
    fingerprints += [load_ncci(files, cache_dir=cache).fingerprint for files in releases[kept:]]
    # the entry read again, and the newest written; the ones least recently used are gone
    assert sorted(p.name for p in (cache / "ncci").iterdir() if p != writing) == sorted(
        [fingerprints[0], *fingerprints[-(kept - 1):]])
    assert writing.is_dir()
    last = load_ncci(releases[-1], cache_dir=cache)
    assert last.from_cache and last.mue["limit"].to_list() == [kept + 2]
    assert load_ncci(releases[0], cache_dir=cache).from_cache
    assert not load_ncci(releases[1], cache_dir=cache).from_cache  # removed: compiled again

@pytest.mark.parametrize("damage", ["no manifest", "truncated table", "garbled manifest", "other rows"])
def test_a_corrupt_entry_is_rebuilt(tmp_path: Path, damage: str) -> None:
    files = small_release(tmp_path / "files")
    first = load_ncci(files, cache_dir=tmp_path / "cache")
    entry = tmp_path / "cache" / "ncci" / first.fingerprint
    if damage == "no manifest":
        (entry / "manifest.json").unlink()
    elif damage == "truncated table":
        data = (entry / "ptp.parquet").read_bytes()
        (entry / "ptp.parquet").write_bytes(data[: len(data) // 2])
    elif damage == "garbled manifest":
        (entry / "manifest.json").write_text("{")
    else:
        manifest = json.loads((entry / "manifest.json").read_text())
        pl.DataFrame(schema=ncci_module._schema("ptp")).write_parquet(entry / "ptp.parquet")
        manifest["tables"]["ptp"]["bytes"] = (entry / "ptp.parquet").stat().st_size
        (entry / "manifest.json").write_text(json.dumps(manifest))
    rebuilt = load_ncci(files, cache_dir=tmp_path / "cache")
    assert not rebuilt.from_cache and rebuilt.same_tables(first)
    again = load_ncci(files, cache_dir=tmp_path / "cache")
    assert again.from_cache and again.same_tables(first)


def test_an_unwritable_cache_is_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = small_release(tmp_path / "files")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    first = load_ncci(files, cache_dir=blocked)
    assert not first.from_cache and not load_ncci(files, cache_dir=blocked).from_cache
    assert blocked.read_text() == "not a directory"

    def read_only(*args: object) -> None:
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(os, "replace", read_only)
    second = load_ncci(files, cache_dir=tmp_path / "ro")
    assert second.same_tables(first) and not list((tmp_path / "ro" / "ncci").iterdir())  # no leftovers
    monkeypatch.undo()
    assert not load_ncci(files, cache_dir=False).from_cache
    assert not (tmp_path / "ro" / "ncci" / first.fingerprint).exists()


# ------------------------------------------------------------------------------------------------ synthetic

def test_synthetic_files_load_with_the_rows_asked(tmp_path: Path) -> None:
    paths = write_ncci_files(tmp_path / "ncci", ptp_rows=3_000, mue_codes=400, aoc_pairs=120, seed=3,
                             settings=("practitioner", "outpatient_hospital", "dme"))
    assert [p.name for p in paths][:5] == ["ccipra-v320r0-f1.txt", "ccipra-v320r0-f2.txt", "ccipra-v320r0-f3.txt",
                                           "ccipra-v320r0-f4.txt", "MCR_MUE_PractitionerServices_Eff_10-01-2025.csv"]
    assert len(paths) == 4 * 2 + 2 * 3 + 1
    tables = load_ncci(tmp_path / "ncci", cache_dir=False)
    assert tables.ptp.group_by("setting").len().sort("setting").rows() == [("practitioner", 3_000),
                                                                           ("outpatient_hospital", 3_000)]
    assert tables.mue.height == 400 * 2 * 3 and tables.aoc.height == 120
    assert sorted({f.rows for f in tables.files if f.kind == "mue"}) == [400]
    ptp = tables.ptp.filter(pl.col("setting") == "practitioner")
    for one, two, _, effective, deletion, modifier, _ in NCCI_PTP_FIXED:
        row = ptp.filter((pl.col("code1") == one) & (pl.col("code2") == two)).row(0, named=True)
        assert (row["effective"], row["deleted"], row["modifier"]) == (ymd(effective), ymd(deletion), int(modifier))
    for code, limit, mai, _ in NCCI_MUE_FIXED:
        got = tables.mue.filter(pl.col("code_text") == code)
        assert set(got.select("limit", "indicator").rows()) == {(int(limit), int(mai[0]))}
        assert got.height == 6
    (add_on, primary, kind, *_) = NCCI_AOC_FIXED[0]
    assert tables.aoc.filter(pl.col("add_on_code") == add_on)[["primary_code", "type"]].rows() == [(primary,
                                                                                                   int(kind))]
    again = write_ncci_files(tmp_path / "again", ptp_rows=3_000, mue_codes=400, aoc_pairs=120, seed=3,
                             settings=("practitioner", "outpatient_hospital", "dme"))
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]


@pytest.mark.skipif(not HAS_FASTEXCEL, reason="fastexcel is not installed")
def test_a_malformed_spreadsheet_row_is_named_by_its_row(tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "MCR_MUE_OutpatientHospitalServices_Eff_10-01-2025.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write(0, 0, "CPT codes, descriptions and other data only are copyright 2025 American Medical Association.")
    for c, text in enumerate(["HCPCS/\nCPT Code", "Outpatient Hospital Services MUE Values",
                              "MUE Adjudication Indicator", "MUE Rationale"]):
        sheet.write(1, c, text)
    rows = [*MUE_ROWS[:3], ("97110", "4", "Line Edit", "Clinical: Data")]
    for r, (code, limit, mai, why) in enumerate(rows, 2):
        sheet.write_string(r, 0, code)
        sheet.write_number(r, 1, int(limit))
        sheet.write_string(r, 2, mai)
        sheet.write_string(r, 3, why)
    book.close()
    with pytest.raises(NcciFileError, match=r"^MCR_MUE_OutpatientHospitalServices_Eff_10-01-2025\.xlsx, row 6: "
                                            r"unknown MUE adjudication indicator 'Line Edit'"):
        load_ncci(path, cache_dir=False)
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    for c, text in enumerate(["HCPCS/CPT Code", "Outpatient Hospital Services MUE Values",
                              "MUE Adjudication Indicator", "MUE Rationale"]):
        sheet.write(0, c, text)  # the header in the first row, no notice
    for r, row in enumerate(MUE_ROWS[:3], 1):
        for c, text in enumerate(row):
            sheet.write_string(r, c, text)
    book.close()
    mue = load_ncci(path, cache_dir=False).mue
    assert mue.select("code_text", "limit", "indicator", "setting", "line").rows() == [
        ("97545", 1, 2, "outpatient_hospital", 2), ("97546", 6, 3, "outpatient_hospital", 3),
        ("J1100", 40, 1, "outpatient_hospital", 4)]


def test_a_first_row_without_codes_is_a_bad_row_not_a_legend(tmp_path: Path) -> None:
    path = ptp_file(tmp_path / "ccipra-v321r0-f1.txt", ["\t\t\t20000101\t*\t1\tx", GOOD_PTP])
    with pytest.raises(NcciFileError, match=r"^ccipra-v321r0-f1\.txt, line 7: no column 1"):
        load_ncci(path, cache_dir=False)


def test_an_add_on_code_reissue_is_another_release(tmp_path: Path) -> None:
    aoc_file(tmp_path / "AOC_V2025Q4-MCR.txt", AOC_ROWS)
    aoc_file(tmp_path / "AOC_V2025Q4_01-MCR.txt", AOC_ROWS[:1])
    with pytest.raises(NcciFileError, match=r"^AOC_V2025Q4_01-MCR\.txt: a second add-on code release \(2025Q4_01; "
                                            r"AOC_V2025Q4-MCR\.txt is 2025Q4\)"):
        load_ncci(tmp_path, cache_dir=False)
    assert load_ncci(tmp_path / "AOC_V2025Q4_01-MCR.txt", cache_dir=False).aoc.height == 1


def test_aoc_columns_are_found_by_name_in_any_order(tmp_path: Path) -> None:
    order = [3, 4, 1, 0, 2, 5, 6, 7]  # the deletion dates first, then the primary before the add-on
    names = AOC_HEADER.replace(" (Julian)", "").replace("AOC Del Dt", "AOC_DEL_DT").split("\t")
    path = write(tmp_path / "AOC_V2024Q2-MCR.txt", ["\t".join(names[i] for i in order),
                                                    *("\t".join(r[i] for i in order) for r in AOC_ROWS)])
    assert_frame_equal(load_ncci(path, cache_dir=False).aoc.drop("source"),
                       load_ncci(aoc_file(tmp_path / "x" / "AOC_V2024Q2-MCR.txt", AOC_ROWS), cache_dir=False)
                       .aoc.drop("source"))


@pytest.mark.skipif(not HAS_FASTEXCEL, reason="fastexcel is not installed")
def test_an_unreadable_file_is_named_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "AOC_V2025Q4-MCR.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(NcciFileError, match=r"^AOC_V2025Q4-MCR\.xlsx: not readable as a spreadsheet: [^\n]*$"):
        load_ncci(path, cache_dir=False)
    path = write(tmp_path / "MCR_MUE_PractitionerServices_Eff_10-01-2025.csv",
                 [MUE_NOTICE, MUE_HEADER, "97545," + "x" * 200_000])  # over csv's field size limit
    with pytest.raises(NcciFileError, match=r"^MCR_MUE_PractitionerServices_Eff_10-01-2025\.csv, line 6: not "
                                            r"readable as CSV: [^\n]*$"):
        load_ncci(path, cache_dir=False)


@pytest.mark.skipif(not HAS_FASTEXCEL, reason="fastexcel is not installed")
def test_the_add_on_code_spreadsheet_is_read_before_its_text_twin(tmp_path: Path) -> None:
    import xlsxwriter

    write(tmp_path / "AOC_V2025Q4-MCR.txt", ["a fixed-width file we cannot read"])
    book = xlsxwriter.Workbook(str(tmp_path / "AOC_V2025Q4-MCR.xlsx"))
    sheet = book.add_worksheet()
    for r, row in enumerate([AOC_HEADER.split("\t"), *AOC_ROWS]):
        for c, text in enumerate(row):
            if text:
                sheet.write_string(r, c, text)
    book.close()
    tables = load_ncci(tmp_path, cache_dir=False)
    assert [f.name for f in tables.files] == ["AOC_V2025Q4-MCR.xlsx"]
    assert tables.skipped == ((str(tmp_path / "AOC_V2025Q4-MCR.txt"), "the same table as AOC_V2025Q4-MCR.xlsx"),)
    assert_frame_equal(tables.aoc.drop("source"),
                       load_ncci(aoc_file(tmp_path / "t" / "AOC_V2025Q4-MCR.txt", AOC_ROWS), cache_dir=False)
                       .aoc.drop("source"))


def test_the_same_seed_writes_the_same_files_in_any_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    written = []
    for hash_seed in ("1", "2"):  # string hashing differs between processes: sets iterate in other orders
        directory = tmp_path / hash_seed
        subprocess.run([sys.executable, "-c", "import sys; from codeindex.synth import write_ncci_files; "
                        "write_ncci_files(sys.argv[1], ptp_rows=3000, mue_codes=200, aoc_pairs=60)", str(directory)],
                       check=True, env={**os.environ, "PYTHONHASHSEED": hash_seed}, timeout=120)
        written.append({p.name: p.read_bytes() for p in sorted(directory.iterdir())})
    assert written[0] == written[1] and len(written[0]) == 7
