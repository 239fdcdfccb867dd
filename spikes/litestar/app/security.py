"""Password hashing (argon2id) and bearer-token authentication (Litestar's JWTAuth on PyJWT)."""

from __future__ import annotations

import time
from typing import Any

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.concurrency import sync_to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from app.config import settings
from app.db import alchemy_config
from app.models import MAX_BIGINT, User

_hasher = PasswordHasher(
    time_cost=settings.argon2_time_cost,
    memory_cost=settings.argon2_memory_kib,
    parallelism=settings.argon2_parallelism,
    type=Type.ID,
)


async def hash_password(password: str) -> str:
    """Hash off the event loop: argon2 is deliberately CPU- and memory-heavy."""
    return await sync_to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    try:
        return await sync_to_thread(_hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def retrieve_user(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any]
) -> User | None:
    """Load the token's user on every request, so a deleted user's token stops working.

    It uses the request's own session (the one handlers get as ``db_session``), so a request
    holds a single pooled connection.
    """
    if not (token.sub.isascii() and token.sub.isdigit() and int(token.sub) <= MAX_BIGINT):
        return None
    session = alchemy_config.provide_session(connection.app.state, connection.scope)
    return await session.get(User, int(token.sub))


class BearerMiddleware(JWTAuthenticationMiddleware):
    """Litestar takes whatever follows the first space as the token, whatever the scheme; the
    contract (RFC 7235) wants `Bearer` in any case, then one or more spaces, then the token."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        scheme, _, token = connection.headers.get(self.auth_header, "").strip(" ").partition(" ")
        token = token.lstrip(" ")
        if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
            raise NotAuthorizedException("Missing or malformed bearer token")
        return await self.authenticate_token(encoded_token=token, connection=connection)


jwt_auth = JWTAuth[User, Token](
    token_secret=settings.jwt_secret,
    algorithm="HS256",
    retrieve_user_handler=retrieve_user,
    exclude=["^/health$", "^/auth/", "^/schema"],
    authentication_middleware_class=BearerMiddleware,
)


def create_access_token(user: User) -> str:
    """An HS256 JWT with exactly sub (the user id as a string), iat and exp.

    Encoded with PyJWT directly: ``jwt_auth.create_token`` would add an empty "extras" claim.
    """
    now = int(time.time())
    claims = {"sub": str(user.id), "iat": now, "exp": now + settings.jwt_ttl_seconds}
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
