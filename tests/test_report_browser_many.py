"""report.html of 14 candidates in headless Chromium: the page never scrolls sideways (wide tables
scroll inside their own box), every chart fits the page, and every candidate's colour is drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.decide.charts import spike_colors
from harness.decide.documents import write_documents
from tests.rundata_support import many_candidates, write_run
from tests.test_many_candidates import CRITERIA
from tests.test_report_browser import pixels_near, probe_dom, run_chromium

PROBE = """<script>
window.addEventListener('load', () => {
  const out = {page: document.documentElement.scrollWidth, view: window.innerWidth,
               body: document.body.getBoundingClientRect().width, charts: {}, tables: []};
  for (const svg of document.querySelectorAll('svg.chart')) {
    const b = svg.getBoundingClientRect();
    out.charts[svg.id] = {width: b.width, height: b.height};
  }
  for (const t of document.querySelectorAll('div.table')) {
    out.tables.push(t.getBoundingClientRect().width);
  }
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_run(many_candidates(), tmp_path_factory.mktemp("browser-many") / "run")
    criteria = folder.parent / "decision.toml"
    criteria.write_text(CRITERIA)
    assert write_documents(folder, criteria)[1] == []
    return folder / "report.html"


def test_fourteen_candidates_fit_the_page(report: Path, tmp_path: Path) -> None:
    seen = probe_dom(report, PROBE, tmp_path)
    assert seen["page"] <= seen["view"], f"the page scrolls sideways: {seen['page']} px"
    assert len(seen["charts"]) == 5
    for chart, box in seen["charts"].items():
        assert 300 < box["width"] <= seen["body"] + 1 and box["height"] > 150, (chart, box)
    assert seen["tables"] and max(seen["tables"]) <= seen["body"] + 1


def test_every_candidate_colour_is_on_screen(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    shot = tmp_path / "shot.png"
    run_chromium([f"--screenshot={shot}", "--window-size=1280,9000", report.as_uri()], tmp_path)
    assert shot.exists()
    counts = {rgb: n for n, rgb in Image.open(shot).convert("RGB").getcolors(1 << 22) or []}
    for spike, hex_colour in spike_colors(many_candidates()).items():
        near = pixels_near(counts, hex_colour)
        assert near > 300, f"{spike}'s colour {hex_colour} barely on screen ({near} px)"
