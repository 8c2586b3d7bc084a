"""Outputs a reviewer can open (issue 15): every format with the same rows, the JSON summary equal to the output,
codes merged across spellings, text amounts read or refused, and the terminal summary's numbers and titles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from codeindex.outputs import LIST_SEPARATOR, read_metadata
from codeindex.policy import load_policy
from codeindex.screen import screen
from codeindex.screen.summary import summarize

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_claims.parquet"
LISTS = ["matched_dx", "matched_dx_ranges", "edits", "notes"]


def run(*args: str | Path, columns: int = 160) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codeindex.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=180, check=False, env={**os.environ, "COLUMNS": str(columns)})


def one_line_error(result: subprocess.CompletedProcess[str], command: str = "screen") -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"codeindex {command}: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample screened once to each format, and the summary JSON of the parquet run."""
    folder = tmp_path_factory.mktemp("formats")
    paths = {fmt: folder / f"out.{fmt}" for fmt in ("parquet", "csv", "xlsx", "ndjson")}
    for fmt, path in paths.items():
        extra = ["--summary-json", folder / "summary.json"] if fmt == "parquet" else []
        result = run("screen", SAMPLE, "-o", path, *extra)
        assert result.returncode == 0, result.stderr
        assert f"wrote {path}" in result.stdout
    assert sorted(p.name for p in folder.iterdir()) == sorted([*(p.name for p in paths.values()), "summary.json"])
    return {**paths, "summary": folder / "summary.json"}


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text, lists joined as CSV and Excel write them, for comparing formats."""
    return frame.with_columns(pl.col(c).list.join(LIST_SEPARATOR) for c in LISTS if c in frame.columns).select(
        pl.all().cast(pl.String))


def test_every_format_holds_the_same_rows(written: dict[str, Path]) -> None:
    lines = pl.read_parquet(written["parquet"])
    assert lines.height == 10_000
    assert written["parquet"].read_bytes()[:4] == b"PAR1"
    ndjson = pl.read_ndjson(written["ndjson"], schema_overrides={c: pl.List(pl.String) for c in LISTS})
    assert ndjson.columns == lines.columns
    assert ndjson.select(LISTS).to_dicts() == lines.select(LISTS).to_dicts()  # lists stay lists in NDJSON
    assert_frame_equal(as_text(ndjson), as_text(lines))
    csv = pl.read_csv(written["csv"], infer_schema=False)
    expected = as_text(lines)  # an empty list is "" (quoted), a null list an empty cell
    assert_frame_equal(csv, expected)
    excel = pl.read_excel(written["xlsx"], sheet_name="lines", infer_schema_length=0)
    assert excel.columns == lines.columns and excel.height == lines.height
    blank = expected.with_columns(pl.all().replace("", None))  # Excel has no empty text: an empty cell
    for column in ("claim_id", "procedure_code", "determination", "reason", *LISTS):
        assert excel[column].cast(pl.String).to_list() == blank[column].to_list(), column
    sheet = pl.read_excel(written["xlsx"], sheet_name="summary", infer_schema_length=0)
    values = dict(sheet.iter_rows())
    assert values["lines"] == "10000" and values["lines not_covered"] == "297"  # numbers; 3 are 97545-GP


def test_summary_json_equals_the_output(written: dict[str, Path]) -> None:
    summary = json.loads(written["summary"].read_text())
    lines = pl.read_parquet(written["parquet"])
    counts = dict(lines.group_by(pl.col("determination").cast(pl.String)).len().iter_rows())
    assert summary["lines"] == lines.height
    assert summary["determinations"] == {d: counts.get(d, 0) for d in summary["determinations"]}
    not_covered = lines.filter(pl.col("determination") == "not_covered")
    assert summary["amount"]["at_stake"] == pytest.approx(not_covered["paid_amount"].sum(), abs=0.005)
    assert sum(sum(era.values()) for era in summary["eras"].values()) == lines.height
    assert sum(m["not_covered"] for m in summary["months"]) == counts["not_covered"]
    edits = lines.select(pl.col("edits").explode().drop_nulls()).to_series().value_counts()
    assert {e["edit"]: e["lines"] for e in summary["edits"]} == dict(edits.iter_rows())
    for edit in summary["edits"]:
        for example in edit["examples"]:
            assert edit["edit"] in lines["edits"][example["row"]]
    assert summary["policy"]["name"] == "CPB 0198" and len(summary["policy"]["fingerprint"]) == 64
    assert summary["input"]["files"][0]["bytes"] == SAMPLE.stat().st_size
    assert summary["input"]["columns"]["amount"] == "paid_amount"
    # codeindex summary OUT --json: the same numbers, from the file's own record of how it was made.
    again = run("summary", written["parquet"], "--json")
    assert again.returncode == 0, again.stderr
    from_file = json.loads(again.stdout)
    assert from_file["elapsed_seconds"] is None
    assert {k: v for k, v in from_file.items() if k != "elapsed_seconds"} == \
        {k: v for k, v in summary.items() if k != "elapsed_seconds"}
    assert read_metadata(written["parquet"])["input"]["layout"] == "long"


def test_terminal_summary_fits_and_has_separators(written: dict[str, Path]) -> None:
    for columns in (160, 100):
        result = run("summary", written["parquet"], columns=columns)
        assert result.returncode == 0, result.stderr
        assert "Top procedures, not_covered lines\n" in result.stdout
        assert "Top diagnoses, not_covered lines" in result.stdout
        assert "10,000 claim lines" in result.stdout and "9,703" in result.stdout and "57,709.90" in result.stdout
    assert "Injury to sacral nerve root" in result.stdout  # descriptions from the code set
    assert "953.3" in result.stdout  # decimal form


def test_codes_are_merged_across_spellings() -> None:
    frame = pl.DataFrame({
        "claim_id": ["a", "b", "c", "d", "e", "f"],
        "procedure_code": ["s9117", "S9117", " S9117", "97545", "97545", "97545"],
        "dx1": ["S72.001A", "s72001a", "S72001A", "800.00", "80000", "800.00"],
        "dx2": [None, None, None, None, None, "80000"],
        "service_date": ["2016-01-05"] * 3 + ["2012-01-05"] * 3,
        "paid_amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    })
    summary = summarize(screen(frame), load_policy("0198"), {"procedure": "procedure_code", "claim_id": "claim_id",
                        "date": "service_date", "amount": "paid_amount"})
    assert summary["determinations"]["not_covered"] == 6
    procedures = {p["code"]: p for p in summary["top_procedures"]}
    assert procedures["S9117"]["lines"] == 3 and procedures["S9117"]["amount"] == 6.0
    assert procedures["S9117"]["spellings"] == ["S9117", "s9117"]  # spaces around a code are no spelling
    diagnoses = {d["code"]: d for d in summary["top_diagnoses"]}
    assert diagnoses["800.00"]["lines"] == 3  # line f lists it twice and counts once
    assert diagnoses["800.00"]["spellings"] == ["800.00", "80000"] and diagnoses["800.00"]["system"] == "icd9dx"
    assert "skull" in diagnoses["800.00"]["description"].lower()
    assert diagnoses["S72.001A"]["lines"] == 3 and diagnoses["S72.001A"]["system"] == "icd10cm"
    assert diagnoses["S72.001A"]["spellings"] == ["S72.001A", "S72001A", "s72001a"]
    assert "femur" in diagnoses["S72.001A"]["description"].lower()


def test_format_option_and_unknown_suffix(tmp_path: Path) -> None:
    out = tmp_path / "lines.out"
    assert run("screen", SAMPLE, "-o", out, "--format", "csv").returncode == 0
    assert out.read_text().startswith("claim_id,")
    error = one_line_error(run("screen", SAMPLE, "-o", tmp_path / "x.txt"))
    assert "unknown output format '.txt'" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lines.out"]


def test_text_amounts(tmp_path: Path) -> None:
    sample = pl.read_parquet(SAMPLE).head(200)
    numbers = tmp_path / "numbers.csv"
    sample.with_columns(pl.col("paid_amount").cast(pl.String)).write_csv(numbers)
    result = run("screen", numbers, "-o", tmp_path / "ok.parquet", "--summary-json", tmp_path / "ok.json")
    assert result.returncode == 0, result.stderr
    amounts = json.loads((tmp_path / "ok.json").read_text())["amount"]["by_determination"]
    assert sum(amounts.values()) == pytest.approx(sample["paid_amount"].sum(), abs=0.01)
    bad = tmp_path / "bad.csv"
    sample.with_columns(paid_amount=sample["paid_amount"].cast(pl.String).scatter(150, "abc")).write_csv(bad)
    error = one_line_error(run("screen", bad, "-o", tmp_path / "no.parquet"))
    assert "'paid_amount'" in error and "'abc'" in error and "row 151" in error
    assert not (tmp_path / "no.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
