"""A run's capacity searches, read: each candidate's capacity, how uncertain it is, and the ranks
that follow.

A search is one bisection per candidate, so its bracket [last pass, first fail] says how finely
the search cut, not how sure the run is. Each verdict rests on one short step, taken at its own
moment: nothing pairs one candidate's deciding steps with another's. So a capacity is as
uncertain as one slice of the same candidate in the same scenario's closed loop, over the same
run (the spread of its slices' throughput, not of their mean), and a ratio of two capacities
carries two of those. Two capacities are told apart only beyond that ratio's 95 % range, with
brackets that do not overlap. README.md, "Capacity under a latency SLO", has the runs this was
checked against.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from harness.results import paired, slices
from harness.results import rundata as rd

Z95 = 1.959964


def searches(run: dict[str, Any], scenario: str) -> dict[str, dict[str, Any]]:
    return dict(((run.get("capacity") or {}).get(scenario) or {}).get("searches") or {})


def capacity(search: dict[str, Any]) -> float | None:
    """The last passing offered rate; None when no rate passed or the search gave up."""
    if search.get("abandoned"):
        return None
    value = search.get("capacity_rps")
    return float(value) if value else None


def bracket(search: dict[str, Any]) -> tuple[float, float]:
    """[last pass, first fail] with 0 for no pass and inf for no failure found."""
    lo, hi = search.get("bracket") or [None, None]
    return float(lo or 0.0), float(hi) if hi else math.inf


def step_log_sd(run: dict[str, Any], scenario: str) -> float | None:
    """The sd of one slice's log throughput about its candidate's mean, pooled over the candidates
    of the scenario's closed loop: what one step's verdict is exposed to. None without two usable
    slices of some candidate."""
    logs: dict[str, list[float]] = {}
    for s in slices.closed_slices(run.get("slices") or [], scenario):
        if slices.usable(s) and (s.get("throughput_rps") or 0) > 0:
            logs.setdefault(s["spike"], []).append(math.log(float(s["throughput_rps"])))
    squares, dof = 0.0, 0
    for values in logs.values():
        if len(values) >= 2:
            mean = statistics.fmean(values)
            squares += sum((x - mean) ** 2 for x in values)
            dof += len(values) - 1
    return math.sqrt(squares / dof) if dof >= 2 else None


def ratio_threshold(run: dict[str, Any], scenario: str) -> float | None:
    """The smallest capacity ratio (minus 1) this run can call: the 95 % range of a ratio of two
    single steps, each with `step_log_sd`; inf when the closed loop had too few slices to say
    (nothing is ranked, as in the closed loop); None when the run measured no closed loop for the
    scenario (a capacity-only run: brackets alone)."""
    if not slices.closed_slices(run.get("slices") or [], scenario):
        return None
    sd = step_log_sd(run, scenario)
    return math.inf if sd is None else math.exp(Z95 * math.sqrt(2.0) * sd) - 1


def relative_sd(run: dict[str, Any], scenario: str, search: dict[str, Any]) -> float:
    """One capacity's relative standard deviation: one step's (`step_log_sd`); without it, the
    bracket's half-width taken as a 95 % half-width (all the run can say)."""
    sd = step_log_sd(run, scenario)
    if sd is not None:
        return sd
    lo, hi = bracket(search)
    if lo <= 0 or not math.isfinite(hi):
        return 0.0
    return (hi - lo) / (2 * Z95 * lo)


def relative_halfwidth(run: dict[str, Any], scenario: str, search: dict[str, Any]) -> float:
    """One capacity's relative 95 % half-width (sizing widens the bracket by it)."""
    return math.exp(Z95 * relative_sd(run, scenario, search)) - 1


def separated(found: dict[str, dict[str, Any]], above: str, below: str, h: float | None) -> bool:
    """Whether the run can tell `above` (the higher capacity) from `below`; h: the scenario's
    `ratio_threshold`."""
    a, b = found[above], found[below]
    top = capacity(a)
    a_lo, _ = bracket(a)
    _, b_hi = bracket(b)
    if top is None or not a_lo > b_hi:
        return False  # overlapping brackets (or no capacity above): the search could not tell
    below_cap = capacity(b)
    if h is None or below_cap is None:
        return True
    return top / below_cap - 1 > h  # as the closed loop: only a gap above the threshold


def ranking(run: dict[str, Any], scenario: str) -> list[tuple[str, int, bool]]:
    """(spike, rank, tied with the one above) by capacity, best first; searches that gave up are
    left out, candidates that met the SLO at no rate come last."""
    found = {s: v for s, v in searches(run, scenario).items() if not v.get("abandoned")}
    order = sorted(found, key=lambda s: -(capacity(found[s]) or 0.0))
    h = ratio_threshold(run, scenario)  # once: it reads every closed-loop slice
    return paired.rank_groups(order, lambda a, b: separated(found, a, b, h))


def top_equal_load(run: dict[str, Any], scenario: str) -> dict[str, dict[str, Any]]:
    """spike → its figures at the highest equal-load rate (what the score weighs), or {}."""
    points = (((run.get("capacity") or {}).get(scenario) or {}).get("equal_load") or {}).values()
    if not points:
        return {}
    return dict(max(points, key=lambda p: p["offered_rps"]).get("spikes") or {})


def ranking_words(ranked: list[tuple[str, int, bool]]) -> str:
    """A ranking in words, e.g. "flask ≈ litestar > fastapi" (≈ shares a rank)."""
    text = ranked[0][0]
    for spike, _, tied in ranked[1:]:
        text += f" {'≈' if tied else '>'} {spike}"
    return text


def verdict(run: dict[str, Any], scenario: str) -> str | None:
    """The capacity ranking in words, e.g. "by capacity, flask ≈ litestar > django (…)", as the
    terminal, the report and the decision record say it; None with fewer than two ranked."""
    ranked = ranking(run, scenario)
    if len(ranked) < 2:
        return None
    h = ratio_threshold(run, scenario)
    if h is None:
        within = "told apart by non-overlapping brackets only: no closed loop measured"
    elif math.isinf(h):
        within = "not told apart: too few closed-loop slices to say how much a step moves"
    else:
        within = f"differences under ±{h:.1%}, what one step moves in this run, are ties"
    return f"by capacity, {ranking_words(ranked)} ({within})"
