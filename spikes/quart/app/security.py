"""Password hashing (argon2id) and bearer-token authentication (PyJWT HS256)."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import ParamSpec, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from quart import Quart, current_app, g, request
from quart.utils import run_sync

from .db import db_session
from .errors import NotAuthenticated
from .models import User
from .schemas import MAX_BIGINT

P = ParamSpec("P")
R = TypeVar("R")


def init_security(app: Quart) -> None:
    hasher = PasswordHasher(
        time_cost=app.config["ARGON2_TIME_COST"],
        memory_cost=app.config["ARGON2_MEMORY_KIB"],
        parallelism=app.config["ARGON2_PARALLELISM"],
    )
    app.extensions["argon2"] = hasher
    # Verified against when the username is unknown, so both failures cost the same time.
    app.extensions["argon2_dummy_hash"] = hasher.hash("not-a-real-password")


async def hash_password(password: str) -> str:
    """Argon2 is CPU-bound for tens of ms: keep it off the event loop."""
    return await run_sync(current_app.extensions["argon2"].hash)(password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    hasher: PasswordHasher = current_app.extensions["argon2"]
    stored = password_hash or current_app.extensions["argon2_dummy_hash"]

    def verify() -> bool:
        try:
            return hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await run_sync(verify)()


def create_access_token(user: User) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "iat": now,
        "exp": now + timedelta(seconds=current_app.config["JWT_TTL_SECONDS"]),
    }
    return jwt.encode(claims, current_app.config["JWT_SECRET"], algorithm="HS256")


async def _authenticated_user() -> User:
    """Verify the bearer token and load its user; any failure is the same 401."""
    auth = request.authorization
    if auth is None or auth.type != "bearer" or not auth.token:
        raise NotAuthenticated("missing bearer token")
    try:
        claims = jwt.decode(
            auth.token,
            current_app.config["JWT_SECRET"],
            algorithms=["HS256"],
            options={"require": ["sub", "iat", "exp"]},
        )
        user_id = int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError):
        raise NotAuthenticated("invalid or expired token") from None
    user = await db_session().get(User, user_id) if 0 < user_id <= MAX_BIGINT else None
    if user is None:
        raise NotAuthenticated("user no longer exists")
    return user


def login_required(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Authenticate before the view (and its body validation) runs, so a 401 comes first."""

    @wraps(view)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        g.user = await _authenticated_user()
        return await view(*args, **kwargs)

    return wrapper


def current_user() -> User:
    """The user loaded by @login_required for this request."""
    return g.user
