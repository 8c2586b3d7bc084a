"""What each distinct diagnosis value of a screen says, once each, through the code sets and the policies.

Claim volumes are huge and the code domain is tiny, so every distinct (diagnosis value,
era, release) is read once (values spelled as in the code set vectorized, odd spellings
through the parser) into its own edits and its span of billable codes in that release, and
every distinct span is joined once against every policy's ranges; polars carries the
answers to the rows.  The edits:

- ``invalid_code``: not a code of its system;
- ``undefined_code``: a valid form, not in the release of the code set in force on the line's date
  (the note says whether another release defines it);
- ``non_billable_code``: truncated, it has children in that release;
- ``partial_match``: its leaf span only overlaps a policy range;
- ``icd_version_mismatch``: a diagnosis of the other ICD version than the line's;
- ``addon_without_primary``, ``invalid_date``, ``invalid_icd_version`` (line and claim
  edits, see explain).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from codeindex.code import Code
from codeindex.codesets import CodeSet, code_set, defined_in, ever_spellings, releases
from codeindex.errors import InvalidCodeError
from codeindex.policy.compiled import CompiledPolicies
from codeindex.policy.model import DIAGNOSIS_SYSTEMS, ERA_NAMES
from codeindex.screen.columns import CODE, DIAGNOSIS, ERAS, ITEM_SEPARATOR, RANGE_SEPARATOR, SPAN
from codeindex.screen.frames import nonempty
from codeindex.screen.line import newest
from codeindex.systems import parse_code

COVERED = ("covered", "covered_if_criteria_met")
# The notes' wording, shared by the parser path (str.format) and the vectorized path (pl.format).
TRUNCATED = "diagnosis {} is truncated: it is not billable in {} (it has more specific codes)"
PARTLY = "diagnosis {} only partly overlaps {}"
MISMATCH = "diagnosis {} is an {} code on an {} line"


@lru_cache(maxsize=1 << 16)  # odd spellings repeat across releases and screens; bounded, as they are the user's
def _ever_defined(text: str, system: str) -> bool:
    """Whether some bundled release of ``system`` defines the code ``text`` spells: a code of the other ICD
    version, in any of its releases, is that version's (``icd_version_mismatch``), not an invalid code."""
    try:
        return bool(defined_in(system, parse_code(text, system)))
    except InvalidCodeError:
        return False


def _undefined(text: str, code: Code, codes: CodeSet) -> str:
    """The note on a code its line's release does not define: whether other releases do."""
    elsewhere, label = defined_in(codes.system, code), codes.release.system_label
    span = " to ".join(dict.fromkeys((elsewhere[0].name, elsewhere[-1].name))) if elsewhere else ""
    known = f"it is in {label} {span}" if elsewhere else f"no {label} release has it"
    return f"diagnosis {text} is not in {codes.release.in_force} ({known})"


def code_findings(text: str, era: str, release: int) -> tuple[Code | None, list[str], list[str]]:
    """What one trimmed diagnosis value is on a line of ``era`` dated in ``release`` (an index of the era's code
    set releases), through the parser: the code with its span in the release (None when it is not a code
    there), its edits and their notes."""
    system, other_era = DIAGNOSIS_SYSTEMS[era], ERAS[1 - ERAS.index(era)]
    mismatch = ["icd_version_mismatch"], [MISMATCH.format(text, ERA_NAMES[other_era], ERA_NAMES[era])]
    try:
        code = parse_code(text, system)
    except InvalidCodeError as exc:
        if _ever_defined(text, DIAGNOSIS_SYSTEMS[other_era]):
            return None, *mismatch
        return None, ["invalid_code"], [f"diagnosis {text!r} is not an {ERA_NAMES[era]} code ({exc.problem})"]
    codes = code_set(system, release=releases(system)[release].name)
    if not codes.defined(code):
        if _ever_defined(text, DIAGNOSIS_SYSTEMS[other_era]):
            return None, *mismatch
        return None, ["undefined_code"], [_undefined(text, code, codes)]
    code = codes.code(code)  # its span in the release
    if not codes.billable(code):
        return code, ["non_billable_code"], [TRUNCATED.format(text, codes.release.in_force)]
    return code, [], []


def _parsed(values: pl.DataFrame) -> pl.DataFrame:
    """What the (``value``, ``text``, ``era``, ``release``) rows are (``CODE``), through the parser: for values
    not spelled as in the code set."""
    rows = []
    for raw, text, era, release in values.select("value", "text", "era", "release").iter_rows():
        code, edits, notes = code_findings(text, era, release)
        rows.append((raw, era, release, text, code.lo if code else None, code.hi if code else None,
                     ",".join(edits) or None, ITEM_SEPARATOR.join(notes) or None))
    return pl.DataFrame(rows, schema=CODE, orient="row")


def partly_notes(text: pl.Expr, partly: pl.Expr) -> pl.Expr:
    """The notes on a value's partial overlaps (``partly``: the ranges joined by RANGE_SEPARATOR), joined by
    ITEM_SEPARATOR."""
    prefix = pl.format(PARTLY.removesuffix("{}"), text)  # "diagnosis <text> only partly overlaps "
    between = pl.concat_str(pl.lit(ITEM_SEPARATOR), prefix).fill_null("")  # replace_all takes no null, even unused
    return pl.concat_str(prefix, partly.str.replace_all(RANGE_SEPARATOR, between, literal=True))


def _found_in(spellings: pl.Series, position: pl.Series) -> pl.Expr:
    """Whether each ``spelling`` is in the sorted ``spellings``, given the ``position`` a binary search found for
    it (``Series.search_sorted``: cheaper than a join, and than the same search as an expression)."""
    at = pl.lit(position).clip(upper_bound=max(spellings.len() - 1, 0))
    return (pl.lit(spellings).gather(at) == pl.col("spelling")).fill_null(False)


@lru_cache(maxsize=64)  # a few releases per screen; a table of the era's every spelling each
def _aligned(system: str, release: int) -> pl.DataFrame:
    """The ``lo``, ``hi`` and ``billable`` of each of the system's ``ever_spellings`` in one release, row by row
    (null where the release does not define it): a value found once among every release's spellings reads what
    it is in each release by a gather, not by a binary search per release."""
    spellings = code_set(system, release=releases(system)[release].name).spellings
    return (ever_spellings(system).to_frame("spelling")
            .join(spellings.select("spelling", "lo", "hi", "billable"), on="spelling", how="left",
                  maintain_order="left").drop("spelling"))


CROSS_PAIRS_AT_MOST = 4_000_000  # (span, range) pairs compared one by one, at most, rather than range-joined
_UNREAD = {"value": pl.String, "text": pl.String, "era": pl.String, "release": pl.UInt8}  # values for the parser


def _by_spelling(values: pl.DataFrame, contexts: list[tuple[str, int]],
                 seen: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the values spelled as a defined code of the era's code set in each context's release (or of any
    release of the other era's) are (``CODE``), vectorized, and the values that are not so spelled (``value``, ``text``,
    ``era``, ``release``), for the parser.  ``values`` has ``value``, ``text`` (trimmed) and ``spelling``
    (trimmed, upper case).  Gives exactly what ``_parsed`` gives for those values (a test holds the two
    together).  A value is searched once in each era's every spelling (``ever_spellings``); what it is in a
    context's release is then a gather from that release's table aligned to them (``_aligned``, made once per
    process): 15,371 values in 5 releases were 77,000 binary searches, now 15,371 per era.  The contexts'
    rows are made in one query.  With ``seen`` (``id``, ``era``, ``release``), a value (by its ``id`` in
    ``values``) is read only in the contexts it is seen in."""
    if not contexts:
        return pl.DataFrame(schema=CODE), pl.DataFrame(schema=_UNREAD)
    spelling = values["spelling"]
    ever = {era: ever_spellings(DIAGNOSIS_SYSTEMS[era]) for era in ERAS}
    searched = {era: ever[era].search_sorted(spelling) for era in {e for e, _ in contexts} | {
        ERAS[1 - ERAS.index(e)] for e, _ in contexts}}
    # Where a value is among an era's every spelling (null: it is none of them).
    found = values.select(**{era: pl.when(_found_in(ever[era], at)).then(pl.lit(at).clip(
        upper_bound=max(ever[era].len() - 1, 0))) for era, at in searched.items()})
    queries = []
    for era, release in contexts:
        other_era = ERAS[1 - ERAS.index(era)]
        system = DIAGNOSIS_SYSTEMS[era]
        in_force = releases(system)[release].in_force
        then = _aligned(system, release)
        at = pl.col(era)
        spelled, elsewhere = pl.col("spelled"), pl.col("elsewhere")
        truncated = spelled & ~pl.col("billable")
        mismatched = ~spelled & elsewhere  # a code of the other era, in some release of it
        rows = pl.concat([values.lazy(), found.lazy()], how="horizontal")
        if seen is not None:
            rows = rows.join(seen.lazy().filter(pl.col("era") == era, pl.col("release") == release), on="id",
                             how="semi")
        queries.append(rows.with_columns(
            lo=pl.lit(then["lo"]).gather(at), hi=pl.lit(then["hi"]).gather(at),
            billable=pl.lit(then["billable"]).gather(at), elsewhere=pl.col(other_era).is_not_null(),
        ).with_columns(spelled=pl.col("lo").is_not_null()).select(
            "value", era=pl.lit(era), release=pl.lit(release, pl.UInt8), text="text", lo="lo", hi="hi",
            edits=pl.when(truncated).then(pl.lit("non_billable_code"))
            .when(mismatched).then(pl.lit("icd_version_mismatch")),
            notes=pl.when(truncated).then(pl.format(TRUNCATED, "text", pl.lit(in_force)))
            .when(mismatched).then(pl.format(MISMATCH, "text", pl.lit(ERA_NAMES[other_era]),
                                             pl.lit(ERA_NAMES[era]))),
            parse=~spelled & ~elsewhere))
    read = pl.concat(queries).collect()
    return (read.filter(~pl.col("parse")).drop("parse").cast(CODE),  # type: ignore[arg-type]
            read.filter("parse").select(_UNREAD.keys()))


def _billed_between(pairs: pl.DataFrame) -> pl.Series:
    """Whether the release of each pair (``era``, ``release``) bills a code with a key in [``i_lo``, ``i_hi``]: a
    binary search in the release's billable keys, per release."""
    found = pl.Series("billed", [False] * pairs.height)
    numbered = pairs.with_row_index("at")
    for (era, release), group in numbered.group_by("era", "release"):
        system = DIAGNOSIS_SYSTEMS[str(era)]
        keys = code_set(system, release=releases(system)[int(release)].name).table["lo"]
        at = keys.search_sorted(group["i_lo"])
        billed = group.select(pl.lit(keys).gather(pl.lit(at).clip(upper_bound=max(keys.len() - 1, 0)))
                              .le(pl.col("i_hi")) & pl.lit(at < keys.len())).to_series()
        found = found.scatter(group["at"], billed)
    return found


def _spans_in_ranges(codes: pl.DataFrame, library: CompiledPolicies) -> pl.DataFrame:
    """What each distinct span of ``codes`` (``CODE``) in its release says against each policy's ranges of its era
    (``SPAN``), at once for every release and policy: the ranges it lies in, in rank order, and those it
    only partly overlaps.  An overlap counts only where the release bills a code: a span and a range whose keys
    overlap but share no code of the line's release (a range of codes that do not exist yet) do not match."""
    spans = codes.lazy().filter(pl.col("lo").is_not_null()).select("era", "release", "lo", "hi").unique()
    ranges = library.diagnoses.lazy().select(
        "policy", r_era="era", r_lo="lo", r_hi="hi", r_coverage="coverage", r_range="range", r_label="label",
        r_rank="rank")
    overlap = [pl.col("lo") <= pl.col("r_hi"), pl.col("hi") >= pl.col("r_lo")]
    if codes.height * library.diagnoses.height <= CROSS_PAIRS_AT_MOST:
        # Fast path: a policy has few ranges, and comparing every (span, range) pair is cheaper than an interval
        # join (77,000 spans and 14 ranges: 4 ms against 26).
        overlapping = spans.join(ranges, how="cross").filter(pl.col("era") == pl.col("r_era"), *overlap)
    else:  # one range join per era: two inequalities alone make an interval join (with an equality, a nested loop)
        overlapping = pl.concat([spans.filter(pl.col("era") == era).join_where(
            ranges.filter(pl.col("r_era") == era), *overlap) for era in ERAS])
    pairs = overlapping.with_columns(
        contained=(pl.col("lo") >= pl.col("r_lo")) & (pl.col("hi") <= pl.col("r_hi")),
        i_lo=pl.max_horizontal("lo", "r_lo"), i_hi=pl.min_horizontal("hi", "r_hi")).collect()
    # A span inside a range holds codes of its release (its ends are billable codes); a partial overlap may not.
    partly_in = pairs.filter(~pl.col("contained"))
    if partly_in.height:
        pairs = pl.concat([pairs.filter("contained"), partly_in.filter(_billed_between(partly_in))])
    partial = ~pl.col("contained")
    not_covered = pl.col("contained") & (pl.col("r_coverage") == "not_covered")
    in_ranges = (pairs.lazy().sort("r_rank", maintain_order=True).group_by("era", "release", "lo", "hi", "policy")
                 .agg(nc=pl.col("r_range").filter(not_covered), label=pl.col("r_label").filter(not_covered).first(),
                      covered=(pl.col("contained") & pl.col("r_coverage").is_in(list(COVERED))).any(),
                      partly=pl.col("r_range").filter(partial))
                 .select("era", "release", "lo", "hi", "policy", not_covered=pl.col("nc").list.len() > 0,
                         ranges=nonempty(pl.col("nc").list.join(RANGE_SEPARATOR)), label="label", covered="covered",
                         partly=nonempty(pl.col("partly").list.join(RANGE_SEPARATOR))))
    says = pl.col("not_covered") | pl.col("covered") | pl.col("partly").is_not_null()
    return in_ranges.filter(says).collect(engine="in-memory").cast(SPAN)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Classified:
    """What the distinct diagnosis values of a screen say: ``codes`` (``CODE``: what each value is in each
    (era, release) it was checked in) and ``spans`` (``SPAN``: what their spans say against each policy)."""

    codes: pl.DataFrame
    spans: pl.DataFrame
    policies: int  # how many policies the spans were checked against

    def merged(self, other: Classified) -> Classified:
        """The two together (of distinct values: a span may be in both)."""
        return Classified(pl.concat([self.codes, other.codes]), pl.concat([self.spans, other.spans]).unique(
            maintain_order=True), self.policies)

    def by_policy(self) -> pl.DataFrame:
        """The two together (``DIAGNOSIS``): a row for each (value, era, release, policy) with an edit, a note,
        a not-covered or a covered range."""
        policies = pl.DataFrame({"policy": range(self.policies)}, schema={"policy": SPAN["policy"]})
        joined = self.codes.join(policies, how="cross").join(self.spans, on=["era", "release", "lo", "hi", "policy"],
                                                            how="left")
        partly = pl.col("partly")
        edits = pl.concat_str("edits", pl.when(partly.is_not_null()).then(pl.lit("partial_match")), separator=",",
                              ignore_nulls=True)
        notes = pl.concat_str("notes", partly_notes(pl.col("text"), partly), separator=ITEM_SEPARATOR,
                              ignore_nulls=True)
        rows = joined.select(
            "value", "era", "release", "policy", "text", not_covered=pl.col("not_covered").fill_null(False),
            ranges="ranges", label="label", covered=pl.col("covered").fill_null(False), edits=nonempty(edits),
            notes=nonempty(notes))
        says = pl.col("not_covered") | pl.col("covered") | pl.col("edits").is_not_null()
        return rows.filter(says).cast(DIAGNOSIS)  # type: ignore[arg-type]


def classify_diagnoses(values: pl.Series, library: CompiledPolicies,
                       contexts: Iterable[tuple[str, int]] | None = None, seen: pl.DataFrame | None = None
                       ) -> Classified:
    """What each distinct diagnosis value is on a line of each of ``contexts``, (era, release of the era's
    code set in force on the line's date), each era's newest release when None, and what its span says
    against every policy of the library.  With ``seen`` (``id``, ``era``, ``release``: a value by its index in
    ``values``, which are then distinct), only in the contexts of the lines it is seen on.

    Values spelled as a code of either era's code set (nearly all of them) are looked up vectorized, by
    one binary search per era among every release's spellings and a gather per release; the rest go
    through the full parser one by one.  The spans they take in the releases are then matched against
    every policy's ranges at once.  A blank value is no diagnosis and says nothing.
    """
    distinct = (pl.LazyFrame({"value": values}, schema={"value": pl.String}).with_row_index("id").unique("value")
                .with_columns(text=pl.col("value").str.strip_chars())
                .filter(pl.col("text") != "")  # only printable ASCII can be a code's spelling (see parse_code)
                .with_columns(spelling=pl.when(pl.col("text").str.contains(r"^[ -~]*$"))
                              .then(pl.col("text").str.to_uppercase())).collect())
    known, rest = _by_spelling(distinct, [(era, newest(era)) for era in ERAS] if contexts is None else list(contexts),
                               seen)
    codes = pl.concat([known, _parsed(rest)], how="vertical")
    return Classified(codes, _spans_in_ranges(codes, library), len(library.policies))
