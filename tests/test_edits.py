"""The vectorized path that classifies diagnoses spelled as code-set codes must agree with the parser path."""

from __future__ import annotations

import random

import polars as pl
import pytest
from diagnosis_oracle import said_through_index

from codeindex.codesets import code_set, history, releases
from codeindex.policy import load_policy, parse_cpb
from codeindex.policy.compiled import compile_policies
from codeindex.policy.model import DIAGNOSIS_SYSTEMS
from codeindex.screen import diagnoses
from codeindex.screen.columns import ERAS
from codeindex.screen.diagnoses import classify_diagnoses, code_findings
from codeindex.screen.line import newest
from codeindex.systems import parse_code

CUSTOM = """CPT Codes / HCPCS Codes / ICD-9 Codes
CPT codes covered if selection criteria are met:
97110 Therapeutic exercise
ICD-9 codes covered if selection criteria are met:
410.0 - 410.92 Acute myocardial infarction
V16.0 - V16.9 Family history of malignant neoplasm
ICD-9 codes not covered for indications listed in the CPB:
800.00 - 999.9 Injuries and poisonings
V10 - V15.3 History
E880.0 Fall on stairs
001.05 - 002.1 A range ending inside a billable code's span
"""


def _values(era: str) -> list[str]:
    """Spellings of the era's code set (some written loosely) and of the other era's (mismatches)."""
    frame, other = (code_set(system).spellings for system in (("icd9dx", "icd10cm") if era == "icd9"
                                                              else ("icd10cm", "icd9dx")))
    rng = random.Random(7)
    spellings = frame["spelling"].to_list()
    chosen = rng.sample(spellings, 6000) + [v for v in spellings if v.startswith(("V1", "41", "00", "E88", "Z8"))]
    return (chosen + [" " + v.lower() + " " for v in rng.sample(chosen, 500)]
            + rng.sample(other["spelling"].to_list(), 2000) + ["8OO.00", "800.", "V15..1", "Q"])


LIBRARIES = {"0198": (load_policy("0198"),), "custom": (parse_cpb(CUSTOM),),
             "both": (load_policy("0198"), parse_cpb(CUSTOM))}


@pytest.mark.parametrize("library", LIBRARIES.values(), ids=LIBRARIES.keys())
@pytest.mark.parametrize(("era", "release"), [("icd9", 0), ("icd9", None), ("icd10", 1), ("icd10", None)])
def test_vectorized_path_equals_parser_path(library, era: str, release: int | None) -> None:
    """In the newest release of each era and an old one (values drawn from the newest), against one policy and
    a library of two."""
    compiled = compile_policies(library)
    release = newest(era) if release is None else release
    values = pl.Series(_values(era)).unique()
    classified = classify_diagnoses(values, compiled, [(era, release)])
    fast = classified.by_policy().sort("value", "policy")
    slow = said_through_index(((v, era, release) for v in values), compiled).sort("value", "policy")
    assert fast.columns == slow.columns
    assert fast.to_dicts() == slow.to_dicts()
    assert fast["not_covered"].any() or all(policy.version(era) is None for policy in library)
    assert (fast["edits"].is_null() == fast["notes"].is_null()).all()  # every edit comes with its note
    edits_found = set(fast["edits"].str.split(",").explode())
    assert {"icd_version_mismatch", "invalid_code", "non_billable_code"} <= edits_found
    # The odd spellings went through the parser; what every value is, is what the parser says it is.
    parsed = diagnoses._parsed(classified.codes.select("value", "text", "era", "release"))
    assert classified.codes.sort("value").equals(parsed.sort("value"))


def test_spans_interval_joined_match_as_compared_pair_by_pair(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spans found in the ranges by an interval join (as for a library of hundreds of policies) say what they say
    compared with every range one by one."""
    compiled = compile_policies(LIBRARIES["both"])
    values = pl.Series(_values("icd9") + _values("icd10")).unique()
    contexts = [("icd9", newest("icd9")), ("icd10", 1), ("icd10", newest("icd10"))]
    at_once = classify_diagnoses(values, compiled, contexts).spans.sort(pl.all())
    assert at_once["not_covered"].any() and at_once["covered"].any() and at_once["partly"].is_not_null().any()
    monkeypatch.setattr(diagnoses, "PAIRS_AT_ONCE", 0)
    assert classify_diagnoses(values, compiled, contexts).spans.sort(pl.all()).equals(at_once)


@pytest.mark.parametrize("era", ERAS)
def test_vectorized_path_classifies_every_code_set_spelling(era: str) -> None:
    """Values written as in either code set never reach the parser (it is the slow path)."""
    spellings = [v for v in _values(era) if v == v.strip().upper() and v not in ("8OO.00", "800.", "V15..1", "Q")]
    values = pl.DataFrame({"value": spellings}).unique().with_columns(text=pl.col("value"), spelling=pl.col("value"))
    _, rest = diagnoses._by_spelling(values, [(era, newest(era))])
    assert rest.height == 0
    misspelled = pl.concat([values, values.with_columns(spelling=pl.lit("X9.9.9"))])
    _, rest = diagnoses._by_spelling(misspelled, [(era, newest(era))])
    assert rest.height == values.height


@pytest.mark.parametrize("era", ERAS)
def test_a_code_of_the_other_version_in_any_of_its_releases_is_a_mismatch(era: str) -> None:
    """Every code that some release of the other ICD version defines but its newest does not (ICD-10-CM codes
    deleted before FY2026 such as V20.0XXD, ICD-9-CM codes of v27-v31 only), in both spellings, is that
    version's code on a line of this era: ``icd_version_mismatch``, by the vectorized path and the parser path
    alike, never ``invalid_code`` or ``undefined_code``."""
    other_system = DIAGNOSIS_SYSTEMS[ERAS[1 - ERAS.index(era)]]
    newest_name = releases(other_system)[-1].name
    table = history(other_system)
    gone = table.filter(pl.col(newest_name) == 0)["short"].to_list()  # defined in some release, not the newest
    assert len(gone) == {"icd9": 661, "icd10": 1}[era]  # ICD-10-CM codes deleted by FY2026; ICD-9-CM 718.60
    values = pl.Series([*gone, *(parse_code(short, other_system).decimal for short in gone)]).unique()
    classified = classify_diagnoses(values, compile_policies(LIBRARIES["0198"]), [(era, newest(era))])
    edits = dict(classified.codes.select("value", "edits").iter_rows())
    wrong = {value: edit for value, edit in edits.items() if edit != "icd_version_mismatch"}
    assert not wrong, list(wrong.items())[:5]
    assert set(edits) == set(values)
    for value in values.sample(min(200, values.len()), seed=1):  # the parser path says the same
        assert code_findings(value, era, newest(era))[1] == ["icd_version_mismatch"], value
