"""CRUD on the caller's items. Another user's item is indistinguishable from a missing one."""

import re
from datetime import UTC, datetime

from flask import Blueprint, request
from sqlalchemy import func, select

from .db import db_session
from .errors import NotFound, json_body
from .models import Item
from .schemas import MAX_BIGINT, ItemIn, ItemPatch, ListQuery
from .security import current_user, login_required

bp = Blueprint("items", __name__, url_prefix="/items")


def _owned_item(raw_id: str) -> Item:
    """Look the id up among the caller's items.

    The id is parsed here rather than by an <int> route converter so that a bad token on
    /items/abc is still a 401 (auth first), and ids outside BIGINT never reach Postgres.
    """
    item = None
    if re.fullmatch(r"[0-9]{1,19}", raw_id) and 0 < int(raw_id) <= MAX_BIGINT:
        item = db_session.scalar(
            select(Item).where(Item.id == int(raw_id), Item.owner_id == current_user().id)
        )
    if item is None:
        raise NotFound("item not found")
    return item


@bp.get("")
@login_required
def list_items() -> dict:
    query = ListQuery.model_validate(request.args.to_dict())
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
    item = _owned_item(item_id)
    for field, value in data.model_dump().items():
        setattr(item, field, value)
    item.updated_at = datetime.now(UTC)
    db_session.commit()
    return item.to_json()


@bp.patch("/<item_id>")
@login_required
def update_item(item_id: str) -> dict:
    changes = ItemPatch.model_validate(json_body()).model_dump(exclude_unset=True)
    item = _owned_item(item_id)
    if changes:  # an empty PATCH changes nothing, updated_at included
        for field, value in changes.items():
            setattr(item, field, value)
        item.updated_at = datetime.now(UTC)
        db_session.commit()
    return item.to_json()


@bp.delete("/<item_id>")
@login_required
def delete_item(item_id: str) -> tuple[str, int]:
    db_session.delete(_owned_item(item_id))
    db_session.commit()
    return "", 204
