"""The report's Environment section: where and how the numbers were made, in words.

run.json keeps raw values (None for what the machine does not tell, lists of load averages,
threshold tables); a reader gets "unknown", "0.98, 0.93, 0.62" and "Locust CPU 80% of a core".
"""

from __future__ import annotations

from typing import Any

from harness.decide.document import Block, Bullets, Code, Heading, Para, num
from harness.results import rundata as rd


def plain(value: Any, unknown: str = "unknown") -> str:
    """A value as a reader wants it: no None, no Python lists or dicts, no 12-digit floats."""
    if value is None or value == "":
        return unknown
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    if isinstance(value, list | tuple):
        return ", ".join(plain(v, unknown) for v in value) or unknown
    if isinstance(value, dict):
        return ", ".join(f"{k} {plain(v, unknown)}" for k, v in value.items()) or unknown
    return str(value)


def thresholds_text(th: dict[str, Any]) -> str:
    """The validity guards in words (the engine's thresholds in run.json's config)."""
    words = {
        "loadgen_cpu": ("Locust CPU", "{:.0%} of a core"),
        "error_rate": ("error rate", "{:.0%}"),
        "noisy_neighbour": ("other processes", "{:.0%} of the SUT CPUs"),
        "min_requests": ("fewest requests", "{:.0f}"),
    }
    out = []
    for key, value in (th or {}).items():
        label, fmt = words.get(key, (key.replace("_", " "), "{}"))
        text = fmt.format(value) if isinstance(value, int | float) else plain(value)
        out.append(f"{label} {text}")
    return ", ".join(out) or "unknown"


def environment(run: dict[str, Any]) -> list[Block]:
    m, h, cfg = run.get("machine") or {}, run.get("harness") or {}, run.get("config") or {}
    pin, db, rt = run.get("pinning") or {}, run.get("database") or {}, run.get("runtime") or {}
    git = h.get("git") or {}
    mem = m.get("memory_bytes")
    governor = f" (governor {m['cpu_governor']})" if m.get("cpu_governor") else ""
    mhz = f" at {m['cpu_mhz']} MHz" if m.get("cpu_mhz") else ""
    spikes = run.get("spikes") or {}
    items = [
        f"Machine: {plain(m.get('cpu_model'))}, {plain(m.get('cpus_logical'))} logical / "
        f"{plain(m.get('cpus_physical'))} physical CPUs{mhz}{governor}, "
        f"{num(mem, '{:.1f}', 2**30)} GiB RAM; {plain(m.get('os'))}; in a container: "
        f"{plain(m.get('in_container'))}; load average at start {plain(m.get('load_average'))}",
        f"Pinning: system under test on CPUs {plain(pin.get('sut_cpus'), 'any')}, load "
        f"generator on {plain(pin.get('loadgen_cpus'), 'any')}, harness on "
        f"{plain(pin.get('harness_cpus'), 'any')}",
        f"Runtime: {plain(rt.get('kind') or cfg.get('runtime'))}"
        + (f" ({rt['isolation']})" if rt.get("isolation") else ""),
        f"Database: {plain(db.get('version'))} ({plain(db.get('source'))}); CPUs "
        f"{plain(db.get('cpus'), 'any')}; seed {plain(cfg.get('seed_users'))} users × "
        f"{plain(cfg.get('seed_items'))} items",
        f"Harness {plain(h.get('version'))}, Python {plain(h.get('python'))}, packages "
        + ", ".join(f"{k} {v}" for k, v in (h.get("packages") or {}).items()),
        f"Git commit {git.get('commit') or 'unknown'}"
        + (" (dirty tree)" if git.get("dirty") else ""),
        f"Trial order seed {plain(cfg.get('order_seed'))}; validity thresholds: "
        + thresholds_text(cfg.get("thresholds") or {}),
        "Spike versions: "
        + "; ".join(
            f"{s}: {plain((spikes.get(s) or {}).get('framework'))} "
            f"{plain((spikes.get(s) or {}).get('framework_version'))}"
            for s in rd.spike_names(run)
        ),
    ]
    return [
        Heading(2, "Environment"),
        Bullets(items),
        Para("Command line:"),
        Code(" ".join(h.get("command_line") or [])),
        Para("Repeat with:"),
        Code(rd.make_command(run)),
    ]
