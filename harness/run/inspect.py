"""`spikebench inspect`: what each candidate (spike or variant) costs before it serves a request.

Lines of code, dependencies, installed size, import time and cold start are part of the decision
(a framework that needs twice the code or three times the packages costs the team every day), and
they are cheap to measure next to the load tests. `bench` records the static part in run.json under
"inspection"; cold start is measured there per trial already (metrics.startup_seconds).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import statistics
import subprocess
import tempfile
import tokenize
from pathlib import Path
from typing import Any

from harness.errors import SpikebenchError
from harness.manifest import ALL, Parity, SpikeManifest, ident, load_parity, select_spikes
from harness.paths import CONTRACT_DIR, SPIKES_DIR
from harness.run.spikeenv import SpikeEnv, ensure_env

# `module.path:attr` as the servers (gunicorn, uvicorn, hypercorn, granian) take it.
APP_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*(\(\))?$")
IMPORT_REPEATS = 3
NULL_FIELDS = (
    "loc",
    "direct_dependencies",
    "total_dependencies",
    "installed_size_bytes",
    "image_size_bytes",
    "import_seconds",
    "cold_start_seconds",
)
# Never reachable: importing the app must not need a database (engines connect lazily).
NO_DATABASE_URL = "postgresql://spikebench:spikebench@127.0.0.1:9/spikebench_inspect"


def python_files(manifest: SpikeManifest, paths: tuple[str, ...] | None = None) -> list[Path]:
    """The app code the team writes: .py files under the manifest's app_paths (or `paths`)."""
    files: set[Path] = set()
    for rel in manifest.app_paths if paths is None else paths:
        path = manifest.directory / rel
        if path.is_file() and path.suffix == ".py":
            files.add(path)
        elif path.is_dir():
            files.update(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(files)


def code_lines(source: str) -> int:
    """Non-blank lines that hold something other than a comment (docstrings count: cloc-style).

    Tokenizing (not `startswith('#')`) keeps a '#' inside a string from hiding a line."""
    lines: set[int] = set()
    skip = {
        tokenize.COMMENT,
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENDMARKER,
    }
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type not in skip:
                lines.update(range(tok.start[0], tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):  # not Python after all: count naively
        return sum(1 for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#"))
    return len(lines)


def lines_of_code(manifest: SpikeManifest, paths: tuple[str, ...] | None = None) -> tuple[int, int]:
    """(code lines, files) of the spike's app code, or of the given paths under its folder."""
    files = python_files(manifest, paths)
    return sum(code_lines(f.read_text(errors="replace")) for f in files), len(files)


def websocket_lines(manifest: SpikeManifest) -> tuple[int | None, int | None]:
    """(code lines, files) of the manifest's websocket_paths, part of `loc` as well; (None,
    None) when it names none: the WebSocket code of contract v2 is counted apart."""
    if not manifest.websocket_paths:
        return None, None
    return lines_of_code(manifest, manifest.websocket_paths)


def direct_requirements(manifest: SpikeManifest) -> list[str]:
    """requirements.txt lines that name a package (not blank, comment or pip option lines)."""
    if not manifest.requirements.exists():
        return []
    out = []
    for line in manifest.requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.append(line)
    return out


def app_module(manifest: SpikeManifest) -> str | None:
    """The module the server imports: the start command's first positional `module:attr`, or
    the `python -m module` of a framework that is its own server or launcher (tornado, cherrypy)."""
    argv = shlex.split(manifest.command)
    if len(argv) > 2 and argv[0].startswith("python") and argv[1] == "-m":
        return argv[2]
    for token in argv[1:]:
        if not token.startswith("-") and APP_REF.match(token):
            return token.split(":", 1)[0]
    return None


def import_env(env: SpikeEnv, parity: Parity) -> dict[str, str]:
    """The environment the spike starts with (spikes read their config at import time)."""
    return {
        "PATH": f"{env.bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "VIRTUAL_ENV": str(env.path),
        "DATABASE_URL": NO_DATABASE_URL,
        "SPIKE_HOST": "127.0.0.1",
        "SPIKE_PORT": "9",
        **parity.env(),
    }


def import_seconds(
    manifest: SpikeManifest, env: SpikeEnv, parity: Parity, repeats: int = IMPORT_REPEATS
) -> float:
    """Median wall time of importing the app module in a fresh spike-venv interpreter.

    Timed inside the child (perf_counter around import_module), so interpreter start-up is not
    counted; one unmeasured import first writes the .pyc files, as a deployed image would have."""
    module = app_module(manifest)
    if module is None:
        raise SpikebenchError(f"spike {manifest.name}: no `module:attr` in the start command")
    code = (
        "import importlib, time\n"
        "t = time.perf_counter()\n"
        f"importlib.import_module({module!r})\n"
        "print(time.perf_counter() - t)\n"
    )
    times = []
    for attempt in range(repeats + 1):
        done = subprocess.run(
            [str(env.python), "-c", code],
            cwd=manifest.directory,
            env=import_env(env, parity),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise SpikebenchError(
                f"spike {manifest.name}: importing {module} failed:\n{done.stderr[-1500:]}"
            )
        if attempt:
            times.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def inspect_spike(
    manifest: SpikeManifest,
    env: SpikeEnv | None,
    parity: Parity | None = None,
    prepared: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The static, cheap part: LOC, dependencies, size, import time. Never raises for one bad
    measurement: what could not be measured is null, with the reason in `errors`."""
    parity = parity or load_parity(manifest.directory.parent / "parity.toml")
    prepared = prepared or {}
    errors: list[str] = []
    loc, files = lines_of_code(manifest)
    ws_loc, ws_files = websocket_lines(manifest)
    out: dict[str, Any] = {
        **manifest.identity(),
        "loc": loc,
        "loc_files": files,
        "websocket_loc": ws_loc,
        "websocket_loc_files": ws_files,
        "app_paths": list(manifest.app_paths),
        "direct_dependencies": len(direct_requirements(manifest)),
        "total_dependencies": None,
        "installed_size_bytes": None,
        "image_size_bytes": (prepared.get("environment") or {}).get("image_size_bytes"),
        "import_module": app_module(manifest),
        "import_seconds": None,
        "cold_start_seconds": None,
        "errors": errors,
    }
    if env is None:
        if packages := prepared.get("packages"):
            out["total_dependencies"] = len(packages)
        errors.append("no local venv: installed size and import time not measured")
        return out
    try:
        out["total_dependencies"] = len(env.packages())
        out["installed_size_bytes"] = env.size_bytes()
    except (OSError, StopIteration) as exc:
        errors.append(f"venv unreadable: {exc}")
    try:
        out["import_seconds"] = import_seconds(manifest, env, parity)
    except (SpikebenchError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
        errors.append(str(exc)[:2000])
    return out


def inspect_for_bench(
    spikes: list[SpikeManifest], runtime: Any, prepared: dict[str, dict[str, Any]], parity: Parity
) -> dict[str, Any]:
    """What `bench` records under "inspection": the static part per spike (cold start is per trial,
    metrics.startup_seconds). Uses the runtime's venvs when it has them (local runtime)."""
    return inspect_candidates(spikes, getattr(runtime, "envs", {}) or {}, prepared, parity)


def inspect_candidates(
    spikes: list[SpikeManifest],
    envs: dict[str, SpikeEnv],
    prepared: dict[str, dict[str, Any]],
    parity: Parity,
) -> dict[str, Any]:
    """Per candidate; a variant shares its spike's code and venv, so it shares the figures and
    adds its own server and worker class."""
    out: dict[str, Any] = {}
    by_folder: dict[str, dict[str, Any]] = {}
    for s in spikes:
        if s.spike in by_folder:  # a variant: the same code and venv, measured once
            shared = by_folder[s.spike]
            out[s.name] = {**shared, **s.identity(), "errors": list(shared["errors"])}
            continue
        try:
            out[s.name] = inspect_spike(s, envs.get(s.name), parity, prepared.get(s.name))
            by_folder[s.spike] = out[s.name]
        except Exception as exc:  # an inspection problem must never cost a benchmark run
            error = f"{type(exc).__name__}: {exc}"
            out[s.name] = {**dict.fromkeys(NULL_FIELDS), **s.identity(), "errors": [error]}
    return out


def cold_start(manifest: SpikeManifest, env: SpikeEnv, parity: Parity, database_url: str) -> float:
    """Process start to the first healthy response, once, under the spike's real server."""
    from harness.run.postgres import free_port
    from harness.run.server import SpikeServer

    with tempfile.TemporaryDirectory(prefix="spikebench-inspect-") as tmp:
        server = SpikeServer(manifest, env, free_port(), Path(tmp) / f"{manifest.name}.log")
        try:
            return server.launch(database_url, parity, timeout=90)
        finally:
            server.stop()


def inspect_all(
    spikes: list[SpikeManifest], parity: Parity, with_cold_start: bool = True
) -> dict[str, dict[str, Any]]:
    """Everything, including one cold start per spike against a throwaway database."""
    envs = {s.name: ensure_env(s) for s in spikes}
    out = inspect_candidates(spikes, envs, {}, parity)
    if not with_cold_start:
        return out
    from harness.run.postgres import postgres_server

    with postgres_server() as pg:
        for spike in spikes:
            dbname = f"sb_inspect_{ident(spike.name)}_{os.getpid()}"
            url = pg.create_database(dbname)
            try:
                with pg.connect(dbname) as conn:
                    conn.execute((CONTRACT_DIR / "schema.sql").read_text())
                out[spike.name]["cold_start_seconds"] = cold_start(
                    spike, envs[spike.name], parity, url
                )
            except SpikebenchError as exc:
                out[spike.name]["errors"].append(f"cold start: {str(exc)[:2000]}")
            finally:
                pg.drop_database(dbname)
    return out


def _fmt(value: Any, scale: float = 1.0, fmt: str = "{:.0f}") -> str:
    return "–" if value is None else fmt.format(value / scale)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "inspect", help="per spike: lines of code, dependencies, size, import time, cold start"
    )
    p.add_argument(
        "--spikes",
        type=lambda v: [s for s in v.split(",") if s],
        help="comma-separated candidates: spikes or variants (flask@gthread), `all` for every "
        "one (default: all)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--no-cold-start", action="store_true", help="skip the server start")
    p.add_argument("--spikes-dir", type=Path, default=SPIKES_DIR, help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_inspect)


COLUMNS = (
    "candidate",
    "server",
    "LOC (files)",
    "WebSocket LOC",
    "direct deps",
    "installed dists",
    "venv MiB",
    "import ms",
    "cold start s",
    "notes",
)


def inspect_table(data: dict[str, dict[str, Any]]) -> Any:
    """One row per candidate; names never wrap or truncate (13+ rows, `django_ninja@gthread`),
    the numbers are right-aligned, and only the notes fold."""
    from rich.table import Table

    table = Table(title="spikebench inspect", row_styles=["", "dim"] if len(data) > 6 else None)
    for col in COLUMNS:
        if col == "candidate":
            table.add_column(col, no_wrap=True, min_width=max(map(len, data), default=9))
        elif col in ("notes", "server"):
            table.add_column(col, overflow="fold", ratio=1 if col == "notes" else None)
        else:
            table.add_column(col, justify="right", no_wrap=True)
    for name, row in data.items():
        server = " ".join(str(v) for v in (row.get("server"), row.get("worker_class")) if v)
        table.add_row(
            name,
            server or "–",
            f"{row['loc']} ({row['loc_files']})",
            _fmt(row.get("websocket_loc")),
            str(row["direct_dependencies"]),
            _fmt(row["total_dependencies"]),
            _fmt(row["installed_size_bytes"], 2**20),
            _fmt(row["import_seconds"], 1e-3),
            _fmt(row["cold_start_seconds"], fmt="{:.2f}"),
            "; ".join(e.splitlines()[0] for e in row["errors"]),
        )
    return table


def cmd_inspect(args: argparse.Namespace) -> int:
    spikes = select_spikes(args.spikes or [ALL], args.spikes_dir)
    parity = load_parity(args.spikes_dir / "parity.toml")
    data = inspect_all(spikes, parity, with_cold_start=not args.no_cold_start)
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    from harness.console import console

    console().print(inspect_table(data))
    return 0
