"""Shared fixtures: one real PostgreSQL per test session, and running spikes on demand.

`make test` runs the suite in two parts: everything but the tests that measure the machine on
2 pytest-xdist workers (`--dist loadgroup`: every test of one spike on one worker, so each spike
starts once), then the measuring tests alone, so no worker's load can make their slices invalid.
Each worker is its own session: its own embedded PostgreSQL (own folder, own free port).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.manifest import Parity, SpikeManifest, load_parity
from harness.run.postgres import Postgres, free_port, postgres_server
from harness.run.seed import seed_password_hash
from harness.run.server import SpikeServer
from harness.run.spikeenv import ensure_env
from harness.run.upstream_proc import UpstreamStub

# a worker's own template: with DATABASE_URL, two workers share one server
TEST_TEMPLATE = "spikebench_test_template" + (
    f"_{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else ""
)
# Tests that run benchmarks and judge their validity (noisy neighbours, probe speed, slices left
# out): `make test` runs them after the parallel part, one at a time (marker `serial`).
MEASURING = {
    "test_interleave.py",
    "test_engine_faults.py",
    "test_open_model.py",
    "test_loadgen_workers.py",
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group each spike's tests (one xdist worker starts it once); mark the measuring tests."""
    serial = pytest.mark.serial
    for item in items:
        if item.path.name in MEASURING:
            item.add_marker(serial)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "spike" in params:
            name = getattr(params["spike"], "name", params["spike"])
            # no @ in a group name: xdist splits the node id at its last @
            item.add_marker(pytest.mark.xdist_group(f"spike-{name}".replace("@", "+")))
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
