"""Containers' own accounting: cgroup v1/v2 files of a container's processes (CPU seconds,
memory now and at peak, limits), sampled in the background, and host-side views of container
processes. Used by the compose runtime; kept apart so that runtime reads as the lifecycle it is."""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil


def all_cpus() -> str:
    return ",".join(map(str, sorted(os.sched_getaffinity(0) | set(range(os.cpu_count() or 1)))))


def parse_size(text: str) -> int | None:
    """'12.5MiB' / '1.2GB' / '512kB' → bytes (engine stats' units)."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([kKMGT]?i?B)?\s*", text)
    if not match:
        return None
    number, unit = float(match.group(1)), (match.group(2) or "B")
    powers = {"B": 0, "k": 1, "K": 1, "M": 2, "G": 3, "T": 4}
    base = 1024 if "i" in unit else 1000
    return int(number * base ** powers[unit[0]])


# -- cgroup accounting ---------------------------------------------------------------------------


def _cgroup_mounts() -> tuple[dict[str, Path], Path | None]:
    """cgroup v1 mount point per controller, and the cgroup2 mount (hybrid hosts have both)."""
    v1: dict[str, Path] = {}
    v2: Path | None = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            if len(fields) < 5 or len(tail) < 3:
                continue
            if tail[0] == "cgroup2":
                v2 = Path(fields[4])
            elif tail[0] == "cgroup":
                for option in tail[2].split(","):
                    v1.setdefault(option, Path(fields[4]))
    return v1, v2


def _read_int(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        text = path.read_text().strip()
        return None if text == "max" else int(text)
    return None


def _read_stat(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                out[key] = int(value)
    return out


@dataclass(frozen=True)
class Cgroup:
    """One container's cgroup files, found from the host through its main process."""

    version: str  # "v1" or "v2"
    cpu: Path  # v1: cpuacct folder, v2: the cgroup folder
    memory: Path

    @classmethod
    def of_pid(cls, pid: int) -> Cgroup | None:
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            return None
        v1_mounts, v2_mount = _cgroup_mounts()
        v1_paths: dict[str, str] = {}
        v2_path: str | None = None
        for line in lines:
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                v2_path = path
            for name in controllers.split(","):
                v1_paths[name] = path
        if "memory" in v1_paths and "cpuacct" in v1_paths and "memory" in v1_mounts:
            memory = v1_mounts["memory"] / v1_paths["memory"].lstrip("/")
            cpu = v1_mounts.get("cpuacct", v1_mounts["memory"]) / v1_paths["cpuacct"].lstrip("/")
            if (memory / "memory.usage_in_bytes").exists() and (cpu / "cpuacct.usage").exists():
                return cls("v1", cpu, memory)
        if v2_mount is not None and v2_path is not None:
            folder = v2_mount / v2_path.lstrip("/")
            if (folder / "memory.current").exists() and (folder / "cpu.stat").exists():
                return cls("v2", folder, folder)
        return None

    def cpu_seconds(self) -> float | None:
        if self.version == "v1":
            ns = _read_int(self.cpu / "cpuacct.usage")
            return None if ns is None else ns / 1e9
        usec = _read_stat(self.cpu / "cpu.stat").get("usage_usec")
        return None if usec is None else usec / 1e6

    def memory_now(self) -> tuple[int | None, int | None]:
        """(usage including page cache, anonymous memory ≈ the processes' own RSS)."""
        if self.version == "v1":
            stat = _read_stat(self.memory / "memory.stat")
            anon = stat.get("total_rss", stat.get("rss"))
            return _read_int(self.memory / "memory.usage_in_bytes"), anon
        return _read_int(self.memory / "memory.current"), _read_stat(
            self.memory / "memory.stat"
        ).get("anon")

    def memory_kernel_peak(self) -> int | None:
        name = "memory.max_usage_in_bytes" if self.version == "v1" else "memory.peak"
        return _read_int(self.memory / name)

    def memory_limit(self) -> int | None:
        limit = _read_int(
            self.memory / ("memory.limit_in_bytes" if self.version == "v1" else "memory.max")
        )
        return None if limit is None or limit >= 2**60 else limit


@dataclass
class CgroupSampler:
    """Samples CPU seconds and memory of the app and database containers twice a second."""

    groups: dict[str, Cgroup]
    interval: float = 0.5
    samples: list[tuple[float, dict[str, tuple[float | None, int | None, int | None]]]] = field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="spikebench-cgroups", daemon=True)

    def sample(self) -> None:
        row = {
            name: (group.cpu_seconds(), *group.memory_now()) for name, group in self.groups.items()
        }
        self.samples.append((time.time(), row))  # type: ignore[arg-type]

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(timeout=5)

    def cpu_at(self, name: str, t: float) -> float | None:
        points = [(ts, row[name][0]) for ts, row in self.samples if row[name][0] is not None]
        if not points:
            return None
        if t <= points[0][0]:
            return points[0][1]
        for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False):
            if t0 <= t <= t1:
                frac = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                return v0 + (v1 - v0) * frac  # type: ignore[operator]
        return points[-1][1]

    def usage(self, lo: float, hi: float, requests: int) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        inside = [row for ts, row in self.samples if lo <= ts <= hi] or [
            row for _, row in self.samples
        ]
        for name, group in self.groups.items():
            a, b = self.cpu_at(name, lo), self.cpu_at(name, hi)
            cpu = None if a is None or b is None else max(b - a, 0.0)
            current = [row[name][1] for row in inside if row[name][1] is not None]
            anon = [row[name][2] for row in inside if row[name][2] is not None]
            out[name] = {
                "cpu_seconds": cpu,
                "cpu_ms_per_request": None if cpu is None else 1000 * cpu / max(requests, 1),
                "cpu_share": None if cpu is None else cpu / max(hi - lo, 1e-9),
                "memory_peak_bytes": max(current, default=None),
                "memory_anon_peak_bytes": max(anon, default=None),
                "memory_kernel_peak_bytes": group.memory_kernel_peak(),
                "memory_limit_bytes": group.memory_limit(),
            }
        return out

    def write_csv(self, path: Path) -> None:
        """The raw samples beside the trial's other raw files."""
        names = sorted(self.groups)
        lines = [
            "t," + ",".join(f"{n}_cpu_s,{n}_mem_bytes,{n}_anon_bytes" for n in names),
            *(
                f"{ts:.3f},"
                + ",".join(",".join("" if v is None else str(v) for v in row[n]) for n in names)
                for ts, row in self.samples
            ),
        ]
        with contextlib.suppress(OSError):
            path.write_text("\n".join(lines) + "\n")


class HostProcess(psutil.Process):
    """A container process seen from the host. Its smaps (PSS) belong to another user unless the
    harness runs as root; then RSS from the world-readable statm stands in (PSS = RSS)."""

    def memory_full_info(self) -> Any:
        try:
            return super().memory_full_info()
        except psutil.AccessDenied:
            return self.memory_info()


def host_tree(pid: int | None) -> list[psutil.Process]:
    if not pid:
        return []
    try:
        root = HostProcess(pid)
        kids = root.children(recursive=True)
    except psutil.Error:
        return []
    out: list[psutil.Process] = [root]
    for kid in kids:
        with contextlib.suppress(psutil.Error):
            out.append(HostProcess(kid.pid))
    return out
