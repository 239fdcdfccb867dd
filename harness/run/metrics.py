"""Trial metrics from raw request rows (every request Locust made) and the OS samples."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PERCENTILES = {"p50": 50, "p75": 75, "p90": 90, "p95": 95, "p99": 99, "p99_9": 99.9}


@dataclass
class Requests:
    """Raw request rows as arrays: start (epoch s), endpoint key, status, latency ms, ok."""

    start: np.ndarray
    endpoint: np.ndarray
    status: np.ndarray
    ms: np.ndarray
    ok: np.ndarray
    lag: np.ndarray  # open model: send time − intended time, ms (0 for closed-loop rows)

    def where(self, mask: np.ndarray) -> Requests:
        return Requests(
            self.start[mask],
            self.endpoint[mask],
            self.status[mask],
            self.ms[mask],
            self.ok[mask],
            self.lag[mask],
        )

    def window(self, lo: float, hi: float) -> Requests:
        return self.where((self.start >= lo) & (self.start < hi))

    def __len__(self) -> int:
        return int(self.start.size)


def rows_to_requests(rows: Iterable[dict[str, str]]) -> Requests:
    start: list[float] = []
    endpoint: list[str] = []
    status: list[int] = []
    ms: list[float] = []
    ok: list[bool] = []
    lag: list[float] = []
    for row in rows:
        start.append(float(row["start"]))
        endpoint.append(f"{row['method']} {row['name']}")
        status.append(int(row["status"]))
        ms.append(float(row["ms"]))
        ok.append(row["ok"] == "1")
        lag.append(float(row.get("lag_ms") or 0.0))
    return Requests(
        np.asarray(start, dtype=float),
        np.asarray(endpoint, dtype=object),
        np.asarray(status, dtype=int),
        np.asarray(ms, dtype=float),
        np.asarray(ok, dtype=bool),
        np.asarray(lag, dtype=float),
    )


def concat(parts: list[Requests]) -> Requests:
    if not parts:
        return rows_to_requests([])
    return Requests(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Requests.__dataclass_fields__)
    )


def read_requests(folder: Path) -> Requests:
    """Every raw row Locust wrote: gzip files (one per process at exit), plain CSV (gated mode)."""
    parts = []
    for path in sorted(folder.glob("requests-*.csv.gz")):
        with gzip.open(path, "rt", newline="") as fh:
            parts.append(rows_to_requests(csv.DictReader(fh)))
    for path in sorted(folder.glob("requests-*.csv")):
        with path.open(newline="") as fh:
            parts.append(rows_to_requests(csv.DictReader(fh)))
    return concat(parts)


class RowTail:
    """The rows a gated Locust appended since the last read (it appends whole rows at a pause)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offsets: dict[Path, int] = {}

    def read(self) -> Requests:
        parts = []
        for path in sorted(self.folder.glob("requests-*.csv")):
            with path.open("rb") as fh:
                fh.seek(self.offsets.get(path, 0))
                data = fh.read()
            end = data.rfind(b"\n") + 1  # only complete lines
            self.offsets[path] = self.offsets.get(path, 0) + end
            text = data[:end].decode()
            lines = [ln for ln in text.splitlines() if ln and not ln.startswith("start,")]
            names = ["start", "method", "name", "status", "ms", "ok", "lag_ms"]
            parts.append(rows_to_requests(csv.DictReader(lines, fieldnames=names)))
        return concat(parts)


def read_window(folder: Path) -> dict[str, float] | None:
    try:
        return dict(json.loads((folder / "window.json").read_text()))
    except (OSError, ValueError):
        return None


def latency(ms: np.ndarray) -> dict[str, float | None]:
    """Exact percentiles of the raw timings (linear interpolation), in ms with 0.01 ms rounding."""
    if ms.size == 0:
        return {**dict.fromkeys(PERCENTILES), "mean": None, "max": None}
    values = np.percentile(ms, list(PERCENTILES.values()))
    out: dict[str, float | None] = {
        k: round(float(v), 3) for k, v in zip(PERCENTILES, values, strict=True)
    }
    out["mean"] = round(float(ms.mean()), 3)
    out["max"] = round(float(ms.max()), 3)
    return out


def throughput_block(reqs: Requests, seconds: float) -> dict[str, Any]:
    n = len(reqs)
    failures = int((~reqs.ok).sum())
    statuses = {
        str(code): int(count)
        for code, count in zip(*np.unique(reqs.status, return_counts=True), strict=True)
    }
    return {
        "requests": n,
        "failures": failures,
        "error_rate": (failures / n) if n else 0.0,
        "server_errors": int(((reqs.status >= 500) & (reqs.status < 600)).sum()),
        "throughput_rps": n / seconds if seconds > 0 else 0.0,
        "latency_ms": latency(reqs.ms),
        "status_counts": statuses,
    }


def request_metrics(reqs: Requests, seconds: float) -> dict[str, Any]:
    overall = throughput_block(reqs, seconds)
    overall["endpoints"] = {
        key: throughput_block(reqs.where(reqs.endpoint == key), seconds)
        for key in sorted(set(reqs.endpoint.tolist()))
    }
    return overall


def timeseries(
    reqs: Requests, t0: float, warmup_s: float, users: list[tuple[float, int]]
) -> list[dict[str, Any]]:
    """Per second of the whole test (warm-up included, marked): req/s, p50, p99, errors, users."""
    if len(reqs) == 0:
        return []
    seconds = np.floor(reqs.start - t0).astype(int)
    out = []
    for sec in range(max(int(seconds.min()), 0), int(seconds.max()) + 1):
        mask = seconds == sec
        ms = reqs.ms[mask]
        active = [u for t, u in users if t <= sec + 1]
        out.append(
            {
                "t": sec,
                "phase": "warmup" if sec < warmup_s else "measure",
                "rps": int(mask.sum()),
                "p50_ms": round(float(np.percentile(ms, 50)), 3) if ms.size else None,
                "p99_ms": round(float(np.percentile(ms, 99)), 3) if ms.size else None,
                "errors": int((~reqs.ok[mask]).sum()),
                "users": active[-1] if active else None,
            }
        )
    return out


def read_users(folder: Path) -> list[tuple[float, int]]:
    out: list[tuple[float, int]] = []
    path = folder / "progress.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
                out.append((float(row["t"]), int(row["users"])))
            except (ValueError, KeyError):
                continue
    return out
