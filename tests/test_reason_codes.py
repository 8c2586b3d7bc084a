"""Reason codes on every denied line (issue 25, item 3): an X12 group code, a CARC and a RARC where one applies,
from ``data/reason_codes.csv`` or a policy group's own, a stable rule id per finding, and the counts per code in
the summary and the report."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import polars as pl
import pytest
from test_decision_table import CPB, IN_COVERED, IN_NONE, IN_NOT_COVERED, LCD, lines_of

from codeindex.errors import InputError
from codeindex.policy import Policy, load_policy
from codeindex.policy.bulletin import format_cpb
from codeindex.policy.reason_codes import CAUSES, descriptions, reason_codes
from codeindex.report import render_report
from codeindex.screen import by_policy, screen
from codeindex.screen.summary import summarize

DX = ["dx1", "dx2", "dx3", "dx4"]


def test_each_cause_of_a_denial_has_its_codes_and_no_other_line_has_any() -> None:
    cases = [("97113", [IN_COVERED]),  # the procedure's group is not covered
             ("97110", [IN_NOT_COVERED]),  # a diagnosis in a not-covered list
             ("97110", [IN_NONE]),  # none in the exhaustive list
             ("97110", [IN_COVERED]), ("97112", [IN_COVERED]), ("99213", [])]  # covered, review, not named
    out = screen(lines_of(cases), policy=LCD, dx=DX).collect()
    assert out["determination"].to_list() == ["not_covered"] * 3 + ["covered", "review", "not_applicable"]
    got = out.select(pl.col("group_code", "carc", "rarc").cast(pl.String)).rows()
    standard = reason_codes()
    assert got[:3] == [(standard[c].group_code, standard[c].carc, standard[c].rarc) for c in CAUSES]
    assert got[:3] == [("CO", "96", "N130"), ("CO", "50", None), ("CO", "11", None)]
    assert got[3:] == [(None, None, None)] * 3  # nothing adjusted, nothing decided yet, nothing named
    assert out["rule_id"].cast(pl.String).to_list() == [
        "L0902/-/icd10/2/0", "L0902/-/icd10/0/0", "L0902/-/icd10/0/0", "L0902/-/icd10/0/0", "L0902/-/icd10/1/0", None]


def test_a_policy_group_may_give_its_own_codes(tmp_path: Path) -> None:
    data = LCD.to_json()
    data["revision"] = "7"
    data["versions"][0]["groups"][0]["reason_codes"] = {
        "diagnosis_not_covered": {"group_code": "PR", "carc": "167", "rarc": "N115"}}
    path = tmp_path / "lcd.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    policy = load_policy(str(path))
    assert Policy.from_json(json.loads(json.dumps(policy.to_json()))) == policy  # the codes round-trip
    assert policy != LCD  # and are part of the policy's content
    out = screen(lines_of([("97110", [IN_NOT_COVERED]), ("97110", [IN_NONE]), ("97113", [])]), policy=policy,
                 dx=DX).collect()
    assert out.select(pl.col("group_code", "carc", "rarc").cast(pl.String)).rows() == [
        ("PR", "167", "N115"), ("CO", "11", None), ("CO", "96", "N130")]  # the rest as the table says
    assert out["rule_id"].cast(pl.String).to_list() == ["L0902/7/icd10/0/0", "L0902/7/icd10/0/0",
                                                        "L0902/7/icd10/2/0"]
    with pytest.raises(InputError, match="write the policy as JSON"):
        format_cpb(policy)


@pytest.mark.parametrize(("codes", "problem"), [
    ({"denied": {"group_code": "CO", "carc": "50"}}, "unknown key 'denied'"),
    ({"diagnosis_not_covered": {"group_code": "XX", "carc": "50"}}, "group code 'XX' is not one of CO, CR, OA"),
    ({"diagnosis_not_covered": {"group_code": "CO", "carc": "=1+1"}}, "CARC '=1+1' is not a code"),
    ({"diagnosis_not_covered": {"carc": "50"}}, "missing key 'group_code'"),
])
def test_reason_codes_in_json_are_checked(codes: dict[str, object], problem: str) -> None:
    data = LCD.to_json()
    data["versions"][0]["groups"][0]["reason_codes"] = codes
    with pytest.raises(InputError, match=re.escape(problem)):
        Policy.from_json(data, source="p.json")
    data["versions"][0]["groups"][0].pop("reason_codes")
    data["versions"][0]["groups"][4]["reason_codes"] = {"diagnosis_not_covered": {"group_code": "CO", "carc": "50"}}
    with pytest.raises(InputError, match=r"groups\[4\].reason_codes: reason codes are a procedure group's"):
        Policy.from_json(data, source="p.json")


def test_a_librarys_findings_carry_each_policys_codes() -> None:
    out = screen(lines_of([("97110", [IN_NONE])]), policy=[CPB, LCD], dx=DX).collect()
    assert out["determination"].to_list() == ["not_covered"]  # the LCD's finding is the most severe
    findings = out["findings"][0].to_list()
    assert [(f["policy"], f["determination"], f["carc"], f["rule_id"]) for f in findings] == [
        ("0901", "covered", None, "0901/-/icd10/0/0"), ("L0902", "not_covered", "11", "L0902/-/icd10/0/0")]
    rows = by_policy(out).collect()
    assert rows.select("policy", "carc").rows() == [("0901", None), ("L0902", "11")]


def test_the_summary_and_the_report_count_lines_and_amounts_per_code() -> None:
    lines = lines_of([("97113", [])] * 3 + [("97110", [IN_NOT_COVERED])] * 2 + [("97110", [IN_COVERED])]).with_columns(
        paid_amount=pl.Series([10.0, 20.0, 30.0, 5.0, 5.5, 99.0]))
    out = screen(lines, policy=LCD, dx=DX).collect()
    summary = summarize(out.lazy(), LCD, {"procedure": "procedure_code", "amount": "paid_amount",
                                          "date": "service_date", "claim_id": "claim_id"})
    assert summary["reason_codes"] == [
        {"group_code": "CO", "carc": "96", "rarc": "N130", "lines": 3, "amount": 60.0},
        {"group_code": "CO", "carc": "50", "rarc": None, "lines": 2, "amount": 10.5}]
    page = render_report({**summary, "elapsed_seconds": 1.0})
    assert "Reason codes of not_covered lines" in page
    assert html.escape(descriptions()["CARC 96"]) in page and html.escape(descriptions()["RARC N130"]) in page


def test_the_sample_every_denied_line_has_its_codes() -> None:
    out = screen(Path(__file__).resolve().parents[1] / "data" / "sample_claims.parquet").collect()
    denied = out.filter(pl.col("determination") == "not_covered")
    assert denied.height > 0 and denied["carc"].null_count() == 0 and denied["group_code"].null_count() == 0
    assert out.filter(pl.col("determination") != "not_covered")["carc"].null_count() == out.height - denied.height
    rules = set(denied["rule_id"].cast(pl.String))
    assert {"0198/-/icd9/0/0", "0198/-/icd9/0/1"} <= rules and all(r.startswith("0198/-/icd") for r in rules)


def test_the_summary_counts_claims_to_act_on_and_the_report_shows_money() -> None:
    lines = lines_of([("97113", [])] * 2 + [("97110", [IN_NOT_COVERED])] + [("97112", [IN_COVERED])]).with_columns(
        claim_id=pl.Series(["a", "a", "b", "c"]), paid_amount=pl.Series([10.0, 20.0, 5.5, 1234.5]))
    out = screen(lines, policy=LCD, dx=DX).collect()
    summary = summarize(out.lazy(), LCD, {"procedure": "procedure_code", "amount": "paid_amount",
                                          "date": "service_date", "claim_id": "claim_id"})
    assert summary["claims"] == {"not_covered": 2, "review": 1}  # claims a and b; claim c is in review
    page = render_report({**summary, "elapsed_seconds": 1.0})
    assert "on 2 claims with a not_covered line and 1 with a review line" in page
    assert "$1,270.00" in page  # the amount at stake, as money
