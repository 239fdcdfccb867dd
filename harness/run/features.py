"""Contract v2 feature `quote` in a run: the upstream pricing stub its scenarios wait on.

It runs on the load-generator CPUs (it is part of the load, like Locust), every spike of the run
gets its address as SPIKE_UPSTREAM_URL, and its CPU is read beside Locust's. (Which candidates a
scenario can run at all is Bench.supporting and plan_trials: analysis.<scenario>.not_supported.)
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import ConfigError
from harness.run.monitor import ProcessTable, TreeCPU
from harness.run.upstream_proc import UpstreamStub
from harness.scenario import Scenario


def needs_upstream(scenarios: list[Scenario]) -> bool:
    return any("quote" in s.requires for s in scenarios)


def check_upstream(delay: str, error_rate: float) -> None:
    """Refuse a bad stub setting before anything starts (the stub would refuse it later)."""
    from harness.run.upstream import Delay

    try:
        Delay.parse(delay)
    except ValueError as exc:
        raise ConfigError(f"--upstream-delay: {exc}") from None
    if not 0.0 <= error_rate <= 1.0:
        raise ConfigError("--upstream-error-rate must be between 0 and 1")


def start_upstream(
    folder: Path, delay: str, error_rate: float, cpus: str | None, seed: int
) -> UpstreamStub:
    return UpstreamStub(
        folder / "raw" / "upstream.log", delay=delay, error_rate=error_rate, seed=seed, cpus=cpus
    ).start()


class UpstreamCPU:
    """CPU seconds of the stub process, read next to Locust's at every slice boundary."""

    def __init__(self, stub: UpstreamStub | None) -> None:
        self.stub = stub
        self.cpu = TreeCPU()

    def read(self, table: ProcessTable | None = None) -> float | None:
        """From the boundary's scan of /proc where there is one, else from a scan of its own."""
        if self.stub is None:
            return None
        table = table or ProcessTable()
        return self.cpu.read_table(table, table.pids(self.stub.pid))


def share(a: float | None, z: float | None, seconds: float) -> float | None:
    """Share of one core between two readings (None without a stub)."""
    if a is None or z is None or seconds <= 0:
        return None
    return (z - a) / seconds
