"""A background sampler of OS accounting: CPU time and memory of process trees, per-CPU busy time.

CPU time per request, from the kernel's own accounting, survives a noisy machine far better than
req/s does; the same samples tell whether the load generator saturated or a neighbour was busy.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psutil

ProcessSource = Callable[[], list[psutil.Process]]


@dataclass
class Sample:
    t: float
    app_cpu: float
    db_cpu: float
    loadgen_cpu: float
    loadgen_per_process: dict[int, float]
    sut_busy: float
    app_rss: int
    app_pss: int
    app_alive: bool


class TreeCPU:
    """Cumulative CPU seconds of a changing set of processes: an exited process keeps its last
    reading, so the total never goes backwards."""

    def __init__(self) -> None:
        self.last: dict[int, float] = {}

    def read(self, procs: list[psutil.Process]) -> float:
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                self.last[proc.pid] = t.user + t.system
        return sum(self.last.values())

    def read_table(self, table: ProcessTable, pids: list[int]) -> float:
        """The same total from a table's scan: no second read of each process."""
        for pid in pids:
            if pid in table.stats:
                self.last[pid] = table.stats[pid].cpu_s
        return sum(self.last.values())


@dataclass(frozen=True)
class ProcStat:
    """What one read of /proc/<pid>/stat says (the fields psutil reads from it too)."""

    ppid: int
    start: int  # clock ticks after boot: with the pid, names one process for good
    cpu_s: float  # user + system, as psutil's cpu_times()
    rss_bytes: int  # as psutil's memory_info().rss


_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_GONE = ProcStat(ppid=0, start=-1, cpu_s=0.0, rss_bytes=0)


def read_stat(pid: int, proc: str = "/proc") -> ProcStat | None:
    """One process's stat line, parsed (None once it is gone)."""
    try:
        with open(f"{proc}/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # the command name may hold spaces and parentheses: the fields start after the last ")"
    rest = data[data.rindex(b")") + 2 :].split()
    return ProcStat(
        ppid=int(rest[1]),
        start=int(rest[19]),
        cpu_s=(int(rest[11]) + int(rest[12])) / _TICKS,
        rss_bytes=int(rest[21]) * _PAGE,
    )


class ProcessTable:
    """Every process's parent, CPU time and RSS from one pass over /proc/<pid>/stat.

    A slice boundary reads the trees of every candidate, of PostgreSQL and of the active Locust.
    A `children(recursive=True)` per tree was a full scan each; one psutil scan for all of them
    (a Process per process, then a second read for its CPU) was still most of what the samplers
    cost (2026-12-07: 5.6 of 7.0 ms per boundary). Reading each stat file once gives the tree,
    the CPU and the RSS; psutil objects are made only for the trees asked for, and kept.
    """

    _known: dict[tuple[int, int], psutil.Process] = {}  # (pid, start) → its psutil object

    def __init__(self, proc: str = "/proc", only: Iterable[int] | None = None) -> None:
        """`only`: read just these processes (the trees a previous full scan found), not every
        one on the machine; a process born since is missed until the next full scan."""
        self.stats: dict[int, ProcStat] = {}
        self.children: dict[int, list[int]] = {}
        if only is None:
            with os.scandir(proc) as entries:
                pids = [int(e.name) for e in entries if e.name.isdigit()]
        else:
            pids = sorted(set(only))
        for pid in pids:
            if (st := read_stat(pid, proc)) is not None:
                self.stats[pid] = st
                self.children.setdefault(st.ppid, []).append(pid)
        known = ProcessTable._known
        for key in [k for k in known if self.stats.get(k[0], _GONE).start != k[1]]:
            del known[key]

    def pids(self, pid: int | None) -> list[int]:
        """The process `pid` and all its descendants, root first (none if it is gone)."""
        if pid is None or pid not in self.stats:
            return []
        out, todo = [], [pid]
        while todo:
            current = todo.pop()
            if current in self.stats:
                out.append(current)
            todo.extend(self.children.get(current, []))
        return out

    def tree(self, pid: int | None) -> list[psutil.Process]:
        """The same processes as psutil objects (for their memory or command lines)."""
        out = []
        for p in self.pids(pid):
            key = (p, self.stats[p].start)
            if key not in ProcessTable._known:
                try:
                    ProcessTable._known[key] = psutil.Process(p)
                except psutil.Error:
                    continue
            out.append(ProcessTable._known[key])
        return out

    def rss(self, pid: int | None) -> int:
        """RSS of the tree below `pid`, from the scan (PSS needs smaps: tree_memory)."""
        return sum(self.stats[p].rss_bytes for p in self.pids(pid))


def busy_seconds(cpus: list[int]) -> float:
    per_cpu = psutil.cpu_times(percpu=True)
    busy = 0.0
    for i in cpus:
        t = per_cpu[i]
        busy += sum(t) - t.idle - getattr(t, "iowait", 0.0) - getattr(t, "guest", 0.0)
    return busy


def tree_memory(procs: list[psutil.Process]) -> tuple[int, int]:
    rss = pss = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
    return rss, pss


@dataclass
class Monitor:
    app: ProcessSource
    db: ProcessSource
    loadgen: ProcessSource
    sut_cpus: list[int]
    interval: float = 0.5
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="spikebench-monitor", daemon=True)
        self._app, self._db, self._lg = TreeCPU(), TreeCPU(), TreeCPU()

    def sample(self) -> Sample:
        app = self.app()
        lg = self.loadgen()
        lg_total = self._lg.read(lg)
        rss, pss = tree_memory(app)
        return Sample(
            t=time.time(),
            app_cpu=self._app.read(app),
            db_cpu=self._db.read(self.db()),
            loadgen_cpu=lg_total,
            loadgen_per_process=dict(self._lg.last),
            sut_busy=busy_seconds(self.sut_cpus),
            app_rss=rss,
            app_pss=pss,
            app_alive=bool(app),
        )

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.sample())
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.samples.append(self.sample())

    def at(self, t: float) -> dict[str, float]:
        """Counters linearly interpolated at wall time t (clamped to the sampled range)."""
        times = [s.t for s in self.samples]
        i = bisect.bisect_left(times, t)
        if i <= 0:
            a = b = self.samples[0]
        elif i >= len(self.samples):
            a = b = self.samples[-1]
        else:
            a, b = self.samples[i - 1], self.samples[i]
        frac = 0.0 if b.t == a.t else min(max((t - a.t) / (b.t - a.t), 0.0), 1.0)
        out = {}
        for key in ("app_cpu", "db_cpu", "loadgen_cpu", "sut_busy"):
            va, vb = getattr(a, key), getattr(b, key)
            out[key] = va + (vb - va) * frac
        return out

    def loadgen_process_share(self, start: float, end: float) -> float:
        """The busiest single load-generator process's CPU share of one core over the window."""
        inside = [s for s in self.samples if start <= s.t <= end]
        if len(inside) < 2:
            return 0.0
        first, last = inside[0], inside[-1]
        span = last.t - first.t
        return max(
            (
                (cpu - first.loadgen_per_process.get(pid, 0.0)) / span
                for pid, cpu in last.loadgen_per_process.items()
            ),
            default=0.0,
        )

    def peak_memory(self, start: float, end: float) -> tuple[int, int]:
        inside = [s for s in self.samples if start <= s.t <= end] or self.samples
        return max(s.app_rss for s in inside), max(s.app_pss for s in inside)
