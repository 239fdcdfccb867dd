"""Password hashing, JWTs, and Starlette's AuthenticationMiddleware backend for bearer tokens."""

from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import Response

from app.config import settings
from app.db import db
from app.errors import error_response
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
    return await run_in_threadpool(hasher.hash, password)


async def password_matches(user: User | None, password: str) -> bool:
    password_hash = user.password_hash if user is not None else _DUMMY_HASH

    def verify() -> bool:
        try:
            return hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await run_in_threadpool(verify) and user is not None


def create_access_token(user_id: int) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + timedelta(seconds=settings.jwt_ttl_seconds),
    }
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


class AuthenticatedUser(BaseUser):
    def __init__(self, user: User) -> None:
        self.row = user

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.row.username


class DatabaseUnavailable(AuthenticationError):
    """The user could not be loaded because the database is down (503, not a 401)."""


class BearerBackend(AuthenticationBackend):
    """Verifies the JWT and loads its user on every request (a deleted user's token is dead).
    A bad token leaves the request anonymous; `@requires("authenticated")` answers it with 401,
    so routes without authentication (health, login) ignore the header as the others do."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        token = bearer_token(conn.headers.get("authorization", ""))
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
        if user_id is None:
            return None
        try:
            user = await db(conn).get(User, user_id)
        except (DBAPIError, PoolTimeout, OSError) as exc:
            # The middleware runs outside Starlette's exception handlers.
            raise DatabaseUnavailable("database is unreachable") from exc
        if user is None:
            return None
        return AuthCredentials(["authenticated"]), AuthenticatedUser(user)


def on_auth_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    return error_response(503, "database_unavailable", str(exc))


def current_user(conn: HTTPConnection) -> User:
    user = conn.user
    assert isinstance(user, AuthenticatedUser)  # endpoints using this are @requires'd
    return user.row
