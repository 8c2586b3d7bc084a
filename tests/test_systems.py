"""Parsing codes of every system: forms, spans, errors, and the int64 key layout."""

from __future__ import annotations

import doctest
import re
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codeindex import InvalidCodeError, UnknownSystemError, code_set, is_valid, parse_code, parse_range
from codeindex.codesets import history
from codeindex.systems import SYSTEMS, icd10cm

DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = DIGITS + LETTERS  # the code-set order: digits before letters
LEVEL2 = "ABCEGHJKLMPQRSTV"
FULL = {"icd9dx": 5, "icd9pcs": 4, "icd10cm": 7}
HIGH = {"icd9dx": "9", "icd9pcs": "9", "icd10cm": "Z"}


def digits(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=DIGITS, min_size=lo, max_size=hi)


def icd9dx_short(kind: str) -> st.SearchStrategy[str]:
    if kind == "numeric":
        return st.builds(lambda n, m: f"{n:03d}{m}", st.integers(1, 999), digits(0, 2))
    if kind == "V":
        return st.builds(lambda n, m: f"V{n:02d}{m}", st.integers(1, 91), digits(0, 2))
    return st.builds(lambda n, m: f"E{n:03d}{m}", st.integers(0, 999), digits(0, 1))


ICD9PCS = st.builds(lambda n, m: f"{n:02d}{m}", st.integers(0, 99), digits(0, 2))
ICD10CM = st.builds(
    lambda a, b, c, rest: a + b + c + rest,
    st.sampled_from(LETTERS), st.sampled_from(DIGITS), st.sampled_from(ALNUM),
    st.text(alphabet=ALNUM, max_size=4),
)

# (system, kind) -> a strategy of short forms of that kind.
GROUPS: dict[tuple[str, str], st.SearchStrategy[str]] = {
    ("icd9dx", "numeric"): icd9dx_short("numeric"),
    ("icd9dx", "V"): icd9dx_short("V"),
    ("icd9dx", "E"): icd9dx_short("E"),
    ("icd9pcs", "procedure"): ICD9PCS,
    ("icd10cm", "diagnosis"): ICD10CM,
    ("hcpcs", "cpt_category_i"): digits(5, 5),
    **{
        ("hcpcs", kind): digits(4, 4).map(lambda d, s=suffix: d + s)
        for suffix, kind in [("F", "cpt_category_ii"), ("T", "cpt_category_iii"),
                             ("U", "cpt_pla"), ("M", "cpt_maaa")]
    },
    **{("hcpcs", f"hcpcs_level_ii_{x}"): digits(4, 4).map(lambda d, x=x: x + d) for x in LEVEL2},
}
# The first and last code of every kind, by form.
EXTREMES: dict[tuple[str, str], tuple[str, str]] = {
    ("icd9dx", "numeric"): ("001", "999"),
    ("icd9dx", "V"): ("V01", "V91"),
    ("icd9dx", "E"): ("E000", "E999"),
    ("icd9pcs", "procedure"): ("00", "99"),
    ("icd10cm", "diagnosis"): ("A00", "Z9Z"),
    ("hcpcs", "cpt_category_i"): ("00000", "99999"),
    ("hcpcs", "cpt_category_ii"): ("0000F", "9999F"),
    ("hcpcs", "cpt_category_iii"): ("0000T", "9999T"),
    ("hcpcs", "cpt_pla"): ("0000U", "9999U"),
    ("hcpcs", "cpt_maaa"): ("0000M", "9999M"),
    **{("hcpcs", f"hcpcs_level_ii_{x}"): (f"{x}0000", f"{x}9999") for x in LEVEL2},
}


def padded(system: str, short: str) -> tuple[str, str]:
    """The brute-force span: the short form padded to full length with its lowest and highest character."""
    if system == "hcpcs":
        return short, short
    return short.ljust(FULL[system], "0"), short.ljust(FULL[system], HIGH[system])


def cmp(a: object, b: object) -> int:
    return (a > b) - (a < b)  # type: ignore[operator]


# --- examples -----------------------------------------------------------------------------------

ICD9DX = [
    # text, short, decimal, kind
    ("800.00", "80000", "800.00", "numeric"),
    ("80000", "80000", "800.00", "numeric"),
    ("410.00", "41000", "410.00", "numeric"),
    ("410", "410", "410", "numeric"),
    ("100.8", "1008", "100.8", "numeric"),
    ("V57.22", "V5722", "V57.22", "V"),
    ("V5722", "V5722", "V57.22", "V"),
    ("V15", "V15", "V15", "V"),
    ("E880.9", "E8809", "E880.9", "E"),
    ("E8809", "E8809", "E880.9", "E"),
    ("E880", "E880", "E880", "E"),
    ("0010", "0010", "001.0", "numeric"),
    ("123.", "123", "123", "numeric"),
    (" v57.22 ", "V5722", "V57.22", "V"),
    ("\te880.9\n", "E8809", "E880.9", "E"),
]


@pytest.mark.parametrize(("text", "short", "decimal", "kind"), ICD9DX)
def test_icd9dx_forms(text: str, short: str, decimal: str, kind: str) -> None:
    code = parse_code(text, "icd9dx")
    assert (code.system, code.kind, code.short, code.decimal) == ("icd9dx", kind, short, decimal)
    assert str(code) == decimal
    assert parse_code(text, "icd9") == code  # the alias


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [("V10", "V1000", "V1091"), ("999.9", "9999", "9999"), ("E880", "E8800", "E8809"),
     ("0010", "0010", "0010"), ("410", "41000", "41092"), ("800.00", "80000", "80000"), ("139", "1390", "1398")],
)
def test_icd9dx_spans(text: str, first: str, last: str) -> None:
    """A code spans the first to the last billable code beneath it."""
    code = parse_code(text, "icd9dx")
    assert code.span == (parse_code(first, "icd9dx").lo, parse_code(last, "icd9dx").hi)
    assert code.is_full_length == (first == last)


@pytest.mark.parametrize(("text", "hint"), [
    ("V1.2", "write 'V01.2' if that is meant"), ("v1.0", "write 'V01.0' if that is meant"),
    ("1.0", "write '001.0' if that is meant"), ("1.", "write '001' if that is meant"),
    ("80.1", "write '080.1' if that is meant"), ("V1", "shorter than the 2-digit major"),
    ("12", "shorter than the 3-digit major"), ("E1", "shorter than the 3-digit major"),
    ("E80.1", "an E code has 3 digits before the dot (write 'E080.1' if that is meant)"),
])
def test_icd9dx_short_majors_are_not_padded(text: str, hint: str) -> None:
    """One rule for every major (issue 29, item 5): written with all its digits, or no code; the note says the
    padded reading where there is one."""
    with pytest.raises(InvalidCodeError, match=re.escape(hint)):
        parse_code(text, "icd9dx")


@pytest.mark.parametrize(
    "text", ["10", "1", "V92", "V00", "V0", "V0.1", "E1.2", "000", "000.1", "E880.12", "E88.0", "E88", "8OO.00",
             "800.000", "8000000", "V57.222", "800..0", ".5", "X800", "800-00", "", "   "],
)
def test_icd9dx_errors(text: str) -> None:
    with pytest.raises(InvalidCodeError) as info:
        parse_code(text, "icd9dx")
    assert isinstance(info.value, ValueError)
    assert "icd9dx" in str(info.value) and repr(text) in str(info.value)
    assert not is_valid(text, "icd9")


def test_icd9dx_error_messages_say_what_is_wrong() -> None:
    def message(text: str) -> str:
        with pytest.raises(InvalidCodeError) as info:
            parse_code(text, "icd9dx")
        return str(info.value)

    assert "shorter" in message("10")
    assert "V91" in message("V92")
    assert "001" in message("000")
    assert "letter O" in message("8OO.00")
    assert "minor digit" in message("E880.12")


def test_non_text_is_an_error_naming_the_type() -> None:
    for system in ("icd9dx", "icd9pcs", "hcpcs", "icd10cm"):
        with pytest.raises(InvalidCodeError, match="int"):
            parse_code(80000, system)  # type: ignore[arg-type]


def test_unknown_system() -> None:
    with pytest.raises(InvalidCodeError, match="unknown code system") as info:
        parse_code("800.00", "icd11")
    # It names the system given and the ones there are, not the code (which is not what is wrong).
    assert str(info.value) == ("unknown code system 'icd11' (known: cpt, hcpcs, icd10, icd10cm, icd9, icd9dx, "
                               "icd9pcs)")
    assert isinstance(info.value, UnknownSystemError) and info.value.system == "icd11"


@pytest.mark.parametrize(
    ("text", "short", "decimal"),
    [("81.08", "8108", "81.08"), ("8108", "8108", "81.08"), ("81.0", "810", "81.0"), ("81", "81", "81"),
     ("00.01", "0001", "00.01"), (" 81.08 ", "8108", "81.08")],
)
def test_icd9pcs_forms(text: str, short: str, decimal: str) -> None:
    code = parse_code(text, "icd9pcs")
    assert (code.system, code.kind, code.short, code.decimal) == ("icd9pcs", "procedure", short, decimal)


def test_icd9pcs_span() -> None:
    code = parse_code("81", "icd9pcs")
    assert code.span == (parse_code("8100", "icd9pcs").lo, parse_code("8199", "icd9pcs").hi)
    assert parse_code("81.08", "icd9pcs").is_full_length


@pytest.mark.parametrize("text", ["8", "8.1", "81.123", "811234", "81..0", "A1.00", ""])
def test_icd9pcs_errors(text: str) -> None:
    with pytest.raises(InvalidCodeError) as info:
        parse_code(text, "icd9pcs")
    assert "icd9pcs" in str(info.value) and repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("97545", "cpt_category_i"), ("0001F", "cpt_category_ii"), ("0016T", "cpt_category_iii"),
     ("0214U", "cpt_pla"), ("0002M", "cpt_maaa"), ("A4206", "hcpcs_level_ii_A"),
     ("S9117", "hcpcs_level_ii_S"), ("j1100", "hcpcs_level_ii_J"), (" g0008 ", "hcpcs_level_ii_G")],
)
def test_hcpcs_forms(text: str, kind: str) -> None:
    code = parse_code(text, "hcpcs")
    assert code.kind == kind
    assert code.short == code.decimal == text.strip().upper()
    assert code.is_full_length
    assert parse_code(text, "cpt") == code


@pytest.mark.parametrize("text", ["97545-GP", "97545 GP", "97545GP", "a4206-rt", "0016T-26"])
def test_hcpcs_modifier_is_an_error_naming_it(text: str) -> None:
    with pytest.raises(InvalidCodeError, match="modifier") as info:
        parse_code(text, "cpt")
    assert "hcpcs" in str(info.value) and repr(text) in str(info.value)


@pytest.mark.parametrize("text", ["9754", "975456", "I1234", "0001X", "F0001", "A42O6", ""])
def test_hcpcs_errors(text: str) -> None:
    with pytest.raises(InvalidCodeError) as info:
        parse_code(text, "hcpcs")
    assert "hcpcs" in str(info.value) and repr(text) in str(info.value)


def test_hcpcs_kinds_are_separate() -> None:
    category_ii = parse_range("0001F-9999F", "cpt")
    assert category_ii.match("0016T") is None
    assert category_ii.match("0214U") is None
    assert category_ii.match("0500F") == "contained"
    category_i = parse_range("00100-99999", "cpt")
    for letter in LEVEL2:
        for digits_ in ("0000", "0100", "5000", "9999"):
            assert category_i.match(letter + digits_) is None
    for other in ("0001F", "0016T", "0214U", "0002M"):
        assert category_i.match(other) is None


@pytest.mark.parametrize(
    ("text", "short", "decimal"),
    [("S72.001A", "S72001A", "S72.001A"), ("S72001A", "S72001A", "S72.001A"),
     ("s00.00xa", "S0000XA", "S00.00XA"), ("S00.00x", "S0000X", "S00.00X"),
     ("S00.00X+", "S0000X", "S00.00X+"), ("I10", "I10", "I10"),
     ("E11.9", "E119", "E11.9"), ("U07.1", "U071", "U07.1"), (" t88.9xx+ ", "T889XX", "T88.9XX+")],
)
def test_icd10cm_forms(text: str, short: str, decimal: str) -> None:
    code = parse_code(text, "icd10cm")
    assert (code.system, code.kind, code.short, code.decimal) == ("icd10cm", "diagnosis", short, decimal)
    assert parse_code(text, "icd10") == code


def test_icd10cm_plus_spans_like_its_code() -> None:
    plus, bare = parse_code("S00.00X+", "icd10cm"), parse_code("S00.00X", "icd10cm")
    assert plus.span == bare.span
    assert plus.span == (parse_code("S0000XA", "icd10cm").lo, parse_code("S0000XS", "icd10cm").hi)
    assert parse_code("A00", "icd10cm").span == (parse_code("A000", "icd10cm").lo, parse_code("A009", "icd10cm").hi)
    assert parse_code("S72.001A", "icd10cm").is_full_length


def test_a_trailing_dot_reads_as_the_category_before_it() -> None:
    """As for ICD-9-CM ("800." is 800): every category any ICD-10-CM release defines, written with a trailing
    dot, is that category, with its span."""
    categories = [short for short in history("icd10cm")["short"].to_list() if len(short) == 3]
    assert len(categories) > 1900
    for short in categories:
        assert parse_code(short + ".", "icd10cm") == parse_code(short, "icd10cm"), short
    assert parse_code(" z85. ", "icd10cm").decimal == "Z85"


@pytest.mark.parametrize(
    "text", ["S72.001AA", "S72001AAB", "S72.0011AB", "S72.001A+", "S00.0+", "S7", "S72.+", "1S7", "SS7.0", "NULL",
             "S72-001A", "S72.0.1", "S72..", ""],
)
def test_icd10cm_errors(text: str) -> None:
    with pytest.raises(InvalidCodeError) as info:
        parse_code(text, "icd10cm")
    assert "icd10cm" in str(info.value) and repr(text) in str(info.value)


def test_icd10cm_codes_that_start_with_two_letters() -> None:
    """FY2026's QA0 category: its codes read in both forms, sit in the tabular order (after Q99.9, before R00) and
    span their codes; a well-formed QA0 code no release defines is a point after its neighbour, as other undefined
    codes are; two letters that start no category of the code set are no code."""
    code = parse_code("qa00142", "icd10cm")
    assert (code.short, code.decimal) == ("QA00142", "QA0.0142") and code == parse_code("QA0.0142", "icd10")
    newest, before = code_set("icd10cm", release="FY2026"), code_set("icd10cm", release="FY2025 April")
    assert newest.billable(code) and not before.defined(code)
    assert parse_code("Q99.9", "icd10cm").hi < parse_code("QA0", "icd10cm").lo <= code.lo
    assert parse_code("QA0", "icd10cm").hi < parse_code("R00", "icd10cm").lo
    assert parse_range("QA0.0101 - QA0.0159", "icd10cm").match("QA0.01") == "contained"
    assert parse_range("Q99.8 - R00.0", "icd10cm").match("QA0") == "contained"
    undefined = parse_code("QA0.0199", "icd10cm")
    assert not newest.defined(undefined) and parse_code("QA0.0159", "icd10cm").hi < undefined.lo == undefined.hi
    assert undefined.hi < parse_code("QA0.08", "icd10cm").lo
    for text in ("QB0", "QA9.01", "AB1"):
        with pytest.raises(InvalidCodeError, match="expected a letter, then a digit \\(or a category of the code set"):
            parse_code(text, "icd10cm")


def test_icd10cm_doctests_pass() -> None:
    result = doctest.testmod(icd10cm)
    assert result.failed == 0 and result.attempted > 0


def test_icd10cm_too_long_says_so() -> None:
    for text in ("S72.001AA", "S72001AAB"):
        with pytest.raises(InvalidCodeError, match="longer than 7"):
            parse_code(text, "icd10cm")


@pytest.mark.parametrize("system", ["icd9dx", "icd9pcs", "icd10cm"])
def test_every_code_of_the_real_code_sets_parses_and_round_trips(system: str) -> None:
    codes = code_set(system)
    parse = SYSTEMS[system].parse
    assert sorted(c.short for c in codes.codes) == sorted(codes.descriptions)
    if system == "icd9pcs":  # sorted by key: by padded form (the others: test_tabular.py)
        for a, b in pairwise(codes.codes):
            assert padded(system, a.short)[1] < padded(system, b.short)[0]
    for code in codes.codes:  # a code's span in a release is its span over every release, or lies inside it
        parsed = parse(code.decimal)
        assert parsed == parse(code.short) and codes.code(code.decimal) == code
        assert (parsed.short, parsed.decimal) == (code.short, code.decimal)
        assert parsed.lo <= code.lo <= code.hi <= parsed.hi


def test_spec_examples_are_in_the_real_code_sets() -> None:
    icd9 = code_set("icd9dx")
    for text in ("800.00", "V57.22", "E880.9", "001.0", "410.00"):
        assert icd9.billable(parse_code(text, "icd9dx")), text
    assert code_set("icd9pcs").billable(parse_code("81.08", "icd9pcs"))
    assert code_set("icd10cm").billable(parse_code("S72.001A", "icd10cm"))


# --- properties ---------------------------------------------------------------------------------

GROUP_KEYS = sorted(GROUPS)
ORDERED = [g for g in GROUP_KEYS if g[0] != "hcpcs"]  # the kinds with a hierarchy
# Keys that are padded forms: ICD-9-CM and ICD-10-CM diagnoses span their code sets (test_tabular.py).
PADDED = [g for g in GROUP_KEYS if g[0] in ("hcpcs", "icd9pcs")]


@settings(max_examples=300)
@given(st.data())
def test_key_order_is_padded_string_order(data: st.DataObject) -> None:
    system, kind = data.draw(st.sampled_from(PADDED))
    a = parse_code(data.draw(GROUPS[system, kind]), system)
    b = parse_code(data.draw(GROUPS[system, kind]), system)
    assert (a.system, a.kind) == (b.system, b.kind) == (system, kind)
    (a_lo, a_hi), (b_lo, b_hi) = padded(system, a.short), padded(system, b.short)
    assert cmp(a.lo, b.lo) == cmp(a_lo, b_lo)
    assert cmp(a.hi, b.hi) == cmp(a_hi, b_hi)
    assert cmp(a.lo, b.hi) == cmp(a_lo, b_hi)
    assert cmp(a.hi, b.lo) == cmp(a_hi, b_lo)


@settings(max_examples=300)
@given(st.data())
def test_decimal_short_round_trip(data: st.DataObject) -> None:
    system, kind = data.draw(st.sampled_from(GROUP_KEYS))
    parse = SYSTEMS[system].parse
    code = parse(data.draw(GROUPS[system, kind]))
    assert parse(code.decimal).short == code.short
    assert parse(code.short).decimal == code.decimal
    assert parse(code.decimal) == parse(code.short) == code
    assert parse(f"  {code.decimal.lower()} ") == code  # lower case and spaces


@given(st.integers(1, 999), digits(0, 2))
def test_icd9dx_numeric_major_is_read_only_with_its_three_digits(major: int, minor: str) -> None:
    assert parse_code(f"{major:03d}.{minor}", "icd9dx").short == f"{major:03d}{minor}"
    if major < 100:
        with pytest.raises(InvalidCodeError, match="3 digits before the dot"):
            parse_code(f"{major}.{minor}", "icd9dx")


@settings(max_examples=300)
@given(st.data())
def test_kinds_never_interleave(data: st.DataObject) -> None:
    group_a, group_b = data.draw(st.lists(st.sampled_from(GROUP_KEYS), min_size=2, max_size=2, unique=True))
    a1, a2 = (parse_code(data.draw(GROUPS[group_a]), group_a[0]) for _ in range(2))
    b1, b2 = (parse_code(data.draw(GROUPS[group_b]), group_b[0]) for _ in range(2))
    assert a1.hi < b1.lo or b1.hi < a1.lo
    assert (a1.lo < b1.lo) == (a2.lo < b2.lo) == (a1.hi < b2.lo) == (a2.hi < b1.lo)


def test_kinds_never_interleave_at_their_extremes() -> None:
    spans = sorted(
        (parse_code(first, system).lo, parse_code(last, system).hi, (system, kind))
        for (system, kind), (first, last) in EXTREMES.items()
    )
    assert len(spans) == len(GROUPS)
    for (_, hi, group), (lo, _, next_group) in pairwise(spans):
        assert hi < lo, (group, next_group)
    for (system, kind), (first, last) in EXTREMES.items():
        assert parse_code(first, system).kind == parse_code(last, system).kind == kind


@settings(max_examples=300)
@given(st.data())
def test_full_length_codes_are_points(data: st.DataObject) -> None:
    system, kind = data.draw(st.sampled_from(PADDED))
    code = parse_code(data.draw(GROUPS[system, kind]), system)
    full = system == "hcpcs" or len(code.short) == FULL[system]
    assert code.is_full_length == full
    assert (code.lo == code.hi) == full
    assert code.lo <= code.hi
    if not full:
        first, last = padded(system, code.short)
        assert code.span == (parse_code(first, system).lo, parse_code(last, system).hi)


@given(st.builds(lambda a, b, rest: a + b + rest, st.sampled_from(LETTERS), st.sampled_from(DIGITS),
                 st.text(alphabet=ALNUM, min_size=4, max_size=4)))
def test_icd10cm_plus_is_its_code_with_a_plus(short: str) -> None:
    plus, bare = parse_code(short + "+", "icd10cm"), parse_code(short, "icd10cm")
    assert plus.short == bare.short and plus.span == bare.span
    assert plus.decimal == bare.decimal + "+"
    assert parse_code(plus.decimal, "icd10cm") == plus


def test_no_icd9dx_code_of_any_release_is_read_from_a_short_major() -> None:
    """Every decimal spelling of every bundled ICD-9-CM release whose major has leading zeros (001.0, V01.2): its
    spelling without them is no code, and its own spelling is that code (issue 29, item 5)."""
    from codeindex.codesets import ever_spellings

    spellings = [s for s in ever_spellings("icd9dx").to_list() if "." in s or len(s) <= 4]
    checked = 0
    for spelling in spellings:
        prefix = spelling[0] if spelling[0] in "VE" else ""
        major = spelling[len(prefix):].split(".")[0]
        stripped = major.lstrip("0")
        if "." not in spelling or not stripped or stripped == major:
            continue
        short = prefix + stripped + spelling[len(prefix) + len(major):]
        with pytest.raises(InvalidCodeError):
            parse_code(short, "icd9dx")
        assert parse_code(spelling, "icd9dx").decimal == spelling
        checked += 1
    assert checked > 500
