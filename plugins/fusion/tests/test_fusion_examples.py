"""Hand-computed fusions, missing-document handling, weights from a file, config errors, registration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rankfw_fusion
from pydantic import ValidationError
from rankfw_fusion import FUSERS
from rankfw_fusion.combmax import CombMaxFuser
from rankfw_fusion.combmnz import CombMnzFuser
from rankfw_fusion.combsum import CombSumFuser
from rankfw_fusion.rrf import RRFFuser
from rankfw_fusion.weighted import WeightedFuser

from rankfw.core import InputError, Run, StageContext
from rankfw.core.registry import load_registry

A = Run.from_ranked({"q": [("a", 3.0), ("b", 2.0), ("c", 1.0)]})
B = Run.from_ranked({"q": [("c", 9.0), ("a", 5.0), ("d", 1.0)]})


def ctx(tmp_path: Path = Path("."), language: str | None = "en") -> StageContext:
    logs: list[str] = []
    c = StageContext("fused", language, tmp_path, tmp_path, log=logs.append)
    c.logs = logs  # type: ignore[attr-defined]
    return c


def test_rrf_by_hand() -> None:
    fused = RRFFuser().fuse([A, B], ctx())
    expected = {
        "a": 1 / 61 + 1 / 62,  # rank 1 in A, rank 2 in B
        "c": 1 / 63 + 1 / 61,
        "b": 1 / 62,
        "d": 1 / 63,
    }
    assert [d for d, _ in fused["q"]] == ["a", "c", "b", "d"]
    assert dict(fused["q"]) == pytest.approx(expected, abs=1e-15)


def test_rrf_constant_and_fill() -> None:
    fused = RRFFuser(RRFFuser.Config(rrf_k=0, fill=0.25)).fuse([A, B], ctx())
    assert dict(fused["q"]) == pytest.approx({"a": 1 + 1 / 2, "c": 1 / 3 + 1, "b": 1 / 2 + 0.25, "d": 1 / 3 + 0.25})


def test_combsum_combmnz_combmax_by_hand() -> None:
    # min-max: A -> a 1, b .5, c 0; B -> c 1, a .5, d 0
    assert dict(CombSumFuser().fuse([A, B], ctx())["q"]) == pytest.approx({"a": 1.5, "c": 1.0, "b": 0.5, "d": 0.0})
    assert dict(CombMnzFuser().fuse([A, B], ctx())["q"]) == pytest.approx({"a": 3.0, "c": 2.0, "b": 0.5, "d": 0.0})
    assert dict(CombMaxFuser().fuse([A, B], ctx())["q"]) == pytest.approx({"a": 1.0, "c": 1.0, "b": 0.5, "d": 0.0})
    # equal scores are ordered by docid
    assert [d for d, _ in CombMaxFuser().fuse([A, B], ctx())["q"]] == ["a", "c", "b", "d"]


def test_missing_documents_default_and_fill() -> None:
    none = {"norm": "none"}
    # ranx's defaults: 0 for sums, -1e9 for the max, not counted by MNZ
    assert dict(CombMaxFuser(CombMaxFuser.Config(**none)).fuse([A, B], ctx())["q"])["b"] == 2.0
    assert dict(CombSumFuser(CombSumFuser.Config(norm="none", fill=-1.0)).fuse([A, B], ctx())["q"]) == pytest.approx(
        {"a": 8.0, "c": 10.0, "b": 1.0, "d": 0.0}
    )
    assert dict(CombMaxFuser(CombMaxFuser.Config(norm="none", fill=4.0)).fuse([A, B], ctx())["q"])["b"] == 4.0
    mnz = CombMnzFuser(CombMnzFuser.Config(norm="none", fill=1.0)).fuse([A, B], ctx())
    assert dict(mnz["q"])["b"] == (2.0 + 1.0) * 1


def test_borda_fills_missing_documents() -> None:
    # 4 candidates; A misses d: 0.5 - (3 - 1) / 8 = 0.25; B misses b: 0.25
    fused = CombSumFuser(CombSumFuser.Config(norm="borda")).fuse([A, B], ctx())
    assert dict(fused["q"]) == pytest.approx({"a": 1 + 0.75, "c": 0.5 + 1, "b": 0.75 + 0.25, "d": 0.25 + 0.5})


def test_weighted_by_hand_and_zero_weight_drops_a_run() -> None:
    fused = WeightedFuser(WeightedFuser.Config(norm="none", weights=[1.0, 0.5])).fuse([A, B], ctx())
    assert dict(fused["q"]) == pytest.approx({"a": 5.5, "c": 5.5, "b": 2.0, "d": 0.5})
    only_a = WeightedFuser(WeightedFuser.Config(norm="none", weights=[2.0, 0.0])).fuse([A, B], ctx())
    assert only_a["q"] == [("a", 6.0), ("b", 4.0), ("c", 2.0)]


def test_queries_missing_from_a_run_are_kept() -> None:
    other = Run.from_ranked({"p": [("x", 1.0)]})
    fused = CombSumFuser().fuse([A, other], ctx())
    assert list(fused) == ["q", "p"] and fused["p"] == [("x", 0.0)]
    assert RRFFuser().fuse([Run({"q": []}), Run({"q": []})], ctx())["q"] == []


def test_weights_must_match_the_inputs() -> None:
    with pytest.raises(InputError, match="3 weights for 2 input runs") as e:
        WeightedFuser(WeightedFuser.Config(weights=[1, 1, 1])).fuse([A, B], ctx())
    assert e.value.where == "stages.fused.params.weights"


@pytest.mark.parametrize(
    ("cls", "params", "field"),
    [
        (WeightedFuser, {"weights": [0, 0]}, "weights"),
        (WeightedFuser, {"weights": [-1, 2]}, "weights"),
        (WeightedFuser, {"weights": []}, "weights"),
        (WeightedFuser, {}, "weights"),
        (CombSumFuser, {"norm": "zmuv"}, "norm"),
        (CombSumFuser, {"k": 0}, "k"),
        (RRFFuser, {"depth": -1}, "depth"),
        (RRFFuser, {"rrf_k": -1}, "rrf_k"),
        (CombSumFuser, {"typo": 1}, "typo"),
    ],
)
def test_bad_params_are_rejected(cls: type, params: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        cls.Config(**params)


def _weights_file(folder: Path, **extra: object) -> Path:
    data = {
        "weights": [0.25, 0.75], "runs": ["a", "b"], "measure": "nDCG@10", "score": 0.5, "grid_size": 5,
        "step": 0.25, "norm": "none", "depth": None, "per_language": {}, "scores_by_language": {},
    }
    data.update(extra)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weights.json").write_text(json.dumps(data))
    return folder


def test_weights_read_from_a_trained_folder(tmp_path: Path) -> None:
    folder = _weights_file(tmp_path / "tune", per_language={"de": {"weights": [1.0, 0.0], "score": 1.0}})
    fuser = WeightedFuser(WeightedFuser.Config(norm="none", weights=str(folder)))
    c = ctx(tmp_path)
    assert dict(fuser.fuse([A, B], c)["q"]) == pytest.approx({"a": 4.5, "c": 7.0, "b": 0.5, "d": 0.75})
    assert any("weights [0.25, 0.75]" in line for line in c.logs)  # type: ignore[attr-defined]
    again = ctx(tmp_path, "es")  # another language with the shared weights: not said again (11 lines in a run)
    WeightedFuser(WeightedFuser.Config(norm="none", weights=str(folder))).fuse([A, B], again)
    assert not any("weights [" in line for line in again.logs)  # type: ignore[attr-defined]
    own = ctx(tmp_path, "de")
    assert fuser.fuse([A, B], own)["q"] == [("a", 3.0), ("b", 2.0), ("c", 1.0)]
    assert any(line.startswith("fused [de]: weights [1.0, 0.0]") for line in own.logs)  # type: ignore[attr-defined]
    # a norm other than the tuned one is reported
    other = WeightedFuser(WeightedFuser.Config(norm="min-max", weights=str(folder)))
    c = ctx(tmp_path)
    other.fuse([A, B], c)
    assert any("tuned with norm=none" in line for line in c.logs)  # type: ignore[attr-defined]


def test_unresolved_or_missing_weights_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not resolved"):
        WeightedFuser(WeightedFuser.Config(weights="stage:tune")).fuse([A, B], ctx())
    with pytest.raises(InputError, match="no weights.json"):
        WeightedFuser(WeightedFuser.Config(weights=str(tmp_path / "nope"))).fuse([A, B], ctx())
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "weights.json").write_text("{")
    with pytest.raises(InputError, match="malformed"):
        WeightedFuser(WeightedFuser.Config(weights=str(tmp_path / "bad"))).fuse([A, B], ctx())


def test_plugin_registers_every_component() -> None:
    registry = load_registry(extra_plugins=[("fusion", rankfw_fusion)], use_entry_points=False)
    assert not registry.broken
    assert registry.names("fuser") == sorted(FUSERS)
    assert registry.names("trainer") == ["fusion-weights"]
    for name in FUSERS:
        info = registry.get("fuser", name)
        assert info.description and "norm" in info.defaults()


def test_import_is_light() -> None:
    import subprocess
    import sys

    code = "import sys, rankfw_fusion; print(any(m in sys.modules for m in ('numpy', 'ir_measures', 'ranx')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
