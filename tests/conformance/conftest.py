"""Every spike found in spikes/ is started once and the whole suite runs against it.

External-target mode: with SPIKEBENCH_CONFORMANCE_URL set (plus SPIKEBENCH_CONFORMANCE_DATABASE_URL,
the database that server uses, reachable from here, and optionally SPIKEBENCH_CONFORMANCE_SPIKE,
its spike name), the suite runs over HTTP against that already running server instead, e.g. a
container (`make test-containers`). The database is given the suite's seed through that URL if it
is empty. Tests that start their own spike process (test_health.py) are skipped in that mode.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from harness.manifest import Parity, SpikeManifest, discover_candidates, ident
from harness.paths import CONTRACT_DIR
from harness.run.seed import load_seed_module, seed_password_hash
from harness.run.server import SpikeServer
from tests.conftest import TEST_ITEMS_PER_USER, TEST_USERS, running_spike

SPIKES = discover_candidates()  # every spike and every variant of it
PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)

EXTERNAL_URL = os.environ.get("SPIKEBENCH_CONFORMANCE_URL", "").rstrip("/")
EXTERNAL_DB = os.environ.get("SPIKEBENCH_CONFORMANCE_DATABASE_URL", "")
EXTERNAL_SPIKE = os.environ.get("SPIKEBENCH_CONFORMANCE_SPIKE", "external")


@dataclass(frozen=True)
class ExternalServer:
    """A spike someone else started (a container, a staging host): only its address is ours."""

    name: str
    base_url: str
    manifest: SpikeManifest | None = None


@dataclass
class Spike:
    server: SpikeServer | ExternalServer
    dburl: str
    client: httpx.Client

    @property
    def name(self) -> str:
        if isinstance(self.server, ExternalServer):
            return self.server.name
        return self.server.manifest.name

    @property
    def manifest(self) -> SpikeManifest | None:
        return self.server.manifest

    def require(self, feature: str) -> None:
        """Skip, saying so, where the candidate's manifest does not list a contract v2 feature."""
        if self.manifest is None or not self.manifest.supports(feature):
            pytest.skip(f"{self.name}: {feature} not supported (spike.toml features)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """External mode: a test that does not use the `spike` fixture starts its own process."""
    if not EXTERNAL_URL:
        return
    here = os.path.dirname(__file__)
    skip = pytest.mark.skip(reason="external target: this test starts its own spike process")
    for item in items:
        if str(item.path).startswith(here) and "spike" not in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def ensure_test_seed(dburl: str, parity: Parity) -> None:
    """Give an external database the suite's seed (TEST_USERS x TEST_ITEMS_PER_USER), once.

    A database holding a different seed would make the seeded-user tests fail for the wrong
    reason, so that is refused with a clear message instead."""
    with psycopg.connect(dburl, autocommit=True, connect_timeout=10) as conn:
        if conn.execute("SELECT to_regclass('public.users')").fetchone() == (None,):
            conn.execute((CONTRACT_DIR / "schema.sql").read_text())
        seeded = conn.execute(
            "SELECT count(*) FROM users WHERE username ~ '^user[0-9]{4}$'"
        ).fetchone()
        if seeded == (0,):
            seed = load_seed_module()
            with psycopg.connect(dburl) as tx:
                seed.load(
                    tx, seed.SeedSpec(TEST_USERS, TEST_ITEMS_PER_USER), seed_password_hash(parity)
                )
            return
        items = conn.execute(
            "SELECT count(*) FROM items i JOIN users u ON u.id = i.owner_id "
            "WHERE u.username = 'user0002' AND i.id <= %s",
            [TEST_USERS * TEST_ITEMS_PER_USER],
        ).fetchone()
        if seeded != (TEST_USERS,) or items != (TEST_ITEMS_PER_USER,):
            pytest.fail(
                f"{EXTERNAL_DB}: holds another seed ({seeded[0] if seeded else '?'} seeded users); "
                f"the suite needs {TEST_USERS} x {TEST_ITEMS_PER_USER}: use an empty database",
                pytrace=False,
            )


@pytest.fixture(
    scope="session",
    params=[EXTERNAL_SPIKE] if EXTERNAL_URL else SPIKES,
    ids=[EXTERNAL_SPIKE] if EXTERNAL_URL else [s.name for s in SPIKES],
)
def spike(
    request: pytest.FixtureRequest,
    parity: Parity,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Spike]:
    if EXTERNAL_URL:
        if not EXTERNAL_DB:
            pytest.fail(
                "SPIKEBENCH_CONFORMANCE_URL needs SPIKEBENCH_CONFORMANCE_DATABASE_URL (the "
                "database that server uses, reachable from here)",
                pytrace=False,
            )
        ensure_test_seed(EXTERNAL_DB, parity)
        manifest = next((s for s in SPIKES if s.name == request.param), None)
        server = ExternalServer(request.param, EXTERNAL_URL, manifest)
        with httpx.Client(base_url=EXTERNAL_URL, timeout=30) as client:
            yield Spike(server, EXTERNAL_DB, client)
        return
    # the session database only when the suite starts the spikes itself
    pg = request.getfixturevalue("pg")
    template = request.getfixturevalue("template")
    manifest = request.param
    dbname = f"conformance_{ident(manifest.name)}"
    logs = tmp_path_factory.mktemp(f"logs-{manifest.name}")
    env = {"SPIKE_UPSTREAM_URL": request.getfixturevalue("upstream").url}
    with (
        running_spike(manifest, pg, parity, dbname, logs, template, env) as local,
        httpx.Client(base_url=local.base_url, timeout=30) as client,
    ):
        yield Spike(local, pg.url(dbname), client)


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
