"""The run engine's pure parts: trial planning, statistics, scenarios, manifests, discovery."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.manifest import discover_spikes, load_manifest, load_parity
from harness.paths import REPO_ROOT, SCENARIOS_DIR, SPIKES_DIR
from harness.results.stats import summarize, welch
from harness.run.runconfig import default_cpu_sets, parse_cpus
from harness.run.trials import aggregate, plan_trials
from harness.scenario import DEFAULT_SCENARIOS, TASK_NAMES, load_scenario, select_scenarios

SPIKES = discover_spikes()


def test_trials_are_interleaved_rounds_in_shuffled_order() -> None:
    scenarios = select_scenarios(["read_heavy", "auth_storm"])
    plan = plan_trials(SPIKES, scenarios, trials=3, seed=7)
    assert len(plan) == 3 * len(SPIKES) * 2
    per_round = len(SPIKES) * 2
    for r in range(3):
        chunk = plan[r * per_round : (r + 1) * per_round]
        assert {c[0] for c in chunk} == {r + 1}
        # every (spike, scenario) exactly once per round: no back-to-back repetitions of a pair
        assert Counter((sp.name, sc.name) for _, sp, sc in chunk) == Counter(
            {(sp.name, sc.name): 1 for sp in SPIKES for sc in scenarios}
        )
    orders = {
        tuple((sp.name, sc.name) for _, sp, sc in plan[i : i + per_round])
        for i in range(0, len(plan), per_round)
    }
    assert len(orders) > 1, "rounds should not all share one order"
    assert plan == plan_trials(SPIKES, scenarios, trials=3, seed=7), "the seed fixes the order"


def test_summary_statistics() -> None:
    s = summarize([100.0, 110.0, 90.0])
    assert s["n"] == 3 and s["median"] == 100.0 and s["mean"] == pytest.approx(100.0)
    assert s["stdev"] == pytest.approx(10.0)
    # t(0.975, 2) = 4.303: half width = 4.303 * 10 / sqrt(3) = 24.84
    assert s["ci95"] == pytest.approx([75.16, 124.84], abs=0.01)
    assert s["cv"] == pytest.approx(0.1)
    one = summarize([5.0])
    assert one["ci95"] is None and one["median"] == 5.0
    assert summarize([])["n"] == 0


def test_welch_separates_real_differences_only() -> None:
    assert welch([100, 101, 99], [100, 99, 101]) > 0.5
    assert welch([100, 101, 99, 100], [80, 81, 79, 80]) < 0.001
    assert welch([1.0], [2.0, 3.0]) is None


def _trial(spike: str, rps: float, valid: bool = True) -> dict:
    metrics = {
        "throughput_rps": rps,
        "error_rate": 0.0,
        "latency_ms": {"p50": 1.0, "p99": 2.0},
        "cpu": {"app_ms_per_request": 1.0, "db_ms_per_request": 0.5},
        "memory": {"idle_rss_bytes": 1, "peak_rss_bytes": 2, "peak_pss_bytes": 2},
        "startup_seconds": 1.0,
    }
    return {"spike": spike, "scenario": "s", "valid": valid, "metrics": metrics}


def test_aggregates_leave_invalid_trials_out_and_warn_on_high_cv() -> None:
    (agg,) = aggregate([_trial("a", 100), _trial("a", 102), _trial("a", 10_000, valid=False)])
    assert agg["valid_trials"] == 2 and agg["trials"] == 3
    assert agg["metrics"]["throughput_rps"]["values"] == [100, 102]
    assert any("1 of 3 trials invalid" in w for w in agg["warnings"])
    (noisy,) = aggregate([_trial("b", 100), _trial("b", 150), _trial("b", 60)])
    assert any(w.startswith("high_cv") for w in noisy["warnings"])


def test_cpu_sets() -> None:
    assert parse_cpus("0,2-3") == [0, 2, 3]
    sut, loadgen = default_cpu_sets()
    if len(os.sched_getaffinity(0)) >= 2:
        assert sut and loadgen and not set(parse_cpus(sut)) & set(parse_cpus(loadgen))


def test_default_scenarios_exist_and_are_valid() -> None:
    names = [s.name for s in select_scenarios(None)]
    assert names == list(DEFAULT_SCENARIOS)
    auth = load_scenario(SCENARIOS_DIR / "auth_storm.toml")
    assert not auth.login_on_start and set(auth.tasks) == {"register", "login"}
    reads = load_scenario(SCENARIOS_DIR / "read_heavy.toml")
    read_share = (reads.tasks["get_item"] + reads.tasks["list_items"]) / sum(reads.tasks.values())
    assert read_share == pytest.approx(0.9)


def test_each_scenario_cuts_its_time_as_its_file_says_unless_a_flag_sets_them_all() -> None:
    """Short requests get short slices, four per start; argon2 logins keep 2-s slices; a flag
    (here --slice and --epoch-cycles) sets every scenario's, the rest stays the file's."""
    from harness.run.interleave import InterleavedScenario
    from harness.run.runconfig import BenchConfig
    from harness.scenario import Slicing

    reads, auth = select_scenarios(["read_heavy", "auth_storm"])
    assert reads.slicing == Slicing(0.5, 0.2, 4) and auth.slicing == Slicing(2.0, 0.5, 1)
    assert reads.to_dict()["slicing"] == {"slice_s": 0.5, "lead_in_s": 0.2, "epoch_cycles": 4}

    class Bare(InterleavedScenario):  # only what `slicing` and `policy` read
        def __init__(self, scenario: object, cfg: BenchConfig) -> None:
            self.scenario, self.cfg = scenario, cfg  # type: ignore[assignment]

    own = Bare(reads, BenchConfig())
    assert own.slicing == reads.slicing and own.policy().cycles == 4
    flagged = Bare(reads, BenchConfig(slice_s=1.0, epoch_cycles=2))
    assert flagged.slicing == Slicing(1.0, 0.2, 2) and flagged.policy().cycles == 2


def test_task_names_match_the_locustfile() -> None:
    """The harness refuses unknown tasks up front, so its list must equal the locustfile's."""
    tree = ast.parse((SCENARIOS_DIR / "locustfile.py").read_text())
    tasks = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", "") == "TASKS"
    )
    names = {
        elt.id
        for elt in ast.walk(tasks.value)
        if isinstance(elt, ast.Name) and elt.id not in ("f",)
    }
    assert names == TASK_NAMES


OK = "[scenario]\nusers = 1\nspawn_rate = 1\n[tasks]\nget_item = 1\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scenario]\nusers = 0\nspawn_rate = 1\n[tasks]\nget_item = 1\n", "users"),
        ("[scenario]\nusers = 1\nspawn_rate = 1\n[tasks]\nfly = 1\n", "unknown tasks ['fly']"),
        ("[scenario]\nusers = 1\nspawn_rate = 1\n", "at least one task"),
        ("[scenario]\nusers = 1\nspawn_rate = 1\nwait = [2, 1]\n[tasks]\nlogin = 1\n", "wait"),
        ("not toml [", "invalid TOML"),
        (f"{OK}[slicing]\nslice_s = 0\n", "slice_s must be more than 0"),
        (f"{OK}[slicing]\nlead_in_s = -1\n", "lead_in_s must be a number of seconds"),
        (f"{OK}[slicing]\nepoch_cycles = 1.5\n", "epoch_cycles must be a positive integer"),
        (f"{OK}[slicing]\nslices = 4\n", "unknown [slicing] keys ['slices']"),
    ],
)
def test_bad_scenarios_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_scenario(path)


def test_every_spike_manifest_is_complete_and_distinct() -> None:
    names = {s.name for s in SPIKES}
    assert {"django", "flask", "fastapi", "litestar"} <= names
    for spike in SPIKES:
        env = {"SPIKE_HOST": "127.0.0.1", "SPIKE_PORT": "8000", "SPIKE_WORKERS": "2",
               "SPIKE_THREADS": "8"}  # fmt: skip
        argv = spike.argv(env)
        # a server pinned in the spike's requirements, or `python -m app` (tornado is its own)
        pinned = {
            line.split("==")[0].split("[")[0].strip().lower()
            for line in spike.requirements.read_text().splitlines()
            if "==" in line and not line.startswith("#")
        }
        assert argv[0] in pinned or argv[:2] == ["python", "-m"], (argv, pinned)
        assert "8000" in " ".join(argv) and ("2" in argv or "--workers=2" in argv), argv
        assert spike.requirements.exists()
        pins = [
            line
            for line in spike.requirements.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        assert pins and all("==" in line for line in pins), f"{spike.name}: unpinned {pins}"


def test_manifest_errors_name_the_problem(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with pytest.raises(ConfigError, match="no manifest"):
        load_manifest(tmp_path / "x")
    (tmp_path / "x" / "spike.toml").write_text('[spike]\nname = "y"\n')
    with pytest.raises(ConfigError, match="missing keys"):
        load_manifest(tmp_path / "x")


def test_parity_is_one_file_and_reaches_the_environment() -> None:
    parity = load_parity()
    env = parity.env()
    assert env["SPIKE_WORKERS"] == str(parity.workers)
    assert env["SPIKE_ARGON2_MEMORY_KIB"] == str(parity.argon2_memory_kib)
    assert parity.to_dict()["jwt_secret"] == "<redacted>"


def test_a_fifth_spike_folder_is_picked_up_with_no_other_change(tmp_path: Path) -> None:
    """Copy a spike under a new name into a spikes folder: the suite collects tests for it."""
    spikes = tmp_path / "spikes"
    shutil.copytree(
        SPIKES_DIR / "flask", spikes / "flask_two", ignore=shutil.ignore_patterns("__pycache__")
    )
    manifest = spikes / "flask_two" / "spike.toml"
    manifest.write_text(manifest.read_text().replace('name = "flask"', 'name = "flask_two"'))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/conformance"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "SPIKEBENCH_SPIKES_DIR": str(spikes)},
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert collected and all("flask_two" in line for line in collected)
    assert any("test_items.py::test_create_item[flask_two]" in line for line in collected)


def test_one_process_table_gives_every_tree_a_scan_per_tree_would() -> None:
    """A slice boundary reads several process trees from one pass over /proc: the same
    processes `children(recursive=True)` finds, the root first; a gone root has no tree."""
    import psutil

    from harness.run.monitor import ProcessTable

    child = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; "
         "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"]
    )  # fmt: skip
    try:
        root = psutil.Process(child.pid)
        for _ in range(100):  # the grandchild appears once the child has started it
            if root.children():
                break
            time.sleep(0.05)
        expected = {child.pid, *(p.pid for p in root.children(recursive=True))}
        tree = ProcessTable().tree(child.pid)
        assert len(expected) == 2 and {p.pid for p in tree} == expected
        assert tree[0].pid == child.pid
        mine = ProcessTable().tree(os.getpid())
        assert expected <= {p.pid for p in mine}
        # a partial pass reads only the processes it is given: the tree it knows stops there
        part = ProcessTable(only=[child.pid, os.getpid()])
        assert set(part.stats) == {child.pid, os.getpid()}
        assert part.pids(child.pid) == [child.pid] and child.pid in part.pids(os.getpid())
    finally:
        for proc in psutil.Process(child.pid).children(recursive=True):
            proc.kill()
        child.kill()
        child.wait()
    assert ProcessTable().tree(child.pid) == [] and ProcessTable().tree(None) == []


def test_a_candidates_pss_is_read_at_most_every_ten_seconds() -> None:
    """smaps is what the samplers spend most on: after a 0.5-s slice it is read only if the
    candidate's last reading is MEMORY_EVERY_S old; between, (0, 0) and its boundaries' RSS."""
    from types import SimpleNamespace

    from harness.run import boundary
    from harness.run.live import Live
    from harness.run.monitor import ProcessTable

    sampler = boundary.Boundaries(None, None, [0])
    sampler.table = ProcessTable()
    live = Live(SimpleNamespace(pid=os.getpid()), {}, Path("."))  # type: ignore[arg-type]
    rss, pss = sampler.memory(live)
    assert rss > 0 and pss > 0 and sampler.cpu_s > 0
    assert sampler.memory(live) == (0, 0)
    live.memory_at -= boundary.MEMORY_EVERY_S
    assert sampler.memory(live)[1] > 0


def test_after_a_restart_the_opening_boundary_reads_every_process() -> None:
    """A slice's opening boundary reads only the processes the last full pass found; a restarted
    candidate is not among them, so that boundary reads everything. Otherwise the new server's
    CPU since its start (here 0.3 s of work) lands in its first slice."""
    from types import SimpleNamespace

    from harness.run.boundary import Boundaries
    from harness.run.monitor import TreeCPU

    busy = ("import time\nt = time.process_time()\n"
            "while time.process_time() - t < 0.3: pass\ntime.sleep(30)")  # fmt: skip
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    later = None
    try:
        host = SimpleNamespace(name="a", pid=first.pid, cpu=TreeCPU())
        live = SimpleNamespace(loadgen=SimpleNamespace(pid=os.getpid()), lg_cpu=TreeCPU(),
                               host=host)  # fmt: skip
        sampler = Boundaries(None, None, [0])
        sampler.counters([host], [live], live)  # type: ignore[list-item, arg-type]
        assert sampler.known is not None and first.pid in sampler.known
        later = subprocess.Popen([sys.executable, "-c", busy])  # the restarted server
        proc = __import__("psutil").Process(later.pid)
        for _ in range(200):
            if sum(proc.cpu_times()[:2]) >= 0.3:
                break
            time.sleep(0.02)
        host.pid = later.pid
        a = sampler.counters([host], [live], live, full=False)  # type: ignore[list-item, arg-type]
        z = sampler.counters([host], [live], live)  # type: ignore[list-item, arg-type]
        assert a["spikes"]["a"] >= 0.3 and z["spikes"]["a"] - a["spikes"]["a"] < 0.1
    finally:
        for child in (first, later):
            if child is not None:
                child.kill()
                child.wait()


def test_the_process_table_reads_what_psutil_reads(tmp_path: Path) -> None:
    """One read of /proc/<pid>/stat gives the parent, CPU time and RSS psutil reports, also for
    a command name with spaces and parentheses in it (the stat line's field splitting)."""
    import psutil

    from harness.run.monitor import ProcessTable, TreeCPU

    odd = tmp_path / "a) b (c"
    odd.symlink_to(sys.executable)
    busy = (
        "import time\nt = time.process_time()\n"
        "while time.process_time() - t < 0.3: pass\ntime.sleep(30)"
    )
    child = subprocess.Popen([str(odd), "-c", busy])
    try:
        proc = psutil.Process(child.pid)
        for _ in range(200):  # until its busy loop is over
            if sum(proc.cpu_times()[:2]) >= 0.3:
                break
            time.sleep(0.02)
        assert proc.name() == "a) b (c"
        table = ProcessTable()
        st = table.stats[child.pid]
        times = proc.cpu_times()
        assert st.ppid == os.getpid()
        assert st.cpu_s == pytest.approx(times.user + times.system, abs=0.02)
        assert st.cpu_s >= 0.3
        assert st.rss_bytes == pytest.approx(proc.memory_info().rss, rel=0.05)
        assert table.rss(child.pid) == st.rss_bytes
        assert TreeCPU().read_table(table, table.pids(child.pid)) == st.cpu_s
        assert [p.pid for p in table.tree(child.pid)] == [child.pid]
    finally:
        child.kill()
        child.wait()
