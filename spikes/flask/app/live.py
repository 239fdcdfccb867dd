"""Live item events (contract "Live updates"): GET /ws with flask-sock, fanned out by LISTEN/NOTIFY.

A write calls `publish()` inside its transaction; PostgreSQL delivers the notification on commit
to every worker's one LISTEN connection (`Hub`, a thread of the worker), which sends it to that
worker's sockets of the item's owner. Only that thread sends events, so they stay in commit order.

A socket holds its worker thread for as long as it is open, so the candidate that serves it is
the gunicorn gevent variant (`flask@gevent`): a greenlet per socket, psycopg green as well.
"""

import contextlib
import json
import logging
import threading
import time
from collections import defaultdict
from typing import Any

import psycopg
from flask import Flask, current_app, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed, Server
from sqlalchemy import func, select

from .db import db_session
from .errors import NotAuthenticated
from .models import Item
from .security import user_for_token

CHANNEL = "items"
NOT_AUTHENTICATED = 4401
log = logging.getLogger(__name__)
sock = Sock()


def publish(kind: str, item: Item) -> None:
    """Announce a write in its own transaction: delivered on commit, never for a rollback."""
    db_session.flush()  # the id and created_at come back by RETURNING
    _notify(kind, item.owner_id, item.to_json())


def publish_deleted(owner_id: int, item_id: int) -> None:
    _notify("item.deleted", owner_id, {"id": item_id})


def _notify(kind: str, owner_id: int, item: dict[str, Any]) -> None:
    payload = _dumps({"type": kind, "owner_id": owner_id, "item": item})
    db_session.execute(select(func.pg_notify(CHANNEL, payload)))


def _dumps(data: object) -> str:
    # UTF-8, not \\u-escaped: the largest item stays under NOTIFY's 8,000-byte limit.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class Hub:
    """This worker's LISTEN connection (started on first use, after gunicorn forked) and its
    sockets, by owner id."""

    def __init__(self) -> None:
        self.sockets: dict[int, set[Server]] = defaultdict(set)
        self.listening = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ready(self, database_url: str) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._listen, args=(database_url,), name="listen-items", daemon=True
                )
                self._thread.start()
        self.listening.wait()

    def _listen(self, database_url: str) -> None:
        while True:
            try:
                with psycopg.connect(database_url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    for note in conn.notifies():
                        self._dispatch(note.payload)
            except Exception as exc:  # any failure: reconnect, never leave the worker deaf
                log.warning("LISTEN %s: %s; retrying", CHANNEL, exc)
            self.listening.clear()
            time.sleep(1)

    def _dispatch(self, payload: str) -> None:
        event = json.loads(payload)
        message = _dumps({"type": event["type"], "item": event["item"]})
        for ws in list(self.sockets.get(event["owner_id"], ())):
            with contextlib.suppress(ConnectionClosed, OSError):  # closing: its greenlet
                ws.send(message)  # unregisters it


hub = Hub()


def init_live(app: Flask) -> None:
    sock.init_app(app)


@sock.route("/ws")
def live(ws: Server) -> None:
    try:
        user = user_for_token(request.args.get("token", ""))
    except NotAuthenticated:
        ws.close(reason=NOT_AUTHENTICATED, message="not_authenticated")
        return
    finally:
        db_session.remove()  # the socket may stay open for hours: give the connection back
    hub.ready(current_app.config["DATABASE_URL"])
    hub.sockets[user.id].add(ws)  # before "subscribed": a write committed after it is sent
    try:
        ws.send(_dumps({"type": "subscribed", "user": user.to_json()}))
        while True:  # client messages are ignored; ConnectionClosed ends the loop
            ws.receive()
    finally:
        hub.sockets[user.id].discard(ws)
        if not hub.sockets[user.id]:
            del hub.sockets[user.id]
