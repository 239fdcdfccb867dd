"""inspect: lines of code, dependencies, the app module, import time and cold start."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.manifest import Parity, SpikeManifest, discover_spikes, load_manifest
from harness.run import inspect as insp
from harness.run.postgres import Postgres
from harness.run.spikeenv import ensure_env

SOURCE = '''"""Module docstring
spanning two lines."""
# a comment

import os  # trailing comment counts as code


def f() -> str:
    # indented comment
    return "# not a comment"

'''


def test_code_lines_skip_blanks_and_comments() -> None:
    # docstring (2) + import + def + return
    assert insp.code_lines(SOURCE) == 5
    assert insp.code_lines("") == 0
    assert insp.code_lines("x = (\n  1,\n\n  2)\n") == 3


def test_lines_of_code_counts_only_app_paths(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text(SOURCE)
    (tmp_path / "app" / "__pycache__").mkdir()
    (tmp_path / "app" / "__pycache__" / "junk.py").write_text("x = 1\n" * 50)
    (tmp_path / "tests.py").write_text("x = 1\n" * 50)  # not in app_paths
    (tmp_path / "requirements.txt").write_text("# pinned\nflask==3.1.3\n\n-r other.txt\nx==1\n")
    (tmp_path / "spike.toml").write_text(
        f'[spike]\nname = "{tmp_path.name}"\nframework = "F"\nframework_package = "f"\n'
        'interface = "wsgi"\nserver = "gunicorn"\norm = "o"\ndriver = "d"\napp_paths = ["app"]\n'
        '[start]\ncommand = "gunicorn --bind ${SPIKE_HOST}:${SPIKE_PORT} app.main:app"\n'
    )
    manifest = load_manifest(tmp_path)
    assert insp.lines_of_code(manifest) == (5, 1)
    assert insp.direct_requirements(manifest) == ["flask==3.1.3", "x==1"]
    assert insp.app_module(manifest) == "app.main"  # the --bind value is not taken for it
    data = insp.inspect_spike(manifest, None, Parity())
    assert data["loc"] == 5 and data["direct_dependencies"] == 2
    assert data["import_seconds"] is None and data["errors"]


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("flask", "app.wsgi"),
        ("fastapi", "app.main"),
        ("django", "spike_project.wsgi"),
        ("litestar", "app.main"),
        ("starlette", "app.main"),
        ("aiohttp", "app.main"),
        ("tornado", "app.main"),  # `python -m app.main`: tornado is its own server
    ],
)
def test_app_module_from_every_real_manifest(name: str, module: str) -> None:
    spikes = {s.name: s for s in discover_spikes()}
    if name not in spikes:
        pytest.skip(f"spike {name} not in this checkout")
    assert insp.app_module(spikes[name]) == module
    loc, files = insp.lines_of_code(spikes[name])
    assert loc > 100 and files > 1


@pytest.fixture(scope="module")
def flask() -> SpikeManifest:
    return {s.name: s for s in discover_spikes()}["flask"]


def test_inspect_spike_in_its_venv(
    flask: SpikeManifest, parity: Parity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(insp, "IMPORT_REPEATS", 1)
    env = ensure_env(flask)
    data = insp.inspect_spike(flask, env, parity)
    assert data["errors"] == []
    assert data["total_dependencies"] == len(env.packages()) > data["direct_dependencies"] > 0
    assert data["installed_size_bytes"] > 10 * 2**20
    assert 0 < data["import_seconds"] < 30
    assert data["import_module"] == "app.wsgi"


def test_import_failure_is_recorded_not_raised(
    flask: SpikeManifest, parity: Parity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(insp, "app_module", lambda m: "app.does_not_exist")
    data = insp.inspect_spike(flask, ensure_env(flask), parity)
    assert data["import_seconds"] is None
    assert any("does_not_exist" in e for e in data["errors"])


def test_cold_start_against_a_throwaway_database(
    flask: SpikeManifest, parity: Parity, pg: Postgres
) -> None:
    url = pg.create_database("sb_inspect_test")
    try:
        seconds = insp.cold_start(flask, ensure_env(flask), parity, url)
    finally:
        pg.drop_database("sb_inspect_test")
    assert 0 < seconds < 90


def test_cli_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(insp, "IMPORT_REPEATS", 1)
    assert main(["inspect", "--spikes", "flask", "--json", "--no-cold-start"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"flask"}
    assert data["flask"]["loc"] > 0 and data["flask"]["import_seconds"] > 0


def test_bench_records_inspection_in_the_result_file() -> None:
    from tests.rundata_support import load_data

    run = load_data()
    for spike in run["spikes"]:
        i = run["inspection"][spike]
        assert i["loc"] > 0 and i["direct_dependencies"] > 0 and i["total_dependencies"] > 0
        assert i["installed_size_bytes"] > 0 and i["import_seconds"] > 0


def test_a_failing_inspection_never_costs_the_bench(
    flask: SpikeManifest, parity: Parity, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.results.resultfile import validate
    from tests.rundata_support import load_data

    def broken(*args: object) -> tuple[int, int]:
        raise OSError("disk on fire")

    monkeypatch.setattr(insp, "lines_of_code", broken)
    data = insp.inspect_for_bench([flask], object(), {}, parity)
    assert data["flask"]["loc"] is None
    assert data["flask"]["errors"] == ["OSError: disk on fire"]
    run = load_data()
    run["inspection"] = data
    validate(run)  # still a valid result file


def test_websocket_lines_are_counted_apart(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text(SOURCE)
    (tmp_path / "app" / "live.py").write_text("x = 1\ny = 2\n")
    (tmp_path / "spike.toml").write_text(
        f'[spike]\nname = "{tmp_path.name}"\nframework = "F"\nframework_package = "f"\n'
        'interface = "asgi"\nserver = "uvicorn"\norm = "o"\ndriver = "d"\napp_paths = ["app"]\n'
        'websocket_paths = ["app/live.py"]\n[start]\ncommand = "uvicorn app.main:app"\n'
    )
    data = insp.inspect_spike(load_manifest(tmp_path), None, Parity())
    assert (data["loc"], data["websocket_loc"], data["websocket_loc_files"]) == (7, 2, 1)
    without = dataclasses.replace(load_manifest(tmp_path), websocket_paths=())
    assert insp.websocket_lines(without) == (None, None)
