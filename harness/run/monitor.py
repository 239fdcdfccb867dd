"""A background sampler of OS accounting: CPU time and memory of process trees, per-CPU busy time.

CPU time per request, from the kernel's own accounting, survives a noisy machine far better than
req/s does; the same samples tell whether the load generator saturated or a neighbour was busy.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
import time
from collections.abc import Callable
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


class ProcessTable:
    """Every process's children from one pass over /proc. A slice boundary reads the trees of
    every candidate, of PostgreSQL and of the active Locust: one `children(recursive=True)`
    each was one full scan of /proc each, most of what the harness's samplers cost."""

    def __init__(self) -> None:
        self.by_pid: dict[int, psutil.Process] = {}
        self.children: dict[int, list[int]] = {}
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                self.children.setdefault(proc.ppid(), []).append(proc.pid)
                self.by_pid[proc.pid] = proc

    def tree(self, pid: int | None) -> list[psutil.Process]:
        """The process `pid` and all its descendants (none if it is gone)."""
        if pid is None or pid not in self.by_pid:
            return []
        out, todo = [], [pid]
        while todo:
            current = todo.pop()
            if current in self.by_pid:
                out.append(self.by_pid[current])
            todo.extend(self.children.get(current, []))
        return out


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
