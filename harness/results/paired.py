"""Paired comparisons over interleaved cycles: the statistics that make a rank mean something.

On a shared host the machine's speed drifts over minutes, and every candidate measured in the same
cycle (seconds apart) sees the same drift. The ratio A/B *within a cycle* cancels it; the mean of
those log-ratios over cycles, with a bootstrap interval (scipy's, BCa), is the comparison; over
several process starts, the starts are the replicates (Student's t over their means). The
unpaired interval (the same slices treated as independent samples) is kept beside it, so a run
shows how much pairing bought.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    """A point estimate with its 95 % interval over n cycles."""

    estimate: float
    lo: float
    hi: float
    n: int

    @property
    def half_width(self) -> float:
        """Relative half-width: the larger side, as a fraction of the estimate."""
        if not self.estimate:
            return math.inf
        return max(self.hi / self.estimate - 1.0, 1.0 - self.lo / self.estimate)

    def contains(self, value: float) -> bool:
        return self.lo <= value <= self.hi

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["half_width"] = self.half_width if math.isfinite(self.half_width) else None
        return out


def _bootstrap(
    data: tuple[np.ndarray, ...], statistic: Callable[..., Any], seed: int, paired: bool = False
) -> tuple[float, float]:
    """scipy's BCa bootstrap; a sample with no spread has a zero-width interval, not NaN."""
    if all(np.ptp(d) == 0 for d in data):
        value = float(statistic(*data, axis=-1))
        return value, value
    lo = hi = math.nan
    for method in ("BCa", "percentile"):  # BCa, unless it cannot say (a degenerate resample)
        with warnings.catch_warnings():  # BCa warns on tiny samples; the fallback is fine
            warnings.simplefilter("ignore")
            res = sps.bootstrap(
                data,
                statistic,
                n_resamples=RESAMPLES,
                confidence_level=CONFIDENCE,
                method=method,
                paired=paired,
                vectorized=True,
                rng=np.random.default_rng(seed),
            )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(lo) and math.isfinite(hi):
            break
    return lo, hi


def _clean(values: Sequence[float]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)


def mean_interval(values: Sequence[float], seed: int = 0) -> Interval | None:
    """Mean over cycles with a bootstrap 95 % interval; None without two values."""
    arr = _clean(values)
    if arr.size < 2:
        return None
    lo, hi = _bootstrap((arr,), np.mean, seed)
    return Interval(float(arr.mean()), lo, hi, int(arr.size))


def paired_ratio(
    a: Sequence[float | None],
    b: Sequence[float | None],
    seed: int = 0,
    epochs: Sequence[int] | None = None,
    df_lost: float = 0.0,
    extra_var: float = 0.0,
) -> Interval | None:
    """A/B from cycles where both were measured: geometric mean of the per-cycle ratios.

    a[i] and b[i] belong to the same cycle; a cycle where either is missing (None) is skipped.
    With `epochs` (the process epoch of each cycle) spanning more than one epoch, the epochs are
    the replicates (`combine_epochs`): a difference that belongs to one start of the processes,
    not to the candidates, widens the interval instead of biasing it. `df_lost`: degrees of
    freedom the epoch means already gave to something fitted on them (the start-order slope);
    `extra_var`: a variance (log scale) of the estimate that the epochs' spread cannot show
    (that slope's own error, where the pair's start positions do not cancel)."""
    logs, tags = _log_ratios(a, b, epochs)
    if logs.size < 2:
        return None
    # an epoch left with one usable cycle is still one start's estimate (a replicate)
    groups = [logs[tags == e] for e in np.unique(tags)]
    if len(groups) >= 2:
        return combine_epochs(groups, seed, df_lost, extra_var)
    lo, hi = _bootstrap((logs,), np.mean, seed)
    return Interval(float(np.exp(logs.mean())), math.exp(lo), math.exp(hi), int(logs.size))


def _log_ratios(
    a: Sequence[float | None], b: Sequence[float | None], epochs: Sequence[int] | None
) -> tuple[np.ndarray, np.ndarray]:
    """log A/B of the cycles where both were measured, in cycle order, and each one's epoch."""
    tags = list(epochs) if epochs is not None else [0] * len(a)
    pairs = [
        (x, y, e)
        for x, y, e in zip(a, b, tags, strict=True)
        if x is not None and y is not None and x > 0 and y > 0
    ]
    logs = np.log(np.asarray([x for x, _, _ in pairs], dtype=float)
                  / np.asarray([y for _, y, _ in pairs], dtype=float))  # fmt: skip
    return logs, np.asarray([e for _, _, e in pairs], dtype=int)


def start_ratios(
    a: Sequence[float | None], b: Sequence[float | None], epochs: Sequence[int]
) -> list[float]:
    """A/B of each process epoch on its own (geometric mean of its cycles), in epoch order:
    what each start of the processes said, so that a reader sees starts that disagree."""
    logs, tags = _log_ratios(a, b, epochs)
    return [math.exp(float(logs[tags == e].mean())) for e in np.unique(tags)]


def combine_epochs(
    groups: Sequence[np.ndarray], seed: int = 0, df_lost: float = 0.0, extra_var: float = 0.0
) -> Interval:
    """Per-cycle log-ratios of several process epochs: the epochs are the replicates.

    Each epoch's mean log-ratio is one estimate; the interval is Student's t with k − 1 degrees
    of freedom over those k estimates. Their spread holds what belongs to one start of the
    processes (an A/A pair on this VM: 1–2 %) as well as the cycles' own noise, so nothing is
    modelled and nothing is assumed away. A random-effects variance with a normal quantile, and a
    bootstrap within epochs of two cycles, held a synthetic truth in only 81–88 % of runs, even
    with no per-start effect at all (README, "Epochs"); this holds it in ~95 %."""
    means = np.asarray([float(g.mean()) for g in groups])
    n = int(sum(g.size for g in groups))
    # equal weights (the start-order reversal cancels only so); t on k − 1 − df_lost
    k = len(means)
    mu = float(means.mean())
    se = math.sqrt(float(means.var(ddof=1)) / k + extra_var)
    # never below 1: two usable starts less the slope's share would make t explode (below one
    # degree of freedom its quantile runs to the hundreds: a default run showed ±1500 %)
    q = float(sps.t.ppf(0.5 + CONFIDENCE / 2, max(k - 1 - df_lost, 1.0)))
    return Interval(math.exp(mu), math.exp(mu - q * se), math.exp(mu + q * se), n)


def _log_ratio_of_means(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.log(np.mean(x, axis=axis)) - np.log(np.mean(y, axis=axis))


def unpaired_ratio(
    a: Sequence[float | None],
    b: Sequence[float | None],
    seed: int = 0,
    epochs: Sequence[int] | None = None,
    df_lost: float = 0.0,
    extra_var: float = 0.0,
) -> Interval | None:
    """mean(A)/mean(B) with the two candidates' samples taken as independent: what the same
    slices would say without pairing (and the only honest comparison between two different runs).

    With `epochs` spanning more than one epoch, the starts are the replicates as in
    `paired_ratio`, but unpaired: each start's mean of each candidate on its own, and Welch's t
    over the two sets of start means, so that what pairing buys is exactly what the two
    candidates of one cycle share (the textbook paired t against Welch's t on the same data)."""
    if epochs is None:  # two separate samples (two runs): their lengths may differ
        xa, xb = _clean(a), _clean(b)
        xa, xb = xa[xa > 0], xb[xb > 0]
        if xa.size < 2 or xb.size < 2:
            return None
        lo, hi = _bootstrap((xa, xb), _log_ratio_of_means, seed)
        est = float(_log_ratio_of_means(xa, xb))
        return Interval(math.exp(est), math.exp(lo), math.exp(hi), int(min(xa.size, xb.size)))
    tags = list(epochs)
    means: list[np.ndarray] = []
    for values in (a, b):
        per = []
        for e in sorted(set(tags)):
            x = _clean([v for v, t in zip(values, tags, strict=True) if t == e])
            x = x[x > 0]
            if x.size:
                per.append(math.log(float(x.mean())))
        means.append(np.asarray(per))
    la, lb = means
    n = int(min(la.size, lb.size))
    if len(set(tags)) < 2:  # one start: the slices themselves, resampled independently
        return unpaired_ratio(a, b, seed)
    if la.size < 2 or lb.size < 2:
        return None
    va, vb = float(la.var(ddof=1)) / la.size, float(lb.var(ddof=1)) / lb.size
    se2 = va + vb
    if se2 > 0:  # Welch-Satterthwaite
        df = se2**2 / (va**2 / (la.size - 1) + vb**2 / (lb.size - 1))
    else:
        df = float(la.size + lb.size - 2)
    mu = float(la.mean() - lb.mean())
    se = math.sqrt(se2 + extra_var)
    q = float(sps.t.ppf(0.5 + CONFIDENCE / 2, max(df - df_lost, 1.0)))
    return Interval(math.exp(mu), math.exp(mu - q * se), math.exp(mu + q * se), n)


def distinguishable(ratio: Interval | None, resolution: float) -> bool:
    """A difference is called only when its interval excludes 1 and it exceeds the resolution."""
    if ratio is None:
        return False
    return not ratio.contains(1.0) and abs(ratio.estimate - 1.0) > resolution


def rank_groups(
    order: list[str], separated: Callable[[str, str], bool]
) -> list[tuple[str, int, bool]]:
    """(name, rank, tied_with_previous) for names sorted best first: a name that the run cannot
    tell from the one above it shares that one's rank (shown as ≈)."""
    out: list[tuple[str, int, bool]] = []
    for i, name in enumerate(order):
        if i and not separated(order[i - 1], name):
            out.append((name, out[-1][1], True))
        else:
            out.append((name, i + 1, False))
    return out


def resolution_reached(ratios_to_best: Sequence[Interval | None], target: float) -> bool:
    """The stopping rule: every candidate's ratio to the best is known to ±target."""
    return bool(ratios_to_best) and all(
        r is not None and r.half_width <= target for r in ratios_to_best
    )


def replicates_needed(interval: Interval, replicates: int, target: float) -> int | None:
    """How many replicates (process starts; cycles in a one-start run) an interval of this spread
    would need to reach ±target: the spread of one replicate is read back from the t interval
    (log half-width × √k over the t quantile) and held fixed, so it is a forecast at this run's
    noise, not a promise. None for an interval without spread or fewer than two replicates."""
    if replicates < 2 or interval.lo <= 0 or interval.estimate <= 0 or target <= 0:
        return None
    h = max(math.log(interval.hi / interval.estimate), math.log(interval.estimate / interval.lo))
    if h <= 0:
        return None
    q = float(sps.t.ppf(0.5 + CONFIDENCE / 2, replicates - 1))
    sd = h * math.sqrt(replicates) / q
    goal = math.log1p(target)
    # t > z, so the normal-quantile count is a lower bound; the t condition is monotone in m
    m = max(2, math.ceil((float(sps.norm.ppf(0.5 + CONFIDENCE / 2)) * sd / goal) ** 2))
    while float(sps.t.ppf(0.5 + CONFIDENCE / 2, m - 1)) * sd / math.sqrt(m) > goal:
        m += 1
    return m


def cv(values: Sequence[float]) -> float | None:
    arr = _clean(values)
    if arr.size < 2 or not arr.mean():
        return None
    return float(arr.std(ddof=1) / arr.mean())
