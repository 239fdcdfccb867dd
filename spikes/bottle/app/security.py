"""Password hashing (argon2id) and bearer-token authentication (PyJWT HS256)."""

import re
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from bottle import request
from sqlalchemy.orm import Session

from .config import Settings, settings
from .errors import NotAuthenticated
from .models import User
from .schemas import MAX_BIGINT

# RFC 7235: the scheme in any case, one or more spaces, one token (contract: no tabs).
_BEARER = re.compile(r" *bearer +([^ \t]+) *", re.IGNORECASE)


class Security:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        # Verified against when the username is unknown, so both failures cost the same time.
        self.dummy_hash = self.hasher.hash("not-a-real-password")

    def hash_password(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify_password(self, password_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash or self.dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def create_access_token(self, user: User) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": str(user.id),
            "iat": now,
            "exp": now + timedelta(seconds=self.settings.jwt_ttl_seconds),
        }
        return jwt.encode(claims, self.settings.jwt_secret, algorithm="HS256")

    def authenticate(self, db: Session) -> User:
        """Verify the request's bearer token and load its user; any failure is the same 401.
        Routes call it first, so a 401 wins over body and existence errors."""
        match = _BEARER.fullmatch(request.get_header("Authorization", ""))
        if match is None:
            raise NotAuthenticated("missing bearer token")
        try:
            claims = jwt.decode(
                match.group(1),
                self.settings.jwt_secret,
                algorithms=["HS256"],
                options={"require": ["sub", "iat", "exp"]},
            )
            user_id = int(claims["sub"])
        except (jwt.InvalidTokenError, ValueError):
            raise NotAuthenticated("invalid or expired token") from None
        user = db.get(User, user_id) if 0 < user_id <= MAX_BIGINT else None
        if user is None:
            raise NotAuthenticated("user no longer exists")
        return user


security = Security(settings)
