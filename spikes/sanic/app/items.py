"""CRUD on the caller's items. Another user's item is indistinguishable from a missing one."""

import re
from datetime import UTC, datetime

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json
from sqlalchemy import delete, func, select

from .body import json_body
from .db import db_session
from .errors import NotFound
from .models import Item
from .schemas import MAX_BIGINT, ItemIn, ItemPatch, ListQuery
from .security import protected

bp = Blueprint("items", url_prefix="/items")


def _item_id(raw_id: str) -> int | None:
    """The id is parsed here rather than by an <item_id:int> route so that a bad token on
    /items/abc is still a 401 (auth first), and ids outside BIGINT never reach Postgres."""
    if re.fullmatch(r"[0-9]{1,19}", raw_id) and 0 < int(raw_id) <= MAX_BIGINT:
        return int(raw_id)
    return None


async def _owned_item(request: Request, raw_id: str, for_update: bool = False) -> Item:
    """Look the id up among the caller's items; writers lock the row (FOR UPDATE) so
    concurrent writes queue up and one deleted meanwhile is a 404, not a 500."""
    item, item_id = None, _item_id(raw_id)
    if item_id is not None:
        query = select(Item).where(Item.id == item_id, Item.owner_id == request.ctx.user.id)
        item = await db_session(request).scalar(query.with_for_update() if for_update else query)
    if item is None:
        raise NotFound("item not found")
    return item


def _page_query(request: Request) -> ListQuery:
    # keep_blank_values: request.args drops `limit=`, which the contract calls a 422.
    args = request.get_args(keep_blank_values=True)
    return ListQuery.model_validate(
        {name: values[0] if len(values) == 1 else values for name, values in args.items()}
    )  # a repeated parameter stays a list: a 422


@bp.get("")
@protected
async def list_items(request: Request) -> HTTPResponse:
    query = _page_query(request)
    session, mine = db_session(request), Item.owner_id == request.ctx.user.id
    total = await session.scalar(select(func.count()).select_from(Item).where(mine))
    items = await session.scalars(
        select(Item).where(mine).order_by(Item.id).limit(query.limit).offset(query.offset)
    )
    return json(
        {
            "items": [item.to_json() for item in items],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


@bp.post("")
@protected
async def create_item(request: Request) -> HTTPResponse:
    data = ItemIn.model_validate(json_body(request))
    session = db_session(request)
    item = Item(owner_id=request.ctx.user.id, **data.model_dump())
    session.add(item)
    await session.commit()
    return json(item.to_json(), status=201)


@bp.get("/<item_id>")
@protected
async def get_item(request: Request, item_id: str) -> HTTPResponse:
    return json((await _owned_item(request, item_id)).to_json())


@bp.put("/<item_id>")
@protected
async def replace_item(request: Request, item_id: str) -> HTTPResponse:
    data = ItemIn.model_validate(json_body(request))
    item = await _owned_item(request, item_id, for_update=True)
    for field, value in data.model_dump().items():
        setattr(item, field, value)
    item.updated_at = datetime.now(UTC)
    await db_session(request).commit()
    return json(item.to_json())


@bp.patch("/<item_id>")
@protected
async def update_item(request: Request, item_id: str) -> HTTPResponse:
    changes = ItemPatch.model_validate(json_body(request)).model_dump(exclude_unset=True)
    item = await _owned_item(request, item_id, for_update=True)
    if changes:  # an empty PATCH changes nothing, updated_at included
        for field, value in changes.items():
            setattr(item, field, value)
        item.updated_at = datetime.now(UTC)
        await db_session(request).commit()
    return json(item.to_json())


@bp.delete("/<item_id>")
@protected
async def delete_item(request: Request, item_id: str) -> HTTPResponse:
    # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row
    # (session.delete() after a SELECT would acknowledge each of them).
    session, target, deleted = db_session(request), _item_id(item_id), None
    if target is not None:
        deleted = await session.scalar(
            delete(Item)
            .where(Item.id == target, Item.owner_id == request.ctx.user.id)
            .returning(Item.id)
        )
    await session.commit()
    if deleted is None:
        raise NotFound("item not found")
    return empty()
