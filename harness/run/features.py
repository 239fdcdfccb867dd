"""Contract v2 features in a run: which candidates a scenario can run, and the upstream stub.

A scenario's `requires` names the features a candidate needs (scenarios/*.toml); a candidate
whose manifest lacks one is not started for that scenario and is recorded under
`scenarios.<name>.not_supported` (and shown so in the report), never failed. The `quote`
feature needs the pricing stub: it runs on the load-generator CPUs (it is part of the load, like
Locust) and every spike of the run gets its address as SPIKE_UPSTREAM_URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, TypeVar

from harness.errors import ConfigError
from harness.manifest import SpikeManifest
from harness.run.monitor import TreeCPU
from harness.run.upstream_proc import UpstreamStub
from harness.scenario import Scenario


class HasManifest(Protocol):
    name: str
    manifest: SpikeManifest


C = TypeVar("C", bound=HasManifest)


def missing(manifest: SpikeManifest, scenario: Scenario) -> list[str]:
    """The features `scenario` requires that the candidate does not list."""
    return [f for f in scenario.requires if not manifest.supports(f)]


def split_supported(
    cands: list[C], scenario: Scenario, record: dict[str, Any]
) -> tuple[list[C], list[str]]:
    """(candidates that can run the scenario, names of those that cannot); the latter are
    written into the scenario's record as not_supported: {name: [missing features]}."""
    runnable, skipped = [], {}
    for cand in cands:
        lacks = missing(cand.manifest, scenario)
        if lacks:
            skipped[cand.name] = lacks
        else:
            runnable.append(cand)
    if skipped:
        record.setdefault("not_supported", {}).update(skipped)
    return runnable, list(skipped)


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

    def read(self) -> float | None:
        return None if self.stub is None else self.cpu.read(self.stub.processes())


def share(a: float | None, z: float | None, seconds: float) -> float | None:
    """Share of one core between two readings (None without a stub)."""
    if a is None or z is None or seconds <= 0:
        return None
    return (z - a) / seconds
