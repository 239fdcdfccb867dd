"""The interleaved design end to end through the CLI: stand-in spikes for the faults (a spike that
dies mid-run, what cannot be interleaved, Ctrl-C, the A/A wiring), and one short real run of two
framework spikes. Every finished slice is kept and nothing is left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.results.resultfile import load_run, validate
from tests.test_engine_faults import FIXTURES, assert_nothing_left

FAST = ["--warmup", "1", "--slice", "0.6", "--lead-in", "0.1", "--min-cycles", "2",
        "--seed-users", "20", "--seed-items", "5", "--scenarios", "read_heavy",
        "--runtime", "local", "--users", "4", "--capacity", "none"]  # fmt: skip


def bench(
    tmp_path: Path, *args: str, spikes_dir: Path = FIXTURES
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    cmd = [sys.executable, "-m", "harness.cli", "bench", "--output", str(tmp_path),
           "--spikes-dir", str(spikes_dir), "--run-id", "r", *FAST, *args]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    run_file = tmp_path / "r" / "run.json"
    return done, (json.loads(run_file.read_text()) if run_file.exists() else {})


def test_a_spike_dying_mid_run_keeps_its_slices_and_the_others_go_on(
    tmp_path: Path, pids_before: set[int]
) -> None:
    done, run = bench(tmp_path, "--spikes", "stub_ok,crash_later", "--budget", "30s",
                      "--min-cycles", "1000", "--epochs", "1", "--max-epochs", "1")  # fmt: skip
    assert done.returncode == 3, done.stdout + done.stderr
    validate(run)
    assert run["design"] == "interleaved" and run["schema_version"] == 9
    crashed = next(t for t in run["trials"] if t["spike"] == "crash_later")
    assert "spike_crashed" in crashed["invalid_reasons"] and "died" in crashed["error"]
    mine = [s for s in run["slices"] if s["spike"] == "crash_later"]
    before = [s for s in mine if "spike_crashed" not in s["invalid_reasons"]]
    assert before and all(s["requests"] > 0 for s in before), "slices before the crash are kept"
    assert any("spike_crashed" in s["invalid_reasons"] for s in mine)
    ok = [s for s in run["slices"] if s["spike"] == "stub_ok"]
    assert len(ok) > len(mine), "the other candidate goes on after the crash"
    assert "its finished slices are kept" in done.stderr
    assert_nothing_left(pids_before)


def test_what_cannot_be_interleaved_is_refused_with_the_way_out(tmp_path: Path) -> None:
    done, _ = bench(tmp_path, "--spikes", "stub_ok", "--loadgen-workers", "2")
    assert done.returncode == 2
    assert "cannot interleave" in done.stdout and "--design trials" in done.stdout
    done, _ = bench(tmp_path, "--spikes", "stub_ok", "--design", "trials", "--aa", "stub_ok")
    assert done.returncode == 2 and "--aa needs the interleaved design" in done.stdout
    assert not (tmp_path / "r").exists()  # refused before anything started


def test_aa_run_measures_the_resolution_and_the_report_states_it(
    tmp_path: Path, pids_before: set[int]
) -> None:
    # four cycles at least: a parallel test run can make a slice invalid (noisy neighbour)
    done, run = bench(tmp_path, "--aa", "stub_ok", "--budget", "30s", "--min-cycles", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(run["candidates"]) == {"stub_ok", "stub_ok-aa"}
    assert run["candidates"]["stub_ok-aa"]["aa_of"] == "stub_ok"
    an = run["analysis"]["read_heavy"]
    assert an["cycles"] >= 2 and an["aa"]["paired"]["n"] >= 2
    assert an["stop_reason"] in ("resolution reached", "budget spent")
    # flagged or not, no slice is left out by default (a busy host flags most of them)
    assert run["config"]["drop_flagged"] is False and not any(s["left_out"] for s in run["slices"])
    counts: dict[int, list[str]] = {}
    for s in run["slices"]:
        counts.setdefault(s["cycle"], []).append(s["spike"])
    assert all(sorted(v) == ["stub_ok", "stub_ok-aa"] for v in counts.values())
    assert run["probes"] and all(p["ms"] > 0 for p in run["probes"])
    assert run["overhead"]["probe_share"] is not None
    # the in-slice tracker read every slice, and the analysis is normalised by it by default
    valid = [s for s in run["slices"] if s["valid"]]
    assert valid and all(s["tracker_n"] >= 1 and s["tracker_us"] > 0 for s in valid)
    assert sum(s["tracker_n"] for s in valid) >= 3 * len(valid)  # one per 100 ms of 0.6-s slices
    assert (tmp_path / "r" / "raw" / "speed.tsv").stat().st_size > 0
    assert run["overhead"]["tracker_share"] is not None
    assert run["config"]["probe_normalise"] is True and an["normalised_by_probe"] is True
    report = (tmp_path / "r" / "report.md").read_text()
    assert report.index("Resolution:") < report.index("## Validity")  # the report leads with it
    assert "A/A check in read_heavy" in report
    aa = an["aa"]  # named as the ratio is taken: the slower over the faster, never above 1 by much
    assert f"({aa['b']} ÷ {aa['a']}, the slower over the faster)" in report
    assert {aa["a"], aa["b"]} == {"stub_ok", "stub_ok-aa"}
    assert load_run(tmp_path / "r")["design"] == "interleaved"
    assert_nothing_left(pids_before)


def test_epochs_restart_every_candidate_in_the_reversed_order(
    tmp_path: Path, pids_before: set[int]
) -> None:
    """The resolution can never stop it (--min-cycles 1000): epochs of two cycles (the flag over
    the scenario file's four) follow each other while the budget pays for a restart, each with
    the start order reversed; the last runs on. The Locusts are not restarted: each follows its
    spike to the new process."""
    done, run = bench(tmp_path, "--aa", "stub_ok", "--budget", "30s", "--epochs", "2",
                      "--min-cycles", "1000", "--max-epochs", "4",
                      "--epoch-cycles", "2")  # fmt: skip
    assert done.returncode in (0, 3), done.stdout + done.stderr
    epochs = sorted({s["epoch"] for s in run["slices"]})
    assert len(epochs) >= 3 and epochs == list(range(1, len(epochs) + 1)), epochs
    cycles = {e: sorted({s["cycle"] for s in run["slices"] if s["epoch"] == e}) for e in epochs}
    assert all(len(cycles[e]) == 2 for e in epochs[:-1]), cycles  # --epoch-cycles
    slicing = run["analysis"]["read_heavy"]["slicing"]
    assert slicing == {"slice_s": 0.6, "lead_in_s": 0.1, "epoch_cycles": 2}
    assert run["config"]["epoch_cycles"] == 2 and run["scenarios"]["read_heavy"]["slicing"] == {
        "slice_s": 0.5, "lead_in_s": 0.2, "epoch_cycles": 4}  # the file's, recorded as it is
    assert len(cycles[epochs[-1]]) >= 1
    assert all(max(cycles[a]) < min(cycles[b]) for a, b in zip(epochs, epochs[1:], strict=False))
    starts = {t["spike"]: t["epoch_starts"] for t in run["trials"]}
    assert all([e["epoch"] for e in v] == epochs for v in starts.values())
    for name, other in (("stub_ok", "stub_ok-aa"), ("stub_ok-aa", "stub_ok")):
        mine, theirs = [e["order"] for e in starts[name]], [e["order"] for e in starts[other]]
        assert all(m != t for m, t in zip(mine, theirs, strict=True))  # reversed each epoch
        assert all(a != b for a, b in zip(mine, mine[1:], strict=False))
    raw = tmp_path / "r" / "raw" / "read_heavy-stub_ok"
    assert len(list(raw.glob("requests-*.csv"))) == 1  # one Locust process for every epoch
    assert (raw / "spike.log").exists() and (raw / f"spike-e{len(epochs)}.log").exists()
    target = json.loads((raw / "target.json").read_text())
    assert target["gen"] == len(epochs) - 1  # retargeted at each restart
    trial = next(t for t in run["trials"] if t["spike"] == "stub_ok")
    assert trial["valid"] and not trial["invalid_reasons"], trial
    an = run["analysis"]["read_heavy"]
    assert an["epochs"] == len(epochs) and an["stop_reason"] == "budget spent"
    assert len(an["restart_seconds"]) == len(epochs) - 1
    phases = an["restart_phases"]
    assert len(phases) == len(epochs) - 1
    for total, parts in zip(an["restart_seconds"], phases, strict=True):
        assert set(parts) == {"stop", "databases", "spikes", "settle", "loadgens", "warm_up"}
        assert parts["warm_up"] >= 1.0 and sum(parts.values()) <= total + 0.1  # --warmup 1
    assert f"{len(epochs)} process epochs" in (tmp_path / "r" / "report.md").read_text()
    assert_nothing_left(pids_before)


def test_the_closed_loop_scenarios_share_each_start(tmp_path: Path, pids_before: set[int]) -> None:
    """Two scenarios, default design: every epoch starts the candidates once and gives each
    scenario its cycle in turn, and each scenario's Locusts follow every restart; with
    --per-scenario-starts each scenario has starts of its own."""
    shared_args = ("--aa", "stub_ok", "--budget", "40s", "--min-cycles", "1000",
                   "--scenarios", "read_heavy,crud_mix")  # fmt: skip
    done, run = bench(tmp_path, *shared_args)
    assert done.returncode in (0, 3), done.stdout + done.stderr
    raw = tmp_path / "r" / "raw"
    epochs = {sc: run["analysis"][sc]["epochs"] for sc in ("read_heavy", "crud_mix")}
    assert epochs["read_heavy"] == epochs["crud_mix"] >= 3, epochs
    e = epochs["read_heavy"]
    assert run["analysis"]["read_heavy"]["shared_starts"] == ["crud_mix"]
    for n in range(1, e + 1):  # one start per epoch, both scenarios' slices on it
        on_it = {s["scenario"] for s in run["slices"] if s["epoch"] == n}
        assert on_it == {"read_heavy", "crud_mix"}
        assert (raw / "starts-stub_ok" / ("spike.log" if n == 1 else f"spike-e{n}.log")).exists()
    assert not (raw / "starts-stub_ok" / f"spike-e{e + 1}.log").exists()
    for sc in ("read_heavy", "crud_mix"):
        assert json.loads((raw / f"{sc}-stub_ok" / "target.json").read_text())["gen"] == e - 1
    assert all(t["valid"] for t in run["trials"]), [t["error"] for t in run["trials"]]
    assert_nothing_left(pids_before)
    apart = tmp_path / "apart"
    apart.mkdir()
    done, run = bench(apart, *shared_args, "--per-scenario-starts")
    assert done.returncode in (0, 3), done.stdout + done.stderr
    assert run["analysis"]["read_heavy"]["shared_starts"] == []
    assert (apart / "r" / "raw" / "read_heavy-stub_ok" / "spike.log").exists()
    assert (apart / "r" / "raw" / "crud_mix-stub_ok" / "spike.log").exists()
    assert_nothing_left(pids_before)


def test_ctrl_c_keeps_finished_slices(tmp_path: Path, pids_before: set[int]) -> None:
    cmd = [sys.executable, "-m", "harness.cli", "bench", "--output", str(tmp_path),
           "--spikes-dir", str(FIXTURES), "--run-id", "r", *FAST, "--spikes", "stub_ok",
           "--aa", "stub_ok", "--budget", "120s", "--min-cycles", "1000"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_file = tmp_path / "r" / "run.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if run_file.exists() and len(json.loads(run_file.read_text())["slices"]) >= 4:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    run = json.loads(run_file.read_text())
    validate(run)
    assert run["status"] == "interrupted" and len(run["slices"]) >= 4
    assert all(t["finished_at"] for t in run["trials"])
    assert_nothing_left(pids_before)


@pytest.mark.skipif(os.environ.get("SPIKEBENCH_SKIP_REAL") == "1", reason="asked to skip")
def test_quick_interleaved_run_of_two_real_spikes(tmp_path: Path, pids_before: set[int]) -> None:
    cmd = [sys.executable, "-m", "harness.cli", "bench", "--output", str(tmp_path),
           "--run-id", "r", "--quick", "--spikes", "flask,litestar", "--scenarios",
           "read_heavy", "--budget", "45s", "--seed-users", "50", "--seed-items", "20",
           "--runtime", "local"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = load_run(tmp_path / "r")
    an = run["analysis"]["read_heavy"]
    assert an["cycles"] >= 3 and an["best"] in ("flask", "litestar")
    other = "litestar" if an["best"] == "flask" else "flask"
    ratio = an["ratios_to_best"][other]["paired"]
    assert ratio["n"] >= 2 and ratio["estimate"] <= 1.0
    for s in run["slices"]:
        assert s["requests"] > 0 and s["app_cpu_ms_per_request"] > 0
        assert s["loadgen_busiest_process_share"] < 0.8
    assert "Resolution:" in done.stdout and "vs best" in done.stdout
    assert_nothing_left(pids_before)
