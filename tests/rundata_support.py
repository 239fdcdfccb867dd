"""The committed real run (tests/data/small-run) and ways to make variants of it.

Tests of report, compare and score read this file only: no benchmark runs inside tests. Variants
change trial metrics and then recompute the aggregates exactly as the engine does, so a variant
is a result file the harness could have written.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.results.resultfile import RUN_FILE, validate
from harness.run.trials import aggregate

DATA_RUN = Path(__file__).parent / "data" / "small-run"


def load_data() -> dict[str, Any]:
    return dict(json.loads((DATA_RUN / RUN_FILE).read_text()))


def write_run(run: dict[str, Any], folder: Path) -> Path:
    """A run folder holding `run` (aggregates recomputed, schema-checked)."""
    run = copy.deepcopy(run)
    run.pop("_folder", None)
    run["aggregates"] = aggregate(run["trials"])
    validate(run)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_FILE).write_text(json.dumps(run, indent=1))
    return folder


def copy_data(folder: Path) -> Path:
    """The committed run, copied so a test may write report/decision files beside it."""
    shutil.copytree(DATA_RUN, folder)
    return folder


def variant(
    run: dict[str, Any], change: Callable[[dict[str, Any]], None], **where: str
) -> dict[str, Any]:
    """A copy with `change(trial)` applied to every trial matching `where` (spike=, scenario=)."""
    out = copy.deepcopy(run)
    for trial in out["trials"]:
        if all(trial.get(k) == v for k, v in where.items()):
            change(trial)
    out["aggregates"] = aggregate(out["trials"])
    return out


def scale_metric(path: tuple[str, ...], factor: float) -> Callable[[dict[str, Any]], None]:
    """A change that multiplies one metric (and its per-second series for throughput)."""

    def change(trial: dict[str, Any]) -> None:
        m = trial.get("metrics")
        if m is None:
            return
        node = m
        for key in path[:-1]:
            node = node[key]
        value = node[path[-1]] * factor
        node[path[-1]] = int(round(value)) if isinstance(node[path[-1]], int) else value
        if path == ("throughput_rps",):
            m["requests"] = int(round(m["requests"] * factor))

    return change


# 14 candidates, long variant names among them: what a full `--spikes all` run looks like once
# the parallel spikes land. Base spikes first, each followed by its variants (discovery order).
MANY = (
    "django",
    "django@gthread",
    "django_ninja",
    "django_ninja@gthread",
    "falcon",
    "fastapi",
    "fastapi@granian",
    "flask",
    "flask@gthread",
    "litestar",
    "litestar@granian",
    "quart@hypercorn",
    "sanic",
    "starlette",
)


def many_candidates(names: tuple[str, ...] = MANY) -> dict[str, Any]:
    """The committed run widened to `names`: each a renamed copy of flask's or fastapi's trials
    (alternately), throughput and p99 scaled by its own factor so every candidate differs."""
    base = load_data()
    sources = list(base["spikes"])
    out = copy.deepcopy(base)
    out["spikes"], out["trials"], out["inspection"] = {}, [], {}
    for i, name in enumerate(names):
        src = sources[i % len(sources)]
        factor = 0.6 + 0.05 * i
        record = copy.deepcopy(base["spikes"][src])
        record["manifest"]["spike"]["name"] = name.split("@")[0]
        out["spikes"][name] = record
        out["inspection"][name] = {
            **base["inspection"][src],
            "loc": base["inspection"][src]["loc"] + 10 * i,
        }
        for t in base["trials"]:
            if t["spike"] != src:
                continue
            trial = copy.deepcopy(t)
            trial["spike"] = name
            trial["id"] = f"{i:02d}{t['id']}".replace(src, name.replace("@", "_"))
            scale_metric(("throughput_rps",), factor)(trial)
            scale_metric(("latency_ms", "p99"), 2 - factor)(trial)
            out["trials"].append(trial)
    out["config"]["spikes"] = list(names)
    out["aggregates"] = aggregate(out["trials"])
    validate(out)
    return out
