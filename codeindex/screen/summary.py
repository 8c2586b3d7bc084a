"""What a screen found, as one JSON-ready dict: the terminal summary, ``--summary-json`` and the HTML report
are all drawn from it, so they cannot disagree.

It is computed from the output a run wrote (its own parquet file, so memory stays small), and a code
written several ways (``800.00`` and ``80000``, ``s9117`` and ``S9117``) is counted once, in its decimal
form, with its code-set description.  The keys (``SUMMARY_VERSION`` 1):

- ``lines``: lines in the output; ``elapsed_seconds``: the run's time (null when summarising a file).
- ``determinations``: lines per determination (all four, zeros included).
- ``claims``: claims with a ``not_covered`` line and claims with a ``review`` line (null without a claim id
  column); ``members``: the same of members (null without a member column).
- ``top_providers``: with a provider column, the providers of the not_covered and review lines, by amount
  then lines: ``provider``, ``lines``, ``not_covered`` (lines), ``amount``.
- ``amount``: ``column`` (null without one), ``by_determination`` (sum per determination) and ``at_stake``
  (not_covered plus review).
- ``eras``: per era of the date of service (``icd9`` before 2015-10-01, ``icd10``, ``unknown`` for no
  readable date): lines per determination.
- ``months``: per month of service (``YYYY-MM``, null for no readable date), in order: ``era`` and lines
  per determination.
- ``top_procedures``: on not_covered lines, by lines: ``code`` (upper case), ``lines``, ``amount``,
  ``spellings`` (as written).
- ``top_diagnoses``: matched diagnoses of not_covered lines, by lines: ``code`` (decimal form), ``system``,
  ``description`` (from the code set), ``lines``, ``spellings``.
- ``ranges``: the policy ranges lines matched, by lines: ``range``, ``kind`` (procedure or diagnosis),
  ``lines``.
- ``reason_codes``: on not_covered lines, per X12 code set (``group_code``, ``carc``, ``rarc``; see
  ``policy.reason_codes``), by lines: ``lines``, ``amount``.
- ``edits``: per edit, in name order: ``edit``, ``lines``, ``amount`` (null without an amount column),
  ``examples`` (the first three lines: ``row``, the output's row number from 0, ``claim_id``, ``procedure``,
  ``reason``).  NCCI's edits (``ncci_ptp``, ``mue_units``, ``aoc_without_primary``) are among them.
- ``denied_units``: with NCCI tables, the units of service denied by medically unlikely edits (else null).
- ``policy``: ``id``, ``name``, ``title``, ``source``, ``fingerprint`` (SHA-256 of the parsed policy);
  ``input``: ``files`` (``path``, ``bytes``, ``modified``), ``layout``, ``columns`` (which column held
  what); ``output``: ``path``, ``format``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text

from codeindex.codesets import code_set, has_code_set
from codeindex.errors import InvalidCodeError
from codeindex.policy.model import DIAGNOSIS_SYSTEMS, ICD10_START, Policy
from codeindex.screen.columns import DETERMINATIONS
from codeindex.screen.line import service_date
from codeindex.systems import parse_code

SUMMARY_VERSION = 1
TOP = 10
EXAMPLES = 3
AT_STAKE = ("not_covered", "review")


def policy_identity(policy: Policy | Sequence[Policy]) -> dict[str, Any]:
    """Which policy a screen used: its id, name, title, revision and effective date (when the page gives them),
    source and a fingerprint of its parsed content; for a
    library (a list), the same of the library (its name counts and names the policies) with each policy's
    identity under ``policies``."""
    if isinstance(policy, Policy):
        content = json.dumps(policy.to_json(), sort_keys=True).encode()
        return {"id": policy.id, "name": policy.name(), "title": policy.title, "revision": policy.revision,
                "effective": None if policy.effective is None else policy.effective.isoformat(),
                "source": policy.source, "fingerprint": hashlib.sha256(content).hexdigest()}
    each = [policy_identity(p) for p in policy]
    names = ", ".join(i["name"] for i in each[:3]) + (f" and {len(each) - 3} more" if len(each) > 3 else "")
    content = json.dumps([i["fingerprint"] for i in each]).encode()
    return {"id": None, "name": f"{len(each)} {'policy' if len(each) == 1 else 'policies'} ({names})",
            "title": None, "revision": None, "effective": None, "source": None,
            "fingerprint": hashlib.sha256(content).hexdigest(), "policies": each}


def amount_expr(column: str, dtype: pl.DataType) -> pl.Expr:
    """An amount column as numbers (text amounts are checked to be numbers before a screen writes anything)."""
    col = pl.col(column)
    return (col.str.strip_chars() if dtype == pl.String else col).cast(pl.Float64)


def summarize(output: pl.LazyFrame, policy: Policy | Sequence[Policy], columns: Mapping[str, Any], *,
              seconds: float | None = None,
              identity: Mapping[str, Any] | None = None, top: int = TOP) -> dict[str, Any]:
    """The summary of a screen's ``output`` (see the module docstring for its keys).  ``columns`` says which
    column held what: ``procedure`` (required), ``claim_id``, ``date``, ``amount`` (others are ignored)."""
    schema = output.collect_schema()
    procedure: str = columns["procedure"]
    claim_id: str | None = columns.get("claim_id")
    date: str | None = columns.get("date")
    amount: str | None = columns.get("amount")
    date = date if date in schema else None
    amount = amount if amount in schema else None
    claim_id = claim_id if claim_id in schema else None
    paid = amount_expr(amount, schema[amount]) if amount else pl.lit(None, pl.Float64)
    lines = output.with_row_index("__row").with_columns(
        __amount=paid, __det=pl.col("determination"),  # an enum: grouped as is, its names read at the end
        __month=service_date(date, schema[date], "the output", columns.get("date_format")).dt.truncate("1mo")
        if date else pl.lit(None, pl.Date))
    not_covered = lines.filter(pl.col("determination") == "not_covered")
    code = pl.col(procedure).cast(pl.String).str.strip_chars()
    matched = (not_covered.select("__row", era=pl.col("policy_version").cast(pl.String), value=pl.col("matched_dx"))
               .explode("value").drop_nulls("value"))

    has_codes = "carc" in schema  # outputs of earlier versions have none
    denied = not_covered.filter(pl.col("carc").is_not_null()) if has_codes else not_covered.head(0)
    codes = denied.select(
        *(pl.col(name).cast(pl.String) if has_codes else pl.lit(None, pl.String).alias(name)
          for name in ("group_code", "carc", "rarc")), "__amount")
    provider: str | None = columns.get("provider")
    member: str | None = columns.get("member")
    provider = provider if provider in schema else None
    member = member if member in schema else None
    # Claims and members with a line to act on (few: the lines are filtered first, so the distinct ids held are
    # few), and the providers of those lines.
    acted = lines.filter(pl.col("determination").is_in(list(AT_STAKE)))
    claims = acted.group_by("__det").agg(
        (pl.col(claim_id).drop_nulls().n_unique() if claim_id else pl.lit(0, pl.UInt32)).alias("claims"),
        (pl.col(member).drop_nulls().n_unique() if member else pl.lit(0, pl.UInt32)).alias("members"))
    providers = (acted.group_by(pl.col(provider).cast(pl.String).alias("provider"))
                 .agg(pl.len().alias("lines"), (pl.col("__det") == "not_covered").sum().alias("not_covered"),
                      pl.col("__amount").sum().alias("amount"))
                 if provider else acted.head(0).select(provider=pl.lit(None, pl.String), lines=pl.len(),
                                                       not_covered=pl.len(), amount=pl.lit(0.0)))
    by_month, by_det, procedures, edits, ranges, dx, by_code, by_claims, by_provider = (
        query.collect(engine="streaming") for query in [
        lines.group_by("__month", "__det").len(),
        lines.group_by("__det").agg(pl.len(), pl.col("__amount").sum()),
        not_covered.filter(code.is_not_null()).group_by(code.alias("spelling"))
        .agg(pl.len().alias("lines"), pl.col("__amount").sum().alias("amount")),
        lines.select("__amount", edit=pl.col("edits")).explode("edit").drop_nulls("edit").group_by("edit").agg(
            pl.len().alias("lines"), pl.col("__amount").sum().alias("amount")),
        pl.concat([
            lines.drop_nulls("matched_procedure_range")
            .select(range=pl.col("matched_procedure_range").cast(pl.String), kind=pl.lit("procedure")),
            lines.select(range=pl.col("matched_dx_ranges")).explode("range").drop_nulls("range")  # each once a line
            .select("range", kind=pl.lit("diagnosis"))])
        .group_by("range", "kind").len(),
        matched.group_by("value", "era").len(),
        codes.group_by("group_code", "carc", "rarc").agg(pl.len().alias("lines"), pl.col("__amount").sum().alias(
            "amount")),
        claims,
        providers,
    ])  # one after another, streaming: the output may be larger than memory, and each pass holds little

    counts = {d: 0 for d in DETERMINATIONS}
    amounts = dict.fromkeys(DETERMINATIONS, 0.0)
    for det, n, total in by_det.iter_rows():
        counts[det], amounts[det] = n, round(float(total or 0.0), 2)
    months: dict[Any, dict[str, Any]] = {}
    eras = {e: {d: 0 for d in DETERMINATIONS} for e in ("icd9", "icd10", "unknown")}
    for month, det, n in by_month.sort("__month", nulls_last=True).iter_rows():
        era = "unknown" if month is None else ("icd9" if month < ICD10_START else "icd10")
        key = None if month is None else f"{month.year:04d}-{month.month:02d}"  # strftime writes year 300 as "300"
        months.setdefault(key, {"month": key, "era": era, **{d: 0 for d in DETERMINATIONS}})[det] += n
        eras[era][det] += n
    return {
        "summary_version": SUMMARY_VERSION,
        "lines": sum(counts.values()),
        "elapsed_seconds": seconds,
        "determinations": counts,
        "claims": {d: _count(by_claims, d, "claims") for d in AT_STAKE} if claim_id else None,
        "members": {d: _count(by_claims, d, "members") for d in AT_STAKE} if member else None,
        "top_providers": [{**row, "amount": round(row["amount"], 2) if amount else None} for row in
                          by_provider.sort(["amount", "lines", "provider"], descending=[True, True, False],
                                           nulls_last=True).head(top).to_dicts()] if provider else None,
        "amount": {"column": amount, "by_determination": amounts if amount else None,
                   "at_stake": round(sum(amounts[d] for d in AT_STAKE), 2) if amount else None},
        "eras": eras,
        "months": list(months.values()),
        "top_procedures": [{**row, "amount": round(row["amount"], 2) if amount else None} for row in
                           _procedures(procedures).sort(["lines", "code"], descending=[True, False]).head(top)
                           .to_dicts()],
        "top_diagnoses": _diagnoses(not_covered, dx, top),
        "ranges": ranges.sort(["len", "kind", "range"], descending=[True, False, False])
        .rename({"len": "lines"}).to_dicts(),
        "edits": _edits(lines, edits.sort("edit"), code, claim_id, bool(amount)),
        "denied_units": (lines.select(pl.col("denied_units").sum()).collect(engine="streaming").item()
                         if "denied_units" in schema else None),
        "reason_codes": [{**row, "amount": round(row["amount"], 2) if amount else None} for row in
                         by_code.sort(["lines", "group_code", "carc", "rarc"], descending=[True, False, False, False],
                                      nulls_last=True).to_dicts()],
        "policy": policy_identity(policy),
        **(identity or {}),
    }


def _count(counted: pl.DataFrame, determination: str, column: str) -> int:
    """One determination's count in a small frame of counts by determination (0 when it has no row)."""
    found = counted.filter(pl.col("__det") == determination)[column]
    return int(found[0]) if found.len() else 0


def _procedures(spelled: pl.DataFrame) -> pl.DataFrame:
    """The not-covered lines' procedures merged across spellings (``s9117`` and ``S9117``), from their lines and
    amount per spelling: counted per spelling first, a streaming aggregation that holds one row per spelling
    (gathering each code's spellings while streaming holds the lines)."""
    return spelled.group_by(pl.col("spelling").str.to_uppercase().alias("code")).agg(
        pl.col("lines").sum(), pl.col("amount").sum(), spellings=pl.col("spelling").sort())


def _edits(lines: pl.LazyFrame, counts: pl.DataFrame, code: pl.Expr, claim_id: str | None,
           amount: bool) -> list[dict[str, Any]]:
    """Each edit with its count of lines, their amount, and its first few lines as examples (each a scan that stops
    early)."""
    examples = pl.collect_all([
        lines.filter(pl.col("edits").list.contains(edit)).head(EXAMPLES).select(
            row="__row", claim_id=pl.col(claim_id) if claim_id else pl.lit(None), procedure=code,
            reason=pl.col("reason").cast(pl.String))
        for edit in counts["edit"]])
    return [{"edit": edit, "lines": n, "amount": round(total or 0.0, 2) if amount else None,
             "examples": found.to_dicts()}
            for (edit, n, total), found in zip(counts.select("edit", "lines", "amount").iter_rows(), examples,
                                               strict=True)]


def _diagnoses(not_covered: pl.LazyFrame, distinct: pl.DataFrame, top: int) -> list[dict[str, Any]]:
    """The matched diagnoses merged across spellings: each distinct (value, era) of the ``not_covered`` lines'
    ``matched_dx`` (``distinct``) read once in its era's system, then the lines counted per code with polars,
    streaming.  A line that holds two spellings of a code counts once: era by era, each line's list becomes
    its codes, each once, before the lines are counted (a count of distinct lines per code would hold every
    line's number)."""
    canonical: list[tuple[str, str | None, str, str, str | None]] = []
    for value, era in distinct.select("value", "era").iter_rows():
        system = DIAGNOSIS_SYSTEMS.get(era or "", "")
        try:
            parsed = parse_code(value, system)
        except (InvalidCodeError, KeyError):
            canonical.append((value, era, value.strip().upper(), system, None))
            continue
        description = code_set(system).description(parsed) if has_code_set(system) else None
        canonical.append((value, era, parsed.decimal, system, description))
    codes = pl.DataFrame(canonical, schema=["value", "era", "code", "system", "description"], orient="row",
                         schema_overrides={c: pl.String for c in ("value", "era", "code", "system", "description")})
    if codes.is_empty():
        return []
    era = pl.col("policy_version").cast(pl.String)
    per_era = [not_covered.filter(era.eq_missing(name)).select(
        # The line's matched values as their codes, each code once.
        code=pl.col("matched_dx").list.eval(pl.element().replace_strict(read["value"], read["code"])).list.unique(),
        system=pl.lit(system)).explode("code").drop_nulls("code")
        for (name, system), read in codes.group_by("era", "system")]
    lines = pl.concat(per_era).group_by("code", "system").len("lines").collect(engine="streaming")
    merged = (lines.join(codes.group_by("code", "system").agg(
        pl.col("description").first(), spellings=pl.col("value").unique().sort()), on=["code", "system"])
              .sort(["lines", "code"], descending=[True, False]).head(top))
    return merged.select("code", "system", "description", "lines", "spellings").to_dicts()


def summary_rows(summary: dict[str, Any]) -> list[tuple[str, int | float | str]]:
    """The summary as (name, value) rows, the Excel output's summary sheet: counts as integers, amounts as numbers
    rounded to cents, so a spreadsheet can add them; names and files as text."""
    rows: list[tuple[str, int | float | str]] = [("lines", summary["lines"]), ("policy", summary["policy"]["name"])]
    rows += [(f"lines {d}", n) for d, n in summary["determinations"].items()]
    rows += [(f"claims with a {d} line", n) for d, n in (summary.get("claims") or {}).items()]
    rows += [(f"members with a {d} line", n) for d, n in (summary.get("members") or {}).items()]
    rows += [(f"provider {p['provider']} (not_covered and review lines)", p["lines"])
             for p in summary.get("top_providers") or []]
    if summary["amount"]["column"]:
        rows += [(f"amount {d}", round(v, 2)) for d, v in summary["amount"]["by_determination"].items()]
        rows.append(("amount at stake (not_covered + review)", round(summary["amount"]["at_stake"], 2)))
    rows += [(f"procedure {p['code']} (not_covered lines)", p["lines"]) for p in summary["top_procedures"]]
    rows += [(f"diagnosis {d['code']} {d['description'] or ''}".strip(), d["lines"]) for d in summary["top_diagnoses"]]
    rows += [(f"edit {e['edit']}", e["lines"]) for e in summary["edits"]]
    rows += [(f"reason code {_codes(c)}", c["lines"]) for c in summary.get("reason_codes", [])]
    for f in summary.get("input", {}).get("files", []):
        rows.append(("input", f"{f['path']} ({f['bytes']:,} bytes, modified {f['modified']})"))
    return rows


def _codes(row: dict[str, Any]) -> str:
    """A denial's codes as a remittance writes them: ``CO-96 N130``."""
    return f"{row['group_code']}-{row['carc']}" + (f" {row['rarc']}" if row["rarc"] else "")


def _table(title: str, *columns: tuple[str, str]) -> Table:
    table = Table(title=title, title_justify="left", min_width=len(title))  # a title never wraps
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    return table


def terminal(stderr: bool = False) -> Console:
    """A console that prints every string as it is: names, titles, codes and paths are the user's, and rich
    markup in them (``[/x]``) is text, never a style (nor an error)."""
    return Console(stderr=stderr, markup=False)


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    console = console or terminal()
    lines, seconds = summary["lines"], summary["elapsed_seconds"]
    timing = f" in {seconds:,.2f} s ({lines / seconds:,.0f} lines/s)" if seconds else ""
    console.print(Text.assemble((f"{lines:,}", "bold"),
                                f" claim lines screened against {summary['policy']['name']}{timing}"))
    amount = summary["amount"]
    table = _table("Lines per determination", ("determination", "left"), ("lines", "right"), ("share", "right"),
                   *([("amount", "right")] if amount["column"] else []))
    for name, n in summary["determinations"].items():
        money = [f"{amount['by_determination'][name]:,.2f}"] if amount["column"] else []
        table.add_row(name, f"{n:,}", f"{n / lines:.2%}" if lines else "-", *money)
    console.print(table)
    if summary["top_procedures"]:
        table = _table("Top procedures, not_covered lines", ("code", "left"), ("lines", "right"),
                       *([("amount", "right")] if amount["column"] else []))
        for p in summary["top_procedures"]:
            table.add_row(p["code"], f"{p['lines']:,}", *([f"{p['amount']:,.2f}"] if amount["column"] else []))
        console.print(table)
    if summary["top_diagnoses"]:
        table = _table("Top diagnoses, not_covered lines", ("code", "left"), ("description", "left"),
                       ("lines", "right"))
        for d in summary["top_diagnoses"]:
            table.add_row(d["code"], d["description"] or "", f"{d['lines']:,}")
        console.print(table)
    if summary.get("reason_codes"):
        console.print("Reason codes (not_covered lines): " + ", ".join(
            f"{_codes(c)} {c['lines']:,}" for c in summary["reason_codes"]))
    if summary["edits"]:
        console.print("Edits: " + ", ".join(f"{e['edit']} {e['lines']:,}" for e in summary["edits"]))
    if amount["column"]:
        console.print(f"Amount at stake (not_covered and review lines): {amount['at_stake']:,.2f}")
