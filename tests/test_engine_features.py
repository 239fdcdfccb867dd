"""Contract v2 features in the engine, through the CLI: a scenario requiring `quote` starts the
upstream stub (recorded, its CPU measured, stopped at the end), and a candidate lacking the
feature is recorded "not supported" for that scenario instead of being run or failed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from harness.results.resultfile import validate
from tests.test_engine_faults import bench


def logs_under(pid: int, folder: Path) -> bool:
    """The process writes its output into `folder`: the stub logs into its run's folder."""
    try:
        return os.readlink(f"/proc/{pid}/fd/1").startswith(str(folder))
    except OSError:
        return False


def assert_no_stub_left(before: set[int], run_folder: Path) -> None:
    """This run's stub is gone (test_engine_faults.assert_nothing_left covers the engine's other
    processes; it is not used here, as it also counts other test sessions' servers). Only a
    stub logging into this test's folder counts: a test on another xdist worker may have started
    its own meanwhile (one did, in a CI run)."""
    time.sleep(0.5)
    left = [
        p.pid for p in psutil.process_iter(["pid", "cmdline"])
        if p.pid not in before and "harness.run.upstream" in " ".join(p.info["cmdline"] or [])
        and logs_under(p.pid, run_folder)
    ]  # fmt: skip
    assert not left, left


def test_trials_skip_an_unsupported_candidate_and_run_the_stub(
    tmp_path: Path, pids_before: set[int]
) -> None:
    done, run = bench(
        tmp_path, "--spikes", "stub_ok", "--scenarios", "read_heavy,io_bound",
        "--upstream-delay", "fixed:5",
    )  # fmt: skip
    assert done.returncode in (0, 3), done.stdout + done.stderr
    validate(run)
    assert run["analysis"]["io_bound"]["not_supported"] == ["stub_ok"]
    assert "read_heavy" not in run["analysis"]
    assert [t["scenario"] for t in run["trials"]] == ["read_heavy"]
    assert run["upstream"]["delay"] == "fixed:5"
    assert run["upstream"]["cpus"] == run["pinning"]["loadgen_cpus"]
    (trial,) = run["trials"]
    assert trial["metrics"]["cpu"]["upstream_cpu_share"] >= 0
    assert "not supported by stub_ok" in done.stderr + done.stdout
    report = (tmp_path / "r" / "report.md").read_text()
    assert "not supported (needs quote)" in report
    assert "Upstream pricing stub: delay fixed:5" in report
    assert_no_stub_left(pids_before, tmp_path)


def test_interleaved_scenario_nobody_supports_is_skipped(
    tmp_path: Path, pids_before: set[int]
) -> None:
    done, run = bench(
        tmp_path, "--spikes", "stub_ok", "--scenarios", "io_bound", "--design", "interleaved",
        "--quick",
    )  # fmt: skip
    assert done.returncode in (0, 3), done.stdout + done.stderr
    validate(run)
    assert run["status"] == "complete"
    assert run["analysis"]["io_bound"]["not_supported"] == ["stub_ok"]
    assert run["trials"] == [] and run["slices"] == []
    assert "not supported (needs quote)" in (tmp_path / "r" / "report.md").read_text()
    assert_no_stub_left(pids_before, tmp_path)


def test_bad_upstream_delay_is_refused_before_anything_starts(tmp_path: Path) -> None:
    done, _ = bench(
        tmp_path, "--spikes", "stub_ok", "--scenarios", "io_bound", "--upstream-delay", "soon"
    )
    assert done.returncode != 0
    assert "--upstream-delay" in done.stderr + done.stdout
