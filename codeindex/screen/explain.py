"""The explanation of screened lines: determination, reason, matched ranges, edits and notes.

A screened line has a *finding* for each policy that names its procedure (a single one, of
no policy, when none does).  Everything a procedure value or a diagnosis value has to say
was worked out once per distinct value (``procedures``, ``diagnoses``), and a line's diagnosis
columns were read as integers (``cells``).  What decides a finding is its *explanation key*: its procedure
value, era and policy, its diagnoses' classes in column order, and a few flags (add-on alone,
no claim id, unreadable date or version, modifier columns written).  Findings share few keys,
so ``determination``, ``edits``, the matched ranges and the ``reason`` are polars expressions
evaluated once per distinct key, and each finding takes its key's row by one gather.  The
reason quotes nothing of the line's own: it names the column of the diagnosis that decided
(the values are in ``matched_dx``), the columns of an unreadable date or version, and points
at ``notes`` for the diagnoses' edits, so a key's reason is written once and shared (a
categorical with as many values as keys).  What a finding holds of its own is its matched
values (``matched_dx``) and the notes that quote them (``notes``, one of the distinct lists
of notes, each written once).  The line takes its most severe finding (on a tie, the policy
given first's).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import polars.selectors as cs

from codeindex.policy.compiled import CompiledPolicies
from codeindex.screen.cells import DiagnosisClasses, DiagnosisCodes
from codeindex.screen.columns import ERAS, FINDING, FINDINGS, ITEM_SEPARATOR, RANGE_SEPARATOR, RESULT
from codeindex.screen.diagnoses import partly_notes
from codeindex.screen.frames import dense, distinct_rows, nonempty, scattered
from codeindex.screen.layouts import LineColumns

EMPTY = pl.lit([], dtype=pl.List(pl.String))


def _written(column: str) -> pl.Expr:
    """Whether a text column holds something other than blanks (a blank is a missing value)."""
    return pl.col(column).str.strip_chars().str.len_bytes().fill_null(0) > 0


# Edits that leave a diagnosis's place in the lists unknown: it may be one the exhaustive list holds.
UNSURE = ("invalid_code", "undefined_code", "partial_match", "icd_version_mismatch")


def _unsure() -> pl.Expr:
    """Whether some diagnosis of the finding cannot be told in or out of the policy's lists."""
    return pl.col("dx_edits").str.contains("|".join(UNSURE)).fill_null(False)


def determination() -> pl.Expr:
    """Not covered, review, covered or not applicable: the decision table of docs/decisions.md.  A procedure not
    covered is not covered whatever the diagnoses; one covered (or covered if its criteria are met) is decided by
    them: a diagnosis in a covered list supports it (covered; review under criteria, or when another diagnosis is in a
    not-covered list), one in a not-covered list denies it, and with none in either an exhaustive list denies
    it (review when a diagnosis cannot be told) while an indicative one leaves it as the procedure's group says."""
    rule, n_dx, supported = pl.col("rule"), pl.col("n_dx"), pl.col("has_covered")
    as_grouped = pl.when(rule == "covered").then(pl.lit("covered")).otherwise(pl.lit("review"))
    by_diagnoses = (pl.when(supported & (n_dx > 0)).then(pl.lit("review"))
                    .when(supported).then(as_grouped)
                    .when(n_dx > 0).then(pl.lit("not_covered"))
                    .when(pl.col("exhaustive") & _unsure()).then(pl.lit("review"))
                    .when(pl.col("exhaustive")).then(pl.lit("not_covered"))
                    .otherwise(as_grouped))
    return pl.when(rule.is_in(["criteria", "covered"])).then(by_diagnoses).otherwise(pl.col("determination"))


def reason(columns: LineColumns) -> pl.Expr:
    """A sentence a person can act on, the same for every finding of one explanation key: the procedure's rule,
    what the diagnoses add (naming the column of the diagnosis that decided, whose value ``matched_dx`` lists),
    then the notes: the procedure's modifiers, the modifier columns, the diagnoses' notes (in ``notes``), an
    add-on alone, an unreadable date or ICD version (naming their columns).  Nothing in it is the line's own
    text but through the key, so keys share it and no line's reason is written for the line alone."""
    n_dx, rule = pl.col("n_dx"), pl.col("rule")
    criteria, nc, by_dx = rule == "criteria", rule == "not_covered", rule.is_in(["criteria", "covered"])
    supported, exhaustive = pl.col("has_covered"), pl.col("exhaustive").fill_null(False)
    dx_names = pl.lit(pl.Series(columns.dx, dtype=pl.String))
    first, covered = dx_names.gather(pl.col("first_column")), dx_names.gather(pl.col("covered_column"))
    more = pl.when(n_dx > 1).then(pl.format(" (and {} more)", n_dx - 1)).otherwise(pl.lit(""))
    found = pl.format("the diagnosis in {} is in {}{}", first, pl.col("first_label"), more)
    in_covered = pl.format("the diagnosis in {} is in its covered list", covered)
    not_in_exhaustive = "no diagnosis on the line is in its list of diagnoses that support medical necessity"
    diagnoses = (pl.when(by_dx & supported & (n_dx > 0))
                 .then(pl.concat_str(in_covered, pl.lit(", but "), found, pl.lit(", which is not covered: review it")))
                 .when(criteria & supported).then(pl.concat_str(in_covered, pl.lit(": review the criteria")))
                 .when(by_dx & supported).then(in_covered)
                 .when(criteria & (n_dx > 0))
                 .then(pl.concat_str(found, pl.lit(" and no diagnosis is in its covered list")))
                 .when(by_dx & (n_dx > 0)).then(found)
                 .when(by_dx & exhaustive & _unsure())
                 .then(pl.lit(f"{not_in_exhaustive}, but some cannot be told: review it"))
                 .when(by_dx & exhaustive).then(pl.lit(not_in_exhaustive))
                 .when(nc & (n_dx > 0)).then(found)
                 .when(nc).then(pl.lit("it is not covered whatever the diagnosis"))
                 .when(criteria).then(pl.lit("no diagnosis on the line is in its lists: review the criteria")))
    modifier_columns = ", ".join(columns.modifiers)
    sentence = pl.concat_str(
        pl.col("head"), diagnoses,
        pl.format("procedure '{}' read as {}, its modifiers {} split off", pl.col("procedure").str.strip_chars(),
                  "code", "modifiers"),
        pl.when(pl.col("named") & pl.col("billed")).then(pl.lit(f"billed with the modifiers in {modifier_columns}")),
        pl.when(pl.col("has_notes")).then(pl.lit("notes says why its diagnoses draw edits")),
        pl.when(pl.col("addon_alone") & pl.col("claim_missing")).then(pl.format(
            "add-on {} has no claim id, so its primary {} cannot be found on its claim", "code", "primary"))
        .when(pl.col("addon_alone")).then(pl.format("add-on {} is billed without its primary {} on the claim",
                                                    "code", "primary")),
        pl.when(pl.col("bad_date")).then(pl.lit(f"the date of service in {columns.date} cannot be read")),
        pl.when(pl.col("bad_version")).then(pl.lit(f"the ICD version in {columns.icd_version} cannot be read")),
        separator="; ", ignore_nulls=True)
    return pl.concat_str(sentence, pl.lit("."))


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
            primaries: pl.DataFrame, library: CompiledPolicies, columns: LineColumns,
            with_findings: bool) -> pl.DataFrame:
    """``RESULT`` for each of the screened ``lines`` (``LINE``, numbered by ``row``), in their order, and with
    ``with_findings`` every named policy's finding (``FINDINGS``).

    ``codes`` are the lines' diagnosis cells as integers; ``procedures`` and ``classes`` say what the
    lines' values say (``PROCEDURE``, ``cells.DiagnosisClasses``); ``primaries`` holds the (claim, code) pairs of
    the input's lines whose code is an add-on's primary.  A line has a finding per policy that names its
    procedure (one, of no policy, when none does); the most severe decides the line.  ``columns`` are the
    input's, which a reason names.
    """
    line_key, procedure_rows = _procedure_keys(lines, procedures, library.epochs)
    findings = _findings(line_key, procedure_rows)
    one_per_line = findings.height == lines.height  # each line its one finding, in order
    line = lines.select("claim", "era", "release", "date_raw", "date", "version_raw", "version_era",
                        "modifier_columns")
    facts = pl.concat([findings, line if one_per_line else line[findings["row"]]], how="horizontal")
    dx = diagnosis_facts(facts, codes, classes)
    facts = pl.concat([facts, dx.findings], how="horizontal")
    add_on_keys = procedure_rows.lazy().filter("add_on").select("procedure_key", "primary")
    alone = (facts.lazy().select("finding", "procedure_key", "claim").join(add_on_keys, on="procedure_key")
             .join(primaries.lazy().rename({"code": "primary"}), on=["claim", "primary"], how="anti")
             .collect()["finding"])  # the findings of add-ons whose claim has no line of their primary
    flags = {
        "addon_alone": pl.col("finding").is_in(alone.implode()),
        "claim_missing": pl.col("claim").is_null(),
        # A date that is there but cannot be read, whatever else told the era (icd_version, --icd-version).
        "bad_date": _written("date_raw") & pl.col("date").is_null(),
        # An icd_version that names no version: the era came from the date or the default.
        "bad_version": _written("version_raw") & pl.col("version_era").is_null(),
        "billed": pl.col("modifier_columns").is_not_null()}
    keys = ExplanationKey(procedure_rows.height)
    distinct, key_row = distinct_rows(facts.select(key=keys.encode(flags)))
    outcome = _explained(keys.decode(distinct), procedure_rows, dx.keys, library, columns)[key_row]
    notes = pl.lit(dx.notes.str.split(ITEM_SEPARATOR)).gather("notes_id")  # a row's notes, by their index
    results = pl.concat([facts.select("row", "policy", "matched", "notes_id"), outcome], how="horizontal").select(
        "row", "names", "severity",
        policy=pl.lit(pl.Series(library.ids, dtype=RESULT["policy"])).gather("policy"),  # categorical: no hashing
        policy_revision=pl.lit(pl.Series([p.revision for p in library.policies], dtype=pl.String)).gather("policy"),
        policy_effective=pl.lit(pl.Series([p.effective for p in library.policies], dtype=pl.Date)).gather("policy"),
        policy_version="era", determination="determination", reason="reason",
        matched_procedure_range="matched_procedure_range",
        matched_dx=pl.when("named").then(pl.col("matched").fill_null(EMPTY)).otherwise(EMPTY),
        matched_dx_ranges="matched_dx_ranges", edits="edits", notes=notes.fill_null(EMPTY),
        rule_id="rule_id", group_code="group_code", carc="carc", rarc="rarc")
    if one_per_line:
        deciding = results
    else:  # the most severe finding of each line, of the policy given first on a tie (findings are in that order)
        deciding = results.filter(pl.col("severity") == pl.col("severity").min().over("row")).unique(
            "row", keep="first", maintain_order=True)
    decided = deciding.lazy().select(RESULT.keys()).cast(RESULT).collect()  # type: ignore[arg-type]
    if not with_findings:
        return decided
    listed = results.filter("names").group_by("row", maintain_order=True).agg(
        findings=pl.struct(*FINDING.to_schema()))
    lists = deciding.select("row").join(listed, on="row", how="left", maintain_order="left")["findings"]
    listed_schema: dict[str, pl.DataType] = {**RESULT, **FINDINGS}
    return decided.with_columns(findings=lists.fill_null(pl.lit([], dtype=FINDINGS["findings"]))).cast(
        listed_schema)  # type: ignore[arg-type]


def unscreened(library: CompiledPolicies, edits_all: bool, with_findings: bool) -> pl.DataFrame:
    """What a line no policy of the ``library`` names (and not screened for its diagnoses) gets, as a one-row
    frame: ``RESULT``, and with ``with_findings`` an empty ``findings``.

    Its list columns stay null (nothing was looked for), except ``edits`` and ``notes`` when every line's
    codes were checked (``edits_all``): then an empty list says "checked, nothing found".  Its ``policy`` is
    the one policy screened, or null when a library was (none applies).
    """
    none = pl.lit(None, pl.List(pl.String))
    lone = library.lone_policy
    applies = "so the policy does not apply" if lone is not None else "so none applies"
    row = pl.select(
        policy=pl.lit(None if lone is None else library.ids[lone], pl.String),
        policy_version=pl.lit(None, pl.String),
        determination=pl.lit("not_applicable"),
        reason=pl.lit(f"The procedure is not named by {library.name(None)}, {applies}."),
        matched_procedure_range=pl.lit(None, pl.String), matched_dx=none, matched_dx_ranges=none,
        edits=EMPTY if edits_all else none, notes=EMPTY if edits_all else none,
        rule_id=pl.lit(None, pl.String), group_code=pl.lit(None, pl.String), carc=pl.lit(None, pl.String),
        rarc=pl.lit(None, pl.String)).cast(RESULT)  # type: ignore[arg-type]
    return row.with_columns(findings=pl.lit([], dtype=FINDINGS["findings"])) if with_findings else row


def _findings(line_key: pl.Series, procedure_rows: pl.DataFrame) -> pl.DataFrame:
    """The findings of the lines of ``line_key``: a row per line and policy naming its procedure value (or of
    no policy), lines in order, policies in library order: ``finding``, ``row`` (the line), ``procedure_key``,
    ``policy`` and ``names``."""
    keyed = procedure_rows.select("line_key", "procedure_key", "policy", "names")
    if keyed["line_key"].is_unique().all():  # one policy speaks for each value: a line's finding is its key's row
        size = keyed.select(pl.col("line_key").max().fill_null(-1) + 1).item()  # none when no line is screened
        row_of = pl.Series([None] * size, dtype=pl.UInt32)  # a line key -> its row of keyed
        row_of = row_of.scatter(keyed["line_key"], pl.int_range(keyed.height, dtype=pl.UInt32, eager=True))
        return keyed.drop("line_key")[row_of.gather(line_key)].with_row_index("row").with_row_index("finding")
    return (line_key.to_frame().with_row_index("row").join(keyed, on="line_key", maintain_order="left_right")
            .drop("line_key").with_row_index("finding"))


def _procedure_keys(lines: pl.DataFrame, procedures: pl.DataFrame, epochs: int) -> tuple[pl.Series, pl.DataFrame]:
    """Each line's ``line_key`` (its procedure value's index among the lines' values, its era's, and its epoch of
    the library's revisions), and what each policy says of each key (``PROCEDURE`` by ``line_key`` and
    ``procedure_key``, a number for each (line key, policy)): small integers, so lines are never joined on text."""
    categories = pl.Categories.random()
    values = lines.select(pl.col("procedure").cast(pl.Categorical(categories)))  # holds the mapping below
    index = pl.concat([categories.to_series(), pl.Series([None], dtype=pl.String)]).rename("procedure")
    era_index = pl.col("era").replace_strict({"icd9": 0, "icd10": 1}, default=2, return_dtype=pl.Int64)
    key = ((pl.col("id").fill_null(index.len() - 1).cast(pl.Int64) * 3 + era_index) * epochs
           + pl.col("epoch").cast(pl.Int64)).alias("line_key")
    procedure_rows = (index.to_frame().with_row_index("id").join(procedures, on="procedure", nulls_equal=True)
                      .select(key, pl.exclude("id", "era", "epoch")).sort("line_key", "policy", maintain_order=True)
                      .with_row_index("procedure_key").with_columns(pl.col("procedure_key").cast(pl.Int64),
                                                                    pl.col("add_on").fill_null(False)))
    ids = pl.concat([values.select(id=pl.col("procedure").to_physical()), lines.select("era", "epoch")],
                    how="horizontal")
    return ids.select(key)["line_key"], procedure_rows


FLAGS = ("addon_alone", "claim_missing", "bad_date", "bad_version", "billed")  # a finding's flags, bit by bit


@dataclass(frozen=True)
class ExplanationKey:
    """What decides a finding but the values it lists, in one integer: its diagnosis key (``dx_key``, a row of
    ``DIAGNOSIS_KEYS``), its procedure key (a row of the procedure rows, ``procedure_keys`` of them) and its
    ``FLAGS``, a bit each.  ``encode`` packs a finding's; ``decode`` unpacks the distinct keys."""

    procedure_keys: int

    def encode(self, flags: dict[str, pl.Expr]) -> pl.Expr:
        """The key of a finding with ``dx_key``, ``procedure_key`` and the ``flags`` (by name, as in FLAGS)."""
        packed: pl.Expr = (pl.col("dx_key").cast(pl.Int64) * self.procedure_keys + pl.col("procedure_key")) * 2**len(
            FLAGS) + pl.sum_horizontal(flags[flag].cast(pl.Int64) * 2**bit for bit, flag in enumerate(FLAGS))
        return packed

    def decode(self, keys: pl.DataFrame) -> pl.DataFrame:
        """The ``dx_key``, ``procedure_key`` and flags of each row's ``key``."""
        key = pl.col("key") // 2**len(FLAGS)
        return keys.select(dx_key=(key // self.procedure_keys).cast(pl.UInt32),
                           procedure_key=key % self.procedure_keys,
                           **{flag: pl.col("key") // 2**bit % 2 == 1 for bit, flag in enumerate(FLAGS)})


def cause() -> pl.Expr:
    """Why a finding is not covered (``reason_codes.CAUSES``; null for any other determination): its procedure's
    group, a diagnosis in a not-covered list, or none in the exhaustive covered list."""
    return (pl.when(pl.col("determination") != "not_covered").then(pl.lit(None, pl.String))
            .when(pl.col("rule") == "not_covered").then(pl.lit("procedure_not_covered"))
            .when(pl.col("n_dx") > 0).then(pl.lit("diagnosis_not_covered"))
            .otherwise(pl.lit("no_supporting_diagnosis")))


def _explained(keys: pl.DataFrame, procedure_rows: pl.DataFrame, dx_keys: pl.DataFrame,
               library: CompiledPolicies, columns: LineColumns) -> pl.DataFrame:
    """What each distinct explanation key (decoded: ``dx_key``, ``procedure_key`` and the flags) says: its
    results, reason and reason codes included."""
    keys = keys.join(procedure_rows, on="procedure_key", how="left", maintain_order="left").join(
        dx_keys, on="dx_key", how="left", maintain_order="left")
    keys = keys.with_columns(named=pl.col("coverage").is_not_null(),
                             era=pl.lit(pl.Series([*ERAS, None], dtype=RESULT["policy_version"]))
                             .gather(pl.col("line_key") // library.epochs % 3))  # its era: icd9, icd10, none
    keys = keys.with_columns(determination=determination()).with_columns(cause=cause()).join(
        library.reason_codes, on=["rule_id", "cause"], how="left", maintain_order="left")
    determined = pl.col("determination").cast(RESULT["determination"])
    return keys.select(
        "named", "names", "era",
        determination=determined, severity=determined.to_physical(),
        matched_procedure_range=pl.col("range").cast(RESULT["matched_procedure_range"]),
        matched_dx_ranges=matched_ranges(),
        edits=line_edits(),
        reason=reason(columns).cast(RESULT["reason"]),
        rule_id=pl.when("named").then("rule_id").cast(RESULT["rule_id"]),
        group_code=pl.col("group_code").cast(RESULT["group_code"]),
        carc=pl.col("carc").cast(RESULT["carc"]), rarc=pl.col("rarc").cast(RESULT["rarc"]))


DIAGNOSIS_FACTS = {  # what a finding's diagnoses say, one row per finding, in order
    "dx_key": pl.UInt32,  # the finding's classes in column order, as a row of DIAGNOSIS_KEYS
    "matched": pl.List(pl.String),  # the values in a not-covered range, trimmed, in column order (null: none)
    "notes_id": pl.UInt32,  # the values' notes, as an index of DiagnosisFacts.notes (null: none)
}


DIAGNOSIS_KEYS = {  # what a finding's diagnosis classes in column order say together; few distinct per screen
    "dx_key": pl.UInt32,  # its row
    "n_dx": pl.Int64,  # how many values lie in a not-covered range
    "first_label": pl.String,  # the label of the first one's first not-covered range
    "first_column": pl.Int64,  # the column of the first one, from 0 in the layout's order (null: none)
    "has_covered": pl.Boolean,  # some value lies in a covered range
    "covered_column": pl.Int64,  # the column of the first such value (null: none)
    "ranges": pl.String,  # the matched values' not-covered ranges, each once, joined by RANGE_SEPARATOR
    "dx_edits": pl.String,  # the values' edits, each once, comma-joined
    "has_notes": pl.Boolean,  # some value has a note (an edit): the finding's notes are gathered cell by cell
}


@dataclass(frozen=True)
class DiagnosisFacts:
    """What the findings' diagnoses say: ``findings`` (``DIAGNOSIS_FACTS``, one row per finding, in order),
    ``keys`` (``DIAGNOSIS_KEYS``: what the findings' classes in column order say together, by ``dx_key``) and
    ``notes`` (the findings' notes, each distinct text once, by ``notes_id``)."""

    findings: pl.DataFrame
    keys: pl.DataFrame
    notes: pl.Series


def diagnosis_facts(findings: pl.DataFrame, codes: DiagnosisCodes, classes: DiagnosisClasses) -> DiagnosisFacts:
    """The diagnosis facts of the ``findings`` (``row`` (a screened line), ``policy``, ``era`` and ``release``;
    the lines' cells are integers in ``codes``, one row per line), from the ``classes`` of ``codes.values``."""
    dx_count = codes.ids.width
    one_per_line = findings.height == codes.ids.height  # findings are the lines, in order: no gather needed
    ids = codes.ids if one_per_line else codes.ids[findings["row"]]
    code_span, range_class, spans = pl.lit(classes.code_span), pl.lit(classes.range_class), classes.spans
    cells = pl.concat([ids, findings.select(
        code_offset=classes.code_offset(pl.col("era"), pl.col("release")),
        range_offset=classes.range_offset(pl.col("policy")))], how="horizontal").lazy().with_columns(
        # A cell's code class and span in its line's release, in one integer (code class * spans + span).
        code_span.gather(pl.col(f"id{i}").cast(pl.Int64) + pl.col("code_offset")).fill_null(spans - 1)
        .alias(f"code_span{i}") for i in range(dx_count)
    ).with_columns(  # its span's range class under the finding's policy
        range_class.gather(pl.col(f"code_span{i}") % spans + pl.col("range_offset")).alias(f"range{i}")
        for i in range(dx_count)
    ).with_columns(  # and its class
        (pl.col(f"code_span{i}") // spans * classes.range_base + pl.col(f"range{i}")).alias(f"class{i}")
        for i in range(dx_count)).drop("range_offset", *(f"code_span{i}" for i in range(dx_count))
    ).with_columns(classes.keys(dx_count)).collect()  # one query: a quarter cheaper than four at full share
    distinct, dx_key = distinct_rows(cells.select(cs.starts_with("key")))  # a finding's dx_key is a row of key_facts
    key_facts = classes.by_key(distinct, dx_count).with_row_index("dx_key")
    in_range = [pl.col(f"range{i}") for i in range(dx_count)]
    matched_at = [pl.when((r > 0) & (r <= classes.not_covered)).then(pl.col(f"id{i}")) for i, r in enumerate(in_range)]
    texts = pl.lit(codes.values.str.strip_chars())  # a value as matched_dx quotes it, by its index
    # The matched values' texts in column order: the first one's, or for the findings with several (few), the
    # texts of the cells in a not-covered range, joined.
    matched = cells.select(texts.gather(pl.coalesce(*matched_at, pl.lit(None, pl.UInt32)))).to_series()
    several = key_facts["n_dx"].gather(dx_key) > 1  # dx_key is a row of key_facts
    if several.any():
        matched = matched.scatter(several.arg_true(), cells.filter(several).select(pl.concat_str(
            [texts.gather(at) for at in matched_at], separator=ITEM_SEPARATOR, ignore_nulls=True)).to_series())
    facts = pl.DataFrame([dx_key.rename("dx_key"), matched.str.split(ITEM_SEPARATOR).rename("matched")])
    noted = key_facts["has_notes"].gather(dx_key)  # findings a note is gathered for
    notes_id, notes = _notes(cells.select("code_offset", cs.starts_with("id", "range", "class")).filter(noted),
                             dx_count, classes)
    return DiagnosisFacts(findings=facts.with_columns(notes_id=scattered(notes_id, noted)),
                          keys=key_facts.select(DIAGNOSIS_KEYS.keys()), notes=notes)


def _notes(cells: pl.DataFrame, dx_count: int, classes: DiagnosisClasses) -> tuple[pl.Series, pl.Series]:
    """The notes of each row's values, in column order, joined by ITEM_SEPARATOR: as an index of the distinct
    texts, and the texts.  Only values with an edit have a note (their own, then their partial overlaps).  A
    note depends only on the value's row in the classified codes (its text, era and release) and its range
    class, so each distinct note is written once and a cell takes its note's index by an integer gather; most
    rows hold one noted value and take its note as theirs, the few others have theirs written."""
    noted = pl.lit(classes.traits["edits"].is_not_null())  # by class (``traits`` has a row per class, in order)
    code_span, spans, range_base = pl.lit(classes.code_span), classes.spans, classes.range_base
    note_keys = cells.select(  # a noted cell's (code row, range class) in one integer, null where no note
        pl.when(noted.gather(pl.col(f"class{i}")))  # its span is its code row (cells.DiagnosisClasses)
        .then(code_span.gather(pl.col(f"id{i}").cast(pl.Int64) + pl.col("code_offset")).cast(pl.Int64) % spans
              * range_base + pl.col(f"range{i}")).alias(str(i)) for i in range(dx_count))
    every = pl.col(note_keys.columns[0])  # every column's keys, one after another, in one operation
    for column in note_keys.columns[1:]:
        every = every.append(pl.col(column))
    distinct = note_keys.select(every.drop_nulls().unique()).to_series()
    row, range_class = distinct // range_base, distinct % range_base
    own = pl.concat([classes.codes["notes"], pl.Series([None], dtype=pl.String)]).gather(row)  # last row: none
    text = pl.concat([classes.codes["text"], pl.Series([None], dtype=pl.String)]).gather(row)
    partly = pl.concat([pl.Series([None], dtype=pl.String), classes.range_table["partly"]]).gather(range_class)
    note = pl.select(nonempty(pl.concat_str(pl.lit(own), partly_notes(pl.lit(text), pl.lit(partly)),
                                            separator=ITEM_SEPARATOR, ignore_nulls=True))).to_series()
    # A note key's position among the distinct notes, by a gather from a table of every key.
    note_at = pl.lit(dense((classes.codes.height + 1) * range_base, distinct,
                            pl.int_range(distinct.len(), eager=True), distinct.len()))
    # A row's first note, as its position among the distinct notes: the whole of a row with one.
    first = note_keys.select(note_at.gather(pl.coalesce(pl.all()))).to_series()
    several = note_keys.select(pl.sum_horizontal(pl.all().is_not_null()) > 1).to_series()
    if not several.any():
        return first, note
    note_of = pl.lit(note)
    joined = note_keys.filter(several).select(nonempty(pl.concat_str(
        [note_of.gather(note_at.gather(pl.col(c))) for c in note_keys.columns], separator=ITEM_SEPARATOR,
        ignore_nulls=True))).to_series()
    return (first.scatter(several.arg_true(), pl.int_range(note.len(), note.len() + joined.len(), dtype=pl.UInt32,
                                                           eager=True)), note.extend(joined))
