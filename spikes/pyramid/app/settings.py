"""Settings read from the environment only (names and defaults match spikes/parity.toml).

They stand in for the cookiecutter's .ini file: the contract configures every spike by env."""

import os
from typing import Any

from sqlalchemy.engine import make_url


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def from_env() -> dict[str, Any]:
    """DATABASE_URL is the one setting without a default."""
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        raise RuntimeError("DATABASE_URL is required")
    return {
        "sqlalchemy.url": make_url(database_url).set(drivername="postgresql+psycopg"),
        "sqlalchemy.pool_size": _int("SPIKE_DB_POOL_SIZE", 4),
        "sqlalchemy.max_overflow": 0,
        "tm.manager_hook": "pyramid_tm.explicit_manager",
        # pyramid_tm would otherwise authenticate every request outside the exception views.
        "tm.annotate_user": False,
        "jwt.secret": os.environ.get("SPIKE_JWT_SECRET", "spikebench-development-secret-change-me"),
        "jwt.ttl_seconds": _int("SPIKE_JWT_TTL_SECONDS", 3600),
        "argon2.time_cost": _int("SPIKE_ARGON2_TIME_COST", 2),
        "argon2.memory_kib": _int("SPIKE_ARGON2_MEMORY_KIB", 19456),
        "argon2.parallelism": _int("SPIKE_ARGON2_PARALLELISM", 1),
    }
