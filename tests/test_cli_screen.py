"""``codeindex screen`` and ``codeindex synth``, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from bulletins import LIBRARY_POLICY

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_claims.parquet"
RESULTS = ["policy", "policy_version", "determination", "reason", "matched_procedure_range", "matched_dx",
           "matched_dx_ranges", "edits", "notes", "rule_id", "group_code", "carc", "rarc"]


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codeindex.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=False, cwd=cwd)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("codeindex screen: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_screen_sample(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = run("screen", SAMPLE, "-o", out)
    assert result.returncode == 0, result.stderr
    assert "10,000 claim lines screened against CPB 0198" in result.stdout
    assert "Lines per determination" in result.stdout
    for name in ("not_covered", "review", "covered", "not_applicable"):
        assert name in result.stdout
    assert f"wrote {out}" in result.stdout
    frame = pl.read_parquet(out)
    sample = pl.read_parquet(SAMPLE)
    assert frame.height == 10_000
    assert frame.columns == [*sample.columns, *RESULTS]
    assert frame.select(sample.columns).equals(sample)
    counts = dict(frame.group_by("determination").len().iter_rows())
    assert counts.get("not_covered", 0) > 0
    # The summary's counts are the file's.
    assert f"{counts['not_covered']:,}" in result.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_screen_twice_gives_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert run("screen", SAMPLE, "-o", first).returncode == 0
    assert run("screen", SAMPLE, "-o", second).returncode == 0
    assert first.read_bytes() == second.read_bytes()


def test_missing_file(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = run("screen", tmp_path / "missing.parquet", "-o", out)
    assert_one_line_error(result, "missing.parquet", "no such file")
    assert list(tmp_path.iterdir()) == []


def test_missing_column(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    result = run("screen", SAMPLE, "-o", out, "--procedure", "nope")
    assert_one_line_error(result, "'nope'")
    assert list(tmp_path.iterdir()) == []


def test_unreadable_parquet(tmp_path: Path) -> None:
    bad = tmp_path / "x.parquet"
    bad.write_bytes(b"this is not parquet at all" * 3)
    out = tmp_path / "out.parquet"
    result = run("screen", bad, "-o", out)
    assert_one_line_error(result, "x.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.parquet"]


def test_no_icd_version_source(tmp_path: Path) -> None:
    frame = pl.DataFrame({"claim_id": [1], "procedure_code": ["97545"], "dx1": ["812.01"]})
    source = tmp_path / "in.parquet"
    frame.write_parquet(source)
    out = tmp_path / "out.parquet"
    assert_one_line_error(run("screen", source, "-o", out), "ICD version")
    assert not out.exists()
    assert run("screen", source, "-o", out, "--icd-version", "9").returncode == 0
    assert pl.read_parquet(out)["determination"].to_list() == ["not_covered"]


def test_failed_run_keeps_an_existing_output(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous")
    result = run("screen", SAMPLE, "-o", out, "--dx", "nope")
    assert_one_line_error(result, "'nope'")
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_synth_then_screen_synpuf_carrier(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / f"carrier.{suffix}"
    result = run("synth", "--rows", "50", "--layout", "synpuf-carrier", "-o", source)
    assert result.returncode == 0, result.stderr
    assert "wrote 50 claims" in result.stdout
    out = tmp_path / "out.parquet"
    result = run("screen", source, "-o", out, "--layout", "synpuf-carrier")
    assert result.returncode == 0, result.stderr
    assert "claim lines screened against CPB 0198" in result.stdout
    frame = pl.read_parquet(out)
    claims = pl.read_parquet(source) if suffix == "parquet" else pl.read_csv(source, infer_schema=False)
    expected_lines = sum(
        claims[f"HCPCS_CD_{i}"].cast(pl.String).str.strip_chars().str.len_bytes().fill_null(0).gt(0).sum()
        for i in range(1, 14))
    assert frame.height == expected_lines
    assert frame.columns[:7] == ["DESYNPUF_ID", "CLM_ID", "CLM_FROM_DT", "line_num", "HCPCS_CD",
                                 "LINE_ICD9_DGNS_CD", "LINE_NCH_PMT_AMT"]
    assert frame.columns[7:] == [*(f"ICD9_DGNS_CD_{i}" for i in range(1, 9)), *RESULTS]  # every claim column
    # Claim order, then line_num.
    order = frame.with_row_index("i").group_by("CLM_ID", maintain_order=True).agg("line_num")
    assert order["CLM_ID"].to_list() == [c for c in claims["CLM_ID"].cast(pl.String).to_list()
                                         if c in set(order["CLM_ID"])]
    assert all(lines == sorted(lines) for lines in order["line_num"].to_list())


def test_column_options_rejected_for_synpuf(tmp_path: Path) -> None:
    source = tmp_path / "carrier.parquet"
    assert run("synth", "--rows", "5", "--layout", "synpuf-carrier", "-o", source).returncode == 0
    out = tmp_path / "out.parquet"
    result = run("screen", source, "-o", out, "--layout", "synpuf-carrier", "--procedure", "HCPCS_CD")
    assert_one_line_error(result, "long layout")
    assert not out.exists()


def _run_on_a_terminal(*args: str | Path) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal, as an analyst at a shell sees it: (status, stderr)."""
    import os
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "codeindex.cli", *map(str, args)], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=follower, env={**os.environ, "COLUMNS": "120"})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=120), b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("streaming", ["off", "on"])
def test_progress_bar_on_a_terminal_counts_every_line(tmp_path: Path, streaming: str) -> None:
    status, stderr = _run_on_a_terminal("screen", SAMPLE, "-o", tmp_path / "tty.parquet", "--streaming", streaming)
    assert status == 0, stderr
    assert "reading and classifying" in stderr and "10,000/10,000 lines" in stderr and "0/?" not in stderr
    quiet = run("screen", SAMPLE, "-o", tmp_path / "pipe.parquet", "--streaming", streaming)
    assert quiet.returncode == 0 and quiet.stderr == ""  # no bar, nothing else, when stderr is not a terminal
    assert (tmp_path / "tty.parquet").read_bytes() == (tmp_path / "pipe.parquet").read_bytes()


def test_screen_a_library_by_repeated_policy_and_a_directory(tmp_path: Path) -> None:
    bulletins = tmp_path / "bulletins"
    bulletins.mkdir()
    (bulletins / "0997.txt").write_text(LIBRARY_POLICY, encoding="utf-8")
    alone, repeated, folder = (tmp_path / f"{name}.parquet" for name in ("alone", "repeated", "folder"))
    assert run("screen", SAMPLE, "-o", alone).returncode == 0
    result = run("screen", SAMPLE, "-o", repeated, "--policy", "0198", "--policy", bulletins / "0997.txt",
                 "--summary-json", tmp_path / "summary.json")
    assert result.returncode == 0, result.stderr
    assert "against 2 policies (CPB 0198, CPB 0997)" in result.stdout
    assert run("screen", SAMPLE, "-o", folder, "--policy", "0198", "--policies", bulletins).returncode == 0
    by_repeat, by_folder, single = map(pl.read_parquet, (repeated, folder, alone))
    assert by_repeat.equals(by_folder)
    assert by_repeat.columns == [*single.columns, "findings"]
    named = by_repeat.filter(pl.col("findings").list.len() > 1)
    assert named.height > 0  # lines both policies name: the deciding one is the most severe
    assert set(named["determination"].unique()) <= {"not_covered", "review"}
    summary = (tmp_path / "summary.json").read_text(encoding="utf-8")
    assert '"policies": [' in summary and '"id": "0997"' in summary


def test_screen_a_library_with_one_id_twice_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "0198.txt").write_text(LIBRARY_POLICY.replace("0997", "0198"), encoding="utf-8")
    result = run("screen", SAMPLE, "-o", tmp_path / "out.parquet", "--policy", "0198", "--policies", tmp_path)
    assert_one_line_error(result, "0198")


def test_a_library_to_csv_writes_each_lines_findings_as_a_json_array(tmp_path: Path) -> None:
    import json

    (tmp_path / "0997.txt").write_text(LIBRARY_POLICY, encoding="utf-8")
    out = tmp_path / "out.csv"
    result = run("screen", SAMPLE, "-o", out, "--policy", "0198", "--policy", tmp_path / "0997.txt")
    assert result.returncode == 0, result.stderr
    written = pl.read_csv(out, infer_schema=False)
    parquet = pl.read_parquet(SAMPLE)
    assert written.height == parquet.height
    findings = [json.loads(text) for text in written["findings"]]
    both = [f for f in findings if len(f) == 2]
    assert both and all([x["policy"] for x in f] == ["0198", "0997"] for f in both)
    assert {d for f, d in zip(findings, written["determination"], strict=True) if not f} == {"not_applicable"}
