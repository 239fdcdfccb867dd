"""`spikebench report results/<run-id>`: report.md and a self-contained report.html.

The report is built from run.json alone (never from a live system), as a small list of blocks
rendered twice: Markdown for reading in a terminal or a pull request, HTML with the inline SVG
charts for a browser. The HTML loads nothing from the network, so it opens offline and archives
as one file.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.decide.charts import Chart, all_charts
from harness.decide.document import (  # noqa: F401  (the report's public names)
    REPORT_HTML,
    REPORT_MD,
    Block,
    Bullets,
    Code,
    Figure,
    Heading,
    Para,
    Table,
    ci_text,
    num,
    render_html,
    render_md,
)
from harness.decide.report_features import not_supported_rows, upstream_note
from harness.results import rundata as rd
from harness.results.resultfile import load_run

MIB = 2**20


def metric(agg: dict[str, Any] | None, name: str) -> dict[str, Any]:
    return dict(((agg or {}).get("metrics") or {}).get(name) or {})


# -- sections ---------------------------------------------------------------------------------


def header(run: dict[str, Any]) -> list[Block]:
    blocks: list[Block] = [
        Heading(1, f"spikebench run {run['run_id']}"),
        Para(f"**{rd.resolution_text(run)}**", "resolution"),
        Para(
            f"Status **{run['status']}**; started {run.get('started_at')}, finished "
            f"{run.get('finished_at') or '–'}. {len(rd.spike_names(run))} spikes; "
            f"{rd.design_text(run)}; "
            f"{sum(t['valid'] for t in run['trials'])} of {len(run['trials'])} trials valid."
        ),
    ]
    if run.get("error"):
        blocks.append(Para(f"⚠ The run ended with an error: {run['error']}", "flag"))
    return blocks


def trial_detail(trial: dict[str, Any]) -> str:
    """The warnings of a trial, else the first line of its error."""
    if trial.get("warnings"):
        return "; ".join(trial["warnings"])
    lines = (trial.get("error") or "").splitlines()
    return lines[0][:200] if lines else ""


def validity(run: dict[str, Any]) -> list[Block]:
    """Everything that limits trust in a number, in one place, before the numbers."""
    blocks: list[Block] = [Heading(2, "Validity")]
    invalid = [t for t in run["trials"] if not t["valid"]]
    warned = [t for t in run["trials"] if t["valid"] and t.get("warnings")]
    agg_warn = [a for a in run.get("aggregates", []) if a.get("warnings")]
    if not (invalid or warned or agg_warn):
        blocks.append(Para("All trials valid; no warnings."))
        return blocks
    if invalid:
        blocks.append(
            Para(f"⚠ {len(invalid)} invalid trial(s), left out of every aggregate:", "flag")
        )
        blocks.append(
            Table(
                ["trial", "spike", "scenario", "reasons", "details"],
                [
                    [
                        t["id"],
                        t["spike"],
                        t["scenario"],
                        ", ".join(t["invalid_reasons"]),
                        trial_detail(t),
                    ]
                    for t in invalid
                ],
                ["invalid"] * len(invalid),
            )
        )
    if agg_warn:
        blocks.append(Para("Aggregate warnings (per spike × scenario):"))
        blocks.append(
            Bullets(
                [f"{a['scenario']} / {a['spike']}: {'; '.join(a['warnings'])}" for a in agg_warn],
                "flag",
            )
        )
    if warned:
        blocks.append(Para("Warnings on valid trials:"))
        blocks.append(Bullets([f"{t['id']}: {'; '.join(t['warnings'])}" for t in warned]))
    return blocks


def ranked(run: dict[str, Any], scenario: str) -> list[tuple[str, dict[str, Any] | None]]:
    """Spikes in the run's rank order (rd.ranking), spikes without valid data last."""
    order = [s for s, _, _ in rd.ranking(run, scenario)]
    rest = [s for s in rd.spike_names(run) if s not in order]
    rows = [(s, rd.aggregate(run, s, scenario)) for s in order + rest]
    return [(s, a) for s, a in rows if a is not None]


def vs_best(run: dict[str, Any], scenario: str, spike: str) -> str:
    """The paired ratio to the scenario's best (interleaved runs), e.g. '−6.1% [−9.5, −4.1]'."""
    an = rd.analysis(run, scenario)
    if not an:
        return "–"
    if an.get("best") == spike:
        return "best"
    p = ((an.get("ratios_to_best") or {}).get(spike) or {}).get("paired")
    if not p:
        return "–"
    return f"{p['estimate'] - 1:+.1%} [{p['lo'] - 1:+.1%}, {p['hi'] - 1:+.1%}]"


def summary(run: dict[str, Any]) -> list[Block]:
    interleaved = rd.design(run) == "interleaved"
    blocks: list[Block] = [
        Heading(2, "Summary per scenario"),
        Para(
            f"Every figure is the {rd.estimator(run)}; the terminal summary, compare, score and "
            "the decision record use the same. "
            + (
                'Ranked by the paired comparisons: "vs best" is the throughput ratio to the '
                "scenario's best within the same cycles. ≈ marks a rank the run cannot separate "
                "from the one above (its interval includes no difference, or the difference is "
                "below the run's resolution)."
                if interleaved
                else "Ranked by throughput; ≈ marks a rank whose interval overlaps the one above: "
                "those two are not distinguishable with these trials."
            )
        ),
    ]
    ranks = {}
    for scenario in rd.scenario_names(run):
        ranks = {s: (r, t) for s, r, t in rd.ranking(run, scenario)}
        rows, css = [], []
        for spike, agg in ranked(run, scenario):
            thr = metric(agg, "throughput_rps")
            has = thr.get("mean") is not None
            rank = (f"{ranks[spike][0]}" + (" ≈" if ranks[spike][1] else "")) if spike in ranks \
                else "–"  # fmt: skip
            notes = "; ".join((agg or {}).get("warnings") or [])
            n = (agg or {}).get("usable_slices") if interleaved else (agg or {}).get("valid_trials")
            of = (agg or {}).get("slices") if interleaved else (agg or {}).get("trials")
            row = [
                rank,
                spike,
                f"{n or 0}/{of or 0}",
                ci_text(thr) if has else ("no usable slices" if interleaved else "no valid trials"),
            ]
            if interleaved:
                row.append(vs_best(run, scenario, spike))
            row += [
                num(metric(agg, "p50_ms").get("mean")),
                num(metric(agg, "p99_ms").get("mean")),
                num(metric(agg, "app_cpu_ms_per_request").get("mean"), "{:.2f}"),
                num(metric(agg, "db_cpu_ms_per_request").get("mean"), "{:.2f}"),
                num(metric(agg, "idle_rss_bytes").get("mean"), "{:.0f}", MIB),
                num(metric(agg, "peak_rss_bytes").get("mean"), "{:.0f}", MIB),
                num(metric(agg, "startup_seconds").get("mean"), "{:.2f}"),
                ("⚠ " + notes) if notes else "",
            ]
            rows.append(row)
            css.append("flag" if notes or not has else "")
        desc = ((run.get("scenarios") or {}).get(scenario) or {}).get("description", "")
        users = ((run.get("scenarios") or {}).get(scenario) or {}).get("users")
        blocks.append(Heading(3, scenario))
        if desc:
            blocks.append(Para(f"{desc} ({users} users)"))
        an = rd.analysis(run, scenario)
        if an.get("resolution") is not None:
            blocks.append(
                Para(
                    f"Resolution ±{an['resolution']:.1%} after {an.get('cycles')} cycles "
                    f"(target ±{an.get('target', 0):.0%}: {an.get('stop_reason')})."
                )
            )
        headers = ["rank", "spike", "usable slices" if interleaved else "valid",
                   "req/s mean [95% CI]"]  # fmt: skip
        if interleaved:
            headers.append("vs best [95% CI]")
        headers += ["p50 ms", "p99 ms", "app CPU ms/req", "DB CPU ms/req", "idle RSS MiB",
                    "peak RSS MiB", "startup s", "notes"]  # fmt: skip
        for row in not_supported_rows(run, scenario, len(headers)):  # contract v2 features
            rows.append(row)
            css.append("flag")
        blocks += upstream_note(run, scenario)
        blocks.append(Table(headers, rows, css))
    return blocks


def inspection(run: dict[str, Any]) -> list[Block]:
    data = run.get("inspection") or {}
    if not data:
        return []
    rows = []
    for spike in rd.spike_names(run):
        i = data.get(spike) or {}
        startup = rd.median(run, spike, None, "startup_seconds")
        rows.append(
            [
                spike,
                num(i.get("loc"), "{:.0f}"),
                num(i.get("websocket_loc"), "{:.0f}"),
                num(i.get("direct_dependencies"), "{:.0f}"),
                num(i.get("total_dependencies"), "{:.0f}"),
                num(i.get("installed_size_bytes"), "{:.0f}", MIB),
                num(i.get("image_size_bytes"), "{:.0f}", MIB),
                num(i.get("import_seconds"), "{:.0f}", 1e-3),
                num(startup, "{:.2f}"),
                "; ".join(e.splitlines()[0] for e in i.get("errors") or []),
            ]
        )
    return [
        Heading(2, "Inspection"),
        Para(
            "Lines of code: non-blank, non-comment Python lines of the manifest's app_paths "
            "(of it WebSocket: its websocket_paths, the contract v2 live updates). "
            "Dependencies: requirements.txt lines (direct) and installed distributions (total). "
            "Cold start: median over valid trials of process start → first healthy response."
        ),
        Table(
            [
                "spike",
                "LOC",
                "of it WebSocket",
                "direct deps",
                "installed dists",
                "venv MiB",
                "image MiB",
                "import ms",
                "cold start s",
                "notes",
            ],
            rows,
        ),
    ]


PARITY_ROWS = (
    ("framework", ("framework",)),
    ("version", ("framework_version",)),
    ("server", ("parity", "server")),
    ("variant", ("variant",)),
    ("worker class", ("parity", "worker_class")),
    ("threads per worker", ("parity", "threads")),
    ("interface", ("parity", "interface")),
    ("workers", ("parity", "workers")),
    ("DB pool per worker", ("parity", "db_pool_size")),
    ("ORM", ("parity", "orm")),
    ("ORM tier", ("parity", "orm_tier")),
    ("driver", ("parity", "driver")),
    ("validation", ("parity", "validation")),
    ("argon2 (t, m KiB, p)", ("parity", "argon2")),
    ("JWT TTL s", ("parity", "jwt_ttl_seconds")),
    ("recommended workers (not used)", ("parity", "recommended_workers")),
)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(str(v) for v in value.values())
    return "–" if value in (None, "") else str(value)


WIDE = 5  # more candidates than this: one row per candidate instead of one column each


def parity(run: dict[str, Any]) -> list[Block]:
    spikes = rd.spike_names(run)
    records = run.get("spikes") or {}
    rows = [
        [label, *[_cell(rd.dig(records.get(s) or {}, path)) for s in spikes]]
        for label, path in PARITY_ROWS
    ]
    shared = ", ".join(f"{k}={v}" for k, v in (run.get("parity") or {}).items())
    blocks: list[Block] = [
        Heading(2, "Parity"),
        Para(f"Shared settings (spikes/parity.toml): {shared}."),
    ]
    if len(spikes) <= WIDE:
        return [*blocks, Table(["setting", *spikes], rows)]
    # many candidates: a column per candidate would run off the page; settings all share are
    # said once, the rest is one row per candidate with a column per differing setting
    same = [r for r in rows if len(set(r[1:])) == 1]
    differ = [r for r in rows if len(set(r[1:])) > 1]
    if same:
        blocks.append(Para("The same for every candidate: " + "; ".join(
            f"{r[0]} {r[1]}" for r in same) + "."))  # fmt: skip
    if differ:
        table = [[s, *[r[1 + i] for r in differ]] for i, s in enumerate(spikes)]
        blocks.append(Table(["candidate", *[r[0] for r in differ]], table))
    return blocks


def build(run: dict[str, Any], charts: list[Chart] | None = None) -> list[Block]:
    """The decision first (from score.json, when there is one), then the evidence."""
    from harness.decide.report_capacity import capacity_blocks
    from harness.decide.report_dbwork import db_work
    from harness.decide.report_decision import decision_section
    from harness.decide.report_environment import environment
    from harness.decide.report_precision import precision
    from harness.decide.report_realtime import realtime_blocks

    charts = all_charts(run) if charts is None else charts
    title, *status = header(run)
    blocks: list[Block] = [
        title, *decision_section(run), *status, *validity(run), *capacity_blocks(run),
        *summary(run), *realtime_blocks(run), *precision(run),
    ]  # fmt: skip
    if charts:
        blocks.append(Heading(2, "Charts"))
        for chart in charts:
            blocks += [Heading(3, chart.title), Figure(chart), Para(chart.caption, "caption")]
    blocks += [*db_work(run), *inspection(run), *parity(run), *environment(run)]
    return blocks


def write_report(folder: Path) -> tuple[Path, Path]:
    """Write report.md and report.html next to run.json; returns their paths."""
    run = load_run(folder)
    folder = Path(run["_folder"])
    blocks = build(run)
    md, page = folder / REPORT_MD, folder / REPORT_HTML
    md.write_text(render_md(blocks))
    page.write_text(render_html(blocks, f"spikebench run {run['run_id']}"))
    return md, page


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="write report.md and report.html for a run folder")
    p.add_argument("run", type=Path, help="results/<run-id> (or its run.json)")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    md, page = write_report(args.run)
    print(f"report: {md}\nreport: {page}")
    return 0
