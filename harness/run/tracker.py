"""The in-slice speed tracker: a tiny fixed workload on the SUT CPUs every 100 ms, *during* the
slices, timed by its own thread CPU time.

Why: this host's speed moves within seconds (2-s blocks of a fixed workload differ by ~15 %,
and two adjacent blocks share little of it), so the probe read between slices cannot say how
fast the machine was during one. The slowdown is seen in CPU time too (the vCPU runs slower,
it is not descheduled), so a workload timed by `time.thread_time()` measures the machine's
speed even while it shares the CPU with a busy spike: being preempted costs it no CPU time.
On this VM such a tracker, at ~0.1 % of a busy CPU, explained 90-98 % of a busy process's
slice-to-slice throughput variance (README, "The probe").

A child process (pinned like the spikes) appends "unix-time microseconds" lines to a file in
the run's raw/ folder; the harness reads each slice's window from it. Between slices the child
is stopped (SIGSTOP): on an idle CPU each wake-up costs several times the work, and nothing
there needs a reading.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from harness.run.procs import stop_group

ITERATIONS = 1_000  # ~0.1 ms of pure-Python work on this project's VM
PERIOD_S = 0.1

_CHILD = f"""
import sys, time
out = open(sys.argv[1], "a", buffering=1)
while True:
    t = time.time()
    c = time.thread_time()
    x = 0
    for i in range({ITERATIONS}):
        x += i * i % 7
    out.write(f"{{t:.4f}} {{(time.thread_time() - c) * 1e6:.2f}}\\n")
    time.sleep({PERIOD_S})
"""


def window_figures(samples: list[tuple[float, float]], start: float, end: float) -> dict[str, Any]:
    """The tracker's reading over [start, end): the workload's time at the window's average
    speed, 1 / mean(1 / us) (throughput follows speed, so speeds are what get averaged), and
    the reading's own standard error in log speed, sd / sqrt(n): on a quiet host the reading
    is mostly that noise, and the analysis weighs the correction down by it (results/slices)."""
    inside = [us for t, us in samples if start <= t < end and us > 0]
    if not inside:
        return {"tracker_us": None, "tracker_n": 0, "tracker_se": None}
    logs = [math.log(us) for us in inside]
    se = statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else None
    return {
        "tracker_us": len(inside) / sum(1 / us for us in inside),
        "tracker_n": len(inside),
        "tracker_se": se,
    }


def parse(text: str) -> list[tuple[float, float]]:
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            with contextlib.suppress(ValueError):
                out.append((float(parts[0]), float(parts[1])))
    return out


@dataclass
class SpeedTracker:
    """start() → window(a, z) per slice → stop(). Without a path it does nothing (no raw/)."""

    cpus: str | None = None
    path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    samples: list[tuple[float, float]] = field(default_factory=list)
    _offset: int = 0
    _cpu_s: float = 0.0

    def start(self) -> None:
        if self.path is None or self.proc is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-c", _CHILD, str(self.path)]
        if self.cpus:
            cmd = ["taskset", "-c", self.cpus, *cmd]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
        self.pause()

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    def resume(self) -> None:
        """A slice begins: sample."""
        self._signal(signal.SIGCONT)

    def pause(self) -> None:
        """Between slices: stopped, costing nothing."""
        self._signal(signal.SIGSTOP)

    def _read(self) -> None:
        if self.path is None or not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        complete = chunk.rfind(b"\n") + 1  # a line still being written waits for next time
        self._offset += complete
        self.samples.extend(parse(chunk[:complete].decode()))

    def window(self, start: float, end: float) -> dict[str, Any]:
        self._read()
        figures = window_figures(self.samples, start, end)
        self.samples = [s for s in self.samples if s[0] >= end]  # windows come in time order
        return figures

    def cpu_seconds(self) -> float:
        """The tracker's own CPU time: its cost is measured, not assumed."""
        if self.proc is not None:
            with contextlib.suppress(psutil.Error):
                t = psutil.Process(self.proc.pid).cpu_times()
                self._cpu_s = float(t.user + t.system)
        return self._cpu_s

    def stop(self) -> None:
        if self.proc is None:
            return
        self.cpu_seconds()
        self.resume()  # a stopped process would keep SIGTERM pending until it ran again
        stop_group(self.proc, timeout=5)
        self.proc = None
