"""Concurrent writes and a database restart under load: the contract's concurrency rules.

Each race fires N requests at one resource from N threads (own connections) released by a
barrier, so the spike's workers really do overlap. Rules (contract README, "Hostile input and
concurrency"): exactly one of N deletes is a 204; exactly one of N registrations is a 201; a
concurrent PUT/PATCH never answers 5xx and the final row is one whole write; while the database
restarts, a 5xx is only a 503 in the error shape and the spike serves again by itself.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.manifest import Parity, SpikeManifest, ident
from harness.run.postgres import Postgres, start_embedded
from harness.run.seed import seed_password_hash
from tests.conformance.conftest import PASSWORD, SPIKES, Spike, User, unique_username
from tests.conftest import running_spike

N = 8
ROUNDS = 4


def race(base_url: str, calls: list[Callable[[httpx.Client], httpx.Response]]) -> list[Any]:
    """Run the calls at the same moment, one thread and one connection each."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[httpx.Client], httpx.Response]) -> Any:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            client.get("/health")  # open the connection before the start line
            barrier.wait()
            return call(client)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def test_concurrent_deletes_acknowledge_once(spike: Spike, user: User, make_item: Any) -> None:
    for _ in range(ROUNDS):
        item = make_item(user)
        path = f"/items/{item['id']}"
        answers = race(
            spike.server.base_url, [lambda c, p=path: c.delete(p, headers=user.headers)] * N
        )
        assert statuses(answers) == Counter({204: 1, 404: N - 1}), [
            (r.status_code, r.text[:120]) for r in answers
        ]
        assert spike.client.get(path, headers=user.headers).status_code == 404


def test_concurrent_registrations_create_once(spike: Spike) -> None:
    name = unique_username("race")
    body = {"username": name, "password": PASSWORD}
    answers = race(spike.server.base_url, [lambda c: c.post("/auth/register", json=body)] * N)
    assert statuses(answers) == Counter({201: 1, 409: N - 1}), [r.text[:120] for r in answers]
    assert all(r.json()["error"] == "username_taken" for r in answers if r.status_code == 409)


def _writes() -> list[dict[str, Any]]:
    return [{"name": f"w{i}", "description": f"d{i}", "price": i + 1} for i in range(N)]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_concurrent_updates_leave_one_whole_write(
    spike: Spike, user: User, make_item: Any, method: str
) -> None:
    item = make_item(user)
    path = f"/items/{item['id']}"
    writes = _writes()
    calls = [
        lambda c, w=w: c.request(method, path, json=w, headers=user.headers) for w in writes
    ]
    answers = race(spike.server.base_url, calls)
    assert statuses(answers) == Counter({200: N}), [(r.status_code, r.text[:120]) for r in answers]
    final = spike.client.get(path, headers=user.headers).json()
    assert {k: final[k] for k in ("name", "description", "price")} in writes, final


def test_updates_racing_a_delete_never_fail(spike: Spike, user: User, make_item: Any) -> None:
    for _ in range(ROUNDS):
        item = make_item(user)
        path = f"/items/{item['id']}"
        calls: list[Callable[[httpx.Client], httpx.Response]] = []
        for i, write in enumerate(_writes()):
            if i % 2:
                calls.append(lambda c, p=path: c.delete(p, headers=user.headers))
            else:
                method = "PUT" if i % 4 == 0 else "PATCH"
                calls.append(
                    lambda c, w=write, m=method, p=path: c.request(
                        m, p, json=w, headers=user.headers
                    )
                )
        answers = race(spike.server.base_url, calls)
        shown = [(r.request.method, r.status_code, r.text[:100]) for r in answers]
        assert all(r.status_code in {200, 204, 404} for r in answers), shown
        assert sum(r.status_code == 204 for r in answers) == 1, shown


# -- the database restarting under load ----------------------------------------------------------


@pytest.fixture(scope="module")
def own_pg(parity: Parity) -> Iterator[tuple[Postgres, str]]:
    """A cluster this module owns, so it can be restarted without disturbing the session's."""
    server = start_embedded()
    try:
        yield server, server.create_template(2, 2, seed_password_hash(parity), name="restart_tpl")
    finally:
        server.stop()


def _burst(base_url: str, headers: dict[str, str], stop: threading.Event, out: list[Any]) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 3 == 0:
                    resp = client.post("/items", json={"name": "b", "price": 1}, headers=headers)
                else:
                    resp = client.get("/items" if n % 3 == 1 else "/me", headers=headers)
                out.append((time.monotonic(), resp.status_code, resp.headers, resp.text))
            except httpx.HTTPError as exc:
                out.append((time.monotonic(), None, {}, f"{type(exc).__name__}: {exc}"))


def _serves(client: httpx.Client, headers: dict[str, str]) -> bool:
    try:
        return (
            client.get("/health").status_code == 200
            and client.get("/items", headers=headers).status_code == 200
            and client.post("/items", json={"name": "r", "price": 2}, headers=headers).status_code
            == 201
        )
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("manifest", SPIKES, ids=[s.name for s in SPIKES])
def test_database_restart_under_load(
    manifest: SpikeManifest, own_pg: tuple[Postgres, str], parity: Parity, tmp_path: Path
) -> None:
    pg, template = own_pg
    dbname = f"restart_{ident(manifest.name)}"
    with running_spike(manifest, pg, parity, dbname, tmp_path, template) as srv:
        pid = srv.proc.pid if srv.proc else None
        client = httpx.Client(base_url=srv.base_url, timeout=30)
        name = unique_username("rs")
        client.post("/auth/register", json={"username": name, "password": PASSWORD})
        token = client.post("/auth/login", json={"username": name, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        stop, answers = threading.Event(), []
        threads = [
            threading.Thread(target=_burst, args=(srv.base_url, headers, stop, answers))
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        try:
            time.sleep(1.5)
            pg.restart(down_s=1.5)
            deadline = time.monotonic() + 30
            while not _serves(client, headers):
                assert time.monotonic() < deadline, "the spike did not recover within 30 s"
                time.sleep(0.25)
            time.sleep(1.0)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        assert srv.alive() and (srv.proc.pid if srv.proc else None) == pid
        bad = [
            (status, text[:160]) for _, status, hdrs, text in answers
            if status is None or (status >= 500 and not _is_503(status, hdrs, text))
            or status not in {200, 201, 503}
        ]
        assert answers and not bad, f"{len(bad)} of {len(answers)} broke the rule: {bad[:6]}"
        client.close()


def _is_503(status: int, headers: Any, text: str) -> bool:
    import json

    if status != 503 or not headers.get("content-type", "").startswith("application/json"):
        return False
    body = json.loads(text)
    return set(body) == {"error", "detail"} and body["error"] == "database_unavailable"
