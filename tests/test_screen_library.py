"""A library of policies screened in one pass: each line gets, per policy that names its procedure, what
that policy alone gives it, and the most severe of those decides the line."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from codeindex import InputError
from codeindex.policy import load_policy, parse_cpb
from codeindex.policy.compiled import compile_policies
from codeindex.screen import by_policy, screen
from codeindex.screen.columns import DETERMINATIONS, RESULT
from codeindex.screen.procedures import classify_procedures

# Names 97545 as 0198 does, but covered if criteria are met; 97110 not covered; ranges overlapping 0198's.
OTHER = """Clinical Policy Bulletin: Another policy
Number: 0997

CPT Codes / HCPCS Codes / ICD-9 Codes
CPT codes covered if selection criteria are met:
97545 Work hardening/conditioning; initial 2 hours
+ 97546 each additional hour
CPT codes not covered for indications listed in the CPB:
97110 Therapeutic exercises
ICD-9 codes covered if selection criteria are met:
724.2 Lumbago
V15.1 - V15.3 History of surgery, allergy, other hazards
ICD-9 codes not covered for indications listed in the CPB:
850 - 854.19 Intracranial injury
CPT Codes / HCPCS Codes / ICD-10 Codes
CPT codes covered if selection criteria are met:
97545 Work hardening/conditioning; initial 2 hours
ICD-10 codes covered if selection criteria are met:
M54.50 - M54.59 Low back pain
ICD-10 codes not covered for indications listed in the CPB:
S06.0X0A - S06.9X9S Intracranial injury
"""

PROCEDURES = ["97545", "97546", "97110", "99213", "97545-GP", "9754X", " 97545 ", None]
DIAGNOSES = ["800.00", "851.00", "V15.1", "V15.2", "724.2", "250.00", "M54.5", "M54.50", "S06.0X0A",
             "S72.001A", "Z00.00", "E11.9", "BAD", " 850.0 ", None]
DATES = [date(2014, 6, 1), date(2016, 3, 1), date(2022, 1, 5), None]
FIELDS = list(RESULT)


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("library") / "0997.txt"
    path.write_text(OTHER, encoding="utf-8")
    return str(path)


def _names(policy: str, value: str | None) -> bool:
    """Whether the policy, screened alone, names the procedure value (in some era)."""
    said = classify_procedures([value], compile_policies((load_policy(policy),)))
    return bool(said["names"].any())


def _as_text(row: dict[str, object]) -> dict[str, object]:
    return {name: row[name] for name in FIELDS}


lines = st.lists(st.tuples(st.integers(1, 4), st.sampled_from(PROCEDURES), st.sampled_from(DIAGNOSES),
                           st.sampled_from(DIAGNOSES), st.sampled_from(DATES)), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=lines, mode=st.sampled_from(["policy", "all"]))
@example(rows=[(1, "97545", "800.00", "800.00", date(2014, 6, 1))], mode="all")
def test_two_policies_together_give_each_line_what_each_alone_gives(other: str, rows: list[tuple],
                                                                    mode: str) -> None:
    frame = pl.DataFrame(rows, schema={"claim_id": pl.Int64, "procedure_code": pl.String, "dx1": pl.String,
                                       "dx2": pl.String, "service_date": pl.Date}, orient="row")
    library = ["0198", other]
    together = screen(frame, policy=library, icd_version=9, edits=mode).collect()  # type: ignore[arg-type]
    text = {name: pl.String for name, dtype in RESULT.items() if not isinstance(dtype, pl.List)}
    alone = [screen(frame, policy=p, icd_version=9, edits=mode).collect().cast(text)  # type: ignore[arg-type]
             for p in library]
    assert together.height == frame.height
    assert together.select(frame.columns).equals(frame)
    for i, line in enumerate(together.iter_rows(named=True)):
        named = [p for p in range(len(library)) if _names(library[p], rows[i][1])]
        want = [_as_text(alone[p].row(i, named=True)) for p in named]
        assert [{name: f[name] for name in FIELDS} for f in line["findings"]] == want, (i, rows[i])
        if want:  # the most severe decides; on a tie the policy given first
            deciding = min(want, key=lambda f: DETERMINATIONS.index(str(f["determination"])))
            assert {k: (str(v) if v is not None and not isinstance(v, list) else v)
                    for k, v in _as_text(line).items()} == deciding, (i, rows[i])
        else:  # no policy names it: not applicable, and no policy decides
            assert line["determination"] == "not_applicable"
            assert line["policy"] is None
            assert line["matched_dx"] is None or line["matched_dx"] == []


def test_a_list_of_one_policy_adds_findings_to_what_the_policy_alone_gives() -> None:
    path = Path(__file__).parents[1] / "data" / "sample_claims.parquet"
    alone = screen(path).collect()
    listed = screen(path, policy=["0198"]).collect()
    assert listed.drop("findings").equals(alone)
    named = alone["matched_procedure_range"].is_not_null() | (alone["determination"] != "not_applicable")
    assert (listed["findings"].list.len() > 0).sum() >= named.sum() > 0


def test_by_policy_gives_a_row_per_line_and_policy(other: str) -> None:
    frame = pl.DataFrame({"claim_id": [1, 1, 2, 3], "procedure_code": ["97545", "97546", "97110", "99213"],
                          "dx1": ["851.00", "724.2", "V15.2", "800.00"],
                          "service_date": [date(2014, 6, 1)] * 4})
    together = screen(frame, policy=["0198", other])
    rows = by_policy(together).collect()
    assert rows.height == 2 + 2 + 1 + 1  # 97545 and 97546: both policies; 97110: the other; 99213: none
    assert rows.select("claim_id", "policy", "determination").rows() == [
        (1, "0198", "not_covered"), (1, "0997", "not_covered"), (1, "0198", "not_covered"), (1, "0997", "review"),
        (2, "0997", "not_covered"), (3, None, "not_applicable")]
    decided = together.collect()
    assert decided["determination"].to_list() == ["not_covered", "not_covered", "not_covered", "not_applicable"]
    assert decided["policy"].to_list() == ["0198", "0198", "0997", None]
    assert decided["reason"][3] == "The procedure is not named by any of the 2 policies screened, so none applies."


def test_a_library_with_one_id_twice_is_refused(other: str) -> None:
    with pytest.raises(InputError, match="0997"):
        screen(pl.DataFrame({"claim_id": [1], "procedure_code": ["97545"], "dx1": ["800.00"],
                             "service_date": [date(2014, 6, 1)]}), policy=[other, parse_cpb(OTHER)])


def test_a_finding_names_its_policy_revision_and_effective_date() -> None:
    revised = replace(parse_cpb(OTHER), revision="7", effective=date(2013, 1, 1))
    frame = pl.DataFrame({"claim_id": [1], "procedure_code": ["97545"], "dx1": ["724.2"],
                          "service_date": [date(2014, 6, 1)]})
    findings = screen(frame, policy=["0198", revised]).collect()["findings"][0].to_list()
    assert [(f["policy"], f["policy_revision"], f["policy_effective"]) for f in findings] == [
        ("0198", None, None), ("0997", "7", date(2013, 1, 1))]


def test_a_library_streamed_equals_it_in_memory(other: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codeindex.screen import driver

    path = Path(__file__).parents[1] / "data" / "sample_claims.parquet"
    in_memory = screen(path, policy=["0198", other], edits="all").collect()
    monkeypatch.setattr(driver, "CHUNK_ROWS", 1_234)  # slices that cut claims apart
    streamed = screen(path, policy=["0198", other], edits="all", streaming=True).collect(engine="streaming")
    assert streamed.equals(in_memory)
    assert (in_memory["findings"].list.len() == 2).any()
