"""What `make test` may install: the containers smoke test's packages only in CI or when asked
(CONTAINERS=1); where they are already installed it runs, and where not it says how."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

GATE = Path(__file__).resolve().parent.parent / ".ci" / "podman" / "available.sh"
PACKAGES = ("podman", "runc", "debootstrap", "docker-compose")


def installed() -> bool:
    for pkg in PACKAGES:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True
        )
        if done.stdout.strip() != "install ok installed":
            return False
    return True


def gate(**env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CI", "CONTAINERS", "SPIKEBENCH_SKIP_CONTAINERS")
    }
    return subprocess.run(
        ["bash", str(GATE)], env={**base, **env}, capture_output=True, text=True, timeout=30
    )


pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("dpkg-query") or not Path("/etc/debian_version").exists(),
    reason="the gate's decisions are about root on Debian (other systems: always skipped)",
)


def test_without_ci_or_consent_nothing_is_installed() -> None:
    done = gate()
    if installed():
        assert done.returncode == 0, done.stderr  # already usable: run it, install nothing
    else:
        assert done.returncode == 1
        assert "make test CONTAINERS=1" in done.stderr  # and says how to enable it
        assert "/var/cache/spikebench-podman" in done.stderr  # where its images are kept


@pytest.mark.parametrize("env", [{"CI": "true"}, {"CONTAINERS": "1"}], ids=["ci", "asked"])
def test_ci_or_consent_runs_it(env: dict[str, str]) -> None:
    assert gate(**env).returncode == 0


@pytest.mark.parametrize("env", [{"CI": "false"}, {"CONTAINERS": "0"}], ids=["ci-false", "no"])
def test_a_false_ci_or_no_is_not_consent(env: dict[str, str]) -> None:
    assert gate(**env).returncode == (0 if installed() else 1)


def test_skip_wins_even_in_ci() -> None:
    done = gate(CI="true", SPIKEBENCH_SKIP_CONTAINERS="1")
    assert done.returncode == 1 and "SPIKEBENCH_SKIP_CONTAINERS=1" in done.stderr
