"""The data types every component sees: documents, training examples, topics, qrels, the corpus API."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rankfw.core.errors import InputError

Topics = dict[str, str]
"""Queries by id, in file order: ``qid -> query text``."""

Qrels = dict[str, dict[str, int]]
"""Relevance judgements: ``qid -> {docid: relevance}``."""


@dataclass(frozen=True, slots=True)
class Document:
    """One passage: its id, title (may be empty) and text."""

    docid: str
    title: str
    text: str

    @property
    def contents(self) -> str:
        """Title and text joined as MIRACL indexes them (``title text``)."""
        return f"{self.title} {self.text}" if self.title else self.text


@dataclass(frozen=True, slots=True)
class TrainingExample:
    """A training query with its positive and (hard) negative passages (MIRACL train format)."""

    query_id: str
    query: str
    positives: list[Document] = field(default_factory=list)
    negatives: list[Document] = field(default_factory=list)


class Corpus(ABC):
    """A document collection with lookup by docid that does not hold the texts in memory."""

    @property
    @abstractmethod
    def fingerprint(self) -> str:
        """A content hash (or stable id) that changes whenever the documents change."""

    @abstractmethod
    def __iter__(self) -> Iterator[Document]:
        """Stream every document in collection order."""

    @abstractmethod
    def __len__(self) -> int:
        """The number of documents."""

    @abstractmethod
    def get_many(self, docids: Iterable[str]) -> dict[str, Document]:
        """Documents by id; unknown ids raise an :class:`InputError`."""

    def validate(self) -> None:
        """Check the whole corpus once (malformed lines, duplicate docids); a no-op by default."""

    def missing(self, docids: Iterable[str]) -> list[str]:
        """The docids that are not in the corpus (in the order given)."""
        wanted = list(dict.fromkeys(docids))
        try:
            self.get_many(wanted)
        except InputError:
            return [d for d in wanted if d not in self]
        return []

    def __getitem__(self, docid: str) -> Document:
        return self.get_many([docid])[docid]

    def __contains__(self, docid: object) -> bool:
        try:
            self.get_many([str(docid)])
        except InputError:
            return False
        return True
