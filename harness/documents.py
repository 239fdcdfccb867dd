"""What `bench` writes after the trials: the decision record, then the report, from run.json.

The score comes first so the report can lead with the decision it reads from score.json. A
problem here (a bad decision.toml, say) must not cost the run: it is reported and the paths of
what could be written are returned; the measurements are already safe in run.json.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.errors import SpikebenchError
from harness.score import DEFAULT_CRITERIA, SCORE_JSON


def write_documents(
    folder: Path, criteria: Path = DEFAULT_CRITERIA
) -> tuple[list[Path], list[str]]:
    """(written paths, problems): decision.md, score.json, then report.md, report.html."""
    from harness.report import write_report
    from harness.score import score_folder

    written: list[Path] = []
    problems: list[str] = []
    try:
        _, _, _, paths = score_folder(folder, criteria)
        written += list(paths or ())
    except (SpikebenchError, OSError, ValueError) as exc:
        problems.append(f"decision record not written: {exc}")
    try:
        written += list(write_report(folder))
    except (SpikebenchError, OSError, ValueError) as exc:
        problems.append(f"report not written: {exc}")
    return written, problems


def decision_summary(folder: Path) -> str | None:
    """The one-line decision from the run's score.json, if there is one (read, not recomputed)."""
    from harness.report_decision import decision_line

    try:
        score = json.loads((folder / SCORE_JSON).read_text())
        return decision_line(score)
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
