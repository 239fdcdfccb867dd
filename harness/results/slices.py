"""From interleaved slices to the figures a run reports: per-candidate estimates over cycles, the
paired comparisons, the rank groups and the run's resolution.

Pure functions over the slice records stored in run.json (`bench` calls them while it measures,
to decide when to stop; readers find their output stored beside the slices).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from harness.results import paired, startorder
from harness.results.startorder import OrderEffect
from harness.results.stats import HIGH_CV

ESTIMATOR = "mean over cycles, 95% bootstrap CI (BCa)"
# with normalisation (schema 8's default): each slice at the scenario's median machine speed
ESTIMATOR_NORMALISED = "mean over cycles of speed-normalised slices, 95% bootstrap CI (BCa)"
# slice field → aggregate metric name (the names trials-design aggregates use)
SLICE_METRICS = {
    "throughput_rps": "throughput_rps",
    "p50_ms": "p50_ms",
    "p99_ms": "p99_ms",
    "error_rate": "error_rate",
    "app_cpu_ms_per_request": "app_cpu_ms_per_request",
    "db_cpu_ms_per_request": "db_cpu_ms_per_request",
}


FLAG_DEVIATION = 0.10  # a probe this far from the run's median flags the slices around it


def deviates(ms: float, median_ms: float, limit: float = FLAG_DEVIATION) -> bool:
    return bool(median_ms) and abs(ms / median_ms - 1.0) > limit


def median_probe(slices: Sequence[dict[str, Any]], field: str = "probe_ms") -> float | None:
    """The run's typical probe: the lower median, a reading the machine actually gave. On a host
    that switches between two speeds, the mean of the two middle readings can fall between
    them, >10 % from both, and flag every slice (a CI run lost all ten of its slices so)."""
    probes = [s[field] for s in slices if s.get(field)]
    return statistics.median_low(probes) if probes else None


def flag_machine(slices: list[dict[str, Any]], limit: float, drop: bool = False) -> None:
    """Mark slices whose surrounding probe is far from the run's median speed (in place), and
    whether the analysis leaves them out (`left_out`). Kept by default: on a host switching
    between two speeds the flag took half the slices and widened every interval, while the
    pairing within a cycle already cancels what the candidates share (README, "The probe")."""
    med = median_probe(slices)
    for s in slices:
        s["machine_deviation"] = bool(
            med and s.get("probe_ms") and deviates(s["probe_ms"], med, limit)
        )
        s["left_out"] = bool(drop and s["machine_deviation"])


def left_out(s: dict[str, Any]) -> bool:
    """The analysis left the slice out; before `left_out` was written, every flagged slice was."""
    return bool(s.get("left_out", s.get("machine_deviation")))


def usable(s: dict[str, Any]) -> bool:
    return bool(s.get("valid")) and not left_out(s)


# what normalisation divides by, best first: the tracker's reading during the slice (results
# from schema 9), else the probe read around it
SPEED_READINGS = ("tracker_us", "probe_ms")


def value(
    s: dict[str, Any],
    metric: str,
    medians: dict[str, float | None],
    normalise: bool,
    weight: float = 1.0,
) -> Any:
    """A slice's metric; normalised by the machine's speed: a slice taken while the machine ran
    10 % slow has its throughput scaled up 10 % (and its per-request costs scaled down), times
    `weight` in log terms (speed_weight: how much of the reading is the machine, not noise)."""
    v = s.get(metric)
    if v is None or not normalise or metric == "error_rate":
        return v
    for field in SPEED_READINGS:
        if s.get(field) and medians.get(field):
            w = weight if field == "tracker_us" else 1.0
            factor = (s[field] / medians[field]) ** w  # type: ignore[operator]
            return v * factor if metric == "throughput_rps" else v / factor
    return v


def speed_weight(slices: Sequence[dict[str, Any]]) -> float:
    """How much of the tracker's slice-to-slice variation is the machine: its reliability,
    1 - mean(se²) / var(log reading), in [0, 1]. A noisy reading of a true speed s has the
    best linear predictor reliability × reading (errors in variables), so the correction is
    raised to this power: ~0.9 on a host whose speed moves 10-15 % between slices, towards 0
    on a quiet one, where the reading (±3-4 % per 2-s slice here) is mostly its own noise and
    a full correction would widen the intervals. 1 where slices carry no se (files before it)."""
    rows = [s for s in slices if usable(s) and s.get("tracker_us")]
    ses = [s["tracker_se"] for s in rows if s.get("tracker_se") is not None]
    if len(rows) < 3 or len(ses) < len(rows):
        return 1.0
    var = statistics.variance(math.log(s["tracker_us"]) for s in rows)
    if var <= 0:
        return 0.0
    return min(max(1.0 - statistics.fmean(se * se for se in ses) / var, 0.0), 1.0)


def closed_slices(slices: Sequence[dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    """The scenario's closed-loop slices (capacity and equal-load steps carry a `phase`)."""
    return [s for s in slices if s["scenario"] == scenario and s.get("phase") is None]


def cycle_table(
    slices: Sequence[dict[str, Any]],
    scenario: str,
    spikes: Sequence[str],
    metric: str,
    normalise: bool = False,
    order: OrderEffect | None = None,
) -> dict[str, list[float | None]]:
    """spike → value per cycle (None where that spike's slice is missing or unusable); with
    `order`, throughput is put back to the epoch's middle start position (results/startorder)."""
    mine = closed_slices(slices, scenario)
    cycles = sorted({s["cycle"] for s in mine})
    med = {field: median_probe(mine, field) for field in SPEED_READINGS}
    weight = speed_weight(mine) if normalise else 1.0
    table: dict[str, list[float | None]] = {sp: [None] * len(cycles) for sp in spikes}
    index = {c: i for i, c in enumerate(cycles)}
    centre = startorder.centres(start_orders(slices, scenario)) if order else {}
    for s in mine:
        if s["spike"] in table and usable(s):
            v = value(s, metric, med, normalise, weight)
            if order is not None and metric == "throughput_rps" and v is not None:
                epoch = int(s.get("epoch") or 1)
                v *= startorder.factor(order, s.get("start_order"), centre.get(epoch))
            table[s["spike"]][index[s["cycle"]]] = v
    return table


def start_orders(slices: Sequence[dict[str, Any]], scenario: str) -> dict[tuple[str, int], int]:
    """(spike, epoch) → the position that epoch started the spike in (slices of schema 5)."""
    return {
        (s["spike"], int(s.get("epoch") or 1)): int(s["start_order"])
        for s in closed_slices(slices, scenario)
        if s.get("start_order")
    }


def order_effect(
    slices: Sequence[dict[str, Any]], scenario: str, spikes: Sequence[str], normalise: bool = False
) -> OrderEffect | None:
    """The scenario's start-order slope in throughput (None with one epoch or older files)."""
    orders = start_orders(slices, scenario)
    if not orders:
        return None
    table = cycle_table(slices, scenario, spikes, "throughput_rps", normalise)
    return startorder.estimate(table, cycle_epochs(slices, scenario), orders)


def cycle_epochs(slices: Sequence[dict[str, Any]], scenario: str) -> list[int]:
    """The process epoch of each cycle, in cycle_table's order (1 for runs before epochs)."""
    mine = closed_slices(slices, scenario)
    epoch = {s["cycle"]: int(s.get("epoch") or 1) for s in mine}
    return [epoch[c] for c in sorted(epoch)]


def summary(values: Sequence[float | None], seed: int) -> dict[str, Any]:
    """The aggregate summary shape of run.json, with the bootstrap interval of the mean."""
    vals = [float(v) for v in values if v is not None]
    n = len(vals)
    if not n:
        return {"n": 0, "median": None, "mean": None, "stdev": None, "ci95": None, "cv": None,
                "values": []}  # fmt: skip
    interval = paired.mean_interval(vals, seed)
    mean = statistics.fmean(vals)
    return {
        "n": n,
        "median": statistics.median(vals),
        "mean": mean,
        "stdev": statistics.stdev(vals) if n > 1 else 0.0,
        "ci95": [interval.lo, interval.hi] if interval else None,
        "cv": paired.cv(vals),
        "values": vals,
    }


def analyse(
    slices: Sequence[dict[str, Any]],
    scenario: str,
    spikes: Sequence[str],
    target: float,
    seed: int = 0,
    normalise: bool = False,
    floor: float = 0.0,
    adjust_order: bool = True,
) -> dict[str, Any]:
    """Estimates, paired ratios to the best, rank groups and the resolution of one scenario.

    `floor` is a resolution known from elsewhere (an A/A pair): nothing smaller is ranked.
    `adjust_order`: throughput put back to the middle start position (results/startorder)."""
    effect = order_effect(slices, scenario, spikes, normalise)
    thr = cycle_table(slices, scenario, spikes, "throughput_rps", normalise,
                      effect if adjust_order else None)  # fmt: skip
    epochs = cycle_epochs(slices, scenario)
    # the slope was fitted on the candidates' epoch means: each pair's share of that degree of
    # freedom is taken from its t interval (without it, three starts held the truth in ~90 %)
    adjusted = adjust_order and effect is not None and effect.applies
    orders = start_orders(slices, scenario)
    df_lost = 1.0 / max(len({sp for sp, _ in orders}) - 1, 1) if adjusted else 0.0

    def slope_var(a: str, b: str) -> float:
        """The slope's own error where a pair's start positions do not cancel over its epochs
        (an odd number of them): (mean position difference × se)²; the epochs' spread holds
        the rest. With it the worst pair of a synthetic run held the truth in 91-93 %, 84-89 %
        without (/work/notes/pooled6.py)."""
        if not adjusted or effect is None or not effect.se:
            return 0.0
        diffs = [o - orders[(b, e)] for (sp, e), o in orders.items()
                 if sp == a and (b, e) in orders]  # fmt: skip
        return (sum(diffs) / len(diffs) * effect.se) ** 2 if diffs else 0.0

    est = {sp: statistics.fmean(v) for sp, vs in thr.items() if (v := [x for x in vs if x])}
    out: dict[str, Any] = {
        "scenario": scenario,
        "cycles": len(next(iter(thr.values()), [])),
        "epochs": len(set(epochs)),
        "target": target,
        "normalised_by_probe": normalise,
        "speed_weight": speed_weight(closed_slices(slices, scenario)) if normalise else None,
        "best": None,
        "ratios_to_best": {},
        "pairs": [],
        "resolution": None,
        "resolution_reached": False,
        "ranking": [],
        "start_order_effect": (
            {**effect.to_dict(), "adjusted": adjusted} if effect is not None else None
        ),
    }
    if not est:
        return out
    order = sorted(est, key=lambda sp: -est[sp])
    best = order[0]
    out["best"] = best
    ratios = {}
    for sp in order[1:]:
        extra = slope_var(sp, best)
        p = paired.paired_ratio(thr[sp], thr[best], seed, epochs, df_lost, extra)
        u = paired.unpaired_ratio(thr[sp], thr[best], seed, epochs, df_lost, extra)
        ratios[sp] = p
        out["ratios_to_best"][sp] = {
            "paired": p.to_dict() if p else None,
            "unpaired": u.to_dict() if u else None,
            "starts": paired.start_ratios(thr[sp], thr[best], epochs),
        }
    widths = [r.half_width for r in ratios.values() if r is not None]
    resolution = max(widths) if widths else None
    out["resolution"] = resolution
    out["resolution_reached"] = len(order) > 1 and paired.resolution_reached(
        list(ratios.values()), target
    )
    threshold = max(resolution or 0.0, floor)
    pair_cache: dict[tuple[str, str], paired.Interval | None] = {}

    def separated(a: str, b: str) -> bool:
        if (a, b) not in pair_cache:
            pair_cache[(a, b)] = paired.paired_ratio(
                thr[a], thr[b], seed, epochs, df_lost, slope_var(a, b)
            )
        return paired.distinguishable(pair_cache[(a, b)], threshold)

    groups = paired.rank_groups(order, separated)
    out["ranking"] = [
        {"spike": sp, "rank": rank, "tied_with_previous": tied, "throughput_rps": est[sp]}
        for sp, rank, tied in groups
    ]
    out["pairs"] = [
        {"a": a, "b": b, "paired": r.to_dict() if r else None}
        for (a, b), r in sorted(pair_cache.items())
    ]
    out["ranking_threshold"] = threshold
    return out


def aggregates(
    slices: Sequence[dict[str, Any]],
    scenario: str,
    spikes: Sequence[str],
    records: dict[str, dict[str, Any]],
    seed: int = 0,
    adjust_order: bool = True,
    normalise: bool = False,
) -> list[dict[str, Any]]:
    """run.json aggregates for the interleaved design: per-cycle metrics with bootstrap CIs;
    memory and startup (one process per spike and scenario) from the spike's record.
    Throughput is start-order adjusted and speed-normalised as the analysis does it (one
    estimate everywhere)."""
    out = []
    mine = closed_slices(slices, scenario)
    effect = order_effect(slices, scenario, spikes, normalise) if adjust_order else None
    for sp in spikes:
        own = [s for s in mine if s["spike"] == sp]
        metrics = {  # normalised to the scenario's median speed: one reference for everyone
            name: summary(cycle_table(slices, scenario, [sp], field, normalise, effect)[sp], seed)
            for field, name in SLICE_METRICS.items()
        }
        rec = records.get(sp) or {}
        m = rec.get("metrics") or {}
        for name, path in (
            ("idle_rss_bytes", ("memory", "idle_rss_bytes")),
            ("peak_rss_bytes", ("memory", "peak_rss_bytes")),
            ("peak_pss_bytes", ("memory", "peak_pss_bytes")),
            ("startup_seconds", ("startup_seconds",)),
        ):
            v: Any = m
            for key in path:
                v = v.get(key) if isinstance(v, dict) else None
            metrics[name] = summary([v] if isinstance(v, int | float) else [], seed)
        good = [s for s in own if usable(s)]
        warnings = []
        cv = metrics["throughput_rps"]["cv"]
        if cv is not None and cv > HIGH_CV:
            warnings.append(
                f"high_cv: throughput varies {cv:.0%} between cycles (> {HIGH_CV:.0%}); the "
                "paired comparison cancels what the candidates share"
            )
        if len(good) < len(own):
            warnings.append(f"{len(own) - len(good)} of {len(own)} slices left out")
        if len(good) < 2:
            warnings.append("fewer than 2 usable slices: no confidence interval")
        out.append(
            {
                "spike": sp,
                "scenario": scenario,
                "trials": 1 if rec else 0,
                "valid_trials": 1 if rec.get("valid") else 0,
                "slices": len(own),
                "usable_slices": len(good),
                "metrics": metrics,
                "warnings": warnings,
            }
        )
    return out


def relative_table(
    slices: Sequence[dict[str, Any]], scenario: str, spikes: Sequence[str], metric: str
) -> dict[str, list[float]]:
    """spike → per cycle, its value ÷ the geometric mean of the other candidates' values in the
    same cycle. What the whole machine did to every candidate cancels; what changed in one
    candidate stays. Cycles where any of them is missing are skipped."""
    table = cycle_table(slices, scenario, spikes, metric)
    out: dict[str, list[float]] = {sp: [] for sp in spikes}
    if len(spikes) < 2:
        return out
    for i in range(len(next(iter(table.values())))):
        row = {sp: table[sp][i] for sp in spikes}
        if any(v is None or v <= 0 for v in row.values()):
            continue
        for sp in spikes:
            others = [math.log(v) for o, v in row.items() if o != sp]  # type: ignore[arg-type]
            out[sp].append(row[sp] / math.exp(sum(others) / len(others)))  # type: ignore[operator]
    return out
