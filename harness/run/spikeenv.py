"""One virtual environment per spike, built once from its pinned requirements and cached.

A venv per spike mirrors a container image: the spike sees only its own dependencies, and the
harness can count them and measure their size.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from harness.errors import EnvironmentSetupError
from harness.manifest import SpikeManifest
from harness.paths import cache_dir

MARKER = ".spikebench-complete"


@dataclass(frozen=True)
class SpikeEnv:
    name: str
    path: Path

    @property
    def bin_dir(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin_dir / "python"

    def site_packages(self) -> Path:
        return next(self.path.glob("lib/python*/site-packages"))

    def packages(self) -> dict[str, str]:
        """Installed distributions (name → version), read from dist-info without running pip."""
        found: dict[str, str] = {}
        for meta in self.site_packages().glob("*.dist-info/METADATA"):
            headers = Parser().parsestr(meta.read_text(errors="replace"), headersonly=True)
            name, version = headers.get("Name"), headers.get("Version")
            if name and version and name.lower() not in ("pip", "setuptools", "wheel"):
                found[name.lower().replace("_", "-")] = version
        return dict(sorted(found.items()))

    def size_bytes(self) -> int:
        return sum(
            p.stat().st_size for p in self.path.rglob("*") if p.is_file() and not p.is_symlink()
        )


def env_key(manifest: SpikeManifest) -> str:
    digest = hashlib.sha256(manifest.requirements.read_bytes())
    digest.update(sys.version.encode())
    return f"{manifest.spike}-{digest.hexdigest()[:12]}"


def ensure_env(manifest: SpikeManifest, rebuild: bool = False) -> SpikeEnv:
    """Reuse the cached venv when the requirements are unchanged, else build it."""
    if not manifest.requirements.exists():
        raise EnvironmentSetupError(f"spike {manifest.name}: no requirements.txt")
    env = SpikeEnv(manifest.spike, cache_dir() / "venvs" / env_key(manifest))
    if (env.path / MARKER).exists() and not rebuild:
        return env
    env.path.parent.mkdir(parents=True, exist_ok=True)
    # two runs (or test workers) building the same venv at once removed each other's files and
    # ensurepip failed: one builds, the other waits and then reuses it
    with env.path.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (env.path / MARKER).exists() and not rebuild:
            return env
        _build(manifest, env)
    return env


def _build(manifest: SpikeManifest, env: SpikeEnv) -> None:
    shutil.rmtree(env.path, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(env.path)],
        [
            str(env.python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(manifest.requirements),
        ],
    ]
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(env.path, ignore_errors=True)
            raise EnvironmentSetupError(
                f"spike {manifest.name}: `{' '.join(argv[-3:])}` failed:\n{done.stderr[-2000:]}"
            )
    (env.path / MARKER).write_text(manifest.requirements.read_text())
