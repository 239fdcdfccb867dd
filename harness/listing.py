"""`spikebench list`: what can be benchmarked, read from the manifests and scenario files.

A new user's first question is "what is there?": the spikes with their stacks (and variants,
when a manifest declares a `[variants]` table), and the scenarios with what each one models.
Nothing is started or built.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from harness.manifest import SpikeManifest, discover_spikes
from harness.paths import SCENARIOS_DIR, SPIKES_DIR
from harness.scenario import DEFAULT_SCENARIOS, discover_scenarios


def pinned_version(manifest: SpikeManifest, package: str) -> str | None:
    """The version requirements.txt pins for a package (name compared case-insensitively)."""
    want = re.sub(r"[-_.]+", "-", package).lower()
    try:
        lines = manifest.requirements.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        m = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*==\s*([^\s;#]+)", line)
        if m and re.sub(r"[-_.]+", "-", m.group(1)).lower() == want:
            return m.group(3)
    return None


def variants(manifest: SpikeManifest) -> dict[str, str]:
    """The `[variants.<name>]` of spike.toml, each with its description."""
    return {v.variant: v.description for v in manifest.variants()}


def server_text(manifest: SpikeManifest) -> str:
    server, workers = manifest.server, manifest.worker_class
    if workers:  # "uvicorn (uvloop + httptools)" already names its server
        server = workers if workers.startswith(server) else f"{server} ({workers} workers)"
    return server


def spike_entry(manifest: SpikeManifest) -> dict[str, Any]:
    server = server_text(manifest)
    return {
        "name": manifest.name,
        "framework": manifest.framework,
        "version": pinned_version(manifest, manifest.framework_package),
        "interface": manifest.interface,
        "server": server,
        "orm": manifest.orm,
        "driver": manifest.driver,
        "validation": manifest.validation,
        "variants": variants(manifest),
        # what `--spikes` takes for each variant, and how it serves
        "candidates": [
            {"name": v.name, "server": server_text(v), "description": v.description}
            for v in manifest.variants()
        ],
    }


def inventory(spikes_dir: Path = SPIKES_DIR, scenarios_dir: Path = SCENARIOS_DIR) -> dict[str, Any]:
    return {
        "spikes": [spike_entry(m) for m in discover_spikes(spikes_dir)],
        "scenarios": [
            {
                "name": s.name,
                "description": s.description,
                "users": s.users,
                "default": s.name in DEFAULT_SCENARIOS,
                "tasks": dict(s.tasks),
            }
            for s in discover_scenarios(scenarios_dir)
        ],
    }


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help="the spikes (stacks, variants) and scenarios there are")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--spikes-dir", type=Path, default=SPIKES_DIR, help=argparse.SUPPRESS)
    p.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from harness.console import console

    data = inventory(args.spikes_dir)
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    out = console()
    spikes = Table(title="spikes (spikes/<name>/spike.toml)")
    for col in ("spike", "framework", "server", "ORM, driver", "validation", "variants"):
        spikes.add_column(col)
    for s in data["spikes"]:
        spikes.add_row(
            s["name"],
            f"{s['framework']} {s['version'] or ''}".strip(),
            f"{s['server']}, {s['interface'].upper()}",
            f"{s['orm']}, {s['driver']}",
            s["validation"] or "–",
            "; ".join(f"{c['name']}: {c['server']}" for c in s["candidates"]) or "none",
        )
    scenarios = Table(title="scenarios (scenarios/<name>.toml; * = run by default)")
    for col in ("scenario", "users", "what it models", "task weights"):
        scenarios.add_column(col)
    for sc in data["scenarios"]:
        scenarios.add_row(
            sc["name"] + (" *" if sc["default"] else ""),
            str(sc["users"]),
            sc["description"] or "–",
            ", ".join(f"{t} {w}" for t, w in sc["tasks"].items()),
        )
    out.print(spikes)
    out.print(scenarios)
    out.print(
        'make bench SPIKES="…" SCENARIOS="…" runs some (SPIKES=all: every spike and variant); '
        "spikebench serve SPIKE starts one."
    )
    return 0
