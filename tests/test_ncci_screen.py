"""NCCI edits in the screen (issue 28): procedure-to-procedure pairs, medically unlikely edits and add-on codes, held
line by line to an independent oracle (plain Python over the rules) on generated claims with members, providers,
units and modifiers; streaming equal to in memory with visits split across slices; and the roles' fallbacks."""

from __future__ import annotations

import random
import tempfile
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeindex.errors import InputError
from codeindex.policy.ncci import SCHEMAS, NcciTables
from codeindex.policy.reason_codes import reason_codes
from codeindex.screen import driver, ncci, screen
from codeindex.screen.ncci import PTP_MODIFIERS
from codeindex.systems import parse_code

CODES = ["97140", "97530", "97750", "97545", "97546", "97110", "99213", "97112"]
DAYS = [date(2014, 6, 1), date(2015, 12, 31), date(2016, 1, 1), date(2016, 3, 2)]  # each side of the changes
MODIFIERS = [None, None, None, "59", "XU", "LT", "GP", "59,GP"]
SEVERITY = {"not_covered": 0, "review": 1, "covered": 2, "not_applicable": 3}


def key(code: str) -> int:
    return parse_code(code, "hcpcs").lo


def tables(ptp: list[tuple], mue: list[tuple], aoc: list[tuple]) -> NcciTables:
    """NCCI tables of the rows given: PTP (column 1, column 2, effective, deleted, indicator), MUE (code, limit,
    indicator, effective, until) and AOC (add-on, primary, type, effective, deleted), all practitioner."""
    return NcciTables(
        ptp=pl.DataFrame([(key(c1), key(c2), c1, c2, "practitioner", eff, dele, ind, "rationale", "ptp.txt", n + 1)
                          for n, (c1, c2, eff, dele, ind) in enumerate(ptp)], schema=SCHEMAS["ptp"], orient="row"),
        mue=pl.DataFrame([(key(c), c, "practitioner", limit, ind, "rationale", eff, until, "mue.csv", n + 1)
                          for n, (c, limit, ind, eff, until) in enumerate(mue)], schema=SCHEMAS["mue"], orient="row"),
        aoc=pl.DataFrame([(key(a), a, key(p) if p else None, p, t, eff, dele, "aoc.txt", n + 1)
                          for n, (a, p, t, eff, dele) in enumerate(aoc)], schema=SCHEMAS["aoc"], orient="row"),
        files=(), fingerprint="written by the test")


START, CHANGE, LAST = date(2010, 1, 1), date(2016, 1, 1), date(2015, 12, 31)
RULES = dict(
    ptp=[("97140", "97530", START, None, 1), ("97530", "97750", START, None, 0), ("97110", "97112", START, LAST, 1),
         ("97112", "97110", CHANGE, None, 0), ("99213", "97140", START, None, 9), ("97545", "97110", START, None, 1)],
    mue=[("97545", 1, 2, START, CHANGE), ("97545", 2, 2, CHANGE, None), ("97110", 2, 1, START, None),
         ("97750", 3, 3, START, None)],
    aoc=[("97546", "97545", 1, START, None), ("97750", "97530", 3, START, None), ("97750", "97140", 3, START, None),
         ("99213", None, 2, START, None)])


def claims(seed: int, n: int = 60, *, members: bool = True, providers: bool = True) -> pl.DataFrame:
    """Lines of ``n // 3`` claims, each of one member and one provider (of few: their claims share visits), its
    lines on a few days."""
    rng = random.Random(seed)
    rows = []
    billed_by = [(f"m{rng.randrange(3)}" if rng.random() > 0.05 else None, f"p{rng.randrange(2)}")
                 for _ in range(n // 3 + 1)]  # now and then a claim of no member: in no visit
    for _ in range(n):
        number = rng.randrange(n // 3 + 1)
        member, provider = billed_by[number]
        rows.append({"claim_id": f"c{seed}-{number}", "procedure_code": rng.choice(CODES),
                     "dx1": rng.choice(["V57.22", "719.41", "M54.50", None]),
                     "service_date": rng.choice(DAYS).isoformat() if rng.random() > 0.03 else "not a date",
                     "units": rng.choice([1, 1, 1, 2, 3, None, 0.5, 2.5, -1]), "mod": rng.choice(MODIFIERS),
                     "member": member if members else None, "provider": provider if providers else None})
    return pl.DataFrame(rows, schema={"claim_id": pl.String, "procedure_code": pl.String, "dx1": pl.String,
                                      "service_date": pl.String, "units": pl.Float64, "mod": pl.String,
                                      "member": pl.String, "provider": pl.String})


def in_force(day: date, start: date, end: date | None, last_day: bool) -> bool:
    """Whether an edit applies on ``day``: a PTP or add-on edit through its deletion date (``last_day``), an MUE
    quarter until the next one's first day."""
    return start <= day and (end is None or (day <= end if last_day else day < end))


def oracle(lines: list[dict], *, member: bool, provider: bool) -> list[dict]:
    """Each line's NCCI outcome, read from the rules line by line: its edits in order, determination, the column 1
    line of its PTP edit, its MUE limit and the units counted."""
    def day(line: dict) -> date | None:
        try:
            return date.fromisoformat(line["service_date"])
        except ValueError:
            return None

    def visit(line: dict) -> tuple | None:
        held = (line["member"] if member else line["claim_id"], line["provider"] if provider else line["claim_id"],
                day(line))
        return None if None in held else held

    def mods(line: dict) -> set[str]:
        return set((line["mod"] or "").replace(",", " ").split())

    out = []
    for i, line in enumerate(lines):
        found: dict = {"edits": [], "severity": [], "ptp_column1": None, "mue_limit": None, "mue_units": None}
        on = day(line)
        if visit(line) is None:  # no date, or no member: in no visit
            out.append(found)
            continue
        mates = [(j, other) for j, other in enumerate(lines) if visit(other) == visit(line)]
        best = None  # (severity, column 1 line)
        for c1, c2, start, end, indicator in RULES["ptp"]:
            if c2 != line["procedure_code"] or indicator == 9 or not in_force(on, start, end, True):
                continue
            for j, other in mates:
                if j == i or other["procedure_code"] != c1:
                    continue
                present = (mods(line) | mods(other)) & PTP_MODIFIERS
                if indicator == 1 and present - {"59"}:
                    continue
                severity = 1 if indicator == 1 and "59" in present else 0
                if best is None or (severity, other["claim_id"], c1) < best:
                    best = (severity, other["claim_id"], c1)
        if best is not None:
            found["edits"].append("ncci_ptp")
            found["severity"].append(best[0])
            found["ptp_column1"] = f"{best[2]} on claim {best[1]}"
        for code, limit, indicator, start, end in RULES["mue"]:
            if code != line["procedure_code"] or line["units"] is None or not in_force(on, start, end, False):
                continue
            counted = line["units"] if indicator == 1 else sum(
                other["units"] for _, other in mates if other["procedure_code"] == code and other["units"] is not None)
            if counted > limit:
                found["edits"].append("mue_units")
                found["severity"].append(0)
                found["mue_limit"], found["mue_units"] = limit, float(counted)
        edits = [(p, t) for a, p, t, start, end in RULES["aoc"]
                 if a == line["procedure_code"] and t != 2 and in_force(on, start, end, True)]
        if edits and not any(other["procedure_code"] == p for p, _ in edits for _, other in mates):
            found["edits"].append("aoc_without_primary")
            found["severity"].append(0 if min(t for _, t in edits) == 1 else 1)
        out.append(found)
    return out


def screened(lines: pl.DataFrame, **options: object) -> pl.DataFrame:
    return screen(lines, policy=["0198", tables(**RULES)], dx=["dx1"], modifiers=["mod"], units="units",
                  **options).collect()  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), member=st.booleans(), provider=st.booleans())
def test_the_screen_agrees_with_a_line_by_line_oracle(seed: int, member: bool, provider: bool) -> None:
    agrees_with_the_oracle(seed, member, provider)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_units_counted_in_crowded_buckets_agree_with_the_oracle(seed: int) -> None:
    """The MUE's bucket count (a necessary condition for a visit's units to be over) with four buckets for every
    line: every bucket holds several groups, and the lines over are still exactly the oracle's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ncci, "BUCKET_BITS", (2, 2))
        agrees_with_the_oracle(seed, True, True)


def agrees_with_the_oracle(seed: int, member: bool, provider: bool) -> None:
    lines = claims(seed, members=member, providers=provider)
    roles = {"member": "member"} if member else {}
    roles |= {"provider": "provider"} if provider else {}
    policy_only = screen(lines, policy=["0198"], dx=["dx1"], modifiers=["mod"]).collect()
    out = screened(lines, **roles)
    codes = reason_codes()
    for n, (expected, got, alone) in enumerate(zip(oracle(lines.to_dicts(), member=member, provider=provider),
                                                   out.to_dicts(), policy_only.to_dicts(), strict=True)):
        where = f"line {n + 1}: {got}"
        own = alone["edits"] or []
        if not expected["edits"]:
            assert got["determination"] == alone["determination"], where
            assert got["edits"] == alone["edits"] and got["ptp_column1"] is None and got["mue_limit"] is None, where
            assert got["reason"] == alone["reason"], where
            continue
        assert got["edits"] == own + expected["edits"], where
        ncci = min(expected["severity"])
        decides = ncci < SEVERITY[alone["determination"]]
        assert got["determination"] == (["not_covered", "review"][ncci] if decides else alone["determination"]), where
        assert got["reason"].startswith(alone["reason"] + " NCCI "), where
        assert got["ptp_column1"] == expected["ptp_column1"], where
        assert got["mue_limit"] == expected["mue_limit"] and got["mue_units"] == expected["mue_units"], where
        assert got["denied_units"] == (float(lines["units"][n]) if expected["mue_limit"] is not None else None), where
        if decides and ncci == 0:
            deciding = expected["edits"][expected["severity"].index(0)]
            assert (got["group_code"], got["carc"], got["rarc"]) == (codes[deciding].group_code, codes[deciding].carc,
                                                                     codes[deciding].rarc), where
            prefix = {"ncci_ptp": "NCCI-PTP:", "mue_units": "NCCI-MUE:", "aoc_without_primary": "NCCI-AOC:"}[deciding]
            assert got["rule_id"].startswith(prefix), where
        elif not decides:
            assert got["carc"] == alone["carc"] and got["rule_id"] == alone["rule_id"], where
        if not (member and provider):
            assert "so one claim's lines stand for one" in got["reason"], where


def test_streaming_equals_in_memory_across_slices_and_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = pl.concat([claims(seed) for seed in range(5)])
    roles = {"member": "member", "provider": "provider"}
    in_memory = screened(lines, **roles)
    monkeypatch.setattr(driver, "CHUNK_ROWS", 7)  # visits cut across slices
    monkeypatch.setattr(ncci, "BUCKET_LINES", 40)  # the edits found a few buckets of visits at a time
    monkeypatch.setattr(ncci, "ROW_GROUP", 5)  # and read back by row groups
    streamed = screened(lines, streaming=True, **roles)
    assert in_memory["edits"].list.len().sum() > 0 and in_memory.equals(streamed)
    assert in_memory["findings"].list.eval(pl.element().struct.field("policy") == "NCCI").list.any().sum() == \
        in_memory["ptp_column1"].is_not_null().sum() + in_memory.filter(pl.col("ptp_column1").is_null())[
            "edits"].list.eval(pl.element().is_in(["mue_units", "aoc_without_primary"])).list.any().sum()


def test_an_example_visit_reads_as_a_reviewer_would_read_it() -> None:
    day = "2016-03-01"
    lines = pl.DataFrame({
        "claim_id": ["a", "a", "b", "b", "b"], "procedure_code": ["97140", "97530-59", "97545", "97545", "97546"],
        "dx1": ["M54.50"] * 5, "service_date": [day] * 5, "units": [1, 1, 2, 1, 1], "mod": [None] * 5,
        "member": ["m"] * 5, "provider": ["p"] * 5})
    out = screened(lines, member="member", provider="provider")
    assert out["determination"].to_list() == ["not_applicable", "review", "not_covered", "not_covered", "not_covered"]
    assert out["ptp_column1"].to_list() == [None, "97140 on claim a", None, None, None]
    assert out["mue_limit"].to_list() == [None, None, 2, 2, None]
    assert out["mue_units"].to_list() == [None, None, 3.0, 3.0, None]
    assert out["denied_units"].to_list() == [None, None, 2.0, 1.0, None]
    assert "only PTP-associated modifier is the generic 59" in out["reason"][1]
    assert "the most units of service of CPT 97545 for one member by one provider on one date are 2" in out["reason"][2]


def test_roles_and_settings_are_checked() -> None:
    lines = claims(0)
    with pytest.raises(InputError, match="--ncci-setting practitioner"):
        screened(lines, ncci_setting="outpatient_hospital")
    with pytest.raises(InputError, match="units of service as numbers"):
        screened(lines.with_columns(pl.col("units").cast(pl.String)))
    with pytest.raises(InputError, match="NCCI edits need the date of service"):
        screen(lines.drop("service_date"), policy=["0198", tables(**RULES)], dx=["dx1"], icd_version=9).collect()
    with pytest.raises(InputError, match="one set of NCCI tables"):
        screen(lines, policy=["0198", tables(**RULES), tables(**RULES)], dx=["dx1"]).collect()


def test_without_units_no_mue_is_checked_and_a_deleted_pair_is_not_applied() -> None:
    lines = pl.DataFrame({"claim_id": ["a"] * 4, "procedure_code": ["97110", "97112", "97545", "97545"],
                          "dx1": ["719.41"] * 4, "service_date": [(date(2014, 6, 1) + timedelta(i)).isoformat()
                                                                  for i in (0, 0, 1, 1)]})
    out = screen(lines, policy=["0198", tables(**RULES)], dx=["dx1"]).collect()
    assert out["edits"].to_list()[1] == ["ncci_ptp"]  # 97110/97112, indicator 1, in force until 2016
    assert out["mue_limit"].null_count() == 4  # no units column: MUE not checked
    later = lines.with_columns(service_date=pl.lit("2016-06-01"))
    out = screen(later, policy=["0198", tables(**RULES)], dx=["dx1"]).collect()
    assert out["ptp_column1"].to_list()[:2] == ["97112 on claim a", None]  # the pair reversed from 2016, indicator 0


def test_the_command_line_applies_the_published_files(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from codeindex.synth import write_ncci_files

    write_ncci_files(tmp_path / "ncci", ptp_rows=400, mue_codes=80, aoc_pairs=30)
    day = date(2026, 1, 15)
    lines = pl.DataFrame({
        "claim_id": ["a", "a", "b", "b", "c", "d"], "procedure_code": ["97545", "97545", "97140", "97530", "97546",
                                                                       "99213"],
        "dx1": ["M54.50"] * 6, "service_date": [day] * 6, "paid_amount": [100.0, 50.0, 20.0, 30.0, 40.0, 10.0],
        "units": [1, 1, 1, 1, 1, 1], "member": ["m1", "m1", "m2", "m2", "m3", "m4"], "npi": ["p"] * 6})
    source, out, summary = tmp_path / "claims.parquet", tmp_path / "out.parquet", tmp_path / "summary.json"
    lines.write_parquet(source)
    done = subprocess.run([sys.executable, "-m", "codeindex.cli", "screen", str(source), "-o", str(out), "--ncci",
                           str(tmp_path / "ncci"), "--member", "member", "--provider", "npi", "--units", "units",
                           "--summary-json", str(summary)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    screened = pl.read_parquet(out)
    assert screened["edits"].to_list()[:5] == [["mue_units"], ["mue_units"], None, ["ncci_ptp"],
                                               ["addon_without_primary", "aoc_without_primary"]]
    assert screened["ptp_column1"][3] == "97140 on claim b" and screened["carc"][3] == "236"
    assert screened["denied_units"].to_list()[:2] == [1.0, 1.0]
    found = json.loads(summary.read_text())
    assert {e["edit"]: (e["lines"], e["amount"]) for e in found["edits"]}["mue_units"] == (2, 150.0)
    assert found["denied_units"] == 2.0
    assert {f["name"] for f in found["ncci"]["files"]} >= {"AOC_V2026Q1-MCR.txt", "ccipra-v320r0-f1.txt"}
    refused = subprocess.run([sys.executable, "-m", "codeindex.cli", "screen", str(source), "-o", str(out),
                              "--replace-input", "--ncci", str(tmp_path / "nowhere")], capture_output=True, text=True,
                             timeout=120, check=False)
    assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1 and "nowhere" in refused.stderr


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.sampled_from([1.0, 2.0, 3.0, 0.5, -1.0, -2.0, 0.0]),
                          st.integers(0, 4), st.booleans()), max_size=40),
       st.integers(2, 6))
def test_the_bucket_count_keeps_every_line_of_a_group_over_its_limit(
        rows: list[tuple[int, float, int, bool]], bits: int) -> None:
    """``_may_be_over`` is a necessary condition: a line of a group whose counted units sum over its limit is
    always kept, however many groups share a bucket and whatever units (negative ones included) they hold."""
    lines = pl.DataFrame([(group, units, limit) for group, units, limit, _ in rows],
                         schema={"group": pl.UInt64, "units": pl.Float64, "limit": pl.UInt32}, orient="row")
    counted = [c for *_, c in rows]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ncci, "BUCKET_BITS", (bits, bits))
        kept = ncci._may_be_over(lines, pl.lit(pl.Series(counted, dtype=pl.Boolean))).to_list()
    for n, (group, _, limit, is_counted) in enumerate(rows):
        total = sum(u for g, u, _, c in rows if g == group and c)
        if is_counted and total > limit:
            assert kept[n], (n, group, total, limit)


def test_streamed_edits_spill_under_a_temporary_folder_of_any_name(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The spilled outcomes are read back as the files they are, under a temporary folder whose name polars would
    take for a pattern."""
    lines = claims(3)
    roles = {"member": "member", "provider": "provider"}
    in_memory = screened(lines, **roles)
    folder = tmp_path / "tmp[1]"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    assert in_memory["edits"].list.len().sum() > 0 and in_memory.equals(screened(lines, streaming=True, **roles))
