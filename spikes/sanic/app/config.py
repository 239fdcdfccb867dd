"""Settings: Sanic loads every SPIKE_* variable into app.config (prefix stripped, ints cast);
these defaults equal spikes/parity.toml. DATABASE_URL is the one setting without a default."""

import os

from sanic.config import Config

DEFAULTS = {
    "DB_POOL_SIZE": 4,
    "JWT_SECRET": "spikebench-development-secret-change-me",
    "JWT_TTL_SECONDS": 3600,
    "ARGON2_TIME_COST": 2,
    "ARGON2_MEMORY_KIB": 19456,
    "ARGON2_PARALLELISM": 1,
}


def apply_defaults(config: Config) -> None:
    for key, value in DEFAULTS.items():
        config.setdefault(key, value)
    # The contract names it DATABASE_URL, without the SPIKE_ prefix.
    config.DATABASE_URL = os.environ["DATABASE_URL"]
