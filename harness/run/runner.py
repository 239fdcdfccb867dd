"""The run engine: one `bench` run, in either design, keeping every measured result.

- interleaved (the default, harness/run/interleave.py): per scenario every candidate runs at
  once and load is given in short slices, a new random order each cycle, until the paired
  comparisons reach the target resolution or the budget is spent;
- trials: one process per (spike, scenario) trial, rounds in shuffled order; startup, memory growth
  and fresh-database effects belong to it.

scenario → run → result file: this module produces results/<run-id>/run.json and nothing reads
anything back from a running system afterwards.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, SpikebenchError, SpikeStartError
from harness.manifest import Parity, SpikeManifest, load_parity, select_spikes
from harness.paths import RESULTS_DIR, SPIKES_DIR
from harness.results import slices
from harness.results.resultfile import (
    RUN_FILE,
    SCHEMA_VERSION,
    create_run_dir,
    new_run_id,
    write_atomic,
)
from harness.results.rundata import dig
from harness.results.stats import HIGH_CV, TRIALS_ESTIMATOR, summarize
from harness.run import metrics
from harness.run.dbwork import trial_db_work
from harness.run.inspect import inspect_for_bench
from harness.run.loadgen import Loadgen, LoadgenConfig
from harness.run.metadata import harness_info, machine, utc_now
from harness.run.monitor import Monitor, tree_memory
from harness.run.postgres import Postgres, free_port
from harness.run.probe import SpeedProbe, speed_index
from harness.run.progress import Progress
from harness.run.runtime import Runtime, SpikeHandle, make_runtime
from harness.run.seed import load_seed_module, seed_password_hash
from harness.run.server import http_get
from harness.scenario import Scenario, select_scenarios

DESIGNS = ("interleaved", "trials")

AGGREGATED = {
    "throughput_rps": ("throughput_rps",),
    "p50_ms": ("latency_ms", "p50"),
    "p99_ms": ("latency_ms", "p99"),
    "error_rate": ("error_rate",),
    "app_cpu_ms_per_request": ("cpu", "app_ms_per_request"),
    "db_cpu_ms_per_request": ("cpu", "db_ms_per_request"),
    "idle_rss_bytes": ("memory", "idle_rss_bytes"),
    "peak_rss_bytes": ("memory", "peak_rss_bytes"),
    "peak_pss_bytes": ("memory", "peak_pss_bytes"),
    "startup_seconds": ("startup_seconds",),
}


@dataclass
class Thresholds:
    loadgen_cpu: float = 0.80  # share of one core used by the busiest Locust process
    error_rate: float = 0.01
    noisy_neighbour: float = 0.15  # share of the SUT CPUs used by processes that are not the SUT
    min_requests: int = 200  # fewer measured requests than this: a warning, not a verdict
    lag_tolerance_ms: float = 10.0  # open model: p90 of send lag above this is loadgen_lagging


@dataclass
class BenchConfig:
    spikes: list[str] | None = None
    scenarios: list[str] | None = None
    trials: int = 3
    warmup_s: float = 5.0
    measure_s: float = 15.0
    users: int | None = None
    runtime: str = "auto"
    sut_cpus: str | None = None
    loadgen_cpus: str | None = None
    results_dir: Path = RESULTS_DIR
    spikes_dir: Path = SPIKES_DIR
    seed_users: int = 1000
    seed_items: int = 100
    order_seed: int | None = None
    loadgen_workers: int = 0
    spike_port: int | None = None
    rebuild_envs: bool = False
    quick: bool = False
    run_id: str | None = None
    design: str = "interleaved"
    slice_s: float = 3.0  # measured seconds per slice (interleaved)
    lead_in_s: float = 0.5  # discarded at the start of each slice: reconnects, gate burst
    budget_s: float = 13 * 60.0  # wall-clock budget of the whole run's measuring (interleaved)
    resolution: float = 0.03  # target half-width of every ratio to the best (interleaved)
    min_cycles: int = 6
    aa: str | None = None  # run this spike twice (an A/A pair) to measure the resolution
    probe_normalise: bool = False  # scale slices by the speed probe (see README: kept off)
    machine_deviation: float = 0.10  # a probe this far from the median flags its slices
    capacity: list[str] | None = None  # scenarios whose task mix gets a capacity search
    capacity_only: bool = False  # `spikebench capacity`: no closed-loop slices
    slo_p99_ms: float = 100.0
    step_s: float = 4.0  # measured seconds of one capacity or equal-load step
    capacity_start_rps: float = 25.0
    capacity_precision: float = 0.10
    equal_load_fractions: tuple[float, ...] = (0.5, 0.8)
    equal_load_cycles: int = 3
    capacity_overrun_s: float = 60.0  # equal-load steps may run this far past the budget
    open_rate: float | None = None  # run every scenario's task mix open at this rate (soak)
    soak: bool = False
    thresholds: Thresholds = field(default_factory=Thresholds)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["results_dir"] = str(self.results_dir)
        data["spikes_dir"] = str(self.spikes_dir)
        return data


def default_cpu_sets() -> tuple[str | None, str | None]:
    """Half the CPUs for the system under test, the rest for Locust; none on a 1-CPU machine."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    half = len(cpus) // 2
    return ",".join(map(str, cpus[:half])), ",".join(map(str, cpus[half:]))


def parse_cpus(spec: str | None) -> list[int]:
    if not spec:
        return sorted(os.sched_getaffinity(0))
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def plan_trials(
    spikes: list[SpikeManifest], scenarios: list[Scenario], trials: int, seed: int
) -> list[tuple[int, SpikeManifest, Scenario]]:
    """N rounds, each every (spike, scenario) once in a shuffled order: drift over time spreads
    over all candidates instead of landing on whichever ran last."""
    rng = random.Random(seed)
    plan = []
    for round_no in range(1, trials + 1):
        pairs = [(sp, sc) for sc in scenarios for sp in spikes]
        rng.shuffle(pairs)
        plan.extend((round_no, sp, sc) for sp, sc in pairs)
    return plan



def aggregate(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (spike, scenario): summaries over valid trials only; invalid ones are counted."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for trial in trials:
        groups.setdefault((trial["spike"], trial["scenario"]), []).append(trial)
    out = []
    for (spike, scenario), group in sorted(groups.items()):
        valid = [t for t in group if t["valid"]]
        summaries = {
            name: summarize(
                [v for t in valid if (v := dig(t.get("metrics") or {}, path)) is not None]
            )
            for name, path in AGGREGATED.items()
        }
        warnings = []
        cv = summaries["throughput_rps"]["cv"]
        if cv is not None and cv > HIGH_CV:
            warnings.append(f"high_cv: throughput varies {cv:.0%} between trials (> {HIGH_CV:.0%})")
        if len(valid) < len(group):
            warnings.append(f"{len(group) - len(valid)} of {len(group)} trials invalid, left out")
        if len(valid) < 2:
            warnings.append("fewer than 2 valid trials: no confidence interval")
        out.append(
            {
                "spike": spike,
                "scenario": scenario,
                "trials": len(group),
                "valid_trials": len(valid),
                "metrics": summaries,
                "warnings": warnings,
            }
        )
    return out


class Bench:
    """One `spikebench bench` run: owns the runtime, the database and the result file."""

    def __init__(
        self,
        config: BenchConfig,
        argv: list[str],
        progress: Progress | None = None,
        parity: Parity | None = None,
    ) -> None:
        self.config = config
        self.argv = argv
        self.progress = progress or Progress()
        parity_file = config.spikes_dir / "parity.toml"
        self.parity = parity or load_parity(parity_file if parity_file.exists() else None)
        self.spikes = select_spikes(config.spikes, config.spikes_dir)
        self.scenarios = select_scenarios(config.scenarios)
        if config.sut_cpus is None and config.loadgen_cpus is None:
            config.sut_cpus, config.loadgen_cpus = default_cpu_sets()
        if config.order_seed is None:
            config.order_seed = random.SystemRandom().randrange(2**31)
        self.run_id = config.run_id or new_run_id()
        self.folder: Path | None = None
        self.run: dict[str, Any] = {}
        self.runtime: Runtime | None = None
        self.db: Postgres | None = None
        self.template = ""
        self.probe = SpeedProbe(config.sut_cpus)
        self.sut_cpu_list = parse_cpus(config.sut_cpus)
        self.interrupt_requested = False
        self.candidates = self._check_design()

    def _check_design(self) -> list[Any]:
        """What cannot be interleaved is refused before anything starts, with the way out."""
        from harness.run.interleave import candidates

        cfg = self.config
        if cfg.design not in DESIGNS:
            raise ConfigError(f"unknown design {cfg.design!r}: use one of {', '.join(DESIGNS)}")
        if cfg.design == "trials":
            if cfg.aa:
                raise ConfigError("--aa needs the interleaved design (drop --design trials)")
            return []
        why = None
        if cfg.runtime == "compose":
            why = "the compose runtime runs one spike container at a time"
        elif cfg.loadgen_workers:
            why = "--loadgen-workers runs Locust as master and workers, which cannot be paused"
        elif cfg.spike_port:
            why = "--spike-port fixes one port, and interleaving runs every candidate at once"
        elif bad := [s.name for s in self.scenarios if not s.interleave]:
            why = f"scenario(s) {bad} say interleave = false"
        if why:
            raise ConfigError(f"cannot interleave: {why}; run with --design trials")
        if cfg.runtime == "auto":
            cfg.runtime = "local"  # interleaving runs local process groups
        return candidates(self.spikes, cfg.aa)

    # -- the result file ----------------------------------------------------------------------

    def save(self) -> None:
        assert self.folder is not None
        if self.config.design == "trials":
            self.run["aggregates"] = aggregate(self.run["trials"])
        else:
            self.run["probes"] = speed_index(self.probe.series)
            self.run["aggregates"] = [
                agg
                for sc in self.scenarios
                for agg in slices.aggregates(
                    self.run["slices"],
                    sc.name,
                    [c.name for c in self.candidates],
                    {t["spike"]: t for t in self.run["trials"] if t["scenario"] == sc.name},
                )
                if agg["trials"]
            ]
        self.run["updated_at"] = utc_now()
        write_atomic(self.folder / RUN_FILE, self.run)

    def analyse(self, scenario: str, names: list[str]) -> dict[str, Any]:
        """Re-judge every slice against the run's median speed, then the scenario's figures.

        Both the raw and the probe-normalised resolution are kept, so every run shows whether
        normalising would have helped; an A/A pair's own interval is a floor for ranking."""
        cfg = self.config
        slices.flag_machine(self.run["slices"], cfg.machine_deviation)

        def run_analysis(names: list[str], normalise: bool, floor: float = 0.0) -> dict[str, Any]:
            return slices.analyse(
                self.run["slices"], scenario, names, cfg.resolution,
                seed=int(cfg.order_seed or 0), normalise=normalise, floor=floor,
            )  # fmt: skip

        raw, norm = run_analysis(names, False), run_analysis(names, True)
        result = norm if cfg.probe_normalise else raw
        twin = next((c for c in self.candidates if c.aa_of), None)
        if twin is not None and twin.aa_of:
            pair = run_analysis([twin.aa_of, twin.name], cfg.probe_normalise)
            other = twin.name if pair["best"] == twin.aa_of else twin.aa_of
            ratio = (pair["ratios_to_best"] or {}).get(other) or {}
            aa = {"a": pair["best"], "b": other, **ratio}
            pa = ratio.get("paired") or {}
            if pa.get("half_width") is not None:
                floor = max(pa["half_width"], abs(pa["estimate"] - 1.0))
                result = run_analysis(names, cfg.probe_normalise, floor)
            result["aa"] = aa
        result["probe_normalisation"] = {
            "used": cfg.probe_normalise,
            "resolution_raw": raw["resolution"],
            "resolution_normalised": norm["resolution"],
        }
        result["stop_reason"] = self.run["analysis"].get(scenario, {}).get("stop_reason", "running")
        self.run["analysis"][scenario] = result
        return result

    def _start_record(self) -> None:
        self.folder = create_run_dir(self.config.results_dir, self.run_id)
        self.run = {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "status": "running",
            "error": None,
            "started_at": utc_now(),
            "updated_at": utc_now(),
            "finished_at": None,
            "harness": harness_info(self.argv),
            "config": self.config.to_dict(),
            "machine": machine(),
            "pinning": {
                "sut_cpus": self.config.sut_cpus,
                "loadgen_cpus": self.config.loadgen_cpus,
                "harness_cpus": self.config.loadgen_cpus,
            },
            "runtime": {},
            "database": {},
            "parity": self.parity.to_dict(),
            "spikes": {},
            "scenarios": {s.name: s.to_dict() for s in self.scenarios},
            "design": self.config.design,
            "estimator": TRIALS_ESTIMATOR if self.config.design == "trials" else slices.ESTIMATOR,
            "candidates": {
                c.name: {"spike": c.manifest.name, "aa_of": c.aa_of} for c in self.candidates
            },
            "trials": [],
            "slices": [],
            "probes": [],
            "analysis": {},
            "overhead": {},
            "aggregates": [],
        }
        self.save()

    # -- the run ------------------------------------------------------------------------------

    def execute(self) -> Path:
        """Run everything; whatever happens, the file keeps what was measured."""
        self._t_budget = time.monotonic()
        self._start_record()
        assert self.folder is not None
        if self.config.loadgen_cpus:  # the harness itself must not steal from the SUT
            os.sched_setaffinity(0, parse_cpus(self.config.loadgen_cpus))
        try:
            self._execute()
            self.run["status"] = "complete"
        except KeyboardInterrupt:
            self.run["status"] = "interrupted"
            self.run["error"] = "interrupted by the user (Ctrl-C); measured trials are kept"
            raise
        except SpikebenchError as exc:
            self.run["status"] = "failed"
            self.run["error"] = str(exc)
            raise
        except Exception as exc:
            self.run["status"] = "failed"
            self.run["error"] = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.run["finished_at"] = utc_now()
            with contextlib.suppress(Exception):
                self._teardown()
            if self.config.soak:
                from harness.run.soak import soak_figures

                self.run["soak"] = soak_figures(self.run)
            self.save()
        return self.folder

    def _teardown(self) -> None:
        self._record_overhead()
        self.probe.stop()
        if self.db is not None:
            self.db.stop()
            self.db = None
        if self.runtime is not None:
            self.runtime.close()

    def _execute(self) -> None:
        self.runtime = make_runtime(self.config.runtime, self.config.rebuild_envs)
        self.run["runtime"] = self.runtime.describe()
        self.progress.message(f"preparing {len(self.spikes)} spike environment(s) …")
        prepared = self.runtime.prepare(self.spikes)
        self.run["inspection"] = inspect_for_bench(self.spikes, self.runtime, prepared, self.parity)
        for spike in self.spikes:
            self.run["spikes"][spike.name] = self._spike_record(spike, prepared[spike.name])
        for cand in self.candidates:
            if cand.aa_of:
                twin = dict(self.run["spikes"][cand.aa_of])
                self.run["spikes"][cand.name] = twin | {"aa_of": cand.aa_of}
                self.run["inspection"][cand.name] = self.run["inspection"].get(cand.aa_of, {})
        self.save()
        self.progress.message("starting PostgreSQL and loading the seed …")
        self.db = self.runtime.start_database(self.config.sut_cpus)
        template = self.db.create_template(
            self.config.seed_users, self.config.seed_items, seed_password_hash(self.parity)
        )
        self.run["database"] = self.db.describe()
        self.run["database"]["seed"] = {
            "users": self.config.seed_users,
            "items_per_user": self.config.seed_items,
            "template": template,
        }
        self.template = template
        self.save()
        if self.config.design == "interleaved":
            self._interleaved()
            return
        plan = plan_trials(
            self.spikes, self.scenarios, self.config.trials, int(self.config.order_seed or 0)
        )
        per_trial = self.config.warmup_s + self.config.measure_s + 6
        self.progress.start(len(plan), per_trial)
        for index, (round_no, spike, scenario) in enumerate(plan, start=1):
            self.progress.trial(index, spike.name, scenario.name, round_no)
            trial = self._trial(index, round_no, spike, scenario, template)
            self.run["trials"].append(trial)
            self.save()
            self.progress.trial_done(trial)
        self.progress.finish()

    def _interleaved(self) -> None:
        from harness.run.capacity import CapacityScenario
        from harness.run.interleave import InterleavedScenario

        self.probe.start()
        self._t_start = time.monotonic()
        deadline = self._t_budget + self.config.budget_s
        cap = set(self.config.capacity or [])
        plan: list[tuple[Scenario, type[InterleavedScenario], float]] = []
        for sc in self.scenarios:
            if not self.config.capacity_only:
                plan.append((sc, InterleavedScenario, 1.0))
            if sc.name in cap:
                plan.append((sc, CapacityScenario, 1.5))  # a search and two equal-load rates
        for k, (scenario, kind, weight) in enumerate(plan):
            remaining = deadline - time.monotonic()
            share = weight / sum(w for _, _, w in plan[k:])
            end = time.monotonic() + max(remaining * share, 0.0)
            label = "capacity search" if kind is CapacityScenario else "interleaved"
            self.progress.message(
                f"{scenario.name}: {len(self.candidates)} candidates, {label}, "
                f"{max(end - time.monotonic(), 0):.0f} s of budget"
            )
            kind(self, scenario, self.candidates, end, k + 1).run()
            self.save()
            if kind is CapacityScenario:
                searches = (self.run.get("capacity") or {}).get(scenario.name, {}).get(
                    "searches", {}
                )
                self.progress.message(
                    f"{scenario.name} capacity at p99 ≤ {self.config.slo_p99_ms:g} ms: "
                    + ", ".join(
                        f"{n} {s['bracket'][0] or 0:.0f}–{s['bracket'][1] or 0:.0f} req/s"
                        for n, s in searches.items()
                    )
                )
                continue
            an = self.run["analysis"].get(scenario.name, {})
            res = an.get("resolution")
            self.progress.message(
                f"{scenario.name}: {an.get('stop_reason')}; resolution "
                + (f"±{res:.1%}" if res is not None else "–")
                + f" after {an.get('cycles', 0)} cycles"
            )

    def closed_throughput(self, scenario: str, spike: str) -> float | None:
        """This run's closed-loop throughput estimate of a candidate, if it measured one."""
        table = slices.cycle_table(self.run["slices"], scenario, [spike], "throughput_rps")
        values = [v for v in table[spike] if v]
        return sum(values) / len(values) if values else None

    def _record_overhead(self) -> None:
        """What the harness's own samplers and the probe cost, measured, in share of a core."""
        if self.config.design != "interleaved" or not hasattr(self, "_t_start"):
            return
        wall = time.monotonic() - self._t_start
        over = self.run["overhead"]
        over["wall_s"] = wall
        over["probe_cpu_s"] = self.probe.cpu_seconds()
        over["probes"] = len(self.probe.series)
        over["probe_share"] = over["probe_cpu_s"] / wall if wall else None
        over["sampler_share"] = over.get("sampler_cpu_s", 0.0) / wall if wall else None

    def new_record(
        self, trial_id: str, index: int, round_no: int, spike: str, scenario: Scenario
    ) -> dict[str, Any]:
        assert self.folder is not None
        return {
            "id": trial_id,
            "index": index,
            "round": round_no,
            "spike": spike,
            "scenario": scenario.name,
            "started_at": utc_now(),
            "valid": False,
            "invalid_reasons": [],
            "warnings": [],
            "error": None,
            "metrics": None,
            "raw_dir": str((self.folder / "raw" / trial_id).relative_to(self.folder)),
            "command": None,
            "loadgen_command": None,
        }

    def _spike_record(self, spike: SpikeManifest, prepared: dict[str, Any]) -> dict[str, Any]:
        return {
            "manifest": {k: v for k, v in spike.raw.items()},
            "framework": spike.framework,
            "framework_version": prepared.get("framework_version"),
            "packages": prepared.get("packages", {}),
            "environment": prepared.get("environment", {}),
            "parity": {
                "workers": self.parity.workers,
                "db_pool_size": self.parity.db_pool_size,
                "argon2": {
                    "time_cost": self.parity.argon2_time_cost,
                    "memory_kib": self.parity.argon2_memory_kib,
                    "parallelism": self.parity.argon2_parallelism,
                },
                "jwt_ttl_seconds": self.parity.jwt_ttl_seconds,
                "orm": spike.orm,
                "orm_tier": self.parity.orm_tier,
                "driver": spike.driver,
                "server": spike.server,
                "worker_class": spike.worker_class,
                "interface": spike.interface,
                "validation": spike.validation,
                "recommended_workers": spike.recommended_workers,
            },
        }

    # -- one trial ----------------------------------------------------------------------------

    def _trial(
        self, index: int, round_no: int, spike: SpikeManifest, scenario: Scenario, template: str
    ) -> dict[str, Any]:
        assert self.db is not None and self.runtime is not None and self.folder is not None
        trial_id = f"{index:03d}-{spike.name}-{scenario.name}"
        raw_dir = self.folder / "raw" / trial_id
        raw_dir.mkdir(parents=True, exist_ok=True)
        record: dict[str, Any] = {
            "id": trial_id,
            "index": index,
            "round": round_no,
            "spike": spike.name,
            "scenario": scenario.name,
            "started_at": utc_now(),
            "valid": False,
            "invalid_reasons": [],
            "warnings": [],
            "error": None,
            "metrics": None,
            "raw_dir": str(raw_dir.relative_to(self.folder)),
            "command": None,
            "loadgen_command": None,
        }
        dbname = f"sb_{self.run_id.replace('-', '_').lower()}_{index:03d}"
        url = self.db.create_database(dbname, template=template)
        handle: SpikeHandle | None = None
        loadgen: Loadgen | None = None
        try:
            port = self.config.spike_port or free_port()
            try:
                handle = self.runtime.start_spike(
                    spike, url, self.parity, port, self.config.sut_cpus, raw_dir / "spike.log"
                )
            except SpikeStartError as exc:
                record["invalid_reasons"].append("start_failed")
                record["error"] = str(exc)
                self.progress.warn(f"{trial_id}: spike failed to start: {str(exc)[:300]}")
                return record
            record["command"] = handle.command
            time.sleep(1.0)  # let the workers settle before the idle reading
            idle_rss, idle_pss = tree_memory(handle.processes())
            loadgen = Loadgen(
                scenario,
                handle.base_url,
                raw_dir,
                LoadgenConfig(
                    warmup_s=self.config.warmup_s,
                    measure_s=self.config.measure_s,
                    seed_users=self.config.seed_users,
                    seed_items=self.config.seed_items,
                    seed_password=load_seed_module().SEED_PASSWORD,
                    random_seed=int(self.config.order_seed or 0) + index,
                    cpus=self.config.loadgen_cpus,
                    workers=self.config.loadgen_workers,
                    users=self.config.users,
                ),
            )
            db_procs = self._db_processes
            monitor = Monitor(
                app=handle.processes,
                db=db_procs,
                loadgen=loadgen.processes,
                sut_cpus=parse_cpus(self.config.sut_cpus),
            )
            monitor.start()
            crashed = False
            try:
                loadgen.start()
                record["loadgen_command"] = loadgen.command
                deadline = time.monotonic() + loadgen.run_time_s + 60
                while loadgen.running():
                    if not handle.alive():
                        crashed = True
                        loadgen.stop()
                        break
                    if time.monotonic() > deadline:
                        record["warnings"].append("load generator overran its run time; stopped")
                        loadgen.stop()
                        break
                    self.progress.live(loadgen.progress())
                    time.sleep(0.5)
            finally:
                monitor.stop()
                loadgen.stop()
            if not crashed and not self._healthy(handle):
                crashed = True
            record["metrics"] = self._measure(raw_dir, monitor, handle, idle_rss, idle_pss, record)
            if record["metrics"] is not None and not crashed:  # DB work: one hook, harness/dbwork
                record["metrics"]["db_work"] = trial_db_work(
                    self.db, dbname, handle.base_url, [t for t, w in scenario.tasks.items() if w],
                    raw_dir, "user0001", load_seed_module().SEED_PASSWORD,
                )
            if crashed:
                record["invalid_reasons"].append("spike_crashed")
                record["error"] = (
                    "the spike died or stopped answering during the trial; "
                    f"log tail:\n{handle.log_tail(1200)}"
                )
                self.progress.warn(f"{trial_id}: spike crashed or stopped answering")
            self._judge(record)
            return record
        finally:
            record["finished_at"] = utc_now()
            if loadgen is not None:
                loadgen.stop()
            if handle is not None:
                handle.stop()
            with contextlib.suppress(SpikebenchError):
                self.db.drop_database(dbname)

    def db_processes(self) -> list[Any]:
        return self._db_processes()

    def _db_processes(self) -> list[Any]:
        assert self.db is not None
        if self.db.process is None:
            return []
        with contextlib.suppress(Exception):
            return [self.db.process, *self.db.process.children(recursive=True)]
        return []

    @staticmethod
    def _healthy(handle: SpikeHandle) -> bool:
        if not handle.alive():
            return False
        try:
            status, _ = http_get(handle.base_url + "/health", timeout=5)
        except OSError:
            return False
        return status == 200

    def _measure(
        self,
        raw_dir: Path,
        monitor: Monitor,
        handle: SpikeHandle,
        idle_rss: int,
        idle_pss: int,
        record: dict[str, Any],
    ) -> dict[str, Any] | None:
        window = metrics.read_window(raw_dir)
        if window is None:
            record["invalid_reasons"].append("no_load")
            record["error"] = record["error"] or (
                "Locust wrote no measurement window; its log:\n" + _tail(raw_dir / "locust.log")
            )
            return None
        lo, hi = window["measure_start"], window["measure_end"]
        all_requests = metrics.read_requests(raw_dir)
        measured = all_requests.window(lo, hi)
        seconds = hi - lo
        out = metrics.request_metrics(measured, seconds)
        a, b = monitor.at(lo), monitor.at(hi)
        n = max(len(measured), 1)
        app_cpu, db_cpu = b["app_cpu"] - a["app_cpu"], b["db_cpu"] - a["db_cpu"]
        sut_cpus = len(parse_cpus(self.config.sut_cpus))
        sut_busy = b["sut_busy"] - a["sut_busy"]
        db_on_sut = self.db is not None and self.db.cpus is not None
        other = max(sut_busy - app_cpu - (db_cpu if db_on_sut else 0.0), 0.0)
        loadgen_cpus = len(parse_cpus(self.config.loadgen_cpus))
        out["cpu"] = {
            "app_ms_per_request": 1000 * app_cpu / n,
            "db_ms_per_request": (1000 * db_cpu / n) if self.db and self.db.process else None,
            "app_cpu_share": app_cpu / seconds,
            "db_cpu_share": db_cpu / seconds,
            "loadgen_cpu_share": (b["loadgen_cpu"] - a["loadgen_cpu"]) / seconds / loadgen_cpus,
            "loadgen_busiest_process_share": monitor.loadgen_process_share(lo, hi),
            "other_on_sut_share": other / seconds / sut_cpus if self.config.sut_cpus else None,
        }
        peak_rss, peak_pss = monitor.peak_memory(lo, hi)
        out["memory"] = {
            "idle_rss_bytes": idle_rss,
            "idle_pss_bytes": idle_pss,
            "peak_rss_bytes": peak_rss,
            "peak_pss_bytes": peak_pss,
        }
        out["startup_seconds"] = handle.startup_seconds
        usage = getattr(handle, "container_usage", None)
        if callable(usage):  # compose runtime: the containers' own cgroup/engine accounting
            out["container"] = usage(lo, hi, len(measured))
        out["window"] = {
            "warmup_s": window["measure_start"] - window["test_start"],
            "measure_s": seconds,
            "measure_start": lo,
            "measure_end": hi,
        }
        out["timeseries"] = metrics.timeseries(
            all_requests, window["test_start"], self.config.warmup_s, metrics.read_users(raw_dir)
        )
        return out

    def _judge(self, record: dict[str, Any]) -> None:
        """Validity guards: every reason is recorded; an invalid trial stays out of aggregates."""
        th, m = self.config.thresholds, record["metrics"]
        reasons = record["invalid_reasons"]
        if m is not None:
            cpu = m["cpu"]
            busiest = max(
                cpu["loadgen_busiest_process_share"] or 0.0, cpu["loadgen_cpu_share"] or 0.0
            )
            if busiest >= th.loadgen_cpu:
                reasons.append("loadgen_saturated")
                record["warnings"].append(
                    f"load generator at {busiest:.0%} of its CPU (>= {th.loadgen_cpu:.0%}): the "
                    "numbers measure Locust, not the spike"
                )
            if m["error_rate"] > th.error_rate:
                reasons.append("high_error_rate")
                record["warnings"].append(
                    f"error rate {m['error_rate']:.1%} > {th.error_rate:.0%}; "
                    f"statuses {m['status_counts']}"
                )
            other = cpu["other_on_sut_share"]
            if other is not None and other > th.noisy_neighbour:
                reasons.append("noisy_neighbour")
                record["warnings"].append(
                    f"other processes used {other:.0%} of the SUT CPUs (> {th.noisy_neighbour:.0%})"
                )
            if m["requests"] < th.min_requests:
                record["warnings"].append(
                    f"only {m['requests']} measured requests (< {th.min_requests}): imprecise"
                )
        record["valid"] = not reasons


def _tail(path: Path, chars: int = 1500) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-chars:]
    return ""


def remove_run(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
