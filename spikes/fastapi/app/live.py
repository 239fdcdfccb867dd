"""Live item events (contract "Live updates"): GET /ws, fanned out through LISTEN/NOTIFY.

A write calls `publish()` inside its transaction; PostgreSQL delivers the notification on commit
to every worker's one LISTEN connection (`Hub`), which queues it for that worker's sockets of the
item's owner. One queue and one sender per socket keep the messages in commit order.
"""

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import Any

import asyncpg
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import settings
from app.db import SessionLocal
from app.errors import ApiError
from app.models import Item
from app.schemas import ItemOut
from app.security import authenticate

CHANNEL = "items"
NOT_AUTHENTICATED = 4401
log = logging.getLogger(__name__)
router = APIRouter()


async def publish(session: AsyncSession, kind: str, item: Item) -> None:
    """Announce a write in its own transaction: delivered on commit, never for a rollback."""
    await session.flush()  # id and server timestamps come back by RETURNING (eager_defaults)
    await _notify(session, kind, item.owner_id, _render(item))


async def publish_deleted(session: AsyncSession, owner_id: int, item_id: int) -> None:
    await _notify(session, "item.deleted", owner_id, {"id": item_id})


async def _notify(session: AsyncSession, kind: str, owner_id: int, item: dict[str, Any]) -> None:
    payload = _dumps({"type": kind, "owner_id": owner_id, "item": item})
    await session.execute(select(func.pg_notify(CHANNEL, payload)))


def _render(item: Item) -> dict[str, Any]:
    return ItemOut.model_validate(item).model_dump(mode="json")


def _dumps(data: object) -> str:
    # UTF-8, not \\u-escaped: the largest item stays under NOTIFY's 8,000-byte limit.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class Hub:
    """This worker's LISTEN connection and its sockets, by owner id."""

    def __init__(self) -> None:
        self.queues: dict[int, set[asyncio.Queue[str]]] = defaultdict(set)
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def ready(self) -> None:
        """Start listening on first use (the event loop is the worker's by then)."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen())
        await self.listening.wait()

    async def _listen(self) -> None:
        dsn = settings.database_url.set(drivername="postgresql").render_as_string(False)
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(dsn)
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._dispatch)
                self.listening.set()
                await lost.wait()
            except Exception as exc:  # any failure: reconnect, never leave the worker deaf
                log.warning("LISTEN %s: %s; retrying", CHANNEL, exc)
            self.listening.clear()
            await asyncio.sleep(1)

    def _dispatch(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        event = json.loads(payload)
        message = _dumps({"type": event["type"], "item": event["item"]})
        for queue in self.queues.get(event["owner_id"], ()):
            queue.put_nowait(message)


hub = Hub()


@router.websocket("/ws")
async def live(websocket: WebSocket, token: str | None = None) -> None:
    await websocket.accept()
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token or "")
    try:
        async with SessionLocal() as session:
            user = await authenticate(session, credentials if token else None)
    except ApiError:
        await websocket.close(code=NOT_AUTHENTICATED, reason="not_authenticated")
        return
    await hub.ready()
    queue: asyncio.Queue[str] = asyncio.Queue()
    hub.queues[user.id].add(queue)  # before "subscribed": a write committed after it is queued
    try:
        await websocket.send_json(
            {"type": "subscribed", "user": {"id": user.id, "username": user.username}}
        )
        sender = asyncio.create_task(_send(websocket, queue))
        try:  # client messages are ignored; the loop ends with the client's close
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
    except WebSocketDisconnect:
        pass
    finally:
        hub.queues[user.id].discard(queue)
        if not hub.queues[user.id]:
            del hub.queues[user.id]


async def _send(websocket: WebSocket, queue: asyncio.Queue[str]) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.send_text(await queue.get())
