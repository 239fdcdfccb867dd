"""GET /items/{id}/quote (contract v2, feature `quote`) against the real upstream stub.

Each test steers only its own fresh item through the stub's control API, so the tests neither
depend on the stub's default behaviour nor leave a rule behind for the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.manifest import Parity
from harness.run.upstream_proc import UpstreamStub
from tests.conformance.conftest import ExternalServer, Spike, User, assert_error


@pytest.fixture(autouse=True)
def needs_quote(spike: Spike) -> None:
    spike.require("quote")
    if isinstance(spike.server, ExternalServer):
        pytest.skip("external target: the suite cannot point it at its upstream stub")


@pytest.fixture
def rules(upstream: UpstreamStub) -> Iterator[Callable[..., None]]:
    """set a stub rule for an item id; every rule set is dropped after the test."""
    touched: list[int] = []

    def set_rule(item_id: int, **rule: Any) -> None:
        touched.append(item_id)
        upstream.set_rule(item_id, **rule)

    yield set_rule
    for item_id in touched:
        upstream.drop_rule(item_id)


def quote(spike: Spike, item_id: Any, owner: User | None) -> Any:
    headers = owner.headers if owner else {}
    return spike.client.get(f"/items/{item_id}/quote", headers=headers)


def test_quote_passes_the_upstream_quote_on(
    spike: Spike, user: User, make_item: Callable[..., dict[str, Any]], rules: Callable[..., None]
) -> None:
    item = make_item(user, price=12.5)
    rules(item["id"], quote=13.75)
    resp = quote(spike, item["id"], user)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json() == {"item_id": item["id"], "price": 12.5, "quote": 13.75}


def test_quote_default_and_integer_rendering(
    spike: Spike, user: User, make_item: Callable[..., dict[str, Any]], rules: Callable[..., None]
) -> None:
    """The stub's own quote (price + 10 %) and whole numbers rendered without a fraction."""
    item = make_item(user, price=10)
    resp = quote(spike, item["id"], user)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"item_id": item["id"], "price": 10, "quote": 11}
    assert b'"quote":11' in resp.content.replace(b" ", b"")
    rules(item["id"], quote=7)
    assert quote(spike, item["id"], user).json()["quote"] == 7


@pytest.mark.parametrize("status", [500, 503, 404])
def test_upstream_error_status_is_502(
    spike: Spike,
    user: User,
    make_item: Callable[..., dict[str, Any]],
    rules: Callable[..., None],
    status: int,
) -> None:
    item = make_item(user)
    rules(item["id"], status=status)
    assert_error(quote(spike, item["id"], user), 502, "upstream_error")


def test_upstream_cut_connection_is_502(
    spike: Spike, user: User, make_item: Callable[..., dict[str, Any]], rules: Callable[..., None]
) -> None:
    item = make_item(user)
    rules(item["id"], drop=True)
    assert_error(quote(spike, item["id"], user), 502, "upstream_error")


def test_upstream_slower_than_the_timeout_is_504(
    spike: Spike,
    user: User,
    make_item: Callable[..., dict[str, Any]],
    rules: Callable[..., None],
    parity: Parity,
) -> None:
    timeout_s = parity.upstream_timeout_ms / 1000
    item = make_item(user)
    rules(item["id"], delay_ms=parity.upstream_timeout_ms + 2000)
    started = time.monotonic()
    resp = quote(spike, item["id"], user)
    elapsed = time.monotonic() - started
    assert_error(resp, 504, "upstream_timeout")
    assert timeout_s * 0.9 <= elapsed < timeout_s + 1.5, elapsed


def test_quote_within_the_timeout_is_200(
    spike: Spike,
    user: User,
    make_item: Callable[..., dict[str, Any]],
    rules: Callable[..., None],
    parity: Parity,
) -> None:
    item = make_item(user, price=1)
    rules(item["id"], delay_ms=parity.upstream_timeout_ms / 4, quote=2)
    resp = quote(spike, item["id"], user)
    assert resp.status_code == 200, resp.text
    assert resp.json()["quote"] == 2


@pytest.mark.parametrize(
    "header", [None, "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "tampered"], ids=str
)
def test_quote_needs_a_valid_token(
    spike: Spike,
    user: User,
    make_item: Callable[..., dict[str, Any]],
    upstream: UpstreamStub,
    header: str | None,
) -> None:
    item = make_item(user)
    before = upstream.stats()["received"]
    if header == "tampered":  # a valid token with its signature changed
        token = user.headers["Authorization"]
        header = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    headers = {"Authorization": header} if header else {}
    resp = spike.client.get(f"/items/{item['id']}/quote", headers=headers)
    assert_error(resp, 401, "not_authenticated")
    assert upstream.stats()["received"] == before, "a 401 must not reach the upstream"


def test_bad_token_on_unknown_item_is_401(spike: Spike) -> None:
    resp = spike.client.get("/items/abc/quote", headers={"Authorization": "Bearer x"})
    assert_error(resp, 401, "not_authenticated")


@pytest.mark.parametrize("item_id", ["999999999", "abc", "0", "-1", "99999999999999999999"])
def test_unknown_item_is_404(
    spike: Spike, user: User, upstream: UpstreamStub, item_id: str
) -> None:
    before = upstream.stats()["received"]
    assert_error(quote(spike, item_id, user), 404, "not_found")
    assert upstream.stats()["received"] == before, "a 404 must not reach the upstream"


def test_another_users_item_is_404(
    spike: Spike,
    make_user: Callable[[], User],
    make_item: Callable[..., dict[str, Any]],
    upstream: UpstreamStub,
) -> None:
    owner, other = make_user(), make_user()
    item = make_item(owner)
    before = upstream.stats()["received"]
    assert_error(quote(spike, item["id"], other), 404, "not_found")
    assert upstream.stats()["received"] == before, "a 404 must not reach the upstream"
    assert quote(spike, item["id"], owner).status_code == 200


def test_quote_is_get_only(spike: Spike, user: User, make_item: Callable[..., Any]) -> None:
    item = make_item(user)
    resp = spike.client.post(f"/items/{item['id']}/quote", headers=user.headers)
    assert_error(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers.get("allow", ""), resp.headers
