"""How an epoch's candidates are started, warmed and stopped (split from interleave.py).

Every candidate gets its own copy of the template database and its own server process on the SUT
CPUs; all their Locusts warm up together and are then paused at their gate, so an epoch's start
costs one warm-up, not one per candidate.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from harness.errors import SpikeStartError
from harness.run import metrics
from harness.run.live import Live
from harness.run.loadgen import Loadgen, LoadgenConfig, LoadgenError
from harness.run.monitor import tree_memory
from harness.run.postgres import free_port
from harness.run.seed import load_seed_module

if TYPE_CHECKING:
    from harness.run.interleave import InterleavedScenario


@contextmanager
def timed(sc: InterleavedScenario, phase: str) -> Iterator[None]:
    """Adds the phase's seconds to the current (re)start's account: what a start costs decides
    how many starts a budget buys (README, "Epochs")."""
    began = time.monotonic()
    try:
        yield
    finally:
        sc.phases[phase] = sc.phases.get(phase, 0.0) + time.monotonic() - began


def start_all(sc: InterleavedScenario) -> None:
    b = sc.bench
    assert b.folder is not None
    for cand in sc.cands:
        trial_id = f"{sc.scenario.name}{sc.id_suffix}-{cand.name}"
        raw_dir = b.folder / "raw" / trial_id
        raw_dir.mkdir(parents=True, exist_ok=True)
        record = b.new_record(trial_id, len(b.run["trials"]) + 1, 1, cand.name, sc.scenario)
        record["design"] = "interleaved"
        sc.register(record)
        sc.lives.append(Live(cand, record, raw_dir, ""))
    _launch_all(sc)


def restart_all(sc: InterleavedScenario) -> None:
    """Stop every candidate's processes and database copy, then launch them anew, the last
    started first (a start-order effect then cancels between epochs)."""
    b = sc.bench
    assert b.db is not None
    sc.let_events_arrive()
    with timed(sc, "stop"):
        ending = [p for live in sc.lives for p in (live.loadgen, live.handle) if p is not None]
        for proc in ending:  # every group asked at once: each takes up to a second or two to go
            proc.terminate()
        for proc in ending:  # then waited for in turn, in this thread (a Ctrl-C must reach it)
            proc.stop()
    with timed(sc, "databases"):
        for live in sc.lives:
            b.db.drop_database(live.dbname)
    sc.lives.reverse()
    for live in sc.lives:
        if not live.dead:
            # raw rows of an epoch stay with its database (DB work divides one by the other)
            live.raw_dir = live.home / f"epoch-{sc.epoch}"
            live.raw_dir.mkdir(parents=True, exist_ok=True)
    _launch_all(sc)


def _launch_all(sc: InterleavedScenario) -> None:
    b, run_key = sc.bench, sc.bench.run_id.replace("-", "_").lower()
    assert b.db is not None and b.runtime is not None
    for i, live in enumerate(sc.lives, start=1):
        if live.dead:
            continue
        live.dbname = f"sb_{run_key}_{sc.number:02d}_{i:02d}_e{sc.epoch}"
        with timed(sc, "databases"):
            url = b.db.create_database(live.dbname, template=b.template)
        try:
            with timed(sc, "spikes"):
                live.handle = b.runtime.start_spike(
                    live.cand.manifest, url, b.parity, free_port(), sc.cfg.sut_cpus,
                    live.raw_dir / "spike.log",
                )  # fmt: skip
        except SpikeStartError as exc:
            live.dead = True
            live.record["invalid_reasons"].append("start_failed")
            live.record["error"] = str(exc)
            b.progress.warn(f"{live.record['id']}: spike failed to start: {str(exc)[:300]}")
            continue
        live.record["command"] = live.handle.command
        live.start_order = i
        live.record.setdefault("epoch_starts", []).append(
            {"epoch": sc.epoch, "order": i, "startup_seconds": live.handle.startup_seconds}
        )
    with timed(sc, "settle"):
        time.sleep(1.0)  # let the workers settle before the idle reading
        for live in sc.lives:
            if live.running() and sc.epoch == 1:
                assert live.handle is not None
                live.idle = tree_memory(live.handle.processes())
    _warm_all(sc, [live for live in sc.lives if live.running()])
    b.save()


def _warm_all(sc: InterleavedScenario, lives: list[Live]) -> None:
    """Start every candidate's Locust with the gate open (users spawn and log in), together,
    then pause them all: one warm-up per epoch instead of one per candidate (a sequential
    warm-up cost 20 of the 28 s a restart of four candidates took)."""
    ready = []
    with timed(sc, "loadgens"):
        for live in lives:
            _start_loadgen(sc, live)
        for live in lives:
            assert live.loadgen is not None
            try:
                live.loadgen.wait_ready()
                ready.append(live)
            except LoadgenError as exc:
                sc.lose(live, "no_load", f"load generator failed to start: {exc}")
    # realtime: every subscriber logs in and opens its socket before the first slice
    with timed(sc, "warm_up"):
        time.sleep(max(sc.cfg.warmup_s, float(sc.scenario.realtime.get("warmup_s", 0))))
    for live in ready:
        assert live.loadgen is not None and live.tail is not None
        try:
            live.loadgen.pause()
        except LoadgenError as exc:
            sc.lose(live, "no_load", f"load generator failed in warm-up: {exc}")
            continue
        live.tail.read()  # warm-up rows are not measured
        if not live.running():
            sc.lose(live, "spike_crashed", "the spike died during warm-up")


def _start_loadgen(sc: InterleavedScenario, live: Live) -> None:
    assert live.handle is not None
    live.loadgen = Loadgen(
        sc.scenario,
        live.handle.base_url,
        live.raw_dir,
        LoadgenConfig(
            warmup_s=sc.cfg.warmup_s,
            measure_s=0.0,
            seed_users=sc.cfg.seed_users,
            seed_items=sc.cfg.seed_items,
            seed_password=load_seed_module().SEED_PASSWORD,
            random_seed=int(sc.cfg.order_seed or 0) + live.record["index"],
            cpus=sc.cfg.loadgen_cpus,
            users=sc.cfg.users,
            gated=True,
            run_time_s=max(sc.end - time.monotonic(), 0) + 300,
            model=sc.model,
            reconnect=sc.cfg.reconnect,
        ),
    )
    if live.loadgen.open:
        live.loadgen.set_rate(sc.warm_rate())
    live.loadgen.start()
    live.record["loadgen_command"] = live.loadgen.command
    live.tail = metrics.RowTail(live.raw_dir)
