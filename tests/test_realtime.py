"""The realtime scenario's harness side: its file, the figures from the subscribers' tallies, and
the report section (the live part runs in `bench --scenarios realtime`)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.decide.document import render_md
from harness.decide.report_realtime import realtime_blocks
from harness.paths import SCENARIOS_DIR
from harness.run.realtime import realtime_figures, summary_line
from harness.scenario import DEFAULT_SCENARIOS, load_scenario


def test_realtime_scenario_needs_websocket_and_is_not_a_default() -> None:
    scenario = load_scenario(SCENARIOS_DIR / "realtime.toml")
    assert scenario.requires == ("websocket",)
    assert scenario.realtime["subscribers"] == 200
    assert scenario.users > scenario.realtime["subscribers"]  # the rest are writers
    assert "realtime" not in DEFAULT_SCENARIOS


def tally(**counts: object) -> dict[str, object]:
    base = {"subscribers": 100, "writers": 4, "sockets_peak": 100, "sockets_open": 100,
            "socket_errors": 0, "writes": 3, "delivered": 3, "lost": 0, "unsettled": 0,
            "misdelivered": 0, "duplicates": 0, "delivery_ms": [1.0, 2.0, 30.0],
            "delivery_from_send_ms": [5.0, 6.0, 40.0]}  # fmt: skip
    return {**base, **counts}


def test_figures_sum_the_processes_and_judge_every_event(tmp_path: Path) -> None:
    (tmp_path / "realtime-1.json").write_text(json.dumps(tally()))
    (tmp_path / "realtime-2.json").write_text(json.dumps(tally(lost=1, delivered=2)))
    fig = realtime_figures(tmp_path, idle_rss=100 * 2**20, peak_rss=120 * 2**20)
    assert fig is not None
    assert (fig["subscribers"], fig["sockets_peak"], fig["writes"]) == (200, 200, 6)
    assert (fig["delivered"], fig["lost"], fig["correct"]) == (5, 1, False)
    assert fig["delivery_p50_ms"] == 2.0 and fig["delivery_max_ms"] == 30.0
    assert fig["memory_per_socket_bytes"] == round(20 * 2**20 / 200)
    assert "1 lost" in summary_line("fastapi", fig)


def test_sockets_are_per_epoch_and_events_over_all(tmp_path: Path) -> None:
    (tmp_path / "epoch-2").mkdir()
    (tmp_path / "realtime-1.json").write_text(json.dumps(tally()))
    (tmp_path / "epoch-2" / "realtime-9.json").write_text(json.dumps(tally(sockets_peak=90)))
    fig = realtime_figures(tmp_path, 0, 0)
    assert fig is not None
    assert (fig["subscribers"], fig["sockets_peak"], fig["writes"]) == (100, 100, 6)


def test_no_tally_no_figures(tmp_path: Path) -> None:
    assert realtime_figures(tmp_path, 0, 0) is None


def test_report_shows_figures_and_not_supported(tmp_path: Path) -> None:
    (tmp_path / "realtime-1.json").write_text(json.dumps(tally()))
    fig = realtime_figures(tmp_path, 0, 2**20)
    run = {
        "scenarios": {"realtime": {"requires": ["websocket"]}},
        "trials": [{"scenario": "realtime", "spike": "fastapi", "realtime": fig}],
        "analysis": {"realtime": {"not_supported": ["flask", "django"]}},
    }
    text = render_md(realtime_blocks(run))
    assert "fastapi" in text and "100/100" in text
    assert "Not supported (needs websocket): flask, django." in text
