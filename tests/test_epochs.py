"""Adaptive process epochs (harness/run/epochs.py): the policy's decisions, and the scenario loop
driven on a synthetic source whose per-start offset is known, with a virtual clock (no processes:
what is under test is when the loop restarts and stops, and what interval it ends with)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.results import slices
from harness.run import interleave
from harness.run.epochs import EpochPolicy
from harness.run.interleave import InterleavedScenario
from harness.run.runconfig import BenchConfig

# -- the policy -------------------------------------------------------------------------------


def test_the_minimum_shares_the_time_left_and_later_epochs_may_use_all_of_it() -> None:
    p = EpochPolicy(least=2, most=5, cycles=3)
    assert p.deadline(1, 100.0, 200.0) == pytest.approx(150.0)
    assert p.deadline(2, 150.0, 200.0) == 200.0
    assert EpochPolicy(3).deadline(1, 0.0, 90.0) == pytest.approx(30.0)


def test_an_epoch_is_full_after_its_cycles_unless_it_is_the_last() -> None:
    p = EpochPolicy(least=2, most=3, cycles=3)
    assert not p.full(1, 2, last=False) and p.full(1, 3, last=False)
    assert not p.full(2, 7, last=True)  # no room for another start: it runs on
    assert not p.full(3, 9, last=False)  # the cap: the last epoch runs on


def test_another_start_only_when_a_restart_and_two_cycles_fit() -> None:
    p = EpochPolicy(least=2, most=4, cycles=3)
    assert p.another(1, 199.0, 200.0, restart_s=50, cycle_s=10)  # the minimum is not a choice
    assert p.another(2, 100.0, 200.0, restart_s=10, cycle_s=10)
    assert not p.another(2, 175.0, 200.0, restart_s=10, cycle_s=10)
    assert not p.another(4, 0.0, 1e9, restart_s=1, cycle_s=1)  # the cap


def test_the_resolution_stops_only_after_the_minimum() -> None:
    p = EpochPolicy(least=2)
    assert not p.may_stop(1, 6, 6, 6)
    assert not p.may_stop(2, 1, 7, 6)  # one cycle of this epoch has no interval of its own
    assert not p.may_stop(2, 3, 5, 6)
    assert p.may_stop(2, 2, 6, 6)


def test_a_policy_with_no_epoch_or_one_cycle_epochs_is_refused() -> None:
    with pytest.raises(ValueError):
        EpochPolicy(least=0)
    with pytest.raises(ValueError):
        EpochPolicy(cycles=1)
    assert EpochPolicy(least=4, most=2).most == 4


# -- the loop on a synthetic source ------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


@dataclass
class Source:
    """Two candidates of a true ratio `truth`; each start of the processes shifts A's speed by
    N(0, per_start) (log scale), each slice adds N(0, per_slice)."""

    truth: float
    per_start: float
    per_slice: float = 0.005
    seed: int = 0
    rng: random.Random = field(init=False)
    offset: float = 0.0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def restart(self) -> None:
        self.offset = self.rng.gauss(0, self.per_start)

    def rps(self, name: str) -> float:
        base = 400.0 * (self.truth if name == "a" else 1.0)
        shift = self.offset if name == "a" else 0.0
        return base * (1 + shift) * (1 + self.rng.gauss(0, self.per_slice))


class Progress:
    def message(self, text: str) -> None: ...


@dataclass
class Cand:
    name: str


class Bench:
    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self.run: dict[str, Any] = {"slices": [], "analysis": {}, "trials": []}
        self.progress = Progress()
        self.interrupt_requested = False
        self.upstream = None
        self.sut_cpu_list: list[int] = []

    def analyse(self, scenario: str, names: list[str]) -> dict[str, Any]:
        out = slices.analyse(self.run["slices"], scenario, names, self.config.resolution)
        self.run["analysis"][scenario] = out
        return out

    def save(self) -> None: ...


class Live:
    def __init__(self, name: str, start_order: int) -> None:
        self.name = name
        self.start_order = start_order

    def running(self) -> bool:
        return True


class Scenario:
    name = "read_heavy"
    open = False
    realtime: dict[str, Any] = {}


class Synthetic(InterleavedScenario):
    """The real loop (run, _cycles, the policy); starts, slices and the ending are synthetic."""

    def __init__(self, source: Source, clock: Clock, config: BenchConfig, budget: float,
                 restart_s: float) -> None:  # fmt: skip
        bench = Bench(config)
        super().__init__(bench, Scenario(), [Cand("a"), Cand("b")], budget, 1)  # type: ignore[arg-type]
        self.source, self.clock, self.cost = source, clock, restart_s
        self.starts = 0

    def _start_all(self) -> None:
        self.lives = [Live("a", 1), Live("b", 2)]  # type: ignore[list-item]
        self._restart_all()

    def _restart_all(self) -> None:
        self.starts += 1
        if self.starts > 1:  # the start order reversed, as launch.restart_all does
            for live in self.lives:
                live.start_order = 3 - live.start_order
        self.source.restart()
        self.clock.now += self.cost

    def _slice(self, live: Any, cycle: int, rate: float | None = None,
               seconds: float | None = None) -> dict[str, Any]:  # fmt: skip
        self.clock.now += self.cfg.slice_s + self.cfg.lead_in_s
        return {"scenario": "read_heavy", "spike": live.name, "cycle": cycle, "valid": True,
                "throughput_rps": self.source.rps(live.name)}  # fmt: skip

    def _finish(self) -> None:
        self.finish_note()


def simulate(
    monkeypatch: pytest.MonkeyPatch, source: Source, budget: float = 240.0, **cfg: Any
) -> tuple[Synthetic, dict[str, Any]]:
    clock = Clock()
    monkeypatch.setattr(interleave, "time", clock)
    config = BenchConfig(**{"slice_s": 3.0, "lead_in_s": 0.5, **cfg})
    sc = Synthetic(source, clock, config, budget, restart_s=10.0)
    sc.run()
    return sc, sc.bench.run["analysis"]["read_heavy"]


def test_without_a_per_start_offset_the_minimum_of_starts_is_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fewest cycles (6) in epochs of two: three starts, then the resolution stops it."""
    sc, an = simulate(monkeypatch, Source(truth=0.95, per_start=0.0))
    assert an["stop_reason"] == "resolution reached"
    assert sc.starts == 3 and an["epochs"] == 3 and an["cycles"] == 6
    assert len(an["restart_seconds"]) == 2


def test_a_per_start_offset_buys_starts_and_the_interval_holds_the_truth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """2 % between starts, 0.5 % between slices: the loop restarts when its first starts
    disagree, and the interval over the starts holds the true ratio far more often than one
    start's interval (which takes that start's offset for the candidate)."""

    def trial(seed: int, **cfg: Any) -> tuple[int, bool]:
        sc, an = simulate(monkeypatch, Source(0.95, 0.02, seed=seed), 400.0, **cfg)
        for e in range(1, sc.starts + 1):
            assert len({s["cycle"] for s in sc.bench.run["slices"] if s["epoch"] == e}) >= 2
        ratio = an["ratios_to_best"]["a"]["paired"]
        return sc.starts, ratio["lo"] <= 0.95 <= ratio["hi"]

    adaptive = [trial(seed) for seed in range(30)]
    single = [trial(seed, epochs=1, max_epochs=1) for seed in range(30)]
    starts = [n for n, _ in adaptive]
    assert sum(starts) / len(starts) >= 2.4 and max(starts) >= 4, starts
    held, held_single = sum(h for _, h in adaptive) / 30, sum(h for _, h in single) / 30
    assert held >= 0.7 and held >= held_single + 0.4, (held, held_single)


def test_when_no_other_start_fits_the_last_epoch_runs_on_to_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sc, an = simulate(monkeypatch, Source(truth=1.0, per_start=0.05), 65.0, min_cycles=1000,
                      epochs=2)  # fmt: skip
    assert an["stop_reason"] == "budget spent" and sc.starts == 2
    cycles_2 = {s["cycle"] for s in sc.bench.run["slices"] if s["epoch"] == 2}
    assert len(cycles_2) > 2  # past --epoch-cycles: cycles are all that was left to buy
    assert sc.clock.now <= 65.0 + 7.0  # at most one cycle past the end


def test_the_cap_on_starts_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    sc, an = simulate(monkeypatch, Source(truth=1.0, per_start=0.05), 600.0, min_cycles=1000,
                      max_epochs=3)  # fmt: skip
    assert sc.starts == 3 and an["epochs"] == 3
