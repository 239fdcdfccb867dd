"""--reconnect-each-slice: after every pause each closed-model user drops its keep-alive
connection, so the split of connections over a spike's workers is drawn per slice (a start of
litestar with all 16 on one worker ran 20 % faster). Counted on a stub server's accepts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.run.loadgen import Loadgen, LoadgenConfig
from harness.run.postgres import free_port
from harness.run.procs import stop_group
from harness.scenario import load_scenario
from tests.test_engine_faults import FIXTURES

USERS, SLICES = 4, 3


def connections(tmp_path: Path, reconnect: bool) -> int:
    scenario = tmp_path / "closed.toml"
    scenario.write_text(f'[scenario]\ndescription = "closed"\nusers = {USERS}\nspawn_rate = 100\n'
                        'wait = [0.0, 0.0]\n[tasks]\nget_me = 1\n')  # fmt: skip
    port, log = free_port(), tmp_path / f"connections-{reconnect}.txt"
    stub = subprocess.Popen([sys.executable, str(FIXTURES / "stub_server.py"), "--port", str(port),
                             "--connections-file", str(log)], start_new_session=True)  # fmt: skip
    try:
        time.sleep(0.5)
        lg = Loadgen(load_scenario(scenario), f"http://127.0.0.1:{port}", tmp_path / str(reconnect),
                     LoadgenConfig(warmup_s=1, measure_s=0, seed_users=10, seed_items=5,
                                   seed_password="x", random_seed=1, gated=True, run_time_s=60,
                                   reconnect=reconnect))  # fmt: skip
        lg.start()
        lg.wait_ready()
        time.sleep(1.5)  # the warm-up: users spawn, log in and send
        lg.pause()
        for _ in range(SLICES):
            lg.resume()
            time.sleep(0.4)
            lg.pause()
        lg.stop()
    finally:
        stop_group(stub)  # type: ignore[arg-type]
    return len(log.read_text().split()) if log.exists() else 0


@pytest.mark.parametrize("reconnect", [False, True])
def test_users_reconnect_after_each_pause_only_when_asked(tmp_path: Path, reconnect: bool) -> None:
    seen = connections(tmp_path, reconnect)
    if reconnect:
        assert seen >= USERS * (1 + SLICES), seen  # a new connection per user per slice
    else:
        assert USERS <= seen <= USERS + 1, seen  # kept for the whole life of the generator
