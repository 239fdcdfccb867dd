"""Charts read as a team lead reads them: milliseconds in plain numbers, legend swatches in the
colours of the bars they name, per-second lines without the partial first and last second, and
few enough lines per panel to follow one spike."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from harness.decide import charts
from harness.results import rundata as rd
from tests.rundata_support import load_data


def figure_of(
    make: Callable[[dict[str, Any]], charts.Chart],
    run: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """The matplotlib figure a chart function drew (captured on its way to SVG)."""
    seen: list[Any] = []
    real = charts.to_svg

    def keep(fig: Any, chart_id: str, title: str) -> str:
        seen.append(fig)
        return real(fig, chart_id, title)

    monkeypatch.setattr(charts, "to_svg", keep)
    make(run)
    assert len(seen) == 1
    return seen[0]


def rendered(fig: Any) -> tuple[Any, np.ndarray]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer(), np.asarray(canvas.buffer_rgba())[:, :, :3]


def test_latency_axis_reads_plain_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    fig = figure_of(charts.latency_chart, load_data(), monkeypatch)
    rendered(fig)
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.lines]
    assert axes
    for ax in axes:
        labels = [t.get_text() for t in ax.get_yticklabels(minor=False)]
        labels += [t.get_text() for t in ax.get_yticklabels(minor=True)]
        shown = [s for s in labels if s]
        assert shown, "no y tick labels"
        for text in shown:
            assert re.fullmatch(r"\d+(\.\d+)?", text), f"tick label {text!r} is not plain ms"


def colours_in(pixels: np.ndarray, hex_colour: str, tolerance: int = 8) -> int:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels.astype(int) - rgb).max(axis=2) <= tolerance).sum())


@pytest.mark.parametrize(
    ("make", "metric"),
    [(charts.cpu_chart, "app_cpu_ms_per_request"), (charts.memory_chart, "peak_rss_bytes")],
    ids=["cpu", "memory"],
)
def test_legend_swatches_match_the_bars(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[dict[str, Any]], charts.Chart], metric: str
) -> None:
    run = load_data()
    fig = figure_of(make, run, monkeypatch)
    renderer, pixels = rendered(fig)
    height = pixels.shape[0]
    bar_colours = charts.spike_colors(run)
    checked = 0
    for ax in fig.axes:
        legend = ax.get_legend()
        if not ax.get_visible() or legend is None:
            continue
        box = legend.get_window_extent(renderer)
        crop = pixels[int(height - box.y1) : int(height - box.y0), int(box.x0) : int(box.x1)]
        # every spike whose bar is in this panel has its colour in the legend's swatches
        drawn = {
            spike
            for spike in rd.spike_names(run)
            if rd.median(run, spike, ax.get_title(), metric) is not None
        }
        for spike in drawn:
            assert colours_in(crop, bar_colours[spike]) > 3, (ax.get_title(), spike)
        checked += 1
    assert checked


def test_per_second_panels_leave_out_partial_seconds_and_stay_legible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = load_data()
    fig = figure_of(charts.timeseries_chart, run, monkeypatch)
    cfg = run["config"]
    total = cfg["warmup_s"] + cfg["measure_s"]
    spikes = len(rd.spike_names(run))
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.lines]
    assert panels
    for ax in panels:
        assert len(ax.lines) <= spikes, f"{len(ax.lines)} lines in one panel"
        for line in ax.lines:
            xs = [float(x) for x in line.get_xdata()]
            assert xs, "empty line"
            assert min(xs) >= 1, f"first (partial) second plotted: {xs[:3]}"
            assert max(xs) + 1 <= total, f"last (partial) second plotted: {xs[-3:]}"
