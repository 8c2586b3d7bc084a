"""NCCI edits: what a claim line draws from the lines billed with it, by CMS's National Correct Coding Initiative
tables (``policy.ncci``): procedure-to-procedure pairs (PTP), medically unlikely edits (MUE) and add-on codes (AOC).

A bulletin decides a line from the line alone; an NCCI edit from the lines billed *with* it: for one member, by one
provider, on one date of service (a *visit*).  Without a member column the lines of one claim stand for one member,
and without a provider column for one provider (a claim has one of each); the reason says which role was missing.
A line whose date cannot be read, or with no member or provider value (no claim id where it stands in), is in no
visit and draws no edit.

- **PTP**: a line whose code is the column 2 code of a pair in force on its date, with a line of the column 1 code
  in its visit, is ``not_covered`` when the pair's modifier indicator is 0, or 1 and neither line has a
  PTP-associated modifier; with indicator 1 and a specific modifier (anatomic, global surgery, XE/XS/XP/XU, 91, 27)
  the pair is bypassed; with the generic 59 alone it goes to ``review`` (59 says only "distinct", which the X
  modifiers say precisely: the team confirms the service was distinct).  Indicator 9 pairs are never applied.
- **MUE**: the units of a code on a line (adjudication indicator 1) or on every line of the code in the visit
  (2 and 3: a date-of-service edit) above the code's MUE in force on the date: every such line is
  ``not_covered`` with all its units denied (CMS denies the whole line, not the units above the limit).  Without a
  units column no MUE is checked (the summary says so); a line with no units value is not counted.
- **AOC**: an add-on whose edit is in force on the date (type 1: its primaries are listed; 3: some are) with no
  line of a listed primary in its visit: type 1 ``not_covered``, type 3 ``review`` (a primary not listed may be
  there).  Type 2 lists no primary, so nothing is checked.

The work is a few joins and gathers of integers over the lines whose code is in a table (every table first cut
down to the codes the input holds, so a 2-million-row PTP table costs one filter per screen), and one bucket count
of units (numpy); text is read for the lines found only, and said once per distinct rule.  A line's outcome is
its most severe edit's (PTP, then MUE, then AOC on a tie), with every edit it draws listed; docs/design/screen.md
(section 8) says each step and what it saved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, NamedTuple

import numpy
import polars as pl

from codeindex.errors import InputError, InvalidCodeError
from codeindex.files import scan_parquet_files
from codeindex.policy.ncci import NcciTables
from codeindex.policy.reason_codes import reason_codes
from codeindex.screen.frames import distinct_rows
from codeindex.screen.layouts import LineColumns
from codeindex.screen.line import LineFacts, as_text
from codeindex.screen.procedures import procedure_code, procedure_labels
from codeindex.systems import parse_code

SETTINGS = ("practitioner", "outpatient_hospital", "dme")
# Modifiers that may bypass a pair of modifier indicator 1 (CMS, NCCI Policy Manual, chapter I, section E).
PTP_MODIFIERS = frozenset({
    "E1", "E2", "E3", "E4", "FA", *(f"F{i}" for i in range(1, 10)), "TA", *(f"T{i}" for i in range(1, 10)),
    "LT", "RT", "LC", "LD", "RC", "LM", "RI", "24", "25", "57", "58", "78", "79", "27", "59", "91",
    "XE", "XS", "XP", "XU"})
GENERIC_MODIFIER = "59"
EDITS = ("ncci_ptp", "mue_units", "aoc_without_primary")  # as the line's ``edits`` list names them, in this order

NCCI_RESULT: dict[str, pl.DataType] = {  # what the screen adds to every line beside RESULT with NCCI tables (null:
    # no edit)
    "ptp_column1": pl.String(),  # the PTP edit's column 1 code and the claim of its line ("97140 on claim 1021")
    "mue_limit": pl.UInt32(),  # the MUE the line's units are over
    "mue_units": pl.Float64(),  # the units counted against it: the line's (indicator 1) or the visit's (2, 3)
    "denied_units": pl.Float64(),  # the line's units denied by the MUE (all of them)
}

OUTCOME: dict[str, pl.DataType] = {  # an edited line's NCCI outcome, one row per line that draws an edit
    "row": pl.UInt32(),  # the line's position among the input's lines, from 0
    "determination": pl.String(),  # not_covered or review
    "edits": pl.List(pl.String),  # the edits it draws, in EDITS order
    "reason": pl.String(),  # the sentences that say why, one per edit
    "rule_id": pl.String(),  # the deciding edit's table row: NCCI-PTP:setting:column1/column2:effective, ...
    "group_code": pl.String(),  # the deciding edit's reason codes when not_covered
    "carc": pl.String(),
    "rarc": pl.String(),
    **NCCI_RESULT,
}
SEVERITY = {"not_covered": 0, "review": 1}
BUCKET_LINES = 500_000  # streamed lines whose edits are found at once, about: a few hundred MB
ROW_GROUP = 50_000  # rows of a spilled outcome file read at once: a slice reads the groups of its rows
BUCKET_BITS = (10, 20)  # an MUE's bucket count: 2**10 to 2**20 buckets (8 MB: it stays in cache), twice the lines


@dataclass(frozen=True)
class NcciScreen:
    """The NCCI edits of one screen: the ``tables``, the ``setting`` whose tables apply (practitioner, outpatient
    hospital or DME supplier claims), and how a line's facts are read (``facts``)."""

    tables: NcciTables
    setting: str
    facts: LineFacts

    def __post_init__(self) -> None:
        if self.setting not in SETTINGS:
            raise InputError(f"the NCCI setting must be one of {', '.join(SETTINGS)}, not {self.setting!r}")
        held = {s for table in (self.tables.ptp, self.tables.mue) for s in table["setting"].unique().to_list()}
        if held and self.setting not in held:
            raise InputError(f"the NCCI files hold tables for {', '.join(sorted(held))} claims, none for "
                             f"{self.setting}: pass --ncci-setting {sorted(held)[0]} (ncci_setting= in Python)")
        if self.cols.units is not None and not (self.facts.schema[self.cols.units].is_numeric()
                                                or self.facts.schema[self.cols.units] == pl.Null):
            raise InputError(f"{self.facts.where}: column {self.cols.units!r} holds "
                             f"{self.facts.schema[self.cols.units]}; expected units of service as numbers")

    @property
    def cols(self) -> LineColumns:
        return self.facts.cols

    def missing_roles(self) -> str:
        """Which visit roles the input lacks, as the reason says it ("" when none)."""
        missing = [f"no {role} column (--{role}), so one claim's lines stand for one {role}"
                   for role, column in (("member", self.cols.member), ("provider", self.cols.provider))
                   if column is None]
        return f" ({'; '.join(missing)})" if missing else ""

    def outcomes(self, lines: pl.LazyFrame, procedures: pl.DataFrame,
                 engine: Literal["in-memory", "streaming"] = "in-memory",
                 bucket: tuple[int, int] = (0, 1)) -> pl.DataFrame:
        """The ``OUTCOME`` of every line of ``lines`` (the input's, in order) that draws an NCCI edit, by row.
        ``procedures`` says what each distinct procedure value is (its code and the modifiers written after it).
        With a ``bucket`` (b, n), of the lines whose visit's hash is b modulo n only: a visit is in one bucket."""
        codes = _codes(procedures)
        tables = _relevant(self.tables, self.setting, codes)
        # The keys of each role a code plays in the tables other than an MUE's code (a column of ``values`` each).
        roles = {"ptp_column1": tables.ptp["column1"], "ptp_column2": tables.ptp["column2"],
                 "aoc_add_on": tables.aoc["add_on"], "aoc_primary": tables.aoc["primary"].drop_nulls()}
        wanted = pl.concat([*roles.values(), tables.mue["code"]]).unique()
        # The distinct procedure values whose code is in a table (``value``: their number), with their code as text
        # and key, the modifiers written after it and its roles: a line carries its value's number, and the rest is
        # gathered for the few lines that draw an edit.
        values = (procedures.select("procedure", "code", value_modifiers="modifiers").unique("procedure")
                  .join(codes.filter(pl.col("key").is_in(wanted.implode())), on="code").sort("procedure")
                  .with_row_index("value")
                  .with_columns(**{role: pl.col("key").is_in(keys.implode()) for role, keys in roles.items()}))
        if values.is_empty():
            return pl.DataFrame(schema=OUTCOME)
        procedure = as_text(self.cols.procedure)
        query = (lines.with_row_index("row").filter(procedure.is_in(values["procedure"].implode()))
                 .with_columns(value=procedure.replace_strict(values["procedure"], values["value"]))
                 .select("row", "value", **self._visit(), claim=self.facts.claim(), date=self.facts.date(),
                         units=self._units(), modifier_columns=self._modifier_columns())
                 .drop_nulls(["member", "provider", "date"])  # in no visit
                 # A visit as one integer to join on (the columns themselves are compared after each join, so two
                 # visits of one hash are never taken for one).
                 .with_columns(visit=pl.struct("member", "provider", "date").hash()))
        if bucket[1] > 1:  # one bucket of several: a pass over the lines of a streamed input
            query = query.filter(pl.col("visit") % bucket[1] == bucket[0])
        candidates = query.collect(engine=engine)
        candidates = candidates.with_columns(key=values["key"].gather(candidates["value"])).with_row_index("at")
        parts = [_ptp(candidates, values, tables.ptp, self.setting),
                 _mue(candidates, values, tables.mue, self.setting), _aoc(candidates, values, tables.aoc)]
        return _outcome(parts, self.missing_roles())

    def _visit(self) -> dict[str, pl.Expr]:
        """A line's member and provider as the input holds them (its claim's id standing in for either)."""
        claim = self.facts.claim()
        return {"member": pl.col(self.cols.member) if self.cols.member else claim,
                "provider": pl.col(self.cols.provider) if self.cols.provider else claim}

    def _units(self) -> pl.Expr:
        if self.cols.units is None:
            return pl.lit(None, pl.Float64)
        units = pl.col(self.cols.units).cast(pl.Float64)
        return pl.when(units.is_nan()).then(None).otherwise(units)

    def _modifier_columns(self) -> pl.Expr:
        if not self.cols.modifiers:
            return pl.lit(None, pl.String)
        return pl.concat_str([as_text(c) for c in self.cols.modifiers], separator=",", ignore_nulls=True)


@dataclass(frozen=True)
class Spilled:
    """The NCCI outcomes of a streamed input, in parquet files of a ``directory`` (one per bucket of visits, each in
    row order, in small row groups): a slice's outcomes are read by their rows, so memory holds one bucket while
    they are found and one slice's while they are placed."""

    directory: Path

    def rows(self, start: int, end: int) -> pl.DataFrame:
        """The outcomes of the lines ``start`` to ``end``, numbered from ``start``."""
        return outcomes_between(scan_parquet_files(sorted(self.directory.glob("*.parquet"))), start, end)


def outcomes_between(outcomes: pl.LazyFrame, start: int, end: int) -> pl.DataFrame:
    """The ``outcomes`` of the lines ``start`` to ``end``, in order, numbered from ``start``: a slice's own."""
    own = outcomes.filter(pl.col("row").is_between(start, end, closed="left"))
    return own.collect().sort("row").with_columns(pl.col("row") - start)


def spilled(screen: NcciScreen, lines: pl.LazyFrame, procedures: pl.DataFrame, count: int,
            directory: Path) -> Spilled:
    """The NCCI outcomes of ``count`` streamed ``lines``, found a bucket of visits at a time (each bucket a pass over
    the input's few columns an edit reads, of about ``BUCKET_LINES`` lines) and written to ``directory``."""
    buckets = max(1, -(-count // BUCKET_LINES))
    for bucket in range(buckets):
        found = screen.outcomes(lines, procedures, "streaming", (bucket, buckets))
        found.write_parquet(directory / f"{bucket}.parquet", row_group_size=ROW_GROUP)
    return Spilled(directory)


def _modifiers(*columns: str) -> pl.Expr:
    """Two lines' modifiers (written after their codes, and in their modifier columns), upper case."""
    text = pl.concat_str([pl.col(c) for c in columns], separator=",", ignore_nulls=True).str.to_uppercase()
    return text.str.extract_all(r"[0-9A-Z]{2}")


VISIT = ("member", "provider", "date")


def _same_visit() -> pl.Expr:
    """Whether a joined row's two lines are of one visit (their visits' hashes matched)."""
    return pl.all_horizontal(pl.col(c) == pl.col(f"{c}_other") for c in VISIT)


def _codes(procedures: pl.DataFrame) -> pl.DataFrame:
    """The distinct codes the input's procedure values were read as, with their keys."""
    rows = []
    for code in procedures["code"].drop_nulls().unique().to_list():
        with suppress(InvalidCodeError):  # read once already, as a procedure: no error expected
            rows.append((code, parse_code(code, "hcpcs").lo))
    return pl.DataFrame(rows, schema={"code": pl.String, "key": pl.Int64}, orient="row")


class _Rules(NamedTuple):
    """The tables' rows that can apply to a screen's lines, with only the columns the joins and reasons read."""

    ptp: pl.DataFrame  # column1, column2 (keys), code1, code2 (text), effective, deleted, modifier
    mue: pl.DataFrame  # code (key), limit, indicator, effective, until
    aoc: pl.DataFrame  # add_on, primary (keys), type, effective, deleted


def _relevant(tables: NcciTables, setting: str, codes: pl.DataFrame) -> _Rules:
    """The tables' rows of the ``setting`` that can apply to lines of ``codes``: both codes of a pair among them (and
    its indicator not 9), an MUE's code, an add-on edit's add-on (of type 1 or 3)."""
    keys = codes["key"].implode()
    ptp = tables.ptp.filter(pl.col("setting") == setting, pl.col("column2").is_in(keys),
                            pl.col("column1").is_in(keys), pl.col("modifier") != 9)
    mue = tables.mue.filter(pl.col("setting") == setting, pl.col("code").is_in(keys))
    aoc = tables.aoc.filter(pl.col("add_on").is_in(keys), pl.col("type") != 2)
    return _Rules(ptp.select("column1", "column2", "code1", "code2", "effective", "deleted", "modifier"),
                  mue.select("code", "limit", "indicator", "effective", "until"),
                  aoc.select("add_on", "primary", "type", "effective", "deleted"))


def tables_for(tables: NcciTables, values: Iterable[str | None]) -> NcciTables:
    """The ``tables`` cut to the rows lines of the procedure ``values`` can draw (every setting kept): what a Spark
    task needs to carry, instead of two million PTP rows."""
    keys = set()
    for value in values:
        with suppress(InvalidCodeError):
            keys.add(procedure_code(value or "")[0].lo)
    held = pl.Series(sorted(keys), dtype=pl.Int64).implode()
    return replace(tables, ptp=tables.ptp.filter(pl.col("column1").is_in(held), pl.col("column2").is_in(held)),
                   mue=tables.mue.filter(pl.col("code").is_in(held)),
                   aoc=tables.aoc.filter(pl.col("add_on").is_in(held)))


def _in_force(start: str, end: str, *, last_day: bool) -> pl.Expr:
    """Whether the line's date falls on or after ``start`` and on or before ``end`` (``last_day``: a PTP or add-on
    edit's deletion date is the last day it applies) or before it (an MUE quarter's ``until`` is the next one's
    first); a null ``end``: open."""
    before_end = pl.col("date") <= pl.col(end) if last_day else pl.col("date") < pl.col(end)
    return (pl.col("date") >= pl.col(start)) & (pl.col(end).is_null() | before_end)


def _in_role(lines: pl.DataFrame, values: pl.DataFrame, role: str) -> pl.DataFrame:
    """The ``lines`` whose value's code plays ``role`` in the tables (a column of ``values``): a gather of one
    boolean per line."""
    return lines.filter(values[role].gather(lines["value"]))


def _visit_and_code(visit: pl.Expr, key: pl.Expr) -> pl.Expr:
    """A visit's hash mixed with a code's key, as one integer to join or group on (a hash: two visits or codes of
    one such integer are told apart after, where the visits and codes are compared as written)."""
    return visit ^ (key.cast(pl.UInt64) * 0x9E3779B97F4A7C15)


def _described(lines: pl.DataFrame, values: pl.DataFrame) -> pl.DataFrame:
    """``lines`` with their value's code (as text) and the modifiers written after it (``value_modifiers``)."""
    return lines.hstack(values.select("code", "value_modifiers")[lines["value"]].get_columns())


def _ptp(lines: pl.DataFrame, values: pl.DataFrame, ptp: pl.DataFrame, setting: str) -> pl.DataFrame:
    """The lines a PTP edit denies or sends to review: each line of a pair's column 2 code with a line of its column 1
    code in the visit, under the pair's most severe outcome (on a tie, the column 1 line of the least claim id as
    text, then of the least code: whatever the order of the lines, which Spark's partitions keep none of).

    The pairs are found by joins of a few integer columns (the visit's hash, the codes' keys, positions) among the
    lines of a pair's codes; the lines' other columns are gathered for the pairs found only, where the visits are
    compared as written (two visits of one hash are never taken for one) and the modifiers read."""
    rules = ptp.with_row_index("rule")
    visit_code = _visit_and_code(pl.col("visit"), pl.col("column1"))  # the column 1 code in the visit
    found = (_in_role(lines.select("at", "visit", "key", "date", "value"), values, "ptp_column2")
             .join(rules.select("rule", "column1", "column2", "effective", "deleted"), left_on="key",
                   right_on="column2")
             .filter(_in_force("effective", "deleted", last_day=True)).select("at", "rule", visit_code=visit_code)
             .join(_in_role(lines.select("visit", column1="key", at1="at", value="value"), values, "ptp_column1")
                   .select("at1", visit_code=visit_code), on="visit_code"))
    other = _described(lines.select(*VISIT, "key", "value", "claim", "modifier_columns")[found["at1"]], values).select(
        *(pl.col(c).alias(f"{c}_other") for c in VISIT), key1="key", claim1="claim",
        value_modifiers1="value_modifiers", modifier_columns1="modifier_columns")
    column2 = _described(lines.select("row", *VISIT, "value", "modifier_columns")[found["at"]], values)
    pairs = pl.concat([column2.select("row", "value", *VISIT, "value_modifiers", "modifier_columns"), other,
                       found.select("rule"), rules[found["rule"]].select("column1", "code1", "modifier")],
                      how="horizontal").filter(_same_visit(), pl.col("key1") == pl.col("column1"))
    mods = _modifiers("value_modifiers", "modifier_columns", "value_modifiers1", "modifier_columns1")
    specific = mods.list.eval(pl.element().is_in(sorted(PTP_MODIFIERS - {GENERIC_MODIFIER}))).list.any()
    generic = mods.list.contains(GENERIC_MODIFIER)
    bypassable = pl.col("modifier") == 1
    pairs = pairs.with_columns(determination=pl.when(~bypassable).then(pl.lit("not_covered"))
                               .when(specific).then(None).when(generic).then(pl.lit("review"))
                               .otherwise(pl.lit("not_covered")))
    pairs = pairs.filter(pl.col("determination").is_not_null()).sort("row", "determination", "claim1", "code1",
                                                                         nulls_last=True)
    edited = pairs.unique("row", keep="first", maintain_order=True)
    # What the edit says depends on the pair, the line's value and the determination: said once per distinct
    # three, gathered by line.
    distinct, at = distinct_rows(edited.select("rule", "value", review=(pl.col("determination") == "review")
                                               .cast(pl.UInt8)))
    described = pl.concat([_described(distinct, values).select("code", "review"),
                           rules[distinct["rule"]].select("code1", "effective", "modifier")], how="horizontal")
    why = (pl.when(pl.col("modifier") == 0).then(pl.lit("modifier indicator 0: no modifier allows the pair"))
           .when(pl.col("review") == 1)
           .then(pl.lit("modifier indicator 1, and its only PTP-associated modifier is the generic 59: review that the "
                        "service was distinct (XE, XS, XP or XU says how)"))
           .otherwise(pl.lit("modifier indicator 1, and neither line has a PTP-associated modifier")))
    said = described.select(
        reason=pl.format("NCCI procedure-to-procedure edit: {} is the column 2 code of a pair with {}, billed for the "
                         "same member by the same provider on the same date (ptp_column1 names its claim); {}",
                         procedure_labels(pl.col("code")), procedure_labels(pl.col("code1")), why),
        rule_id=pl.format("NCCI-PTP:{}:{}/{}:{}", pl.lit(setting), "code1", "code", pl.col("effective").dt.strftime(
            "%Y%m%d")))
    return edited.select(
        "row", "determination", edit=pl.lit("ncci_ptp"),
        ptp_column1=pl.format("{} on claim {}", "code1", pl.col("claim1").cast(pl.String).fill_null("(none)"))
    ).hstack(said[at].get_columns())


def _mue(lines: pl.DataFrame, values: pl.DataFrame, mue: pl.DataFrame, setting: str) -> pl.DataFrame:
    """The lines an MUE denies: their units, or the visit's units of their code, over the code's limit.

    Which MUE is in force for a line is a gather, not a join: the rules' dates cut time into periods in each of
    which a code has at most one MUE (one quarter's), so a table of period x value holds the rule.  Units are
    summed by a hash of the visit and code first; a hash shared by two groups can only add units, so the lines
    that sum over a limit are summed again by their visits as written, and only those still over are kept."""
    rules = mue.with_row_index("rule")
    rule = _rule_in_force(lines, values, rules)
    # Each line's MUE (null: none) beside its units, as columns of their own: no copy of the lines' frame.
    counted = pl.DataFrame([lines["at"], lines["units"], rule.alias("rule"), rules["limit"].gather(rule),
                            rules["indicator"].gather(rule),
                            # For a date-of-service MUE, the units of the line's code in its visit are summed by one
                            # integer (a hash, so checked below).
                            lines.select(group=_visit_and_code(pl.col("visit"), pl.col("key"))).to_series()])
    over = counted.filter(pl.col("indicator") == 1, pl.col("units") > pl.col("limit")).select(
        "at", "rule", "units", mue_units="units")
    per_day = (pl.col("indicator") != 1) & pl.col("units").is_not_null()
    daily = counted.filter(per_day & _may_be_over(counted, per_day)).with_columns(
        mue_units=pl.col("units").sum().over("group"))
    over_daily = daily.filter(pl.col("mue_units") > pl.col("limit"))
    if over_daily.height:  # summed again by the visit as written
        by_day = daily.filter(pl.col("group").is_in(over_daily["group"].implode()))
        exact = pl.concat([by_day.select("at", "rule", "limit", "units"), lines.select(*VISIT, "key")[by_day["at"]]],
                          how="horizontal").with_columns(mue_units=pl.col("units").sum().over(*VISIT, "key"))
        over = pl.concat([over, exact.filter(pl.col("mue_units") > pl.col("limit")).select("at", "rule", "units",
                                                                                           "mue_units")])
    edited = pl.concat([over.select("rule", "units", "mue_units"), lines.select("row", "value")[over["at"]]],
                       how="horizontal")
    # What the edit says depends on the rule and the code only: said once per distinct pair, gathered by line.
    distinct, at = distinct_rows(edited.select("rule", "value"))
    described = pl.concat([_described(distinct, values).select("code"),
                           rules[distinct["rule"]].select("limit", "indicator", "effective")], how="horizontal")
    per = pl.when(pl.col("indicator") != 1).then(pl.lit("for one member by one provider on one date")).otherwise(
        pl.lit("on one line"))
    said = described.select(
        reason=pl.format("NCCI medically unlikely edit: the most units of service of {} {} are {} (adjudication "
                         "indicator {}); mue_units counts those billed, and the line's units are denied",
                         procedure_labels(pl.col("code")), per, "limit", "indicator"),
        rule_id=pl.format("NCCI-MUE:{}:{}:{}", pl.lit(setting), "code", pl.col("effective").dt.strftime("%Y%m%d")),
        mue_limit=pl.col("limit").cast(pl.UInt32))
    return edited.select("row", determination=pl.lit("not_covered"), edit=pl.lit("mue_units"),
                         mue_units="mue_units", denied_units="units").hstack(said[at].get_columns())


def _may_be_over(lines: pl.DataFrame, counted: pl.Expr) -> pl.Series:
    """Whether the units of each line's ``group`` (of the lines ``counted``) may sum over its ``limit``: a necessary
    condition, found without grouping.  The groups' hashes are cut to buckets and each bucket's positive units
    counted (a bucket holds a group's, and maybe others'), so a line whose bucket holds no more than its limit is
    in a group that is not over; the lines left (of groups truly over, and of crowded buckets) are grouped.  At most
    a million buckets, an 8 MB table that stays in cache: with 4 M the count took 70-350 ms for 2 M lines here (a
    cache miss per line), with 1 M 32-43 ms, against 75-140 ms for a hash grouping of the 1.3 M lines."""
    size = 1 << min(BUCKET_BITS[1], max(BUCKET_BITS[0], (2 * lines.height).bit_length()))
    columns = lines.select(bucket=(pl.col("group") & (size - 1)).cast(pl.Int64),
                           weight=pl.when(counted).then(pl.col("units").clip(lower_bound=0)).otherwise(0.0),
                           limit=pl.col("limit").fill_null(0).cast(pl.Float64))
    bucket = columns["bucket"].to_numpy()
    totals = numpy.bincount(bucket, weights=columns["weight"].to_numpy(), minlength=size)
    return pl.Series(totals[bucket] > columns["limit"].to_numpy())


def _rule_in_force(lines: pl.DataFrame, values: pl.DataFrame, rules: pl.DataFrame) -> pl.Series:
    """The row of ``rules`` (by ``code``, ``effective`` and ``until``, exclusive) in force for each line's code on its
    date, or null.  The rules' dates cut time into periods in each of which a code has at most one rule (one
    quarter's MUE), so the rule is a gather from a table of (period, value): a binary search of the line's date
    among a few dates, where a join of millions of lines with every quarter's rules costs several times more."""
    bounds = pl.concat([rules["effective"], rules["until"].drop_nulls()]).unique().sort().to_physical()
    count = values.height
    # A date d is in period p = the number of bounds <= d; a rule is in force in periods p(effective) up to
    # p(until) - 1 (to the last period when it has no until).
    held = values.select("value", "key").join(rules.select("rule", "code", "effective", "until"), left_on="key",
                                              right_on="code")
    first = bounds.search_sorted(held["effective"].to_physical(), side="right")
    last = pl.select(pl.when(held["until"].is_null()).then(bounds.len()).otherwise(
        bounds.search_sorted(held["until"].to_physical(), side="right") - 1)).to_series()
    cells = (held.select("value", "rule", period=pl.int_ranges(first, last + 1, dtype=pl.UInt32))
             .explode("period").drop_nulls("period"))
    table = pl.repeat(None, (bounds.len() + 1) * count, dtype=pl.UInt32, eager=True).scatter(
        cells["period"] * count + cells["value"], cells["rule"])
    period = bounds.search_sorted(lines["date"].to_physical(), side="right").cast(pl.UInt32)
    return table.gather(period * count + lines["value"])


def _aoc(lines: pl.DataFrame, values: pl.DataFrame, aoc: pl.DataFrame) -> pl.DataFrame:
    """The add-on lines with no line of a listed primary in their visit."""
    edited = (_described(_in_role(lines.select("row", "visit", *VISIT, "key", "value"), values, "aoc_add_on"), values)
              .select("row", "visit", *VISIT, "key", "code")
              .join(aoc, left_on="key", right_on="add_on").filter(_in_force("effective", "deleted", last_day=True)))
    present = _in_role(lines.select("visit", *VISIT, "key", "value"), values, "aoc_primary").select(
        "visit", *(pl.col(c).alias(f"{c}_other") for c in VISIT), primary="key")
    found = edited.join(present, on=["visit", "primary"]).filter(_same_visit())["row"].unique()
    alone = (edited.filter(~pl.col("row").is_in(found.implode()))
             .group_by("row", maintain_order=True).agg(pl.col("code", "effective").first(), pl.col("type").min()))
    listed = pl.when(pl.col("type") == 1).then(pl.lit("its primary codes")).otherwise(
        pl.lit("the primary codes listed for it"))
    review = pl.when(pl.col("type") == 1).then(pl.lit("")).otherwise(
        pl.lit(" (edit type 3: a primary not listed may be billed): review it"))
    return alone.select(
        "row", determination=pl.when(pl.col("type") == 1).then(pl.lit("not_covered")).otherwise(pl.lit("review")),
        edit=pl.lit("aoc_without_primary"),
        reason=pl.format("NCCI add-on code edit: add-on {} is billed without any of {} for the same member by the "
                         "same provider on the same date{}", procedure_labels(pl.col("code")), listed, review),
        rule_id=pl.format("NCCI-AOC:{}:{}", "code", pl.col("effective").dt.strftime("%Y%m%d")))


def _appended(first: pl.Series, then: pl.Series) -> pl.Series:
    """Each row's list of ``first`` (none when null) followed by its list of ``then``: exploded and grouped
    (``concat_list`` on lists of structs took 110 ms for 4,000 rows)."""
    pair = pl.DataFrame({"first": first, "then": then}).with_row_index("row")
    items = (pl.concat([pair.select("row", item="first").explode("item", keep_nulls=False),
                        pair.select("row", item="then").explode("item", keep_nulls=False)])
             .sort("row", maintain_order=True).group_by("row", maintain_order=True).agg("item"))
    # A row with no item in either has no group: it takes an empty list.
    return (pair.select("row").join(items, on="row", how="left", maintain_order="left")["item"]
            .fill_null(pl.lit([], dtype=then.dtype)))


def _outcome(parts: Sequence[pl.DataFrame], roles: str) -> pl.DataFrame:
    """Each edited line's outcome (``OUTCOME``): its edits in ``EDITS`` order, its most severe edit's determination,
    rule and reason codes (the first in that order on a tie), and every edit's sentence."""
    codes = reason_codes()
    columns = list(OUTCOME)
    frames = [part.with_columns(order=pl.lit(n, pl.UInt8)) for n, part in enumerate(parts)]
    every = pl.concat([f.select(pl.col("row").cast(pl.UInt32), "determination", "edit", "reason", "rule_id", "order",
                                *(pl.col(c).cast(t) if c in f.columns else pl.lit(None, t).alias(c)
                                  for c, t in NCCI_RESULT.items())) for f in frames])
    severity = pl.col("determination").replace_strict(SEVERITY, return_dtype=pl.UInt8)
    several = every["row"].is_duplicated()
    # Fast path: a line with one edit is its edit's row; only lines with several are grouped.
    alone = every.filter(~several).select(
        "row", pl.col("determination", "rule_id", "edit").name.prefix("deciding_"), edits=pl.concat_list("edit"),
        reason="reason", **{c: c for c in NCCI_RESULT})
    grouped = every.filter(several).sort("row", "order").group_by("row", maintain_order=True).agg(
        pl.col("determination", "rule_id", "edit").sort_by(severity, "order").first().name.prefix("deciding_"),
        edits=pl.col("edit"),
        reason=pl.col("reason").str.join("; "),
        **{c: pl.col(c).drop_nulls().first() for c in NCCI_RESULT})
    lines = pl.concat([alone, grouped]).sort("row")
    reason_code = {field: pl.col("deciding_edit").replace_strict(
        {edit: getattr(codes[edit], field) for edit in EDITS}, return_dtype=pl.String) for field in
        ("group_code", "carc", "rarc")}
    denied = pl.col("deciding_determination") == "not_covered"
    return lines.select(
        "row", "edits", determination="deciding_determination", rule_id="deciding_rule_id",
        reason=pl.concat_str("reason", pl.lit(roles + ".")),
        **{field: pl.when(denied).then(code) for field, code in reason_code.items()},
        **{c: c for c in NCCI_RESULT}).select(columns).cast(OUTCOME)  # type: ignore[arg-type]


def decided(library: pl.DataFrame, own: pl.Series, edited: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """The results of the lines that draw NCCI edits (``edited``, their outcomes), each line's ``own`` row of the
    ``library``'s results (``NCCI_RESULT`` columns aside), as distinct rows and the row each line takes.

    What a line shows is its library row and the kind of its outcome (determination, edits, rule, reason, reason
    codes): the lines no bulletin names share one library row, so 170,000 edited lines take a few hundred rows,
    decided once each; the columns of each line's own (``NCCI_RESULT``) are placed beside them."""
    kind = edited.select("determination", "rule_id", "reason", "group_code", "carc", "rarc",
                         edits=pl.col("edits").list.join("\x1f")).with_columns(own=own)
    which = distinct_rows(kind)[1]
    lines = which.arg_unique()  # the first line of each distinct row (they are in the order the lines meet them)
    return _decided(library[own.gather(lines)], edited[lines]), which


def _decided(results: pl.DataFrame, edited: pl.DataFrame) -> pl.DataFrame:
    """The ``results`` of lines that draw NCCI edits (the library's) with their outcome (``edited``, in the same
    order) added: the NCCI determination where it is more severe (the library's on a tie), and then its rule and
    reason codes; the edits listed after the library's, the NCCI sentences after the library's reason; with a
    library's ``findings``, an NCCI finding after the policies'."""
    severity = edited["determination"].replace_strict(SEVERITY, return_dtype=pl.UInt32)
    ncci_decides = pl.lit(severity < results["determination"].to_physical().cast(pl.UInt32))
    ncci = edited.select(pl.all().name.prefix("ncci_"))
    frame = pl.concat([results, ncci], how="horizontal")

    def deciding(name: str) -> pl.Expr:
        return pl.when(ncci_decides).then(pl.col(f"ncci_{name}")).otherwise(pl.col(name).cast(pl.String))

    columns = {
        "determination": deciding("determination"),
        "reason": pl.concat_str(pl.col("reason").cast(pl.String), pl.lit(" "), "ncci_reason"),
        **{name: deciding(name) for name in ("rule_id", "group_code", "carc", "rarc")}}
    decided = frame.with_columns(**columns).with_columns(edits=_appended(frame["edits"], frame["ncci_edits"]))
    if "findings" in results.columns:
        finding_type: pl.Struct = results.schema["findings"].inner  # type: ignore[attr-defined]
        finding = pl.struct(*((pl.col(f"ncci_{name}") if f"ncci_{name}" in frame.columns
                               else pl.lit("NCCI") if name == "policy" else pl.lit(None, dtype)).alias(name)
                              for name, dtype in finding_type.to_schema().items()))
        decided = decided.with_columns(findings=_appended(frame["findings"],
                                                          frame.select(pl.concat_list(finding)).to_series()))
    return decided.select(results.columns).cast(results.schema)
