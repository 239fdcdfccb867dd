"""The score's robustness: which change of a single weight changes the winner, and how often
each option wins when the weights and every measured figure are drawn from their uncertainty.

Split from score.py (the matrix): this module reads a Matrix and the run behind it, and
score.py never imports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.decide.criteria import CONCENTRATION, CRITERIA, DRAWS, LABELS, SEED
from harness.decide.score import Figures, Matrix, capacity_figures, performance
from harness.results import capacity
from harness.results import rundata as rd

Spread = dict[str, dict[str, tuple[float | None, float]]]  # scenario → spike → (value, sd)


def spread(run: dict[str, Any], metric: str) -> Spread:
    """Each estimate with the sd of a normal matching its 95% interval (0 without one)."""
    out: Spread = {}
    for sc in rd.scenario_names(run):
        out[sc] = {}
        for s in rd.candidates(run):
            v, ci = rd.estimate(run, s, sc, metric), rd.interval(run, s, sc, metric)
            out[sc][s] = (v, (ci[1] - ci[0]) / (2 * 1.96) if v is not None and ci else 0.0)
    return out


def capacity_spread(run: dict[str, Any]) -> dict[str, tuple[Spread, Spread]]:
    """Per capacity scenario: each capacity and each p99 at the highest equal load with the sd
    of its uncertainty (results/capacity.py for the capacity's, the p99's 95% interval), for the
    scenarios where capacity decides performance."""
    spikes = rd.candidates(run)
    out = {}
    for sc in run.get("capacity") or {}:
        figs = capacity_figures(run, sc, spikes)
        if figs is None:
            continue
        caps, p99s = figs
        found = capacity.searches(run, sc)
        top = capacity.top_equal_load(run, sc)
        cap_row: dict[str, tuple[float | None, float]] = {}
        p99_row: dict[str, tuple[float | None, float]] = {}
        for s in spikes:
            v = caps[s]
            cap_row[s] = (v, (v or 0.0) * capacity.relative_sd(run, sc, found[s]))
            ci = (top.get(s) or {}).get("p99_ci95")
            p99_row[s] = (p99s[s], (ci[1] - ci[0]) / (2 * 1.96) if ci else 0.0)
        out[sc] = ({sc: cap_row}, {sc: p99_row})
    return out


def drawn(table: Spread, rng: np.random.Generator) -> Figures:
    """Every estimate drawn from its interval."""
    return {
        sc: {
            s: (None if v is None else max(float(rng.normal(v, sd)) if sd else v, 1e-9))
            for s, (v, sd) in row.items()
        }
        for sc, row in table.items()
    }


def shifted(weights: dict[str, float], crit: str, new: float) -> dict[str, float]:
    """`crit` set to `new`, the other weights rescaled in proportion so the sum stays 1."""
    rest = 1.0 - weights[crit]
    out = {c: (w * (1.0 - new) / rest if rest > 0 else 0.0) for c, w in weights.items()}
    out[crit] = new
    return out


def weight_flips(matrix: Matrix) -> list[dict[str, Any]]:
    """Per criterion: the smallest change of its weight in [0, 1] that changes the winner.

    Totals are linear in the shifted weight, so each rival's crossing point is exact."""
    weights = matrix.criteria.weights
    winner = matrix.winner
    out = []
    for crit in CRITERIA:
        w = weights[crit]
        best: dict[str, Any] | None = None
        if w < 1.0:
            for rival in matrix.scores:
                if rival == winner:
                    continue
                d0 = matrix.totals(shifted(weights, crit, 0.0))
                d1 = matrix.totals(shifted(weights, crit, 1.0))
                a = d0[winner] - d0[rival]  # margin at weight 0
                b = (d1[winner] - d1[rival]) - a  # slope of the margin per unit weight
                if b == 0:
                    continue
                cross = -a / b
                # past the crossing (inside [0, 1]) the rival must lead strictly: a tie at the
                # end of the range is not a change of winner
                beyond = 1.0 if b < 0 else 0.0
                if not (min(cross, beyond) < max(cross, beyond) and 0.0 <= cross <= 1.0):
                    continue
                delta = cross - w
                if best is None or abs(delta) < abs(best["delta"]):
                    probe = cross + (beyond - cross) * 1e-6
                    new = matrix.ranking(shifted(weights, crit, probe))[0][0]
                    if new != winner:
                        best = {"delta": delta, "weight": cross, "new_winner": new}
        out.append(
            {
                "criterion": crit,
                "weight": w,
                "delta": None if best is None else best["delta"],
                "flip_weight": None if best is None else best["weight"],
                "new_winner": None if best is None else best["new_winner"],
            }
        )
    return out


def dirichlet_wins(
    matrix: Matrix, draws: int = DRAWS, seed: int = SEED, concentration: float = CONCENTRATION
) -> dict[str, float]:
    """Share of draws that each option wins: weights from Dirichlet(concentration × weights),
    and the measured throughput and p99 from their intervals (capacity and p99 at equal load
    where capacity decides), so noise can flip a lead."""
    rng = np.random.default_rng(seed)
    alpha = np.array([max(matrix.criteria.weights[c], 1e-3) * concentration for c in CRITERIA])
    samples = rng.dirichlet(alpha, size=draws)
    names = list(matrix.scores)
    perf_col = CRITERIA.index("performance")
    base = np.array([[matrix.scores[s][c] for c in CRITERIA] for s in names])  # spikes × crit
    counts = np.zeros(len(names), dtype=int)
    thr, p99 = spread(matrix.run, "throughput_rps"), spread(matrix.run, "p99_ms")
    cap = capacity_spread(matrix.run)
    for i in range(draws):
        table = base.copy()
        caps = {sc: (drawn(c, rng)[sc], drawn(q, rng)[sc]) for sc, (c, q) in cap.items()}
        perf = performance(
            matrix.run, matrix.scenario_weights, drawn(thr, rng), drawn(p99, rng), caps
        )
        table[:, perf_col] = [perf[s] for s in names]
        counts[int(np.argmax(samples[i] @ table.T))] += 1
    return {names[i]: float(counts[i]) / draws for i in np.argsort(-counts, kind="stable")}


def sensitivity_markdown(
    matrix: Matrix, flips: list[dict[str, Any]], wins: dict[str, float]
) -> str:
    lines = [
        f"Winner at the given weights: **{matrix.winner}**.",
        "",
        "| criterion | weight | change that flips the winner | new winner |",
        "|---|---|---|---|",
    ]
    for f in flips:
        if f["delta"] is None:
            change, new = "none in [0, 1]", "–"
        else:
            change = f"{f['delta']:+.3f} (to {f['flip_weight']:.3f})"
            new = f["new_winner"]
        lines.append(f"| {LABELS[f['criterion']]} | {f['weight']:.2f} | {change} | {new} |")
    smallest = min(
        (f for f in flips if f["delta"] is not None), key=lambda f: abs(f["delta"]), default=None
    )
    lines.append("")
    if smallest is None:
        lines.append("No change of a single weight changes the winner.")
    else:
        lines.append(
            "Smallest single-weight change that changes the winner: "
            f"{LABELS[smallest['criterion']]} {smallest['weight']:.2f} → "
            f"{smallest['flip_weight']:.3f} "
            f"({smallest['delta']:+.3f}) makes {smallest['new_winner']} the winner."
        )
    lines.append(
        f"Over {DRAWS:,} random weightings around these (Dirichlet, concentration "
        f"{CONCENTRATION:g}, seed {SEED}), each also drawing every measured throughput and p99 "
        "from its 95% interval"
        + (" and every capacity from what one step moves" if capacity_spread(matrix.run) else "")
        + ": "
        + ", ".join(f"{s} wins {share:.1%}" for s, share in wins.items())
        + "."
    )
    return "\n".join(lines)
