"""The interleaved design: every candidate of a scenario runs at once, load is given to one at a
time in short slices, in a new random order every cycle.

Candidates measured seconds apart see the same machine; comparing them within a cycle cancels the
host's slow drift (shared/measuring.md). Each candidate keeps one Locust per scenario for the
whole run: it is paused and resumed at a gate (scenarios/locustfile.py), so a slice costs no
process start, no re-login and no warm-up beyond a short lead-in. The server processes belong to
the scenario's group (run/group.py, run/hosts.py): one start of them serves every scenario of the
group in turn, epoch after epoch.
"""

from __future__ import annotations

import contextlib
import random
import time
from typing import TYPE_CHECKING, Any

from harness.run import launch
from harness.run.boundary import Boundaries
from harness.run.epochs import EpochPolicy
from harness.run.features import share
from harness.run.live import Live, close_record
from harness.run.loadgen import LoadgenError
from harness.run.realtime import GRACE_S
from harness.run.slicing import (
    Candidate,
    cycle_order,
    open_figures,
    slice_record,
)
from harness.run.turnwork import TurnWork
from harness.scenario import Scenario, Slicing

if TYPE_CHECKING:
    from harness.run.hosts import Starts
    from harness.run.runner import Bench


# the previous slice's closing probe serves as the next one's opening probe this long after it
BOUNDARY_S = 1.0
# The probe runs at most this often: with 0.5-s slices one probe after each (and a PSS read,
# run/boundary.py) cost more than 1 % of a core. A 2-s slice still gets its own at both ends.
PROBE_EVERY_S = 2.0


class InterleavedScenario:
    """One scenario of an interleaved run: its Locusts, its slices, its records. Its group gives
    it the current processes and its turn in every epoch (`segment`)."""

    def __init__(
        self, bench: Bench, scenario: Scenario, cands: list[Candidate], end: float, number: int
    ) -> None:
        self.bench, self.scenario, self.cands = bench, scenario, list(cands)
        self.end = end  # monotonic time by which the cycles must have stopped
        self.number = number
        cfg = bench.config
        self.cfg = cfg
        self.rng = random.Random(int(cfg.order_seed or 0) * 1000 + number)
        self.lives: list[Live] = []
        self.starts: Starts | None = None
        self.sampler = Boundaries(bench.db, bench.upstream, bench.sut_cpu_list)
        self.db_work = TurnWork(bench.db)
        self.sut = bench.sut_cpu_list
        self.t0 = time.time()
        self.stop_reason = "not started"
        self.finished = False
        self.epochs_run: list[int] = []  # the epochs this scenario had cycles in
        self.shared_with: list[str] = []  # the other scenarios of its group
        if cfg.open_rate:
            self.model = "open"

    model: str | None = None  # None: the scenario's own [load] model; "open" for capacity
    id_suffix = ""  # capacity searches keep their raw files apart: "<scenario>-capacity-<spike>"

    @property
    def persistent(self) -> bool:
        """Its Locusts follow a restart of the spikes (the realtime ones hold WebSockets and
        per-process tallies: they are started again with the spikes)."""
        return not self.scenario.realtime

    @property
    def epoch(self) -> int:
        return self.starts.epoch if self.starts is not None else 1

    def register(self, record: dict[str, Any]) -> None:
        self.bench.run["trials"].append(record)

    def own_slices(self, spike: str) -> list[dict[str, Any]]:
        return [s for s in self.bench.run["slices"]
                if s["scenario"] == self.scenario.name and s["spike"] == spike
                and s.get("phase") is None]  # fmt: skip

    def warm_rate(self) -> float:
        return float(self.cfg.open_rate or self.scenario.load.rate or 10.0)

    @property
    def slicing(self) -> Slicing:
        """The scenario file's [slicing], each field replaced by the run's flag where one was
        given (`--slice`, `--lead-in`, `--epoch-cycles`: every scenario's at once)."""
        own, cfg = self.scenario.slicing, self.cfg
        return Slicing(
            own.slice_s if cfg.slice_s is None else float(cfg.slice_s),
            own.lead_in_s if cfg.lead_in_s is None else float(cfg.lead_in_s),
            own.epoch_cycles if cfg.epoch_cycles is None else int(cfg.epoch_cycles),
        )

    def policy(self) -> EpochPolicy:
        cfg = self.cfg
        cycles = self.slicing.epoch_cycles
        return EpochPolicy(max(1, int(cfg.epochs)), int(cfg.max_epochs), cycles)

    def run(self) -> dict[str, Any]:
        """The scenario on its own: a group of one (run/group.py)."""
        from harness.run.group import ScenarioGroup

        ScenarioGroup(self.bench, [self], self.end, self.number, self.trial_prefix).run()
        return self.bench.run["analysis"].get(self.scenario.name, {})

    @property
    def trial_prefix(self) -> str:
        return f"{self.scenario.name}{self.id_suffix}"

    # -- the group's calls ----------------------------------------------------------------------

    def attach(self, starts: Starts) -> None:
        """A trial record and a Live for each of its candidates, on the group's hosts."""
        b = self.bench
        assert b.folder is not None
        self.starts = starts
        mine = {c.name for c in self.cands}
        for host in starts.hosts:
            if host.name not in mine:
                continue
            trial_id = f"{self.trial_prefix}-{host.name}"
            raw_dir = b.folder / "raw" / trial_id
            raw_dir.mkdir(parents=True, exist_ok=True)
            record = b.new_record(trial_id, len(b.run["trials"]) + 1, 1, host.name, self.scenario)
            record["design"] = "interleaved"
            if host.handle is not None:
                record["command"] = host.handle.command
            self.register(record)
            self.lives.append(Live(host, record, raw_dir))

    def segment(self, policy: EpochPolicy, deadline: float, last: bool) -> None:
        """Its turn in the current epoch: its Locusts on the current processes, then its cycles
        until the epoch has them (another start may follow), its share of the time is spent, or
        its resolution is reached (run/epochs.py says when it may stop)."""
        if not self.epochs_run or self.epochs_run[-1] != self.epoch:
            self.epochs_run.append(self.epoch)
            self.in_epoch = 0
        for live in self.lives:
            if live.host.failure is not None and not live.lost:
                self.lose(live, *live.host.failure)
        marks = self.db_work.marks(self.lives)  # before the warm-up: its requests count as sent
        self.prepare()
        try:
            self._cycles(policy, deadline, last)
        finally:
            self.db_work.add(self.lives, marks)
        # "epoch full": another start may follow; anything else (the resolution, the end of its
        # time in the last epoch, no candidate left, a capacity search done) ends the scenario
        self.finished = self.stop_reason != "epoch full"

    def prepare(self) -> None:
        """Its Locusts on the current processes, which had their warm-up (run/launch.py)."""
        launch.prepare_segment(self)

    def retire(self) -> None:
        """Finished while its group goes on: its Locusts stop now (its records close at the
        group's end, with the processes still up for the DB work probe)."""
        self.let_events_arrive()
        for live in self.lives:
            if live.loadgen is not None:
                with contextlib.suppress(Exception):
                    live.loadgen.stop()

    def let_events_arrive(self) -> None:
        """realtime: the last slice's events are still on their way when its processes stop."""
        if self.scenario.realtime:
            time.sleep(GRACE_S)

    def read_tail(self, live: Live) -> Any:
        """The rows its Locust wrote since the last read, counted as sent (DB work per request
        divides the database's work by every request it got, warm-ups included)."""
        assert live.tail is not None
        rows = live.tail.read()
        live.db_sent += len(rows)
        return rows

    # -- cycles ---------------------------------------------------------------------------------

    in_epoch = 0
    cycle = 0  # cycles are numbered across epochs
    cycle_s = 0.0  # what the latest cycle took

    def cycle_estimate(self) -> float:
        """What its next cycle will take: the latest one, or a guess before the first."""
        running = sum(lv.running() for lv in self.lives)
        cut = self.slicing
        return self.cycle_s or running * (cut.slice_s + cut.lead_in_s + 0.3)

    def _cycles(self, policy: EpochPolicy, deadline: float, last: bool) -> None:
        b, cfg = self.bench, self.cfg
        self.stop_reason = "budget spent"
        while True:
            names = [lv.name for lv in self.lives if lv.running()]
            if not names:
                self.stop_reason = "no candidate left running"
                return
            if policy.full(self.epoch, self.in_epoch, last):
                self.stop_reason = "epoch full"
                return
            late = time.monotonic() + self.cycle_estimate() > deadline
            if self.in_epoch >= policy.cycles and late:
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
            b.progress.message(self._cycle_line(self.cycle, analysis, policy))
            if analysis.get("resolution_reached") and policy.may_stop(
                self.epoch, self.in_epoch, self.cycle, cfg.min_cycles
            ):
                self.stop_reason = "resolution reached"
                return
            if b.interrupt_requested:
                raise KeyboardInterrupt

    def _cycle_line(self, cycle: int, analysis: dict[str, Any], policy: EpochPolicy) -> str:
        res = analysis.get("resolution")
        left = max(self.end - time.monotonic(), 0)
        shown = f"±{res:.1%}" if res is not None else "–"
        epoch = f" (epoch {self.epoch})" if policy.most > 1 else ""
        return (
            f"{self.scenario.name} cycle {cycle}{epoch}: resolution {shown} "
            f"(target ±{self.cfg.resolution:.0%}), {left:.0f} s of budget left"
        )

    # -- one slice ----------------------------------------------------------------------------

    def _slice(
        self, live: Live, cycle: int, rate: float | None = None, seconds: float | None = None
    ) -> dict[str, Any]:
        """One slice of load for `live`: closed-loop, or open at `rate` req/s."""
        cfg, b, cut = self.cfg, self.bench, self.slicing
        assert live.loadgen is not None and live.tail is not None and live.handle is not None
        length = seconds or cut.slice_s
        probe_before = b.probe.probe(reuse_within=BOUNDARY_S)
        resumed = time.time()
        b.tracker.resume()
        live.loadgen.resume(rate)
        time.sleep(cut.lead_in_s)  # reconnects and the burst of a just-opened gate
        assert self.starts is not None
        a = self.sampler.counters(self.starts.running(), self.lives, live, full=False)
        time.sleep(max(a["t"] + length - time.time(), 0))
        z = self.sampler.counters(self.starts.running(), self.lives, live)
        b.tracker.pause()
        error, paused, ack = None, time.time(), None
        try:
            ack = live.loadgen.pause()
        except LoadgenError as exc:
            error = str(exc)
        end_mem = self.sampler.memory(live)
        every = self.read_tail(live)
        rows = every.window(a["t"], z["t"])
        db_on_sut = b.db is not None and b.db.cpus is not None
        probe_after = b.probe.probe(reuse_within=PROBE_EVERY_S)
        rec = slice_record(
            self.scenario.name, live.name, cycle, (a, z), rows, (probe_before, probe_after),
            cfg.thresholds, len(self.sut), bool(cfg.sut_cpus), db_on_sut,
        )  # fmt: skip
        rec.update(b.tracker.window(a["t"], z["t"]))  # the machine's speed during the slice
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
        rss = max(a["rss"], z["rss"], end_mem[0])  # under load at both ends, and after it
        live.peak = (max(live.peak[0], rss), max(live.peak[1], end_mem[1]))
        rec["peak_rss_bytes"] = rss
        if error or not live.running():
            died = not live.host.running()
            rec["invalid_reasons"].append("spike_crashed" if died else "no_load")
            rec["valid"] = False
            text = error or "the spike died during a slice"
            if died:  # the other scenarios of the group lose it too
                live.host.fail("spike_crashed", text)
            self.lose(live, rec["invalid_reasons"][-1], text)
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
        live.lost = True
        rec = live.record
        if reason not in rec["invalid_reasons"]:
            rec["invalid_reasons"].append(reason)
        tail = live.handle.log_tail(1200) if live.handle is not None else ""
        rec["error"] = f"{text}; log tail:\n{tail}" if tail else text
        self.bench.progress.warn(f"{rec['id']}: {text}; its finished slices are kept")
        if live.loadgen is not None:
            live.loadgen.stop()

    def close(self) -> None:
        """Stop its Locusts and close every record (the group stops the processes after)."""
        b = self.bench
        self.let_events_arrive()
        for live in self.lives:
            with contextlib.suppress(Exception):
                if live.loadgen is not None:
                    live.loadgen.stop()
            live.record["epoch_starts"] = [
                s for s in live.host.starts if s["epoch"] in self.epochs_run
            ]
            with contextlib.suppress(Exception):
                self._close_record(live)
            with contextlib.suppress(Exception):
                self.db_work.record(live, [t for t, w in self.scenario.tasks.items() if w])
        self.finish_note()
        b.run["overhead"].setdefault("sampler_cpu_s", 0.0)
        b.run["overhead"]["sampler_cpu_s"] += self.sampler.cpu_s + self.db_work.cpu_s

    def finish_note(self) -> None:
        note = self.bench.run["analysis"].setdefault(self.scenario.name, {})
        note["stop_reason"] = self.stop_reason
        note["slicing"] = self.slicing.to_dict()
        starts = self.starts
        later = [e for e in self.epochs_run if e > 1]
        phases = starts.restart_phases if starts is not None else []
        note["restart_phases"] = [
            {k: round(v, 2) for k, v in phases[e - 2].items()} for e in later if e - 2 < len(phases)
        ]
        note["restart_seconds"] = [round(sum(p.values()), 2) for p in note["restart_phases"]]
        note["shared_starts"] = self.shared_with

    def _close_record(self, live: Live) -> None:
        close_record(
            live, self.own_slices(live.name), self.cfg.warmup_s,
            self.cfg.users or self.scenario.users, self.t0, bool(self.scenario.realtime),
        )  # fmt: skip
