"""Registration, login and the current user."""

from typing import Any

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..body import json_body, validate
from ..errors import ApiError
from ..models import User
from ..schemas import Credentials


@view_config(route_name="register", request_method="POST", renderer="json")
def register(request: Request) -> dict[str, Any]:
    credentials = validate(Credentials, json_body(request))
    user = User(
        username=credentials.username,
        password_hash=request.registry["passwords"].hash(credentials.password),
    )
    request.dbsession.add(user)
    try:
        request.dbsession.flush()  # pyramid_tm commits later; the INSERT must happen here
    except IntegrityError:
        # The UNIQUE constraint is the source of truth, so concurrent registrations are safe.
        raise ApiError(409, "username_taken", "username is already taken") from None
    request.response.status_code = 201
    return user.to_json()


@view_config(route_name="login", request_method="POST", renderer="json")
def login(request: Request) -> dict[str, Any]:
    credentials = validate(Credentials, json_body(request))
    user = request.dbsession.scalar(select(User).where(User.username == credentials.username))
    password_hash = user.password_hash if user else None
    if not request.registry["passwords"].verify(password_hash, credentials.password) or not user:
        raise ApiError(
            401, "invalid_credentials", "wrong username or password", {"WWW-Authenticate": "Bearer"}
        )
    tokens = request.registry["tokens"]
    return {
        "access_token": tokens.create_token(user),
        "token_type": "bearer",
        "expires_in": tokens.ttl_seconds,
    }


@view_config(route_name="me", request_method="GET", renderer="json", permission="authenticated")
def me(request: Request) -> dict[str, Any]:
    return request.identity.to_json()
