"""`--loadgen-workers N`: Locust as a master and N worker processes (`--processes N`).

Every worker keeps its own raw request rows (scenarios/locustfile.py writes requests-<pid>.csv.gz
when it quits); a lost file would silently shrink the measured throughput. So: a short real run
against the stub spike, then every row Locust counted must be on disk, in one file per worker,
and the trial's metrics must be what those rows say. Also checks that the workers' port does not
collide with another Locust on the machine (Locust's default is 5557 on every interface).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import socket
from pathlib import Path

import numpy as np
import psutil
import pytest

from harness.results.resultfile import validate
from tests.test_engine_faults import assert_nothing_left, bench

WORKERS = 2


@pytest.fixture
def pids_before() -> set[int]:
    return set(psutil.pids())


def rows(folder: Path) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for path in sorted(folder.glob("requests-*.csv.gz")):
        with gzip.open(path, "rt", newline="") as fh:
            out.extend(csv.DictReader(fh))
    return out


def locust_total(folder: Path) -> int:
    with (folder / "locust_stats.csv").open(newline="") as fh:
        totals = [r for r in csv.DictReader(fh) if r["Name"] == "Aggregated"]
    return int(totals[0]["Request Count"])


def test_every_worker_writes_its_rows_and_metrics_add_up(
    tmp_path: Path, pids_before: set[int]
) -> None:
    with contextlib.ExitStack() as stack:
        # another Locust master on the default port (a colleague's run): ours must not care
        default_port = stack.enter_context(socket.socket())
        with contextlib.suppress(OSError):
            default_port.bind(("0.0.0.0", 5557))
            default_port.listen()
        done, run = bench(tmp_path, "--spikes", "stub_ok", "--loadgen-workers", str(WORKERS))
    assert done.returncode in (0, 3), done.stdout + done.stderr
    validate(run)
    (trial,) = run["trials"]
    assert trial["metrics"] is not None, trial["error"]
    command = trial["loadgen_command"]
    assert command[command.index("--processes") + 1] == str(WORKERS)
    assert command[command.index("--master-bind-host") + 1] == "127.0.0.1"

    raw = tmp_path / "r" / trial["raw_dir"]
    files = sorted(raw.glob("requests-*.csv.gz"))
    assert len(files) == WORKERS, f"one raw file per worker process, got {files}"
    every = rows(raw)
    assert len(every) == locust_total(raw), "rows on disk = requests Locust counted"

    # the trial's numbers are exactly the rows inside the measured window
    window = trial["metrics"]["window"]
    lo, hi = window["measure_start"], window["measure_end"]
    inside = [r for r in every if lo <= float(r["start"]) < hi]
    metrics = trial["metrics"]
    assert metrics["requests"] == len(inside) > 0
    assert metrics["throughput_rps"] == pytest.approx(len(inside) / (hi - lo))
    assert metrics["error_rate"] == 0
    p50 = float(np.percentile([float(r["ms"]) for r in inside], 50))
    assert abs(metrics["latency_ms"]["p50"] - p50) < 0.01
    # both workers carried load inside the window
    per_file = [sum(lo <= float(r["start"]) < hi for r in rows_of(f)) for f in files]
    assert all(n > 0 for n in per_file), per_file
    assert_nothing_left(pids_before)


def rows_of(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))
