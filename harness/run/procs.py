"""Ending the process groups we started, and only those."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_group(
    proc: subprocess.Popen[bytes], timeout: float = 10.0, first: int = signal.SIGTERM
) -> None:
    """Ask the group to stop (`first`), wait, then SIGKILL whatever is left of it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, first)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
