"""The result file: results/<run-id>/run.json, versioned, validated, written atomically.

Reports, comparisons and scores read only these files; they never rerun anything.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from harness.errors import ConfigError

SCHEMA_VERSION = 9
SCHEMA_PATH = Path(__file__).with_name("schema") / "run.schema.json"
# Every version this harness still reads, with the schema it was written against.
SCHEMAS = {
    1: SCHEMA_PATH.with_name("run.schema.v1.json"),
    2: SCHEMA_PATH.with_name("run.schema.v2.json"),
    3: SCHEMA_PATH.with_name("run.schema.v3.json"),
    4: SCHEMA_PATH.with_name("run.schema.v4.json"),
    5: SCHEMA_PATH.with_name("run.schema.v5.json"),
    6: SCHEMA_PATH.with_name("run.schema.v6.json"),
    7: SCHEMA_PATH.with_name("run.schema.v7.json"),
    8: SCHEMA_PATH.with_name("run.schema.v8.json"),
    9: SCHEMA_PATH,
}
RUN_FILE = "run.json"


def new_run_id() -> str:
    """Sortable by time, unique without coordination: 20261122T031500Z-3f9a."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def create_run_dir(results_dir: Path, run_id: str) -> Path:
    """A run never overwrites another: the folder must not exist yet."""
    folder = results_dir / run_id
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir()
    except FileExistsError:
        raise ConfigError(f"{folder} already exists; a run never overwrites another") from None
    return folder


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write beside, fsync, rename: a reader never sees half a file, a crash never loses the old."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".run-", suffix=".json")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600; outputs are for teammates
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=False, allow_nan=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@cache
def schema(version: int = SCHEMA_VERSION) -> dict[str, Any]:
    return dict(json.loads(SCHEMAS[version].read_text()))


def validate(data: dict[str, Any]) -> None:
    jsonschema.validate(data, schema(data.get("schema_version", SCHEMA_VERSION)))


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """An older file in today's shape: version 1 runs were all of the trials design; versions
    1 and 2 knew one process epoch (a missing `epoch` reads as 1 everywhere)."""
    if data.get("schema_version") == 1:
        from harness.results.stats import TRIALS_ESTIMATOR

        data.setdefault("design", "trials")
        data.setdefault("estimator", TRIALS_ESTIMATOR)
        for key, empty in (("slices", []), ("probes", []), ("analysis", {}), ("overhead", {})):
            data.setdefault(key, empty)
    return data


def load_run(path: Path) -> dict[str, Any]:
    """A run folder or a run.json; refuses files of another schema version with a clear error."""
    file = path / RUN_FILE if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no result file at {file}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file} is not valid JSON: {exc}") from None
    if data.get("schema_version") not in SCHEMAS:
        raise ConfigError(
            f"{file}: schema_version {data.get('schema_version')!r}, this harness reads "
            f"{', '.join(map(str, SCHEMAS))}"
        )
    try:
        validate(data)
    except jsonschema.ValidationError as exc:
        raise ConfigError(f"{file} does not match the result schema: {exc.message}") from None
    data = upgrade(data)
    data["_folder"] = str(file.parent)
    return dict(data)
