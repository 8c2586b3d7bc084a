"""The screen when most lines are the policy's (issue "The screen at any share"): the column-by-column
explanation against a line-by-line oracle, streaming against in-memory, the compiled policy, and the
wrong outputs and errors the rewrite fixed."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from diagnosis_oracle import said_through_index
from hypothesis import given, settings
from hypothesis import strategies as st

from codeindex import InputError, synth
from codeindex.codesets import release_on, releases
from codeindex.policy import load_policy, parse_cpb
from codeindex.policy.compiled import compile_policies
from codeindex.policy.model import DIAGNOSIS_SYSTEMS
from codeindex.screen import driver, frames, screen
from codeindex.screen.columns import ITEM_SEPARATOR, RANGE_SEPARATOR
from codeindex.screen.frames import distinct_rows
from codeindex.screen.line import icd_version_era
from codeindex.screen.procedures import classify_procedures

RELATED = """Clinical Policy Bulletin: Related codes
Number: 0998

CPT Codes / HCPCS Codes / ICD-10 Codes
CPT codes not covered for indications listed in the CPB:
97545 Work hardening/conditioning; initial 2 hours
Other CPT codes related to the CPB:
97110 Therapeutic exercises
ICD-10 codes covered if selection criteria are met:
M54.50 Low back pain, unspecified
ICD-10 codes not covered for indications listed in the CPB:
S00.00XA - T88.9XXS Injuries and poisonings
"""


@pytest.fixture(scope="module")
def extract() -> pl.DataFrame:
    """A work-hardening extract: nearly every line 97545/97546, both eras, truncated and malformed codes."""
    return synth.long_claims(4000, seed=3, policy_share=0.33)


def _release(era: str, day: object) -> int:
    """The index of the era's code-set release in force on a line's date (its newest for no date)."""
    system = DIAGNOSIS_SYSTEMS[era]
    if day is None:
        return len(releases(system)) - 1
    day = day if isinstance(day, date) else date.fromisoformat(str(day).replace("/", "-"))
    return release_on(system, day).release.index


def _oracle(frame: pl.DataFrame, edits_mode: str = "policy") -> list[dict[str, object]]:
    """Each line's determination, matched lists, edits and notes, worked out line by line in Python from what
    each value says through the parser path and the policy's interval index, as the README describes them.
    With ``edits_mode="all"`` a line the policy does not name is screened too when a diagnosis draws an edit
    (its own, or a partial overlap of the lone policy's ranges), and any other has its edits checked: empty."""
    compiled = compile_policies((load_policy("0198"),))
    era_of = frame.select(era=icd_version_era("icd_version") if "icd_version" in frame.columns
                          else pl.when(pl.col("service_date") < pl.date(2015, 10, 1)).then(pl.lit("icd9"))
                          .otherwise(pl.lit("icd10")))["era"].to_list()
    procedures = {row["procedure"]: row for row in classify_procedures(
        frame["procedure_code"].unique().to_list(), compiled).iter_rows(named=True) if row["era"] is not None}
    claims: dict[object, set[str]] = {}
    for claim, code in frame.select("claim_id", "procedure_code").iter_rows():
        claims.setdefault(claim, set()).add((code or "").strip())
    dx = [f"dx{i}" for i in range(1, 13)]
    expected = []
    for line, era in zip(frame.iter_rows(named=True), era_of, strict=True):
        said_proc = next((r for r in classify_procedures([line["procedure_code"]], compiled).iter_rows(
            named=True) if r["era"] == era), None)
        assert said_proc is not None and procedures  # every line here has a readable era
        release = _release(era, line["service_date"])  # the code-set release in force on the date
        values = [(line[c], era, release) for c in dx if line[c] is not None and line[c].strip()]
        said = {row["value"]: row for row in said_through_index(values, compiled).iter_rows(named=True)}
        found = [said[v] for v, _, _ in values if v in said]
        matched = [s["text"] for s in found if s["not_covered"]]
        ranges = list(dict.fromkeys(r for s in found if s["not_covered"] for r in s["ranges"].split(RANGE_SEPARATOR)))
        line_edits = ["invalid_code"] if said_proc["error"] else []
        line_edits += [e for s in found if s["edits"] for e in s["edits"].split(",")]
        notes = [n for s in found if s["notes"] for n in s["notes"].split(ITEM_SEPARATOR)]
        alone = bool(said_proc["add_on"]) and said_proc["primary"] not in claims[line["claim_id"]]
        line_edits += ["addon_without_primary"] if alone else []
        named = said_proc["coverage"] is not None
        drawn = edits_mode == "all" and any(s["edits"] for s in found)
        if not named and not said_proc["error"] and not drawn:  # not screened: nothing was looked for
            checked = [] if edits_mode == "all" else None  # every line's codes checked: none found
            expected.append({"determination": "not_applicable", "matched_dx": None, "matched_dx_ranges": None,
                             "edits": checked, "notes": checked, "first": None})
            continue
        if said_proc["rule"] == "criteria":
            verdict = "review" if any(s["covered"] for s in found) else ("not_covered" if matched else "review")
        else:
            verdict = said_proc["determination"]
        expected.append({
            "determination": verdict, "matched_dx": matched if named else [],
            "matched_dx_ranges": ranges if named else [], "edits": list(dict.fromkeys(line_edits)), "notes": notes,
            "first": next((c for c in dx if line[c] in said and said[line[c]]["not_covered"]), None)
            if matched and said_proc["rule"] == "not_covered" else None})
    return expected


@pytest.mark.parametrize("edits_mode", ["policy", "all"])
def test_explanation_column_by_column_equals_a_line_by_line_oracle(extract: pl.DataFrame, edits_mode: str) -> None:
    out = screen(extract, edits=edits_mode).collect()  # type: ignore[arg-type]
    share = out.select(pl.col("determination") != "not_applicable").to_series().mean()
    assert share is not None and share > 0.9  # the shape this is about: nearly every line screened
    got = out.select("determination", "matched_dx", "matched_dx_ranges", "edits", "notes", "reason").to_dicts()
    expected = _oracle(extract, edits_mode)
    for line, (want, have) in enumerate(zip(expected, got, strict=True)):
        for name in ("determination", "matched_dx", "matched_dx_ranges", "edits", "notes"):
            assert have[name] == want[name], (line, name, have, want)
        if want["first"]:  # the reason names the column of the first matched diagnosis; matched_dx lists it
            assert f"the diagnosis in {want['first']} is in " in have["reason"], (line, have["reason"])
        assert ("notes says why" in have["reason"]) == bool(want["notes"]), (line, have["reason"])
    if edits_mode == "all":  # lines screened for their diagnoses alone were there to be found
        drawn = [w for w in expected if w["determination"] == "not_applicable" and w["matched_dx"] == []]
        assert drawn


@pytest.mark.parametrize("edits", ["policy", "all"])
def test_streaming_equals_in_memory_at_full_share(extract: pl.DataFrame, tmp_path: Path, edits: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Slice by slice (with ``edits="all"``, each slice's new diagnosis values classified as they come) equals the
    whole in memory."""
    path = tmp_path / "extract.parquet"
    extract.write_parquet(path)
    in_memory = screen(path, edits=edits).collect()
    monkeypatch.setattr(driver, "CHUNK_ROWS", 777)  # slices that cut claims apart
    classified: list[int] = []
    classify = driver.classify_diagnoses
    monkeypatch.setattr(driver, "classify_diagnoses",
                        lambda values, *args: classified.append(values.len()) or classify(values, *args))
    streamed = screen(path, edits=edits, streaming=True).collect(engine="streaming")
    assert streamed.equals(in_memory)
    assert in_memory.filter(pl.col("edits").list.contains("addon_without_primary")).height > 0
    assert sum(1 for n in classified if n > 0) > 2  # values were classified slice after slice, not all at once


def test_values_classified_in_their_lines_contexts_equal_every_context(extract: pl.DataFrame,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """With few lines a value is classified only in the (era, release) contexts of the lines it is on; with many, in
    every context of the lines: the two give the same output."""
    calls: list[bool] = []
    classify = driver.classify_diagnoses
    monkeypatch.setattr(driver, "classify_diagnoses", lambda values, library, contexts, seen: calls.append(
        seen is not None) or classify(values, library, contexts, seen))
    monkeypatch.setattr(driver, "CELLS_PER_PAIR_AT_MOST", 10**9)  # the contexts of each value's lines
    in_their_contexts = screen(extract).collect()
    monkeypatch.setattr(driver, "CELLS_PER_PAIR_AT_MOST", 0)  # every context
    in_every_context = screen(extract).collect()
    assert calls == [True, False]
    assert in_their_contexts.equals(in_every_context)
    assert in_their_contexts["edits"].list.contains("non_billable_code").any()


@pytest.mark.parametrize("edits", ["policy", "all"])
def test_slices_explained_side_by_side_equal_one_piece(extract: pl.DataFrame, tmp_path: Path, edits: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "extract.parquet"
    extract.write_parquet(path)
    monkeypatch.setattr(driver, "MIN_SLICE_ROWS", 10**9)
    one_piece = screen(path, edits=edits).collect()
    monkeypatch.setattr(driver, "MIN_SLICE_ROWS", 100)
    monkeypatch.setattr(driver, "SLICES_AT_MOST", 3)  # slices that cut claims apart, on any machine
    pieces = list(driver._in_memory(*_lines_and_plan(path, edits)))
    assert len(pieces) == 3
    assert pl.concat(pieces).equals(one_piece)


def _lines_and_plan(path: Path, edits: str) -> tuple[pl.LazyFrame, driver._Screen]:
    from codeindex.screen.layouts import claim_lines

    rows, cols = claim_lines(path, "long")
    lines = cols.lines(rows)
    library = compile_policies((load_policy("0198"),))
    return lines, driver._Screen(cols, lines.collect_schema(), str(path), None, library, edits, False)


def test_the_policy_is_compiled_once() -> None:
    policy = load_policy("0198")
    assert compile_policies((policy,)) is compile_policies((policy,))
    compiled = compile_policies((policy,))
    assert compiled.procedures.filter(era="icd10")["range"].to_list() == ["97537", "97545", "97546", "S9117"]
    assert compiled.procedures.filter(add_on=True)["primary"].unique().to_list() == ["97545"]


def test_a_related_procedure_is_said_to_be_related() -> None:
    policy = parse_cpb(RELATED)
    frame = pl.DataFrame({"claim_id": [1, 2], "procedure_code": ["97110", "99213"], "dx1": ["S72001A", "S72001A"],
                          "service_date": ["2020-01-01", "2020-01-01"]})
    related, other = screen(frame, policy=policy).collect().to_dicts()
    assert related["determination"] == "not_applicable"
    assert "among the codes related to the policy" in related["reason"]
    assert "makes no coverage determination" in related["reason"]
    assert "not named" not in related["reason"]
    assert related["matched_procedure_range"] == "97110"
    assert other["reason"] == "The procedure is not named by CPB 0998, so the policy does not apply."


def test_covered_if_criteria_met_at_full_share() -> None:
    policy = parse_cpb(RELATED.replace("CPT codes not covered for indications listed in the CPB:",
                                       "CPT codes covered if selection criteria are met:"))
    frame = pl.DataFrame({"claim_id": [1, 2, 3], "procedure_code": ["97545"] * 3,
                          "dx1": ["S72001A", " M54.50 ", "Z00.00"], "dx2": ["M54.50", None, None],
                          "service_date": ["2022-01-01"] * 3})  # M54.50 is a code from 2021-10-01
    rows = screen(frame, policy=policy).collect().to_dicts()
    assert [r["determination"] for r in rows] == ["review", "review", "review"]
    assert "the diagnosis in dx2 is in its covered list" in rows[0]["reason"]
    assert "the diagnosis in dx1 is in its covered list" in rows[1]["reason"]
    assert "no diagnosis on the line is in its lists" in rows[2]["reason"]
    assert rows[0]["matched_dx"] == ["S72001A"]


@pytest.mark.parametrize(("option", "message"), [({"icd_version": 11}, "icd_version must be 9 or 10"),
                                                 ({"edits": "some"}, "edits must be 'policy' or 'all'")])
def test_bad_options_are_errors_before_any_work(option: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        screen(pl.LazyFrame({"claim_id": [1], "procedure_code": ["97545"], "dx1": ["800.00"],
                             "service_date": ["2014-01-01"]}), **option)  # type: ignore[arg-type]


def test_screened_output_screened_again_is_one_clear_error() -> None:
    frame = pl.DataFrame({"claim_id": [1], "procedure_code": ["97545"], "dx1": ["800.00"],
                          "service_date": ["2014-01-01"]})
    once = screen(frame).collect()
    with pytest.raises(InputError, match="already has column"):
        screen(once)


def test_modifier_columns_are_named_in_the_reason_and_carried_through(tmp_path: Path) -> None:
    frame = pl.DataFrame({"claim_id": [1, 2], "procedure_code": ["97545", "99213"], "mod1": ["GP", "25"],
                          "mod2": [" 59", None], "dx1": ["800.00", "800.00"], "service_date": ["2014-01-01"] * 2})
    out = screen(frame, modifiers=["mod1", "mod2"]).collect()
    assert out.select("mod1", "mod2").equals(frame.select("mod1", "mod2"))
    assert "billed with the modifiers in mod1, mod2" in out["reason"][0]  # the line shows them
    assert "modifiers" not in out["reason"][1]  # a line the policy does not name says nothing of them
    with pytest.raises(InputError, match="no column 'mod9' \\(a modifier\\)"):
        screen(frame, modifiers=["mod9"])
    path = tmp_path / "claims.parquet"
    frame.write_parquet(path)
    command = [sys.executable, "-m", "codeindex.cli", "screen", str(path), "-o", str(tmp_path / "o.parquet"),
               "--modifier", "mod1", "--modifier", "mod2"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "billed with the modifiers in mod1, mod2" in pl.read_parquet(tmp_path / "o.parquet")["reason"][0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.none() | st.integers(-3, 3), st.none() | st.integers(0, 2**62), st.integers(0, 5)),
                max_size=30))
def test_distinct_rows_numbers_each_distinct_row_once(rows: list[tuple[int | None, int | None, int]]) -> None:
    """Integer rows packed into one integer (or not, when they hold a negative or would not fit) give the same
    distinct rows, each once, and each row's position among them."""
    frame = pl.DataFrame(rows, schema={"a": pl.Int64, "b": pl.UInt64, "c": pl.UInt8}, orient="row")
    for part in (frame, frame.select("b"), frame.select("c", "a"), frame.with_columns(pl.col("a").cast(pl.String))):
        distinct, at = distinct_rows(part)
        assert distinct.equals(part.unique(maintain_order=True))  # each once, in the order the rows meet them
        assert distinct[at].equals(part)
        assert distinct.equals(part[at.arg_unique()])


def test_distinct_rows_of_one_hash_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows of text are numbered by a hash of each, checked: rows whose hashes collide (here every row's) are
    still told apart."""
    frame = pl.DataFrame({"reason": ["a", "b", "a", None, "b", None], "edits": [["x"], ["x"], ["x"], [], ["y"], []]})
    expected = distinct_rows(frame)[0].height
    monkeypatch.setattr(frames, "_row_hash", lambda part: pl.repeat(7, part.height, dtype=pl.UInt64, eager=True))
    distinct, at = distinct_rows(frame)
    assert distinct.height == expected == 4
    assert distinct[at].equals(frame)
    assert distinct.equals(frame.unique(maintain_order=True))
