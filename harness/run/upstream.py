"""The pricing-service stub behind `GET /items/{id}/quote` (spikes/contract/README.md, v2).

An aiohttp server on one event loop: a waiting request is a sleeping coroutine, so one core holds
thousands of them (llhttp parses in C, which keeps the stub's own CPU small next to Locust's on
the load-generator CPUs). Each quote is answered after a delay drawn from a distribution
(`fixed:MS`, `uniform:LO:HI`, `lognormal:MEDIAN:P99`); a fraction of answers can be 503s.

Tests steer single items through the control API, so concurrent tests never share a behaviour:

    PUT    /control/items/{item_id}  {"status": 503}, {"delay_ms": 3000}, {"quote": 12.5} or
                                     {"drop": true} (the connection is cut, no answer)
    DELETE /control/items/{item_id}
    GET    /control/stats            {"received", "in_flight", "peak_in_flight", "served", "errors"}
    POST   /control/reset            forget every rule and counter

    python -m harness.run.upstream --port 8090 --delay lognormal:50:200 --error-rate 0.01
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import resource
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from statistics import NormalDist
from typing import Any

from aiohttp import web

DEFAULT_DELAY = "lognormal:50:200"
Z99 = NormalDist().inv_cdf(0.99)
MARKUP = Decimal("1.1")  # the default quote: the price plus 10 %, to the cent
CENT = Decimal("0.01")
RULE_KEYS = frozenset({"status", "delay_ms", "quote", "drop"})


@dataclass(frozen=True)
class Delay:
    """A delay distribution in milliseconds, parsed from `kind:a[:b]`."""

    kind: str
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Delay:
        kind, _, rest = spec.partition(":")
        try:
            args = [float(x) for x in rest.split(":")] if rest else []
        except ValueError:
            raise ValueError(f"delay {spec!r}: numbers expected after the kind") from None
        wanted = {"fixed": 1, "uniform": 2, "lognormal": 2}
        if kind not in wanted or len(args) != wanted[kind] or any(x < 0 for x in args):
            raise ValueError(
                f"delay {spec!r}: use fixed:MS, uniform:LO:HI or lognormal:MEDIAN:P99 (ms >= 0)"
            )
        if kind != "fixed" and args[1] < args[0]:
            raise ValueError(f"delay {spec!r}: the second number may not be below the first")
        if kind == "lognormal" and args[0] <= 0:
            raise ValueError(f"delay {spec!r}: a lognormal median must be positive")
        return cls(kind, *args)

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        # median = e^mu; p99 = e^(mu + z99 sigma)
        sigma = (math.log(self.b) - math.log(self.a)) / Z99 if self.b > self.a else 0.0
        return rng.lognormvariate(math.log(self.a), sigma)

    def __str__(self) -> str:
        args = [self.a] if self.kind == "fixed" else [self.a, self.b]
        return ":".join([self.kind, *(f"{x:g}" for x in args)])


def render(value: Decimal) -> int | float:
    """The contract's price rendering: `3`, `12.5`, never `3.0` (json renders floats by repr)."""
    value = value.quantize(CENT, rounding=ROUND_HALF_EVEN)
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass
class Stub:
    """Configuration, per-item rules and counters of one stub process."""

    delay: Delay
    error_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    rules: dict[int, dict[str, Any]] = field(default_factory=dict)
    received: int = 0  # quote requests that arrived (answered or not)
    in_flight: int = 0
    peak_in_flight: int = 0
    served: int = 0
    errors: int = 0

    def stats(self) -> dict[str, int]:
        return {
            "received": self.received,
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "served": self.served,
            "errors": self.errors,
        }

    async def quote(self, request: web.Request) -> web.Response:
        self.received += 1
        try:
            item_id = int(request.query["item_id"])
            price = Decimal(request.query["price"])
        except (KeyError, ValueError, InvalidOperation):
            return web.json_response({"error": "bad_request"}, status=400)
        rule = self.rules.get(item_id, {})
        delay_ms = rule.get("delay_ms")
        if delay_ms is None:
            delay_ms = self.delay.sample(self.rng)
        status = rule.get("status")
        if status is None and self.error_rate and self.rng.random() < self.error_rate:
            status = 503
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(delay_ms / 1000)
        finally:
            self.in_flight -= 1
        self.served += 1
        if rule.get("drop") and request.transport is not None:
            self.errors += 1
            request.transport.abort()  # the connection dies unanswered: "unreachable" mid-call
            return web.Response(status=204)
        if status is not None and status != 200:
            self.errors += 1
            return web.json_response({"error": "injected", "status": status}, status=status)
        quote = rule.get("quote", render(price * MARKUP))
        return web.json_response({"item_id": item_id, "quote": quote, "currency": "EUR"})

    async def set_rule(self, request: web.Request) -> web.Response:
        try:
            item_id = int(request.match_info["item_id"])
            rule = await request.json()
        except ValueError:
            return web.json_response({"error": "bad_request"}, status=400)
        if not isinstance(rule, dict) or set(rule) - RULE_KEYS:
            return web.json_response({"error": f"keys: {sorted(RULE_KEYS)}"}, status=400)
        self.rules[item_id] = rule
        return web.json_response({"item_id": item_id, **rule})

    async def drop_rule(self, request: web.Request) -> web.Response:
        self.rules.pop(int(request.match_info["item_id"]), None)
        return web.Response(status=204)

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def reset(self, request: web.Request) -> web.Response:
        self.rules.clear()
        self.peak_in_flight = self.in_flight
        self.received = self.served = self.errors = 0
        return web.json_response(self.stats())

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "delay": str(self.delay)})


def make_app(stub: Stub) -> web.Application:
    app = web.Application()
    app.add_routes(
        [
            web.get("/quote", stub.quote),
            web.get("/control/health", stub.health),
            web.get("/control/stats", stub.get_stats),
            web.post("/control/reset", stub.reset),
            web.put(r"/control/items/{item_id:\d+}", stub.set_rule),
            web.delete(r"/control/items/{item_id:\d+}", stub.drop_rule),
        ]
    )
    return app


def raise_fd_limit() -> None:
    """Thousands of waiting connections need as many descriptors: lift the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))


async def serve(stub: Stub, host: str, port: int) -> None:
    runner = web.AppRunner(make_app(stub), access_log=None, handle_signals=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    bound = runner.addresses[0][1]
    # the ready line: the harness reads the port from it (--port 0 lets the OS choose)
    print(f"upstream stub listening on http://{host}:{bound} delay={stub.delay}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.run.upstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default %(default)s)")
    parser.add_argument("--port", type=int, default=8090, help="0: any (default %(default)s)")
    parser.add_argument(
        "--delay", default=DEFAULT_DELAY,
        help="fixed:MS, uniform:LO:HI or lognormal:MEDIAN:P99 (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--error-rate", type=float, default=0.0,
        help="fraction of quotes answered 503 (default %(default)s)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: none)")
    args = parser.parse_args(argv)
    try:
        delay = Delay.parse(args.delay)
    except ValueError as exc:
        parser.error(str(exc))
    if not 0.0 <= args.error_rate <= 1.0:
        parser.error("--error-rate must be between 0 and 1")
    raise_fd_limit()
    stub = Stub(delay, args.error_rate, random.Random(args.seed))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(stub, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
