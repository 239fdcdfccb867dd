"""The contract's routes. Another user's item is indistinguishable from a missing one."""

import re
from datetime import UTC, datetime
from typing import Any

from bottle import Bottle, request, response
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .config import settings
from .db import SQLAlchemyPlugin, make_engine
from .errors import ApiError, NotFound, json_body, json_error_page, validate
from .models import Item, User
from .schemas import MAX_BIGINT, Credentials, ItemIn, ItemPatch, ListQuery
from .security import security

app = Bottle()
app.default_error_handler = json_error_page  # every error page, Bottle's own too, is JSON
app.install(SQLAlchemyPlugin(make_engine(settings)))  # injects `db` where a route asks for it


def _item_id(raw_id: str) -> int | None:
    """The id is parsed here rather than by an <id:int> route filter so that a bad token on
    /items/abc is still a 401 (auth first), and ids outside BIGINT never reach Postgres."""
    if re.fullmatch(r"[0-9]{1,19}", raw_id) and 0 < int(raw_id) <= MAX_BIGINT:
        return int(raw_id)
    return None


def _owned_item(db: Session, user: User, raw_id: str, for_update: bool = False) -> Item:
    """Look the id up among the caller's items; writers lock the row (FOR UPDATE) so
    concurrent writes queue up and one deleted meanwhile is a 404, not a 500."""
    item, item_id = None, _item_id(raw_id)
    if item_id is not None:
        query = select(Item).where(Item.id == item_id, Item.owner_id == user.id)
        item = db.scalar(query.with_for_update() if for_update else query)
    if item is None:
        raise NotFound("item not found")
    return item


def _single(name: str) -> object:
    values = request.query.getall(name)
    return values[0] if len(values) == 1 else values  # a repeated parameter is a 422


@app.get("/health")
def health(db: Session) -> dict[str, Any]:
    db.execute(text("SELECT 1"))  # unreachable: the plugin's 503
    return {"status": "ok"}


@app.post("/auth/register")
def register(db: Session) -> dict[str, Any]:
    credentials = validate(Credentials, json_body())
    user = User(
        username=credentials.username,
        password_hash=security.hash_password(credentials.password),
    )
    db.add(user)
    try:
        db.commit()
    except IntegrityError:
        # The UNIQUE constraint is the source of truth, so concurrent registrations are safe.
        raise ApiError(409, "username_taken", "username is already taken") from None
    response.status = 201
    return user.to_json()


@app.post("/auth/login")
def login(db: Session) -> dict[str, Any]:
    credentials = validate(Credentials, json_body())
    user = db.scalar(select(User).where(User.username == credentials.username))
    password_hash = user.password_hash if user else None
    if not security.verify_password(password_hash, credentials.password) or user is None:
        raise ApiError(
            401,
            "invalid_credentials",
            "wrong username or password",
            {"WWW-Authenticate": "Bearer"},
        )
    return {
        "access_token": security.create_access_token(user),
        "token_type": "bearer",
        "expires_in": security.settings.jwt_ttl_seconds,
    }


@app.get("/me")
def me(db: Session) -> dict[str, Any]:
    return security.authenticate(db).to_json()


@app.get("/items")
def list_items(db: Session) -> dict[str, Any]:
    user = security.authenticate(db)
    query = validate(ListQuery, {name: _single(name) for name in request.query})
    mine = Item.owner_id == user.id
    total = db.scalar(select(func.count()).select_from(Item).where(mine))
    items = db.scalars(
        select(Item).where(mine).order_by(Item.id).limit(query.limit).offset(query.offset)
    )
    return {
        "items": [item.to_json() for item in items],
        "total": total,
        "limit": query.limit,
        "offset": query.offset,
    }


@app.post("/items")
def create_item(db: Session) -> dict[str, Any]:
    user = security.authenticate(db)
    data = validate(ItemIn, json_body())
    item = Item(owner_id=user.id, **data.model_dump())
    db.add(item)
    db.commit()
    response.status = 201
    return item.to_json()


@app.get("/items/<item_id>")
def get_item(item_id: str, db: Session) -> dict[str, Any]:
    return _owned_item(db, security.authenticate(db), item_id).to_json()


@app.put("/items/<item_id>")
def replace_item(item_id: str, db: Session) -> dict[str, Any]:
    user = security.authenticate(db)
    data = validate(ItemIn, json_body())
    item = _owned_item(db, user, item_id, for_update=True)
    for field, value in data.model_dump().items():
        setattr(item, field, value)
    item.updated_at = datetime.now(UTC)
    db.commit()
    return item.to_json()


@app.patch("/items/<item_id>")
def update_item(item_id: str, db: Session) -> dict[str, Any]:
    user = security.authenticate(db)
    changes = validate(ItemPatch, json_body()).model_dump(exclude_unset=True)
    item = _owned_item(db, user, item_id, for_update=True)
    if changes:  # an empty PATCH changes nothing, updated_at included
        for field, value in changes.items():
            setattr(item, field, value)
        item.updated_at = datetime.now(UTC)
        db.commit()
    return item.to_json()


@app.delete("/items/<item_id>")
def delete_item(item_id: str, db: Session) -> str:
    # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row
    # (db.delete() after a SELECT would acknowledge each of them).
    user = security.authenticate(db)
    target, deleted = _item_id(item_id), None
    if target is not None:
        deleted = db.scalar(
            delete(Item).where(Item.id == target, Item.owner_id == user.id).returning(Item.id)
        )
    db.commit()
    if deleted is None:
        raise NotFound("item not found")
    response.status = 204
    return ""
