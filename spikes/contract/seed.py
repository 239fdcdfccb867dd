"""Deterministic seed data for the contract schema, loaded with COPY.

Kept beside schema.sql because it is part of the contract: every spike is measured against the same
rows. The harness imports this file; it can also run alone:
``python spikes/contract/seed.py postgresql://... --users 1000 --items-per-user 100``.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

SEED_PASSWORD = "spikebench-password"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
]  # fmt: skip


@dataclass(frozen=True)
class SeedSpec:
    users: int = 1000
    items_per_user: int = 100
    seed: int = 42


def username(index: int) -> str:
    """user0001 … user1000: the load scenarios derive logins from this."""
    return f"user{index:04d}"


def user_rows(spec: SeedSpec, password_hash: str) -> Iterator[tuple[object, ...]]:
    for uid in range(1, spec.users + 1):
        yield (uid, username(uid), password_hash, EPOCH + timedelta(seconds=uid))


def item_rows(spec: SeedSpec) -> Iterator[tuple[object, ...]]:
    rng = random.Random(spec.seed)
    item_id = 0
    for uid in range(1, spec.users + 1):
        for _ in range(spec.items_per_user):
            item_id += 1
            name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {item_id}"
            description = None if rng.random() < 0.2 else " ".join(rng.choices(WORDS, k=12))
            price = Decimal(rng.randrange(0, 10_000_000)) / 100
            stamp = EPOCH + timedelta(seconds=spec.users + item_id)
            yield (item_id, uid, name, description, price, stamp, stamp)


def hash_password(password: str, time_cost: int, memory_kib: int, parallelism: int) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
    ).hash(password)


def load(conn: object, spec: SeedSpec, password_hash: str) -> None:
    """COPY the rows in through an open psycopg 3 connection, then move the id sequences on."""
    with conn.cursor() as cur:  # type: ignore[attr-defined]
        with cur.copy("COPY users (id, username, password_hash, created_at) FROM STDIN") as copy:
            for row in user_rows(spec, password_hash):
                copy.write_row(row)
        with cur.copy(
            "COPY items (id, owner_id, name, description, price, created_at, updated_at) FROM STDIN"
        ) as copy:
            for row in item_rows(spec):
                copy.write_row(row)
        for table in ("users", "items"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" GREATEST((SELECT max(id) FROM {table}), 1))"
            )
    conn.commit()  # type: ignore[attr-defined]


def main() -> None:
    import psycopg

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database_url")
    parser.add_argument("--users", type=int, default=SeedSpec.users)
    parser.add_argument("--items-per-user", type=int, default=SeedSpec.items_per_user)
    parser.add_argument("--seed", type=int, default=SeedSpec.seed)
    parser.add_argument("--argon2", default="2,19456,1", help="time_cost,memory_kib,parallelism")
    args = parser.parse_args()
    t, m, p = (int(x) for x in args.argon2.split(","))
    spec = SeedSpec(args.users, args.items_per_user, args.seed)
    with psycopg.connect(args.database_url) as conn:
        load(conn, spec, hash_password(SEED_PASSWORD, t, m, p))


if __name__ == "__main__":
    main()
