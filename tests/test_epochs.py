"""Adaptive process epochs (harness/run/epochs.py, run/group.py): the policy's decisions, and the
epoch loop driven on a synthetic source whose per-start offset is known, with a virtual clock (no
processes: what is under test is when the loop restarts and stops, how scenarios sharing the
starts take turns, and what interval they end with)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.results import slices
from harness.run import group, interleave
from harness.run.epochs import EpochPolicy
from harness.run.group import ScenarioGroup
from harness.run.interleave import InterleavedScenario
from harness.run.live import Live
from harness.run.runconfig import BenchConfig
from harness.scenario import Slicing

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


def test_another_start_only_when_a_restart_and_the_next_cycles_fit() -> None:
    p = EpochPolicy(least=2, most=4, cycles=3)
    assert p.another(1, 199.0, 200.0, restart_s=50, cycles_s=30)  # the minimum is not a choice
    assert p.another(2, 100.0, 200.0, restart_s=10, cycles_s=30)
    assert not p.another(2, 175.0, 200.0, restart_s=10, cycles_s=30)
    assert p.another(2, 175.0, 200.0, restart_s=10, cycles_s=15)
    assert not p.another(4, 0.0, 1e9, restart_s=1, cycles_s=1)  # the cap


def test_the_resolution_stops_only_after_the_minimum() -> None:
    p = EpochPolicy(least=2, cycles=2)
    assert not p.may_stop(1, 6, 6, 6)
    assert not p.may_stop(2, 1, 7, 6)  # the epoch's cycles are not all measured yet
    assert not p.may_stop(2, 3, 5, 6)
    assert p.may_stop(2, 2, 4, 2)
    assert not p.may_stop(2, 2, 6, 6)  # six cycles, but the interval is over two starts
    assert EpochPolicy(least=3).may_stop(3, 1, 3, 3)  # epochs of one cycle: three starts
    single = EpochPolicy(least=1, most=1)
    assert not single.may_stop(1, 1, 1, 1) and single.may_stop(1, 2, 2, 1)  # a bootstrap needs 2


def test_a_policy_with_no_epoch_or_no_cycle_is_refused() -> None:
    with pytest.raises(ValueError):
        EpochPolicy(least=0)
    with pytest.raises(ValueError):
        EpochPolicy(cycles=0)
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
        self.db = None
        self.sut_cpu_list: list[int] = []

    def analyse(self, scenario: str, names: list[str]) -> dict[str, Any]:
        out = slices.analyse(self.run["slices"], scenario, names, self.config.resolution)
        self.run["analysis"][scenario] = out
        return out

    def save(self) -> None: ...


@dataclass
class Host:
    name: str
    start_order: int
    failure: None = None

    def running(self) -> bool:
        return True


class SyntheticStarts:
    """What run/hosts.Starts does to the clock and the source: a restart costs `cost` seconds,
    reverses the start order and draws a new per-start offset."""

    source: Source
    clock: Clock
    cost: float

    def __init__(self, bench: Any, cands: list[Any], label: str, number: int) -> None:
        self.hosts = [Host(c.name, i) for i, c in enumerate(cands, start=1)]
        self.epoch = 0
        self.restart_phases: list[dict[str, float]] = []
        self.count = 0

    @property
    def restart_s(self) -> float:
        return self.cost

    def running(self) -> list[Host]:
        return self.hosts

    def start(self) -> None:
        self.restart([])

    def restart(self, stopping: list[Any]) -> None:
        self.epoch += 1
        if self.epoch > 1:
            self.restart_phases.append({"spikes": self.cost})
            for host in self.hosts:  # the start order reversed, as hosts.Starts does
                host.start_order = len(self.hosts) + 1 - host.start_order
        self.source.restart()
        self.clock.now += self.cost

    def stop(self) -> None: ...


class Synthetic(InterleavedScenario):
    """The real scenario loop (segment, _cycles, the policy); slices and records synthetic."""

    def __init__(self, name: str, source: Source, clock: Clock, bench: Bench, end: float) -> None:
        scenario = type("Scenario", (), {"name": name, "open": False, "realtime": {},
                                         "slicing": Slicing()})()  # fmt: skip
        super().__init__(bench, scenario, [Cand("a"), Cand("b")], end, 1)  # type: ignore[arg-type]
        self.source, self.clock = source, clock

    def attach(self, starts: Any) -> None:
        self.starts = starts
        self.lives = [Live(host, {}, Path(".")) for host in starts.hosts]

    def prepare(self) -> None: ...

    def retire(self) -> None: ...

    def _slice(self, live: Any, cycle: int, rate: float | None = None,
               seconds: float | None = None) -> dict[str, Any]:  # fmt: skip
        self.clock.now += self.slicing.slice_s + self.slicing.lead_in_s
        return {"scenario": self.scenario.name, "spike": live.name, "cycle": cycle,
                "valid": True, "throughput_rps": self.source.rps(live.name)}  # fmt: skip

    def close(self) -> None:
        self.finish_note()


def simulate_group(
    monkeypatch: pytest.MonkeyPatch, sources: dict[str, Source], budget: float = 240.0,
    restart_s: float = 10.0, **cfg: Any,
) -> tuple[SyntheticStarts, dict[str, dict[str, Any]], Bench]:  # fmt: skip
    """Scenarios named by `sources` sharing one set of synthetic starts (each restart draws every
    source's next per-start offset)."""
    clock = Clock()
    for module in (interleave, group):
        monkeypatch.setattr(module, "time", clock)
    config = BenchConfig(**{"slice_s": 3.0, "lead_in_s": 0.5, **cfg})
    bench = Bench(config)
    members = [Synthetic(name, src, clock, bench, budget) for name, src in sources.items()]

    class Restarts(SyntheticStarts):
        def restart(self, stopping: list[Any]) -> None:
            for src in list(sources.values())[1:]:
                src.restart()
            super().restart(stopping)

    Restarts.source = next(iter(sources.values()))
    Restarts.clock, Restarts.cost = clock, restart_s

    class Group(ScenarioGroup):
        starts_type = Restarts

    grp = Group(bench, members, budget, 1)  # type: ignore[arg-type]
    grp.run()
    return grp.starts, bench.run["analysis"], bench  # type: ignore[return-value]


def simulate(
    monkeypatch: pytest.MonkeyPatch, source: Source, budget: float = 240.0, **cfg: Any
) -> tuple[SyntheticStarts, dict[str, Any]]:
    starts, analysis, _ = simulate_group(monkeypatch, {"read_heavy": source}, budget, **cfg)
    return starts, analysis["read_heavy"]


def test_without_a_per_start_offset_the_minimum_of_starts_is_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Epochs of one cycle: three starts (the fewest), then the resolution stops it."""
    starts, an = simulate(monkeypatch, Source(truth=0.95, per_start=0.0), min_cycles=3)
    assert an["stop_reason"] == "resolution reached"
    assert starts.epoch == 3 and an["epochs"] == 3 and an["cycles"] == 3
    assert len(an["restart_seconds"]) == 2


def test_a_per_start_offset_buys_starts_and_the_interval_holds_the_truth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """2 % between starts, 0.5 % between slices: the loop restarts when its first starts
    disagree, and the interval over the starts holds the true ratio far more often than one
    start's interval (which takes that start's offset for the candidate)."""

    def trial(seed: int, **cfg: Any) -> tuple[int, bool]:
        starts, an = simulate(monkeypatch, Source(0.95, 0.02, seed=seed), 400.0, **cfg)
        ratio = an["ratios_to_best"]["a"]["paired"]
        return starts.epoch, ratio["lo"] <= 0.95 <= ratio["hi"]

    adaptive = [trial(seed) for seed in range(30)]
    single = [trial(seed, epochs=1, max_epochs=1) for seed in range(30)]
    starts = [n for n, _ in adaptive]
    assert sum(starts) / len(starts) >= 3.4 and max(starts) >= 5, starts
    held, held_single = sum(h for _, h in adaptive) / 30, sum(h for _, h in single) / 30
    assert held >= 0.7 and held >= held_single + 0.4, (held, held_single)


def test_when_no_other_start_fits_the_last_epoch_runs_on_to_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starts, analysis, bench = simulate_group(
        monkeypatch, {"read_heavy": Source(truth=1.0, per_start=0.05)}, 60.0, min_cycles=1000,
        epochs=2,
    )  # fmt: skip
    an = analysis["read_heavy"]
    assert an["stop_reason"] == "budget spent" and an["epochs"] == starts.epoch >= 2
    cycles = [{s["cycle"] for s in bench.run["slices"] if s["epoch"] == e}
              for e in range(1, starts.epoch + 1)]  # fmt: skip
    assert all(len(c) == 1 for c in cycles[:-1])
    assert len(cycles[-1]) > 1  # past --epoch-cycles: cycles were all that was left to buy
    assert starts.clock.now <= 60.0 + 7.0  # at most one cycle past the end


def test_the_cap_on_starts_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    starts, an = simulate(monkeypatch, Source(truth=1.0, per_start=0.05), 600.0, min_cycles=1000,
                          max_epochs=3)  # fmt: skip
    assert starts.epoch == 3 and an["epochs"] == 3


# -- scenarios sharing their starts -------------------------------------------------------------


def test_each_start_serves_every_scenario_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three scenarios, one set of starts: every epoch is one restart followed by each
    scenario's cycle, in the run's order; the restarts are paid once per epoch, not per
    scenario, so the same budget buys each scenario about three times the starts."""
    names = ("read_heavy", "crud_mix", "write_heavy")
    shared, analysis, bench = simulate_group(
        monkeypatch, {n: Source(1.0, 0.05, seed=i) for i, n in enumerate(names)}, 240.0,
        min_cycles=1000,
    )  # fmt: skip
    order = [s["scenario"] for s in bench.run["slices"]]
    runs = [order[i] for i in range(0, len(order), 2)]  # two candidates: a slice each per cycle
    assert runs[:6] == [*names, *names]
    epochs = {n: analysis[n]["epochs"] for n in names}
    assert len(set(epochs.values())) == 1 and shared.epoch >= 6, epochs
    assert all(analysis[n]["shared_starts"] == [m for m in names if m != n] for n in names)
    assert all(len(analysis[n]["restart_seconds"]) == shared.epoch - 1 for n in names)
    _, alone, _ = simulate_group(monkeypatch, {"read_heavy": Source(1.0, 0.05)}, 80.0,
                                 min_cycles=1000)  # fmt: skip
    assert shared.epoch >= 1.5 * alone["read_heavy"]["epochs"], (shared.epoch, alone)


def test_a_scenario_that_reached_its_resolution_leaves_and_the_others_buy_more_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quiet, noisy = Source(0.95, 0.0, seed=1), Source(0.95, 0.04, seed=2)
    shared, analysis, bench = simulate_group(
        monkeypatch, {"quiet": quiet, "noisy": noisy}, 300.0, min_cycles=3
    )
    assert analysis["quiet"]["stop_reason"] == "resolution reached"
    assert analysis["quiet"]["epochs"] == 3
    assert analysis["noisy"]["epochs"] > 3 and shared.epoch == analysis["noisy"]["epochs"]
    late = [s for s in bench.run["slices"] if s["epoch"] > 3]
    assert late and {s["scenario"] for s in late} == {"noisy"}


def test_the_default_minimum_of_cycles_keeps_an_early_stop_honest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An A/A pair (truth 1), 1 % between starts, 2 % between slices: stopping at the first ±3 %
    after three cycles ends the runs whose starts agreed by chance, with the interval that chance
    made narrow: it held the truth in 88-90 % of 1000 runs. The default minimum (ten) holds it
    in 94 %, and also with a true 5 % difference (/work/notes/stoprule8.py)."""

    def held(seeds: range, **cfg: Any) -> float:
        out = []
        for seed in seeds:
            src = Source(1.0, 0.01, per_slice=0.02, seed=seed)
            _, an = simulate(monkeypatch, src, 600.0, **cfg)
            ratio = next(iter(an["ratios_to_best"].values()))["paired"]  # the other one's
            assert an["stop_reason"] == "resolution reached"
            out.append(ratio["lo"] <= 1.0 <= ratio["hi"])
        return sum(out) / len(out)

    early, default = held(range(1000), min_cycles=3), held(range(1000))
    assert BenchConfig().min_cycles == 10
    assert early <= 0.91 and default >= 0.925 and default - early >= 0.02, (early, default)
