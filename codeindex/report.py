"""The HTML report of a screen: one self-contained file a claim reviewer can open with no network.

Claims are protected health information, so the page fetches nothing: no scripts, fonts, styles or
images from anywhere (its Content-Security-Policy forbids every fetch, and it has no JavaScript at all).
The charts are static SVG drawn by matplotlib and inlined: a few kilobytes each, they render in any
browser, print, and need no JavaScript engine, where a JavaScript charting library would add 1-4 MB of
inlined code to every report.  Everything it shows comes from the summary (``codeindex.screen.summary``),
the same data the terminal summary and ``--summary-json`` print.
"""

from __future__ import annotations

import html
import importlib.util
import io
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from codeindex.errors import OutputError
from codeindex.extras import install_hint
from codeindex.policy.reason_codes import descriptions
from codeindex.screen.columns import DETERMINATIONS

COLORS = {"not_covered": "#c0392b", "review": "#e67e22", "covered": "#27ae60", "not_applicable": "#95a5a6"}
ICD10_MONTH = "2015-10"
TOP_RANGES = 15
ROLE_ORDER = ["claim_id", "procedure", "dx", "date", "date_format", "amount", "provider", "member"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .6rem 0; } td, th { padding: .2rem .6rem; border-bottom: 1px solid #eee; }
th { text-align: left; background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure.chart { margin: .8rem 0; } figure.chart svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .9rem; } .totals { font-size: 1.1rem; } code { font-size: .95em; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; } dt { font-weight: 600; }
"""


def check_available() -> None:
    """Raise OutputError when matplotlib is missing, so a run can say so before any work."""
    if importlib.util.find_spec("matplotlib") is None:
        raise OutputError(f"the HTML report needs the report extra ({install_hint('report')})")


def _figure_svg(draw: Callable[[Any], None], height: float, width: float = 9.0) -> str:
    """A chart as inline SVG: text stays text (no embedded glyphs), ids are stable from run to run."""
    import matplotlib
    from matplotlib.figure import Figure
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "codeindex", "font.size": 10}):
        figure = Figure(figsize=(width, height), layout="constrained")
        draw(figure.add_subplot())
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _bars(labels: Sequence[str], values: Sequence[float], color: str | Sequence[str], xlabel: str,
          money: bool = False) -> Callable[[Any], None]:
    def draw(axes: Any) -> None:
        positions = range(len(labels))
        axes.barh(positions, values, color=color)
        axes.set_yticks(list(positions), labels)
        axes.invert_yaxis()
        axes.set_xlabel(xlabel)
        axes.xaxis.set_major_formatter("${x:,.0f}" if money else "{x:,.0f}")
        for y, value in zip(positions, values, strict=True):
            axes.annotate(_money(value) if money else f"{value:,.0f}", (value, y), xytext=(3, 0),
                          textcoords="offset points", va="center", fontsize=9)
        axes.margins(x=0.15)
        axes.spines[["top", "right"]].set_visible(False)
    return draw


def _months(months: list[dict[str, Any]]) -> Callable[[Any], None]:
    """Screened determinations per month of service, stacked, with the ICD-9 and ICD-10 eras shaded."""
    def draw(axes: Any) -> None:
        labels = [m["month"] for m in months]
        positions = range(len(labels))
        bottom = [0] * len(labels)
        for name in ("not_covered", "review", "covered"):
            values = [m[name] for m in months]
            axes.bar(positions, values, bottom=bottom, color=COLORS[name], label=name, width=0.85)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        boundary = next((i for i, label in enumerate(labels) if label >= ICD10_MONTH), len(labels))
        top = max(bottom) if bottom and max(bottom) > 0 else 1
        if boundary > 0:
            axes.axvspan(-0.5, boundary - 0.5, color="#3498db", alpha=0.07)
            axes.text((boundary - 1) / 2, top * 1.05, "ICD-9 era", ha="center", color="#2c6c9b")
        if boundary < len(labels):
            axes.axvspan(boundary - 0.5, len(labels) - 0.5, color="#9b59b6", alpha=0.07)
            axes.text((boundary + len(labels) - 1) / 2, top * 1.05, "ICD-10 era", ha="center", color="#6c3483")
            axes.axvline(boundary - 0.5, color="#555", linestyle="--", linewidth=1)
        step = max(1, len(labels) // 16)
        axes.set_xticks(list(positions)[::step], labels[::step], rotation=45, ha="right")
        axes.set_ylim(0, top * 1.15)
        axes.set_ylabel("lines")
        axes.yaxis.set_major_formatter("{x:,.0f}")
        axes.legend(loc="upper left", frameon=False)
        axes.spines[["top", "right"]].set_visible(False)
    return draw


def _chart(chart_id: str, caption: str, draw: Callable[[Any], None], height: float) -> str:
    return (f'<figure class="chart" id="{chart_id}">{_figure_svg(draw, height)}'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{html.escape(str(v))}</td>' if i in numeric else f"<td>{html.escape(str(v))}</td>"
        for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _money(value: float | None) -> str:
    """An amount as money (claims are paid in dollars): $1,234.50."""
    return "-" if value is None else f"{'-' if value < 0 else ''}${abs(value):,.2f}"


def render_report(summary: dict[str, Any]) -> str:
    """The report of a screen's summary, as one HTML document."""
    check_available()
    e = html.escape
    policy, lines = summary["policy"], summary["lines"]
    counts, amount = summary["determinations"], summary["amount"]
    claims = summary.get("claims")
    parts = [f"<h1>Screen of {lines:,} claim lines against {e(policy['name'])}</h1>",
             f'<p class="totals">{lines:,} lines: ' + ", ".join(f"{counts[d]:,} {d}" for d in DETERMINATIONS)
             + (f"; on {claims['not_covered']:,} claims with a not_covered line and {claims['review']:,} with a "
                "review line" if claims else "")
             + (f", of {summary['members']['not_covered']:,} and {summary['members']['review']:,} members"
                if summary.get("members") else "")
             + (f". Amount at stake (not_covered and review lines): <b>{_money(amount['at_stake'])}</b>"
                if amount["column"] else "") + ".</p>"]

    parts.append("<h2>Determinations by month of service</h2>")
    dated = [m for m in summary["months"] if m["month"] is not None]
    if dated:
        parts.append(_chart("chart-months", "Lines the policy names, per month of service, by determination; "
                            "the ICD-9 and ICD-10 eras (from 2015-10-01) shaded.", _months(dated), 3.6))
    undated = sum(m[d] for m in summary["months"] if m["month"] is None for d in DETERMINATIONS)
    parts.append(_table(["era", *DETERMINATIONS, "lines"],
                        [[era, *(f"{c[d]:,}" for d in DETERMINATIONS), f"{sum(c.values()):,}"]
                         for era, c in summary["eras"].items()], numeric=range(1, 6)))
    if undated:
        parts.append(f"<p>{undated:,} lines have no readable date of service.</p>")

    parts.append("<h2>Amount at stake</h2>")
    if amount["column"]:
        by_det = amount["by_determination"]
        decided = [d for d in DETERMINATIONS if d != "not_applicable"]  # the lines the policy does not name are
        # most of the money and would flatten the rest: said in words, kept off the scale
        parts.append(_chart("chart-amount-determination", f"Sum of {amount['column']} by determination, on the lines "
                            f"the policy decides ({_money(by_det['not_applicable'])} more on not_applicable lines).",
                            _bars(decided, [by_det[d] for d in decided], [COLORS[d] for d in decided], "amount",
                                  money=True), 1.9))
        procedures = summary["top_procedures"]
        if procedures:
            parts.append(_chart("chart-amount-procedure", f"Sum of {amount['column']} on not_covered lines, "
                                "by procedure.", _bars([p["code"] for p in procedures],
                                                       [p["amount"] for p in procedures], COLORS["not_covered"],
                                                       "amount", money=True), 0.6 + 0.32 * len(procedures)))
    else:
        parts.append("<p>The input has no amount column.</p>")
    parts.append(_table(["procedure (not_covered lines)", "spellings", "lines", "amount"],
                        [[p["code"], ", ".join(p["spellings"]), f"{p['lines']:,}", _money(p["amount"])]
                         for p in summary["top_procedures"]], numeric=(2, 3)))

    if summary.get("top_providers") is not None:
        parts.append("<h2>Providers of the not_covered and review lines</h2>")
        parts.append(_table(["provider", "lines", "not_covered", "amount"],
                            [[p["provider"] or "(none)", f"{p['lines']:,}", f"{p['not_covered']:,}",
                              _money(p["amount"])] for p in summary["top_providers"]], numeric=(1, 2, 3))
                     if summary["top_providers"] else "<p>No line to act on.</p>")

    parts.append("<h2>Reason codes of not_covered lines</h2>")
    said = descriptions()
    parts.append(_table(["group", "CARC", "RARC", "what they say", "lines", "amount"],
                        [[c["group_code"], c["carc"], c["rarc"] or "",
                          "; ".join(filter(None, (said.get(f"CARC {c['carc']}"), said.get(f"RARC {c['rarc']}")))),
                          f"{c['lines']:,}", _money(c["amount"])] for c in summary.get("reason_codes", [])],
                        numeric=(4, 5))
                 if summary.get("reason_codes") else "<p>No line was denied.</p>")

    parts.append("<h2>Policy ranges by lines matched</h2>")
    ranges = summary["ranges"][:TOP_RANGES]
    if ranges:
        parts.append(_chart("chart-ranges", "Lines whose procedure or diagnosis lies in each policy range.",
                            _bars([f"{r['range']} ({r['kind']})" for r in ranges], [r["lines"] for r in ranges],
                                  "#2c6c9b", "lines"), 0.6 + 0.32 * len(ranges)))
    else:
        parts.append("<p>No line matched a policy range.</p>")

    parts.append("<h2>Top diagnoses on not_covered lines</h2>")
    parts.append(_table(["code", "system", "description", "lines", "written as"],
                        [[d["code"], d["system"], d["description"] or "", f"{d['lines']:,}",
                          ", ".join(d["spellings"])] for d in summary["top_diagnoses"]], numeric=(3,))
                 if summary["top_diagnoses"] else "<p>No matched diagnoses.</p>")

    parts.append("<h2>Edits</h2>")
    edits = summary["edits"]
    if edits:
        parts.append(_chart("chart-edits", "Lines flagged, by edit.",
                            _bars([x["edit"] for x in edits], [x["lines"] for x in edits], "#8e44ad", "lines"),
                            0.6 + 0.32 * len(edits)))
        for x in edits:
            paid = f", {_money(x['amount'])}" if x.get("amount") is not None else ""
            parts.append(f"<h3>{e(x['edit'])}: {x['lines']:,} lines{e(paid)}</h3>")
            parts.append(_table(["row", "claim", "procedure", "reason"],
                                [[f"{ex['row']:,}", ex["claim_id"], ex["procedure"] or "", ex["reason"]]
                                 for ex in x["examples"]], numeric=(0,)))
    else:
        parts.append("<p>No line was flagged.</p>")

    parts.append("<h2>Policy and input</h2>")
    facts = [("policy", f"{policy['name']}: {policy.get('title') or ''}"),
             ("policy revision", policy.get("revision")), ("policy effective", policy.get("effective")),
             ("policy source", policy.get("source")),
             ("policy fingerprint (SHA-256)", policy.get("fingerprint"))]
    facts += [("policy in the library", f"{each['name']}: {each.get('title') or ''}"
               + (f" (revision {each['revision']})" if each.get("revision") else ""))
              for each in policy.get("policies", [])]
    given = summary.get("input", {})
    for f in given.get("files", []):
        size = "" if f["bytes"] is None else f" ({f['bytes']:,} bytes, modified {f['modified']})"
        facts.append(("input file", f"{f['path']}{size}"))
    if given.get("layout"):
        facts.append(("layout", given["layout"]))
    roles = given.get("columns") or {}
    for role, column in sorted(roles.items(), key=lambda item: ROLE_ORDER.index(item[0]) if item[0] in ROLE_ORDER
                               else len(ROLE_ORDER)):
        label = "date format" if role == "date_format" else f"{role} column"
        facts.append((label, ", ".join(column) if isinstance(column, list) else column))
    if summary.get("output"):
        facts.append(("output", f"{summary['output']['path']} ({summary['output']['format']})"))
    if summary.get("elapsed_seconds"):
        facts.append(("screened in", f"{summary['elapsed_seconds']:,.2f} s"))
    parts.append("<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(str(v)) if v is not None else '-'}</dd>"
                                  for k, v in facts) + "</dl>")
    made = datetime.now().astimezone().isoformat(timespec="seconds")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<meta name=\"viewport\" content=\"width=device-width\"><title>codeindex screen: {e(policy['name'])}"
            f"</title><style>{_STYLE}</style></head><body>{''.join(parts)}"
            f"<footer><p>Made by codeindex on {e(made)}.</p></footer></body></html>\n")
