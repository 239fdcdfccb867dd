"""Where things live: the repository root and the harness's cache folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# SPIKEBENCH_SPIKES_DIR points the harness and the conformance suite at another spikes folder
# (a team trying a candidate outside the repo); the contract always comes from this checkout.
SPIKES_DIR = Path(os.environ.get("SPIKEBENCH_SPIKES_DIR", REPO_ROOT / "spikes"))
CONTRACT_DIR = REPO_ROOT / "spikes" / "contract"
SCENARIOS_DIR = REPO_ROOT / "scenarios"
RESULTS_DIR = REPO_ROOT / "results"


def cache_dir() -> Path:
    """Per-checkout cache for spike venvs and throwaway clusters (SPIKEBENCH_CACHE overrides)."""
    return Path(os.environ.get("SPIKEBENCH_CACHE", REPO_ROOT / ".spikebench"))
