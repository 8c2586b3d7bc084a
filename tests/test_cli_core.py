"""The ``codeindex normalize`` and ``codeindex expand`` commands, run as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from codeindex.cli import main

KEYS = {"input", "system", "valid", "short", "decimal", "defined", "billable", "error", "release", "defined_in", "note"}
V15_BILLABLE = ["V151", "V1521", "V1522", "V1529", "V153", "V1541", "V1542", "V1549",
                "V1551", "V1552", "V1553", "V1559", "V156"]
V15_ALL = ["V151", "V152", "V1521", "V1522", "V1529", "V153", "V154", "V1541", "V1542", "V1549",
           "V155", "V1551", "V1552", "V1553", "V1559", "V156"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codeindex.cli", *args], capture_output=True, text=True,
                          timeout=60, check=False)


def records(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    lines = result.stdout.splitlines()
    out = [json.loads(line) for line in lines]
    for record in out:
        assert set(record) == KEYS
    return out


def test_normalize_icd9() -> None:
    result = run("normalize", "--system", "icd9", "410.00", "410", "100.7", "10", " v57.22 ", "8OO.00")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    billable, parent, undefined, short, v_code, letter_o = records(result)
    no_release = {"release": "v32", "defined_in": None, "note": None}
    assert billable == {"input": "410.00", "system": "icd9dx", "valid": True, "short": "41000",
                        "decimal": "410.00", "defined": True, "billable": True, "error": None, **no_release}
    assert parent == {"input": "410", "system": "icd9dx", "valid": True, "short": "410",
                      "decimal": "410", "defined": True, "billable": False, "error": None, **no_release}
    assert undefined == {"input": "100.7", "system": "icd9dx", "valid": True, "short": "1007", "decimal": "100.7",
                         "defined": False, "billable": False, "error": None, "release": "v32", "defined_in": [],
                         "note": None}
    assert v_code["input"] == " v57.22 " and (v_code["short"], v_code["decimal"]) == ("V5722", "V57.22")
    for invalid in (short, letter_o):
        assert invalid["valid"] is False and invalid["system"] == "icd9dx"
        assert invalid["short"] is invalid["decimal"] is invalid["defined"] is invalid["billable"] is None
        assert isinstance(invalid["error"], str) and "icd9dx" in invalid["error"]
        assert repr(invalid["input"]) in invalid["error"]
    assert "letter O" in letter_o["error"]  # type: ignore[operator]


def test_normalize_hcpcs_has_no_code_set() -> None:
    result = run("normalize", "--system", "cpt", "97545", "0016T", "97545-GP")
    assert result.returncode == 0, result.stderr
    cat1, cat3, modifier = records(result)
    assert cat1 == {"input": "97545", "system": "hcpcs", "valid": True, "short": "97545",
                    "decimal": "97545", "defined": None, "billable": None, "error": None, "release": None,
                    "defined_in": None, "note": None}
    assert cat3["valid"] is True and cat3["defined"] is None and cat3["billable"] is None
    assert modifier["valid"] is False and modifier["system"] == "hcpcs"
    assert "modifier" in modifier["error"]  # type: ignore[operator]


def test_normalize_icd10cm_and_icd9pcs() -> None:
    result = run("normalize", "--system", "icd10", "s72.001a", "S00.00X+", "S72.001AA")
    assert result.returncode == 0, result.stderr
    full, plus, too_long = records(result)
    assert (full["system"], full["short"], full["decimal"], full["billable"]) == (
        "icd10cm", "S72001A", "S72.001A", True)
    assert (plus["short"], plus["decimal"], plus["defined"], plus["billable"]) == (  # S00.00X is no code
        "S0000X", "S00.00X+", False, False)
    assert too_long["valid"] is False and "longer than 7" in too_long["error"]  # type: ignore[operator]
    result = run("normalize", "--system", "icd9pcs", "81.08")
    assert records(result)[0]["short"] == "8108" and result.returncode == 0


def test_expand_in_code_order() -> None:
    def shorts(stdout: str) -> list[str]:  # each line: the decimal form, a tab, the description
        return [line.split("\t")[0].replace(".", "") for line in stdout.splitlines()]

    result = run("expand", "--system", "icd9", "V15.1 - V15.6")
    assert result.returncode == 0, result.stderr
    assert shorts(result.stdout) == V15_BILLABLE
    assert result.stdout.splitlines()[0] == "V15.1\tPersonal history of surgery to heart and great vessels, " \
        "presenting hazards to health"
    result = run("expand", "--system", "icd9dx", "--all", "V15.1 – V15.6")
    assert result.returncode == 0, result.stderr
    assert shorts(result.stdout) == V15_ALL
    assert all(line.count("\t") == 1 for line in result.stdout.splitlines())


@pytest.mark.parametrize(
    ("system", "text", "says"),
    [("icd9", "999.9 - 800.00", "reversed"), ("icd9", "999.9 - V10", "kind"), ("icd9", "800 - S72", "S72"),
     ("cpt", "97545-97546", "code set"), ("icd10cm", "S72.001AA", "longer than 7")],
)
def test_expand_bad_range_is_one_line_and_exit_2(system: str, text: str, says: str) -> None:
    result = run("expand", "--system", system, text)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert says in lines[0] and lines[0].startswith("codeindex expand:")


def test_normalize_on_a_date_of_service() -> None:
    result = run("normalize", "--system", "icd10", "--date", "2017-03-01", "M54.5", "E11.A", "S00.00X")
    m54_5, e11_a, placeholder = records(result)
    assert (m54_5["release"], m54_5["defined"], m54_5["billable"]) == ("FY2017", True, True)
    assert (e11_a["defined"], e11_a["defined_in"]) == (False, ["FY2026", "FY2026 April"])  # not yet
    assert placeholder["defined_in"] == []  # never a code
    m54_5, e11_a = records(run("normalize", "--system", "icd10", "--date", "2026-01-05", "M54.5", "E11.A"))
    assert (m54_5["release"], m54_5["billable"], e11_a["billable"]) == ("FY2026", False, True)
    [late] = records(run("normalize", "--system", "icd10", "--date", "2031-01-01", "E11.A"))
    assert "after the bundled releases" in late["note"]  # type: ignore[operator]
    bad = run("normalize", "--system", "icd10", "--date", "2022-3-1", "E11.A")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "YYYY-MM-DD" in bad.stderr


# ---------------------------------------------------------------- codeindex policy list [DIR] (#17)

BULLETIN = """Clinical Policy Bulletin: {title}
Number: {number}
{heading}
CPT Codes / HCPCS Codes / ICD-9 Codes
CPT codes not covered for indications listed in the CPB:
97545 Work hardening/conditioning; initial 2 hours
+ 97546 each additional hour
ICD-9 codes not covered for indications listed in the CPB (not all-inclusive):
800.00 - 999.9 Injuries and poisonings
"""


def library(folder: Path) -> Path:
    """Two bulletins as text and one as the JSON ``policy parse --json`` wrote, plus a file that is none."""
    folder.mkdir()
    (folder / "b.txt").write_text(BULLETIN.format(title="Work Hardening", number="0198",
                                                  heading="Last Review: 06/13/2023 Effective: 06/09/1997"),
                                  encoding="utf-8")
    (folder / "c.txt").write_text(BULLETIN.format(title="Back School", number="0200", heading=""), encoding="utf-8")
    parsed = run("policy", "parse", str(folder / "c.txt"), "--json")
    assert parsed.returncode == 0, parsed.stderr
    data = json.loads(parsed.stdout)
    data.update(id="0100", title="Gait Training", revision="R3")
    (folder / "a.json").write_text(json.dumps(data), encoding="utf-8")
    (folder / "README.md").write_text("not a bulletin", encoding="utf-8")
    return folder


def test_policy_list_of_a_directory_is_tab_separated_off_a_terminal(tmp_path: Path) -> None:
    result = run("policy", "list", str(library(tmp_path / "policies")))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "0100\tGait Training\t(ICD-9)\tR3\t\t2\t3",
        "0198\tWork Hardening\t(ICD-9)\t2023-06-13\t1997-06-09\t2\t3",
        "0200\tBack School\t(ICD-9)\t\t\t2\t3",
    ]


def test_policy_list_on_a_terminal_is_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    folder = library(tmp_path / "policies")
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["policy", "list", str(folder)]) == 0
    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)  # a terminal gets styles
    lines = [line for line in out.splitlines() if "0198" in line or "revision" in line]
    assert len(lines) == 2, out
    header, row = lines
    assert header.replace("┃", " ").split() == ["id", "title", "eras", "revision", "effective", "groups", "entries"]
    assert row.replace("│", " ").split() == ["0198", "Work", "Hardening", "ICD-9", "2023-06-13", "1997-06-09", "2", "3"]
    assert f"3 policies in {folder}" in " ".join(out.split())  # the title wraps at the table's width
    assert main(["policy", "list"]) == 0
    assert "1 policy (bundled)" in capsys.readouterr().out


@pytest.mark.parametrize(("setup", "says"), [
    (lambda d: None, "no such directory"),
    (lambda d: d.mkdir(), "no bulletin files (*.txt, *.json)"),
    (lambda d: (library(d), (d / "d.txt").write_text(BULLETIN.format(title="Again", number="0200", heading=""),
                                                     encoding="utf-8")),
     "policy id '0200' twice: in {d}/c.txt and in {d}/d.txt"),
    (lambda d: (library(d), (d / "a.json").write_text('{"versions": [{"era": "icd9", "groups": [{"system": '
                                                      '"hcpcs", "coverage": "maybe", "entries": []}]}]}')),
     "policy file {r}/a.json: versions[0].groups[0].coverage: 'maybe' is not one of"),
])
def test_policy_list_of_a_bad_directory_is_one_line_and_exit_2(tmp_path: Path, setup: Callable[[Path], object],
                                                               says: str) -> None:
    folder = tmp_path / "policies"
    setup(folder)
    result = run("policy", "list", str(folder))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("codeindex policy: ")
    assert says.format(d=folder, r=folder.resolve()) in result.stderr, result.stderr
