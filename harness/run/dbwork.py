"""DB work per request, from PostgreSQL's own statistics.

Two sources, both read from the admin database so reading them adds nothing to the spike's:
- `pg_stat_database` of the trial's database: transactions, rows returned/fetched/written,
  blocks hit/read. Always there; a backend publishes its counters at most once a second (and an
  idle one within 10 s), so figures taken right after the load may miss up to ~1 s of each
  pooled connection's work (a few % of a trial; `note` says so).
- `pg_stat_statements`, when the server loads it (Debian's PostgreSQL has it; the pgserver wheel
  does not): statement calls, rows and shared blocks, updated at once. Only with it can a short
  sequential probe measure each endpoint alone, which is what makes an N+1 pattern visible
  (queries per request growing with the page size instead of staying flat).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg

DATABASE_COLUMNS = (
    "xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted",
    "tup_updated", "tup_deleted", "blks_hit", "blks_read",
)
# Transaction control is counted apart, so `queries` means the SQL an ORM actually sent.
CONTROL = r"^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|SAVEPOINT|RELEASE|SET |SHOW |DISCARD)"
STATEMENTS_SQL = f"""
SELECT coalesce(sum(s.calls) FILTER (WHERE s.query !~* '{CONTROL}'), 0),
       coalesce(sum(s.calls), 0), coalesce(sum(s.rows), 0),
       coalesce(sum(s.shared_blks_hit), 0), coalesce(sum(s.shared_blks_read), 0)
FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s
"""
NOTE = (
    "pg_stat_database counters are published by each backend at most once a second: "
    "up to ~1 s of each pooled connection's last work in a scenario's turn may be counted "
    "in the next turn on the same database copy instead"
)


class Server(Protocol):
    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]: ...


@dataclass(frozen=True)
class Snapshot:
    """Cumulative counters of one database at one moment."""

    database: dict[str, int]
    statements: dict[str, int] | None  # None: pg_stat_statements is not loaded


def statements_enabled(server: Server) -> bool:
    """pg_stat_statements is preloaded; its view is created in the admin database if missing."""
    with server.connect() as conn:
        row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
        if not row or "pg_stat_statements" not in str(row[0]):
            return False
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        except psycopg.Error:
            return False
    return True


def snapshot(server: Server, dbname: str, statements: bool) -> Snapshot:
    return snapshots(server, [dbname], statements)[dbname]


def snapshots(server: Server, dbnames: list[str], statements: bool) -> dict[str, Snapshot]:
    """The counters of several databases over one connection (a connection per database was
    most of what reading them cost between an interleaved scenario's turns)."""
    out = {}
    with server.connect() as conn:
        for dbname in dbnames:
            row = conn.execute(
                f"SELECT {', '.join(DATABASE_COLUMNS)} FROM pg_stat_database WHERE datname = %s",
                [dbname],
            ).fetchone()
            database = dict(zip(DATABASE_COLUMNS, (int(v or 0) for v in row or ()), strict=False))
            stmts = None
            if statements:
                calls = conn.execute(STATEMENTS_SQL, [dbname]).fetchone() or (0, 0, 0, 0, 0)
                keys = ("queries", "statements", "rows", "blocks_hit", "blocks_read")
                stmts = dict(zip(keys, (int(v) for v in calls), strict=True))
            out[dbname] = Snapshot(database, stmts)
    return out


def per_request(before: Snapshot, after: Snapshot, requests: int) -> dict[str, Any]:
    """What each request cost the database on average between two snapshots."""
    n = max(requests, 1)
    d = {k: after.database.get(k, 0) - before.database.get(k, 0) for k in DATABASE_COLUMNS}
    out: dict[str, Any] = {
        "requests": requests,
        "transactions": (d["xact_commit"] + d["xact_rollback"]) / n,
        "rows_returned": d["tup_returned"] / n,
        "rows_fetched": d["tup_fetched"] / n,
        "rows_written": (d["tup_inserted"] + d["tup_updated"] + d["tup_deleted"]) / n,
        "blocks_hit": d["blks_hit"] / n,
        "blocks_read": d["blks_read"] / n,
        "queries": None,
        "statements": None,
        "statement_rows": None,
        "statement_blocks": None,
    }
    if before.statements is not None and after.statements is not None:
        s = {k: after.statements[k] - before.statements[k] for k in after.statements}
        out["queries"] = s["queries"] / n
        out["statements"] = s["statements"] / n
        out["statement_rows"] = s["rows"] / n
        out["statement_blocks"] = (s["blocks_hit"] + s["blocks_read"]) / n
    return out


# -- the per-endpoint probe ----------------------------------------------------------------------


@dataclass
class Client:
    """A minimal JSON client for the probe (stdlib only: the harness has no HTTP library)."""

    base_url: str
    token: str | None = None

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw, status = resp.read(), resp.status
        except urllib.error.HTTPError as exc:
            raw, status = exc.read(), exc.code
        return status, json.loads(raw) if raw else None


@dataclass(frozen=True)
class Probe:
    """One endpoint: `prepare` runs outside the measured window and returns what `send` needs."""

    endpoint: str
    send: Callable[[Client, Any, int], tuple[int, Any]]
    prepare: Callable[[Client, int], Any] = lambda client, repeats: None


def _own_item(client: Client, repeats: int) -> int:
    status, page = client.call("GET", "/items?limit=1")
    if status != 200 or not page["items"]:
        status, item = client.call("POST", "/items", {"name": "probe", "price": 1})
        return int(item["id"])
    return int(page["items"][0]["id"])


def _fresh_items(client: Client, repeats: int) -> list[int]:
    return [int(client.call("POST", "/items", {"name": "probe", "price": 1})[1]["id"])
            for _ in range(repeats)]


def contract_probes(seed_user: str, seed_password: str) -> dict[str, Probe]:
    """The probe of each scenario task (scenarios/locustfile.py), named as Locust names it."""
    creds = {"username": seed_user, "password": seed_password}
    return {
        "get_item": Probe("GET /items/{id}", lambda c, i, n: c.call("GET", f"/items/{i}"),
                          _own_item),
        "list_items": Probe("GET /items", lambda c, _, n: c.call("GET", "/items?limit=20")),
        "create_item": Probe("POST /items", lambda c, _, n: c.call(
            "POST", "/items", {"name": "probe", "price": 2.5})),
        "update_item": Probe("PUT /items/{id}", lambda c, i, n: c.call(
            "PUT", f"/items/{i}", {"name": f"p{n}", "price": n, "description": None}), _own_item),
        "patch_item": Probe("PATCH /items/{id}", lambda c, i, n: c.call(
            "PATCH", f"/items/{i}", {"price": n}), _own_item),
        "delete_item": Probe("DELETE /items/{id}", lambda c, ids, n: c.call(
            "DELETE", f"/items/{ids[n]}"), _fresh_items),
        "live_write": Probe("PATCH /items/{id}", lambda c, i, n: c.call(
            "PATCH", f"/items/{i}", {"description": f"rt:probe:{n}"}), _own_item),
        "get_me": Probe("GET /me", lambda c, _, n: c.call("GET", "/me")),
        "register": Probe("POST /auth/register", lambda c, stamp, n: c.call(
            "POST", "/auth/register", {"username": f"pr{stamp}_{n}", "password": seed_password}),
            lambda c, n: int(time.time() * 1000) % 10**9),
        "login": Probe("POST /auth/login", lambda c, _, n: c.call("POST", "/auth/login", creds)),
    }


def probe_endpoints(
    server: Server, dbname: str, client: Client, probes: Iterable[Probe], repeats: int = 10
) -> dict[str, dict[str, Any]]:
    """Each endpoint alone, `repeats` sequential requests, measured by pg_stat_statements."""
    results: dict[str, dict[str, Any]] = {}
    for probe in probes:
        state = probe.prepare(client, repeats)
        before = snapshot(server, dbname, statements=True)
        statuses = [probe.send(client, state, n)[0] for n in range(repeats)]
        after = snapshot(server, dbname, statements=True)
        row = per_request(before, after, repeats)
        # pg_stat_database lags (see NOTE): only the immediate statement figures are per endpoint
        results[probe.endpoint] = {
            "requests": repeats,
            "statuses": sorted(set(statuses)),
            "queries": row["queries"],
            "statements": row["statements"],
            "rows": row["statement_rows"],
            "blocks": row["statement_blocks"],
        }
    return results


def accumulate(total: Snapshot | None, before: Snapshot, after: Snapshot) -> Snapshot:
    """`total` plus what happened between two snapshots of one database, counter by counter."""

    def plus(base: dict[str, int] | None, a: dict[str, int] | None, b: dict[str, int] | None
             ) -> dict[str, int] | None:  # fmt: skip
        if a is None or b is None:
            return None
        return {k: (base or {}).get(k, 0) + b[k] - a.get(k, 0) for k in b}

    database = plus(total.database if total else None, before.database, after.database)
    statements = plus(total.statements if total else None, before.statements, after.statements)
    return Snapshot(database or {}, statements)


def trial_db_work(
    server: Server, dbname: str, base_url: str, tasks: Iterable[str], work: Snapshot,
    sent: int, seed_user: str, seed_password: str, repeats: int = 10,
) -> dict[str, Any]:
    """The trial's `metrics.db_work`: `work`, the database's counters over the trial (summed
    over an interleaved scenario's turns on its database copies, warm-ups included), divided by
    the `sent` requests; then, with pg_stat_statements, the per-endpoint probe on `dbname`."""
    statements = work.statements is not None
    try:
        zero = Snapshot(dict.fromkeys(DATABASE_COLUMNS, 0), dict.fromkeys(work.statements, 0)
                        if work.statements is not None else None)  # fmt: skip
        totals = per_request(zero, work, sent)
        endpoints: dict[str, dict[str, Any]] = {}
        if statements:
            client = Client(base_url)
            status, token = client.call(
                "POST", "/auth/login", {"username": seed_user, "password": seed_password}
            )
            if status == 200:
                client.token = token["access_token"]
                table = contract_probes(seed_user, seed_password)
                chosen = [table[t] for t in tasks if t in table]
                endpoints = probe_endpoints(server, dbname, client, chosen, repeats)
        return {"statements_available": statements, "totals": totals, "endpoints": endpoints,
                "note": NOTE, "error": None}
    except (psycopg.Error, OSError, KeyError, ValueError, TypeError) as exc:
        # DB work is a side measurement: its failure is recorded, never a failed trial.
        return {"statements_available": False, "totals": None, "endpoints": {},
                "note": NOTE, "error": f"{type(exc).__name__}: {exc}"[:500]}


def since_creation(server: Server, dbname: str, raw_dir: Path) -> tuple[Snapshot, int]:
    """A trials-design trial: its database's counters since it was copied, and every request
    its Locust wrote (warm-up included)."""
    from harness.run.metrics import read_requests

    try:
        statements = statements_enabled(server)
    except psycopg.Error:
        statements = False
    return snapshot(server, dbname, statements), len(read_requests(raw_dir))
