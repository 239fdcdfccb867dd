"""The realtime scenario's figures: what the subscribers' tallies (realtime-<pid>.json, written by
scenarios/realtime_users.py at exit) and the spike's memory say about live updates.

Correctness is per event (every write's unique marker is checked at its subscriber), so `lost`
and `misdelivered` are counts, and anything but 0 is a contract failure, not a slow result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

GRACE_S = 2.5  # the harness waits this long after the last slice: late events still count
COUNTS = ("writes", "delivered", "lost", "unsettled", "misdelivered", "duplicates",
          "socket_errors")  # fmt: skip
HELD = ("subscribers", "sockets_peak", "sockets_open")


def read_tallies(raw_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every Locust process's tally below the trial's folder (each epoch has its own folder)."""
    out = []
    for path in sorted(raw_dir.rglob("realtime-*.json")):
        try:
            out.append((path.parent, dict(json.loads(path.read_text()))))
        except (OSError, ValueError):
            continue
    return out


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def realtime_figures(raw_dir: Path, idle_rss: int, peak_rss: int) -> dict[str, Any] | None:
    """One trial's live-update figures, or None where no Locust process left a tally."""
    found = read_tallies(raw_dir)
    if not found:
        return None
    tallies = [t for _, t in found]
    out: dict[str, Any] = {k: sum(int(t.get(k, 0)) for t in tallies) for k in COUNTS}
    # sockets: summed over one epoch's Locust processes, the largest epoch (each reconnects)
    for key in HELD:
        per_epoch: dict[Path, int] = {}
        for folder, t in found:
            per_epoch[folder] = per_epoch.get(folder, 0) + int(t.get(key, 0))
        out[key] = max(per_epoch.values())
    delivery = [v for t in tallies for v in t.get("delivery_ms", [])]
    from_send = [v for t in tallies for v in t.get("delivery_from_send_ms", [])]
    out.update(
        {
            "delivery_p50_ms": _pct(delivery, 50),
            "delivery_p99_ms": _pct(delivery, 99),
            "delivery_max_ms": _pct(delivery, 100),
            "delivery_from_send_p50_ms": _pct(from_send, 50),
            "delivery_from_send_p99_ms": _pct(from_send, 99),
            "rss_delta_bytes": max(peak_rss - idle_rss, 0),
            "memory_per_socket_bytes": (
                round(max(peak_rss - idle_rss, 0) / out["sockets_peak"])
                if out["sockets_peak"]
                else None
            ),
        }
    )
    out["correct"] = out["lost"] == 0 and out["misdelivered"] == 0 and out["duplicates"] == 0
    return out


def summary_line(name: str, fig: dict[str, Any]) -> str:
    """One line for the console: the figures a reader checks first."""

    def ms(v: float | None) -> str:
        return "–" if v is None else f"{v:.1f} ms"

    per_socket = fig.get("memory_per_socket_bytes")
    return (
        f"{name}: {fig['sockets_peak']}/{fig['subscribers']} sockets held, "
        f"{fig['delivered']}/{fig['writes']} events delivered "
        f"(p50 {ms(fig['delivery_p50_ms'])}, p99 {ms(fig['delivery_p99_ms'])} after the answer), "
        f"{fig['lost']} lost, {fig['misdelivered']} misdelivered, {fig['duplicates']} duplicated, "
        + ("memory/socket –" if per_socket is None else f"{per_socket / 1024:.0f} KiB/socket")
    )


def report_realtime(progress: Any, trials: list[dict[str, Any]], scenario: str) -> None:
    """Each candidate's figures after the scenario; a lost or misdelivered event warns."""
    for t in trials:
        fig = t.get("realtime") if t["scenario"] == scenario else None
        if fig:
            line = f"{scenario} {summary_line(t['spike'], fig)}"
            if fig["correct"]:
                progress.message(line)
            else:
                progress.warn(f"{line}: events lost, misdelivered or duplicated")
