"""Endpoints. Another user's item is a 404 on every verb: existence is not leaked.

One HTTPEndpoint per path, so a 405's Allow header lists every method of the path (Starlette's
router would name only the first Route of a path). Order of checks (contract): `@requires`
(401), then the body and query (413/415/400/422), then ownership and existence (404)."""

from pydantic import BaseModel
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.authentication import requires
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.body import read_json
from app.config import settings
from app.db import db
from app.errors import ApiError
from app.models import Item, User
from app.schemas import (
    Credentials,
    ItemIn,
    ItemOut,
    ItemPage,
    ItemPatch,
    PageQuery,
    TokenOut,
    UserOut,
)
from app.security import (
    create_access_token,
    current_user,
    hash_password,
    parse_id,
    password_matches,
)


def json(model: BaseModel, status_code: int = 200) -> Response:
    """pydantic serializes straight to JSON bytes (and renders price as the contract wants)."""
    return Response(model.model_dump_json(), status_code, media_type="application/json")


class Health(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        try:
            await db(request).execute(text("SELECT 1"))
        except Exception as exc:  # any failure to reach the database means "not ready"
            raise ApiError(503, "database_unavailable", "database is unreachable") from exc
        return Response('{"status":"ok"}', media_type="application/json")


class Register(HTTPEndpoint):
    async def post(self, request: Request) -> Response:
        body = await read_json(request, Credentials)
        session = db(request)
        user = User(username=body.username, password_hash=await hash_password(body.password))
        session.add(user)
        try:
            await session.commit()
        except IntegrityError:
            # The UNIQUE constraint decides, so concurrent registrations cannot race.
            raise ApiError(409, "username_taken", "username is already taken") from None
        return json(UserOut.model_validate(user), 201)


class Login(HTTPEndpoint):
    async def post(self, request: Request) -> Response:
        body = await read_json(request, Credentials)
        user = await db(request).scalar(select(User).where(User.username == body.username))
        if not await password_matches(user, body.password):
            raise ApiError(401, "invalid_credentials", "wrong username or password")
        assert user is not None
        token = create_access_token(user.id)
        return json(TokenOut(access_token=token, expires_in=settings.jwt_ttl_seconds))


class Me(HTTPEndpoint):
    @requires("authenticated", status_code=401)
    async def get(self, request: Request) -> Response:
        return json(UserOut.model_validate(current_user(request)))


async def owned_item(
    session: AsyncSession, user: User, raw_id: str, for_update: bool = False
) -> Item:
    """One of the caller's items or 404; writers lock the row (FOR UPDATE) so concurrent writes
    queue up and an item deleted meanwhile is a 404, not a 500. The id is a str path parameter
    (not `{id:int}`) so a bad id is a 404 that comes after authentication and validation."""
    item_id = parse_id(raw_id)
    item = None
    if item_id is not None:
        query = select(Item).where(Item.id == item_id, Item.owner_id == user.id)
        item = await session.scalar(query.with_for_update() if for_update else query)
    if item is None:
        raise ApiError(404, "not_found", "item not found")
    return item


class Items(HTTPEndpoint):
    @requires("authenticated", status_code=401)
    async def get(self, request: Request) -> Response:
        params = request.query_params
        # Starlette keeps the last of a repeated parameter; the contract says 422 instead.
        if any(len(params.getlist(name)) > 1 for name in ("limit", "offset")):
            raise ApiError(422, "validation_error", "query: limit and offset may appear once")
        page = PageQuery.model_validate(dict(params))
        session, owned = db(request), Item.owner_id == current_user(request).id
        total = await session.scalar(select(func.count()).select_from(Item).where(owned))
        items = await session.scalars(
            select(Item).where(owned).order_by(Item.id).limit(page.limit).offset(page.offset)
        )
        out = [ItemOut.model_validate(item) for item in items]
        return json(ItemPage(items=out, total=total or 0, limit=page.limit, offset=page.offset))

    @requires("authenticated", status_code=401)
    async def post(self, request: Request) -> Response:
        body = await read_json(request, ItemIn)
        session = db(request)
        item = Item(owner_id=current_user(request).id, **body.model_dump())
        session.add(item)
        await session.commit()
        return json(ItemOut.model_validate(item), 201)


class ItemDetail(HTTPEndpoint):
    @requires("authenticated", status_code=401)
    async def get(self, request: Request) -> Response:
        item = await owned_item(db(request), current_user(request), request.path_params["id"])
        return json(ItemOut.model_validate(item))

    @requires("authenticated", status_code=401)
    async def put(self, request: Request) -> Response:
        body = await read_json(request, ItemIn)
        session = db(request)
        item = await owned_item(session, current_user(request), request.path_params["id"], True)
        for field, value in body.model_dump().items():
            setattr(item, field, value)
        item.updated_at = func.now()  # type: ignore[assignment]  # a PUT is a write even if unchanged
        await session.commit()
        return json(ItemOut.model_validate(item))

    @requires("authenticated", status_code=401)
    async def patch(self, request: Request) -> Response:
        body = await read_json(request, ItemPatch)
        session = db(request)
        item = await owned_item(session, current_user(request), request.path_params["id"], True)
        changes = body.model_dump(exclude_unset=True)
        if changes:  # an empty PATCH changes nothing, updated_at included
            for field, value in changes.items():
                setattr(item, field, value)
            item.updated_at = func.now()  # type: ignore[assignment]  # even if values are equal
            await session.commit()
        return json(ItemOut.model_validate(item))

    @requires("authenticated", status_code=401)
    async def delete(self, request: Request) -> Response:
        # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row.
        target = parse_id(request.path_params["id"])
        session, deleted = db(request), None
        if target is not None:
            deleted = await session.scalar(
                delete(Item)
                .where(Item.id == target, Item.owner_id == current_user(request).id)
                .returning(Item.id)
            )
        await session.commit()
        if deleted is None:
            raise ApiError(404, "not_found", "item not found")
        return Response(status_code=204)


routes = [
    Route("/health", Health),
    Route("/auth/register", Register),
    Route("/auth/login", Login),
    Route("/me", Me),
    Route("/items", Items),
    Route("/items/{id}", ItemDetail),
]
