"""Password hashing, JWTs and bearer-token parsing (the handlers' `prepare` authenticates)."""

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import settings
from app.models import MAX_BIGINT, User

hasher = PasswordHasher(
    time_cost=settings.argon2_time_cost,
    memory_cost=settings.argon2_memory_kib,
    parallelism=settings.argon2_parallelism,
)
# Verified against when the username is unknown, so both login failures cost the same time.
_DUMMY_HASH = hasher.hash("spikebench-dummy-password")


async def hash_password(password: str) -> str:
    """Argon2 is CPU-bound for tens of ms: keep it off the event loop."""
    return await asyncio.to_thread(hasher.hash, password)


async def password_matches(user: User | None, password: str) -> bool:
    password_hash = user.password_hash if user is not None else _DUMMY_HASH

    def verify() -> bool:
        try:
            return hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify) and user is not None


def create_access_token(user_id: int) -> str:
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=settings.jwt_ttl_seconds)
    claims = {"sub": str(user_id), "iat": now, "exp": expires}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def parse_id(raw: str) -> int | None:
    """A positive BIGINT, or None: 'abc', '0', '-1' and 99999999999999999999 name nothing."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_BIGINT else None


def bearer_token(header: str) -> str | None:
    """RFC 7235 as the contract reads it: `Bearer` in any case, one or more spaces, a token
    without whitespace; surrounding spaces ignored. Anything else is no token."""
    scheme, _, token = header.strip(" ").partition(" ")
    token = token.lstrip(" ")
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return None
    return token


async def load_user(session: AsyncSession, authorization: str) -> User | None:
    """The user of a valid bearer JWT, or None: a bad, expired or deleted user's token."""
    token = bearer_token(authorization)
    if token is None:
        return None
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            options={"require": ["sub", "iat", "exp"]},
        )
    except jwt.InvalidTokenError:
        return None
    user_id = parse_id(str(claims["sub"]))
    return await session.get(User, user_id) if user_id is not None else None
