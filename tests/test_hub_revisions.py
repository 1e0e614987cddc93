"""Hub ids pinned to a revision (``org/name@REVISION``): what they load and how they are keyed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankfw.core import InputError
from rankfw.models import model_identity, resolve_model
from rankfw.models.refs import check_model_reference, is_hub_id, split_hub_ref
from rankfw.testing.hub_mirror import seed_hub_model


def _model(folder: Path, hidden: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(f'{{"hidden_size": {hidden}}}')
    (folder / "model.safetensors").write_bytes(bytes([hidden]) * 8)
    return folder


def test_a_pinned_ref_is_spelled_and_split() -> None:
    assert is_hub_id("org/name@v1.0") and is_hub_id("name@" + "a" * 40) and is_hub_id("org/name")
    assert split_hub_ref("org/name@v1") == ("org/name", "v1") and split_hub_ref("org/name") == ("org/name", None)
    assert is_hub_id("org/name@refs/pr/1") and split_hub_ref("org/name@refs/pr/1") == ("org/name", "refs/pr/1")
    assert not is_hub_id("org/name@") and not is_hub_id("org/name@a@b") and not is_hub_id("org--x/name@v1")
    assert not is_hub_id("org/name@refs/../x") and not is_hub_id("org/name@refs/")
    check_model_reference("intfloat/multilingual-e5-small@main")  # no error: nothing is looked up
    with pytest.raises(InputError, match="neither a HuggingFace hub id"):
        check_model_reference("org/name@bad rev")


def test_a_pinned_revision_loads_its_own_snapshot_not_main(tmp_path: Path, offline_hub: Path) -> None:
    """Before, ``org/name@rev`` was no model reference at all: a study could not pin the model it used."""
    first = seed_hub_model(offline_hub, "org/tiny", _model(tmp_path / "a", 8), ref="v1")
    second = seed_hub_model(offline_hub, "org/tiny", _model(tmp_path / "b", 16))  # main moves on
    assert first.name != second.name
    assert Path(resolve_model(f"org/tiny@{first.name}")) == first  # a commit
    assert Path(resolve_model("org/tiny@v1")) == first  # a tag
    assert Path(resolve_model("org/tiny@main")) == second
    pr = seed_hub_model(offline_hub, "org/tiny", _model(tmp_path / "pr", 4), ref="refs/pr/1")
    assert Path(resolve_model("org/tiny@refs/pr/1")) == pr and model_identity("org/tiny@refs/pr/1") == f"org/tiny@{pr.name}"
    assert resolve_model("org/tiny") == "org/tiny"  # unpinned: from_pretrained follows main
    assert (Path(resolve_model("org/tiny@v1")) / "config.json").read_text() == '{"hidden_size": 8}'
    # keyed by the commit: a tag and its commit are one model; main another
    assert model_identity("org/tiny@v1") == model_identity(f"org/tiny@{first.name}") == f"org/tiny@{first.name}"
    assert model_identity("org/tiny") == model_identity("org/tiny@main") == f"org/tiny@{second.name}"
    with pytest.raises(InputError, match="could not get revision 'v9' of the model") as e:
        resolve_model("org/tiny@v9")
    assert e.value.where == "org/tiny@v9"


def test_a_pinned_revision_without_safetensors_is_refused(tmp_path: Path, offline_hub: Path) -> None:
    folder = tmp_path / "pickled"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    seed_hub_model(offline_hub, "org/old", folder, ref="v1")
    with pytest.raises(InputError, match="no safetensors weights") as e:
        resolve_model("org/old@v1")
    assert e.value.where == "org/old@v1"


def test_a_pinned_commit_is_its_own_identity_even_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 40-digit commit never changes: no hub round trip, and the key stays when upstream moves."""
    import huggingface_hub
    from huggingface_hub import constants

    def unreachable(self, ref, timeout=None, revision=None):  # type: ignore[no-untyped-def]
        raise AssertionError("asked the hub about a pinned commit")

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", unreachable)
    commit = "0123456789abcdef0123456789abcdef01234567"
    assert model_identity(f"org/x@{commit}") == f"org/x@{commit}"

    class Info:
        sha = "f00d"

    asked: list[str | None] = []
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info",
                        lambda self, ref, timeout=None, revision=None: asked.append(revision) or Info())
    assert model_identity("org/x@v2") == "org/x@f00d" and asked == ["v2"]  # a tag: the commit it names now


def test_a_stage_pinned_to_a_tag_keeps_its_key_when_main_moves(
        tmp_path: Path, tiny: Path, write_spec, offline_hub: Path) -> None:  # type: ignore[no-untyped-def]
    """The run of a stage pinned to ``@v1`` is reused when upstream pushes to main, and recomputed
    when the tag is moved to another commit."""
    pytest.importorskip("rankfw_biencoder_distill")
    import rankfw_testplugin

    from rankfw.core.registry import load_registry
    from rankfw.run.runner import Runner
    from rankfw.spec import load_spec

    seed_hub_model(offline_hub, "org/tiny-bi", _model(tmp_path / "a", 8), ref="v1")
    seed_hub_model(offline_hub, "org/tiny-bi", _model(tmp_path / "a", 8))
    registry = load_registry(extra_plugins=[("testplugin", rankfw_testplugin)])
    spec = write_spec(tmp_path / "s.yaml", tiny, tmp_path / "out", """\
  first: {kind: retrieve, component: overlap, params: {k: 4}}
  pinned: {kind: rerank, component: biencoder, inputs: [first], params: {model: "org/tiny-bi@v1"}}
  latest: {kind: rerank, component: biencoder, inputs: [first], params: {model: "org/tiny-bi"}}
""", languages="[en]")

    def keys() -> dict[str, str]:
        runner = Runner(load_spec(spec, registry), output_dir=tmp_path / "out", cache_dir=tmp_path / "cache")
        return {name: runner.key(name, "en").key for name in ("pinned", "latest")}

    before = keys()
    seed_hub_model(offline_hub, "org/tiny-bi", _model(tmp_path / "b", 16))  # a push to main
    after = keys()
    assert after["pinned"] == before["pinned"] and after["latest"] != before["latest"]
    seed_hub_model(offline_hub, "org/tiny-bi", _model(tmp_path / "c", 32), ref="v1")  # the tag moved
    assert keys()["pinned"] != after["pinned"]


@pytest.mark.slow
def test_a_pinned_sentence_transformer_encodes_as_that_revision(tmp_path: Path, offline_hub: Path) -> None:
    """End to end through the bi-encoder plugin's loader: the pinned tag's weights, not main's."""
    pytest.importorskip("rankfw_biencoder_distill")
    from rankfw_biencoder_distill.encoder import load_sentence_transformer

    from rankfw.testing.tiny_models import tiny_sentence_transformer

    old = tiny_sentence_transformer(tmp_path / "old", seed=0)
    seed_hub_model(offline_hub, "org/st", old, ref="v1")
    seed_hub_model(offline_hub, "org/st", tiny_sentence_transformer(tmp_path / "new", seed=1))

    def encode(ref: str) -> list[float]:
        model = load_sentence_transformer(ref, "auto", 32, "cpu", tmp_path / "cache")
        return [round(float(x), 5) for x in model.encode(["Who won Super Bowl 50?"])[0][:8]]

    assert encode("org/st@v1") == encode(str(old))
    assert encode("org/st@v1") != encode("org/st")
