"""The decision table of docs/decisions.md (issue 25): every row checked as the page writes it, list kinds read from the
bulletin's words, contradictions refused, and the screen held to an independent line-by-line oracle that reads
the table, for a bulletin of the CPB shape (indicative lists), one of the LCD shape (an exhaustive list) and a
library of both."""

from __future__ import annotations

import json
import random
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from diagnosis_oracle import said_through_index

from codeindex.codesets import release_on
from codeindex.errors import InputError, PolicyParseError
from codeindex.policy import Policy, parse_cpb
from codeindex.policy.compiled import compile_policies
from codeindex.policy.model import DIAGNOSIS_SYSTEMS
from codeindex.screen import screen

TABLE_PAGE = Path(__file__).resolve().parents[1] / "docs" / "decisions.md"
DAY = date(2023, 6, 1)  # ICD-10-CM FY2023: M54.50 is billable, M54.5 a header

SECTIONS = """CPT Codes / HCPCS Codes / ICD-10 Codes
CPT codes covered:
97110 Therapeutic exercises
CPT codes covered if selection criteria are met:
97112 Neuromuscular reeducation
CPT codes not covered for indications listed in the CPB:
97113 Aquatic therapy
Other CPT codes related to the CPB:
97116 Gait training
ICD-10 codes {covered}:
M54.50 Low back pain, unspecified
M54.6 Pain in thoracic spine
ICD-10 codes {not_covered}:
S00.00XA - T88.9XXS Injuries and poisonings
"""
# The CPB shape: an indicative covered list.  The LCD shape: an exhaustive one.
CPB = parse_cpb("Clinical Policy Bulletin: CPB shape\nNumber: 0901\n\n" + SECTIONS.format(
    covered="covered if selection criteria are met", not_covered="not covered for indications listed in the CPB"))
LCD = parse_cpb("Clinical Policy Bulletin: LCD shape\nNumber: L0902\n\n" + SECTIONS.format(
    covered="that support medical necessity", not_covered="that do not support medical necessity"))
PROCEDURES = {"procedure covered": "97110", "covered if criteria are met": "97112", "not covered": "97113"}
# Diagnoses the table's rows speak of, on a FY2023 line.
IN_COVERED, ALSO_COVERED, IN_NOT_COVERED, IN_NONE = "M54.50", "M54.6", "S72.001A", "R51.9"
CANNOT_BE_TOLD = {"invalid_code": "XYZ", "undefined_code": "U07.9", "icd_version_mismatch": "V57.22",
                  "partial_match": "M54.5"}
# The lines each row of the table is checked with: (its diagnoses, the bulletins it holds for).
ROWS = {
    "one in a covered list, none in a not-covered list":
        ([[IN_COVERED], [IN_NONE, ALSO_COVERED]], [CPB, LCD]),
    "one in a covered list and another in a not-covered list":
        ([[IN_COVERED, IN_NOT_COVERED], [IN_NOT_COVERED, IN_NONE, ALSO_COVERED]], [CPB, LCD]),
    "one in a not-covered list, none in a covered list":
        ([[IN_NOT_COVERED], [IN_NONE, IN_NOT_COVERED]], [CPB, LCD]),
    "none in any list (or none at all), and the version has an exhaustive list":
        ([[IN_NONE], []], [LCD]),
    "none in any list, an exhaustive list, and one that cannot be told":
        ([[IN_NONE, value] for value in CANNOT_BE_TOLD.values()], [LCD]),
    "none in any list (or none at all), and no exhaustive list":
        ([[IN_NONE], [], [IN_NONE, *CANNOT_BE_TOLD.values()]], [CPB]),
}
SEVERITY = ("not_covered", "review", "covered", "not_applicable")
UNSURE = {"invalid_code", "undefined_code", "icd_version_mismatch", "partial_match"}


def readme_table() -> list[dict[str, str]]:
    """The decision table as docs/decisions.md writes it: a row per diagnoses case, the determination per column."""
    lines = TABLE_PAGE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| the line's diagnoses |"))
    heads = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(heads, (cell.strip() for cell in line.strip("|").split("|")), strict=True)))
    return rows


def lines_of(cases: list[tuple[str, list[str]]], day: date = DAY) -> pl.DataFrame:
    """A line per (procedure, diagnoses), up to four diagnosis columns, each line its own claim."""
    return pl.DataFrame({"claim_id": [f"c{i}" for i in range(len(cases))],
                         "procedure_code": [procedure for procedure, _ in cases],
                         **{f"dx{k}": [dx[k - 1] if len(dx) >= k else None for _, dx in cases] for k in range(1, 5)},
                         "service_date": [day] * len(cases)})


def test_the_diagnosis_values_are_what_the_rows_say() -> None:
    """The fixtures first: each value draws the edit (or none) its row needs, in FY2023."""
    values = [(v, "icd10", release_on("icd10cm", DAY).release.index)
              for v in (IN_COVERED, ALSO_COVERED, IN_NOT_COVERED, IN_NONE, *CANNOT_BE_TOLD.values())]
    said = {row["value"]: row for row in said_through_index(values, compile_policies((LCD,))).iter_rows(named=True)}
    assert said[IN_COVERED]["covered"] and said[ALSO_COVERED]["covered"] and said[IN_NOT_COVERED]["not_covered"]
    assert IN_NONE not in said  # says nothing: in no list, no edit
    for edit, value in CANNOT_BE_TOLD.items():
        assert edit in said[value]["edits"].split(","), (value, said[value])


def test_every_row_of_the_readme_table() -> None:
    table = readme_table()
    assert [row["the line's diagnoses"] for row in table] == list(ROWS)  # every row checked, none left out
    for row in table:
        cases, bulletins = ROWS[row["the line's diagnoses"]]
        for bulletin in bulletins:
            for column, procedure in PROCEDURES.items():
                lines = lines_of([(procedure, dx) for dx in cases])
                out = screen(lines, policy=bulletin, dx=["dx1", "dx2", "dx3", "dx4"]).collect()
                assert out["determination"].to_list() == [row[column]] * len(cases), (
                    row["the line's diagnoses"], bulletin.id, column, out["reason"].to_list())


def test_related_and_unnamed_procedures_are_not_decided() -> None:
    out = screen(lines_of([("97116", [IN_NOT_COVERED]), ("99213", [IN_NOT_COVERED])]), policy=LCD,
                 dx=["dx1"]).collect()
    assert out["determination"].to_list() == ["not_applicable", "not_applicable"]


def test_the_reason_and_the_matched_ranges_tell_one_story() -> None:
    out = screen(lines_of([("97110", [IN_COVERED, IN_NOT_COVERED]), ("97110", [IN_NONE]),
                           ("97110", [IN_NONE, "XYZ"])]), policy=LCD, dx=["dx1", "dx2"]).collect()
    mixed, unsupported, unsure = out.to_dicts()
    assert mixed["reason"].startswith("CPT 97110 (Therapeutic exercises) is covered by CPB L0902 (ICD-10 version); "
                                      "the diagnosis in dx1 is in its covered list, but the diagnosis in dx2 is in "
                                      "S00.00XA-T88.9XXS Injuries and poisonings, which is not covered: review it")
    assert mixed["matched_dx"] == [IN_NOT_COVERED] and mixed["matched_dx_ranges"] == ["S00.00XA-T88.9XXS"]
    assert "no diagnosis on the line is in its list of diagnoses that support medical necessity" in (
        unsupported["reason"])
    assert unsupported["determination"] == "not_covered" and unsupported["matched_dx_ranges"] == []
    assert "but some cannot be told: review it" in unsure["reason"] and "notes says why" in unsure["reason"]


# The oracle --------------------------------------------------------------------------------------------------

def oracle(policies: list[Policy], line: dict[str, object]) -> str:
    """A line's determination read off the table of docs/decisions.md, line by line: the procedure's group from each
    policy's interval index, the diagnoses' facts from the parser path (``said_through_index``); the most severe
    finding."""
    day = line["service_date"]
    assert isinstance(day, date)
    era = "icd9" if day < date(2015, 10, 1) else "icd10"
    release = release_on(DIAGNOSIS_SYSTEMS[era], day).release.index
    values = [(v, era, release) for v in (line[f"dx{k}"] for k in range(1, 5)) if isinstance(v, str) and v.strip()]
    library = compile_policies(tuple(policies))
    said = said_through_index(values, library)
    found = []
    for number, policy in enumerate(policies):
        version = policy.version(era)  # type: ignore[arg-type]
        hits = [h for h in policy.lookup(str(line["procedure_code"]), "hcpcs", era=era)  # type: ignore[arg-type]
                if h.match == "contained"] if version else []
        if not hits:
            continue
        coverage = hits[0].group.coverage
        mine = said.filter(pl.col("policy") == number)
        in_covered, in_not_covered = bool(mine["covered"].any()), bool(mine["not_covered"].any())
        unsure = any(set((e or "").split(",")) & UNSURE for e in mine["edits"].to_list())
        column = {"covered": "procedure covered", "covered_if_criteria_met": "covered if criteria are met",
                  "not_covered": "not covered"}.get(coverage)
        if column is None:  # related
            found.append("not_applicable")
            continue
        if in_covered and not in_not_covered:
            case = "one in a covered list, none in a not-covered list"
        elif in_covered:
            case = "one in a covered list and another in a not-covered list"
        elif in_not_covered:
            case = "one in a not-covered list, none in a covered list"
        elif version is not None and version.exhaustive:
            case = ("none in any list, an exhaustive list, and one that cannot be told" if unsure else
                    "none in any list (or none at all), and the version has an exhaustive list")
        else:
            case = "none in any list (or none at all), and no exhaustive list"
        found.append(next(row for row in readme_table() if row["the line's diagnoses"] == case)[column])
    return min(found, key=SEVERITY.index) if found else "not_applicable"


POOL = [IN_COVERED, ALSO_COVERED, IN_NOT_COVERED, "T14.90XA", IN_NONE, "I10", *CANNOT_BE_TOLD.values(), " m54.50 ",
        "800.00", None, ""]


@pytest.mark.parametrize("library", [[CPB], [LCD], [CPB, LCD], [LCD, CPB]],
                         ids=["cpb", "lcd", "both", "both-lcd-first"])
def test_the_screen_equals_a_line_by_line_oracle_of_the_table(library: list[Policy]) -> None:
    rng = random.Random(25)
    cases = [(rng.choice([*PROCEDURES.values(), "97116", "99213", "97110-GP"]),
              [rng.choice(POOL) for _ in range(rng.randint(0, 4))]) for _ in range(600)]
    lines = lines_of(cases).with_columns(service_date=pl.Series(
        [rng.choice([DAY, date(2016, 3, 1), date(2014, 1, 1)]) for _ in cases]))
    out = screen(lines, policy=library if len(library) > 1 else library[0], dx=["dx1", "dx2", "dx3", "dx4"]).collect()
    for line, got in zip(lines.iter_rows(named=True), out["determination"].to_list(), strict=True):
        line = {**line, "procedure_code": str(line["procedure_code"]).split("-")[0]}  # its modifier split off
        assert got == oracle(library, line), (line, got)


# The bulletin's words, JSON, contradictions --------------------------------------------------------------------

def test_list_kinds_come_from_the_header_words_and_round_trip() -> None:
    assert [(g.coverage, g.kind) for g in CPB.versions[0].groups if g.system == "icd10cm"] == [
        ("covered_if_criteria_met", "indicative"), ("not_covered", None)]
    assert [(g.coverage, g.kind) for g in LCD.versions[0].groups if g.system == "icd10cm"] == [
        ("covered_if_criteria_met", "exhaustive"), ("not_covered", None)]
    data = LCD.to_json()
    assert [g.get("kind") for g in data["versions"][0]["groups"]] == [None, None, None, None, "exhaustive", None]
    assert Policy.from_json(json.loads(json.dumps(data))) == LCD
    from codeindex.policy.bulletin import format_cpb
    assert parse_cpb(format_cpb(LCD)) == LCD
    indicative = Policy(LCD.id, LCD.title, None, CPB.versions, LCD.revision, LCD.effective)
    assert indicative != LCD  # the kind is part of the policy's content


def test_a_kind_is_only_for_covered_lists_of_diagnoses() -> None:
    data = LCD.to_json()
    data["versions"][0]["groups"][0]["kind"] = "exhaustive"  # a procedure group
    with pytest.raises(InputError, match=re.escape("versions[0].groups[0].kind: a kind is for covered lists of "
                                                   "diagnoses only")):
        Policy.from_json(data, source="p.json")
    data["versions"][0]["groups"][0].pop("kind")
    data["versions"][0]["groups"][4]["kind"] = "complete"
    with pytest.raises(InputError, match="'complete' is not one of indicative, exhaustive"):
        Policy.from_json(data, source="p.json")


def test_one_code_in_two_coverages_is_refused_naming_both() -> None:
    text = SECTIONS.format(covered="covered if selection criteria are met",
                           not_covered="not covered for indications listed in the CPB")
    both = text.replace("97113 Aquatic therapy", "97113 Aquatic therapy\n97110 Again")
    with pytest.raises(PolicyParseError, match=r"97110 is not_covered, but line 3 \('CPT codes covered'\) holds codes "
                                               r"of it as covered") as caught:
        parse_cpb(both)
    assert caught.value.line_no == 8  # the second of the two, with the first named in the message
    overlapping = text.replace("M54.6 Pain in thoracic spine", "M54.6 Pain in thoracic spine\nS72.001A Fracture")
    with pytest.raises(PolicyParseError, match=re.escape("S72.001A is covered_if_criteria_met, but line 15")):
        parse_cpb(overlapping)
    data = CPB.to_json()
    data["versions"][0]["groups"][2]["entries"].append({"start": "97110"})
    with pytest.raises(InputError, match=re.escape("versions[0].groups[2].entries[1]: 97110 is not_covered, but "
                                                   "versions[0].groups[0].entries[0] (97110) holds codes of it")):
        Policy.from_json(data, source="p.json")
