"""How long an interleaved run would have needed to reach its target resolution, at its own noise.

A run that spends its budget says how sure it got; a team lead's next question is what budget
would have been enough. Each ratio to the best is read back as a spread per replicate (a start
of the processes; a cycle in a one-start run), the replicates its interval would need at that
spread follow from Student's t (`paired.replicates_needed`), and the run's own pace (seconds of
interleaved measurement per replicate) turns them into minutes. It is a forecast at this run's
noise: a quieter or noisier hour changes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.results import paired
from harness.results import rundata as rd
from harness.results import slices as sl


@dataclass(frozen=True)
class Need:
    """One scenario's forecast: replicates measured and needed, and seconds per replicate."""

    scenario: str
    replicates: int
    needed: int
    seconds_per_replicate: float | None
    unit: str = "starts"  # "cycles" in a one-start run

    @property
    def minutes(self) -> float | None:
        if self.seconds_per_replicate is None:
            return None
        return self.needed * self.seconds_per_replicate / 60


def _interval(d: dict[str, Any] | None) -> paired.Interval | None:
    if not d or d.get("lo") is None or d.get("hi") is None or not d.get("estimate"):
        return None
    return paired.Interval(float(d["estimate"]), float(d["lo"]), float(d["hi"]), int(d["n"]))


def _span_s(run: dict[str, Any], scenarios: list[str]) -> float | None:
    """Wall seconds from the first closed-loop slice of these scenarios to the last one's end."""
    mine = [s for sc in scenarios for s in sl.closed_slices(run.get("slices") or [], sc)]
    if not mine:
        return None
    return max(float(s["end"]) for s in mine) - min(float(s["start"]) for s in mine)


def scenario_need(run: dict[str, Any], scenario: str, target: float) -> Need | None:
    """The forecast for one scenario: its widest ratio to the best decides. None when the run
    has no paired interval with spread (one candidate, too few cycles)."""
    an = rd.analysis(run, scenario)
    epochs = int(an.get("epochs") or 1)
    replicates = epochs if epochs > 1 else int(an.get("cycles") or 0)
    needs = [
        n
        for r in (an.get("ratios_to_best") or {}).values()
        if (iv := _interval(r.get("paired")))
        and (n := paired.replicates_needed(iv, replicates, target))
    ]
    if not needs:
        return None
    shared = list(an.get("shared_starts") or [])
    span = _span_s(run, [scenario, *shared])  # shared starts: one start's time serves them all
    per = span / replicates if span and replicates else None
    return Need(scenario, replicates, max(needs), per, "starts" if epochs > 1 else "cycles")


def run_need(run: dict[str, Any], target: float | None = None) -> dict[str, Any]:
    """Per scenario forecasts and the run's total: with shared starts every scenario advances
    together (the slowest decides); without, their times add up."""
    if rd.design(run) != "interleaved":
        return {"scenarios": {}, "minutes": None, "target": target}
    found: dict[str, Need] = {}
    for sc in rd.scenario_names(run):
        an = rd.analysis(run, sc)
        goal = target if target is not None else float(an.get("target") or 0.03)
        if an and (need := scenario_need(run, sc, goal)):
            found[sc] = need
    minutes = [n.minutes for n in found.values() if n.minutes is not None]
    shared = any(rd.analysis(run, sc).get("shared_starts") for sc in found)
    total = (max(minutes) if shared else sum(minutes)) if minutes else None
    return {"scenarios": found, "minutes": total, "target": target}


def forecast_text(run: dict[str, Any], need: dict[str, Any] | None = None) -> str:
    """One sentence for the terminal and the report: what the target would have needed at this
    run's spread; empty when every scenario met it or the run cannot say. `need`: the run's
    `run_need`, where the caller has it already."""
    need = need if need is not None else run_need(run)
    if need["minutes"] is None or not any(
        n.needed > n.replicates for n in need["scenarios"].values()
    ):
        return ""
    most = max(need["scenarios"].values(), key=lambda n: n.minutes or 0)
    target = need["target"] or float(rd.analysis(run, most.scenario).get("target") or 0.03)
    return (
        f"At this run's spread, ±{target * 100:g}% in every scenario would take about "
        f"{most.needed} {most.unit} ({most.scenario} decides; this run had {most.replicates}), "
        f"≈{need['minutes']:.0f} min of interleaved measurement: a forecast, since the spread "
        "changes with the hour."
    )
