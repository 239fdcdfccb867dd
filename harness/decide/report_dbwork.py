"""The report's DB work section: queries, rows and blocks per request, per spike and endpoint."""

from __future__ import annotations

from typing import Any

from harness.decide.document import Block, Heading, Para, Table, num
from harness.results import rundata as rd


def _median(values: list[float | None]) -> float | None:
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    mid = len(present) // 2
    return present[mid] if len(present) % 2 else (present[mid - 1] + present[mid]) / 2


def db_work(run: dict[str, Any]) -> list[Block]:
    """Per scenario, spike x endpoint: queries, rows and blocks per request (medians over the
    valid trials' `metrics.db_work`); the "all requests" row is the whole trial's average."""
    blocks: list[Block] = []
    for scenario in rd.scenario_names(run):
        rows: list[list[str]] = []
        for spike in rd.spike_names(run):
            works = [
                t["metrics"]["db_work"]
                for t in run.get("trials", [])
                if t.get("spike") == spike and t.get("scenario") == scenario and t.get("valid")
                and (t.get("metrics") or {}).get("db_work")
            ]
            totals = [w["totals"] for w in works if w.get("totals")]
            if not totals:
                continue

            def total(key: str, fallback: tuple[str, ...], items: list[dict[str, Any]]) -> Any:
                return _median([
                    x[key] if x.get(key) is not None else
                    (sum(x[f] for f in fallback) if fallback else None) for x in items
                ])

            rows.append([
                spike, "all requests",
                num(_median([x.get("transactions") for x in totals]), "{:.2f}"),
                num(total("queries", (), totals), "{:.2f}"),
                num(total("statement_rows", ("rows_fetched", "rows_written"), totals), "{:.1f}"),
                num(total("statement_blocks", ("blocks_hit", "blocks_read"), totals), "{:.1f}"),
            ])
            endpoints = sorted({e for w in works for e in w.get("endpoints") or {}})
            for endpoint in endpoints:
                items = [w["endpoints"][endpoint] for w in works if endpoint in w["endpoints"]]
                rows.append([
                    spike, endpoint, "",
                    num(_median([x.get("queries") for x in items]), "{:.2f}"),
                    num(_median([x.get("rows") for x in items]), "{:.1f}"),
                    num(_median([x.get("blocks") for x in items]), "{:.1f}"),
                ])
        if rows:
            blocks += [Heading(3, scenario), Table(
                ["spike", "endpoint", "transactions/req", "queries/req", "rows/req",
                 "blocks/req"], rows)]
    if not blocks:
        return []
    return [
        Heading(2, "DB work per request"),
        Para(
            "From PostgreSQL's statistics of each trial's own database (median over valid "
            "trials). \"all requests\": the whole trial, warm-up included, divided by every "
            "request sent (pg_stat_database lags up to ~1 s per pooled connection). Endpoint "
            "rows: a short sequential probe after the load, measured with pg_stat_statements "
            "(queries exclude BEGIN/COMMIT; shown only where the server loads the extension). "
            "An N+1 pattern shows as queries/req far above its siblings."
        ),
        *blocks,
    ]


