"""Password hashing (argon2id), JWTs (PyJWT HS256) and the `protected` decorator."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Concatenate, ParamSpec

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from .db import db_session
from .errors import NotAuthenticated
from .models import User
from .schemas import MAX_BIGINT

P = ParamSpec("P")
Handler = Callable[Concatenate[Request, P], Awaitable[HTTPResponse]]


def init_security(app: Sanic) -> None:
    hasher = PasswordHasher(
        time_cost=app.config.ARGON2_TIME_COST,
        memory_cost=app.config.ARGON2_MEMORY_KIB,
        parallelism=app.config.ARGON2_PARALLELISM,
    )
    app.ctx.hasher = hasher
    # Verified against when the username is unknown, so both failures cost the same time.
    app.ctx.dummy_hash = hasher.hash("not-a-real-password")


async def hash_password(request: Request, password: str) -> str:
    """Argon2 is CPU-bound for tens of ms: keep it off the event loop."""
    return await asyncio.to_thread(request.app.ctx.hasher.hash, password)


async def verify_password(request: Request, password_hash: str | None, password: str) -> bool:
    hasher: PasswordHasher = request.app.ctx.hasher
    stored = password_hash or request.app.ctx.dummy_hash

    def verify() -> bool:
        try:
            return hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def create_access_token(request: Request, user: User) -> str:
    config = request.app.config
    now = datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "iat": now,
        "exp": now + timedelta(seconds=config.JWT_TTL_SECONDS),
    }
    return jwt.encode(claims, config.JWT_SECRET, algorithm="HS256")


def bearer_token(request: Request) -> str | None:
    """`Bearer` in any case, then one or more spaces (RFC 7235 1*SP; a tab is not one), then a
    token without inner whitespace. Sanic's request.token also takes `Token`, so not used."""
    header = request.headers.get("authorization", "").strip(" ")
    scheme, _, token = header.partition(" ")
    token = token.lstrip(" ")
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return None
    return token


async def authenticated_user(request: Request) -> User:
    """Verify the bearer token and load its user; any failure is the same 401."""
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("missing bearer token")
    try:
        claims = jwt.decode(
            token,
            request.app.config.JWT_SECRET,
            algorithms=["HS256"],
            options={"require": ["sub", "iat", "exp"]},
        )
        user_id = int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError):
        raise NotAuthenticated("invalid or expired token") from None
    user = await db_session(request).get(User, user_id) if 0 < user_id <= MAX_BIGINT else None
    if user is None:
        raise NotAuthenticated("user no longer exists")
    return user


def protected(handler: Handler[P]) -> Handler[P]:
    """Authenticate before the handler (and its body checks) runs, so a 401 comes first; the
    user is request.ctx.user."""

    @wraps(handler)
    async def wrapper(request: Request, *args: P.args, **kwargs: P.kwargs) -> HTTPResponse:
        request.ctx.user = await authenticated_user(request)
        return await handler(request, *args, **kwargs)

    return wrapper
