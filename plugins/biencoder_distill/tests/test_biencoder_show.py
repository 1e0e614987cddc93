"""`rankfw components show biencoder` describes the reranker, not the encoder it uses."""

from __future__ import annotations

import json

import pytest
import rankfw_biencoder_distill
from click.testing import CliRunner
from rankfw_biencoder_distill.params import EncoderConfig

from rankfw.cli import main
from rankfw.core.registry import load_registry


def test_biencoder_description_is_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    import rankfw.core.registry as reg

    registry = load_registry(extra_plugins=[("biencoder", rankfw_biencoder_distill)], use_entry_points=False)
    monkeypatch.setattr(reg, "default_registry", lambda: registry)
    table = CliRunner().invoke(main, ["components", "show", "biencoder"], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].startswith("biencoder (reranker)") and lines[1].startswith("bi-encoder reranker")
    assert EncoderConfig.__doc__ not in table.stdout
    data = json.loads(CliRunner().invoke(main, ["components", "show", "biencoder", "--json"]).stdout)
    assert data["description"].startswith("bi-encoder reranker")
    assert "biencoder" in data["config_schema"]["description"] and data["config_schema"]["description"] != EncoderConfig.__doc__
    assert data["defaults"]["model"] == "bundled:multilingual-e5-small"
