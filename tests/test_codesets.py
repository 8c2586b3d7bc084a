"""The bundled CMS code sets: defined, billable, expand."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tabular_model import model

from codeindex import InvalidCodeError, code_set, codesets, parse_code, parse_range
from codeindex.codesets import has_code_set
from codeindex.systems import SYSTEMS

MAJOR = {("icd9dx", "numeric"): 3, ("icd9dx", "V"): 3, ("icd9dx", "E"): 4,
         ("icd9pcs", "procedure"): 2, ("icd10cm", "diagnosis"): 3}

V15_BILLABLE = ["V151", "V1521", "V1522", "V1529", "V153", "V1541", "V1542", "V1549",
                "V1551", "V1552", "V1553", "V1559", "V156"]
V15_ALL = ["V151", "V152", "V1521", "V1522", "V1529", "V153", "V154", "V1541", "V1542", "V1549",
           "V155", "V1551", "V1552", "V1553", "V1559", "V156"]


def defined_by_brute_force(system: str) -> set[str]:
    """Every billable short form and every prefix of it down to its major."""
    out = set()
    for code in code_set(system).codes:
        out.update(code.short[:n] for n in range(MAJOR[system, code.kind], len(code.short) + 1))
    return out


@pytest.mark.parametrize(("system", "release", "count"), [
    ("icd9dx", "v32", 14567), ("icd9dx", "v27", 14315), ("icd9pcs", "v32", 3882), ("icd10cm", "FY2024", 74044),
    ("icd10cm", "FY2016", 69823), ("icd10cm", "FY2026", 74719)])
def test_counts(system: str, release: str, count: int) -> None:
    codes = code_set(system, release=release)
    assert len(codes) == len(codes.codes) == len(codes.descriptions) == count
    keys = [c.lo for c in codes.codes]
    assert keys == sorted(keys)
    assert has_code_set(system)


def test_aliases_share_one_loaded_set() -> None:
    assert code_set("icd9") is code_set("icd9dx")
    assert code_set("icd10") is code_set("icd10cm")


def test_hcpcs_has_no_code_set() -> None:
    assert not has_code_set("cpt") and not has_code_set("hcpcs")
    with pytest.raises(InvalidCodeError, match="no official code set"):
        code_set("cpt")


@pytest.mark.parametrize(
    ("text", "system", "defined", "billable"),
    [
        ("410.00", "icd9dx", True, True),
        ("410", "icd9dx", True, False),
        ("410.0", "icd9dx", True, False),
        ("100.8", "icd9dx", True, False),
        ("100.7", "icd9dx", False, False),  # valid in form, not in the list
        ("100.89", "icd9dx", True, True),
        ("042", "icd9dx", True, True),  # a billable 3-digit code
        ("042.0", "icd9dx", False, False),  # below a billable code: not defined
        ("001.0", "icd9dx", True, True),
        ("001.00", "icd9dx", False, False),
        ("V15", "icd9dx", True, False),
        ("V15.59", "icd9dx", True, True),
        ("V57.22", "icd9dx", True, True),
        ("E880", "icd9dx", True, False),
        ("E880.9", "icd9dx", True, True),
        ("81.08", "icd9pcs", True, True),
        ("81.0", "icd9pcs", True, False),
        ("S72.001A", "icd10cm", True, True),
        ("S72.001", "icd10cm", True, False),
        ("S72", "icd10cm", True, False),
        ("S00.00X+", "icd10cm", False, False),  # any 7th character of S00.00X, which is no code
        ("S00.00X", "icd10cm", False, False),  # a placeholder: S00.00XA is the code
        ("T46.4X", "icd10cm", True, False),  # a header: T46.4X1A ...
        ("I10", "icd10cm", True, True),
        ("I100", "icd10cm", False, False),
        ("I10.0", "icd10cm", False, False),
        ("A000000", "icd10cm", False, False),
    ],
)
def test_defined_and_billable(text: str, system: str, defined: bool, billable: bool) -> None:
    codes, code = code_set(system), parse_code(text, system)
    assert (codes.defined(code), codes.billable(code)) == (defined, billable)
    # ICD-10-CM headers are described; ICD-9-CM parents are not
    assert (codes.description(code) is not None) == (billable or (defined and system == "icd10cm"))


def test_descriptions() -> None:
    description = code_set("icd9dx").description(parse_code("410.00", "icd9dx"))
    assert description is not None and description.startswith("Acute myocardial infarction")
    assert code_set("icd9dx").description(parse_code("410", "icd9dx")) is None


MINORS_2 = ["", *(str(i) for i in range(10)), *(f"{i:02d}" for i in range(100))]
MINORS_1 = ["", *(str(i) for i in range(10))]


@pytest.mark.parametrize("system", ["icd9dx", "icd9pcs"])
def test_defined_equals_brute_force_for_every_code_of_the_form(system: str) -> None:
    """Every ICD-9 code of every form from its major to full length."""
    codes, expected = code_set(system), defined_by_brute_force(system)
    if system == "icd9dx":
        shorts = [f"{n:03d}{m}" for n in range(1, 1000) for m in MINORS_2]
        shorts += [f"V{n:02d}{m}" for n in range(1, 92) for m in MINORS_2]
        shorts += [f"E{n:03d}{m}" for n in range(1000) for m in MINORS_1]
    else:
        shorts = [f"{n:02d}{m}" for n in range(100) for m in MINORS_2]
    parse = SYSTEMS[system].parse
    for short in shorts:
        code = parse(short)
        assert codes.defined(code) == (short in expected), short
        assert codes.billable(code) == (short in codes.descriptions), short


def defined_icd10() -> set[str]:
    """What the newest release's order file lists (tabular_model reads the bundled table)."""
    m = model("icd10cm")
    return set(m.defined(len(m.releases) - 1))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 74718), st.integers(3, 7), st.sampled_from("0AXZ9"))
def test_icd10cm_defined_is_what_the_release_lists(i: int, n: int, extra: str) -> None:
    """Every prefix of a code, and a character more: defined exactly when the release lists it (so
    placeholder prefixes such as V29.91X are not)."""
    codes, expected = code_set("icd10cm"), defined_icd10()
    short = codes.table["short"][i]
    for text in (short[:n], (short[:n] + extra)[:7]):
        code = parse_code(text, "icd10cm")
        assert codes.defined(code) == (text in expected), text
        assert codes.billable(code) == (text in codes.descriptions), text


def test_expand_v15() -> None:
    codes = code_set("icd9dx")
    r = parse_range("V15.1 - V15.6", "icd9dx")
    assert [c.short for c in codes.expand(r)] == V15_BILLABLE
    assert all(codes.billable(c) for c in codes.expand(r))
    with_parents = codes.expand(r, parents=True)
    assert [c.short for c in with_parents] == V15_ALL
    assert all(codes.defined(c) and r.contains(c) for c in with_parents)


@pytest.mark.parametrize(
    ("text", "system"),
    [("V15.1 - V15.6", "icd9dx"), ("800.00 - 999.9", "icd9dx"), ("V10.00-V13.9", "icd9dx"),
     ("E880 - E888.9", "icd9dx"), ("81 - 81.9", "icd9pcs"), ("S72 - S72.9", "icd10cm"),
     ("001 - 042.0", "icd9dx")],
)
def test_expand_equals_brute_force_and_parents_come_before_children(text: str, system: str) -> None:
    codes, r = code_set(system), parse_range(text, system)
    billable = codes.expand(r)
    assert billable == [c for c in codes.codes if r.contains(c)]
    with_parents = codes.expand(r, parents=True)
    defined = defined_by_brute_force(system) if system != "icd10cm" else defined_icd10()
    expected = {s for s in defined if r.contains(parse_code(s, system))}
    assert {c.short for c in with_parents} == expected
    assert len(with_parents) == len(expected)
    position = {c.short: i for i, c in enumerate(with_parents)}
    for c in with_parents:  # every ancestor listed comes before the code
        for n in range(MAJOR[system, c.kind], len(c.short)):
            if c.short[:n] in position:
                assert position[c.short[:n]] < position[c.short], (c.short[:n], c.short)
    keys = [c.lo for c in with_parents]
    assert keys == sorted(keys)


def test_expand_to_a_code_below_a_billable_code() -> None:
    r = parse_range("001 - 042.0", "icd9dx")  # 042 is billable: 042.0 is no code, it sits just after 042
    assert code_set("icd9dx").expand(r)[-1].decimal == "042"
    r = parse_range("001 - 041.9", "icd9dx")
    assert code_set("icd9dx").expand(r)[-1].decimal == "041.9"


def test_expand_of_single_codes() -> None:
    codes = code_set("icd9dx")
    assert codes.expand(parse_range("V57.22", "icd9dx")) == [parse_code("V57.22", "icd9dx")]
    assert codes.expand(parse_range("100.7", "icd9dx")) == []
    assert [c.decimal for c in codes.expand(parse_range("410.0", "icd9dx"), parents=True)] == [
        "410.0", "410.00", "410.01", "410.02",
    ]


@pytest.mark.parametrize("system", ["icd9dx", "icd9pcs", "icd10cm"])
def test_vectorized_keys_and_spellings_equal_the_parser(system: str) -> None:
    """The code-set table's keys (computed by polars) and spellings agree with parse_code for every code:
    the span in the release lies within the span over every release."""
    codes = code_set(system)
    for spelling, short, lo, hi, billable in codes.spellings.iter_rows():
        code = parse_code(short, system)
        assert (codes.code(short).lo, codes.code(short).hi) == (lo, hi), short
        assert code.lo <= lo <= hi <= code.hi, short
        assert spelling in (code.short, code.decimal)
        assert billable == codes.billable(code)
        assert codes.defined(code)
    assert codes.spellings.filter("billable").select("short").n_unique() == len(codes)


def test_codesets_doctests_pass() -> None:
    result = doctest.testmod(codesets)
    assert result.attempted > 0 and result.failed == 0
