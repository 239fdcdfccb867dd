"""What `bench` writes after the trials: the report and the decision record, from run.json.

A problem here (a bad decision.toml, say) must not cost the run: it is reported and the paths
of what could be written are returned; the measurements are already safe in run.json.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import SpikebenchError
from harness.score import DEFAULT_CRITERIA


def write_documents(
    folder: Path, criteria: Path = DEFAULT_CRITERIA
) -> tuple[list[Path], list[str]]:
    """(written paths, problems): report.md, report.html, decision.md, score.json."""
    from harness.report import write_report
    from harness.score import score_folder

    written: list[Path] = []
    problems: list[str] = []
    try:
        written += list(write_report(folder))
    except (SpikebenchError, OSError, ValueError) as exc:
        problems.append(f"report not written: {exc}")
    try:
        _, _, _, paths = score_folder(folder, criteria)
        written += list(paths or ())
    except (SpikebenchError, OSError, ValueError) as exc:
        problems.append(f"decision record not written: {exc}")
    return written, problems
