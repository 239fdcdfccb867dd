"""Read-side helpers over a loaded run.json, shared by report, compare and score.

They only look things up: every number here was measured by `bench` and stored in the file;
nothing is rerun or re-derived from a live system.
"""

from __future__ import annotations

import statistics
from typing import Any

# metric name → (path inside a trial's metrics, True when higher is better)
METRICS: dict[str, tuple[tuple[str, ...], bool]] = {
    "throughput_rps": (("throughput_rps",), True),
    "p50_ms": (("latency_ms", "p50"), False),
    "p99_ms": (("latency_ms", "p99"), False),
    "app_cpu_ms_per_request": (("cpu", "app_ms_per_request"), False),
    "db_cpu_ms_per_request": (("cpu", "db_ms_per_request"), False),
    "peak_rss_bytes": (("memory", "peak_rss_bytes"), False),
    "idle_rss_bytes": (("memory", "idle_rss_bytes"), False),
    "startup_seconds": (("startup_seconds",), False),
}
PERCENTILES = ("p50", "p75", "p90", "p95", "p99", "p99_9")


def dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def spike_names(run: dict[str, Any]) -> list[str]:
    """Spikes in the order the run lists them (manifest order), then any only seen in trials."""
    names = list(run.get("spikes") or {})
    for t in run.get("trials", []):
        if t["spike"] not in names:
            names.append(t["spike"])
    return names


def scenario_names(run: dict[str, Any]) -> list[str]:
    names = list(run.get("scenarios") or {})
    for t in run.get("trials", []):
        if t["scenario"] not in names:
            names.append(t["scenario"])
    return names


def trials(
    run: dict[str, Any], spike: str, scenario: str | None = None, valid_only: bool = True
) -> list[dict[str, Any]]:
    return [
        t
        for t in run.get("trials", [])
        if t["spike"] == spike
        and (scenario is None or t["scenario"] == scenario)
        and (t["valid"] or not valid_only)
        and (t.get("metrics") is not None or not valid_only)
    ]


def design(run: dict[str, Any]) -> str:
    return str(run.get("design") or "trials")


def estimator(run: dict[str, Any]) -> str:
    """How the figures of this run were estimated, in words for every table that shows them."""
    return str(run.get("estimator") or "mean over trials, Student-t 95% CI")


def summary(run: dict[str, Any], spike: str, scenario: str, metric: str) -> dict[str, Any]:
    return dict(((aggregate(run, spike, scenario) or {}).get("metrics") or {}).get(metric) or {})


def estimate(run: dict[str, Any], spike: str, scenario: str, metric: str) -> float | None:
    """The one figure every reader (terminal, report, compare, score, decision) shows: the
    aggregate's mean, over trials or over interleaved cycles (`estimator` says which)."""
    value = summary(run, spike, scenario, metric).get("mean")
    return float(value) if isinstance(value, int | float) else None


def interval(run: dict[str, Any], spike: str, scenario: str, metric: str) -> list[float] | None:
    ci = summary(run, spike, scenario, metric).get("ci95")
    return [float(ci[0]), float(ci[1])] if ci else None


def analysis(run: dict[str, Any], scenario: str) -> dict[str, Any]:
    return dict((run.get("analysis") or {}).get(scenario) or {})


def ranking(run: dict[str, Any], scenario: str) -> list[tuple[str, int, bool]]:
    """(spike, rank, tied with the one above), best first, by throughput.

    Interleaved runs rank from their paired comparisons (stored by bench); older and trials runs
    from the aggregates, a rank shared where the 95% intervals overlap."""
    stored = analysis(run, scenario).get("ranking")
    if stored:
        return [(r["spike"], int(r["rank"]), bool(r["tied_with_previous"])) for r in stored]
    have = {
        s: v
        for s in spike_names(run)
        if (v := estimate(run, s, scenario, "throughput_rps")) is not None
    }
    order = sorted(have, key=lambda s: -have[s])
    out: list[tuple[str, int, bool]] = []
    for i, s in enumerate(order):
        a, b = (
            interval(run, order[i - 1], scenario, "throughput_rps"),
            interval(run, s, scenario, "throughput_rps"),
        )
        tied = bool(i and a and b and a[0] <= b[1] and b[0] <= a[1])
        out.append((s, out[-1][1] if tied else i + 1, tied))
    return out


def tied(run: dict[str, Any], scenario: str, a: str, b: str) -> bool:
    """True when the run cannot tell a and b apart on throughput in this scenario."""
    ranks = {s: r for s, r, _ in ranking(run, scenario)}
    return a in ranks and b in ranks and ranks[a] == ranks[b]


def resolution(run: dict[str, Any]) -> dict[str, Any]:
    """The smallest throughput difference this run could detect, per scenario and overall."""
    per = {sc: an.get("resolution") for sc in scenario_names(run) if (an := analysis(run, sc))}
    known = [v for v in per.values() if v is not None]
    aa = {
        sc: an["aa"]
        for sc in scenario_names(run)
        if (an := analysis(run, sc)).get("aa") and (an["aa"].get("paired"))
    }
    return {"per_scenario": per, "overall": max(known) if known else None, "aa": aa}


def values(run: dict[str, Any], spike: str, scenario: str | None, metric: str) -> list[float]:
    """The values behind the estimate: per interleaved cycle, or per valid trial."""
    if scenario is not None and design(run) == "interleaved":
        vals = summary(run, spike, scenario, metric).get("values")
        if vals:
            return [float(v) for v in vals]
    path = METRICS[metric][0]
    out = []
    for t in trials(run, spike, scenario):
        v = dig(t["metrics"], path)
        if isinstance(v, int | float):
            out.append(float(v))
    return out


def median(run: dict[str, Any], spike: str, scenario: str | None, metric: str) -> float | None:
    vals = values(run, spike, scenario, metric)
    return statistics.median(vals) if vals else None


def aggregate(run: dict[str, Any], spike: str, scenario: str) -> dict[str, Any] | None:
    for agg in run.get("aggregates", []):
        if agg["spike"] == spike and agg["scenario"] == scenario:
            return dict(agg)
    return None


def peak_rss(run: dict[str, Any], spike: str) -> float | None:
    """The worst scenario's peak RSS estimate: what the spike needs provisioned."""
    meds = [
        m
        for sc in scenario_names(run)
        if (m := estimate(run, spike, sc, "peak_rss_bytes")) is not None
    ]
    return max(meds) if meds else None


def candidates_meta(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(run.get("candidates") or {})


def candidate_info(run: dict[str, Any], name: str) -> dict[str, Any]:
    """A candidate's spike folder, variant, server and worker class (`flask@gthread`: folder
    `flask`, variant `gthread`); files from before variants give it from the name and parity."""
    meta = candidates_meta(run).get(name) or {}
    rec = (run.get("spikes") or {}).get(name) or {}
    par = rec.get("parity") or {}
    spike = str(rec.get("spike") or meta.get("spike") or name).partition("@")[0]
    variant = rec.get("variant") or meta.get("variant")
    if variant is None and "@" in name and not meta.get("aa_of"):
        variant = name.partition("@")[2]
    return {
        "spike": spike,
        "variant": variant or None,
        "server": rec.get("server") or meta.get("server") or par.get("server"),
        "worker_class": rec.get("worker_class") or meta.get("worker_class")
        or par.get("worker_class") or None,
    }  # fmt: skip


def candidates(run: dict[str, Any]) -> list[str]:
    """Spikes that are options of the decision: A/A twins measure the run, they are no option."""
    twins = {n for n, c in (run.get("candidates") or {}).items() if c.get("aa_of")}
    return [s for s in spike_names(run) if s not in twins]


def inspection(run: dict[str, Any], spike: str) -> dict[str, Any]:
    return dict((run.get("inspection") or {}).get(spike) or {})


def dependency_count(run: dict[str, Any], spike: str) -> int | None:
    """Installed distributions: from inspection, else from the packages recorded per spike."""
    n = inspection(run, spike).get("total_dependencies")
    if n is None:
        packages = ((run.get("spikes") or {}).get(spike) or {}).get("packages")
        n = len(packages) if packages else None
    return n


def image_size(run: dict[str, Any], spike: str) -> int | None:
    """Container image size, when the run used containers and recorded it."""
    size = inspection(run, spike).get("image_size_bytes")
    if size is None:
        env = ((run.get("spikes") or {}).get(spike) or {}).get("environment") or {}
        size = env.get("image_size_bytes")
    return size


def make_command(run: dict[str, Any]) -> str:
    """The `make bench` command that repeats this run's matrix and settings."""
    cfg = run.get("config") or {}
    # the runtime the run used, not the one asked for: `auto` may pick another on another day
    runtime = (run.get("runtime") or {}).get("kind") or cfg.get("runtime") or "auto"
    spikes = " ".join(cfg.get("spikes") or candidates(run))
    scenarios = " ".join(cfg.get("scenarios") or scenario_names(run))
    args = []
    interleaved = design(run) == "interleaved"
    if not interleaved:
        args.append("--design trials")
    if cfg.get("warmup_s") is not None:
        args.append(f"--warmup {cfg['warmup_s']:g}")
    if interleaved:
        for flag, key, fmt in (("--slice", "slice_s", "{:g}"), ("--lead-in", "lead_in_s", "{:g}"),
                               ("--budget", "budget_s", "{:g}s"),
                               ("--resolution", "resolution", "{:.4g}"),
                               ("--min-cycles", "min_cycles", "{}"), ("--epochs", "epochs", "{}"),
                               ("--max-epochs", "max_epochs", "{}"),
                               ("--epoch-cycles", "epoch_cycles", "{}"),
                               ("--rewarm", "rewarm_s", "{:g}"),
                               ("--machine-deviation", "machine_deviation", "{:g}")):  # fmt: skip
            if cfg.get(key) is not None:
                args.append(f"{flag} {fmt.format(cfg[key])}")
        if cfg.get("shared_starts") is False or (
            "shared_starts" not in cfg and most_epochs(run) > 1  # before schema 7: per scenario
        ):
            args.append("--per-scenario-starts")
        if cfg.get("drop_flagged") or ("drop_flagged" not in cfg and cfg.get("machine_deviation")):
            args.append("--drop-flagged")  # before it was a choice (schema 7), they were dropped
        twin = [c["aa_of"] for c in candidates_meta(run).values() if c.get("aa_of")]
        if twin:
            args.append(f"--aa {twin[0]}")
        if cfg.get("capacity"):
            args.append(f"--capacity {','.join(cfg['capacity'])}")
    elif cfg.get("measure_s") is not None:
        args.append(f"--duration {cfg['measure_s']:g}")
    if cfg.get("users"):
        args.append(f"--users {cfg['users']}")
    if cfg.get("seed_users") not in (None, 1000):
        args.append(f"--seed-users {cfg['seed_users']}")
    if cfg.get("seed_items") not in (None, 100):
        args.append(f"--seed-items {cfg['seed_items']}")
    parts = [
        "make bench",
        f'SPIKES="{spikes}"',
        f'SCENARIOS="{scenarios}"',
        *([] if interleaved else [f"TRIALS={cfg.get('trials', 3)}"]),
        f"RUNTIME={runtime}",
    ]
    if args:
        parts.append(f'ARGS="{" ".join(args)}"')
    return " ".join(parts)


def most_epochs(run: dict[str, Any]) -> int:
    """The most process epochs any scenario of the run had (1 before epochs existed)."""
    found = [a for sc in scenario_names(run) if (a := analysis(run, sc))]
    return max((a.get("epochs") or 1 for a in found), default=1)


def design_text(run: dict[str, Any]) -> str:
    """The measurement design in one phrase, for headers and the decision record."""
    cfg = run.get("config") or {}
    n_sc = len(scenario_names(run))
    if design(run) != "interleaved":
        return (
            f"{n_sc} scenarios × {cfg.get('trials')} trials of {cfg.get('measure_s')} s after "
            f"{cfg.get('warmup_s')} s warm-up"
        )
    found = [a for sc in scenario_names(run) if (a := analysis(run, sc))]
    cycles = [a.get("cycles", 0) for a in found]
    epochs = most_epochs(run)
    shared = any(a.get("shared_starts") for a in found)
    restarts = (
        f" over {epochs} process epochs (every candidate restarted, the start order reversed"
        + ("; each start served every closed-loop scenario in turn)" if shared else ")")
        if epochs > 1
        else ""
    )
    return (
        f"{n_sc} scenarios, interleaved: every candidate at once, load in {slices_text(run)} "
        f"in a new random order every cycle, "
        f"{min(cycles, default=0)}–{max(cycles, default=0)} cycles per scenario{restarts}"
    )


def slices_text(run: dict[str, Any]) -> str:
    """'2 s slices (after a 0.5 s lead-in)', or one such phrase per slicing the scenarios had:
    what each scenario recorded (schema 9, `analysis.<scenario>.slicing`), else the run's
    config (earlier files). A scenario no candidate ran has neither and is left out."""
    cfg = run.get("config") or {}
    groups: dict[tuple[float, float], list[str]] = {}
    for sc in scenario_names(run):
        cut = (analysis(run, sc) or {}).get("slicing") or {}
        size, lead = (cut.get(k, cfg.get(k)) for k in ("slice_s", "lead_in_s"))
        if size is not None:
            groups.setdefault((size, lead or 0), []).append(sc)
    if not groups:
        return "slices"
    if len(groups) == 1:
        size, lead = next(iter(groups))
        return f"{size:g} s slices (after a {lead:g} s lead-in)"
    return " and ".join(
        f"{size:g} s slices after a {lead:g} s lead-in ({', '.join(names)})"
        for (size, lead), names in groups.items()
    )


def resolution_text(run: dict[str, Any]) -> str:
    """The report's first line about trust: the smallest difference this run could detect."""
    res = resolution(run)
    if design(run) == "interleaved" and res["overall"] is None:
        return (
            "Resolution: not measured (too few usable cycles: see each scenario's notes); "
            "nothing is ranked."
        )
    if design(run) != "interleaved":
        return (
            "Resolution: not measured (a trials-design run); ranks whose 95% intervals overlap "
            "are shown as ≈."
        )
    per = ", ".join(f"{sc} ±{v:.1%}" for sc, v in res["per_scenario"].items() if v is not None)
    if most_epochs(run) <= 1:
        how = "paired 95% bootstrap intervals over cycles"
    elif int(run.get("schema_version") or 1) >= 6:
        how = "paired 95% Student-t intervals over the process starts, each start's cycles paired"
    else:  # written before schema 6: a bootstrap within epochs plus a between-epoch variance
        how = "paired 95% bootstrap intervals over cycles, each process epoch counted once"
    text = (
        f"Resolution: this run can tell apart throughput differences larger than "
        f"±{res['overall']:.1%} ({per}; {how}). Only "
        "differences above it are ranked; the rest share a rank (≈)."
    )
    for sc, aa in res["aa"].items():
        p = aa["paired"]
        text += (
            f" A/A check in {sc} ({aa.get('b', 'its twin')} ÷ {aa['a']}, the slower over the "
            f"faster): ratio {p['estimate']:.3f} [{p['lo']:.3f}–{p['hi']:.3f}]."
        )
    return text
