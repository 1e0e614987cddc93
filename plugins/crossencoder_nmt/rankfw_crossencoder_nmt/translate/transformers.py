"""The ``transformers`` translator: MarianMT, M2M100 or NLLB with batched beam-search generate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rankfw.models import SAFE_LOADING, model_identity, pick_device, resolve_model
from rankfw_crossencoder_nmt.translate.base import Translator

NLLB_CODES: dict[str, str] = {
    "ar": "arb_Arab", "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn",
    "hi": "hin_Deva", "ru": "rus_Cyrl", "th": "tha_Thai", "tr": "tur_Latn", "vi": "vie_Latn",
    "zh": "zho_Hans", "fr": "fra_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang", "fa": "pes_Arab",
    "fi": "fin_Latn", "id": "ind_Latn", "sw": "swh_Latn", "te": "tel_Telu", "bn": "ben_Beng",
    "yo": "yor_Latn",
}
"""ISO 639-1 -> NLLB-200 language code (for the languages of MIRACL and XQuAD)."""


class TransformersTranslator(Translator):
    """Neural machine translation with a HF seq2seq model (``{lang}`` in the model id is filled in)."""

    def __init__(self, *args: Any, cache_dir: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model_ref = self.config.model.replace("{lang}", self.language)
        self._cache_dir = cache_dir
        self._loaded: tuple[Any, Any, dict[str, Any]] | None = None

    def identity(self) -> str:
        c = self.config
        return f"transformers\t{model_identity(self.model_ref)}\t{self.language}\t{c.num_beams}\t{c.max_length}"

    def _load(self) -> tuple[Any, Any, dict[str, Any]]:
        if self._loaded is None:
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            path = resolve_model(self.model_ref, self._cache_dir)
            tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForSeq2SeqLM.from_pretrained(path, **SAFE_LOADING).eval().to(pick_device(self.config.device))
            self._loaded = (model, tokenizer, self._generate_args(model, tokenizer))
        return self._loaded

    def _generate_args(self, model: Any, tokenizer: Any) -> dict[str, Any]:
        """Source/target language settings for multilingual models (M2M100, NLLB); none for Marian."""
        kind = type(tokenizer).__name__.lower()
        source, target = self.config.source_language, self.language
        if "nllb" in kind:
            codes = {**NLLB_CODES, **self.config.language_codes}
            tokenizer.src_lang = codes.get(source, source)
            return {"forced_bos_token_id": tokenizer.convert_tokens_to_ids(codes.get(target, target))}
        if "m2m100" in kind:
            tokenizer.src_lang = self.config.language_codes.get(source, source)
            return {"forced_bos_token_id": tokenizer.get_lang_id(self.config.language_codes.get(target, target))}
        return {}

    def translate(self, texts: Sequence[str], advance: Callable[[int], None]) -> list[str | None]:
        import torch

        model, tokenizer, extra = self._load()
        c = self.config
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out: list[str | None] = [None] * len(texts)
        device = next(model.parameters()).device
        with torch.inference_mode():
            for start in range(0, len(order), c.batch_size):
                idx = order[start : start + c.batch_size]
                batch = tokenizer(
                    [texts[i] for i in idx], return_tensors="pt", padding=True, truncation=True, max_length=c.max_length
                ).to(device)
                generated = model.generate(**batch, num_beams=c.num_beams, max_length=c.max_length, **extra)
                for i, text in zip(idx, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
                    out[i] = text.strip()
                advance(len(idx))
        return out
