"""The explanation of screened lines: determination, reason, matched ranges and edits.

A screened line has a *finding* for each policy that names its procedure (a single one, of
no policy, when none does).  Everything a procedure value or a diagnosis value has to say
was worked out once per distinct value (``edits``), and a line's diagnosis columns were read
as integers (``diagnoses``).  What decides a finding, but for the values it quotes, is its
*explanation key*: its procedure value, era and policy, its diagnoses' classes in column
order, and a few flags (add-on alone, unreadable date or version).  Findings share few keys,
so ``determination``, ``line_edits``, the matched ranges and the parts of the reason are
polars expressions evaluated once per distinct key, and each finding takes its key's row.
The reason quotes a diagnosis of the line and its notes, so it is written once per distinct
(template, quoted value, notes), keys sharing few templates, and gathered as a categorical;
only a reason quoting text of the line's own (its modifier columns, an unreadable date or
version) is written for that finding alone.  The line takes its most severe finding (on a
tie, the policy given first's).
"""

from __future__ import annotations

import polars as pl

from codeindex.policy.compiled import CompiledPolicies
from codeindex.screen.columns import ERAS, FINDING, FINDINGS, RANGE_SEPARATOR, RESULT
from codeindex.screen.diagnoses import DiagnosisClasses, DiagnosisCodes, diagnosis_facts, distinct_rows

EMPTY = pl.lit([], dtype=pl.List(pl.String))


def _written(column: str) -> pl.Expr:
    """Whether a text column holds something other than blanks (a blank is a missing value)."""
    return pl.col(column).str.strip_chars().str.len_bytes().fill_null(0) > 0


def determination() -> pl.Expr:
    """Not covered, review, covered or not applicable: the procedure's rule, and its diagnoses' say under
    "covered if criteria are met" (a covered diagnosis: review; a not-covered one: not covered)."""
    criteria = (pl.when(pl.col("has_covered")).then(pl.lit("review"))
                .when(pl.col("n_dx") > 0).then(pl.lit("not_covered")).otherwise(pl.lit("review")))
    return pl.when(pl.col("rule") == "criteria").then(criteria).otherwise(pl.col("determination"))


def reason_parts() -> dict[str, pl.Expr]:
    """The parts of the reason an explanation key decides: up to the quoted diagnosis (``reason_head``), which
    diagnosis it quotes (``quotes``: ``first_dx``, ``covered_dx`` or null), what follows it (``reason_tail``),
    the modifiers' note and the add-on's note."""
    n_dx, criteria, nc = pl.col("n_dx"), pl.col("rule") == "criteria", pl.col("rule") == "not_covered"
    more = pl.when(n_dx > 1).then(pl.format(" (and {} more)", n_dx - 1)).otherwise(pl.lit(""))
    found = pl.concat_str(pl.lit(" is in "), pl.col("first_label"), more)  # after "diagnosis <first_dx>"
    quotes = (pl.when(criteria & pl.col("has_covered")).then(pl.lit("covered_dx"))
              .when((nc | criteria) & (n_dx > 0)).then(pl.lit("first_dx")))
    fixed = (pl.when(nc).then(pl.lit("it is not covered whatever the diagnosis"))
             .when(criteria).then(pl.lit("no diagnosis on the line is in its lists: review the criteria"))
             .otherwise(pl.lit("")))
    return {
        "modifier_note": pl.format("procedure '{}' read as {}, its modifiers {} split off",
                                   pl.col("procedure").str.strip_chars(), "code", pl.col("modifiers")),
        "quotes": quotes,
        "reason_head": pl.concat_str(pl.col("head"), pl.when(quotes.is_not_null()).then(pl.lit("diagnosis "))
                                     .otherwise(fixed)),
        "reason_tail": (pl.when(quotes == "covered_dx").then(pl.lit(" is in its covered list: review the criteria"))
                        .when(quotes.is_not_null() & criteria)
                        .then(pl.concat_str(found, pl.lit(" and no diagnosis is in its covered list")))
                        .when(quotes.is_not_null()).then(found).otherwise(pl.lit(""))),
        "addon_note": (pl.when(pl.col("addon_alone") & pl.col("claim_missing")).then(pl.format(
            "add-on {} has no claim id, so its primary {} cannot be found on its claim", "code", "primary"))
            .when(pl.col("addon_alone")).then(pl.format(
                "add-on {} is billed without its primary {} on the claim", "code", "primary"))),
    }


def reason() -> pl.Expr:
    """A sentence a person can act on: the key's parts around the diagnosis it quotes, then the notes (of a row of
    distinct reasons: ``REASON_PARTS`` and the key's parts).  The first part is never empty."""
    said = pl.concat_str(
        pl.concat_str(pl.col("reason_head"), pl.col("quoted"), pl.col("reason_tail"), ignore_nulls=True),
        pl.col("modifier_note"), pl.format("billed with modifiers {}", "billed"), pl.col("dx_notes"),
        pl.col("addon_note"), pl.format("the date of service '{}' cannot be read", "bad_date_raw"),
        pl.format("the ICD version '{}' cannot be read", "bad_version_raw"),
        separator="; ", ignore_nulls=True)
    return pl.concat_str(said, pl.lit("."))


def line_edits() -> pl.Expr:
    """The line's edits, each once, in the order found: procedure, diagnoses in column order, claim, date."""
    joined = pl.concat_str(
        pl.when(pl.col("error").is_not_null()).then(pl.lit("invalid_code")),
        pl.when(pl.col("modifiers").is_not_null()).then(pl.lit("modifiers_split")),
        pl.col("dx_edits"),
        pl.when(pl.col("addon_alone")).then(pl.lit("addon_without_primary")),
        pl.when(pl.col("bad_date")).then(pl.lit("invalid_date")),
        pl.when(pl.col("bad_version")).then(pl.lit("invalid_icd_version")),
        separator=",", ignore_nulls=True)
    return pl.when(joined == "").then(EMPTY).otherwise(joined.str.split(",").list.unique(maintain_order=True))


def matched_ranges() -> pl.Expr:
    """The not-covered ranges the line's diagnoses lie in, each once (empty where nothing matched)."""
    ranges = pl.col("ranges").str.split(RANGE_SEPARATOR).list.unique(maintain_order=True)
    return pl.when(pl.col("named")).then(ranges.fill_null(EMPTY)).otherwise(EMPTY)


def explain(lines: pl.DataFrame, codes: DiagnosisCodes, procedures: pl.DataFrame, classes: DiagnosisClasses,
            primaries: pl.DataFrame, library: CompiledPolicies, with_findings: bool) -> pl.DataFrame:
    """``RESULT`` for each of the screened ``lines`` (``LINE`` and their diagnoses), in their order, and with
    ``with_findings`` every named policy's finding (``FINDINGS``).

    ``codes`` are the lines' diagnosis cells as integers; ``procedures`` and ``classes`` say what the
    lines' values say (``PROCEDURE``, ``diagnoses.DiagnosisClasses``); ``primaries`` holds the (claim, code) pairs of
    the input's lines whose code is an add-on's primary.  A line has a finding per policy that names its
    procedure (one, of no policy, when none does); the most severe decides the line.
    """
    line_key, said = _procedure_keys(lines, procedures)
    findings = _findings(line_key, said)
    one_per_line = findings.height == lines.height  # each line its one finding, in order
    line = lines.select("claim", "era", "release", "date_raw", "date", "version_raw", "version_era",
                        "modifier_columns")
    facts = pl.concat([findings, line if one_per_line else line[findings["row"]]], how="horizontal")
    dx = diagnosis_facts(facts, codes, classes)
    facts = pl.concat([facts, dx.findings], how="horizontal")
    add_on_keys = said.filter("add_on").select("procedure_key", "primary")
    add_ons = facts.filter(pl.col("procedure_key").is_in(add_on_keys["procedure_key"].implode())).join(
        add_on_keys, on="procedure_key")
    alone = add_ons.join(primaries.rename({"code": "primary"}), on=["claim", "primary"], how="anti")["finding"]
    flags = {
        "addon_alone": pl.col("finding").is_in(alone.implode()),
        "claim_missing": pl.col("claim").is_null(),
        # A date that is there but cannot be read, whatever else told the era (icd_version, --icd-version).
        "bad_date": _written("date_raw") & pl.col("date").is_null(),
        # An icd_version that names no version: the era came from the date or the default.
        "bad_version": _written("version_raw") & pl.col("version_era").is_null()}
    # What decides the finding but the values it quotes, in one integer: diagnosis key, procedure key, flags.
    key = ((pl.col("dx_key").cast(pl.Int64) * said.height + pl.col("procedure_key")) * 2**len(FLAGS)
           + pl.sum_horizontal(flags[flag].cast(pl.Int64) * 2**bit for bit, flag in enumerate(FLAGS)))
    facts = facts.with_columns(key=key, bad_date=flags["bad_date"], bad_version=flags["bad_version"])
    distinct, explained_at = distinct_rows(facts.select("key"))
    explained = _explained_keys(distinct, said, dx.keys)
    facts = facts.with_columns(explained=explained_at)
    outcome = explained.select("named", "names", "era", "determination", "severity", "matched_procedure_range",
                               "matched_dx_ranges", "edits")[facts["explained"]]
    reasons = _reasons(facts, explained, codes.values, dx.notes)
    results = pl.concat([facts.select("row", "policy", "matched", reason=reasons), outcome], how="horizontal").select(
        "row", "names", "severity",
        policy=pl.lit(pl.Series(library.ids, dtype=RESULT["policy"])).gather("policy"),  # categorical: no hashing
        policy_revision=pl.lit(pl.Series([p.revision for p in library.policies], dtype=pl.String)).gather("policy"),
        policy_effective=pl.lit(pl.Series([p.effective for p in library.policies], dtype=pl.Date)).gather("policy"),
        policy_version="era", determination="determination", reason="reason",
        matched_procedure_range="matched_procedure_range",
        matched_dx=pl.when("named").then(pl.col("matched").fill_null(EMPTY)).otherwise(EMPTY),
        matched_dx_ranges="matched_dx_ranges", edits="edits")
    if one_per_line:
        deciding = results
    else:  # the most severe finding of each line, of the policy given first on a tie (findings are in that order)
        deciding = results.filter(pl.col("severity") == pl.col("severity").min().over("row")).unique(
            "row", keep="first", maintain_order=True)
    decided = deciding.select(RESULT.keys()).cast(RESULT)  # type: ignore[arg-type]
    if not with_findings:
        return decided
    listed = results.filter("names").group_by("row", maintain_order=True).agg(
        findings=pl.struct(*FINDING.to_schema()))
    lists = deciding.select("row").join(listed, on="row", how="left", maintain_order="left")["findings"]
    listed_schema: dict[str, pl.DataType] = {**RESULT, **FINDINGS}
    return decided.with_columns(findings=lists.fill_null(pl.lit([], dtype=FINDINGS["findings"]))).cast(
        listed_schema)  # type: ignore[arg-type]


TEMPLATE = ["reason_head", "reason_tail", "modifier_note", "addon_note"]  # an explanation key's parts of its reason
REASON_PARTS = {  # what a reason says: its key's parts, and what it quotes
    "template": pl.UInt32,  # its key's parts (TEMPLATE), as a row of the distinct ones: few, many keys share one
    "quoted_id": pl.UInt32,  # the diagnosis it quotes, as an index of DiagnosisCodes.values (null: none)
    "notes_id": pl.UInt32,  # its diagnoses' notes, as an index of DiagnosisFacts.notes (null: none)
    "billed": pl.String,  # the modifiers in the modifier columns, when its procedure is named
    "bad_date_raw": pl.String,  # the date of service as written, when it cannot be read
    "bad_version_raw": pl.String,  # the ICD version as written, when it cannot be read
}
LINE_TEXT = ["billed", "bad_date_raw", "bad_version_raw"]  # the text of its own a reason quotes (seldom any)


def _reasons(facts: pl.DataFrame, explained: pl.DataFrame, values: pl.Series, notes: pl.Series) -> pl.Series:
    """Each finding's reason, categorical.  Findings that quote no text of their own (but a diagnosis and its
    notes) with one template, quoted value and notes share a reason, written once; the others' are written one
    by one.  The findings then take theirs by a gather."""
    templates, template = distinct_rows(explained.select(TEMPLATE))
    quotes = pl.lit(explained["quotes"]).gather("explained")
    parts = facts.select(
        template=pl.lit(template).gather("explained"),
        quoted_id=pl.when(quotes == "first_dx").then("first_id").when(quotes == "covered_dx").then("covered_id"),
        notes_id="notes_id",
        billed=pl.when(pl.lit(explained["named"]).gather("explained")).then("modifier_columns"),
        bad_date_raw=pl.when("bad_date").then("date_raw"),
        bad_version_raw=pl.when("bad_version").then("version_raw"))
    plain = parts.select(pl.all_horizontal(pl.col(LINE_TEXT).is_null())).to_series()
    shared = parts.filter(plain).select("template", "quoted_id", "notes_id")
    distinct, shared_at = distinct_rows(shared)
    own = parts.filter(~plain)
    # A plain finding's row of distinct, then the others' rows after those, in order.
    at = pl.repeat(distinct.height, plain.len(), dtype=pl.UInt32, eager=True).scatter(plain.arg_true(), shared_at)
    at = at.scatter((~plain).arg_true(), pl.Series(range(distinct.height, distinct.height + own.height),
                                                   dtype=pl.UInt32))
    rows = pl.concat([distinct, own], how="diagonal")
    texts = pl.lit(values.str.strip_chars())  # a quoted diagnosis, by its index
    written = pl.concat([rows, templates[rows["template"]]], how="horizontal").with_columns(
        quoted=texts.gather("quoted_id"), dx_notes=pl.lit(notes).gather("notes_id")).select(
        reason().cast(RESULT["reason"])).to_series()
    return written.gather(at)


def _findings(line_key: pl.Series, said: pl.DataFrame) -> pl.DataFrame:
    """The findings of the lines of ``line_key``: a row per line and policy naming its procedure value (or of
    no policy), lines in order, policies in library order: ``finding``, ``row`` (the line), ``procedure_key``,
    ``policy`` and ``names``."""
    keyed = said.select("line_key", "procedure_key", "policy", "names")
    if keyed["line_key"].is_unique().all():  # one policy speaks for each value: a line's finding is its key's row
        size = keyed.select(pl.col("line_key").max().fill_null(-1) + 1).item()  # none when no line is screened
        at = pl.Series([None] * size, dtype=pl.UInt32)  # a line key -> its row of keyed
        at = at.scatter(keyed["line_key"], pl.int_range(keyed.height, dtype=pl.UInt32, eager=True))
        return keyed.drop("line_key")[at.gather(line_key)].with_row_index("row").with_row_index("finding")
    return (line_key.to_frame().with_row_index("row").join(keyed, on="line_key", maintain_order="left_right")
            .drop("line_key").with_row_index("finding"))


def _procedure_keys(lines: pl.DataFrame, procedures: pl.DataFrame) -> tuple[pl.Series, pl.DataFrame]:
    """Each line's ``line_key`` (its procedure value's index among the lines' values, and its era's), and what
    each policy says of each key (``PROCEDURE`` by ``line_key`` and ``procedure_key``, a number for each
    (line key, policy)): small integers, so lines are never joined on text."""
    categories = pl.Categories.random()
    values = lines.select(pl.col("procedure").cast(pl.Categorical(categories)))  # holds the mapping below
    index = pl.concat([categories.to_series(), pl.Series([None], dtype=pl.String)]).rename("procedure")
    era_index = pl.col("era").replace_strict({"icd9": 0, "icd10": 1}, default=2, return_dtype=pl.Int64)
    key = (pl.col("id").fill_null(index.len() - 1).cast(pl.Int64) * 3 + era_index).alias("line_key")
    said = (index.to_frame().with_row_index("id").join(procedures, on="procedure", nulls_equal=True)
            .select(key, pl.exclude("id", "era")).sort("line_key", "policy", maintain_order=True)
            .with_row_index("procedure_key").with_columns(pl.col("procedure_key").cast(pl.Int64),
                                                          pl.col("add_on").fill_null(False)))
    ids = pl.concat([values.select(id=pl.col("procedure").to_physical()), lines.select("era")], how="horizontal")
    return ids.select(key)["line_key"], said


FLAGS = ("addon_alone", "claim_missing", "bad_date", "bad_version")  # a line's flags, bit by bit in ``flags``


def _explained_keys(distinct: pl.DataFrame, said: pl.DataFrame, dx_keys: pl.DataFrame) -> pl.DataFrame:
    """What each distinct explanation key (``key``: diagnosis key, procedure key and flags) says: its results
    and the parts of its reason (``reason_parts``)."""
    key = pl.col("key")
    keys = distinct.with_columns(
        dx_key=(key // 2**len(FLAGS) // said.height).cast(pl.UInt32),
        procedure_key=key // 2**len(FLAGS) % said.height,
        **{flag: key // 2**bit % 2 == 1 for bit, flag in enumerate(FLAGS)})
    keys = keys.join(said, on="procedure_key", how="left", maintain_order="left").join(
        dx_keys, on="dx_key", how="left", maintain_order="left")
    keys = keys.with_columns(named=pl.col("coverage").is_not_null(),
                             era=pl.lit(pl.Series([*ERAS, None], dtype=RESULT["policy_version"]))
                             .gather(pl.col("line_key") % 3))  # a line key's era: icd9, icd10, none
    determined = determination().cast(RESULT["determination"])
    return keys.select(
        "named", "names", "era",
        determination=determined, severity=determined.to_physical(),
        matched_procedure_range=pl.col("range").cast(RESULT["matched_procedure_range"]),
        matched_dx_ranges=matched_ranges(),
        edits=line_edits(),
        **reason_parts())
