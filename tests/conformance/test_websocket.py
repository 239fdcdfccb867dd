"""Contract "Live updates": GET /ws, against every candidate that lists the websocket feature.

Real sockets (the `websockets` sync client) against the real server; the cross-worker test finds
which worker process holds each socket from the operating system's view of the connections, so
it proves delivery between processes without the contract exposing a worker id.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import psutil
import psycopg
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from harness.manifest import Parity
from tests.conformance.conftest import Spike, User

NOT_AUTHENTICATED = 4401
QUIET = 0.5  # seconds a socket that must receive nothing is watched


def ws_url(spike: Spike, token: str | None) -> str:
    base = spike.client.base_url
    query = "" if token is None else f"?token={token}"
    return f"ws://{base.host}:{base.port}/ws{query}"


def token_of(user: User) -> str:
    return user.headers["Authorization"].removeprefix("Bearer ")


@contextlib.contextmanager
def subscribed(spike: Spike, user: User) -> Iterator[ClientConnection]:
    """An open socket of `user`, past its "subscribed" message (from then on nothing is lost)."""
    with connect(ws_url(spike, token_of(user)), open_timeout=10, close_timeout=5) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello == {"type": "subscribed", "user": {"id": user.id, "username": user.username}}
        yield ws


def next_event(ws: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    message = ws.recv(timeout=timeout)
    assert isinstance(message, str), "events are text messages"
    return dict(json.loads(message))


def assert_quiet(ws: ClientConnection, seconds: float = QUIET) -> None:
    with pytest.raises(TimeoutError):
        unexpected = ws.recv(timeout=seconds)
        pytest.fail(f"socket received {unexpected!r}, expected nothing")


def bad_tokens(spike: Spike, parity: Parity, make_user: Callable[[], User]) -> dict[str, str]:
    now = datetime.now(UTC)
    gone = make_user()
    with psycopg.connect(spike.dburl, autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", [gone.id])
    real = make_user()

    def signed(secret: str, **claims: Any) -> str:
        base = {"sub": str(real.id), "iat": now, "exp": now + timedelta(minutes=5)}
        return jwt.encode({**base, **claims}, secret, algorithm="HS256")

    return {
        "garbage": "not-a-jwt",
        "empty": "",
        "wrong_secret": signed("another-secret-of-the-same-length-as-ours"),
        "expired": signed(parity.jwt_secret, iat=now - timedelta(hours=2), exp=now - timedelta(1)),
        "tampered": token_of(real)[:-2] + ("AA" if not token_of(real).endswith("AA") else "BB"),
        "deleted_user": token_of(gone),
    }


def assert_refused(spike: Spike, token: str | None) -> None:
    """Accepted, then closed with 4401 before any message (contract: one refusal everywhere)."""
    with (
        connect(ws_url(spike, token), open_timeout=10) as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        message = ws.recv(timeout=10)
        pytest.fail(f"refused socket received {message!r}")
    assert closed.value.rcvd is not None, "the server must send a close frame"
    assert closed.value.rcvd.code == NOT_AUTHENTICATED, closed.value.rcvd


def test_ws_refuses_missing_and_bad_tokens(
    spike: Spike, parity: Parity, make_user: Callable[[], User]
) -> None:
    spike.require("websocket")
    assert_refused(spike, None)
    for name, token in bad_tokens(spike, parity, make_user).items():
        try:
            assert_refused(spike, token)
        except AssertionError as exc:
            raise AssertionError(f"token {name}: {exc}") from exc


def test_ws_delivers_each_write_to_its_owner_only(
    spike: Spike, make_user: Callable[[], User], make_item: Callable[..., dict[str, Any]]
) -> None:
    spike.require("websocket")
    owner, other = make_user(), make_user()
    client = spike.client
    with subscribed(spike, owner) as mine, subscribed(spike, other) as theirs:
        created = make_item(owner, name="live", description="marker-1", price=3)
        assert next_event(mine) == {"type": "item.created", "item": created}

        path = f"/items/{created['id']}"
        put = client.put(path, json={"name": "put", "price": 12.5}, headers=owner.headers)
        assert put.status_code == 200, put.text
        assert next_event(mine) == {"type": "item.updated", "item": put.json()}

        patch = client.patch(path, json={"description": "marker-2"}, headers=owner.headers)
        assert patch.status_code == 200, patch.text
        assert next_event(mine) == {"type": "item.updated", "item": patch.json()}

        # failed writes announce nothing: another user's item, an invalid body
        assert client.patch(path, json={"name": "x"}, headers=other.headers).status_code == 404
        assert client.put(path, json={"price": -1}, headers=owner.headers).status_code == 422

        deleted = client.delete(path, headers=owner.headers)
        assert deleted.status_code == 204, deleted.text
        assert next_event(mine) == {"type": "item.deleted", "item": {"id": created["id"]}}
        assert client.delete(path, headers=owner.headers).status_code == 404
        assert_quiet(mine)
        assert_quiet(theirs, 0.1)


def worker_of(spike: Spike, ws: ClientConnection) -> int:
    """The pid of the server process holding this socket's server end."""
    port = ws.socket.getsockname()[1]
    for proc in spike.server.processes():
        with contextlib.suppress(psutil.Error):
            for conn in proc.net_connections(kind="tcp"):
                if conn.raddr and conn.raddr.port == port:
                    return proc.pid
    raise AssertionError(f"no server process holds the socket from port {port}")


def test_ws_delivers_across_workers(
    spike: Spike, make_user: Callable[[], User], make_item: Callable[..., dict[str, Any]]
) -> None:
    """Sockets of one user held by two worker processes: each write reaches all of them, so at
    least one delivery crossed from the worker that served the write to another one."""
    spike.require("websocket")
    if not hasattr(spike.server, "processes"):
        pytest.skip("external target: worker processes are not visible from here")
    owner = make_user()
    with contextlib.ExitStack() as stack:
        sockets: list[ClientConnection] = []
        workers: set[int] = set()
        for _ in range(24):
            sockets.append(stack.enter_context(subscribed(spike, owner)))
            workers.add(worker_of(spike, sockets[-1]))
            if len(workers) >= 2 and len(sockets) >= 4:
                break
        assert len(workers) >= 2, f"{len(sockets)} sockets all landed on worker {workers}"
        for round_ in range(4):  # fresh HTTP connections: the writes land on any worker
            with httpx.Client(base_url=spike.client.base_url, timeout=30) as writer:
                resp = writer.post(
                    "/items", json={"name": f"x{round_}", "price": 1}, headers=owner.headers
                )
            assert resp.status_code == 201, resp.text
            for ws in sockets:
                assert next_event(ws) == {"type": "item.created", "item": resp.json()}
        for ws in sockets:
            assert_quiet(ws, 0.05)


def test_ws_closes_cleanly_and_keeps_serving(
    spike: Spike, make_user: Callable[[], User], make_item: Callable[..., dict[str, Any]]
) -> None:
    spike.require("websocket")
    owner = make_user()
    with subscribed(spike, owner) as first:
        first.send("client messages are ignored")
        first.close(code=1000)
        assert first.protocol.close_rcvd is not None, "the server must answer the close"
        assert first.protocol.close_rcvd.code == 1000
    time.sleep(0.2)  # the server drops the closed socket; a later write must not trip on it
    with subscribed(spike, owner) as second:
        created = make_item(owner)
        assert next_event(second) == {"type": "item.created", "item": created}
