"""harness/run/dbwork.py against a real PostgreSQL: counters, deltas, and an N+1 made visible."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.run import dbwork
from harness.run.postgres import Postgres, has_pg_stat_statements, start_embedded

OWNERS, ITEMS = 5, 20


def test_per_request_divides_the_deltas() -> None:
    cols = dict.fromkeys(dbwork.DATABASE_COLUMNS, 0)
    before = dbwork.Snapshot(
        dict(cols), {"queries": 10, "statements": 14, "rows": 5, "blocks_hit": 7, "blocks_read": 1}
    )
    after = dbwork.Snapshot(
        {**cols, "xact_commit": 8, "xact_rollback": 2, "tup_fetched": 40, "tup_inserted": 4,
         "tup_updated": 2, "tup_deleted": 2, "blks_hit": 90, "blks_read": 10},
        {"queries": 30, "statements": 44, "rows": 25, "blocks_hit": 47, "blocks_read": 1},
    )
    out = dbwork.per_request(before, after, 10)
    assert out["transactions"] == 1.0 and out["rows_fetched"] == 4.0
    assert out["rows_written"] == 0.8 and out["blocks_hit"] == 9.0 and out["blocks_read"] == 1.0
    assert (out["queries"], out["statements"], out["statement_rows"]) == (2.0, 3.0, 2.0)
    assert out["statement_blocks"] == 4.0
    without = dbwork.per_request(dbwork.Snapshot(cols, None), dbwork.Snapshot(cols, None), 0)
    assert without["queries"] is None and without["transactions"] == 0.0


def test_an_interleaved_scenario_adds_up_its_turns_on_every_database_copy() -> None:
    """Two turns on two copies (two epochs): each turn's delta counts, the counters the copy had
    before the turn (another scenario's work, or nothing) do not."""
    cols = dict.fromkeys(dbwork.DATABASE_COLUMNS, 0)

    def snap(commits: int, queries: int | None) -> dbwork.Snapshot:
        stmts = None if queries is None else {"queries": queries, "statements": queries,
                                              "rows": 0, "blocks_hit": 0, "blocks_read": 0}
        return dbwork.Snapshot({**cols, "xact_commit": commits}, stmts)  # fmt: skip

    total = dbwork.accumulate(None, snap(100, 7), snap(130, 10))  # turn 1, copy of epoch 1
    total = dbwork.accumulate(total, snap(5, 0), snap(15, 4))  # turn 2, a fresh copy
    assert total.database["xact_commit"] == 40 and total.statements["queries"] == 7  # type: ignore[index]
    out = dbwork.per_request(dbwork.Snapshot(cols, dict.fromkeys(total.statements or {}, 0)),
                             total, 20)  # fmt: skip
    assert out["transactions"] == 2.0 and out["queries"] == 0.35
    without = dbwork.accumulate(None, snap(0, None), snap(3, None))
    assert without.statements is None and without.database["xact_commit"] == 3


def _settle(pg: Postgres, db: str, key: str, want: int, start: int) -> int:
    """Counters are published when a backend exits or idles; poll until they arrive."""
    deadline = time.monotonic() + 15
    while True:
        value = dbwork.snapshot(pg, db, statements=False).database[key] - start
        if value >= want or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_snapshot_counts_real_work(pg: Postgres) -> None:
    db = "dbwork_counts"
    pg.create_database(db)
    try:
        with psycopg.connect(pg.url(db), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        base = dbwork.snapshot(pg, db, statements=False)
        with psycopg.connect(pg.url(db), autocommit=True) as conn:
            for i in range(10):
                conn.execute("INSERT INTO t VALUES (%s, 'x')", [i])
            conn.execute("UPDATE t SET v = 'y' WHERE id < 3")
            conn.execute("DELETE FROM t WHERE id = 9")
        inserted = _settle(pg, db, "tup_inserted", 10, base.database["tup_inserted"])
        after = dbwork.snapshot(pg, db, statements=False)
        assert inserted == 10
        assert after.database["tup_updated"] - base.database["tup_updated"] == 3
        assert after.database["tup_deleted"] - base.database["tup_deleted"] == 1
        assert after.database["xact_commit"] - base.database["xact_commit"] >= 12
    finally:
        pg.drop_database(db)


def _debian_bin() -> Path | None:
    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin")):
        if (bindir / "postgres").exists() and has_pg_stat_statements(bindir):
            return bindir
    return None


@pytest.fixture(scope="module")
def stats_pg() -> Iterator[Postgres]:
    """A cluster that loads pg_stat_statements (Debian's binaries), or a skip."""
    bindir = _debian_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries with pg_stat_statements (Debian's postgresql-NN)")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPIKEBENCH_PG_BIN", str(bindir))
        server = start_embedded()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def tiny_app(url: str) -> Iterator[str]:
    """A real HTTP app on a real database: /flat joins once, /nplus1 loads each owner apart."""
    conn = psycopg.connect(url, autocommit=True)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            with lock:
                if self.path == "/flat":
                    conn.execute(
                        "SELECT i.id, o.name FROM items i JOIN owners o ON o.id = i.owner_id"
                    ).fetchall()
                else:
                    for (owner_id,) in conn.execute("SELECT owner_id FROM items").fetchall():
                        conn.execute("SELECT name FROM owners WHERE id = %s", [owner_id]).fetchone()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        conn.close()


def test_probe_makes_an_n_plus_one_visible(stats_pg: Postgres) -> None:
    db = "dbwork_probe"
    stats_pg.create_database(db)
    with psycopg.connect(stats_pg.url(db), autocommit=True) as conn:
        conn.execute("CREATE TABLE owners (id int PRIMARY KEY, name text)")
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, owner_id int REFERENCES owners)")
        conn.execute("INSERT INTO owners SELECT g, 'o' || g FROM generate_series(1, %s) g",
                     [OWNERS])
        conn.execute(
            "INSERT INTO items SELECT g, 1 + g %% %s FROM generate_series(1, %s) g",
            [OWNERS, ITEMS],
        )
    assert dbwork.statements_enabled(stats_pg)
    with tiny_app(stats_pg.url(db)) as base_url:
        probes = [
            dbwork.Probe("GET /flat", lambda c, s, n: c.call("GET", "/flat")),
            dbwork.Probe("GET /nplus1", lambda c, s, n: c.call("GET", "/nplus1")),
        ]
        found = dbwork.probe_endpoints(stats_pg, db, dbwork.Client(base_url), probes, repeats=5)
    assert found["GET /flat"]["queries"] == 1.0
    assert found["GET /flat"]["rows"] == ITEMS
    assert found["GET /nplus1"]["queries"] == 1.0 + ITEMS
    assert found["GET /nplus1"]["rows"] == 2 * ITEMS
    assert found["GET /flat"]["statuses"] == [200]
