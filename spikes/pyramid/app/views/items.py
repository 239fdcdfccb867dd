"""CRUD on the caller's items. Another user's item is indistinguishable from a missing one."""

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pyramid.httpexceptions import HTTPNoContent
from pyramid.request import Request
from pyramid.view import view_config, view_defaults
from sqlalchemy import delete, func, select

from ..body import json_body, validate
from ..errors import NotFound
from ..models import Item
from ..schemas import MAX_BIGINT, ItemIn, ItemPatch, ListQuery


def _item_id(raw_id: str) -> int | None:
    """Parsed here rather than by a route regex so that a bad token on /items/abc is still a
    401 (auth first), and ids outside BIGINT never reach Postgres."""
    if re.fullmatch(r"[0-9]{1,19}", raw_id) and 0 < int(raw_id) <= MAX_BIGINT:
        return int(raw_id)
    return None


def _page_params(request: Request) -> dict[str, object]:
    """The query as ListQuery sees it: a repeated parameter is a list (the contract's 422).
    parse_qsl rather than request.GET: WebOb also splits on ";", which no other spike does."""
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query_string, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    return {name: values[0] if len(values) == 1 else values for name, values in params.items()}


@view_defaults(renderer="json", permission="authenticated")
class ItemViews:
    def __init__(self, request: Request) -> None:
        self.request = request
        self.db = request.dbsession
        self.user = request.identity

    def owned_item(self, for_update: bool = False) -> Item:
        """Look the id up among the caller's items; writers lock the row (FOR UPDATE) so
        concurrent writes queue up and one deleted meanwhile is a 404, not a 500."""
        item, item_id = None, _item_id(self.request.matchdict["id"])
        if item_id is not None:
            query = select(Item).where(Item.id == item_id, Item.owner_id == self.user.id)
            item = self.db.scalar(query.with_for_update() if for_update else query)
        if item is None:
            raise NotFound("item not found")
        return item

    @view_config(route_name="items", request_method="GET")
    def list(self) -> dict[str, Any]:
        query = validate(ListQuery, _page_params(self.request))
        mine = Item.owner_id == self.user.id
        total = self.db.scalar(select(func.count()).select_from(Item).where(mine))
        items = self.db.scalars(
            select(Item).where(mine).order_by(Item.id).limit(query.limit).offset(query.offset)
        )
        return {
            "items": [item.to_json() for item in items],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }

    @view_config(route_name="items", request_method="POST")
    def create(self) -> dict[str, Any]:
        data = validate(ItemIn, json_body(self.request))
        item = Item(owner_id=self.user.id, **data.model_dump())
        self.db.add(item)
        self.db.flush()  # INSERT … RETURNING fills id and the timestamps
        self.request.response.status_code = 201
        return item.to_json()

    @view_config(route_name="item", request_method="GET")
    def get(self) -> dict[str, Any]:
        return self.owned_item().to_json()

    @view_config(route_name="item", request_method="PUT")
    def replace(self) -> dict[str, Any]:
        data = validate(ItemIn, json_body(self.request))
        item = self.owned_item(for_update=True)
        for field, value in data.model_dump().items():
            setattr(item, field, value)
        item.updated_at = datetime.now(UTC)
        return item.to_json()

    @view_config(route_name="item", request_method="PATCH")
    def update(self) -> dict[str, Any]:
        changes = validate(ItemPatch, json_body(self.request)).model_dump(exclude_unset=True)
        item = self.owned_item(for_update=True)
        if changes:  # an empty PATCH changes nothing, updated_at included
            for field, value in changes.items():
                setattr(item, field, value)
            item.updated_at = datetime.now(UTC)
        return item.to_json()

    @view_config(route_name="item", request_method="DELETE")
    def delete(self) -> HTTPNoContent:
        # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row
        # (session.delete() after a SELECT would acknowledge each of them).
        target, deleted = _item_id(self.request.matchdict["id"]), None
        if target is not None:
            deleted = self.db.scalar(
                delete(Item)
                .where(Item.id == target, Item.owner_id == self.user.id)
                .returning(Item.id)
            )
        if deleted is None:
            raise NotFound("item not found")
        return HTTPNoContent()
