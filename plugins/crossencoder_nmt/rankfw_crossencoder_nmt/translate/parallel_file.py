"""The ``parallel-file`` translator: looks translations up in an English<TAB>target file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rankfw.core import InputError, TrainingInput, file_digest, is_irds, read_parallel
from rankfw_crossencoder_nmt.translate.base import Translator


def _normal(text: str) -> str:
    return " ".join(text.split())


class ParallelFileTranslator(Translator):
    """Translation by table lookup (exact text, then whitespace-normalised); unknown texts are ``None``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        source = self.config.file.replace("{lang}", self.language) if self.config.file else self.parallel
        if isinstance(source, TrainingInput):  # the dataset's parallel text, through the trainer's input
            if not source.has_parallel():
                source = None
            else:
                self._pairs: Callable[[], list[tuple[str, str]]] = source.parallel_pairs
                self._digest = str(source.parallel_digest())
        if source is None:
            raise InputError(
                f"no parallel file for language {self.language!r}: set translator.file or the dataset's parallel",
                "translator.file",
            )
        if isinstance(source, str):
            if is_irds(source) or not Path(source).is_file():
                raise InputError("parallel file not found", source)
            path = source
            self._pairs = lambda: read_parallel(path)
            self._digest = file_digest(path)
        self._table: dict[str, str] | None = None

    def identity(self) -> str:
        return f"parallel-file\t{self._digest}\t{self.language}"

    def table(self) -> dict[str, str]:
        """The lookup table: normalised English -> target (the first pair wins on repeats)."""
        if self._table is None:
            self._table = {}
            for english, target in self._pairs():
                self._table.setdefault(_normal(english), target.strip())
        return self._table

    def translate(self, texts: Sequence[str], advance: Callable[[int], None]) -> list[str | None]:
        table = self.table()
        out = [table.get(_normal(t)) for t in texts]
        advance(len(texts))
        return out
