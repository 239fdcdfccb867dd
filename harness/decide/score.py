"""`spikebench score results/<run-id>`: a weighted decision matrix, its robustness, and a record.

Scoring rules (every criterion is a score from 1 to 5, higher is better; the section "Scoring
rules" of README.md has the same text for the team). Measured criteria come only from the result
file, by monotone rules: a spike that measures better on an input never scores lower on it.

- performance: per scenario, 0.5 × throughput / best throughput + 0.5 × best p99 / p99 (the run's
  estimates: means over trials or interleaved cycles, as report and decision record show them; a
  spike without valid trials in a scenario gets 0 there), averaged with the
  team's scenario weights (decision.toml [scenarios], renormalised over the scenarios the run
  has), mapped to 1 + 4 × that: the best spike on both in every scenario scores 5. Where the run
  searched capacity for a scenario, capacity under the SLO and p99 at the highest equal load
  stand in for throughput and p99.
- operational_overhead: for each of peak RSS (the worst scenario's median), startup (median over
  valid trials), installed distributions, and container image size, lowest / own (1 for the
  leanest); components that some spike lacks are left out for all; averaged, mapped to 1 + 4 × it.
  No component at all: 3 for everyone (neutral, said so).
- ease_of_development: (1 − measured_share) × the team's score + measured_share × (1 + 4 × fewest
  lines of code / own lines of code), LOC from run.json's inspection; without it, the team's score.
- ecosystem, team_fit: the team's scores from decision.toml, each with a rationale line.

Weighted total = Σ weight × score. Sensitivity (decide/sensitivity.py): for each criterion, the
smallest change of its weight that changes the winner; and how often each option wins over
Dirichlet draws around the weights, each draw also drawing every measured figure from its
uncertainty: a lead inside the noise is never called a win. A/A twins (bench --aa) measure the
run and are not options.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from harness.decide.criteria import (
    CONCENTRATION,
    CRITERIA,
    DRAWS,
    LABELS,
    SEED,
    Criteria,
    Judgement,
)
from harness.errors import ConfigError
from harness.results import capacity as capacity_read
from harness.results import rundata as rd

# -- measured criteria ------------------------------------------------------------------------


def scale(ratio: float) -> float:
    """A ratio in [0, 1] (1 = best) onto the 1..5 score scale."""
    return 1.0 + 4.0 * min(max(ratio, 0.0), 1.0)


def lower_is_better(values: dict[str, float | None]) -> dict[str, float] | None:
    """best / own for every spike, or None when some spike lacks the value (left out for all)."""
    if not values or any(v is None for v in values.values()):
        return None
    best = min(v for v in values.values() if v is not None)
    return {k: (best / v if v and v > 0 else 1.0) for k, v in values.items() if v is not None}


def scenario_weights(run: dict[str, Any], criteria: Criteria) -> dict[str, float]:
    """The team's scenario weights over the scenarios this run measured, renormalised to sum 1."""
    present = rd.scenario_names(run)
    missing = [s for s in present if s not in criteria.scenario_weights]
    if missing:
        raise ConfigError(
            f"{criteria.path}: the run has scenarios {missing} without a weight in [scenarios] "
            "(give them one, 0 to ignore)"
        )
    raw = {s: criteria.scenario_weights[s] for s in present}
    total = sum(raw.values())
    if total <= 0:
        raise ConfigError(
            f"{criteria.path}: every scenario of this run ({present}) has weight 0 in [scenarios]"
        )
    return {s: w / total for s, w in raw.items()}


Figures = dict[str, dict[str, float | None]]  # scenario → spike → value


def measured(run: dict[str, Any], metric: str) -> Figures:
    spikes = rd.candidates(run)
    return {
        sc: {s: rd.estimate(run, s, sc, metric) for s in spikes} for sc in rd.scenario_names(run)
    }


def performance(
    run: dict[str, Any],
    weights: dict[str, float],
    thr_by: Figures | None = None,
    p99_by: Figures | None = None,
    cap_by: dict[str, tuple[Figures, Figures]] | None = None,
) -> dict[str, float]:
    """The performance criterion; thr_by/p99_by (closed loop) and cap_by (capacity and p99 at
    equal load, per scenario) replace the run's estimates in the sensitivity draws."""
    spikes = rd.candidates(run)
    thr_by = thr_by if thr_by is not None else measured(run, "throughput_rps")
    p99_by = p99_by if p99_by is not None else measured(run, "p99_ms")
    total = dict.fromkeys(spikes, 0.0)
    used = 0.0
    for scenario, w in weights.items():
        thr, p99 = thr_by.get(scenario, {}), p99_by.get(scenario, {})
        if cap_by is not None:
            cap = cap_by.get(scenario)
        else:
            cap = capacity_figures(run, scenario, spikes)
        if cap is not None:  # the open model answers the team's questions: use it
            thr, p99 = cap
        best_thr = max((v for v in thr.values() if v), default=None)
        best_p99 = min((v for v in p99.values() if v), default=None)
        if not best_thr or not best_p99:
            continue  # nobody has data: the scenario says nothing
        used += w
        for s in spikes:
            t, p = thr.get(s), p99.get(s)
            part = 0.5 * (t / best_thr if t else 0.0) + 0.5 * (best_p99 / p if p else 0.0)
            total[s] += w * part
    if used == 0:
        return dict.fromkeys(spikes, 3.0)
    return {s: scale(v / used) for s, v in total.items()}


def capacity_figures(
    run: dict[str, Any], scenario: str, spikes: list[str]
) -> tuple[dict[str, float | None], dict[str, float | None]] | None:
    """(capacity at the SLO, p99 at the highest equal load) per spike, when the run searched
    capacity for this scenario and every spike has both; else None (closed-loop rules apply)."""
    searches = capacity_read.searches(run, scenario)
    figs = capacity_read.top_equal_load(run, scenario)
    if not searches or not figs or any(s not in searches for s in spikes):
        return None
    capacity = {s: searches[s].get("capacity_rps") for s in spikes}
    p99 = {s: (figs.get(s) or {}).get("p99_ms") for s in spikes}
    if any(v is None for v in [*capacity.values(), *p99.values()]):
        return None
    return capacity, p99


OVERHEAD_PARTS = {
    "peak RSS": rd.peak_rss,
    "startup": lambda run, s: rd.median(run, s, None, "startup_seconds"),  # per process
    "installed distributions": rd.dependency_count,
    "image size": rd.image_size,
}


def operational_overhead(run: dict[str, Any]) -> tuple[dict[str, float], list[str]]:
    spikes = rd.candidates(run)
    parts: list[dict[str, float]] = []
    used = []
    for label, getter in OVERHEAD_PARTS.items():
        ratios = lower_is_better({s: getter(run, s) for s in spikes})
        if ratios is not None:
            parts.append(ratios)
            used.append(label)
    if not parts:
        return dict.fromkeys(spikes, 3.0), []
    return {s: scale(statistics.fmean(p[s] for p in parts)) for s in spikes}, used


def loc_scores(run: dict[str, Any]) -> dict[str, float] | None:
    ratios = lower_is_better({s: rd.inspection(run, s).get("loc") for s in rd.candidates(run)})
    return None if ratios is None else {s: scale(r) for s, r in ratios.items()}


# -- the matrix -------------------------------------------------------------------------------


@dataclass
class Matrix:
    run: dict[str, Any]
    criteria: Criteria
    scores: dict[str, dict[str, float]]  # spike → criterion → 1..5
    notes: list[str] = field(default_factory=list)
    scenario_weights: dict[str, float] = field(default_factory=dict)
    loc: dict[str, float] | None = None

    def totals(self, weights: dict[str, float] | None = None) -> dict[str, float]:
        w = weights or self.criteria.weights
        return {s: sum(w[c] * sc[c] for c in CRITERIA) for s, sc in self.scores.items()}

    def ranking(self, weights: dict[str, float] | None = None) -> list[tuple[str, float]]:
        return sorted(self.totals(weights).items(), key=lambda kv: (-kv[1], kv[0]))

    @property
    def winner(self) -> str:
        return self.ranking()[0][0]


def judgements(criteria: Criteria, candidate: str) -> dict[str, Judgement] | None:
    """The team's scores of a candidate; a variant (`flask@gthread`) without its own
    [frameworks."flask@gthread"] shares its spike's: same framework, same code."""
    return criteria.judged.get(candidate) or criteria.judged.get(candidate.split("@")[0])


def inherit_judgements(run: dict[str, Any], criteria: Criteria) -> Criteria:
    """A variant (`flask@gthread`) is its spike's code and framework: unless decision.toml
    judges it by its own name, it takes its spike's hand-given scores."""
    judged = dict(criteria.judged)
    for name in rd.candidates(run):
        spike = rd.candidate_info(run, name)["spike"]
        if name not in judged and spike in judged:
            judged[name] = judged[spike]
    return replace(criteria, judged=judged)


def score_run(run: dict[str, Any], criteria: Criteria) -> Matrix:
    criteria = inherit_judgements(run, criteria)
    spikes = rd.candidates(run)
    missing = [s for s in spikes if judgements(criteria, s) is None]
    if missing:
        raise ConfigError(
            f"{criteria.path}: no scores for spikes {missing} that are in the run; add "
            + ", ".join(f"[frameworks.{s}]" for s in missing)
        )
    if not spikes:
        raise ConfigError("the run has no spikes to score")
    sw = scenario_weights(run, criteria)
    perf = performance(run, sw)
    ops, ops_parts = operational_overhead(run)
    loc = loc_scores(run)
    notes = []
    if not ops_parts:
        notes.append("operational overhead: no measurement for every spike; neutral 3 for all")
    else:
        notes.append(f"operational overhead from: {', '.join(ops_parts)}")
    if loc is None:
        notes.append(
            "ease of development: no lines-of-code inspection in this run; team scores only"
        )
    invalid_only = [
        f"{s} × {sc}"
        for s in spikes
        for sc in rd.scenario_names(run)
        if sw.get(sc) and not rd.trials(run, s, sc)
    ]
    if invalid_only:
        notes.append(f"no valid trials (scored 0 in that scenario): {', '.join(invalid_only)}")
    scores: dict[str, dict[str, float]] = {}
    for s in spikes:
        judged = judgements(criteria, s) or {}
        ease = float(judged["ease_of_development"].score)
        if loc is not None:
            ease = (1 - criteria.loc_share) * ease + criteria.loc_share * loc[s]
        scores[s] = {
            "ease_of_development": ease,
            "performance": perf[s],
            "ecosystem": float(judged["ecosystem"].score),
            "team_fit": float(judged["team_fit"].score),
            "operational_overhead": ops[s],
        }
    return Matrix(run, criteria, scores, notes, sw, loc)


# -- output -----------------------------------------------------------------------------------


def score_json(
    matrix: Matrix, flips: list[dict[str, Any]], wins: dict[str, float]
) -> dict[str, Any]:
    run = matrix.run
    return {
        "run_id": run["run_id"],
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "criteria_file": str(matrix.criteria.path),
        "weights": matrix.criteria.weights,
        "scenario_weights": matrix.scenario_weights,
        "loc_share": matrix.criteria.loc_share,
        "scores": matrix.scores,
        "totals": matrix.totals(),
        "ranking": [s for s, _ in matrix.ranking()],
        "winner": matrix.winner,
        "judgements": {
            s: {
                c: {"score": j.score, "rationale": j.rationale}
                for c, j in (judgements(matrix.criteria, s) or {}).items()
            }
            for s in matrix.scores
        },
        "shortlist": list(matrix.criteria.shortlist),
        "notes": matrix.notes,
        "sensitivity": {
            "single_weight": flips,
            "dirichlet": {
                "draws": DRAWS,
                "seed": SEED,
                "concentration": CONCENTRATION,
                "wins": wins,
            },
        },
    }


def ranking_markdown(matrix: Matrix) -> str:
    w = matrix.criteria.weights
    head = "| rank | option | " + " | ".join(f"{LABELS[c]} ({w[c]:.2f})" for c in CRITERIA)
    lines = [head + " | weighted total |", "|---" * (len(CRITERIA) + 3) + "|"]
    for i, (spike, total) in enumerate(matrix.ranking(), start=1):
        cells = " | ".join(f"{matrix.scores[spike][c]:.2f}" for c in CRITERIA)
        lines.append(f"| {i} | {spike} | {cells} | **{total:.2f}** |")
    return "\n".join(lines)
