"""Read-side helpers over a loaded run.json, shared by report, compare and score.

They only look things up: every number here was measured by `bench` and stored in the file;
nothing is rerun or re-derived from a live system.
"""

from __future__ import annotations

import statistics
from typing import Any

# metric name → (path inside a trial's metrics, True when higher is better)
METRICS: dict[str, tuple[tuple[str, ...], bool]] = {
    "throughput_rps": (("throughput_rps",), True),
    "p50_ms": (("latency_ms", "p50"), False),
    "p99_ms": (("latency_ms", "p99"), False),
    "app_cpu_ms_per_request": (("cpu", "app_ms_per_request"), False),
    "db_cpu_ms_per_request": (("cpu", "db_ms_per_request"), False),
    "peak_rss_bytes": (("memory", "peak_rss_bytes"), False),
    "idle_rss_bytes": (("memory", "idle_rss_bytes"), False),
    "startup_seconds": (("startup_seconds",), False),
}
PERCENTILES = ("p50", "p75", "p90", "p95", "p99", "p99_9")


def dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def spike_names(run: dict[str, Any]) -> list[str]:
    """Spikes in the order the run lists them (manifest order), then any only seen in trials."""
    names = list(run.get("spikes") or {})
    for t in run.get("trials", []):
        if t["spike"] not in names:
            names.append(t["spike"])
    return names


def scenario_names(run: dict[str, Any]) -> list[str]:
    names = list(run.get("scenarios") or {})
    for t in run.get("trials", []):
        if t["scenario"] not in names:
            names.append(t["scenario"])
    return names


def trials(
    run: dict[str, Any], spike: str, scenario: str | None = None, valid_only: bool = True
) -> list[dict[str, Any]]:
    return [
        t
        for t in run.get("trials", [])
        if t["spike"] == spike
        and (scenario is None or t["scenario"] == scenario)
        and (t["valid"] or not valid_only)
        and (t.get("metrics") is not None or not valid_only)
    ]


def values(run: dict[str, Any], spike: str, scenario: str | None, metric: str) -> list[float]:
    """Per valid trial, one value of the metric (trials that lack it are skipped)."""
    path = METRICS[metric][0]
    out = []
    for t in trials(run, spike, scenario):
        v = dig(t["metrics"], path)
        if isinstance(v, int | float):
            out.append(float(v))
    return out


def median(run: dict[str, Any], spike: str, scenario: str | None, metric: str) -> float | None:
    vals = values(run, spike, scenario, metric)
    return statistics.median(vals) if vals else None


def aggregate(run: dict[str, Any], spike: str, scenario: str) -> dict[str, Any] | None:
    for agg in run.get("aggregates", []):
        if agg["spike"] == spike and agg["scenario"] == scenario:
            return dict(agg)
    return None


def peak_rss(run: dict[str, Any], spike: str) -> float | None:
    """The worst scenario's median peak RSS: what the spike needs provisioned."""
    meds = [
        m
        for sc in scenario_names(run)
        if (m := median(run, spike, sc, "peak_rss_bytes")) is not None
    ]
    return max(meds) if meds else None


def inspection(run: dict[str, Any], spike: str) -> dict[str, Any]:
    return dict((run.get("inspection") or {}).get(spike) or {})


def dependency_count(run: dict[str, Any], spike: str) -> int | None:
    """Installed distributions: from inspection, else from the packages recorded per spike."""
    n = inspection(run, spike).get("total_dependencies")
    if n is None:
        packages = ((run.get("spikes") or {}).get(spike) or {}).get("packages")
        n = len(packages) if packages else None
    return n


def image_size(run: dict[str, Any], spike: str) -> int | None:
    """Container image size, when the run used containers and recorded it."""
    size = inspection(run, spike).get("image_size_bytes")
    if size is None:
        env = ((run.get("spikes") or {}).get(spike) or {}).get("environment") or {}
        size = env.get("image_size_bytes")
    return size


def make_command(run: dict[str, Any]) -> str:
    """The `make bench` command that repeats this run's matrix and settings."""
    cfg = run.get("config") or {}
    # the runtime the run used, not the one asked for: `auto` may pick another on another day
    runtime = (run.get("runtime") or {}).get("kind") or cfg.get("runtime") or "auto"
    spikes = " ".join(cfg.get("spikes") or spike_names(run))
    scenarios = " ".join(cfg.get("scenarios") or scenario_names(run))
    args = []
    if cfg.get("warmup_s") is not None:
        args.append(f"--warmup {cfg['warmup_s']:g}")
    if cfg.get("measure_s") is not None:
        args.append(f"--duration {cfg['measure_s']:g}")
    if cfg.get("users"):
        args.append(f"--users {cfg['users']}")
    if cfg.get("seed_users") not in (None, 1000):
        args.append(f"--seed-users {cfg['seed_users']}")
    if cfg.get("seed_items") not in (None, 100):
        args.append(f"--seed-items {cfg['seed_items']}")
    parts = [
        "make bench",
        f'SPIKES="{spikes}"',
        f'SCENARIOS="{scenarios}"',
        f"TRIALS={cfg.get('trials', 3)}",
        f"RUNTIME={runtime}",
    ]
    if args:
        parts.append(f'ARGS="{" ".join(args)}"')
    return " ".join(parts)
