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
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, SpikebenchError
from harness.manifest import Parity, SpikeManifest, load_parity, select_spikes
from harness.results import slices
from harness.results.resultfile import (
    RUN_FILE,
    SCHEMA_VERSION,
    create_run_dir,
    new_run_id,
    write_atomic,
)
from harness.results.stats import TRIALS_ESTIMATOR
from harness.run import features
from harness.run.inspect import inspect_for_bench
from harness.run.metadata import harness_info, machine, utc_now
from harness.run.postgres import Postgres
from harness.run.probe import SpeedProbe, speed_index
from harness.run.progress import Progress
from harness.run.realtime import report_realtime
from harness.run.runconfig import (  # noqa: F401  (callers import the config from here)
    DESIGNS,
    BenchConfig,
    Thresholds,
    default_cpu_sets,
    parse_cpus,
)
from harness.run.runtime import Runtime, make_runtime
from harness.run.seed import seed_password_hash
from harness.run.trials import TrialsDesign, aggregate, plan_trials  # noqa: F401
from harness.run.upstream_proc import UpstreamStub
from harness.scenario import Scenario, select_scenarios


class Bench(TrialsDesign):
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
        if features.needs_upstream(self.scenarios):
            features.check_upstream(config.upstream_delay, config.upstream_error_rate)
        if config.sut_cpus is None and config.loadgen_cpus is None:
            config.sut_cpus, config.loadgen_cpus = default_cpu_sets()
        if config.order_seed is None:
            config.order_seed = random.SystemRandom().randrange(2**31)
        self.run_id = config.run_id or new_run_id()
        self.folder: Path | None = None
        self.run: dict[str, Any] = {}
        self.runtime: Runtime | None = None
        self.db: Postgres | None = None
        self.upstream: UpstreamStub | None = None  # the pricing stub, when a scenario needs it
        self.template = ""
        self.probe = SpeedProbe(config.sut_cpus)
        self.sut_cpu_list = parse_cpus(config.sut_cpus)
        self.interrupt_requested = False
        self.candidates = self._check_design()

    def _check_design(self) -> list[Any]:
        """What cannot be interleaved is refused before anything starts, with the way out."""
        from harness.run.slicing import candidates

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
                    adjust_order=self.config.adjust_start_order,
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
                adjust_order=cfg.adjust_start_order,
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
        before = self.run["analysis"].get(scenario, {})
        result["stop_reason"] = before.get("stop_reason", "running")
        for kept in ("not_supported", "restart_seconds", "restart_phases", "shared_starts"):
            if kept in before:  # what the scenario's run noted, not what its slices say
                result[kept] = before[kept]
        self.run["analysis"][scenario] = result
        return result

    def _reanalyse(self) -> None:
        """Every closed-loop scenario judged again against the whole run's median speed: the
        probe flags slices against the median of every slice so far, so a scenario analysed
        before the run ended could keep a slice that the final median flags (or the reverse),
        and its ranking would disagree with the aggregates every reader shows."""
        if self.config.design != "interleaved":
            return
        for sc in self.scenarios:
            an = self.run["analysis"].get(sc.name) or {}
            if "ratios_to_best" not in an:
                continue
            names = [c.name for c in self.candidates if c.manifest.supports_all(sc.requires)]
            self.analyse(sc.name, names)

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
                c.name: {**c.manifest.identity(), "aa_of": c.aa_of} for c in self.candidates
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
            with contextlib.suppress(Exception):
                self._reanalyse()
            if self.config.soak:
                from harness.run.soak import soak_figures

                self.run["soak"] = soak_figures(self.run)
            self.save()
        return self.folder

    def _teardown(self) -> None:
        self._record_overhead()
        self.probe.stop()
        if self.upstream is not None:
            self.upstream.stop()
            self.upstream = None
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
        self._start_upstream()
        self.save()
        if self.config.design == "interleaved":
            self._interleaved()
            return
        self._trials(template)

    def _start_upstream(self) -> None:
        """The pricing stub on the load-generator CPUs, when a scenario requires `quote`; every
        spike started from here on gets its URL (SPIKE_UPSTREAM_URL)."""
        if not features.needs_upstream(self.scenarios):
            return
        assert self.folder is not None and self.runtime is not None
        cfg = self.config
        self.progress.message(f"starting the upstream stub ({cfg.upstream_delay}) …")
        self.upstream = features.start_upstream(
            self.folder, cfg.upstream_delay, cfg.upstream_error_rate, cfg.loadgen_cpus,
            int(cfg.order_seed or 0),
        )  # fmt: skip
        self.runtime.spike_env["SPIKE_UPSTREAM_URL"] = self.upstream.url
        self.run["upstream"] = self.upstream.describe()

    def _interleaved(self) -> None:
        """The plan: the closed-loop scenarios first, sharing their starts (run/group.py), then
        the ones that cannot share (realtime), then the capacity searches, which begin near the
        closed-loop throughput measured before them. Each part gets its share of the budget:
        1 per scenario, 1.5 per search (a search and two equal-load rates)."""
        from harness.run.capacity import CapacityScenario
        from harness.run.group import ScenarioGroup
        from harness.run.interleave import InterleavedScenario

        cfg = self.config
        self.probe.start()
        self._t_start = time.monotonic()
        deadline = self._t_budget + cfg.budget_s
        closed = [] if cfg.capacity_only else list(self.scenarios)
        shared = [sc for sc in closed if cfg.shared_starts and not cfg.soak and not sc.realtime]
        plan: list[tuple[list[Scenario], type[InterleavedScenario], float]] = []
        if shared:
            plan.append((shared, InterleavedScenario, float(len(shared))))
        plan += [([sc], InterleavedScenario, 1.0) for sc in closed if sc not in shared]
        cap = set(cfg.capacity or [])
        plan += [([sc], CapacityScenario, 1.5) for sc in self.scenarios if sc.name in cap]
        for k, (scenarios, kind, weight) in enumerate(plan):
            remaining = deadline - time.monotonic()
            share = weight / sum(w for _, _, w in plan[k:])
            end = time.monotonic() + max(remaining * share, 0.0)
            members = []
            for scenario in scenarios:
                cands = self.supporting(scenario)
                if not cands:  # analysis.<scenario> holds not_supported and says why, no more
                    self.run["analysis"][scenario.name]["stop_reason"] = (
                        "no candidate supports " + ", ".join(scenario.requires)
                    )
                    continue
                members.append(kind(self, scenario, cands, end, k + 1))
            if not members:
                continue
            names = ", ".join(m.scenario.name for m in members)
            label = "capacity search" if kind is CapacityScenario else "interleaved"
            together = "; each start of the candidates serves all" if len(members) > 1 else ""
            self.progress.message(
                f"{names}: {len(members[0].cands)} candidates, {label}{together}, "
                f"{max(end - time.monotonic(), 0):.0f} s of budget"
            )
            prefix = members[0].trial_prefix if len(members) == 1 else "starts"
            ScenarioGroup(self, members, end, k + 1, prefix).run()
            self.save()
            for member in members:
                self._say_done(member, kind is CapacityScenario)

    def _say_done(self, member: Any, capacity: bool) -> None:
        name = member.scenario.name
        if capacity:
            searches = (self.run.get("capacity") or {}).get(name, {}).get("searches", {})
            self.progress.message(
                f"{name} capacity at p99 ≤ {self.config.slo_p99_ms:g} ms: "
                + ", ".join(
                    f"{n} {s['bracket'][0] or 0:.0f}–{s['bracket'][1] or 0:.0f} req/s"
                    for n, s in searches.items()
                )
            )
            return
        an = self.run["analysis"].get(name, {})
        report_realtime(self.progress, self.run["trials"], name)
        res = an.get("resolution")
        self.progress.message(
            f"{name}: {an.get('stop_reason')}; resolution "
            + (f"±{res:.1%}" if res is not None else "–")
            + f" after {an.get('cycles', 0)} cycles"
            + (f" in {an['epochs']} starts" if an.get("epochs", 1) > 1 else "")
        )

    def supporting(self, scenario: Scenario) -> list[Any]:
        """The candidates whose manifest lists every feature the scenario requires; the others
        are recorded (analysis.<scenario>.not_supported) and said, not run and not failed."""
        ok = [c for c in self.candidates if c.manifest.supports_all(scenario.requires)]
        lacking = [c.name for c in self.candidates if c not in ok]
        if lacking:
            self.run["analysis"].setdefault(scenario.name, {})["not_supported"] = lacking
            self.progress.message(
                f"{scenario.name}: not supported by {', '.join(lacking)} "
                f"(needs {', '.join(scenario.requires)})"
            )
        return ok

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
            **spike.identity(),
            "command": spike.command,
            "framework": spike.framework,
            "framework_version": prepared.get("framework_version"),
            "packages": prepared.get("packages", {}),
            "environment": prepared.get("environment", {}),
            "parity": {
                "workers": self.parity.workers,
                # threads per worker, for a start command that uses them (a threaded variant)
                "threads": self.parity.threads if "${SPIKE_THREADS}" in spike.command else None,
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

    def db_processes(self) -> list[Any]:
        assert self.db is not None
        if self.db.process is None:
            return []
        with contextlib.suppress(Exception):
            return [self.db.process, *self.db.process.children(recursive=True)]
        return []

def remove_run(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
