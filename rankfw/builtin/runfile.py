"""The ``runfile`` retriever: an existing TREC run (an official first-stage run, another toolkit's
run) as a pipeline's first stage, so that any run can be re-ranked and fused without a plugin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import Field

from rankfw.core import ComponentConfig, Corpus, InputError, Retriever, Run, StageContext, Topics, hookimpl
from rankfw.core.io import file_digest

__version__ = "1.0.0"


class RunFileRetriever(Retriever):
    """Reads a TREC run file per language; checks its qids against the topics and its docids
    against the corpus before any stage runs."""

    class Config(ComponentConfig):
        path: str = Field(description="TREC run file (qid Q0 docid rank score tag), optionally gzipped; "
                                      "{lang} is replaced by the language; relative to the current folder")
        k: int | None = Field(None, gt=0, description="keep the first k hits of each query (default: all)")

    description = "A TREC run file per language as a first stage (re-rank or fuse any existing run)"

    def _path(self) -> Path:
        path = Path(self.config.path).expanduser()  # type: ignore[attr-defined]
        if "{lang}" in str(path):
            raise InputError("the run file's {lang} was not filled in (run it through a pipeline)", str(path))
        if not path.is_file():
            raise InputError("run file not found" if not path.exists() else "not a file", str(path))
        return path

    def _read(self) -> Run:
        run = Run.read_trec(self._path())
        k = self.config.k  # type: ignore[attr-defined]
        return run.top(k) if k else run

    def data_fingerprint(self) -> str:
        """The run file's content hash (a changed file recomputes the stage and what follows)."""
        return file_digest(self._path())

    def check(self, topics: Topics, corpus: Corpus, language: str) -> None:
        """Every qid of the run is a topic and every docid is in the corpus."""
        self._checked(topics, corpus)

    def _checked(self, topics: Topics, corpus: Corpus) -> Run:
        run = self._read()
        where = str(self._path())
        if not len(run):
            raise InputError("the run file has no hits", where)
        strangers = [q for q in run if q not in topics]
        if strangers:
            raise InputError(f"the run names {len(strangers)} query id(s) that are not in the topics, "
                             f"e.g. {strangers[0]!r} (is it the run of these topics?)", where)
        unknown = corpus.missing(sorted(run.docids()))
        if unknown:
            raise InputError(f"the run names {len(unknown)} docid(s) that are not in the corpus, e.g. "
                             f"{unknown[0]!r} (is it a run over this corpus?)", where)
        return run

    def retrieve(self, topics: Topics, corpus: Corpus, ctx: StageContext) -> Run:
        run = self._checked(topics, corpus)
        absent = [q for q in topics if q not in run]
        if absent:
            ctx.log(f"{ctx.stage} [{ctx.language}]: {len(absent)} of {len(topics)} topics have no hits in {self._path()}")
        return Run.from_ranked({q: run.get(q, []) for q in topics})


@hookimpl
def register_retrievers(register: Callable[[str, type[Retriever]], None]) -> None:
    register("runfile", RunFileRetriever)
