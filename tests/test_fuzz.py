"""Arbitrary input never breaks a parser or loses a claim line (issue 7)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeindex import parse_code, parse_range
from codeindex.errors import InvalidCodeError, PolicyParseError
from codeindex.policy import parse_cpb
from codeindex.screen import screen
from codeindex.systems import SYSTEMS

PARSER_EXAMPLES = 300
POLICY_EXAMPLES = 300
SCREEN_EXAMPLES = 120

# Text that looks like codes, to reach deep into the parsers, mixed with anything at all.
CODE_ALPHABET = "0123456789VvEeSsZzOoGPTFUM.+- \t\u2013\u0660\u0668\uff10\uff18"
code_like = st.text(alphabet=CODE_ALPHABET, max_size=12)
any_text = st.one_of(code_like, st.text(max_size=20))


@pytest.mark.parametrize("system", [*SYSTEMS, "cpt", "icd9", "icd10"])
@settings(max_examples=PARSER_EXAMPLES, deadline=None)
@given(text=any_text)
def test_parse_code_raises_only_invalid_code_error(system: str, text: str) -> None:
    try:
        code = parse_code(text, system)
    except InvalidCodeError:
        return
    assert code.short and code.lo <= code.hi


@pytest.mark.parametrize("system", [*SYSTEMS, "cpt", "icd9", "icd10"])
@settings(max_examples=PARSER_EXAMPLES, deadline=None)
@given(text=st.one_of(any_text, st.builds(lambda a, sep, b: a + sep + b, code_like, st.sampled_from(
    ["-", " - ", "\u2013", "--", " "]), code_like)))
def test_parse_range_raises_only_invalid_code_error(system: str, text: str) -> None:
    try:
        code_range = parse_range(text, system)
    except InvalidCodeError:
        return
    assert code_range.start.lo <= code_range.end.hi


POLICY_LINES = [
    "CPT Codes / HCPCS Codes / ICD-9 Codes", "CPT Codes / HCPCS Codes / ICD-10 Codes",
    "CPT codes not covered for indications listed in the CPB:", "HCPCS codes covered if selection criteria are met:",
    "ICD-9 codes not covered for indications listed in the CPB (not all-inclusive):",
    "ICD-10 codes covered if selection criteria are met:", "Other CPT codes related to the CPB:",
    "ICD-9 Procedure codes covered:", "ICD-10 Procedure codes covered:",
    "97545 Work hardening", "+97546 each additional hour", "800.00 - 999.9 Injuries", "V15.1 - V15.6 History",
    "S00.00X+ - T88.9XX+ Injuries", "| 97545 | Work hardening |", "|---|---|", "Code | Code Description",
    "No specific code", "Background", "References", "9754X, 97546 broken", "800.00 -", "- 999.9", "",
    "Number: 0198", "Clinical Policy Bulletin: Work Hardening",
]
policy_text = st.lists(st.one_of(st.sampled_from(POLICY_LINES), st.text(max_size=40),
                                 st.lists(code_like, max_size=4).map(" ".join)), max_size=25).map("\n".join)


@settings(max_examples=POLICY_EXAMPLES, deadline=None)
@given(text=st.one_of(policy_text, st.text()))
def test_parse_cpb_raises_only_policy_parse_error(text: str) -> None:
    try:
        parse_cpb(text, source="fuzz")
    except PolicyParseError as exc:
        assert "fuzz" in str(exc)


PROCEDURES = ["97545", "97546", "97537", "S9117", "99213", "97545-GP", "9754", "", " 97545 ", "NULL", "s9117"]
DIAGNOSES = ["800.00", "V57.22", "S72.001A", "8OO.00", "800.", "800..00", "", "nan", "V15", "Z87.81", "410"]
DATES = ["2012-01-05", "20160105", "2015-10-01", "2015-09-30", "2012-02-30", "01/05/2012", "", "garbage"]

maybe_code = st.one_of(st.none(), st.sampled_from(PROCEDURES + DIAGNOSES), any_text)
claim_line = st.fixed_dictionaries({
    "claim": st.sampled_from(["A", "B", "C", None]),
    "procedure_code": st.one_of(st.none(), st.sampled_from(PROCEDURES), any_text),
    "dx1": maybe_code, "dx2": maybe_code, "dx3": maybe_code,
    "service_date": st.one_of(st.none(), st.sampled_from(DATES), st.dates(date(1900, 1, 1), date(2100, 1, 1))
                              .map(lambda d: d.strftime("%Y%m%d")), st.text(max_size=12)),
})


@settings(max_examples=SCREEN_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(claim_line, max_size=40), edits=st.sampled_from(["policy", "all"]))
def test_screen_keeps_every_line_in_order(lines: list[dict[str, object]], edits: str) -> None:
    frame = pl.DataFrame(
        [{"id": i, "claim_id": line["claim"], **{k: v for k, v in line.items() if k != "claim"}}
         for i, line in enumerate(lines)],
        schema={"id": pl.Int64, "claim_id": pl.String, "procedure_code": pl.String, "dx1": pl.String,
                "dx2": pl.String, "dx3": pl.String, "service_date": pl.String})
    out = screen(frame, icd_version=9, edits=edits).collect()  # type: ignore[arg-type]
    assert out.height == frame.height
    assert out["id"].to_list() == list(range(frame.height))
    assert out.select(frame.columns).equals(frame)
    assert out["determination"].null_count() == 0
    assert set(out["determination"]) <= {"not_covered", "review", "covered", "not_applicable"}
