"""The compose runtime's commands (the engine and compose CLIs, run with a named failure) and
its spike handle: one spike container of one trial, as the runner sees any spike."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from harness.errors import (
    ConfigError,
)
from harness.manifest import SpikeManifest
from harness.run.cgroups import CgroupSampler, host_tree

if TYPE_CHECKING:
    from harness.run.runtime_compose import ComposeRuntime

ENGINE_HINT = (
    "start Docker (or point DOCKER_HOST at a Docker-compatible socket); on this project's CI "
    'machines: eval "$(.ci/podman/setup.sh)" (see .ci/podman/README.md)'
)


# -- what a container runs ----------------------------------------------------------------------


def container_cmd(manifest: SpikeManifest) -> list[str]:
    """The CMD that runs a manifest's start command in its spike's image.

    A shell expands the ${SPIKE_…} variables from the container's environment; `exec` makes the
    server PID 1 so it receives the stop signal. The Dockerfile's CMD is this for the spike
    (tests/test_dockerfiles.py); a variant runs the same image with its own."""
    return ["sh", "-c", f"exec {manifest.command}"]


def variant_override(manifest: SpikeManifest, folder: Path) -> Path | None:
    """For a variant: a compose file that gives the spike's service the variant's command.

    The spike's service and image stay the one definition in docker-compose.yml; only `command`
    differs, derived from the manifest (the one source of truth). `$$` keeps compose from
    interpolating what the container's shell must expand. JSON is YAML."""
    if not manifest.variant:
        return None
    cmd = [arg.replace("$", "$$") for arg in container_cmd(manifest)]
    path = folder / f"compose.{manifest.spike}.{manifest.variant}.yml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"services": {manifest.spike: {"command": cmd}}}, indent=1))
    return path


# -- commands ------------------------------------------------------------------------------------


def _run(
    argv: list[str],
    env: dict[str, str] | None = None,
    timeout: float = 120,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a CLI in its own session: a Ctrl-C reaches the harness, which then cleans up in order
    (subprocess.run kills the child if the harness is interrupted meanwhile)."""
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise ConfigError(f"{argv[0]} not found: {ENGINE_HINT}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"`{shlex.join(argv)}` did not finish within {timeout:.0f} s") from exc
    if check and done.returncode != 0:
        raise CommandFailed(argv, done)
    return done


class CommandFailed(ConfigError):
    """A container CLI call failed; the message carries its output."""

    def __init__(self, argv: list[str], done: subprocess.CompletedProcess[str]) -> None:
        self.output = (done.stdout + done.stderr).strip()
        super().__init__(
            f"`{shlex.join(argv)}` failed (exit {done.returncode}):\n{self.output[-2500:]}"
        )


def engine_cli() -> list[str]:
    """The engine's CLI for inspect/logs/run: docker, else podman (CI VMs have no docker CLI)."""
    if env := os.environ.get("SPIKEBENCH_ENGINE_CLI"):
        return shlex.split(env)
    for name in ("docker", "podman"):
        if found := shutil.which(name):
            return [found]
    raise ConfigError(f"no docker or podman CLI on PATH: {ENGINE_HINT}")


def compose_cli() -> list[str]:
    """Compose v2 (`docker compose`) where installed, else Compose v1 (`docker-compose`)."""
    if env := os.environ.get("SPIKEBENCH_COMPOSE"):
        return shlex.split(env)
    docker = shutil.which("docker")
    if docker:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            probe = subprocess.run(
                [docker, "compose", "version"], capture_output=True, text=True, timeout=20
            )
            if probe.returncode == 0:
                return [docker, "compose"]
    if found := shutil.which("docker-compose"):
        return [found]
    raise ConfigError("neither `docker compose` nor `docker-compose` is installed")




# -- the spike handle ----------------------------------------------------------------------------


@dataclass
class ComposeSpike:
    """One spike container of one trial: the runner's SpikeHandle."""

    runtime: ComposeRuntime
    manifest: SpikeManifest
    port: int
    log_path: Path
    container: str = ""
    command: list[str] = field(default_factory=list)
    startup_seconds: float | None = None
    root: psutil.Process | None = None
    sampler: CgroupSampler | None = None
    _alive_checked: tuple[float, bool] = (0.0, True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def service(self) -> str:
        """The spike's compose service: a variant runs in its spike's service (and image)."""
        return self.manifest.spike

    def alive(self) -> bool:
        if self.root is not None:
            with contextlib.suppress(psutil.Error):
                return self.root.is_running() and self.root.status() != psutil.STATUS_ZOMBIE
            return False
        # engines whose processes the host cannot see: ask the engine, at most once a second
        checked_at, state = self._alive_checked
        if time.monotonic() - checked_at > 1.0:
            state = self.runtime.inspect(self.container, "{{.State.Running}}") == "true"
            self._alive_checked = (time.monotonic(), state)
        return state

    def processes(self) -> list[psutil.Process]:
        return host_tree(self.root.pid) if self.root is not None and self.alive() else []

    @property
    def pid(self) -> int | None:
        """The container's init process as the host sees it (None where it cannot)."""
        return self.root.pid if self.root is not None and self.alive() else None

    def log_tail(self, chars: int = 2000) -> str:
        if not self.container:
            return ""
        done = _run(
            [*self.runtime.engine, "logs", "--tail", "400", self.container], check=False, timeout=30
        )
        return (done.stdout + done.stderr)[-chars:]

    def container_usage(self, lo: float, hi: float, requests: int) -> dict[str, Any]:
        """The containers' own accounting over the measured window (runner: metrics.container)."""
        if self.sampler is not None and self.sampler.samples:
            groups = self.sampler.groups
            return {
                "source": f"cgroup {next(iter(groups.values())).version}",
                **self.sampler.usage(lo, hi, requests),
            }
        return {"source": "engine stats (snapshot after the window)", **self.runtime.stats(self)}

    def terminate(self) -> None:
        """Nothing to ask ahead: the engine's stop in `stop` sends the SIGTERM and waits."""

    def stop(self) -> None:
        """Save the container log beside the trial, then stop (SIGTERM, 10 s) and remove it."""
        if self.sampler is not None:
            self.sampler.stop()
            self.sampler.write_csv(self.log_path.with_name("containers.csv"))
        if self.container:
            with contextlib.suppress(OSError):
                done = _run([*self.runtime.engine, "logs", self.container], check=False, timeout=60)
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                self.log_path.write_text(done.stdout + done.stderr)
        self.runtime.remove_service(self.service)
        self.container = ""
        self.root = None


