"""The caller's items. Another user's item is a 404 on every verb: existence is not leaked."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import live
from app.db import SessionDep
from app.errors import ApiError
from app.models import Item, User
from app.schemas import ItemCreate, ItemOut, ItemPage, ItemPatch, QueryInt
from app.security import MAX_BIGINT, AuthFirstRoute, CurrentUser, parse_id

router = APIRouter(prefix="/items", route_class=AuthFirstRoute)


async def get_owned_item(
    session: AsyncSession, user: User, raw_id: str, for_update: bool = False
) -> Item:
    """Load one of the caller's items or 404; writers lock the row (FOR UPDATE) so concurrent
    writes queue up and an item deleted meanwhile is a 404, not a 500.

    The id is taken as a str and parsed here, after auth and body validation, because the
    contract wants a bad id to be a 404 (not a 422) and to come last in the order of checks."""
    item_id = parse_id(raw_id)
    item = None
    if item_id is not None:
        query = select(Item).where(Item.id == item_id, Item.owner_id == user.id)
        item = await session.scalar(query.with_for_update() if for_update else query)
    if item is None:
        raise ApiError(404, "not_found", "item not found")
    return item


@router.get("", response_model=ItemPage)
async def list_items(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[QueryInt, Query(ge=1, le=100)] = 20,
    offset: Annotated[QueryInt, Query(ge=0, le=MAX_BIGINT)] = 0,
) -> dict[str, object]:
    # FastAPI takes the last of a repeated parameter; the contract says 422 instead.
    if any(len(request.query_params.getlist(name)) > 1 for name in ("limit", "offset")):
        raise ApiError(422, "validation_error", "query: limit and offset may appear once")
    owned = Item.owner_id == user.id
    total = await session.scalar(select(func.count()).select_from(Item).where(owned))
    items = await session.scalars(
        select(Item).where(owned).order_by(Item.id).limit(limit).offset(offset)
    )
    return {"items": items.all(), "total": total, "limit": limit, "offset": offset}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ItemOut)
async def create_item(body: ItemCreate, user: CurrentUser, session: SessionDep) -> Item:
    item = Item(owner_id=user.id, **body.model_dump())
    session.add(item)
    await live.publish(session, "item.created", item)
    await session.commit()
    return item


@router.get("/{item_id}", response_model=ItemOut)
async def get_item(item_id: str, user: CurrentUser, session: SessionDep) -> Item:
    return await get_owned_item(session, user, item_id)


@router.put("/{item_id}", response_model=ItemOut)
async def replace_item(
    item_id: str, body: ItemCreate, user: CurrentUser, session: SessionDep
) -> Item:
    item = await get_owned_item(session, user, item_id, for_update=True)
    for field, value in body.model_dump().items():
        setattr(item, field, value)
    item.updated_at = func.now()  # a PUT is a write even when every value is unchanged
    await live.publish(session, "item.updated", item)
    await session.commit()
    return item


@router.patch("/{item_id}", response_model=ItemOut)
async def update_item(
    item_id: str, body: ItemPatch, user: CurrentUser, session: SessionDep
) -> Item:
    item = await get_owned_item(session, user, item_id, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    if changes:  # an empty PATCH changes nothing, updated_at included
        for field, value in changes.items():
            setattr(item, field, value)
        item.updated_at = func.now()
    await live.publish(session, "item.updated", item)  # an empty PATCH is announced too
    await session.commit()
    return item


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(item_id: str, user: CurrentUser, session: SessionDep) -> None:
    # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row
    # (session.delete() after a SELECT would acknowledge each of them).
    target = parse_id(item_id)
    deleted = None
    if target is not None:
        deleted = await session.scalar(
            delete(Item).where(Item.id == target, Item.owner_id == user.id).returning(Item.id)
        )
    if deleted is not None:
        await live.publish_deleted(session, user.id, deleted)
    await session.commit()
    if deleted is None:
        raise ApiError(404, "not_found", "item not found")
