"""The compose runtime: PostgreSQL and each spike in containers from docker-compose.yml.

Why a second runtime: the local one measures processes from venvs; teams ship containers, and a
container adds its own costs (image size, cgroup limits, a NAT hop on the published port). This
runtime runs the same scenarios, trials and result file as `local`, only the system under test
lives in containers. Locust stays a host process pinned to the load-generator CPUs, as in local.

It works with Docker, and with podman through its Docker-compatible socket (DOCKER_HOST). On
engines whose containers are visible from the host (Docker on Linux, rootful podman) the harness's
psutil sampling measures the container processes exactly as it measures local ones; the
containers' cgroup files are read as well and recorded per trial under `metrics.container`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import psycopg

from harness.errors import (
    ConfigError,
    DatabaseUnavailable,
    EnvironmentSetupError,
    PortInUse,
    SpikeStartError,
)
from harness.manifest import Parity, SpikeManifest
from harness.paths import REPO_ROOT
from harness.run.cgroups import Cgroup, CgroupSampler, HostProcess, all_cpus, parse_size
from harness.run.compose_spike import (
    ENGINE_HINT,
    CommandFailed,
    ComposeSpike,
    _run,
    compose_cli,
    engine_cli,
    variant_override,
)
from harness.run.postgres import Postgres, free_port
from harness.run.server import ensure_port_free, wait_for_health

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DB_SERVICE = "postgres"
DB_USER = DB_PASSWORD = "spikebench"
CONTAINER_DB_HOST = "postgres:5432"  # the database as the spike containers see it
HIDDEN_PACKAGES = ("pip", "setuptools", "wheel")


# -- the runtime ---------------------------------------------------------------------------------


class ComposeRuntime:
    """Containers from docker-compose.yml under a per-run compose project; see the module doc."""

    name = "compose"

    def __init__(self, rebuild_images: bool = False, compose_file: Path = COMPOSE_FILE) -> None:
        self.rebuild = rebuild_images
        self.compose_file = compose_file
        self.project = os.environ.get(
            "SPIKEBENCH_COMPOSE_PROJECT", f"spikebench-{os.getpid()}-{secrets.token_hex(2)}"
        )
        self.engine = engine_cli()
        self.compose = compose_cli()
        self.services: set[str] = set()
        self.spike_env: dict[str, str] = {}  # e.g. SPIKE_UPSTREAM_URL (docker-compose.yml)
        self.pg_port: int | None = None
        self.db_cpus: str | None = None
        self.db_container = ""
        self.db_cgroup: Cgroup | None = None
        self._engine_info: dict[str, Any] | None = None

    # -- helpers -------------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        """What compose interpolates docker-compose.yml with: ports, cpusets, parity sizes."""
        env = dict(os.environ)
        if self.engine_info().get("podman") or "docker-compose" in self.compose[-1]:
            # podman has no BuildKit; Compose v1's CLI build needs a docker CLI
            env.setdefault("COMPOSE_DOCKER_CLI_BUILD", "0")
            env.setdefault("DOCKER_BUILDKIT", "0")
        env.pop("DATABASE_URL", None)  # a host URL means nothing inside the compose network
        if self.pg_port is not None:
            env["SPIKEBENCH_PG_PORT"] = str(self.pg_port)
        if self.db_cpus is not None:
            env["SPIKEBENCH_DB_CPUS"] = self.db_cpus
        env.update(extra)
        return env

    def run_compose(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 300,
        override: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        files = [self.compose_file, *([override] if override else [])]
        argv = [*self.compose, *(a for f in files for a in ("-f", str(f))), "-p", self.project,
                *args]  # fmt: skip
        return _run(argv, env=env or self.env(), timeout=timeout)

    def engine_info(self) -> dict[str, Any]:
        """Engine name and version (cached); raises with a hint when nothing answers."""
        if self._engine_info is not None:
            return self._engine_info
        done = _run([*self.engine, "version", "--format", "{{json .}}"], check=False, timeout=30)
        info: dict[str, Any] = {"cli": self.engine[0]}
        try:
            data = json.loads(done.stdout)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ConfigError(
                f"no container engine answers (`{shlex.join(self.engine)} version`: "
                f"{(done.stderr or done.stdout).strip()[-400:]}): {ENGINE_HINT}"
            )
        server = data.get("Server") or {}
        components = {c.get("Name", ""): c.get("Version") for c in server.get("Components") or []}
        if "Podman Engine" in components:
            info.update(name="podman", version=components["Podman Engine"], podman=True)
        elif Path(self.engine[0]).name == "podman":
            info.update(
                name="podman", version=(data.get("Client") or {}).get("Version"), podman=True
            )
        else:
            info.update(name="docker", version=server.get("Version"), podman=False)
        self._engine_info = info
        return info

    def inspect(self, ref: str, fmt: str) -> str:
        done = _run([*self.engine, "inspect", "--format", fmt, ref], check=False, timeout=30)
        return done.stdout.strip() if done.returncode == 0 else ""

    def container_of(self, service: str) -> str:
        return self.run_compose("ps", "-q", service, timeout=60).stdout.strip().splitlines()[-1]

    def host_process(self, container: str, expect: tuple[str, ...]) -> psutil.Process | None:
        """The container's main process as the host sees it, if this engine shares PIDs with the
        host (Docker on Linux, rootful podman); None on VM-backed engines (Docker Desktop)."""
        pid = self.inspect(container, "{{.State.Pid}}")
        with contextlib.suppress(ValueError, psutil.Error):
            proc = HostProcess(int(pid))
            cmdline = " ".join(proc.cmdline())
            if any(word in cmdline for word in expect):
                return proc
        return None

    def stats(self, spike: ComposeSpike) -> dict[str, Any]:
        """Engine stats snapshot, for engines whose cgroups the host cannot read."""
        out: dict[str, Any] = {}
        for name, ref in (("app", spike.container), ("db", self.db_container)):
            done = _run(
                [*self.engine, "stats", "--no-stream", "--format", "{{json .}}", ref],
                check=False,
                timeout=30,
            )
            with contextlib.suppress(ValueError, IndexError, AttributeError):
                data = json.loads(done.stdout.strip().splitlines()[0])
                usage = str(data.get("MemUsage", "")).split("/")[0]
                cpu = str(data.get("CPUPerc", "")).rstrip("%")
                out[name] = {
                    "memory_bytes": parse_size(usage),
                    "cpu_percent": float(cpu) if cpu else None,
                }
        return out

    def remove_service(self, service: str) -> None:
        with contextlib.suppress(ConfigError):
            self.run_compose("stop", "-t", "10", service, timeout=120)
        with contextlib.suppress(ConfigError):
            self.run_compose("rm", "-f", "-v", service, timeout=120)

    # -- Runtime protocol ----------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        info = self.engine_info()
        compose_version = _run([*self.compose, "version"], check=False, timeout=30)
        return {
            "kind": self.name,
            "isolation": "one container per spike and one for PostgreSQL (docker-compose.yml); "
            "Locust runs on the host",
            "engine": {k: v for k, v in info.items() if k != "podman"},
            "compose": {
                "command": shlex.join(self.compose),
                "version": compose_version.stdout.strip().splitlines()[0]
                if compose_version.stdout.strip()
                else None,
                "file": str(self.compose_file.relative_to(REPO_ROOT))
                if self.compose_file.is_relative_to(REPO_ROOT)
                else str(self.compose_file),
                "project": self.project,
            },
            "memory_limits": {
                "sut": os.environ.get("SPIKEBENCH_SUT_MEM", "1g"),
                "db": os.environ.get("SPIKEBENCH_DB_MEM", "1g"),
            },
            "network": "published ports on 127.0.0.1 (engine NAT); spikes reach postgres by name",
        }

    def prepare(self, spikes: list[SpikeManifest]) -> dict[str, dict[str, Any]]:
        """Build the spike images, then record what each holds: size, packages, framework."""
        names = list(dict.fromkeys(s.spike for s in spikes))  # a variant uses its spike's image
        args = ["build", *(["--no-cache"] if self.rebuild else []), *names]
        try:
            self.run_compose(*args, timeout=3600)
        except CommandFailed as exc:
            raise EnvironmentSetupError(
                f"building images {names} failed:\n{exc.output[-3000:]}"
            ) from exc
        images: dict[str, dict[str, Any]] = {}
        for spike in spikes:
            if spike.spike not in images:
                images[spike.spike] = self._image_record(spike)
        return {spike.name: images[spike.spike] for spike in spikes}

    def _image_record(self, spike: SpikeManifest) -> dict[str, Any]:
        image = f"spikebench-{spike.spike}"
        done = _run(
            [*self.engine, "image", "inspect", "--format", "{{json .}}", image],
            check=False,
            timeout=30,
        )
        meta = done.stdout.strip() if done.returncode == 0 else ""
        try:
            data = json.loads(meta)
        except ValueError as exc:
            raise EnvironmentSetupError(f"image {image} not found after the build") from exc
        data = data[0] if isinstance(data, list) else data
        listing = _run(
            [
                *self.engine,
                "run",
                "--rm",
                "--network",
                "none",
                "--entrypoint",
                "pip",
                image,
                "list",
                "--format",
                "json",
                "--disable-pip-version-check",
            ],
            timeout=180,
        )
        packages = {
            str(p["name"]).lower().replace("_", "-"): str(p["version"])
            for p in json.loads(listing.stdout or "[]")
            if str(p["name"]).lower() not in HIDDEN_PACKAGES
        }
        packages = dict(sorted(packages.items()))
        base = next(
            (
                line.split()[1]
                for line in (spike.directory / "Dockerfile").read_text().splitlines()
                if line.upper().startswith("FROM ")
            ),
            None,
        )
        return {
            "packages": packages,
            "framework_version": packages.get(spike.framework_package.lower()),
            "environment": {
                "kind": "image",
                "image": image,
                "image_id": data.get("Id"),
                "size_bytes": data.get("Size"),
                "image_size_bytes": data.get("Size"),
                "created": data.get("Created"),
                "base_image": base,
                "dependency_count": len(packages),
            },
        }

    def start_database(self, cpus: str | None) -> Postgres:
        self.pg_port = free_port()
        self.db_cpus = cpus or all_cpus()
        try:
            self.run_compose("up", "-d", "--no-build", DB_SERVICE, timeout=600)
        except CommandFailed as exc:
            raise DatabaseUnavailable(
                f"the postgres container did not start:\n{exc.output}"
            ) from exc
        self.db_container = self.container_of(DB_SERVICE)
        admin_url = f"postgresql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.pg_port}/postgres"
        deadline, last = time.monotonic() + 120, ""
        while True:
            try:
                with psycopg.connect(admin_url, connect_timeout=3):
                    break
            except psycopg.OperationalError as exc:
                last = str(exc).strip()
            if self.inspect(self.db_container, "{{.State.Running}}") == "false":
                last = "the container exited"
                deadline = 0.0
            if time.monotonic() > deadline:
                logs = _run([*self.engine, "logs", "--tail", "60", self.db_container], check=False)
                raise DatabaseUnavailable(
                    f"the postgres container did not accept connections ({last}); its log:\n"
                    f"{(logs.stdout + logs.stderr)[-2000:]}"
                )
            time.sleep(0.5)
        process = self.host_process(self.db_container, ("postgres",))
        self.db_cgroup = Cgroup.of_pid(process.pid) if process else None
        image = self.inspect(self.db_container, "{{.Config.Image}}")
        return Postgres(
            admin_url=admin_url, source=f"compose ({image})", process=process, cpus=cpus
        )

    def start_spike(
        self,
        manifest: SpikeManifest,
        database_url: str,
        parity: Parity,
        port: int,
        cpus: str | None,
        log: Path,
    ) -> ComposeSpike:
        ensure_port_free(port)
        dbname = urlsplit(database_url).path.lstrip("/")
        env = self.env(
            SPIKEBENCH_SPIKE_DB=dbname,
            SPIKEBENCH_SPIKE_PORT=str(port),
            SPIKEBENCH_SUT_CPUS=cpus or all_cpus(),
            **parity.env(),
            **self.spike_env,
        )
        spike = ComposeSpike(self, manifest, port, log)
        self.services.add(spike.service)
        override = variant_override(manifest, log.parent)
        started = time.monotonic()
        try:
            try:
                self.run_compose(
                    "up", "-d", "--no-deps", "--no-build", "--force-recreate", spike.service,
                    env=env, timeout=300, override=override,
                )  # fmt: skip
            except CommandFailed as exc:
                if "address already in use" in exc.output:
                    raise PortInUse(
                        f"port 127.0.0.1:{port} is already taken: {exc.output}"
                    ) from exc
                raise SpikeStartError(
                    f"spike {manifest.name}: container did not start:\n{exc}"
                ) from exc
            spike.container = self.container_of(spike.service)
            self._check_environment(spike, parity, dbname)
            spike.root = self.host_process(spike.container, (manifest.server, "python"))
            spike.startup_seconds = self._wait_healthy(spike, started)
            spike.command = (
                spike.root.cmdline()
                if spike.root is not None
                else json.loads(self.inspect(spike.container, "{{json .Config.Cmd}}") or "[]")
            )
            groups = {}
            if spike.root is not None and (group := Cgroup.of_pid(spike.root.pid)):
                groups["app"] = group
                if self.db_cgroup is not None:
                    groups["db"] = self.db_cgroup
            if groups:
                spike.sampler = CgroupSampler(groups)
                spike.sampler.start()
        except BaseException:
            spike.stop()
            raise
        return spike

    def _check_environment(self, spike: ComposeSpike, parity: Parity, dbname: str) -> None:
        """Parity is the point of the benchmark: read back what the container really got."""
        raw = self.inspect(spike.container, "{{json .Config.Env}}")
        env = dict(item.split("=", 1) for item in json.loads(raw or "[]") if "=" in item)
        want = {
            **parity.env(),
            "DATABASE_URL": f"postgresql://{DB_USER}:{DB_PASSWORD}@{CONTAINER_DB_HOST}/{dbname}",
        }
        wrong = {k: env.get(k) for k, v in want.items() if env.get(k) != v}
        if wrong:
            raise SpikeStartError(
                f"spike {spike.service}: the container's environment differs from the run's "
                f"parity settings ({sorted(wrong)}); check docker-compose.yml"
            )

    def _wait_healthy(self, spike: ComposeSpike, started: float, timeout: float = 120) -> float:
        """Through the published port: `up` to first 200 is the container's startup time."""
        return wait_for_health(
            spike.base_url + spike.manifest.health_path, started, timeout,
            name=f"spike {spike.service}", alive=spike.alive,
            exit_code=lambda: self.inspect(spike.container, "{{.State.ExitCode}}"),
            log=lambda: f"its log:\n{spike.log_tail()}", interval=0.1,
        )  # fmt: skip

    def close(self) -> None:
        """compose down -v for every profile used, then make sure nothing of the project is left."""
        profiles = [arg for name in sorted(self.services) for arg in ("--profile", name)]
        argv = [*self.compose, "-f", str(self.compose_file), "-p", self.project, *profiles]
        _run([*argv, "down", "-v", "--remove-orphans", "-t", "10"], env=self.env(), check=False,
             timeout=300)  # fmt: skip
        label = f"label=com.docker.compose.project={self.project}"
        left = _run([*self.engine, "ps", "-aq", "--filter", label], check=False, timeout=60)
        ids = left.stdout.split()
        if ids:
            _run([*self.engine, "rm", "-f", "-v", *ids], check=False, timeout=120)
        self.services.clear()
