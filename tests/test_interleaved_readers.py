"""Report, compare, score, decision record, terminal summary and precision on interleaved
(schema 2) result files: one estimate everywhere, ranks only above the resolution, and the same
uncertainty in compare and the score's sensitivity. The runs are built from synthetic slices with
known true rates, shaped exactly as `bench` stores them."""

from __future__ import annotations

import copy
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from harness.cli import print_summary
from harness.decide.compare import compare_runs
from harness.decide.criteria import load_criteria
from harness.decide.decision import throughput_points
from harness.decide.precision import rank_agreement, render
from harness.decide.report import build, render_md
from harness.decide.score import score_run
from harness.decide.sensitivity import dirichlet_wins
from harness.results import capacity, slices
from harness.results import rundata as rd
from harness.results.resultfile import load_run, validate
from harness.results.stats import TRIALS_ESTIMATOR
from tests.rundata_support import DATA_RUN, load_data

REPO = Path(__file__).resolve().parent.parent

RATES = {"read_heavy": {"flask": 300.0, "fastapi": 300.0}, "auth_storm": {"flask": 40.0,
         "fastapi": 30.0}}  # fmt: skip


def interleaved_run(
    rates: dict[str, dict[str, float]], seed: int = 1, noise: float = 0.01
) -> dict[str, Any]:
    """The committed small run re-shaped as an interleaved run over synthetic slices; `noise`:
    each slice's own log-sd, beside the machine's drift that every candidate of a cycle shares."""
    run = load_data()
    rng = np.random.default_rng(seed)
    run.update(schema_version=2, design="interleaved", estimator=slices.ESTIMATOR,
               probes=[], overhead={}, analysis={})  # fmt: skip
    run["candidates"] = {s: {"spike": s, "aa_of": None} for s in run["spikes"]}
    run["config"].update(slice_s=3.0, lead_in_s=0.5)
    by = {(t["spike"], t["scenario"]): t for t in run["trials"] if t["valid"]}
    run["trials"] = [dict(t, design="interleaved") for t in by.values()]
    out = []
    for sc, per in rates.items():
        speed = 1.0
        for c in range(1, 21):
            speed *= math.exp(rng.normal(0, 0.08))
            for spike, rate in per.items():
                thr = rate * speed * math.exp(rng.normal(0, noise))
                out.append({
                    "scenario": sc, "cycle": c, "spike": spike, "start": 1e9 + c, "end": 1e9 + c,
                    "seconds": 3.0, "requests": int(thr * 3), "failures": 0, "error_rate": 0.0,
                    "throughput_rps": thr, "p50_ms": 16000 / thr, "p99_ms": 40000 / thr,
                    "app_cpu_ms_per_request": 1000 / rate, "db_cpu_ms_per_request": 0.3,
                    "idle_spikes_cpu_share": 0.001, "other_on_sut_share": 0.0,
                    "loadgen_busiest_process_share": 0.2, "steal_share": 0.0,
                    "probe_ms": 1.5 / speed, "valid": True, "invalid_reasons": [],
                    "machine_deviation": False,
                })  # fmt: skip
    run["slices"] = out
    run["aggregates"] = []
    for sc, per in rates.items():
        an = slices.analyse(out, sc, list(per), target=0.03)
        run["analysis"][sc] = an | {"stop_reason": "budget spent"}
        records = {t["spike"]: t for t in run["trials"] if t["scenario"] == sc}
        run["aggregates"] += slices.aggregates(out, sc, list(per), records)
    run.pop("_folder", None)
    validate(run)
    return run


def test_old_result_files_still_load_as_trials_runs() -> None:
    run = load_run(DATA_RUN)
    assert run["schema_version"] == 1 and run["design"] == "trials"
    assert run["estimator"] == TRIALS_ESTIMATOR and run["slices"] == []
    assert "Resolution: not measured" in render_md(build(run, charts=[]))


def test_report_leads_with_the_resolution_and_ranks_only_above_it() -> None:
    run = interleaved_run(RATES)
    md = render_md(build(run, charts=[]))
    assert md.index("Resolution: this run can tell apart") < md.index("## Validity")
    assert "mean over cycles, 95% bootstrap CI" in md and "vs best [95% CI]" in md
    ranks = {s: (r, tie) for s, r, tie in rd.ranking(run, "read_heavy")}
    assert ranks["flask"][0] == ranks["fastapi"][0]  # the same true rate: one shared rank
    ranks = {s: (r, tie) for s, r, tie in rd.ranking(run, "auth_storm")}
    assert ranks["flask"] == (1, False) and ranks["fastapi"] == (2, False)
    assert "## Precision" in md


def test_decision_record_argues_from_the_same_ranks() -> None:
    run = interleaved_run(RATES)
    flask = dict(throughput_points(run, "flask"))
    texts = " ".join(t for _, t in throughput_points(run, "flask"))
    assert "inside this run's resolution" in texts  # read_heavy: not called a lead
    assert any("highest throughput in auth_storm" in t for t in flask.values())
    good = [t for k, t in throughput_points(run, "flask") if k == "Good"]
    assert len(good) == 1 and "auth_storm" in good[0] and "mean of 20 cycles" in good[0]


def test_terminal_summary_labels_the_estimate_it_shows() -> None:
    run = interleaved_run(RATES)
    buf = io.StringIO()
    print_summary(Console(file=buf, width=250), run)
    text = buf.getvalue()
    assert "mean over cycles, 95% bootstrap CI" in text and "median" not in text
    fl = rd.estimate(run, "flask", "auth_storm", "throughput_rps")
    assert fl is not None and f"{fl:.0f} [" in text


def test_compare_uses_the_cycles_bootstrap_and_says_not_significant_for_noise() -> None:
    a = interleaved_run(RATES, seed=1)
    slower = copy.deepcopy(RATES)
    slower["auth_storm"]["fastapi"] = 24.0  # 20% slower
    b = interleaved_run(slower, seed=2)
    rows = {(r.spike, r.scenario, r.metric): r for r in compare_runs(a, b)}
    worse = rows[("fastapi", "auth_storm", "throughput_rps")]
    assert worse.verdict == "worse" and worse.ci is not None and worse.ci[1] < 0
    assert worse.judged_on == "relative" and abs(worse.change + 0.2) < 0.03  # type: ignore[operator]
    # the machine's speed differs between the two runs; relative to each other nothing changed
    same = rows[("flask", "read_heavy", "throughput_rps")]
    assert same.verdict == "not significant" and same.judged_on == "relative"


def test_score_sensitivity_draws_the_measured_figures() -> None:
    run = interleaved_run(RATES)
    criteria = load_criteria()
    matrix = score_run(run, criteria)
    wins = dirichlet_wins(matrix)
    assert math.isclose(sum(wins.values()), 1.0)
    # the performance score comes from the same estimates the report shows
    assert matrix.scores["flask"]["performance"] > matrix.scores["fastapi"]["performance"]


def test_aa_twins_are_not_options_of_the_decision() -> None:
    run = interleaved_run(RATES)
    run["candidates"]["flask-aa"] = {"spike": "flask", "aa_of": "flask"}
    run["spikes"]["flask-aa"] = run["spikes"]["flask"]
    assert rd.candidates(run) == ["flask", "fastapi"]
    assert set(score_run(run, load_criteria()).scores) == {"flask", "fastapi"}


def test_precision_report_and_rank_agreement(tmp_path: Path) -> None:
    a, b = interleaved_run(RATES, 1), interleaved_run(RATES, 2)
    assert rank_agreement([a, b], 0.05) == []
    flipped = copy.deepcopy(RATES)
    flipped["auth_storm"] = {"flask": 30.0, "fastapi": 40.0}
    problems = rank_agreement([a, interleaved_run(flipped, 3)], 0.05)
    assert problems and problems[0].startswith("auth_storm: fastapi/flask")
    text = render([a, b])
    assert "resolution ±" in text and "pairing" in text and "Rank agreement over 2 runs" in text
    (tmp_path / "run.json").write_text(json.dumps(a))
    assert load_run(tmp_path)["design"] == "interleaved"


def test_a_run_short_of_its_target_says_what_budget_would_reach_it() -> None:
    from harness.results import paired, projection

    quiet = interleaved_run(RATES)
    assert projection.run_need(quiet)["scenarios"]["read_heavy"].needed <= 20  # it met ±3 %
    assert "would take" not in render([quiet])
    noisy = interleaved_run(RATES, 4, noise=0.15)  # 20 one-start cycles, ~±7 % per ratio
    need = projection.run_need(noisy)
    read = need["scenarios"]["read_heavy"]
    an = noisy["analysis"]["read_heavy"]
    widest = max((r["paired"] for r in an["ratios_to_best"].values()),
                 key=lambda p: p["half_width"])  # fmt: skip
    iv = paired.Interval(widest["estimate"], widest["lo"], widest["hi"], widest["n"])
    assert read.unit == "cycles" and read.replicates == 20
    assert read.needed == paired.replicates_needed(iv, 20, 0.03) > 20
    # the slices span 19 s over 20 cycles; the two scenarios' times add (no shared starts)
    assert read.seconds_per_replicate == pytest.approx(19 / 20)
    assert need["minutes"] == pytest.approx(sum(n.minutes for n in need["scenarios"].values()))
    text = render([noisy])
    assert f"±3% would take ≈{read.needed} cycles" in text and "this run had 20" in text
    assert "- At this run's spread, ±3% in every scenario would take about" in text
    md = render_md(build(noisy, charts=[]))
    assert "in every scenario would take about" in md and "a forecast" in md
    buf = io.StringIO()
    print_summary(Console(file=buf, width=200), noisy)  # the terminal says it too
    assert f"would take about {read.needed} cycles" in buf.getvalue().replace("\n", " ")


def with_capacity(run: dict[str, Any]) -> dict[str, Any]:
    """A capacity search result as bench stores it: flask holds more, and is faster at load."""
    def step(spike: str, rate: float, p99: float, phase: str) -> dict[str, Any]:
        base = next(s for s in run["slices"] if s["spike"] == spike)
        return base | {"phase": phase, "offered_rps": rate, "achieved_rps": rate, "p99_ms": p99,
                       "p50_ms": p99 / 3, "cycle": 100}  # fmt: skip

    run["slices"] += [step("flask", 150, 40, "search"), step("flask", 231, 140, "search"),
                      step("fastapi", 120, 61, "search"), step("fastapi", 165, 180, "search")]
    run["capacity"] = {"read_heavy": {
        "slo_p99_ms": 100.0, "sut_cpus": 1, "records": [],
        "searches": {
            "flask": {"capacity_rps": 210.0, "bracket": [210.0, 231.0], "steps": 6},
            "fastapi": {"capacity_rps": 150.0, "bracket": [150.0, 165.0], "steps": 6},
        },
        "equal_load": {
            "75": {"offered_rps": 75.0, "lowest_p99": "flask", "spikes": {
                "flask": {"p50_ms": 9.0, "p99_ms": 21.0, "cycles": 3},
                "fastapi": {"p50_ms": 11.0, "p99_ms": 30.0, "cycles": 3}}},
            "120": {"offered_rps": 120.0, "lowest_p99": "flask", "spikes": {
                "flask": {"p50_ms": 12.0, "p99_ms": 38.0, "cycles": 3},
                "fastapi": {"p50_ms": 20.0, "p99_ms": 61.0, "cycles": 3}}},
        },
    }}  # fmt: skip
    validate(run)
    return run


def test_capacity_leads_the_report_and_decides_performance(tmp_path: Path) -> None:
    from harness.decide.decision import capacity_section
    from harness.decide.sizing import cores_needed

    rates = {"read_heavy": {"flask": 280.0, "fastapi": 300.0}}  # closed loop: fastapi ahead
    run = with_capacity(interleaved_run(rates))
    md = render_md(build(run, charts=[]))
    assert md.index("## Capacity under the latency SLO") < md.index("## Summary per scenario")
    assert "| flask | 210 req/s [210–231] | 21.0" in md
    assert "38.0 (lowest)" in md or "38.0" in md
    criteria = load_criteria()
    perf = score_run(run, criteria).scores
    assert perf["flask"]["performance"] > perf["fastapi"]["performance"]  # capacity decides
    criteria.expected_rps, criteria.vcpu_hour_price = 1000.0, 0.04
    text = "\n".join(capacity_section(run, criteria))
    assert "on one core, flask holds 210 req/s under p99 ≤ 100 ms" in text
    assert "at 120 req/s, p99 is 38 ms for flask, 61 ms for fastapi" in text
    # the bracket widened by one capacity's noise: this run's slices drift 8 % a cycle
    flask = run["capacity"]["read_heavy"]["searches"]["flask"]
    u = capacity.relative_halfwidth(run, "read_heavy", flask)
    fewest, most = cores_needed(1000, 210 * (1 - u), 231 * (1 + u))
    assert fewest < 5 < most and f"flask needs {fewest}–{most} cores for 1000 req/s" in text
    assert f"widened by ±{u:.0%}" in text and "a month at 0.04" in text
    assert cores_needed(1000, 210, 231) == [5, 5] and cores_needed(1000, 150, 165) == [7, 7]
    assert cores_needed(100, 30, 60) == [2, 4]


def test_soak_fits_memory_growth_and_latency_drift() -> None:
    from harness.decide.report_capacity import soak_lines
    from harness.run.soak import soak_figures

    run = {"slices": [
        {"scenario": "read_heavy", "spike": "flask", "start": 1000.0 + 60 * m, "valid": True,
         "peak_rss_bytes": int((200 + 1.5 * m) * 2**20), "p99_ms": 40.0 + 0.5 * m,
         "requests": 6000, "failures": 1 if m == 3 else 0, "offered_rps": 100.0}
        for m in range(10)
    ]}  # fmt: skip
    (fig,) = soak_figures(run).values()
    assert fig["memory_mib_per_min"]["slope"] == pytest.approx(1.5, abs=0.01)
    assert fig["p99_ms_per_min"]["slope"] == pytest.approx(0.5, abs=0.01)
    assert fig["errors"] == 1 and fig["requests"] == 60000 and fig["minutes"] == 9.0
    run["soak"] = soak_figures(run)
    (line,) = soak_lines(run)
    assert "memory +1.50 ± 0.00 MiB/min (200 → 214 MiB)" in line and "errors 1 of 60000" in line


def test_soak_rate_from_a_capacity_run(tmp_path: Path) -> None:
    """`spikebench soak --fraction 0.5 --capacity-run RUN`, as the CLI parses it."""
    from harness.cli import build_parser
    from harness.run.soak import rate_from

    run = with_capacity(interleaved_run(RATES))
    (tmp_path / "run.json").write_text(json.dumps(run))
    args = build_parser().parse_args(
        ["soak", "--spikes", "flask", "--fraction", "0.5", "--capacity-run", str(tmp_path)]
    )
    assert rate_from(args) == 105.0  # half of flask's 210 req/s


@pytest.mark.parametrize(
    "example", sorted(p.name for p in (REPO / "results" / "examples").iterdir() if p.is_dir())
)
def test_every_committed_example_still_reads_in_report_compare_and_score(
    example: str, tmp_path: Path
) -> None:
    """Old result files (schema 1 and 2) stay readable by today's readers."""
    import shutil

    from harness.decide.report import write_report

    folder = tmp_path / example
    shutil.copytree(REPO / "results" / "examples" / example, folder)
    run = load_run(folder)
    assert run["schema_version"] in (1, 2, 3, 4, 5, 6, 7, 8, 9)
    assert build(run)
    md, html = write_report(folder)
    assert "Resolution" in md.read_text() and html.exists()
    assert compare_runs(run, run)
    assert score_run(run, load_criteria())


def test_precision_takes_the_targets_condition_from_the_closed_loop() -> None:
    """Capacity steps come later and may meet another host: their probe readings must not decide
    whether the closed loop's ±3 % target applied (m11-1 read_heavy: 0.5 % closed, 9.9 % with)."""
    from harness.decide.precision import scenario_figures
    from harness.results.paired import cv

    run = with_capacity(interleaved_run({"read_heavy": {"flask": 280.0, "fastapi": 300.0}}))
    for i, s in enumerate(x for x in run["slices"] if x.get("phase")):
        s["probe_ms"], s["machine_deviation"] = (1.0, True) if i % 2 else (3.0, True)
    closed = slices.closed_slices(run["slices"], "read_heavy")
    f = scenario_figures(run, "read_heavy")
    assert f["probe_cv"] == pytest.approx(cv([s["probe_ms"] for s in closed]))
    assert f["slices"] == len(closed) == 40 and f["flagged"] == 0


def test_the_design_line_names_each_scenarios_slicing() -> None:
    """Schema 9: the slicing each scenario recorded, grouped; an older file's config; and a
    scenario no candidate could run (nothing recorded) is left out, not printed as None."""
    from harness.results.rundata import slices_text

    short = {"slice_s": 0.5, "lead_in_s": 0.2, "epoch_cycles": 4}
    long = {"slice_s": 2.0, "lead_in_s": 0.5, "epoch_cycles": 1}
    run = {"config": {"slice_s": None, "lead_in_s": None},
           "scenarios": {"read_heavy": {}, "write_heavy": {}, "auth_storm": {}, "realtime": {}},
           "analysis": {"read_heavy": {"slicing": short}, "write_heavy": {"slicing": short},
                        "auth_storm": {"slicing": long},
                        "realtime": {"not_supported": ["flask"]}}}  # fmt: skip
    assert slices_text(run) == (
        "0.5 s slices after a 0.2 s lead-in (read_heavy, write_heavy) and "
        "2 s slices after a 0.5 s lead-in (auth_storm)"
    )
    run["analysis"].pop("auth_storm")
    assert slices_text(run) == "0.5 s slices (after a 0.2 s lead-in)"
    old = {"config": {"slice_s": 2.0, "lead_in_s": 0.5}, "scenarios": {"read_heavy": {}},
           "analysis": {"read_heavy": {}}}  # fmt: skip
    assert slices_text(old) == "2 s slices (after a 0.5 s lead-in)"
