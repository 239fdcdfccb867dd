"""Report charts as inline SVG (matplotlib, no JavaScript, no CDN): the report opens offline.

Each chart is one <svg id="chart-…" class="chart"> with its internal ids prefixed, so several
charts can live in one HTML document without their clip paths and glyphs colliding.
"""

from __future__ import annotations

import io
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.decide.chart_style import (
    bar_labels,
    many,
    panel_geometry,
    plain_log_axis,
    series_legend,
    shared_legend,
    spike_colors,
    spike_markers,
    style_legend,
)
from harness.results import rundata as rd

__all__ = ["Chart", "all_charts", "spike_colors"]

MIB = 2**20
DB_COLOUR = "#a0a0a0"


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    caption: str
    svg: str


def to_svg(fig: Any, chart_id: str, title: str) -> str:
    """Serialise a figure, prefix its internal ids, and name the root <svg>."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{chart_id}-{m[1]}"', svg)
    svg = re.sub(
        r'(href="#|url\(#)([^")]+)',
        lambda m: f"{m[1]}{chart_id}-{m[2]}" if m[2] in ids else m[0],
        svg,
    )
    label = title.replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace(
        "<svg ", f'<svg id="{chart_id}" class="chart" role="img" aria-label="{label}" ', 1
    )


def _panels(
    n: int, rows_per: int = 1, height: float = 3.4, candidates: int = 1
) -> tuple[Any, list[list[Any]]]:
    """A figure with one column per scenario (at most 4 per row, fewer and wider with many
    candidates) and `rows_per` rows each."""
    from matplotlib.figure import Figure

    cols, width = panel_geometry(n, candidates)
    blocks = math.ceil(max(n, 1) / cols)
    fig = Figure(figsize=(width * cols + 0.6, height * rows_per * blocks), layout="constrained")
    axes = fig.subplots(rows_per * blocks, cols, squeeze=False)
    grid: list[list[Any]] = []
    for i in range(max(n, 1)):
        b, c = divmod(i, cols)
        grid.append([axes[b * rows_per + r][c] for r in range(rows_per)])
    for j in range(max(n, 1), blocks * cols):  # unused cells of the last row
        b, c = divmod(j, cols)
        for r in range(rows_per):
            axes[b * rows_per + r][c].set_visible(False)
    return fig, grid


def _no_data(ax: Any) -> None:
    ax.text(0.5, 0.5, "no valid trials", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _chart(
    run: dict[str, Any],
    chart_id: str,
    title: str,
    caption: str,
    draw: Callable[[Any, str, dict[str, str]], bool],
    rows_per: int = 1,
) -> Chart:
    from matplotlib import rc_context

    scenarios = rd.scenario_names(run)
    colors = spike_colors(run)
    with rc_context({"svg.hashsalt": chart_id, "svg.fonttype": "path", "font.size": 8}):
        fig, grid = _panels(len(scenarios), rows_per, candidates=len(colors))
        for cell, scenario in zip(grid, scenarios, strict=False):
            if not draw(cell, scenario, colors):
                for ax in cell:
                    _no_data(ax)
            cell[0].set_title(scenario)
        shared_legend(fig, run)
        svg = to_svg(fig, chart_id, title)
    return Chart(chart_id, title, caption, svg)


def throughput_chart(run: dict[str, Any]) -> Chart:
    def draw(cell: list[Any], scenario: str, colors: dict[str, str]) -> bool:
        ax = cell[0]
        names, means, lo, hi = [], [], [], []
        for spike in rd.spike_names(run):
            agg = rd.aggregate(run, spike, scenario)
            s = (agg or {}).get("metrics", {}).get("throughput_rps") or {}
            if s.get("mean") is None:
                continue
            ci = s.get("ci95") or [s["mean"], s["mean"]]
            names.append(spike)
            means.append(s["mean"])
            lo.append(max(s["mean"] - ci[0], 0.0))
            hi.append(max(ci[1] - s["mean"], 0.0))
        if not names:
            return False
        ax.bar(
            range(len(names)),
            means,
            yerr=[lo, hi],
            capsize=5,
            color=[colors[n] for n in names],
            error_kw={"elinewidth": 1.2},
        )
        bar_labels(ax, names)
        ax.set_ylabel("req/s (mean, 95% CI)")
        return True

    return _chart(
        run,
        "chart-throughput",
        "Throughput",
        f"The run's estimate of requests per second ({rd.estimator(run)}): the bar is the "
        "mean, the whiskers its 95% interval. No whisker: too few values for one.",
        draw,
    )


def latency_chart(run: dict[str, Any]) -> Chart:
    labels = ["p50", "p75", "p90", "p95", "p99", "p99.9"]
    markers = spike_markers(run)

    def draw(cell: list[Any], scenario: str, colors: dict[str, str]) -> bool:
        ax = cell[0]
        drawn = False
        for spike in rd.spike_names(run):
            ts = rd.trials(run, spike, scenario)
            ys = []
            for p in rd.PERCENTILES:
                vals = [v for t in ts if (v := t["metrics"]["latency_ms"].get(p)) is not None]
                ys.append(statistics.median(vals) if vals else math.nan)
            if all(math.isnan(y) for y in ys):
                continue
            ax.plot(labels, ys, marker=markers[spike], color=colors[spike], label=spike)
            drawn = True
        if drawn:
            plain_log_axis(ax)
            ax.set_ylabel("latency ms")
            ax.grid(alpha=0.3, which="both")
            series_legend(ax, run)
        return drawn

    return _chart(
        run,
        "chart-latency",
        "Latency percentiles",
        "Per spike, the latency at each percentile of its measured requests (the median over "
        "valid trials; an interleaved run pools every usable slice); log scale.",
        draw,
    )


def cpu_chart(run: dict[str, Any]) -> Chart:
    def draw(cell: list[Any], scenario: str, colors: dict[str, str]) -> bool:
        ax = cell[0]
        names, app, db = [], [], []
        for spike in rd.spike_names(run):
            a = rd.estimate(run, spike, scenario, "app_cpu_ms_per_request")
            if a is None:
                continue
            names.append(spike)
            app.append(a)
            db.append(rd.estimate(run, spike, scenario, "db_cpu_ms_per_request") or 0.0)
        if not names:
            return False
        x = range(len(names))
        own = ax.bar(x, app, color=[colors[n] for n in names])
        # one PostgreSQL serves every spike: one colour for it, so the legend can match it
        pg = ax.bar(x, db, bottom=app, color=DB_COLOUR, hatch="//", edgecolor="white")
        bar_labels(ax, names)
        ax.set_ylabel("CPU ms per request")
        style_legend(ax, [(tuple(own.patches), "app"), (pg.patches[0], "PostgreSQL")])
        return True

    return _chart(
        run,
        "chart-cpu",
        "CPU per request",
        "CPU time per measured request: the spike's processes (its colour) and PostgreSQL "
        "(grey, hatched), stacked; the run's estimate (see the summary table).",
        draw,
    )


def memory_chart(run: dict[str, Any]) -> Chart:
    def draw(cell: list[Any], scenario: str, colors: dict[str, str]) -> bool:
        ax = cell[0]
        names, idle, peak = [], [], []
        for spike in rd.spike_names(run):
            p = rd.estimate(run, spike, scenario, "peak_rss_bytes")
            if p is None:
                continue
            names.append(spike)
            peak.append(p / MIB)
            idle.append((rd.estimate(run, spike, scenario, "idle_rss_bytes") or 0.0) / MIB)
        if not names:
            return False
        w = 0.38
        xs = range(len(names))
        idle_bars = ax.bar(
            [x - w / 2 for x in xs],
            idle,
            w,
            color=[colors[n] for n in names],
            alpha=0.45,
            hatch="..",
        )
        peak_bars = ax.bar([x + w / 2 for x in xs], peak, w, color=[colors[n] for n in names])
        bar_labels(ax, names)
        ax.set_ylabel("RSS MiB")
        style_legend(ax, [(tuple(idle_bars.patches), "idle"), (tuple(peak_bars.patches), "peak")])
        return True

    return _chart(
        run,
        "chart-memory",
        "Memory",
        "Resident memory of the spike's process tree: idle before load (dotted) and the peak "
        "during the measured window (solid); the run's estimate.",
        draw,
    )


def full_seconds(
    trials: list[dict[str, Any]], total_s: float, key: str
) -> tuple[list[int], list[float], list[float], list[float]]:
    """Per whole second of the test, the median and range of `key` over the trials.

    The first second holds the spawn and the last one runs past the end: partial seconds,
    which would dip as if the server slowed down, are left out."""
    by_second: dict[int, list[float]] = {}
    for t in trials:
        for p in (t.get("metrics") or {}).get("timeseries") or []:
            sec, value = int(p["t"]), p.get(key)
            if value is None or sec < 1 or sec + 1 > total_s:
                continue
            by_second.setdefault(sec, []).append(float(value))
    xs = sorted(by_second)
    return (
        xs,
        [statistics.median(by_second[x]) for x in xs],
        [min(by_second[x]) for x in xs],
        [max(by_second[x]) for x in xs],
    )


def timeseries_chart(run: dict[str, Any]) -> Chart:
    cfg = run.get("config") or {}
    warmup = float(cfg.get("warmup_s") or 0.0)
    total = warmup + float(cfg.get("measure_s") or 0.0)
    markers, marked = spike_markers(run), many(run)

    def draw(cell: list[Any], scenario: str, colors: dict[str, str]) -> bool:
        top, bottom = cell
        drawn = False
        for spike in rd.spike_names(run):
            trials = rd.trials(run, spike, scenario)  # valid ones; else the invalid, dotted
            style = "-"
            if not trials:
                trials, style = rd.trials(run, spike, scenario, valid_only=False), ":"
            for ax, key in ((top, "rps"), (bottom, "p99_ms")):
                xs, mid, lo, hi = full_seconds(trials, total, key)
                if not xs:
                    continue
                label = spike if ax is top else None
                shape = {"marker": markers[spike], "markevery": max(1, len(xs) // 5), "ms": 4}
                ax.plot(xs, mid, style, color=colors[spike], label=label, lw=1.4,
                        **(shape if marked else {}))  # fmt: skip
                if len(trials) > 1:
                    ax.fill_between(xs, lo, hi, color=colors[spike], alpha=0.12, lw=0)
                drawn = True
        if drawn:
            for ax in (top, bottom):
                if warmup:
                    ax.axvspan(0, warmup, color="0.85", zorder=0)
                ax.set_xlim(0, total)
                ax.grid(alpha=0.3)
            top.set_ylabel("req/s")
            bottom.set_ylabel("p99 ms")
            bottom.set_xlabel("seconds (grey: warm-up)")
            series_legend(top, run)
        return drawn

    return _chart(
        run,
        "chart-timeseries",
        "Throughput and p99 over time",
        "Per whole second of the test, warm-up shaded: requests per second (top) and p99 "
        "latency (bottom). One line per spike, the median over its valid trials, with their "
        "range shaded; dotted: a spike with no valid trial (its invalid ones). The first and "
        "last seconds are partial and left out.",
        draw,
        rows_per=2,
    )


def probe_chart(run: dict[str, Any]) -> Chart | None:
    """The machine's speed over the run, from the probe between slices (interleaved runs)."""
    probes = [p for p in run.get("probes") or [] if p.get("speed")]
    if len(probes) < 2:
        return None
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    limit = float((run.get("config") or {}).get("machine_deviation") or 0.10)
    t0 = probes[0]["t"]
    xs = [(p["t"] - t0) / 60 for p in probes]
    ys = [p["speed"] for p in probes]
    with rc_context({"svg.hashsalt": "chart-probe", "svg.fonttype": "path", "font.size": 8}):
        fig = Figure(figsize=(9.0, 2.6), layout="constrained")
        ax = fig.subplots()
        ax.axhspan(1 / (1 + limit), 1 / (1 - limit), color="0.9", zorder=0)
        ax.plot(xs, ys, "-", color="#1f77b4", lw=1.0)
        out = [(x, y) for x, y in zip(xs, ys, strict=True) if abs(1 / y - 1) > limit]
        if out:
            ax.plot(*zip(*out, strict=True), "o", color="#d62728", ms=3, label="flagged")
            ax.legend(fontsize=7)
        ax.axhline(1.0, color="0.4", lw=0.8, ls="--")
        ax.set_xlabel("minutes since the first probe")
        ax.set_ylabel("speed (1 = run median)")
        ax.grid(alpha=0.3)
        svg = to_svg(fig, "chart-probe", "Machine speed over the run")
    return Chart(
        "chart-probe",
        "Machine speed over the run",
        "A fixed few-millisecond workload timed on the SUT CPUs between slices, as speed "
        "relative to the run's median (higher is faster). The grey band is the tolerance; "
        "slices next to a probe outside it (red) are flagged, and left out of the "
        "comparisons only where the run was asked to (--drop-flagged).",
        svg,
    )


def slices_chart(run: dict[str, Any]) -> Chart:
    """Interleaved runs: every slice's throughput and p99 over the run, one line per spike."""
    t0 = min((s["start"] for s in run.get("slices") or []), default=0.0)
    markers = spike_markers(run) if many(run) else {}

    def draw(cell: list[Any], scenario: str, colors: dict[str, str]) -> bool:
        top, bottom = cell
        drawn = False
        for spike in rd.spike_names(run):
            mine = [s for s in run.get("slices") or []
                    if s["scenario"] == scenario and s["spike"] == spike
                    and s.get("phase") is None]  # fmt: skip
            if not mine:
                continue
            xs = [(s["start"] - t0) / 60 for s in mine]
            line = {"color": colors[spike], "lw": 1.0, "ms": 3, "marker": markers.get(spike, ".")}
            top.plot(xs, [s["throughput_rps"] for s in mine], "-", label=spike, **line)
            bottom.plot(xs, [math.nan if s["p99_ms"] is None else s["p99_ms"] for s in mine],
                        "-", **line)  # fmt: skip
            drawn = True
        if drawn:
            for ax in (top, bottom):
                ax.grid(alpha=0.3)
            top.set_ylabel("req/s")
            bottom.set_ylabel("p99 ms")
            bottom.set_xlabel("minutes into the run")
            series_legend(top, run)
        return drawn

    return _chart(
        run,
        "chart-slices",
        "Throughput and p99 per slice",
        "Every measured slice of the interleaved run: requests per second (top) and p99 latency "
        "(bottom), one line per spike. Lines that rise and fall together are the machine; the "
        "paired comparisons cancel that.",
        draw,
        rows_per=2,
    )


def all_charts(run: dict[str, Any]) -> list[Chart]:
    over_time = slices_chart(run) if rd.design(run) == "interleaved" else timeseries_chart(run)
    charts = [
        throughput_chart(run),
        latency_chart(run),
        cpu_chart(run),
        memory_chart(run),
        over_time,
    ]
    probe = probe_chart(run)
    return [probe, *charts] if probe else charts
