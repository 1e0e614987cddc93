"""Translators: a tiny MarianMT built here (transformers backend) and the parallel-file backend."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from rankfw_crossencoder_nmt.translate import TranslatorConfig, make_translator, translate_texts

from rankfw.core import InputError, StageContext
from rankfw.data import read_parallel


def _ctx(tmp_path: Path) -> StageContext:
    return StageContext("tt", "de", tmp_path / "work", tmp_path / "cache")


@pytest.fixture(scope="module")
def tiny_marian(xquad: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1+1-layer MarianMT (random weights) with SentencePiece vocabularies trained on en-de text."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder = tmp_path_factory.mktemp("tiny-marian")
    pairs = read_parallel(xquad / "parallel" / "en-de.tsv")
    for side, texts in (("source", [e for e, _ in pairs]), ("target", [t for _, t in pairs])):
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts), model_prefix=str(folder / side), vocab_size=400,
            model_type="unigram", character_coverage=1.0, bos_id=-1, eos_id=1, unk_id=2, pad_id=0,
            minloglevel=2,
        )
    vocab: dict[str, int] = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for side in ("source", "target"):
        proc = spm.SentencePieceProcessor(model_file=str(folder / f"{side}.model"))
        for i in range(proc.get_piece_size()):
            vocab.setdefault(proc.id_to_piece(i), len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    for side in ("source", "target"):
        (folder / f"{side}.model").rename(folder / f"{side}.spm")
    tokenizer = MarianTokenizer(
        str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json"),
        source_lang="en", target_lang="de", model_max_length=64,
    )
    torch.manual_seed(0)
    config = MarianConfig(
        vocab_size=len(vocab), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, forced_eos_token_id=1,
    )
    model = MarianMTModel(config)
    model.generation_config.min_new_tokens = 3  # random weights: never stop at once
    model_dir = folder / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return model_dir


def test_transformers_translator_runs_end_to_end_and_caches(tiny_marian: Path, tmp_path: Path) -> None:
    texts = ["How many points did the Panthers defense surrender?", "Who won Super Bowl 50?", "The game was played."]
    config = TranslatorConfig(backend="transformers", model=str(tiny_marian), num_beams=2, max_length=12,
                              batch_size=2, device="cpu")
    translator = make_translator(config, "de", None, tmp_path / "cache")
    first = translate_texts(texts + texts[:1], translator, _ctx(tmp_path))
    assert sorted(first.found) == sorted(texts) and not first.missing and first.from_cache == 0
    assert all(isinstance(t, str) and t for t in first.found.values())

    again = make_translator(config, "de", None, tmp_path / "cache")
    second = translate_texts(texts, again, _ctx(tmp_path))
    assert second.found == first.found and second.from_cache == len(texts)
    assert again._loaded is None  # served from the cache: the model was never loaded
    assert len(list((tmp_path / "cache" / "translations").glob("*.sqlite"))) == 1

    other = TranslatorConfig(backend="transformers", model=str(tiny_marian), num_beams=1, max_length=12, device="cpu")
    third = translate_texts(texts, make_translator(other, "de", None, tmp_path / "cache"), _ctx(tmp_path))
    assert third.from_cache == 0  # other generation settings: a separate cache


def test_parallel_file_translates_questions_and_reports_what_is_missing(xquad: Path, tmp_path: Path) -> None:
    with gzip.open(xquad / "en" / "train.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f][:40]
    questions = [r["query"] for r in rows]
    sentences = [p["text"] for r in rows for p in r["positive_passages"] + r["negative_passages"]]
    translator = make_translator(TranslatorConfig(), "th", str(xquad / "parallel" / "en-th.tsv"), tmp_path / "cache")
    done = translate_texts(questions + sentences, translator, _ctx(tmp_path))
    assert all(done.get(q) for q in questions)  # every question is in the table, a fifth of the sentences
    assert done.missing and all(m in sentences for m in done.missing)
    assert len(done.found) + len(done.missing) == len(set(questions + sentences))
    again = translate_texts(questions, translator, _ctx(tmp_path))
    assert again.from_cache == len(set(questions))


def test_parallel_file_template_and_errors(xquad: Path, tmp_path: Path) -> None:
    config = TranslatorConfig(file=str(xquad / "parallel" / "en-{lang}.tsv"))
    zh = make_translator(config, "zh", None, tmp_path)
    assert translate_texts(["How many points did the Panthers defense surrender?", "not in the table"], zh, _ctx(tmp_path)).missing == ["not in the table"]
    with pytest.raises(InputError, match="no parallel file"):
        make_translator(TranslatorConfig(), "de", None, tmp_path)
    with pytest.raises(InputError, match="not found"):
        make_translator(TranslatorConfig(file=str(tmp_path / "nope-{lang}.tsv")), "de", None, tmp_path)
    with pytest.raises(InputError, match="unknown translator backend"):
        make_translator(TranslatorConfig(backend="babelfish"), "de", None, tmp_path)
