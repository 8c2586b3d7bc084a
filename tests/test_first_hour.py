"""A newcomer's first hour (issue 27): claim extracts as they come (US dates, their own column names), and errors
that say the fix, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from codeindex import InputError
from codeindex.screen import screen

EXTRACT = ("CLAIM_NO,HCPCS,ICD_DX1,ICD_DX2,ICD_DX3,DOS,PAID_AMT\n"
           "c1,97545,V57.22,,,01/15/2013,10.5\n"
           "c2,97546,800.00,V15.1,,01/16/2013,20\n"
           "c3,99213,401.9,,,12/31/2016,7\n")
OPTIONS = ["--claim-id", "CLAIM_NO", "--procedure", "HCPCS", "--dx", "ICD_DX*", "--date", "DOS"]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codeindex.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=180, check=False, env={**os.environ, "COLUMNS": "160"})


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    path = tmp_path / "extract.csv"
    path.write_text(EXTRACT, encoding="utf-8")
    return path


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_every_missing_role_at_once_with_its_option_and_a_guess(extract: Path, tmp_path: Path) -> None:
    line = error_line(run("screen", extract, "-o", tmp_path / "o.parquet"))
    assert "no column 'claim_id' (the claim id: pass --claim-id COLUMN, claim_id= in Python) (did you mean " \
           "'CLAIM_NO'?)" in line
    assert "no column 'procedure_code' (the procedure code: pass --procedure COLUMN" in line and "'HCPCS'?" in line
    assert "pass --dx COLUMN for each, or a pattern such as --dx 'ICD_DX*'" in line and "'ICD_DX1'?" in line
    unmatched = error_line(run("screen", extract, "-o", tmp_path / "o.parquet", *OPTIONS[:4], "--dx", "DX_*"))
    assert "no column matches 'DX_*' (a diagnosis pattern)" in unmatched


def test_us_dates_fail_loudly_then_read_with_the_format_the_message_gives(extract: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    line = error_line(run("screen", extract, "-o", out, *OPTIONS))
    assert "column 'DOS': 3 of the first 3 dates cannot be read as YYYY-MM-DD or YYYYMMDD ('01/15/2013'" in line
    assert line.endswith("they look like MM/DD/YYYY: pass --date-format '%m/%d/%Y'")
    assert not out.exists()
    wrong = error_line(run("screen", extract, "-o", out, *OPTIONS, "--date-format", "%d/%m/%Y"))
    assert "cannot be read as '%d/%m/%Y'" in wrong
    summary = tmp_path / "s.json"
    result = run("screen", extract, "-o", out, *OPTIONS, "--date-format", "%m/%d/%Y", "--summary-json", summary)
    assert result.returncode == 0, result.stderr
    assert "column 'PAID_AMT' looks like one: pass --amount PAID_AMT" in result.stderr  # said, not silently moneyless
    lines = pl.read_parquet(out)
    assert lines["policy_version"].cast(pl.String).to_list() == ["icd9", "icd9", None]
    assert lines["determination"].cast(pl.String).to_list() == ["not_covered", "not_covered", "not_applicable"]
    assert [m["month"] for m in json.loads(summary.read_text())["months"]] == ["2013-01", "2016-12"]
    again = run("summary", out, "--json")  # the format is in the output's metadata: the months read again
    assert again.returncode == 0 and [m["month"] for m in json.loads(again.stdout)["months"]] == ["2013-01", "2016-12"]


def test_the_library_reads_dates_with_a_format(extract: Path) -> None:
    out = screen(extract, claim_id="CLAIM_NO", procedure="HCPCS", dx="ICD_DX*", date="DOS",
                 date_format="%m/%d/%Y").collect()
    assert out["ICD_DX1"].to_list() == ["V57.22", "800.00", "401.9"]
    assert out["policy_version"].cast(pl.String).to_list() == ["icd9", "icd9", None]
    unread = screen(extract, claim_id="CLAIM_NO", procedure="HCPCS", dx=["ICD_DX1"], date="DOS",
                    date_format="%Y-%m-%d", icd_version=9).collect()
    assert all("invalid_date" in edits for edits in unread["edits"].to_list()[:2])  # a flag per line, not guessed


def test_patterns_take_columns_in_their_numbers_order(tmp_path: Path) -> None:
    frame = pl.DataFrame({"claim_id": ["c"], "procedure_code": ["97545"], "ICD_DX10": ["V57.22"],
                          "ICD_DX2": ["800.00"], "ICD_DX1": [None], "service_date": [date(2014, 1, 1)]},
                         schema_overrides={"ICD_DX1": pl.String})
    out = screen(frame, dx="ICD_DX*").collect()
    assert "the diagnosis in ICD_DX2 is in 800.00-999.9" in out["reason"][0]
    assert out["matched_dx"][0].to_list() == ["800.00", "V57.22"]  # column order: ICD_DX1, ICD_DX2, ICD_DX10
    with pytest.raises(InputError, match="no column matches 'DX_\\*'"):
        screen(frame, dx="DX_*")


def test_install_hints_name_packages_that_exist_here() -> None:
    """A hint installs what it says from where the user stands: the extra's own packages, each of which this
    environment (which installed the extras) has."""
    import importlib.metadata

    from codeindex.extras import extra_packages, install_hint

    for extra in ("report", "spark"):
        packages = extra_packages(extra)
        assert packages and install_hint(extra).startswith("pip install ")
        for requirement in packages:
            name = requirement.split(">")[0].split("=")[0].split("<")[0].strip()
            assert importlib.metadata.version(name)  # a real distribution, installed by the test extra


def test_the_help_examples_are_one_story_that_runs_as_written(tmp_path: Path) -> None:
    """codeindex --help lists one story; each subcommand's --help ends with its step; run in an empty folder, in
    order, every step succeeds on what the steps before it wrote (the sample comes from the installed package)."""
    import shlex

    from codeindex.cli import STORY, build_parser

    top = build_parser().format_help()
    steps = [line.strip() for line in top.split("examples (one story")[1].splitlines()[1:] if line.strip()]
    assert steps == list(STORY.values())
    for step in steps:
        words = shlex.split(step)[1:]
        command = words[:2] if words[0] == "policy" else words[:1]
        shown = run(*command, "--help")
        assert shown.returncode == 0 and step in shown.stdout, (step, shown.stdout[-300:])
        result = subprocess.run([sys.executable, "-m", "codeindex.cli", *words], capture_output=True, text=True,
                                timeout=300, check=False, cwd=tmp_path, env={**os.environ, "COLUMNS": "160"})
        assert result.returncode == 0, (step, result.stderr)
    assert (tmp_path / "out" / "report.html").stat().st_size > 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["lines"] == 30_000


def test_providers_and_members_in_the_summary_and_the_report(tmp_path: Path) -> None:
    """--provider and --member: the summary's totals per provider of the lines to act on, and the members
    counted; the report shows both (issue 27)."""
    source = tmp_path / "in.csv"
    source.write_text("claim_id,procedure_code,dx1,service_date,paid_amount,npi,member\n"
                      "c1,97545,V57.22,2014-01-01,10,P1,M1\n"
                      "c2,97545,V57.22,2014-01-02,30,P2,M1\n"
                      "c3,97546,V57.22,2014-01-02,5,P2,M2\n"
                      "c4,99213,V57.22,2014-01-03,99,P3,M3\n", encoding="utf-8")
    out, summary, report = tmp_path / "o.parquet", tmp_path / "s.json", tmp_path / "r.html"
    result = run("screen", source, "-o", out, "--dx", "dx1", "--provider", "npi", "--member", "member",
                 "--summary-json", summary, "--report", report)
    assert result.returncode == 0, result.stderr
    said = json.loads(summary.read_text())
    assert said["members"] == {"not_covered": 2, "review": 0}
    assert said["top_providers"] == [{"provider": "P2", "lines": 2, "not_covered": 2, "amount": 35.0},
                                     {"provider": "P1", "lines": 1, "not_covered": 1, "amount": 10.0}]
    page = report.read_text()
    assert "Providers of the not_covered and review lines" in page and "$35.00" in page
    assert "of 2 and 0 members" in page
    missing = run("screen", source, "-o", out, "--dx", "dx1", "--provider", "NPI")
    assert missing.returncode == 2 and "no column 'NPI' (the provider) (did you mean 'npi'?)" in missing.stderr
