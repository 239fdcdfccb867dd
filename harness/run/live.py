"""A candidate while its interleaved scenario runs, and the trial record it leaves.

Split from interleave.py: the scenario drives slices; this is what one candidate accumulates
over them (across process epochs) and how that becomes its record's metrics.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.results import slices
from harness.run import metrics
from harness.run.loadgen import Loadgen
from harness.run.metadata import utc_now
from harness.run.monitor import TreeCPU
from harness.run.realtime import realtime_figures
from harness.run.runtime import SpikeHandle
from harness.run.slicing import Candidate

if TYPE_CHECKING:
    from harness.run.dbwork import Snapshot
    from harness.run.hosts import Host


@dataclass
class Live:
    """A candidate while its scenario runs: its load generator and what its slices add up to;
    its server process and database copy are the group's (`host`, run/hosts.py)."""

    host: Host
    record: dict[str, Any]
    raw_dir: Path  # where its Locust writes (below the trial's folder for a later epoch's Locust)
    loadgen: Loadgen | None = None
    tail: metrics.RowTail | None = None
    lg_cpu: TreeCPU = field(default_factory=TreeCPU)
    parts: list[metrics.Requests] = field(default_factory=list)
    measured_s: float = 0.0
    memory_at: float = 0.0  # when its PSS was last read (boundary.MEMORY_EVERY_S)
    app_cpu_s: float = 0.0
    db_cpu_s: float = 0.0
    peak: tuple[int, int] = (0, 0)
    lost: bool = False  # its load generator failed: the candidate is out of this scenario
    epoch: int = 0  # the epoch of the processes its Locust sends to
    db_work: Snapshot | None = None  # its database copies' counters over its turns
    db_sent: int = 0  # requests its Locust sent in those segments, warm-ups included

    def __post_init__(self) -> None:
        self.home = self.raw_dir  # the trial's raw folder; a later epoch's Locust writes below it

    @property
    def cand(self) -> Candidate:
        return self.host.cand

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def handle(self) -> SpikeHandle | None:
        return self.host.handle

    @property
    def start_order(self) -> int:
        return self.host.start_order

    @property
    def dead(self) -> bool:
        return self.lost or self.host.dead

    def running(self) -> bool:
        return not self.lost and self.host.running()


def close_record(
    live: Live,
    mine: list[dict[str, Any]],
    warmup_s: float,
    users: int,
    t0: float,
    realtime: bool,
) -> None:
    """The candidate's pooled figures from its valid slices, into its trial record."""
    rec = live.record
    rec["finished_at"] = utc_now()
    rec["slices"] = len(mine)
    if live.parts and live.measured_s > 0:
        reqs = metrics.concat(live.parts)
        out = metrics.request_metrics(reqs, live.measured_s)
        n = max(len(reqs), 1)
        shares = [s["loadgen_busiest_process_share"] for s in mine]
        others = [s["other_on_sut_share"] for s in mine]
        out["cpu"] = {
            "app_ms_per_request": 1000 * live.app_cpu_s / n,
            "db_ms_per_request": 1000 * live.db_cpu_s / n,
            "app_cpu_share": live.app_cpu_s / live.measured_s,
            "db_cpu_share": live.db_cpu_s / live.measured_s,
            "loadgen_cpu_share": max(shares, default=0.0),
            "loadgen_busiest_process_share": max(shares, default=0.0),
            "other_on_sut_share": max(others, default=0.0),
            "idle_spikes_cpu_share": max((s["idle_spikes_cpu_share"] for s in mine), default=0.0),
        }
        upstream = [s["upstream_cpu_share"] for s in mine if s.get("upstream_cpu_share")]
        if upstream:  # the pricing stub's busiest slice, as for Locust
            out["cpu"]["upstream_cpu_share"] = max(upstream)
        out["memory"] = {
            "idle_rss_bytes": live.host.idle[0],
            "idle_pss_bytes": live.host.idle[1],
            "peak_rss_bytes": live.peak[0],
            "peak_pss_bytes": live.peak[1],
        }
        out["startup_seconds"] = live.handle.startup_seconds if live.handle else None
        out["window"] = {
            "warmup_s": warmup_s,
            "measure_s": live.measured_s,
            "measure_start": mine[0]["start"],
            "measure_end": mine[-1]["end"],
        }
        out["timeseries"] = [
            {
                "t": round(s["start"] - t0, 3),
                "phase": "measure",
                "rps": round(s["throughput_rps"], 2),
                "p50_ms": s["p50_ms"],
                "p99_ms": s["p99_ms"],
                "errors": s["failures"],
                "users": users,
            }
            for s in mine
        ]
        rec["metrics"] = out
    if realtime:
        rec["realtime"] = realtime_figures(live.home, live.host.idle[0], live.peak[0])
    rec["valid"] = not rec["invalid_reasons"] and any(slices.usable(s) for s in mine)
    if not rec["valid"] and not rec["invalid_reasons"]:
        rec["invalid_reasons"].append("no_load")
        rec["error"] = rec["error"] or "no usable slice: " + _why_unusable(mine)


def _why_unusable(mine: list[dict[str, Any]]) -> str:
    """What the slices say, counted: a trial without a usable slice names what took them."""
    why = Counter(r for s in mine for r in s.get("invalid_reasons") or [])
    why["machine speed off (--drop-flagged)"] = sum(
        bool(s.get("valid")) and slices.left_out(s) for s in mine
    )
    return ", ".join(f"{n}× {r}" for r, n in why.most_common() if n) or "none measured"
