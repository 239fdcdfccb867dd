"""The realtime scenario's Locust users (contract "Live updates", GET /ws).

`Subscriber`s each log in as a distinct seeded user and hold one WebSocket (websocket-client,
made cooperative by Locust's gevent patching). `LiveWriter`s PATCH items of subscribed users at a
steady rate, each write carrying a unique marker `rt:<owner id>:<pid>:<n>` in its description.
Every event a subscriber receives is checked against the marker: for another owner it is
misdelivered, a second time a duplicate; a write answered 200 whose event never arrives is lost.
At exit the tally goes to realtime-<pid>.json, which the harness turns into the trial's figures.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import gevent
import websocket
from locust import FastHttpUser, User, task

LOSS_GRACE_S = 2.0  # an event not there this long after its write's answer is lost


class Ledger:
    """What this Locust process sent and received; one per process (users share it)."""

    def __init__(self) -> None:
        self.sent: dict[str, tuple[int, float, float]] = {}  # marker -> owner, sent, answered
        self.received: dict[str, float] = {}  # marker -> first receipt
        self.misdelivered = 0
        self.duplicates = 0
        self.sockets_open = 0
        self.sockets_peak = 0
        self.socket_errors = 0
        self.ready: list[Any] = []  # the Subscribers whose socket is live
        self.numbers = itertools.count()

    def tally(self, subscribers: int, writers: int) -> dict[str, Any]:
        now = time.time()
        delivery, from_send, lost, unsettled = [], [], 0, 0
        for marker, (_owner, sent, answered) in self.sent.items():
            got = self.received.get(marker)
            if got is not None:
                delivery.append(round(1000 * (got - answered), 3))
                from_send.append(round(1000 * (got - sent), 3))
            elif answered < now - LOSS_GRACE_S:
                lost += 1
            else:
                unsettled += 1
        return {
            "subscribers": subscribers,
            "writers": writers,
            "sockets_peak": self.sockets_peak,
            "sockets_open": self.sockets_open,
            "socket_errors": self.socket_errors,
            "writes": len(self.sent),
            "delivered": len(delivery),
            "lost": lost,
            "unsettled": unsettled,
            "misdelivered": self.misdelivered,
            "duplicates": self.duplicates,
            "delivery_ms": delivery,
            "delivery_from_send_ms": from_send,
        }

    def write(self, out: Path, subscribers: int, writers: int) -> None:
        out.mkdir(parents=True, exist_ok=True)
        tmp = out / f"realtime-{os.getpid()}.json.tmp"
        tmp.write_text(json.dumps(self.tally(subscribers, writers)))
        os.replace(tmp, out / f"realtime-{os.getpid()}.json")


LEDGER = Ledger()


def make_users(
    settings: dict[str, Any], login: Any, park: Any, alive: Any, seed_users: int, seed_items: int
) -> tuple[type[User], type[User]]:
    """The two user classes for this scenario's [realtime] settings; the locustfile passes its
    login helper, its gate and its count of gated users (writers pause between slices, the
    subscribers stay connected and are never parked)."""
    subscribers = int(settings.get("subscribers", 200))
    write_rate = float(settings.get("write_rate", 50.0))

    class Subscriber(FastHttpUser):
        fixed_count = subscribers

        def wait_time(self) -> float:
            return 1.0

        def on_start(self) -> None:
            runner = self.environment.runner
            index = getattr(runner, "worker_index", 0) or 0
            self.number = 1 + (index * subscribers + next(LEDGER.numbers)) % seed_users
            self.auth = login(self.client, self.number)
            self.user_id = 0
            self.ws: websocket.WebSocket | None = None

        def on_stop(self) -> None:
            if self.ws is not None:
                self.ws.close()

        def connect(self) -> websocket.WebSocket:
            token = self.auth["Authorization"].removeprefix("Bearer ")
            url = self.host.replace("http", "ws", 1) + f"/ws?token={token}"
            ws = websocket.create_connection(url, timeout=30, enable_multithread=False)
            hello = json.loads(ws.recv())
            if hello.get("type") != "subscribed":
                raise websocket.WebSocketException(f"expected subscribed, got {hello}")
            self.user_id = int(hello["user"]["id"])
            return ws

        @task
        def listen(self) -> None:
            """Hold the socket; reconnect after a failure (counted), never return otherwise."""
            if not self.auth:
                self.auth = login(self.client, self.number)
                return
            try:
                self.ws = self.connect()
            except (OSError, websocket.WebSocketException, ValueError):
                LEDGER.socket_errors += 1
                return
            LEDGER.sockets_open += 1
            LEDGER.sockets_peak = max(LEDGER.sockets_peak, LEDGER.sockets_open)
            LEDGER.ready.append(self)
            try:
                self.ws.settimeout(None)
                while True:
                    self.on_message(self.ws.recv())
            except (OSError, websocket.WebSocketException, ValueError):
                LEDGER.socket_errors += 1
            finally:
                LEDGER.ready.remove(self)
                LEDGER.sockets_open -= 1
                self.ws = None

        def on_message(self, message: str) -> None:
            now = time.time()
            item = json.loads(message).get("item") or {}
            marker = item.get("description") or ""
            if not marker.startswith("rt:"):
                return  # not one of the writers' events (a seeded item's own update)
            if int(marker.split(":")[1]) != self.user_id:
                LEDGER.misdelivered += 1
            elif marker in LEDGER.received:
                LEDGER.duplicates += 1
            else:
                LEDGER.received[marker] = now

    class LiveWriter(FastHttpUser):
        """PATCHes a random subscribed user's seeded item at `write_rate / writers` per second."""

        def on_start(self) -> None:
            alive(+1)
            self.rng = random.Random(os.getpid() * 7919 + id(self))
            self.next_at = time.monotonic()
            self.counter = itertools.count()

        def on_stop(self) -> None:
            alive(-1)

        def wait_time(self) -> float:
            writers = max(self.environment.runner.user_count - subscribers, 1)
            self.next_at = max(self.next_at + writers / write_rate, time.monotonic() - 1.0)
            gevent.sleep(max(self.next_at - time.monotonic(), 0))
            park()
            return 0.0

        @task
        def live_write(self) -> None:
            if not LEDGER.ready:
                gevent.sleep(0.05)
                return
            sub = self.rng.choice(LEDGER.ready)
            item = (sub.number - 1) * seed_items + 1 + self.rng.randrange(seed_items)
            marker = f"rt:{sub.user_id}:{os.getpid()}:{next(self.counter)}:{id(self) % 10**6}"
            sent = time.time()
            with self.client.patch(
                f"/items/{item}",
                json={"description": marker},
                headers=sub.auth,
                name="/items/{id}",
                catch_response=True,
            ) as resp:
                if resp.status_code == 200:
                    LEDGER.sent[marker] = (sub.user_id, sent, time.time())
                    resp.success()
                else:
                    resp.failure(f"live write: HTTP {resp.status_code}")

    return Subscriber, LiveWriter
