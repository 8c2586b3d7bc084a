"""The official CMS code sets, release by release: which codes are defined, and which are billable.

ICD-10-CM changes every October 1 (and some years on January 1 or April 1); ICD-9-CM changed every
October until its last version, v32.  Every release from ICD-10-CM FY2016 to FY2026 and ICD-9-CM
v27 to v32 ships in ``data/codesets/`` (see ``data/README.md``), so a claim's codes are checked in
the release in force on its date: ``code_set("icd10cm", on=date)``.  A code is defined in a
release when the release lists it (for ICD-10-CM its order file, headers included; for ICD-9-CM
a billable code or a parent of one), billable when it is a leaf there.  Within a release a code
spans the billable codes beneath it in that release.  CPT is the AMA's and not published, so
``hcpcs`` has no code set; ICD-9-CM procedures have one release, v32.
"""

from __future__ import annotations

import gzip
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from datetime import date
from functools import cache, cached_property

import polars as pl

from codeindex.code import SYSTEM_BITS, SYSTEM_IDS, Code, subtree_spans
from codeindex.data import data_path
from codeindex.errors import InvalidCodeError
from codeindex.ranges import CodeRange
from codeindex.systems import icd9dx, icd10cm, parse_code, system_name

LABELS = {"icd10cm": "ICD-10-CM", "icd9dx": "ICD-9-CM", "icd9pcs": "ICD-9-CM procedures"}
# When each bundled release came into force (the column names of the bundled tables).
IN_FORCE = {
    "icd10cm": {"FY2016": "2015-10-01", "FY2017": "2016-10-01", "FY2018": "2017-10-01", "FY2019": "2018-10-01",
                "FY2020": "2019-10-01", "FY2020 April": "2020-04-01", "FY2021": "2020-10-01",
                "FY2021 January": "2021-01-01", "FY2022": "2021-10-01", "FY2022 April": "2022-04-01",
                "FY2023": "2022-10-01", "FY2023 April": "2023-04-01", "FY2024": "2023-10-01",
                "FY2024 April": "2024-04-01", "FY2025": "2024-10-01", "FY2025 April": "2025-04-01",
                "FY2026": "2025-10-01", "FY2026 April": "2026-04-01"},
    "icd9dx": {f"v{v}": f"{v + 1982}-10-01" for v in range(27, 33)},
    "icd9pcs": {"v32": "2014-10-01"},
}
_HISTORIES = {"icd10cm": icd10cm.history, "icd9dx": icd9dx.history}


@dataclass(frozen=True, slots=True)
class Release:
    """One release of a code set: ``index`` its place among the system's releases (0 the oldest),
    ``start`` the day it came into force; it stays in force until the next one starts."""

    system: str
    index: int
    name: str
    start: date

    def __str__(self) -> str:
        return f"{LABELS[self.system]} {self.name}"

    @property
    def system_label(self) -> str:
        return LABELS[self.system]

    @property
    def in_force(self) -> str:
        return f"{self}, in force from {self.start.isoformat()}"


@cache
def releases(system: str) -> tuple[Release, ...]:
    """The bundled releases of ``system``, oldest first."""
    name = _with_code_set(system)
    return tuple(Release(name, i, release, date.fromisoformat(start))
                 for i, (release, start) in enumerate(IN_FORCE[name].items()))


def bundled_until(system: str) -> date:
    """The last day the bundled releases cover: the end of the last release's fiscal year (Sep 30)."""
    last = releases(system)[-1]
    return date(last.start.year + (last.start.month >= 10), 9, 30)


@dataclass(frozen=True, slots=True)
class ReleaseOn:
    """The release used for a date, and a note when the date lies outside the bundled releases."""

    release: Release
    note: str | None


def release_on(system: str, day: date) -> ReleaseOn:
    """The release in force on ``day``; outside the bundled releases, the nearest one, saying so."""
    known = releases(system)
    starts = [r.start for r in known]
    at = bisect_right(starts, day) - 1
    if at < 0:
        return ReleaseOn(known[0], f"{day.isoformat()} is before the first bundled release; "
                                   f"used {known[0].in_force}")
    if day > bundled_until(system):
        return ReleaseOn(known[-1], f"{day.isoformat()} is after the bundled releases (to "
                                    f"{bundled_until(system).isoformat()}); used {known[-1].in_force}")
    return ReleaseOn(known[at], None)


def release_index(system: str, day: pl.Expr) -> pl.Expr:
    """The index of the release in force on each date of ``day`` (a Date expression), the nearest
    release outside the bundled ones, null for a null date: a vectorized ``release_on``."""
    starts = pl.Series([r.start for r in releases(system)], dtype=pl.Date)
    # a binary search of each date among the releases' start dates: the last start on or before it
    index = (pl.lit(starts).search_sorted(day, side="right").cast(pl.Int64) - 1).clip(lower_bound=0)
    return pl.when(day.is_not_null()).then(index.cast(pl.UInt8))


def _with_code_set(system: str) -> str:
    name = system_name(system)
    if name not in IN_FORCE:
        raise InvalidCodeError(name, "", "no official code set is bundled for this system (CPT is the AMA's)")
    return name


def _decimal(system: str, short: pl.Expr) -> pl.Expr:
    """The decimal form of known-valid short forms."""
    major = icd9dx.major_length(short) if system == "icd9dx" else pl.lit(2 if system == "icd9pcs" else 3)
    rest = short.str.slice(major)
    return pl.concat_str(short.str.slice(0, major), pl.when(rest != "").then(pl.concat_str(pl.lit("."), rest))
                         .otherwise(pl.lit("")))


@cache
def _icd9pcs_history() -> pl.DataFrame:
    """ICD-9-CM procedures, v32: the billable codes and their parents, keyed by their padded digits."""
    with gzip.open(data_path("codesets", "icd9cm_v32_sg_long.txt.gz"), "rt", encoding="ascii") as lines:
        rows = [line.rstrip("\n").partition(" ") for line in lines if line.strip()]
    billable = pl.DataFrame({"short": [r[0] for r in rows], "description": [r[2].strip() for r in rows],
                             "v32": [2] * len(rows)}, schema_overrides={"v32": pl.UInt8})
    short = pl.col("short")
    parents = (billable.select(short, n=pl.int_ranges(2, short.str.len_chars())).explode("n").drop_nulls("n")
               .select(short=short.str.slice(0, pl.col("n"))).unique().join(billable, on="short", how="anti")
               .with_columns(v32=pl.lit(1, pl.UInt8)))

    def padded(fill: str) -> pl.Expr:
        value = pl.concat_str(short, pl.lit(fill * 4)).str.slice(0, 4).str.to_integer()
        return pl.lit(SYSTEM_IDS["icd9pcs"] << SYSTEM_BITS, pl.Int64) + value

    return (pl.concat([billable, parents], how="diagonal").with_columns(key=padded("0"), lo=padded("0"),
                                                                         hi=padded("9"))
            .sort("lo", short.str.len_chars()).select("short", "key", "lo", "hi", "description", "v32"))


def history(system: str) -> pl.DataFrame:
    """Every code any bundled release of ``system`` defines: ``short``, ``key``, ``lo``/``hi`` (its
    span over every release, as ``parse_code`` gives it), ``description`` and one column per release
    (0 absent, 1 defined, not billable, 2 billable)."""
    name = _with_code_set(system)
    return _HISTORIES.get(name, _icd9pcs_history)()


@dataclass(frozen=True, eq=False)
class CodeSet:
    """The codes one release of one system defines."""

    system: str
    release: Release
    defined_codes: pl.DataFrame  # short, lo, hi, billable, description: in key order, parents first

    @cached_property
    def table(self) -> pl.DataFrame:
        """The billable codes (short, lo, hi, description) in key order."""
        return self.defined_codes.filter("billable").select("short", "lo", "hi", "description")

    def __len__(self) -> int:
        return self.table.height

    @cached_property
    def _keys(self) -> list[int]:
        return self.table["lo"].to_list()

    @cached_property
    def _spans(self) -> dict[str, tuple[int, int]]:
        """short -> (lo, hi) of every defined code, in this release."""
        table = self.defined_codes
        return dict(zip(table["short"].to_list(), zip(table["lo"].to_list(), table["hi"].to_list(), strict=True),
                        strict=True))

    def _status(self, code: Code) -> int:
        """0 absent, 1 defined not billable, 2 billable in this release (one table for every release)."""
        statuses = _statuses(self.system)[0].get(code.short)
        return 0 if statuses is None or code.decimal.endswith("+") else statuses[self.release.index]

    @cached_property
    def descriptions(self) -> dict[str, str]:
        """The descriptions of the billable codes, by short form."""
        return dict(zip(self.table["short"], self.table["description"], strict=True))

    @cached_property
    def codes(self) -> tuple[Code, ...]:
        """Every billable code as a Code, in key order (parsed on first use)."""
        return tuple(self.code(short) for short in self.table["short"])

    def code(self, text: str | Code) -> Code:
        """The code with its span in this release (``parse_code`` gives its span over every release)."""
        code = parse_code(text, self.system) if isinstance(text, str) else text
        span = self._spans.get(code.short) if self.defined(code) else None
        return code if span is None else replace(code, lo=span[0], hi=span[1])

    def defined(self, code: Code) -> bool:
        """True when this release lists the code (a "+" pattern such as S00.00X+ is no code)."""
        return self._status(code) > 0

    def billable(self, code: Code) -> bool:
        return self._status(code) == 2

    def description(self, code: Code) -> str | None:
        """The release's long description of a defined code (headers included; ICD-9 parents have none)."""
        return _statuses(self.system)[2].get(code.short) if self.defined(code) else None

    @cached_property
    def spellings(self) -> pl.DataFrame:
        """Every defined code by each way it is written, short and decimal, with its keys in this release
        (spelling, short, lo, hi, billable), sorted by spelling: a table claims' codes can be looked up
        in by binary search."""
        return _spellings(self.system, self.defined_codes.select("short", "lo", "hi", "billable"))

    def leaves(self, lo: int, hi: int) -> tuple[Code, ...]:
        """The billable codes whose keys lie in [lo, hi], in code order."""
        shorts = self.table["short"][bisect_left(self._keys, lo):bisect_right(self._keys, hi)]
        return tuple(self.code(short) for short in shorts)

    def expand(self, code_range: CodeRange, parents: bool = False) -> list[Code]:
        """The billable codes inside a range, in code order; with ``parents``, also the defined
        non-billable codes whose span lies inside it, each before its children."""
        leaves = [c for c in self.leaves(code_range.lo, code_range.hi) if c.hi <= code_range.hi]
        if not parents:
            return leaves
        inside = self.defined_codes.filter(~pl.col("billable"), pl.col("lo") >= code_range.lo,
                                           pl.col("hi") <= code_range.hi)
        found = [*leaves, *(self.code(short) for short in inside["short"])]
        return sorted(found, key=lambda c: (c.lo, len(c.short)))


@cache
def _beneath(system: str) -> pl.DataFrame:
    """Every (code, billable code beneath it or itself) pair over all releases, as rows of ``history``
    (``code``, ``under``) with the billable code's ``key``: a release's spans are a filter and a group-by."""
    table = history(system).with_row_index("row")
    ever = table.filter(pl.any_horizontal(pl.col(r.name) == 2 for r in releases(system)))
    spans = subtree_spans(table.select("short"), ever.select("short", key="row"))  # min and max row beneath
    ranges = spans.join(table.select("short", "row"), on="short").select(
        code="row", under=pl.int_ranges("lo", pl.col("hi") + 1, dtype=pl.UInt32))
    # the rows between a code's first and last ever-billable row are its descendants (tabular order nests)
    return (ranges.explode("under").join(ever.select(under="row", key="key"), on="under")
            .filter(pl.col("under") >= pl.col("code")))


@cache
def _release_code_set(system: str, index: int) -> CodeSet:
    release = releases(system)[index]
    table = history(system)
    status = table[release.name]
    if system == "icd9pcs":
        spans = table.select("short", "lo", "hi")
    else:  # the pairs whose code is defined and whose billable code is billable in this release
        pairs = _beneath(system).filter(pl.lit(status).gather("code") > 0, pl.lit(status).gather("under") == 2)
        spans = pairs.group_by("code").agg(lo=pl.col("key").min(), hi=pl.col("key").max()).select(
            short=pl.lit(table["short"]).gather("code"), lo="lo", hi="hi")
    defined = table.filter(pl.col(release.name) > 0).select(
        "short", "description", billable=pl.col(release.name) == 2)
    ordered = (defined.join(spans, on="short").sort("lo", pl.col("short").str.len_chars())
               .select("short", "lo", "hi", "billable", "description"))
    return CodeSet(system, release, ordered)


@cache
def _statuses(system: str) -> tuple[dict[str, tuple[int, ...]], dict[str, list[str]], dict[str, str | None]]:
    """Each code's status in every release, the codes by category (its first 3 characters), and each
    code's description."""
    table = history(system)
    names = [r.name for r in releases(system)]
    shorts = table["short"].to_list()
    statuses = dict(zip(shorts, table.select(*names).iter_rows(), strict=True))
    by_category: dict[str, list[str]] = {}
    for short in shorts:
        by_category.setdefault(short[:3], []).append(short)
    return statuses, by_category, dict(zip(shorts, table["description"].to_list(), strict=True))


def _spellings(system: str, codes: pl.DataFrame) -> pl.DataFrame:
    """Each of ``codes`` (``short`` and other columns) once by its short form and once by its decimal form where
    that differs, as ``spelling`` first, sorted by it (no two codes share a spelling)."""
    keyed = codes.with_columns(decimal=_decimal(system, pl.col("short")))
    spelled = [keyed.select(pl.col("short").alias("spelling"), *codes.columns),
               keyed.filter(pl.col("decimal") != pl.col("short")).select(pl.col("decimal").alias("spelling"),
                                                                          *codes.columns)]
    return pl.concat(spelled).sort("spelling")


@cache
def ever_spellings(system: str) -> pl.Series:
    """Every way any bundled release of ``system`` writes one of its codes (short and decimal forms), sorted
    and each once: a value can be looked up among every release's codes by one binary search.

    >>> spellings = ever_spellings("icd10cm")
    >>> "V200XXD" in spellings.to_list(), "M54.50" in spellings.to_list()
    (True, True)
    """
    return _spellings(system, history(system).select("short"))["spelling"]


def defined_in(system: str, code: Code) -> tuple[Release, ...]:
    """The bundled releases that define a code: none for one that never existed (a "+" pattern is no code)."""
    status = _statuses(_with_code_set(system))[0].get(code.short)
    if status is None or code.decimal.endswith("+"):
        return ()
    return tuple(r for r, state in zip(releases(system), status, strict=True) if state > 0)


def successors(system: str, short: str, release: str | None = None) -> tuple[str, ...]:
    """The codes billable in ``release`` (the newest when None) that a code stands for: itself when it is
    billable there; else, followed release by release, the codes that replaced it when it stopped being
    billable: the new billable codes of that release beneath its nearest ancestor there (with the same
    7th character, for a 7-character code), which are, almost always, its new children (K91.3 became
    K91.30-K91.32; S02.10XA became S02.101A, S02.102A, S02.109A).  Empty when nothing replaced it."""
    statuses, by_category, _ = _statuses(system)
    target = code_set(system, release=release).release.index
    status = statuses.get(short)
    if status is None or 2 not in status[:target + 1]:
        return ()
    if status[target] == 2:
        return (short,)
    last = max(i for i in range(target + 1) if status[i] == 2)
    after = last + 1
    ancestor = next((short[:n] for n in range(len(short), 2, -1)
                     if statuses.get(short[:n], (0,) * (after + 1))[after] > 0), None)
    if ancestor is None:
        return ()
    new = [s for s in by_category[short[:3]] if s.startswith(ancestor) and statuses[s][after] == 2
           and statuses[s][last] == 0]
    if len(short) == 7 and any(s[6:] == short[6:] for s in new):
        new = [s for s in new if s[6:] == short[6:]]
    name = releases(system)[target].name
    return tuple(dict.fromkeys(c for s in new for c in successors(system, s, name)))


def code_set(system: str, on: date | None = None, release: str | None = None) -> CodeSet:
    """The bundled code set of ``system`` (loaded once per release): the release in force ``on`` a date
    (the nearest one outside the bundled releases: ``release_on`` says when), the release named
    ``release`` ("FY2022", "v32"), or else the newest."""
    name = _with_code_set(system)
    known = releases(name)
    if on is not None:
        return _release_code_set(name, release_on(name, on).release.index)
    if release is not None:
        found = [r for r in known if r.name.casefold() == release.strip().casefold()]
        if not found:
            raise InvalidCodeError(name, release, "no such release is bundled (known: "
                                   + ", ".join(r.name for r in known) + ")")
        return _release_code_set(name, found[0].index)
    return _release_code_set(name, known[-1].index)


def has_code_set(system: str) -> bool:
    return system_name(system) in IN_FORCE

