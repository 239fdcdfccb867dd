"""Load scenarios: declarative files in scenarios/, run by scenarios/locustfile.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, read_toml
from harness.manifest import FEATURES
from harness.paths import SCENARIOS_DIR

# The task library of scenarios/locustfile.py (a test keeps the two in step). Kept here so a bad
# scenario is refused before anything starts, without importing Locust (which patches sockets).
TASK_NAMES = frozenset(
    {
        "get_item",
        "list_items",
        "create_item",
        "update_item",
        "patch_item",
        "delete_item",
        "get_me",
        "register",
        "login",
        "quote",
        "live_write",  # realtime only: scenarios/realtime_users.py
    }
)
DEFAULT_SCENARIOS = ("read_heavy", "crud_mix", "write_heavy", "auth_storm")
# scenarios whose task mix a full `bench` also searches for capacity under the SLO (issue 9): the
# two a latency SLO is usually about; write_heavy and auth_storm on request (--capacity)
DEFAULT_CAPACITY = ("read_heavy", "crud_mix")


@dataclass(frozen=True)
class Load:
    """[load]: closed (users that wait for answers) or open (arrivals at a rate)."""

    model: str = "closed"
    rate: float | None = None  # open: offered req/s (a capacity search sets its own)
    arrival: str = "poisson"  # or "constant"
    max_in_flight: int = 1000
    # open: seeded users the arrivals are sent as; closed, when the file sets it: the users share
    # this many seeded identities, one login each (500 argon2 logins would swamp the warm-up)
    identities: int = 16

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_section(data: dict[str, Any], problems: list[str]) -> Load:
    load = Load(**{k: v for k, v in data.items() if k in Load.__dataclass_fields__})
    unknown = sorted(set(data) - set(Load.__dataclass_fields__))
    if unknown:
        problems.append(f"unknown [load] keys {unknown}")
    if load.model not in ("closed", "open"):
        problems.append('[load] model must be "closed" or "open"')
    if load.arrival not in ("poisson", "constant"):
        problems.append('[load] arrival must be "poisson" or "constant"')
    if load.rate is not None and (not isinstance(load.rate, int | float) or load.rate <= 0):
        problems.append("[load] rate must be a positive number of requests per second")
    if not isinstance(load.max_in_flight, int) or load.max_in_flight < 1:
        problems.append("[load] max_in_flight must be a positive integer")
    return load


@dataclass(frozen=True)
class Slicing:
    """[slicing]: how the interleaved design cuts this scenario's measured time (README, "Slices
    and epochs"). A short request wants short slices: two slices taken seconds apart share
    little of this VM's noise, so more, shorter ones per start buy precision; a slow one (an
    argon2 login) needs seconds per slice to hold enough requests. `--slice`, `--lead-in` and
    `--epoch-cycles` set every scenario's at once."""

    slice_s: float = 2.0  # measured seconds per slice
    lead_in_s: float = 0.5  # discarded after each resume: reconnects, the gate's burst
    epoch_cycles: int = 1  # cycles per start when another start may follow

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def slicing_section(data: dict[str, Any], problems: list[str]) -> Slicing:
    unknown = sorted(set(data) - set(Slicing.__dataclass_fields__))
    if unknown:
        problems.append(f"unknown [slicing] keys {unknown}")
    known = {k: v for k, v in data.items() if k in Slicing.__dataclass_fields__}
    for key in ("slice_s", "lead_in_s"):
        value = known.get(key, 1.0)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            problems.append(f"[slicing] {key} must be a number of seconds >= 0")
            known.pop(key, None)
    if known.get("slice_s", 1.0) == 0:
        problems.append("[slicing] slice_s must be more than 0")
        known.pop("slice_s")
    cycles = known.get("epoch_cycles", 1)
    if not isinstance(cycles, int) or isinstance(cycles, bool) or cycles < 1:
        problems.append("[slicing] epoch_cycles must be a positive integer")
        known.pop("epoch_cycles", None)
    return Slicing(**{k: (v if k == "epoch_cycles" else float(v)) for k, v in known.items()})


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    description: str
    users: int
    spawn_rate: float
    wait: tuple[float, float]
    login_on_start: bool
    tasks: dict[str, int]
    interleave: bool = True  # false: only the trials design may run it (one process per trial)
    load: Load = field(default_factory=Load)
    # Contract v2 features a candidate needs to run this scenario (manifest `features`); the
    # others are recorded as "not supported", not failed.
    requires: tuple[str, ...] = ()
    # [realtime]: WebSocket subscribers and marked writes (scenarios/realtime_users.py)
    realtime: dict[str, Any] = field(default_factory=dict)
    slicing: Slicing = field(default_factory=Slicing)

    @property
    def open(self) -> bool:
        return self.load.model == "open"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.path.name,
            "description": self.description,
            "users": self.users,
            "spawn_rate": self.spawn_rate,
            "wait": list(self.wait),
            "login_on_start": self.login_on_start,
            "tasks": dict(self.tasks),
            "interleave": self.interleave,
            "load": self.load.to_dict(),
            "requires": list(self.requires),
            **({"realtime": dict(self.realtime)} if self.realtime else {}),
            "slicing": self.slicing.to_dict(),
        }


def load_scenario(path: Path) -> Scenario:
    data = read_toml(path, f"no scenario file {path}")
    settings, tasks = data.get("scenario", {}), data.get("tasks", {})
    users, rate = settings.get("users"), settings.get("spawn_rate")
    wait = settings.get("wait", [0.0, 0.0])
    problems = []
    if not isinstance(users, int) or users < 1:
        problems.append("scenario.users must be a positive integer")
    if not isinstance(rate, int | float) or rate <= 0:
        problems.append("scenario.spawn_rate must be positive")
    if not isinstance(wait, list) or len(wait) != 2 or wait[0] < 0 or wait[1] < wait[0]:
        problems.append("scenario.wait must be [min, max] seconds with 0 <= min <= max")
    if not tasks:
        problems.append("[tasks] must name at least one task")
    unknown = sorted(set(tasks) - TASK_NAMES)
    if unknown:
        problems.append(f"unknown tasks {unknown} (known: {sorted(TASK_NAMES)})")
    if any(not isinstance(w, int) or w < 1 for w in tasks.values()):
        problems.append("task weights must be positive integers")
    load = load_section(data.get("load", {}), problems)
    slicing = slicing_section(data.get("slicing", {}), problems)
    requires = settings.get("requires", [])
    if not isinstance(requires, list) or any(f not in FEATURES for f in requires):
        problems.append(f"scenario.requires must be a list drawn from {list(FEATURES)}")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return Scenario(
        name=path.stem,
        path=path,
        description=settings.get("description", ""),
        users=users,
        spawn_rate=float(rate),
        wait=(float(wait[0]), float(wait[1])),
        login_on_start=bool(settings.get("login_on_start", True)),
        tasks=dict(tasks),
        interleave=bool(settings.get("interleave", True)),
        load=load,
        requires=tuple(requires),
        realtime=dict(data.get("realtime", {})),
        slicing=slicing,
    )


def discover_scenarios(root: Path = SCENARIOS_DIR) -> list[Scenario]:
    return [load_scenario(p) for p in sorted(root.glob("*.toml"))]


def select_scenarios(names: list[str] | None, root: Path = SCENARIOS_DIR) -> list[Scenario]:
    found = {s.name: s for s in discover_scenarios(root)}
    wanted = names or [n for n in DEFAULT_SCENARIOS if n in found]
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise ConfigError(f"unknown scenarios {unknown}; found {sorted(found)}")
    return [found[n] for n in wanted]
