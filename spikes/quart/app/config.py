"""Settings read from the environment only (names and defaults match spikes/parity.toml)."""

import os
from typing import Any


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def load_config() -> dict[str, Any]:
    """Return Flask config keys; DATABASE_URL is the one setting without a default."""
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        raise RuntimeError("DATABASE_URL is required")
    return {
        "DATABASE_URL": database_url,
        "DB_POOL_SIZE": _int("SPIKE_DB_POOL_SIZE", 4),
        "JWT_SECRET": os.environ.get("SPIKE_JWT_SECRET", "spikebench-development-secret-change-me"),
        "JWT_TTL_SECONDS": _int("SPIKE_JWT_TTL_SECONDS", 3600),
        "ARGON2_TIME_COST": _int("SPIKE_ARGON2_TIME_COST", 2),
        "ARGON2_MEMORY_KIB": _int("SPIKE_ARGON2_MEMORY_KIB", 19456),
        "ARGON2_PARALLELISM": _int("SPIKE_ARGON2_PARALLELISM", 1),
    }
