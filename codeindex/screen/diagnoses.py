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
from typing import Any, NamedTuple

import numpy
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


def _position(spellings: pl.Series, spelling: pl.Series) -> numpy.ndarray:
    """Where each ``spelling`` is among the sorted ``spellings`` (-1: not among them): one binary search each
    (``Series.search_sorted``: cheaper than a join)."""
    at = spellings.search_sorted(spelling).clip(upper_bound=max(spellings.len() - 1, 0))
    hit = (spellings.gather(at) == spelling).fill_null(False).to_numpy()
    return numpy.where(hit, at.to_numpy().astype(numpy.int64), -1)


class _Aligned(NamedTuple):
    """What each of a system's ``ever_spellings`` is in one release, row by row, as numpy arrays: whether the
    release defines it, its ``lo`` and ``hi`` (0 where not defined) and whether it is billable."""

    defined: numpy.ndarray
    lo: numpy.ndarray
    hi: numpy.ndarray
    billable: numpy.ndarray


@lru_cache(maxsize=64)  # a few releases per screen; a table of the era's every spelling each
def _aligned(system: str, release: int) -> _Aligned:
    """A release's codes aligned to the system's ``ever_spellings``: a value found once among every release's
    spellings reads what it is in each release by indexing, not by a binary search per release."""
    spellings = code_set(system, release=releases(system)[release].name).spellings
    table = (ever_spellings(system).to_frame("spelling")
             .join(spellings.select("spelling", "lo", "hi", "billable"), on="spelling", how="left",
                   maintain_order="left"))
    return _Aligned(table["lo"].is_not_null().to_numpy(), table["lo"].fill_null(0).to_numpy(),
                    table["hi"].fill_null(0).to_numpy(), table["billable"].fill_null(False).to_numpy())


PAIRS_AT_ONCE = 4_000_000  # (span, range) pairs compared one by one, at most, rather than interval-joined
_UNREAD = {"value": pl.String, "text": pl.String, "era": pl.String, "release": pl.UInt8}  # values for the parser


def _by_spelling(values: pl.DataFrame, contexts: list[tuple[str, int]],
                 seen: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the values spelled as a defined code of the era's code set in each context's release (or of any
    release of the other era's) are (``CODE``), vectorized, and the values that are not so spelled (``value``, ``text``,
    ``era``, ``release``), for the parser.  ``values`` has ``value``, ``text`` (trimmed) and ``spelling``
    (trimmed, upper case).  Gives exactly what ``_parsed`` gives for those values (a test holds the two
    together).  A value is searched once in each era's every spelling (``ever_spellings``); what it is in a
    context's release is then a gather from that release's table aligned to them (``_aligned``, made once per
    process): 15,371 values in 5 releases were 77,000 binary searches, now 15,371 per era.  With ``seen``
    (``id``, ``era``, ``release``), a value (by its ``id`` among ``values``) is read only in the contexts it is
    seen in.

    Every step is an operation on whole Series (tens of microseconds each), none a query: at 0.5 % of 2 M lines
    named (15,372 values in 5 contexts, 37,771 pairs) a query per context cost 16 ms, the Series 3 ms."""
    if not contexts:
        return pl.DataFrame(schema=CODE), pl.DataFrame(schema=_UNREAD)
    eras = {era for era, _ in contexts} | {ERAS[1 - ERAS.index(era)] for era, _ in contexts}
    # Where a value is among an era's every spelling (-1: it is none of them).
    found = {era: _position(ever_spellings(DIAGNOSIS_SYSTEMS[era]), values["spelling"]) for era in eras}
    if seen is None:  # every value in every context
        context_rows = [numpy.arange(values.height)] * len(contexts)
    else:  # a seen value's row among ``values``, by its id, in each context it is seen in
        seen_ids, ids = seen["id"].to_numpy().astype(numpy.int64), values["id"].to_numpy().astype(numpy.int64)
        row_of_id = numpy.full(max(seen_ids.max(initial=0), ids.max(initial=0)) + 1, -1)
        row_of_id[ids] = numpy.arange(values.height)
        seen_rows = row_of_id[seen_ids]
        context_rows = [seen_rows[(seen["era"] == era).to_numpy() & (seen["release"] == release).to_numpy()
                                  & (seen_rows >= 0)] for era, release in contexts]
    parts = []
    for context, ((era, release), rows) in enumerate(zip(contexts, context_rows, strict=True)):
        then = _aligned(DIAGNOSIS_SYSTEMS[era], release)
        at = found[era][rows]
        spelled = (at >= 0) & then.defined[at]  # (at -1 reads the last row: masked)
        elsewhere = found[ERAS[1 - ERAS.index(era)]][rows] >= 0  # a code of the other era, in some release of it
        edit = numpy.where(spelled & ~then.billable[at], 1, numpy.where(~spelled & elsewhere, 2, 0))
        parts.append(pl.DataFrame({
            "row": rows, "context": numpy.full(rows.size, context, dtype=numpy.uint8), "spelled": spelled,
            "lo": then.lo[at], "hi": then.hi[at], "edit": edit.astype(numpy.uint8),
            "parse": ~spelled & ~elsewhere}))
    of_context: dict[str, list[Any]] = {  # a row's context's era, release, and the words its notes quote
        "era": [era for era, _ in contexts], "release": [release for _, release in contexts],
        "in_force": [releases(DIAGNOSIS_SYSTEMS[era])[release].in_force for era, release in contexts],
        "other_name": [ERA_NAMES[ERAS[1 - ERAS.index(era)]] for era, _ in contexts],
        "name": [ERA_NAMES[era] for era, _ in contexts]}
    context_of = {name: pl.lit(pl.Series(items, dtype=pl.UInt8 if name == "release" else pl.String))
                  .gather(pl.col("context")) for name, items in of_context.items()}
    text = pl.lit(values["text"]).gather(pl.col("row"))
    truncated, mismatched, noted = pl.col("edit") == 1, pl.col("edit") == 2, pl.col("edit") > 0
    read = pl.concat(parts)
    # The notes of the few rows with an edit (2,149 of 37,766 at 0.5 % of 2 M lines named), written for those only.
    notes = read.filter(noted).select(pl.when(truncated).then(pl.format(TRUNCATED, text, context_of["in_force"]))
                                      .otherwise(pl.format(MISMATCH, text, context_of["other_name"],
                                                           context_of["name"]))).to_series()
    read = read.select(
        value=pl.lit(values["value"]).gather(pl.col("row")), era=context_of["era"], release=context_of["release"],
        text=text, lo=pl.when("spelled").then("lo"), hi=pl.when("spelled").then("hi"),
        edits=pl.when(truncated).then(pl.lit("non_billable_code")).when(mismatched)
        .then(pl.lit("icd_version_mismatch")),
        notes=pl.when(noted).then(pl.lit(pl.concat([pl.Series([None], dtype=pl.String), notes]))
                                  .gather(noted.cum_sum())), parse="parse")  # the n-th noted row's is n
    parse = read["parse"]
    return (read.filter(~parse).drop("parse").cast(CODE),  # type: ignore[arg-type]
            read.filter(parse).select(_UNREAD.keys()))


def _billed_between(system: str, release: numpy.ndarray, lo: numpy.ndarray, hi: numpy.ndarray) -> numpy.ndarray:
    """Whether the ``release`` of each pair bills a code of ``system`` with a key in [``lo``, ``hi``]: a binary
    search in the release's billable keys, per release."""
    billed = numpy.zeros(lo.size, dtype=bool)
    for index in numpy.unique(release):
        keys = code_set(system, release=releases(system)[int(index)].name).table["lo"].to_numpy()
        of = release == index
        at = numpy.searchsorted(keys, lo[of])
        billed[of] = (at < keys.size) & (keys[numpy.minimum(at, max(keys.size - 1, 0))] <= hi[of])
    return billed


def _overlapping(lo: numpy.ndarray, hi: numpy.ndarray, r_lo: numpy.ndarray,
                 r_hi: numpy.ndarray) -> tuple[numpy.ndarray, numpy.ndarray]:
    """The (span, range) pairs whose keys overlap, as positions.  Fast path: with at most ``PAIRS_AT_ONCE`` pairs
    (a policy has few ranges), every pair is compared with numpy (7,600 spans and 14 ranges: about 1 ms, where a
    polars cross join took 7-9 ms); with more (a library of hundreds of policies), by an interval join, whose
    cost follows the pairs that overlap (500 policies' 26,801 ranges: comparing every pair took twice as long)."""
    if lo.size * r_lo.size <= PAIRS_AT_ONCE:
        span, range_ = numpy.nonzero((lo[:, None] <= r_hi[None, :]) & (hi[:, None] >= r_lo[None, :]))
        return span, range_
    # Two inequalities alone make an interval join (with an equality, a nested loop).
    pairs = pl.DataFrame({"lo": lo, "hi": hi}).with_row_index("span").join_where(
        pl.DataFrame({"r_lo": r_lo, "r_hi": r_hi}).with_row_index("range"),
        pl.col("lo") <= pl.col("r_hi"), pl.col("hi") >= pl.col("r_lo"))
    return pairs["span"].to_numpy().astype(numpy.int64), pairs["range"].to_numpy().astype(numpy.int64)


def _matching_pairs(spans: pl.DataFrame, ranges: pl.DataFrame, system: str) -> tuple[numpy.ndarray, ...]:
    """The (span, range) pairs of one era that match, as rows of ``spans`` (``release``, ``lo``, ``hi``) and of
    ``ranges`` (``lo``, ``hi``), and whether the span lies inside the range."""
    lo, hi, release = (spans[name].to_numpy() for name in ("lo", "hi", "release"))
    r_lo, r_hi = ranges["lo"].to_numpy(), ranges["hi"].to_numpy()
    span, range_ = _overlapping(lo, hi, r_lo, r_hi)
    contained = (lo[span] >= r_lo[range_]) & (hi[span] <= r_hi[range_])
    # A span inside a range holds codes of its release (its ends are billable codes); a partial overlap may not.
    keep = contained.copy()
    partly = ~contained
    keep[partly] = _billed_between(system, release[span[partly]], numpy.maximum(lo[span], r_lo[range_])[partly],
                                   numpy.minimum(hi[span], r_hi[range_])[partly])
    return span[keep], range_[keep], contained[keep]


def _spans_in_ranges(codes: pl.DataFrame, library: CompiledPolicies) -> pl.DataFrame:
    """What each distinct span of ``codes`` (``CODE``) in its release says against each policy's ranges of its era
    (``SPAN``), at once for every release and policy: the ranges it lies in, in rank order, and those it
    only partly overlaps.  An overlap counts only where the release bills a code: a span and a range whose keys
    overlap but share no code of the line's release (a range of codes that do not exist yet) do not match.

    The pairs are found with numpy (``_matching_pairs``) and said in one query: at 0.5 % of 2 M lines named, a
    cross join and a search per release in polars took 12 ms."""
    spans = codes.filter(pl.col("lo").is_not_null()).select("era", "release", "lo", "hi").unique()
    ranges = library.diagnoses
    pairs = []
    for era in ERAS:
        span_rows = numpy.flatnonzero((spans["era"] == era).to_numpy())
        range_rows = numpy.flatnonzero((ranges["era"] == era).to_numpy())
        span, range_, contained = _matching_pairs(spans[span_rows], ranges[range_rows], DIAGNOSIS_SYSTEMS[era])
        pairs.append(pl.concat([spans[span_rows[span]], ranges.select(
            "policy", r_coverage="coverage", r_range="range", r_label="label", r_rank="rank")[range_rows[range_]],
            pl.DataFrame({"contained": contained})], how="horizontal"))
    partial = ~pl.col("contained")
    not_covered = pl.col("contained") & (pl.col("r_coverage") == "not_covered")
    in_ranges = (pl.concat(pairs).lazy().sort("r_rank", maintain_order=True)
                 .group_by("era", "release", "lo", "hi", "policy")
                 .agg(nc=pl.col("r_range").filter(not_covered), label=pl.col("r_label").filter(not_covered).first(),
                      covered=(pl.col("contained") & pl.col("r_coverage").is_in(list(COVERED))).any(),
                      partly=pl.col("r_range").filter(partial))
                 .select("era", "release", "lo", "hi", "policy", not_covered=pl.col("nc").list.len() > 0,
                         ranges=nonempty(pl.col("nc").list.join(RANGE_SEPARATOR)), label="label", covered="covered",
                         partly=nonempty(pl.col("partly").list.join(RANGE_SEPARATOR))))
    says = pl.col("not_covered") | pl.col("covered") | pl.col("partly").is_not_null()
    said: pl.DataFrame = in_ranges.filter(says).collect(engine="in-memory")
    return said.cast(SPAN)  # type: ignore[arg-type]


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
