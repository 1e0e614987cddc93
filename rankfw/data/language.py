"""One language's data as a spec names it: corpus, topic sets (eval / train / heldout), qrels."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rankfw.core.errors import InputError
from rankfw.core.types import Corpus, Qrels, Topics, TrainingExample
from rankfw.data import is_irds, open_corpus, read_qrels, read_topics, read_training
from rankfw.data.corpus import source_digest
from rankfw.data.holdout import HoldoutRule, is_heldout
from rankfw.spec import DatasetSpec

SOURCES = ("corpus", "topics", "qrels", "train", "parallel")
__all__ = ["LanguageData", "is_heldout"]


@dataclass
class LanguageData:
    """The sources of one language (paths or ``irds:`` ids), read lazily and once."""

    language: str
    sources: dict[str, str | None]
    holdout: float
    cache_dir: Path
    formats: dict[str, str | None] = field(default_factory=dict)
    """Source -> format name (``None`` or absent: detected), plus ``topic_field``."""
    rule: HoldoutRule | None = None
    """How queries are held out (default: ``holdout`` of the queries, by a hash of the qid)."""
    _topics: dict[str, tuple[Topics, Qrels]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_spec(cls, dataset: DatasetSpec, language: str, cache_dir: Path) -> LanguageData:
        rule = HoldoutRule(dataset.holdout, dataset.holdout_group_by, dataset.holdout_folds, dataset.holdout_fold)
        return cls(language, {s: dataset.source(s, language) for s in SOURCES}, dataset.holdout, cache_dir,
                   dataset.formats.model_dump(), rule)

    @property
    def holdout_rule(self) -> HoldoutRule:
        return self.rule if self.rule is not None else HoldoutRule(self.holdout)

    def check_files(self, needed: set[str] | None = None) -> None:
        """Fail early, naming the spec field, when a local source file (of ``needed``) is missing."""
        for name, source in self.sources.items():
            if needed is not None and name not in needed:
                continue
            folder_ok = name == "corpus" and Path(str(source)).is_dir()
            if source is not None and not is_irds(source) and not Path(source).is_file() and not folder_ok:
                raise InputError(f"file not found: {source}", f"dataset.{name} [{self.language}]")

    @cached_property
    def corpus(self) -> Corpus:
        return open_corpus(self._required("corpus"), self.cache_dir, self.formats.get("corpus"))

    @cached_property
    def fingerprint(self) -> dict[str, str | float]:
        """Content hashes of every source (ids for ir_datasets), for stage cache keys."""
        out: dict[str, str | float] = {"holdout": self.holdout, **self.holdout_rule.fingerprint()}
        for name, source in self.sources.items():
            if source is None:
                continue
            out[name] = source if is_irds(source) else source_digest(Path(source), self.cache_dir / "corpus")
        chosen = {k: v for k, v in self.formats.items() if v is not None and v != "title"}
        if chosen:  # only when set: a detected format follows from the content hashed above
            out["formats"] = json.dumps(chosen, sort_keys=True)
        return out

    def check_training(self) -> None:
        """Read the whole training file once (it reports its own malformed lines)."""
        if self.sources["train"] is not None:
            if not sum(1 for _ in read_training(self.sources["train"])):  # reads every line
                raise InputError("no training examples (the file is empty)", self.sources["train"])

    @cached_property
    def heldout_qids(self) -> frozenset[str]:
        """The training queries held out (whole groups; see :mod:`rankfw.data.holdout`)."""
        if self.sources["train"] is None or not self.holdout_rule.active:
            return frozenset()
        try:
            return self.holdout_rule.heldout_qids(read_training(self.sources["train"]))
        except InputError as e:
            raise InputError(e.message, f"{e.where} [{self.language}]") from None

    @cached_property
    def heldout_examples(self) -> tuple[TrainingExample, ...]:
        """The held-out training examples (for checkpoint selection and tuning; never for training)."""
        held = self.heldout_qids
        if not held:
            return ()
        return tuple(ex for ex in read_training(self._required("train")) if ex.query_id in held)

    def topic_set(self, name: str) -> tuple[Topics, Qrels]:
        """Topics and qrels of ``eval`` (the spec's topics and qrels), ``train`` or ``heldout``
        (the training queries, with their positives judged 1 and negatives 0)."""
        if name not in self._topics:
            self._topics[name] = self._eval() if name == "eval" else self._from_training(name == "heldout")
        return self._topics[name]

    def _eval(self) -> tuple[Topics, Qrels]:
        topics = read_topics(self._required("topics"), self.formats.get("topics"), self.formats.get("topic_field") or "title")
        qrels = read_qrels(self.sources["qrels"], self.formats.get("qrels")) if self.sources["qrels"] else {}
        if qrels and not any(r > 0 for q in topics if q in qrels for r in qrels[q].values()):
            raise InputError(f"no relevant judgement for any of the {len(topics)} topics of {self.sources['topics']} "
                             f"(e.g. topic {next(iter(topics))!r}, qrels query {next(iter(qrels))!r}): every measure would be 0",
                             str(self.sources["qrels"]))
        return topics, qrels

    def _from_training(self, heldout: bool) -> tuple[Topics, Qrels]:
        topics: Topics = {}
        qrels: Qrels = {}
        for ex in read_training(self._required("train")):
            if (ex.query_id in self.heldout_qids) != heldout:
                continue
            topics[ex.query_id] = ex.query
            judged = {d.docid: 0 for d in ex.negatives}
            judged.update({d.docid: 1 for d in ex.positives})
            qrels[ex.query_id] = judged
        if not topics:
            which = "held-out" if heldout else "training"
            raise InputError(f"no {which} queries (check dataset.train and dataset.holdout / holdout_folds)", f"dataset.train [{self.language}]")
        return topics, qrels

    def _required(self, name: str) -> str:
        source = self.sources[name]
        if source is None:
            raise InputError(f"this pipeline needs dataset.{name}", f"dataset.{name}")
        return source
