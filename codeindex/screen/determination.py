"""The determination of every claim line against a policy, as one polars plan.

Only lines whose procedure the policy names (or whose codes are edited) need a
per-line explanation; they are under 1 % of real claims.  So the screen:

1. classifies each distinct procedure value once (``edits.classify_procedures``);
2. collects the lines that need an explanation (the *screened* lines), classifies
   their distinct (diagnosis, era) pairs once, and works out their determination,
   reason, matched ranges and edits with polars on that small frame;
3. returns a plan over all lines in which the screened lines take their results
   by position (the n-th screened line takes the n-th result) and every other
   line gets constants: ``not_applicable``, null list columns (nothing looked for).

No per-row Python anywhere.  By default the lines are read into memory once.  In
streaming mode the source is read in passes (distinct procedures, screened lines,
output slice by slice), so a LazyFrame source must read the same each time.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Literal

import polars as pl

from codeindex.errors import InputError
from codeindex.policy.model import ERA_NAMES, ICD10_START, Policy
from codeindex.screen.edits import ERAS, RANGE_SEPARATOR, classify_diagnoses, classify_procedures, nonempty
from codeindex.screen.layouts import LineColumns

EditsMode = Literal["policy", "all"]
DETERMINATIONS = ("not_covered", "review", "covered", "not_applicable")
# Low-cardinality text is categorical: cheap to place on millions of lines, dictionary-encoded in parquet.
RESULT_SCHEMA = {
    "policy": pl.Categorical(), "policy_version": pl.Enum(["icd9", "icd10"]),
    "determination": pl.Enum(DETERMINATIONS), "reason": pl.Categorical(),
    "matched_procedure_range": pl.Categorical(), "matched_dx": pl.List(pl.String),
    "matched_dx_ranges": pl.List(pl.String), "edits": pl.List(pl.String),
}
_EMPTY = pl.lit([], dtype=pl.List(pl.String))
SMALL = "in-memory"  # the engine for the screened lines' small frames: less start-up than streaming


def _text(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String)


def check_code_columns(cols: LineColumns, schema: pl.Schema, where: str) -> None:
    """Code columns must hold text (or integers, read as their digits): a float code has lost digits."""
    for column in (cols.procedure, *cols.dx):
        dtype = schema[column]
        if dtype in (pl.String, pl.Categorical, pl.Null) or isinstance(dtype, pl.Enum) or dtype.is_integer():
            continue
        why = " (a code stored as a float has lost digits: 800.00 reads as 800.0)" if dtype.is_float() else ""
        raise InputError(f"{where}: column {column!r} holds {dtype}; expected codes as text{why}")


def service_date(column: str, dtype: pl.DataType, where: str) -> pl.Expr:
    """A date of service from a Date, Datetime, YYYYMMDD / YYYY-MM-DD text, or YYYYMMDD integer column."""
    col = pl.col(column)
    if dtype == pl.Date:
        return col
    if isinstance(dtype, pl.Datetime):
        return col.dt.date()
    if dtype.is_integer():
        col = col.cast(pl.String)
    elif dtype != pl.String:
        raise InputError(f"{where}: column {column!r} holds {dtype}; expected a date, or text as YYYYMMDD "
                         "or YYYY-MM-DD")
    text = col.str.strip_chars()
    return pl.coalesce(text.str.to_date("%Y%m%d", strict=False), text.str.to_date("%Y-%m-%d", strict=False))


# 9 / 10 as numbers or text ("9.0", "09", "ICD-9", "ICD10CM"), and 0, the CMS diagnosis version code for ICD-10.
_VERSION = r"^(?:ICD)?[-\s]?(0?9|10|0)(?:[-\s]?CM)?(?:\.0)?$"
_ERA_OF_VERSION = {"9": "icd9", "09": "icd9", "10": "icd10", "0": "icd10"}


def icd_version_era(column: str) -> pl.Expr:
    """The era an ``icd_version`` value names, null when blank or unreadable."""
    token = _text(column).str.strip_chars().str.to_uppercase().str.extract(_VERSION, 1)
    return token.replace_strict(_ERA_OF_VERSION, default=None, return_dtype=pl.String)


def era_expr(cols: LineColumns, schema: pl.Schema, where: str, icd_version: int | None) -> pl.Expr:
    """The ICD era of a line: its icd_version, else its date of service, else the default."""
    sources = []
    if cols.icd_version:
        sources.append(icd_version_era(cols.icd_version))
    if cols.date:
        day = service_date(cols.date, schema[cols.date], where)
        sources.append(pl.when(day < ICD10_START).then(pl.lit("icd9")).when(day.is_not_null())
                       .then(pl.lit("icd10")))
    if icd_version is not None:
        sources.append(pl.lit(f"icd{icd_version}"))
    if not sources:
        raise InputError(f"{where}: cannot tell the ICD version of the lines: no icd_version column, "
                         "no date of service column, and no --icd-version")
    return pl.coalesce(*sources, pl.lit(None, pl.String))


def _suspect_diagnoses(lines: pl.LazyFrame, cols: LineColumns, policy: Policy) -> dict[str, list[str]]:
    """Per era, the distinct diagnosis values that draw an edit there (for ``edits="all"``)."""
    # Distinct values per column, then across columns: far cheaper than exploding a list of 12 columns.
    per_column = [lines.select(_text(c).unique().alias("v")) for c in cols.dx]
    values = pl.concat(per_column).unique().collect()
    distinct = [v for v in values["v"].to_list() if v is not None and v.strip()]
    pairs = pl.DataFrame({"__dx": distinct}, schema={"__dx": pl.String}).join(
        pl.DataFrame({"__era": ERAS}), how="cross")
    edited = classify_diagnoses(pairs, policy).filter(pl.col("__edits").is_not_null())
    return {era: edited.filter(pl.col("__era") == era)["__dx"].unique().to_list() for era in ERAS}


def _written(column: str) -> pl.Expr:
    """Whether a text column holds something other than blanks (a blank is a missing value)."""
    return pl.col(column).str.strip_chars().str.len_bytes().fill_null(0) > 0


def _explain(screened: pl.DataFrame, cols: LineColumns, policy: Policy, procedures: pl.DataFrame) -> pl.DataFrame:
    """Determination, reason, matched ranges and edits of the screened lines, in their order."""
    era = pl.col("__era")

    def by_era(name: str) -> pl.Expr:
        return pl.when(era == "icd9").then(pl.col(f"{name}_icd9")).when(era == "icd10").then(pl.col(f"{name}_icd10"))

    # The diagnoses are classified eagerly (small frames); the rest is one lazy plan collected at the end.
    screened = screened.with_row_index("__k")
    lines = (screened.lazy().select("__k", cols.claim_id, "__era", "__date_raw", "__date", "__version_raw",
                                    __proc=_text(cols.procedure))
             .join(procedures.lazy(), on="__proc", how="left", maintain_order="left", nulls_equal=True)
             .with_columns(__cov=by_era("__cov"), __prange=by_era("__prange"), __pdesc=by_era("__pdesc"),
                           __addon=by_era("__addon"), __primary=by_era("__primary")))

    dx_long = (screened.lazy().select("__k", "__era", *[_text(c) for c in cols.dx])
               .unpivot(index=["__k", "__era"], on=list(cols.dx), value_name="__dx")  # column after column
               .filter(pl.col("__dx").is_not_null(), era.is_not_null()).select("__k", "__era", "__dx")
               .collect(engine=SMALL))
    # Only diagnoses with something to say have a row: a line's lists are built from those, in column order
    # (the join keeps the unpivoted order, and a group keeps the order of its rows).
    said = classify_diagnoses(dx_long.select("__dx", "__era"), policy)
    listed = (dx_long.lazy().join(said.lazy(), on=["__dx", "__era"], maintain_order="left")
              .group_by("__k").agg(
                  __matched_dx=pl.col("__nc_dx").drop_nulls(), __first_dx=pl.col("__nc_dx").drop_nulls().first(),
                  __first_label=pl.col("__label").drop_nulls().first(), __n_dx=pl.col("__nc_dx").count(),
                  __cov_dx=pl.col("__cov_dx").drop_nulls().first(),
                  __ranges=pl.col("__ranges"), __dx_edits=pl.col("__edits"), __dx_notes=pl.col("__notes")))
    ranges = pl.col("__ranges").list.join(RANGE_SEPARATOR, ignore_nulls=True)
    per_line = listed.with_columns(
        __matched_ranges=pl.when(ranges != "").then(ranges.str.split(RANGE_SEPARATOR).list.unique(maintain_order=True)),
        __dx_edits=pl.col("__dx_edits").list.join(",", ignore_nulls=True),
        __dx_notes=pl.col("__dx_notes").list.join("; ", ignore_nulls=True))
    claims = (lines.filter(pl.col("__proc_code").is_not_null())
              .group_by(cols.claim_id).agg(__claim_codes=pl.col("__proc_code").unique()))
    lines = (lines.join(per_line, on="__k", how="left", maintain_order="left")
             .join(claims, on=cols.claim_id, how="left", maintain_order="left", nulls_equal=True))

    cov, n_dx = pl.col("__cov"), pl.col("__n_dx").fill_null(0)
    addon_alone = (pl.col("__addon").fill_null(False)
                   & ~pl.col("__claim_codes").list.contains(pl.col("__primary")).fill_null(False))
    # A date that is there but cannot be read, whatever else told the era (icd_version, --icd-version).
    bad_date = _written("__date_raw") & pl.col("__date").is_null()
    # An icd_version that names no version: the era came from the date or the default.
    bad_version = _written("__version_raw") & icd_version_era("__version_raw").is_null()
    named_elsewhere = pl.any_horizontal(pl.col(f"__cov_{e}").is_not_null() for e in ERAS)
    determination = (
        pl.when(era.is_null() & named_elsewhere).then(pl.lit("review"))
        .when(cov == "not_covered").then(pl.lit("not_covered"))
        .when(cov == "covered_if_criteria_met").then(
            pl.when(pl.col("__cov_dx").is_not_null()).then(pl.lit("review"))
            .when(n_dx > 0).then(pl.lit("not_covered")).otherwise(pl.lit("review")))
        .when(cov == "covered").then(pl.lit("covered"))
        .otherwise(pl.lit("not_applicable")))

    version_name = pl.concat_str(pl.lit(f"{policy.name()} ("),
                                 era.replace_strict(ERA_NAMES, default="unknown"), pl.lit(" version)"))
    procedure = pl.format("{} ({})", pl.col("__proc_label"), pl.col("__pdesc"))
    dx_found = pl.format("diagnosis {} is in {}", pl.col("__first_dx"), pl.col("__first_label")) + pl.when(
        n_dx > 1).then(pl.format(" (and {} more)", n_dx - 1)).otherwise(pl.lit(""))
    reason = (
        pl.when(pl.col("__proc_error").is_not_null()).then(pl.format(
            "Procedure code '{}' cannot be read ({}), so the line was not screened",
            pl.col("__proc").fill_null(""), pl.col("__proc_error")))
        .when(era.is_null()).then(pl.lit(
            "The date of service cannot be read and the line has no readable ICD version, so the policy version "
            "that applies is unknown: review it"))
        .when(cov == "not_covered").then(pl.concat_str(
            procedure, pl.lit(" is not covered by "), version_name, pl.lit("; "),
            pl.when(n_dx > 0).then(dx_found).otherwise(pl.lit("it is not covered whatever the diagnosis"))))
        .when(cov == "covered_if_criteria_met").then(pl.concat_str(
            procedure, pl.lit(" is covered by "), version_name, pl.lit(" only if its criteria are met; "),
            pl.when(pl.col("__cov_dx").is_not_null()).then(
                pl.format("diagnosis {} is in its covered list: review the criteria", pl.col("__cov_dx")))
            .when(n_dx > 0).then(pl.concat_str(dx_found, pl.lit(" and no diagnosis is in its covered list")))
            .otherwise(pl.lit("no diagnosis on the line is in its lists: review the criteria"))))
        .when(cov == "covered").then(pl.concat_str(procedure, pl.lit(" is covered by "), version_name))
        .when(named_elsewhere).then(pl.concat_str(
            pl.col("__proc_label"), pl.lit(" is not named by "), version_name,
            pl.lit(", the version for this line's date of service")))
        .otherwise(pl.format("{} is not named by {}", pl.col("__proc_label"), pl.lit(policy.name()))))
    notes = pl.concat_str(
        nonempty(pl.col("__dx_notes")),
        pl.when(addon_alone).then(pl.format("add-on {} is billed without its primary {} on the claim",
                                            pl.col("__proc_code"), pl.col("__primary"))),
        pl.when(bad_date).then(pl.format("the date of service '{}' cannot be read", pl.col("__date_raw"))),
        pl.when(bad_version).then(pl.format("the ICD version '{}' cannot be read", pl.col("__version_raw"))),
        separator="; ", ignore_nulls=True)
    edits = pl.concat_str(
        pl.when(pl.col("__proc_error").is_not_null()).then(pl.lit("invalid_code")),
        nonempty(pl.col("__dx_edits")),
        pl.when(addon_alone).then(pl.lit("addon_without_primary")),
        pl.when(bad_date).then(pl.lit("invalid_date")),
        pl.when(bad_version).then(pl.lit("invalid_icd_version")),
        separator=",", ignore_nulls=True)
    full_reason = pl.concat_str(reason, pl.when(notes != "").then(pl.concat_str(pl.lit("; "), notes))
                                .otherwise(pl.lit("")), pl.lit("."))
    return lines.sort("__k").select(
        policy=pl.lit(policy.id, pl.String),
        policy_version=era,
        determination=determination,
        reason=full_reason,
        matched_procedure_range=pl.col("__prange"),
        matched_dx=pl.when(cov.is_not_null()).then(pl.col("__matched_dx").fill_null(_EMPTY)).otherwise(_EMPTY),
        matched_dx_ranges=pl.when(cov.is_not_null()).then(pl.col("__matched_ranges").fill_null(_EMPTY))
        .otherwise(_EMPTY),
        edits=pl.when(edits == "").then(_EMPTY).otherwise(edits.str.split(",").list.unique(maintain_order=True)),
    ).cast(RESULT_SCHEMA).collect(engine=SMALL)


def screen_lines(rows: pl.LazyFrame, cols: LineColumns, policy: Policy, *, where: str = "the input",
                 icd_version: int | None = None, edits: EditsMode = "policy", streaming: bool = False) -> pl.LazyFrame:
    """Every claim line of the input ``rows``, in order, with its columns and its determination against ``policy``.

    By default the lines are read into memory once and every step runs over them.  With
    ``streaming`` the source is read three times instead (distinct procedures, screened lines,
    output) and the output plan streams, for input larger than memory.
    """
    if edits not in ("policy", "all"):
        raise InputError(f"edits must be 'policy' or 'all', not {edits!r}")
    lines = cols.lines(rows)
    schema = lines.collect_schema()
    check_code_columns(cols, schema, where)
    era = era_expr(cols, schema, where, icd_version)
    if not streaming:
        frame = lines.collect()  # read once; every pass below runs over memory
        lines = frame.lazy()
    proc = _text(cols.procedure)
    distinct = lines.select(proc.unique()).collect().to_series().to_list()
    procedures = classify_procedures(distinct, policy)
    named = pl.any_horizontal(pl.col(f"__cov_{e}").is_not_null() for e in ERAS)
    wanted = procedures.filter(named | pl.col("__proc_error").is_not_null())["__proc"]
    screened_mask = _one_of(proc, wanted)
    if edits == "all":
        for era_name, values in _suspect_diagnoses(lines, cols, policy).items():
            suspect = pl.Series(values, dtype=pl.String).implode()
            screened_mask = screened_mask | ((era == era_name)
                                             & pl.any_horizontal(_text(c).is_in(suspect) for c in cols.dx))
    screened_mask = screened_mask.fill_null(False)

    extra = {"__era": era, "__date_raw": pl.lit(None, pl.String), "__date": pl.lit(None, pl.Date),
             "__version_raw": _text(cols.icd_version) if cols.icd_version else pl.lit(None, pl.String)}
    if cols.date:
        extra["__date_raw"] = _text(cols.date)
        extra["__date"] = service_date(cols.date, schema[cols.date], where)
    output = [pl.col(c) for c in cols.output]
    unscreened = _unscreened(policy, checked=edits == "all")
    if streaming:  # each screened line with the input row it came from, to find its slice of the output
        screened = cols.lines(rows.with_row_index("__input_row")).filter(screened_mask).with_columns(**extra).collect()
    else:  # the mask once, as a Series: it picks the screened lines and places their results
        mask = frame.select(screened_mask).to_series()
        screened = frame.filter(mask).with_columns(**extra)
    if screened.height == 0:
        return lines.select(*output, **unscreened)
    results = _explain(screened, cols, policy, procedures)
    if streaming:
        return _by_chunks(rows, cols, screened_mask, screened["__input_row"], results, output, unscreened)
    # In memory: the n-th screened line takes the n-th result, every other line the extra last row.
    return frame.lazy().select(*output, __result=_placed(results, mask, unscreened)).unnest("__result")


def _one_of(expr: pl.Expr, values: pl.Series) -> pl.Expr:
    """Whether ``expr`` is one of ``values`` (null when a null is among them).  A policy names a few
    procedures: a few equalities are three times cheaper per line than a hash lookup."""
    known = values.drop_nulls()
    test = (pl.any_horizontal(expr == value for value in known) if 0 < known.len() <= 8
            else expr.is_in(known.implode()))
    return test | expr.is_null() if values.null_count() else test


def _placed(results: pl.DataFrame, mask: pl.Series | pl.Expr, unscreened: dict[str, pl.Expr]) -> pl.Expr:
    """The result of each line: the n-th line under ``mask`` takes row n, any other the unscreened row."""
    table = pl.concat([results, pl.select(**unscreened)], how="vertical").to_struct("__result")
    if isinstance(mask, pl.Series):  # every line points at the last row, then the screened ones at theirs
        position = pl.repeat(results.height, mask.len(), dtype=pl.UInt32, eager=True)
        position = position.scatter(mask.arg_true(), pl.int_range(results.height, dtype=pl.UInt32, eager=True))
    else:  # in a slice of a streaming plan
        position = pl.when(mask).then(mask.cum_sum() - 1).otherwise(results.height)
    return pl.lit(table).gather(position)


CHUNK_ROWS = 1_000_000  # lines in a slice of a streaming output, at most


def _by_chunks(rows: pl.LazyFrame, cols: LineColumns, mask: pl.Expr, input_rows: pl.Series, results: pl.DataFrame,
               output: list[pl.Expr], unscreened: dict[str, pl.Expr]) -> pl.LazyFrame:
    """The output as the lines of one slice of the input rows after another, each placing its own screened
    lines' results, so that a streaming sink holds one slice at a time.  The input is sliced before it
    becomes lines (a slice of exploded lines would explode every row before it again)."""
    chunk_rows = max(1, CHUNK_ROWS // cols.lines_per_row)
    total = rows.select(pl.len()).collect().item()
    chunk_of = (input_rows // chunk_rows).to_list()
    parts, start = [], 0
    for k in range(max(1, -(-total // chunk_rows))):
        count = bisect_right(chunk_of, k) - start
        part = cols.lines(rows.slice(k * chunk_rows, chunk_rows))
        parts.append(part.select(*output, __result=_placed(results.slice(start, count), mask, unscreened))
                     .unnest("__result"))
        start += count
    return pl.concat(parts, how="vertical", parallel=False)  # one slice in memory at a time


def _unscreened(policy: Policy, checked: bool) -> dict[str, pl.Expr]:
    """What a line whose procedure the policy does not name gets.

    Its list columns stay null (nothing was looked for), except ``edits`` when every line's
    codes were checked (``edits="all"``): then an empty list says "checked, nothing found".
    """
    empty = _EMPTY if checked else pl.lit(None, pl.List(pl.String))
    values = {
        "policy": pl.lit(policy.id, pl.String),
        "policy_version": pl.lit(None, pl.String),
        "determination": pl.lit("not_applicable"),
        "reason": pl.lit(f"The procedure is not named by {policy.name()}, so the policy does not apply."),
        "matched_procedure_range": pl.lit(None, pl.String),
        "matched_dx": pl.lit(None, pl.List(pl.String)),
        "matched_dx_ranges": pl.lit(None, pl.List(pl.String)),
        "edits": empty,
    }
    return {name: value.cast(RESULT_SCHEMA[name]) for name, value in values.items()}
