"""A HuggingFace hub cache seeded offline, for rehearsing specs that name models by hub id.

- :func:`seed_hub_model` puts a local model folder into ``$HF_HOME/hub`` under a hub id, in the
  hub cache's own layout (``models--org--name/refs/main`` and ``snapshots/<commit>/``), so that
  ``from_pretrained("org/name")`` and sentence-transformers find it with ``HF_HUB_OFFLINE=1``;
- :func:`tiny_nllb`: a random-weight ``M2M100ForConditionalGeneration`` (NLLB-200's architecture)
  with an ``NllbTokenizer`` (a BPE vocabulary trained on shipped text, plus NLLB's language-code
  tokens such as ``deu_Latn``);
- :func:`tiny_xlmr`: a random-weight ``XLMRobertaForMaskedLM`` (xlm-roberta-large's architecture,
  tiny) with the XLM-R sentencepiece tokenizer of the bundled multilingual-e5-small.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from rankfw.testing.tiny_models import xquad_texts


def seed_hub_model(hf_home: Path, repo_id: str, folder: Path, ref: str = "main") -> Path:
    """Copy the model ``folder`` into the hub cache of ``hf_home`` as ``repo_id``, its commit named by
    the branch or tag ``ref`` (``refs/<ref>``); returns the snapshot."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith("."))
    digest = hashlib.sha1(repo_id.encode())
    for path in files:
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    commit = digest.hexdigest()
    repo = Path(hf_home) / "hub" / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    for path in files:
        target = snapshot / path.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():  # the same commit seeded again (under another ref)
            continue
        try:  # the hub cache itself links snapshot files to blobs
            target.symlink_to(path.resolve())
        except OSError:
            shutil.copyfile(path, target)
    (repo / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    return snapshot


def seed_hub(hf_home: Path, models: Mapping[str, Path]) -> dict[str, Path]:
    """:func:`seed_hub_model` for every ``repo_id -> folder``."""
    return {repo_id: seed_hub_model(hf_home, repo_id, folder) for repo_id, folder in models.items()}


def tiny_nllb(folder: Path, texts: Iterable[str] | None = None, seed: int = 0, vocab_size: int = 2000) -> Path:
    """A 1+1-layer, 32-dim NLLB-architecture translator (random weights) and its tokenizer, saved into ``folder``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bpe.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"])
    bpe.train_from_iterator(xquad_texts(("en", "de", "es", "ar")) if texts is None else texts, trainer)
    vocab = bpe.get_vocab()
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in json.loads(bpe.to_str())["model"]["merges"]]
    tokenizer = NllbTokenizer(vocab=vocab, merges=merges, src_lang="eng_Latn", model_max_length=1024)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = M2M100Config(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id, scale_embedding=True, tokenizer_class="NllbTokenizer",
    )
    model = M2M100ForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        decoder_start_token_id=tokenizer.eos_token_id, max_length=200,
    )
    model.save_pretrained(folder)
    return folder


def tiny_xlmr(folder: Path, tokenizer_folder: Path, seed: int = 0) -> Path:
    """A 2-layer, 32-dim ``XLMRobertaForMaskedLM`` (random weights) with the XLM-R tokenizer of
    ``tokenizer_folder`` (e.g. the bundled multilingual-e5-small's), saved into ``folder``."""
    import torch
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaForMaskedLM

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=514, type_vocab_size=1, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    XLMRobertaForMaskedLM(config).save_pretrained(folder)
    return folder
