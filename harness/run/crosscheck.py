"""`spikebench crosscheck`: spikebench's saturated throughput against wrk's, per spike.

An independent generator on the same endpoint answers "is Locust measuring the spike, or
itself?". For each spike: one endpoint (GET /items/{id} as a seeded user), the same connections,
the same CPUs (spike and PostgreSQL on the SUT CPUs, the generator on the load-generator CPUs),
Locust and wrk alternated twice; the ratio Locust ÷ wrk per pair, and its mean. wrk is Debian's
package (`apt-get install wrk`); a ratio ≥ 0.95 says Locust's figure is the spike's.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.paths import RESULTS_DIR, SPIKES_DIR

SCENARIO = """[scenario]
description = "crosscheck: one endpoint, as one seeded user per Locust user"
users = {users}
spawn_rate = {users}
wait = [0.0, 0.0]
login_on_start = true
[tasks]
get_item = 1
"""
LUA = 'wrk.headers["Authorization"] = "Bearer {token}"\n'


def wrk_rps(url: str, token: str, connections: int, seconds: float, cpus: str | None,
            folder: Path) -> float:  # fmt: skip
    script = folder / "auth.lua"
    script.write_text(LUA.format(token=token))
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "-s", str(script), url]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    (folder / "wrk.txt").write_text(done.stdout + done.stderr)
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if done.returncode != 0 or not match:
        raise ConfigError(f"wrk failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", done.stdout)
    if non2xx and int(non2xx.group(1)):
        raise ConfigError(f"wrk got {non2xx.group(1)} error answers from {url}: check the token")
    return float(match.group(1))


def locust_rps(scenario: Path, base_url: str, warmup: float, seconds: float, cpus: str | None,
               folder: Path, users: int) -> float:  # fmt: skip
    from harness.run import metrics
    from harness.run.loadgen import Loadgen, LoadgenConfig
    from harness.run.seed import load_seed_module
    from harness.scenario import load_scenario

    lg = Loadgen(
        load_scenario(scenario),
        base_url,
        folder,
        LoadgenConfig(warmup_s=warmup, measure_s=seconds, seed_users=1000, seed_items=100,
                      seed_password=load_seed_module().SEED_PASSWORD, random_seed=1, cpus=cpus,
                      users=users),  # fmt: skip
    )
    lg.start()
    deadline = time.monotonic() + lg.run_time_s + 60
    while lg.running() and time.monotonic() < deadline:
        time.sleep(0.3)
    lg.stop()
    window = metrics.read_window(folder)
    if window is None:
        raise ConfigError(f"Locust wrote no window: {lg.log_tail()}")
    reqs = metrics.read_requests(folder).window(window["measure_start"], window["measure_end"])
    return len(reqs.where(reqs.ok)) / seconds


def crosscheck(args: argparse.Namespace) -> dict[str, Any]:
    from harness.manifest import ident, load_parity, select_spikes
    from harness.run.postgres import free_port, start_embedded
    from harness.run.runconfig import default_cpu_sets
    from harness.run.seed import load_seed_module, seed_password_hash
    from harness.run.serve import login
    from harness.run.server import SpikeServer
    from harness.run.spikeenv import ensure_env

    if not shutil.which("wrk"):
        raise ConfigError("wrk is not installed: apt-get install wrk (Debian's package)")
    sut, lg_cpus = default_cpu_sets()
    parity = load_parity(args.spikes_dir / "parity.toml")
    seed = load_seed_module()
    work = Path(tempfile.mkdtemp(prefix="spikebench-crosscheck-"))
    scenario = work / "crosscheck.toml"
    scenario.write_text(SCENARIO.format(users=args.connections))
    out: dict[str, Any] = {"connections": args.connections, "seconds": args.duration,
                           "sut_cpus": sut, "loadgen_cpus": lg_cpus, "spikes": {}}  # fmt: skip
    db = start_embedded(cpus=sut)
    try:
        template = db.create_template(1000, 100, seed_password_hash(parity))
        for manifest in select_spikes(args.spikes, args.spikes_dir):
            name = f"crosscheck_{ident(manifest.name)}"
            url = db.create_database(name, template=template)
            server = SpikeServer(manifest, ensure_env(manifest), free_port(),
                                 work / f"{manifest.name}.log", cpus=sut)  # fmt: skip
            try:
                server.launch(url, parity)
                token = login(server.base_url, seed.username(1), seed.SEED_PASSWORD)
                target = f"{server.base_url}/items/1"  # user0001's first seeded item
                pairs = []
                for i in range(args.rounds):
                    folder = work / f"{manifest.name}-{i}"
                    folder.mkdir()
                    loc = locust_rps(scenario, server.base_url, args.warmup, args.duration,
                                     lg_cpus, folder, args.connections)  # fmt: skip
                    wrk = wrk_rps(target, token["access_token"], args.connections,
                                  args.duration, lg_cpus, folder)  # fmt: skip
                    pairs.append({"locust_rps": loc, "wrk_rps": wrk, "ratio": loc / wrk})
                out["spikes"][manifest.name] = {
                    "pairs": pairs,
                    "ratio": statistics.fmean(p["ratio"] for p in pairs),
                }
                print(
                    f"{manifest.name}: Locust "
                    + ", ".join(f"{p['locust_rps']:.0f}" for p in pairs)
                    + " req/s; wrk "
                    + ", ".join(f"{p['wrk_rps']:.0f}" for p in pairs)
                    + f" req/s; ratio {out['spikes'][manifest.name]['ratio']:.3f}",
                    flush=True,
                )
            finally:
                server.stop()
                db.drop_database(name)
    finally:
        db.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "crosscheck", help="saturated throughput of each spike by Locust and by wrk, and the ratio"
    )
    p.add_argument("--spikes", type=lambda v: [s for s in v.split(",") if s],
                   help="comma-separated spike names (default: all)")  # fmt: skip
    p.add_argument("--connections", type=int, default=16, help="users / connections")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=3.0, help="Locust warm-up seconds")
    p.add_argument("--rounds", type=int, default=2, help="Locust/wrk pairs per spike")
    p.add_argument("--output", type=Path, default=RESULTS_DIR, help="folder for the JSON result")
    p.add_argument("--spikes-dir", type=Path, default=SPIKES_DIR, help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_crosscheck)


def cmd_crosscheck(args: argparse.Namespace) -> int:
    result = crosscheck(args)
    args.output.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = args.output / f"crosscheck-{stamp}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    path.chmod(0o644)
    print(f"result: {path}")
    low = [s for s, r in result["spikes"].items() if r["ratio"] < 0.95]
    print("all ratios ≥ 0.95" if not low else f"below 0.95: {', '.join(low)}")
    return 0
