"""Ranges as bulletins write them: parsing, matching, and agreement with a brute force."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tabular_model import match, model

from codeindex import CodeRange, InvalidCodeError, InvalidRangeError, code_set, parse_code, parse_range

CPB_0198 = ["800.00-999.9", "V10.00-V13.9", "V15.1-V15.6", "V57.22", "V57.89"]
FULL = {"icd9dx": 5, "icd9pcs": 4, "icd10cm": 7}
HIGH = {"icd9dx": "9", "icd9pcs": "9", "icd10cm": "Z"}
MAJOR = {"numeric": 3, "V": 3, "E": 4}  # icd9dx short-form length of a major


# --- brute force --------------------------------------------------------------------------------

def brute_kind(system: str, short: str) -> str:
    if system == "icd9dx":
        return short[0] if short[0] in "VE" else "numeric"
    return system


def brute_match(system: str, short: str, start: str, end: str) -> str | None:
    """The match of ``short`` against range ``start``-``end`` (short forms of one kind), by padded strings."""
    if not brute_kind(system, short) == brute_kind(system, start) == brute_kind(system, end):
        return None
    width, high = FULL[system], HIGH[system]
    c_lo, c_hi = short.ljust(width, "0"), short.ljust(width, high)
    r_lo, r_hi = start.ljust(width, "0"), end.ljust(width, high)
    if c_hi < r_lo or c_lo > r_hi:
        return None
    return "contained" if r_lo <= c_lo and c_hi <= r_hi else "partial"


# --- strategies: narrow alphabets so that codes often meet ranges -------------------------------

def minor(max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=st.sampled_from("0019"), max_size=max_size) | st.text(alphabet="0123456789",
                                                                                     max_size=max_size)


def icd9pcs_short() -> st.SearchStrategy[str]:
    return st.builds(lambda n, m: f"{n:02d}{m}", st.integers(80, 81) | st.integers(0, 99), minor(2))


# Keys are padded digits only for ICD-9-CM procedures; ICD-9-CM and ICD-10-CM diagnoses span their code
# sets' codes and are held against the model of every release in test_tabular.py.
SHORTS = {"icd9pcs": icd9pcs_short()}


def prefixes(system: str, short: str) -> list[str]:
    """The proper ancestors of a code by form."""
    major = MAJOR[brute_kind(system, short)] if system == "icd9dx" else 2 if system == "icd9pcs" else 3
    return [short[:n] for n in range(major, len(short))]


def as_text(system: str, short: str) -> str:
    return parse_code(short, system).decimal


# --- parsing ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "system", "start", "end", "as_str"),
    [
        ("800.00 - 999.9", "icd9dx", "80000", "9999", "800.00-999.9"),
        ("800.00-999.9", "icd9", "80000", "9999", "800.00-999.9"),
        ("V10.00-V13.9", "icd9dx", "V1000", "V139", "V10.00-V13.9"),
        ("V10.00 – V13.9", "icd9dx", "V1000", "V139", "V10.00-V13.9"),
        ("V10.00—V13.9", "icd9dx", "V1000", "V139", "V10.00-V13.9"),
        ("  e880.0 -e880.9 ", "icd9dx", "E8800", "E8809", "E880.0-E880.9"),
        ("97545-97546", "cpt", "97545", "97546", "97545-97546"),
        ("S00.00X+ - T88.9XX+", "icd10cm", "S0000X", "T889XX", "S00.00X+-T88.9XX+"),
        ("81.00 - 81.08", "icd9pcs", "8100", "8108", "81.00-81.08"),
        ("V57.22", "icd9dx", "V5722", "V5722", "V57.22"),
        (" 97545 ", "hcpcs", "97545", "97545", "97545"),
        ("S72.001A", "icd10", "S72001A", "S72001A", "S72.001A"),
    ],
)
def test_parse_range_forms(text: str, system: str, start: str, end: str, as_str: str) -> None:
    r = parse_range(text, system)
    assert (r.start.short, r.end.short) == (start, end)
    assert r.lo == r.start.lo and r.hi == r.end.hi
    assert r.is_single == (start == end)
    assert str(r) == as_str
    assert parse_range(str(r), system) == r


def test_range_covers_first_leaf_of_start_to_last_leaf_of_end() -> None:
    r = parse_range("800.00 - 999.9", "icd9dx")
    assert (r.lo, r.hi) == (parse_code("80000", "icd9dx").lo, parse_code("9999", "icd9dx").hi)
    r = parse_range("V10.00-V13.9", "icd9dx")
    assert (r.lo, r.hi) == (parse_code("V1000", "icd9dx").lo, parse_code("V139", "icd9dx").hi)
    r = parse_range("S00.00X+ - T88.9XX+", "icd10cm")  # S00.00X is no code: it spans S00.00XA-S00.00XS
    assert (r.lo, r.hi) == (parse_code("S0000XA", "icd10cm").lo, parse_code("T889XXS", "icd10cm").hi)


def test_v15_1_to_v15_6() -> None:
    r = parse_range("V15.1 - V15.6", "icd9dx")
    assert r.contains("V15.59") and r.match("V15.59") == "contained"
    assert r.contains("V15.1") and r.contains("V15.6") and r.match("V15.69") is None  # V15.69 is no code
    # V15 spans V15.01-V15.9: it overlaps the range but is not inside it.
    assert r.overlaps("V15") and not r.contains("V15")
    assert r.match("V15") == "partial"
    assert r.match("V15.0") is None and r.match("V15.7") is None and r.match("V15.09") is None
    assert r.match(parse_code("V1559", "icd9dx")) == "contained"


@pytest.mark.parametrize(
    ("text", "system"),
    [("800.00 - 999.9", "icd9dx"), ("V10.00-V13.9", "icd9dx"), ("V57.22", "icd9dx"),
     ("97545-97546", "hcpcs"), ("S00.00X+ - T88.9XX+", "icd10cm"), ("001.0 - 009.9", "icd9dx"),
     ("81-81.1", "icd9pcs"), ("E880-E888.9", "icd9")],
)
def test_str_round_trips(text: str, system: str) -> None:
    r = parse_range(text, system)
    assert parse_range(str(r), system) == r
    assert str(parse_range(str(r), system)) == str(r)


def test_reversed_range_is_an_error() -> None:
    for text in ("999.9 - 800.00", "V13.9 - V10", "0016T - 0001T", "T88.9XX+ - S00.00X+", "V15.6 - V15"):
        system = "icd10cm" if "X" in text else "cpt" if text[0] == "0" else "icd9dx"
        with pytest.raises(InvalidRangeError, match="reversed") as info:
            parse_range(text, system)
        assert isinstance(info.value, InvalidCodeError) and isinstance(info.value, ValueError)
        assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "system"),
    [("800.00 - V10", "icd9dx"), ("999.9 - V10", "icd9dx"), ("V10 - E880", "icd9dx"),
     ("E880 - V10", "icd9dx"), ("001 - E999", "icd9dx"), ("0001F-0016T", "cpt"), ("0001F-0099U", "cpt"),
     ("A4206-B4206", "hcpcs"), ("99999-A0000", "hcpcs")],
)
def test_cross_kind_range_is_an_error(text: str, system: str) -> None:
    with pytest.raises(InvalidRangeError, match="within one kind") as info:
        parse_range(text, system)
    assert isinstance(info.value, InvalidCodeError)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "system", "foreign"),
    [("800.00 - S72.001A", "icd9dx", "S72.001A"), ("S72.001A - 999.9", "icd10cm", "999.9"),
     ("97545 - 81.08", "cpt", "81.08"), ("81.08", "hcpcs", "81.08"), ("S72.001A", "icd9", "S72.001A")],
)
def test_cross_system_range_is_an_error(text: str, system: str, foreign: str) -> None:
    with pytest.raises(InvalidCodeError) as info:
        parse_range(text, system)
    message = str(info.value)
    assert message.startswith({"icd9": "icd9dx", "cpt": "hcpcs"}.get(system, system) + ":")
    assert foreign in message and "not a valid" in message


def test_codes_of_another_system_never_match() -> None:
    r = parse_range("800.00 - 999.9", "icd9dx")
    others = (("81.08", "icd9pcs"), ("99213", "cpt"), ("S72.001A", "icd10cm"), ("T88.9XXA", "icd10"))
    for text, system in others:
        code = parse_code(text, system)
        assert r.match(code) is None and not r.overlaps(code) and not r.contains(code)


@pytest.mark.parametrize("text", ["800 - 850 - 900", "800 -", "- 800", "800 - ", "", "800 ~ 900", "10 - 20"])
def test_malformed_ranges(text: str) -> None:
    with pytest.raises(InvalidCodeError) as info:
        parse_range(text, "icd9dx")
    assert "icd9dx" in str(info.value)


def test_unknown_system_and_non_text() -> None:
    with pytest.raises(InvalidCodeError, match="unknown code system"):
        parse_range("800-999", "icd11")
    with pytest.raises(InvalidRangeError, match="int"):
        parse_range(800, "icd9dx")  # type: ignore[arg-type]


# --- properties against the brute force ---------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.data())
def test_match_equals_brute_force(data: st.DataObject) -> None:
    system = data.draw(st.sampled_from(sorted(SHORTS)))
    a, b, c = (data.draw(SHORTS[system]) for _ in range(3))
    width = FULL[system]
    if a.ljust(width, "0") > b.ljust(width, "0"):
        a, b = b, a
    r = parse_range(f"{as_text(system, a)} - {as_text(system, b)}", system)
    # Often a code on the range's edges: an end itself or one of their ancestors.
    c = data.draw(st.sampled_from([c, a, b, *prefixes(system, a), *prefixes(system, b)]))
    expected = brute_match(system, c, a, b)
    code = parse_code(c, system)
    assert r.match(code) == expected
    assert r.match(c) == expected  # given as text
    assert r.contains(code) == (expected == "contained")
    assert r.overlaps(code) == (expected is not None)
    assert parse_range(str(r), system) == r


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_reversed_exactly_when_brute_force_says_so(data: st.DataObject) -> None:
    system = data.draw(st.sampled_from(sorted(SHORTS)))
    a, b = data.draw(SHORTS[system]), data.draw(SHORTS[system])
    text = f"{a}-{b}"
    if brute_kind(system, a) != brute_kind(system, b):
        with pytest.raises(InvalidRangeError, match="within one kind"):
            parse_range(text, system)
    elif a.ljust(FULL[system], "0") > b.ljust(FULL[system], "0"):
        with pytest.raises(InvalidRangeError, match="reversed"):
            parse_range(text, system)
    else:
        r = parse_range(text, system)
        assert isinstance(r, CodeRange) and r.lo <= r.hi


# --- CPB 0198 against every real ICD-9-CM code ----------------------------------------------------

def all_icd9dx_codes() -> tuple[list[str], list[str]]:
    """The billable short forms, and every defined parent of them."""
    billable = [c.short for c in code_set("icd9dx").codes]
    parents = sorted({s[:n] for s in billable for n in range(MAJOR[brute_kind("icd9dx", s)], len(s))})
    return billable, parents


def test_cpb_0198_classification_of_every_icd9dx_code_equals_brute_force() -> None:
    ranges = [parse_range(text, "icd9dx") for text in CPB_0198]
    bounds = [(r.start.short, r.end.short) for r in ranges]
    billable, parents = all_icd9dx_codes()
    brute = model("icd9dx")
    assert len(billable) == 14567 and len(parents) == 2986
    counts: Counter[tuple[str, str, str | None]] = Counter()
    best: Counter[tuple[str, str | None]] = Counter()
    for group, shorts in (("billable", billable), ("parent", parents)):
        for short in shorts:
            code = parse_code(short, "icd9dx")
            got = [r.match(code) for r in ranges]
            assert got == [match(brute.span(short), brute.span(a)[0], brute.span(b)[1]) for a, b in bounds], short
            for text, m in zip(CPB_0198, got, strict=True):
                counts[group, text, m] += 1
            best[group, "contained" if "contained" in got else "partial" if "partial" in got else None] += 1
    assert best["billable", "contained"] == 2716
    assert best["billable", "partial"] == 0
    assert counts["billable", "800.00-999.9", "contained"] == 2587
    assert counts["billable", "V10.00-V13.9", "contained"] == 114
    assert counts["billable", "V15.1-V15.6", "contained"] == 13
    assert counts["billable", "V57.22", "contained"] == counts["billable", "V57.89", "contained"] == 1
    assert best["parent", "contained"] == 497
    assert best["parent", "partial"] == 4  # V15, V57, V57.2, V57.8
    assert counts["parent", "V15.1-V15.6", "partial"] == 1
    assert counts["parent", "V57.22", "partial"] == counts["parent", "V57.89", "partial"] == 2
