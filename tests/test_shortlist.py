"""The shortlist: decision.toml names what the team decides between; `bench` measures it unless
told otherwise, `--spikes all` measures every candidate, and the record says which were on it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.decide.criteria import SEED_CANDIDATES, load_shortlist, parse_shortlist
from harness.errors import ConfigError
from harness.manifest import discover_spikes, select_spikes
from harness.paths import REPO_ROOT, SPIKES_DIR

KNOWN = ["django", "fastapi", "flask", "flask@gthread", "litestar"]


def test_shipped_shortlist_is_the_four_seed_candidates() -> None:
    assert load_shortlist(REPO_ROOT / "decision.toml") == list(SEED_CANDIDATES)


def test_no_section_means_the_seed_candidates_that_exist(tmp_path: Path) -> None:
    assert parse_shortlist(tmp_path, {}, KNOWN) == SEED_CANDIDATES
    assert parse_shortlist(tmp_path, {}, ["flask", "quart"]) == ("flask",)
    assert parse_shortlist(tmp_path, {}, ["quart"]) == ()  # none: bench measures every spike


def test_variants_may_be_shortlisted() -> None:
    data = {"shortlist": {"candidates": ["flask@gthread", "fastapi"]}}
    assert parse_shortlist(Path("d.toml"), data, KNOWN) == ("flask@gthread", "fastapi")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"candidates": ["flask", "bottle", "flask@meinheld"]}, "['bottle', 'flask@meinheld']"),
        ({"candidates": []}, "must be a list of names"),
        ({"candidates": "flask"}, "must be a list of names"),
        ({"candidates": ["flask", "flask"]}, "twice"),
        ({"candidates": ["flask"], "extra": 1}, "unknown [shortlist] keys ['extra']"),
    ],
)
def test_bad_shortlists_are_config_errors_naming_the_problem(
    table: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_shortlist(Path("d.toml"), {"shortlist": table}, KNOWN)
    assert message in str(err.value) and "d.toml" in str(err.value)


def spikes_with_a_variant(tmp_path: Path) -> Path:
    root = tmp_path / "spikes"
    shutil.copytree(SPIKES_DIR / "flask", root / "flask", ignore=shutil.ignore_patterns(".*"))
    shutil.copy(SPIKES_DIR / "parity.toml", root / "parity.toml")
    toml = root / "flask" / "spike.toml"
    if "[variants." not in toml.read_text():
        toml.write_text(
            toml.read_text() + '\n[variants.gthread]\ncommand = "gunicorn app.wsgi:app"\n'
        )
    return root


def test_all_selects_every_spike_and_variant(tmp_path: Path) -> None:
    root = spikes_with_a_variant(tmp_path)
    names = [m.name for m in select_spikes(["all"], root)]
    assert names[0] == "flask" and "flask@gthread" in names
    assert [m.name for m in select_spikes(None, root)] == [m.name for m in discover_spikes(root)]
    with pytest.raises(ConfigError, match=r"unknown spikes \['nope'\].*'all'"):
        select_spikes(["nope"], root)


class Captured(Exception):
    """Stops `bench` once the engine would start: the configuration is what is tested."""


def captured_spikes(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> Any:
    import harness.run.runner

    seen: dict[str, Any] = {}

    class Engine:
        def __init__(self, config: Any, argv: list[str], progress: Any) -> None:
            seen["spikes"] = config.spikes
            raise Captured

    monkeypatch.setattr(harness.run.runner, "Bench", Engine)
    with pytest.raises(Captured):
        main(["bench", "--runtime", "local", *argv])
    return seen["spikes"]


def test_bench_measures_the_shortlist_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert captured_spikes(monkeypatch, []) == list(SEED_CANDIDATES)
    assert captured_spikes(monkeypatch, ["--spikes", "flask,fastapi"]) == ["flask", "fastapi"]
    assert captured_spikes(monkeypatch, ["--spikes", "all"]) == ["all"]
    assert captured_spikes(monkeypatch, ["--aa", "flask"]) == ["flask"]


def test_an_unknown_shortlisted_name_stops_bench(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import harness.decide.criteria as criteria

    path = tmp_path / "decision.toml"
    path.write_text('[shortlist]\ncandidates = ["flask", "nosuchframework"]\n')
    monkeypatch.setattr(criteria, "DEFAULT_CRITERIA", path)
    assert main(["bench", "--runtime", "local"]) == 2
    err = capsys.readouterr().err
    assert "unknown candidates ['nosuchframework'] in [shortlist]" in err


def test_decision_record_says_which_options_were_shortlisted(tmp_path: Path) -> None:
    from harness.decide.documents import score_folder
    from tests.rundata_support import copy_data

    folder = copy_data(tmp_path / "run")  # flask and fastapi only
    matrix, _, _, _ = score_folder(folder)
    assert set(matrix.scores) == {"flask", "fastapi"}
    record = (folder / "decision.md").read_text()
    assert "On the shortlist (`decision.toml` [shortlist]): `flask`, `fastapi`." in record
    assert "Shortlisted but not in this run: `django`, `litestar`." in record
    assert "Measured beyond it" not in record


def test_a_variant_may_have_its_own_team_scores(tmp_path: Path) -> None:
    from harness.decide.criteria import known_frameworks, load_criteria
    from harness.decide.score import judgements

    root = spikes_with_a_variant(tmp_path)
    text = (REPO_ROOT / "decision.toml").read_text() + (
        '\n[frameworks."flask@gthread"]\n'
        'ease_of_development = { score = 2, rationale = "threads to reason about" }\n'
        'ecosystem = { score = 5, rationale = "Flask\'s" }\n'
        'team_fit = { score = 3, rationale = "neutral" }\n'
    )
    path = tmp_path / "decision.toml"
    path.write_text(text)
    crit = load_criteria(path, known_frameworks(root) | known_frameworks())
    own = judgements(crit, "flask@gthread")
    assert own is not None and own["ease_of_development"].score == 2
    shared = judgements(crit, "fastapi@granian")  # no own table: the spike's scores
    assert shared is crit.judged["fastapi"]
