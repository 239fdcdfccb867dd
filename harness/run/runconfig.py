"""What one `bench` run is asked to do: its configuration and validity thresholds, and the CPU
sets the system under test and the load generator are pinned to."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.paths import RESULTS_DIR, SPIKES_DIR

DESIGNS = ("interleaved", "trials")


@dataclass
class Thresholds:
    loadgen_cpu: float = 0.80  # share of one core used by the busiest Locust process
    error_rate: float = 0.01
    noisy_neighbour: float = 0.15  # share of the SUT CPUs used by processes that are not the SUT
    min_requests: int = 200  # fewer measured requests than this: a warning, not a verdict
    lag_tolerance_ms: float = 10.0  # open model: p90 of send lag above this is loadgen_lagging


@dataclass
class BenchConfig:
    spikes: list[str] | None = None
    scenarios: list[str] | None = None
    trials: int = 3
    warmup_s: float = 5.0
    measure_s: float = 15.0
    users: int | None = None
    runtime: str = "auto"
    sut_cpus: str | None = None
    loadgen_cpus: str | None = None
    results_dir: Path = RESULTS_DIR
    spikes_dir: Path = SPIKES_DIR
    seed_users: int = 1000
    seed_items: int = 100
    order_seed: int | None = None
    loadgen_workers: int = 0
    spike_port: int | None = None
    rebuild_envs: bool = False
    quick: bool = False
    run_id: str | None = None
    design: str = "interleaved"
    # None: each scenario's own [slicing] (scenario.Slicing); a number sets every scenario's
    slice_s: float | None = None  # measured seconds per slice (interleaved)
    lead_in_s: float | None = None  # discarded at the start of each slice: reconnects, gate burst
    budget_s: float = 14 * 60.0  # wall-clock budget of the whole run's measuring (interleaved)
    resolution: float = 0.03  # target half-width of every ratio to the best (interleaved)
    # replicates (starts; a one-start run's cycles) before the resolution may stop a scenario. Ten:
    # stopping at the first ±3 % after three held the truth in only 87-91 % of synthetic runs
    # (a lucky small spread ends the run), after ten in 94-95 % (tests/test_epochs.py)
    min_cycles: int = 10
    # process epochs per scenario: each restarts every candidate (README: "Epochs")
    # the fewest starts; more follow while the resolution is not reached. Three: the interval
    # is Student's t over the starts, and stopping at two held the truth in only 91-93 %
    epochs: int = 3
    max_epochs: int = 30  # a cap on starts; with shared starts a 14-min run buys 8-10 for four
    reconnect: bool = False  # users reconnect after every pause (--reconnect-each-slice)
    # cycles per scenario after which an epoch ends when another start may follow (README:
    # "Epochs"); None: each scenario's own [slicing]
    epoch_cycles: int | None = None
    rewarm_s: float = 2.0  # warm-up of an epoch's fresh processes (its Locusts are logged in)
    shared_starts: bool = True  # one start of the candidates serves every closed-loop scenario
    aa: str | None = None  # run this spike twice (an A/A pair) to measure the resolution
    probe_normalise: bool = True  # scale slices by the in-slice tracker (README, "The probe")
    adjust_start_order: bool = True  # throughput put back to the middle start position
    machine_deviation: float = 0.10  # a probe this far from the median flags its slices
    drop_flagged: bool = False  # flagged slices left out of the analysis (kept: README)
    capacity: list[str] | None = None  # scenarios whose task mix gets a capacity search
    capacity_only: bool = False  # `spikebench capacity`: no closed-loop slices
    slo_p99_ms: float = 100.0
    step_s: float = 4.0  # measured seconds of one capacity or equal-load step
    capacity_start_rps: float = 25.0
    capacity_precision: float = 0.10
    equal_load_fractions: tuple[float, ...] = (0.5, 0.8)
    equal_load_cycles: int = 2  # per offered rate: with 3, the searches lost their steps
    capacity_overrun_s: float = 10.0  # equal-load steps may run this far past the scenario's share
    open_rate: float | None = None  # run every scenario's task mix open at this rate (soak)
    soak: bool = False
    upstream_delay: str = "lognormal:50:200"  # the pricing stub's delay (scenarios needing quote)
    upstream_error_rate: float = 0.0  # share of its answers that are 503s
    thresholds: Thresholds = field(default_factory=Thresholds)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["results_dir"] = str(self.results_dir)
        data["spikes_dir"] = str(self.spikes_dir)
        return data


def default_cpu_sets() -> tuple[str | None, str | None]:
    """Half the CPUs for the system under test, the rest for Locust; none on a 1-CPU machine."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    half = len(cpus) // 2
    return ",".join(map(str, cpus[:half])), ",".join(map(str, cpus[half:]))


def parse_cpus(spec: str | None) -> list[int]:
    if not spec:
        return sorted(os.sched_getaffinity(0))
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out
