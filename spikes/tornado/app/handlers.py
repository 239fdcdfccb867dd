"""Request handlers. Another user's item is a 404 on every verb: existence is not leaked."""

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from app.base import ApiError, JSONHandler, authenticated
from app.config import settings
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
from app.security import create_access_token, hash_password, parse_id, password_matches


class HealthHandler(JSONHandler):
    async def get(self) -> None:
        try:
            await self.db.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to reach the database means "not ready"
            raise ApiError(503, "database_unavailable", "database is unreachable") from exc
        self.finish({"status": "ok"})


class RegisterHandler(JSONHandler):
    async def post(self) -> None:
        body = await self.read_json(Credentials)
        user = User(username=body.username, password_hash=await hash_password(body.password))
        self.db.add(user)
        try:
            await self.db.commit()
        except IntegrityError:
            # The UNIQUE constraint decides, so concurrent registrations cannot race.
            raise ApiError(409, "username_taken", "username is already taken") from None
        self.send_json(UserOut.model_validate(user), 201)


class LoginHandler(JSONHandler):
    async def post(self) -> None:
        body = await self.read_json(Credentials)
        user = await self.db.scalar(select(User).where(User.username == body.username))
        if not await password_matches(user, body.password):
            raise ApiError(401, "invalid_credentials", "wrong username or password")
        assert user is not None
        token = create_access_token(user.id)
        self.send_json(TokenOut(access_token=token, expires_in=settings.jwt_ttl_seconds))


class MeHandler(JSONHandler):
    @authenticated
    async def get(self) -> None:
        self.send_json(UserOut.model_validate(self.current_user))


class ItemsHandler(JSONHandler):
    @authenticated
    async def get(self) -> None:
        # get_query_argument would hand out the last of a repeated parameter; the contract
        # says 422 instead.
        args = self.request.query_arguments
        if any(len(args.get(name, [])) > 1 for name in ("limit", "offset")):
            raise ApiError(422, "validation_error", "query: limit and offset may appear once")
        # strip=False: tornado trims whitespace by default, and " 5" is a 422 (contract).
        page = PageQuery.model_validate(
            {n: self.get_query_argument(n, strip=False) for n in ("limit", "offset") if n in args}
        )
        owned = Item.owner_id == self.current_user.id
        total = await self.db.scalar(select(func.count()).select_from(Item).where(owned))
        items = await self.db.scalars(
            select(Item).where(owned).order_by(Item.id).limit(page.limit).offset(page.offset)
        )
        out = [ItemOut.model_validate(item) for item in items]
        self.send_json(ItemPage(items=out, total=total or 0, limit=page.limit, offset=page.offset))

    @authenticated
    async def post(self) -> None:
        body = await self.read_json(ItemIn)
        item = Item(owner_id=self.current_user.id, **body.model_dump())
        self.db.add(item)
        await self.db.commit()
        self.send_json(ItemOut.model_validate(item), 201)


class ItemHandler(JSONHandler):
    """The path argument is any segment (`[^/]+`, not `\\d+`) so that a bad id is a 404 that
    comes after authentication and validation, as the contract orders them."""

    async def owned_item(self, raw_id: str, for_update: bool = False) -> Item:
        """One of the caller's items or 404; writers lock the row (FOR UPDATE) so concurrent
        writes queue up and an item deleted meanwhile is a 404, not a 500."""
        item_id = parse_id(raw_id)
        item = None
        if item_id is not None:
            query = select(Item).where(Item.id == item_id, Item.owner_id == self.current_user.id)
            item = await self.db.scalar(query.with_for_update() if for_update else query)
        if item is None:
            raise ApiError(404, "not_found", "item not found")
        return item

    @authenticated
    async def get(self, raw_id: str) -> None:
        self.send_json(ItemOut.model_validate(await self.owned_item(raw_id)))

    @authenticated
    async def put(self, raw_id: str) -> None:
        body = await self.read_json(ItemIn)
        item = await self.owned_item(raw_id, for_update=True)
        for field, value in body.model_dump().items():
            setattr(item, field, value)
        item.updated_at = func.now()  # type: ignore[assignment]  # a PUT is a write even if unchanged
        await self.db.commit()
        self.send_json(ItemOut.model_validate(item))

    @authenticated
    async def patch(self, raw_id: str) -> None:
        body = await self.read_json(ItemPatch)
        item = await self.owned_item(raw_id, for_update=True)
        changes = body.model_dump(exclude_unset=True)
        if changes:  # an empty PATCH changes nothing, updated_at included
            for field, value in changes.items():
                setattr(item, field, value)
            item.updated_at = func.now()  # type: ignore[assignment]  # even if values are equal
            await self.db.commit()
        self.send_json(ItemOut.model_validate(item))

    @authenticated
    async def delete(self, raw_id: str) -> None:
        # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row.
        target, deleted = parse_id(raw_id), None
        if target is not None:
            deleted = await self.db.scalar(
                delete(Item)
                .where(Item.id == target, Item.owner_id == self.current_user.id)
                .returning(Item.id)
            )
        await self.db.commit()
        if deleted is None:
            raise ApiError(404, "not_found", "item not found")
        self.set_status(204)
        self.finish()
