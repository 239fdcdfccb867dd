"""Shared fixtures: one real PostgreSQL per test session, and running spikes on demand."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.manifest import Parity, SpikeManifest, load_parity
from harness.run.postgres import Postgres, free_port, postgres_server
from harness.run.seed import seed_password_hash
from harness.run.server import SpikeServer
from harness.run.spikeenv import ensure_env
from harness.run.upstream_proc import UpstreamStub

TEST_TEMPLATE = "spikebench_test_template"
TEST_USERS, TEST_ITEMS_PER_USER = 20, 5


@pytest.fixture(scope="session")
def parity() -> Parity:
    return load_parity()


@pytest.fixture(scope="session")
def pg() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def template(pg: Postgres, parity: Parity) -> str:
    return pg.create_template(
        TEST_USERS, TEST_ITEMS_PER_USER, seed_password_hash(parity), name=TEST_TEMPLATE
    )


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamStub]:
    """The pricing-service stub the quote endpoint calls: fast (1 ms), no injected errors; tests
    steer single items through its control API (set_rule / drop_rule)."""
    log = tmp_path_factory.mktemp("upstream") / "upstream.log"
    stub = UpstreamStub(log, delay="fixed:1", seed=1).start()
    try:
        yield stub
    finally:
        stub.stop()


@contextlib.contextmanager
def running_spike(
    manifest: SpikeManifest,
    pg: Postgres,
    parity: Parity,
    dbname: str,
    logs: Path,
    template: str | None,
    env: dict[str, str] | None = None,
) -> Iterator[SpikeServer]:
    """A spike under its real server on a fresh database; stopped and dropped afterwards.
    `env` adds to the contract's variables (SPIKE_UPSTREAM_URL)."""
    venv = ensure_env(manifest)
    url = pg.create_database(dbname, template=template) if template else pg.url(dbname)
    server = SpikeServer(
        manifest, venv, free_port(), logs / f"{manifest.name}.log", extra_env=dict(env or {})
    )
    try:
        server.launch(url, parity, timeout=90)
        yield server
    finally:
        server.stop()
        if template:
            pg.drop_database(dbname)


@pytest.fixture
def pids_before() -> set[int]:
    """The processes that existed before a test: what it may not leave behind is the rest."""
    import psutil

    return set(psutil.pids())
