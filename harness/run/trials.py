"""The trials design: one process and a fresh database per (spike, scenario) trial, rounds in a
shuffled order, Student-t intervals over trials. Startup, memory growth and fresh-database
effects belong to it; `Bench` runs it with `--design trials` (and with the compose runtime).
"""

from __future__ import annotations

import contextlib
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from harness.errors import SpikebenchError, SpikeStartError
from harness.manifest import SpikeManifest
from harness.results.rundata import dig
from harness.results.stats import HIGH_CV, summarize
from harness.run import metrics
from harness.run.dbwork import NOTE, since_creation, trial_db_work
from harness.run.features import UpstreamCPU, share
from harness.run.loadgen import Loadgen, LoadgenConfig
from harness.run.metadata import utc_now
from harness.run.monitor import Monitor, tree_memory
from harness.run.postgres import free_port
from harness.run.runconfig import parse_cpus
from harness.run.runtime import SpikeHandle
from harness.run.seed import load_seed_module
from harness.run.server import http_get
from harness.scenario import Scenario

if TYPE_CHECKING:
    from harness.run.runner import Bench

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


def plan_trials(
    spikes: list[SpikeManifest], scenarios: list[Scenario], trials: int, seed: int
) -> list[tuple[int, SpikeManifest, Scenario]]:
    """N rounds, each every (spike, scenario) once in a shuffled order: drift over time spreads
    over all candidates instead of landing on whichever ran last."""
    rng = random.Random(seed)
    plan = []
    for round_no in range(1, trials + 1):
        # a candidate lacking a feature the scenario requires is "not supported": not planned
        pairs = [(sp, sc) for sc in scenarios for sp in spikes if sp.supports_all(sc.requires)]
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


class TrialsDesign:
    """The trials design's part of Bench (a mixin: the trial loop and one trial's life)."""

    def _trials(self: Bench, template: str) -> None:
        plan = plan_trials(
            self.spikes, self.scenarios, self.config.trials, int(self.config.order_seed or 0)
        )
        for sc in self.scenarios:  # not planned for lacking a feature: said and recorded
            lacking = [s.name for s in self.spikes if not s.supports_all(sc.requires)]
            if lacking:
                self.run["analysis"][sc.name] = {
                    "not_supported": lacking, "stop_reason": "trials design: not planned for them",
                }  # fmt: skip
                self.progress.message(
                    f"{sc.name}: not supported by {', '.join(lacking)} "
                    f"(needs {', '.join(sc.requires)})"
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

    def _trial(
        self: Bench,
        index: int,
        round_no: int,
        spike: SpikeManifest,
        scenario: Scenario,
        template: str,
    ) -> dict[str, Any]:
        assert self.db is not None and self.runtime is not None and self.folder is not None
        trial_id = f"{index:03d}-{spike.name}-{scenario.name}"
        raw_dir = self.folder / "raw" / trial_id
        raw_dir.mkdir(parents=True, exist_ok=True)
        record = self.new_record(trial_id, index, round_no, spike.name, scenario)
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
            db_procs = self.db_processes
            monitor = Monitor(
                app=handle.processes,
                db=db_procs,
                loadgen=loadgen.processes,
                sut_cpus=parse_cpus(self.config.sut_cpus),
            )
            monitor.start()
            stub_cpu = UpstreamCPU(self.upstream)
            stub_start = (time.monotonic(), stub_cpu.read())
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
            stub_share = share(stub_start[1], stub_cpu.read(), time.monotonic() - stub_start[0])
            if record["metrics"] is not None and stub_share is not None:
                record["metrics"]["cpu"]["upstream_cpu_share"] = stub_share  # whole trial
            if record["metrics"] is not None and not crashed:  # DB work: one hook, harness/dbwork
                record["metrics"]["db_work"] = self._db_work(
                    dbname, handle.base_url, scenario, raw_dir
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

    @staticmethod
    def _healthy(handle: SpikeHandle) -> bool:
        if not handle.alive():
            return False
        try:
            status, _ = http_get(handle.base_url + "/health", timeout=5)
        except OSError:
            return False
        return status == 200

    def _db_work(
        self, dbname: str, base_url: str, scenario: Scenario, raw_dir: Path
    ) -> dict[str, Any]:
        assert self.db is not None
        try:
            work, sent = since_creation(self.db, dbname, raw_dir)
        except (psycopg.Error, OSError) as exc:  # a side measurement: recorded, never fatal
            return {"statements_available": False, "totals": None, "endpoints": {},
                    "note": NOTE, "error": f"{type(exc).__name__}: {exc}"[:500]}  # fmt: skip
        return trial_db_work(
            self.db, dbname, base_url, [t for t, w in scenario.tasks.items() if w], work, sent,
            "user0001", load_seed_module().SEED_PASSWORD,
        )  # fmt: skip

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
