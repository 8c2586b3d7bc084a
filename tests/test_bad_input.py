"""Malformed input (issue 7): every kind, with the outcome it must have.

Readable input: ``screen`` returns every line it read, in order, and a bad code or
date flags its line (an edit) without stopping the run.  Unreadable input: a clear
error; through the CLI, exit status 2 and one stderr line naming the file and the
problem, never a traceback.  The table below is the corpus; files that are awkward
to write by hand (empty, truncated or corrupt parquet) are generated from a good one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeindex.errors import InputError, InvalidCodeError, PolicyParseError
from codeindex.policy import load_policy, parse_cpb
from codeindex.screen import screen
from codeindex.screen.procedures import procedure_code

CORPUS = Path(__file__).parent / "bad_input"
ICD9_DAY, ICD10_DAY = "2012-01-05", "2016-01-05"

# (kind, column, value, date of service, expected edits, a fragment of the reason or a note, or None)
# Every other column of the line is good: procedure 97545 (named by CPB 0198), dx1 800.00 / S72.001A.
LINE_CASES: list[tuple[str, str, object, str | None, list[str], str | None]] = [
    ("letter O for zero", "dx1", "8OO.00", ICD9_DAY, ["invalid_code"], "letter O"),
    ("two dots", "dx1", "800..00", ICD9_DAY, ["invalid_code"], "'800..00' is not an ICD-9 code"),
    ("two dots in a V code", "dx1", "V57.2.2", ICD9_DAY, ["invalid_code"], None),
    ("two dots, ICD-10", "dx1", "S72..001A", ICD10_DAY, ["invalid_code"], None),
    ("trailing dot: read as the truncated category", "dx1", "800.", ICD9_DAY, ["non_billable_code"], "truncated"),
    ("space inside a code", "dx1", "800 .00", ICD9_DAY, ["invalid_code"], None),
    ("space inside an ICD-10 code", "dx1", "S72 001A", ICD10_DAY, ["invalid_code"], None),
    ("leading and trailing spaces are trimmed", "dx1", "  800.00 ", ICD9_DAY, [], "the diagnosis in dx1 is in 800.00"),
    ("tab and newline are trimmed", "dx1", "\t800.00\n", ICD9_DAY, [], "the diagnosis in dx1 is in 800.00"),
    ("lower case is read as upper", "dx1", "v57.22", ICD9_DAY, [], "the diagnosis in dx1 is in V57.22"),
    ("lower case ICD-10", "dx1", "s72.001a", ICD10_DAY, [], "is in S00.00X+"),
    ("empty string: no diagnosis", "dx1", "", ICD9_DAY, [], "whatever the diagnosis"),
    ("blank string: no diagnosis", "dx1", "   ", ICD9_DAY, [], "whatever the diagnosis"),
    ("null: no diagnosis", "dx1", None, ICD9_DAY, [], "whatever the diagnosis"),
    ("the string NULL", "dx1", "NULL", ICD9_DAY, ["invalid_code"], "'NULL'"),
    ("the string nan", "dx1", "nan", ICD9_DAY, ["invalid_code"], "'nan'"),
    ("the string None", "dx1", "None", ICD9_DAY, ["invalid_code"], "'None'"),
    ("the string NULL, ICD-10", "dx1", "NULL", ICD10_DAY, ["invalid_code"], "'NULL'"),
    ("over-long ICD-9", "dx1", "800000000", ICD9_DAY, ["invalid_code"], None),
    ("over-long ICD-10", "dx1", "S72.001AAA", ICD10_DAY, ["invalid_code"], "longer than 7"),
    ("Arabic-Indic digits", "dx1", "\u0668\u0660\u0660.\u0660\u0660", ICD9_DAY, ["invalid_code"], None),
    ("fullwidth digits", "dx1", "\uff18\uff10\uff10.\uff10\uff10", ICD9_DAY, ["invalid_code"], None),
    ("fullwidth digits in an ICD-10 code", "dx1", "S\uff17\uff12.001A", ICD10_DAY, ["invalid_code"], None),
    ("ICD-10 code on an ICD-9 era line", "dx1", "S72.001A", ICD9_DAY, ["icd_version_mismatch"],
     "S72.001A is an ICD-10 code on an ICD-9 line"),
    ("ICD-9 code on an ICD-10 era line", "dx1", "800.00", ICD10_DAY, ["icd_version_mismatch"],
     "800.00 is an ICD-9 code on an ICD-10 line"),
    ("valid form, not in the code set", "dx1", "100.7", ICD9_DAY, ["undefined_code"], None),
    ("procedure with a hyphenated modifier", "procedure_code", "97545-GP", ICD9_DAY, ["modifiers_split"],
     "procedure '97545-GP' read as 97545, its modifiers GP split off"),
    ("procedure with a modifier attached", "procedure_code", "97545GP", ICD9_DAY, ["modifiers_split"],
     "its modifiers GP split off"),
    ("procedure with a spaced modifier", "procedure_code", "97545 GP", ICD9_DAY, ["modifiers_split"],
     "its modifiers GP split off"),
    ("procedure with two modifiers", "procedure_code", "97545-GP-59", ICD9_DAY, ["modifiers_split"],
     "its modifiers GP, 59 split off"),
    ("procedure with a one-character modifier: its code part is the policy's", "procedure_code", "97545-G",
     ICD9_DAY, ["invalid_code"], "starts with CPT 97545, which CPB 0198 names: review it"),
    ("procedure with five modifiers", "procedure_code", "97545-GP-59-LT-RT-XS", ICD9_DAY, ["invalid_code"],
     "review it"),
    ("procedure one digit short", "procedure_code", "9754", ICD9_DAY, ["invalid_code"], "cannot be read"),
    ("procedure as a float's text: its code part is the policy's", "procedure_code", "97545.0", ICD9_DAY,
     ["invalid_code"], "cannot be read"),
    ("empty procedure", "procedure_code", "", ICD9_DAY, ["invalid_code"], "empty"),
    ("null procedure", "procedure_code", None, ICD9_DAY, ["invalid_code"], "empty"),
    ("the string NULL as procedure", "procedure_code", "NULL", ICD9_DAY, ["invalid_code"], "'NULL'"),
    ("procedure with spaces is trimmed", "procedure_code", " 97545 ", ICD9_DAY, [], "CPT 97545"),
    ("lower-case HCPCS is read as upper", "procedure_code", "s9117", ICD10_DAY, [], "HCPCS S9117"),
    ("date as YYYYMMDD", "service_date", "20120105", None, [], "ICD-9 version"),
    ("date with spaces", "service_date", " 2012-01-05 ", None, [], "ICD-9 version"),
    ("date as MM/DD/YYYY (ambiguous, not guessed)", "service_date", "01/05/2012", None, ["invalid_date"],
     "the date of service in service_date cannot be read"),
    ("date with dots", "service_date", "2012.01.05", None, ["invalid_date"], None),
    ("date with a month name", "service_date", "05-Jan-2012", None, ["invalid_date"], None),
    ("date with a time", "service_date", "2012-01-05 10:00", None, ["invalid_date"], None),
    ("impossible date: 30 February", "service_date", "2012-02-30", None, ["invalid_date"], None),
    ("impossible date: month 13", "service_date", "20121340", None, ["invalid_date"], None),
    ("empty date: missing, like null", "service_date", "", None, [], "policy version that applies is unknown"),
    ("null date: the version is unknown", "service_date", None, None, [], "policy version that applies is unknown"),
]


def _line_frame(cases: list[tuple]) -> pl.DataFrame:
    rows = []
    for i, (_, column, value, day, _, _) in enumerate(cases):
        row = {"claim_id": f"c{i}", "procedure_code": "97545", "dx1": "S72.001A" if day == ICD10_DAY else "800.00",
               "service_date": day}
        row[column] = value
        rows.append(row)
    return pl.DataFrame(rows, schema={"claim_id": pl.String, "procedure_code": pl.String, "dx1": pl.String,
                                      "service_date": pl.String})


def test_every_bad_line_is_flagged_and_kept_in_order() -> None:
    frame = _line_frame(LINE_CASES)
    out = screen(frame).collect()
    assert out.height == frame.height
    assert out["claim_id"].to_list() == frame["claim_id"].to_list()
    failures = []
    for (kind, column, value, _, edits, fragment), row in zip(LINE_CASES, out.iter_rows(named=True), strict=True):
        said = " | ".join([row["reason"], *(row["notes"] or [])])  # the reason, and the notes it points at
        if row["edits"] != edits or (fragment is not None and fragment not in said):
            failures.append(f"{kind} ({column}={value!r}): edits {row['edits']}, reason and notes {said!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("kind", "column", "value", "day", "edits", "fragment"), LINE_CASES,
                         ids=[c[0] for c in LINE_CASES])
def test_one_bad_line_among_good_ones(kind: str, column: str, value: object, day: str | None, edits: list[str],
                                      fragment: str | None) -> None:
    good = (kind, "claim_id", "good", ICD9_DAY, [], None)
    frame = _line_frame([good, (kind, column, value, day, edits, fragment), good])
    out = screen(frame).collect()
    assert out["claim_id"].to_list() == frame["claim_id"].to_list()
    assert out["edits"].to_list() == [[], edits, []]


# (kind, a column, its values as stored, expected edits per line, or an error fragment)
DTYPE_CASES: list[tuple[str, str, pl.Series, list[list[str]] | None, str | None]] = [
    ("integer dx column: coerced to its digits", "dx1", pl.Series([80000, 80001]), [[], []], None),
    ("integer procedure column: coerced", "procedure_code", pl.Series([97545, 97545]), [[], []], None),
    ("categorical dx column: coerced", "dx1", pl.Series(["800.00", "V57.22"], dtype=pl.Categorical), [[], []],
     None),
    ("all-null dx column", "dx1", pl.Series([None, None]), [[], []], None),
    ("float dx column (800.0 has lost a digit): refused", "dx1", pl.Series([800.0, 800.01]), None,
     "column 'dx1' holds Float64; expected codes as text"),
    ("float procedure column: refused", "procedure_code", pl.Series([97545.0, 97545.0]), None,
     "column 'procedure_code' holds Float64"),
    ("boolean dx column: refused", "dx1", pl.Series([True, False]), None, "column 'dx1' holds Boolean"),
    ("list dx column: refused", "dx1", pl.Series([["800.00"], ["V57.22"]]), None, "column 'dx1' holds List"),
    ("integer date column YYYYMMDD: coerced", "service_date", pl.Series([20120105, 20160105]),
     [[], ["icd_version_mismatch"]], None),
    ("integer date column, impossible dates", "service_date", pl.Series([20120230, 0]),
     [["invalid_date"], ["invalid_date"]], None),
    ("date column", "service_date", pl.Series([date(2012, 1, 5), date(2016, 1, 5)]),
     [[], ["icd_version_mismatch"]], None),
    ("datetime column", "service_date", pl.Series([datetime(2012, 1, 5, 10), datetime(2016, 1, 5)]),
     [[], ["icd_version_mismatch"]], None),
    ("float date column: refused", "service_date", pl.Series([20120105.0, 1.0]), None,
     "column 'service_date' holds Float64"),
    ("integer icd_version column", "icd_version", pl.Series([9, 10]), [[], ["icd_version_mismatch"]], None),
    ("float icd_version column 9.0 / 10.0", "icd_version", pl.Series([9.0, 10.0]), [[], ["icd_version_mismatch"]],
     None),
]


@pytest.mark.parametrize(("kind", "column", "values", "edits", "error"), DTYPE_CASES, ids=[c[0] for c in DTYPE_CASES])
def test_column_types(kind: str, column: str, values: pl.Series, edits: list[list[str]] | None,
                      error: str | None, tmp_path: Path) -> None:
    frame = pl.DataFrame({"claim_id": ["a", "b"], "procedure_code": ["97545", "97545"], "dx1": ["800.00", "800.00"],
                          "service_date": [ICD9_DAY, ICD9_DAY]}).with_columns(values.alias(column))
    path = tmp_path / "claims.parquet"
    frame.write_parquet(path)  # as stored in a parquet file, then read back by the screen
    if error is not None:
        with pytest.raises(InputError, match=error.replace("(", r"\(").replace(")", r"\)")):
            screen(path).collect()
        result = cli("screen", str(path), "-o", str(tmp_path / "out.parquet"))
        assert_one_line_error(result, str(path), error)
        return
    out = screen(path).collect()
    assert out["claim_id"].to_list() == ["a", "b"]
    assert out["edits"].to_list() == edits


def test_integer_dx_reads_as_its_digits() -> None:
    out = screen(pl.DataFrame({"claim_id": ["a"], "procedure_code": [97545], "dx1": [80000],
                               "service_date": [ICD9_DAY]})).collect()
    assert out["dx1"].to_list() == [80000]  # the input column comes back as given
    assert out["matched_dx"].to_list() == [["80000"]]


def test_dates_file(tmp_path: Path) -> None:
    out = screen(CORPUS / "dates.csv").collect()
    assert out["claim_id"].to_list() == [str(i) for i in range(1, 12)]
    bad = ["invalid_date"]
    assert out["edits"].to_list() == [[], [], [], bad, bad, bad, bad, bad, bad, [], []]
    assert out["determination"].to_list()[9] == "review"  # an empty date in a CSV is a null: version unknown


# ---- the command line: unreadable input is one stderr line and exit status 2 ----------------------------------

def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codeindex.cli", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def assert_one_line_error(result: subprocess.CompletedProcess[str], names: str, fragment: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert names in lines[0], lines[0]
    assert fragment in lines[0], lines[0]


GOOD = pl.DataFrame({"claim_id": ["1", "2", "3"], "procedure_code": ["97545", "99213", "97545-GP"],
                     "dx1": ["800.00", "V57.22", "8OO.00"], "service_date": [ICD9_DAY, ICD9_DAY, ICD9_DAY]})


def _make(tmp_path: Path, kind: str) -> tuple[list[str], str]:
    """Write the input of one file-level kind; return the CLI inputs and the name the error must give."""
    good = tmp_path / "good.parquet"
    GOOD.write_parquet(good)
    data = good.read_bytes()
    if kind == "empty parquet file":
        (path := tmp_path / "empty.parquet").write_bytes(b"")
    elif kind == "truncated parquet":
        (path := tmp_path / "truncated.parquet").write_bytes(data[: len(data) // 2])
    elif kind == "garbage between parquet magic":
        (path := tmp_path / "garbage.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 2 + b"PAR1")
    elif kind == "corrupt page inside a parquet file":
        n = 20_000
        big = pl.DataFrame({"claim_id": [str(i) for i in range(n)], "procedure_code": ["97545"] * n,
                            "dx1": [f"8{i % 100:02d}.00" for i in range(n)], "service_date": [ICD9_DAY] * n})
        path = tmp_path / "corrupt.parquet"
        big.write_parquet(path, compression="uncompressed", row_group_size=5000)
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 3: len(raw) // 3 + 2000] = b"\xab" * 2000
        path.write_bytes(bytes(raw))
    elif kind == "missing procedure column":
        GOOD.drop("procedure_code").write_parquet(path := tmp_path / "nocol.parquet")
    elif kind == "directory mixing good and truncated files":
        (path := tmp_path / "mixed").mkdir()
        GOOD.write_parquet(path / "a.parquet")
        (path / "b.parquet").write_bytes(data[: len(data) // 2])
        return [str(path)], str(path / "b.parquet")
    elif kind == "directory mixing files with different columns":
        (path := tmp_path / "mixed").mkdir()
        GOOD.write_parquet(path / "a.parquet")
        GOOD.drop("dx1").write_parquet(path / "b.parquet")
        return [str(path)], str(path / "b.parquet")
    elif kind == "empty directory":
        (path := tmp_path / "nothing").mkdir()
    elif kind == "missing file":
        path = tmp_path / "absent.parquet"
    elif kind == "glob matching nothing":
        path = tmp_path / "*.nothing.parquet"
    elif kind == "float dx column":
        GOOD.with_columns(dx1=pl.Series([800.0, 57.22, 800.0])).write_parquet(path := tmp_path / "float.parquet")
    else:
        path = CORPUS / kind
    return [str(path)], str(path)


FILE_ERRORS = [
    ("empty parquet file", "cannot read it as parquet"),
    ("truncated parquet", "cannot read it as parquet"),
    ("garbage between parquet magic", "cannot read it as parquet"),
    ("corrupt page inside a parquet file", "cannot read it"),
    ("missing procedure column", "no column 'procedure_code' (the procedure code: pass --procedure COLUMN"),
    ("directory mixing good and truncated files", "cannot read it as parquet"),
    ("directory mixing files with different columns", "columns differ"),
    ("empty directory", "holds no .parquet or .csv files"),
    ("missing file", "no such file or directory"),
    ("glob matching nothing", "no files match"),
    ("float dx column", "column 'dx1' holds Float64"),
    ("empty.csv", "cannot read it as csv"),
    ("ragged.csv", "line 3: 2 fields, but the header has 4"),
    ("bad_utf8.csv", "cannot read it"),
    ("no_dx_columns.csv", "no diagnosis columns"),
    ("no_procedure_column.csv", "no column 'procedure_code'"),
    ("no_era.csv", "cannot tell the ICD version"),
    ("text_amount.csv", "column 'paid_amount' holds 'abc' at row 4, which is not a finite number"),
]


@pytest.mark.parametrize(("kind", "fragment"), FILE_ERRORS, ids=[k for k, _ in FILE_ERRORS])
def test_unreadable_input_is_one_line_and_exit_2(kind: str, fragment: str, tmp_path: Path) -> None:
    inputs, name = _make(tmp_path, kind)
    out = tmp_path / "out.parquet"
    result = cli("screen", *inputs, "-o", str(out))
    assert_one_line_error(result, name, fragment)
    assert not out.exists()
    assert not list(tmp_path.glob(".out.parquet.*.partial"))  # a failed run cleans up its temporary file


@pytest.mark.parametrize("kind", ["schema, zero rows (parquet)", "header only (CSV)", "directory of good files"])
def test_readable_edge_files_keep_every_line(kind: str, tmp_path: Path) -> None:
    if kind.startswith("schema"):
        GOOD.head(0).write_parquet(source := tmp_path / "zero.parquet")
        expected = 0
    elif kind.startswith("header"):
        source, expected = CORPUS / "header_only.csv", 0
    else:
        (source := tmp_path / "dir").mkdir()
        GOOD.write_parquet(source / "a.parquet")
        GOOD.with_columns(claim_id=pl.lit("x") + pl.col("claim_id")).write_parquet(source / "b.parquet")
        expected = 2 * GOOD.height
    out = tmp_path / "out.parquet"
    result = cli("screen", str(source), "-o", str(out))
    assert result.returncode == 0, result.stderr
    written = pl.read_parquet(out)
    assert written.height == expected
    assert {"determination", "edits", "reason"} <= set(written.columns)
    if expected:
        assert written["claim_id"].to_list() == ["1", "2", "3", "x1", "x2", "x3"]
        # 99213 is not named by the policy: its edits are empty or null (not looked for)
        # 97545-GP is screened as 97545 (modifiers split off); its diagnosis 8OO.00 is not a code
        edited = ["modifiers_split", "invalid_code"]
        assert [e or [] for e in written["edits"].to_list()] == [[], [], edited, [], [], edited]


# ---- policy text ----------------------------------------------------------------------------------------------

POLICY_ERRORS = [
    ("policy_unreadable_line.txt", "line 7", "cannot read '9754X' as hcpcs"),
    ("policy_codes_before_group.txt", "line 2", "codes before any group header"),
    ("policy_no_section.txt", None, "no code section found"),
    ("policy_unknown_group.txt", "line 7", "a group header whose status is not known"),
    ("policy_empty_groups.txt", "line 5", "a group header with no codes under it"),
    ("policy_and_between_codes.txt", "line 4", "'and' between codes"),
    ("policy_fullwidth_digits.txt", "line 3", "only ASCII letters and digits are code characters"),
    ("policy_range_split_over_lines.txt", "line 3", "a range with no end"),
    ("policy_header_less_cpt_only.txt", "line 1", "cannot tell this code section's ICD era"),
    ("policy_other_era_group.txt", "line 4", "ICD-10 codes in the ICD-9 code section"),
]


@pytest.mark.parametrize(("name", "where", "fragment"), POLICY_ERRORS, ids=[n for n, _, _ in POLICY_ERRORS])
def test_unreadable_policy_text(name: str, where: str | None, fragment: str) -> None:
    path = CORPUS / name
    with pytest.raises(PolicyParseError) as caught:
        parse_cpb(path.read_text(encoding="utf-8"), source=str(path))
    message = str(caught.value)
    assert fragment in message
    assert message.startswith(f"{path}, {where}: " if where else f"{path}: "), message
    assert "line 0" not in message
    assert_one_line_error(cli("policy", "parse", str(path)), str(path), fragment)
    assert_one_line_error(cli("lookup", "--policy", str(path), "97545"), str(path), fragment)


@pytest.mark.parametrize(("name", "bundled_era", "coverages"), [
    ("policy_as_written.txt", "icd9", None),
    ("policy_medical_necessity_group.txt", None, ["covered_if_criteria_met", "not_covered"]),
])
def test_policy_text_read_as_meant(name: str, bundled_era: str | None, coverages: list[str] | None) -> None:
    """Bullets, a minus sign, "to", "through", "--", brackets, a colon or dash before the description;
    a group header in an LCD's words: each read as meant, through the library and the CLI."""
    path = CORPUS / name
    policy = parse_cpb(path.read_text(encoding="utf-8"))
    if bundled_era:
        assert policy.versions == (load_policy("0198").version(bundled_era),)
    else:
        assert [g.coverage for g in policy.versions[0].groups] == coverages
        assert [str(e.range) for e in policy.versions[0].groups[1].entries] == ["800.00-999.9"]
    result = cli("policy", "parse", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == policy.to_json()


@pytest.mark.parametrize("given", ["../../../../some/dir/x", "./0198", "policies/0198", "0198.txt"])
def test_a_bundled_policy_id_is_never_a_path(given: str, tmp_path: Path) -> None:
    result = cli("screen", str(CORPUS / "dates.csv"), "-o", str(tmp_path / "out.parquet"), "--policy", given)
    assert_one_line_error(result, repr(given), "no such file, and not a bundled policy id")
    with pytest.raises(InputError, match="not a bundled policy id"):
        load_policy(given)


LINE_STARTS = ["", "CPT codes", "ICD-9 codes not covered", "Other CPT codes", "800.00", "+ 97545", "\u2022 ", "(",
               "| ", "800.00 - 999.9 ", "Code Code Description"]
LINE_UNITS = st.text(alphabet=" \t-\u2013\u2212:|,;/()[]+.~0189VSXxcodesantrhug\u2022\ufeff\uff10", min_size=1,
                     max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.sampled_from(LINE_STARTS), unit=LINE_UNITS, end=st.sampled_from(["", "x", ":", " Injuries"]))
def test_a_100kb_policy_line_parses_in_well_under_a_second(start: str, unit: str, end: str) -> None:
    """Parsing is linear in a line's length: one 100 kB line of any repeated pattern after any start
    (a header, codes, a bullet, a table cell) takes well under a second (a backtracking pattern once
    took 62 s on "CPT codes" + 5,000 spaces + "x")."""
    line = start + unit * (100_000 // len(unit)) + end
    text = "CPT Codes / HCPCS Codes / ICD-9 Codes\nICD-9 codes covered:\n250.00 Diabetes\n" + line + "\n"
    started = time.perf_counter()
    with contextlib.suppress(PolicyParseError):
        parse_cpb(text)
    assert time.perf_counter() - started < 1.0


def test_corpus_size() -> None:
    kinds = {c[0] for c in LINE_CASES} | {c[0] for c in DTYPE_CASES} | {k for k, _ in FILE_ERRORS} \
        | {n for n, _, _ in POLICY_ERRORS}
    assert len(kinds) >= 30
    policy_files = {p.name for p in CORPUS.glob("policy_*.txt")}
    assert policy_files == {n for n, _, _ in POLICY_ERRORS} | {"policy_as_written.txt",
                                                               "policy_medical_necessity_group.txt"}


# ---- a killed run leaves no output ----------------------------------------------------------------------------

def test_killed_run_leaves_no_output(tmp_path: Path) -> None:
    n = 600_000
    ids = pl.int_range(0, n, eager=True)
    procedures = pl.Series(["97545", "99213", "97110", "97546", "S9117", "97545-GP", "80053"])
    dx = pl.Series(["800.00", "V57.22", "410.01", "S72.001A", "8OO.00", "Z87.81", "250.00", "E880.9"])
    frame = pl.DataFrame({
        "claim_id": ids.cast(pl.String),
        "procedure_code": procedures.gather(ids % len(procedures)),
        **{f"dx{k}": dx.gather((ids * (k + 3)) % len(dx)) for k in range(1, 9)},
        "service_date": pl.Series([ICD9_DAY, ICD10_DAY, "2012-02-30"]).gather(ids % 3),
    })
    source, out = tmp_path / "BIG.parquet", tmp_path / "OUT.parquet"
    frame.write_parquet(source)
    process = subprocess.Popen([sys.executable, "-m", "codeindex.cli", "screen", str(source), "-o", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".OUT.parquet.*.partial")):
            assert process.poll() is None, "the run ended before its temporary file was seen"
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.002)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not out.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("BIG.parquet",)]
    assert all(name.startswith(".OUT.parquet.") and name.endswith(".partial") for name in leftovers), leftovers


# ---- input, round two (issue 18): CSV shapes, several files, errors past the header --------------------------

def _make_several(tmp_path: Path, kind: str) -> tuple[list[str], str]:
    """Input of several files, or a CSV from the corpus; the CLI inputs and the name the error must give."""
    if kind == "files whose columns share names, not types":
        (path := tmp_path / "mixed").mkdir()
        GOOD.with_columns(pl.col("service_date").str.to_date()).write_parquet(path / "a.parquet")
        GOOD.with_columns(service_date=pl.lit(20120105)).write_parquet(path / "b.parquet")
        return [str(path)], str(path / "b.parquet")
    if kind == "a diagnosis column given twice":
        GOOD.write_parquet(path := tmp_path / "good.parquet")
        return [str(path), "--dx", "dx1", "--dx", "dx1"], str(path)
    return [str(CORPUS / kind)], str(CORPUS / kind)


INPUT_ERRORS = [
    ("short_row.csv", "line 3: 3 fields, but the header has 4"),
    ("cr_only.csv", "its lines end in CR only"),
    ("duplicate_header.csv", "column 'dx1' is named twice in the header"),
    ("latin1_header.csv", "the header is not UTF-8 (byte 0xe9"),
    ("files whose columns share names, not types", "column 'service_date' holds Int32, but Date in"),
    ("a diagnosis column given twice", "diagnosis column 'dx1' is given twice"),
]


@pytest.mark.parametrize(("kind", "fragment"), INPUT_ERRORS, ids=[k for k, _ in INPUT_ERRORS])
def test_unreadable_input_round_two(kind: str, fragment: str, tmp_path: Path) -> None:
    inputs, name = _make_several(tmp_path, kind)
    assert_one_line_error(cli("screen", *inputs, "-o", str(tmp_path / "out.parquet")), name, fragment)
    if "--dx" not in inputs:
        with pytest.raises(InputError, match=re.escape(fragment)):
            screen(inputs[0]).collect()


def _csv_with_bad_row(path: Path, bad_row: bytes) -> Path:
    """A CSV of 100,000 good lines, then ``bad_row``: found only by reading past the header."""
    good = b"".join(b"%d,97545,800.00,2012-01-05\n" % i for i in range(100_000))
    path.write_bytes(b"claim_id,procedure_code,dx1,service_date\n" + good + bad_row)
    return path


@pytest.mark.parametrize("kind", ["corrupt page inside a parquet file", "an extra field at row 100,001",
                                  "a Latin-1 byte at row 100,001"])
def test_errors_past_the_header_are_input_errors_for_the_library(kind: str, tmp_path: Path) -> None:
    if kind.startswith("corrupt"):
        path = Path(_make(tmp_path, kind)[1])
    elif "extra field" in kind:
        path = _csv_with_bad_row(tmp_path / "extra.csv", b"100000,97545,800.00,2012-01-05,surplus\n")
    else:
        path = _csv_with_bad_row(tmp_path / "latin1.csv", b"100000,97545,800.00,caf\xe9\n")
    lines = screen(path)  # the header and footer are fine: nothing else is read yet
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}"):
        lines.collect()
    if "extra field" in kind:
        with pytest.raises(InputError, match="line 100002: 5 fields, but the header has 4"):
            lines.collect()


def test_a_glob_through_a_symlink_loop_reads_each_file_once(tmp_path: Path) -> None:
    (folder := tmp_path / "lp").mkdir()
    GOOD.write_parquet(folder / "a.parquet")
    (folder / "me").symlink_to(folder, target_is_directory=True)
    assert screen(str(folder / "**" / "*.parquet")).collect().height == GOOD.height
    assert screen(folder).collect().height == GOOD.height


def test_hidden_files_and_folders_are_not_read(tmp_path: Path) -> None:
    (folder := tmp_path / "dir").mkdir()
    GOOD.write_parquet(folder / "a.parquet")
    for hidden in (".snap", "_temporary"):
        (folder / hidden).mkdir()
        GOOD.write_parquet(folder / hidden / "a.parquet")
    GOOD.write_parquet(folder / ".a.parquet.crc.parquet")
    assert screen(folder).collect()["claim_id"].to_list() == GOOD["claim_id"].to_list()
    assert screen(str(folder / "**" / "*.parquet")).collect().height == GOOD.height


def test_a_carrier_claims_columns_all_come_along(tmp_path: Path) -> None:
    from codeindex.synth import synpuf_carrier_claims

    claims = synpuf_carrier_claims(5, seed=1).with_columns(
        CLM_THRU_DT=pl.lit(20090320), **{f"PRF_PHYSN_NPI_{i}": pl.lit(f"npi{i}") for i in range(1, 14)})
    out = screen(claims, layout="synpuf-carrier").collect()
    assert {"CLM_THRU_DT", "PRF_PHYSN_NPI", *(f"ICD9_DGNS_CD_{i}" for i in range(1, 9))} <= set(out.columns)
    assert not [c for c in out.columns if c.startswith(("HCPCS_CD_", "PRF_PHYSN_NPI_"))]
    assert out["PRF_PHYSN_NPI"].to_list() == [f"npi{n}" for n in out["line_num"]]
    assert out["CLM_THRU_DT"].to_list() == [20090320] * out.height


def test_quoted_commas_quotes_and_line_breaks_are_no_ragged_csv(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text('claim_id,procedure_code,dx1,service_date,note\n'
                    '1,97545,800.00,2012-01-05,"a, b"\n'
                    '2,97545,800.00,2012-01-05,"say ""hi"", twice"\n'
                    '3,97545,800.00,2012-01-05,"two\nlines, here"\n')
    out = screen(path).collect()
    assert out["note"].to_list() == ["a, b", 'say "hi", twice', "two\nlines, here"]


# ---- output and faults (issue 18) ----------------------------------------------------------------------------

def _big_input(path: Path, n: int = 600_000) -> Path:
    """A claim file big enough that a run is still writing when a test signals it."""
    ids = pl.int_range(0, n, eager=True)
    procedures = pl.Series(["97545", "99213", "97110", "97546", "S9117", "97545-GP", "80053"])
    dx = pl.Series(["800.00", "V57.22", "410.01", "S72.001A", "8OO.00", "Z87.81", "250.00", "E880.9"])
    pl.DataFrame({
        "claim_id": ids.cast(pl.String),
        "procedure_code": procedures.gather(ids % len(procedures)),
        **{f"dx{k}": dx.gather((ids * (k + 3)) % len(dx)) for k in range(1, 9)},
        "service_date": pl.Series([ICD9_DAY, ICD10_DAY, "2012-02-30"]).gather(ids % 3),
    }).write_parquet(path)
    return path


def _leftovers(folder: Path, *keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


OUTPUT_FAULTS = [  # (kind, the -o value given the test folder, the fragment of the one-line error)
    ("a device: /dev/null", lambda tmp: "/dev/null", "is not a regular file"),
    ("a device: /dev/full", lambda tmp: "/dev/full", "is not a regular file"),
    ("an existing directory", lambda tmp: str(tmp), "is a directory"),
    ("a path under a regular file", lambda tmp: str(tmp / "good.parquet" / "x.parquet"), "Not a directory"),
    ("an empty path", lambda tmp: "", "the output path is empty"),
    ("an unknown suffix", lambda tmp: str(tmp / "out.txt"), "unknown output format '.txt'"),
    ("the input file itself", lambda tmp: str(tmp / "good.parquet"), "is an input file"),
]


@pytest.mark.parametrize(("kind", "target", "fragment"), OUTPUT_FAULTS, ids=[k for k, _, _ in OUTPUT_FAULTS])
def test_an_output_that_must_not_be_written(kind: str, target, fragment: str, tmp_path: Path) -> None:
    GOOD.write_parquet(good := tmp_path / "good.parquet")
    before = good.read_bytes()
    output = target(tmp_path)
    result = cli("screen", str(good), "-o", output)
    assert_one_line_error(result, output, fragment)
    assert good.read_bytes() == before and _leftovers(tmp_path) == ["good.parquet"]
    assert Path("/dev/null").is_char_device() and Path("/dev/full").is_char_device()


def test_replace_input_when_asked(tmp_path: Path) -> None:
    GOOD.write_parquet(good := tmp_path / "good.parquet")
    result = cli("screen", str(good), "-o", str(good), "--replace-input")
    assert result.returncode == 0, result.stderr
    assert pl.read_parquet(good).columns[-1] == "rarc" and _leftovers(tmp_path) == ["good.parquet"]


def test_other_commands_writing_files(tmp_path: Path) -> None:
    (regular := tmp_path / "file").write_text("x")
    assert_one_line_error(cli("policy", "translate", "0198", "--write", str(regular / "x.txt")), str(regular),
                          "Not a directory")
    assert_one_line_error(cli("synth", "--rows", "5", "-o", str(tmp_path)), str(tmp_path), "is a directory")
    assert_one_line_error(cli("synth", "--rows", "-5", "-o", str(tmp_path / "s.parquet")), "--rows -5", "positive")
    assert_one_line_error(cli("report", str(regular), "-o", str(tmp_path / "r.html")), str(regular), "parquet")
    assert _leftovers(tmp_path) == ["file"]


@contextlib.contextmanager
def _mounted(folder: Path, options: str):
    """A small tmpfs at ``folder`` (root only; the test is skipped where mounting is not allowed)."""
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True,
                      check=False).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_read_only_file_system_names_the_output(tmp_path: Path) -> None:
    GOOD.write_parquet(good := tmp_path / "good.parquet")
    with _mounted(tmp_path / "ro", "ro,size=1m") as folder:
        result = cli("screen", str(good), "-o", str(folder / "out.parquet"))
        assert_one_line_error(result, str(folder / "out.parquet"), "Read-only file system")


def test_disk_full_names_the_output_and_leaves_nothing(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[1] / "data" / "sample_claims.parquet"
    with _mounted(tmp_path / "small", "size=64k") as folder:
        for name in ("out.parquet", "out.csv"):
            result = cli("screen", str(sample), "-o", str(folder / name))
            assert_one_line_error(result, f"{folder / name}: cannot write it", "No space left on device")
            assert "sample_claims" not in result.stderr  # the input is not to blame
            assert _leftovers(folder) == []


def test_file_size_limit_names_the_output(tmp_path: Path) -> None:
    import resource

    sample = Path(__file__).resolve().parents[1] / "data" / "sample_claims.parquet"
    out = tmp_path / "out.parquet"

    def limit() -> None:  # in the child: files may not grow past 64 kB, and SIGXFSZ does not kill it
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = subprocess.run([sys.executable, "-m", "codeindex.cli", "screen", str(sample), "-o", str(out)],
                            capture_output=True, text=True, timeout=120, check=False, preexec_fn=limit)
    assert_one_line_error(result, f"{out}: cannot write it", "too large")
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("streaming", ["off", "on"])
def test_an_input_error_while_writing_leaves_no_partial_file(streaming: str, tmp_path: Path) -> None:
    rows = [f"{i},97545,800.00,{ICD9_DAY}" for i in range(120_000)]
    rows[100_000] = "100000,97545,caf\xe9,2012-01-05"
    (source := tmp_path / "late.csv").write_bytes(
        ("claim_id,procedure_code,dx1,service_date\n" + "\n".join(rows) + "\n").encode("utf-8")
        .replace(b"caf\xc3\xa9", b"caf\xe9"))
    for _ in range(3):
        result = cli("screen", str(source), "-o", str(tmp_path / "out.parquet"), "--streaming", streaming)
        assert_one_line_error(result, str(source), "cannot read it")
        assert _leftovers(tmp_path, "late.csv") == []


@pytest.mark.parametrize(("sent", "status", "word"), [(signal.SIGTERM, 143, "terminated"),
                                                       (signal.SIGINT, 130, "interrupted")])
def test_a_signal_mid_write_is_one_line_and_leaves_nothing(sent: int, status: int, word: str, tmp_path: Path) -> None:
    source, out = _big_input(tmp_path / "BIG.parquet"), tmp_path / "OUT.csv"
    process = subprocess.Popen([sys.executable, "-m", "codeindex.cli", "screen", str(source), "-o", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".OUT.csv.*.partial/*")):
            assert process.poll() is None, "the run ended before its temporary file was seen"
            assert time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.002)
        os.kill(process.pid, sent)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == status, stderr
    assert stderr.splitlines() == [f"codeindex screen: {word}; no output written"], stderr
    assert _leftovers(tmp_path, "BIG.parquet") == []


def test_stale_partials_of_killed_runs_are_removed(tmp_path: Path) -> None:
    GOOD.write_parquet(good := tmp_path / "good.parquet")
    dead = tmp_path / ".out.parquet.4194305.0badc0de.partial"  # past any pid_max: its run is gone
    alive = tmp_path / f".out.parquet.{os.getpid()}.0badc0de.partial"  # a run still going: left alone
    other = tmp_path / ".other.parquet.4194305.0badc0de.partial"  # another output's: left alone
    for folder in (dead, alive, other):
        folder.mkdir()
        (folder / "lines.parquet").write_bytes(b"PAR1")
    assert cli("screen", str(good), "-o", str(tmp_path / "out.parquet")).returncode == 0
    assert _leftovers(tmp_path) == sorted([alive.name, other.name, "good.parquet", "out.parquet"])


def test_two_runs_writing_one_output(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[1] / "data" / "sample_claims.parquet"
    out = tmp_path / "out.parquet"
    for _ in range(2):
        runs = [subprocess.Popen([sys.executable, "-m", "codeindex.cli", "screen", str(sample), "-o", str(out)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for process in runs:
            stdout, stderr = process.communicate(timeout=120)
            assert process.returncode == 0 and "10,000 claim lines" in stdout, stderr
    assert pl.read_parquet(out).height == 10_000 and _leftovers(tmp_path) == ["out.parquet"]


def test_parquet_and_csv_or_uris_and_paths_are_not_mixed(tmp_path: Path) -> None:
    GOOD.write_parquet(parquet := tmp_path / "a.parquet")
    GOOD.write_csv(csv := tmp_path / "b.csv")
    with pytest.raises(InputError, match="holds both parquet and CSV files; give one kind"):
        screen([parquet, csv])
    with pytest.raises(InputError, match="mixes URIs and local paths"):
        screen([parquet.as_uri(), str(csv)])


# ---- claims as they come: modifiers, an add-on with no era (issue 14) ------------------------------------------

@pytest.mark.parametrize(("text", "code", "modifiers"), [
    ("97545-GP", "97545", ("GP",)), ("97545GP", "97545", ("GP",)), ("97545 GP", "97545", ("GP",)),
    ("97545-GP-59", "97545", ("GP", "59")), (" 97545-gp-59 ", "97545", ("GP", "59")), ("97545", "97545", ()),
    ("0016T-26", "0016T", ("26",)), ("A4206RT", "A4206", ("RT",)),
    ("97545-GP-59-LT-RT", "97545", ("GP", "59", "LT", "RT")),
])
def test_procedure_read_with_its_modifiers(text: str, code: str, modifiers: tuple[str, ...]) -> None:
    parsed, split = procedure_code(text)
    assert (parsed.short, split) == (code, modifiers)


@pytest.mark.parametrize("text", ["97545-G", "97545-GP-59-LT-RT-XS", "9754X-GP", "97545.0", "97545-G-P", "", "GP",
                                  "\u017f9117-GP", "97545-\uff27P", "\x1c97545-GP"])
def test_procedure_that_is_not_code_and_modifiers(text: str) -> None:
    with pytest.raises(InvalidCodeError):
        procedure_code(text)


MODIFIED = pl.DataFrame({
    "claim_id": ["a", "b", "c", "d", "e", "e"],
    "procedure_code": ["97545-GP", "97545GP", "97545 GP", "97545-GP-59", "97545-G", "97546-59"],
    "dx1": ["800.00"] * 6, "service_date": [ICD9_DAY] * 6, "paid_amount": [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]})


def test_modified_procedures_are_screened_as_their_code() -> None:
    out = screen(MODIFIED).collect()
    assert out["procedure_code"].to_list() == MODIFIED["procedure_code"].to_list()  # kept as written
    assert out["determination"].to_list() == ["not_covered"] * 4 + ["review", "not_covered"]
    assert out["matched_procedure_range"].to_list() == ["97545"] * 4 + [None, "97546"]
    assert out["edits"].to_list()[:4] == [["modifiers_split"]] * 4
    # 97546-59's primary 97545-G cannot be read: the add-on is alone on its claim
    assert out["edits"].to_list()[4:] == [["invalid_code"], ["modifiers_split", "addon_without_primary"]]
    assert "its modifiers GP, 59 split off" in out["reason"][3]
    assert "starts with CPT 97545, which CPB 0198 names: review it" in out["reason"][4]


def test_modified_procedures_count_in_the_amount_at_stake(tmp_path: Path) -> None:
    MODIFIED.write_csv(source := tmp_path / "modified.csv")
    result = cli("screen", str(source), "-o", str(tmp_path / "out.parquet"))
    assert result.returncode == 0, result.stderr
    assert "Amount at stake (not_covered and review lines): 2,100.00" in result.stdout  # 1,600 + the review line
    written = pl.read_parquet(tmp_path / "out.parquet")
    assert written["procedure_code"].to_list() == MODIFIED["procedure_code"].to_list()


ADD_ON_ONE_ERA = """CPT Codes / HCPCS Codes / ICD-9 Codes
CPT codes not covered for indications listed in the CPB:
97545 Work hardening/conditioning; initial 2 hours
+ 97546 each additional hour
CPT Codes / HCPCS Codes / ICD-10 Codes
CPT codes not covered for indications listed in the CPB:
97545 Work hardening/conditioning; initial 2 hours
97546 each additional hour (not an add-on in this version)
"""


@pytest.mark.parametrize(("policy", "lines", "flagged"), [
    ("0198", [("c1", "97546", "garbage")], True),
    ("0198", [("c1", "97546", "garbage"), ("c1", "97545", ICD9_DAY)], False),
    ("0198", [("c1", "97546", "garbage"), ("c1", "97545-GP", "garbage")], False),
    ("0198", [("c1", "97546", None)], True),
    ("one era", [("c1", "97546", "garbage")], False),  # an add-on in one era only: which era is unknown
])
def test_add_on_on_a_line_with_no_era(policy: str, lines: list[tuple[str, str, str | None]], flagged: bool,
                                      tmp_path: Path) -> None:
    """Issue 14, item 5: the policy makes 97546 an add-on in both eras, so its claim is checked for 97545
    even when the line's date cannot be read."""
    if policy == "one era":
        (path := tmp_path / "one_era.txt").write_text(ADD_ON_ONE_ERA, encoding="utf-8")
        policy = str(path)
    frame = pl.DataFrame(lines, schema={"claim_id": pl.String, "procedure_code": pl.String, "service_date": pl.String},
                         orient="row").with_columns(dx1=pl.lit("800.00"))
    first = screen(frame, policy=policy).collect().row(0, named=True)
    assert first["determination"] == "review"
    assert ("addon_without_primary" in first["edits"]) is flagged
    assert ("billed without its primary 97545" in first["reason"]) is flagged
    frame.write_csv(source := tmp_path / "claims.csv")
    result = cli("screen", str(source), "-o", str(tmp_path / "out.parquet"), "--policy", policy)
    assert result.returncode == 0, result.stderr
    assert pl.read_parquet(tmp_path / "out.parquet").row(0, named=True)["edits"] == first["edits"]


# ---- codes, dates and claims as hostile input writes them (issue 18, "Input": codes, dates, claim ids, names) ----

def test_a_null_claim_id_is_no_claim() -> None:
    frame = pl.DataFrame({"claim_id": [None, None], "procedure_code": ["97545", "97546"],
                          "dx1": ["800.00", "800.00"], "service_date": ["2014-01-01"] * 2},
                         schema_overrides={"claim_id": pl.Int64})
    primary, add_on = screen(frame).collect().to_dicts()
    assert "addon_without_primary" not in primary["edits"]
    assert "addon_without_primary" in add_on["edits"]
    assert "has no claim id, so its primary 97545 cannot be found on its claim" in add_on["reason"]


@pytest.mark.parametrize("written", ["ſ9117", "S9117\x1c", "\x1f97545"])
def test_only_ascii_letters_and_digits_are_procedure_characters(written: str) -> None:
    frame = pl.DataFrame({"claim_id": [1], "procedure_code": [written], "dx1": ["S72001A"],
                          "service_date": ["2020-01-01"]})
    line = screen(frame).collect().row(0, named=True)
    # S9117 followed by junk starts with the policy's code: review it, never silently not_applicable (issue 14)
    assert line["determination"] == ("review" if written.startswith("S9117") else "not_applicable")
    assert line["edits"] == ["invalid_code"]
    assert "is not a code character" in line["reason"]


@pytest.mark.parametrize("written", ["ſ72001A", "S72001A\x1e", "ı10"])
def test_only_ascii_letters_and_digits_are_diagnosis_characters(written: str) -> None:
    frame = pl.DataFrame({"claim_id": [1], "procedure_code": ["97545"], "dx1": [written],
                          "service_date": ["2020-01-01"]})
    line = screen(frame).collect().row(0, named=True)
    assert line["matched_dx"] == []
    assert line["edits"] == ["invalid_code"]


@pytest.mark.parametrize("written", ["2015101", "2013111", "-20130501", "-0001-01-01", "20150930x"])
def test_a_date_is_exactly_yyyymmdd_or_yyyy_mm_dd(written: str) -> None:
    frame = pl.DataFrame({"claim_id": [1], "procedure_code": ["97545"], "dx1": ["800.00"],
                          "service_date": [written], "icd_version": ["9"]})
    line = screen(frame).collect().row(0, named=True)
    assert "invalid_date" in line["edits"]
    assert "the date of service in service_date cannot be read" in line["reason"]


@pytest.mark.parametrize("written", ["-9", "-10", " -09"])
def test_a_negative_icd_version_names_no_version(written: str) -> None:
    frame = pl.DataFrame({"claim_id": [1], "procedure_code": ["97545"], "dx1": ["800.00"],
                          "service_date": ["2014-01-01"], "icd_version": [written]})
    line = screen(frame).collect().row(0, named=True)
    assert "invalid_icd_version" in line["edits"]
    assert line["policy_version"] == "icd9"  # the date tells instead


def test_the_users_columns_are_theirs() -> None:
    """Names the screen uses inside (row, era, key0, procedure_key, __k, __result, __input_row ...) may be
    the input's own: they come back untouched."""
    names = ["row", "era", "claim", "procedure", "key0", "flags", "dx0", "__k", "__result", "__input_row", "offset"]
    frame = pl.DataFrame({"claim_id": [1, 1], "procedure_code": ["97545", "97546"], "dx1": ["800.00", "V57.22"],
                          "service_date": ["2014-01-01"] * 2, **{n: [f"{n}-a", f"{n}-b"] for n in names}})
    out = screen(frame).collect()
    assert out.select(names).equals(frame.select(names))
    assert out["determination"].to_list() == ["not_covered", "not_covered"]
