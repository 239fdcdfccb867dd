"""HTTP handlers: health, auth, the current user, and the caller's items."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import Provide
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import Parameter
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE
from msgspec import UNSET
from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import live
from app.body import json_body
from app.config import settings
from app.errors import InvalidCredentialsException, UsernameTakenException
from app.models import MAX_BIGINT, Item, User
from app.schemas import Credentials, ItemIn, ItemOut, ItemPage, ItemPatch, TokenOut, UserOut
from app.security import create_access_token, hash_password, verify_password


@get("/health")
async def health(db_session: AsyncSession) -> dict[str, str]:
    try:
        await db_session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means "unavailable"
        raise HTTPException(
            status_code=HTTP_503_SERVICE_UNAVAILABLE, detail="Database unavailable"
        ) from exc
    return {"status": "ok"}


class AuthController(Controller):
    path = "/auth"

    @post("/register", dependencies={"payload": json_body(Credentials)})
    async def register(self, payload: Credentials, db_session: AsyncSession) -> UserOut:
        user = User(username=payload.username, password_hash=await hash_password(payload.password))
        db_session.add(user)
        try:
            await db_session.commit()
        except IntegrityError as exc:  # the UNIQUE constraint decides, so races are 409s too
            await db_session.rollback()
            raise UsernameTakenException(detail="Username is already taken") from exc
        return UserOut.of(user)

    @post("/login", status_code=200, dependencies={"payload": json_body(Credentials)})
    async def login(self, payload: Credentials, db_session: AsyncSession) -> TokenOut:
        user = await db_session.scalar(select(User).where(User.username == payload.username))
        if user is None or not await verify_password(user.password_hash, payload.password):
            raise InvalidCredentialsException(detail="Invalid username or password")
        return TokenOut(access_token=create_access_token(user), expires_in=settings.jwt_ttl_seconds)


def provide_user(request: Request[User, Any, Any]) -> User:
    """The user JWTAuth loaded for this request (the middleware already rejected the rest)."""
    return request.user


@get("/me", dependencies={"user": Provide(provide_user, sync_to_thread=False)})
async def me(user: User) -> UserOut:
    return UserOut.of(user)


def to_price(value: float) -> Decimal:
    """The validated price as NUMERIC: repr gives its (at most 2-decimal) digits exactly."""
    return Decimal(repr(value))


def parse_item_id(raw: str) -> int:
    """A positive 64-bit integer, or 404: any other id names no item.

    The path parameter is a ``str`` (not ``{item_id:int}``) so this check runs after
    authentication, as the contract orders it, and huge values never reach PostgreSQL's BIGINT.
    """
    if raw.isascii() and raw.isdigit() and 0 < int(raw) <= MAX_BIGINT:
        return int(raw)
    raise NotFoundException(detail="Item not found")


def _page_number(raw: str, low: int, high: int) -> int:
    value = int(raw) if len(raw.lstrip("0")) <= 20 else high + 1
    if not low <= value <= high:
        raise ValidationException(f"must be between {low} and {high}")
    return value


class ItemController(Controller):
    path = "/items"
    dependencies = {"user": Provide(provide_user, sync_to_thread=False)}

    @staticmethod
    async def _owned_item(
        db_session: AsyncSession, user: User, raw_id: str, for_update: bool = False
    ) -> Item:
        """The caller's item; someone else's is a 404 too, so existence is not leaked. Writers
        lock the row (FOR UPDATE): concurrent writes queue up, and an item deleted meanwhile
        is a 404, not a 500."""
        query = select(Item).where(Item.id == parse_item_id(raw_id), Item.owner_id == user.id)
        item = await db_session.scalar(query.with_for_update() if for_update else query)
        if item is None:
            raise NotFoundException(detail="Item not found")
        return item

    @get("")
    async def list_items(
        self,
        request: Request[Any, Any, Any],
        user: User,
        db_session: AsyncSession,
        # Strings, checked below: Litestar's int parsing refuses "005", which the contract allows.
        limit: Annotated[str, Parameter(pattern=r"^[0-9]+$")] = "20",
        offset: Annotated[str, Parameter(pattern=r"^[0-9]+$")] = "0",
    ) -> ItemPage:
        # A repeated limit/offset is a 422 (contract), not whichever one Litestar picks.
        if any(len(request.query_params.getall(name, [])) > 1 for name in ("limit", "offset")):
            raise ValidationException("limit and offset may appear once")
        limit_n, offset_n = _page_number(limit, 1, 100), _page_number(offset, 0, MAX_BIGINT)
        owned = Item.owner_id == user.id
        total = await db_session.scalar(select(func.count()).select_from(Item).where(owned))
        items = await db_session.scalars(
            select(Item).where(owned).order_by(Item.id).limit(limit_n).offset(offset_n)
        )
        return ItemPage(
            items=[ItemOut.of(item) for item in items],
            total=total or 0,
            limit=limit_n,
            offset=offset_n,
        )

    @post("", dependencies={"payload": json_body(ItemIn)})
    async def create_item(self, payload: ItemIn, user: User, db_session: AsyncSession) -> ItemOut:
        item = Item(
            owner_id=user.id,
            name=payload.name,
            description=payload.description,
            price=to_price(payload.price),
        )
        db_session.add(item)
        await live.publish(db_session, "item.created", item)
        await db_session.commit()
        return ItemOut.of(item)

    @get("/{item_id:str}")
    async def get_item(self, item_id: str, user: User, db_session: AsyncSession) -> ItemOut:
        return ItemOut.of(await self._owned_item(db_session, user, item_id))

    @put("/{item_id:str}", dependencies={"payload": json_body(ItemIn)})
    async def replace_item(
        self, item_id: str, payload: ItemIn, user: User, db_session: AsyncSession
    ) -> ItemOut:
        item = await self._owned_item(db_session, user, item_id, for_update=True)
        item.name = payload.name
        item.description = payload.description
        item.price = to_price(payload.price)
        item.updated_at = func.now()  # type: ignore[assignment]  # fetched back via RETURNING
        await live.publish(db_session, "item.updated", item)
        await db_session.commit()
        return ItemOut.of(item)

    @patch("/{item_id:str}", dependencies={"payload": json_body(ItemPatch)})
    async def update_item(
        self, item_id: str, payload: ItemPatch, user: User, db_session: AsyncSession
    ) -> ItemOut:
        item = await self._owned_item(db_session, user, item_id, for_update=True)
        changes = {
            f: v for f in payload.__struct_fields__ if (v := getattr(payload, f)) is not UNSET
        }
        if changes:  # an empty PATCH changes nothing, updated_at included
            if "price" in changes:
                changes["price"] = to_price(changes["price"])
            for field, value in changes.items():
                setattr(item, field, value)
            item.updated_at = func.now()  # type: ignore[assignment]
        await live.publish(db_session, "item.updated", item)  # an empty PATCH is announced too
        await db_session.commit()
        return ItemOut.of(item)

    @delete("/{item_id:str}")
    async def delete_item(self, item_id: str, user: User, db_session: AsyncSession) -> None:
        # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row
        # (session.delete() after a SELECT would acknowledge each of them).
        deleted = await db_session.scalar(
            sql_delete(Item)
            .where(Item.id == parse_item_id(item_id), Item.owner_id == user.id)
            .returning(Item.id)
        )
        if deleted is not None:
            await live.publish_deleted(db_session, user.id, deleted)
        await db_session.commit()
        if deleted is None:
            raise NotFoundException(detail="Item not found")
