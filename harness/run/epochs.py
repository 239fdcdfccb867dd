"""How many times an interleaved run starts its candidates (README: "Epochs").

An A/A pair on this VM differed by 1-2 % for the whole life of its processes, and the sign of that
difference changed from one start to the next: it belongs to a start, not to the code. More cycles
inside one start cannot shrink it; more starts can. The interval is Student's t over the starts,
so an epoch is short (one cycle per scenario by default) and, while a scenario's resolution is not
reached and the budget can pay for another start, another epoch begins (every candidate
restarted, the start order reversed). A quiet machine stops after the minimum; a noisy one buys
starts, not cycles.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EpochPolicy:
    """least: starts every scenario makes (`--epochs`); most: the cap (`--max-epochs`); cycles: the
    cycles after which an epoch ends when another may follow (`--epoch-cycles`)."""

    least: int = 3
    most: int = 10
    cycles: int = 1

    def __post_init__(self) -> None:
        if self.least < 1 or self.cycles < 1:
            raise ValueError("an epoch policy needs at least 1 epoch of at least 1 cycle")
        object.__setattr__(self, "most", max(self.most, self.least))

    def deadline(self, epoch: int, now: float, end: float) -> float:
        """Until the minimum is met, each epoch gets an equal share of what is left, so that the
        minimum fits in a short budget; after it, only the scenario's end bounds an epoch."""
        if epoch < self.least:
            return now + max(end - now, 0.0) / (self.least - epoch + 1)
        return end

    def full(self, epoch: int, in_epoch: int, last: bool) -> bool:
        """The epoch has its cycles and another start may follow (the last one runs to the end)."""
        return not last and epoch < self.most and in_epoch >= self.cycles

    def another(
        self, epoch: int, now: float, end: float, restart_s: float, cycles_s: float
    ) -> bool:
        """Start epoch+1? Always below the minimum; above it, while the cap allows and a restart
        plus the next epoch's cycles (`cycles_s`: every scenario left, `cycles` each) fit."""
        if epoch < self.least:
            return True
        return epoch < self.most and now + restart_s + cycles_s <= end

    def may_stop(self, epoch: int, in_epoch: int, cycles: int, min_replicates: int) -> bool:
        """The resolution may end the scenario only with the minimum of replicates
        (`--min-cycles`: the starts, whose means the interval is over, however many cycles each
        holds) and with the current epoch's cycles done (a start counts once its cycles are
        measured). A single start's interval is its cycles' bootstrap: there the cycles count,
        and it needs two."""
        if self.most == 1:
            return cycles >= max(min_replicates, 2)
        return epoch >= max(self.least, min_replicates) and in_epoch >= self.cycles
