"""The upstream stub (harness/run/upstream.py) as a child process the engine and tests own.

Kept apart from the server module so that starting, watching and stopping the stub needs neither
aiohttp nor an event loop in the caller. Like Locust it runs on the load-generator CPUs: the stub
is part of the load, not of the system under test.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import SpikeStartError
from harness.paths import REPO_ROOT
from harness.run.postgres import free_port
from harness.run.procs import stop_group

HOST = "127.0.0.1"


@dataclass
class UpstreamStub:
    """`python -m harness.run.upstream` on a free loopback port; stop() ends its group."""

    log_path: Path
    delay: str = "lognormal:50:200"
    error_rate: float = 0.0
    seed: int | None = None
    cpus: str | None = None
    port: int = 0
    command: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """What a spike gets as SPIKE_UPSTREAM_URL."""
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 20.0) -> UpstreamStub:
        self.port = self.port or free_port()
        argv = [
            sys.executable, "-m", "harness.run.upstream", "--host", HOST,
            "--port", str(self.port), "--delay", self.delay, "--error-rate", str(self.error_rate),
        ]  # fmt: skip
        if self.seed is not None:
            argv += ["--seed", str(self.seed)]
        self.command = ["taskset", "-c", self.cpus, *argv] if self.cpus else argv
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise SpikeStartError(f"upstream stub exited early; log:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if self.control("GET", "/control/health").get("status") == "ok":
                    return self
            time.sleep(0.05)
        self.stop()
        raise SpikeStartError(f"upstream stub not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def control(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """One call to the stub's control API (rules per item, counters)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw = resp.read()
        return dict(json.loads(raw)) if raw else {}

    def set_rule(self, item_id: int, **rule: Any) -> None:
        """Make the stub answer this item's quotes so: status=503, delay_ms=3000, quote=12.5."""
        self.control("PUT", f"/control/items/{item_id}", rule)

    def drop_rule(self, item_id: int) -> None:
        self.control("DELETE", f"/control/items/{item_id}")

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "/control/stats")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The stub's root process, while it runs."""
        return self.proc.pid if self.proc is not None and self.alive() else None

    def log_tail(self, chars: int = 1500) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "delay": self.delay,
            "error_rate": self.error_rate,
            "cpus": self.cpus,
            "command": self.command,
        }

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc, timeout=5)
        self.proc = None
