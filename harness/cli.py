"""The `spikebench` command: setup, bench, and the readers of result files."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness import __version__
from harness.console import console as make_console
from harness.errors import SpikebenchError
from harness.paths import RESULTS_DIR, SPIKES_DIR

QUICK = {"trials": 1, "warmup_s": 2.0, "measure_s": 5.0}
# --quick in the interleaved design: short slices, a small budget, few cycles, one start per
# candidate (a smoke run; `--epochs 2` still restarts them).
QUICK_INTERLEAVED = {"slice_s": 1.5, "lead_in_s": 0.3, "budget_s": 150.0, "min_cycles": 3,
                     "step_s": 2.0, "equal_load_cycles": 2, "epochs": 1,
                     "max_epochs": 1}


def duration(value: str) -> float:
    """'13m', '90s', '1h' or a bare number of minutes, in seconds."""
    text = value.strip().lower()
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text) * 60.0
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {value!r} (e.g. 13m, 90s)") from None


def percent(value: str) -> float:
    """'3%', '3' or '0.03' as a fraction."""
    text = value.strip().rstrip("%")
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {value!r} (e.g. 3%)") from None
    return number / 100 if value.strip().endswith("%") or number >= 1 else number


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def wide_console() -> Console:
    """A CI log is not 80 columns wide: keep the summary table readable there too."""
    return make_console()


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option shows its default: the value, or (written in its help) what absence means."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or not action.option_strings or action.default is argparse.SUPPRESS:
            return text
        if isinstance(action, argparse._StoreTrueAction):
            return text + " (default: off)"
        if action.default is None:
            return text
        return text + " (default: %(default)s)"


def csv_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="run Locust scenarios against every spike, write run.json")
    add_bench_options(p)
    p.add_argument(
        "--capacity",
        type=csv_list,
        help="also search the capacity under the SLO for these scenarios' task mix (open "
        "model), then compare latency at equal load (default: read_heavy,crud_mix where "
        "selected; none with --quick or --design trials; 'none' turns it off)",
    )
    c = sub.add_parser(
        "capacity",
        help="capacity of every spike under a p99 SLO (open load model), then latency at equal "
        "offered load; writes run.json",
    )
    add_bench_options(c)
    k = sub.add_parser(
        "soak",
        help="spikes at a fixed offered rate for a long time: memory growth, latency drift, "
        "errors; writes run.json",
    )
    add_bench_options(k)
    from harness.run.soak import add_options

    add_options(k)


def add_bench_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--slo-p99-ms",
        type=float,
        help="capacity: the latency SLO a step must meet, p99 in ms (default: decision.toml "
        "[performance] slo_p99_ms, else 100)",
    )
    p.add_argument(
        "--spikes",
        type=csv_list,
        help="comma-separated candidates: spikes and variants (flask@gthread); `all` = every "
        "spike and variant (default: decision.toml [shortlist] candidates)",
    )
    p.add_argument(
        "--scenarios",
        type=csv_list,
        help="comma-separated scenario names (default: read_heavy,crud_mix,write_heavy,auth_storm)",
    )
    p.add_argument(
        "--design",
        choices=["interleaved", "trials"],
        help="interleaved: all candidates at once, load in short slices in a new random order "
        "every cycle, paired comparisons; trials: one process per trial (default: interleaved; "
        "trials with --runtime compose, which runs one spike container at a time)",
    )
    p.add_argument(
        "--resolution",
        type=percent,
        default=0.03,
        help="interleaved: stop a scenario once every ratio to the best is known to ± this "
        "(default 3%%)",
    )
    p.add_argument(
        "--budget",
        type=duration,
        help="interleaved: wall-clock budget of the whole run, e.g. 14m or 600s (default 14m; "
        "--quick 150s)",
    )
    p.add_argument(
        "--aa",
        metavar="SPIKE",
        help="interleaved: also run SPIKE as a second candidate (an A/A pair) to measure the "
        "run's resolution; alone, SPIKE and its twin are the only candidates (default: none)",
    )
    p.add_argument("--slice", type=float, dest="slice_s", help="interleaved: measured seconds "
                   "per slice, every scenario's (default: the scenario file's [slicing]: 0.5 "
                   "for read_heavy, crud_mix and write_heavy, 2 for auth_storm; --quick "
                   "1.5)")  # fmt: skip
    p.add_argument("--lead-in", type=float, dest="lead_in_s", help="interleaved: seconds "
                   "discarded at the start of each slice, every scenario's (default: the "
                   "scenario file's: 0.2 before 0.5-s slices, 0.5 before 2-s ones; --quick "
                   "0.3)")  # fmt: skip
    p.add_argument("--step", type=float, dest="step_s", help="capacity: measured seconds of one "
                   "search or equal-load step (default 4; --quick 2)")  # fmt: skip
    p.add_argument("--min-cycles", type=int, help="interleaved: replicates (starts; a "
                   "run of one start: its cycles) before the resolution may stop a scenario "
                   "(default 10: stopping at the first ±3 %% after 3 held the truth in 87-91 %% "
                   "of synthetic runs, after 10 in 94-95 %%; --quick 3)")  # fmt: skip
    p.add_argument("--epochs", type=int, help="interleaved: the fewest times each scenario "
                   "starts every candidate afresh, the start order reversed each time; more "
                   "follow while the resolution is not reached (default 3: the interval is t "
                   "over the starts, and stopping at two held the truth in 91-93 %% of "
                   "synthetic runs; --quick 1)")  # fmt: skip
    p.add_argument("--max-epochs", type=int, help="interleaved: the most starts per scenario "
                   "(default 30; --quick 1)")  # fmt: skip
    p.add_argument("--epoch-cycles", type=int, help="interleaved: each scenario's cycles per "
                   "epoch when another start may follow (default: the scenario file's; 4 of 0.5 s, "
                   "1 of 2 s: a start is the replicate, its cycles averaged)")  # fmt: skip
    p.add_argument("--rewarm", type=float, dest="rewarm_s", help="interleaved: warm-up seconds of "
                   "an epoch's restarted processes, all candidates at once (default 2; the first "
                   "start has --warmup, in which the Locust users log in)")  # fmt: skip
    p.add_argument("--machine-deviation", type=float, help="interleaved: a speed probe this "
                   "far from the run's median (a fraction) flags the slices around it, which "
                   "--drop-flagged leaves out (default 0.10)")  # fmt: skip
    p.add_argument("--drop-flagged", action="store_true", default=None, help="interleaved: "
                   "leave the slices the probe flagged out of the analysis (default: keep them; "
                   "the pairing within a cycle cancels what the candidates share, and on a host "
                   "switching speeds dropping them took half the slices; README, \"The "
                   "probe\")")  # fmt: skip
    p.add_argument(
        "--per-scenario-starts",
        dest="shared_starts",
        action="store_false",
        help="interleaved: every scenario starts and restarts the candidates for itself "
        "(default: one start serves every closed-loop scenario in turn, so a restart is paid "
        "once per epoch; README, \"Epochs\")",
    )
    p.add_argument(
        "--reconnect-each-slice",
        action="store_true",
        help="interleaved: every Locust user drops its keep-alive connection after each pause, "
        "so how the connections split over a spike's workers is drawn per slice, not per start "
        "(off by default: in two default runs it did not narrow the intervals; README, "
        "\"Epochs\")",
    )
    p.add_argument(
        "--probe-normalise",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="interleaved: scale each slice by the machine's speed during it, as the in-slice "
        "tracker read it (on by default: it narrowed the intervals on this project's VM; "
        "README, \"The probe\"); the report shows both",
    )
    p.add_argument(
        "--no-start-order-adjust",
        dest="start_order_adjust",
        action="store_false",
        help="interleaved: leave throughput as measured instead of putting each slice back to "
        "its epoch's middle start position (on this project's VM a candidate started later ran "
        "~1 %% faster per position; README, \"Start order\")",
    )
    p.add_argument(
        "--trials", type=int, help="trials design: trials per spike × scenario (default: 3; "
        "--quick: 1)"
    )
    p.add_argument(
        "--warmup", type=float, dest="warmup_s",
        help="warm-up seconds, per trial or per interleaved candidate (default: 5; --quick: 2)"
    )
    p.add_argument(
        "--duration",
        type=float,
        dest="measure_s",
        help="trials design: measured seconds per trial (default: 15; --quick: 5)",
    )
    p.add_argument(
        "--users", type=int, help="override every scenario's user count (default: the scenario's)"
    )
    p.add_argument(
        "--runtime",
        choices=["auto", "local", "compose"],
        default="auto",
        help="where spikes and PostgreSQL run: local processes, compose containers, or auto "
        "(compose when a container engine answers, else local)",
    )
    p.add_argument(
        "--sut-cpus",
        help="CPUs for the spike and Postgres, e.g. 0 or 0-1 (default: the first half)",
    )
    p.add_argument(
        "--loadgen-cpus", help="CPUs for Locust and the harness, e.g. 1 (default: the second half)"
    )
    p.add_argument(
        "--loadgen-workers",
        type=int,
        default=0,
        help="run Locust as a master and N worker processes (0: one Locust process)",
    )
    p.add_argument("--output", type=Path, default=RESULTS_DIR, help="results folder")
    p.add_argument("--run-id", help="name of the run folder (default: timestamp + random)")
    p.add_argument("--spikes-dir", type=Path, default=SPIKES_DIR, help=argparse.SUPPRESS)
    p.add_argument("--seed-users", type=int, default=1000, help="users in the seed database")
    p.add_argument("--seed-items", type=int, default=100, help="items per seeded user")
    p.add_argument(
        "--order-seed",
        type=int,
        help="seed of the trial order shuffle (default: random, recorded in run.json)",
    )
    p.add_argument("--spike-port", type=int, help="fixed port for the spike (default: a free one)")
    p.add_argument(
        "--upstream-delay", default="lognormal:50:200",
        help="scenarios needing `quote`: the pricing stub's delay in ms, fixed:MS, uniform:LO:HI "
        "or lognormal:MEDIAN:P99 (default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--upstream-error-rate", type=float, default=0.0,
        help="share of the pricing stub's answers that are 503s (default: %(default)s)",
    )  # fmt: skip
    p.add_argument("--rebuild-envs", action="store_true", help="rebuild the spike venvs")
    p.add_argument(
        "--quick", action="store_true", help="smoke preset: 2 s warm-up; interleaved: 1.5 s "
        "slices, 150 s budget, 3 cycles minimum; trials: 1 trial of 5 s"
    )


def team_slo() -> float:
    """The SLO the team wrote in decision.toml ([performance] slo_p99_ms), else 100 ms."""
    from harness.decide.criteria import DEFAULT_CRITERIA
    from harness.errors import read_toml

    try:
        data = read_toml(DEFAULT_CRITERIA, "")
    except SpikebenchError:
        return 100.0
    value = (data.get("performance") or {}).get("slo_p99_ms", 100.0)
    return float(value) if isinstance(value, int | float) and value > 0 else 100.0


def shortlist(spikes_dir: Path) -> list[str] | None:
    """What the team decides between (decision.toml [shortlist]); None: every spike."""
    from harness.decide.criteria import DEFAULT_CRITERIA, load_shortlist

    return load_shortlist(DEFAULT_CRITERIA, spikes_dir) or None


def cmd_bench(args: argparse.Namespace, argv: list[str]) -> int:
    # started in the background (nohup, `&`), Python leaves SIGINT ignored: Ctrl-C / kill -INT
    # must still stop a run and keep what it measured
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from harness.run.progress import ConsoleProgress
    from harness.run.runconfig import BenchConfig
    from harness.run.runner import Bench

    preset = QUICK if args.quick else {"trials": 3, "warmup_s": 5.0, "measure_s": 15.0}
    inter = QUICK_INTERLEAVED if args.quick else {}
    spikes = args.spikes
    if args.aa and not spikes:
        spikes = [args.aa]  # `--aa flask` alone: an A/A run of flask against itself
    if not spikes:
        spikes = shortlist(args.spikes_dir)
    config = BenchConfig(
        spikes=spikes,
        scenarios=args.scenarios,
        trials=args.trials or int(preset["trials"]),
        warmup_s=args.warmup_s if args.warmup_s is not None else preset["warmup_s"],
        measure_s=args.measure_s if args.measure_s is not None else preset["measure_s"],
        users=args.users,
        runtime=args.runtime,
        sut_cpus=args.sut_cpus,
        loadgen_cpus=args.loadgen_cpus,
        results_dir=args.output,
        spikes_dir=args.spikes_dir,
        seed_users=args.seed_users,
        seed_items=args.seed_items,
        order_seed=args.order_seed,
        loadgen_workers=args.loadgen_workers,
        spike_port=args.spike_port,
        rebuild_envs=args.rebuild_envs,
        quick=args.quick,
        run_id=args.run_id,
        design=args.design or ("trials" if args.runtime == "compose" else "interleaved"),
        resolution=args.resolution,
        aa=args.aa,
        probe_normalise=args.probe_normalise,
        adjust_start_order=getattr(args, "start_order_adjust", True),
        reconnect=getattr(args, "reconnect_each_slice", False),
        shared_starts=getattr(args, "shared_starts", True),
        slo_p99_ms=args.slo_p99_ms or team_slo(),
        upstream_delay=args.upstream_delay,
        upstream_error_rate=args.upstream_error_rate,
    )
    if args.command == "soak":
        from harness.run.soak import rate_from

        config.open_rate = rate_from(args)
        config.soak = True
        config.scenarios = config.scenarios or ["read_heavy"]
        config.budget_s = args.minutes * 60 + 30 * len(config.scenarios)
        config.slice_s, config.lead_in_s = args.slice_s or 30.0, 0.5
        config.min_cycles, config.resolution = 10**6, 0.0  # runs to the end: no early stop
        # one process for the whole soak: its memory growth is the point
        config.epochs = config.max_epochs = 1
    if args.command == "capacity":
        config.capacity = list(config.scenarios or []) or ["read_heavy"]
        config.scenarios = config.capacity
        config.capacity_only = True
    elif args.command == "bench":
        from harness.scenario import DEFAULT_CAPACITY, DEFAULT_SCENARIOS

        base = config.scenarios or list(DEFAULT_SCENARIOS)
        wanted = args.capacity
        if wanted is None and not args.quick and config.design == "interleaved":
            wanted = [s for s in DEFAULT_CAPACITY if s in base]
        wanted = [s for s in wanted or [] if s != "none"]
        config.capacity = wanted or None
        if wanted:
            config.scenarios = list(dict.fromkeys([*base, *wanted]))
    for key, value in (
        ("budget_s", args.budget),
        ("slice_s", args.slice_s),
        ("lead_in_s", args.lead_in_s),
        ("min_cycles", args.min_cycles),
        ("epochs", args.epochs),
        ("max_epochs", args.max_epochs),
        ("epoch_cycles", args.epoch_cycles),
        ("rewarm_s", args.rewarm_s),
        ("machine_deviation", args.machine_deviation),
        ("drop_flagged", args.drop_flagged),
        ("step_s", args.step_s),
        ("equal_load_cycles", None),
    ):
        if value is not None:
            setattr(config, key, value)
        elif key in inter:
            setattr(config, key, inter[key])
    console = wide_console()
    progress = ConsoleProgress()
    try:
        bench = Bench(config, argv, progress)
    except SpikebenchError as exc:
        console.print(f"[red]error[/]: {escape(str(exc))}")
        return 2
    # A CI job being cancelled sends SIGTERM: treat it like Ctrl-C, so our process groups stop
    # and the measured trials are kept.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        folder = bench.execute()
    except KeyboardInterrupt:
        progress.finish()
        console.print(f"[red]interrupted[/]: measured trials kept in {bench.folder}/run.json")
        return 130
    except SpikebenchError as exc:
        progress.finish()
        console.print(f"[red]error[/]: {escape(str(exc))}")
        if bench.folder:
            console.print(f"what was measured is kept in {bench.folder}/run.json")
            if bench.run.get("trials"):  # a run that failed midway still gets its report
                print_documents(console, bench.folder)
        return 2
    print_summary(console, bench.run)
    console.print(f"result: {folder}/run.json")
    print_documents(console, folder)
    return 0 if all(t["valid"] for t in bench.run["trials"]) else 3


def print_documents(console: Console, folder: Path) -> None:
    """Report and decision record from the run file; a problem there is shown, not fatal."""
    from harness.decide.documents import decision_summary, write_documents

    labels = {"decision.md": "decision record", "score.json": "scores"}
    written, problems = write_documents(folder)
    for path in written:
        console.print(f"{labels.get(path.name, 'report')}: {path}", markup=False)
    for problem in problems:
        console.print(f"warning: {problem}", markup=False, style="yellow")
    pages = [p for p in written if p.name == "report.html"]
    if pages:
        console.print(f"open first: {pages[0]} (the decision, then the evidence)", markup=False)
    decision = decision_summary(folder)
    if decision:
        console.print(f"decision: {decision}", markup=False, style="bold")


def print_summary(console: Console, run: dict[str, Any]) -> None:
    """The run's figures with the same estimate, interval and ranks as report.md."""
    from harness.decide.report import vs_best
    from harness.results import rundata as rd
    from harness.results.projection import forecast_text

    interleaved = rd.design(run) == "interleaved"
    table = Table(title=f"spikebench run {run['run_id']}: {rd.estimator(run)}")
    cols = ["scenario", "rank", "spike", "usable slices" if interleaved else "valid",
            "req/s mean [95% CI]"]  # fmt: skip
    if interleaved:
        cols.append("vs best [95% CI]")
    cols += ["p50 ms", "p99 ms", "app CPU ms/req", "DB CPU ms/req", "peak RSS MiB", "notes"]
    longest = max(map(len, rd.spike_names(run)), default=5)
    for col in cols:  # names whole on one line (13+ candidates, `django_ninja@gthread`)
        if col in ("scenario", "spike"):
            table.add_column(col, no_wrap=True, min_width=longest if col == "spike" else None)
        else:
            table.add_column(col, overflow="fold")
    for scenario in rd.scenario_names(run):
        ranks = {s: (r, t) for s, r, t in rd.ranking(run, scenario)}
        order = list(ranks) + [s for s in rd.spike_names(run) if s not in ranks]
        for spike in order:
            agg = rd.aggregate(run, spike, scenario)
            if agg is None:
                continue
            m = agg["metrics"]

            def mean(key: str, scale: float = 1.0, fmt: str = "{:.1f}", m: dict = m) -> str:
                v = m[key]["mean"]
                return fmt.format(v / scale) if v is not None else "–"

            ci = m["throughput_rps"]["ci95"]
            rps = mean("throughput_rps", fmt="{:.0f}")
            if ci:
                rps += f" [{ci[0]:.0f}–{ci[1]:.0f}]"
            rank = f"{ranks[spike][0]}{' ≈' if ranks[spike][1] else ''}" if spike in ranks else "–"
            n = agg.get("usable_slices") if interleaved else agg["valid_trials"]
            of = agg.get("slices") if interleaved else agg["trials"]
            row = [scenario, rank, spike, f"{n}/{of}", rps]
            if interleaved:
                row.append(vs_best(run, scenario, spike))
            row += [
                mean("p50_ms"),
                mean("p99_ms"),
                mean("app_cpu_ms_per_request", fmt="{:.2f}"),
                mean("db_cpu_ms_per_request", fmt="{:.2f}"),
                mean("peak_rss_bytes", 2**20, "{:.0f}"),
                "; ".join(agg["warnings"]),
            ]
            table.add_row(*row)
    console.print(table)
    console.print(rd.resolution_text(run), markup=False)
    if forecast := forecast_text(run):
        console.print(forecast, markup=False)


def cmd_setup(args: argparse.Namespace) -> int:
    from harness.manifest import discover_spikes
    from harness.run.postgres import find_binaries
    from harness.run.spikeenv import ensure_env

    console = make_console()
    bindir, source = find_binaries()
    console.print(f"PostgreSQL binaries: {bindir} ({source})")
    for manifest in discover_spikes(args.spikes_dir):
        env = ensure_env(manifest, rebuild=args.rebuild_envs)
        console.print(f"spike {manifest.name}: venv {env.path} ({len(env.packages())} packages)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.results.resultfile import load_run

    for path in args.runs:
        run = load_run(path)
        make_console().print(
            f"{path}: valid run.json (schema {run['schema_version']}, "
            f"{len(run['trials'])} trials, status {run['status']})",
            markup=False,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spikebench", description=__doc__)
    parser.add_argument(
        "--version", action="version", version=f"spikebench {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup", help="build every spike's venv and check PostgreSQL")
    setup.add_argument("--spikes-dir", type=Path, default=SPIKES_DIR, help=argparse.SUPPRESS)
    setup.add_argument("--rebuild-envs", action="store_true", help="rebuild the spike venvs")
    add_bench(sub)
    validate = sub.add_parser("validate", help="check result files against the schema")
    validate.add_argument("runs", nargs="+", type=Path, help="results/<run-id> folders or run.json")
    from harness import listing
    from harness.decide import compare, documents, precision, report
    from harness.run import crosscheck, inspect, machine, serve

    for reader in (report, compare, documents, inspect, precision, serve, listing, crosscheck,
                   machine):  # fmt: skip
        reader.add_parser(sub)
    for subparser in sub.choices.values():
        subparser.formatter_class = HelpFormatter
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("bench", "capacity", "soak"):
            return cmd_bench(args, ["spikebench", *argv])
        if args.command == "setup":
            return cmd_setup(args)
        if args.command == "validate":
            return cmd_validate(args)
        if hasattr(args, "handler"):
            return int(args.handler(args))
    except SpikebenchError as exc:
        make_console(stderr=True).print(f"[red]error[/]: {escape(str(exc))}")
        return 2
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
