"""`spikebench soak` / `make soak`: one or more spikes at a fixed offered rate for a long time.

Leaks and slow degradation do not show in minutes-long benchmarks. A soak runs the open model
at a fixed rate (given, or a fraction of the capacity a earlier run measured) for `--minutes`,
in one-minute-ish slices, and fits straight lines to the spike's peak RSS and to p99 over time
(scipy's linregress): memory growth in MiB/min and latency drift in ms/min, with their standard
errors, and the errors over the whole soak. It is the interleaved engine with one long scenario.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scipy import stats as sps

from harness.errors import ConfigError

MIB = 2**20


def fit(xs: list[float], ys: list[float]) -> dict[str, float] | None:
    if len(xs) < 3 or len(set(xs)) < 2:
        return None
    res = sps.linregress(xs, ys)
    return {"slope": float(res.slope), "stderr": float(res.stderr), "r": float(res.rvalue)}


def soak_figures(run: dict[str, Any]) -> dict[str, Any]:
    """Per spike and scenario: memory growth, latency drift and errors over the soak."""
    out: dict[str, Any] = {}
    slices = [s for s in run.get("slices") or [] if s.get("phase") is None]
    if not slices:
        return out
    t0 = min(s["start"] for s in slices)
    for key in sorted({(s["scenario"], s["spike"]) for s in slices}):
        mine = [s for s in slices if (s["scenario"], s["spike"]) == key and s["valid"]]
        minutes = [(s["start"] - t0) / 60 for s in mine]
        rss = [(s["peak_rss_bytes"] or 0) / MIB for s in mine]
        p99 = [s["p99_ms"] for s in mine if s["p99_ms"] is not None]
        requests = sum(s["requests"] for s in mine)
        failures = sum(s["failures"] for s in mine)
        out[f"{key[0]}/{key[1]}"] = {
            "scenario": key[0],
            "spike": key[1],
            "minutes": (max(minutes) - min(minutes)) if minutes else 0.0,
            "offered_rps": mine[0].get("offered_rps") if mine else None,
            "memory_mib_per_min": fit(minutes, rss),
            "p99_ms_per_min": fit(minutes[: len(p99)], p99),
            "rss_first_mib": rss[0] if rss else None,
            "rss_last_mib": rss[-1] if rss else None,
            "requests": requests,
            "errors": failures,
            "error_rate": failures / requests if requests else None,
        }
    return out


def rate_from(args: argparse.Namespace) -> float:
    """--rate, or --fraction of the capacity an earlier run measured for the first spike."""
    if args.rate:
        return float(args.rate)
    if not args.capacity_run:
        raise ConfigError("soak needs --rate REQ_PER_S, or --fraction with --capacity-run RUN")
    from harness.results.resultfile import load_run

    run = load_run(args.capacity_run)
    spike = (args.spikes or [None])[0]
    for cap in (run.get("capacity") or {}).values():
        search = (cap.get("searches") or {}).get(spike) or {}
        if search.get("capacity_rps"):
            return round(float(search["capacity_rps"]) * args.fraction, 1)
    raise ConfigError(f"{args.capacity_run}: no capacity measured for {spike}")


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--minutes", type=float, default=10.0, help="length of the soak")
    p.add_argument("--rate", type=float, help="offered req/s (open model) (default: --fraction)")
    p.add_argument("--fraction", type=float, default=0.5,
                   help="of the capacity in --capacity-run, when --rate is not given")  # fmt: skip
    p.add_argument("--capacity-run", type=Path,
                   help="a run folder with a capacity search (default: none)")  # fmt: skip
