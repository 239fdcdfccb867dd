"""Password hashing, JWTs, and the bearer-token check of protected handlers.

aiohttp has no authentication layer of its own (aiohttp-security is an identity/policy kit
built around cookie sessions); protected handlers call `current_user` first."""

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.config import settings
from app.db import db
from app.errors import ApiError
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


def _not_authenticated(detail: str) -> ApiError:
    return ApiError(401, "not_authenticated", detail)


async def current_user(request: web.Request) -> User:
    """Verify the bearer JWT and load its user: a token whose user was deleted is a 401 too.
    Protected handlers call this first, before they read the body (the contract's order)."""
    token = bearer_token(request.headers.get("Authorization", ""))
    if token is None:
        raise _not_authenticated("missing or malformed bearer token")
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            options={"require": ["sub", "iat", "exp"]},
        )
    except jwt.InvalidTokenError:
        raise _not_authenticated("invalid or expired token") from None
    user_id = parse_id(str(claims["sub"]))
    user = await db(request).get(User, user_id) if user_id is not None else None
    if user is None:
        raise _not_authenticated("user no longer exists")
    return user
