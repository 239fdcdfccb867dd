"""compare: identical runs show nothing, a planted slowdown is caught, unlike runs are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.decide.compare import EXIT_REGRESSION, compare_runs, differences, judge
from harness.results import rundata as rd
from harness.results.stats import summarize
from tests.rundata_support import load_data, scale_metric, variant, write_run


@pytest.fixture
def base() -> dict[str, Any]:
    return load_data()


@pytest.fixture
def slowed(base: dict[str, Any]) -> dict[str, Any]:
    """Every trial's throughput × 0.8: a planted 20% slowdown, nothing else changed."""
    return variant(base, scale_metric(("throughput_rps",), 0.8))


def test_a_run_compared_with_itself_has_nothing_significant(
    base: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = compare_runs(base, base)
    assert rows and all(r.verdict in ("not significant", "too few trials") for r in rows)
    assert all(r.change in (0.0, None) for r in rows)
    folder = write_run(base, tmp_path / "a")
    assert main(["compare", str(folder), str(folder), "--fail-on-regression", "1"]) == 0
    out = capsys.readouterr().out
    assert "No significant change" in out and "gate 1%: passed" in out


def test_planted_20_percent_slowdown_is_a_significant_regression(
    base: dict[str, Any], slowed: dict[str, Any]
) -> None:
    rows = compare_runs(base, slowed)
    thr = [r for r in rows if r.metric == "throughput_rps"]
    assert thr and all(r.change == pytest.approx(-0.2) for r in thr)
    # never called an improvement; flagged wherever the baseline's trial-to-trial noise allows
    assert all(r.verdict in ("worse", "not significant") for r in thr)
    for r in thr:
        cv = summarize(r.base)["cv"]
        if cv is not None and cv < 0.06:  # quiet pairs: 20% must stand out
            assert r.verdict == "worse", (r.spike, r.scenario, cv, r.p)
    assert any(r.verdict == "worse" for r in thr)
    # the other metrics were not touched
    assert all(r.verdict == "not significant" for r in rows if r.metric != "throughput_rps")


def test_fail_on_regression_exits_non_zero(
    base: dict[str, Any], slowed: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = write_run(base, tmp_path / "a"), write_run(slowed, tmp_path / "b")
    assert main(["compare", str(a), str(b), "--fail-on-regression", "10"]) == EXIT_REGRESSION
    out = capsys.readouterr().out
    assert "FAILED" in out and "❌ worse" in out and "-20.0%" in out
    # a 20% regression is within a 30% gate; without a gate compare only reports
    assert main(["compare", str(a), str(b), "--fail-on-regression", "30"]) == 0
    assert main(["compare", str(a), str(b)]) == 0
    # the faster direction is an improvement, never a regression
    assert main(["compare", str(b), str(a), "--fail-on-regression", "10"]) == 0
    assert "✅ better" in capsys.readouterr().out


def test_higher_latency_cpu_and_memory_are_regressions(base: dict[str, Any]) -> None:
    for path, metric in (
        (("latency_ms", "p99"), "p99_ms"),
        (("cpu", "app_ms_per_request"), "app_cpu_ms_per_request"),
        (("memory", "peak_rss_bytes"), "peak_rss_bytes"),
    ):
        worse = variant(base, scale_metric(path, 1.5))
        rows = [r for r in compare_runs(base, worse) if r.metric == metric]
        assert all(r.verdict in ("worse", "not significant") for r in rows)
        assert any(r.verdict == "worse" for r in rows), metric


def test_too_few_trials(base: dict[str, Any]) -> None:
    def invalidate(trial: dict[str, Any]) -> None:
        if trial["round"] > 1:
            trial["valid"] = False
            trial["invalid_reasons"] = ["noisy_neighbour"]

    thin = variant(base, invalidate)
    rows = compare_runs(base, thin)
    assert rows and all(r.verdict == "too few trials" for r in rows)


def test_judge_rules() -> None:
    quiet = [100.0, 101.0, 99.0, 100.5]
    assert judge(quiet, [v * 0.8 for v in quiet], True, 0.05, 0.05)[2] == "worse"
    assert judge(quiet, [v * 1.2 for v in quiet], True, 0.05, 0.05)[2] == "better"
    assert judge(quiet, [v * 1.2 for v in quiet], False, 0.05, 0.05)[2] == "worse"
    # significant but smaller than the minimum effect: not significant
    assert judge(quiet, [v * 0.98 for v in quiet], True, 0.05, 0.05)[2] == "not significant"
    # large but noisy: not significant
    assert judge([50.0, 150.0, 100.0], [40.0, 130.0, 70.0], True, 0.05, 0.05)[2] == (
        "not significant"
    )
    assert judge([1.0], [2.0, 3.0], True, 0.05, 0.05)[2] == "too few trials"
    assert judge([], [2.0, 3.0], True, 0.05, 0.05)[2] == "no data"


@pytest.mark.parametrize(
    ("path", "value", "label"),
    [
        (("machine", "cpu_model"), "Other CPU", "machine CPU model"),
        (("machine", "cpus_logical"), 64, "machine logical CPUs"),
        (("machine", "memory_bytes"), 1, "machine memory bytes"),
        (("runtime", "kind"), "compose", "runtime kind"),
        (("pinning", "sut_cpus"), "0-1", "pinning: SUT CPUs"),
        (("config", "seed_users"), 10, "seed users"),
        (("config", "warmup_s"), 99.0, "warm-up seconds"),
        (("config", "measure_s"), 99.0, "measured seconds"),
        (("parity", "workers"), 8, "parity workers"),
    ],
)
def test_different_environments_are_refused_unless_allowed(
    base: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    path: tuple[str, str],
    value: Any,
    label: str,
) -> None:
    other = variant(base, lambda t: None)
    other[path[0]][path[1]] = value
    assert any(d.startswith(label) for d in differences(base, other))
    a, b = write_run(base, tmp_path / "a"), write_run(other, tmp_path / "b")
    assert main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert "not comparable" in err and label in err and "--allow-different" in err
    out_file = tmp_path / "summary.md"
    assert main(["compare", str(a), str(b), "--allow-different", "--output", str(out_file)]) == 0
    text = out_file.read_text()
    assert text.index("environments differ") < text.index("### ")  # said at the top
    assert label in text


def test_spike_parity_difference_is_refused(base: dict[str, Any]) -> None:
    other = variant(base, lambda t: None)
    other["spikes"]["flask"]["parity"]["db_pool_size"] = 16
    assert differences(base, other) == ["flask parity db_pool_size: 4 → 16"]


def test_markdown_lists_every_spike_scenario_and_metric(
    base: dict[str, Any], tmp_path: Path
) -> None:
    folder = write_run(base, tmp_path / "a")
    out = tmp_path / "cmp.md"
    assert main(["compare", str(folder), str(folder), "--output", str(out)]) == 0
    text = out.read_text()
    for scenario in rd.scenario_names(base):
        assert f"### {scenario}" in text
    for label in (
        "throughput req/s",
        "p50 ms",
        "p99 ms",
        "app CPU ms/req",
        "DB CPU ms/req",
        "peak RSS MiB",
    ):
        assert f"| {label} |" in text
