"""Revisions by date of service (issue 25, item 4): a library may hold several revisions of one policy, each with
its effective date; every line is screened against the revision in force on its date, as if that revision were
screened alone."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from codeindex import InputError
from codeindex.policy import load_policies, load_policy, parse_cpb
from codeindex.screen import screen

BASE = load_policy("0198")
FIRST = replace(BASE, revision="2009", effective=date(2009, 7, 1))  # 97545 not covered
SECOND = replace(parse_cpb("""Clinical Policy Bulletin: Work Hardening Programs
Number: 0198

CPT Codes / HCPCS Codes / ICD-9 Codes
CPT codes covered if selection criteria are met:
97545 Work hardening/conditioning; initial 2 hours
ICD-9 codes covered if selection criteria are met:
V57.22 Encounter for vocational therapy
ICD-9 codes not covered for indications listed in the CPB:
800.00 - 999.9 Injuries and poisonings
"""), revision="2012", effective=date(2012, 3, 1))
THIRD = replace(BASE, revision="2014", effective=date(2014, 1, 1))  # back to not covered, both eras
DX = ["dx1", "dx2"]


def lines(n: int, seed: int = 25) -> pl.DataFrame:
    rng = random.Random(seed)
    days = [None, date(2005, 1, 1), date(2009, 6, 30), date(2009, 7, 1), date(2012, 2, 29), date(2012, 3, 1),
            date(2013, 12, 31), date(2014, 1, 1), date(2016, 5, 1)]
    return pl.DataFrame({
        "claim_id": [f"c{rng.randrange(n // 3)}" for _ in range(n)],
        "procedure_code": [rng.choice(["97545", "97546", "99213", "97545-GP"]) for _ in range(n)],
        "dx1": [rng.choice(["V57.22", "800.00", "401.9", "S72.001A", None]) for _ in range(n)],
        "dx2": [rng.choice(["V57.22", "812.01", None, None]) for _ in range(n)],
        "service_date": [rng.choice(days) for _ in range(n)]}, schema_overrides={"service_date": pl.Date})


def in_force(day: date | None) -> object:
    if day is None or day >= THIRD.effective:  # type: ignore[operator]
        return THIRD
    return SECOND if day >= SECOND.effective else FIRST  # type: ignore[operator]


def test_each_line_is_screened_by_the_revision_in_force_on_its_date() -> None:
    frame = lines(600)
    library = screen(frame, policy=[SECOND, THIRD, FIRST], dx=DX, icd_version=9).collect()  # any order
    for revision in (FIRST, SECOND, THIRD):
        alone = screen(frame, policy=revision, dx=DX, icd_version=9).collect()
        mine = [in_force(day) is revision for day in frame["service_date"].to_list()]
        got, want = library.filter(pl.Series(mine)), alone.filter(pl.Series(mine))
        assert got.height > 0
        for column in ("determination", "carc"):
            assert got[column].cast(pl.String).to_list() == want[column].cast(pl.String).to_list(), column
        # A line only another revision names was looked at (its codes checked, its reason naming the revision in
        # force), where the revision alone leaves it unscreened: the lines the revision names are compared whole.
        named = f"CPB 0198 revision {revision.revision}"
        decided = want["determination"] != "not_applicable"
        for column in ("matched_dx", "matched_dx_ranges", "edits", "notes"):
            assert got.filter(decided)[column].to_list() == want.filter(decided)[column].to_list(), column
        assert [r.replace(named, "CPB 0198") for r in got.filter(decided)["reason"].cast(pl.String).to_list()] == \
            want.filter(decided)["reason"].cast(pl.String).to_list()
        assert all(named in r for r in got.filter(~decided)["reason"].cast(pl.String).to_list()
                   if "not named by" in r and not r.startswith("The procedure"))
        decided = got.filter(pl.col("rule_id").is_not_null())["rule_id"].cast(pl.String)
        assert decided.len() and decided.str.starts_with(f"0198/{revision.revision}/").all()
        findings = got.filter(pl.col("findings").list.len() > 0)["findings"].to_list()
        assert {f["policy_revision"] for fs in findings for f in fs} == {revision.revision}


def test_streaming_equals_in_memory_with_revisions(tmp_path: Path) -> None:
    path = tmp_path / "lines.parquet"
    lines(900).write_parquet(path)
    library = [FIRST, SECOND, THIRD]
    in_memory = screen(path, policy=library, dx=DX, icd_version=9).collect()
    streamed = screen(path, policy=library, dx=DX, icd_version=9, streaming=True).collect()
    assert in_memory.equals(streamed)


def test_revisions_need_distinct_effective_dates(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="twice with one effective date, 2009-07-01"):
        load_policies([FIRST, replace(SECOND, effective=FIRST.effective)])
    with pytest.raises(InputError, match="each need the effective date"):
        load_policies([FIRST, replace(SECOND, effective=None)])
    assert load_policies([FIRST, SECOND]) == (FIRST, SECOND)


def test_the_command_line_screens_revisions_from_files(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    for name, revision in (("a.json", FIRST), ("b.json", SECOND)):
        (folder / name).write_text(json.dumps(revision.to_json()), encoding="utf-8")
    source = tmp_path / "in.parquet"
    lines(60).write_parquet(source)
    out, summary = tmp_path / "o.parquet", tmp_path / "s.json"
    result = subprocess.run([sys.executable, "-m", "codeindex.cli", "screen", str(source), "-o", str(out), "--dx",
                             "dx1", "--dx", "dx2", "--icd-version", "9", "--policies", str(folder),
                             "--summary-json", str(summary)],
                            capture_output=True, text=True, timeout=180, check=False, env={**os.environ})
    assert result.returncode == 0, result.stderr
    identity = json.loads(summary.read_text())["policy"]["policies"]
    assert [(p["id"], p["revision"], p["effective"]) for p in identity] == [
        ("0198", "2009", "2009-07-01"), ("0198", "2012", "2012-03-01")]
    screened = pl.read_parquet(out)
    assert set(screened["rule_id"].drop_nulls().cast(pl.String).str.slice(0, 10)) == {"0198/2009/", "0198/2012/"}
