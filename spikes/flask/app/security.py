"""Password hashing (argon2id) and bearer-token authentication (PyJWT HS256)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import ParamSpec, TypeVar

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, g, request

from .db import db_session
from .errors import NotAuthenticated
from .models import User
from .schemas import MAX_BIGINT

P = ParamSpec("P")
R = TypeVar("R")


def init_security(app: Flask) -> None:
    hasher = PasswordHasher(
        time_cost=app.config["ARGON2_TIME_COST"],
        memory_cost=app.config["ARGON2_MEMORY_KIB"],
        parallelism=app.config["ARGON2_PARALLELISM"],
    )
    app.extensions["argon2"] = hasher
    # Verified against when the username is unknown, so both failures cost the same time.
    app.extensions["argon2_dummy_hash"] = hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return current_app.extensions["argon2"].hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    hasher: PasswordHasher = current_app.extensions["argon2"]
    try:
        return hasher.verify(password_hash or current_app.extensions["argon2_dummy_hash"], password)
    except (VerificationError, InvalidHashError):
        return False


def create_access_token(user: User) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "iat": now,
        "exp": now + timedelta(seconds=current_app.config["JWT_TTL_SECONDS"]),
    }
    return jwt.encode(claims, current_app.config["JWT_SECRET"], algorithm="HS256")


def _authenticated_user() -> User:
    """Verify the bearer token and load its user; any failure is the same 401."""
    auth = request.authorization
    if auth is None or auth.type != "bearer" or not auth.token:
        raise NotAuthenticated("missing bearer token")
    return user_for_token(auth.token)


def user_for_token(token: str) -> User:
    """The user of a valid token (also the WebSocket's, which comes in the query string)."""
    try:
        claims = jwt.decode(
            token,
            current_app.config["JWT_SECRET"],
            algorithms=["HS256"],
            options={"require": ["sub", "iat", "exp"]},
        )
        user_id = int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError):
        raise NotAuthenticated("invalid or expired token") from None
    user = db_session.get(User, user_id) if 0 < user_id <= MAX_BIGINT else None
    if user is None:
        raise NotAuthenticated("user no longer exists")
    return user


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """Authenticate before the view runs, so a 401 wins over body and existence errors."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        g.user = _authenticated_user()
        return view(*args, **kwargs)

    return wrapper


def current_user() -> User:
    """The user loaded by @login_required for this request."""
    return g.user
