"""The interleaved design's plan (split from runner.py): which scenarios share their starts,
what share of the budget each part gets, the analyses that decide when a scenario may stop, and
what the harness's own samplers cost.

scenario → run: `Bench` (runner.py) owns the runtime, the database and the result file; this
mixin decides what runs when, and every analysis it writes is stored beside the slices.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from harness.results import capacity as capacity_read
from harness.results import slices
from harness.run.realtime import report_realtime
from harness.scenario import Scenario

if TYPE_CHECKING:
    from harness.run.runner import Bench


class InterleavedDesign:
    """The interleaved design's part of Bench (a mixin: from scenarios to groups to analyses)."""

    def analyse(self: Bench, scenario: str, names: list[str]) -> dict[str, Any]:
        """Re-judge every slice against the run's median speed, then the scenario's figures.

        Both the raw and the probe-normalised resolution are kept, so every run shows whether
        normalising would have helped; an A/A pair's own interval is a floor for ranking."""
        cfg = self.config
        slices.flag_machine(self.run["slices"], cfg.machine_deviation, cfg.drop_flagged)

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
        for kept in ("not_supported", "restart_seconds", "restart_phases", "shared_starts",
                     "slicing"):
            if kept in before:  # what the scenario's run noted, not what its slices say
                result[kept] = before[kept]
        self.run["analysis"][scenario] = result
        return result

    def _reanalyse(self: Bench) -> None:
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

    def _interleaved(self: Bench) -> None:
        """The plan: the closed-loop scenarios first, sharing their starts (run/group.py), then
        the ones that cannot share (realtime), then the capacity searches, which begin near the
        closed-loop throughput measured before them. Each part gets its share of the budget:
        1 per scenario, 1.5 per search (a search and two equal-load rates)."""
        from harness.run.capacity import CapacityScenario
        from harness.run.group import ScenarioGroup
        from harness.run.interleave import InterleavedScenario

        cfg = self.config
        self.probe.start()
        if self.folder is not None:
            self.tracker.path = self.folder / "raw" / "speed.tsv"
            self.tracker.start()
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

    def _say_done(self: Bench, member: Any, capacity: bool) -> None:
        name = member.scenario.name
        if capacity:
            searches = (self.run.get("capacity") or {}).get(name, {}).get("searches", {})
            self.progress.message(
                f"{name} capacity at p99 ≤ {self.config.slo_p99_ms:g} ms: "
                + ", ".join(
                    f"{n} {s['bracket'][0] or 0:.0f}–{s['bracket'][1] or 0:.0f} req/s"
                    for n, s in searches.items()
                )
                + (f"; {verdict}" if (verdict := capacity_read.verdict(self.run, name)) else "")
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

    def supporting(self: Bench, scenario: Scenario) -> list[Any]:
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

    def closed_throughput(self: Bench, scenario: str, spike: str) -> float | None:
        """This run's closed-loop throughput estimate of a candidate, if it measured one."""
        table = slices.cycle_table(self.run["slices"], scenario, [spike], "throughput_rps")
        values = [v for v in table[spike] if v]
        return sum(values) / len(values) if values else None

    def _record_overhead(self: Bench) -> None:
        """What the harness's own samplers and the probe cost, measured, in share of a core."""
        if self.config.design != "interleaved" or not hasattr(self, "_t_start"):
            return
        wall = time.monotonic() - self._t_start
        over = self.run["overhead"]
        over["wall_s"] = wall
        over["probe_cpu_s"] = self.probe.cpu_seconds()
        over["probes"] = len(self.probe.series)
        over["probe_share"] = over["probe_cpu_s"] / wall if wall else None
        over["tracker_cpu_s"] = self.tracker.cpu_seconds()
        over["tracker_share"] = over["tracker_cpu_s"] / wall if wall else None
        over["sampler_share"] = over.get("sampler_cpu_s", 0.0) / wall if wall else None
