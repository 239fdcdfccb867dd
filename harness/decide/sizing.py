"""How many cores, and what monthly cost, each candidate needs for the expected load.

From capacity per core under the SLO (the search's bracket), assuming capacity scales linearly
with cores: it does not quite (a shared database, locks, the kernel's network stack, and on
hosted machines noisy neighbours all bend the line), so the answer is a lower bound to plan
around, not a promise. The search's bracket is widened by the run's noise (results/capacity.py):
the bracket alone says how finely the search cut, not how sure the run is.
"""

from __future__ import annotations

import math
from typing import Any

from harness.results import capacity

HOURS_PER_MONTH = 730.0


def cores_needed(expected_rps: float, per_core_lo: float, per_core_hi: float | None) -> list[int]:
    """[fewest, most] whole cores: the upper end of the capacity bracket gives the fewest."""
    most = math.ceil(expected_rps / per_core_lo)
    fewest = math.ceil(expected_rps / per_core_hi) if per_core_hi else most
    return [max(fewest, 1), max(most, 1)]


def sizing(run: dict[str, Any], expected_rps: float | None, price: float | None) -> list[str]:
    """Decision-record lines, one per candidate and capacity scenario."""
    if not expected_rps:
        return []
    out = []
    for scenario, cap in (run.get("capacity") or {}).items():
        cores = cap.get("sut_cpus") or 1
        for spike, search in (cap.get("searches") or {}).items():
            lo, hi = search.get("bracket") or [None, None]
            if not lo:
                out.append(f"{scenario}: {spike} met the SLO at no rate tried: not sized")
                continue
            u = capacity.relative_halfwidth(run, scenario, search)
            low, high = lo * (1 - u), (hi * (1 + u) if hi else None)
            need = cores_needed(expected_rps, low / cores, (high / cores) if high else None)
            text = need[0] if need[0] == need[1] else f"{need[0]}–{need[1]}"
            widened = f", widened by ±{u:.0%} for the run's noise" if u > 0.005 else ""
            line = (
                f"{scenario}: {spike} needs {text} cores for {expected_rps:g} req/s "
                f"({lo / cores:.0f}–{(hi or lo) / cores:.0f} req/s per core at p99 ≤ "
                f"{cap.get('slo_p99_ms', 0):g} ms{widened})"
            )
            if price:
                cost = [n * price * HOURS_PER_MONTH for n in need]
                shown = (
                    f"{cost[0]:,.0f}" if need[0] == need[1] else f"{cost[0]:,.0f}–{cost[1]:,.0f}"
                )
                line += f", about {shown} a month at {price:g} per vCPU-hour"
            out.append(line)
    return out
