"""ICD codes as CMS defines them (issue 13): every release, tabular order, code-set spans, held against
the brute-force model of ``tabular_model`` over every code of every release."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tabular_model import match, model

from codeindex import parse_code, parse_range
from codeindex.codesets import CodeSet, code_set, history, release_index, release_on, releases, successors
from codeindex.policy import Policy, load_policy
from codeindex.policy.bulletin import format_cpb
from codeindex.policy.gem import translate

SYSTEMS = ("icd10cm", "icd9dx")


@pytest.mark.parametrize("system", SYSTEMS)
def test_keys_are_the_tabular_order(system: str) -> None:
    m = model(system)
    keys = history(system).select("short", "key")
    by_short = dict(keys.iter_rows())
    ordered = [by_short[s] for s in m.order]
    assert len(ordered) == len(m.order) == keys.height
    # strictly increasing, but an ICD-9-CM parent shares the key of its first child (001 and 001.0)
    assert all(a < b or (a == b and system == "icd9dx") for a, b in pairwise(ordered))


@pytest.mark.parametrize("system", SYSTEMS)
def test_every_release_defines_what_its_list_says(system: str) -> None:
    m = model(system)
    assert [r.name for r in releases(system)] == m.releases
    for release in releases(system):
        codes = code_set(system, release=release.name)
        defined = m.defined(release.index)
        assert codes.defined_codes["short"].to_list() == defined  # in tabular order, parents first
        assert set(codes.table["short"]) == {s for s in defined if m.billable(release.index, s)}
        spans = dict(zip(codes.defined_codes["short"], zip(codes.defined_codes["lo"], codes.defined_codes["hi"],
                                                            strict=True), strict=True))
        keys = {s: spans[s][0] for s in codes.table["short"]}
        for short in defined[::97]:  # a sample of each release: spans are the billable codes beneath
            first, last = m.span(short, release.index)  # type: ignore[misc]
            assert spans[short] == (keys[m.order[first]], keys[m.order[last]]), (release.name, short)


def _codes(system: str) -> st.SearchStrategy[str]:
    order = model(system).order
    return st.integers(0, len(order) - 1).map(order.__getitem__)  # (sampled_from checks every element)


def _prefixes(short: str) -> list[str]:
    return [short[:n] for n in range(4 if short[0] == "E" else 3, len(short))]  # down to the major


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_match_and_expand_equal_the_brute_force_in_every_release(data: st.DataObject) -> None:
    system = data.draw(st.sampled_from(SYSTEMS))
    m = model(system)
    a = data.draw(_codes(system))  # ranges of up to a few thousand codes, as bulletins write them
    b = m.order[min(len(m.order) - 1, m.position[a] + data.draw(st.integers(0, 3000)))]
    if system == "icd9dx" and a[0] != b[0] and "VE".find(a[0]) != "VE".find(b[0]):
        b = a  # a range stays within one kind
    r = parse_range(f"{a} - {b}", system)
    lo, hi = m.span(a)[0], m.span(b)[1]  # type: ignore[index]
    release = data.draw(st.integers(0, len(m.releases) - 1))
    codes = code_set(system, release=m.releases[release])
    c = data.draw(st.sampled_from([data.draw(_codes(system)), a, b, *_prefixes(a), *_prefixes(b)]))
    assert r.match(parse_code(c, system)) == match(m.span(c), lo, hi)  # its span over every release
    if codes.defined(parse_code(c, system)):  # its span in this release
        assert r.match(codes.code(c)) == match(m.span(c, release), lo, hi), (c, m.releases[release])
    assert [x.short for x in codes.expand(r)] == m.window(release, lo, hi)
    nearby = m.order[max(0, lo - 10):hi + 1]  # a parent comes right before its first child
    parents = [s for s in nearby if m.status[s][release] == 1 and match(m.span(s, release), lo, hi) == "contained"]
    expanded = [x.short for x in codes.expand(r, parents=True)]
    assert sorted(expanded) == sorted(m.window(release, lo, hi) + parents)


# --- the cases of the issue -----------------------------------------------------------------------

@pytest.mark.parametrize(("day", "release", "defined", "billable"), [
    (date(2017, 3, 1), "FY2017", True, True), (date(2021, 9, 30), "FY2021 January", True, True),
    (date(2022, 3, 1), "FY2022", True, False), (date(2021, 10, 1), "FY2022", True, False)])
def test_m54_5_by_date_of_service(day: date, release: str, defined: bool, billable: bool) -> None:
    codes, code = code_set("icd10cm", on=day), parse_code("M54.5", "icd10cm")
    assert (codes.release.name, codes.defined(code), codes.billable(code)) == (release, defined, billable)
    if not billable:
        assert [c.decimal for c in codes.expand(parse_range("M54.5", "icd10cm"))] == ["M54.50", "M54.51", "M54.59"]


@pytest.mark.parametrize(("day", "defined"), [(date(2024, 6, 1), False), (date(2025, 9, 30), False),
                                              (date(2025, 10, 1), True), (date(2026, 3, 1), True)])
def test_e11_a_by_date_of_service(day: date, defined: bool) -> None:
    codes, code = code_set("icd10cm", on=day), parse_code("E11.A", "icd10cm")
    assert codes.defined(code) == codes.billable(code) == defined


def test_release_of_a_date_and_outside_the_bundled_releases() -> None:
    assert release_on("icd10cm", date(2022, 3, 31)).release.in_force == "ICD-10-CM FY2022, in force from 2021-10-01"
    assert release_on("icd10cm", date(2022, 4, 1)).release.name == "FY2022 April"
    assert release_on("icd10cm", date(2020, 5, 1)).release.name == "FY2020 April"
    assert code_set("icd10cm", on=date(2020, 5, 1)).billable(parse_code("U07.1", "icd10cm"))
    assert not code_set("icd10cm", on=date(2020, 3, 31)).defined(parse_code("U07.1", "icd10cm"))
    before, after = release_on("icd10cm", date(2014, 1, 1)), release_on("icd10cm", date(2027, 1, 1))
    assert before.release.name == "FY2016" and "before the first bundled release" in (before.note or "")
    assert after.release.name == "FY2026 April" and "after the bundled releases" in (after.note or "")
    assert release_on("icd10cm", date(2026, 9, 30)).note is None
    assert release_on("icd9dx", date(2012, 1, 1)).release.name == "v29"


def test_release_index_is_release_on_vectorized() -> None:
    days = [date(2014, 1, 1), None, *(date(y, m, d) for y in range(2015, 2028) for m, d in ((1, 1), (3, 31),
                                                                                         (4, 1), (9, 30), (10, 1)))]
    got = pl.DataFrame({"day": days}, schema={"day": pl.Date}).select(release_index("icd10cm", pl.col("day")))
    assert got.to_series().to_list() == [None if d is None else release_on("icd10cm", d).release.index for d in days]


def _character_order_count(codes: CodeSet, first: str, last: str) -> int:
    """What a range covered when keys were the characters padded: FY2024 billable codes between the two."""
    return sum(first.ljust(7, "0") <= s.ljust(7, "0") <= last.ljust(7, "Z") for s in codes.table["short"])


@pytest.mark.parametrize(("text", "count", "more", "example"), [
    ("M05 - M14.89", 1184, 242, "M1A.0110"), ("T36 - T50.996", 3150, 126, "T50.A11A"),
    ("Z30 - Z39.2", 160, 38, "Z3A.01"), ("C84.00 - C84.99", 81, 20, "C84.A0"),
    ("C76 - C80.2", 59, -31, "C7A.00"), ("D37 - D48.9", 115, -22, "D3A.00")])
def test_ranges_follow_the_tabular_order(text: str, count: int, more: int, example: str) -> None:
    codes, r = code_set("icd10cm", release="FY2024"), parse_range(text, "icd10cm")
    first, last = (p.replace(".", "") for p in text.split(" - "))
    assert len(codes.expand(r)) == count == _character_order_count(codes, first, last) + more
    assert (r.match(example) == "contained") == (more > 0)


@pytest.mark.parametrize("text", ["S00.00X", "T88.9XX", "T07.X", "W19.X", "H40.10X", "M1A.9X", "S00.00X+"])
def test_placeholder_prefixes_are_no_codes(text: str) -> None:
    code = parse_code(text, "icd10cm")
    for release in releases("icd10cm"):
        assert not code_set("icd10cm", release=release.name).defined(code)
    assert not code.is_full_length  # it spans the codes its form prefixes: S00.00XA-S00.00XS


@pytest.mark.parametrize("text", ["T46.4X", "J09.X", "M01.X", "H21.1X"])
def test_headers_that_end_in_x_are_codes(text: str) -> None:
    codes, code = code_set("icd10cm", release="FY2024"), parse_code(text, "icd10cm")
    assert codes.defined(code) and not codes.billable(code)


@pytest.mark.parametrize(("parent", "text", "system"), [
    ("Z85", "Z85.00 - Z85.9", "icd10cm"), ("T88", "S00.00X+ - T88.9XX+", "icd10cm"),
    ("Z87.82", "Z87.81 - Z87.828", "icd10cm"), ("139", "001 - 139.8", "icd9dx"), ("E999", "E800 - E999.1", "icd9dx")])
def test_parents_at_the_edge_of_a_range_are_contained(parent: str, text: str, system: str) -> None:
    r, codes = parse_range(text, system), code_set(system)
    assert r.match(parent) == "contained"
    assert parent.replace(".", "") in {c.short for c in codes.expand(r, parents=True)}


def test_a_code_no_release_defines() -> None:
    codes = code_set("icd10cm")
    nothing = parse_code("A00.5", "icd10cm")  # prefixes no code: a point between A00.1 and A00.9
    assert nothing.is_full_length and not codes.defined(nothing)
    assert parse_code("A00.1", "icd10cm").hi < nothing.lo < parse_code("A00.9", "icd10cm").lo
    assert parse_range("A00 - A00.9", "icd10cm").match(nothing) == "contained"
    assert codes.expand(parse_range("A00.5", "icd10cm")) == []
    # 042.0 is no code (042 is billable): it sits just after 042, so a range to it takes 042
    assert parse_range("001 - 042.0", "icd9dx").match("042") == "contained"
    assert parse_range("042.0 - 044", "icd9dx").match("042") is None


@pytest.mark.parametrize(("dead", "replaced_by"), [
    ("S0210XA", ("S02101A", "S02102A", "S02109A")), ("I9762", ("I97620", "I97621", "I97622")),
    ("K913", ("K9130", "K9131", "K9132")), ("M545", ("M5450", "M5451", "M5459")), ("E119", ("E119",))])
def test_successors(dead: str, replaced_by: tuple[str, ...]) -> None:
    assert successors("icd10cm", dead) == replaced_by
    assert successors("icd10cm", "M545", release="FY2021") == ("M545",)
    assert successors("icd10cm", "T408X5S") == ()  # in the 2018 GEMs, in no release


def test_dead_gem_targets_are_followed_and_nothing_is_dropped() -> None:
    translation = translate(load_policy("0198"))
    [comparison] = translation.comparisons
    followed = translation.followed
    assert (len(followed), sum(bool(codes) for codes in followed.values()), len(translation.unreplaced)) == (
        190, 100, 90)
    assert followed["S0210XA"] == ("S02101A", "S02102A", "S02109A")
    assert {c for codes in followed.values() for c in codes} <= comparison.translated
    assert not set(followed) & comparison.translated - set(translation.unreplaced)
    written = format_cpb(Policy("t", None, None, (translation.version,)))
    for short in translation.unreplaced:  # kept as written, saying so
        assert parse_code(short, "icd10cm").decimal + " from" in written
    assert "nothing replaced it" in written
