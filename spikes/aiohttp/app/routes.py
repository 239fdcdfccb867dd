"""Handlers. Another user's item is a 404 on every verb: existence is not leaked.

Class-based views for the item paths, so a 405's Allow header lists every method of the path.
Order of checks (contract): `current_user` (401), then the body and query (413/415/400/422),
then ownership and existence (404)."""

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

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

routes = web.RouteTableDef()


def json(model: BaseModel, status: int = 200) -> web.Response:
    """pydantic serializes straight to JSON (and renders price as the contract wants)."""
    return web.json_response(text=model.model_dump_json(), status=status)


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    try:
        await db(request).execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means "not ready"
        raise ApiError(503, "database_unavailable", "database is unreachable") from exc
    return web.json_response({"status": "ok"})


@routes.post("/auth/register")
async def register(request: web.Request) -> web.Response:
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


@routes.post("/auth/login")
async def login(request: web.Request) -> web.Response:
    body = await read_json(request, Credentials)
    user = await db(request).scalar(select(User).where(User.username == body.username))
    if not await password_matches(user, body.password):
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    assert user is not None
    token = create_access_token(user.id)
    return json(TokenOut(access_token=token, expires_in=settings.jwt_ttl_seconds))


@routes.get("/me")
async def me(request: web.Request) -> web.Response:
    return json(UserOut.model_validate(await current_user(request)))


async def owned_item(
    session: AsyncSession, user: User, raw_id: str, for_update: bool = False
) -> Item:
    """One of the caller's items or 404; writers lock the row (FOR UPDATE) so concurrent writes
    queue up and an item deleted meanwhile is a 404, not a 500. The id is a plain `{id}` (not
    `{id:\\d+}`) so a bad id is a 404 that comes after authentication and validation."""
    item_id = parse_id(raw_id)
    item = None
    if item_id is not None:
        query = select(Item).where(Item.id == item_id, Item.owner_id == user.id)
        item = await session.scalar(query.with_for_update() if for_update else query)
    if item is None:
        raise ApiError(404, "not_found", "item not found")
    return item


@routes.view("/items")
class Items(web.View):
    async def get(self) -> web.Response:
        user = await current_user(self.request)
        query = self.request.query
        # aiohttp's query is a MultiDict that would hand out the first; the contract says 422.
        if any(len(query.getall(name, [])) > 1 for name in ("limit", "offset")):
            raise ApiError(422, "validation_error", "query: limit and offset may appear once")
        page = PageQuery.model_validate(dict(query))
        session, owned = db(self.request), Item.owner_id == user.id
        total = await session.scalar(select(func.count()).select_from(Item).where(owned))
        items = await session.scalars(
            select(Item).where(owned).order_by(Item.id).limit(page.limit).offset(page.offset)
        )
        out = [ItemOut.model_validate(item) for item in items]
        return json(ItemPage(items=out, total=total or 0, limit=page.limit, offset=page.offset))

    async def post(self) -> web.Response:
        user = await current_user(self.request)
        body = await read_json(self.request, ItemIn)
        session = db(self.request)
        item = Item(owner_id=user.id, **body.model_dump())
        session.add(item)
        await session.commit()
        return json(ItemOut.model_validate(item), 201)


@routes.view("/items/{id}")
class ItemDetail(web.View):
    async def get(self) -> web.Response:
        user = await current_user(self.request)
        item = await owned_item(db(self.request), user, self.request.match_info["id"])
        return json(ItemOut.model_validate(item))

    async def put(self) -> web.Response:
        user = await current_user(self.request)
        body = await read_json(self.request, ItemIn)
        session = db(self.request)
        item = await owned_item(session, user, self.request.match_info["id"], for_update=True)
        for field, value in body.model_dump().items():
            setattr(item, field, value)
        item.updated_at = func.now()  # type: ignore[assignment]  # a PUT is a write even if unchanged
        await session.commit()
        return json(ItemOut.model_validate(item))

    async def patch(self) -> web.Response:
        user = await current_user(self.request)
        body = await read_json(self.request, ItemPatch)
        session = db(self.request)
        item = await owned_item(session, user, self.request.match_info["id"], for_update=True)
        changes = body.model_dump(exclude_unset=True)
        if changes:  # an empty PATCH changes nothing, updated_at included
            for field, value in changes.items():
                setattr(item, field, value)
            item.updated_at = func.now()  # type: ignore[assignment]  # even if values are equal
            await session.commit()
        return json(ItemOut.model_validate(item))

    async def delete(self) -> web.Response:
        user = await current_user(self.request)
        # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row.
        target = parse_id(self.request.match_info["id"])
        session, deleted = db(self.request), None
        if target is not None:
            deleted = await session.scalar(
                delete(Item).where(Item.id == target, Item.owner_id == user.id).returning(Item.id)
            )
        await session.commit()
        if deleted is None:
            raise ApiError(404, "not_found", "item not found")
        return web.Response(status=204)
