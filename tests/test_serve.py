"""`spikebench serve` for real: embedded PostgreSQL, the seed, the flask spike under gunicorn;
the printed curl line answers with the seeded user's items; Ctrl-C (SIGINT) or SIGTERM stops
everything it started. `spikebench list` reads the manifests and scenario files."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.cli import main

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_until(proc: subprocess.Popen[str], prefix: str, timeout: float = 240) -> list[str]:
    """Lines of serve's stdout up to the one starting with `prefix`."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(prefix):
            return lines
    proc.kill()
    raise AssertionError(f"no line starting {prefix!r}; got:\n" + "\n".join(lines))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_flask_answers_the_printed_curl_and_stops_everything(stop: int) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "flask", "--port", str(port),
         "--seed-users", "3", "--seed-items", "4"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # so only this test's signal reaches it, as Ctrl-C would
    )  # fmt: skip
    try:
        lines = read_until(proc, "try: curl ")
        started = psutil.Process(proc.pid).children(recursive=True)
        assert any("gunicorn" in " ".join(p.cmdline()) for p in started), started
        assert any("postgres" in p.name() for p in started), started
        assert any(f"http://127.0.0.1:{port}" in line for line in lines), lines
        token_line = next(line for line in lines if line.startswith("token for user0001"))
        curl = shlex.split(lines[-1].removeprefix("try: "))
        assert curl[0] == "curl" and f"http://127.0.0.1:{port}/items?limit=5" in curl
        answer = subprocess.run(curl, capture_output=True, text=True, timeout=30)
        assert answer.returncode == 0, answer.stderr
        body = json.loads(answer.stdout)
        assert body["total"] == 4 and len(body["items"]) == 4, body  # user0001's seeded items
        assert token_line.split(": ", 1)[1] in lines[-1]
        assert any("harness.run.upstream" in " ".join(p.cmdline()) for p in started), started
        quote = curl[:-1] + [f"http://127.0.0.1:{port}/items/1/quote"]  # flask lists "quote"
        answer = subprocess.run(quote, capture_output=True, text=True, timeout=30)
        assert json.loads(answer.stdout)["item_id"] == 1, answer.stdout
        proc.send_signal(stop)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out
    assert "nothing left running" in out
    gone, alive = psutil.wait_procs(started, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):  # nobody listens there
        s.connect(("127.0.0.1", port))


def test_serve_unknown_spike_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "no-such-spike", "--port", str(free_port())]) == 2
    assert "unknown spikes ['no-such-spike']" in capsys.readouterr().err


def test_serve_refuses_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert main(["serve", "flask", "--port", str(port)]) == 2
    assert f"port 127.0.0.1:{port} is already taken" in capsys.readouterr().err


def test_list_names_every_spike_and_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    spikes = {s["name"]: s for s in data["spikes"]}
    on_disk = {p.parent.name for p in (REPO / "spikes").glob("*/spike.toml")}
    assert set(spikes) == on_disk
    assert spikes["flask"]["framework"] == "Flask" and spikes["flask"]["version"]
    assert spikes["flask"]["server"].startswith("gunicorn")
    assert "gthread" in spikes["flask"]["variants"] and "gthread" in spikes["django"]["variants"]
    gthread = {c["name"]: c for c in spikes["flask"]["candidates"]}["flask@gthread"]
    assert gthread["server"] == "gunicorn (gthread workers)"
    scenarios = {s["name"]: s for s in data["scenarios"]}
    assert set(scenarios) == {p.stem for p in (REPO / "scenarios").glob("*.toml")}
    assert all(s["description"] for s in scenarios.values())
    assert main(["list"]) == 0
    table = capsys.readouterr().out
    for name in [*spikes, *scenarios, "flask@gthread"]:
        assert name in table


def test_serve_on_an_existing_server_drops_only_its_own_database(tmp_path: Path) -> None:
    """DATABASE_URL: serve creates spikebench_serve there, drops it at the end, and leaves the
    server (not ours to stop) running."""
    from harness.run.postgres import start_embedded

    external = start_embedded()
    try:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "serve", "flask", "--port", str(port),
             "--seed-users", "2", "--seed-items", "1"],
            cwd=REPO, env={**os.environ, "DATABASE_URL": external.admin_url},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            lines = read_until(proc, "try: curl ")
            assert any("spikebench_serve" in line for line in lines), lines
            with external.connect() as conn:
                names = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
            assert "spikebench_serve" in names
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode == 0, out
        with external.connect() as conn:  # still up, and without our database
            names = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        assert "spikebench_serve" not in names
    finally:
        external.stop()


def test_list_shows_variants_a_manifest_declares(tmp_path: Path) -> None:
    import shutil

    from harness.listing import inventory

    spikes = tmp_path / "spikes"
    shutil.copytree(
        REPO / "spikes" / "flask", spikes / "flask", ignore=shutil.ignore_patterns("app")
    )
    manifest = spikes / "flask" / "spike.toml"
    manifest.write_text(
        manifest.read_text()
        + '\n[variants.async]\ndescription = "Flask 3 async views"\ncommand = "gunicorn x"\n'
        + '[variants.raw-sql]\ndescription = "psycopg without the ORM"\ncommand = "gunicorn y"\n'
        + 'features = ["quote"]\n'
    )
    from harness.manifest import ConfigError, discover_candidates, load_manifest, select_spikes

    shipped = {
        v.variant: v.description for v in load_manifest(REPO / "spikes" / "flask").variants()
    }
    data = inventory(spikes)
    assert data["spikes"][0]["variants"] == {
        **shipped,
        "async": "Flask 3 async views",
        "raw-sql": "psycopg without the ORM",
    }
    found = {c.name: c for c in discover_candidates(spikes)}
    assert list(found) == [
        "flask",
        *(f"flask@{v}" for v in shipped),
        "flask@async",
        "flask@raw-sql",
    ]
    assert found["flask@raw-sql"].features == ("quote",)
    assert found["flask@async"].features == found["flask"].features  # inherited
    assert found["flask@async"].spike == "flask" and found["flask@async"].command == "gunicorn x"
    assert [c.name for c in select_spikes(None, spikes)] == ["flask"]
    assert [c.name for c in select_spikes(["flask@async"], spikes)] == ["flask@async"]
    assert [c.name for c in select_spikes(["all"], spikes)] == list(found)
    assert [c.name for c in select_spikes(["flask@async", "all"], spikes)] == [
        "flask@async", *(n for n in found if n != "flask@async"),
    ]  # fmt: skip
    manifest.write_text(manifest.read_text() + '[variants.bad]\ndescription = "no command"\n')
    with pytest.raises(ConfigError, match=r"\[variants.bad\] needs a command"):
        discover_candidates(spikes)
