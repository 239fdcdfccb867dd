"""Password hashing, JWTs and the current-user dependency."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.body import JSONRoute
from app.config import settings
from app.db import SessionDep, SessionLocal
from app.errors import ApiError
from app.models import User

MAX_BIGINT = 2**63 - 1

hasher = PasswordHasher(
    time_cost=settings.argon2_time_cost,
    memory_cost=settings.argon2_memory_kib,
    parallelism=settings.argon2_parallelism,
)
# Verified against when the username is unknown, so both login failures cost the same time.
_DUMMY_HASH = hasher.hash("spikebench-dummy-password")

# auto_error=False: we raise our own 401 so the body follows the contract.
bearer = HTTPBearer(auto_error=False)


async def hash_password(password: str) -> str:
    """Argon2 is CPU-bound for tens of ms: keep it off the event loop."""
    return await run_in_threadpool(hasher.hash, password)


async def password_matches(user: User | None, password: str) -> bool:
    """Check a login; an unknown user is verified against a dummy hash so that both failures
    cost the same time and do not reveal which usernames exist."""
    password_hash = user.password_hash if user is not None else _DUMMY_HASH

    def verify() -> bool:
        try:
            return hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await run_in_threadpool(verify) and user is not None


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


def not_authenticated(detail: str) -> ApiError:
    return ApiError(401, "not_authenticated", detail, {"WWW-Authenticate": "Bearer"})


async def authenticate(
    session: AsyncSession, credentials: HTTPAuthorizationCredentials | None
) -> User:
    """Verify the bearer JWT and load its user: a token whose user was deleted is a 401 too."""
    if credentials is None:
        raise not_authenticated("missing bearer token")
    try:
        claims = jwt.decode(
            credentials.credentials,
            settings.jwt_secret,
            algorithms=["HS256"],
            options={"require": ["sub", "iat", "exp"]},
        )
    except jwt.InvalidTokenError:
        raise not_authenticated("invalid or expired token") from None
    user_id = parse_id(claims["sub"])
    user = await session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise not_authenticated("user no longer exists")
    return user


async def current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    return await authenticate(session, credentials)


CurrentUser = Annotated[User, Depends(current_user)]


class AuthFirstRoute(JSONRoute):
    """FastAPI parses the JSON body before it resolves dependencies, so a bad token plus a
    malformed body would be a 400. The contract checks authentication first: on a body that
    fails a check, authenticate before letting the 4xx through."""

    async def before_body_error(self, request: Request) -> None:
        async with SessionLocal() as session:
            await authenticate(session, await bearer(request))
