"""How charts stay legible from 2 to 20+ candidates: a colour per candidate that no other shares,
a marker per candidate on lines (two similar colours still differ in shape), bar panels that
widen with the number of bars, and one legend outside the panels once a panel legend would hide
the data.
"""

from __future__ import annotations

import math
from typing import Any

from harness.results import rundata as rd

MANY = 6  # more candidates than this: one shared legend outside the plots, steeper tick labels
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p")
PANEL_W, BAR_W, FIGURE_W = 3.4, 0.32, 14.2  # inches: a panel, one bar's share, the whole row


def _distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5)


def palette(n: int) -> list[str]:
    """n qualitative colours, as far apart as they can be: tab10 up to 10 (the colours small
    runs always had), then, one at a time, the colour of tab20/tab20b/tab20c farthest from all
    chosen so far (tab20 in order would pair near-equal light tones: light blue, light cyan)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex, to_rgb

    chosen = [to_rgb(colormaps["tab10"](i)) for i in range(min(n, 10))]
    pool = [to_rgb(colormaps[m](i)) for m in ("tab20", "tab20b", "tab20c") for i in range(20)]
    pool = [c for c in dict.fromkeys(pool) if c not in chosen and sum(c) / 3 < 0.85]
    while len(chosen) < n and pool:
        best = max(pool, key=lambda c: min(_distance(c, o) for o in chosen))
        chosen.append(best)
        pool.remove(best)
    hexes = [to_hex(c) for c in chosen]
    return [hexes[i % len(hexes)] for i in range(n)]


def spike_colors(run: dict[str, Any]) -> dict[str, str]:
    """One colour per candidate, the same in every chart (run order)."""
    names = rd.spike_names(run)
    return dict(zip(names, palette(len(names)), strict=True))


def spike_markers(run: dict[str, Any]) -> dict[str, str]:
    """One marker per candidate, the same in every line chart."""
    return {name: MARKERS[i % len(MARKERS)] for i, name in enumerate(rd.spike_names(run))}


def many(run: dict[str, Any]) -> bool:
    return len(rd.spike_names(run)) > MANY


def panel_geometry(panels: int, candidates: int) -> tuple[int, float]:
    """(columns, panel width in inches): a bar panel needs room for every candidate's bar and
    label, so panels widen with the candidates and fewer fit in a row."""
    width = max(PANEL_W, BAR_W * candidates + 1.0)
    cols = max(1, min(4, max(panels, 1), int(FIGURE_W // width)))
    return cols, width


def plain_log_axis(ax: Any) -> None:
    """A log y axis labelled 10, 20, 50, 100 … in plain numbers (not 4×10²), no minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def style_legend(ax: Any, entries: list[tuple[Any, str]]) -> None:
    """Legend swatches made of the bars themselves: one stripe per spike's colour, each stripe
    wide enough to see however many candidates there are."""
    from matplotlib.legend_handler import HandlerTuple

    stripes = max(len(h) if isinstance(h, tuple) else 1 for h, _ in entries)
    if stripes > MANY:  # headroom above the bars, so the legend sits on no bar
        low, high = ax.get_ylim()
        ax.set_ylim(low, low + (high - low) * 1.35)
    ax.legend(
        [handle for handle, _ in entries],
        [label for _, label in entries],
        handler_map={tuple: HandlerTuple(ndivide=None, pad=0)},
        handlelength=max(3.0, 0.4 * stripes),
        fontsize=7,
    )


def bar_labels(ax: Any, labels: list[str]) -> None:
    """Candidate names under bars, whole (never shortened: `django_ninja@gthread` and
    `django_ninja@granian` must stay apart), steeper when there are many."""
    steep = len(labels) > MANY
    ax.set_xticks(range(len(labels)), labels, rotation=60 if steep else 20, ha="right")
    if steep:
        ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="y", alpha=0.3)


def series_legend(ax: Any, run: dict[str, Any]) -> None:
    """A panel's own legend of its lines, while few enough not to hide them (see shared_legend)."""
    if not many(run):
        ax.legend(fontsize=7)


def shared_legend(fig: Any, run: dict[str, Any]) -> None:
    """With many candidates, one legend for all panels, right of them: every candidate drawn in
    some panel once, in run order."""
    if not many(run):
        return
    found: dict[str, Any] = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            found.setdefault(label, handle)
    order = [n for n in rd.spike_names(run) if n in found]
    if order:
        fig.legend(
            [found[n] for n in order],
            order,
            loc="outside right upper",
            fontsize=7,
            ncols=math.ceil(len(order) / 24),
            title="candidate",
            title_fontsize=7,
        )
