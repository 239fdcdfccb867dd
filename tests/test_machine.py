"""`spikebench machine`: the block statistics on synthetic speed series with known answers, and the
real command end to end (its figures depend on the host: only their presence is checked)."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from harness.run.machine import block_stats


def test_independent_blocks_give_no_pairing_gain() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(0, 400, 0.5) + 0.25  # one sample per 0.5-s block
    speed = np.exp(rng.normal(0, 0.1, len(t)))
    s = block_stats(t, speed, 0.5, 400)
    assert s.blocks == 800
    assert s.sd == pytest.approx(0.1, rel=0.1)
    assert s.gain == pytest.approx(1.0, abs=0.1)  # neighbours share nothing: sd·√2 / sd·√2


def test_alternating_blocks_are_anti_correlated() -> None:
    # log speed +a, -a, +a, ...: sd a, every neighbour differs by 2a: gain a·√2 / 2a = 0.707
    a = 0.2
    t = np.arange(0, 100, 1.0) + 0.5
    speed = np.exp(np.where(np.arange(100) % 2 == 0, a, -a))
    s = block_stats(t, speed, 1.0, 100)
    assert s.sd == pytest.approx(a)
    assert s.gain == pytest.approx(1 / math.sqrt(2), rel=1e-3)  # 99 differences: mean not quite 0


def test_slow_drift_is_shared_by_neighbours() -> None:
    # a slow swing (period 200 s) sampled every 0.1 s: 2-s neighbours almost equal
    t = np.arange(0, 400, 0.1)
    speed = np.exp(0.2 * np.sin(2 * np.pi * t / 200))
    s = block_stats(t, speed, 2.0, 400)
    assert s.blocks == 200 and s.gain > 10


def test_block_means_weight_every_sample() -> None:
    # two samples in block 0 (speeds 1 and 3: mean 2), one in block 1, one in block 2
    t = np.array([0.1, 0.2, 1.5, 2.5])
    speed = np.array([1.0, 3.0, 2.0, 4.0])
    s = block_stats(t, speed, 1.0, 3.0)
    b = np.log([2.0, 2.0, 4.0])
    assert s.blocks == 3 and s.sd == pytest.approx(float(np.std(b)))


def test_the_command_measures_this_host() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "machine", "--seconds", "8"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "pairing gain of neighbours" in out
    assert "CPU time vs wall time (0.5-s blocks): correlation" in out
    assert "tracker fidelity (busy process, 2-s slices)" in out
    assert "verdict: 2-s slices vary" in out
