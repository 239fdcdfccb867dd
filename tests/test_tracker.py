"""The in-slice speed tracker: its reading of a window, its child process (real, pinned, stopped
between slices), and normalisation by it on synthetic slices where the machine's speed moves
within a cycle (so the probe read around a slice cannot follow it, and the tracker can)."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.results import paired, slices
from harness.run.tracker import SpeedTracker, parse, window_figures

EMPTY = {"tracker_us": None, "tracker_n": 0, "tracker_se": None}


def test_a_window_averages_speeds_not_times() -> None:
    # half the window at 100 us, half at 300 us: the mean speed is (1/100 + 1/300) / 2,
    # i.e. 150 us, where the mean time (200 us) would overstate the slowdown
    samples = [(10.0 + i * 0.1, 100.0 if i < 5 else 300.0) for i in range(10)]
    got = window_figures(samples, 10.0, 11.0)
    assert got["tracker_n"] == 10
    assert got["tracker_us"] == pytest.approx(150.0)
    # the reading's standard error in log speed: sd of five ln 100 and five ln 300, / sqrt(10)
    logs = np.log([100] * 5 + [300] * 5)
    assert got["tracker_se"] == pytest.approx(np.std(logs, ddof=1) / 10**0.5)
    assert window_figures(samples, 20.0, 21.0) == EMPTY
    assert window_figures(samples, 10.45, 10.75)["tracker_n"] == 3  # [start, end)


def test_parse_skips_a_torn_or_foreign_line() -> None:
    assert parse("1.5 100.0\ngarbage\n2.5 x\n3.5 200\n") == [(1.5, 100.0), (3.5, 200.0)]


def test_the_tracker_samples_while_resumed_and_stops_when_paused(tmp_path: Path) -> None:
    tracker = SpeedTracker(None, tmp_path / "raw" / "speed.tsv")
    tracker.start()
    try:
        time.sleep(0.4)
        assert tracker.window(0, time.time())["tracker_n"] == 0  # started paused
        a = time.time()
        tracker.resume()
        time.sleep(0.8)
        tracker.pause()
        z = time.time()
        during = tracker.window(a, z)
        time.sleep(0.5)
        after = tracker.window(z, time.time())
    finally:
        tracker.stop()
    assert tracker.proc is None
    assert 4 <= during["tracker_n"] <= 10  # every 100 ms
    assert 1 < during["tracker_us"] < 100_000
    assert after["tracker_n"] <= 1  # at most the sample in flight when it was stopped
    assert tracker.cpu_seconds() > 0


def test_without_a_raw_folder_the_tracker_does_nothing() -> None:
    tracker = SpeedTracker()
    tracker.start()
    tracker.resume()
    assert tracker.proc is None
    assert tracker.window(0, time.time()) == EMPTY
    tracker.stop()


def fast_noise_slices(cycles: int, seed: int = 3) -> list[dict[str, Any]]:
    """Two spikes (true ratio 0.8) on a machine whose speed changes from slice to slice: the
    probe around a slice sees the speed at its edges, the tracker its average inside."""
    rng = np.random.default_rng(seed)
    out = []
    for c in range(1, cycles + 1):
        for name, rate in (("a", 240.0), ("b", 300.0)):
            edge, inside = math.exp(rng.normal(0, 0.15)), math.exp(rng.normal(0, 0.15))
            out.append({
                "scenario": "s", "cycle": c, "spike": name, "valid": True,
                "machine_deviation": False,
                "throughput_rps": rate * inside * math.exp(rng.normal(0, 0.01)),
                "probe_ms": 2.0 / edge, "tracker_us": 50.0 / inside,
            })  # fmt: skip
    return out


def test_normalising_by_the_tracker_cancels_noise_faster_than_a_cycle() -> None:
    rows = fast_noise_slices(20)
    table = {
        norm: slices.cycle_table(rows, "s", ["a", "b"], "throughput_rps", normalise=norm)
        for norm in (False, True)
    }
    raw = paired.paired_ratio(table[False]["a"], table[False]["b"])  # type: ignore[arg-type]
    norm = paired.paired_ratio(table[True]["a"], table[True]["b"])  # type: ignore[arg-type]
    assert raw is not None and norm is not None
    assert norm.contains(0.8) and norm.half_width < 0.02
    assert raw.half_width > 3 * norm.half_width
    # a file without tracker readings falls back to the probe around the slice, which here
    # cannot follow the noise
    for r in rows:
        del r["tracker_us"]
    probe = slices.cycle_table(rows, "s", ["a", "b"], "throughput_rps", normalise=True)
    by_probe = paired.paired_ratio(probe["a"], probe["b"])  # type: ignore[arg-type]
    assert by_probe is not None and by_probe.half_width > 3 * norm.half_width


def test_normalisation_leaves_error_rates_alone() -> None:
    s = {"error_rate": 0.02, "tracker_us": 100.0, "p99_ms": 30.0}
    medians = {"tracker_us": 50.0, "probe_ms": None}
    assert slices.value(s, "error_rate", medians, True) == 0.02
    assert slices.value(s, "p99_ms", medians, True) == pytest.approx(15.0)


def noisy_reading_slices(
    machine_sd: float, reading_se: float, seed: int = 9
) -> list[dict[str, Any]]:
    """Two spikes (true ratio 0.8) whose slices follow the machine's speed; the tracker reads
    that speed with a known standard error."""
    rng = np.random.default_rng(seed)
    out = []
    for c in range(1, 401):
        for name, rate in (("a", 240.0), ("b", 300.0)):
            speed = math.exp(rng.normal(0, machine_sd))
            reading = speed * math.exp(rng.normal(0, reading_se))
            out.append({
                "scenario": "s", "cycle": c, "spike": name, "valid": True,
                "machine_deviation": False, "throughput_rps": rate * speed,
                "tracker_us": 50.0 / reading, "tracker_se": reading_se, "probe_ms": 2.0,
            })  # fmt: skip
    return out


def test_the_correction_weight_is_the_readings_reliability() -> None:
    # machine sd 0.12, reading se 0.04: reliability 0.0144 / (0.0144 + 0.0016) = 0.9
    assert slices.speed_weight(noisy_reading_slices(0.12, 0.04)) == pytest.approx(0.9, abs=0.03)
    # a quiet machine (sd 0.01) read at ±0.04: the reading is noise, the weight near 0
    assert slices.speed_weight(noisy_reading_slices(0.01, 0.04)) < 0.15
    # without se (files from before it) the correction is whole
    rows = noisy_reading_slices(0.01, 0.04)
    for r in rows:
        del r["tracker_se"]
    assert slices.speed_weight(rows) == 1.0


def test_on_a_quiet_machine_the_weighted_correction_adds_no_noise() -> None:
    def spread(rows: list[dict[str, Any]], weight: float | None) -> float:
        medians = {"tracker_us": slices.median_probe(rows, "tracker_us"), "probe_ms": 2.0}
        logs = {}
        for r in rows:
            w = slices.speed_weight(rows) if weight is None else weight
            logs.setdefault(r["cycle"], {})[r["spike"]] = math.log(
                slices.value(r, "throughput_rps", medians, True, w)
            )
        return float(np.std([c["a"] - c["b"] for c in logs.values()]))

    quiet = noisy_reading_slices(0.01, 0.04)
    assert spread(quiet, None) < 0.6 * spread(quiet, 1.0)  # the whole correction adds noise
    noisy = noisy_reading_slices(0.12, 0.04)
    assert spread(noisy, None) < 0.6 * spread(noisy, 0.0)  # and the weighted one still removes it
