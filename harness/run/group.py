"""Scenarios that share their candidates' starts: the epochs of an interleaved run.

The starts are the replicates of every comparison (README, "Epochs"), and a restart costs what a
dozen slices do, so one start serves every scenario of the group: each epoch restarts every
candidate once (fresh processes, fresh database copies, the start order reversed), then gives
each unfinished scenario its cycles in turn, in the order the run lists them. A scenario leaves
the group once its resolution is reached (after the minimum of starts); epochs go on while one
is left and the budget pays for another start and their cycles (run/epochs.py). When no other
start fits, the scenarios left share what remains of the last epoch.
"""

from __future__ import annotations

import contextlib
import signal
import time
from typing import TYPE_CHECKING

from harness.run.hosts import Starts

if TYPE_CHECKING:
    from harness.run.interleave import InterleavedScenario
    from harness.run.runner import Bench


class ScenarioGroup:
    """One set of starts and the scenarios that take turns on it."""

    starts_type = Starts  # what owns the processes (a synthetic test gives its own)

    def __init__(
        self,
        bench: Bench,
        scenarios: list[InterleavedScenario],
        end: float,
        number: int,
        label: str = "starts",
    ) -> None:
        self.bench, self.scenarios, self.end = bench, scenarios, end
        cands = {c.name: c for sc in scenarios for c in sc.cands}
        names = list(cands)
        # who starts (and warms up, and gets the first database copy) first is drawn anew per
        # group: a candidate started later in an epoch runs faster (results/startorder.py)
        scenarios[0].rng.shuffle(names)
        self.starts = self.starts_type(bench, [cands[n] for n in names], label, number)
        for sc in scenarios:
            sc.end = end
            sc.shared_with = [o.scenario.name for o in scenarios if o is not sc]
        self.policy = scenarios[0].policy()

    def active(self) -> list[InterleavedScenario]:
        return [sc for sc in self.scenarios if not sc.finished]

    def run(self) -> None:
        policy, starts = self.policy, self.starts
        try:
            starts.start()
            for sc in self.scenarios:
                sc.attach(starts)
            while True:
                self._round(policy.deadline(starts.epoch, time.monotonic(), self.end), False)
                active = self.active()
                if not active:
                    break
                next_cycles = sum(sc.policy().cycles * sc.cycle_estimate() for sc in active)
                if policy.another(
                    starts.epoch, time.monotonic(), self.end, starts.restart_s, next_cycles
                ):
                    self._restart(active)
                else:  # no room for another start: the scenarios left share the rest of this one
                    self._round(self.end, True)
                    break
        finally:
            self._finish()

    def _round(self, deadline: float, last: bool) -> None:
        """Each unfinished scenario's turn in the current epoch, an equal share of the time
        left before `deadline` each (a share never cuts an epoch's cycles short)."""
        active = self.active()
        for i, sc in enumerate(active):
            share = max(deadline - time.monotonic(), 0.0) / (len(active) - i)
            sc.segment(sc.policy(), time.monotonic() + share, last)  # its own cycles per epoch
            if sc.finished and len(self.scenarios) > 1:
                sc.retire()

    def _restart(self, active: list[InterleavedScenario]) -> None:
        """Realtime Locusts cannot follow a restart: they stop with the spikes and start again
        at their scenario's next turn; every other Locust stays, paused."""
        for sc in active:
            if not sc.persistent:
                sc.let_events_arrive()
        stopping = []
        for sc in self.scenarios:
            if sc.persistent:
                continue
            for live in sc.lives:
                if live.loadgen is not None:
                    stopping.append(live.loadgen)
                    live.loadgen = None
        self.starts.restart(stopping)

    def _finish(self) -> None:
        """Every scenario closes its records (the processes are still up for the DB work
        probe), then the processes stop; a Ctrl-C meanwhile waits until that is done (a
        half-closed scenario would lose its last records)."""
        deferred: list[int] = []
        previous = signal.signal(signal.SIGINT, lambda signum, frame: deferred.append(signum))
        try:
            for sc in self.scenarios:
                with contextlib.suppress(Exception):
                    sc.close()
            self.starts.stop()
        finally:
            signal.signal(signal.SIGINT, previous)
        if deferred:
            raise KeyboardInterrupt
