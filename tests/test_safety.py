"""Safety: YAML only through safe_load; model weights only through safetensors (no unpickling)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from rankfw.core import InputError
from rankfw.core.registry import Registry
from rankfw.models import check_model_reference, resolve_model
from rankfw.spec import parse_spec


class _Payload:
    """Unpickling this creates a file: proof that the pickle was (or was not) loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.marker, "pwned"))


def _pickled_model(folder: Path, marker: Path) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1,
                                                    "num_attention_heads": 2, "intermediate_size": 8, "vocab_size": 10}))
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(marker)))
    return folder


def test_a_pickle_payload_in_a_model_folder_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    folder = _pickled_model(tmp_path / "model", marker)
    with pytest.raises(InputError, match="refusing to load pickle-format weights \\(pytorch_model.bin\\)"):
        check_model_reference(str(folder))
    with pytest.raises(InputError, match="refusing to load pickle-format weights"):
        resolve_model(str(folder))
    assert not marker.exists()


def test_transformers_is_told_to_load_safetensors_only(tmp_path: Path) -> None:
    """The loading flag every plugin passes also protects hub ids: transformers refuses the pickle."""
    from transformers import AutoModel

    from rankfw.models import SAFE_LOADING

    marker = tmp_path / "pwned.txt"
    folder = _pickled_model(tmp_path / "model", marker)
    with pytest.raises(Exception, match="safetensors"):
        AutoModel.from_pretrained(str(folder), **SAFE_LOADING)
    assert not marker.exists()


def test_a_spec_pointing_at_pickled_weights_fails_validation(tmp_path: Path, tiny: Path, registry: Registry) -> None:
    from rankfw_biencoder_distill.encoder import EncoderConfig

    marker = tmp_path / "pwned.txt"
    folder = _pickled_model(tmp_path / "model", marker)
    with pytest.raises(Exception, match="refusing to load pickle-format weights"):
        EncoderConfig(model=str(folder))
    assert not marker.exists()


def test_yaml_tags_that_build_python_objects_are_rejected(registry: Registry, tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    spec = f"!!python/object/apply:pathlib.Path.write_text [!!python/object/apply:pathlib.Path ['{marker}'], 'x']\n"
    with pytest.raises(InputError, match="invalid YAML"):
        parse_spec(spec, registry, source="evil.yaml")
    assert not marker.exists()
