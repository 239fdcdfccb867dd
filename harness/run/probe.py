"""The machine-speed probe: the same few milliseconds of pure-Python work on the SUT CPUs, timed
between slices. The host drifts slowly and the guest cannot see it (steal time stays ~0); a fixed
workload taking 20 % longer is how a run sees that "the machine slowed 20 % at minute 7".

A persistent child process (pinned like the spikes) answers each request line with the best of a
few timed repetitions, so a probe costs no process start and runs on an otherwise idle SUT.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any

import psutil

# Iterations of the loop and repetitions per probe: ~2 ms per repetition on this project's VM.
ITERATIONS = 40_000
REPEATS = 3

_CHILD = f"""
import sys, time
def work():
    x = 0
    for i in range({ITERATIONS}):
        x += i * i % 7
    return x
for line in sys.stdin:
    best = min(
        (lambda t0: (work(), time.perf_counter() - t0)[1])(time.perf_counter())
        for _ in range({REPEATS})
    )
    sys.stdout.write(f"{{best * 1000:.4f}}\\n")
    sys.stdout.flush()
"""


@dataclass
class SpeedProbe:
    """probe() → milliseconds of the fixed workload (lower = faster machine)."""

    cpus: str | None = None
    proc: subprocess.Popen[str] | None = None
    series: list[dict[str, float]] = field(default_factory=list)

    def start(self) -> None:
        cmd = [sys.executable, "-c", _CHILD]
        if self.cpus:
            cmd = ["taskset", "-c", self.cpus, *cmd]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        for _ in range(3):  # warm the interpreter's caches before the first recorded probe
            self._ask()

    def _ask(self) -> float:
        assert self.proc is not None
        stdin: IO[str] = self.proc.stdin  # type: ignore[assignment]
        stdout: IO[str] = self.proc.stdout  # type: ignore[assignment]
        stdin.write("\n")
        stdin.flush()
        return float(stdout.readline())

    def probe(self, reuse_within: float = 0.0) -> float:
        """A new reading, or the last one if it is at most `reuse_within` seconds old: slices
        back to back share their boundary, where a second reading would say the same."""
        if reuse_within and self.series and time.time() - self.series[-1]["t"] <= reuse_within:
            return self.series[-1]["ms"]
        ms = self._ask()
        self.series.append({"t": time.time(), "ms": ms})
        return ms

    def cpu_seconds(self) -> float:
        """The probe process's own CPU time: its cost is measured, not assumed."""
        if self.proc is None:
            return 0.0
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(self.proc.pid).cpu_times()
            return float(t.user + t.system)
        return 0.0

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                if self.proc.stdin:
                    self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None


def speed_index(series: list[dict[str, float]]) -> list[dict[str, Any]]:
    """Each probe as speed relative to the run's median (1.0 = typical, 0.8 = 20 % slower)."""
    if not series:
        return []
    med = statistics.median(p["ms"] for p in series)
    return [{**p, "speed": med / p["ms"] if p["ms"] else None} for p in series]
