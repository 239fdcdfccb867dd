"""The interleaved design: every candidate of a scenario runs at once, load is given to one at a
time in short slices, in a new random order every cycle.

Candidates measured seconds apart see the same machine; comparing them within a cycle cancels the
host's slow drift (shared/measuring.md). Each candidate keeps one server process and one Locust
for the whole scenario: Locust is paused and resumed at a gate (scenarios/locustfile.py), so a
slice costs no process start, no re-login and no warm-up beyond a short lead-in.
"""

from __future__ import annotations

import contextlib
import random
import signal
import time
from typing import TYPE_CHECKING, Any

from harness.run import launch
from harness.run.dbwork import trial_db_work
from harness.run.epochs import EpochPolicy
from harness.run.features import UpstreamCPU, share
from harness.run.live import Live, close_record
from harness.run.loadgen import LoadgenError
from harness.run.monitor import TreeCPU, busy_seconds, tree_memory
from harness.run.realtime import GRACE_S
from harness.run.seed import load_seed_module
from harness.run.slicing import (
    Candidate,
    cycle_order,
    open_figures,
    slice_record,
    split_autovacuum,
    steal_seconds,
)
from harness.scenario import Scenario

if TYPE_CHECKING:
    from harness.run.runner import Bench


class InterleavedScenario:
    """One scenario of an interleaved run: start all, warm each, slice, keep every slice."""

    def __init__(
        self, bench: Bench, scenario: Scenario, cands: list[Candidate], end: float, number: int
    ) -> None:
        self.bench, self.scenario, self.cands = bench, scenario, cands
        self.end = end  # monotonic time by which the cycles must have stopped
        self.number = number
        cfg = bench.config
        self.cfg = cfg
        self.rng = random.Random(int(cfg.order_seed or 0) * 1000 + number)
        # who starts (and warms up, and gets the first database copy) first is drawn anew per
        # scenario: an A/A pair showed the later-started twin 1-2 % faster in 3 of 4 scenarios
        self.cands = list(cands)
        self.rng.shuffle(self.cands)
        self.lives: list[Live] = []
        self.db_cpu = TreeCPU()
        self.vacuum_cpu = TreeCPU()
        self.upstream_cpu = UpstreamCPU(bench.upstream)
        self.sut = bench.sut_cpu_list
        self.t0 = time.time()
        self.sampler_cpu_s = 0.0
        self.stop_reason = "not started"
        self.restarts: list[float] = []  # seconds each later epoch's restart took
        self.phases: dict[str, float] = {}  # the current (re)start's seconds per phase (launch.py)
        self.restart_phases: list[dict[str, float]] = []  # each later epoch's restart, by phase
        if cfg.open_rate:
            self.model = "open"

    model: str | None = None  # None: the scenario's own [load] model; "open" for capacity
    id_suffix = ""  # capacity searches keep their raw files apart: "<scenario>-capacity-<spike>"

    def register(self, record: dict[str, Any]) -> None:
        self.bench.run["trials"].append(record)

    def own_slices(self, spike: str) -> list[dict[str, Any]]:
        return [s for s in self.bench.run["slices"]
                if s["scenario"] == self.scenario.name and s["spike"] == spike
                and s.get("phase") is None]  # fmt: skip

    def warm_rate(self) -> float:
        return float(self.cfg.open_rate or self.scenario.load.rate or 10.0)

    # -- the scenario -------------------------------------------------------------------------

    def policy(self) -> EpochPolicy:
        cfg = self.cfg
        return EpochPolicy(max(1, int(cfg.epochs)), int(cfg.max_epochs), int(cfg.epoch_cycles))

    def run(self) -> dict[str, Any]:
        """Epoch 1 starts every candidate; each later epoch restarts them all (fresh processes,
        fresh database copies, the start order reversed) so that what belongs to one start of a
        process is measured as variance instead of being taken for the candidate. Epochs go on
        while the resolution is not reached and the budget pays for another (run/epochs.py)."""
        policy = self.policy()
        try:
            began = time.monotonic()
            self._start_all()
            self.restart_s = time.monotonic() - began
            while True:
                self.epoch_end = policy.deadline(self.epoch, time.monotonic(), self.end)
                self._cycles(policy)
                if self.stop_reason != "epoch full":
                    if self.stop_reason == "budget spent" and self.epoch < policy.least:
                        self._next_epoch()  # its share is spent; the minimum still wants a start
                        continue
                    break
                if policy.another(self.epoch, time.monotonic(), self.end, self.restart_s,
                                  self.cycle_s):  # fmt: skip
                    self._next_epoch()
                else:  # no room for another start: this epoch cycles on to the end
                    self.last_epoch, self.epoch_end = True, self.end
                    self._cycles(policy)
                    break
        finally:
            self._finish()
        return self.bench.run["analysis"].get(self.scenario.name, {})

    epoch = 1
    epoch_end = 0.0
    cycle = 0  # cycles are numbered across epochs
    in_epoch = 0
    last_epoch = False
    restart_s = 0.0  # what the latest (re)start of every candidate took
    cycle_s = 0.0  # what the latest cycle took

    def _next_epoch(self) -> None:
        began = time.monotonic()
        self.epoch += 1
        self.in_epoch = 0
        self.phases = {}
        self._restart_all()
        self.restart_s = time.monotonic() - began
        self.restarts.append(round(self.restart_s, 2))
        self.restart_phases.append({k: round(v, 2) for k, v in self.phases.items()})

    def let_events_arrive(self) -> None:
        """realtime: the last slice's events are still on their way when its processes stop."""
        if self.scenario.realtime:
            time.sleep(GRACE_S)

    def _start_all(self) -> None:
        launch.start_all(self)

    def _restart_all(self) -> None:
        launch.restart_all(self)

    def _cycles(self, policy: EpochPolicy) -> None:
        """Cycles of this epoch: until it has its cycles (another start may follow), its time is
        spent, or the scenario's resolution is reached (run/epochs.py says when it may stop)."""
        b, cfg = self.bench, self.cfg
        self.stop_reason = "budget spent"
        while True:
            names = [lv.name for lv in self.lives if lv.running()]
            if not names:
                self.stop_reason = "no candidate left running"
                return
            if policy.full(self.epoch, self.in_epoch, self.last_epoch):
                self.stop_reason = "epoch full"
                return
            est = self.cycle_s or len(names) * (cfg.slice_s + cfg.lead_in_s + 0.3)
            if self.in_epoch >= 2 and time.monotonic() + est > self.epoch_end:
                return
            self.cycle += 1
            self.in_epoch += 1
            started = time.monotonic()
            rate = cfg.open_rate or (self.scenario.load.rate if self.scenario.open else None)
            for name in cycle_order(names, self.rng):
                live = next(lv for lv in self.lives if lv.name == name)
                if live.running():
                    rec = self._slice(live, self.cycle, rate=rate)
                    rec["epoch"] = self.epoch
                    rec["start_order"] = live.start_order
                    b.run["slices"].append(rec)
            self.cycle_s = time.monotonic() - started
            analysis = b.analyse(self.scenario.name, [c.name for c in self.cands])
            b.save()
            b.progress.message(self._cycle_line(self.cycle, analysis))
            if analysis.get("resolution_reached") and policy.may_stop(
                self.epoch, self.in_epoch, self.cycle, cfg.min_cycles
            ):
                self.stop_reason = "resolution reached"
                return
            if b.interrupt_requested:
                raise KeyboardInterrupt

    def _cycle_line(self, cycle: int, analysis: dict[str, Any]) -> str:
        res = analysis.get("resolution")
        left = max(self.end - time.monotonic(), 0)
        shown = f"±{res:.1%}" if res is not None else "–"
        epoch = f" (epoch {self.epoch})" if self.policy().most > 1 else ""
        return (
            f"{self.scenario.name} cycle {cycle}{epoch}: resolution {shown} "
            f"(target ±{self.cfg.resolution:.0%}), {left:.0f} s of budget left"
        )

    # -- one slice ----------------------------------------------------------------------------

    def _counters(self, active: Live) -> dict[str, Any]:
        t_cpu = time.thread_time()
        out: dict[str, Any] = {"t": time.time(), "spikes": {}}
        for live in self.lives:
            if live.running():
                assert live.handle is not None
                out["spikes"][live.name] = live.cpu.read(live.handle.processes())
        db, vacuum = split_autovacuum(self.bench.db_processes())
        out["db"] = self.db_cpu.read(db)
        out["vacuum"] = self.vacuum_cpu.read(vacuum)
        assert active.loadgen is not None
        active.lg_cpu.read(active.loadgen.processes())
        out["lg"] = dict(active.lg_cpu.last)
        out["upstream"] = self.upstream_cpu.read()  # the pricing stub, beside Locust
        out["busy"] = busy_seconds(self.sut)
        out["steal"] = steal_seconds(self.sut)
        self.sampler_cpu_s += time.thread_time() - t_cpu
        return out

    def _slice(
        self, live: Live, cycle: int, rate: float | None = None, seconds: float | None = None
    ) -> dict[str, Any]:
        """One slice of load for `live`: closed-loop, or open at `rate` req/s."""
        cfg, b = self.cfg, self.bench
        assert live.loadgen is not None and live.tail is not None and live.handle is not None
        length = seconds or cfg.slice_s
        probe_before = b.probe.probe()
        resumed = time.time()
        live.loadgen.resume(rate)
        time.sleep(cfg.lead_in_s)  # reconnects and the burst of a just-opened gate
        a = self._counters(live)
        time.sleep(length / 2)
        mid = tree_memory(live.handle.processes())
        time.sleep(max(a["t"] + length - time.time(), 0))
        z = self._counters(live)
        error, paused, ack = None, time.time(), None
        try:
            ack = live.loadgen.pause()
        except LoadgenError as exc:
            error = str(exc)
        end_mem = tree_memory(live.handle.processes())
        every = live.tail.read()
        rows = every.window(a["t"], z["t"])
        db_on_sut = b.db is not None and b.db.cpus is not None
        rec = slice_record(
            self.scenario.name, live.name, cycle, (a, z), rows, (probe_before, b.probe.probe()),
            cfg.thresholds, len(self.sut), bool(cfg.sut_cpus), db_on_sut,
        )  # fmt: skip
        rec["upstream_cpu_share"] = share(a["upstream"], z["upstream"], rec["seconds"])
        # what slicing could distort, measured per slice (README: "What slicing must not distort")
        half = (a["t"] + z["t"]) / 2
        lead = every.window(resumed, a["t"])
        rec["lead_in_rps"] = len(lead) / max(a["t"] - resumed, 1e-6)
        rec["first_half_rps"] = len(rows.window(a["t"], half)) / max(half - a["t"], 1e-6)
        rec["second_half_rps"] = len(rows.window(half, z["t"])) / max(z["t"] - half, 1e-6)
        rec["pause_ms"] = 1000 * (float(ack["t"]) - paused) if ack else None
        if rate is not None:
            rec.update(open_figures(rows, rate, rec["seconds"], cfg.thresholds, every,
                                    (a["t"], z["t"])))  # fmt: skip
            if rec["lagging"]:
                rec["invalid_reasons"].append("loadgen_lagging")
                rec["valid"] = False
        live.peak = tuple(max(x, y, w) for x, y, w in zip(live.peak, mid, end_mem, strict=True))  # type: ignore[assignment]
        rec["peak_rss_bytes"] = max(mid[0], end_mem[0])
        if error or not live.running():
            rec["invalid_reasons"].append("spike_crashed" if not live.running() else "no_load")
            rec["valid"] = False
            self.lose(live, rec["invalid_reasons"][-1], error or "the spike died during a slice")
        if rec["valid"]:  # the spike's pooled figures (latency, CPU) come from valid slices
            live.parts.append(rows)
            live.measured_s += rec["seconds"]
            live.app_cpu_s += rec["_app_cpu_s"]
            live.db_cpu_s += rec["_db_cpu_s"]
        rec.pop("_app_cpu_s")
        rec.pop("_db_cpu_s")
        return rec

    # -- endings ------------------------------------------------------------------------------

    def lose(self, live: Live, reason: str, text: str) -> None:
        """A candidate that cannot go on: its record says why; its finished slices stay."""
        live.dead = True
        rec = live.record
        if reason not in rec["invalid_reasons"]:
            rec["invalid_reasons"].append(reason)
        tail = live.handle.log_tail(1200) if live.handle is not None else ""
        rec["error"] = f"{text}; log tail:\n{tail}" if tail else text
        self.bench.progress.warn(f"{rec['id']}: {text}; its finished slices are kept")
        if live.loadgen is not None:
            live.loadgen.stop()

    def _finish(self) -> None:
        """Close every record and stop everything; a Ctrl-C meanwhile waits until that is done
        (a half-closed scenario would lose its last records)."""
        deferred: list[int] = []
        previous = signal.signal(signal.SIGINT, lambda signum, frame: deferred.append(signum))
        try:
            self._close_all()
        finally:
            signal.signal(signal.SIGINT, previous)
        if deferred:
            raise KeyboardInterrupt

    def _close_all(self) -> None:
        b = self.bench
        self.let_events_arrive()
        for live in self.lives:
            with contextlib.suppress(Exception):
                if live.loadgen is not None:
                    live.loadgen.stop()
            with contextlib.suppress(Exception):
                self._close_record(live)
            with contextlib.suppress(Exception):
                self._db_work(live)
            if live.handle is not None:
                with contextlib.suppress(Exception):
                    live.handle.stop()
            assert b.db is not None
            with contextlib.suppress(Exception):
                b.db.drop_database(live.dbname)
        self.finish_note()
        b.run["overhead"].setdefault("sampler_cpu_s", 0.0)
        b.run["overhead"]["sampler_cpu_s"] += self.sampler_cpu_s

    def _db_work(self, live: Live) -> None:
        """DB work per request (harness/run/dbwork.py), from the candidate's own database: its
        whole-scenario totals and, where pg_stat_statements is loaded, the endpoint probe."""
        metrics_ = live.record.get("metrics")
        if metrics_ is None or not live.running() or self.bench.db is None:
            return
        assert live.handle is not None
        metrics_["db_work"] = trial_db_work(
            self.bench.db, live.dbname, live.handle.base_url,
            [t for t, w in self.scenario.tasks.items() if w], live.raw_dir, "user0001",
            load_seed_module().SEED_PASSWORD,
        )  # fmt: skip

    def finish_note(self) -> None:
        note = self.bench.run["analysis"].setdefault(self.scenario.name, {})
        note["stop_reason"] = self.stop_reason
        note["restart_seconds"] = self.restarts
        note["restart_phases"] = self.restart_phases

    def _close_record(self, live: Live) -> None:
        close_record(
            live, self.own_slices(live.name), self.cfg.warmup_s,
            self.cfg.users or self.scenario.users, self.t0, bool(self.scenario.realtime),
        )  # fmt: skip
