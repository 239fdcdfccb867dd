"""Live item events (contract "Live updates"): GET /ws, fanned out through LISTEN/NOTIFY.

A write calls `publish()` inside its transaction; PostgreSQL delivers the notification on commit
to every worker's one LISTEN connection (`Hub`), which queues it for that worker's sockets of the
item's owner. One queue and one sender per socket keep the messages in commit order.

Litestar's channels plugin has an asyncpg backend, but it NOTIFYs on its own connection (outside
the write's transaction, so a rolled-back write could be announced) and LISTENs once per channel
(per user here); the contract's one `items` channel, sent in the transaction, needs this listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

import asyncpg
import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import NotAuthorizedException, WebSocketDisconnect
from litestar.security.jwt import Token
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import settings
from app.db import alchemy_config
from app.models import MAX_BIGINT, Item, User
from app.schemas import ItemOut

CHANNEL = "items"
NOT_AUTHENTICATED = 4401
log = logging.getLogger(__name__)


async def publish(db_session: AsyncSession, kind: str, item: Item) -> None:
    """Announce a write in its own transaction: delivered on commit, never for a rollback."""
    await db_session.flush()  # id and server timestamps come back by RETURNING
    await _notify(db_session, kind, item.owner_id, msgspec.to_builtins(ItemOut.of(item)))


async def publish_deleted(db_session: AsyncSession, owner_id: int, item_id: int) -> None:
    await _notify(db_session, "item.deleted", owner_id, {"id": item_id})


async def _notify(db_session: AsyncSession, kind: str, owner_id: int, item: Any) -> None:
    # msgspec writes UTF-8, not \\u escapes: the largest item stays under NOTIFY's 8,000 bytes.
    payload = msgspec.json.encode({"type": kind, "owner_id": owner_id, "item": item}).decode()
    await db_session.execute(select(func.pg_notify(CHANNEL, payload)))


class Hub:
    """This worker's LISTEN connection and its sockets' queues, by owner id."""

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
        url = make_url(settings.database_url).set(drivername="postgresql")
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(url.render_as_string(hide_password=False))
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._dispatch)
                self.listening.set()
                await lost.wait()
            except Exception as exc:  # any failure: reconnect, never leave the worker deaf
                log.warning("LISTEN %s: %s; retrying", CHANNEL, exc)
            self.listening.clear()
            await asyncio.sleep(1)

    def _dispatch(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        event = msgspec.json.decode(payload)
        message = msgspec.json.encode({"type": event["type"], "item": event["item"]}).decode()
        for queue in self.queues.get(event["owner_id"], ()):
            queue.put_nowait(message)


hub = Hub()


async def authenticate(token: str | None) -> User | None:
    """The bearer checks of JWTAuth, for a token that comes in the query string."""
    try:
        claims = Token.decode(token or "", settings.jwt_secret, "HS256")
    except NotAuthorizedException:
        return None
    if not (claims.sub.isascii() and claims.sub.isdigit() and int(claims.sub) <= MAX_BIGINT):
        return None
    async with alchemy_config.get_session() as db_session:
        return await db_session.get(User, int(claims.sub))


# The JWT middleware reads only the Authorization header, which browsers cannot set here, and
# would refuse before accept (a bare 403); the contract wants accept, then close 4401.
@websocket("/ws", exclude_from_auth=True)
async def live(socket: WebSocket[Any, Any, Any], token: str | None = None) -> None:
    await socket.accept()
    user = await authenticate(token)
    if user is None:
        await socket.close(code=NOT_AUTHENTICATED, reason="not_authenticated")
        return
    await hub.ready()
    queue: asyncio.Queue[str] = asyncio.Queue()
    hub.queues[user.id].add(queue)  # before "subscribed": a write committed after it is queued
    try:
        await socket.send_json(
            {"type": "subscribed", "user": {"id": user.id, "username": user.username}}
        )
        sender = asyncio.create_task(_send(socket, queue))
        try:  # client messages are ignored; the loop ends with the client's close
            while (await socket.receive())["type"] != "websocket.disconnect":
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


async def _send(socket: WebSocket[Any, Any, Any], queue: asyncio.Queue[str]) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.send_text(await queue.get())
