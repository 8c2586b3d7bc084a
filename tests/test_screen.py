"""``codeindex.screen``: hand-built claims through the bundled CPB 0198 and a small custom bulletin."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import codeindex
from codeindex.policy import parse_cpb
from codeindex.screen import screen
from codeindex.screen.columns import RESULT
from codeindex.screen.layouts import SYNPUF_CLAIM_DX, SYNPUF_LINES

ICD9_DAY = date(2014, 5, 1)
ICD10_DAY = date(2016, 5, 1)
RESULTS = list(RESULT)

CUSTOM = """Clinical Policy Bulletin: Test Policy
Number: 0999

CPT Codes / HCPCS Codes / ICD-9 Codes
CPT codes covered if selection criteria are met:
97110 Therapeutic exercises
CPT codes covered:
99213 Office visit
ICD-9 codes covered if selection criteria are met:
724.2 Lumbago
ICD-9 codes not covered for indications listed in the CPB:
800.00 - 999.9 Injuries and poisonings
"""


@pytest.fixture
def custom(tmp_path: Path) -> str:
    path = tmp_path / "0999.txt"
    path.write_text(CUSTOM, encoding="utf-8")
    return str(path)


def claims(rows: list[tuple], dates: bool = True) -> pl.DataFrame:
    """Rows of (claim_id, line_no, procedure, dx1, dx2, service_date)."""
    names = ["claim_id", "line_no", "procedure_code", "dx1", "dx2", "service_date"]
    schema = dict(zip(names, [pl.Int64, pl.Int32, pl.String, pl.String, pl.String, pl.Date], strict=True))
    frame = pl.DataFrame([dict(zip(names, r, strict=True)) for r in rows], schema=schema)
    return frame if dates else frame.drop("service_date")


def run(frame: pl.DataFrame | str | Path | list, **kwargs: object) -> pl.DataFrame:
    return screen(frame, **kwargs).collect()


def one(frame: pl.DataFrame, **kwargs: object) -> dict[str, object]:
    out = run(frame, **kwargs)
    assert out.height == 1
    return out.row(0, named=True)


# --- determinations, bundled CPB 0198 -------------------------------------------------------------------------


def test_not_covered_icd9_names_procedure_policy_and_first_diagnosis() -> None:
    row = one(claims([(1, 1, "97545", " 812.01 ", "V15.1", ICD9_DAY)]))
    assert row["determination"] == "not_covered"
    assert row["policy"] == "0198"
    assert row["policy_version"] == "icd9"
    assert row["matched_procedure_range"] == "97545"
    assert row["matched_dx"] == ["812.01", "V15.1"]  # trimmed input text
    assert row["matched_dx_ranges"] == ["800.00-999.9", "V15.1-V15.6"]
    assert row["edits"] == []
    reason = row["reason"]
    assert "CPT 97545" in reason
    assert "Work hardening" in reason
    assert "is not covered by CPB 0198 (ICD-9 version)" in reason
    assert "the diagnosis in dx1 is in 800.00-999.9 Injuries and poisonings (and 1 more)" in reason


def test_not_covered_whatever_the_diagnosis() -> None:
    out = run(claims([(1, 1, "97545", "401.9", None, ICD9_DAY), (2, 1, "97545", None, None, ICD9_DAY)]))
    assert out["determination"].to_list() == ["not_covered", "not_covered"]
    assert out["matched_dx"].to_list() == [[], []]
    assert all("it is not covered whatever the diagnosis" in r for r in out["reason"])


def test_not_covered_icd10_version() -> None:
    out = run(claims([(1, 1, "97537", "S72.001A", "Z87.81", ICD10_DAY),
                      (2, 1, "S9117", "M54.5", None, ICD10_DAY)]))
    assert out["determination"].to_list() == ["not_covered", "not_covered"]
    assert out["policy_version"].to_list() == ["icd10", "icd10"]
    first = out.row(0, named=True)
    assert first["matched_dx"] == ["S72.001A", "Z87.81"]
    assert first["matched_dx_ranges"] == ["S00.00X+-T88.9XX+", "Z87.81-Z87.828"]
    assert "CPT 97537" in first["reason"] and "CPB 0198 (ICD-10 version)" in first["reason"]
    assert "the diagnosis in dx1 is in S00.00X+-T88.9XX+ Injuries and poisonings (and 1 more)" in first["reason"]
    assert "HCPCS S9117 (Back school, per visit)" in out["reason"][1]


def test_procedure_named_only_in_the_other_version_is_not_applicable() -> None:
    # 97537 and S9117 are in the ICD-10 version only.
    out = run(claims([(1, 1, "97537", "812.01", None, ICD9_DAY), (2, 1, "S9117", None, None, ICD9_DAY)]))
    assert out["determination"].to_list() == ["not_applicable", "not_applicable"]
    assert "the version for this line's date of service" in out["reason"][0]


def test_not_applicable_procedure() -> None:
    row = one(claims([(1, 1, "99213", "812.01", None, ICD9_DAY)]))
    assert row["determination"] == "not_applicable"
    assert row["policy_version"] is None
    assert "not named by CPB 0198" in row["reason"]
    # Not screened: nothing was looked for, so the list columns are null, not empty.
    assert row["matched_dx"] is None and row["matched_dx_ranges"] is None and row["edits"] is None


# --- determinations, custom bulletin ---------------------------------------------------------------------------


def test_custom_policy_determinations(custom: str) -> None:
    out = run(claims([
        (1, 1, "97110", "724.2", "812.01", ICD9_DAY),   # covered dx present -> review
        (2, 1, "97110", "812.01", None, ICD9_DAY),      # only a not-covered dx -> not_covered
        (3, 1, "97110", "401.9", None, ICD9_DAY),       # neither list -> review
        (4, 1, "99213", "812.01", None, ICD9_DAY),      # covered, but a not-covered dx -> not_covered
        (5, 1, "97545", "812.01", None, ICD9_DAY),      # not named by this policy
        (6, 1, "99213", "401.9", None, ICD9_DAY),       # covered, neither list (an indicative one) -> covered
    ]), policy=custom)
    assert out["determination"].to_list() == ["review", "not_covered", "review", "not_covered", "not_applicable",
                                              "covered"]
    assert out["policy"].to_list() == ["0999"] * 6
    reasons = out["reason"].to_list()
    assert "only if its criteria are met" in reasons[0]
    assert "the diagnosis in dx1 is in its covered list" in reasons[0]
    assert "the diagnosis in dx1 is in 800.00-999.9 Injuries and poisonings" in reasons[1]
    assert "no diagnosis is in its covered list" in reasons[1]
    assert "no diagnosis on the line is in its lists" in reasons[2]
    assert reasons[3].startswith("CPT 99213 (Office visit) is covered by CPB 0999 (ICD-9 version); the diagnosis in "
                                 "dx1 is in 800.00-999.9 Injuries and poisonings")
    assert reasons[5] == "CPT 99213 (Office visit) is covered by CPB 0999 (ICD-9 version)."
    assert out["matched_dx"][1].to_list() == ["812.01"]
    assert out["matched_dx_ranges"][1].to_list() == ["800.00-999.9"]


def test_custom_policy_on_icd10_line_is_not_applicable(custom: str) -> None:
    # The bulletin has only an ICD-9 version.
    row = one(claims([(1, 1, "99213", "S72.001A", None, ICD10_DAY)]), policy=custom)
    assert row["determination"] == "not_applicable"


# --- edits -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("procedure", "dx", "day", "edit", "note"), [
    ("97545", "8OO.00", ICD9_DAY, "invalid_code", "is not an ICD-9 code"),
    ("97545", "V57.99", ICD9_DAY, "undefined_code", "is not in ICD-9-CM v31, in force from 2013-10-01 (no ICD-9-CM"),
    ("97545", "800", ICD9_DAY, "non_billable_code", "is truncated"),
    ("97545", "V15", ICD9_DAY, "partial_match", "only partly overlaps V15.1-V15.6"),
    ("97545", "S72.001A", ICD9_DAY, "icd_version_mismatch", "is an ICD-10 code on an ICD-9 line"),
    ("97545", "XYZ", ICD10_DAY, "invalid_code", "is not an ICD-10 code"),
    ("97545", "S72.999A", ICD10_DAY, "undefined_code", "is not in ICD-10-CM FY2016, in force from 2015-10-01 (no "),
    ("97545", "S00.00X", ICD10_DAY, "undefined_code", "(no ICD-10-CM release has it)"),  # a placeholder, no code
    ("97545", "S72", ICD10_DAY, "non_billable_code", "is truncated"),
    ("97545", "S72.", ICD10_DAY, "non_billable_code", "diagnosis S72. is truncated"),  # a trailing dot, as 800.
    ("97545", "Z87.8", ICD10_DAY, "partial_match", "only partly overlaps Z87.81-Z87.828"),
    ("97545", "812.01", ICD10_DAY, "icd_version_mismatch", "is an ICD-9 code on an ICD-10 line"),
    ("97545", "V20.0XXD", ICD9_DAY, "icd_version_mismatch", "is an ICD-10 code"),  # FY2016-FY2022 only
    ("97545", "718.60", ICD10_DAY, "icd_version_mismatch", "is an ICD-9 code"),  # ICD-9-CM v27-v28 only
])
def test_diagnosis_edits(procedure: str, dx: str, day: date, edit: str, note: str) -> None:
    row = one(claims([(1, 1, procedure, dx, None, day)]))
    assert row["determination"] == "not_covered"
    assert edit in row["edits"]
    assert any(note in n for n in row["notes"])  # the notes quote the value; the reason points at them
    assert "notes says why its diagnoses draw edits" in row["reason"]


@pytest.mark.parametrize(("dx", "day", "edits", "note"), [
    ("M54.5", date(2017, 3, 1), [], None),  # billable until 2021-09-30
    ("M54.5", date(2022, 3, 1), ["non_billable_code"],
     "diagnosis M54.5 is truncated: it is not billable in ICD-10-CM FY2022, in force from 2021-10-01"),
    ("M54.50", date(2021, 9, 30), ["undefined_code"],
     "diagnosis M54.50 is not in ICD-10-CM FY2021 January, in force from 2021-01-01 (it is in ICD-10-CM FY2022 to"),
    ("E11.A", date(2024, 6, 1), ["undefined_code"],
     "diagnosis E11.A is not in ICD-10-CM FY2024 April, in force from 2024-04-01 (it is in ICD-10-CM FY2026 to"),
    ("E11.A", date(2026, 1, 5), [], None),
    ("U07.1", date(2020, 5, 1), [], None), ("U07.1", date(2020, 3, 1), ["undefined_code"], "FY2020, in force"),
])
def test_diagnoses_are_checked_in_the_release_of_the_date_of_service(dx: str, day: date, edits: list[str],
                                                                      note: str | None) -> None:
    row = one(claims([(1, 1, "97545", dx, None, day)]))
    assert (row["edits"] or []) == edits
    assert (note is None) == (row["notes"] == [])
    assert note is None or any(note in n for n in row["notes"])


QA0_POLICY = """CPT Codes / HCPCS Codes / ICD-10 Codes
CPT codes not covered for indications listed in the CPB:
97545 Work hardening
ICD-10 codes not covered for indications listed in the CPB:
QA0.0142 DLG4-related synaptopathy
"""


@pytest.mark.parametrize(("dx", "day", "matched", "edits", "note"), [
    ("QA0.0142", date(2025, 11, 1), ["QA0.0142"], [], "the diagnosis in dx1 is in QA0.0142 DLG4-related synaptopathy"),
    ("qa00142", date(2026, 4, 1), ["qa00142"], [], "is in QA0.0142"),
    ("QA0.0142", date(2025, 9, 30), [], ["undefined_code"],
     "diagnosis QA0.0142 is not in ICD-10-CM FY2025 April, in force from 2025-04-01 (it is in ICD-10-CM FY2026"),
    ("QA0.0199", date(2025, 11, 1), [], ["undefined_code"], "(no ICD-10-CM release has it)"),
    ("QB0.01", date(2025, 11, 1), [], ["invalid_code"], "diagnosis 'QB0.01' is not an ICD-10 code"),
])
def test_a_diagnosis_that_starts_with_two_letters(dx: str, day: date, matched: list[str], edits: list[str],
                                                  note: str) -> None:
    """FY2026's QA0 codes are screened as the release in force on the date of service defines them."""
    row = one(claims([(1, 1, "97545", dx, None, day)]), policy=parse_cpb(QA0_POLICY))
    assert (row["determination"], row["matched_dx"], row["edits"] or []) == ("not_covered", matched, edits)
    assert note in row["reason"] if matched else any(note in n for n in row["notes"])


def test_invalid_procedure_code() -> None:
    row = one(claims([(1, 1, "9754", "812.01", None, ICD9_DAY)]))
    assert row["edits"] == ["invalid_code"]
    assert row["determination"] == "not_applicable"
    assert "Procedure code '9754' cannot be read" in row["reason"]


def test_addon_without_primary_is_claim_level() -> None:
    out = run(claims([
        (1, 1, "97545", "812.01", None, ICD9_DAY), (1, 2, "97546", "812.01", None, ICD9_DAY),  # has primary
        (2, 1, "97546", "812.01", None, ICD9_DAY),                                              # alone
        (3, 1, "97546", "S72.001A", None, ICD10_DAY),                                           # alone, ICD-10
        (4, 1, "99213", None, None, ICD9_DAY), (4, 2, "97546", None, None, ICD9_DAY),          # alone
    ]))
    flagged = ["addon_without_primary" in (e or []) for e in out["edits"].to_list()]
    assert flagged == [False, False, True, True, False, True]
    assert out["determination"].to_list()[:4] == ["not_covered"] * 4
    assert "add-on 97546 is billed without its primary 97545 on the claim" in out["reason"][2]


def test_invalid_date() -> None:
    frame = pl.DataFrame({"claim_id": [1, 2, 3], "procedure_code": ["97545", "97545", "97545"],
                          "dx1": ["812.01", "812.01", "S72.001A"],
                          "service_date": ["2014-13-45", "20140501", "2016-01-01"]})
    out = run(frame)
    assert out["edits"].to_list() == [["invalid_date"], [], []]
    assert out["policy_version"].to_list() == [None, "icd9", "icd10"]
    assert out["determination"][0] == "review"
    assert "the date of service in service_date cannot be read" in out["reason"][0]
    # With a fallback ICD version the era is known, but the date is still flagged.
    out = run(frame, icd_version=9)
    assert out["policy_version"][0] == "icd9"
    assert out["determination"][0] == "not_covered"
    assert out["edits"][0].to_list() == ["invalid_date"]


def test_icd_version_column_wins_over_date() -> None:
    frame = pl.DataFrame({"claim_id": [1, 2, 3], "procedure_code": ["97545"] * 3, "dx1": ["S72.001A"] * 3,
                          "icd_version": [10, None, 9], "service_date": [ICD9_DAY, ICD10_DAY, ICD10_DAY]})
    out = run(frame)
    assert out["policy_version"].to_list() == ["icd10", "icd10", "icd9"]
    assert out["edits"].to_list() == [[], [], ["icd_version_mismatch"]]


ICD_VERSIONS = [("9", "icd9"), ("09", "icd9"), ("9.0", "icd9"), (" icd-9 ", "icd9"), ("ICD9", "icd9"),
                ("ICD-9-CM", "icd9"), ("10", "icd10"), ("ICD-10", "icd10"), ("icd10cm", "icd10"),
                ("0", "icd10")]  # 0: the CMS diagnosis version code for ICD-10


@pytest.mark.parametrize(("written", "era"), ICD_VERSIONS, ids=[w for w, _ in ICD_VERSIONS])
def test_icd_version_spellings(written: str, era: str) -> None:
    day = ICD10_DAY if era == "icd9" else ICD9_DAY  # the column must win over the date
    frame = pl.DataFrame({"claim_id": [1], "procedure_code": ["97545"], "dx1": ["812.01"], "icd_version": [written],
                          "service_date": [day]})
    row = one(frame)
    assert row["policy_version"] == era
    assert row["edits"] == ([] if era == "icd9" else ["icd_version_mismatch"])


def test_unreadable_icd_version_is_flagged_and_the_date_decides() -> None:
    frame = pl.DataFrame({"claim_id": [1, 2, 3, 4], "procedure_code": ["97545"] * 4, "dx1": ["812.01"] * 4,
                          "icd_version": ["ICD11", "99", " ", None],
                          "service_date": [ICD9_DAY, ICD9_DAY, ICD9_DAY, None]})
    out = run(frame)
    assert out["policy_version"].to_list() == ["icd9", "icd9", "icd9", None]
    assert out["determination"].to_list() == ["not_covered", "not_covered", "not_covered", "review"]
    assert out["edits"].to_list() == [["invalid_icd_version"], ["invalid_icd_version"], [], []]
    assert "the ICD version in icd_version cannot be read" in out["reason"][0]
    assert "no readable ICD version" in out["reason"][3]
    # Lines the policy does not name are not looked at: no edit there.
    other = run(frame.with_columns(procedure_code=pl.lit("99213")))
    assert other["edits"].to_list() == [None] * 4


def test_icd_version_argument_is_the_last_resort() -> None:
    frame = claims([(1, 1, "97545", "812.01", None, None)], dates=False)
    assert one(frame, icd_version=9)["policy_version"] == "icd9"
    row = one(frame, icd_version=10)
    assert row["policy_version"] == "icd10"
    assert row["edits"] == ["icd_version_mismatch"]
    with pytest.raises(codeindex.InputError, match="ICD version"):
        screen(frame)


def test_edits_all_flags_diagnoses_on_not_applicable_lines() -> None:
    frame = claims([(1, 1, "99213", "8OO.00", None, ICD9_DAY), (2, 1, "99213", "401.9", None, ICD9_DAY)])
    assert run(frame)["edits"].to_list() == [None, None]  # not checked by default
    out = run(frame, edits="all")
    assert out["edits"].to_list() == [["invalid_code"], []]
    assert out["determination"].to_list() == ["not_applicable", "not_applicable"]
    with pytest.raises(codeindex.InputError):
        screen(frame, edits="some")


# --- rows, order, columns --------------------------------------------------------------------------------------


def messy() -> pl.DataFrame:
    return pl.DataFrame({
        "claim_id": [3, 1, None, 2, 1, 7, 7, 9, 3],
        "line_no": [1, 1, 1, 1, 2, 1, 2, 1, 2],
        "procedure_code": ["97546", "97545", None, "", "  ", "XYZ", "97545 ", "99213", "97545"],
        "dx1": [None, "", "812.01", "garbage!!", "V57.22", None, "V15.1", "", "NULL"],
        "dx2": ["", None, None, "800.00", None, "E880.12", "", "V57.2.2", None],
        "service_date": [ICD9_DAY, None, ICD9_DAY, ICD10_DAY, ICD9_DAY, None, ICD9_DAY, ICD10_DAY, ICD10_DAY],
        "paid_amount": [1.5, None, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    }, schema_overrides={"line_no": pl.Int32})


def test_rows_in_equal_rows_out_in_order() -> None:
    frame = messy()
    for kwargs in ({}, {"edits": "all"}, {"icd_version": 9}):
        out = run(frame, **kwargs)
        assert out.columns == [*frame.columns, *RESULTS]
        assert_frame_equal(out.select(frame.columns), frame)
        assert dict(out.select(RESULTS).schema) == RESULT
        assert out["determination"].null_count() == 0
        assert set(out["determination"]) <= {"not_covered", "review", "covered", "not_applicable"}


def test_output_file_is_byte_identical(tmp_path: Path) -> None:
    from codeindex.outputs import write_atomically

    frame = messy()
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_atomically(screen(frame), first)
    write_atomically(screen(frame), second)
    assert first.read_bytes() == second.read_bytes()
    run(frame).write_parquet(tmp_path / "c.parquet")
    run(frame).write_parquet(tmp_path / "d.parquet")
    assert (tmp_path / "c.parquet").read_bytes() == (tmp_path / "d.parquet").read_bytes()


def test_column_overrides() -> None:
    frame = pl.DataFrame({"clm": ["x", "x", "y"], "hcpcs": ["97545", "97546", "97546"],
                          "diag_a": ["401.9", None, "812.01"], "diag_b": ["812.01", "V57.22", None],
                          "dos": ["2014-05-01", "2014-05-01", "2014-05-01"]})
    out = run(frame, procedure="hcpcs", dx=["diag_a", "diag_b"], date="dos", claim_id="clm")
    assert out.columns == [*frame.columns, *RESULTS]
    assert out["determination"].to_list() == ["not_covered"] * 3
    assert out["matched_dx"].to_list() == [["812.01"], ["V57.22"], ["812.01"]]
    assert [("addon_without_primary" in (e or [])) for e in out["edits"].to_list()] == [False, False, True]
    # dx order follows the override.
    out = run(frame, procedure="hcpcs", dx=["diag_b", "diag_a"], date="dos", claim_id="clm")
    assert out["matched_dx"][0].to_list() == ["812.01"]


@pytest.mark.parametrize(("kwargs", "column"), [
    ({"procedure": "nope"}, "nope"), ({"claim_id": "clm"}, "clm"), ({"dx": ["dx1", "dx9"]}, "dx9"),
    ({"date": "dos"}, "dos"),
])
def test_missing_column_raises_input_error(kwargs: dict, column: str) -> None:
    frame = claims([(1, 1, "97545", "812.01", None, ICD9_DAY)])
    with pytest.raises(codeindex.InputError, match=repr(column)):
        screen(frame, **kwargs)


def test_missing_default_columns_raise_input_error() -> None:
    frame = claims([(1, 1, "97545", "812.01", None, ICD9_DAY)])
    with pytest.raises(codeindex.InputError, match="procedure_code"):
        screen(frame.drop("procedure_code"))
    with pytest.raises(codeindex.InputError, match="claim_id"):
        screen(frame.drop("claim_id"))
    with pytest.raises(codeindex.InputError, match="diagnosis"):
        screen(frame.drop("dx1", "dx2"))


# --- sources ---------------------------------------------------------------------------------------------------


def source_frame() -> pl.DataFrame:
    # Claim 5's 97545 sits in the first half and its 97546 in the second.
    return claims([
        (1, 1, "97545", "812.01", "V15.1", ICD9_DAY), (1, 2, "97546", "812.01", None, ICD9_DAY),
        (2, 1, "99213", "401.9", None, ICD9_DAY), (3, 1, "97546", "S72.001A", None, ICD10_DAY),
        (5, 1, "97545", "Z87.81", None, ICD10_DAY),
        (5, 2, "97546", "Z87.81", None, ICD10_DAY), (6, 1, "S9117", "M54.5", None, ICD10_DAY),
        (7, 1, "97545", "8OO.00", None, ICD9_DAY), (8, 1, None, "", None, ICD9_DAY),
    ])


def test_sources_give_the_same_result(tmp_path: Path) -> None:
    frame = source_frame()
    expected = run(frame)
    assert not any("addon_without_primary" in e for e in expected["edits"][5].to_list())
    assert "addon_without_primary" in expected["edits"][3].to_list()

    parquet = tmp_path / "claims.parquet"
    frame.write_parquet(parquet)
    assert_frame_equal(run(str(parquet)), expected)
    assert_frame_equal(run(parquet), expected)
    assert_frame_equal(run(frame.lazy()), expected)

    parts = tmp_path / "parts"
    parts.mkdir()
    frame.head(5).write_parquet(parts / "part-0.parquet")
    frame.slice(5).write_parquet(parts / "part-1.parquet")
    assert_frame_equal(run(parts), expected)
    assert_frame_equal(run(str(parts / "*.parquet")), expected)
    assert_frame_equal(run([parts / "part-0.parquet", parts / "part-1.parquet"]), expected)

    csv = tmp_path / "claims.csv"
    frame.write_csv(csv)
    from_csv = run(csv)  # CSV columns stay text
    assert_frame_equal(from_csv.select(RESULTS), expected.select(RESULTS))
    assert from_csv["procedure_code"].to_list() == expected["procedure_code"].to_list()


def test_unreadable_and_missing_sources(tmp_path: Path) -> None:
    bad = tmp_path / "x.parquet"
    bad.write_bytes(b"not a parquet file")
    with pytest.raises(codeindex.InputError, match=r"x\.parquet"):
        screen(bad)
    with pytest.raises(codeindex.InputError, match="no such file"):
        screen(tmp_path / "missing.parquet")
    with pytest.raises(codeindex.InputError, match="layout"):
        screen(source_frame(), layout="wide")


# --- synpuf-carrier layout -------------------------------------------------------------------------------------


def carrier(claims_: list[dict]) -> pl.DataFrame:
    """Carrier claim rows; each dict has id, date, dx (claim dx list) and lines [(hcpcs, line dx, amount)]."""
    records = []
    for c in claims_:
        record: dict[str, object] = {"DESYNPUF_ID": f"P{c['id']}", "CLM_ID": str(c["id"]), "CLM_FROM_DT": c["date"]}
        for i in range(1, SYNPUF_CLAIM_DX + 1):
            record[f"ICD9_DGNS_CD_{i}"] = c["dx"][i - 1] if i <= len(c["dx"]) else None
        for i in range(1, SYNPUF_LINES + 1):
            line = c["lines"][i - 1] if i <= len(c["lines"]) else (None, None, 0.0)
            record[f"HCPCS_CD_{i}"], record[f"LINE_ICD9_DGNS_CD_{i}"], record[f"LINE_NCH_PMT_AMT_{i}"] = line
        records.append(record)
    schema = {k: (pl.Int64 if k == "CLM_FROM_DT" else pl.Float64 if k.startswith("LINE_NCH") else pl.String)
              for k in records[0]}
    return pl.DataFrame(records, schema=schema)


SYNPUF_OUTPUT = ["DESYNPUF_ID", "CLM_ID", "CLM_FROM_DT", "line_num", "HCPCS_CD", "LINE_ICD9_DGNS_CD",
                 "LINE_NCH_PMT_AMT", *(f"ICD9_DGNS_CD_{i}" for i in range(1, 9))]  # every column of the claim


def test_synpuf_carrier_layout(tmp_path: Path, custom: str) -> None:
    frame = carrier([
        {"id": 10, "date": 20090315, "dx": ["401.9", "V15.1"],
         "lines": [("99213", "401.9", 50.0), ("97545", "724.2", 80.0), ("", None, 0.0), ("97546", None, 30.0)]},
        {"id": 11, "date": 20090401, "dx": [],
         "lines": [("97546", "812.01", 20.0), (None, None, 0.0), ("  ", None, 0.0), ("97110", "8OO.00", 5.0)]},
        {"id": 12, "date": 20161101, "dx": ["S72.001A"], "lines": [("97537", None, 10.0)]},
        {"id": 13, "date": 20090101, "dx": ["812.01"], "lines": []},
    ])
    out = run(frame, layout="synpuf-carrier")
    assert out.columns == [*SYNPUF_OUTPUT, *RESULTS]
    assert out.select("CLM_ID", "line_num").rows() == [("10", 1), ("10", 2), ("10", 4), ("11", 1), ("11", 4),
                                                      ("12", 1)]
    assert out["HCPCS_CD"].to_list() == ["99213", "97545", "97546", "97546", "97110", "97537"]
    assert out["LINE_NCH_PMT_AMT"].to_list() == [50.0, 80.0, 30.0, 20.0, 5.0, 10.0]
    assert out["determination"].to_list() == ["not_applicable", "not_covered", "not_covered", "not_covered",
                                              "not_applicable", "not_covered"]
    assert out["policy_version"].to_list()[1:4] == ["icd9"] * 3
    # Claim diagnoses count for every line: V15.1 of the claim matches on line 2.
    assert out["matched_dx"][1].to_list() == ["V15.1"]
    assert out["matched_dx_ranges"][1].to_list() == ["V15.1-V15.6"]
    assert out["matched_dx"][3].to_list() == ["812.01"]
    assert [("addon_without_primary" in (e or [])) for e in out["edits"].to_list()] == [False, False, False, True,
                                                                                 False, False]
    assert "the diagnosis in ICD9_DGNS_CD_1 is in S00.00X+-T88.9XX+" in out["reason"][5]  # the claim's column

    path = tmp_path / "carrier.parquet"
    frame.write_parquet(path)
    assert_frame_equal(run(path, layout="synpuf-carrier"), out)

    with_custom = run(frame, layout="synpuf-carrier", policy=custom)
    assert with_custom["determination"].to_list() == ["covered", "not_applicable", "not_applicable",
                                                      "not_applicable", "review", "not_applicable"]
    assert "invalid_code" in with_custom["edits"][4].to_list()

    with pytest.raises(codeindex.InputError, match="HCPCS_CD_13"):
        screen(frame.drop("HCPCS_CD_13"), layout="synpuf-carrier")
    with pytest.raises(codeindex.InputError):
        screen(frame, layout="synpuf-carrier", procedure="HCPCS_CD")


# --- streaming: the same answer, one slice at a time -------------------------------------------------------


def test_streaming_equals_in_memory_across_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import codeindex.screen.driver as driver
    from codeindex.synth import long_claims

    path = tmp_path / "claims.parquet"
    frame = long_claims(3000, seed=5)
    # A claim whose 97545 and 97546 lines fall in different slices of 700 lines.
    split = pl.DataFrame({"claim_id": [10**9, 10**9], "line_no": [1, 2], "procedure_code": ["97545", "97546"]},
                         schema_overrides={"line_no": pl.Int32})
    frame = pl.concat([frame.head(699), split.join(frame.head(1).drop("claim_id", "line_no", "procedure_code"),
                                                   how="cross").select(frame.columns), frame.slice(699)])
    frame.write_parquet(path)
    monkeypatch.setattr(driver, "CHUNK_ROWS", 700)
    in_memory = screen(path).collect()
    streamed = screen(path, streaming=True).collect(engine="streaming")
    assert streamed.height == frame.height
    assert streamed.equals(in_memory)
    split_rows = streamed.filter(pl.col("claim_id") == 10**9)
    assert split_rows["determination"].to_list() == ["not_covered", "not_covered"]
    assert all("addon_without_primary" not in (e or []) for e in split_rows["edits"].to_list())


def test_streaming_synpuf_carrier_equals_in_memory_across_slices(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Carrier claims are sliced by claim row before they become lines: slices of 20 claims here."""
    import codeindex.screen.driver as driver
    from codeindex.synth import synpuf_carrier_claims

    path = tmp_path / "carrier.parquet"
    claims = synpuf_carrier_claims(400, seed=3, policy_share=0.2)
    claims.write_parquet(path)
    monkeypatch.setattr(driver, "CHUNK_ROWS", 20 * 13)
    in_memory = screen(path, layout="synpuf-carrier").collect()
    streamed = screen(path, layout="synpuf-carrier", streaming=True).collect(engine="streaming")
    assert streamed.equals(in_memory)
    assert in_memory.height > 400 and (in_memory["determination"] == "not_covered").sum() > 20


# --- the Python API, as a newcomer calls it (issue 27) -----------------------------------------------------------


def test_one_diagnosis_column_may_be_given_as_a_name() -> None:
    frame = pl.DataFrame({"claim_id": [1], "procedure_code": ["97545"], "ICD_DX1": ["800.00"],
                          "service_date": [ICD9_DAY]})
    assert one(frame, dx="ICD_DX1")["matched_dx"] == ["800.00"]  # not read one character at a time
    assert one(frame, dx=["ICD_DX1"])["matched_dx"] == ["800.00"]


def test_an_unknown_option_names_the_ones_there_are() -> None:
    frame = claims([(1, 1, "97545", "800.00", None, ICD9_DAY)])
    with pytest.raises(TypeError, match="unknown option 'diagnoses'; the column options are claim_id, procedure, dx"):
        screen(frame, diagnoses=["dx1"])


@pytest.mark.parametrize("streaming", ["yes", 1, None])
def test_streaming_is_true_or_false(streaming: object) -> None:
    with pytest.raises(codeindex.InputError, match=f"streaming must be True or False, not {streaming!r}"):
        screen(claims([(1, 1, "97545", "800.00", None, ICD9_DAY)]), streaming=streaming)  # type: ignore[arg-type]
