"""`spikebench compare BASELINE CANDIDATE`: what changed between two runs, and whether it is real.

pyperf-style: a change counts only when it is unlikely to be noise AND it is large enough to
matter (|change| >= min effect). Otherwise the answer is "not significant" — never a winner
invented from noise. The uncertainty is the runs' own: two interleaved runs are compared on their
per-cycle values (a 95% bootstrap interval of the ratio of means, the same estimate and interval
the reports show; cycles of two runs cannot be paired); trials runs with Welch's t-test, matching
their Student-t intervals. With fewer than 2 values on a side: "too few trials".

Runs measured on different machines, pinnings, runtimes, seed sizes, durations or parity settings
are not comparable; compare refuses them unless told --allow-different, and then says what differs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.results import rundata as rd
from harness.results import slices
from harness.results.paired import unpaired_ratio
from harness.results.resultfile import load_run
from harness.results.stats import welch

ALPHA = 0.05
MIN_EFFECT = 0.05
EXIT_DIFFERENT = 2
EXIT_REGRESSION = 4
COMPARED = (
    "throughput_rps",
    "p50_ms",
    "p99_ms",
    "app_cpu_ms_per_request",
    "db_cpu_ms_per_request",
    "peak_rss_bytes",
)
LABELS = {
    "throughput_rps": "throughput req/s",
    "p50_ms": "p50 ms",
    "p99_ms": "p99 ms",
    "app_cpu_ms_per_request": "app CPU ms/req",
    "db_cpu_ms_per_request": "DB CPU ms/req",
    "peak_rss_bytes": "peak RSS MiB",
}
# What must match for two runs to be comparable: (label, path in run.json)
ENVIRONMENT = (
    ("machine CPU model", ("machine", "cpu_model")),
    ("machine logical CPUs", ("machine", "cpus_logical")),
    ("machine memory bytes", ("machine", "memory_bytes")),
    ("runtime kind", ("runtime", "kind")),
    ("pinning: SUT CPUs", ("pinning", "sut_cpus")),
    ("pinning: load generator CPUs", ("pinning", "loadgen_cpus")),
    ("seed users", ("config", "seed_users")),
    ("seed items per user", ("config", "seed_items")),
    ("warm-up seconds", ("config", "warmup_s")),
    ("measured seconds", ("config", "measure_s")),
    ("user override", ("config", "users")),
)


@dataclass
class Row:
    spike: str
    scenario: str
    metric: str
    base: list[float]
    cand: list[float]
    change: float | None  # relative change of the mean, candidate vs baseline
    p: float | None  # Welch's p (trials runs), or None
    verdict: str  # "better", "worse", "not significant", "too few trials", "no data"
    ci: tuple[float, float] | None = None  # 95% interval of the change (interleaved runs)
    judged_on: str = "absolute"  # or "relative": to the other candidates of the same cycles

    @property
    def regression(self) -> bool:
        return self.verdict == "worse"


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Environment and parity fields whose values differ, as 'label: A → B'."""
    out = []
    for label, path in ENVIRONMENT:
        va, vb = rd.dig(a, path), rd.dig(b, path)
        if va != vb:
            out.append(f"{label}: {va!r} → {vb!r}")
    pa, pb = a.get("parity") or {}, b.get("parity") or {}
    for key in sorted(set(pa) | set(pb)):
        if pa.get(key) != pb.get(key):
            out.append(f"parity {key}: {pa.get(key)!r} → {pb.get(key)!r}")
    for spike in sorted(set(a.get("spikes") or {}) & set(b.get("spikes") or {})):
        sa = (a["spikes"][spike] or {}).get("parity") or {}
        sb = (b["spikes"][spike] or {}).get("parity") or {}
        for key in sorted(set(sa) | set(sb)):
            if sa.get(key) != sb.get(key):
                out.append(f"{spike} parity {key}: {sa.get(key)!r} → {sb.get(key)!r}")
    return out


def judge(
    base: list[float],
    cand: list[float],
    higher_is_better: bool,
    alpha: float,
    min_effect: float,
    bootstrap: bool = False,
) -> tuple[float | None, float | None, str, tuple[float, float] | None]:
    """(relative change of the mean, p-value, verdict, interval of the change) for one metric."""
    if not base or not cand:
        return None, None, "no data", None
    mb, mc = statistics.fmean(base), statistics.fmean(cand)
    change = (mc - mb) / mb if mb else None
    if len(base) < 2 or len(cand) < 2:
        return change, None, "too few trials", None
    if bootstrap:
        ratio = unpaired_ratio(cand, base)
        ci = (ratio.lo - 1.0, ratio.hi - 1.0) if ratio else None
        noise = ratio is None or ratio.contains(1.0)
        p = None
    else:
        p, ci = welch(base, cand), None
        noise = p is None or p >= alpha
    if noise or change is None or abs(change) < min_effect:
        return change, p, "not significant", ci
    improved = change > 0 if higher_is_better else change < 0
    return change, p, "better" if improved else "worse", ci


RELATIVE = {  # compared metric → slice field, for drift-free comparison of interleaved runs
    "throughput_rps": "throughput_rps",
    "p50_ms": "p50_ms",
    "p99_ms": "p99_ms",
    "app_cpu_ms_per_request": "app_cpu_ms_per_request",
    "db_cpu_ms_per_request": "db_cpu_ms_per_request",
}


def compare_runs(
    a: dict[str, Any], b: dict[str, Any], alpha: float = ALPHA, min_effect: float = MIN_EFFECT
) -> list[Row]:
    """One row per spike × scenario × metric present in both runs (valid data only).

    Two interleaved runs with at least two shared candidates are judged on figures relative to
    the other candidates of the same cycle: the host's drift between the runs (minutes or days
    apart) moves every candidate alike and cancels; a change of one candidate does not."""
    rows = []
    spikes = [s for s in rd.spike_names(a) if s in rd.spike_names(b)]
    scenarios = [s for s in rd.scenario_names(a) if s in rd.scenario_names(b)]
    boot = rd.design(a) == rd.design(b) == "interleaved"
    for scenario in scenarios:
        shared = [
            s for s in spikes if rd.aggregate(a, s, scenario) and rd.aggregate(b, s, scenario)
        ]
        relative = boot and len(shared) >= 2
        for spike in spikes:
            for metric in COMPARED:
                base = rd.values(a, spike, scenario, metric)
                cand = rd.values(b, spike, scenario, metric)
                judged_on = "absolute"
                jb, jc = base, cand
                if relative and metric in RELATIVE and spike in shared:
                    field = RELATIVE[metric]
                    jb = slices.relative_table(a["slices"], scenario, shared, field)[spike]
                    jc = slices.relative_table(b["slices"], scenario, shared, field)[spike]
                    judged_on = "relative"
                change, p, verdict, ci = judge(
                    jb, jc, rd.METRICS[metric][1], alpha, min_effect, boot
                )
                rows.append(
                    Row(spike, scenario, metric, base, cand, change, p, verdict, ci, judged_on)
                )
    return rows


def _mean(values: list[float], metric: str) -> str:
    if not values:
        return "–"
    m = statistics.fmean(values)
    if metric == "peak_rss_bytes":
        return f"{m / 2**20:.0f}"
    return f"{m:.2f}" if m < 10 else f"{m:.1f}"


MANY_CANDIDATES = 5  # more: significant changes are also listed together, before the details
ICON = {"better": "✅ better", "worse": "❌ worse"}


def _row(r: Row) -> str:
    change = "–" if r.change is None else f"{r.change:+.1%}"
    p = "–" if r.p is None else f"{r.p:.3f}"
    if r.ci is not None:
        p = f"[{r.ci[0]:+.1%}, {r.ci[1]:+.1%}]"
    if r.judged_on == "relative":
        change += " rel"
    return (
        f"| {r.spike} | {LABELS[r.metric]} | {_mean(r.base, r.metric)} ({len(r.base)}) | "
        f"{_mean(r.cand, r.metric)} ({len(r.cand)}) | {change} | {p} | "
        f"{ICON.get(r.verdict, r.verdict)} |"
    )


def render(
    a: dict[str, Any],
    b: dict[str, Any],
    rows: list[Row],
    diffs: list[str],
    alpha: float,
    min_effect: float,
    fail_pct: float | None,
) -> str:
    out = [f"## spikebench compare: `{a['run_id']}` → `{b['run_id']}`", ""]
    if diffs:
        out += [
            "> ⚠ **The runs' environments differ** (compared anyway, --allow-different): "
            "differences below may come from the environment, not the code.",
            ">",
            *[f"> - {d}" for d in diffs],
            "",
        ]
    out += [
        f"Baseline `{a['run_id']}` ({a.get('harness', {}).get('git', {}).get('commit') or '?'}), "
        f"candidate `{b['run_id']}` ({b.get('harness', {}).get('git', {}).get('commit') or '?'}). "
        + (
            "A change is significant when the 95% bootstrap interval of the ratio of the means "
            f"(per-cycle values, n = cycles per side) excludes no change **and** the means differ "
            f"by at least {min_effect:.0%}. Figures: {rd.estimator(a)}. Where both runs share "
            "two or more candidates, a change is judged relative to the other candidates of the "
            "same cycles (marked *rel*), so the machine's drift between the runs cancels; a "
            "change that every candidate shares (a PostgreSQL upgrade, say) then shows only in "
            "the absolute means, and a change of one candidate also moves the others' relative "
            "figures the opposite way (fully so with two candidates: read them together)."
            if rd.design(a) == rd.design(b) == "interleaved"
            else f"A change is significant when Welch's t-test gives p < {alpha:g} **and** the "
            f"means differ by at least {min_effect:.0%}; means over valid trials (n = trials "
            "per side)."
        ),
        "",
    ]
    significant = [r for r in rows if r.verdict in ("better", "worse")]
    worse = [r for r in significant if r.regression]
    few = [r for r in rows if r.verdict == "too few trials"]
    if significant:
        out.append(
            f"**{len(worse)} significant regression(s), "
            f"{len(significant) - len(worse)} significant improvement(s)** "
            f"out of {len(rows)} comparisons."
        )
    else:
        out.append(f"**No significant change** in {len(rows)} comparisons.")
    if few:
        out.append(f"{len(few)} comparison(s) had fewer than 2 valid trials on a side.")
    if fail_pct is not None:
        failing = [r for r in worse if r.change is not None and abs(r.change) * 100 > fail_pct]
        out.append(
            f"Regression gate {fail_pct:g}%: "
            + (
                f"**FAILED** ({len(failing)} significant regression(s) beyond it)"
                if failing
                else "passed"
            )
        )
    out.append("")
    head = "| spike | metric | baseline (n) | candidate (n) | change | p / 95% CI | verdict |"
    rule = "|---|---|---|---|---|---|---|"
    if significant and len(set(r.spike for r in rows)) > MANY_CANDIDATES:
        # many candidates: the per-scenario tables run to hundreds of rows; what changed first
        out += ["### Significant changes", "", "| scenario " + head, "|---" + rule]
        out += [f"| {r.scenario} {_row(r)}" for r in significant]
        out.append("")
    for scenario in dict.fromkeys(r.scenario for r in rows):
        out += [f"### {scenario}", "", head, rule]
        out += [_row(r) for r in rows if r.scenario == scenario]
        out.append("")
    one_sided = sorted(
        set(rd.spike_names(a)) ^ set(rd.spike_names(b))
        | set(rd.scenario_names(a)) ^ set(rd.scenario_names(b))
    )
    if one_sided:
        out.append(f"Not compared (in one run only): {', '.join(one_sided)}.")
        out.append("")
    return "\n".join(out)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("compare", help="compare two runs: change %% and significance per metric")
    p.add_argument("baseline", type=Path, help="results/<run-id> of the baseline")
    p.add_argument("candidate", type=Path, help="results/<run-id> of the candidate")
    p.add_argument("--output", type=Path, help="write the Markdown here (default: stdout)")
    p.add_argument(
        "--fail-on-regression",
        type=float,
        metavar="PCT",
        help=f"exit {EXIT_REGRESSION} on a significant regression worse than PCT percent "
        "(default: never)",
    )
    p.add_argument(
        "--allow-different",
        action="store_true",
        help="compare runs whose environment or parity differ (the output lists the differences)",
    )
    p.add_argument("--alpha", type=float, default=ALPHA, help="significance level")
    p.add_argument(
        "--min-effect",
        type=float,
        default=MIN_EFFECT * 100,
        metavar="PCT",
        help="smallest change that counts, in percent",
    )
    p.set_defaults(handler=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    a, b = load_run(args.baseline), load_run(args.candidate)
    diffs = differences(a, b)
    if diffs and not args.allow_different:
        print(
            "error: the runs are not comparable; they differ in:\n  "
            + "\n  ".join(diffs)
            + "\nre-run on the same machine and settings, or pass --allow-different",
            file=sys.stderr,
        )
        return EXIT_DIFFERENT
    min_effect = args.min_effect / 100
    rows = compare_runs(a, b, args.alpha, min_effect)
    text = render(a, b, rows, diffs, args.alpha, min_effect, args.fail_on_regression)
    if args.output:
        args.output.write_text(text)
        print(f"comparison: {args.output}", file=sys.stderr)
    else:
        print(text)
    if args.fail_on_regression is not None and any(
        r.regression and r.change is not None and abs(r.change) * 100 > args.fail_on_regression
        for r in rows
    ):
        return EXIT_REGRESSION
    return 0
