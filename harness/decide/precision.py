"""`spikebench precision RUN [RUN ...]`: how precise the runs were, against the targets the
interleaved design was built for, and whether repeated runs agree on the ranks.

A benchmark of the harness itself, read from result files only (the figures a closing note or a
CI job quotes): wall time, the paired and unpaired resolution, the speed probe's variation, the A/A
interval, the harness's own cost, what slicing could distort, and rank agreement.
"""

from __future__ import annotations

import argparse
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.results import projection
from harness.results import rundata as rd
from harness.results import slices as sl
from harness.results.paired import cv
from harness.results.resultfile import load_run

TARGETS = {
    "wall_minutes": 15.0,
    "resolution": 0.03,
    "probe_cv_quiet": 0.03,
    "pairing_gain": 2.0,
    "overhead_share": 0.01,
    "rank_gap": 0.05,
}


def _minutes(run: dict[str, Any]) -> float | None:
    try:
        a = datetime.fromisoformat(str(run["started_at"]).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(run["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return None
    return (b - a).total_seconds() / 60


def _median(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _unpaired_widths(run: dict[str, Any], sc: str, an: dict[str, Any]) -> list[float]:
    """The same slices' unpaired interval for each ratio to the best, as the file's own analysis
    computed it beside the paired one (schema 5 on); files before schema 5 stored it with the
    epochs pooled, so theirs comes from the analysis run again on the slices (with the run's
    probe setting; seed 0, as the precision command has always resampled them)."""
    ratios = an.get("ratios_to_best") or {}
    if int(run.get("schema_version") or 1) < 5:
        spikes = rd.spike_names(run)
        if not an.get("best") or an["best"] not in spikes:
            return []
        again = sl.analyse(
            run.get("slices", []), sc, spikes, float(an.get("target") or 0.03),
            normalise=bool(an.get("normalised_by_probe")),
        )  # fmt: skip
        ratios = {sp: r for sp, r in (again.get("ratios_to_best") or {}).items() if sp in ratios}
    return _stored_unpaired(ratios)


def _stored_unpaired(ratios: dict[str, Any]) -> list[float]:
    """The unpaired half-widths an analysis stored beside its paired ones."""
    return [
        u["half_width"]
        for r in ratios.values()
        if (u := r.get("unpaired")) and u.get("half_width") is not None
    ]


def _raw_unpaired(run: dict[str, Any], sc: str, an: dict[str, Any]) -> float | None:
    """The widest unpaired interval of the raw slices (neither paired nor normalised): what the
    same slices would say without the design, against what the run reports."""
    spikes = [r["spike"] for r in an.get("ranking") or []]
    if len(spikes) < 2:
        return None
    again = sl.analyse(run.get("slices", []), sc, spikes, float(an.get("target") or 0.03))
    return max(_stored_unpaired(again.get("ratios_to_best") or {}), default=None)


def scenario_figures(run: dict[str, Any], sc: str) -> dict[str, Any]:
    an = rd.analysis(run, sc)
    ratios = (an.get("ratios_to_best") or {}).values()
    paired = [r["paired"]["half_width"] for r in ratios if r.get("paired")]
    unpaired = _unpaired_widths(run, sc, an)
    mine = [s for s in run.get("slices", []) if s["scenario"] == sc]
    # the target's condition and the flags belong to the slices the resolution comes from: the
    # closed loop, not the capacity steps measured later (m11-1 read_heavy: 0.5 % vs 9.9 %)
    closed = sl.closed_slices(run.get("slices", []), sc)
    probes = [s["probe_ms"] for s in closed if s.get("probe_ms")]
    halves = [
        s["first_half_rps"] / s["second_half_rps"]
        for s in mine
        if s.get("first_half_rps") and s.get("second_half_rps")
    ]
    lead = [
        s["lead_in_rps"] / s["throughput_rps"]
        for s in mine
        if s.get("lead_in_rps") is not None and s.get("throughput_rps")
    ]
    aa = (an.get("aa") or {}).get("paired")
    norm = an.get("probe_normalisation") or {}
    return {
        "normalised": bool(norm.get("used")),
        "resolution_raw": norm.get("resolution_raw"),
        "resolution_normalised": norm.get("resolution_normalised"),
        "raw_unpaired": _raw_unpaired(run, sc, an) if norm.get("used") else None,
        "tracker_cv": cv([s["tracker_us"] for s in closed if s.get("tracker_us")]),
        "speed_weight": an.get("speed_weight"),
        "cycles": an.get("cycles"),
        "epochs": an.get("epochs") or 1,
        "restart_s": _median(an.get("restart_seconds") or []),
        "shared_with": an.get("shared_starts") or [],
        "stop_reason": an.get("stop_reason"),
        "resolution": max(paired, default=None),
        "unpaired": max(unpaired, default=None),
        "gain": (max(unpaired) / max(paired)) if paired and unpaired and max(paired) else None,
        "probe_cv": cv(probes),
        "flagged": sum(bool(s.get("machine_deviation")) for s in closed),
        "left_out": sum(sl.left_out(s) for s in closed),
        "slices": len(closed),
        "aa": aa,
        "first_vs_second_half": _median(halves),
        "lead_in_vs_slice": _median(lead),
        "pause_ms": _median([s.get("pause_ms") for s in mine]),
        "idle_spikes_cpu_max": max((s.get("idle_spikes_cpu_share") or 0 for s in mine), default=0),
        "autovacuum_cpu_max": max((s.get("autovacuum_cpu_share") or 0 for s in mine), default=0),
        "ranking": rd.ranking(run, sc),
    }


def trials_figures(run: dict[str, Any], sc: str) -> dict[str, Any]:
    """A trials-design run's precision: the spread between trials and each mean's t-interval."""
    cvs, widths = [], []
    for s in rd.spike_names(run):
        summ = rd.summary(run, s, sc, "throughput_rps")
        if summ.get("cv") is not None:
            cvs.append(summ["cv"])
        if summ.get("ci95") and summ.get("mean"):
            widths.append((summ["ci95"][1] - summ["ci95"][0]) / 2 / summ["mean"])
    return {
        "between_trials_cv_median": _median(cvs),
        "between_trials_cv_max": max(cvs, default=None),
        "mean_ci_half_width_max": max(widths, default=None),
        "ranking": rd.ranking(run, sc),
    }


def rank_agreement(runs: list[dict[str, Any]], gap: float) -> list[str]:
    """Pairs whose order differs between runs although some run puts them > gap apart."""
    problems = []
    for sc in rd.scenario_names(runs[0]):
        est = [
            {s: v for s in rd.spike_names(r) if (v := rd.estimate(r, s, sc, "throughput_rps"))}
            for r in runs
        ]
        names = sorted(set.intersection(*(set(e) for e in est)))
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                ratios = [e[a] / e[b] for e in est]
                if max(abs(x - 1) for x in ratios) <= gap:
                    continue
                if len({x > 1 for x in ratios}) > 1:
                    shown = ", ".join(f"{x:.3f}" for x in ratios)
                    problems.append(f"{sc}: {a}/{b} = {shown} across runs")
    return problems


def _pct(v: float | None) -> str:
    return "–" if v is None else f"±{v:.1%}"


def _need_text(need: projection.Need, max_epochs: int) -> str:
    pace = (
        f" (≈{need.minutes:.0f} min at this run's pace, {need.seconds_per_replicate:.0f} s per "
        f"{need.unit[:-1]})"
        if need.minutes is not None
        else ""
    )
    over = (
        f" (above --max-epochs {max_epochs})"
        if need.unit == "starts" and 1 < max_epochs < need.needed
        else ""
    )
    return (
        f"at this spread, ±3% would take ≈{need.needed} {need.unit}{pace}; "
        f"this run had {need.replicates}{over}"
    )


def render(runs: list[dict[str, Any]]) -> str:
    t = TARGETS
    out = ["# spikebench precision", ""]
    for run in runs:
        minutes = _minutes(run)
        over = run.get("overhead") or {}
        out.append(
            f"## {run['run_id']} ({rd.design(run)}, {run['status']}, "
            + (f"{minutes:.1f} min" if minutes is not None else "? min")
            + ")"
        )
        out.append("")
        if minutes is not None:
            ok = "meets" if minutes <= t["wall_minutes"] else "MISSES"
            out.append(f"- wall time {minutes:.1f} min: {ok} the ≤ {t['wall_minutes']:g} min")
        if rd.design(run) != "interleaved":
            for sc in rd.scenario_names(run):
                f = trials_figures(run, sc)
                ranks = ", ".join(f"{s} {r}{'≈' if tie else ''}" for s, r, tie in f["ranking"])
                out.append(
                    f"- {sc}: throughput CV between trials median "
                    f"{(f['between_trials_cv_median'] or 0):.1%}, max "
                    f"{(f['between_trials_cv_max'] or 0):.1%}; widest mean CI "
                    f"{_pct(f['mean_ci_half_width_max'])}; ranks: {ranks}"
                )
            out.append("")
            continue
        parts = [("harness samplers", "sampler_share"), ("probe", "probe_share"),
                 ("tracker", "tracker_share")]  # fmt: skip
        shown = [(name, over[key]) for name, key in parts if over.get(key) is not None]
        share = sum(v for _, v in shown)
        ok = "meets" if share < t["overhead_share"] else "MISSES"
        out.append(
            "- " + " + ".join(f"{name} {v:.2%}" for name, v in shown)
            + f" of a core = {share:.2%}: {ok} the < 1% target"
        )
        needs = projection.run_need(run, t["resolution"])
        for sc in rd.scenario_names(run):
            f = scenario_figures(run, sc)
            quiet = f["probe_cv"] is not None and f["probe_cv"] <= t["probe_cv_quiet"]
            res_ok = f["resolution"] is not None and f["resolution"] <= t["resolution"]
            verdict = (
                ("meets" if res_ok else "MISSES") + " ±3%"
                if quiet
                else f"probe CV {f['probe_cv'] or 0:.1%} > 3%: the ±3% target does not apply"
            )
            gain_ok = f["gain"] is not None and f["gain"] >= t["pairing_gain"]
            starts = f"{f['cycles']} cycles in {f['epochs']} starts" if f["epochs"] > 1 else (
                f"{f['cycles']} cycles")
            out.append(
                f"- {sc}: {starts} ({f['stop_reason']}); resolution "
                f"{_pct(f['resolution'])} paired vs {_pct(f['unpaired'])} unpaired "
                f"(pairing {f['gain'] or 0:.1f}× narrower: {'meets' if gain_ok else 'misses'} 2×); "
                f"probe CV {f['probe_cv'] or 0:.1%}, {f['flagged']}/{f['slices']} slices flagged "
                f"({f['left_out']} left out); "
                f"{verdict}"
            )
            if f["resolution_normalised"] is not None:
                used = "used" if f["normalised"] else "not used"
                line = (
                    f"  - normalising by the machine's speed ({used}): resolution "
                    f"{_pct(f['resolution_raw'])} raw, {_pct(f['resolution_normalised'])} "
                    "normalised"
                )
                if f["tracker_cv"] is not None:
                    line += f"; in-slice tracker CV {f['tracker_cv']:.1%}"
                if f["speed_weight"] is not None:
                    line += f", correction weight {f['speed_weight']:.2f}"
                if f["raw_unpaired"] and f["resolution"]:
                    line += (
                        f"; {f['raw_unpaired'] / f['resolution']:.1f}× narrower than the raw "
                        f"slices treated unpaired ({_pct(f['raw_unpaired'])})"
                    )
                out.append(line)
            need = needs["scenarios"].get(sc)
            if need and need.needed > need.replicates:
                cap = int((run.get("config") or {}).get("max_epochs") or 0)
                out.append("  - " + _need_text(need, cap))
            if f["aa"]:
                aa = f["aa"]
                inside = aa["lo"] <= 1 <= aa["hi"]
                out.append(
                    f"  - A/A ratio {aa['estimate']:.3f} [{aa['lo']:.3f}–{aa['hi']:.3f}] "
                    "(the slower over the faster), "
                    f"half-width {_pct(aa['half_width'])}: "
                    + ("contains 1" if inside else "DOES NOT contain 1")
                )
            out.append(
                f"  - slicing: first/second half of a slice {f['first_vs_second_half'] or 0:.3f}, "
                f"lead-in/slice rate {f['lead_in_vs_slice'] or 0:.3f}, "
                f"pause {f['pause_ms'] or 0:.0f} ms, "
                f"idle spikes ≤ {f['idle_spikes_cpu_max']:.1%} of the SUT CPU, "
                f"autovacuum ≤ {f['autovacuum_cpu_max']:.1%}"
            )  # fmt: skip
            if f["restart_s"] is not None:
                shared = (f", shared with {', '.join(f['shared_with'])}" if f["shared_with"]
                          else "")  # fmt: skip
                out.append(f"  - a restart took {f['restart_s']:.1f} s (median){shared}")
            out.append(
                "  - ranks: "
                + ", ".join(f"{s} {r}{'≈' if tie else ''}" for s, r, tie in f["ranking"])
            )
        if forecast := projection.forecast_text(run, needs):
            out.append(f"- {forecast}")
        out.append("")
    plain = [r for r in runs if not any(c.get("aa_of") for c in rd.candidates_meta(r).values())]
    if len(plain) > 1:
        problems = rank_agreement(plain, t["rank_gap"])
        out.append(
            f"## Rank agreement over {len(plain)} runs (A/A runs left out; gaps > "
            f"{t['rank_gap']:.0%})"
        )
        out.append("")
        out.append(
            "Every pair more than 5% apart is in the same order in every run."
            if not problems
            else "Orders that differ:\n" + "\n".join(f"- {p}" for p in problems)
        )
        out.append("")
    return "\n".join(out)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "precision",
        help="how precise runs were against the design's targets; rank agreement across runs",
    )
    p.add_argument("runs", nargs="+", type=Path, help="run folders (results/<run-id>)")
    p.set_defaults(handler=cmd_precision)


def cmd_precision(args: argparse.Namespace) -> int:
    runs = [load_run(path) for path in args.runs]
    print(render(runs))
    return 0
