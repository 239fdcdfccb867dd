"""The report's capacity section: how much each candidate takes under the latency SLO, and the
latency it gives at the same offered load (open model), with the latency-versus-load chart.

Read from run.json's `capacity` only (what `bench --capacity` or `spikebench capacity` stored).
"""

from __future__ import annotations

import math
from typing import Any

from harness.decide.charts import Chart, spike_colors, to_svg
from harness.decide.document import Block, Bullets, Figure, Heading, Para, Table, num
from harness.results import capacity
from harness.results import rundata as rd


def steps(run: dict[str, Any], scenario: str, spike: str) -> list[dict[str, Any]]:
    return [
        s
        for s in run.get("slices") or []
        if s["scenario"] == scenario and s["spike"] == spike and s.get("phase") and s["valid"]
    ]


def latency_chart(run: dict[str, Any], scenario: str) -> Chart | None:
    """p50 (dashed) and p99 (solid) against offered req/s, one colour per spike, the SLO drawn
    and each candidate's knee (its capacity) marked."""
    cap = (run.get("capacity") or {}).get(scenario) or {}
    if not cap.get("searches"):
        return None
    from matplotlib import rc_context
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.ticker import FormatStrFormatter

    colors = spike_colors(run)
    chart_id = f"chart-capacity-{scenario}"
    with rc_context({"svg.hashsalt": chart_id, "svg.fonttype": "path", "font.size": 8}):
        fig = MplFigure(figsize=(7.5, 3.6), layout="constrained")
        ax = fig.subplots()
        for spike, search in cap["searches"].items():
            pts = sorted(steps(run, scenario, spike), key=lambda s: s["offered_rps"])
            if not pts:
                continue
            xs = [p["offered_rps"] for p in pts]
            color = colors.get(spike, "#333333")
            ax.plot(xs, [p["p99_ms"] for p in pts], "o-", color=color, ms=3, lw=1.2,
                    label=f"{spike} p99")  # fmt: skip
            ax.plot(xs, [p["p50_ms"] for p in pts], "--", color=color, lw=0.9, alpha=0.8)
            if search.get("capacity_rps"):
                ax.axvline(search["capacity_rps"], color=color, lw=0.8, ls=":")
        ax.axhline(cap["slo_p99_ms"], color="#d62728", lw=1.0)
        ax.text(ax.get_xlim()[0], cap["slo_p99_ms"], f" SLO p99 {cap['slo_p99_ms']:g} ms",
                va="bottom", color="#d62728", fontsize=7)  # fmt: skip
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.set_xlabel("offered load, req/s (open model)")
        ax.set_ylabel("latency ms (solid p99, dashed p50)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        svg = to_svg(fig, chart_id, f"Latency against offered load: {scenario}")
    return Chart(
        chart_id,
        f"Latency against offered load: {scenario}",
        "Every step of the capacity search and the equal-load runs: p99 (solid) and p50 "
        "(dashed) from intended send times, against the offered rate; the red line is the SLO, "
        "the dotted lines each spike's capacity (its last passing step).",
        svg,
    )


def bracket_text(search: dict[str, Any]) -> str:
    lo, hi = search.get("bracket") or [None, None]
    if search.get("abandoned"):
        return f"not measured: {search['abandoned']}"
    if lo is None:
        return f"fails at every rate tried (first failure {hi or 0:.0f} req/s)"
    return f"{lo:.0f} req/s [{lo:.0f}–{hi:.0f}]" if hi else f"≥ {lo:.0f} req/s (no failure found)"


def change(x: float) -> str:
    """A relative change; two equal-load cycles can give a t interval thousands of % wide."""
    return "> +999%" if x > 9.99 else f"{x:+.0%}"


def uncertainty_text(run: dict[str, Any], scenario: str) -> str:
    """How far the capacities can be told apart (results/capacity.py)."""
    h = capacity.ratio_threshold(run, scenario)
    head = (
        "Each capacity rests on single steps of its search: its bracket says how finely the "
        "search cut, not how sure the run is. "
    )
    if h is None:
        return head + (
            "This run measured no closed loop for the scenario, so how much one step moves is "
            "unknown: capacities are ranked apart only where their brackets do not overlap, "
            "which understates the host's noise."
        )
    if math.isinf(h):
        return head + (
            "The closed loop had too few usable slices to say how much one step moves: no "
            "capacity is ranked above another."
        )
    return head + (
        "Steps of different candidates are taken at different moments, so nothing pairs them: "
        "in this scenario's closed loop, a ratio of two single slices taken at different moments "
        f"moved within ±{h:.1%} (95 %). Capacities are ranked apart only when they differ by "
        "more than that and their brackets do not overlap; closer ones share a rank (≈)."
    )


def soak_lines(run: dict[str, Any]) -> list[str]:
    lines = []
    for f in (run.get("soak") or {}).values():
        mem, lat = f.get("memory_mib_per_min"), f.get("p99_ms_per_min")
        lines.append(
            f"{f['spike']} × {f['scenario']} at {f['offered_rps'] or 0:g} req/s for "
            f"{f['minutes']:.1f} min: memory "
            + (f"{mem['slope']:+.2f} ± {mem['stderr']:.2f} MiB/min" if mem else "–")
            + f" ({f['rss_first_mib'] or 0:.0f} → {f['rss_last_mib'] or 0:.0f} MiB), p99 drift "
            + (f"{lat['slope']:+.2f} ± {lat['stderr']:.2f} ms/min" if lat else "–")
            + f", errors {f['errors']} of {f['requests']}"
        )
    return lines


def soak_blocks(run: dict[str, Any]) -> list[Block]:
    lines = soak_lines(run)
    if not lines:
        return []
    return [
        Heading(2, "Soak"),
        Para("Straight-line fits over the soak's slices (slope ± standard error): memory "
             "growth of the spike's peak RSS, and drift of p99; a leak shows as a slope well "
             "above its error."),  # fmt: skip
        Bullets(lines),
    ]


def capacity_blocks(run: dict[str, Any]) -> list[Block]:
    caps = run.get("capacity") or {}
    if not caps:
        return soak_blocks(run)
    blocks: list[Block] = [
        Heading(2, "Capacity under the latency SLO, and latency at equal load"),
        Para(
            "Open load model: arrivals at a rate that does not wait for answers, latency from each "
            "request's intended send time (no coordinated omission). Capacity is the bracket "
            "between the last passing and the first failing step of the search (p99 ≤ SLO, "
            "errors ≤ 1 %, answers ≥ 95 % of what was sent); equal load runs every candidate at "
            "the same offered rates, a fraction of the slowest candidate's capacity."
        ),
    ]
    for scenario, cap in caps.items():
        eq = cap.get("equal_load") or {}
        rates = list(eq)
        headers = ["rank", "spike", f"capacity at p99 ≤ {cap.get('slo_p99_ms', 0):g} ms [bracket]"]
        headers += [f"p99 ms at {eq[r]['offered_rps']:g} req/s" for r in rates]
        headers += ["saturated req/s (closed loop)"]
        rows = []
        ranked = capacity.ranking(run, scenario)
        order = [s for s, _, _ in ranked]
        order += [s for s in cap.get("searches") or {} if s not in order]  # searches that gave up
        ranks = {s: f"{r}{' ≈' if tied else ''}" for s, r, tied in ranked}
        for spike in order:
            row = [ranks.get(spike, "–"), spike, bracket_text(cap["searches"][spike])]
            for r in rates:
                f = (eq[r].get("spikes") or {}).get(spike) or {}
                text = num(f.get("p99_ms"))
                vs = f.get("p99_vs_lowest")
                if vs:
                    lo, hi = vs["lo"] - 1, vs["hi"] - 1
                    text += f" ({vs['estimate'] - 1:+.0%} [{lo:+.0%}, {change(hi)}])"
                elif f and eq[r].get("lowest_p99") == spike:
                    text += " (lowest)"
                row.append(text)
            row.append(num(rd.estimate(run, spike, scenario, "throughput_rps"), "{:.0f}"))
            rows.append(row)
        blocks += [
            Heading(3, f"{scenario} (capacity)"),
            Table(headers, rows),
            Para(uncertainty_text(run, scenario), "caption"),
        ]
        chart = latency_chart(run, scenario)
        if chart is not None:
            blocks += [Figure(chart), Para(chart.caption, "caption")]
        if cap.get("stop_reason") and cap["stop_reason"] != "searched":
            blocks.append(Para(f"⚠ {cap['stop_reason']}", "flag"))
    return blocks + soak_blocks(run)


def capacity_sentences(run: dict[str, Any]) -> list[str]:
    """The decision record's words: capacity per core and p99 at equal load."""
    out = []
    for scenario, cap in (run.get("capacity") or {}).items():
        cores = cap.get("sut_cpus") or 1
        slo = cap.get("slo_p99_ms")
        for spike, search in (cap.get("searches") or {}).items():
            lo = search.get("capacity_rps")
            if lo:
                where = "one core" if cores == 1 else f"{cores} cores"
                out.append(
                    f"{scenario}: on {where}, {spike} holds {lo:.0f} req/s under p99 ≤ {slo:g} ms "
                    f"(bracket {lo:.0f}–{search['bracket'][1] or math.inf:.0f})"
                )
        verdict = capacity.verdict(run, scenario)
        if verdict:
            out.append(f"{scenario}: {verdict}")
        for point in (cap.get("equal_load") or {}).values():
            figs = point.get("spikes") or {}
            if len(figs) > 1:
                ordered = sorted(figs.items(), key=lambda kv: kv[1]["p99_ms"])
                parts = [f"{f['p99_ms']:.0f} ms for {s}" for s, f in ordered]
                out.append(
                    f"{scenario}: at {point['offered_rps']:g} req/s, p99 is " + ", ".join(parts)
                )
    return out
