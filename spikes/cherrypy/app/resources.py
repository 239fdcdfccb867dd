"""The contract's resources, one class per path, dispatched on the HTTP method (MethodDispatcher).

Handlers take the query string as keyword arguments; another user's item is indistinguishable
from a missing one."""

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import cherrypy
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .body import json_body, validate
from .errors import ApiError, NotFound
from .models import Item, User
from .schemas import MAX_BIGINT, Credentials, ItemIn, ItemPatch, ListQuery
from .security import Security

Json = dict[str, Any]
json_out = cherrypy.tools.json_out
AUTHENTICATED = {"tools.auth.on": True}  # the auth tool runs before the handler: 401 first


def _db() -> Session:
    return cherrypy.request.db


def _user() -> User:
    return cherrypy.request.user


def _item_id(raw_id: str) -> int | None:
    """Parsed here rather than by the dispatcher so that a bad token on /items/abc is still a
    401 (auth first), and ids outside BIGINT never reach Postgres."""
    if re.fullmatch(r"[0-9]{1,19}", raw_id) and 0 < int(raw_id) <= MAX_BIGINT:
        return int(raw_id)
    return None


def _page_params() -> dict[str, object]:
    """The query as ListQuery sees it: a repeated parameter is a list (the contract's 422).
    parse_qsl rather than the handler's keyword arguments: CherryPy also splits on ";" and
    drops a bare `limit`, which no other spike does."""
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(cherrypy.request.query_string, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in params.items()}


@cherrypy.expose
class Health:
    @json_out()
    def GET(self, **_query: str) -> Json:
        _db().execute(text("SELECT 1"))  # unreachable: error_response's 503
        return {"status": "ok"}


@cherrypy.expose
class Register:
    def __init__(self, security: Security) -> None:
        self.security = security

    @json_out()
    def POST(self, **_query: str) -> Json:
        credentials = validate(Credentials, json_body())
        password_hash = self.security.hash_password(credentials.password)
        user = User(username=credentials.username, password_hash=password_hash)
        _db().add(user)
        try:
            _db().commit()
        except IntegrityError:
            # The UNIQUE constraint is the source of truth, so concurrent registrations are safe.
            raise ApiError(409, "username_taken", "username is already taken") from None
        cherrypy.response.status = 201
        return user.to_json()


@cherrypy.expose
class Login:
    def __init__(self, security: Security) -> None:
        self.security = security

    @json_out()
    def POST(self, **_query: str) -> Json:
        credentials = validate(Credentials, json_body())
        user = _db().scalar(select(User).where(User.username == credentials.username))
        password_hash = user.password_hash if user else None
        if not self.security.verify_password(password_hash, credentials.password) or not user:
            raise ApiError(
                401,
                "invalid_credentials",
                "wrong username or password",
                {"WWW-Authenticate": "Bearer"},
            )
        return {
            "access_token": self.security.create_access_token(user),
            "token_type": "bearer",
            "expires_in": self.security.settings.jwt_ttl_seconds,
        }


@cherrypy.expose
class Me:
    _cp_config = AUTHENTICATED

    @json_out()
    def GET(self, **_query: str) -> Json:
        return _user().to_json()


@cherrypy.expose
class ItemResource:
    """/items/{id}: the id was taken off the path by Items._cp_dispatch."""

    _cp_config = AUTHENTICATED

    def _owned(self, item_id: str, for_update: bool = False) -> Item:
        """Look the id up among the caller's items; writers lock the row (FOR UPDATE) so
        concurrent writes queue up and one deleted meanwhile is a 404, not a 500."""
        item, target = None, _item_id(item_id)
        if target is not None:
            query = select(Item).where(Item.id == target, Item.owner_id == _user().id)
            item = _db().scalar(query.with_for_update() if for_update else query)
        if item is None:
            raise NotFound("item not found")
        return item

    @json_out()
    def GET(self, item_id: str, **_query: str) -> Json:
        return self._owned(item_id).to_json()

    @json_out()
    def PUT(self, item_id: str, **_query: str) -> Json:
        data = validate(ItemIn, json_body())
        item = self._owned(item_id, for_update=True)
        for field, value in data.model_dump().items():
            setattr(item, field, value)
        item.updated_at = datetime.now(UTC)
        _db().commit()
        return item.to_json()

    @json_out()
    def PATCH(self, item_id: str, **_query: str) -> Json:
        changes = validate(ItemPatch, json_body()).model_dump(exclude_unset=True)
        item = self._owned(item_id, for_update=True)
        if changes:  # an empty PATCH changes nothing, updated_at included
            for field, value in changes.items():
                setattr(item, field, value)
            item.updated_at = datetime.now(UTC)
            _db().commit()
        return item.to_json()

    def DELETE(self, item_id: str, **_query: str) -> None:
        # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row
        # (session.delete() after a SELECT would acknowledge each of them).
        target, deleted = _item_id(item_id), None
        if target is not None:
            deleted = _db().scalar(
                delete(Item)
                .where(Item.id == target, Item.owner_id == _user().id)
                .returning(Item.id)
            )
        _db().commit()
        if deleted is None:
            raise NotFound("item not found")
        cherrypy.response.status = 204


@cherrypy.expose
class Items:
    _cp_config = AUTHENTICATED

    def __init__(self) -> None:
        self._item = ItemResource()

    def _cp_dispatch(self, vpath: list[str]) -> ItemResource:
        """/items/{id}: exactly one more segment names an item resource; more name nothing
        (404; left to CherryPy, /items/1/x would be a 405 of /items)."""
        if len(vpath) != 1:
            raise NotFound()
        cherrypy.request.params["item_id"] = vpath.pop()
        return self._item

    @json_out()
    def GET(self, **_query: str | list[str]) -> Json:
        page = validate(ListQuery, _page_params())
        mine = Item.owner_id == _user().id
        total = _db().scalar(select(func.count()).select_from(Item).where(mine))
        items = _db().scalars(
            select(Item).where(mine).order_by(Item.id).limit(page.limit).offset(page.offset)
        )
        return {
            "items": [item.to_json() for item in items],
            "total": total,
            "limit": page.limit,
            "offset": page.offset,
        }

    @json_out()
    def POST(self, **_query: str) -> Json:
        data = validate(ItemIn, json_body())
        item = Item(owner_id=_user().id, **data.model_dump())
        _db().add(item)
        _db().commit()
        cherrypy.response.status = 201
        return item.to_json()


class Auth:
    def __init__(self, security: Security) -> None:
        self.register = Register(security)
        self.login = Login(security)


class Root:
    """Not exposed itself: "/" and "/auth" name nothing (404)."""

    def __init__(self, security: Security) -> None:
        self.health = Health()
        self.auth = Auth(security)
        self.me = Me()
        self.items = Items()
