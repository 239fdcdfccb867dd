"""Registration, login and token handling: identical on every spike."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import jwt
import psycopg
import pytest

from harness.manifest import Parity
from tests.conformance.conftest import PASSWORD, Spike, User, assert_error, unique_username


def test_health(client: httpx.Client) -> None:
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_register_returns_id_and_username(client: httpx.Client) -> None:
    name = unique_username()
    resp = client.post("/auth/register", json={"username": name, "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert set(body) == {"id", "username"}
    assert body["username"] == name
    assert isinstance(body["id"], int) and body["id"] > 0


def test_register_taken_username_is_409(client: httpx.Client, user: User) -> None:
    resp = client.post("/auth/register", json={"username": user.username, "password": PASSWORD})
    assert_error(resp, 409, "username_taken")


def test_usernames_are_case_sensitive(client: httpx.Client, user: User) -> None:
    resp = client.post(
        "/auth/register", json={"username": user.username.upper(), "password": PASSWORD}
    )
    assert resp.status_code == 201, resp.text


@pytest.mark.parametrize(
    "body",
    [
        {"username": "ab", "password": PASSWORD},  # too short
        {"username": "a" * 33, "password": PASSWORD},  # too long
        {"username": "has space", "password": PASSWORD},
        {"username": "dash-ed", "password": PASSWORD},
        {"username": "ünïcode", "password": PASSWORD},
        {"username": 12345, "password": PASSWORD},
        {"username": None, "password": PASSWORD},
        {"username": "validname", "password": "short"},
        {"username": "validname", "password": "x" * 129},
        {"username": "validname", "password": 12345678},
        {"username": "validname"},
        {"password": PASSWORD},
        {},
        {"username": "validname", "password": PASSWORD, "is_admin": True},
        [],
        "just a string",
    ],
    ids=[
        "short",
        "long",
        "space",
        "dash",
        "unicode",
        "int-name",
        "null-name",
        "short-pw",
        "long-pw",
        "int-pw",
        "no-pw",
        "no-name",
        "empty",
        "unknown-field",
        "array",
        "string",
    ],
)
def test_register_validation_is_422(client: httpx.Client, body: object) -> None:
    assert_error(client.post("/auth/register", json=body), 422, "validation_error")


def test_register_boundaries_accepted(client: httpx.Client) -> None:
    for name, password in [
        (unique_username("x")[:3].ljust(3, "x"), "p" * 8),
        (("b" + unique_username())[:32].ljust(32, "_"), "p" * 128),
    ]:
        resp = client.post("/auth/register", json={"username": name, "password": password})
        assert resp.status_code == 201, (name, resp.text)


def test_register_malformed_json_is_400(client: httpx.Client) -> None:
    resp = client.post(
        "/auth/register",
        content=b'{"username": "abc",',
        headers={"content-type": "application/json"},
    )
    assert_error(resp, 400, "malformed_json")


def test_login_returns_bearer_token(client: httpx.Client, user: User, parity: Parity) -> None:
    resp = client.post("/auth/login", json={"username": user.username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == parity.jwt_ttl_seconds
    claims = jwt.decode(body["access_token"], parity.jwt_secret, algorithms=["HS256"])
    assert claims["sub"] == str(user.id)
    assert claims["exp"] - claims["iat"] == parity.jwt_ttl_seconds
    assert abs(claims["iat"] - time.time()) < 60


def test_seeded_user_can_log_in(client: httpx.Client) -> None:
    resp = client.post(
        "/auth/login", json={"username": "user0001", "password": "spikebench-password"}
    )
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("which", ["wrong-password", "unknown-user"])
def test_login_failure_is_401(client: httpx.Client, user: User, which: str) -> None:
    body = (
        {"username": user.username, "password": "wrong-password"}
        if which == "wrong-password"
        else {"username": "nobody_" + unique_username(), "password": PASSWORD}
    )
    assert_error(client.post("/auth/login", json=body), 401, "invalid_credentials")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "abc"},
        {"username": 1, "password": PASSWORD},
        [],
        {"username": "abc", "password": PASSWORD, "extra": 1},
        {"username": "bad name", "password": PASSWORD},
        {"username": "abc", "password": "short"},
    ],
    ids=[
        "empty", "no-password", "int-name", "array", "unknown-field", "bad-name", "short-password"
    ],
)
def test_login_validation_is_422(client: httpx.Client, body: object) -> None:
    assert_error(client.post("/auth/login", json=body), 422, "validation_error")


def test_me(client: httpx.Client, user: User) -> None:
    resp = client.get("/me", headers=user.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"id": user.id, "username": user.username}


def _token(secret: str, **claims: object) -> str:
    now = int(time.time())
    payload = {"iat": now, "exp": now + 3600, **claims}
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        "Token abc",
    ],
    ids=["missing", "empty", "bare-scheme", "garbage", "basic", "other-scheme"],
)
def test_bad_authorization_header_is_401(client: httpx.Client, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    assert_error(client.get("/me", headers=headers), 401, "not_authenticated")


def test_forged_tokens_are_401(client: httpx.Client, user: User, parity: Parity) -> None:
    now = int(time.time())
    good = user.headers["Authorization"].split()[1]
    head, payload, sig = good.split(".")
    tampered_sig = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    other_payload = jwt.encode({"sub": "1", "iat": now, "exp": now + 60}, "x" * 32).split(".")[1]
    cases = {
        "expired": _token(parity.jwt_secret, sub=str(user.id), iat=now - 7200, exp=now - 3600),
        "wrong-secret": _token("another-secret-of-sufficient-length", sub=str(user.id)),
        "tampered-signature": f"{head}.{payload}.{tampered_sig}",
        "tampered-payload": f"{head}.{other_payload}.{sig}",
        "alg-none": jwt.encode(
            {"sub": str(user.id), "iat": now, "exp": now + 60}, None, algorithm="none"
        ),
        "no-sub": _token(parity.jwt_secret),
        "non-numeric-sub": _token(parity.jwt_secret, sub="abc"),
        "unknown-user": _token(parity.jwt_secret, sub="999999999"),
        "huge-sub": _token(parity.jwt_secret, sub="9" * 30),
        "no-exp": jwt.encode({"sub": str(user.id), "iat": now}, parity.jwt_secret),
    }
    for case, token in cases.items():
        resp = client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401, f"{case}: {resp.status_code} {resp.text}"
        assert_error(resp, 401, "not_authenticated")


def test_token_signed_with_shared_secret_is_accepted(
    client: httpx.Client, user: User, parity: Parity
) -> None:
    """The control for the forged-token test: a well-formed token of our own making works."""
    token = _token(parity.jwt_secret, sub=str(user.id))
    assert client.get("/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_deleted_user_token_is_401(
    spike: Spike, client: httpx.Client, make_user: Callable[[], User]
) -> None:
    doomed = make_user()
    assert client.get("/me", headers=doomed.headers).status_code == 200
    with psycopg.connect(spike.dburl, autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE id = %s", [doomed.id])
    assert_error(client.get("/me", headers=doomed.headers), 401, "not_authenticated")
    assert_error(client.get("/items", headers=doomed.headers), 401, "not_authenticated")


def test_password_stored_as_argon2id(spike: Spike, user: User, parity: Parity) -> None:
    with psycopg.connect(spike.dburl) as conn:
        row = conn.execute("SELECT password_hash FROM users WHERE id = %s", [user.id]).fetchone()
    assert row is not None
    expected = (
        f"$argon2id$v=19$m={parity.argon2_memory_kib},t={parity.argon2_time_cost},"
        f"p={parity.argon2_parallelism}$"
    )
    assert row[0].startswith(expected), row[0]
