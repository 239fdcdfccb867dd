"""`spikebench serve SPIKE`: one spike up by hand, to poke at with curl.

The same parts a benchmark trial uses, kept running: PostgreSQL (embedded, or DATABASE_URL),
the contract's schema and seed, the spike under its real server from its manifest with the
parity settings. It prints the URL, a token the spike itself issued for a seeded user, and a
ready curl line; Ctrl-C (or SIGTERM) stops everything it started, by process group.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import SpikebenchError, SpikeStartError

if TYPE_CHECKING:
    from harness.run.postgres import Postgres
from harness.paths import SPIKES_DIR
from harness.run.server import HOST

SERVE_DB = "spikebench_serve"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def say(text: str = "") -> None:
    """Plain prints, flushed: one whole line each, whatever reads them (a terminal, a pipe)."""
    print(text, flush=True)


def login(base_url: str, username: str, password: str) -> dict[str, Any]:
    """A real token, issued by the spike through the contract's POST /auth/login."""
    request = urllib.request.Request(
        base_url + "/auth/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return dict(json.loads(resp.read()))
    except OSError as exc:
        raise SpikeStartError(f"login as seeded user {username} failed: {exc}") from exc


def drop_quietly(db: Postgres, name: str) -> None:
    """Cleanup must go on to stop the servers even when the database is already gone."""
    with contextlib.suppress(SpikebenchError):
        db.drop_database(name)


def curl_line(base_url: str, token: str, path: str = "/items?limit=5") -> str:
    return (
        f"curl -sS -H {shlex.quote('Authorization: Bearer ' + token)} "
        f"{shlex.quote(base_url + path)}"
    )


def serve(args: argparse.Namespace) -> int:
    from harness.manifest import load_parity, select_spikes
    from harness.run.postgres import connect_existing, start_embedded
    from harness.run.seed import load_seed_module, seed_password_hash
    from harness.run.server import SpikeServer, ensure_port_free
    from harness.run.spikeenv import ensure_env

    manifest = select_spikes([args.spike], args.spikes_dir)[0]
    parity = load_parity(args.spikes_dir / "parity.toml")
    ensure_port_free(args.port)  # say so before a minute of setup, not after
    seed = load_seed_module()
    with ExitStack() as cleanup:
        say(f"spikebench serve: preparing {manifest.name}'s venv …")
        venv = ensure_env(manifest)
        url = os.environ.get("DATABASE_URL")
        say("spikebench serve: " + ("using DATABASE_URL …" if url else "starting PostgreSQL …"))
        db = connect_existing(url) if url else start_embedded()
        cleanup.callback(db.stop)  # an embedded cluster is removed; an external one is left alone
        say(f"spikebench serve: seeding {args.seed_users} users × {args.seed_items} items …")
        cleanup.callback(drop_quietly, db, SERVE_DB)  # ours, on an external server too
        db.create_template(args.seed_users, args.seed_items, seed_password_hash(parity), SERVE_DB)
        workdir = Path(tempfile.mkdtemp(prefix="spikebench-serve-"))
        extra = {}
        if manifest.supports("quote"):  # its GET /items/{id}/quote needs the pricing stub
            from harness.run.upstream_proc import UpstreamStub

            stub = UpstreamStub(workdir / "upstream.log").start()
            cleanup.callback(stub.stop)
            extra["SPIKE_UPSTREAM_URL"] = stub.url
            say(f"spikebench serve: upstream pricing stub on {stub.url} ({stub.delay})")
        server = SpikeServer(
            manifest, venv, args.port, workdir / f"{manifest.name}.log", extra_env=extra
        )
        cleanup.callback(server.stop)
        say(f"spikebench serve: starting {manifest.name} ({manifest.server}) …")
        server.launch(db.url(SERVE_DB), parity)
        user = seed.username(1)
        token = login(server.base_url, user, seed.SEED_PASSWORD)["access_token"]
        died = False
        try:  # from here on, Ctrl-C is the ordinary way to stop (even mid-announcement)
            say()
            pid = server.proc.pid if server.proc else "?"
            say(f"{manifest.framework} spike `{manifest.name}` on {server.base_url} (PID {pid})")
            say(f"log: {server.log_path}")
            say(
                f"database: {db.url(SERVE_DB).split('@')[-1]} ({db.source}); users "
                f"{seed.username(1)} … {seed.username(args.seed_users)}, "
                f"password {seed.SEED_PASSWORD}"
            )
            say(f"token for {user} (valid {parity.jwt_ttl_seconds} s): {token}")
            say(f"try: {curl_line(server.base_url, token)}")
            say("Ctrl-C stops the spike and PostgreSQL.")
            while server.alive():
                time.sleep(0.5)
            died = True
        except KeyboardInterrupt:
            say("\nspikebench serve: stopping …")
        if died:
            say(f"spikebench serve: {manifest.name} exited by itself; log:\n{server.log_tail()}")
            return 1
        shutil.rmtree(workdir, ignore_errors=True)  # the log of a clean stop is not needed
    say("spikebench serve: stopped; nothing left running")
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve", help="start one spike with PostgreSQL and the seed, print a token and a curl line"
    )
    p.add_argument("spike", help="spike name (spikebench list shows them)")
    p.add_argument("--port", type=int, default=8000, help=f"port on {HOST} for the spike")
    p.add_argument("--seed-users", type=int, default=1000, help="users in the seed database")
    p.add_argument("--seed-items", type=int, default=100, help="items per seeded user")
    p.add_argument("--spikes-dir", type=Path, default=SPIKES_DIR, help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    previous = signal.signal(signal.SIGTERM, _interrupt)
    # a shell that starts us in the background ignores SIGINT for us: Ctrl-C must still work
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return serve(args)
    except KeyboardInterrupt:  # during setup: the ExitStack has already stopped what started
        say("spikebench serve: interrupted during setup; stopped what was started")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
