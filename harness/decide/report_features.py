"""Contract v2 features in the report: candidates a scenario could not run, and the upstream stub
that a `quote` scenario waits on (its settings and its own CPU, recorded beside Locust's)."""

from __future__ import annotations

from typing import Any

from harness.decide.document import Block, Para
from harness.results import rundata as rd


def not_supported_rows(run: dict[str, Any], scenario: str, width: int) -> list[list[str]]:
    """One summary row per candidate left out for a missing feature ("not supported")."""
    needs = ", ".join(((run.get("scenarios") or {}).get(scenario) or {}).get("requires") or [])
    rows = []
    for name in rd.analysis(run, scenario).get("not_supported") or []:
        row = ["–", name, "–", f"not supported (needs {needs})"]
        rows.append(row + [""] * (width - len(row)))
    return rows


def upstream_note(run: dict[str, Any], scenario: str) -> list[Block]:
    record = (run.get("scenarios") or {}).get(scenario) or {}
    stub = run.get("upstream")
    if not stub or "quote" not in (record.get("requires") or []):
        return []
    shares = [
        s["upstream_cpu_share"]
        for s in run.get("slices") or []
        if s.get("scenario") == scenario and s.get("upstream_cpu_share") is not None
    ]
    busiest = f"; its busiest slice used {max(shares):.0%} of a core" if shares else ""
    return [
        Para(
            f"Upstream pricing stub: delay {stub.get('delay')} ms, "
            f"{float(stub.get('error_rate') or 0):.0%} injected 503s, on CPUs "
            f"{stub.get('cpus') or 'all'} beside Locust{busiest}."
        )
    ]
