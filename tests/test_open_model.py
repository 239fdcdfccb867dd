"""The open (arrival-rate) load model on stand-in servers: the arrival schedule's rate and shape,
coordinated-omission correction on a server that stalls, the lag guard, and the capacity search
(its bisection on a synthetic judge, and end to end on a server of known capacity)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from harness.run import metrics
from harness.run.capacity import Search, judge_step
from harness.run.loadgen import Loadgen, LoadgenConfig
from harness.run.postgres import free_port
from harness.run.procs import stop_group
from harness.run.runconfig import Thresholds
from harness.run.slicing import open_figures
from harness.scenario import load_scenario
from tests.test_engine_faults import FIXTURES, assert_nothing_left

STUB = FIXTURES / "stub_server.py"


def open_scenario(tmp_path: Path, rate: float, arrival: str = "poisson") -> Path:
    path = tmp_path / "open.toml"
    path.write_text(
        f'[scenario]\ndescription = "open"\nusers = 1\nspawn_rate = 1\nwait = [0.0, 0.0]\n'
        f'login_on_start = false\n[tasks]\nget_me = 1\n'
        f'[load]\nmodel = "open"\nrate = {rate}\narrival = "{arrival}"\nmax_in_flight = 500\n'
    )
    return path


def run_open(tmp_path: Path, rate: float, seconds: float, *stub_args: str,
             arrival: str = "poisson") -> metrics.Requests:  # fmt: skip
    """A stub server and an ungated open-model Locust against it for `seconds`."""
    port = free_port()
    stub = subprocess.Popen([sys.executable, str(STUB), "--port", str(port), *stub_args],
                            start_new_session=True, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(0.5)
        lg = Loadgen(
            load_scenario(open_scenario(tmp_path, rate, arrival)),
            f"http://127.0.0.1:{port}",
            tmp_path / "raw",
            LoadgenConfig(warmup_s=0, measure_s=seconds, seed_users=10, seed_items=5,
                          seed_password="x", random_seed=3),  # fmt: skip
        )
        lg.start()
        deadline = time.monotonic() + seconds + 30
        while lg.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        lg.stop()
    finally:
        stop_group(stub)  # type: ignore[arg-type]
    return metrics.read_requests(tmp_path / "raw")


def test_poisson_arrivals_have_the_rate_and_the_shape(tmp_path: Path) -> None:
    reqs = run_open(tmp_path, 150.0, 6)
    start = np.sort(reqs.start)
    inner = start[(start > start[0] + 1) & (start < start[-1] - 1)]
    rate = (inner.size - 1) / (inner[-1] - inner[0])
    assert 130 <= rate <= 170, rate  # 150/s offered
    gaps = np.diff(inner)
    assert 0.8 < gaps.std() / gaps.mean() < 1.2  # exponential gaps: CV 1
    assert sps.kstest(gaps, "expon", args=(0, gaps.mean())).pvalue > 0.001
    assert float(np.percentile(reqs.lag, 90)) < 10  # sent on time


def test_constant_arrivals_are_evenly_spaced(tmp_path: Path) -> None:
    reqs = run_open(tmp_path, 100.0, 4, arrival="constant")
    gaps = np.diff(np.sort(reqs.start))[5:-5]
    assert abs(gaps.mean() - 0.01) < 0.001 and gaps.std() / gaps.mean() < 0.05


def test_a_stall_shows_as_seconds_of_latency_for_every_arrival_it_held(tmp_path: Path) -> None:
    """The server stalls 2 s: every request scheduled during the stall waits for its end, so its
    latency from the intended time is ~(stall end − intended), 2 s down to 0 — not a handful
    of slow requests, as a closed loop that stopped sending would report."""
    reqs = run_open(tmp_path, 50.0, 7, "--stall-at-s", "3", "--stall-s", "2")
    t0 = reqs.start.min()
    held = reqs.where((reqs.start > t0 + 2.7) & (reqs.start < t0 + 4.0))
    assert len(held) >= 40  # 50/s × 1.3 s, all kept though the server did not answer
    slow = int((reqs.ms > 1000).sum())
    assert slow >= 30, slow  # arrivals in the stall's first second waited > 1 s
    worst = float(reqs.ms.max())
    assert 1700 < worst < 2600, worst  # the first one held waited the whole 2 s


def test_lag_guard_flags_a_rate_the_generator_cannot_reach(tmp_path: Path) -> None:
    reqs = run_open(tmp_path, 8000.0, 3)
    assert len(reqs), "Locust wrote its rows"
    t0 = reqs.start.min()
    window = reqs.where((reqs.start > t0 + 0.5) & (reqs.start < t0 + 2.5))
    fig = open_figures(window, 8000.0, 2.0, Thresholds(), reqs, (t0 + 0.5, t0 + 2.5))
    assert fig["lagging"] and fig["lag_p90_ms"] > 100, fig  # sent late: Locust, not the stub
    assert fig["achieved_rps"] < 0.8 * 8000, fig


def test_open_figures_pass_a_rate_that_is_met() -> None:
    rng = np.random.default_rng(1)
    n = 400
    reqs = metrics.Requests(
        np.sort(rng.uniform(0, 4, n)), np.array(["GET /me"] * n, dtype=object),
        np.full(n, 200), rng.uniform(1, 5, n), np.ones(n, bool), rng.uniform(0, 2, n),
    )  # fmt: skip
    fig = open_figures(reqs, 100.0, 4.0, Thresholds())
    assert not fig["lagging"] and fig["achieved_rps"] == pytest.approx(100.0)
    assert fig["p99_9_ms"] is not None and fig["late_share"] == 0.0


def test_bisection_brackets_a_known_capacity() -> None:
    for capacity in (37.0, 137.0, 1450.0):
        search = Search("x", 25.0, precision=0.10, max_steps=20)
        while not search.done:
            rate = search.rate
            step = {"offered_rps": rate, "invalid_reasons": []}
            search.record(step, rate <= capacity)
        lo, hi = search.lo, search.hi
        assert lo is not None and hi is not None
        assert lo <= capacity < hi and hi / lo - 1 <= 0.10


def test_invalid_steps_are_retried_never_counted_as_failures() -> None:
    search = Search("x", 100.0)
    step = {"offered_rps": 100.0, "invalid_reasons": ["noisy_neighbour"]}
    search.record(step, None)
    assert search.rate == 100.0 and search.hi is None and not search.done
    search.record(step, None)
    search.record(step, None)
    assert search.done and "3 invalid steps in a row" in (search.abandoned or "")


def test_judge_step_names_the_reason() -> None:
    base: dict[str, Any] = {"invalid_reasons": [], "p99_ms": 50.0, "error_rate": 0.0,
                            "offered_rps": 100.0, "achieved_rps": 99.0}  # fmt: skip
    assert judge_step(base, 100.0, 0.01) == (True, "p99 50 ms ≤ 100 ms")
    assert judge_step(base | {"p99_ms": 150.0}, 100.0, 0.01)[0] is False
    assert judge_step(base | {"error_rate": 0.05}, 100.0, 0.01)[0] is False
    assert judge_step(base | {"achieved_rps": 80.0}, 100.0, 0.01)[0] is False
    # 96 sent by chance (Poisson), 95 answered: the server kept up
    assert judge_step(base | {"arrivals_rps": 96.0, "achieved_rps": 95.0}, 100.0, 0.01)[0]
    lag = base | {"invalid_reasons": ["loadgen_lagging"]}
    assert judge_step(lag, 100.0, 0.01)[0] is None  # the generator's fault: no verdict


def test_capacity_command_on_a_server_of_known_capacity(tmp_path: Path) -> None:
    """10 ms per request, one at a time: at most ~99 req/s; the SLO (300 ms, lenient for a busy
    test machine) holds up to ~85-90% of that and fails beyond it. Steps of 4 s: a 2-s step
    can pass a few % of overload (the queue has no time to grow past the SLO)."""
    before = set(__import__("psutil").pids())
    cmd = [sys.executable, "-m", "harness.cli", "capacity", "--output", str(tmp_path),
           "--spikes-dir", str(FIXTURES), "--run-id", "r", "--spikes", "stub_capacity",
           "--scenarios", "read_heavy", "--warmup", "1", "--lead-in", "0.5", "--budget", "150s",
           "--seed-users", "20", "--seed-items", "5", "--runtime", "local", "--quick",
           "--slo-p99-ms", "300", "--step", "4"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert done.returncode in (0, 3), done.stdout[-2000:] + done.stderr[-2000:]
    cap = run["capacity"]["read_heavy"]
    search = cap["searches"]["stub_capacity"]
    lo, hi = search["bracket"]
    # the bracket lands within 10% of the known capacity: a step of a few seconds lets a few %
    # of overload pass (the queue has too little time to push p99 past the SLO)
    assert lo is not None and 50 <= lo <= 110, search
    assert hi is not None and lo < hi <= 130, search
    assert cap["equal_load_rates"] == [round(lo * 0.5, 1), round(lo * 0.8, 1)]
    assert "capacity at p99 ≤ 300 ms" in done.stderr
    assert_nothing_left(before)


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk not installed (make wrk)")
def test_crosscheck_runs_locust_and_wrk_against_the_same_endpoint(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "harness.cli", "crosscheck", "--spikes-dir", str(FIXTURES),
           "--spikes", "stub_ok", "--duration", "2", "--warmup", "1", "--rounds", "1",
           "--output", str(tmp_path)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (result,) = tmp_path.glob("crosscheck-*.json")
    data = json.loads(result.read_text())
    pair = data["spikes"]["stub_ok"]["pairs"][0]
    assert pair["locust_rps"] > 0 and pair["wrk_rps"] > 0
    assert data["spikes"]["stub_ok"]["ratio"] == pytest.approx(pair["locust_rps"] / pair["wrk_rps"])
