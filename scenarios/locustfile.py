"""The Locust side of spikebench: one user class that runs any scenario file, the task library,
and a listener that records every request's raw timing (Locust's own percentiles round to whole
milliseconds; the harness needs 0.1 ms below 10 ms, so it computes them from these rows).

Driven by environment variables the harness sets:
SPIKEBENCH_SCENARIO (path of the .toml), SPIKEBENCH_OUT (folder for raw output),
SPIKEBENCH_WARMUP_S / SPIKEBENCH_MEASURE_S (the measured window), SPIKEBENCH_SEED_USERS /
SPIKEBENCH_SEED_ITEMS / SPIKEBENCH_SEED_PASSWORD (what the database holds), SPIKEBENCH_RANDOM_SEED.

SPIKEBENCH_GATED=1 (the interleaved design): one long-lived Locust per spike, paused and resumed by
the harness. SIGUSR2 closes a gate that every user passes before each task; once every user waits
at it (nothing in flight), the rows so far are appended to requests-<pid>.csv and ack.json says
so. SIGUSR1 opens the gate. A pause costs no process start and no re-login.
A restart of the spike (a new process epoch) does not restart Locust either: before the resume the
harness writes target.json (a generation number and the spike's new URL); every user that passes
the gate after it drops its connections, sends to the new URL and forgets the items it created
(the new database copy has none of them). Its token stays valid: the copy holds the same users and
every spike signs with the parity secret.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import os
import random
import signal
import time
import tomllib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.pool
from locust import FastHttpUser, events, task
from locust.runners import MasterRunner, WorkerRunner
from realtime_users import LEDGER, make_users  # the locustfile's folder is on sys.path

SCENARIO_PATH = Path(
    os.environ.get("SPIKEBENCH_SCENARIO", Path(__file__).with_name("read_heavy.toml"))
)
OUT = Path(os.environ.get("SPIKEBENCH_OUT", "."))
WARMUP_S = float(os.environ.get("SPIKEBENCH_WARMUP_S", "0"))
MEASURE_S = float(os.environ.get("SPIKEBENCH_MEASURE_S", "60"))
SEED_USERS = int(os.environ.get("SPIKEBENCH_SEED_USERS", "1000"))
SEED_ITEMS = int(os.environ.get("SPIKEBENCH_SEED_ITEMS", "100"))
SEED_PASSWORD = os.environ.get("SPIKEBENCH_SEED_PASSWORD", "spikebench-password")
RANDOM_SEED = int(os.environ.get("SPIKEBENCH_RANDOM_SEED", "1"))
GATED = os.environ.get("SPIKEBENCH_GATED") == "1"
# Gated, closed model: after every pause each user drops its keep-alive connection, so the split
# of the 16 connections over a spike's workers is drawn anew per slice instead of once per start
# (one start of litestar had all 16 on one worker and ran 20 % faster: README, "Epochs").
RECONNECT = os.environ.get("SPIKEBENCH_RECONNECT") == "1"

SCENARIO: dict[str, Any] = tomllib.loads(SCENARIO_PATH.read_text())
SETTINGS: dict[str, Any] = SCENARIO["scenario"]
# The open (arrival-rate) model: SPIKEBENCH_MODEL overrides the file (capacity searches run any
# scenario's task mix open); the rate comes from rate.json, which the harness writes before it
# resumes the gate, or from [load] rate.
LOAD: dict[str, Any] = SCENARIO.get("load", {})
OPEN = os.environ.get("SPIKEBENCH_MODEL", LOAD.get("model", "closed")) == "open"
ARRIVAL = LOAD.get("arrival", "poisson")
MAX_IN_FLIGHT = int(LOAD.get("max_in_flight", 1000))
IDENTITIES = int(LOAD.get("identities", 16))
# closed model: users share IDENTITIES seeded users only when the file sets [load] identities
SHARED_IDENTITIES = not OPEN and "identities" in LOAD
# seeded user -> its Authorization header, once the first of its users has logged in
_tokens: dict[int, gevent.event.AsyncResult] = {}
# The realtime scenario (scenarios/realtime_users.py): WebSocket subscribers and marked writes.
REALTIME: dict[str, Any] = SCENARIO.get("realtime", {})
_user_numbers = itertools.count()

# -- raw timings ---------------------------------------------------------------------------------

_rows: list[tuple[float, str, str, int, float, int, float]] = []


@events.request.add_listener
def _record(
    request_type: str,
    name: str,
    response_time: float,
    response: Any = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    status = int(getattr(response, "status_code", 0) or 0)
    ok = exception is None and 0 < status < 400
    start = start_time or time.time()
    intended = getattr(gevent.getcurrent(), "sb_intended", None)
    if intended is not None:  # open model: latency from the intended send time (no CO)
        lag_ms = (start - intended) * 1000
        ms = response_time + lag_ms
        _rows.append((intended, request_type, name, status, ms, int(ok), lag_ms))
        return
    _rows.append((start, request_type, name, status, response_time, int(ok), 0.0))


HEADER = ["start", "method", "name", "status", "ms", "ok", "lag_ms"]


def _formatted(rows: list[tuple[float, str, str, int, float, int, float]]) -> Any:
    return (
        (f"{s:.6f}", m, n, st, f"{ms:.4f}", ok, f"{lag:.3f}") for s, m, n, st, ms, ok, lag in rows
    )


def _write_rows() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    if GATED:
        _append_rows()
        return
    with gzip.open(OUT / f"requests-{os.getpid()}.csv.gz", "wt", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(_formatted(_rows))


def _append_rows() -> None:
    """Gated mode: rows so far go to the end of a plain CSV the harness reads incrementally."""
    path = OUT / f"requests-{os.getpid()}.csv"
    new = not path.exists()
    rows, _rows[:] = list(_rows), []
    with path.open("a", newline="") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(HEADER)
        writer.writerows(_formatted(rows))


# -- the gate (interleaved design) ---------------------------------------------------------------

_gate = gevent.event.Event()
_gate.set()  # open while users spawn and log in (the warm-up); the harness pauses after it
_waiting = 0  # users parked at the closed gate
_users_alive = 0
_pauses = 0
_in_flight = 0  # open model: arrivals sent and not yet answered


def park_at_gate() -> bool:
    """Gated mode: wait here while the gate is closed, counted as parked (nothing in flight).
    True when it waited (a pause came between this user's tasks)."""
    global _waiting
    if GATED and not _gate.is_set():
        _waiting += 1
        try:
            _gate.wait()
        finally:
            _waiting -= 1
        return True
    return False


def think_at_gate(seconds: float, rng: random.Random) -> bool:
    """Think time counts as parked (nothing is in flight), so a pause need not wait for every
    think to end. A user released after a pause first finishes a random part of its think: a
    slice must not open with every user sending at once. True when a pause came."""
    global _waiting
    _waiting += 1
    paused = False
    try:
        gevent.sleep(seconds)
        while GATED and not _gate.is_set():
            paused = True
            _gate.wait()
            gevent.sleep(rng.random() * seconds)
    finally:
        _waiting -= 1
    return paused


# the spike this Locust sends to: (generation, base URL); generation 0 is the --host it started with
_target: tuple[int, str | None] = (0, None)


def _read_target() -> None:
    """target.json, written by the harness before a resume, when the spike was restarted."""
    global _target
    try:
        data = json.loads((OUT / "target.json").read_text())
        _target = (int(data["gen"]), str(data["host"]))
    except (OSError, ValueError, KeyError):
        pass


def follow_target(user: Any, forget: Callable[[], None]) -> None:
    """A user at the gate after a restart: drop its connections (their server is gone), send to
    the new URL, and `forget` what it created in the old database copy."""
    gen, host = _target
    if gen == getattr(user, "sb_target", 0) or host is None:
        return
    user.client.client.close()
    user.client.base_url = host
    user.host = host
    forget()
    user.sb_target = gen


def _resume() -> None:
    _read_target()
    _gate.set()


def _pause() -> None:
    global _pauses
    _pauses += 1
    _gate.clear()
    gevent.spawn(_ack_when_idle, _pauses)


def _ack_when_idle(seq: int) -> None:
    """Wait until every user is parked (no request in flight), flush rows, acknowledge."""
    deadline = time.monotonic() + 30
    while (
        (_waiting < _users_alive or _in_flight)
        and time.monotonic() < deadline
        and not _gate.is_set()
    ):
        gevent.sleep(0.002)
    _append_rows()
    tmp = OUT / "ack.json.tmp"
    idle = _waiting >= _users_alive and not _in_flight
    tmp.write_text(json.dumps({"seq": seq, "t": time.time(), "idle": idle}))
    os.replace(tmp, OUT / "ack.json")


if GATED:
    gevent.signal_handler(signal.SIGUSR1, _resume)
    gevent.signal_handler(signal.SIGUSR2, _pause)
    # a signal before this point would kill Locust (the default action): the harness waits for it
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ready.json").write_text(json.dumps({"pid": os.getpid(), "t": time.time()}))


@events.test_start.add_listener
def _start(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    t0 = time.time()
    OUT.mkdir(parents=True, exist_ok=True)
    window = {
        "test_start": t0,
        "measure_start": t0 + WARMUP_S,
        "measure_end": t0 + WARMUP_S + MEASURE_S,
    }
    (OUT / "window.json").write_text(json.dumps(window))
    gevent.spawn(_progress, environment, t0)


def _progress(environment: Any, t0: float) -> None:
    """One line a second for the harness's live display; Locust's own stats, not the raw rows."""
    with (OUT / "progress.jsonl").open("a") as fh:
        while environment.runner is not None and environment.runner.state != "stopped":
            total = environment.runner.stats.total
            fh.write(
                json.dumps(
                    {
                        "t": round(time.time() - t0, 3),
                        "users": environment.runner.user_count,
                        "requests": total.num_requests,
                        "failures": total.num_failures,
                        "rps": round(total.current_rps, 1),
                    }
                )
                + "\n"
            )
            fh.flush()
            gevent.sleep(1.0)


@events.quitting.add_listener
def _quit(environment: Any, **_: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):
        _write_rows()
        if REALTIME:
            subscribers = int(REALTIME.get("subscribers", 200))
            LEDGER.write(OUT, subscribers, int(SETTINGS["users"]) - subscribers)


# -- the task library ----------------------------------------------------------------------------

Task = Callable[["ScenarioUser"], None]


def _item_body(rng: random.Random) -> dict[str, Any]:
    return {
        "name": f"item {rng.randrange(10**6)}",
        "description": "made under load",
        "price": rng.randrange(0, 100_000) / 100,
    }


def get_item(user: ScenarioUser) -> None:
    user.client.get(f"/items/{user.any_item()}", headers=user.auth, name="/items/{id}")


def list_items(user: ScenarioUser) -> None:
    offset = user.rng.randrange(0, max(SEED_ITEMS - 20, 1))
    user.client.get(f"/items?limit=20&offset={offset}", headers=user.auth, name="/items")


def create_item(user: ScenarioUser) -> None:
    with user.client.post(
        "/items", json=_item_body(user.rng), headers=user.auth, name="/items", catch_response=True
    ) as resp:
        if resp.status_code == 201:
            user.created.append(resp.json()["id"])
            resp.success()
        else:
            resp.failure(f"create: HTTP {resp.status_code}")


def update_item(user: ScenarioUser) -> None:
    user.client.put(
        f"/items/{user.any_item()}",
        json=_item_body(user.rng),
        headers=user.auth,
        name="/items/{id}",
    )


def patch_item(user: ScenarioUser) -> None:
    body = {"price": user.rng.randrange(0, 100_000) / 100}
    user.client.patch(f"/items/{user.any_item()}", json=body, headers=user.auth, name="/items/{id}")


def delete_item(user: ScenarioUser) -> None:
    if not user.created:
        create_item(user)
        return
    item = user.created.pop(user.rng.randrange(len(user.created)))
    user.client.delete(f"/items/{item}", headers=user.auth, name="/items/{id}")


def quote(user: ScenarioUser) -> None:
    """Contract v2: the spike waits on the upstream pricing stub (scenarios need `quote`)."""
    user.client.get(f"/items/{user.any_item()}/quote", headers=user.auth, name="/items/{id}/quote")


def get_me(user: ScenarioUser) -> None:
    user.client.get("/me", headers=user.auth, name="/me")


def register(user: ScenarioUser) -> None:
    name = "lt_" + uuid.uuid4().hex[:24]
    user.client.post(
        "/auth/register", json={"username": name, "password": SEED_PASSWORD}, name="/auth/register"
    )


def live_write(user: Any) -> None:
    """realtime: a LiveWriter's marked PATCH of a subscribed user's item."""
    user.live_write()


def login(user: ScenarioUser) -> None:
    user.client.post(
        "/auth/login",
        json={"username": user.seed_username(), "password": SEED_PASSWORD},
        name="/auth/login",
    )


TASKS: dict[str, Task] = {
    f.__name__: f
    for f in (
        get_item,
        list_items,
        create_item,
        update_item,
        patch_item,
        delete_item,
        get_me,
        register,
        login,
        quote,
        live_write,
    )
}

_unknown = set(SCENARIO.get("tasks", {})) - set(TASKS)
if _unknown:
    raise SystemExit(
        f"{SCENARIO_PATH.name}: unknown tasks {sorted(_unknown)}; known: {sorted(TASKS)}"
    )


def login_header(client: Any, seed_user: int) -> dict[str, str]:
    """Log in as a seeded user; its Authorization header, or none when the login failed."""
    resp = client.post(
        "/auth/login",
        json={"username": f"user{seed_user:04d}", "password": SEED_PASSWORD},
        name="/auth/login",
    )
    if resp.status_code == 200:
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}
    return {}


def shared_login(client: Any, seed_user: int) -> dict[str, str]:
    """One login per shared identity: the users spawned meanwhile wait for its token."""
    result = _tokens.get(seed_user)
    if result is None:
        result = _tokens[seed_user] = gevent.event.AsyncResult()
        result.set(login_header(client, seed_user))
    return dict(result.get())


class ScenarioUser(FastHttpUser):
    """Runs the scenario named by SPIKEBENCH_SCENARIO with the weights it declares."""

    # the open model runs OpenArrivals, realtime its own two classes: one kind of user runs
    abstract = OPEN or bool(REALTIME)

    tasks = {TASKS[name]: int(weight) for name, weight in SCENARIO["tasks"].items()}
    think = tuple(SETTINGS.get("wait", [0.0, 0.0]))

    def wait_time(self) -> float:
        """Think time, then (gated mode) the gate: the last thing before the next task."""
        lo, hi = self.think
        if hi > 0:
            paused = think_at_gate(lo + self.rng.random() * (hi - lo), self.rng)
        else:
            paused = park_at_gate()
        if paused:
            follow_target(self, self.created.clear)
            if RECONNECT:
                self.client.client.close()  # nothing in flight; the next request connects anew
        return 0.0

    def on_stop(self) -> None:
        global _users_alive
        _users_alive -= 1

    def on_start(self) -> None:
        global _users_alive
        _users_alive += 1
        number = next(_user_numbers)
        self.rng = random.Random(RANDOM_SEED * 100_003 + number + os.getpid())
        self.seed_user = 1 + (number * 7919 + self.rng.randrange(SEED_USERS)) % SEED_USERS
        if SHARED_IDENTITIES:
            self.seed_user = 1 + ((number % IDENTITIES) * 7919) % SEED_USERS
        self.created: list[int] = []
        self.auth: dict[str, str] = {}
        if SETTINGS.get("login_on_start", True):
            if SHARED_IDENTITIES:
                self.auth = shared_login(self.client, self.seed_user)
            else:
                self.auth = login_header(self.client, self.seed_user)
        lo, hi = self.think
        if hi > 0:  # with think time, users start out of step, not with one request each at once
            think_at_gate(self.rng.random() * hi, self.rng)

    def seed_username(self) -> str:
        """Any seeded user: logins in auth_storm spread over the whole table."""
        return f"user{self.rng.randrange(1, SEED_USERS + 1):04d}"

    def any_item(self) -> int:
        """One of this user's seeded items, or one it created."""
        if self.created and self.rng.random() < 0.5:
            return self.rng.choice(self.created)
        first = (self.seed_user - 1) * SEED_ITEMS + 1
        return first + self.rng.randrange(SEED_ITEMS)


# -- the open model ------------------------------------------------------------------------------


class Identity:
    """A seeded user the open model sends as: what the task functions need of a user."""

    def __init__(self, client: Any, number: int) -> None:
        self.client = client
        self.rng = random.Random(RANDOM_SEED * 100_003 + number + os.getpid())
        self.seed_user = 1 + (number * 7919 + self.rng.randrange(SEED_USERS)) % SEED_USERS
        self.created: list[int] = []
        self.auth: dict[str, str] = {}

    seed_username = ScenarioUser.seed_username
    any_item = ScenarioUser.any_item


def current_rate() -> float:
    """req/s: rate.json (written by the harness before a resume), else [load] rate."""
    try:
        return float(json.loads((OUT / "rate.json").read_text())["rate"])
    except (OSError, ValueError, KeyError):
        return float(LOAD.get("rate", 10.0))


class OpenArrivals(FastHttpUser):
    """One scheduler that sends at intended times (Poisson or constant gaps) without waiting for
    answers, up to MAX_IN_FLIGHT at once; each request's latency counts from its intended time, so
    a stalled server shows as long latencies for every arrival it held up (no coordinated
    omission). A send held back by the cap is late, and its lag is recorded."""

    abstract = not OPEN or bool(REALTIME)
    concurrency = MAX_IN_FLIGHT
    weights = [(TASKS[name], int(w)) for name, w in SCENARIO["tasks"].items()]

    def on_start(self) -> None:
        global _users_alive
        _users_alive += 1
        self.rng = random.Random(RANDOM_SEED)
        self.pool = gevent.pool.Pool(MAX_IN_FLIGHT)
        self.identities = [Identity(self.client, n) for n in range(IDENTITIES)]
        if SETTINGS.get("login_on_start", True):
            for ident in self.identities:
                ident.auth = login_header(self.client, ident.seed_user)

    def on_stop(self) -> None:
        global _users_alive
        _users_alive -= 1

    def wait_time(self) -> float:
        return 0.0

    def _send(self, intended: float) -> None:
        global _in_flight
        gevent.getcurrent().sb_intended = intended  # type: ignore[attr-defined]
        try:
            ident = self.rng.choice(self.identities)
            task = self.rng.choices([t for t, _ in self.weights], [w for _, w in self.weights])[0]
            task(ident)  # type: ignore[arg-type]
        finally:
            _in_flight -= 1

    def forget_created(self) -> None:
        for ident in self.identities:
            ident.created.clear()

    @task
    def schedule(self) -> None:
        global _in_flight
        if park_at_gate():
            follow_target(self, self.forget_created)
        rate = max(current_rate(), 1e-3)
        t_next = time.time()
        while not GATED or _gate.is_set():
            t_next += self.rng.expovariate(rate) if ARRIVAL == "poisson" else 1.0 / rate
            delay = t_next - time.time()
            if delay > 0:
                gevent.sleep(delay)
            if GATED and not _gate.is_set():
                return
            _in_flight += 1
            self.pool.spawn(self._send, t_next)  # blocks while MAX_IN_FLIGHT are out: late


# -- the realtime scenario -----------------------------------------------------------------------


def _count_alive(delta: int) -> None:
    global _users_alive
    _users_alive += delta


if REALTIME:
    Subscriber, LiveWriter = make_users(
        REALTIME, login_header, park_at_gate, _count_alive, SEED_USERS, SEED_ITEMS
    )
