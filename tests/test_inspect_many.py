"""`spikebench inspect` covers every spike and variant, and its table stays one line per candidate
with whole names when there are 13+ of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.cli import main
from harness.run import inspect as insp
from tests.rundata_support import MANY
from tests.test_shortlist import spikes_with_a_variant


def row(i: int) -> dict[str, Any]:
    return {
        "loc": 400 + i, "loc_files": 9, "direct_dependencies": 7, "total_dependencies": 30 + i,
        "installed_size_bytes": (80 + i) * 2**20, "import_seconds": 0.5, "cold_start_seconds": 1.25,
        "errors": ["no local venv: installed size and import time not measured"] if i % 3 else [],
    }  # fmt: skip


@pytest.mark.parametrize("width", [100, 160])
def test_table_keeps_one_line_per_candidate_and_whole_names(width: int) -> None:
    data = {name: row(i) for i, name in enumerate(MANY)}
    console = Console(width=width, record=True, color_system=None)
    console.print(insp.inspect_table(data))
    lines = console.export_text().splitlines()
    for i, name in enumerate(MANY):
        mine = [ln for ln in lines if f" {name} " in ln]
        assert len(mine) == 1, f"{name}: wrapped, cut or missing ({mine})"
        assert f"{400 + i} (9)" in mine[0] and f"{30 + i}" in mine[0], mine[0]
    assert all(len(ln) <= width for ln in lines)


def test_inspect_covers_every_variant_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = spikes_with_a_variant(tmp_path)
    seen: list[str] = []

    def fake(spikes: list[Any], parity: Any, with_cold_start: bool = True) -> dict[str, Any]:
        seen.extend(s.name for s in spikes)
        return {s.name: row(i) for i, s in enumerate(spikes)}

    monkeypatch.setattr(insp, "inspect_all", fake)
    assert main(["inspect", "--spikes-dir", str(root), "--no-cold-start"]) == 0
    assert seen[0] == "flask" and "flask@gthread" in seen
    out = capsys.readouterr().out
    assert "flask@gthread" in out
