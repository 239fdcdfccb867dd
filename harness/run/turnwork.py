"""DB work per request of an interleaved scenario (harness/run/dbwork.py), over its turns.

The closed-loop scenarios of a run share each epoch's database copies (run/group.py), so a
scenario's work is not "everything the copy did": its counters are read before and after each of
its turns (its warm-up included, between slices: nothing of it lands in a measurement) and the
differences are summed over its turns, then divided by every request its Locust sent in them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from harness.run.dbwork import (
    Server,
    Snapshot,
    accumulate,
    snapshot,
    statements_enabled,
    trial_db_work,
)
from harness.run.seed import load_seed_module

if TYPE_CHECKING:
    from harness.run.live import Live


class TurnWork:
    """One scenario's reader of its candidates' database counters."""

    def __init__(self, server: Server | None) -> None:
        self.server = server
        self._statements: bool | None = None
        self.cpu_s = 0.0  # what reading the counters cost the harness (its samplers' share)

    def statements(self) -> bool:
        """pg_stat_statements is loaded (asked once)."""
        if self._statements is None and self.server is not None:
            try:
                self._statements = statements_enabled(self.server)
            except Exception:  # noqa: BLE001 - a side measurement: without it, no probe
                self._statements = False
        return bool(self._statements)

    def marks(self, lives: Iterable[Live]) -> dict[str, Snapshot]:
        """Each running candidate's counters before a turn."""
        out: dict[str, Snapshot] = {}
        if self.server is None:
            return out
        t_cpu = time.thread_time()
        for live in lives:
            if live.running() and live.host.dbname:
                with contextlib.suppress(Exception):
                    out[live.name] = snapshot(self.server, live.host.dbname, self.statements())
        self.cpu_s += time.thread_time() - t_cpu
        return out

    def add(self, lives: Iterable[Live], marks: dict[str, Snapshot]) -> None:
        """After the turn: what each candidate's copy did since its mark, added to its total."""
        t_cpu = time.thread_time()
        for live in lives:
            before = marks.get(live.name)
            if self.server is None or before is None or not live.host.dbname:
                continue
            with contextlib.suppress(Exception):
                after = snapshot(self.server, live.host.dbname, before.statements is not None)
                live.db_work = accumulate(live.db_work, before, after)
        self.cpu_s += time.thread_time() - t_cpu

    def record(self, live: Live, tasks: list[str]) -> None:
        """`metrics.db_work` of the candidate's record: its turns' totals per request sent and,
        with pg_stat_statements, the endpoint probe on the current processes."""
        metrics_: dict[str, Any] | None = live.record.get("metrics")
        if metrics_ is None or live.db_work is None or not live.host.running():
            return
        assert self.server is not None and live.handle is not None
        metrics_["db_work"] = trial_db_work(
            self.server, live.host.dbname, live.handle.base_url, tasks, live.db_work,
            live.db_sent, "user0001", load_seed_module().SEED_PASSWORD,
        )  # fmt: skip
