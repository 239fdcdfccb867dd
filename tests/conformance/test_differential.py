"""Differential conformance: one generated corpus sent to every spike at once, answers compared.

Each spike runs on its own fresh copy of the seed database and gets the same users and items, so
the same request sequence must give the same answers. Answers are normalised (status, error code,
body shape, value types and number renderings; ids, timestamps and tokens masked; `detail` is free
text) and compared; any difference fails with the request and every spike's answer, unless the
contract lists it as allowed (ALLOWED). A fixed seed and a few hundred requests run in `make test`,
many thousands in `make fuzz` (marked slow).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.manifest import Parity, ident
from harness.run.postgres import Postgres
from tests.conformance import corpus
from tests.conformance.conftest import PASSWORD, SPIKES
from tests.conftest import running_spike

SEED = 20261201
CI_REQUESTS = int(os.environ.get("SPIKEBENCH_DIFF_REQUESTS", "320"))
LONG_REQUESTS = 6000
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
MASKED = {"id": "<id>", "access_token": "<token>"}
# Disagreements the contract allows (README, "Hostile input and concurrency"): statuses that
# count as one answer for requests tagged with the name.
ALLOWED = {"deep_malformed": frozenset({400, 422}), "lone_surrogate": frozenset({400, 422})}
CONTRACT_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Target:
    """One spike under test, with the values its placeholders stand for."""

    name: str
    client: httpx.Client
    values: dict[str, str] = field(default_factory=dict)

    def fill(self, text: str) -> str:
        for key, value in self.values.items():
            text = text.replace("{" + key + "}", value)
        return text


def _setup_users(target: Target) -> None:
    """The same two users and items on every spike: alice owns items, bob owns one."""
    tokens, ids = {}, {}
    for who in ("alice", "bob"):
        name = f"diff{who}"
        resp = target.client.post("/auth/register", json={"username": name, "password": PASSWORD})
        assert resp.status_code == 201, f"{target.name}: {resp.text}"
        resp = target.client.post("/auth/login", json={"username": name, "password": PASSWORD})
        tokens[who] = resp.json()["access_token"]
        auth = {"Authorization": f"Bearer {tokens[who]}"}
        resp = target.client.post("/items", json={"name": who, "price": 1}, headers=auth)
        ids[who] = str(resp.json()["id"])
    auth = {"Authorization": f"Bearer {tokens['alice']}"}
    gone = target.client.post("/items", json={"name": "gone", "price": 1}, headers=auth).json()
    assert target.client.delete(f"/items/{gone['id']}", headers=auth).status_code == 204
    target.values = {"TA": tokens["alice"], "TB": tokens["bob"], "IA": ids["alice"],
                     "IB": ids["bob"], "IG": str(gone["id"])}


@pytest.fixture(scope="module", params=[SPIKES], ids=["+".join(s.name for s in SPIKES)])
def fleet(
    pg: Postgres, template: str, parity: Parity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Target]]:
    """Every spike at once, each on its own fresh database (test ids name them all)."""
    logs = tmp_path_factory.mktemp("differential")
    with contextlib.ExitStack() as stack:
        targets = []
        for manifest in SPIKES:
            server = stack.enter_context(
                running_spike(manifest, pg, parity, f"diff_{ident(manifest.name)}", logs, template)
            )
            client = stack.enter_context(httpx.Client(base_url=server.base_url, timeout=60))
            targets.append(Target(manifest.name, client))
        for target in targets:
            _setup_users(target)
        yield targets


# -- normalisation -------------------------------------------------------------------------------


def _number(kind: str) -> Any:
    return lambda raw: {"number": raw, "type": kind}


def _shape(value: Any, key: str | None = None) -> Any:
    """Masks what legitimately differs (ids, timestamps, tokens, free-text detail)."""
    if isinstance(value, dict) and "type" in value and set(value) == {"number", "type"}:
        return "<id>" if key == "id" and value["type"] == "int" else value
    if key in MASKED:
        return MASKED[key] if value is not None else None
    if key in {"created_at", "updated_at"}:
        return "<rfc3339>" if isinstance(value, str) and RFC3339.match(value) else value
    if key == "detail":
        return "<text>" if isinstance(value, str) else value
    if isinstance(value, dict):
        return {k: _shape(v, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return value


def normalise(resp: httpx.Response | Exception, req: corpus.Req) -> dict[str, Any]:
    if isinstance(resp, Exception):
        return {"transport_error": type(resp).__name__}
    status: Any = resp.status_code
    answer: dict[str, Any] = {"status": status}
    allowed = ALLOWED.get(req.allow or "")
    if allowed and status in allowed:
        answer["status"] = "|".join(str(s) for s in sorted(allowed))
    if resp.content:
        answer["content_type"] = resp.headers.get("content-type", "").split(";")[0].lower()
        try:
            body = json.loads(resp.text, parse_int=_number("int"), parse_float=_number("float"))
            answer["body"] = _shape(body)
        except ValueError:
            answer["body"] = f"<not json: {len(resp.content)} bytes>"
        if allowed and status in allowed and isinstance(answer["body"], dict):
            answer["body"]["error"] = "<allowed>"
    if status == 401:
        answer["www_authenticate"] = resp.headers.get("www-authenticate", "")[:6].lower()
    if status == 405:
        allow = {m.strip().upper() for m in resp.headers.get("allow", "").split(",")}
        answer["allow"] = sorted(allow & CONTRACT_METHODS)
    return answer


def _send(target: Target, req: corpus.Req) -> httpx.Response | Exception:
    url = target.fill(req.path) + (f"?{target.fill(req.query)}" if req.query else "")
    headers = [(k, target.fill(v)) for k, v in req.headers]
    try:
        request = target.client.build_request(req.method, url, headers=headers, content=req.body)
        return target.client.send(request)
    except httpx.HTTPError as exc:
        return exc


def _show(resp: httpx.Response | Exception) -> str:
    if isinstance(resp, Exception):
        return f"{type(resp).__name__}: {resp}"
    return f"{resp.status_code} {resp.text[:240]!r}"


@dataclass
class Finding:
    req: corpus.Req
    answers: dict[str, str]
    normal: dict[str, dict[str, Any]]

    def render(self) -> str:
        lines = [self.req.describe()]
        for name, text in self.answers.items():
            normal = json.dumps(self.normal[name], sort_keys=True)[:300]
            lines += [f"    {name}: {text}", f"        normalised: {normal}"]
        return "\n".join(lines)


def run_corpus(
    fleet: list[Target], requests: list[corpus.Req]
) -> tuple[list[Finding], list[Finding]]:
    """Sends each request to every spike at the same time; returns (disagreements, 5xx)."""
    disagreements: list[Finding] = []
    server_errors: list[Finding] = []
    with ThreadPoolExecutor(max_workers=len(fleet)) as pool:
        for req in requests:
            answers = list(pool.map(lambda t, r=req: _send(t, r), fleet))
            normal = {t.name: normalise(a, req) for t, a in zip(fleet, answers, strict=True)}
            shown = {t.name: _show(a) for t, a in zip(fleet, answers, strict=True)}
            finding = Finding(req, shown, normal)
            if len({json.dumps(n, sort_keys=True) for n in normal.values()}) > 1:
                disagreements.append(finding)
            if any(
                isinstance(a, Exception) or (a.status_code >= 500 and a.status_code != 503)
                for a in answers
            ):
                server_errors.append(finding)
    return disagreements, server_errors


def check(fleet: list[Target], count: int, tmp_path: Path) -> None:
    requests = corpus.build(count, SEED)
    assert len(requests) >= count * 0.9, f"corpus too small: {len(requests)}"
    disagreements, server_errors = run_corpus(fleet, requests)
    report = tmp_path / "differential.txt"
    report.write_text("\n\n".join(f.render() for f in disagreements + server_errors))
    problems = []
    if disagreements:
        problems.append(
            f"{len(disagreements)} of {len(requests)} requests got different answers "
            f"(full list: {report}):\n\n" + "\n\n".join(f.render() for f in disagreements[:12])
        )
    if server_errors:
        problems.append(
            f"{len(server_errors)} requests got a 5xx or no answer:\n\n"
            + "\n\n".join(f.render() for f in server_errors[:6])
        )
    assert not problems, "\n\n".join(problems)


def test_spikes_agree_on_the_corpus(fleet: list[Target], tmp_path: Path) -> None:
    check(fleet, CI_REQUESTS, tmp_path)


@pytest.mark.slow
def test_spikes_agree_on_the_long_corpus(fleet: list[Target], tmp_path: Path) -> None:
    check(fleet, LONG_REQUESTS, tmp_path)
