"""Every spike found in spikes/ is started once and the whole suite runs against it."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from harness.manifest import Parity, discover_spikes
from harness.postgres import Postgres
from harness.server import SpikeServer
from tests.conftest import running_spike

SPIKES = discover_spikes()
PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


@dataclass
class Spike:
    server: SpikeServer
    dburl: str
    client: httpx.Client

    @property
    def name(self) -> str:
        return self.server.manifest.name


@pytest.fixture(scope="session", params=SPIKES, ids=[s.name for s in SPIKES])
def spike(
    request: pytest.FixtureRequest,
    pg: Postgres,
    template: str,
    parity: Parity,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Spike]:
    manifest = request.param
    dbname = f"conformance_{manifest.name}"
    logs = tmp_path_factory.mktemp(f"logs-{manifest.name}")
    with (
        running_spike(manifest, pg, parity, dbname, logs, template) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        yield Spike(server, pg.url(dbname), client)


@pytest.fixture
def client(spike: Spike) -> httpx.Client:
    return spike.client


def unique_username(prefix: str = "u") -> str:
    return f"{prefix}{next(_counter)}_{id(object()) % 100000}"[:32]


@dataclass
class User:
    id: int
    username: str
    headers: dict[str, str]


@pytest.fixture
def make_user(client: httpx.Client) -> Callable[[], User]:
    """Registers and logs in a fresh user: tests never share state through users."""

    def make() -> User:
        name = unique_username()
        resp = client.post("/auth/register", json={"username": name, "password": PASSWORD})
        assert resp.status_code == 201, resp.text
        user_id = resp.json()["id"]
        resp = client.post("/auth/login", json={"username": name, "password": PASSWORD})
        assert resp.status_code == 200, resp.text
        token = resp.json()["access_token"]
        return User(user_id, name, {"Authorization": f"Bearer {token}"})

    return make


@pytest.fixture
def user(make_user: Callable[[], User]) -> User:
    return make_user()


@pytest.fixture
def make_item(client: httpx.Client) -> Callable[..., dict[str, Any]]:
    def make(owner: User, **fields: Any) -> dict[str, Any]:
        body = {"name": "widget", "price": 9.99, **fields}
        resp = client.post("/items", json=body, headers=owner.headers)
        assert resp.status_code == 201, resp.text
        return dict(resp.json())

    return make


def assert_error(resp: httpx.Response, status: int, code: str) -> None:
    """The one error body of the contract: exactly {"error", "detail"}."""
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text}"
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert set(body) == {"error", "detail"}, body
    assert body["error"] == code, body
    assert isinstance(body["detail"], str), body
    if status == 401:
        assert resp.headers.get("www-authenticate", "").lower().startswith("bearer"), resp.headers
