"""The `spikebench` command: setup, bench, and the readers of result files."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness import __version__
from harness.console import console as make_console
from harness.errors import SpikebenchError
from harness.paths import RESULTS_DIR, SPIKES_DIR

QUICK = {"trials": 1, "warmup_s": 2.0, "measure_s": 5.0}


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
    p.add_argument("--spikes", type=csv_list, help="comma-separated spike names (default: all)")
    p.add_argument(
        "--scenarios",
        type=csv_list,
        help="comma-separated scenario names (default: read_heavy,crud_mix,write_heavy,auth_storm)",
    )
    p.add_argument(
        "--trials", type=int, help="trials per spike × scenario (default: 3; --quick: 1)"
    )
    p.add_argument(
        "--warmup", type=float, dest="warmup_s", help="warm-up seconds (default: 5; --quick: 2)"
    )
    p.add_argument(
        "--duration",
        type=float,
        dest="measure_s",
        help="measured seconds per trial (default: 15; --quick: 5)",
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
    p.add_argument("--rebuild-envs", action="store_true", help="rebuild the spike venvs")
    p.add_argument(
        "--quick", action="store_true", help="smoke preset: 1 trial, 2 s warm-up, 5 s measured"
    )


def cmd_bench(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.progress import ConsoleProgress
    from harness.runner import Bench, BenchConfig

    preset = QUICK if args.quick else {"trials": 3, "warmup_s": 5.0, "measure_s": 15.0}
    config = BenchConfig(
        spikes=args.spikes,
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
    )
    console = wide_console()
    progress = ConsoleProgress()
    bench = Bench(config, argv, progress)
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
    from harness.documents import decision_summary, write_documents

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


def print_summary(console: Console, run: dict[str, object]) -> None:
    table = Table(title=f"spikebench run {run['run_id']}")
    for col in (
        "scenario",
        "spike",
        "valid",
        "req/s (median, 95% CI)",
        "p50 ms",
        "p99 ms",
        "app CPU ms/req",
        "DB CPU ms/req",
        "peak RSS MiB",
        "notes",
    ):
        table.add_column(col)
    for agg in run["aggregates"]:  # type: ignore[attr-defined]
        m = agg["metrics"]

        def med(key: str, scale: float = 1.0, fmt: str = "{:.1f}", m: dict = m) -> str:
            v = m[key]["median"]
            return fmt.format(v / scale) if v is not None else "–"

        ci = m["throughput_rps"]["ci95"]
        rps = med("throughput_rps", fmt="{:.0f}")
        if ci:
            rps += f" [{ci[0]:.0f}–{ci[1]:.0f}]"
        table.add_row(
            agg["scenario"],
            agg["spike"],
            f"{agg['valid_trials']}/{agg['trials']}",
            rps,
            med("p50_ms"),
            med("p99_ms"),
            med("app_cpu_ms_per_request", fmt="{:.2f}"),
            med("db_cpu_ms_per_request", fmt="{:.2f}"),
            med("peak_rss_bytes", 2**20, "{:.0f}"),
            "; ".join(agg["warnings"]),
        )
    console.print(table)


def cmd_setup(args: argparse.Namespace) -> int:
    from harness.manifest import discover_spikes
    from harness.postgres import find_binaries
    from harness.spikeenv import ensure_env

    console = make_console()
    bindir, source = find_binaries()
    console.print(f"PostgreSQL binaries: {bindir} ({source})")
    for manifest in discover_spikes(args.spikes_dir):
        env = ensure_env(manifest, rebuild=args.rebuild_envs)
        console.print(f"spike {manifest.name}: venv {env.path} ({len(env.packages())} packages)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from harness.resultfile import load_run

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
    from harness import compare, inspect, listing, report, score, serve

    for reader in (report, compare, score, inspect, serve, listing):  # each adds its own command
        reader.add_parser(sub)
    for subparser in sub.choices.values():
        subparser.formatter_class = HelpFormatter
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "bench":
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
