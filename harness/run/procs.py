"""Ending the process groups we started, and only those."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def ask_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Send the group `sig` without waiting: several groups asked at once stop in parallel."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)


def stop_group(
    proc: subprocess.Popen[bytes], timeout: float = 10.0, first: int | None = signal.SIGTERM
) -> None:
    """Ask the group to stop (`first`; None: it was asked already, by `ask_group`), wait, then
    SIGKILL whatever is left of it."""
    if proc.poll() is None:
        if first is not None:
            ask_group(proc, first)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


class GroupOwner:
    """Mixin for an object that started a process group in `proc`: `terminate` asks it to stop
    without waiting (a restart asks every candidate's groups at once), `end_group` then waits
    and kills what is left, without a second SIGTERM (Locust would shut down twice)."""

    proc: subprocess.Popen[bytes] | None
    _asked: subprocess.Popen[bytes] | None = None  # the process `terminate` signalled

    def terminate(self) -> None:
        proc = self.proc
        if proc is not None and self._asked is not proc:
            ask_group(proc)
            self._asked = proc

    def end_group(self, timeout: float) -> None:
        if self.proc is not None:
            asked = self._asked is self.proc
            stop_group(self.proc, timeout, first=None if asked else signal.SIGTERM)
