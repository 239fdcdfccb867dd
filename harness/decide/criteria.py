"""decision.toml: the team's criteria, weights and scores, read and validated, and the names
every scoring module shares (criteria, labels, file names, sensitivity settings)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, read_toml
from harness.paths import REPO_ROOT, SCENARIOS_DIR, SPIKES_DIR

FRAGILE_DELTA, FRAGILE_SHARE = 0.05, 0.60  # a lead this easy to flip is called fragile
CLI = ".venv/bin/spikebench"  # what `make` installs; works without an activated venv

CRITERIA = (
    "ease_of_development",
    "performance",
    "ecosystem",
    "team_fit",
    "operational_overhead",
)
DEFAULT_WEIGHTS = {
    "ease_of_development": 0.3,
    "performance": 0.2,
    "ecosystem": 0.2,
    "team_fit": 0.2,
    "operational_overhead": 0.1,
}
JUDGED = ("ease_of_development", "ecosystem", "team_fit")
MEASURED = ("performance", "operational_overhead")
LABELS = {c: c.replace("_", " ") for c in CRITERIA}
DEFAULT_CRITERIA = REPO_ROOT / "decision.toml"
DEFAULT_LOC_SHARE = 0.4
SUM_TOLERANCE = 0.001
DRAWS, SEED, CONCENTRATION = 1000, 20240101, 50.0
DECISION_MD, SCORE_JSON = "decision.md", "score.json"
SEED_CANDIDATES = ("django", "fastapi", "flask", "litestar")  # the shortlist without [shortlist]


# -- the criteria file ------------------------------------------------------------------------


@dataclass
class Judgement:
    score: int
    rationale: str


@dataclass
class Criteria:
    path: Path
    weights: dict[str, float]
    scenario_weights: dict[str, float]
    loc_share: float
    judged: dict[str, dict[str, Judgement]]  # framework → criterion → judgement
    title: str = "Choose the Python web framework for our API service"
    context: str = ""
    slo_p99_ms: float = 100.0  # [performance]: the latency SLO capacity is judged against
    expected_rps: float | None = None  # [performance]: the load to size for
    vcpu_hour_price: float | None = None  # [performance]: for the monthly cost in sizing
    shortlist: tuple[str, ...] = ()  # [shortlist] candidates: what the team decides between


def _check_weights(path: Path, section: str, weights: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(weights) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown {'criteria' if section == 'weights' else 'scenarios'} {unknown} in "
            f"[{section}]; known: {sorted(known)}"
        )
    for key, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: [{section}] {key} = {value!r} is not a number")
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"{path}: [{section}] {key} = {value} is outside [0, 1]")
    total = sum(weights.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ConfigError(
            f"{path}: [{section}] weights must sum to 1 (± {SUM_TOLERANCE}); "
            f"they sum to {total:.4f}"
        )


def known_frameworks(spikes_dir: Path = SPIKES_DIR) -> set[str]:
    """What [frameworks.<name>] may name: a spike, or a variant with scores of its own."""
    return {p.parent.name for p in spikes_dir.glob("*/spike.toml")} | set(
        known_candidates(spikes_dir)
    )


def known_scenarios(scenarios_dir: Path = SCENARIOS_DIR) -> set[str]:
    return {p.stem for p in scenarios_dir.glob("*.toml")}


def known_candidates(spikes_dir: Path = SPIKES_DIR) -> list[str]:
    """Every spike and variant name (`flask`, `flask@gthread`), in discovery order."""
    from harness.manifest import discover_candidates

    return [c.name for c in discover_candidates(spikes_dir)]


def parse_shortlist(path: Path, data: dict[str, Any], known: list[str] | None) -> tuple[str, ...]:
    """[shortlist] candidates, checked against the candidates there are. Without the section:
    the seed candidates that exist (none there: empty, i.e. every spike)."""
    known = known_candidates() if known is None else known
    table = data.get("shortlist")
    if table is None:
        return tuple(c for c in SEED_CANDIDATES if c in known)
    names = table.get("candidates") if isinstance(table, dict) else None
    extra = sorted(set(table) - {"candidates"}) if isinstance(table, dict) else []
    if extra:
        raise ConfigError(f"{path}: unknown [shortlist] keys {extra}; only candidates")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f'{path}: [shortlist] candidates must be a list of names, e.g. ["flask"]')
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"{path}: unknown candidates {unknown} in [shortlist]; known: {sorted(known)}"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: [shortlist] candidates names one candidate twice")
    return tuple(names)


def load_shortlist(path: Path = DEFAULT_CRITERIA, spikes_dir: Path = SPIKES_DIR) -> list[str]:
    """The shortlist alone, for `bench` (which needs none of the scoring sections valid)."""
    data = read_toml(path, "") if path.exists() else {}
    return list(parse_shortlist(path, data, known_candidates(spikes_dir)))


def load_criteria(
    path: Path = DEFAULT_CRITERIA,
    frameworks: set[str] | None = None,
    scenarios: set[str] | None = None,
    candidates: list[str] | None = None,
) -> Criteria:
    """Read and validate decision.toml; every problem is a ConfigError naming file and key."""
    frameworks = known_frameworks() if frameworks is None else frameworks
    scenarios = known_scenarios() if scenarios is None else scenarios
    data = read_toml(
        path,
        f"criteria file {path} not found; copy decision.toml from the repository root or "
        "pass --criteria FILE",
    )
    unknown_sections = sorted(
        set(data)
        - {
            "decision",
            "weights",
            "scenarios",
            "ease_of_development",
            "frameworks",
            "performance",
            "shortlist",
        }
    )
    if unknown_sections:
        raise ConfigError(f"{path}: unknown sections {unknown_sections}")
    weights = dict(data.get("weights", DEFAULT_WEIGHTS))
    missing = [c for c in CRITERIA if c not in weights]
    if missing:
        raise ConfigError(
            f"{path}: [weights] must give every criterion a weight; missing {missing}"
        )
    _check_weights(path, "weights", weights, set(CRITERIA))
    scenario_weights = dict(data.get("scenarios", {}))
    if not scenario_weights:
        raise ConfigError(f"{path}: [scenarios] is missing: say how much each scenario matters")
    _check_weights(path, "scenarios", scenario_weights, scenarios)
    share = data.get("ease_of_development", {}).get("measured_share", DEFAULT_LOC_SHARE)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise ConfigError(f"{path}: [ease_of_development] measured_share must be in [0, 1]")
    judged: dict[str, dict[str, Judgement]] = {}
    for name, entries in (data.get("frameworks") or {}).items():
        if name not in frameworks:
            raise ConfigError(
                f"{path}: unknown framework {name!r} in [frameworks]; known spikes: "
                f"{sorted(frameworks)}"
            )
        judged[name] = {}
        for crit, entry in entries.items():
            where = f"{path}: frameworks.{name}.{crit}"
            if crit in MEASURED:
                raise ConfigError(f"{where}: {crit} is measured from the run, not scored by hand")
            if crit not in JUDGED:
                raise ConfigError(f"{where}: unknown criterion; scored by hand: {list(JUDGED)}")
            if not isinstance(entry, dict) or "score" not in entry:
                raise ConfigError(f'{where}: write {{ score = 1..5, rationale = "why" }}')
            score = entry["score"]
            if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
                raise ConfigError(f"{where}.score = {score!r}: scores are integers 1..5")
            rationale = str(entry.get("rationale", "")).strip()
            if not rationale:
                raise ConfigError(f"{where}: every score needs a rationale line")
            judged[name][crit] = Judgement(score, rationale)
        absent = [c for c in JUDGED if c not in judged[name]]
        if absent:
            raise ConfigError(f"{path}: frameworks.{name} has no score for {absent}")
    perf = dict(data.get("performance", {}))
    for key in perf:
        if key not in ("slo_p99_ms", "expected_rps", "vcpu_hour_price"):
            raise ConfigError(f"{path}: unknown key performance.{key}")
        value = perf[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(f"{path}: performance.{key} = {value!r} must be a positive number")
    meta = data.get("decision", {})
    return Criteria(
        path=path,
        weights={c: float(weights[c]) for c in CRITERIA},
        scenario_weights={k: float(v) for k, v in scenario_weights.items()},
        loc_share=float(share),
        judged=judged,
        title=str(meta.get("title", Criteria.title)),
        context=str(meta.get("context", "")),
        slo_p99_ms=float(perf.get("slo_p99_ms", 100.0)),
        expected_rps=float(perf["expected_rps"]) if "expected_rps" in perf else None,
        vcpu_hour_price=float(perf["vcpu_hour_price"]) if "vcpu_hour_price" in perf else None,
        shortlist=parse_shortlist(path, data, candidates),
    )
