"""Spike venvs: one build per requirements, even when several runs want it at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness.run.spikeenv import MARKER

FIXTURES = Path(__file__).parent / "fixtures" / "spikes"
BUILD = (
    "import sys; from pathlib import Path; from harness.manifest import load_manifest; "
    "from harness.run.spikeenv import ensure_env; "
    "print(ensure_env(load_manifest(Path(sys.argv[1]))).path)"
)


def test_several_runs_building_the_same_venv_at_once_all_get_it(tmp_path: Path) -> None:
    """Two CI workers once built stub_ok's venv at the same moment: one removed the other's
    files and its ensurepip failed. Three builders at once must all come back with the venv."""
    env = {**os.environ, "SPIKEBENCH_CACHE": str(tmp_path)}
    builders = [
        subprocess.Popen([sys.executable, "-c", BUILD, str(FIXTURES / "stub_ok")], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]  # fmt: skip
    results = [(p.wait(timeout=600), *p.communicate()) for p in builders]
    assert all(code == 0 for code, _, _ in results), results
    paths = {out.strip() for _, out, _ in results}
    assert len(paths) == 1
    venv = Path(paths.pop())
    assert (venv / MARKER).exists() and (venv / "bin" / "python").exists()
