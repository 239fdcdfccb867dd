"""The CLI as a new user meets it: every --help works, every option explains itself and its
default, --version answers, output to a pipe keeps its lines whole, and every file a run leaves
is readable by a teammate (mode from the umask, not mkstemp's 0600)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import __version__
from harness.cli import build_parser, main
from harness.decide.documents import write_documents
from harness.results.resultfile import RUN_FILE, write_atomic
from tests.rundata_support import copy_data, load_data, write_run

REPO = Path(__file__).resolve().parent.parent


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_subcommand_is_listed() -> None:
    assert {"setup", "bench", "validate", "report", "compare", "score", "inspect"} <= set(
        subcommands()
    )
    assert {"serve", "list"} <= set(subcommands())


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_help_of_every_subcommand(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: spikebench {command}")


def test_top_level_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "--version" in capsys.readouterr().out


def documented_options(
    parser: argparse.ArgumentParser,
) -> Iterator[tuple[argparse.Action, str]]:
    """Every visible option with its help text as --help shows it (defaults expanded)."""
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        yield action, formatter._expand_help(action) if action.help else ""


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_option_has_help_and_shows_its_default(command: str) -> None:
    parser = subcommands()[command]
    for action, text in documented_options(parser):
        name = "/".join(action.option_strings) or action.dest
        assert text.strip(), f"{command} {name}: no help text"
        if action.option_strings:  # positionals have no default to show
            assert "default" in text, f"{command} {name}: help does not show the default: {text}"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"spikebench {__version__}"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with stdout and stderr piped, as in a CI log or `| tee` (no terminal, no COLUMNS)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )


def test_non_tty_output_keeps_lines_whole(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "run-with-a-long-name-as-ci-makes-them"
    folder = write_run(load_data(), deep)
    assert len(str(folder)) > 120
    done = run_cli("validate", str(folder))
    assert done.returncode == 0, done.stderr
    assert any(str(folder) in line for line in done.stdout.splitlines()), done.stdout


def test_non_tty_errors_keep_lines_whole(tmp_path: Path) -> None:
    missing = tmp_path / ("no-such-folder-with-a-long-name-" * 4) / "run"
    done = run_cli("validate", str(missing))
    assert done.returncode == 2
    assert any(f"no result file at {missing}" in line for line in done.stderr.splitlines()), (
        done.stderr
    )


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_every_output_file_is_readable_by_others(tmp_path: Path, umask_022: None) -> None:
    folder = copy_data(tmp_path / "run")
    write_atomic(folder / RUN_FILE, json.loads((folder / RUN_FILE).read_text()))  # as bench does
    written, problems = write_documents(folder)
    assert problems == []
    names = {p.name for p in folder.iterdir()}
    assert {"run.json", "score.json", "decision.md", "report.md", "report.html"} <= names
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o644, (path.name, oct(path.stat().st_mode))


def test_atomic_writes_respect_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "private.json", {"a": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / "private.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["private.json"]  # no temporary file left


def confirmation_commands(record: str) -> list[str]:
    m = re.search(r"### Confirmation\n.*?```\n(.*?)```", record, re.S)
    assert m, record
    return [line for line in m.group(1).splitlines() if line.strip()]


def test_decision_record_recheck_commands_run_without_an_activated_venv(
    tmp_path: Path,
) -> None:
    run = load_data()
    run["config"]["runtime"] = "auto"  # what was asked; run["runtime"] is what was used
    assert run["runtime"]["kind"] == "local"
    folder = write_run(run, tmp_path / "run")
    written, problems = write_documents(folder)
    assert problems == []
    commands = confirmation_commands((folder / "decision.md").read_text())
    assert len(commands) >= 3
    for line in commands:
        assert line.startswith(("make ", ".venv/bin/spikebench ")), line
    assert "RUNTIME=local" in commands[0] and "RUNTIME=auto" not in "\n".join(commands)


def test_progress_lines_on_a_pipe_keep_the_validity_flag() -> None:
    """`[ok]` / `[INVALID: …]` end every trial line; rich must not take them for markup."""
    import io

    from rich.console import Console

    from harness.run.progress import ConsoleProgress

    buf = io.StringIO()
    progress = ConsoleProgress(Console(file=buf, width=300, soft_wrap=True))
    progress.start(2, 1.0)
    for trial in load_data()["trials"][:2]:
        progress.trial_done(trial)
    lines = [line for line in buf.getvalue().splitlines() if line.startswith(("0", "1"))]
    assert len(lines) == 2, buf.getvalue()
    for line, trial in zip(lines, load_data()["trials"][:2], strict=True):
        flag = "[ok]" if trial["valid"] else "[INVALID: "
        assert flag in line, line
