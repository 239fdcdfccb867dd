"""Capacity under a latency SLO, and latency at equal offered load (the open model).

Per candidate, the offered rate is stepped up (doubling from `start_rps`) until a step fails, then
bisected between the last passing and the first failing step. A step passes when p99 ≤ the SLO
(measured from intended send times: no coordinated omission), the error rate ≤ 1 % and the
achieved rate ≥ 95 % of the offered one. Capacity is the bracket [last pass, first fail]. Then
every candidate runs the same offered rates (by default 50 % and 80 % of the slowest candidate's
capacity), interleaved, so latency is compared at identical load.

The steps of all candidates are interleaved like any slice (a new random order every cycle), so
a slow minute of the host lands on everyone's steps alike rather than on one candidate's search.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from harness.results import paired, stats
from harness.run.epochs import EpochPolicy
from harness.run.interleave import InterleavedScenario
from harness.run.slicing import cycle_order
from harness.scenario import Slicing

EQUAL_LOAD_FRACTIONS = (0.5, 0.8)


@dataclass
class Search:
    """The bracket of one candidate: ramp ×2 until a failure, then bisect."""

    name: str
    rate: float
    precision: float = 0.10  # stop when the bracket's upper end is within this of the lower
    max_steps: int = 12
    growth: float = 2.0  # ramp factor until the first failure
    lo: float | None = None  # highest passing offered rate
    hi: float | None = None  # lowest failing offered rate
    steps: list[dict[str, Any]] = field(default_factory=list)
    invalid_in_a_row: int = 0
    max_invalid: int = 3  # invalid steps in a row at one rate: the search gives up, and says why
    abandoned: str | None = None

    @property
    def done(self) -> bool:
        if self.abandoned or len(self.steps) >= self.max_steps:
            return True
        if self.hi is None:
            return False
        lo = self.lo or 0.0
        return lo > 0 and self.hi / lo - 1 <= self.precision or self.hi <= self.rate_floor

    @property
    def rate_floor(self) -> float:
        return 1.0  # below 1 req/s a search says "fails at any rate" rather than going on

    def record(self, step: dict[str, Any], verdict: bool | None) -> None:
        """verdict: True pass, False fail, None invalid (the same rate again, a few times: an
        invalid step says nothing about the candidate, so it is never counted as a failure)."""
        self.steps.append(step)
        if verdict is None:
            self.invalid_in_a_row += 1
            if self.invalid_in_a_row >= self.max_invalid:
                self.abandoned = (
                    f"{self.invalid_in_a_row} invalid steps in a row at {step['offered_rps']:g} "
                    f"req/s ({', '.join(step['invalid_reasons'])})"
                )
            return
        self.invalid_in_a_row = 0
        rate = step["offered_rps"]
        if verdict:
            self.lo = max(self.lo or 0.0, rate)
        else:
            self.hi = min(self.hi or math.inf, rate)
        if self.hi is None:
            self.rate = rate * self.growth
        else:
            self.rate = ((self.lo or 0.0) + self.hi) / 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "capacity_rps": self.lo,
            "bracket": [self.lo, self.hi],
            "steps": len(self.steps),
            "reached_precision": self.hi is not None and bool(self.lo)
            and self.hi / (self.lo or 1) - 1 <= self.precision,
            "abandoned": self.abandoned,
            "history": [
                {"offered_rps": s.get("offered_rps"), "p99_ms": s.get("p99_ms"),
                 "verdict": s.get("verdict"), "why": s.get("verdict_reason")}
                for s in self.steps if "offered_rps" in s
            ],
        }  # fmt: skip


def judge_step(step: dict[str, Any], slo_ms: float, error_rate: float) -> tuple[bool | None, str]:
    """Pass, fail or invalid (None), with the reason in words."""
    reasons = set(step["invalid_reasons"])
    p99 = step.get("p99_ms")
    if reasons & {"loadgen_saturated", "noisy_neighbour", "spike_crashed", "no_load"}:
        return None, "invalid: " + ", ".join(sorted(reasons))
    if "loadgen_lagging" in reasons and p99 is not None and p99 <= slo_ms:
        return None, "invalid: the load generator could not keep the schedule"
    if p99 is None or p99 > slo_ms:
        return False, f"p99 {p99 or 0:.0f} ms > {slo_ms:g} ms"
    if step["error_rate"] > error_rate:
        return False, f"errors {step['error_rate']:.1%} > {error_rate:.0%}"
    # against what was sent: a Poisson step of a few seconds sends a few % more or less than
    # offered by chance; falling behind what arrived is the server's doing
    sent = step.get("arrivals_rps") or step["offered_rps"]
    if step["achieved_rps"] < 0.95 * sent:
        return False, f"achieved {step['achieved_rps']:.0f} < 95% of {sent:.0f} req/s sent"
    return True, f"p99 {p99:.0f} ms ≤ {slo_ms:g} ms"


def equal_load_summary(
    rows: list[dict[str, Any]], names: list[str], seed: int = 0
) -> dict[str, Any]:
    """Per offered rate: each candidate's p50/p99 (mean over cycles) and its p99 ratio to the
    lowest p99, paired by cycle. A handful of cycles (2 by default): Student-t intervals with the
    cycles as replicates, as for trials (results/stats.py); a bootstrap over two cycles gives
    about their range, and held a synthetic truth in about half of the runs."""
    out: dict[str, Any] = {}
    for rate in sorted({r["offered_rps"] for r in rows}):
        at = [r for r in rows if r["offered_rps"] == rate and r["valid"]]
        cycles = sorted({r["cycle"] for r in at})
        table = {n: [None] * len(cycles) for n in names}
        for r in at:
            table[r["spike"]][cycles.index(r["cycle"])] = r["p99_ms"]
        figures = {}
        for n in names:
            mine = [r for r in at if r["spike"] == n]
            if not mine:
                continue
            p99 = stats.summarize([r["p99_ms"] for r in mine])
            figures[n] = {
                "p50_ms": statistics.fmean(r["p50_ms"] for r in mine),
                "p99_ms": p99["mean"],
                "p99_ci95": p99["ci95"],
                "achieved_rps": statistics.fmean(r["achieved_rps"] for r in mine),
                "cycles": len(mine),
            }
        if figures:
            best = min(figures, key=lambda n: figures[n]["p99_ms"])
            each = list(range(len(cycles)))  # every cycle its own replicate: Student t
            for n, f in figures.items():
                ratio = (
                    None if n == best else paired.paired_ratio(table[n], table[best], seed, each)
                )
                f["p99_vs_lowest"] = ratio.to_dict() if ratio else None
        out[f"{rate:g}"] = {"offered_rps": rate, "lowest_p99": best if figures else None,
                            "spikes": figures}  # fmt: skip
    return out


class CapacityScenario(InterleavedScenario):
    """A scenario's task mix under the open model: capacity search, then equal load."""

    model = "open"
    id_suffix = "-capacity"

    def result(self) -> dict[str, Any]:
        return self.bench.run.setdefault("capacity", {}).setdefault(
            self.scenario.name, {"records": []}
        )

    def register(self, record: dict[str, Any]) -> None:
        record["kind"] = "capacity"
        self.result()["records"].append(record)

    def own_slices(self, spike: str) -> list[dict[str, Any]]:
        return [s for s in self.bench.run["slices"]
                if s["scenario"] == self.scenario.name and s["spike"] == spike
                and s.get("phase") in ("search", "equal_load")]  # fmt: skip

    def finish_note(self) -> None:
        self.result()["stop_reason"] = self.stop_reason

    def policy(self) -> EpochPolicy:
        # a search's steps build on each other; its brackets carry its uncertainty
        return EpochPolicy(1, 1)

    @property
    def slicing(self) -> Slicing:
        """Steps of `--step` seconds after the default lead-in (or `--lead-in`): an offered rate
        settles slower than a closed loop, so the scenario file's short slices are not for it."""
        lead_in = Slicing.lead_in_s if self.cfg.lead_in_s is None else float(self.cfg.lead_in_s)
        return Slicing(float(self.cfg.step_s), lead_in, 1)

    def _cycles(self, policy: EpochPolicy, deadline: float, last: bool) -> None:
        """The search and the equal-load steps, in one start and within the scenario's share."""
        b, cfg = self.bench, self.cfg
        name = self.scenario.name
        searches = {lv.name: self._search(lv.name) for lv in self.lives if lv.running()}
        result = self.result()
        result.update(slo_p99_ms=cfg.slo_p99_ms, step_s=cfg.step_s, searches={}, equal_load={},
                      sut_cpus=len(self.sut))  # fmt: skip
        cycle = 0
        self.stop_reason = "searched"
        walls: list[float] = []  # what one step took, lead-in and pauses included
        while any(not s.done for s in searches.values()):
            if time.monotonic() > self.end - self._equal_load_reserve(walls):
                self.stop_reason = "budget spent during the search"
                break
            cycle += 1
            for cand in cycle_order([n for n, s in searches.items() if not s.done], self.rng):
                live = next(lv for lv in self.lives if lv.name == cand)
                if not live.running():
                    searches[cand].steps.append({"lost": True})
                    searches[cand].max_steps = 0
                    continue
                search = searches[cand]
                began = time.monotonic()
                rec = self._slice(live, cycle, rate=search.rate, seconds=cfg.step_s)
                walls.append(time.monotonic() - began)
                verdict, why = judge_step(rec, cfg.slo_p99_ms, cfg.thresholds.error_rate)
                rec.update(phase="search", verdict=verdict, verdict_reason=why)
                b.run["slices"].append(rec)
                search.record(rec, verdict)
            result["searches"] = {n: s.to_dict() for n, s in searches.items()}
            b.save()
            b.progress.message(
                f"{name} capacity cycle {cycle}: "
                + ", ".join(
                    f"{n} [{s.lo or 0:.0f}, {s.hi or math.inf:.0f}] req/s"
                    for n, s in searches.items()
                )
            )
        self._equal_load(searches, result, cycle)

    def _equal_load_reserve(self, walls: list[float]) -> float:
        """The search ends early enough for the equal-load steps to fit in this scenario's share
        (they ran past it by up to a minute, which the scenarios after it paid for)."""
        cfg = self.cfg
        step = statistics.median(walls) if walls else cfg.step_s + self.slicing.lead_in_s + 0.3
        running = sum(1 for lv in self.lives if lv.running())
        return step * running * cfg.equal_load_cycles * len(cfg.equal_load_fractions)

    def _search(self, name: str) -> Search:
        """Start near the candidate's saturated closed-loop throughput when this run measured
        it (capacity under an SLO is below it): a few bisection steps instead of a long ramp."""
        cfg = self.cfg
        closed = self.bench.closed_throughput(self.scenario.name, name)
        if closed:
            return Search(name, round(0.8 * closed, 1), cfg.capacity_precision, growth=1.25)
        return Search(name, cfg.capacity_start_rps, cfg.capacity_precision)

    def warm_rate(self) -> float:
        return self.cfg.capacity_start_rps

    def _equal_load(self, searches: dict[str, Search], result: dict[str, Any], cycle: int) -> None:
        b, cfg = self.bench, self.cfg
        known = [s.lo for s in searches.values() if s.lo]
        if not known:
            result["equal_load_skipped"] = "no candidate passed any step"
            return
        base = min(known)
        rates = [round(base * f, 1) for f in cfg.equal_load_fractions]
        result["equal_load_rates"] = rates
        rows: list[dict[str, Any]] = []
        for rate in rates:
            for _ in range(cfg.equal_load_cycles):
                if time.monotonic() > self.end + cfg.capacity_overrun_s:
                    result["equal_load_stopped"] = "budget spent"
                    break
                cycle += 1
                names = [lv.name for lv in self.lives if lv.running()]
                for cand in cycle_order(names, self.rng):
                    live = next(lv for lv in self.lives if lv.name == cand)
                    rec = self._slice(live, cycle, rate=rate, seconds=cfg.step_s)
                    rec["phase"] = "equal_load"
                    b.run["slices"].append(rec)
                    rows.append(rec)
            result["equal_load"] = equal_load_summary(rows, [lv.name for lv in self.lives])
            b.save()
