"""CRUD on the caller's items. Another user's item is indistinguishable from a missing one."""

import re
from datetime import UTC, datetime

from quart import Blueprint, request
from quart_schema import validate_request
from sqlalchemy import delete, func, select

from .db import db_session
from .errors import NotFound
from .models import Item
from .schemas import MAX_BIGINT, ItemIn, ItemPatch, ListQuery
from .security import current_user, login_required

bp = Blueprint("items", __name__, url_prefix="/items")


def _item_id(raw_id: str) -> int | None:
    """The id is parsed here rather than by an <int> route converter so that a bad token on
    /items/abc is still a 401 (auth first), and ids outside BIGINT never reach Postgres."""
    if re.fullmatch(r"[0-9]{1,19}", raw_id) and 0 < int(raw_id) <= MAX_BIGINT:
        return int(raw_id)
    return None


async def _owned_item(raw_id: str, for_update: bool = False) -> Item:
    """Look the id up among the caller's items; writers lock the row (FOR UPDATE) so
    concurrent writes queue up and one deleted meanwhile is a 404, not a 500."""
    item, item_id = None, _item_id(raw_id)
    if item_id is not None:
        query = select(Item).where(Item.id == item_id, Item.owner_id == current_user().id)
        item = await db_session().scalar(query.with_for_update() if for_update else query)
    if item is None:
        raise NotFound("item not found")
    return item


def _single(name: str) -> object:
    values = request.args.getlist(name)
    return values[0] if len(values) == 1 else values  # a repeated parameter is a 422


@bp.get("")
@login_required
async def list_items() -> dict:
    # Not quart-schema's @validate_querystring: it reads `limit[]` as `limit`, which the
    # contract counts as an unknown (ignored) parameter.
    query = ListQuery.model_validate({name: _single(name) for name in request.args})
    session, mine = db_session(), Item.owner_id == current_user().id
    total = await session.scalar(select(func.count()).select_from(Item).where(mine))
    items = await session.scalars(
        select(Item).where(mine).order_by(Item.id).limit(query.limit).offset(query.offset)
    )
    return {
        "items": [item.to_json() for item in items],
        "total": total,
        "limit": query.limit,
        "offset": query.offset,
    }


@bp.post("")
@login_required
@validate_request(ItemIn)
async def create_item(data: ItemIn) -> tuple[dict, int]:
    session = db_session()
    item = Item(owner_id=current_user().id, **data.model_dump())
    session.add(item)
    await session.commit()
    return item.to_json(), 201


@bp.get("/<item_id>")
@login_required
async def get_item(item_id: str) -> dict:
    return (await _owned_item(item_id)).to_json()


@bp.put("/<item_id>")
@login_required
@validate_request(ItemIn)
async def replace_item(item_id: str, data: ItemIn) -> dict:
    item = await _owned_item(item_id, for_update=True)
    for field, value in data.model_dump().items():
        setattr(item, field, value)
    item.updated_at = datetime.now(UTC)
    await db_session().commit()
    return item.to_json()


@bp.patch("/<item_id>")
@login_required
@validate_request(ItemPatch)
async def update_item(item_id: str, data: ItemPatch) -> dict:
    changes = data.model_dump(exclude_unset=True)
    item = await _owned_item(item_id, for_update=True)
    if changes:  # an empty PATCH changes nothing, updated_at included
        for field, value in changes.items():
            setattr(item, field, value)
        item.updated_at = datetime.now(UTC)
        await db_session().commit()
    return item.to_json()


@bp.delete("/<item_id>")
@login_required
async def delete_item(item_id: str) -> tuple[str, int]:
    # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row
    # (session.delete() after a SELECT would acknowledge each of them).
    target = _item_id(item_id)
    deleted = None
    if target is not None:
        deleted = await db_session().scalar(
            delete(Item)
            .where(Item.id == target, Item.owner_id == current_user().id)
            .returning(Item.id)
        )
    await db_session().commit()
    if deleted is None:
        raise NotFound("item not found")
    return "", 204
