"""The run engine end to end, through the CLI a user types, including every named fault:
a spike that will not start, crashes mid-run or answers 5xx; Postgres unreachable; a port
already taken; Ctrl-C. Each gives a clear message, keeps what was measured and leaves nothing
running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from harness.results.resultfile import validate

FIXTURES = Path(__file__).parent / "fixtures" / "spikes"
SHORT = ["--design", "trials", "--trials", "1", "--warmup", "1", "--duration", "3",
         "--seed-users", "20", "--seed-items", "5", "--scenarios", "read_heavy",
         "--runtime", "local"]


def bench(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
          spikes_dir: Path = FIXTURES) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    cmd = [sys.executable, "-m", "harness.cli", "bench", "--output", str(tmp_path),
           "--spikes-dir", str(spikes_dir), "--run-id", "r", *SHORT, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    run_file = tmp_path / "r" / "run.json"
    run = json.loads(run_file.read_text()) if run_file.exists() else {}
    return done, run


def someone_elses(proc: psutil.Process) -> bool:
    """A living process tree that is not ours started it (an xdist worker beside this one,
    another checkout's suite or bench on a shared machine). What we leak is either still our
    descendant or an orphan, re-parented to PID 1: both count."""
    try:
        if any(p.pid == os.getpid() for p in proc.parents()):
            return False
        return proc.ppid() != 1
    except psutil.Error:
        return False


def assert_nothing_left(before: set[int]) -> None:
    """No process we started survives: compare with what existed before the run."""
    time.sleep(0.5)
    leftovers = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.pid in before or someone_elses(proc):
            continue
        cmd = " ".join(proc.info["cmdline"] or [])
        if "stub_server.py" in cmd or "locust" in cmd or "spikebench-pg-" in cmd:
            leftovers.append(cmd)
    assert not leftovers, leftovers


def test_healthy_stub_run_is_recorded_and_valid_against_schema(
    tmp_path: Path, pids_before: set[int]
) -> None:
    done, run = bench(tmp_path, "--spikes", "stub_ok")
    assert done.returncode in (0, 3), done.stderr
    validate(run)
    assert run["status"] == "complete"
    (trial,) = run["trials"]
    assert trial["metrics"]["requests"] > 0
    assert trial["metrics"]["error_rate"] == 0
    assert (tmp_path / "r" / trial["raw_dir"] / "locust_stats.csv").exists()
    assert_nothing_left(pids_before)


def test_spike_that_fails_to_start(tmp_path: Path, pids_before: set[int]) -> None:
    done, run = bench(tmp_path, "--spikes", "broken_start,stub_ok")
    assert done.returncode == 3, done.stdout + done.stderr
    validate(run)
    by_spike = {t["spike"]: t for t in run["trials"]}
    broken = by_spike["broken_start"]
    assert broken["invalid_reasons"] == ["start_failed"]
    assert "exited with code 3" in broken["error"] and "boom" in broken["error"]
    assert by_spike["stub_ok"]["metrics"]["requests"] > 0, "the other spike still ran"
    assert "spike failed to start" in done.stderr
    assert_nothing_left(pids_before)


def test_spike_that_crashes_mid_run(tmp_path: Path, pids_before: set[int]) -> None:
    done, run = bench(tmp_path, "--spikes", "crash_midrun")
    assert done.returncode == 3
    validate(run)
    (trial,) = run["trials"]
    assert "spike_crashed" in trial["invalid_reasons"]
    assert not trial["valid"]
    assert "died or stopped answering" in trial["error"]
    assert_nothing_left(pids_before)


def test_spike_answering_5xx_is_flagged(tmp_path: Path, pids_before: set[int]) -> None:
    done, run = bench(tmp_path, "--spikes", "errors_5xx")
    assert done.returncode == 3
    (trial,) = run["trials"]
    assert "high_error_rate" in trial["invalid_reasons"]
    assert trial["metrics"]["server_errors"] > 0
    assert trial["metrics"]["status_counts"]["500"] > 0
    agg = run["aggregates"][0]
    assert agg["valid_trials"] == 0 and agg["metrics"]["throughput_rps"]["n"] == 0
    assert_nothing_left(pids_before)


def test_postgres_unreachable(tmp_path: Path, pids_before: set[int]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    done, run = bench(tmp_path, "--spikes", "stub_ok",
                      env={"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{dead}/postgres"})
    assert done.returncode == 2
    assert "unreachable" in done.stdout
    assert run["status"] == "failed" and "unreachable" in run["error"]
    validate(run)
    assert_nothing_left(pids_before)


def test_port_already_taken(tmp_path: Path, pids_before: set[int]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        done, run = bench(tmp_path, "--spikes", "stub_ok", "--spike-port", str(port))
    assert done.returncode == 2
    assert f"port 127.0.0.1:{port} is already taken by pid {os.getpid()}" in done.stdout
    assert run["status"] == "failed"
    validate(run)
    assert_nothing_left(pids_before)


def test_ctrl_c_keeps_measured_trials_and_stops_everything(
    tmp_path: Path, pids_before: set[int]
) -> None:
    cmd = [sys.executable, "-m", "harness.cli", "bench", "--output", str(tmp_path),
           "--spikes-dir", str(FIXTURES), "--run-id", "r", *SHORT, "--trials", "3",
           "--spikes", "stub_ok"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_file = tmp_path / "r" / "run.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if run_file.exists() and json.loads(run_file.read_text())["trials"]:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    time.sleep(1.5)  # now inside the second trial
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "the second trial should be running"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    assert "interrupted" in out
    run = json.loads(run_file.read_text())
    validate(run)
    assert run["status"] == "interrupted"
    assert len(run["trials"]) >= 1 and run["trials"][0]["metrics"]["requests"] > 0
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert_nothing_left(pids_before)
