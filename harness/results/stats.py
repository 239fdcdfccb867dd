"""Aggregates across trials: median, mean with a Student-t 95% confidence interval, and CV.

With three to five trials a bootstrap interval is too optimistic; the t interval on the mean is
the honest, well-understood choice (pyperf reports mean ± stdev for the same reason).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps

TRIALS_ESTIMATOR = "mean over trials, Student-t 95% CI"
HIGH_CV = 0.10  # above this, the spread between trials is too large to rank small differences


def summarize(values: list[float]) -> dict[str, Any]:
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = int(arr.size)
    if n == 0:
        return {
            "n": 0,
            "median": None,
            "mean": None,
            "stdev": None,
            "ci95": None,
            "cv": None,
            "values": [],
        }
    mean = float(arr.mean())
    stdev = float(arr.std(ddof=1)) if n > 1 else 0.0
    ci = None
    if n > 1:
        half = float(sps.t.ppf(0.975, n - 1)) * stdev / math.sqrt(n)
        ci = [mean - half, mean + half]
    return {
        "n": n,
        "median": float(np.median(arr)),
        "mean": mean,
        "stdev": stdev,
        "ci95": ci,
        "cv": (stdev / mean) if mean else None,
        "values": [float(v) for v in arr],
    }


def welch(a: list[float], b: list[float]) -> float | None:
    """Two-sided p-value of Welch's t-test; None when either side has fewer than 2 values."""
    if len(a) < 2 or len(b) < 2:
        return None
    if np.std(a) == 0 and np.std(b) == 0:
        return 1.0 if np.mean(a) == np.mean(b) else 0.0
    return float(sps.ttest_ind(a, b, equal_var=False).pvalue)
