"""Runtimes: where the database and the spikes run. `local` runs processes on this machine;
`compose` (runtime_compose.py) runs containers. The runner sees only this interface."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol

import psutil

from harness.errors import ConfigError
from harness.manifest import Parity, SpikeManifest
from harness.run.postgres import Postgres, connect_existing, start_embedded
from harness.run.server import SpikeServer
from harness.run.spikeenv import SpikeEnv, ensure_env


class SpikeHandle(Protocol):
    base_url: str
    startup_seconds: float | None
    command: list[str]

    @property
    def pid(self) -> int | None: ...  # the root of its process tree on this host, if any
    def alive(self) -> bool: ...
    def processes(self) -> list[psutil.Process]: ...
    def log_tail(self, chars: int = 2000) -> str: ...
    def terminate(self) -> None: ...
    def stop(self) -> None: ...


class Runtime(Protocol):
    name: str
    # variables every spike started from now on gets beyond parity (SPIKE_UPSTREAM_URL)
    spike_env: dict[str, str]

    def prepare(self, spikes: list[SpikeManifest]) -> dict[str, dict[str, Any]]: ...
    def start_database(self, cpus: str | None) -> Postgres: ...
    def start_spike(
        self,
        manifest: SpikeManifest,
        database_url: str,
        parity: Parity,
        port: int,
        cpus: str | None,
        log: Path,
    ) -> SpikeHandle: ...
    def describe(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


class LocalRuntime:
    """Spikes as process groups from their own venvs; Postgres embedded or from DATABASE_URL."""

    name = "local"

    def __init__(self, rebuild_envs: bool = False) -> None:
        self.rebuild = rebuild_envs
        self.envs: dict[str, SpikeEnv] = {}
        self.spike_env: dict[str, str] = {}

    def prepare(self, spikes: list[SpikeManifest]) -> dict[str, dict[str, Any]]:
        info = {}
        built: dict[str, SpikeEnv] = {}  # a variant shares its spike's venv: build it once
        for manifest in spikes:
            env = built.get(manifest.spike) or ensure_env(manifest, rebuild=self.rebuild)
            built[manifest.spike] = env
            self.envs[manifest.name] = env
            packages = env.packages()
            info[manifest.name] = {
                "packages": packages,
                "framework_version": packages.get(manifest.framework_package.lower()),
                "environment": {
                    "kind": "venv",
                    "path": str(env.path),
                    "size_bytes": env.size_bytes(),
                    "dependency_count": len(packages),
                },
            }
        return info

    def start_database(self, cpus: str | None) -> Postgres:
        url = os.environ.get("DATABASE_URL")
        return connect_existing(url) if url else start_embedded(cpus=cpus)

    def start_spike(
        self,
        manifest: SpikeManifest,
        database_url: str,
        parity: Parity,
        port: int,
        cpus: str | None,
        log: Path,
    ) -> SpikeHandle:
        server = SpikeServer(
            manifest, self.envs[manifest.name], port, log, cpus=cpus, extra_env=dict(self.spike_env)
        )
        server.launch(database_url, parity)
        return server

    def describe(self) -> dict[str, Any]:
        return {"kind": self.name, "isolation": "process groups, one venv per spike"}

    def close(self) -> None:
        pass


def engine_available() -> bool:
    """A container engine that answers (Docker, or podman through its Docker socket)."""
    docker = shutil.which("docker")
    if not docker:
        return False
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        done = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, timeout=10
        )
        return done.returncode == 0
    return False


def make_runtime(kind: str, rebuild_envs: bool = False) -> Runtime:
    if kind == "auto":
        kind = "compose" if engine_available() else "local"
    if kind == "local":
        return LocalRuntime(rebuild_envs)
    if kind == "compose":
        try:
            from harness.run.runtime_compose import ComposeRuntime
        except ImportError as exc:  # pragma: no cover - only while the module is missing
            raise ConfigError(f"compose runtime unavailable: {exc}") from exc
        return ComposeRuntime(rebuild_images=rebuild_envs)
    raise ConfigError(f"unknown runtime {kind!r}: use auto, local or compose")
