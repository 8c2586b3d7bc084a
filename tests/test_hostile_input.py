"""Hostile input, round three (issue 26): what reviewers open, the paths a run is given, the policies it loads.

Each class of attack has its own test, through the real command line (a subprocess: a traceback would show):
spreadsheets never run a cell as a formula or follow it as a link, and never lose or alter a value quietly;
every JSON the tool writes parses strictly; a path that exists is that file; a partition folder never replaces a
file's own column; nothing a user asked to load is skipped; names are printed as they are.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from codeindex.outputs import neutralized

HOSTILE = [  # claim ids a spreadsheet would run or follow (OWASP's CSV injection cases and Excel's own)
    '=HYPERLINK("http://example.com/x","click")', "=cmd|' /C calc'!A0", "{=1+1}", "+1+1", "-1+1", "@SUM(1)",
    "\tTAB", "\rCR", "http://example.com/a", "file:///\\\\host\\share\\x", "mailto:a@example.com",
    "https://example.com/" + "x" * 3000, "plain",
]


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codeindex.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=180, check=False, cwd=cwd, env={**os.environ, "COLUMNS": "160"})


def ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def claims(ids: list[str], **extra: list[object]) -> pl.DataFrame:
    n = len(ids)
    return pl.DataFrame({"claim_id": ids, "procedure_code": ["97545"] * n, "dx1": ["V57.22"] * n,
                         "service_date": ["2014-01-01"] * n, **extra})


def sheet_xml(path: Path) -> tuple[str, str, list[str]]:
    """The lines sheet's XML, the shared strings' XML, and the workbook's part names."""
    with zipfile.ZipFile(path) as book:
        return (book.read("xl/worksheets/sheet1.xml").decode(), book.read("xl/sharedStrings.xml").decode(),
                book.namelist())


# Spreadsheets -------------------------------------------------------------------------------------------------

def test_excel_runs_no_cell_and_follows_no_link(tmp_path: Path) -> None:
    source = tmp_path / "=HYPERLINK(1).parquet"  # a file name that would be a formula in the summary sheet
    claims(HOSTILE).write_parquet(source)
    out = tmp_path / "out.xlsx"
    ok(run("screen", source, "-o", out, "--dx", "dx1"))
    sheet, _, parts = sheet_xml(out)
    assert "<f>" not in sheet and "<hyperlink" not in sheet and not any("hyperlink" in p for p in parts)
    with zipfile.ZipFile(out) as book:
        summary_sheet = book.read("xl/worksheets/sheet2.xml").decode()
    assert "<f>" not in summary_sheet
    lines = pl.read_excel(out, sheet_name="lines", infer_schema_length=0)
    # Every value as it was: Excel trims nothing, a carriage return reads back as a line break's kin.
    assert [v.replace("\r", "\n") for v in lines["claim_id"].to_list()] == [v.replace("\r", "\n") for v in HOSTILE]


def test_csv_neutralizes_formulas_and_keeps_numbers(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    claims(HOSTILE, paid_amount=[-12.5] * len(HOSTILE), **{"=header": ["x"] * len(HOSTILE)}).write_parquet(source)
    out = tmp_path / "out.csv"
    ok(run("screen", source, "-o", out, "--dx", "dx1", "--amount", "paid_amount"))
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    assert "'=header" in header and "claim_id" in header
    ids = [row[header.index("claim_id")] for row in body]
    assert ids == [neutralized(v) for v in HOSTILE]
    for value in ids:  # nothing a spreadsheet would run is left
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert {row[header.index("paid_amount")] for row in body} == {"-12.5"}  # a number is not text: as it is
    assert all(v == h or v == "'" + h for v, h in zip(ids, HOSTILE, strict=True))


def test_excel_refuses_what_it_would_lose_before_any_work(tmp_path: Path) -> None:
    # Two columns equal but for case (one a result column's name): an Excel table cannot hold both.
    source = tmp_path / "case.parquet"
    claims(["c1"], Determination=["mine"]).write_parquet(source)
    out = tmp_path / "out.xlsx"
    one_line_error(run("screen", source, "-o", out, "--dx", "dx1"), "'Determination'", "differ only in case")
    assert not out.exists()
    # Text longer than a cell holds: refused, naming the column and line, and no file.
    long = tmp_path / "long.parquet"
    claims(["c1", "c2"], note=["short", "y" * 40_000]).write_parquet(long)
    one_line_error(run("screen", long, "-o", out, "--dx", "dx1"), "column 'note', line 2", "40,000 characters")
    assert not out.exists()
    # Binary data: neither NDJSON nor Excel holds it.
    binary = tmp_path / "binary.parquet"
    claims(["c1"], blob=[b"\x00\xff"]).write_parquet(binary)
    for name in ("out.xlsx", "out.ndjson"):
        one_line_error(run("screen", binary, "-o", tmp_path / name, "--dx", "dx1"), "column 'blob' holds binary")
        assert not (tmp_path / name).exists()


def test_excel_keeps_big_ids_zoned_times_and_odd_numbers(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    claims(["c1", "c2", "c3"], line_id=[2**53 + 1, 2**62 + 7, -(2**60)],
           received=[datetime(2014, 1, 1, 12, 30, tzinfo=UTC)] * 3,
           paid_amount=[1.5, 2.0, 3.25]).write_parquet(source)
    out = tmp_path / "out.xlsx"
    ok(run("screen", source, "-o", out, "--dx", "dx1", "--amount", "paid_amount"))
    lines = pl.read_excel(out, sheet_name="lines", infer_schema_length=0)
    assert lines["line_id"].to_list() == [str(2**53 + 1), str(2**62 + 7), str(-(2**60))]  # every digit
    assert lines["received"].to_list() == ["2014-01-01 12:30:00+00:00"] * 3


# JSON -------------------------------------------------------------------------------------------------------

def _strict(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("amount", ["NaN", "inf", "-Infinity", "1e999"])
def test_an_amount_that_is_not_finite_is_refused(amount: str, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("claim_id,procedure_code,dx1,service_date,paid_amount\n"
                      f"c1,97545,V57.22,2014-01-01,10\nc2,97545,V57.22,2014-01-01,{amount}\n")
    one_line_error(run("screen", source, "-o", tmp_path / "o.parquet", "--dx", "dx1", "--amount", "paid_amount"),
                   f"holds '{amount}' at row 2", "not a finite number")


def test_every_json_written_parses_strictly(tmp_path: Path) -> None:
    floats = tmp_path / "floats.parquet"
    claims(["c1", "c2"], paid_amount=[1.0, float("nan")]).write_parquet(floats)
    one_line_error(run("screen", floats, "-o", tmp_path / "o.parquet", "--dx", "dx1", "--amount", "paid_amount"),
                   "holds nan at row 2")
    good = tmp_path / "good.parquet"
    claims(["c1", "c2"], paid_amount=[1.0, 2.5]).write_parquet(good)
    out, summary = tmp_path / "o.parquet", tmp_path / "s.json"
    ok(run("screen", good, "-o", out, "--dx", "dx1", "--amount", "paid_amount", "--summary-json", summary))
    _strict(summary.read_text())
    printed = run("summary", out, "--json")
    ok(printed)
    _strict(printed.stdout)
    ndjson = tmp_path / "o.ndjson"
    ok(run("screen", good, "-o", ndjson, "--dx", "dx1"))
    for line in ndjson.read_text().splitlines():
        _strict(line)


# Paths ------------------------------------------------------------------------------------------------------

def test_a_path_that_exists_is_that_file(tmp_path: Path) -> None:
    claims(["the bracketed file"]).write_parquet(tmp_path / "claims[1].parquet")
    claims(["the sibling a pattern would match"]).write_parquet(tmp_path / "claims1.parquet")
    out = tmp_path / "out[2].parquet"
    ok(run("screen", tmp_path / "claims[1].parquet", "-o", out, "--dx", "dx1"))
    assert pl.scan_parquet(out, glob=False).collect()["claim_id"].to_list() == ["the bracketed file"]
    ok(run("summary", out))
    # A name that is no file may be a pattern: the same text then matches the sibling.
    (tmp_path / "claims[1].parquet").unlink()
    ok(run("screen", tmp_path / "claims[1].parquet", "-o", out, "--dx", "dx1"))
    assert pl.scan_parquet(out, glob=False).collect()["claim_id"].to_list() == ["the sibling a pattern would match"]


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse names that are not UTF-8")
def test_names_that_are_not_utf8_are_one_line_errors(tmp_path: Path) -> None:
    good = tmp_path / "in.parquet"
    claims(["c1"]).write_parquet(good)
    odd = os.fsdecode(bytes(tmp_path) + b"/caf\xe9.parquet")
    Path(odd).write_bytes(good.read_bytes())
    one_line_error(run("screen", odd, "-o", tmp_path / "o.parquet", "--dx", "dx1"), "not UTF-8", "rename")
    one_line_error(run("screen", good, "-o", odd.replace(".parquet", "-out.parquet"), "--dx", "dx1"),
                   "not UTF-8", "rename")
    policy = os.fsdecode(bytes(tmp_path) + b"/p\xe9.json")
    Path(policy).write_text(json.dumps({"id": "p", "versions": [{"era": "icd9", "groups": [
        {"system": "hcpcs", "coverage": "not_covered", "entries": [{"start": "97545"}]}]}]}))
    result = run("screen", good, "-o", tmp_path / "o2.parquet", "--dx", "dx1", "--policy", policy)
    assert result.returncode in (0, 2) and "Traceback" not in result.stderr, result.stderr


def test_a_partition_folder_never_replaces_a_files_column(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "service_date=2016-05-05" / "region=north"
    folder.mkdir(parents=True)
    claims(["c1"]).write_parquet(folder / "part.parquet")  # its rows say 2014-01-01
    one_line_error(run("screen", tmp_path / "data", "-o", tmp_path / "o.parquet", "--dx", "dx1"),
                   "'service_date=2016-05-05' names the column 'service_date'", "give the files themselves")
    ok(run("screen", folder / "part.parquet", "-o", tmp_path / "o.parquet", "--dx", "dx1"))
    out = pl.read_parquet(tmp_path / "o.parquet")
    assert out["service_date"].to_list() == ["2014-01-01"] and out["policy_version"].to_list() == ["icd9"]
    claim_folder = tmp_path / "ids" / "claim_id=ZZ"
    claim_folder.mkdir(parents=True)
    claims(["c1"]).write_parquet(claim_folder / "part.parquet")
    one_line_error(run("screen", tmp_path / "ids", "-o", tmp_path / "o.parquet", "--dx", "dx1"),
                   "names the column 'claim_id'")
    # A partition key the files do not hold becomes a column, as before.
    plain = tmp_path / "plain" / "region=north"
    plain.mkdir(parents=True)
    claims(["c1"]).write_parquet(plain / "part.parquet")
    ok(run("screen", tmp_path / "plain", "-o", tmp_path / "o.parquet", "--dx", "dx1"))
    assert pl.read_parquet(tmp_path / "o.parquet")["region"].to_list() == ["north"]


# Policies ---------------------------------------------------------------------------------------------------

POLICY = {"id": "p1", "versions": [{"era": "icd9", "groups": [
    {"system": "hcpcs", "coverage": "not_covered", "entries": [{"start": "97545"}]}]}]}


@pytest.mark.parametrize("kind", ["dangling link", "pipe", "folder"])
def test_a_policy_directory_skips_nothing(kind: str, tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "a.json").write_text(json.dumps(POLICY))
    odd = policies / "b.json"
    if kind == "dangling link":
        odd.symlink_to(tmp_path / "gone.json")
    elif kind == "pipe":
        os.mkfifo(odd)
    else:
        odd.mkdir()
    source = tmp_path / "in.parquet"
    claims(["c1"]).write_parquet(source)
    one_line_error(run("screen", source, "-o", tmp_path / "o.parquet", "--dx", "dx1", "--policies", policies),
                   "b.json is", "not a bulletin file")


def test_policy_json_with_a_key_twice_or_nested_too_deep(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    claims(["c1"]).write_parquet(source)
    twice = tmp_path / "twice.json"
    twice.write_text('{"id": "a", "id": "b", "versions": []}')
    one_line_error(run("screen", source, "-o", tmp_path / "o.parquet", "--dx", "dx1", "--policy", twice),
                   "key 'id' given twice")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    one_line_error(run("screen", source, "-o", tmp_path / "o.parquet", "--dx", "dx1", "--policy", deep),
                   "nested too deeply")


# What the terminal prints -----------------------------------------------------------------------------------

def test_markup_in_names_is_printed_as_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "[bold]"
    folder.mkdir()
    policy = folder / "p[red].json"
    policy.write_text(json.dumps({**POLICY, "id": "[/x]", "title": "[bold]T[/x]"}))
    source = folder / "in[red].parquet"
    claims(["[/x]"]).write_parquet(source)
    out = folder / "out[x].parquet"
    result = run("screen", source, "-o", out, "--dx", "dx1", "--policy", policy)
    ok(result)
    assert f"wrote {out}" in result.stdout and "[/x]" in result.stdout  # the policy's name, as it is
    shown = run("policy", "show", policy)
    ok(shown)
    assert "[bold]T[/x]" in shown.stdout
    ok(run("summary", out))


# Outputs read back ------------------------------------------------------------------------------------------

def test_damaged_metadata_and_a_changed_policy_are_one_line_errors(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    claims(["c1"]).write_parquet(source)
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(POLICY))
    out = tmp_path / "o.parquet"
    ok(run("screen", source, "-o", out, "--dx", "dx1", "--policy", policy))
    ok(run("summary", out))
    changed = {**POLICY, "versions": [{"era": "icd9", "groups": [
        {"system": "hcpcs", "coverage": "covered", "entries": [{"start": "97545"}]}]}]}
    policy.write_text(json.dumps(changed))
    one_line_error(run("summary", out), "no longer there as it was", "screen the input again")
    damaged = tmp_path / "damaged.parquet"
    pl.read_parquet(out).write_parquet(damaged, metadata={"codeindex": "{not json"})
    one_line_error(run("summary", damaged), "metadata is damaged")
    one_line_error(run("report", damaged, "-o", tmp_path / "r.html"), "metadata is damaged")



# A run's outputs ----------------------------------------------------------------------------------------------

def test_a_runs_outputs_are_published_together_or_not_at_all(tmp_path: Path) -> None:
    from codeindex.errors import OutputError
    from codeindex.outputs import text_extra, write_output
    from codeindex.screen import screen

    source = tmp_path / "in.parquet"
    claims(["c1"]).write_parquet(source)
    out, summary, report = tmp_path / "o.parquet", tmp_path / "s.json", tmp_path / "r.html"

    def report_fails(_: dict[str, object]) -> str:  # as a full disk or a killed browser would, after the rest
        raise OutputError(f"{report}: cannot write it: No space left on device")

    with pytest.raises(OutputError, match="No space left"):
        write_output(screen(source, dx=["dx1"]), out,
                     extras=[text_extra(summary, lambda _: "{}\n"), text_extra(report, report_fails)],
                     summarize=lambda lines: {"lines": lines.select(pl.len()).collect().item()})
    assert not out.exists() and not summary.exists() and not report.exists()  # none, since one failed
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]  # and nothing left behind
    write_output(screen(source, dx=["dx1"]), out, extras=[text_extra(summary, lambda s: json.dumps(s))],
                 summarize=lambda lines: {"lines": lines.select(pl.len()).collect().item()})
    assert json.loads(summary.read_text()) == {"lines": 1} and pl.read_parquet(out).height == 1


# Also broken, round three -------------------------------------------------------------------------------------

def test_months_of_far_years_keep_four_digits(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pl.DataFrame({"claim_id": ["a", "b", "c"], "procedure_code": ["97545"] * 3, "dx1": ["V57.22"] * 3,
                  "service_date": [date(1, 1, 5), date(300, 6, 1), date(9999, 12, 31)]}).write_parquet(source)
    out = tmp_path / "o.parquet"
    summary = tmp_path / "s.json"
    ok(run("screen", source, "-o", out, "--dx", "dx1", "--summary-json", summary))
    months = [m["month"] for m in json.loads(summary.read_text())["months"]]
    assert months == ["0001-01", "0300-06", "9999-12"]


def test_small_messages(tmp_path: Path) -> None:
    # An entry with no description: no empty brackets in the reason.
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(POLICY))
    source = tmp_path / "in.parquet"
    claims(["c1"]).write_parquet(source)
    out = tmp_path / "o.parquet"
    ok(run("screen", source, "-o", out, "--dx", "dx1", "--policy", policy))
    reason = pl.read_parquet(out)["reason"][0]
    assert reason.startswith("CPT 97545 is not covered by CPB p1") and "()" not in reason
    # expand names the range it cannot expand, and what it can.
    one_line_error(run("expand", "--system", "cpt", "97545 - 97546"), "'97545 - 97546'", "icd9dx")
    # A CSV header with quoted quotes is a valid header: the column keeps its name.
    quoted = tmp_path / "q.csv"
    quoted.write_text('claim_id,procedure_code,dx1,service_date,"note ""a"""\nc1,97545,V57.22,2014-01-01,x\n')
    ok(run("screen", quoted, "-o", out, "--dx", "dx1"))
    assert 'note "a"' in pl.read_parquet(out).columns


def test_a_description_bulletin_text_cannot_hold(tmp_path: Path) -> None:
    from dataclasses import replace

    from codeindex.errors import InputError
    from codeindex.policy import load_policy
    from codeindex.policy.bulletin import format_cpb

    policy = load_policy("0198")
    version = policy.versions[0]
    group = version.groups[1]
    odd = replace(group, entries=(replace(group.entries[0], description="800.00 starts like a code"),))
    with pytest.raises(InputError, match="starts like a code"):
        format_cpb(replace(policy, versions=(replace(version, groups=(odd,)),)))
    written = tmp_path / "t.json"
    ok(run("policy", "translate", "0198", "--write", written, "--show", "1"))
    shown = run("policy", "parse", written, "--json")
    ok(shown)
    assert json.loads(shown.stdout)["versions"][0]["era"] == "icd10"


def test_a_file_input_to_every_format(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    claims(["c1"]).write_parquet(source)
    for fmt in ("csv", "xlsx", "ndjson"):
        ok(run("screen", source.as_uri(), "-o", tmp_path / f"o.{fmt}", "--dx", "dx1"))
        assert (tmp_path / f"o.{fmt}").stat().st_size > 0


def test_the_worklist_holds_every_flagged_line_and_is_published_with_the_rest(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pl.DataFrame({"claim_id": ["=c1", "c2", "c3", "c4"], "procedure_code": ["97545", "99213", "97546", "99213"],
                  "dx1": ["V57.22", "800.00", "8OO", None], "service_date": ["2014-01-01"] * 4}).write_parquet(source)
    out, worklist = tmp_path / "o.parquet", tmp_path / "flagged.csv"
    ok(run("screen", source, "-o", out, "--dx", "dx1", "--edits", "all", "--worklist", worklist))
    lines = pl.read_parquet(out)
    flagged = lines.filter(pl.col("determination").is_in(["not_covered", "review"]) | (pl.col("edits").list.len() > 0))
    with open(worklist, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["claim_id"] for r in rows] == [neutralized(c) for c in flagged["claim_id"].to_list()]
    assert rows[0]["claim_id"] == "'=c1" and len(rows) == 2  # 97545 not covered; 97546 with an invalid code
    one_line_error(run("screen", source, "-o", out, "--dx", "dx1", "--worklist", tmp_path / "w.xlsx"), ".csv")
