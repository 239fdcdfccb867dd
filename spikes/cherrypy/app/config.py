"""Settings read from the environment only (names and defaults match spikes/parity.toml)."""

import os
from dataclasses import dataclass


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    database_url: str
    db_pool_size: int
    jwt_secret: str
    jwt_ttl_seconds: int
    argon2_time_cost: int
    argon2_memory_kib: int
    argon2_parallelism: int

    @classmethod
    def from_env(cls) -> "Settings":
        """DATABASE_URL is the one setting without a default."""
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            raise RuntimeError("DATABASE_URL is required")
        return cls(
            database_url=database_url,
            db_pool_size=_int("SPIKE_DB_POOL_SIZE", 4),
            jwt_secret=os.environ.get(
                "SPIKE_JWT_SECRET", "spikebench-development-secret-change-me"
            ),
            jwt_ttl_seconds=_int("SPIKE_JWT_TTL_SECONDS", 3600),
            argon2_time_cost=_int("SPIKE_ARGON2_TIME_COST", 2),
            argon2_memory_kib=_int("SPIKE_ARGON2_MEMORY_KIB", 19456),
            argon2_parallelism=_int("SPIKE_ARGON2_PARALLELISM", 1),
        )
