"""The HTML report, opened in a real headless Chromium (Debian's; ``.ci/run`` installs it): no console errors,
nothing fetched, every chart drawn where it stands, and the output's totals in its text."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from browser import CHROMIUM, Page
from PIL import Image

from codeindex.policy import load_policy
from codeindex.report import render_report
from codeindex.screen import screen
from codeindex.screen.summary import summarize

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_claims.parquet"
CHARTS = ["chart-months", "chart-amount-determination", "chart-amount-procedure", "chart-ranges", "chart-edits"]

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                    reason="headless Chromium is not installed (.ci/run installs it)")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codeindex.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=180, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("report")
    out, html, summary = folder / "out.parquet", folder / "screen-report.html", folder / "summary.json"
    result = run("screen", SAMPLE, "-o", out, "--report", html, "--summary-json", summary)
    assert result.returncode == 0, result.stderr
    again = run("report", out, "-o", folder / "report.html")
    assert again.returncode == 0, again.stderr
    return {"out": out, "html": folder / "report.html", "screen_html": html, "summary": summary, "folder": folder}


def test_report_is_self_contained(report: dict[str, Path]) -> None:
    text = report["html"].read_text()
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", text, re.IGNORECASE)
    assert "@import" not in text and not re.search(r"url\(\s*[^#\s]", text)  # url(#id) is the page itself
    assert "default-src 'none'" in text  # the page may fetch nothing at all
    for chart in CHARTS:
        assert f'id="{chart}"' in text
    # The report of the screen and the report of its output differ only in the run's own facts.
    screened = report["screen_html"].read_text()
    strip = re.compile(r"<dt>screened in</dt><dd>[^<]*</dd>|Made by codeindex on [^.]*\.")
    assert strip.sub("", screened) == strip.sub("", text)


@needs_chromium
def test_report_renders_in_headless_chromium(report: dict[str, Path]) -> None:
    summary = json.loads(report["summary"].read_text())
    with Page(report["html"].as_uri()) as page:
        regions = page.evaluate("""JSON.stringify([...document.querySelectorAll('figure.chart')].map(f => {
            const r = f.querySelector('svg').getBoundingClientRect();
            return {id: f.id, x: r.x + scrollX, y: r.y + scrollY, w: r.width, h: r.height}; }))""")
        text = page.evaluate("document.body.innerText")
        png = page.screenshot()
        assert page.errors == []
        assert page.requests == [report["html"].as_uri()]  # the page itself, nothing else
    (report["folder"] / "report.png").write_bytes(png)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    charts = json.loads(regions)
    assert [c["id"] for c in charts] == CHARTS
    for chart in charts:
        assert chart["w"] > 300 and chart["h"] > 100, chart
        crop = image.crop((int(chart["x"]), int(chart["y"]), int(chart["x"] + chart["w"]),
                           int(chart["y"] + chart["h"])))
        counts = crop.getcolors(crop.width * crop.height)  # (pixels, color) per distinct color
        inked = sum(n for n, color in counts if sum(color) < 600) / (crop.width * crop.height)
        assert inked > 0.01 and len(counts) > 8, (chart["id"], inked, len(counts))  # drawn, not a blank box
    assert "10,000 lines: 297 not_covered, 0 review, 0 covered, 9,703 not_applicable" in text
    assert summary["amount"]["at_stake"] == 57_709.90 and "57,709.90" in text
    for edit in summary["edits"]:
        assert f"{edit['edit']}: {edit['lines']:,} lines" in text
    assert "Injury to sacral nerve root" in text and "953.3" in text
    assert "ICD-9 era" in text and "ICD-10 era" in text
    assert summary["policy"]["fingerprint"] in text


def test_hostile_text_is_escaped() -> None:
    frame = pl.DataFrame({"claim_id": ["<b>x</b>"], "procedure_code": ["<script>alert(1)</script>"],
                          "dx1": ["800.00"], "service_date": ["2012-01-05"]})
    summary = summarize(screen(frame), load_policy("0198"), {"procedure": "procedure_code", "claim_id": "claim_id",
                        "date": "service_date"})
    page = render_report(summary)
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>x</b>" not in page
