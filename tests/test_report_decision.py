"""The report leads with the decision from score.json (never recomputed), says how firm it is
and why, links the full record; without a score it says how to make one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness.decide.documents import write_documents
from harness.decide.report import write_report
from harness.decide.report_decision import decision_line, fragility, reasons
from tests.rundata_support import copy_data


def headings(md: str) -> list[str]:
    return re.findall(r"^## (.+)$", md, re.M)


def test_scored_report_leads_with_the_decision(tmp_path: Path) -> None:
    folder = copy_data(tmp_path / "run")
    written, problems = write_documents(folder)
    assert problems == []
    assert [p.name for p in written] == ["decision.md", "score.json", "report.md", "report.html"]
    score = json.loads((folder / "score.json").read_text())
    win, second = score["ranking"][:2]
    md = (folder / "report.md").read_text()
    assert headings(md)[0] == "Decision"
    section = md.split("## Decision", 1)[1].split("\n## ", 1)[0]
    margin = score["totals"][win] - score["totals"][second]
    assert f"**Recommended: {win}**" in section
    assert f"margin of **{margin:.2f}** over {second}" in section
    assert ("Fragile lead" in section) != ("Robust lead" in section)
    assert "What decides it" in section and "For: " in section
    assert "[decision.md](decision.md)" in section and "[score.json](score.json)" in section
    page = (folder / "report.html").read_text()
    first_h2 = re.search(r"<h2>(.*?)</h2>", page)
    assert first_h2 and first_h2.group(1) == "Decision"
    assert '<a href="decision.md">decision.md</a>' in page
    assert '<a href="score.json">score.json</a>' in page


def test_unscored_report_says_how_to_score(tmp_path: Path) -> None:
    folder = copy_data(tmp_path / "run")
    _, page = write_report(folder)
    md = (folder / "report.md").read_text()
    assert headings(md)[0] == "Decision"
    assert "No decision score for this run yet" in md
    assert f".venv/bin/spikebench score {folder}" in md
    assert "<code>.venv/bin/spikebench score" in page.read_text()


def test_a_score_of_another_run_is_not_shown(tmp_path: Path) -> None:
    folder = copy_data(tmp_path / "run")
    write_documents(folder)
    score = json.loads((folder / "score.json").read_text())
    score["run_id"] = "some-other-run"
    (folder / "score.json").write_text(json.dumps(score))
    write_report(folder)
    md = (folder / "report.md").read_text()
    assert "score.json belongs to another run" in md and "Recommended" not in md


def synthetic(delta: float | None, share: float) -> dict[str, Any]:
    return {
        "run_id": "x",
        "ranking": ["a", "b"],
        "totals": {"a": 3.5, "b": 3.2},
        "weights": {"performance": 0.5, "ecosystem": 0.3, "team_fit": 0.2},
        "scores": {
            "a": {"performance": 4.0, "ecosystem": 3.0, "team_fit": 3.0},
            "b": {"performance": 3.0, "ecosystem": 3.5, "team_fit": 3.0},
        },
        "judgements": {"a": {"ecosystem": {"score": 3, "rationale": "fewer plugins"}}},
        "sensitivity": {
            "single_weight": [
                {"criterion": "performance", "weight": 0.5, "delta": delta, "new_winner": "b"}
            ],
            "dirichlet": {"draws": 1000, "wins": {"a": share, "b": 1 - share}},
        },
    }


def test_fragility_follows_the_decision_records_rule() -> None:
    assert fragility(synthetic(-0.01, 0.9))[0] is True  # a flip below 0.05
    assert fragility(synthetic(None, 0.55))[0] is True  # under 60 % of the draws
    assert fragility(synthetic(-0.30, 0.9))[0] is False
    assert fragility(synthetic(None, 0.9))[0] is False
    why = fragility(synthetic(-0.30, 0.9))[1]
    assert "performance by -0.300 (it makes b the winner); a wins 90% of 1,000 random" in why


def test_reasons_rank_criteria_by_weighted_difference() -> None:
    out = reasons(synthetic(None, 0.9))
    assert out[0].startswith("For: performance (weight 0.50): a 4.0 vs b 3.0, +0.50")
    assert out[-1].startswith("Against: ecosystem (weight 0.30): a 3.0 vs b 3.5, -0.15")
    assert len(out) == 2  # team fit is equal: no reason either way


def test_decision_line() -> None:
    assert decision_line(synthetic(None, 0.9)) == "a (3.50 of 5, +0.30 over b; robust lead)"
    assert decision_line(synthetic(-0.01, 0.9)).endswith("fragile lead: treat as a near-tie)")


def test_a_single_option_is_not_called_a_lead() -> None:
    one = synthetic(None, 1.0)
    one["ranking"], one["totals"] = ["a"], {"a": 3.5}
    assert decision_line(one) == (
        "a (3.50 of 5; the only option in this run: nothing to choose between)"
    )
