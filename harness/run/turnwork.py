"""DB work per request of an interleaved scenario (harness/run/dbwork.py), over its turns.

The closed-loop scenarios of a run share each epoch's database copies (run/group.py), so a
scenario's work is not "everything the copy did": its counters are read before and after each of
its turns (its warm-up included, between slices: nothing of it lands in a measurement) and the
differences are summed over its turns, then divided by every request its Locust sent in them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from harness.run.dbwork import (
    Server,
    Snapshot,
    accumulate,
    snapshots,
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
        if self.server is None:
            return {}
        names = {lv.name: lv.host.dbname for lv in lives if lv.running() and lv.host.dbname}
        return self._read(names, self.statements())

    def _read(self, names: dict[str, str], statements: bool) -> dict[str, Snapshot]:
        """candidate → its copy's counters now (none where the server cannot be read)."""
        if self.server is None or not names:
            return {}
        t_cpu = time.thread_time()
        try:
            found = snapshots(self.server, list(names.values()), statements)
            return {name: found[db] for name, db in names.items()}
        except Exception:  # noqa: BLE001 - a side measurement: a turn without it is left out
            return {}
        finally:
            self.cpu_s += time.thread_time() - t_cpu

    def add(self, lives: Iterable[Live], marks: dict[str, Snapshot]) -> None:
        """After the turn: what each candidate's copy did since its mark, added to its total."""
        mine = [lv for lv in lives if lv.name in marks and lv.host.dbname]
        statements = any(m.statements is not None for m in marks.values())
        now = self._read({lv.name: lv.host.dbname for lv in mine}, statements)
        for live in mine:
            if live.name in now:
                live.db_work = accumulate(live.db_work, marks[live.name], now[live.name])

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
