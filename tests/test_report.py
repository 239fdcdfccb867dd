"""report: the files are produced from run.json alone, hold every section and chart, and flag
what cannot be trusted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.decide.report import build, render_html, render_md, write_report
from tests.rundata_support import copy_data, load_data, variant, write_run

CHART_IDS = ("chart-throughput", "chart-latency", "chart-cpu", "chart-memory", "chart-timeseries")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = copy_data(tmp_path_factory.mktemp("report") / "run")
    md, page = write_report(folder)
    assert md == folder / "report.md" and page == folder / "report.html"
    return md.read_text(), page.read_text()


def test_html_holds_every_chart_as_inline_svg(written: tuple[str, str]) -> None:
    _, page = written
    for chart in CHART_IDS:
        m = re.search(rf'<svg id="{chart}" class="chart"[^>]*>(.*?)</svg>', page, re.S)
        assert m, chart
        paths = re.findall(r'<path[^>]* d="([^"]+)"', m.group(1))
        assert len(paths) > 20, chart  # axes, ticks, glyphs and the data themselves
    # internal ids were made unique per chart, so charts cannot clip each other
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_html_is_self_contained(written: tuple[str, str]) -> None:
    _, page = written
    assert "<script" not in page and "<link" not in page and "@import" not in page
    external = re.findall(r'(?:src|href)="(https?:[^"]*)"', page)
    assert external == []
    assert re.findall(r"url\((?!#)", page) == []


def test_markdown_has_the_sections(written: tuple[str, str]) -> None:
    md, _ = written
    run = load_data()
    for heading in (
        "## Validity",
        "## Summary per scenario",
        "## Charts",
        "## Inspection",
        "## Parity",
        "## Environment",
    ):
        assert heading in md
    for scenario in ("### read_heavy", "### auth_storm"):
        assert scenario in md
    assert "req/s mean [95% CI]" in md and "p99 ms" in md and "DB CPU ms/req" in md
    assert "idle RSS MiB" in md and "peak RSS MiB" in md and "startup s" in md
    assert run["machine"]["cpu_model"] in md
    assert " ".join(run["harness"]["command_line"]) in md
    assert f"Git commit {run['harness']['git']['commit']}" in md
    assert 'make bench SPIKES="' in md
    assert "| DB pool per worker |" in md and "| server |" in md
    for chart in CHART_IDS:
        assert f"`{chart}`" in md


def test_ranking_is_by_throughput(written: tuple[str, str]) -> None:
    md, _ = written
    run = load_data()
    for agg_scenario in ("read_heavy", "auth_storm"):
        section = md.split(f"### {agg_scenario}")[1].split("###")[0]
        rows = [ln for ln in section.splitlines() if re.match(r"\| \d", ln)]
        means = [float(ln.split("|")[4].split()[0]) for ln in rows]
        assert means == sorted(means, reverse=True)
        assert len(rows) == len({a["spike"] for a in run["aggregates"]})


def test_invalid_trials_and_warnings_are_flagged() -> None:
    def invalidate(trial: dict[str, Any]) -> None:
        trial["valid"] = False
        trial["invalid_reasons"] = ["noisy_neighbour"]
        trial["warnings"] = ["other processes used 40% of the SUT CPUs (> 15%)"]

    run = variant(load_data(), invalidate, spike="flask", scenario="read_heavy")
    run = variant(run, lambda t: None)
    blocks = build(run, charts=[])
    md, page = render_md(blocks), render_html(blocks, "t")
    assert "invalid trial(s), left out of every aggregate" in md
    assert "noisy_neighbour" in md and "other processes used 40%" in md
    assert "no valid trials" in md  # flask × read_heavy lost every trial
    assert "fewer than 2 valid trials" in md  # the aggregate warning
    assert '<tr class="invalid">' in page and '<tr class="flag">' in page


def test_high_cv_is_flagged() -> None:
    def noisy(trial: dict[str, Any]) -> None:
        if trial["round"] == 1:
            trial["metrics"]["throughput_rps"] *= 2

    run = variant(load_data(), noisy, spike="fastapi", scenario="auth_storm")
    md = render_md(build(run, charts=[]))
    assert "auth_storm / fastapi: high_cv" in md


def test_report_without_any_valid_trial_still_renders(tmp_path: Path) -> None:
    def crash(trial: dict[str, Any]) -> None:
        trial["valid"] = False
        trial["invalid_reasons"] = ["spike_crashed"]
        trial["error"] = "the spike died\nlog tail"

    folder = write_run(variant(load_data(), crash), tmp_path / "run")
    md, page = write_report(folder)
    assert "no valid trials" in md.read_text()
    assert 'id="chart-throughput"' in page.read_text()


def test_cli_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_data(tmp_path / "run")
    assert main(["report", str(folder)]) == 0
    out = capsys.readouterr().out
    assert str(folder / "report.md") in out and str(folder / "report.html") in out


def test_report_of_a_missing_run_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "no result file" in capsys.readouterr().err


def test_environment_values_are_readable() -> None:
    from harness.decide.report import Bullets
    from harness.decide.report_environment import environment

    run = load_data()
    run["machine"]["cpu_governor"] = None  # as on a VM without cpufreq
    run["machine"]["load_average"] = [0.984375, 0.92529296875, 0.61572265625]
    items = [i for b in environment(run) if isinstance(b, Bullets) for i in b.items]
    text = "\n".join(items)
    assert "None" not in text, text
    assert "[" not in text and "{" not in text and "'" not in text, text
    assert not re.search(r"\d\.\d{4,}", text), text  # no raw floats
    assert "load average at start 0.98, 0.93, 0.62" in text
    assert "Locust CPU 80%" in text, text
