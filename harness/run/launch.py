"""How a scenario's load generators meet the group's processes (split from interleave.py).

Each candidate has one long-lived Locust per scenario on the load-generator CPUs. It starts the
first time its scenario runs (its users spawn and log in during the warm-up) and is paused
between slices. When the spikes are restarted for a new epoch it is not started again but
retargeted at the new process (scenarios/locustfile.py): no process start and no re-login (an
argon2 hash per user, on the SUT CPU) per epoch. The fresh processes of an epoch get one short
warm-up from the first scenario that runs in it. The realtime scenario's Locusts hold WebSockets
and tallies per process: they are stopped with the spikes and started again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from harness.run import metrics
from harness.run.live import Live
from harness.run.loadgen import Loadgen, LoadgenConfig, LoadgenError
from harness.run.seed import load_seed_module

if TYPE_CHECKING:
    from harness.run.interleave import InterleavedScenario


def prepare_segment(sc: InterleavedScenario) -> None:
    """Before a scenario's cycles in the current epoch: every running candidate's Locust sends
    to the current processes, and the processes had their warm-up."""
    starts = sc.starts
    lives = [lv for lv in sc.lives if lv.running()]
    fresh = [lv for lv in lives if lv.loadgen is None]
    moved = [lv for lv in lives if lv.loadgen is not None and lv.epoch != starts.epoch]
    with starts.timed("loadgens"):
        for live in fresh:
            _start_loadgen(sc, live)
        for live in moved:
            assert live.loadgen is not None and live.handle is not None
            live.loadgen.retarget(live.handle.base_url)
        ready = []
        for live in fresh:
            assert live.loadgen is not None
            try:
                live.loadgen.wait_ready()
                ready.append(live)
            except LoadgenError as exc:
                sc.lose(live, "no_load", f"load generator failed to start: {exc}")
    if fresh:  # users spawn and log in (realtime: every subscriber opens its socket)
        warm = max(sc.cfg.warmup_s, float(sc.scenario.realtime.get("warmup_s", 0)))
    elif starts.warmed < starts.epoch:  # the epoch's fresh processes, by this scenario's load
        warm = sc.cfg.rewarm_s
    else:
        warm = 0.0
    if warm > 0:
        with starts.timed("warm_up"):
            for live in moved:
                assert live.loadgen is not None
                live.loadgen.resume()
            time.sleep(warm)
        for live in [*ready, *moved]:
            _pause_after_warm_up(sc, live)
    starts.warmed = starts.epoch
    for live in lives:
        live.epoch = starts.epoch


def _pause_after_warm_up(sc: InterleavedScenario, live: Live) -> None:
    assert live.loadgen is not None and live.tail is not None
    try:
        live.loadgen.pause()
    except LoadgenError as exc:
        sc.lose(live, "no_load", f"load generator failed in warm-up: {exc}")
        return
    sc.read_tail(live)  # warm-up rows are not measured (DB work counts them as sent)
    if not live.running():
        sc.lose(live, "spike_crashed", "the spike died during warm-up")


def _start_loadgen(sc: InterleavedScenario, live: Live) -> None:
    assert live.handle is not None
    if not sc.persistent and sc.starts.epoch > 1:
        # a realtime Locust per epoch: its tallies stay apart (results: realtime.py)
        live.raw_dir = live.home / f"epoch-{sc.starts.epoch}"
        live.raw_dir.mkdir(parents=True, exist_ok=True)
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
