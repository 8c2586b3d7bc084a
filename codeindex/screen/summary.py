"""The summary printed after a screen: what was read, what was found, what it cost."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Summary:
    lines: int
    by_determination: dict[str, int]
    top_procedures: list[tuple[str, int]]
    top_diagnoses: list[tuple[str, int]]
    edits: dict[str, int]
    not_covered_amount: float | None
    seconds: float


def summarize(output: pl.LazyFrame, procedure: str, amount: str | None, seconds: float, top: int = 5) -> Summary:
    """Counts over a screen's output (read back from its file, so memory stays small)."""
    counts = output.group_by("determination").len().collect()
    not_covered = output.filter(pl.col("determination") == "not_covered")
    procedures = (not_covered.group_by(pl.col(procedure).cast(pl.String).str.strip_chars()).len()
                  .sort(["len", procedure], descending=[True, False]).head(top).collect())
    diagnoses = (not_covered.select(pl.col("matched_dx").list.explode(keep_nulls=False, empty_as_null=False))
                 .group_by("matched_dx").len().sort(["len", "matched_dx"], descending=[True, False])
                 .head(top).collect())
    edits = (output.select(pl.col("edits").list.explode(keep_nulls=False, empty_as_null=False))
             .group_by("edits").len().sort("edits").collect())
    total = None
    if amount is not None:
        total = not_covered.select(pl.col(amount).cast(pl.Float64).sum()).collect().item()
    return Summary(
        lines=int(counts["len"].sum()),
        by_determination=dict(zip(counts["determination"], counts["len"], strict=True)),
        top_procedures=list(procedures.iter_rows()), top_diagnoses=list(diagnoses.iter_rows()),
        edits=dict(edits.iter_rows()), not_covered_amount=total, seconds=seconds)


def print_summary(summary: Summary, policy_name: str, console: Console | None = None) -> None:
    console = console or Console()
    rate = summary.lines / summary.seconds if summary.seconds else 0.0
    console.print(f"[bold]{summary.lines:,}[/bold] claim lines screened against {policy_name} in "
                  f"{summary.seconds:.2f} s ({rate:,.0f} lines/s)", highlight=False)
    table = Table(title="Lines per determination", title_justify="left")
    table.add_column("determination")
    table.add_column("lines", justify="right")
    table.add_column("share", justify="right")
    for name in ("not_covered", "review", "covered", "not_applicable"):
        n = summary.by_determination.get(name, 0)
        table.add_row(name, f"{n:,}", f"{n / summary.lines:.2%}" if summary.lines else "-")
    console.print(table)
    for title, rows in (("Top procedures on not_covered lines", summary.top_procedures),
                        ("Top diagnoses on not_covered lines", summary.top_diagnoses)):
        if rows:
            t = Table(title=title, title_justify="left")
            t.add_column("code")
            t.add_column("lines", justify="right")
            for code, n in rows:
                t.add_row(str(code), f"{n:,}")
            console.print(t)
    if summary.edits:
        console.print("Edits: " + ", ".join(f"{k} {v:,}" for k, v in summary.edits.items()), highlight=False)
    if summary.not_covered_amount is not None:
        console.print(f"Amount on not_covered lines: {summary.not_covered_amount:,.2f}", highlight=False)
