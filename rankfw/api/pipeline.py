"""``rankfw.Pipeline``: a spec from YAML or a dict (files, ``irds:`` ids or in-memory data), run from Python."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from rankfw.api.inputs import materialise_dataset
from rankfw.api.result import Result
from rankfw.core.errors import InputError
from rankfw.core.io import default_cache_dir
from rankfw.core.registry import Registry
from rankfw.spec import Pipeline as PlannedPipeline
from rankfw.spec import load_spec, parse_spec

RUNNER_OPTIONS = ("only", "until", "force_stages", "limit", "languages")
"""Keyword arguments handed to the Runner only when given (``None`` keeps its default behaviour)."""


class Pipeline:
    """A validated pipeline, ready to :meth:`run` from Python (what ``rankfw run`` runs).

    >>> p = Pipeline.from_yaml("examples/quickstart.yaml", overrides=["stages.bm25.params.k=10"])
    >>> p.stages
    ['bm25', 'e5', 'rrf']
    """

    def __init__(self, planned: PlannedPipeline, registry: Registry | None = None) -> None:
        self.planned = planned
        self.registry = registry

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: Sequence[str] = (), registry: Registry | None = None) -> Pipeline:
        """Load and validate a spec file; ``overrides`` are ``--set`` strings (``KEY=VALUE``)."""
        registry = registry or _default_registry()
        return cls(load_spec(path, registry, list(overrides)), registry)

    @classmethod
    def from_dict(cls, spec: dict[str, Any], overrides: Sequence[str] = (), registry: Registry | None = None) -> Pipeline:
        """Validate a spec given as a dict. ``dataset.corpus`` / ``topics`` / ``qrels`` may be
        in-memory data (a list of dicts or a DataFrame, for every language, with a ``language``
        column, or a mapping language -> data) as well as templates and ``irds:`` ids."""
        if not isinstance(spec, dict):
            raise InputError(f"the spec must be a dict, got {type(spec).__name__}", "<dict>")
        raw = copy.copy(spec)
        if isinstance(raw.get("dataset"), dict):
            cache = Path(raw.get("cache") or default_cache_dir())
            raw["dataset"] = materialise_dataset(raw["dataset"], cache)
        registry = registry or _default_registry()
        text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
        return cls(parse_spec(text, registry, source="<dict>", overrides=list(overrides)), registry)

    @property
    def stages(self) -> list[str]:
        """The stage names in the order they run."""
        return list(self.planned.order)

    @property
    def languages(self) -> list[str]:
        """The dataset's languages."""
        return list(self.planned.spec.dataset.languages)

    def __repr__(self) -> str:
        return f"Pipeline({self.planned.spec.name!r}: {' -> '.join(self.stages)}; {len(self.languages)} languages)"

    def run(
        self,
        out: str | Path | None = None,
        *,
        cache: str | Path | None = None,
        force: bool = False,
        only: list[str] | None = None,
        until: str | None = None,
        force_stages: list[str] | None = None,
        limit: int | None = None,
        languages: list[str] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> Result:
        """Run every stage (or reuse finished ones) into ``out`` (default: the spec's output) and
        return the :class:`Result`. ``only`` / ``until`` / ``force_stages`` / ``limit`` /
        ``languages`` select part of the work, as the ``rankfw run`` options of the same names."""
        from rankfw.run.runner import Runner

        options = {"only": only, "until": until, "force_stages": force_stages, "limit": limit, "languages": languages}
        given = {name: value for name, value in options.items() if value is not None}
        runner = Runner(self.planned, output_dir=Path(out) if out is not None else None,
                        cache_dir=Path(cache) if cache is not None else None, force=force,
                        log=log or (lambda message: None), **given)
        outcome = runner.run()
        return Result.from_runner(runner, outcome.metrics)

    def searcher(self, out: str | Path | None = None, stage: str | None = None, language: str | None = None) -> Any:
        """A :class:`~rankfw.search.Searcher` over this pipeline's finished output folder."""
        from rankfw.search import Searcher

        return Searcher.from_pipeline(self.planned, out, stage=stage, language=language)


def _default_registry() -> Registry:
    from rankfw.core.registry import default_registry

    return default_registry()
