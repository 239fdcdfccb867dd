"""The start-order effect: which position a candidate was started in shifts its throughput.

On this project's VM a candidate started later in an epoch ran faster for that whole epoch, about
1 % per position (six default runs and four A/A runs of 2026-12-01: start position 1 of 4 at
-1.4 %, position 4 at +1.4 % against the candidate's own mean, its app CPU per request lower by as
much). Epochs reverse the start order, so the effect cancels in the mean over an even number of
epochs; but each epoch on its own is off by it, and the variance between epochs
took it for chance: it made the between-start spread that widened every default run's interval.

So the slope per position is estimated inside each scenario, from the candidates' epoch means
relative to their cycles (drift cancels) and centred per candidate (the candidate's own level
cancels), and each slice's throughput is put back to the epoch's middle position before any
estimate or comparison. Its standard error is kept beside it. The slope takes one of the
(candidates − 1) × (epochs − 1) degrees of freedom that the between-epoch variance is estimated
from; it is applied only where at least two are left (so not to an A/A pair over two or three
epochs, whose one between-epoch difference it would explain away), and each pair's t interval
over the starts gives up its share of that degree of freedom (results/slices.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

MIN_DF = 2


@dataclass(frozen=True)
class OrderEffect:
    """log_slope: change of log throughput per start position; se: its standard error; df: the
    degrees of freedom left for the between-epoch variance once the slope is taken out."""

    log_slope: float
    se: float | None
    points: int
    df: int

    @property
    def applies(self) -> bool:
        return self.df >= MIN_DF

    @property
    def per_position(self) -> float:
        return math.exp(self.log_slope) - 1.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_position": self.per_position}


def centres(orders: dict[tuple[str, int], int]) -> dict[int, float]:
    """epoch → the mean start position of the candidates started in it."""
    by_epoch: dict[int, list[int]] = {}
    for (_, epoch), order in orders.items():
        by_epoch.setdefault(epoch, []).append(order)
    return {e: sum(v) / len(v) for e, v in by_epoch.items()}


def estimate(
    table: dict[str, list[float | None]],
    epochs: Sequence[int],
    orders: dict[tuple[str, int], int],
) -> OrderEffect | None:
    """The slope, by least squares through the origin, of each candidate's epoch mean (relative
    to the mean of the candidates in the same cycles, centred over its epochs) on its start
    position (centred likewise). None where the positions never change (one epoch)."""
    spikes = [sp for sp in table if any(k[0] == sp for k in orders)]
    if len(spikes) < 2:
        return None
    per: dict[tuple[str, int], list[float]] = {}
    for i, epoch in enumerate(epochs):
        row = {sp: table[sp][i] for sp in spikes}
        logs = {sp: math.log(v) for sp, v in row.items() if v is not None and v > 0}
        if len(logs) < 2:
            continue
        mean = sum(logs.values()) / len(logs)
        for sp, v in logs.items():
            per.setdefault((sp, epoch), []).append(v - mean)
    xs: list[float] = []
    ys: list[float] = []
    used = 0
    for sp in spikes:
        points = [
            (orders[(sp, e)], sum(v) / len(v))
            for (s, e), v in per.items()
            if s == sp and (sp, e) in orders
        ]
        if len(points) < 2:
            continue
        used += 1
        mx = sum(p[0] for p in points) / len(points)
        my = sum(p[1] for p in points) / len(points)
        xs += [p[0] - mx for p in points]
        ys += [p[1] - my for p in points]
    sxx = sum(x * x for x in xs)
    if not sxx:
        return None
    slope = sum(x * y for x, y in zip(xs, ys, strict=True)) / sxx
    # each cycle's relative values sum to zero over the candidates, each candidate's over its
    # epochs: a full table leaves (candidates - 1) x (epochs - 1), less the slope
    n_epochs = len({e for (_, e) in per})
    df = (used - 1) * (n_epochs - 1) - 1
    se = None
    if df > 0:
        rss = sum((y - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
        se = math.sqrt(rss / df / sxx)
    return OrderEffect(slope, se, len(xs), max(df, 0))


def factor(effect: OrderEffect | None, order: int | None, centre: float | None) -> float:
    """What a slice's throughput is multiplied by to put it at its epoch's middle position."""
    if effect is None or not effect.applies or order is None or centre is None:
        return 1.0
    return math.exp(-effect.log_slope * (order - centre))
