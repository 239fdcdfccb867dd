"""The report's first section: the decision, read from score.json beside run.json.

A team lead opens report.html; the conclusion must be there, on the first screen, with how firm
it is (margin, fragility) and why (the criteria that decide it), and links to the full decision
record. Nothing is scored here: score.json is what `spikebench score` wrote. Without it, the
section says how to make one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.decide.criteria import (
    CLI,
    DECISION_MD,
    FRAGILE_DELTA,
    FRAGILE_SHARE,
    LABELS,
    SCORE_JSON,
)
from harness.decide.document import Block, Bullets, Heading, Para, Table


def load_score(run: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """score.json of this run, or None and why not ("" when there is simply none yet)."""
    folder = run.get("_folder")
    path = Path(folder) / SCORE_JSON if folder else None
    if path is None or not path.exists():
        return None, ""
    try:
        score = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return None, f"{SCORE_JSON} could not be read ({exc})"
    if not isinstance(score, dict) or score.get("run_id") != run.get("run_id"):
        return None, f"{SCORE_JSON} belongs to another run"
    if not score.get("ranking") or not score.get("totals"):
        return None, f"{SCORE_JSON} holds no ranking"
    return score, ""


def fragility(score: dict[str, Any]) -> tuple[bool, str]:
    """The decision record's rule: a flip below FRAGILE_DELTA or under FRAGILE_SHARE of draws."""
    winner = score["ranking"][0]
    sens = score.get("sensitivity") or {}
    flips = [f for f in sens.get("single_weight") or [] if f.get("delta") is not None]
    smallest = min(flips, key=lambda f: abs(f["delta"]), default=None)
    dirichlet = sens.get("dirichlet") or {}
    share = (dirichlet.get("wins") or {}).get(winner)
    draws = dirichlet.get("draws")
    parts = []
    if smallest is not None:
        parts.append(
            "the smallest change of one weight that changes the winner is "
            f"{LABELS.get(smallest['criterion'], smallest['criterion'])} "
            f"by {smallest['delta']:+.3f} (it makes {smallest['new_winner']} the winner)"
        )
    else:
        parts.append("no change of a single weight changes the winner")
    if share is not None:
        count = f"{draws:,}" if isinstance(draws, int) else "the"
        parts.append(f"{winner} wins {share:.0%} of {count} random weightings around these")
    fragile = (smallest is not None and abs(smallest["delta"]) < FRAGILE_DELTA) or (
        share is not None and share < FRAGILE_SHARE
    )
    return fragile, "; ".join(parts)


def reasons(score: dict[str, Any], limit: int = 3) -> list[str]:
    """Criteria by their weighted contribution to the lead over the runner-up, largest first."""
    ranking, scores, weights = score["ranking"], score.get("scores") or {}, score.get("weights")
    if len(ranking) < 2 or not weights:
        return []
    win, second = ranking[0], ranking[1]
    judged = (score.get("judgements") or {}).get(win) or {}
    rows = []
    for crit, weight in weights.items():
        a, b = (scores.get(win) or {}).get(crit), (scores.get(second) or {}).get(crit)
        if a is None or b is None:
            continue
        rows.append((weight * (a - b), crit, weight, a, b))
    rows.sort(key=lambda r: -r[0])
    out = []
    for gain, crit, weight, a, b in [r for r in rows if r[0] > 0][:limit]:
        why = f" — team's judgement: {judged[crit]['rationale']}" if crit in judged else ""
        out.append(
            f"For: {LABELS.get(crit, crit)} (weight {weight:.2f}): {win} {a:.1f} vs {second} "
            f"{b:.1f}, {gain:+.2f} to the total{why}"
        )
    against = [r for r in rows if r[0] < 0]
    if against:
        gain, crit, weight, a, b = against[-1]
        out.append(
            f"Against: {LABELS.get(crit, crit)} (weight {weight:.2f}): {win} {a:.1f} vs "
            f"{second} {b:.1f}, {gain:+.2f}"
        )
    return out


def decision_line(score: dict[str, Any]) -> str:
    """One line for the end of a run: winner, score, margin, firmness."""
    ranking, totals = score["ranking"], score["totals"]
    win = ranking[0]
    line = f"{win} ({totals[win]:.2f} of 5"
    if len(ranking) > 1:
        line += f", {totals[win] - totals[ranking[1]]:+.2f} over {ranking[1]}"
    if len(ranking) < 2:
        return line + "; the only option in this run: nothing to choose between)"
    fragile, _ = fragility(score)
    return line + ("; fragile lead: treat as a near-tie)" if fragile else "; robust lead)")


def run_path(run: dict[str, Any]) -> str:
    folder = Path(run.get("_folder") or f"results/{run['run_id']}")
    return f"results/{folder.name}" if folder.parent.name == "results" else str(folder)


def decision_section(run: dict[str, Any]) -> list[Block]:
    score, problem = load_score(run)
    blocks: list[Block] = [Heading(2, "Decision")]
    if score is None:
        where = run_path(run)
        blocks.append(
            Para(
                ("⚠ " + problem + ". " if problem else "No decision score for this run yet. ")
                + f"Make one with `{CLI} score {where}` (it weighs this run's measurements with "
                f"the team's `decision.toml` and writes {DECISION_MD} and {SCORE_JSON}), then "
                f"`{CLI} report {where}` to show it here. `make bench` does both at its end."
            )
        )
        return blocks
    ranking, totals = score["ranking"], score["totals"]
    win = ranking[0]
    fragile, why = fragility(score)
    lead = f"**Recommended: {win}**, weighted score {totals[win]:.2f} of 5"
    if len(ranking) > 1:
        lead += (
            f", a margin of **{totals[win] - totals[ranking[1]]:.2f}** over {ranking[1]} "
            f"({totals[ranking[1]]:.2f})"
        )
    blocks.append(Para(lead + "."))
    if len(ranking) < 2:
        blocks.append(
            Para("⚠ Only one option was measured in this run: there is nothing to choose between.")
        )
    elif fragile:
        blocks.append(
            Para(
                f"⚠ **Fragile lead**: {why}. Treat the top options as a near-tie and let the "
                "team's judgement decide.",
                "flag",
            )
        )
    else:
        blocks.append(Para(f"**Robust lead**: {why}."))
    deciding = reasons(score)
    if deciding:
        blocks.append(Para(f"What decides it (weighted score difference to {ranking[1]}):"))
        blocks.append(Bullets(deciding))
    wins = ((score.get("sensitivity") or {}).get("dirichlet") or {}).get("wins") or {}
    blocks.append(
        Table(
            ["rank", "option", "weighted score (1–5)", "behind the winner", "wins of weightings"],
            [
                [
                    str(i),
                    s,
                    f"{totals[s]:.2f}",
                    "–" if i == 1 else f"{totals[win] - totals[s]:.2f}",
                    f"{wins[s]:.0%}" if s in wins else "–",
                ]
                for i, s in enumerate(ranking, start=1)
            ],
        )
    )
    blocks.append(
        Para(
            f"The full record, with each option's pros and cons and how to re-check it: "
            f"[{DECISION_MD}]({DECISION_MD}); the numbers: [{SCORE_JSON}]({SCORE_JSON}). "
            "The evidence follows: validity, measurements, charts, environment."
        )
    )
    return blocks
