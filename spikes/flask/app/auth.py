"""Registration, login and the current user."""

from flask import Blueprint, current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .db import db_session
from .errors import ApiError, json_body
from .models import User
from .schemas import Credentials
from .security import (
    create_access_token,
    current_user,
    hash_password,
    login_required,
    verify_password,
)

bp = Blueprint("auth", __name__)


@bp.post("/auth/register")
def register() -> tuple[dict, int]:
    credentials = Credentials.model_validate(json_body())
    user = User(username=credentials.username, password_hash=hash_password(credentials.password))
    db_session.add(user)
    try:
        db_session.commit()
    except IntegrityError:
        # The UNIQUE constraint is the source of truth, so concurrent registrations are safe.
        db_session.rollback()
        raise ApiError(409, "username_taken", "username is already taken") from None
    return user.to_json(), 201


@bp.post("/auth/login")
def login() -> dict:
    credentials = Credentials.model_validate(json_body())
    user = db_session.scalar(select(User).where(User.username == credentials.username))
    password_hash = user.password_hash if user else None
    if not verify_password(password_hash, credentials.password) or user is None:
        raise ApiError(
            401,
            "invalid_credentials",
            "wrong username or password",
            {"WWW-Authenticate": "Bearer"},
        )
    return {
        "access_token": create_access_token(user),
        "token_type": "bearer",
        "expires_in": current_app.config["JWT_TTL_SECONDS"],
    }


@bp.get("/me")
@login_required
def me() -> dict:
    return current_user().to_json()
