"""Settings read once from the environment (the harness gives every spike the same ones)."""

import os
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url


def _int_env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    database_url: URL
    db_pool_size: int
    jwt_secret: str
    jwt_ttl_seconds: int
    argon2_time_cost: int
    argon2_memory_kib: int
    argon2_parallelism: int


def load_settings() -> Settings:
    """Build settings; defaults equal spikes/parity.toml, DATABASE_URL is required."""
    # The harness hands out a plain postgresql:// URL; SQLAlchemy needs the driver in the scheme.
    url = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql+asyncpg")
    return Settings(
        database_url=url,
        db_pool_size=_int_env("SPIKE_DB_POOL_SIZE", 4),
        jwt_secret=os.environ.get("SPIKE_JWT_SECRET", "spikebench-development-secret-change-me"),
        jwt_ttl_seconds=_int_env("SPIKE_JWT_TTL_SECONDS", 3600),
        argon2_time_cost=_int_env("SPIKE_ARGON2_TIME_COST", 2),
        argon2_memory_kib=_int_env("SPIKE_ARGON2_MEMORY_KIB", 19456),
        argon2_parallelism=_int_env("SPIKE_ARGON2_PARALLELISM", 1),
    )


settings = load_settings()
