"""The run engine: one `bench` run, in either design, keeping every measured result.

- interleaved (the default; its plan run/schedule.py, its epochs run/group.py, a scenario's
  slices run/interleave.py): every candidate runs at once and load is given in short slices, a
  new random order each cycle, one start of the candidates serving every closed-loop scenario in
  turn, until the paired comparisons reach the target resolution or the budget is spent;
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
from harness.run.runconfig import (  # noqa: F401  (callers import the config from here)
    DESIGNS,
    BenchConfig,
    Thresholds,
    default_cpu_sets,
    parse_cpus,
)
from harness.run.runtime import Runtime, make_runtime
from harness.run.schedule import InterleavedDesign
from harness.run.seed import seed_password_hash
from harness.run.tracker import SpeedTracker
from harness.run.trials import TrialsDesign, aggregate, plan_trials  # noqa: F401
from harness.run.upstream_proc import UpstreamStub
from harness.scenario import Scenario, select_scenarios


class Bench(TrialsDesign, InterleavedDesign):
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
        self.tracker = SpeedTracker(config.sut_cpus)  # its file is set when a run starts
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
                    normalise=self.config.probe_normalise,
                )
                if agg["trials"]
            ]
        self.run["updated_at"] = utc_now()
        write_atomic(self.folder / RUN_FILE, self.run)

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
            "estimator": TRIALS_ESTIMATOR if self.config.design == "trials" else (
                slices.ESTIMATOR_NORMALISED if self.config.probe_normalise else slices.ESTIMATOR
            ),
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
        self.tracker.stop()
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
