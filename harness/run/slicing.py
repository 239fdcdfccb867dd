"""The pieces of an interleaved slice that need no running scenario: who the candidates are,
the order of a cycle, how PostgreSQL's CPU is split, and what an open-model slice says."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import psutil

from harness.errors import ConfigError
from harness.manifest import SpikeManifest
from harness.run import metrics


@dataclass(frozen=True)
class Candidate:
    """One column of the comparison: a spike, or its A/A twin (same code, own process)."""

    name: str
    manifest: SpikeManifest
    aa_of: str | None = None


def candidates(spikes: list[SpikeManifest], aa: str | None) -> list[Candidate]:
    out = [Candidate(s.name, s) for s in spikes]
    if aa:
        found = [s for s in spikes if s.name == aa]
        if not found:
            raise ConfigError(f"--aa {aa}: no such spike among {[s.name for s in spikes]}")
        out.append(Candidate(f"{aa}-aa", found[0], aa_of=aa))
    return out


def cycle_order(names: list[str], rng: random.Random) -> list[str]:
    """Every candidate once, in a fresh random order (position effects average out)."""
    order = list(names)
    rng.shuffle(order)
    return order


def split_autovacuum(procs: list[psutil.Process]) -> tuple[list[Any], list[Any]]:
    """PostgreSQL's processes without and with its autovacuum workers: a vacuum of one
    candidate's tables may run during another's slice, so its CPU is kept apart, not billed."""
    db, vacuum = [], []
    for proc in procs:
        try:
            title = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        (vacuum if "autovacuum worker" in title else db).append(proc)
    return db, vacuum


def open_figures(
    rows: metrics.Requests,
    rate: float,
    seconds: float,
    th: Any,
    done: metrics.Requests | None = None,
    window: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """An open-model slice: offered vs achieved, schedule lag, and the lag guard.

    `rows` are the arrivals intended inside the window (each a row, answered late or not);
    `done` and `window` give the answers completed inside it: the achieved rate. A send later
    than its intended time by more than the tolerance (p90) means the generator fell behind (its
    CPU, or the in-flight cap): `lagging`, whose figures would be the generator's."""
    n = len(rows)
    lag = rows.lag
    late = float((lag > th.lag_tolerance_ms).mean()) if n else 0.0
    p90_lag = float(np.percentile(lag, 90)) if n else None
    lagging = n == 0 or (p90_lag is not None and p90_lag > th.lag_tolerance_ms)
    lat = metrics.latency(rows.ms)
    completed = n
    if done is not None and window is not None:
        ends = done.start + done.ms / 1000
        completed = int(((ends >= window[0]) & (ends < window[1])).sum())
    return {
        "offered_rps": rate,
        "arrivals_rps": n / seconds if seconds > 0 else 0.0,
        "achieved_rps": completed / seconds if seconds > 0 else 0.0,
        "late_share": late,
        "lag_p90_ms": p90_lag,
        "lag_max_ms": float(lag.max()) if n else None,
        "p99_9_ms": lat["p99_9"],
        "lagging": bool(lagging),
    }


def steal_seconds(cpus: list[int]) -> float:
    per_cpu = psutil.cpu_times(percpu=True)
    return sum(getattr(per_cpu[i], "steal", 0.0) for i in cpus)




def slice_record(
    scenario: str,
    spike: str,
    cycle: int,
    counters: tuple[dict[str, Any], dict[str, Any]],
    rows: metrics.Requests,
    probes: tuple[float, float],
    th: Any,
    sut_n: int,
    pinned: bool,
    db_on_sut: bool,
) -> dict[str, Any]:
    """One slice's record from the OS counters read at its start and end and its request rows:
    the figures, the CPU of everyone on the SUT apart, and the validity guards."""
    a, z = counters
    probe_before, probe_after = probes
    seconds = z["t"] - a["t"]
    block = metrics.throughput_block(rows, seconds)
    n = max(len(rows), 1)
    spikes_a, spikes_z = a["spikes"], z["spikes"]
    app = spikes_z.get(spike, 0.0) - spikes_a.get(spike, 0.0)
    idle = sum(
        spikes_z[k] - spikes_a.get(k, spikes_z[k]) for k in spikes_z if k != spike
    )
    db = z["db"] - a["db"]
    vac = z["vacuum"] - a["vacuum"]
    other = max(
        z["busy"] - a["busy"] - app - idle - ((db + vac) if db_on_sut else 0.0), 0.0
    )
    busiest = max(
        ((cpu - a["lg"].get(pid, 0.0)) / seconds for pid, cpu in z["lg"].items()),
        default=0.0,
    )
    lat = block["latency_ms"]
    reasons = []
    if busiest >= th.loadgen_cpu:
        reasons.append("loadgen_saturated")
    if block["requests"] == 0:
        reasons.append("no_load")
    elif block["error_rate"] > th.error_rate:
        reasons.append("high_error_rate")
    sut_n = max(sut_n, 1)
    if pinned and other / seconds / sut_n > th.noisy_neighbour:
        reasons.append("noisy_neighbour")
    return {
        "scenario": scenario,
        "cycle": cycle,
        "spike": spike,
        "start": a["t"],
        "end": z["t"],
        "seconds": seconds,
        "requests": block["requests"],
        "failures": block["failures"],
        "error_rate": block["error_rate"],
        "server_errors": block["server_errors"],
        "throughput_rps": block["throughput_rps"],
        "p50_ms": lat["p50"],
        "p90_ms": lat["p90"],
        "p99_ms": lat["p99"],
        "app_cpu_ms_per_request": 1000 * app / n,
        "db_cpu_ms_per_request": 1000 * db / n,
        "app_cpu_share": app / seconds,
        "idle_spikes_cpu_share": idle / seconds / sut_n,
        "other_on_sut_share": other / seconds / sut_n,
        "loadgen_busiest_process_share": busiest,
        "steal_share": (z["steal"] - a["steal"]) / seconds / sut_n,
        "autovacuum_cpu_share": (z["vacuum"] - a["vacuum"]) / seconds,
        "probe_ms": (probe_before + probe_after) / 2,
        "probe_before_ms": probe_before,
        "probe_after_ms": probe_after,
        "peak_rss_bytes": None,
        "valid": not reasons,
        "invalid_reasons": reasons,
        "machine_deviation": False,
        "left_out": False,
        "_app_cpu_s": app,
        "_db_cpu_s": db,
    }

