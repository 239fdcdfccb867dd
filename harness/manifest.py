"""Spike manifests (spikes/<name>/spike.toml) and the shared parity settings (spikes/parity.toml).

The manifest is the one source of truth for how a spike starts; parity.toml is the one source of
truth for how big it is. Both runtimes (local processes and containers) read them from here.
"""

from __future__ import annotations

import re
import shlex
import string
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, read_toml
from harness.paths import SPIKES_DIR

REQUIRED_SPIKE_KEYS = (
    "name",
    "framework",
    "framework_package",
    "interface",
    "server",
    "orm",
    "driver",
    "app_paths",
)


@dataclass(frozen=True)
class Parity:
    workers: int = 2
    db_pool_size: int = 4
    jwt_ttl_seconds: int = 3600
    jwt_secret: str = "spikebench-development-secret-change-me"
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    threads: int = 8
    upstream_timeout_ms: int = 1000
    orm_tier: str = "full ORM"

    def env(self) -> dict[str, str]:
        """The environment variables every spike reads (spikes/contract/README.md)."""
        return {
            "SPIKE_WORKERS": str(self.workers),
            "SPIKE_DB_POOL_SIZE": str(self.db_pool_size),
            "SPIKE_JWT_SECRET": self.jwt_secret,
            "SPIKE_JWT_TTL_SECONDS": str(self.jwt_ttl_seconds),
            "SPIKE_ARGON2_TIME_COST": str(self.argon2_time_cost),
            "SPIKE_ARGON2_MEMORY_KIB": str(self.argon2_memory_kib),
            "SPIKE_ARGON2_PARALLELISM": str(self.argon2_parallelism),
            "SPIKE_THREADS": str(self.threads),
            "SPIKE_UPSTREAM_TIMEOUT_MS": str(self.upstream_timeout_ms),
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["jwt_secret"] = "<redacted>"
        return data


def load_parity(path: Path | None = None, **overrides: Any) -> Parity:
    path = path or SPIKES_DIR / "parity.toml"
    data = read_toml(path, f"parity file not found: {path}").get("parity")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a valid parity file (no [parity] table)")
    known = Parity.__dataclass_fields__
    unknown = set(data) - set(known)
    if unknown:
        raise ConfigError(f"{path}: unknown parity keys {sorted(unknown)}")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return Parity(**data)


@dataclass(frozen=True)
class SpikeManifest:
    name: str
    directory: Path
    framework: str
    framework_package: str
    interface: str
    server: str
    orm: str
    driver: str
    app_paths: tuple[str, ...]
    command: str
    health_path: str = "/health"
    worker_class: str = ""
    validation: str = ""
    recommended_workers: str = ""
    # Contract v2 parts this candidate implements (FEATURES); a scenario or test needing one the
    # candidate lacks reports "not supported" instead of failing.
    features: tuple[str, ...] = ()
    # The WebSocket code (files or folders under the spike, also under app_paths), counted apart.
    websocket_paths: tuple[str, ...] = ()
    variant: str = ""  # "" for the spike as its folder starts it, else the [variants.<name>] key
    description: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def spike(self) -> str:
        """The folder (the app code) this candidate runs; variants share it and its venv."""
        return self.directory.name

    @property
    def requirements(self) -> Path:
        return self.directory / "requirements.txt"

    def identity(self) -> dict[str, str | None]:
        """What a result file records of a candidate: its folder, variant and how it serves."""
        return {
            "spike": self.spike,
            "variant": self.variant or None,
            "server": self.server,
            "worker_class": self.worker_class or None,
            "interface": self.interface,
        }

    def supports(self, feature: str) -> bool:
        return feature in self.features

    def supports_all(self, features: Iterable[str]) -> bool:
        """Can it run a scenario that requires these features (Scenario.requires)?"""
        return all(f in self.features for f in features)

    def variants(self) -> list[SpikeManifest]:
        """The `[variants.<name>]` of this spike: same app code, another server or worker class."""
        found = []
        for key, table in (self.raw.get("variants") or {}).items():
            found.append(load_variant(self, key, table))
        return found

    def argv(self, env: dict[str, str]) -> list[str]:
        """The start command with ${VAR}s expanded from the spike's environment."""
        try:
            return shlex.split(string.Template(self.command).substitute(env))
        except KeyError as exc:
            raise ConfigError(f"spike {self.name}: start command needs ${{{exc.args[0]}}}") from exc


FEATURES = ("quote", "websocket")
# How the app meets its server: a WSGI or ASGI callable, or a framework that is its own HTTP
# server (aiohttp, tornado): "native".
INTERFACES = ("wsgi", "asgi", "native")
VARIANT_KEYS = frozenset(
    {"description", "command", "server", "worker_class", "interface", "features", "health_path"}
)


def _features(path: Path, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or any(f not in FEATURES for f in value):
        raise ConfigError(f"{path}: features must be a list drawn from {list(FEATURES)}")
    return tuple(value)


def load_variant(base: SpikeManifest, key: str, table: Any) -> SpikeManifest:
    """A variant overrides how the spike starts (and what that start supports), never its code."""
    path = base.directory / "spike.toml"
    if not isinstance(table, dict) or "command" not in table:
        raise ConfigError(f"{path}: [variants.{key}] needs a command")
    if not key.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"{path}: variant name {key!r} must be letters, digits, - or _")
    unknown = sorted(set(table) - VARIANT_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown [variants.{key}] keys {unknown}")
    interface = table.get("interface", base.interface)
    if interface not in INTERFACES:
        raise ConfigError(f"{path}: [variants.{key}] interface must be one of {list(INTERFACES)}")
    features = table.get("features")
    return replace(
        base,
        name=f"{base.name}@{key}",
        variant=key,
        command=table["command"],
        server=table.get("server", base.server),
        worker_class=table.get("worker_class", base.worker_class),
        interface=interface,
        health_path=table.get("health_path", base.health_path),
        features=base.features if features is None else _features(path, features),
        description=table.get("description", ""),
    )


def load_manifest(directory: Path) -> SpikeManifest:
    path = directory / "spike.toml"
    data = read_toml(path, f"no manifest at {path}")
    spike, start = data.get("spike", {}), data.get("start", {})
    missing = [k for k in REQUIRED_SPIKE_KEYS if k not in spike]
    if "command" not in start:
        missing.append("start.command")
    if missing:
        raise ConfigError(f"{path}: missing keys {missing}")
    if spike["name"] != directory.name:
        raise ConfigError(f"{path}: name {spike['name']!r} must equal the folder name")
    if spike["interface"] not in INTERFACES:
        raise ConfigError(f"{path}: interface must be one of {list(INTERFACES)}")
    return SpikeManifest(
        name=spike["name"],
        directory=directory,
        framework=spike["framework"],
        framework_package=spike["framework_package"],
        interface=spike["interface"],
        server=spike["server"],
        orm=spike["orm"],
        driver=spike["driver"],
        app_paths=tuple(spike["app_paths"]),
        worker_class=spike.get("worker_class", ""),
        validation=spike.get("validation", ""),
        command=start["command"],
        health_path=start.get("health_path", "/health"),
        recommended_workers=start.get("recommended_workers", ""),
        features=_features(path, spike.get("features", [])),
        websocket_paths=tuple(spike.get("websocket_paths", [])),
        raw=data,
    )


def discover_spikes(root: Path = SPIKES_DIR) -> list[SpikeManifest]:
    """Every folder with a spike.toml is a spike: adding one needs no other change."""
    return [load_manifest(p.parent) for p in sorted(root.glob("*/spike.toml"))]


def discover_candidates(root: Path = SPIKES_DIR) -> list[SpikeManifest]:
    """Every spike, each followed by its variants (`flask`, `flask@gthread`, …)."""
    return [c for s in discover_spikes(root) for c in (s, *s.variants())]


ALL = "all"


def expand_all(names: list[str] | None, root: Path = SPIKES_DIR) -> list[str] | None:
    """`all` (alone or among names) means every candidate: each spike and each of its variants.

    The one place that gives a selection word a meaning; named candidates keep their order."""
    if not names or ALL not in names:
        return names
    out: list[str] = []
    for name in [n for n in names if n != ALL] + [c.name for c in discover_candidates(root)]:
        if name not in out:
            out.append(name)
    return out


def select_spikes(names: list[str] | None, root: Path = SPIKES_DIR) -> list[SpikeManifest]:
    """Named candidates (`flask`, `flask@gthread`, `all`), or every spike without its variants."""
    spikes = discover_spikes(root)
    names = expand_all(names, root)
    if not names:
        return spikes
    by_name = {c.name: c for c in discover_candidates(root)}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(f"unknown spikes {unknown}; found {sorted(by_name)} (or {ALL!r})")
    return [by_name[n] for n in names]


def ident(name: str) -> str:
    """A candidate name as a PostgreSQL identifier or file-name part: `flask@gthread` →
    `flask_gthread` (libpq URLs and unquoted identifiers do not take `@`)."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())
