"""CRUD on the caller's items. Another user's item is indistinguishable from a missing one."""

import re
from datetime import UTC, datetime

from flask import Blueprint, request
from sqlalchemy import delete, func, select

from . import live
from .db import db_session
from .errors import NotFound, json_body
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


def _owned_item(raw_id: str, for_update: bool = False) -> Item:
    """Look the id up among the caller's items; writers lock the row (FOR UPDATE) so
    concurrent writes queue up and one deleted meanwhile is a 404, not a 500."""
    item, item_id = None, _item_id(raw_id)
    if item_id is not None:
        query = select(Item).where(Item.id == item_id, Item.owner_id == current_user().id)
        item = db_session.scalar(query.with_for_update() if for_update else query)
    if item is None:
        raise NotFound("item not found")
    return item


def _single(name: str) -> object:
    values = request.args.getlist(name)
    return values[0] if len(values) == 1 else values  # a repeated parameter is a 422


@bp.get("")
@login_required
def list_items() -> dict:
    query = ListQuery.model_validate({name: _single(name) for name in request.args})
    mine = Item.owner_id == current_user().id
    total = db_session.scalar(select(func.count()).select_from(Item).where(mine))
    items = db_session.scalars(
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
def create_item() -> tuple[dict, int]:
    data = ItemIn.model_validate(json_body())
    item = Item(owner_id=current_user().id, **data.model_dump())
    db_session.add(item)
    live.publish("item.created", item)
    db_session.commit()
    return item.to_json(), 201


@bp.get("/<item_id>")
@login_required
def get_item(item_id: str) -> dict:
    return _owned_item(item_id).to_json()


@bp.put("/<item_id>")
@login_required
def replace_item(item_id: str) -> dict:
    data = ItemIn.model_validate(json_body())
    item = _owned_item(item_id, for_update=True)
    for field, value in data.model_dump().items():
        setattr(item, field, value)
    item.updated_at = datetime.now(UTC)
    live.publish("item.updated", item)
    db_session.commit()
    return item.to_json()


@bp.patch("/<item_id>")
@login_required
def update_item(item_id: str) -> dict:
    changes = ItemPatch.model_validate(json_body()).model_dump(exclude_unset=True)
    item = _owned_item(item_id, for_update=True)
    if changes:  # an empty PATCH changes nothing, updated_at included
        for field, value in changes.items():
            setattr(item, field, value)
        item.updated_at = datetime.now(UTC)
    live.publish("item.updated", item)  # an empty PATCH is announced too
    db_session.commit()
    return item.to_json()


@bp.delete("/<item_id>")
@login_required
def delete_item(item_id: str) -> tuple[str, int]:
    # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row
    # (session.delete() after a SELECT would acknowledge each of them).
    target = _item_id(item_id)
    deleted = None
    if target is not None:
        deleted = db_session.scalar(
            delete(Item)
            .where(Item.id == target, Item.owner_id == current_user().id)
            .returning(Item.id)
        )
    if deleted is not None:
        live.publish_deleted(current_user().id, deleted)
    db_session.commit()
    if deleted is None:
        raise NotFound("item not found")
    return "", 204
