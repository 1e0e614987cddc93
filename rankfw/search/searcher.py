"""``rankfw.Searcher``: one query in, ranked passages out, from a trained pipeline.

>>> searcher = Searcher.from_output("runs/xquad", stage="fused", language="de")  # doctest: +SKIP
>>> searcher.search("Wer gewann den Super Bowl 50?", k=3)                        # doctest: +SKIP
[Hit(docid='56be4db0acb8001400a502ec', score=0.93, rank=1, title='Super_Bowl_50', text='...'), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rankfw.core.errors import InputError
from rankfw.search.engine import Engine
from rankfw.spec import Pipeline

WARM_UP_QUERY = "warm up"
"""The query :meth:`Searcher.warm_up` ranks (it loads every model; int8 models calibrate on fixed
inputs, not on the first query, so a warm-up changes no score)."""


@dataclass(frozen=True)
class Hit:
    """One ranked passage: ``docid``, ``score``, ``rank`` (from 1), ``title`` and ``text``."""

    docid: str
    score: float
    rank: int
    title: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        """The hit as a JSON-ready dict."""
        return asdict(self)


class Searcher:
    """Ranks ad-hoc queries with one stage of a pipeline in one language.

    Models, indexes and the JVM are loaded on the first query and kept; :meth:`search_many` ranks
    several queries in one pass of each stage (the batch path, batched). Searchers made by
    :meth:`with_` share the loaded components.
    """

    def __init__(self, engine: Engine, stage: str | None = None, language: str | None = None) -> None:
        self.engine = engine
        self.stage = stage or engine.default_stage()
        servable = engine.servable()
        self.language = language or (servable.get(self.stage) or [""])[0]
        engine.check(self.stage, self.language)

    @classmethod
    def from_output(cls, output_dir: str | Path, stage: str | None = None, language: str | None = None,
                    cache: str | Path | None = None, registry: Any = None) -> Searcher:
        """A searcher over a finished ``rankfw run`` folder: its spec, trained models and weights."""
        folder = Path(output_dir)
        if not (folder / "spec.yaml").is_file():
            raise InputError("not an output folder of 'rankfw run' (no spec.yaml)", str(folder))
        return cls.from_yaml(folder / "spec.yaml", stage=stage, language=language, out=folder, cache=cache,
                             registry=registry)

    @classmethod
    def from_yaml(cls, spec: str | Path, stage: str | None = None, language: str | None = None,
                  overrides: Sequence[str] = (), out: str | Path | None = None, cache: str | Path | None = None,
                  registry: Any = None) -> Searcher:
        """A searcher over a spec; its trained stages are read from ``out`` (default: the spec's output)."""
        from rankfw.spec import load_spec

        if registry is None:
            from rankfw.core.registry import default_registry

            registry = default_registry()
        pipeline = load_spec(spec, registry, list(overrides))
        return cls.from_pipeline(pipeline, out, stage=stage, language=language, cache=cache)

    @classmethod
    def from_pipeline(cls, pipeline: Pipeline, out: str | Path | None = None, stage: str | None = None,
                      language: str | None = None, cache: str | Path | None = None) -> Searcher:
        """A searcher over a validated pipeline (:class:`rankfw.spec.Pipeline`)."""
        engine = Engine(pipeline, Path(out) if out is not None else None, Path(cache) if cache is not None else None)
        return cls(engine, stage, language)

    def with_(self, stage: str | None = None, language: str | None = None) -> Searcher:
        """A searcher of another stage or language that shares this one's loaded components."""
        return Searcher(self.engine, stage or self.stage, language or self.language)

    def __repr__(self) -> str:
        return f"Searcher({self.engine.output_dir}, stage={self.stage!r}, language={self.language!r})"

    def warm_up(self, query: str = WARM_UP_QUERY) -> dict[tuple[str, str], str | None]:
        """Load every searchable stage's components in every language by ranking ``query`` once;
        ``(stage, language) -> None``, or the one-line reason the pair cannot be searched."""
        from rankfw.core.errors import RankfwError

        out: dict[tuple[str, str], str | None] = {}
        for stage, languages in self.engine.servable().items():
            for language in languages:
                try:
                    self.with_(stage=stage, language=language).search(query, k=1)
                    out[(stage, language)] = None
                except RankfwError as e:
                    out[(stage, language)] = str(e)
        return out

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The top ``k`` passages for ``query``."""
        if not isinstance(query, str) or not query.strip():
            raise InputError("the query is empty" if isinstance(query, str) else
                             f"the query must be a string, got {type(query).__name__}", "query")
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """The top ``k`` passages of each query, every stage run once over all of them."""
        if isinstance(queries, str):
            raise InputError("search_many takes a list of queries; use search() for one", "queries")
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise InputError(f"k must be a positive integer, got {k!r}", "k")
        topics: dict[str, str] = {}
        for i, query in enumerate(queries):
            if not isinstance(query, str) or not query.strip():
                raise InputError("the query is empty" if isinstance(query, str) else
                                 f"a query must be a string, got {type(query).__name__}", f"queries[{i}]")
            topics[f"q{i}"] = " ".join(query.split())
        if not topics:
            return []
        run = self.engine.rank(self.stage, self.language, topics)
        ranked = {qid: run.get(qid, [])[:k] for qid in topics}
        docs = self.engine.documents(self.language, list(dict.fromkeys(d for h in ranked.values() for d, _ in h)))
        return [
            [Hit(d, float(s), r, docs[d].title, docs[d].text) for r, (d, s) in enumerate(ranked[qid], start=1)]
            for qid in topics
        ]
