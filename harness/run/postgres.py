"""A real PostgreSQL for tests and benchmarks.

Default: a throwaway cluster from the pgserver wheel's binaries (or Postgres binaries on PATH),
started as a child process we own, pinned to the system-under-test CPUs, listening on 127.0.0.1
only. `DATABASE_URL` points the harness at an existing server instead.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg
from psycopg import sql

from harness.errors import DatabaseUnavailable
from harness.paths import CONTRACT_DIR
from harness.run.procs import stop_group

RECORDED_SETTINGS = (
    "server_version",
    "max_connections",
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "fsync",
    "synchronous_commit",
    "wal_level",
    "max_wal_size",
    "random_page_cost",
)
SERVER_SETTINGS = {
    "max_connections": "200",
    "shared_buffers": "128MB",
    "log_min_messages": "warning",
}
TEMPLATE_DB = "spikebench_template"


def candidate_binaries() -> list[tuple[Path, str]]:
    """pgserver's bundled binaries first (the embedded default), then PATH / Debian's layout."""
    found: list[tuple[Path, str]] = []
    if env := os.environ.get("SPIKEBENCH_PG_BIN"):
        return [(Path(env), "SPIKEBENCH_PG_BIN")]
    with contextlib.suppress(ImportError):
        import pgserver

        bindir = Path(pgserver.__file__).parent / "pginstall" / "bin"
        if (bindir / "postgres").exists():
            found.append((bindir, "pgserver"))
    if on_path := shutil.which("postgres"):
        found.append((Path(on_path).resolve().parent, "PATH"))
    found += [
        (p.parent, "PATH") for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    ]
    return found


def find_binaries(run_as: dict[str, Any] | None = None) -> tuple[Path, str]:
    """The first candidate that actually runs as the server's user (a checkout below a private
    folder can make the wheel's binaries unreadable to `postgres`)."""
    for bindir, source in candidate_binaries():
        with contextlib.suppress(OSError):
            done = subprocess.run(
                [str(bindir / "postgres"), "--version"], capture_output=True, **(run_as or {})
            )
            if done.returncode == 0:
                return bindir, source
    raise DatabaseUnavailable(
        "no usable PostgreSQL binaries: install the pgserver wheel (pip install -e .), put "
        "postgres on PATH, or set DATABASE_URL to an existing server"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def _server_user() -> pwd.struct_passwd | None:
    """Postgres refuses to run as root: run it as `postgres` (or a `spikebench` user we create)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "spikebench"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(["useradd", "--system", "--no-create-home", "spikebench"], check=True)
    return pwd.getpwnam("spikebench")


@dataclass
class Postgres:
    """A server the harness can create databases on; `process` is set when we can see it."""

    admin_url: str
    source: str
    process: psutil.Process | None = None
    cpus: str | None = None
    statements: bool = False  # pg_stat_statements is loaded (dbwork counts queries with it)
    _owned: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _workdir: Path | None = field(default=None, repr=False)
    _argv: list[str] | None = field(default=None, repr=False)
    _run_as: dict[str, Any] = field(default_factory=dict, repr=False)

    def url(self, dbname: str) -> str:
        return with_database(self.admin_url, dbname)

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(
                f"PostgreSQL at {_safe(self.admin_url)} unreachable: {exc}"
            ) from exc

    def describe(self) -> dict[str, Any]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                [list(RECORDED_SETTINGS)],
            ).fetchall()
            version = conn.execute("SELECT version()").fetchone()
        return {
            "source": self.source,
            "version": version[0] if version else None,
            "settings": dict(rows),
            "cpus": self.cpus,
            "pid": self.process.pid if self.process else None,
            "url": _safe(self.admin_url),
        }

    def restart(self, down_s: float = 0.0) -> None:
        """Fast shutdown, `down_s` seconds without a server, then the same cluster again on the
        same port and data: the recovery tests pull the database from under a running spike."""
        if self._owned is None or self._argv is None or self._workdir is None:
            raise DatabaseUnavailable("only a cluster the harness started can be restarted")
        stop_group(self._owned, timeout=20, first=signal.SIGINT)
        time.sleep(down_s)
        self._owned = _spawn(self._argv, self._workdir / "postgres.log", self._run_as)
        _wait_ready(self, self._owned, self._workdir / "postgres.log")

    def stop(self) -> None:
        """Fast shutdown of a cluster we started, then remove its files; never touch others."""
        if self._owned is not None:
            stop_group(self._owned, timeout=20, first=signal.SIGINT)
            self._owned = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    # -- databases -------------------------------------------------------------------------

    def create_database(self, name: str, template: str | None = None) -> str:
        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            conn.execute(stmt)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def create_template(
        self, users: int, items_per_user: int, password_hash: str, name: str = TEMPLATE_DB
    ) -> str:
        """Schema + seed once; every trial then starts from a byte-identical copy of it."""
        from harness.run.seed import load_seed_module

        seed = load_seed_module()
        self.create_database(name)
        with psycopg.connect(self.url(name)) as conn:
            conn.execute((CONTRACT_DIR / "schema.sql").read_text())
            seed.load(conn, seed.SeedSpec(users, items_per_user), password_hash)
            conn.execute("ANALYZE")
        return name


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def _find_postmaster(admin_url: str) -> psutil.Process | None:
    """For an existing server on this machine, find its postmaster so CPU can still be measured."""
    try:
        with psycopg.connect(admin_url, connect_timeout=5) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        backend = psutil.Process(int(row[0])) if row else None
        return backend.parent() if backend else None
    except (psycopg.Error, psutil.Error):
        return None


def connect_existing(url: str) -> Postgres:
    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"DATABASE_URL {_safe(url)} is unreachable: {str(exc).strip()}"
        ) from exc
    return Postgres(admin_url=url, source="external", process=_find_postmaster(url))


def start_embedded(cpus: str | None = None, port: int | None = None) -> Postgres:
    """initdb + postgres in a temporary folder, as our own child process group."""
    user = _server_user()
    run_as: dict[str, Any] = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
    bindir, source = find_binaries(run_as)
    workdir = Path(tempfile.mkdtemp(prefix="spikebench-pg-"))
    workdir.chmod(0o755)
    data, log = workdir / "data", workdir / "postgres.log"
    data.mkdir(mode=0o700)
    log.touch()
    if user:
        for p in (data, log, workdir):
            os.chown(p, user.pw_uid, user.pw_gid)
    init = subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        **run_as,
    )
    if init.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise DatabaseUnavailable(f"initdb failed ({bindir}): {init.stderr.strip()[-800:]}")
    port = port or free_port()
    argv = [
        str(bindir / "postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={workdir}",
    ]
    for key, value in SERVER_SETTINGS.items():
        argv += ["-c", f"{key}={value}"]
    statements = has_pg_stat_statements(bindir, run_as)
    if statements:  # per-statement counts for harness/run/dbwork.py; loadable only at start
        argv += ["-c", "shared_preload_libraries=pg_stat_statements"]
    if cpus:
        argv = ["taskset", "-c", cpus, *argv]
    proc = _spawn(argv, log, run_as)
    server = Postgres(
        admin_url=f"postgresql://postgres@127.0.0.1:{port}/postgres",
        source=source,
        cpus=cpus,
        statements=statements,
        _owned=proc,
        _workdir=workdir,
        _argv=argv,
        _run_as=run_as,
    )
    _wait_ready(server, proc, log)
    return server


def has_pg_stat_statements(bindir: Path, run_as: dict[str, Any] | None = None) -> bool:
    """Whether these binaries ship pg_stat_statements (Debian's do, the pgserver wheel not)."""
    try:
        done = subprocess.run(
            [str(bindir / "pg_config"), "--pkglibdir", "--sharedir"],
            capture_output=True, text=True, timeout=10, **(run_as or {}),
        )
    except OSError:
        return False
    dirs = done.stdout.split()
    if done.returncode != 0 or len(dirs) != 2:
        return False
    lib, share = Path(dirs[0]), Path(dirs[1])
    return (lib / "pg_stat_statements.so").exists() and (
        share / "extension" / "pg_stat_statements.control"
    ).exists()


def _spawn(argv: list[str], log: Path, run_as: dict[str, Any]) -> subprocess.Popen[bytes]:
    with log.open("ab") as logfile:
        return subprocess.Popen(
            argv, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True, **run_as
        )


def _wait_ready(server: Postgres, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:]
            server.stop()
            hint = " (port taken?)" if "in use" in tail else ""
            raise DatabaseUnavailable(f"postgres exited at start{hint}:\n{tail}")
        try:
            with psycopg.connect(server.admin_url, connect_timeout=2):
                server.process = psutil.Process(proc.pid)
                return
        except psycopg.OperationalError:
            time.sleep(0.2)
    server.stop()
    raise DatabaseUnavailable("postgres did not accept connections within 30 s")


@contextlib.contextmanager
def postgres_server(cpus: str | None = None) -> Iterator[Postgres]:
    """DATABASE_URL if set, else a throwaway embedded cluster that is removed afterwards."""
    url = os.environ.get("DATABASE_URL")
    server = connect_existing(url) if url else start_embedded(cpus=cpus)
    try:
        yield server
    finally:
        server.stop()
