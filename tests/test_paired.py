"""The interleaved design's statistics on synthetic slices with known answers: pairing recovers
the true ratio under injected drift where the unpaired view cannot, the slicing plan, the speed
probe's flag, rank groups and the adaptive stopping rule."""

from __future__ import annotations

import math
import random
import time
from typing import Any

import numpy as np
import pytest

from harness.results import paired, slices
from harness.results.slices import deviates
from harness.run.probe import SpeedProbe, speed_index
from harness.run.slicing import cycle_order


def synthetic(
    rates: dict[str, float],
    cycles: int,
    drift: float,
    noise: float,
    seed: int = 1,
    probe_tracks: bool = False,
) -> list[dict[str, Any]]:
    """Slices of spikes with true rates; the machine's speed random-walks by `drift` per cycle
    (shared by every spike of a cycle), each slice has its own `noise`."""
    rng = np.random.default_rng(seed)
    speed, out = 1.0, []
    for c in range(1, cycles + 1):
        speed = float(np.clip(speed * math.exp(rng.normal(0, drift)), 0.4, 1.6))
        for name, rate in rates.items():
            out.append(
                {
                    "scenario": "s",
                    "cycle": c,
                    "spike": name,
                    "throughput_rps": rate * speed * math.exp(rng.normal(0, noise)),
                    "probe_ms": (2.0 / speed) if probe_tracks else 2.0,
                    "valid": True,
                    "machine_deviation": False,
                }
            )
    return out


def column(rows: list[dict[str, Any]], spike: str) -> list[float]:
    return [r["throughput_rps"] for r in rows if r["spike"] == spike]


def test_paired_ratio_recovers_the_true_ratio_under_drift_where_unpaired_cannot() -> None:
    rows = synthetic({"a": 270.0, "b": 300.0}, cycles=30, drift=0.15, noise=0.02)
    a, b = column(rows, "a"), column(rows, "b")
    p, u = paired.paired_ratio(a, b), paired.unpaired_ratio(a, b)
    assert p is not None and u is not None
    assert p.contains(0.9) and abs(p.estimate - 0.9) < 0.01
    assert p.half_width < 0.015
    # the same slices unpaired: the drift makes the 10% difference several times less certain
    assert u.half_width > 4 * p.half_width


def test_paired_ratio_skips_cycles_where_one_side_is_missing() -> None:
    a = [100.0, None, 110.0, 90.0]
    b = [200.0, 210.0, None, 180.0]
    r = paired.paired_ratio(a, b)
    assert r is not None and r.n == 2 and r.estimate == pytest.approx(0.5)
    assert r.lo == r.hi == pytest.approx(0.5)  # no spread: a zero-width interval, not NaN


def test_mean_interval_covers_the_true_mean_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    hits = sum(
        iv.contains(100.0)
        for _ in range(200)
        if (iv := paired.mean_interval(list(rng.normal(100.0, 5.0, 20)), seed=1)) is not None
    )
    assert 176 <= hits <= 200  # 95% nominal; BCa on n=20 runs a little narrow


def test_aa_pair_contains_one() -> None:
    rows = synthetic({"a": 300.0, "a-aa": 300.0}, cycles=25, drift=0.1, noise=0.02, seed=3)
    r = paired.paired_ratio(column(rows, "a"), column(rows, "a-aa"))
    assert r is not None and r.contains(1.0) and r.half_width < 0.03


def test_rank_groups_share_a_rank_only_when_not_separated() -> None:
    order = ["x", "y", "z", "w"]
    apart = {("x", "y"): True, ("y", "z"): False, ("z", "w"): True}
    groups = paired.rank_groups(order, lambda a, b: apart[(a, b)])
    assert groups == [("x", 1, False), ("y", 2, False), ("z", 2, True), ("w", 4, False)]


def test_distinguishable_needs_the_interval_off_one_and_above_the_resolution() -> None:
    iv = paired.Interval(0.96, 0.95, 0.97, 10)
    assert paired.distinguishable(iv, 0.03)
    assert not paired.distinguishable(iv, 0.05)  # real but below what the run can resolve
    assert not paired.distinguishable(paired.Interval(0.99, 0.97, 1.01, 10), 0.0)
    assert not paired.distinguishable(None, 0.0)


def test_cycle_order_is_a_fresh_permutation_every_cycle() -> None:
    rng = random.Random(5)
    names = ["a", "b", "c", "d"]
    orders = [cycle_order(names, rng) for _ in range(40)]
    assert all(sorted(o) == names for o in orders)  # every spike exactly once per cycle
    assert len({tuple(o) for o in orders}) > 10  # not one fixed order
    firsts = {o[0] for o in orders}
    assert firsts == set(names)  # nobody always goes first


def test_analyse_ranks_and_states_resolution() -> None:
    rows = synthetic(
        {"fast": 330.0, "mid": 300.0, "mid2": 301.0}, cycles=30, drift=0.1, noise=0.02
    )
    an = slices.analyse(rows, "s", ["fast", "mid", "mid2"], target=0.03)
    assert an["best"] == "fast" and an["cycles"] == 30
    ranks = {r["spike"]: (r["rank"], r["tied_with_previous"]) for r in an["ranking"]}
    assert ranks["fast"] == (1, False)
    assert {ranks["mid"][0], ranks["mid2"][0]} == {2}  # 0.3% apart: one rank, shown ≈
    assert an["resolution"] is not None and an["resolution"] < 0.02
    assert an["resolution_reached"]


def test_probe_flag_marks_deviant_slices_and_drop_flagged_leaves_them_out() -> None:
    rows = synthetic({"a": 300.0, "b": 200.0}, cycles=12, drift=0.0, noise=0.01)
    rows[6]["probe_ms"] = 3.0  # the machine ran 50% slow around this slice
    rows[6]["throughput_rps"] *= 0.5
    where = rows[6]["spike"], rows[6]["cycle"] - 1
    slices.flag_machine(rows, limit=0.10)  # the default: flagged, kept
    assert [r["machine_deviation"] for r in rows].count(True) == 1 and rows[6]["machine_deviation"]
    assert not any(r["left_out"] for r in rows)
    table = slices.cycle_table(rows, "s", ["a", "b"], "throughput_rps")
    assert table[where[0]][where[1]] == rows[6]["throughput_rps"]
    slices.flag_machine(rows, limit=0.10, drop=True)
    assert [r["left_out"] for r in rows].count(True) == 1 and rows[6]["left_out"]
    assert slices.cycle_table(rows, "s", ["a", "b"], "throughput_rps")[where[0]][where[1]] is None
    for r in rows:  # a file from before the choice: every flagged slice was left out
        del r["left_out"]
    assert slices.cycle_table(rows, "s", ["a", "b"], "throughput_rps")[where[0]][where[1]] is None
    assert deviates(2.3, 2.0, 0.10) and not deviates(2.1, 2.0, 0.10)


def test_probe_normalisation_cancels_drift_the_probe_tracks() -> None:
    rows = synthetic({"a": 300.0, "b": 250.0}, cycles=20, drift=0.2, noise=0.01, probe_tracks=True)
    raw = slices.cycle_table(rows, "s", ["a"], "throughput_rps")["a"]
    norm = slices.cycle_table(rows, "s", ["a"], "throughput_rps", normalise=True)["a"]
    assert paired.cv(norm) < paired.cv(raw) / 5  # type: ignore[operator]


def test_adaptive_stopping_on_a_synthetic_noise_source() -> None:
    """A quiet source reaches ±3% within a few cycles; a noisy one does not in 40."""

    def cycles_to_target(noise: float) -> int | None:
        rows = synthetic({"a": 300.0, "b": 240.0}, cycles=40, drift=0.1, noise=noise, seed=11)
        for n in range(6, 41):
            an = slices.analyse([r for r in rows if r["cycle"] <= n], "s", ["a", "b"], 0.03)
            if an["resolution_reached"]:
                return n
        return None

    quiet, noisy = cycles_to_target(0.01), cycles_to_target(0.20)
    assert quiet is not None and quiet <= 8
    assert noisy is None


def test_aggregates_use_cycles_with_bootstrap_intervals() -> None:
    rows = synthetic({"a": 300.0}, cycles=10, drift=0.0, noise=0.02)
    for r in rows:
        r.update(p50_ms=5.0, p99_ms=20.0, error_rate=0.0, app_cpu_ms_per_request=3.0,
                 db_cpu_ms_per_request=0.5)  # fmt: skip
    (agg,) = slices.aggregates(rows, "s", ["a"], {"a": {"valid": True, "metrics": {}}})
    thr = agg["metrics"]["throughput_rps"]
    assert thr["n"] == 10 and thr["ci95"][0] < thr["mean"] < thr["ci95"][1]
    assert thr["mean"] == pytest.approx(300.0, rel=0.02)
    assert agg["metrics"]["p99_ms"]["ci95"] == [20.0, 20.0]


def test_speed_probe_measures_a_fixed_workload() -> None:
    probe = SpeedProbe()
    probe.start()
    try:
        values = [probe.probe() for _ in range(5)]
        again = probe.probe(reuse_within=60.0)  # a boundary two slices share: one reading
        time.sleep(0.2)
        fresh = probe.probe(reuse_within=0.1)
    finally:
        probe.stop()
    assert all(0.05 < v < 500 for v in values)
    assert probe.proc is None
    assert again == values[-1] and len(probe.series) == 6 and fresh == probe.series[-1]["ms"]
    index = speed_index(probe.series)
    assert len(index) == 6 and sorted(p["speed"] for p in index)[2] == pytest.approx(1.0, abs=0.2)


def epoch_pair(
    epochs: int, cycles: int, effect: list[float], noise: float, rng: np.random.Generator
) -> tuple[list[float], list[float], list[int]]:
    """A/B per cycle over process epochs: B is the truth (ratio 1.0 × effect of the epoch)."""
    a, b, tags = [], [], []
    for e in range(epochs):
        for _ in range(cycles):
            base = 400 * math.exp(rng.normal(0, 0.1))  # drift both share
            a.append(base * math.exp(effect[e] + rng.normal(0, noise)))
            b.append(base)
            tags.append(e + 1)
    return a, b, tags


def test_epochs_turn_a_per_start_difference_into_variance_not_a_verdict() -> None:
    """Identical candidates whose processes differ by chance per start (sd 1.5 %): treating the
    cycles as one sample calls a difference most of the time; the epoch model much less often."""
    rng = np.random.default_rng(7)
    pooled = epochs = 0
    runs = 60
    for k in range(runs):
        effect = list(rng.normal(0, 0.015, size=2))
        a, b, tags = epoch_pair(2, 12, effect, 0.01, rng)
        pooled += paired.paired_ratio(a, b, k).contains(1.0)  # type: ignore[union-attr]
        epochs += paired.paired_ratio(a, b, k, tags).contains(1.0)  # type: ignore[union-attr]
    assert pooled / runs < 0.45
    assert epochs / runs > 0.55 and epochs > pooled + 0.2 * runs


def test_a_start_order_effect_cancels_when_the_order_is_reversed() -> None:
    """The later-started twin 2 % faster, and epoch 2 starts them the other way round: the
    estimate comes back to 1 and the interval holds it; one epoch alone would call it."""
    rng = np.random.default_rng(3)
    a, b, tags = epoch_pair(2, 15, [0.02, -0.02], 0.005, rng)
    both = paired.paired_ratio(a, b, 0, tags)
    first = paired.paired_ratio(a[:15], b[:15], 0)
    assert both is not None and first is not None
    assert both.contains(1.0) and abs(both.estimate - 1.0) < 0.005
    assert not first.contains(1.0) and first.estimate > 1.015


def test_without_an_epoch_effect_epochs_find_the_true_ratio() -> None:
    """No per-start effect: the epochs still find the true ratio; their interval (t on k − 1
    over four starts) is wider than the cycles pooled into one sample, but not by much more
    than t's own price for few replicates."""
    rng = np.random.default_rng(5)
    a, b, tags = epoch_pair(4, 8, [math.log(0.9)] * 4, 0.01, rng)
    pooled, both = paired.paired_ratio(a, b, 0), paired.paired_ratio(a, b, 0, tags)
    assert pooled is not None and both is not None
    assert both.contains(0.9) and abs(both.estimate - 0.9) < 0.01
    assert both.half_width < 3 * pooled.half_width


@pytest.mark.parametrize("per_start", [0.0, 0.01, 0.02])
def test_the_interval_over_epochs_holds_the_truth_95_percent_of_the_time(per_start: float) -> None:
    """Three starts of two cycles, as a default run has: cycle noise 2 %, a per-start offset of
    0, 1 or 2 %. A 95 % interval must hold the true ratio in ~95 % of runs (the random-effects
    variance with a normal quantile held it in 81–88 %, even with no per-start effect)."""
    rng = np.random.default_rng(21)
    runs, held = 300, 0
    for k in range(runs):
        a, b, tags = epoch_pair(3, 2, list(rng.normal(0, per_start, size=3)), 0.02, rng)
        ratio = paired.paired_ratio(a, b, k, tags)
        assert ratio is not None
        held += ratio.contains(1.0)
    assert 0.91 <= held / runs <= 0.99


def test_an_epoch_left_with_one_cycle_still_counts_as_a_start() -> None:
    """A slice flagged by the probe can leave an epoch one usable cycle: it is still one start's
    estimate, so three starts stay three (t on 2, not t on 1 over the other two)."""
    rng = np.random.default_rng(4)
    a, b, tags = epoch_pair(3, 2, [0.0, 0.0, 0.0], 0.01, rng)
    a[5] = None  # type: ignore[call-overload]
    both = paired.paired_ratio(a, b, 0, tags)
    two = paired.paired_ratio(a[:4], b[:4], 0, tags[:4])
    assert both is not None and two is not None
    assert both.n == 5 and both.contains(1.0)
    assert both.half_width < two.half_width / 2  # t(2) = 4.3 against t(1) = 12.7
    # the slope's share of a degree of freedom never takes t below one degree
    lost = paired.paired_ratio(a[:4], b[:4], 0, tags[:4], df_lost=1 / 3)
    assert lost is not None and lost.half_width == pytest.approx(two.half_width)


def test_analyse_reads_epochs_from_the_slices() -> None:
    rows = []
    for e, (start, effect) in enumerate(((1, 1.02), (9, 0.98)), start=1):
        for c in range(start, start + 8):
            for name, factor in (("a", effect), ("b", 1.0)):
                rows.append({"scenario": "s", "cycle": c, "spike": name, "epoch": e,
                             "throughput_rps": 100 * factor * (1 + 0.001 * (c % 3)),
                             "valid": True})  # fmt: skip
    out = slices.analyse(rows, "s", ["a", "b"], 0.03)
    assert out["epochs"] == 2 and out["cycles"] == 16
    ratio = next(iter(out["ratios_to_best"].values()))["paired"]
    assert ratio["lo"] < 1.0 < ratio["hi"]
    assert all(r["tied_with_previous"] for r in out["ranking"][1:])


def test_unpaired_with_epochs_differs_from_paired_only_by_the_pairing() -> None:
    """A per-start difference (sd 2 %) and no shared drift: pairing has nothing to remove, so the
    epoch-aware unpaired interval is about as wide as the paired one, and both are wider than
    the slices pooled into one sample (which cannot see the starts). With shared drift added,
    pairing narrows it again."""
    rng = np.random.default_rng(11)
    ratios, pooled_ratios = [], []
    tags = [1 + i // 8 for i in range(24)]
    for k in range(40):
        effect = rng.normal(0, 0.02, size=3)
        a = [400 * math.exp(effect[t - 1] + rng.normal(0, 0.01)) for t in tags]
        b = [400 * math.exp(rng.normal(0, 0.01)) for _ in tags]
        p, u = paired.paired_ratio(a, b, k, tags), paired.unpaired_ratio(a, b, k, tags)
        flat = paired.unpaired_ratio(a, b, k)
        assert p is not None and u is not None and flat is not None
        ratios.append(u.half_width / p.half_width)
        pooled_ratios.append(u.half_width / flat.half_width)
    assert 0.8 < float(np.median(ratios)) < 1.25
    assert float(np.median(pooled_ratios)) > 1.5
    rows = synthetic({"a": 270.0, "b": 300.0}, cycles=24, drift=0.15, noise=0.01)
    a, b = column(rows, "a"), column(rows, "b")
    p, u = paired.paired_ratio(a, b, 0, tags), paired.unpaired_ratio(a, b, 0, tags)
    assert p is not None and u is not None and p.contains(0.9) and u.contains(0.9)
    assert u.half_width > 3 * p.half_width


@pytest.mark.parametrize("shared", [0.0, 0.05])
def test_epochs_of_one_cycle_hold_the_truth_paired_and_unpaired(shared: float) -> None:
    """The default design: six starts of one cycle each. Each candidate's slice noise is 2 %,
    and each start shifts both candidates of a cycle alike by N(0, `shared`) (the machine at
    that minute). The paired interval (t over the starts) holds the true ratio ~95 % of the time,
    and so does the unpaired one (Welch's t over each candidate's start means) without a shared
    shift; with one, the unpaired interval is far wider (it counts the shift twice: it holds the
    truth nearly always) and pairing is what removes it."""
    rng = np.random.default_rng(8)
    runs, held_p, held_u, widths = 300, 0, 0, []
    tags = [1, 2, 3, 4, 5, 6]
    for k in range(runs):
        shift = rng.normal(0, shared, size=6) if shared else np.zeros(6)
        a = [380 * math.exp(s + rng.normal(0, 0.02)) for s in shift]
        b = [400 * math.exp(s + rng.normal(0, 0.02)) for s in shift]
        p, u = paired.paired_ratio(a, b, k, tags), paired.unpaired_ratio(a, b, k, tags)
        assert p is not None and u is not None and p.n == u.n == 6
        held_p += p.contains(0.95)
        held_u += u.contains(0.95)
        widths.append(u.half_width / p.half_width)
    assert 0.91 <= held_p / runs <= 0.99 and held_u / runs >= 0.91
    if shared:
        assert float(np.median(widths)) > 2.0
    else:
        assert held_u / runs <= 0.99 and 0.7 < float(np.median(widths)) < 1.3


def test_a_host_switching_between_two_speeds_keeps_the_slices_of_one_of_them() -> None:
    """Half the slices at 2.0 ms of probe, half at 2.7 ms: the mean of the two middle readings
    (2.35 ms) is > 10 % from both and would flag every slice; the lower median is a reading the
    machine gave, and only the slow half is left out."""
    rows = [{"probe_ms": 2.0 if i % 2 else 2.7, "valid": True} for i in range(10)]
    slices.flag_machine(rows, 0.10, drop=True)
    assert [r["machine_deviation"] for r in rows] == [i % 2 == 0 for i in range(10)]
    assert sum(slices.usable(r) for r in rows) == 5


def test_replicates_needed_reads_the_spread_back_from_the_interval() -> None:
    """Ten starts whose mean log-ratios have sd 0.1 exactly: ±3 % needs the smallest m with
    t(0.975, m − 1) · 0.1 / √m ≤ log 1.03, which is 47 (t(46) = 2.013: 0.02936 ≤ 0.02956, while
    m = 46 gives 0.02970). The interval goes through combine_epochs, as a run's does."""
    z = np.array([-1.5, -1.0, -0.6, -0.3, -0.1, 0.1, 0.3, 0.6, 1.0, 1.5])
    means = 0.02 + 0.1 * (z - z.mean()) / z.std(ddof=1)
    groups = [np.array([m - 0.05, m + 0.05]) for m in means]  # two cycles per start
    iv = paired.combine_epochs(groups)
    assert paired.replicates_needed(iv, 10, 0.03) == 47
    # a target it already meets needs no more than it has; one it cannot read says so
    assert paired.replicates_needed(iv, 10, 0.5) <= 10
    assert paired.replicates_needed(paired.Interval(1.0, 1.0, 1.0, 10), 10, 0.03) is None
    assert paired.replicates_needed(iv, 1, 0.03) is None


def test_the_forecast_from_ten_starts_centres_on_the_true_need() -> None:
    """Starts whose log-ratios have a true sd of 0.1 need 47 for ±3 % (above); forecasts read
    from ten starts scatter with the sample sd (10–90 %: ~23–73) but centre on it."""
    rng = np.random.default_rng(0)
    found = []
    for _ in range(300):
        iv = paired.combine_epochs([np.array([v]) for v in rng.normal(0.0, 0.1, 10)])
        found.append(paired.replicates_needed(iv, 10, 0.03))
    assert 40 <= float(np.median(found)) <= 50
