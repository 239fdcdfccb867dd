"""What an interleaved slice reads at its two boundaries: the CPU counters of every tree it
needs (the candidates, idle ones too; PostgreSQL and its autovacuum apart; the active Locust;
the pricing stub), the SUT's busy and steal time, and after it the active candidate's memory.

Split from interleave.py: that module drives slices; this one is the samplers, whose own CPU
time is counted (`cpu_s`, run.json `overhead.sampler_cpu_s`) because the ±3 % targets ask that
the harness cost less than 1 % of a core.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from harness.run.features import UpstreamCPU
from harness.run.monitor import ProcessTable, TreeCPU, busy_seconds, tree_memory
from harness.run.slicing import split_autovacuum, steal_seconds

if TYPE_CHECKING:
    from harness.run.hosts import Host
    from harness.run.live import Live
    from harness.run.postgres import Postgres
    from harness.run.upstream_proc import UpstreamStub

# A candidate's PSS (smaps: what the samplers spend most on) is read after a slice at most this
# often: with 0.5-s slices one read per slice cost more than 1 % of a core. Four candidates' 2-s
# slices (a cycle ≈ 10 s) still get one nearly every slice.
MEMORY_EVERY_S = 10.0


class Boundaries:
    """The samplers of one scenario's slices, and what they cost."""

    def __init__(self, db: Postgres | None, upstream: UpstreamStub | None, sut: list[int]) -> None:
        self.db, self.sut = db, sut
        self.db_cpu = TreeCPU()
        self.vacuum_cpu = TreeCPU()
        self.upstream_cpu = UpstreamCPU(upstream)
        self.table: ProcessTable | None = None  # the last boundary's pass over /proc
        self.known: set[int] | None = None  # the processes the last full pass found in the trees
        self.cpu_s = 0.0

    def counters(
        self, hosts: Iterable[Host], lives: Iterable[Live], active: Live, full: bool = True
    ) -> dict[str, Any]:
        """Every counter a slice needs, from one pass over /proc. A slice's opening boundary
        (`full=False`) reads only the processes the closing one before it found (a process born
        in between counts from the next full pass): with 0.5-s slices the whole-/proc passes
        were most of the samplers' cost. After a restart (a candidate's server is not among
        them) it reads everything: a new process's CPU since its start is not the slice's."""
        t_cpu = time.thread_time()
        assert active.loadgen is not None
        hosts = list(hosts)
        known = self.known
        if full or known is None or any(h.pid not in known for h in hosts):
            known = None
        out: dict[str, Any] = {"t": time.time(), "spikes": {}}
        table = ProcessTable(only=known)
        used: list[int] = []
        for host in hosts:  # every candidate of the group: the idle ones too
            used += (pids := table.pids(host.pid))
            out["spikes"][host.name] = host.cpu.read_table(table, pids)
        db_pid = self.db.process.pid if self.db is not None and self.db.process else None
        used += table.pids(db_pid)
        for live in lives:  # every candidate's Locust: the next slice's is among them
            used += table.pids(live.loadgen.pid) if live.loadgen is not None else []
        if self.upstream_cpu.stub is not None:
            used += table.pids(self.upstream_cpu.stub.pid)
        if known is None:
            self.known = set(used)
        pg, vacuum = split_autovacuum(table.tree(db_pid))
        out["db"] = self.db_cpu.read_table(table, [p.pid for p in pg])
        out["vacuum"] = self.vacuum_cpu.read_table(table, [p.pid for p in vacuum])
        active.lg_cpu.read_table(table, table.pids(active.loadgen.pid))
        out["lg"] = dict(active.lg_cpu.last)
        out["upstream"] = self.upstream_cpu.read(table)  # the pricing stub, beside Locust
        out["busy"] = busy_seconds(self.sut)
        out["steal"] = steal_seconds(self.sut)
        out["rss"] = table.rss(active.host.pid)  # the active candidate's, for its peak
        self.table = table
        self.cpu_s += time.thread_time() - t_cpu
        return out

    def memory(self, live: Live) -> tuple[int, int]:
        """RSS and PSS of the candidate's tree, from the last boundary's table, after a slice
        and at most every MEMORY_EVERY_S per candidate; (0, 0) between them, where the slice's
        RSS comes from its boundary passes."""
        if time.time() - live.memory_at < MEMORY_EVERY_S:
            return 0, 0
        live.memory_at = time.time()
        t_cpu = time.thread_time()
        try:
            procs = self.table.tree(live.host.pid) if self.table is not None else []
            return tree_memory(procs)
        finally:
            self.cpu_s += time.thread_time() - t_cpu
