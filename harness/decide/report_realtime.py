"""The report's live-update section: the realtime scenario's per-event figures, and which
candidates were not run because they lack a feature the scenario requires."""

from __future__ import annotations

from typing import Any

from harness.decide.document import Block, Heading, Para, Table, num
from harness.results import rundata as rd

KIB = 1024


def realtime_blocks(run: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    for scenario in run.get("scenarios") or {}:
        trials = [t for t in run.get("trials") or [] if t["scenario"] == scenario]
        figures = [(t["spike"], t["realtime"]) for t in trials if t.get("realtime")]
        lacking = rd.analysis(run, scenario).get("not_supported") or []
        needs_ws = "websocket" in ((run["scenarios"][scenario] or {}).get("requires") or [])
        if not figures and not (lacking and needs_ws):  # io_bound's are in the summary
            continue
        blocks.append(Heading(3, f"{scenario}: live updates"))
        if figures:
            blocks.append(
                Para(
                    "Checked per event: every write carries a unique marker, so an event that "
                    "never reached its owner's socket is lost and one at another user's socket "
                    "is misdelivered; both must be 0. Latency runs from the write's HTTP answer "
                    "to the event's receipt (negative: the event came first), and from its send. "
                    "Memory per socket: spike RSS growth over its idle RSS, per socket held."
                )
            )
            rows, css = [], []
            for spike, f in figures:
                rows.append(
                    [
                        spike,
                        f"{f['sockets_peak']}/{f['subscribers']}",
                        str(f["writes"]),
                        str(f["delivered"]),
                        str(f["lost"]),
                        str(f["misdelivered"]),
                        str(f.get("duplicates", 0)),
                        num(f.get("delivery_p50_ms"), "{:.1f}"),
                        num(f.get("delivery_p99_ms"), "{:.1f}"),
                        num(f.get("delivery_from_send_p99_ms"), "{:.1f}"),
                        num(f.get("memory_per_socket_bytes"), "{:.0f}", KIB),
                        "ok" if f["correct"] else "⚠ events lost or misdelivered",
                    ]
                )
                css.append("" if f["correct"] else "flag")
            headers = ["spike", "sockets held", "writes", "delivered", "lost", "misdelivered",
                       "duplicated", "p50 ms after answer", "p99 ms after answer",
                       "p99 ms from send", "KiB per socket", "check"]  # fmt: skip
            blocks.append(Table(headers, rows, css))
        if lacking:
            requires = ((run.get("scenarios") or {}).get(scenario) or {}).get("requires", [])
            needs = ", ".join(requires)
            blocks.append(Para(f"Not supported (needs {needs}): {', '.join(lacking)}."))
    return blocks
