"""What a long run shows while it works: which trial, elapsed and remaining, live req/s and
errors. A terminal gets a live bar (rich); a CI log gets one line per event."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress


class Progress:
    """Silent base: used by tests and library callers."""

    def message(self, text: str) -> None: ...
    def start(self, total: int, seconds_per_trial: float) -> None: ...
    def trial(self, index: int, spike: str, scenario: str, round_no: int) -> None: ...
    def live(self, sample: dict[str, Any] | None) -> None: ...
    def trial_done(self, record: dict[str, Any]) -> None: ...
    def warn(self, text: str) -> None: ...
    def finish(self) -> None: ...


def trial_line(record: dict[str, Any]) -> str:
    m = record.get("metrics") or {}
    flag = "ok" if record["valid"] else "INVALID: " + ", ".join(record["invalid_reasons"])
    if not m:
        return f"{record['id']}: {flag}"
    lat = m["latency_ms"]
    return (
        f"{record['id']}: {m['throughput_rps']:.0f} req/s, p50 {lat['p50'] or 0:.1f} ms, "
        f"p99 {lat['p99'] or 0:.1f} ms, errors {m['error_rate']:.2%}, "
        f"app CPU {m['cpu']['app_ms_per_request']:.2f} ms/req, "
        f"Locust CPU {m['cpu']['loadgen_busiest_process_share']:.0%} [{flag}]"
    )


class ConsoleProgress(Progress):
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        if not self.console.is_terminal:  # a CI log: one trial per line, not wrapped at 80
            self.console = Console(file=self.console.file, width=200, soft_wrap=True)
        self.bar: RichProgress | None = None
        self.task: Any = None
        self.total = 0
        self.t0 = time.monotonic()
        self.current = ""

    def message(self, text: str) -> None:
        self.console.print(f"[bold]spikebench[/]: {text}")

    def start(self, total: int, seconds_per_trial: float) -> None:
        self.total = total
        self.t0 = time.monotonic()
        self.message(f"{total} trials, about {total * seconds_per_trial / 60:.0f} min")
        if self.console.is_terminal:
            self.bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task("starting", total=total)

    def trial(self, index: int, spike: str, scenario: str, round_no: int) -> None:
        self.current = f"trial {index}/{self.total} · round {round_no} · {spike} × {scenario}"
        if self.bar is not None:
            self.bar.update(self.task, description=self.current)
        else:
            self.console.print(f"{self.current} …")

    def live(self, sample: dict[str, Any] | None) -> None:
        if self.bar is None or not sample:
            return
        self.bar.update(
            self.task,
            description=(
                f"{self.current} · t={sample['t']:.0f}s users={sample['users']} "
                f"{sample['rps']:.0f} req/s errors={sample['failures']}"
            ),
        )

    def trial_done(self, record: dict[str, Any]) -> None:
        line = trial_line(record)
        # markup=False: the line ends in "[ok]" or "[INVALID: …]", which rich would eat as tags
        if self.bar is not None:
            self.bar.console.print(line, markup=False)
            self.bar.advance(self.task)
        else:
            elapsed = time.monotonic() - self.t0
            done = record["index"]
            left = elapsed / done * (self.total - done)
            self.console.print(
                f"{line} (elapsed {elapsed:.0f} s, ~{left:.0f} s left)", markup=False
            )

    def warn(self, text: str) -> None:
        (self.bar.console if self.bar else self.console).print(f"[yellow]warning[/]: {text}")

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
