"""The pipeline spec's pydantic models (dataset, stages, executor) and the validated pipeline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rankfw.core.components import ComponentConfig
from rankfw.core.kinds import BY_SPEC, KIND_TO_COMPONENT, SpecKind, inputs_error  # noqa: F401 (re-exported)
from rankfw.core.registry import ComponentInfo

STAGE_REF = "stage:"
TOPIC_SETS = ("eval", "train", "heldout")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_NAME = 100
"""The longest spec or stage name (stage names become file names, with a prefix and suffix)."""

Kind = SpecKind
"""A stage's ``kind:`` (from the kind table, :mod:`rankfw.core.kinds`)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FormatsSpec(_Strict):
    """Source formats (names from :mod:`rankfw.data.formats`); unset ones are detected from the first line."""

    corpus: str | None = None
    topics: str | None = None
    qrels: str | None = None
    topic_field: Literal["title", "desc"] = "title"

    @model_validator(mode="after")
    def _known(self) -> FormatsSpec:
        from rankfw.data.formats import check_format

        for kind in ("corpus", "topics", "qrels"):
            if getattr(self, kind) is not None:
                check_format(kind, getattr(self, kind))
        return self


class DatasetSpec(_Strict):
    """The data of every language: file templates (``{root}``, ``{lang}``) or ``irds:`` ids."""

    root: str = "."
    languages: list[str] = Field(min_length=1)
    corpus: str | dict[str, str]
    topics: str | dict[str, str]
    qrels: str | dict[str, str] | None = None
    train: str | dict[str, str] | None = None
    parallel: str | dict[str, str] | None = None
    holdout: float = Field(0.0, ge=0.0, lt=1.0, description="fraction of training queries (groups) held out")
    holdout_group_by: str = Field(
        "query", description="what is held out whole: query, title (of the first positive) or docid:REGEX (capture group 1)"
    )
    holdout_folds: int | None = Field(None, ge=2, description="K folds of whole groups (instead of a fraction)")
    holdout_fold: int = Field(0, ge=0, description="the fold held out (0-based) when holdout_folds is set")
    formats: FormatsSpec = Field(default_factory=FormatsSpec)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for lang in value:
            if not re.fullmatch(r"[a-z]{2,3}", lang):
                raise ValueError(f"{lang!r} is not an ISO 639 language code (two or three lower-case letters)")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

    @field_validator("holdout_group_by")
    @classmethod
    def _group_by(cls, value: str) -> str:
        from rankfw.data.holdout import check_group_by

        return check_group_by(value)

    @model_validator(mode="after")
    def _folds(self) -> DatasetSpec:
        if self.holdout_folds is None:
            if "holdout_fold" in self.model_fields_set:
                raise ValueError("holdout_fold needs holdout_folds (the number of folds)")
            return self
        if "holdout" in self.model_fields_set:
            raise ValueError("set either holdout (a fraction) or holdout_folds (K folds), not both")
        if self.holdout_fold >= self.holdout_folds:
            raise ValueError(f"holdout_fold {self.holdout_fold} is not below holdout_folds {self.holdout_folds} (folds are 0-based)")
        return self

    def source(self, field: str, language: str) -> str | None:
        """The field's template filled in for ``language`` (``None`` if the dataset has none).

        A field is a template (``{root}``, ``{lang}``) or a mapping language -> template, for
        sources that only some languages have (a language missing from the mapping has none).
        """
        template = getattr(self, field)
        if isinstance(template, dict):
            template = template.get(language)
        if template is None:
            return None
        return template.replace("{root}", self.root).replace("{lang}", language)


class StageSpec(_Strict):
    """One stage: its kind, component, parameters and inputs (stage names)."""

    kind: Kind
    component: str
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: list[str] = Field(default_factory=list)
    topics: Literal["eval", "train", "heldout"] = "eval"
    per_language: bool = False
    languages: list[str] | None = Field(None, min_length=1, description="a subset of dataset.languages (omit for all)")

    @model_validator(mode="after")
    def _shape(self) -> StageSpec:
        problem = inputs_error(self.kind, len(self.inputs))
        if problem:
            raise ValueError(problem)
        if self.per_language and BY_SPEC[self.kind].produces_run:
            raise ValueError("per_language applies to train stages only")
        return self


class ExecutorSpec(_Strict):
    """Where stage batches run: ``local`` (default) or ``ray``."""

    kind: Literal["local", "ray"] = "local"
    address: str | None = None
    num_workers: int = Field(2, gt=0)
    gpus_per_worker: float = Field(0.0, ge=0.0)


class PipelineSpec(_Strict):
    """A whole pipeline: dataset, stages, metrics, output folder."""

    name: str = "rankfw"
    output: str | None = None
    cache: str | None = None
    dataset: DatasetSpec
    metrics: list[str] = Field(default_factory=lambda: ["nDCG@10", "R@100"], min_length=1)
    stages: dict[str, StageSpec] = Field(min_length=1)
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not PLAIN_NAME.match(value) or len(value) > MAX_NAME:
            raise ValueError(f"the name must be a plain folder name (letters, digits, '.', '_', '-'; at most {MAX_NAME} characters), got {value!r}")
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        import ir_measures

        for measure in value:
            try:
                parsed = ir_measures.parse_measure(measure)
            except Exception:
                raise ValueError(f"unknown measure {measure!r} (ir_measures syntax, e.g. nDCG@10, R@100, RR@10)") from None
            try:
                supported = ir_measures.DefaultPipeline.supports(parsed)
            except Exception:  # a measure without a required parameter raises from supports()
                supported = False
            if not supported:
                raise ValueError(f"measure {measure!r} cannot be computed by the installed ir_measures providers "
                                 "(a parameter missing, or a provider not installed)")
        return value

    @property
    def output_dir(self) -> Path:
        return Path(self.output if self.output else f"runs/{self.name}")


@dataclass
class Stage:
    """A validated stage: its spec, its component, its validated Config and its dependencies."""

    name: str
    spec: StageSpec
    component: ComponentInfo
    config: ComponentConfig
    model_refs: dict[str, str]
    """Params whose value is ``stage:NAME``: param name -> train stage name."""

    @property
    def dependencies(self) -> list[str]:
        return list(dict.fromkeys([*self.spec.inputs, *self.model_refs.values()]))

    @property
    def produces_runs(self) -> bool:
        return BY_SPEC[self.spec.kind].produces_run


@dataclass
class Pipeline:
    """A validated spec: stages in dependency order, ready to run."""

    spec: PipelineSpec
    stages: dict[str, Stage]
    order: list[str]
    source: str
    raw: dict[str, Any]

    def languages_of(self, stage: Stage) -> list[str]:
        return stage.spec.languages or self.spec.dataset.languages
