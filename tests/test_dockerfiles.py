"""Container definitions stay true to the manifests, without a container engine.

The manifest's [start].command is the one source of truth for how a spike starts; the Dockerfile
repeats it as its CMD, and docker-compose.yml repeats the local runtime's PostgreSQL settings.
Nothing copies them by hand any more: these checks fail the moment the copies drift. A variant
(`[variants.<name>]`) has no Dockerfile or service of its own: the compose runtime runs its
spike's image and service with a command derived from the manifest (compose_spike.variant_override).
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from harness.listing import pinned_version
from harness.manifest import SpikeManifest, discover_candidates, discover_spikes, load_parity
from harness.paths import REPO_ROOT
from harness.run.compose_spike import container_cmd, variant_override
from harness.run.postgres import SERVER_SETTINGS

SPIKES = discover_spikes()
VARIANTS = [c for c in discover_candidates() if c.variant]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ROOT_USERS = {"root", "0"}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def parse_dockerfile(path: Path) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped (enough for our files)."""
    out: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored by Docker
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        keyword, _, args = text.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
    return out


def only(instructions: list[Instruction], keyword: str) -> list[Instruction]:
    return [i for i in instructions if i.keyword == keyword]


def cmd_command(instruction: Instruction) -> str:
    """The command string a CMD runs: exec form ["sh", "-c", "exec <command>"].

    A shell is needed because the manifest's ${SPIKE_HOST}-style variables are expanded from the
    container's environment; `exec` makes the server PID 1 so it receives the stop signal.
    """
    try:
        argv = json.loads(instruction.args)
    except json.JSONDecodeError:
        pytest.fail(
            f"line {instruction.line}: CMD must use the JSON exec form, got {instruction.args}"
        )
    assert isinstance(argv, list) and len(argv) == 3 and argv[:2] == ["sh", "-c"], (
        f'line {instruction.line}: CMD must be ["sh", "-c", "exec <manifest command>"]'
    )
    script = argv[2]
    assert script.startswith("exec "), f"line {instruction.line}: start the script with `exec `"
    return str(script.removeprefix("exec "))


@pytest.fixture(params=SPIKES, ids=[s.name for s in SPIKES])
def spike(request: pytest.FixtureRequest) -> SpikeManifest:
    return request.param  # type: ignore[no-any-return]


def dockerfile(manifest: SpikeManifest) -> list[Instruction]:
    path = manifest.directory / "Dockerfile"
    assert path.is_file(), f"spike {manifest.name} has no Dockerfile at {path}"
    return parse_dockerfile(path)


def test_every_spike_is_found() -> None:
    assert {s.name for s in SPIKES} >= {"django", "fastapi", "flask", "litestar"}


def test_cmd_is_the_manifest_command(spike: SpikeManifest) -> None:
    cmds = only(dockerfile(spike), "CMD")
    assert cmds, f"{spike.name}: Dockerfile has no CMD"
    assert cmd_command(cmds[-1]) == spike.command, (
        f"{spike.name}: the Dockerfile's CMD must run spike.toml's [start].command exactly"
    )
    assert json.loads(cmds[-1].args) == container_cmd(spike)
    assert not only(dockerfile(spike), "ENTRYPOINT"), "an ENTRYPOINT would change what CMD runs"


def test_from_is_pinned_and_slim(spike: SpikeManifest) -> None:
    froms = only(dockerfile(spike), "FROM")
    assert froms, f"{spike.name}: no FROM"
    for instr in froms:
        image = instr.args.split()[0]
        assert "$" not in image, f"line {instr.line}: FROM must name the image, not a build ARG"
        if "@sha256:" in image:
            continue
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag, f"line {instr.line}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), (
            f"line {instr.line}: {image}: pin a version tag (or a digest), not {tag!r}"
        )
    final = froms[-1].args.split()[0]
    assert any(word in final for word in ("slim", "alpine", "distroless")), (
        f"{spike.name}: the final image {final} should be a slim base"
    )


def test_runs_as_non_root(spike: SpikeManifest) -> None:
    users = only(dockerfile(spike), "USER")
    assert users, f"{spike.name}: no USER: the server would run as root"
    user = users[-1].args.split(":")[0]
    assert user not in ROOT_USERS, f"{spike.name}: USER {users[-1].args} is root"


def test_healthcheck_probes_the_health_path(spike: SpikeManifest) -> None:
    checks = only(dockerfile(spike), "HEALTHCHECK")
    assert checks, f"{spike.name}: no HEALTHCHECK"
    check = checks[-1].args
    assert check.upper() != "NONE"
    assert spike.health_path in check, f"{spike.name}: HEALTHCHECK must probe {spike.health_path}"


def test_build_context_ignores_local_clutter(spike: SpikeManifest) -> None:
    ignore = spike.directory / ".dockerignore"
    assert ignore.is_file(), f"{spike.name}: add a .dockerignore (venvs and caches stay out)"
    assert ".venv" in ignore.read_text()


# -- docker-compose.yml --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, object]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def test_compose_has_a_profiled_service_per_spike(
    compose: dict[str, dict[str, dict[str, object]]],
) -> None:
    services = compose["services"]
    for manifest in SPIKES:
        service = services.get(manifest.name)
        assert service, f"docker-compose.yml has no service {manifest.name!r}"
        assert service["profiles"] == [manifest.name], "one profile per spike, named after it"
        assert service["build"] == f"./spikes/{manifest.name}"
        assert service["image"] == f"spikebench-{manifest.name}"


def test_compose_postgres_uses_the_local_runtime_settings(
    compose: dict[str, dict[str, dict[str, object]]],
) -> None:
    """Same server settings in both runtimes, so their numbers are comparable."""
    postgres = compose["services"]["postgres"]
    command = list(postgres["command"])  # type: ignore[call-overload]
    assert command[0] == "postgres"
    settings = dict(
        arg.split("=", 1)
        for flag, arg in zip(command[1::2], command[2::2], strict=True)
        if flag == "-c"
    )
    assert settings == SERVER_SETTINGS
    image = str(postgres["image"])
    assert re.fullmatch(r"postgres:\d+[\w.-]*", image), f"pin the postgres image: {image}"
    assert "healthcheck" in postgres
    env = postgres["environment"]
    assert "--locale=C" in str(env["POSTGRES_INITDB_ARGS"])  # type: ignore[index]


def test_compose_loadgen_builds_the_scenarios_image(
    compose: dict[str, dict[str, dict[str, object]]],
) -> None:
    services = compose["services"]
    for name in ("locust-master", "locust-worker"):
        assert services[name]["profiles"] == ["loadgen"]
    assert (REPO_ROOT / "scenarios" / "Dockerfile").is_file()


def test_compose_spikes_get_every_parity_variable(
    compose: dict[str, dict[str, dict[str, object]]],
) -> None:
    """The compose runtime passes parity through these; a missing one would silently default."""
    for manifest in SPIKES:
        env = compose["services"][manifest.name]["environment"]
        assert set(load_parity().env()) | {"DATABASE_URL"} <= set(env), manifest.name  # type: ignore[arg-type]
        for key, value in load_parity().env().items():
            assert f"${{{key}:-{value}}}" == str(env[key]), key  # type: ignore[index]


def test_locust_image_pins_the_harness_locust() -> None:
    """Containers and the host generate load with the same Locust."""
    pins = re.findall(r'"(locust==[^"]+)"', (REPO_ROOT / "pyproject.toml").read_text())
    assert pins, "pyproject.toml pins locust"
    dockerfile = parse_dockerfile(REPO_ROOT / "scenarios" / "Dockerfile")
    installs = " ".join(i.args for i in only(dockerfile, "RUN"))
    assert pins[0] in installs
    users = only(dockerfile, "USER")
    assert users and users[-1].args.split(":")[0] not in ROOT_USERS


# -- variants: the spike's image and service, the variant's command ------------------------------


def container_env(
    manifest: SpikeManifest, compose: dict[str, dict[str, dict[str, object]]]
) -> set[str]:
    """What a spike's container environment holds: the Dockerfile's ENV and compose's."""
    names = {
        word.split("=", 1)[0]
        for instr in only(dockerfile(manifest), "ENV")
        for word in instr.args.split()
        if "=" in word
    }
    return names | set(compose["services"][manifest.spike]["environment"])  # type: ignore[arg-type]


def test_there_are_threaded_variants() -> None:
    assert {"flask@gthread", "django@gthread"} <= {v.name for v in VARIANTS}


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_variant_runs_in_its_spike_container(
    variant: SpikeManifest,
    compose: dict[str, dict[str, dict[str, object]]],
    tmp_path: Path,
) -> None:
    """The override compose file gives the spike's service the variant's command, verbatim once
    compose has undone its `$$`; every ${VAR} in it is set inside the container; its server is a
    pinned requirement of the image."""
    assert variant.spike in compose["services"], f"{variant.name}: no service {variant.spike!r}"
    override = variant_override(variant, tmp_path)
    assert override is not None
    services = yaml.safe_load(override.read_text())["services"]
    assert list(services) == [variant.spike]
    command = [arg.replace("$$", "$") for arg in services[variant.spike]["command"]]
    assert command == container_cmd(variant)
    env = dict.fromkeys(container_env(variant, compose), "x")
    try:
        string.Template(variant.command).substitute(env)
    except KeyError as exc:
        pytest.fail(f"{variant.name}: the container does not set ${{{exc.args[0]}}}")
    server = variant.command.split()[0]
    assert pinned_version(variant, server), (
        f"{variant.name}: {server} is not pinned in {variant.spike}/requirements.txt"
    )


def test_a_spike_needs_no_override(spike: SpikeManifest, tmp_path: Path) -> None:
    assert variant_override(spike, tmp_path) is None


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_compose_merges_the_override_without_interpolating_it(
    variant: SpikeManifest, tmp_path: Path
) -> None:
    """Compose itself (`config`, no engine needed) reads the override: the spike's service gets
    the variant's command, and the host's ${SPIKE_…} never leak into it."""
    import os
    import subprocess

    from harness.errors import ConfigError
    from harness.run.compose_spike import compose_cli

    try:
        cli = compose_cli()
    except ConfigError as exc:
        pytest.skip(str(exc))
    override = variant_override(variant, tmp_path)
    assert override is not None
    env = {**os.environ, "SPIKE_HOST": "HOST-LEAKED", "SPIKE_THREADS": "THREADS-LEAKED"}
    done = subprocess.run(
        [*cli, "-f", str(COMPOSE_FILE), "-f", str(override), "--profile", variant.spike,
         "config"], capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    service = yaml.safe_load(done.stdout)["services"][variant.spike]
    assert "LEAKED" not in str(service["command"])
    assert [a.replace("$$", "$") for a in service["command"]] == container_cmd(variant)
    assert service["image"] == f"spikebench-{variant.spike}"
