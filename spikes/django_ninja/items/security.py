"""Password hashing (argon2id) and access tokens (HS256 JWT), parameterised from settings."""

import time

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from django.conf import settings

password_hasher = PasswordHasher(
    time_cost=settings.SPIKE_ARGON2_TIME_COST,
    memory_cost=settings.SPIKE_ARGON2_MEMORY_KIB,
    parallelism=settings.SPIKE_ARGON2_PARALLELISM,
)

JWT_ALGORITHM = "HS256"
MAX_BIGINT = 2**63 - 1


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if the password matches; a malformed stored hash counts as a mismatch."""
    try:
        return password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_access_token(user_id: int) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + settings.SPIKE_JWT_TTL_SECONDS}
    return jwt.encode(claims, settings.SPIKE_JWT_SECRET, algorithm=JWT_ALGORITHM)


def user_id_from_token(token: str) -> int | None:
    """The user id a valid, unexpired token names, or None for any invalid token."""
    try:
        claims = jwt.decode(
            token,
            settings.SPIKE_JWT_SECRET,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "iat", "exp"]},
        )
    except jwt.InvalidTokenError:
        return None
    return parse_positive_bigint(claims["sub"])


def parse_positive_bigint(value: object) -> int | None:
    """An id as the database can hold it (1..2**63-1), from a plain ASCII digit string."""
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_BIGINT else None
