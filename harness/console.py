"""Consoles that keep lines whole where no terminal is (CI logs, `| tee`).

rich wraps at 80 columns when it cannot ask a terminal for its width, which splits paths and
error messages mid-word; soft wrapping leaves each printed line as one line, and tables get a
width that holds the summary (~180 columns).
"""

from __future__ import annotations

from rich.console import Console

PIPE_WIDTH = 200


def console(stderr: bool = False) -> Console:
    """A terminal's own width, else one line per print and wide tables."""
    out = Console(stderr=stderr)
    if out.is_terminal:
        return out
    return Console(stderr=stderr, width=PIPE_WIDTH, soft_wrap=True)
