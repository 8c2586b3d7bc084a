"""The explanation of screened lines: determination, reason, matched ranges and edits.

Everything a procedure value or a diagnosis value has to say was worked out once per
distinct value (``edits``).  Here a line gathers what its values say: its procedure's
row by one join on (value, era), and each diagnosis column's row by one lookup per column
(no unpivot, no group by line), so the cost per line is a few vectorized steps whatever
share of the input is screened.  Then four small steps, each a polars expression over
those facts: ``determination``, ``reason``, ``line_edits`` and the matched lists.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from codeindex.policy.compiled import CompiledPolicy
from codeindex.screen.columns import LINE, RANGE_SEPARATOR, RESULT
from codeindex.screen.diagnoses import LIST_SEPARATOR, DiagnosisCodes, diagnosis_facts

EMPTY = pl.lit([], dtype=pl.List(pl.String))
ENGINE: Final = "in-memory"  # the engine for the screened lines' frames: less start-up than streaming


def _written(column: str) -> pl.Expr:
    """Whether a text column holds something other than blanks (a blank is a missing value)."""
    return pl.col(column).str.strip_chars().str.len_bytes().fill_null(0) > 0


def determination() -> pl.Expr:
    """Not covered, review, covered or not applicable: the procedure's rule, and its diagnoses' say under
    "covered if criteria are met" (a covered diagnosis: review; a not-covered one: not covered)."""
    criteria = (pl.when(pl.col("covered_dx").is_not_null()).then(pl.lit("review"))
                .when(pl.col("n_dx") > 0).then(pl.lit("not_covered")).otherwise(pl.lit("review")))
    return pl.when(pl.col("rule") == "criteria").then(criteria).otherwise(pl.col("determination"))


def reason(policy: CompiledPolicy) -> pl.Expr:
    """A sentence a person can act on: the procedure's part (``head``), what the diagnoses add, the notes."""
    n_dx = pl.col("n_dx")
    dx_found = pl.format("diagnosis {} is in {}", pl.col("first_dx"), pl.col("first_label")) + pl.when(
        n_dx > 1).then(pl.format(" (and {} more)", n_dx - 1)).otherwise(pl.lit(""))
    diagnoses = (
        pl.when(pl.col("rule") == "not_covered").then(
            pl.when(n_dx > 0).then(dx_found).otherwise(pl.lit("it is not covered whatever the diagnosis")))
        .when(pl.col("rule") == "criteria").then(
            pl.when(pl.col("covered_dx").is_not_null()).then(
                pl.format("diagnosis {} is in its covered list: review the criteria", pl.col("covered_dx")))
            .when(n_dx > 0).then(pl.concat_str(dx_found, pl.lit(" and no diagnosis is in its covered list")))
            .otherwise(pl.lit("no diagnosis on the line is in its lists: review the criteria")))
        .otherwise(pl.lit("")))
    notes = pl.concat_str(
        pl.col("dx_notes"),
        pl.when(pl.col("addon_alone") & pl.col("claim").is_null()).then(pl.format(
            "add-on {} has no claim id, so its primary {} cannot be found on its claim", "code", "primary"))
        .when(pl.col("addon_alone")).then(pl.format(
            "add-on {} is billed without its primary {} on the claim", "code", "primary")),
        pl.when(pl.col("bad_date")).then(pl.format("the date of service '{}' cannot be read", pl.col("date_raw"))),
        pl.when(pl.col("bad_version")).then(pl.format("the ICD version '{}' cannot be read", pl.col("version_raw"))),
        separator="; ", ignore_nulls=True)
    return pl.concat_str(pl.col("head"), diagnoses,
                         pl.when(notes != "").then(pl.concat_str(pl.lit("; "), notes)).otherwise(pl.lit("")),
                         pl.lit("."))


def line_edits() -> pl.Expr:
    """The line's edits, each once, in the order found: procedure, diagnoses in column order, claim, date."""
    joined = pl.concat_str(
        pl.when(pl.col("error").is_not_null()).then(pl.lit("invalid_code")),
        pl.col("dx_edits"),
        pl.when(pl.col("addon_alone")).then(pl.lit("addon_without_primary")),
        pl.when(pl.col("bad_date")).then(pl.lit("invalid_date")),
        pl.when(pl.col("bad_version")).then(pl.lit("invalid_icd_version")),
        separator=",", ignore_nulls=True)
    return pl.when(joined == "").then(EMPTY).otherwise(joined.str.split(",").list.unique(maintain_order=True))


def _matched_lists(named: pl.Expr) -> dict[str, pl.Expr]:
    """``matched_dx`` and ``matched_dx_ranges``: empty lists on a line whose procedure the policy names and
    no diagnosis matched, and on every other screened line."""
    matched = pl.col("matched")
    ranges = pl.col("ranges").str.split(RANGE_SEPARATOR).list.unique(maintain_order=True)
    return {"matched_dx": pl.when(named).then(matched.fill_null(EMPTY)).otherwise(EMPTY),
            "matched_dx_ranges": pl.when(named).then(ranges.fill_null(EMPTY)).otherwise(EMPTY)}


def explain(lines: pl.DataFrame, codes: DiagnosisCodes, procedures: pl.DataFrame, diagnoses: pl.DataFrame,
            primaries: pl.DataFrame, policy: CompiledPolicy) -> pl.DataFrame:
    """``RESULT`` for each of the screened ``lines`` (``LINE`` and their diagnoses), in their order.

    ``codes`` are the lines' diagnosis cells as integers; ``procedures`` and ``diagnoses`` say what the
    lines' values say (``PROCEDURE``, ``DIAGNOSIS``); ``primaries`` holds the (claim, code) pairs of the
    input's lines whose code is an add-on's primary.
    """
    facts = pl.concat([_procedure_facts(lines, procedures), diagnosis_facts(lines, codes, diagnoses).drop("row")],
                      how="horizontal")
    facts = facts.with_columns(
        addon_alone=pl.col("row").is_in(_add_ons_alone(facts, primaries).implode()),
        # A date that is there but cannot be read, whatever else told the era (icd_version, --icd-version).
        bad_date=_written("date_raw") & pl.col("date").is_null(),
        # An icd_version that names no version: the era came from the date or the default.
        bad_version=_written("version_raw") & pl.col("version_era").is_null(),
        matched=pl.col("matched").str.split(LIST_SEPARATOR),
    ).with_columns(first_dx=pl.col("matched").list.first())
    named = pl.col("coverage").is_not_null()
    return facts.lazy().select(
        policy=pl.lit(policy.id, pl.String),
        policy_version="era",
        determination=determination(),
        reason=reason(policy),
        matched_procedure_range="range",
        **_matched_lists(named),
        edits=line_edits(),
    ).cast(RESULT).collect(engine=ENGINE)  # type: ignore[arg-type]


def _procedure_facts(lines: pl.DataFrame, procedures: pl.DataFrame) -> pl.DataFrame:
    """The lines (``LINE`` columns) with what their procedure value says in their era (``PROCEDURE``), in order.
    Joined on a small integer (the value's index among the lines' values, and the era's) rather than on text."""
    categories = pl.Categories.random()
    values = lines.select(pl.col("procedure").cast(pl.Categorical(categories)))  # holds the mapping below
    index = pl.concat([categories.to_series(), pl.Series([None], dtype=pl.String)]).rename("procedure")
    era_index = pl.col("era").replace_strict({"icd9": 0, "icd10": 1}, default=2, return_dtype=pl.Int64)
    key = pl.col("id").fill_null(index.len() - 1).cast(pl.Int64) * 3 + era_index
    said = (index.to_frame().with_row_index("id").join(procedures, on="procedure", nulls_equal=True)
            .select(key.alias("key"), pl.exclude("id", "procedure", "era")))
    keyed = pl.concat([lines, values.select(id=pl.col("procedure").to_physical())],
                      how="horizontal").with_columns(key=key)
    return keyed.join(said, on="key", how="left", maintain_order="left").select(*LINE, *said.columns[1:])


def _add_ons_alone(facts: pl.DataFrame, primaries: pl.DataFrame) -> pl.Series:
    """The rows of add-on lines whose claim has no line of their primary (a line with no claim id is on no
    claim, so it has none)."""
    add_ons = facts.filter(pl.col("add_on").fill_null(False)).select("row", "claim", "primary")
    return add_ons.join(primaries.rename({"code": "primary"}), on=["claim", "primary"], how="anti")["row"]


def addon_primaries(procedures: pl.DataFrame) -> list[str]:
    """The procedure values whose code is some add-on's primary (their lines are looked for on claims)."""
    primaries = procedures.filter(pl.col("add_on").fill_null(False))["primary"].unique()
    return procedures.filter(pl.col("code").is_in(primaries.implode()))["procedure"].unique().to_list()
