"""The differential corpus: requests generated from the OpenAPI document plus a hostile mutator.

Every request is data (method, path, query, headers, body bytes) with placeholders that each spike
fills with its own values: `{TA}`/`{TB}` the tokens of the users alice and bob, `{IA}` one of
alice's items, `{IB}` bob's item, `{IG}` an item that was deleted. The same seed gives the same
corpus, so a disagreement found once can be replayed.
"""

from __future__ import annotations

import contextlib
import json
import random
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from harness.manifest import FEATURES
from harness.paths import CONTRACT_DIR

MAX_BODY = 65_536  # the contract's body size limit
DEEP = 64  # nesting the contract guarantees a parser follows


@dataclass(frozen=True)
class Req:
    """One request of the corpus; `allow` names a disagreement the contract allows."""

    label: str
    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    allow: str | None = None

    def describe(self) -> str:
        body = ""
        if self.body is not None:
            body = f" body={self.body[:160]!r}{'…' if len(self.body) > 160 else ''}"
        query = f"?{self.query}" if self.query else ""
        return f"[{self.label}] {self.method} {self.path}{query} headers={list(self.headers)}{body}"


JSON = (("Content-Type", "application/json"),)
ALICE = (("Authorization", "Bearer {TA}"),)


def _auth_json() -> tuple[tuple[str, str], ...]:
    return ALICE + JSON


def draw(strategy: Any, examples: int, seed: int) -> list[Any]:
    """Examples of a hypothesis strategy, reproducibly (fixed seed, no example database)."""
    out: list[Any] = []

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    with contextlib.suppress(Unsatisfiable):  # e.g. no negative case for GET /health
        collect()
    return out


def _dump(body: Any, rng: random.Random) -> bytes:
    if isinstance(body, bytes):
        return body
    text = json.dumps(body, ensure_ascii=rng.random() < 0.5)
    return text.encode("utf-8", "surrogatepass")


def lone_surrogates(body: Any) -> bool:
    """Whether a generated body holds a lone surrogate (the contract allows 400 or 422)."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _item_path(template: str, params: dict[str, Any], rng: random.Random) -> str:
    if "{id}" not in template:
        return template
    if rng.random() < 0.6:
        return template.replace("{id}", rng.choice(["{IA}", "{IA}", "{IB}", "{IG}"]))
    raw = params.get("id", 1)
    return template.replace("{id}", urllib.parse.quote(str(raw), safe=""))


def from_openapi(count: int, seed: int) -> list[Req]:
    """Positive and negative cases for every operation, from schemathesis' strategies."""
    schema = schemathesis.openapi.from_path(str(CONTRACT_DIR / "openapi.yaml"))
    rng = random.Random(seed)
    ops = [(p, m) for p, methods in schema.raw_schema["paths"].items() for m in methods]
    ops = [(p, m) for p, m in ops if m in {"get", "post", "put", "patch", "delete"}]
    # contract v2 operations (tag `quote`, …) are proved by their own tests: a candidate
    # without the feature answers them 404, which is no disagreement
    raw = schema.raw_schema["paths"]
    ops = [(p, m) for p, m in ops if not set(raw[p][m].get("tags", [])) & set(FEATURES)]
    per_op = max(1, count // (2 * len(ops)))
    out: list[Req] = []
    for index, (path, method) in enumerate(ops):
        operation = schema[path][method.upper()]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for case in draw(operation.as_strategy(generation_mode=mode), per_op, seed + index):
                headers = list(ALICE) if rng.random() < 0.85 else []
                body, allow = None, None
                if case.body is not None and not _is_unset(case.body):
                    body = _dump(case.body, rng)
                    headers += list(JSON)
                    if not isinstance(case.body, bytes) and lone_surrogates(case.body):
                        allow = "lone_surrogate"
                query = urllib.parse.urlencode(case.query or {}, doseq=True)
                out.append(
                    Req(
                        f"openapi-{mode.value}",
                        method.upper(),
                        _item_path(path, case.path_parameters or {}, rng),
                        query,
                        tuple(headers),
                        body,
                        allow,
                    )
                )
    rng.shuffle(out)
    return out[:count]


def _is_unset(body: Any) -> bool:
    return type(body).__name__ in {"NotSet", "Unset"}


# -- the hostile mutator -------------------------------------------------------------------------

ITEM_OPS = (("POST", "/items"), ("PUT", "/items/{IA}"), ("PATCH", "/items/{IA}"))
NUMBERS = [
    "3", "3.0", "3.00", "0", "-0", "-0.0", "0.10", "12.5", "1E2", "1e2", "1e-2", "12.345",
    "999999.99", "1000000", "1000000.00", "1000000.001", "0.000000001", "1e400", "-1e400",
    "1e-400", "1" + "0" * 20, "1" + "0" * 400, "1" * 5000, "0." + "0" * 300 + "1",
]
BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "nan", "inf", "+1", ".5", "5.", "0x10", "00012",
               "1_000", "undefined", "None", "True"]
LIMITS = ["5", "005", "+5", "-5", " 5", "5 ", "5.0", "1e1", "", "abc", "\u0663", "\uff15", "0",
          "100", "101", "1" * 30, "1" * 1000]  # request lines stay under gunicorn's 4,094 bytes
OFFSETS = ["0", "7", "9223372036854775807", "9223372036854775808", "-0", "-1", "1.5", "00"]
AUTHS = [
    "Bearer {TA}", "bearer {TA}", "BEARER {TA}", "Bearer  {TA}", "Bearer   {TA}", "Bearer\t{TA}",
    "Basic {TA}", "Token {TA}", "Bearer", "Bearer {TA}x",
    "Bearer {TA} extra", "{TA}", "Bearer {TB}", "Bearer null", "Bearer a.b.c",
]
CONTENT_TYPES = [
    None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-8",
    "APPLICATION/JSON", "application/merge-patch+json", "multipart/form-data; boundary=x",
    "application/jsonx", "", "application/json;charset=UTF-8", "text/json",
]
STRINGS = [
    "caf\u00e9", "\U0001f600 emoji", "\u05e9\u05dc\u05d5\u05dd rtl", "e\u0301 combining",
    "\u200b zero width", "tab\there", "line\nbreak", "x" * 100, "x" * 101, " ", "\\",
    "\ufeffbom", "\U0010ffff", "\u2028sep",
]


def _item(rng: random.Random) -> dict[str, Any]:
    return {"name": rng.choice(STRINGS[:6]), "price": rng.choice([1, 2.5, 10, 0.99])}


def _raw_item(price: str, name: str = '"n"') -> bytes:
    return f'{{"name": {name}, "price": {price}}}'.encode()


def _body_case(label: str, body: bytes, rng: random.Random, allow: str | None = None,
               headers: tuple[tuple[str, str], ...] | None = None) -> Req:
    method, path = rng.choice(ITEM_OPS)
    return Req(label, method, path, "", _auth_json() if headers is None else headers, body, allow)


def _deep(rng: random.Random) -> Req:
    depth = rng.choice([10, DEEP, 100, 500, 1000, 5000, 20000])
    kind = rng.choice(["array", "object", "value", "truncated"])
    if kind == "array":
        body = "[" * depth + "]" * depth
    elif kind == "object":
        body = '{"a":' * depth + "1" + "}" * depth
    elif kind == "value":
        body = '{"name": ' + "[" * depth + "]" * depth + ', "price": 1}'
    else:
        body = "[" * depth
    allow = "deep_malformed" if kind == "truncated" and depth > DEEP else None
    return _body_case(f"deep-{kind}-{depth}", body.encode(), rng, allow)


def _number(rng: random.Random) -> Req:
    if rng.random() < 0.7:
        number = rng.choice(NUMBERS)
        return _body_case("number", _raw_item(number), rng)
    return _body_case("bad-literal", _raw_item(rng.choice(BAD_NUMBERS)), rng)


def _syntax(rng: random.Random) -> Req:
    bodies = {
        "trailing-comma": b'{"name": "n", "price": 1,}',
        "comment": b'{"name": "n", /* c */ "price": 1}',
        "single-quotes": b"{'name': 'n', 'price': 1}",
        "unquoted-keys": b'{name: "n", price: 1}',
        "bom": b'\xef\xbb\xbf{"name": "n", "price": 1}',
        "padded": b'  \n\t{"name" : "n" ,\r\n "price" : 1 }  \n',
        "duplicate-keys": b'{"name": "a", "price": 1, "price": 2, "name": "b"}',
        "empty-key": b'{"": 1, "name": "n", "price": 1}',
        "two-docs": b'{"name": "n", "price": 1} {"name": "m", "price": 2}',
        "trailing-garbage": b'{"name": "n", "price": 1}x',
        "utf16": '{"name": "n", "price": 1}'.encode("utf-16"),
        "latin1": '{"name": "caf\u00e9", "price": 1}'.encode("latin-1"),
        "invalid-utf8": b'{"name": "\xff\xfe", "price": 1}',
        "overlong": b'{"name": "\xc0\xaf", "price": 1}',
        "lone-surrogate": b'{"name": "\\ud800", "price": 1}',
        "cesu-surrogate": b'{"name": "\xed\xa0\x80", "price": 1}',
        "pair-escape": b'{"name": "\\ud83d\\ude00", "price": 1}',
        "nul-escape": b'{"name": "a\\u0000b", "price": 1}',
        "raw-control": b'{"name": "a\x01b", "price": 1}',
        "raw-newline": b'{"name": "a\nb", "price": 1}',
        "bad-escape": b'{"name": "a\\qb", "price": 1}',
        "null-body": b"null",
        "true-body": b"true",
        "number-body": b"12",
        "string-body": b'"x"',
        "array-body": b'[{"name": "n", "price": 1}]',
        "whitespace-body": b"   ",
        "empty-object": b"{}",
    }
    label = rng.choice(sorted(bodies))
    allow = "lone_surrogate" if label == "lone-surrogate" else None
    return _body_case(label, bodies[label], rng, allow)


def _unicode(rng: random.Random) -> Req:
    body: dict[str, Any] = {"name": rng.choice(STRINGS), "price": 1}
    if rng.random() < 0.5:
        body["description"] = rng.choice(STRINGS) * rng.choice([1, 50, 80])
    return _body_case("unicode", _dump(body, rng), rng)


def _content_type(rng: random.Random) -> Req:
    ctype = rng.choice(CONTENT_TYPES)
    headers = ALICE + ((("Content-Type", ctype),) if ctype is not None else ())
    body = json.dumps(_item(rng)).encode() if rng.random() < 0.85 else b""
    return _body_case(f"content-type-{ctype}", body, rng, headers=headers)


def _size(rng: random.Random) -> Req:
    base = json.dumps(_item(rng)).encode()
    size = rng.choice([MAX_BODY, MAX_BODY + 1, MAX_BODY * 4])
    return _body_case(f"size-{size}", base + b" " * (size - len(base)), rng)


def _query(rng: random.Random) -> Req:
    pairs = [("limit", rng.choice(LIMITS))] if rng.random() < 0.7 else []
    if rng.random() < 0.5:
        pairs.append(("offset", rng.choice(OFFSETS)))
    query = urllib.parse.urlencode(pairs)
    extra = rng.choice([
        "", "", "limit=5&limit=500", "limit=5&limit=5", "offset=1&offset=2", "limit",
        "limit=5;offset=1", "limit[]=5", "LIMIT=5", "limit=5&&offset=1", "%zz=1", "limit=%35",
        "colour=red", "limit=5&limit=", "offset=%2B1",
    ])
    query = "&".join(q for q in (query, extra) if q)
    return Req("query", "GET", "/items", query, ALICE)


def _header(rng: random.Random) -> Req:
    auth = rng.choice(AUTHS)
    headers: tuple[tuple[str, str], ...] = (("Authorization", auth),)
    if rng.random() < 0.3:
        headers += (("Accept", rng.choice(["text/html", "application/xml", "*/*", "nope"])),)
    if rng.random() < 0.1:
        headers += (("X-HTTP-Method-Override", "DELETE"),)
    path = rng.choice(["/me", "/items", "/items/{IA}"])
    return Req(f"auth-{auth!r}", "GET", path, "", headers)


def _path(rng: random.Random) -> Req:
    path = rng.choice([
        "/items/{IA}/", "/items//{IA}", "/items/+1", "/items/1.0", "/items/0{IA}", "/items/-{IA}",
        "/items/\u0663", "/items/%31", "/ITEMS", "/items/", "/me/", "/items/{IA}/x",
        "/items/99999999999999999999", "/items/9223372036854775807", "/items/1e3",
        "/items/%00", "/items/%F0%9F%98%80", "/auth", "/health/", "/items/{IB}", "/items/{IG}",
    ])
    method = rng.choice(["GET", "GET", "DELETE", "PATCH"])
    body = b"{}" if method == "PATCH" else None
    return Req("path", method, path, "", _auth_json() if body else ALICE, body)


def _method(rng: random.Random) -> Req:
    method = rng.choice(["PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "POST"])
    path = rng.choice(["/health", "/me", "/auth/login", "/items", "/auth/register"])
    return Req(f"method-{method}", method, path, "", ALICE)


def _credentials(rng: random.Random) -> Req:
    name = rng.choice(["diffalice", "x" * 33, "ab", "bad name", "\u00e9t\u00e9", "ok_name_1",
                       "a\u0000b", "DIFFALICE"])
    password = rng.choice(["password1", "short", "p" * 129, "\ud800" * 8, "\u0000" * 8])
    fields = {"username": name, "password": password}
    path = rng.choice(["/auth/login", "/auth/register"])
    allow = "lone_surrogate" if lone_surrogates(fields) else None
    return Req("credentials", "POST", path, "", JSON, _dump(fields, rng), allow)


MUTATORS: list[tuple[Callable[[random.Random], Req], int]] = [
    (_deep, 8), (_number, 14), (_syntax, 14), (_unicode, 6), (_content_type, 10), (_size, 3),
    (_query, 14), (_header, 14), (_path, 8), (_method, 4), (_credentials, 3),
]


def hostile(count: int, seed: int) -> list[Req]:
    rng = random.Random(seed)
    makers = [m for m, _ in MUTATORS]
    weights = [w for _, w in MUTATORS]
    return [rng.choices(makers, weights)[0](rng) for _ in range(count)]


def build(count: int, seed: int) -> list[Req]:
    """`count` requests: 35 % from the OpenAPI document, the rest from the hostile mutator."""
    generated = from_openapi(int(count * 0.35), seed)
    mixed = generated + hostile(count - len(generated), seed + 1)
    random.Random(seed + 2).shuffle(mixed)
    return mixed
