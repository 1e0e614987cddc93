"""The translator interface and the content-hash translation cache."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rankfw.core import KeyValueStore, TrainingInput, text_digest


class TranslatorConfig(BaseModel):
    """How to translate English training data: the backend and its parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str = Field("parallel-file", description="parallel-file or transformers")
    file: str | None = Field(
        None, description="parallel-file: English<TAB>target file, '{lang}' filled in (default: the dataset's parallel)"
    )
    model: str = Field(
        "Helsinki-NLP/opus-mt-en-{lang}",
        description="transformers: MarianMT / M2M100 / NLLB hub id or folder, '{lang}' filled in",
    )
    source_language: str = Field("en", description="the language translated from")
    language_codes: dict[str, str] = Field(
        default_factory=dict, description="transformers: target code per language (e.g. NLLB 'de': 'deu_Latn')"
    )
    num_beams: int = Field(4, gt=0, description="transformers: beam width")
    max_length: int = Field(256, gt=0, description="transformers: tokens per input and per output")
    batch_size: int = Field(16, gt=0, description="transformers: texts per generate() call")
    device: str = Field("auto", description="transformers: auto, cpu, cuda, mps")


class Translator(ABC):
    """Translates English texts into one target language; ``None`` marks a text it cannot translate."""

    def __init__(self, config: TranslatorConfig, language: str, parallel: str | TrainingInput | None = None) -> None:
        self.config = config
        self.language = language
        self.parallel = parallel

    @abstractmethod
    def identity(self) -> str:
        """A string that changes whenever the translations could change (model, file content, settings)."""

    @abstractmethod
    def translate(self, texts: Sequence[str], advance: Callable[[int], None]) -> list[str | None]:
        """Translate ``texts`` in order, calling ``advance(n)`` as ``n`` more are done."""


@dataclass
class Translations:
    """The outcome of translating a set of texts: what was found and what was not."""

    language: str
    found: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    from_cache: int = 0

    def get(self, text: str) -> str | None:
        """The translation of ``text`` (``None`` if it could not be translated)."""
        return self.found.get(text)


class TranslationCache:
    """Translations stored under ``<cache_dir>/translations/<translator digest>.sqlite``, keyed by the
    source text's hash. Batches are committed as they finish, so an interrupted run resumes."""

    def __init__(self, cache_dir: Path, identity: str) -> None:
        folder = Path(cache_dir) / "translations"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{text_digest(identity)[:32]}.sqlite"
        self._store = KeyValueStore(self.path, "TEXT")

    def lookup(self, texts: Sequence[str]) -> dict[str, str | None]:
        """Cached translations of ``texts`` (a cached ``None``: known to be untranslatable)."""
        keys = {text_digest(t): t for t in texts}
        return {keys[key]: target for key, target in self._store.get_many(list(keys)).items()}

    def store(self, pairs: Sequence[tuple[str, str | None]]) -> None:
        """Remember ``(source, translation)`` pairs."""
        self._store.put_many((text_digest(s), t) for s, t in pairs)

    def close(self) -> None:
        """Close the database."""
        self._store.close()
