"""The report's precision section: what pairing bought, the speed probe, the harness's cost."""

from __future__ import annotations

from typing import Any

from harness.decide.document import Block, Heading, Para, Table, num
from harness.results import projection, slices
from harness.results import rundata as rd


def _order(effect: dict[str, Any] | None) -> str:
    if not effect:
        return "–"
    se = f" ± {effect['se']:.1%}" if effect.get("se") is not None else ""
    kept = "" if effect.get("adjusted") else " (as measured)"
    return f"{effect['per_position']:+.1%}{se}{kept}"


def precision(run: dict[str, Any]) -> list[Block]:
    """How the interleaved design did on this machine: pairing, the probe, the harness's cost."""
    if rd.design(run) != "interleaved":
        return []
    rows = []
    for sc in rd.scenario_names(run):
        an = rd.analysis(run, sc)
        if not an:
            continue
        ratios = (an.get("ratios_to_best") or {}).values()
        paired_hw = [r["paired"]["half_width"] for r in ratios if r.get("paired")]
        unpaired_hw = [r["unpaired"]["half_width"] for r in ratios if r.get("unpaired")]
        starts = {sp: r["starts"] for sp, r in (an.get("ratios_to_best") or {}).items()
                  if len(r.get("starts") or []) > 1}  # fmt: skip
        widest = max(starts, key=lambda sp: max(starts[sp]) / min(starts[sp]), default=None)
        probe = an.get("probe_normalisation") or {}
        mine = [x for x in run.get("slices", []) if x["scenario"] == sc]
        flagged = sum(bool(x.get("machine_deviation")) for x in mine)
        left = sum(slices.left_out(x) for x in mine)
        rows.append(
            [
                sc,
                f"{an.get('cycles')} ({an.get('epochs') or 1})",
                num(max(paired_hw, default=None), "±{:.1%}"),
                num(max(unpaired_hw, default=None), "±{:.1%}"),
                (f"{widest}: " + " / ".join(f"{x:.3f}" for x in starts[widest]))
                if widest
                else "–",
                _order(an.get("start_order_effect")),
                num(probe.get("resolution_raw"), "±{:.1%}")
                + " / "
                + num(probe.get("resolution_normalised"), "±{:.1%}")
                + (" (used)" if probe.get("used") else ""),
                f"{flagged}/{len(mine)}, {left} left out",
                str(an.get("stop_reason")),
            ]
        )
    probes = [p["ms"] for p in run.get("probes", [])]
    over = run.get("overhead") or {}
    text = "Speed probe: no samples."
    if len(probes) > 1:
        from harness.results.paired import cv

        text = (
            f"Speed probe: {len(probes)} samples, slice-to-slice CV {cv(probes) or 0:.1%}; "
            f"slowest {max(probes) / sorted(probes)[len(probes) // 2] - 1:+.0%} against the "
            "median. "
        )
    restarts = [t for sc in rd.scenario_names(run)
                for t in (rd.analysis(run, sc) or {}).get("restart_seconds") or []]  # fmt: skip
    shared = any((rd.analysis(run, sc) or {}).get("shared_starts") for sc in rd.scenario_names(run))
    if restarts:
        import statistics

        text += (
            f"A restart of the candidates took {statistics.median(restarts):.1f} s (median)"
            + ("; each start served every closed-loop scenario in turn. " if shared else ". ")
        )
    if over.get("wall_s"):
        text += (
            f"The harness's own samplers used {over.get('sampler_share', 0):.2%} of a core, the "
            f"probe {over.get('probe_share', 0):.2%}"
            + (
                f", the tracker {over['tracker_share']:.2%}."
                if over.get("tracker_share") is not None
                else "."
            )
        )
    text += (" " + forecast) if (forecast := projection.forecast_text(run)) else ""
    return [
        Heading(2, "Precision"),
        Para(
            "Widest ratio-to-best interval per scenario, paired (within cycles) and as if the "
            "same slices were unpaired (both over the starts of the processes, each start "
            "counted once; unpaired: Welch's t over each candidate's start means); the "
            "ratio to the best that each start gave on its own, for the candidate whose starts "
            "disagreed most (pairing cannot remove that); the throughput change per start "
            "position within an epoch (figures are put back to the middle position unless "
            "the run said --no-start-order-adjust); and the resolution raw and normalised by "
            "the machine's speed (the in-slice tracker's reading, else the probe around the "
            "slice), \"(used)\" where the columns before it are the normalised ones. "
            + text
        ),
        Table(
            ["scenario", "cycles (starts)", "paired", "unpaired", "each start", "start order",
             "raw / normalised",
             "slices flagged (machine)", "stopped"],  # fmt: skip
            rows,
        ),
    ]


