"""The candidates' server processes and database copies across process epochs.

A start of a candidate's processes is the replicate of an interleaved comparison (README,
"Epochs"): two starts of the same code differ for their whole life. `Starts` owns one process and
one copy of the template database per candidate for the current epoch, and restarts them all (the
start order reversed) when the next epoch begins. Every scenario of a group uses the same starts
in turn, so a restart is paid once per epoch, not once per scenario.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import SpikeStartError
from harness.run.monitor import TreeCPU, tree_memory
from harness.run.postgres import free_port
from harness.run.runtime import SpikeHandle
from harness.run.slicing import Candidate

if TYPE_CHECKING:
    from harness.run.runner import Bench

SETTLE_S = 1.0  # after the spikes answer: their workers settle before the idle memory reading


@dataclass
class Host:
    """One candidate's server process and database copy in the current epoch."""

    cand: Candidate
    folder: Path  # raw/<group>-<candidate>/: each epoch's spike log
    handle: SpikeHandle | None = None
    dbname: str = ""
    start_order: int = 0  # the position this epoch started it in (results/startorder.py)
    failure: tuple[str, str] | None = None  # why it cannot go on: (reason, text)
    idle: tuple[int, int] = (0, 0)  # RSS, PSS once its first start settled
    starts: list[dict[str, Any]] = field(default_factory=list)  # epoch, order, startup seconds
    cpu: TreeCPU = field(default_factory=TreeCPU)  # its process tree's CPU, cumulative

    @property
    def name(self) -> str:
        return self.cand.name

    @property
    def dead(self) -> bool:
        return self.failure is not None

    def running(self) -> bool:
        return not self.dead and self.handle is not None and self.handle.alive()

    @property
    def pid(self) -> int | None:
        return self.handle.pid if self.running() and self.handle is not None else None

    def processes(self) -> list[Any]:
        return self.handle.processes() if self.running() and self.handle is not None else []

    def fail(self, reason: str, text: str) -> None:
        if self.failure is None:
            self.failure = (reason, text)


class Starts:
    """Starting, restarting and stopping the candidates of a group, epoch after epoch."""

    def __init__(self, bench: Bench, cands: list[Candidate], label: str, number: int) -> None:
        assert bench.folder is not None
        self.bench = bench
        self.number = number  # the group's number: database names stay apart between groups
        self.hosts = [Host(c, bench.folder / "raw" / f"{label}-{c.name}") for c in cands]
        self.epoch = 0
        self.warmed = 0  # the latest epoch whose fresh processes had their warm-up
        # the current (re)start's seconds per phase; the Locusts' retargeting and the warm-up
        # that follow a restart are timed into it too (run/launch.py)
        self.phases: dict[str, float] = {}
        self.restart_phases: list[dict[str, float]] = []  # each later epoch's restart, by phase

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Adds the phase's seconds to the current (re)start's account: what a start costs
        decides how many starts a budget buys (README, "Epochs")."""
        began = time.monotonic()
        try:
            yield
        finally:
            self.phases[phase] = self.phases.get(phase, 0.0) + time.monotonic() - began

    @property
    def restart_s(self) -> float:
        """What the latest (re)start took, its warm-up included: what the next one will cost."""
        return sum(self.phases.values())

    def running(self) -> list[Host]:
        return [h for h in self.hosts if h.running()]

    def start(self) -> None:
        """Epoch 1: every candidate gets its database copy and its process, in order."""
        self.phases = {}
        self._launch()

    def restart(self, stop_first: list[Any]) -> None:
        """The next epoch: stop every process (and `stop_first`, the load generators that
        cannot follow a restart), drop the database copies, launch all anew in the reversed
        order (a start-order effect then cancels between epochs)."""
        self.phases = {}
        self.restart_phases.append(self.phases)
        db = self.bench.db
        assert db is not None
        with self.timed("stop"):
            ending = [*stop_first, *(h.handle for h in self.hosts if h.handle is not None)]
            for proc in ending:  # every group asked at once: each takes up to a second or two
                proc.terminate()
            for proc in ending:  # then waited for in turn, in this thread (a Ctrl-C must reach it)
                proc.stop()
        with self.timed("databases"):
            for host in self.hosts:
                if host.dbname:
                    db.drop_database(host.dbname)
        self.hosts.reverse()
        self._launch()

    def _launch(self) -> None:
        b = self.bench
        assert b.db is not None and b.runtime is not None
        self.epoch += 1
        run_key = b.run_id.replace("-", "_").lower()
        for i, host in enumerate(self.hosts, start=1):
            if host.dead:
                continue
            host.dbname = f"sb_{run_key}_{self.number:02d}_{i:02d}_e{self.epoch}"
            with self.timed("databases"):
                url = b.db.create_database(host.dbname, template=b.template)
            host.folder.mkdir(parents=True, exist_ok=True)
            log = host.folder / ("spike.log" if self.epoch == 1 else f"spike-e{self.epoch}.log")
            try:
                with self.timed("spikes"):
                    host.handle = b.runtime.start_spike(
                        host.cand.manifest, url, b.parity, free_port(), b.config.sut_cpus, log
                    )
            except SpikeStartError as exc:
                host.handle = None
                host.fail("start_failed", f"spike failed to start: {exc}")
                b.progress.warn(f"{host.name}: spike failed to start: {str(exc)[:300]}")
                continue
            host.start_order = i
            host.starts.append(
                {"epoch": self.epoch, "order": i, "startup_seconds": host.handle.startup_seconds}
            )
        with self.timed("settle"):
            time.sleep(SETTLE_S)  # let the workers settle before the idle reading
            for host in self.running():
                if self.epoch == 1:
                    host.idle = tree_memory(host.processes())

    def stop(self) -> None:
        """Stop every process and drop every database copy (errors are not the run's)."""
        db = self.bench.db
        for host in self.hosts:  # best effort: one that fails does not keep the next running
            if host.handle is not None:
                with contextlib.suppress(Exception):
                    host.handle.stop()
            if db is not None and host.dbname:
                with contextlib.suppress(Exception):
                    db.drop_database(host.dbname)
