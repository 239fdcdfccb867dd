"""Password hashing (argon2id) and a bearer-token security policy (PyJWT HS256)."""

import re
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pyramid.config import Configurator
from pyramid.request import Request, RequestLocalCache
from pyramid.security import Allowed, Denied

from .models import User
from .schemas import MAX_BIGINT

# RFC 7235: the scheme in any case, one or more spaces, one token (contract: no tabs).
_BEARER = re.compile(r" *bearer +([^ \t]+) *", re.IGNORECASE)


class JWTSecurityPolicy:
    """The identity is the token's user, loaded once per request; a view with
    `permission="authenticated"` runs only for one, else Pyramid raises HTTPForbidden
    (answered as the contract's 401 by the forbidden view) before the view checks anything."""

    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self.secret, self.ttl_seconds = secret, ttl_seconds
        self.identity_cache = RequestLocalCache(self.load_identity)

    def create_token(self, user: User) -> str:
        now = datetime.now(UTC)
        claims = {"sub": str(user.id), "iat": now, "exp": now + timedelta(seconds=self.ttl_seconds)}
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def load_identity(self, request: Request) -> User | None:
        match = _BEARER.fullmatch(request.headers.get("Authorization", ""))
        if match is None:
            return None
        try:
            claims = jwt.decode(
                match.group(1),
                self.secret,
                algorithms=["HS256"],
                options={"require": ["sub", "iat", "exp"]},
            )
            user_id = int(claims["sub"])
        except (jwt.InvalidTokenError, ValueError):
            return None
        return request.dbsession.get(User, user_id) if 0 < user_id <= MAX_BIGINT else None

    def identity(self, request: Request) -> User | None:
        return self.identity_cache.get_or_create(request)

    def authenticated_userid(self, request: Request) -> int | None:
        user = self.identity(request)
        return None if user is None else user.id

    def permits(self, request: Request, context: object, permission: str) -> Allowed | Denied:
        if self.identity(request) is None:
            return Denied("not authenticated")
        return Allowed("authenticated")

    def remember(self, request: Request, userid: object, **kw: object) -> list:
        return []  # stateless: the client keeps the token

    def forget(self, request: Request, **kw: object) -> list:
        return []


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        # Verified against when the username is unknown, so both failures cost the same time.
        self.dummy_hash = self.hasher.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash or self.dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    policy = JWTSecurityPolicy(settings["jwt.secret"], settings["jwt.ttl_seconds"])
    config.set_security_policy(policy)
    config.registry["tokens"] = policy
    config.registry["passwords"] = Passwords(
        settings["argon2.time_cost"], settings["argon2.memory_kib"], settings["argon2.parallelism"]
    )
