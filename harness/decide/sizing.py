"""How many cores, and what monthly cost, each candidate needs for the expected load.

From capacity per core under the SLO (the search's bracket), assuming capacity scales linearly
with cores: it does not quite (a shared database, locks, the kernel's network stack, and on
hosted machines noisy neighbours all bend the line), so the answer is a lower bound to plan
around, not a promise; the bracket carries the measurement's uncertainty through.
"""

from __future__ import annotations

import math
from typing import Any

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
            need = cores_needed(expected_rps, lo / cores, (hi / cores) if hi else None)
            text = need[0] if need[0] == need[1] else f"{need[0]}–{need[1]}"
            line = (
                f"{scenario}: {spike} needs {text} cores for {expected_rps:g} req/s "
                f"({lo / cores:.0f}–{(hi or lo) / cores:.0f} req/s per core at p99 ≤ "
                f"{cap.get('slo_p99_ms', 0):g} ms)"
            )
            if price:
                cost = [n * price * HOURS_PER_MONTH for n in need]
                shown = (
                    f"{cost[0]:,.0f}" if need[0] == need[1] else f"{cost[0]:,.0f}–{cost[1]:,.0f}"
                )
                line += f", about {shown} a month at {price:g} per vCPU-hour"
            out.append(line)
    return out
