"""Start, watch and stop one spike under its real production server, from its manifest."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from harness.errors import PortInUse, SpikeStartError
from harness.manifest import Parity, SpikeManifest
from harness.run.procs import GroupOwner
from harness.run.spikeenv import SpikeEnv

HOST = "127.0.0.1"


def port_holder(port: int) -> str:
    """Who listens on a port, for the error message (best effort)."""
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid:
                    with contextlib.suppress(psutil.Error):
                        proc = psutil.Process(conn.pid)
                        return f"pid {conn.pid} ({' '.join(proc.cmdline())[:120]})"
                return "another process"
    return "another process"


def ensure_port_free(port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            raise PortInUse(
                f"port {HOST}:{port} is already taken by {port_holder(port)}; "
                "stop it or choose another port"
            ) from None


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for_health(
    url: str, started: float, timeout: float, *, name: str, alive: Callable[[], bool],
    exit_code: Callable[[], object], log: Callable[[], str], interval: float = 0.05,
) -> float:
    """Poll a health URL until it answers 200; seconds since `started` (a monotonic time).

    Shared by both runtimes so a process and a container are judged alike: a target that dies
    or never turns healthy raises SpikeStartError with its last answer and its log."""
    last = "no answer"
    while time.monotonic() < started + timeout:
        if not alive():
            raise SpikeStartError(
                f"{name} exited with code {exit_code()} before becoming healthy; {log()}"
            )
        try:
            status, body = http_get(url, timeout=1.0)
            if status == 200:
                return time.monotonic() - started
            last = f"HTTP {status} {body[:200]!r}"
        except (OSError, urllib.error.URLError) as exc:
            last = str(exc)
        time.sleep(interval)
    hint = " (database unreachable?)" if "database_unavailable" in last else ""
    raise SpikeStartError(
        f"{name} not healthy after {timeout:.0f} s{hint}; last answer: {last}; {log()}"
    )


@dataclass
class SpikeServer(GroupOwner):
    """A running spike: its process group, port and log. Stop it with stop()."""

    manifest: SpikeManifest
    venv: SpikeEnv
    port: int
    log_path: Path
    cpus: str | None = None
    command: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    startup_seconds: float | None = None
    # what the run adds beyond parity, e.g. SPIKE_UPSTREAM_URL when the upstream stub runs
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def environment(self, database_url: str, parity: Parity) -> dict[str, str]:
        """A clean environment: the spike sees its venv, the contract's variables, nothing else."""
        return {
            "PATH": f"{self.venv.bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "VIRTUAL_ENV": str(self.venv.path),
            "DATABASE_URL": database_url,
            "SPIKE_HOST": HOST,
            "SPIKE_PORT": str(self.port),
            **parity.env(),
            **self.extra_env,
        }

    def start(self, database_url: str, parity: Parity) -> None:
        ensure_port_free(self.port)
        env = self.environment(database_url, parity)
        argv = self.manifest.argv(env)
        argv[0] = (
            str(self.venv.bin_dir / argv[0]) if (self.venv.bin_dir / argv[0]).exists() else argv[0]
        )
        self.command = ["taskset", "-c", self.cpus, *argv] if self.cpus else argv
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.manifest.directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, chars: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-chars:]
        return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The root of its process tree (the server's master), while it runs."""
        return self.proc.pid if self.alive() and self.proc is not None else None

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """The time from process start to the first healthy answer is the startup time."""
        assert self.proc is not None
        proc = self.proc
        self.startup_seconds = wait_for_health(
            self.base_url + self.manifest.health_path, self.started_at, timeout,
            name=f"spike {self.manifest.name}", alive=self.alive,
            exit_code=lambda: proc.returncode,
            log=lambda: f"log ({self.log_path}):\n{self.log_tail()}",
        )  # fmt: skip
        self._check_listener()
        return self.startup_seconds

    def launch(self, database_url: str, parity: Parity, timeout: float = 60.0) -> float:
        """start() then wait_healthy(); a spike that never turns healthy is stopped, not left."""
        try:
            self.start(database_url, parity)
            return self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise

    def _check_listener(self) -> None:
        """The port must be ours: a port can be held by something else that answers /health."""
        ours = {p.pid for p in self.processes()}
        with contextlib.suppress(psutil.AccessDenied):
            for conn in psutil.net_connections(kind="tcp"):
                if (
                    conn.status == psutil.CONN_LISTEN
                    and conn.laddr
                    and conn.laddr.port == self.port
                    and conn.pid
                    and conn.pid not in ours
                ):
                    raise PortInUse(
                        f"port {self.port} answers, but is held by {port_holder(self.port)}, "
                        f"not by spike {self.manifest.name}"
                    )

    def processes(self) -> list[psutil.Process]:
        """The spike's process tree: server master and workers."""
        if not self.alive():
            return []
        assert self.proc is not None
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group (graceful; unless `terminate` sent it), SIGKILL what is
        left: nothing stays behind."""
        self.end_group(timeout)
        self.proc = None
