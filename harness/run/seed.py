"""Bridge to the contract's seed (spikes/contract/seed.py), which stays with the contract."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from types import ModuleType

from harness.manifest import Parity
from harness.paths import CONTRACT_DIR


@cache
def load_seed_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("spikebench_seed", CONTRACT_DIR / "seed.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def seed_password_hash(parity: Parity) -> str:
    """One argon2 hash for every seeded user, computed with the run's own parameters."""
    seed = load_seed_module()
    return str(
        seed.hash_password(
            seed.SEED_PASSWORD,
            parity.argon2_time_cost,
            parity.argon2_memory_kib,
            parity.argon2_parallelism,
        )
    )
