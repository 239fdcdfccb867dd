"""The start-order effect on synthetic slices with known answers: the slope is found, the
adjusted comparison holds the true ratios where the epochs disagree only by their start order,
and a run without the effect (or without start orders) is left as it was."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from harness.results import slices, startorder

RATES = {"a": 400.0, "b": 380.0, "c": 300.0, "d": 360.0}


def run_slices(
    epochs: int, cycles: int, per_position: float, seed: int, per_start: float = 0.003
) -> list[dict[str, Any]]:
    """Epochs start the candidates forward, then reversed, and so on; a candidate started at
    position p runs (1 + per_position)^(p - 1) faster for the epoch; the machine drifts (shared),
    each start and each slice adds its own noise."""
    rng = np.random.default_rng(seed)
    names, rows, cycle = list(RATES), [], 0
    for e in range(1, epochs + 1):
        order = names if e % 2 else names[::-1]
        start = {sp: rng.normal(0, per_start) for sp in names}
        for _ in range(cycles):
            cycle += 1
            speed = math.exp(rng.normal(0, 0.05))
            for pos, sp in enumerate(order, start=1):
                value = RATES[sp] * speed * (1 + per_position) ** (pos - 1)
                value *= math.exp(start[sp] + rng.normal(0, 0.01))
                rows.append({"scenario": "s", "cycle": cycle, "spike": sp, "epoch": e,
                             "start_order": pos, "valid": True,
                             "throughput_rps": value})  # fmt: skip
    return rows


def ratios(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {sp: r["paired"] for sp, r in out["ratios_to_best"].items()}


def test_the_slope_per_position_is_found() -> None:
    found = [slices.order_effect(run_slices(2, 3, 0.01, seed), "s", list(RATES))
             for seed in range(20)]  # fmt: skip
    assert all(f is not None and f.se is not None for f in found)
    slopes = np.asarray([f.per_position for f in found if f])
    assert abs(float(slopes.mean()) - 0.01) < 0.002
    within = sum(abs(f.log_slope - math.log(1.01)) <= 2 * f.se for f in found if f and f.se)
    assert within >= 16  # ~95 % nominal


def test_adjusting_narrows_the_interval_and_holds_the_true_ratios() -> None:
    narrower = held = held_raw = 0
    for seed in range(20):
        rows = run_slices(3, 2, 0.01, seed)  # three starts: the default minimum
        adjusted = slices.analyse(rows, "s", list(RATES), 0.03, seed)
        raw = slices.analyse(rows, "s", list(RATES), 0.03, seed, adjust_order=False)
        assert adjusted["start_order_effect"]["adjusted"] is True
        assert raw["start_order_effect"]["adjusted"] is False
        adj, unadj = ratios(adjusted), ratios(raw)
        for sp, r in adj.items():
            truth = RATES[sp] / RATES["a"]
            held += r["lo"] <= truth <= r["hi"]
            held_raw += unadj[sp]["lo"] <= truth <= unadj[sp]["hi"]
            narrower += r["half_width"] < unadj[sp]["half_width"]
    assert held >= 0.85 * 60
    assert narrower >= 0.8 * 60


def test_with_an_odd_number_of_epochs_adjusting_removes_the_bias() -> None:
    """Forward, reversed, forward: the first-started candidate sits at position 1 twice, so
    its unadjusted estimate keeps a share of the effect; the adjusted one does not."""
    bias_raw, bias_adj = [], []
    for seed in range(20):
        rows = run_slices(3, 3, 0.02, seed)
        for adjust, out in ((False, bias_raw), (True, bias_adj)):
            r = ratios(slices.analyse(rows, "s", list(RATES), 0.03, seed, adjust_order=adjust))
            out.append(math.log(r["d"]["estimate"] / (RATES["d"] / RATES["a"])))
    assert abs(float(np.mean(bias_raw))) > 0.015  # d: positions 4, 1, 4 against a: 1, 4, 1
    assert abs(float(np.mean(bias_adj))) < 0.005


def test_without_the_effect_the_slope_is_near_zero_and_the_figures_hold() -> None:
    rows = run_slices(2, 3, 0.0, 4)
    effect = slices.order_effect(rows, "s", list(RATES))
    assert effect is not None and effect.se is not None
    assert abs(effect.log_slope) < 3 * effect.se
    for sp, r in ratios(slices.analyse(rows, "s", list(RATES), 0.03)).items():
        assert r["lo"] <= RATES[sp] / RATES["a"] <= r["hi"]


def test_one_epoch_or_no_start_orders_leave_the_figures_as_measured() -> None:
    one = run_slices(1, 6, 0.01, 2)
    assert slices.order_effect(one, "s", list(RATES)) is None
    older = [{k: v for k, v in s.items() if k != "start_order"} for s in run_slices(2, 3, 0.01, 2)]
    out = slices.analyse(older, "s", list(RATES), 0.03)
    assert out["start_order_effect"] is None
    table = slices.cycle_table(older, "s", list(RATES), "throughput_rps")
    assert table["a"][0] == pytest.approx(older[0]["throughput_rps"])


def test_the_factor_puts_a_slice_at_the_middle_position() -> None:
    effect = startorder.OrderEffect(math.log(1.01), 0.001, 8, 2)
    assert startorder.factor(effect, 4, 2.5) == pytest.approx(1.01**-1.5)
    assert startorder.factor(effect, 1, 2.5) == pytest.approx(1.01**1.5)
    assert startorder.factor(None, 4, 2.5) == 1.0
    assert startorder.factor(startorder.OrderEffect(math.log(1.01), 0.001, 4, 1), 4, 2.5) == 1.0


def test_a_pair_over_two_or_three_epochs_is_not_adjusted() -> None:
    """Two candidates: their one between-epoch difference per extra epoch is what the slope
    would take; with fewer than two degrees of freedom left the figures stay as measured."""
    two = {"a": 400.0, "b": 400.0}
    for epochs, applies in ((2, False), (3, False), (4, True)):
        rows = [s for s in run_slices(epochs, 3, 0.01, 1) if s["spike"] in two]
        for s in rows:  # the pair's own start positions: 1 and 2, reversed each epoch
            first = s["spike"] == "a"
            s["start_order"] = (1 if first else 2) if s["epoch"] % 2 else (2 if first else 1)
        effect = slices.order_effect(rows, "s", list(two))
        assert effect is not None and effect.applies is applies, (epochs, effect)
        out = slices.analyse(rows, "s", list(two), 0.03)
        assert out["start_order_effect"]["adjusted"] is applies


@pytest.mark.parametrize("per_start", [0.003, 0.02])
def test_over_three_starts_the_adjusted_interval_holds_the_truth_95_percent_of_the_time(
    per_start: float,
) -> None:
    """Three starts of two cycles, as a default run has, 1 % per position: the slope is fitted
    on the epoch means, so each pair gives up its share of a degree of freedom, and where its
    start positions do not cancel (three epochs) it carries the slope's own error. With
    neither, the interval held the truth in 89-92 % (/work/notes/ordercov6.py); with the
    degree of freedom alone, the worst pair (last, first, last against the best) held it in
    84-89 % (/work/notes/pooled6.py)."""
    held: dict[str, int] = {}
    runs = 60
    for seed in range(runs):
        rows = run_slices(3, 2, 0.01, seed, per_start=per_start)
        out = slices.analyse(rows, "s", list(RATES), 0.03, seed)
        assert out["start_order_effect"]["adjusted"] is True
        for sp, r in ratios(out).items():
            held[sp] = held.get(sp, 0) + (r["lo"] <= RATES[sp] / RATES["a"] <= r["hi"])
    assert 0.9 <= sum(held.values()) / (runs * len(held)) <= 0.99, held
    assert min(held.values()) >= 0.85 * runs, held


def test_with_noise_of_its_own_per_start_the_adjusted_interval_still_holds_the_truth() -> None:
    """1 % of per-start noise besides the 1 % per position: the slope takes one degree of
    freedom from the between-epoch variance, and the interval must stay honest."""
    held = total = 0
    for seed in range(30):
        rows = run_slices(2, 3, 0.01, seed, per_start=0.01)
        for sp, r in ratios(slices.analyse(rows, "s", list(RATES), 0.03, seed)).items():
            held += r["lo"] <= RATES[sp] / RATES["a"] <= r["hi"]
            total += 1
    assert held >= 0.75 * total, (held, total)
