"""CodeIndex: every matching entry with its match kind, by code and by range."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tabular_model import match, model

from codeindex import CodeIndex, CodeRange, Entry, Hit, code_set, parse_code, parse_range

CPB_0198 = ["800.00-999.9", "V10.00-V13.9", "V15.1-V15.6", "V57.22", "V57.89"]


def cpb_index() -> CodeIndex:
    index = CodeIndex()
    for i, text in enumerate(CPB_0198):
        index.add(parse_range(text, "icd9dx"), payload=("cpb0198", i))
    return index


def found(hits: list[Hit]) -> list[tuple[str, str]]:
    return [(str(h.entry.range), h.match) for h in hits]


def test_lookup_contained_partial_and_miss() -> None:
    index = cpb_index()
    assert len(index) == 5
    assert found(index.lookup("800.00", "icd9dx")) == [("800.00-999.9", "contained")]
    assert found(index.lookup("999.9", "icd9")) == [("800.00-999.9", "contained")]  # the last code
    assert index.lookup("999.99", "icd9") == []  # no code: it sits after 999.9
    assert found(index.lookup("850", "icd9dx")) == [("800.00-999.9", "contained")]  # a parent inside
    assert found(index.lookup("V15.59", "icd9dx")) == [("V15.1-V15.6", "contained")]
    assert found(index.lookup("V15", "icd9dx")) == [("V15.1-V15.6", "partial")]
    assert found(index.lookup("V13.9", "icd9dx")) == [("V10.00-V13.9", "contained")]
    assert found(index.lookup("V57", "icd9dx")) == [("V57.22", "partial"), ("V57.89", "partial")]
    assert found(index.lookup("V57.22", "icd9dx")) == [("V57.22", "contained")]
    for miss in ("799.99", "410.00", "V14", "V15.0", "V15.7", "V57.21", "E880.9", "V09.9"):
        assert index.lookup(miss, "icd9dx") == [], miss


def test_hits_carry_the_entry_and_its_payload() -> None:
    index = cpb_index()
    (hit,) = index.lookup("V57.89", "icd9dx")
    assert isinstance(hit, Hit) and isinstance(hit.entry, Entry)
    assert hit.entry.payload == ("cpb0198", 4)
    assert hit.entry.range == parse_range("V57.89", "icd9dx")


def test_overlapping_ranges_are_all_returned_in_range_order() -> None:
    index = CodeIndex()
    index.add(parse_range("850 - 854.19", "icd9dx"), payload="head injury")
    index.add(parse_range("800.00 - 999.9", "icd9dx"), payload="injury")
    index.add(parse_range("851.00 - 851.99", "icd9dx"), payload="contusion")
    hits = index.lookup("851.05", "icd9dx")
    assert [(h.entry.payload, h.match) for h in hits] == [
        ("injury", "contained"), ("head injury", "contained"), ("contusion", "contained"),
    ]
    hits = index.lookup("854", "icd9dx")  # 854.00-854.19: every code beneath it inside
    assert [(h.entry.payload, h.match) for h in hits] == [("injury", "contained"), ("head injury", "contained")]
    hits = index.lookup("854.1", "icd9dx")
    assert [(h.entry.payload, h.match) for h in hits] == [("injury", "contained"), ("head injury", "contained")]
    index.add(parse_range("854.00 - 854.09", "icd9dx"), payload="unspecified")
    assert [h.match for h in index.lookup("854", "icd9dx")] == ["contained", "contained", "partial"]
    hits = index.lookup("851", "icd9dx")
    assert [h.match for h in hits] == ["contained", "contained", "contained"]
    # The same range twice, with different payloads: both.
    index.add(parse_range("851.00 - 851.99", "icd9dx"), payload="again")
    assert sorted(h.entry.payload for h in index.lookup("851.05", "icd9dx")) == [
        "again", "contusion", "head injury", "injury",
    ]


def test_lookup_of_text_needs_a_system() -> None:
    index = cpb_index()
    with pytest.raises(TypeError, match="system"):
        index.lookup("800.00")
    code = parse_code("800.00", "icd9dx")
    assert index.lookup(code) == index.lookup("800.00", "icd9dx") == index.lookup("80000", "icd9")


def test_systems_are_kept_apart() -> None:
    index = cpb_index()
    index.add(parse_range("S00.00X+ - T88.9XX+", "icd10cm"), payload="icd10 injury")
    index.add(parse_range("97545-97546", "cpt"), payload="work hardening")
    assert len(index) == 7
    assert index.lookup("S72.001A", "icd10cm")[0].entry.payload == "icd10 injury"
    assert index.lookup("S72", "icd10cm")[0].match == "contained"
    assert index.lookup("T88.9XX", "icd10cm")[0].match == "contained"
    assert index.lookup("T88.9", "icd10cm")[0].match == "contained"  # T88.9 spans T88.9XXA-T88.9XXS
    assert index.lookup("T88", "icd10cm")[0].match == "contained"  # a parent at the edge
    assert index.lookup("T89", "icd10cm") == []
    assert [h.entry.payload for h in index.lookup("97546", "cpt")] == ["work hardening"]
    assert index.lookup("81.08", "icd9pcs") == []  # no tree for the system
    assert index.lookup("0016T", "cpt") == []
    systems = [e.range.system for e in index]
    assert sorted(systems) == sorted(["icd9dx"] * 5 + ["icd10cm", "hcpcs"])


def test_iteration_is_in_range_order_within_a_system() -> None:
    index = CodeIndex(reversed([parse_range(t, "icd9dx") for t in CPB_0198]))
    assert [str(e.range) for e in index] == CPB_0198
    assert all(e.payload is None for e in index)
    entries = [Entry(parse_range(t, "icd9dx"), t) for t in CPB_0198]
    assert list(CodeIndex(entries)) == entries


def test_overlapping_a_range() -> None:
    index = cpb_index()
    assert found(index.overlapping(parse_range("V15.2 - V15.3", "icd9dx"))) == [("V15.1-V15.6", "contained")]
    assert found(index.overlapping(parse_range("V15.5 - V16", "icd9dx"))) == [("V15.1-V15.6", "partial")]
    assert found(index.overlapping(parse_range("V12 - V15.1", "icd9dx"))) == [
        ("V10.00-V13.9", "partial"), ("V15.1-V15.6", "partial"),
    ]
    assert found(index.overlapping(parse_range("V57", "icd9dx"))) == [
        ("V57.22", "partial"), ("V57.89", "partial"),
    ]
    assert found(index.overlapping(parse_range("V57.22", "icd9dx"))) == [("V57.22", "contained")]
    assert index.overlapping(parse_range("V14 - V15.09", "icd9dx")) == []
    assert index.overlapping(parse_range("E800 - E999.9", "icd9dx")) == []
    assert index.overlapping(parse_range("S00 - T88", "icd10cm")) == []


def test_expand_through_the_code_set() -> None:
    index = cpb_index()
    r = parse_range("V15.1 - V15.6", "icd9dx")
    codes = index.expand(r)
    assert codes == code_set("icd9dx").expand(r)
    assert [c.decimal for c in codes][:3] == ["V15.1", "V15.21", "V15.22"]
    assert all(r.contains(c) for c in index.expand(r, parents=True))
    assert len(index.expand(r, parents=True)) > len(codes)
    assert index.expand(parse_range("V57.22", "icd9")) == [parse_code("V57.22", "icd9dx")]


# The ICD-9-CM codes near 850 any version defines, in order, and their brute-force spans (tabular_model).
NEAR_850 = [s for s in model("icd9dx").order if s[:3] in ("849", "850", "851", "852")]
SHORT = st.sampled_from(NEAR_850)


def ordered(pair: tuple[str, str]) -> list[str]:
    return sorted(pair, key=NEAR_850.index)


def brute(code: str, start: str, end: str) -> str | None:
    m = model("icd9dx")
    return match(m.span(code), m.span(start)[0], m.span(end)[1])  # type: ignore[index]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(SHORT, SHORT).map(ordered), min_size=0, max_size=8), SHORT)
def test_lookup_equals_brute_force(pairs: list[list[str]], code: str) -> None:
    index = CodeIndex()
    for i, (a, b) in enumerate(pairs):
        index.add(parse_range(f"{a}-{b}", "icd9dx"), payload=i)
    got = sorted((h.entry.payload, h.match) for h in index.lookup(code, "icd9dx"))
    expected = sorted((i, m) for i, (a, b) in enumerate(pairs) if (m := brute(code, a, b)) is not None)
    assert got == expected
    lo = [h.entry.range.lo for h in index.lookup(code, "icd9dx")]
    assert lo == sorted(lo)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(SHORT, SHORT).map(ordered), min_size=1, max_size=8), st.tuples(SHORT, SHORT).map(ordered))
def test_overlapping_equals_brute_force(pairs: list[list[str]], query: list[str]) -> None:
    m = model("icd9dx")
    q_lo, q_hi = m.span(query[0])[0], m.span(query[1])[1]  # type: ignore[index]
    index = CodeIndex(Entry(parse_range(f"{a}-{b}", "icd9dx"), i) for i, (a, b) in enumerate(pairs))
    hits = index.overlapping(parse_range("-".join(query), "icd9dx"))
    got = sorted((h.entry.payload, h.match) for h in hits)
    expected = []
    for i, (a, b) in enumerate(pairs):
        r_lo, r_hi = m.span(a)[0], m.span(b)[1]  # type: ignore[index]
        if q_hi < r_lo or q_lo > r_hi:
            continue
        expected.append((i, "contained" if r_lo <= q_lo and q_hi <= r_hi else "partial"))
    assert got == sorted(expected)


def test_cpb_0198_lookup_of_every_billable_code_agrees_with_the_ranges() -> None:
    index = cpb_index()
    ranges: list[CodeRange] = [parse_range(t, "icd9dx") for t in CPB_0198]
    contained = 0
    for code in code_set("icd9dx").codes:
        hits = index.lookup(code)
        assert found(hits) == [(str(r), m) for r in ranges if (m := r.match(code)) is not None]
        contained += bool(hits)
    assert contained == 2716
