"""Server variants (`flask@gthread`) are candidates like any spike: selected by name or `all`,
recorded with their spike, variant, server and worker class, rendered by report, compare and
score with their '@' names, and measured next to their spike in a real interleaved run."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.decide.compare import compare_runs
from harness.decide.documents import score_folder
from harness.decide.report import write_report
from harness.manifest import discover_candidates, ident, select_spikes
from harness.results import rundata as rd
from harness.results.resultfile import load_run, validate
from harness.run.runner import Bench, BenchConfig
from harness.run.slicing import candidates
from tests.rundata_support import load_data, write_run

GTHREAD = "flask@gthread"


# -- selection and identity ----------------------------------------------------------------------


def test_default_selection_is_the_spikes_and_all_adds_every_variant() -> None:
    spikes = [s.name for s in select_spikes(None)]
    every = [c.name for c in discover_candidates()]
    assert GTHREAD not in spikes and "django@gthread" not in spikes
    assert [s.name for s in select_spikes(["all"])] == every
    assert set(every) - set(spikes) >= {GTHREAD, "django@gthread"}
    assert [s.name for s in select_spikes([GTHREAD, "flask"])] == [GTHREAD, "flask"]


def test_a_variant_is_its_spike_started_another_way() -> None:
    (flask,) = select_spikes(["flask"])
    (gthread,) = select_spikes([GTHREAD])
    assert gthread.spike == "flask" and gthread.directory == flask.directory
    assert gthread.identity() == {
        "spike": "flask", "variant": "gthread", "server": "gunicorn",
        "worker_class": "gthread", "interface": "wsgi",
    }  # fmt: skip
    assert flask.identity()["variant"] is None and flask.identity()["worker_class"] == "sync"
    env = {"SPIKE_HOST": "127.0.0.1", "SPIKE_PORT": "1", "SPIKE_WORKERS": "2", "SPIKE_THREADS": "8"}
    argv = gthread.argv(env)
    assert argv[argv.index("--worker-class") + 1] == "gthread"
    assert argv[argv.index("--threads") + 1] == "8"
    assert flask.argv(env)[:2] == argv[:2]  # the same app object


def test_ident_makes_names_safe_for_postgres_and_files() -> None:
    assert ident("flask@gthread") == "flask_gthread"
    assert ident("Django@ASGI-x") == "django_asgi_x"
    assert re.fullmatch(r"[a-z0-9_]+", ident("a@b.c d"))


# -- the engine's candidate plumbing -------------------------------------------------------------


def test_bench_records_each_candidate_with_its_spike_variant_and_server(tmp_path: Path) -> None:
    """The run record's candidates and spike records, before anything starts (schema-valid)."""
    cfg = BenchConfig(
        spikes=["flask", GTHREAD], scenarios=["read_heavy"], results_dir=tmp_path,
        run_id="v", sut_cpus="0", loadgen_cpus="0",
    )  # fmt: skip
    bench = Bench(cfg, ["spikebench", "bench"])
    assert [c.name for c in bench.candidates] == ["flask", GTHREAD]
    assert [c.manifest.name for c in bench.candidates] == ["flask", GTHREAD]
    bench._start_record()
    meta = bench.run["candidates"]
    assert meta[GTHREAD] == {
        "spike": "flask", "variant": "gthread", "server": "gunicorn",
        "worker_class": "gthread", "interface": "wsgi", "aa_of": None,
    }  # fmt: skip
    assert meta["flask"]["variant"] is None and meta["flask"]["worker_class"] == "sync"
    record = bench._spike_record(bench.spikes[1], {"packages": {}, "framework_version": "3"})
    assert record["variant"] == "gthread" and "--threads ${SPIKE_THREADS}" in record["command"]
    assert record["parity"]["worker_class"] == "gthread" and record["parity"]["threads"] == 8
    assert bench._spike_record(bench.spikes[0], {})["parity"]["threads"] is None
    bench.run["spikes"] = {s.name: bench._spike_record(s, {}) for s in bench.spikes}
    validate(bench.run)
    assert load_run(bench.folder)["candidates"][GTHREAD]["variant"] == "gthread"


def test_an_aa_twin_of_a_variant_keeps_its_identity() -> None:
    spikes = select_spikes(["flask", GTHREAD])
    twin = candidates(spikes, GTHREAD)[-1]
    assert twin.name == f"{GTHREAD}-aa" and twin.aa_of == GTHREAD
    assert twin.manifest.identity()["variant"] == "gthread"


def test_local_runtime_builds_one_venv_for_a_spike_and_its_variants() -> None:
    from harness.run.runtime import LocalRuntime

    runtime = LocalRuntime()
    info = runtime.prepare(select_spikes(["flask", GTHREAD]))
    assert runtime.envs["flask"] == runtime.envs[GTHREAD]
    assert info["flask"]["environment"]["path"] == info[GTHREAD]["environment"]["path"]


def test_inspection_of_a_variant_shares_the_loc_and_names_its_server() -> None:
    from harness.manifest import load_parity
    from harness.run.inspect import inspect_candidates

    out = inspect_candidates(select_spikes(["flask", GTHREAD]), {}, {}, load_parity())
    assert out[GTHREAD]["loc"] == out["flask"]["loc"] > 0
    assert out[GTHREAD]["worker_class"] == "gthread" and out["flask"]["worker_class"] == "sync"
    assert out[GTHREAD]["errors"] is not out["flask"]["errors"]


# -- readers: report, compare, score with '@' names ----------------------------------------------


def with_variant(run: dict[str, Any], factor: float = 1.1) -> dict[str, Any]:
    """The committed run plus `flask@gthread`: flask's trials, throughput × factor, recorded as
    the engine records a variant (an old-format file gains a candidate with '@' in its name)."""
    out = copy.deepcopy(run)
    extra = []
    for trial in run["trials"]:
        if trial["spike"] != "flask":
            continue
        t = copy.deepcopy(trial)
        t["spike"], t["id"] = GTHREAD, trial["id"].replace("flask", GTHREAD)
        t["index"] = len(run["trials"]) + len(extra) + 1
        if t.get("metrics"):
            t["metrics"]["throughput_rps"] *= factor
            t["metrics"]["requests"] = int(t["metrics"]["requests"] * factor)
        extra.append(t)
    out["trials"] += extra
    rec = copy.deepcopy(run["spikes"]["flask"])
    rec.update(spike="flask", variant="gthread", server="gunicorn", worker_class="gthread")
    rec["parity"]["worker_class"] = "gthread"
    out["spikes"][GTHREAD] = rec
    out["inspection"][GTHREAD] = {**run["inspection"]["flask"], "variant": "gthread"}
    return out


def test_report_compare_and_score_render_a_variant(tmp_path: Path) -> None:
    base = load_data()
    folder = write_run(with_variant(base), tmp_path / "run")
    run = load_run(folder)
    assert GTHREAD in rd.candidates(run)
    assert rd.candidate_info(run, GTHREAD) == {
        "spike": "flask",
        "variant": "gthread",
        "server": "gunicorn",
        "worker_class": "gthread",
    }
    # an old file without the fields: the identity still comes from the name and parity
    bare = copy.deepcopy(run)
    for key in ("spike", "variant", "server", "worker_class"):
        bare["spikes"][GTHREAD].pop(key)
    assert rd.candidate_info(bare, GTHREAD)["spike"] == "flask"
    assert rd.candidate_info(bare, GTHREAD)["variant"] == "gthread"
    assert rd.candidate_info(bare, "flask")["variant"] is None

    matrix, _, _, paths = score_folder(folder)
    assert GTHREAD in matrix.scores and paths is not None
    decision = paths[0].read_text()
    assert f"`{GTHREAD}`" in decision and "(`spikes/flask`, variant `gthread`)" in decision
    # the variant inherited flask's hand-given scores (same code, same framework)
    assert matrix.criteria.judged[GTHREAD] == matrix.criteria.judged["flask"]

    md, page = (p.read_text() for p in write_report(folder))
    assert GTHREAD in md and GTHREAD in page
    parity_rows = md[md.index("## Parity") :]
    assert "| variant |" in parity_rows and "gthread" in parity_rows
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)) and not [i for i in ids if "@" in i]

    slower = with_variant(base, factor=0.8)
    rows = compare_runs(run, load_run(write_run(slower, tmp_path / "slower")))
    mine = [r for r in rows if r.spike == GTHREAD and r.metric == "throughput_rps"]
    assert mine and all(r.change is not None and r.change < -0.2 for r in mine)


# -- a real interleaved run of a spike and its variant --------------------------------------------


# what a busy shared machine may flag on a slice: about the host, not about a candidate
MACHINE_REASONS = {"noisy_neighbour", "loadgen_saturated", "loadgen_lagging"}


@pytest.mark.skipif(os.environ.get("SPIKEBENCH_SKIP_REAL") == "1", reason="asked to skip")
def test_quick_interleaved_run_of_flask_and_its_gthread_variant(tmp_path: Path) -> None:
    """Both start from the one flask venv, each with its own command, take slices in every cycle
    without a 5xx; the report and decision name the variant. Exit 3 (a validity guard fired) is
    accepted only for reasons about the host (other sessions share these CPUs)."""
    cmd = [sys.executable, "-m", "harness.cli", "bench", "--output", str(tmp_path),
           "--run-id", "r", "--quick", "--spikes", f"flask,{GTHREAD}", "--scenarios",
           "read_heavy", "--budget", "45s", "--seed-users", "50", "--seed-items", "20",
           "--runtime", "local"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    output = done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode in (0, 3), output
    run = load_run(tmp_path / "r")
    assert run["status"] == "complete", run["error"]
    trials = [(t["spike"], t["invalid_reasons"], t["error"]) for t in run["trials"]]
    assert run["candidates"][GTHREAD]["worker_class"] == "gthread"
    assert run["spikes"][GTHREAD]["variant"] == "gthread"
    env = {s: run["spikes"][s]["environment"]["path"] for s in ("flask", GTHREAD)}
    assert env["flask"] == env[GTHREAD]
    by = {t["spike"]: t for t in run["trials"]}
    assert "--threads" in " ".join(by[GTHREAD]["command"])
    assert "--threads" not in " ".join(by["flask"]["command"])
    cycles: dict[str, set[int]] = {"flask": set(), GTHREAD: set()}
    for s in run["slices"]:
        assert s["requests"] > 0 and s["server_errors"] == 0, s
        assert set(s["invalid_reasons"]) <= MACHINE_REASONS, s["invalid_reasons"]
        cycles[s["spike"]].add(s["cycle"])
    assert len(cycles["flask"] & cycles[GTHREAD]) >= 2, (cycles, trials, output)
    an = run["analysis"]["read_heavy"]
    if done.returncode == 0 or an.get("best"):
        assert an["best"] in ("flask", GTHREAD)
        other = GTHREAD if an["best"] == "flask" else "flask"
        assert an["ratios_to_best"][other]["paired"]["n"] >= 2
    assert GTHREAD in (tmp_path / "r" / "report.md").read_text()
    assert f"`{GTHREAD}`" in (tmp_path / "r" / "decision.md").read_text()
    assert "decision: " in done.stdout
    assert left_behind(run, tmp_path) == []


def left_behind(run: dict[str, Any], folder: Path) -> list[str]:
    """This run's processes still alive: its PostgreSQL, its spikes (by their bind address), its
    Locusts (their files are under `folder`). Not a scan of everything new: other sessions share
    this machine and start their own."""
    import psutil

    binds = [a for t in run["trials"] for a in (t["command"] or []) if a.startswith("127.0.0.1:")]
    left = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        ours = proc.pid == run["database"].get("pid") and "postgres" in cmd
        if ours or str(folder) in cmd or any(f"--bind {b}" in cmd for b in binds):
            left.append(cmd)
    return left
