"""The upstream stub (harness/run/upstream.py): its delay distributions on a fixed seed, its
error injection and per-item rules, and that one process holds 2,000 waiting requests at once."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from pathlib import Path

import aiohttp
import pytest

from harness.run.upstream import Delay, render
from harness.run.upstream_proc import UpstreamStub


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def test_lognormal_has_the_configured_median_and_p99() -> None:
    rng = random.Random(7)
    draws = [Delay.parse("lognormal:50:200").sample(rng) for _ in range(100_000)]
    assert quantile(draws, 0.5) == pytest.approx(50, rel=0.03)
    assert quantile(draws, 0.99) == pytest.approx(200, rel=0.05)
    assert min(draws) > 0


def test_uniform_and_fixed() -> None:
    rng = random.Random(7)
    draws = [Delay.parse("uniform:10:30").sample(rng) for _ in range(20_000)]
    assert min(draws) >= 10 and max(draws) <= 30
    assert quantile(draws, 0.5) == pytest.approx(20, rel=0.03)
    assert quantile(draws, 0.9) == pytest.approx(28, rel=0.03)
    assert Delay.parse("fixed:5").sample(rng) == 5.0
    assert str(Delay.parse("lognormal:50:200")) == "lognormal:50:200"


def test_same_seed_same_delays() -> None:
    delay = Delay.parse("lognormal:50:200")
    a, b = random.Random(3), random.Random(3)
    assert [delay.sample(a) for _ in range(50)] == [delay.sample(b) for _ in range(50)]


@pytest.mark.parametrize(
    "spec", ["", "fixed", "fixed:x", "uniform:5", "uniform:9:3", "lognormal:0:10", "normal:1:2"]
)
def test_bad_delay_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        Delay.parse(spec)


def test_render_follows_the_price_rule() -> None:
    from decimal import Decimal

    assert render(Decimal("11.000")) == 11 and isinstance(render(Decimal("11.000")), int)
    assert render(Decimal("12.50")) == 12.5
    assert render(Decimal("11.055")) == 11.06  # half-even to the cent


@pytest.fixture
def stub(tmp_path: Path, request: pytest.FixtureRequest) -> UpstreamStub:
    options = getattr(request, "param", {})
    started = UpstreamStub(tmp_path / "upstream.log", seed=1, **options).start()
    request.addfinalizer(started.stop)
    return started


async def _get_all(url: str, count: int) -> list[int]:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int) -> int:
            async with session.get(url, params={"item_id": str(i), "price": "10"}) as resp:
                await resp.read()
                return resp.status

        return await asyncio.gather(*(one(i) for i in range(count)))


@pytest.mark.parametrize("stub", [{"delay": "fixed:0", "error_rate": 0.3}], indirect=True)
def test_error_rate_injects_that_share_of_503s(stub: UpstreamStub) -> None:
    statuses = asyncio.run(_get_all(stub.url + "/quote", 1000))
    share = statuses.count(503) / len(statuses)
    assert set(statuses) == {200, 503}
    assert share == pytest.approx(0.3, abs=0.05)
    assert stub.stats()["errors"] == statuses.count(503)


@pytest.mark.parametrize("stub", [{"delay": "fixed:0"}], indirect=True)
def test_rules_steer_one_item_only(stub: UpstreamStub) -> None:
    import json
    import urllib.error
    import urllib.request

    def get(item: int) -> tuple[int, object]:
        try:
            with urllib.request.urlopen(f"{stub.url}/quote?item_id={item}&price=10.05") as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, None

    assert get(1) == (200, {"item_id": 1, "quote": 11.06, "currency": "EUR"})
    stub.set_rule(2, status=500)
    stub.set_rule(3, quote=4)
    stub.set_rule(4, delay_ms=300)
    assert get(2)[0] == 500
    assert get(3) == (200, {"item_id": 3, "quote": 4, "currency": "EUR"})
    started = time.monotonic()
    assert get(4)[0] == 200 and time.monotonic() - started >= 0.3
    assert get(1)[0] == 200
    stub.drop_rule(2)
    assert get(2)[0] == 200
    assert stub.stats()["received"] == 6


@pytest.mark.timeout(120)
@pytest.mark.parametrize("stub", [{"delay": "fixed:1500"}], indirect=True)
def test_holds_2000_concurrent_waiting_requests(stub: UpstreamStub) -> None:
    """2,000 requests sent at once all wait their 1.5 s together: one process, one loop."""
    started = time.monotonic()
    statuses = asyncio.run(_get_all(stub.url + "/quote", 2000))
    elapsed = time.monotonic() - started
    assert statuses == [200] * 2000
    assert stub.stats()["peak_in_flight"] >= 2000
    # serially this would take 50 min; a stub that queued them would show it in the wall time
    assert elapsed < 1.5 + 8, elapsed
