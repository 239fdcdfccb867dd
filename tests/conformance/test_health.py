"""/health is the harness's readiness probe: it must tell a dead database from a live one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness.manifest import Parity, SpikeManifest
from harness.run.postgres import Postgres, free_port
from harness.run.server import SpikeServer, http_get
from harness.run.spikeenv import ensure_env
from tests.conformance.conftest import SPIKES


@pytest.mark.parametrize("manifest", SPIKES, ids=[s.name for s in SPIKES])
def test_health_is_503_when_database_is_unreachable(
    manifest: SpikeManifest, pg: Postgres, parity: Parity, tmp_path: Path
) -> None:
    server = SpikeServer(manifest, ensure_env(manifest), free_port(), tmp_path / "spike.log")
    server.start(pg.url("no_such_database"), parity)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.alive(), f"spike died without a database:\n{server.log_tail()}"
            try:
                status, body = http_get(server.base_url + "/health", timeout=10)
                break
            except OSError:
                assert time.monotonic() < deadline, "spike never answered"
                time.sleep(0.1)
        assert status == 503, body
        assert json.loads(body)["error"] == "database_unavailable"
    finally:
        server.stop()
