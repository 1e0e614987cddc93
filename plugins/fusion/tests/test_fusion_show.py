"""`rankfw components show weighted`: the weights are shown as required."""

from __future__ import annotations

import json

import pytest
import rankfw_fusion
from click.testing import CliRunner

from rankfw.cli import main
from rankfw.core.registry import load_registry


def test_weighted_weights_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    import rankfw.core.registry as reg

    registry = load_registry(extra_plugins=[("fusion", rankfw_fusion)], use_entry_points=False)
    monkeypatch.setattr(reg, "default_registry", lambda: registry)
    result = CliRunner().invoke(main, ["components", "show", "weighted"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ weights"))
    cells = [c.strip() for c in row.strip().strip("│").split("│")]
    assert cells[:4] == ["weights", "list[float] | str", "", "yes"]
    data = json.loads(CliRunner().invoke(main, ["components", "show", "weighted", "--json"]).stdout)
    assert [p["name"] for p in data["parameters"] if p["required"]] == ["weights"]
    assert data["config_schema"]["required"] == ["weights"]
