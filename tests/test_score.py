"""Scoring: monotone measured criteria, validated criteria files, sensitivity, decision record."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.decide.criteria import CRITERIA, DEFAULT_WEIGHTS, known_frameworks, load_criteria
from harness.decide.documents import score_folder, write_documents
from harness.decide.score import score_run
from harness.decide.sensitivity import dirichlet_wins, shifted, weight_flips
from harness.errors import ConfigError
from harness.paths import REPO_ROOT
from harness.results import rundata as rd
from tests.rundata_support import copy_data, load_data, scale_metric, variant, write_run

SHIPPED = REPO_ROOT / "decision.toml"
VALID_TOML = """
[weights]
ease_of_development = 0.3
performance = 0.2
ecosystem = 0.2
team_fit = 0.2
operational_overhead = 0.1

[scenarios]
read_heavy = 0.5
auth_storm = 0.5

[frameworks.flask]
ease_of_development = { score = 4, rationale = "small" }
ecosystem = { score = 5, rationale = "old" }
team_fit = { score = 3, rationale = "neutral" }

[frameworks.fastapi]
ease_of_development = { score = 4, rationale = "typed" }
ecosystem = { score = 4, rationale = "growing" }
team_fit = { score = 3, rationale = "neutral" }
"""


@pytest.fixture
def criteria(tmp_path: Path) -> Path:
    path = tmp_path / "decision.toml"
    path.write_text(VALID_TOML)
    return path


def crit(path: Path) -> Any:
    return load_criteria(path, {"flask", "fastapi", "django"}, {"read_heavy", "auth_storm"})


def test_shipped_criteria_file_is_valid_with_the_documented_defaults() -> None:
    c = load_criteria(SHIPPED)
    assert c.weights == DEFAULT_WEIGHTS
    # the first four spikes at least; a newer spike may await the team's scores
    assert {"flask", "fastapi", "django", "litestar"} <= set(c.judged) <= known_frameworks()
    for judgements in c.judged.values():
        assert all(j.rationale and 1 <= j.score <= 5 for j in judgements.values())


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("performance = 0.2", "performance = 0.3", "must sum to 1"),
        ("ecosystem = 0.2\nteam", "ecosystem = -0.1\nteam", "outside [0, 1]"),
        ("performance = 0.2", "performance = 1.5", "outside [0, 1]"),
        (
            "operational_overhead = 0.1",
            "operational_overhead = 0.1\nspeed = 0.0",
            "unknown criteria",
        ),
        ("operational_overhead = 0.1", "", "missing ['operational_overhead']"),
        ("read_heavy = 0.5", "read_heavy = 0.6", "[scenarios] weights must sum to 1"),
        ("auth_storm = 0.5", "auth_storm = 0.4\nwarp_storm = 0.1", "unknown scenarios"),
        ('score = 5, rationale = "old"', 'score = 6, rationale = "old"', "integers 1..5"),
        ('score = 5, rationale = "old"', 'score = 4.5, rationale = "old"', "integers 1..5"),
        ('score = 5, rationale = "old"', "score = 5", "needs a rationale"),
        ("[frameworks.fastapi]", "[frameworks.bottle]", "unknown framework 'bottle'"),
        (
            'team_fit = { score = 3, rationale = "neutral" }\n\n[frameworks.fastapi]',
            'team_fit = { score = 3, rationale = "neutral" }\n'
            'performance = { score = 5, rationale = "fast" }\n\n[frameworks.fastapi]',
            "measured from the run",
        ),
        (
            'team_fit = { score = 3, rationale = "neutral" }\n\n[frameworks.fastapi]',
            'charm = { score = 3, rationale = "x" }\n\n[frameworks.fastapi]',
            "unknown criterion",
        ),
        ("[weights]", "[weights\n", "invalid TOML"),
    ],
)
def test_bad_criteria_files_name_the_problem(
    criteria: Path, old: str, new: str, message: str
) -> None:
    text = criteria.read_text()
    assert old in text
    criteria.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        crit(criteria)
    assert message in str(err.value)
    assert str(criteria) in str(err.value)


def test_weights_sum_tolerance(criteria: Path) -> None:
    criteria.write_text(VALID_TOML.replace("performance = 0.2", "performance = 0.2005"))
    crit(criteria)  # within ± 0.001
    criteria.write_text(VALID_TOML.replace("performance = 0.2", "performance = 0.202"))
    with pytest.raises(ConfigError, match="sum to 1"):
        crit(criteria)


def test_missing_criteria_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_criteria(tmp_path / "nope.toml")


def test_a_spike_in_the_run_without_scores_is_named(criteria: Path) -> None:
    criteria.write_text(VALID_TOML.split("[frameworks.fastapi]")[0])
    with pytest.raises(ConfigError, match=r"no scores for spikes \['fastapi'\]"):
        score_run(load_data(), crit(criteria))


def test_cli_reports_bad_criteria_with_exit_2(
    tmp_path: Path, criteria: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    criteria.write_text(VALID_TOML.replace("performance = 0.2", "performance = 0.9"))
    folder = copy_data(tmp_path / "run")
    assert main(["score", str(folder), "--criteria", str(criteria)]) == 2
    assert "must sum to 1" in capsys.readouterr().err
    assert not (folder / "decision.md").exists()


# -- monotone measured criteria ---------------------------------------------------------------


def perf(run: dict[str, Any], criteria: Path) -> dict[str, float]:
    return {s: v["performance"] for s, v in score_run(run, crit(criteria)).scores.items()}


@pytest.mark.parametrize("factor", [1.05, 1.2, 1.5, 3.0])
@pytest.mark.parametrize("spike", ["flask", "fastapi"])
def test_more_throughput_never_lowers_performance(
    criteria: Path, spike: str, factor: float
) -> None:
    base = load_data()
    before = perf(base, criteria)
    faster = variant(base, scale_metric(("throughput_rps",), factor), spike=spike)
    after = perf(faster, criteria)
    assert after[spike] >= before[spike] - 1e-12
    for other in after:  # and nobody else gains from someone else getting faster
        if other != spike:
            assert after[other] <= before[other] + 1e-12


@pytest.mark.parametrize("factor", [0.5, 0.9])
def test_lower_p99_never_lowers_performance(criteria: Path, factor: float) -> None:
    base = load_data()
    quicker = variant(base, scale_metric(("latency_ms", "p99"), factor), spike="flask")
    assert perf(quicker, criteria)["flask"] >= perf(base, criteria)["flask"] - 1e-12


def test_a_spike_faster_everywhere_never_scores_lower(criteria: Path) -> None:
    """Random variants: whenever A has >= throughput and <= p99 than B in every scenario,
    A's performance score is >= B's."""
    rng = random.Random(7)
    base = load_data()
    scenarios = ("read_heavy", "auth_storm")
    checked = 0
    for _ in range(40):
        factors = {
            (sp, sc): (rng.uniform(0.5, 2.0), rng.uniform(0.5, 2.0))
            for sp in ("flask", "fastapi")
            for sc in scenarios
        }

        def change(trial: dict[str, Any], factors: dict[Any, Any] = factors) -> None:
            thr, p99 = factors[(trial["spike"], trial["scenario"])]
            scale_metric(("throughput_rps",), thr)(trial)
            scale_metric(("latency_ms", "p99"), p99)(trial)

        run = variant(base, change)
        scores = perf(run, criteria)
        for a, b in (("flask", "fastapi"), ("fastapi", "flask")):
            dominates = all(
                rd.median(run, a, sc, "throughput_rps") >= rd.median(run, b, sc, "throughput_rps")
                and rd.median(run, a, sc, "p99_ms") <= rd.median(run, b, sc, "p99_ms")
                for sc in scenarios
            )
            if dominates:
                checked += 1
                assert scores[a] >= scores[b]
    assert checked  # the random draws did produce dominating pairs


def test_invalid_trials_do_not_help(criteria: Path) -> None:
    def invalidate(trial: dict[str, Any]) -> None:
        trial["valid"] = False
        trial["invalid_reasons"] = ["spike_crashed"]

    base = load_data()
    broken = variant(base, invalidate, spike="fastapi", scenario="read_heavy")
    assert perf(broken, criteria)["fastapi"] < perf(base, criteria)["fastapi"]
    matrix = score_run(broken, crit(criteria))
    assert any("no valid trials" in n and "fastapi × read_heavy" in n for n in matrix.notes)


def test_more_memory_never_lowers_overhead_penalty(criteria: Path) -> None:
    base = load_data()
    before = score_run(base, crit(criteria)).scores["flask"]["operational_overhead"]
    fat = variant(base, scale_metric(("memory", "peak_rss_bytes"), 3.0), spike="flask")
    after = score_run(fat, crit(criteria)).scores["flask"]["operational_overhead"]
    assert after < before


def test_fewer_lines_of_code_never_lowers_ease(criteria: Path) -> None:
    base = load_data()
    assert base.get("inspection"), "the committed run records inspection"
    before = score_run(base, crit(criteria)).scores["flask"]["ease_of_development"]
    lean = json.loads(json.dumps(base))
    lean["inspection"]["flask"]["loc"] = base["inspection"]["flask"]["loc"] // 2
    after = score_run(lean, crit(criteria)).scores["flask"]["ease_of_development"]
    assert after >= before


def test_without_inspection_ease_is_the_teams_score(criteria: Path) -> None:
    run = load_data()
    run.pop("inspection", None)
    matrix = score_run(run, crit(criteria))
    assert matrix.scores["flask"]["ease_of_development"] == 4.0
    assert any("no lines-of-code" in n for n in matrix.notes)


def test_scores_stay_in_range_and_totals_are_weighted_sums(criteria: Path) -> None:
    matrix = score_run(load_data(), crit(criteria))
    for scores in matrix.scores.values():
        assert all(1.0 <= scores[c] <= 5.0 for c in CRITERIA)
    totals = matrix.totals()
    for spike, scores in matrix.scores.items():
        assert totals[spike] == pytest.approx(sum(DEFAULT_WEIGHTS[c] * scores[c] for c in CRITERIA))


# -- sensitivity ------------------------------------------------------------------------------


def test_single_weight_flip_is_exact(criteria: Path) -> None:
    matrix = score_run(load_data(), crit(criteria))
    flips = weight_flips(matrix)
    assert [f["criterion"] for f in flips] == list(CRITERIA)
    for f in flips:
        if f["delta"] is None:
            continue
        at = shifted(matrix.criteria.weights, f["criterion"], f["flip_weight"])
        assert sum(at.values()) == pytest.approx(1.0)
        totals = matrix.totals(at)
        assert totals[matrix.winner] == pytest.approx(totals[f["new_winner"]], abs=1e-9)
        beyond = f["flip_weight"] + (0.01 if f["delta"] > 0 else -0.01)
        assert (
            matrix.ranking(shifted(matrix.criteria.weights, f["criterion"], beyond))[0][0]
            == f["new_winner"]
        )


def test_single_weight_flip_finds_a_planted_near_tie(criteria: Path) -> None:
    """Flask wins on the team's judgement (team fit 5 vs 3), fastapi is made much faster: moving
    weight to performance must flip the winner to fastapi at the computed point, and moving
    weight away from team fit must too."""
    text = VALID_TOML.replace(
        'team_fit = { score = 3, rationale = "neutral" }\n\n[frameworks.fastapi]',
        'team_fit = { score = 5, rationale = "we know it" }\n\n[frameworks.fastapi]',
    )
    criteria.write_text(text)
    run = variant(load_data(), scale_metric(("throughput_rps",), 3.0), spike="fastapi")
    run = variant(run, scale_metric(("latency_ms", "p99"), 0.2), spike="fastapi")
    matrix = score_run(run, crit(criteria))
    assert matrix.winner == "flask"
    flips = {f["criterion"]: f for f in weight_flips(matrix)}
    assert flips["performance"]["delta"] > 0 and flips["performance"]["new_winner"] == "fastapi"
    assert flips["team_fit"]["delta"] < 0 and flips["team_fit"]["new_winner"] == "fastapi"
    wins = dirichlet_wins(matrix)
    assert 0 < wins["fastapi"] < wins["flask"]  # contested, but flask ahead


def test_dirichlet_is_reproducible_and_sums_to_one(criteria: Path) -> None:
    matrix = score_run(load_data(), crit(criteria))
    a, b = dirichlet_wins(matrix), dirichlet_wins(matrix)
    assert a == b
    assert sum(a.values()) == pytest.approx(1.0)
    assert set(a) == set(matrix.scores)


# -- outputs ----------------------------------------------------------------------------------


def test_score_writes_a_madr_decision_record_and_numbers(
    tmp_path: Path, criteria: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_data(tmp_path / "run")
    assert main(["score", str(folder), "--criteria", str(criteria)]) == 0
    out = capsys.readouterr().out
    assert "| rank | option |" in out and "Sensitivity" in out and "wins" in out
    record = (folder / "decision.md").read_text()
    for heading in (
        "## Context and Problem Statement",
        "## Decision Drivers",
        "## Considered Options",
        "## Decision Outcome",
        "### Consequences",
        "### Confirmation",
        "## Pros and Cons of the Options",
        "## More Information",
    ):
        assert heading in record
    run = load_data()
    assert run["run_id"] in record
    assert 'make bench SPIKES="' in record
    assert "req/s" in record and "valid trials" in record  # measured evidence in pros and cons
    data = json.loads((folder / "score.json").read_text())
    assert data["winner"] == data["ranking"][0]
    assert set(data["scores"]) == {"flask", "fastapi"}
    assert data["sensitivity"]["dirichlet"]["draws"] == 1000


def test_score_folder_without_write(tmp_path: Path, criteria: Path) -> None:
    folder = copy_data(tmp_path / "run")
    _, _, _, paths = score_folder(folder, criteria, write=False)
    assert paths is None and not (folder / "score.json").exists()


def test_json_output(tmp_path: Path, criteria: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_run(load_data(), tmp_path / "run")
    assert main(["score", str(folder), "--criteria", str(criteria), "--json", "--no-write"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ranking"] and data["totals"]


def test_bench_writes_report_and_decision_record(tmp_path: Path) -> None:
    """What `bench` writes at its end (cli.print_documents): report and decision record."""
    folder = copy_data(tmp_path / "run")
    written, problems = write_documents(folder)
    assert problems == []
    assert {p.name for p in written} == {"report.md", "report.html", "decision.md", "score.json"}


def test_bench_documents_survive_a_bad_criteria_file(tmp_path: Path) -> None:
    folder = copy_data(tmp_path / "run")
    bad = tmp_path / "decision.toml"
    bad.write_text("[weights]\nperformance = 2\n")
    written, problems = write_documents(folder, bad)
    assert {p.name for p in written} == {"report.md", "report.html"}
    assert problems and "decision record not written" in problems[0]


class FakeBench:
    """Stands in for the run engine: `bench` must end by writing the documents, from the file."""

    folder: Path = Path()
    fail: str | None = None

    def __init__(self, config: Any, argv: list[str], progress: Any) -> None:
        self.folder = FakeBench.folder
        self.run: dict[str, Any] = {}

    def execute(self) -> Path:
        from harness.results.resultfile import load_run

        self.run = load_run(self.folder)
        if self.fail == "before any trial":
            self.run["trials"] = []
        if self.fail:
            raise ConfigError(f"failed {self.fail}")
        return self.folder


@pytest.mark.parametrize(
    ("fail", "code", "documents"),
    [(None, 3, True), ("midway", 2, True), ("before any trial", 2, False)],
)
def test_bench_ends_by_writing_report_and_decision_record(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fail: str | None,
    code: int,
    documents: bool,
) -> None:
    import signal

    import harness.run.runner

    folder = copy_data(tmp_path / "run")
    monkeypatch.setattr(FakeBench, "folder", folder)
    monkeypatch.setattr(FakeBench, "fail", fail)
    monkeypatch.setattr(harness.run.runner, "Bench", FakeBench)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert main(["bench", "--runtime", "local"]) == code  # the data has invalid trials: 3
    finally:
        signal.signal(signal.SIGTERM, previous)
    out = capsys.readouterr().out
    for name, label in (
        ("report.md", "report"),
        ("report.html", "report"),
        ("decision.md", "decision record"),
        ("score.json", "scores"),
    ):
        assert (f"{label}: {folder / name}" in out) is documents, out
        assert (folder / name).exists() is documents
    # the last lines say what to open first and give the decision in one line
    assert (f"open first: {folder / 'report.html'}" in out) is documents, out
    assert bool(re.search(r"^decision: \w+ \(\d\.\d\d of 5, [+-]\d\.\d\d over ", out, re.M)) is (
        documents
    ), out
