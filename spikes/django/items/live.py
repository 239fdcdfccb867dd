"""Live item events (contract "Live updates"): a Channels consumer, fanned out by LISTEN/NOTIFY.

A view calls `publish()` inside its transaction; PostgreSQL delivers the notification on commit
to every worker's one LISTEN connection (`Hub`), which hands it to the worker's in-memory channel
layer as a group message to `user.<owner id>`; each consumer of that user sends it on.

Bend: Channels fans out across processes through a channel layer, and its production layer is
Redis. The contract has PostgreSQL only, so the process-local InMemoryChannelLayer does the
group fan-out and LISTEN/NOTIFY is what crosses worker processes.
"""

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qs

import psycopg
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.db import connection
from psycopg.conninfo import make_conninfo

from .models import Item, User
from .security import user_id_from_token
from .serializers import ItemSerializer

CHANNEL = "items"
NOT_AUTHENTICATED = 4401
log = logging.getLogger(__name__)


def publish(kind: str, item: Item) -> None:
    """Announce a write in the view's transaction: delivered on commit, never for a rollback."""
    _notify(kind, item.owner_id, ItemSerializer(item).data)


def publish_deleted(owner_id: int, item_id: int) -> None:
    _notify("item.deleted", owner_id, {"id": item_id})


def _notify(kind: str, owner_id: int, item: Any) -> None:
    payload = _dumps({"type": kind, "owner_id": owner_id, "item": item})
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])


def _dumps(data: object) -> str:
    # UTF-8, not \\u-escaped: the largest item stays under NOTIFY's 8,000-byte limit.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class Hub:
    """This worker's LISTEN connection, started on first use (on the worker's event loop)."""

    def __init__(self) -> None:
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def ready(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen())
        await self.listening.wait()

    async def _listen(self) -> None:
        db = connection.settings_dict
        conninfo = make_conninfo(
            dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"],
            port=db["PORT"],
        )  # fmt: skip
        layer = get_channel_layer()
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    async for note in conn.notifies():
                        event = json.loads(note.payload)
                        message = _dumps({"type": event["type"], "item": event["item"]})
                        await layer.group_send(
                            f"user.{event['owner_id']}", {"type": "item.event", "text": message}
                        )
            except Exception as exc:  # any failure: reconnect, never leave the worker deaf
                log.warning("LISTEN %s: %s; retrying", CHANNEL, exc)
            self.listening.clear()
            await asyncio.sleep(1)


hub = Hub()


@database_sync_to_async
def user_for_token(token: str) -> User | None:
    user_id = user_id_from_token(token)
    return User.objects.filter(pk=user_id).first() if user_id is not None else None


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """GET /ws?token=<JWT>: accept, authenticate (or close 4401), join the user's group."""

    group: str | None = None

    async def connect(self) -> None:
        await self.accept()
        query = parse_qs(self.scope["query_string"].decode("latin-1"))
        user = await user_for_token(query.get("token", [""])[-1])
        if user is None:
            await self.close(code=NOT_AUTHENTICATED, reason="not_authenticated")
            return
        await hub.ready()
        self.group = f"user.{user.id}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json(
            {"type": "subscribed", "user": {"id": user.id, "username": user.username}}
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        pass  # client messages are ignored

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def item_event(self, event: dict[str, str]) -> None:
        await self.send(text_data=event["text"])
