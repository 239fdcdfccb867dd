"""report.html in a real browser: headless Chromium draws every chart, offline.

Two looks: --dump-dom of a copy with a small probe script (the shipped report has no script)
that measures each chart's rendered box and its drawn paths; and a screenshot whose pixels must
show the charts' colours, not a blank page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.decide.charts import spike_colors
from harness.decide.documents import write_documents
from tests.rundata_support import copy_data, load_data

CHART_IDS = ("chart-throughput", "chart-latency", "chart-cpu", "chart-memory", "chart-timeseries")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--hide-scrollbars",
]
PROBE = """<script>
window.addEventListener('load', () => {
  const out = {};
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect();
    let drawn = 0;
    for (const p of svg.querySelectorAll('path')) {
      const b = p.getBBox();
      if (b.width > 0 || b.height > 0) drawn++;
    }
    out[svg.id] = {width: box.width, height: box.height, drawn: drawn};
  }
  out.headings = [...document.querySelectorAll('h2')].map(
    h => ({text: h.textContent, top: h.getBoundingClientRect().top + window.scrollY}));
  const lead = document.querySelector('h2 + p');
  out.lead = lead ? {text: lead.textContent, top: lead.getBoundingClientRect().top} : null;
  out.links = [...document.querySelectorAll('a')].map(a => a.getAttribute('href'));
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("chromium missing in CI: `make browser` installs it (apt-get install chromium)")
    pytest.skip("chromium is not installed (make browser, or apt-get install chromium)")


def run_chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def probe_dom(report: Path, script: str, tmp: Path) -> Any:
    """What a probe <script> wrote into <pre id="probe"> once headless Chromium laid it out."""
    probed = tmp / "probed.html"
    probed.write_text(report.read_text().replace("</body>", script + "\n</body>"))
    done = run_chromium(
        ["--dump-dom", "--virtual-time-budget=5000", "--window-size=1280,2000", probed.as_uri()],
        tmp,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    m = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert m, f"probe did not run; DOM starts {done.stdout[:500]!r}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def pixels_near(counts: dict[tuple[int, ...], int], hex_colour: str, tolerance: int = 6) -> int:
    """Pixels of a screenshot within `tolerance` of a chart colour, per channel."""
    rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return sum(
        n
        for c, n in counts.items()
        if max(abs(a - b) for a, b in zip(c, rgb, strict=True)) <= tolerance
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = copy_data(tmp_path_factory.mktemp("browser") / "run")
    written, problems = write_documents(folder)  # as bench ends: score, then the report
    assert problems == []
    return folder / "report.html"


def test_charts_render_with_size_and_drawn_paths(report: Path, tmp_path: Path) -> None:
    boxes = probe_dom(report, PROBE, tmp_path)
    headings, lead, links = boxes.pop("headings"), boxes.pop("lead"), boxes.pop("links")
    assert set(boxes) == set(CHART_IDS)
    # the decision comes first, on the first screen, above every chart and table of evidence
    assert headings[0]["text"] == "Decision", headings
    assert lead and lead["text"].startswith("Recommended: ") and lead["top"] < 600, lead
    assert all(h["top"] > headings[0]["top"] for h in headings[1:])
    assert {"decision.md", "score.json"} <= set(links)
    for chart, box in boxes.items():
        assert box["width"] > 300 and box["height"] > 150, (chart, box)
        assert box["drawn"] > 20, (chart, box)


def test_screenshot_is_not_blank_and_shows_each_spike(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    done = run_chromium(
        [f"--screenshot={shot}", "--window-size=1280,6000", report.as_uri()], tmp_path
    )
    assert shot.exists(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 6000)
    colors = image.getcolors(maxcolors=1 << 22) or []
    assert len(colors) > 100  # text, tables, bars, lines: not a blank or a single-colour page
    counts = {rgb: n for n, rgb in colors}
    total = image.size[0] * image.size[1]
    assert 1 - counts.get((255, 255, 255), 0) / total > 0.03  # enough ink on the page
    for spike, hex_colour in spike_colors(load_data()).items():
        near = pixels_near(counts, hex_colour)
        assert near > 2000, f"{spike}'s colour {hex_colour} barely on screen ({near} px)"
