"""Locust as a headless child process, pinned to the load-generator CPUs."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from harness.paths import SCENARIOS_DIR
from harness.run.postgres import free_port
from harness.run.procs import GroupOwner
from harness.scenario import Scenario

LOCUSTFILE = SCENARIOS_DIR / "locustfile.py"


@dataclass
class LoadgenConfig:
    warmup_s: float
    measure_s: float
    seed_users: int
    seed_items: int
    seed_password: str
    random_seed: int
    cpus: str | None = None
    workers: int = 0  # 0: one Locust process; N: --processes N (a master and N workers)
    users: int | None = None  # overrides the scenario's user count
    gated: bool = False  # interleaved design: paused and resumed by the harness (see locustfile)
    run_time_s: float | None = None  # gated: an upper bound, the harness stops it before
    model: str | None = None  # "open" runs the scenario's task mix as arrivals at a rate
    reconnect: bool = False  # gated, closed: users reconnect after every pause (locustfile)


class LoadgenError(RuntimeError):
    """The gated load generator did not acknowledge a pause: it is stuck or gone."""


@dataclass
class Loadgen(GroupOwner):
    scenario: Scenario
    host: str
    out_dir: Path
    config: LoadgenConfig
    command: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def open(self) -> bool:
        return (self.config.model or self.scenario.load.model) == "open"

    @property
    def users(self) -> int:
        if self.open:
            return 1  # one scheduler user sends every arrival (scenarios/locustfile.py)
        return self.config.users or self.scenario.users

    pauses: int = 0

    @property
    def run_time_s(self) -> int:
        if self.config.run_time_s is not None:
            return math.ceil(self.config.run_time_s)
        return math.ceil(self.config.warmup_s + self.config.measure_s) + 1

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("ready.json", "target.json"):  # a new Locust sends to its --host
            (self.out_dir / stale).unlink(missing_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            self.host,
            "-u",
            str(self.users),
            "-r",
            str(max(self.scenario.spawn_rate, self.users / max(self.config.warmup_s, 1))),
            "-t",
            f"{self.run_time_s}s",
            "--stop-timeout",
            "2",
            "--only-summary",
            "--csv",
            str(self.out_dir / "locust"),
            "--csv-full-history",
            "--json-file",
            str(self.out_dir / "locust"),
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "0",
        ]
        if self.config.workers:
            # Master and workers talk over ZeroMQ. Locust's default is port 5557 on every
            # interface: a second Locust on the machine (a colleague's run, a parallel test) then
            # fails with "Address already in use". A free loopback port per run avoids both.
            rpc_port = str(free_port())
            cmd += [
                "--processes",
                str(self.config.workers),
                "--master-bind-host",
                "127.0.0.1",
                "--master-bind-port",
                rpc_port,
                "--master-port",
                rpc_port,
            ]
        self.command = ["taskset", "-c", self.config.cpus, *cmd] if self.config.cpus else cmd
        env = {
            **os.environ,
            "SPIKEBENCH_SCENARIO": str(self.scenario.path),
            "SPIKEBENCH_OUT": str(self.out_dir),
            "SPIKEBENCH_WARMUP_S": str(self.config.warmup_s),
            "SPIKEBENCH_MEASURE_S": str(self.config.measure_s),
            "SPIKEBENCH_SEED_USERS": str(self.config.seed_users),
            "SPIKEBENCH_SEED_ITEMS": str(self.config.seed_items),
            "SPIKEBENCH_SEED_PASSWORD": self.config.seed_password,
            "SPIKEBENCH_RANDOM_SEED": str(self.config.random_seed),
            "SPIKEBENCH_GATED": "1" if self.config.gated else "0",
            "SPIKEBENCH_MODEL": "open" if self.open else "closed",
            "SPIKEBENCH_RECONNECT": "1" if self.config.reconnect else "0",
        }
        with (self.out_dir / "locust.log").open("ab") as log:
            self.proc = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running() and self.proc is not None else None

    def processes(self) -> list[psutil.Process]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        return []

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def progress(self) -> dict[str, Any] | None:
        """The newest line Locust wrote to progress.jsonl (for the live display)."""
        path = self.out_dir / "progress.jsonl"
        with contextlib.suppress(OSError, ValueError, IndexError):
            lines = path.read_text().strip().splitlines()
            return dict(json.loads(lines[-1]))
        return None

    def log_tail(self, chars: int = 1500) -> str:
        with contextlib.suppress(OSError):
            return (self.out_dir / "locust.log").read_text(errors="replace")[-chars:]
        return ""

    # -- gated mode (interleaved design) -------------------------------------------------------

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Signal Locust only once its gate handlers are installed (ready.json): before that,
        SIGUSR1/2 would kill it. A slow start on a busy machine is a wait, not a crash."""
        if self._ready:
            return
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not (self.out_dir / "ready.json").exists():
            if not self.running():
                raise LoadgenError(f"Locust exited (code {self.proc.returncode}) while starting")
            if time.monotonic() > deadline:
                raise LoadgenError(f"Locust did not install its gate in {timeout:.0f} s")
            time.sleep(0.01)
        self._ready = True

    _ready = False

    def resume(self, rate: float | None = None) -> None:
        """Open the gate; an open-model generator first gets its offered rate (req/s)."""
        assert self.proc is not None
        self.wait_ready()
        if rate is not None:
            self.set_rate(rate)
        os.kill(self.proc.pid, signal.SIGUSR1)

    target_gen: int = 0  # how many times retarget() moved it to a restarted spike

    def retarget(self, host: str) -> None:
        """While paused: send to a restarted spike from the next resume on (target.json; the
        users drop their connections and what they created, keep their tokens)."""
        self.target_gen += 1
        self.host = host
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.out_dir / "target.json.tmp"
        tmp.write_text(json.dumps({"gen": self.target_gen, "host": host}))
        os.replace(tmp, self.out_dir / "target.json")

    def set_rate(self, rate: float) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.out_dir / "rate.json.tmp"
        tmp.write_text(json.dumps({"rate": rate}))
        os.replace(tmp, self.out_dir / "rate.json")

    def pause(self, timeout: float = 30.0) -> dict[str, Any]:
        """Close the gate and wait until Locust says nothing is in flight and its rows are on
        disk; a generator that does not answer is a named error, not a hang."""
        assert self.proc is not None
        self.wait_ready()
        self.pauses += 1
        deadline = time.monotonic() + timeout
        os.kill(self.proc.pid, signal.SIGUSR2)
        ack = self.out_dir / "ack.json"
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                data = dict(json.loads(ack.read_text()))
                if data.get("seq") == self.pauses:
                    return data
            if not self.running():
                raise LoadgenError(f"Locust exited (code {self.proc.returncode}) while pausing")
            time.sleep(0.003)
        raise LoadgenError(f"Locust did not acknowledge pause {self.pauses} in {timeout:.0f} s")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (unless `terminate` sent it) lets Locust write its outputs; SIGKILL the group
        if it does not go."""
        self.end_group(timeout)
