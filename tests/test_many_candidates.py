"""Fourteen candidates, long variant names among them (`django_ninja@gthread`): every chart,
report, compare and score path must stay readable, as it will once `--spikes all` covers the
spikes being written now. Synthetic data: the committed run widened (tests/rundata_support.py)."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.decide import chart_style, charts
from harness.decide.compare import compare_runs, render
from harness.decide.documents import write_documents
from harness.results import rundata as rd
from tests.rundata_support import MANY, many_candidates, scale_metric, variant, write_run
from tests.test_charts import figure_of, rendered

BASES = sorted({n.split("@")[0] for n in MANY})
CRITERIA = """
[shortlist]
candidates = ["django", "fastapi", "flask", "litestar"]

[weights]
ease_of_development = 0.3
performance = 0.2
ecosystem = 0.2
team_fit = 0.2
operational_overhead = 0.1

[scenarios]
read_heavy = 0.5
auth_storm = 0.5
""" + "".join(
    f"""
[frameworks.{name}]
ease_of_development = {{ score = {1 + i % 5}, rationale = "synthetic" }}
ecosystem = {{ score = 3, rationale = "synthetic" }}
team_fit = {{ score = 3, rationale = "synthetic" }}
"""
    for i, name in enumerate(BASES)
)
MAX_COLUMNS = 13  # a table wider than this no longer fits a page, however many candidates


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    return many_candidates()


def rgb(hex_colour: str) -> tuple[float, ...]:
    return tuple(int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))


@pytest.mark.parametrize("n", [2, 10, 14, 16, 20])
def test_palette_stays_distinct_for_many_series(n: int) -> None:
    colours = chart_style.palette(n)
    assert len(set(colours)) == n
    closest = min(
        sum((x - y) ** 2 for x, y in zip(rgb(a), rgb(b), strict=True)) ** 0.5
        for a, b in itertools.combinations(colours, 2)
    )
    assert closest > 0.2, f"two of {n} colours nearly equal ({closest:.3f})"


def test_small_runs_keep_their_colours() -> None:
    assert chart_style.palette(4) == ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]  # tab10


def test_every_candidate_has_its_own_colour_and_marker(run: dict[str, Any]) -> None:
    colours, markers = charts.spike_colors(run), chart_style.spike_markers(run)
    assert list(colours) == list(MANY)
    assert len(set(colours.values())) == len(MANY)
    assert set(markers) == set(MANY)


def boxes_overlap(a: Any, b: Any) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize(
    "make", [charts.latency_chart, charts.timeseries_chart], ids=lambda f: f.__name__
)
def test_line_charts_share_one_legend_outside_the_plots(
    run: dict[str, Any], make: Callable[[dict[str, Any]], charts.Chart], monkeypatch: Any
) -> None:
    fig = figure_of(make, run, monkeypatch)
    renderer, _ = rendered(fig)
    assert len(fig.legends) == 1, "one shared legend"
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == list(MANY)
    box = legend.get_window_extent(renderer)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    for ax in panels:
        assert ax.get_legend() is None, f"{ax.get_title()}: a panel legend over the lines"
        assert not boxes_overlap(box, ax.get_window_extent(renderer)), "legend over a panel"
        colours = [line.get_color() for line in ax.lines if line.get_label() in MANY]
        assert len(colours) == len(set(colours)), f"{ax.get_title()}: two lines, one colour"
    assert box.x1 <= fig.bbox.x1 + 1, "legend cut off at the figure's edge"


@pytest.mark.parametrize(
    "make",
    [charts.throughput_chart, charts.cpu_chart, charts.memory_chart],
    ids=lambda f: f.__name__,
)
def test_bar_labels_are_whole_names_that_do_not_collide(
    run: dict[str, Any], make: Callable[[dict[str, Any]], charts.Chart], monkeypatch: Any
) -> None:
    fig = figure_of(make, run, monkeypatch)
    renderer, _ = rendered(fig)
    checked = 0
    for ax in fig.axes:
        if not ax.get_visible() or not ax.patches:
            continue
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        assert [t.get_text() for t in labels] == list(MANY), "names shortened or missing"
        # parallel rotated names: apart by tick spacing x sin(angle) across their baselines,
        # which must exceed the glyph height or one name prints over the next
        xs = [ax.transData.transform((x, 0))[0] for x in ax.get_xticks()]
        for label, (a, b) in zip(labels, itertools.pairwise(xs), strict=False):
            across = (b - a) * math.sin(math.radians(label.get_rotation()))
            glyphs = label.get_fontsize() * fig.dpi / 72
            assert across > glyphs, f"{label.get_text()}: {across:.1f} px apart < {glyphs:.1f}"
        for legend in filter(None, [ax.get_legend()]):
            assert len(legend.get_texts()) <= chart_style.MANY
            bars = [p.get_window_extent(renderer) for p in ax.patches if p.get_height() > 0]
            lbox = legend.get_window_extent(renderer)
            assert not any(boxes_overlap(lbox, b) for b in bars), "legend on a bar"
        checked += 1
    assert checked == len(rd.scenario_names(run))


def table_widths(markdown: str) -> list[int]:
    return [line.count("|") - 1 for line in markdown.splitlines() if line.startswith("|")]


@pytest.fixture(scope="module")
def documents(run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_run(run, tmp_path_factory.mktemp("many") / "run")
    criteria = folder.parent / "decision.toml"
    criteria.write_text(CRITERIA)
    written, problems = write_documents(folder, criteria)
    assert problems == []
    assert {p.name for p in written} == {"decision.md", "score.json", "report.md", "report.html"}
    return folder


def test_report_tables_stay_narrow_and_name_every_candidate(documents: Path) -> None:
    md = (documents / "report.md").read_text()
    widths = table_widths(md)
    assert widths and max(widths) <= MAX_COLUMNS, f"a table with {max(widths)} columns"
    parity = md[md.index("## Parity") : md.index("## Environment")]
    for name in MANY:
        assert re.search(rf"^\| {re.escape(name)} \|", parity, re.M), f"{name}: no parity row"
    page = (documents / "report.html").read_text()
    assert page.count('<div class="table"><table>') == page.count("<table>")  # scroll, not page
    for name in MANY:
        assert f"<td>{name}</td>" in page


def test_decision_record_weighs_all_and_names_the_shortlist(documents: Path) -> None:
    record = (documents / "decision.md").read_text()
    ranking = record[record.index("| rank | option |") :].split("\n\n")[0]
    rows = [line for line in ranking.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert sorted(r.split(" | ")[1] for r in rows) == sorted(MANY)
    assert set(table_widths(ranking)) == {8}
    assert "On the shortlist (`decision.toml` [shortlist]): `django`, `fastapi`, `flask`, " \
        "`litestar`." in record  # fmt: skip
    beyond = record[record.index("Measured beyond it:") :].split(".")[0]
    assert {n.strip("` ") for n in beyond.split(":")[1].split(",")} == set(MANY) - {
        "django", "fastapi", "flask", "litestar",
    }  # fmt: skip


def test_compare_lists_significant_changes_first_in_a_fixed_width_table(
    run: dict[str, Any],
) -> None:
    slowed = variant(run, scale_metric(("throughput_rps",), 0.7), spike="django_ninja@gthread")
    rows = compare_runs(run, slowed)
    text = render(run, slowed, rows, [], 0.05, 0.05, None)
    assert set(table_widths(text)) <= {7, 8}
    first = text[text.index("### Significant changes") : text.index("### read_heavy")]
    assert "django_ninja@gthread | throughput" in first
    assert {r.spike for r in rows} == set(MANY)


def test_terminal_summary_keeps_every_name_whole(run: dict[str, Any]) -> None:
    from rich.console import Console

    from harness.cli import print_summary

    console = Console(width=120, record=True, color_system=None)
    print_summary(console, run)
    text = console.export_text()
    for name in MANY:
        assert len(re.findall(rf"│ {re.escape(name)} +│", text)) == 2, f"{name} cut or wrapped"


@pytest.fixture(scope="module")
def interleaved() -> dict[str, Any]:
    """The 14 candidates as an interleaved run: synthetic slices at known rates (the builder of
    tests/test_interleaved_readers.py, fed the widened run)."""
    from tests import test_interleaved_readers as tir

    rates = {sc: {n: 100.0 + 10 * i for i, n in enumerate(MANY)} for sc in ("read_heavy",)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tir, "load_data", many_candidates)
        return tir.interleaved_run(rates)


def test_interleaved_paths_stay_legible(interleaved: dict[str, Any], monkeypatch: Any) -> None:
    from rich.console import Console

    from harness.cli import print_summary
    from harness.decide.report import build, render_md

    fig = figure_of(charts.slices_chart, interleaved, monkeypatch)
    rendered(fig)
    assert len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(MANY)
    for ax in fig.axes:
        colours = [line.get_color() for line in ax.lines]
        assert len(colours) == len(set(colours)), f"{ax.get_title()}: two lines, one colour"
    md = render_md(build(interleaved, charts=[]))
    assert "vs best [95% CI]" in md and max(table_widths(md)) <= MAX_COLUMNS
    console = Console(width=140, record=True, color_system=None)
    print_summary(console, interleaved)
    text = console.export_text()
    for name in MANY:
        assert len(re.findall(rf"│ {re.escape(name)} +│", text)) == 1, f"{name} cut or wrapped"
