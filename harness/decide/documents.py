"""What `bench` writes after the trials: the decision record, then the report, from run.json.

The score comes first so the report can lead with the decision it reads from score.json. A
problem here (a bad decision.toml, say) must not cost the run: it is reported and the paths of
what could be written are returned; the measurements are already safe in run.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.decide.criteria import (
    DECISION_MD,
    DEFAULT_CRITERIA,
    SCORE_JSON,
    known_candidates,
    known_frameworks,
    known_scenarios,
    load_criteria,
)
from harness.decide.decision import decision_record
from harness.decide.score import Matrix, ranking_markdown, score_json, score_run
from harness.decide.sensitivity import dirichlet_wins, sensitivity_markdown, weight_flips
from harness.errors import SpikebenchError
from harness.results import rundata as rd
from harness.results.resultfile import load_run, write_atomic


def write_documents(
    folder: Path, criteria: Path = DEFAULT_CRITERIA
) -> tuple[list[Path], list[str]]:
    """(written paths, problems): decision.md, score.json, then report.md, report.html."""
    from harness.decide.report import write_report

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
    from harness.decide.report_decision import decision_line

    try:
        score = json.loads((folder / SCORE_JSON).read_text())
        return decision_line(score)
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def write_outputs(
    matrix: Matrix, folder: Path, flips: list[dict[str, Any]], wins: dict[str, float]
) -> tuple[Path, Path]:
    md, js = folder / DECISION_MD, folder / SCORE_JSON
    md.write_text(decision_record(matrix, flips, wins))
    write_atomic(js, score_json(matrix, flips, wins))
    return md, js


def score_folder(
    folder: Path, criteria_path: Path = DEFAULT_CRITERIA, write: bool = True
) -> tuple[Matrix, list[dict[str, Any]], dict[str, float], tuple[Path, Path] | None]:
    """Load, score, analyse, and (by default) write decision.md and score.json beside run.json."""
    run = load_run(folder)
    criteria = load_criteria(
        criteria_path,
        known_frameworks() | {c for name in rd.candidates(run) for c in (name, name.split("@")[0])},
        known_scenarios() | set(rd.scenario_names(run)),
        known_candidates() + rd.candidates(run),
    )
    matrix = score_run(run, criteria)
    flips, wins = weight_flips(matrix), dirichlet_wins(matrix)
    paths = write_outputs(matrix, Path(run["_folder"]), flips, wins) if write else None
    return matrix, flips, wins, paths


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "score", help="weighted decision matrix + sensitivity; writes decision.md and score.json"
    )
    p.add_argument("run", type=Path, help="results/<run-id> (or its run.json)")
    p.add_argument(
        "--criteria", type=Path, default=DEFAULT_CRITERIA, help="criteria file (decision.toml)"
    )
    p.add_argument("--json", action="store_true", help="print score.json instead of tables")
    p.add_argument("--no-write", action="store_true", help="print only; write no files")
    p.set_defaults(handler=cmd_score)


def cmd_score(args: argparse.Namespace) -> int:
    matrix, flips, wins, paths = score_folder(args.run, args.criteria, write=not args.no_write)
    if args.json:
        print(json.dumps(score_json(matrix, flips, wins), indent=1))
    else:
        print(f"## Decision matrix for run {matrix.run['run_id']}\n")
        print(ranking_markdown(matrix))
        print()
        for note in matrix.notes:
            print(f"- {note}")
        print("\n## Sensitivity\n")
        print(sensitivity_markdown(matrix, flips, wins))
    if paths:
        print(f"\ndecision record: {paths[0]}\nscores: {paths[1]}")
        refresh_report(paths[1].parent)
    return 0


def refresh_report(folder: Path) -> None:
    """A report written before this score would show a stale (or no) decision: rewrite it."""
    from harness.decide.report import REPORT_HTML, write_report

    if (folder / REPORT_HTML).exists():
        for path in write_report(folder):
            print(f"report: {path}")
