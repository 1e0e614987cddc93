"""The trainers ``translate-train`` (English data machine-translated into each language) and
``finetune-crossencoder`` (in-language data, hard negatives from the file and/or a BM25 run)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field

from rankfw.core import Document, InputError, StageContext, Trainer, TrainingExample, TrainingInput
from rankfw.models import SelectionParams, Selector, resolve_model
from rankfw_crossencoder_nmt.training.groups import TrainGroup, groups_from_examples
from rankfw_crossencoder_nmt.training.loop import LoopConfig, train_groups
from rankfw_crossencoder_nmt.translate import Translations, TranslatorConfig, make_translator, translate_texts

TRAIN_CITATION = (
    "Nogueira and Cho. Passage Re-ranking with BERT. arXiv:1901.04085, 2019. "
    "Bonifacio et al. mMARCO: A Multilingual Version of the MS MARCO Passage Ranking Dataset. arXiv:2108.13897, 2021."
)


class TranslateTrainConfig(LoopConfig):
    """Parameters of ``translate-train``."""

    source: str | None = Field(
        None, description="English training data (MIRACL-train file or irds: id); default: the 'en' input's training"
    )
    languages: list[str] | None = Field(None, description="target languages (default: the languages of the inputs)")
    translator: TranslatorConfig = Field(default_factory=TranslatorConfig, description="the translation backend")
    include_source: bool = Field(True, description="train on the English originals as well")
    on_missing: Literal["drop", "source"] = Field(
        "drop", description="an untranslatable passage: drop it, or keep the English text"
    )
    skip_examples: int = Field(
        0, ge=0, description="skip this many English examples first (e.g. the ones a later fine-tuning stage uses)"
    )
    max_examples: int | None = Field(None, gt=0, description="use at most this many English examples (after the skipped)")


class TranslateTrainTrainer(Trainer[TranslateTrainConfig]):
    """Cross-encoder trained on English retrieval data machine-translated into every target language."""

    Config = TranslateTrainConfig
    description = "Cross-encoder trained on English data translated by NMT (or a parallel file) into each language"
    citation = TRAIN_CITATION

    def train(self, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        """Translate the English examples into every language, then train one cross-encoder on all."""
        cfg = self.config
        source_lang = cfg.translator.source_language
        by_lang = {i.language: i for i in inputs}
        # whose examples() reads the English data, held-out queries removed (an explicit English
        # 'source' without an English input: the first input's held-out ids apply, as on a parallel collection)
        carrier = by_lang.get(source_lang) or (inputs[0] if cfg.source and inputs else None)
        if carrier is None or not (cfg.source or carrier.has_training()):
            raise InputError(
                f"no English training data: set 'source' or give the stage a {source_lang!r} input with training data",
                f"{ctx.stage}.params.source",
            )
        english = select_examples(carrier.examples(cfg.source), cfg.skip_examples, cfg.max_examples)
        source = cfg.source or f"dataset.train [{source_lang}]"
        targets = cfg.languages if cfg.languages is not None else [i.language for i in inputs]
        groups: list[TrainGroup] = groups_from_examples(english) if cfg.include_source else []
        report: dict[str, Any] = {"source": source, "english_examples": len(english), "languages": {}}
        parallel: dict[str, list[tuple[str, str]]] = {}
        for lang in targets:
            if lang == source_lang:
                continue
            translator = make_translator(cfg.translator, lang, by_lang.get(lang), ctx.cache_dir)
            texts = [t for ex in english for t in _texts(ex)]
            done = translate_texts(texts, translator, ctx.for_language(lang))
            translated = [t for ex in english if (t := translate_example(ex, done, cfg.on_missing)) is not None]
            lang_groups = groups_from_examples(translated)
            groups.extend(lang_groups)
            parallel[lang] = [(t, done.found[t]) for t in dict.fromkeys(texts) if t in done.found]
            report["languages"][lang] = {
                "texts": len(done.found) + len(done.missing), "translated": len(done.found),
                "missing": len(done.missing), "from_cache": done.from_cache, "examples": len(translated),
                "groups": len(lang_groups), "missing_sample": done.missing[:10],
            }
            ctx.log(f"{ctx.stage}: en->{lang}: {len(done.found)} texts translated, {len(done.missing)} not found "
                    f"({done.from_cache} from cache); {len(translated)} of {len(english)} examples kept")
        train_groups(groups, cfg, resolve_model(cfg.model, ctx.cache_dir), output_dir, ctx, {"translation": report})
        write_translations(output_dir / TRANSLATIONS, parallel)


TRANSLATIONS = "translations"
"""The folder of a translate-train model that holds its translations, ``<lang>.tsv`` (English<TAB>target):
parallel text for a later stage, e.g. ``distill`` with ``parallel: stage:NAME``."""


def write_translations(folder: Path, parallel: dict[str, list[tuple[str, str]]]) -> None:
    """Write each language's ``(english, target)`` pairs as ``folder/<lang>.tsv`` (one line a pair)."""
    folder.mkdir(parents=True, exist_ok=True)
    for lang, pairs in parallel.items():
        if not pairs:
            continue
        with open(folder / f"{lang}.tsv", "w", encoding="utf-8") as f:
            f.writelines(f"{' '.join(e.split())}\t{' '.join(t.split())}\n" for e, t in pairs if e.strip() and t.strip())


def select_examples(
    examples: Iterable[TrainingExample], skip: int, limit: int | None
) -> list[TrainingExample]:
    """The examples after the first ``skip``, at most ``limit`` of them (``None``: all).

    Two trainers that read the same questions (on a parallel collection, the English training
    file translated *is* each language's training file) can take disjoint slices this way."""
    return list(itertools.islice(examples, skip, None if limit is None else skip + limit))


def _texts(ex: TrainingExample) -> list[str]:
    return [ex.query, *(t for d in (*ex.positives, *ex.negatives) for t in (d.title, d.text) if t)]


def translate_example(ex: TrainingExample, done: Translations, on_missing: str) -> TrainingExample | None:
    """The example in the target language; ``None`` when its query or every positive is untranslatable.

    A title that cannot be translated keeps its English form (titles are mostly names).
    """
    query = done.get(ex.query)
    if query is None:
        return None

    def doc(d: Document) -> Document | None:
        text = done.get(d.text)
        if text is None:
            if on_missing != "source":
                return None
            text = d.text
        return Document(d.docid, (done.get(d.title) or d.title) if d.title else "", text)

    positives = [p for p in map(doc, ex.positives) if p is not None]
    negatives = [n for n in map(doc, ex.negatives) if n is not None]
    return TrainingExample(ex.query_id, query, positives, negatives) if positives else None


class FinetuneConfig(LoopConfig, SelectionParams):
    """Parameters of ``finetune-crossencoder`` (with checkpoint selection on held-out questions)."""

    negatives: Literal["file", "run", "both"] = Field(
        "both", description="hard negatives from the training file, the input stages' runs, or both"
    )
    depth: int = Field(30, gt=0, description="run negatives: the top N hits that are not positives (old key: run_depth)",
                       validation_alias=AliasChoices("depth", "run_depth"))
    skip_examples: int = Field(
        0, ge=0, description="skip each language's first N examples (e.g. the ones translate-train used)"
    )
    max_examples: int | None = Field(
        None, gt=0, description="use at most this many examples per language (after the skipped)"
    )


class FinetuneCrossEncoderTrainer(Trainer[FinetuneConfig]):
    """Fine-tunes a cross-encoder on in-language training data (MIRACL-train format)."""

    Config = FinetuneConfig
    description = "Cross-encoder fine-tuned on in-language training data with file and/or BM25-run hard negatives"
    citation = TRAIN_CITATION

    def train(self, inputs: Sequence[TrainingInput], output_dir: Path, ctx: StageContext) -> None:
        """Build groups from every language's examples (plus run negatives) and train one model."""
        cfg = self.config
        groups: list[TrainGroup] = []
        counts: dict[str, int] = {}
        for inp in inputs:
            examples = select_examples(inp.examples(), cfg.skip_examples, cfg.max_examples)
            if cfg.negatives in ("run", "both"):
                if not inp.runs and cfg.negatives == "run":
                    raise InputError("negatives: run needs an input stage (e.g. bm25 with topics: train)", ctx.stage)
                examples = with_run_negatives(examples, inp, cfg.depth, keep_file=cfg.negatives == "both")
            lang_groups = groups_from_examples(examples)
            counts[inp.language] = len(lang_groups)
            groups.extend(lang_groups)
        ctx.log(f"{ctx.stage}: groups per language {counts}")
        selector = Selector(inputs, cfg, ctx.stage) if cfg.select_on == "heldout" else None
        train_groups(groups, cfg, resolve_model(cfg.model, ctx.cache_dir), output_dir, ctx, {"groups_per_language": counts},
                     selector)


def with_run_negatives(
    examples: list[TrainingExample], inp: TrainingInput, depth: int, keep_file: bool
) -> list[TrainingExample]:
    """Examples whose negatives are the top ``depth`` run hits that are neither positives nor judged
    relevant (after the file's own negatives when ``keep_file``)."""
    if not inp.runs:
        return examples
    wanted: dict[str, list[str]] = {}
    for ex in examples:
        positive = {p.docid for p in ex.positives} | {d for d, r in inp.qrels.get(ex.query_id, {}).items() if r > 0}
        hits = [d for run in inp.runs.values() for d, _ in run.get(ex.query_id, [])[:depth]]
        wanted[ex.query_id] = [d for d in dict.fromkeys(hits) if d not in positive]
    docs = inp.corpus.get_many({d for ids in wanted.values() for d in ids})
    out = []
    for ex in examples:
        negatives = list(ex.negatives) if keep_file else []
        seen = {n.docid for n in negatives}
        negatives += [docs[d] for d in wanted.get(ex.query_id, []) if d not in seen]
        out.append(TrainingExample(ex.query_id, ex.query, ex.positives, negatives))
    return out
