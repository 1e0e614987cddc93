"""Translators for translate-train: a registry of backends and a cached ``translate_texts``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rankfw.core import InputError, StageContext, TrainingInput
from rankfw_crossencoder_nmt.translate.base import (
    TranslationCache,
    Translations,
    Translator,
    TranslatorConfig,
)
from rankfw_crossencoder_nmt.translate.parallel_file import ParallelFileTranslator
from rankfw_crossencoder_nmt.translate.transformers import TransformersTranslator

BACKENDS: dict[str, type[Translator]] = {
    "parallel-file": ParallelFileTranslator,
    "transformers": TransformersTranslator,
}
"""Backend name -> translator class."""

__all__ = ["BACKENDS", "Translations", "Translator", "TranslatorConfig", "make_translator", "translate_texts"]


def make_translator(
    config: TranslatorConfig, language: str, parallel: str | TrainingInput | None, cache_dir: Path
) -> Translator:
    """The translator of ``config.backend`` into ``language``; ``parallel`` is the language's parallel
    text (a file, or the trainer's input for that language; the parallel-file backend reads it)."""
    cls = BACKENDS.get(config.backend)
    if cls is None:
        raise InputError(f"unknown translator backend {config.backend!r}; choose one of {sorted(BACKENDS)}", "translator.backend")
    kwargs: dict[str, Any] = {"cache_dir": cache_dir} if cls is TransformersTranslator else {}
    return cls(config, language, parallel, **kwargs)


def translate_texts(texts: Iterable[str], translator: Translator, ctx: StageContext, chunk: int = 256) -> Translations:
    """Translate the distinct ``texts``, reusing and filling the cache under ``ctx.cache_dir/translations``."""
    wanted = list(dict.fromkeys(t for t in texts if t.strip()))
    cache = TranslationCache(ctx.cache_dir, translator.identity())
    try:
        known = cache.lookup(wanted)
        todo = [t for t in wanted if t not in known]
        result = Translations(translator.language, from_cache=len(known))
        if todo:
            with ctx.progress(f"{ctx.stage}: translate en->{translator.language}", len(todo)) as bar:
                for start in range(0, len(todo), chunk):
                    part = todo[start : start + chunk]
                    done = translator.translate(part, bar.advance)
                    cache.store(list(zip(part, done, strict=True)))
                    known.update(zip(part, done, strict=True))
    finally:
        cache.close()
    for text in wanted:
        target = known.get(text)
        if target:
            result.found[text] = target
        else:
            result.missing.append(text)
    return result
