"""The decision record (decision.md) in the MADR template, generated from a scored run.

Every pro and con names its evidence: the measured value, how many valid trials it rests on, and
whom it is compared with, so a reader can check it in run.json instead of trusting prose.
Throughput leads are only called leads when the 95% confidence intervals do not overlap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from harness.decide.criteria import CLI, CRITERIA, DRAWS, FRAGILE_DELTA, FRAGILE_SHARE, LABELS
from harness.decide.report_capacity import capacity_sentences
from harness.decide.score import judgements, ranking_markdown
from harness.decide.sensitivity import sensitivity_markdown
from harness.decide.sizing import sizing
from harness.results import rundata as rd

if TYPE_CHECKING:
    from harness.decide.score import Matrix

MIB = 2**20
CLEAR = 0.10  # a lower-is-better value this much above the best is called out as a con

Point = tuple[str, str]  # ("Good" | "Neutral" | "Bad", text)


def _basis(run: dict[str, Any], spike: str, sc: str) -> str:
    """What a figure rests on, in the words of the run's estimator."""
    n = rd.summary(run, spike, sc, "throughput_rps").get("n") or 0
    unit = "cycles" if rd.design(run) == "interleaved" else "valid trials"
    return f"mean of {n} {unit}"


def throughput_points(run: dict[str, Any], spike: str) -> list[Point]:
    """Leads and gaps from the same estimates and rank groups as the report: a lead the run
    cannot resolve (a shared rank) is neutral, never a pro."""
    out: list[Point] = []
    for sc in rd.scenario_names(run):
        est = {s: rd.estimate(run, s, sc, "throughput_rps") for s in rd.candidates(run)}
        have = {s: v for s, v in est.items() if v is not None}
        if spike not in have:
            reasons = sorted(
                {
                    r
                    for t in rd.trials(run, spike, sc, valid_only=False)
                    for r in t["invalid_reasons"]
                }
            )
            out.append(("Bad", f"no valid trial in {sc} ({', '.join(reasons) or 'not run'})"))
            continue
        if len(have) < 2:
            continue
        order = [s for s, _, _ in rd.ranking(run, sc) if s in have]
        if len(order) < 2 or spike not in order:  # a file whose analysis left candidates out
            continue
        mine = have[spike]
        if order[0] == spike:
            second = order[1]
            lead = mine / have[second] - 1
            if rd.tied(run, sc, spike, second):
                out.append(
                    (
                        "Neutral",
                        f"highest throughput in {sc} ({mine:.0f} req/s, {_basis(run, spike, sc)}"
                        f"), {lead:+.1%} over {second} ({have[second]:.0f} req/s): inside this "
                        "run's resolution, not a lead",
                    )
                )
            else:
                out.append(
                    (
                        "Good",
                        f"highest throughput in {sc}: {mine:.0f} req/s ({_basis(run, spike, sc)}"
                        f"), {lead:+.1%} over {second} ({have[second]:.0f} req/s)",
                    )
                )
            continue
        best = order[0]
        gap = 1 - mine / have[best]
        if rd.tied(run, sc, spike, best):
            out.append(
                (
                    "Neutral",
                    f"throughput in {sc} {mine:.0f} req/s vs {have[best]:.0f} for {best}: "
                    "inside this run's resolution",
                )
            )
        else:
            out.append(
                (
                    "Bad",
                    f"{gap:.1%} less throughput than {best} in {sc}: {mine:.0f} vs "
                    f"{have[best]:.0f} req/s ({_basis(run, spike, sc)})",
                )
            )
    return out


def lower_points(
    words: tuple[str, str],
    values: dict[str, float | None],
    spike: str,
    fmt: str,
    scale: float = 1.0,
    intervals: dict[str, list[float] | None] | None = None,
) -> list[Point]:
    """Lower is better. words = (best phrase, worse phrase), e.g. ("lowest p99", "higher p99").
    The best: a pro when clearly ahead of the next; clearly above the best: a con. Clearly: by
    CLEAR, and for measured figures (`intervals`) with 95% intervals that do not overlap, so a
    lead inside the noise is not called one."""
    best_words, worse_words = words
    have = {s: v for s, v in values.items() if v is not None}
    if spike not in have or len(have) < 2:
        return []
    order = sorted(have, key=lambda s: have[s])
    mine = have[spike]
    show = fmt.format(mine / scale)

    def apart(low: str, high: str) -> bool:
        a, b = (intervals or {}).get(low), (intervals or {}).get(high)
        overlap = intervals is not None and (not a or not b or a[1] >= b[0])
        return have[high] > have[low] * (1 + CLEAR) and not overlap

    if order[0] == spike:
        nxt = have[order[1]]
        if apart(spike, order[1]):
            return [("Good", f"{best_words}: {show} vs {fmt.format(nxt / scale)} for {order[1]}")]
        return []
    best = have[order[0]]
    if apart(order[0], spike):
        return [
            (
                "Bad",
                f"{mine / best - 1:.0%} {worse_words} than {order[0]}: {show} vs "
                f"{fmt.format(best / scale)}",
            )
        ]
    return []


def measured_points(run: dict[str, Any], spike: str) -> list[Point]:
    spikes = rd.candidates(run)
    out = throughput_points(run, spike)
    for sc in rd.scenario_names(run):
        out += lower_points(
            (f"lowest p99 latency in {sc}", f"higher p99 latency in {sc}"),
            {s: rd.estimate(run, s, sc, "p99_ms") for s in spikes},
            spike,
            "{:.0f} ms",
            intervals={s: rd.interval(run, s, sc, "p99_ms") for s in spikes},
        )
    facts: list[tuple[tuple[str, str], dict[str, Any], str, float]] = [
        (
            ("least peak memory (RSS, worst scenario)", "more peak memory (RSS, worst scenario)"),
            {s: rd.peak_rss(run, s) for s in spikes},
            "{:.0f} MiB",
            MIB,
        ),
        (
            ("fastest cold start", "slower cold start"),
            {s: rd.median(run, s, None, "startup_seconds") for s in spikes},
            "{:.2f} s",
            1.0,
        ),
        (
            ("fewest installed distributions", "more installed distributions"),
            {s: rd.dependency_count(run, s) for s in spikes},
            "{:.0f}",
            1.0,
        ),
        (
            ("fewest lines of app code", "more lines of app code"),
            {s: rd.inspection(run, s).get("loc") for s in spikes},
            "{:.0f}",
            1.0,
        ),
        (
            ("smallest container image", "larger container image"),
            {s: rd.image_size(run, s) for s in spikes},
            "{:.0f} MiB",
            MIB,
        ),
    ]
    for words, values, fmt, scale in facts:
        out += lower_points(words, values, spike, fmt, scale)
    return out


def judged_points(matrix: Matrix, spike: str) -> list[Point]:

    out: list[Point] = []
    for crit, j in (judgements(matrix.criteria, spike) or {}).items():
        kind = "Good" if j.score >= 4 else "Bad" if j.score <= 2 else "Neutral"
        out.append((kind, f"{LABELS[crit]} {j.score}/5 (team's judgement): {j.rationale}"))
    return out


def option_name(run: dict[str, Any], spike: str) -> str:
    rec = (run.get("spikes") or {}).get(spike) or {}
    return f"{rec.get('framework') or spike}"


def option_line(run: dict[str, Any], spike: str) -> str:
    rec = (run.get("spikes") or {}).get(spike) or {}
    p = rec.get("parity") or {}
    server, workers = str(p.get("server", "?")), str(p.get("worker_class") or "")
    if workers and not workers.startswith(server):
        server = f"{server} ({workers} workers)"
    elif workers:
        server = workers
    info = rd.candidate_info(run, spike)
    where = f"`spikes/{info['spike']}`"
    if info["variant"]:
        where += f", variant `{info['variant']}`"
    return (
        f"{option_name(run, spike)} {rec.get('framework_version') or ''} ({where}): "
        f"{server}, {p.get('orm', '?')}, {p.get('driver', '?')}, "
        f"validation {p.get('validation') or '?'}"
    )


def shortlist_text(matrix: Matrix) -> str:
    """Which considered options the team shortlisted, which the run added, which it lacks."""
    listed, measured = list(matrix.criteria.shortlist), list(matrix.scores)
    name = f"`{matrix.criteria.path.name}` [shortlist]"
    if not listed:
        return f"{name} names no candidates: every measured candidate is an option."
    on = [s for s in measured if s in listed]
    off = [s for s in measured if s not in listed]
    absent = [s for s in listed if s not in measured]
    text = f"On the shortlist ({name}): {', '.join(f'`{s}`' for s in on) or 'none of them'}."
    if off:
        text += f" Measured beyond it: {', '.join(f'`{s}`' for s in off)}."
    if absent:
        text += f" Shortlisted but not in this run: {', '.join(f'`{s}`' for s in absent)}."
    return text


def decision_record(matrix: Matrix, flips: list[dict[str, Any]], wins: dict[str, float]) -> str:

    run, crit = matrix.run, matrix.criteria
    ranking = matrix.ranking()
    winner, top = ranking[0]
    cfg, m = run.get("config") or {}, run.get("machine") or {}
    git = (run.get("harness") or {}).get("git") or {}
    today = datetime.now(UTC).date().isoformat()
    runtime = (run.get("runtime") or {}).get("kind") or cfg.get("runtime")
    commit = git.get("commit") or "unknown"
    sw = ", ".join(f"{s} {w:.2f}" for s, w in matrix.scenario_weights.items())
    drivers = {
        "ease_of_development": (
            f"the team's score, {crit.loc_share:.0%} of it replaced by lines of app code (fewer "
            "is better)"
            if matrix.loc is not None
            else "the team's score (this run has no lines-of-code inspection)"
        ),
        "performance": f"throughput and p99 relative to the best, per scenario, weighted {sw}",
        "ecosystem": "the team's score: libraries, documentation, hiring, longevity",
        "team_fit": "the team's score: experience and preferences of those who will maintain it",
        "operational_overhead": "memory, cold start, dependency count (and image size when "
        "containers were measured), relative to the leanest",
    }
    smallest = min(
        (f for f in flips if f["delta"] is not None), key=lambda f: abs(f["delta"]), default=None
    )
    fragile = (smallest is not None and abs(smallest["delta"]) < FRAGILE_DELTA) or wins.get(
        winner, 0.0
    ) < FRAGILE_SHARE
    lines = [
        "---",
        "status: proposed",
        f"date: {today}",
        "decision-makers: (the team: fill in)",
        "---",
        "",
        f"# {crit.title}",
        "",
        "## Context and Problem Statement",
        "",
        (crit.context + "\n\n" if crit.context else "")
        + f"Each option implemented the same API contract (`spikes/contract/`) with the same "
        f"parity settings and was measured by spikebench run `{run['run_id']}` "
        f"({rd.design_text(run)}, on {m.get('cpu_model')} "
        f"with {m.get('cpus_logical')} CPUs, {runtime} runtime, git commit {commit}). "
        f"{sum(t['valid'] for t in run['trials'])} of {len(run['trials'])} trials were valid. "
        f"Figures are the {rd.estimator(run)}. {rd.resolution_text(run)} "
        f"This record is generated by `spikebench score` from `run.json` and `{crit.path.name}`; "
        "change the criteria file, not this text.",
        "",
        "## Decision Drivers",
        "",
        *[f"* {LABELS[c]} (weight {crit.weights[c]:.2f}): {drivers[c]}" for c in CRITERIA],
        "",
        "## Considered Options",
        "",
        *[f"* {option_line(run, s)}" for s in matrix.scores],
        "",
        shortlist_text(matrix),
        "",
        "## Decision Outcome",
        "",
    ]
    runner_up = f", ahead of {ranking[1][0]} ({ranking[1][1]:.2f})" if len(ranking) > 1 else ""
    lines.append(
        f'Chosen option: "{option_name(run, winner)}" (`{winner}`), because it has the highest '
        f"weighted score, {top:.2f} of 5{runner_up}, and wins "
        f"{wins.get(winner, 0.0):.0%} of {DRAWS:,} random weightings around the "
        "given weights (each with the measured figures drawn from their intervals)."
    )
    if fragile:
        lines += [
            "",
            "**The lead is fragile**: a small change of the weights or a few percent of "
            "measurement noise changes the winner. Treat the top options as a near-tie and let "
            "the team's judgement (team fit, ecosystem) decide; record why here.",
        ]
    lines += ["", "### Consequences", ""]
    good = [c for c in CRITERIA if matrix.scores[winner][c] >= 4]
    weak = [c for c in CRITERIA if matrix.scores[winner][c] < 3]
    lines += [
        f"* Good, because {winner} scores {matrix.scores[winner][c]:.1f}/5 on {LABELS[c]}"
        for c in good
    ] or ["* Neutral, because no criterion scores 4 or more for the chosen option"]
    lines += [
        f"* Bad, because {winner} scores only {matrix.scores[winner][c]:.1f}/5 on {LABELS[c]}"
        for c in weak
    ]
    folder = f"results/{run['run_id']}"
    lines += [
        "",
        "### Confirmation",
        "",
        "Re-check on the same machine with the same matrix:",
        "",
        "```",
        rd.make_command(run),
        f"{CLI} compare {folder} results/<new-run-id> --fail-on-regression 10",
        f"{CLI} score results/<new-run-id>",
        "```",
        "",
        f"The decision holds when the new run's score picks `{winner}` again and compare reports "
        f"no significant regression for it. Original command line: "
        f"`{' '.join((run.get('harness') or {}).get('command_line') or [])}`.",
        "",
        "## Pros and Cons of the Options",
        "",
    ]
    for spike, total in ranking:
        lines += [f"### {option_name(run, spike)} (`{spike}`), weighted score {total:.2f}", ""]
        lines.append(option_line(run, spike))
        lines.append("")
        points = measured_points(run, spike) + judged_points(matrix, spike)
        order = {"Good": 0, "Neutral": 1, "Bad": 2}
        lines += [f"* {k}, because {t}" for k, t in sorted(points, key=lambda p: order[p[0]])]
        lines.append("")
    capacity = capacity_section(run, crit)
    lines += [
        "## More Information",
        "",
        *capacity,
        "Decision matrix (scores 1–5, higher is better; weights in parentheses):",
        "",
        ranking_markdown(matrix),
        "",
        *[f"* {n}" for n in matrix.notes],
        "",
        "Sensitivity:",
        "",
        sensitivity_markdown(matrix, flips, wins),
        "",
        "Scoring rules: README.md, section *Scoring rules*. Numbers: "
        "`score.json` beside this file; measurements: `run.json`, `report.html`.",
        "",
    ]
    return "\n".join(lines)


def capacity_section(run: dict[str, Any], crit: Any) -> list[str]:
    """Capacity per core, latency at equal load and sizing, in words (runs with an open-model
    capacity search only)."""

    said = capacity_sentences(run)
    if not said:
        return []
    lines = ["Capacity under the SLO and latency at equal load (open model):", ""]
    lines += [f"* {t}" for t in said]
    sized = sizing(run, crit.expected_rps, crit.vcpu_hour_price)
    if sized:
        lines += [
            "",
            f"Sizing for the expected {crit.expected_rps:g} req/s (`decision.toml` "
            "[performance] expected_rps), assuming capacity grows linearly with cores — it does "
            "not quite (one database, locks, the network stack): plan on the upper figure.",
            "",
            *[f"* {t}" for t in sized],
        ]
    return [*lines, ""]
