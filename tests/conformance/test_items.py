"""Item CRUD, pagination and validation: identical on every spike."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.conformance.conftest import User, assert_error

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
ITEM_KEYS = {"id", "name", "description", "price", "created_at", "updated_at"}
MakeItem = Callable[..., dict[str, Any]]


def parse_time(value: str) -> datetime:
    assert RFC3339.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_item(body: dict[str, Any]) -> None:
    assert set(body) == ITEM_KEYS, body
    assert isinstance(body["id"], int)
    assert isinstance(body["price"], int | float) and not isinstance(body["price"], bool)
    created, updated = parse_time(body["created_at"]), parse_time(body["updated_at"])
    assert created.tzinfo is not None and updated >= created


def test_create_item(client: httpx.Client, user: User) -> None:
    resp = client.post(
        "/items",
        json={"name": "lamp", "description": "desk lamp", "price": 12.5},
        headers=user.headers,
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert_item(body)
    assert (body["name"], body["description"], body["price"]) == ("lamp", "desk lamp", 12.5)


@pytest.mark.parametrize(
    ("fields", "expected_price"),
    [
        ({"price": 3}, 3),
        ({"price": 0}, 0),
        ({"price": 1000000}, 1000000),
        ({"price": 0.01}, 0.01),
        ({"price": 999999.99}, 999999.99),
        ({"price": 1.10}, 1.1),
    ],
    ids=["int", "zero", "max", "cent", "max-cents", "trailing-zero"],
)
def test_price_bounds_accepted(
    client: httpx.Client, user: User, fields: dict[str, Any], expected_price: float
) -> None:
    resp = client.post("/items", json={"name": "n", **fields}, headers=user.headers)
    assert resp.status_code == 201, resp.text
    assert resp.json()["price"] == pytest.approx(expected_price, abs=1e-9)


def test_description_defaults_to_null_and_limits(client: httpx.Client, user: User) -> None:
    resp = client.post("/items", json={"name": "n", "price": 1}, headers=user.headers)
    assert resp.status_code == 201 and resp.json()["description"] is None
    resp = client.post(
        "/items",
        json={"name": "n" * 100, "price": 1, "description": "d" * 1000},
        headers=user.headers,
    )
    assert resp.status_code == 201, resp.text
    resp = client.post(
        "/items", json={"name": "n", "price": 1, "description": None}, headers=user.headers
    )
    assert resp.status_code == 201 and resp.json()["description"] is None


INVALID_ITEMS = {
    "missing-name": {"price": 1},
    "missing-price": {"name": "n"},
    "empty-name": {"name": "", "price": 1},
    "long-name": {"name": "n" * 101, "price": 1},
    "int-name": {"name": 5, "price": 1},
    "null-name": {"name": None, "price": 1},
    "long-description": {"name": "n", "price": 1, "description": "d" * 1001},
    "int-description": {"name": "n", "price": 1, "description": 7},
    "string-price": {"name": "n", "price": "12"},
    "bool-price": {"name": "n", "price": True},
    "null-price": {"name": "n", "price": None},
    "negative-price": {"name": "n", "price": -0.01},
    "too-high-price": {"name": "n", "price": 1000000.01},
    "three-decimals": {"name": "n", "price": 1.005},
    "huge-price": {"name": "n", "price": 1e300},
    "unknown-field": {"name": "n", "price": 1, "colour": "red"},
    "owner-id": {"name": "n", "price": 1, "owner_id": 1},
    "id": {"name": "n", "price": 1, "id": 5},
    "nul-byte": {"name": "a\u0000b", "price": 1},
    "array-body": [{"name": "n", "price": 1}],
    "string-body": "n",
}


@pytest.mark.parametrize("body", INVALID_ITEMS.values(), ids=INVALID_ITEMS.keys())
def test_create_validation_is_422(client: httpx.Client, user: User, body: Any) -> None:
    assert_error(client.post("/items", json=body, headers=user.headers), 422, "validation_error")


@pytest.mark.parametrize(
    "raw",
    [b"{", b"{'name': 'n'}", b"NaN-ish", b'{"name": "n", "price": NaN}'],
    ids=["truncated", "single-quotes", "garbage", "nan"],
)
def test_malformed_json_is_400(client: httpx.Client, user: User, raw: bytes) -> None:
    headers = {**user.headers, "content-type": "application/json"}
    # NaN is not JSON (RFC 8259): a 400 like any other malformed body (contract decision).
    assert_error(client.post("/items", content=raw, headers=headers), 400, "malformed_json")


@pytest.mark.parametrize("raw", [b"", b"null"], ids=["empty", "null"])
def test_empty_or_null_body_is_422(client: httpx.Client, user: User, raw: bytes) -> None:
    """No body, or JSON null, is a missing required body, not malformed JSON (contract README)."""
    headers = {**user.headers, "content-type": "application/json"}
    assert_error(client.post("/items", content=raw, headers=headers), 422, "validation_error")


def test_get_item(client: httpx.Client, user: User, make_item: MakeItem) -> None:
    item = make_item(user, description="x")
    resp = client.get(f"/items/{item['id']}", headers=user.headers)
    assert resp.status_code == 200
    assert resp.json() == item


@pytest.mark.parametrize(
    "item_id", ["999999999", "abc", "0", "-1", "99999999999999999999", "1.5", "1e3"]
)
def test_unknown_or_invalid_id_is_404(client: httpx.Client, user: User, item_id: str) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = {"name": "n", "price": 1} if method in ("PUT", "PATCH") else None
        resp = client.request(method, f"/items/{item_id}", json=body, headers=user.headers)
        assert_error(resp, 404, "not_found")


def test_put_replaces_whole_item(client: httpx.Client, user: User, make_item: MakeItem) -> None:
    item = make_item(user, description="old")
    resp = client.put(
        f"/items/{item['id']}", json={"name": "new", "price": 2}, headers=user.headers
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert_item(body)
    assert (body["name"], body["price"], body["description"]) == ("new", 2, None)
    assert body["created_at"] == item["created_at"]
    assert parse_time(body["updated_at"]) > parse_time(item["updated_at"])
    assert client.get(f"/items/{item['id']}", headers=user.headers).json() == body


@pytest.mark.parametrize(
    "body",
    [
        {"price": 2},
        {"name": "n"},
        {"name": "n", "price": "2"},
        {"name": "n", "price": 2, "extra": 1},
        {"name": "", "price": 2},
    ],
    ids=["no-name", "no-price", "string-price", "unknown-field", "empty-name"],
)
def test_put_validation_is_422(
    client: httpx.Client, user: User, make_item: MakeItem, body: dict[str, Any]
) -> None:
    item = make_item(user)
    resp = client.put(f"/items/{item['id']}", json=body, headers=user.headers)
    assert_error(resp, 422, "validation_error")
    assert client.get(f"/items/{item['id']}", headers=user.headers).json() == item


def test_patch_updates_only_given_fields(
    client: httpx.Client, user: User, make_item: MakeItem
) -> None:
    item = make_item(user, description="keep")
    resp = client.patch(f"/items/{item['id']}", json={"price": 5.25}, headers=user.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["name"], body["description"], body["price"]) == ("widget", "keep", 5.25)
    assert parse_time(body["updated_at"]) > parse_time(item["updated_at"])
    resp = client.patch(f"/items/{item['id']}", json={"description": None}, headers=user.headers)
    assert resp.status_code == 200 and resp.json()["description"] is None


def test_patch_empty_body_changes_nothing(
    client: httpx.Client, user: User, make_item: MakeItem
) -> None:
    item = make_item(user)
    resp = client.patch(f"/items/{item['id']}", json={}, headers=user.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {k: body[k] for k in ("id", "name", "description", "price", "created_at")} == {
        k: item[k] for k in ("id", "name", "description", "price", "created_at")
    }


@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"price": None},
        {"price": "1"},
        {"price": False},
        {"name": ""},
        {"owner_id": 2},
        {"description": "d" * 1001},
        [],
    ],
    ids=[
        "null-name",
        "null-price",
        "string-price",
        "bool-price",
        "empty-name",
        "owner-id",
        "long-description",
        "array",
    ],
)
def test_patch_validation_is_422(
    client: httpx.Client, user: User, make_item: MakeItem, body: Any
) -> None:
    item = make_item(user)
    resp = client.patch(f"/items/{item['id']}", json=body, headers=user.headers)
    assert_error(resp, 422, "validation_error")


def test_delete(client: httpx.Client, user: User, make_item: MakeItem) -> None:
    item = make_item(user)
    resp = client.delete(f"/items/{item['id']}", headers=user.headers)
    assert resp.status_code == 204
    assert resp.content == b""
    assert_error(client.get(f"/items/{item['id']}", headers=user.headers), 404, "not_found")
    assert_error(client.delete(f"/items/{item['id']}", headers=user.headers), 404, "not_found")


def test_list_paginates_in_id_order(
    client: httpx.Client, make_user: Callable[[], User], make_item: MakeItem
) -> None:
    owner = make_user()
    ids = [make_item(owner, name=f"item {i}")["id"] for i in range(25)]
    resp = client.get("/items", headers=owner.headers)
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert set(page) == {"items", "total", "limit", "offset"}
    assert (page["total"], page["limit"], page["offset"]) == (25, 20, 0)
    assert [i["id"] for i in page["items"]] == ids[:20]
    for item in page["items"]:
        assert_item(item)
    page = client.get("/items", params={"limit": 10, "offset": 20}, headers=owner.headers).json()
    assert [i["id"] for i in page["items"]] == ids[20:]
    assert (page["total"], page["limit"], page["offset"]) == (25, 10, 20)
    page = client.get("/items", params={"limit": 100, "offset": 25}, headers=owner.headers).json()
    assert page["items"] == [] and page["total"] == 25
    page = client.get("/items", params={"limit": 1}, headers=owner.headers).json()
    assert [i["id"] for i in page["items"]] == ids[:1]


def test_list_of_new_user_is_empty(client: httpx.Client, user: User) -> None:
    resp = client.get("/items", headers=user.headers)
    assert resp.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": -1},
        {"limit": "abc"},
        {"offset": -1},
        {"offset": "x"},
        {"limit": "1.5"},
    ],
    ids=[
        "limit-0",
        "limit-101",
        "limit-neg",
        "limit-str",
        "offset-neg",
        "offset-str",
        "limit-float",
    ],
)
def test_list_bad_query_is_422(client: httpx.Client, user: User, params: dict[str, Any]) -> None:
    assert_error(client.get("/items", params=params, headers=user.headers), 422, "validation_error")


def test_seeded_user_sees_exactly_their_items(client: httpx.Client) -> None:
    token = client.post(
        "/auth/login", json={"username": "user0002", "password": "spikebench-password"}
    ).json()["access_token"]
    page = client.get("/items", params={"limit": 100}, headers={"Authorization": f"Bearer {token}"})
    body = page.json()
    assert body["total"] == 5 and len(body["items"]) == 5
    assert [i["id"] for i in body["items"]] == [6, 7, 8, 9, 10]


def test_other_users_items_are_404_on_every_verb(
    client: httpx.Client, make_user: Callable[[], User], make_item: MakeItem
) -> None:
    alice, mallory = make_user(), make_user()
    item = make_item(alice)
    url = f"/items/{item['id']}"
    assert_error(client.get(url, headers=mallory.headers), 404, "not_found")
    assert_error(
        client.put(url, json={"name": "x", "price": 1}, headers=mallory.headers), 404, "not_found"
    )
    assert_error(client.patch(url, json={"name": "x"}, headers=mallory.headers), 404, "not_found")
    assert_error(client.delete(url, headers=mallory.headers), 404, "not_found")
    assert client.get("/items", headers=mallory.headers).json()["total"] == 0
    assert client.get(url, headers=alice.headers).json() == item


def test_auth_is_checked_before_validation_and_existence(
    client: httpx.Client, user: User, make_item: MakeItem
) -> None:
    item = make_item(user)
    bad = {"Authorization": "Bearer nope"}
    assert_error(client.post("/items", json={"price": "x"}, headers=bad), 401, "not_authenticated")
    assert_error(client.put("/items/999999999", json={}, headers=bad), 401, "not_authenticated")
    assert_error(
        client.patch(f"/items/{item['id']}", json=[], headers=bad), 401, "not_authenticated"
    )
    assert_error(client.delete(f"/items/{item['id']}", headers={}), 401, "not_authenticated")
    assert_error(client.get("/items", params={"limit": 0}), 401, "not_authenticated")


def test_unknown_path_is_json_404(client: httpx.Client, user: User) -> None:
    for path in ("/nope", "/items/1/extra", "/auth", "/items/"):
        resp = client.get(path, headers=user.headers)
        if path == "/items/" and resp.status_code in (200, 307, 308):
            continue  # a trailing-slash redirect or alias is tolerated; it is not in the contract
        assert_error(resp, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/me"),
        ("PUT", "/items"),
        ("GET", "/auth/login"),
        ("POST", "/health"),
        ("POST", "/items/1"),
    ],
)
def test_wrong_method_is_json_405(client: httpx.Client, user: User, method: str, path: str) -> None:
    assert_error(client.request(method, path, headers=user.headers), 405, "method_not_allowed")
