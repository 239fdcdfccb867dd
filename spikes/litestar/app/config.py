"""Settings, read once from the environment (defaults mirror spikes/parity.toml)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy.engine import make_url


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _async_database_url(url: str) -> str:
    """Point a plain postgresql:// URL at the asyncpg driver SQLAlchemy needs."""
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    db_pool_size: int
    jwt_secret: str
    jwt_ttl_seconds: int
    argon2_time_cost: int
    argon2_memory_kib: int
    argon2_parallelism: int
    upstream_url: str
    upstream_timeout_ms: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=_async_database_url(os.environ["DATABASE_URL"]),
            db_pool_size=_int("SPIKE_DB_POOL_SIZE", 4),
            jwt_secret=os.environ.get(
                "SPIKE_JWT_SECRET", "spikebench-development-secret-change-me"
            ),
            jwt_ttl_seconds=_int("SPIKE_JWT_TTL_SECONDS", 3600),
            argon2_time_cost=_int("SPIKE_ARGON2_TIME_COST", 2),
            argon2_memory_kib=_int("SPIKE_ARGON2_MEMORY_KIB", 19456),
            argon2_parallelism=_int("SPIKE_ARGON2_PARALLELISM", 1),
            upstream_url=os.environ.get("SPIKE_UPSTREAM_URL", "http://127.0.0.1:9").rstrip("/"),
            upstream_timeout_ms=_int("SPIKE_UPSTREAM_TIMEOUT_MS", 1000),
        )


settings = Settings.from_env()
