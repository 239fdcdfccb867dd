"""Errors the harness names for the user: each says what is wrong and what to do."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


class SpikebenchError(Exception):
    """Base class: the CLI prints these without a traceback."""


class ConfigError(SpikebenchError):
    """A manifest, scenario, parity or criteria file is missing or invalid."""


def read_toml(path: Path, missing: str) -> dict[str, Any]:
    """A config file as a dict; a missing or broken file is a ConfigError that names it."""
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(missing) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None


class DatabaseUnavailable(SpikebenchError):
    """PostgreSQL could not be started or reached."""


class PortInUse(SpikebenchError):
    """The port a spike should bind is held by another process."""


class SpikeStartError(SpikebenchError):
    """The spike exited or never became healthy."""


class SpikeCrashed(SpikebenchError):
    """The spike died or stopped answering during a trial."""


class EnvironmentSetupError(SpikebenchError):
    """A spike's virtual environment could not be built."""
