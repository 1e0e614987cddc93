"""The pipeline spec: YAML (safe_load) validated by pydantic into a graph of named stages.

Every error names the YAML path and line, e.g.
``stages.ce.params.batch_size: Input should be greater than 0 (pipeline.yaml:14)``.
"""

from __future__ import annotations

import copy
import difflib
import graphlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rankfw.core.components import ComponentConfig
from rankfw.core.errors import InputError
from rankfw.core.registry import ComponentInfo, Registry

STAGE_REF = "stage:"
KIND_TO_COMPONENT = {"retrieve": "retriever", "rerank": "reranker", "train": "trainer", "fuse": "fuser"}
TOPIC_SETS = ("eval", "train", "heldout")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

Kind = Literal["retrieve", "rerank", "train", "fuse"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSpec(_Strict):
    """The data of every language: file templates (``{root}``, ``{lang}``) or ``irds:`` ids."""

    root: str = "."
    languages: list[str] = Field(min_length=1)
    corpus: str | dict[str, str]
    topics: str | dict[str, str]
    qrels: str | dict[str, str] | None = None
    train: str | dict[str, str] | None = None
    parallel: str | dict[str, str] | None = None
    holdout: float = Field(0.0, ge=0.0, lt=1.0, description="fraction of training queries held out")

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for lang in value:
            if not re.fullmatch(r"[a-z]{2,3}", lang):
                raise ValueError(f"{lang!r} is not an ISO 639 language code (two or three lower-case letters)")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

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
    languages: list[str] | None = None

    @model_validator(mode="after")
    def _shape(self) -> StageSpec:
        if self.kind == "retrieve" and self.inputs:
            raise ValueError("a retrieve stage takes no inputs")
        if self.kind == "rerank" and len(self.inputs) != 1:
            raise ValueError(f"a rerank stage takes exactly one input stage, got {len(self.inputs)}")
        if self.kind == "fuse" and not self.inputs:
            raise ValueError("a fuse stage needs at least one input stage")
        if self.per_language and self.kind != "train":
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

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str]) -> list[str]:
        import ir_measures

        for measure in value:
            try:
                ir_measures.parse_measure(measure)
            except Exception:
                raise ValueError(f"unknown measure {measure!r} (ir_measures syntax, e.g. nDCG@10, R@100, RR@10)") from None
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
        return self.spec.kind != "train"


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


# --- loading ----------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _safe_load(text: str) -> Any:
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


class _LineIndex:
    """Maps a YAML path (tuple of keys / indexes) to the line it starts on."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            node = None
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, key.value)
                self._walk(value, sub)
                self.lines[sub] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i))

    def line(self, path: tuple[Any, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def _spec_model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The spec model that holds keys at ``path`` (for listing the valid keys)."""
    if path == ():
        return PipelineSpec
    if path in (("dataset",), ("executor",)):
        return {"dataset": DatasetSpec, "executor": ExecutorSpec}[path[0]]
    if len(path) == 2 and path[0] == "stages":
        return StageSpec
    return None


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) if path else "(top level)"


class _Errors:
    """Builds :class:`InputError` s located by YAML path and line."""

    def __init__(self, source: str, lines: _LineIndex, overrides: set[tuple[str, ...]]) -> None:
        self.source, self.lines, self.overrides = source, lines, overrides

    def error(self, path: tuple[Any, ...], message: str) -> InputError:
        """``path.to.key: message (file:line)``, or ``(--set)`` for a command-line override."""
        if any(path[: len(o)] == o for o in self.overrides):
            return InputError(message, f"{_dotted(path)} (--set)")
        line = self.lines.line(path)
        return InputError(f"{message} ({self.source}:{line})" if line else f"{message} ({self.source})", _dotted(path))

    def from_validation(
        self, error: ValidationError, prefix: tuple[Any, ...] = (), model: type[BaseModel] | None = None
    ) -> InputError:
        # An unknown key first: a misspelt key also makes the key it was meant to be "missing".
        errors = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and "[" in p))
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
            owner = (model if len(loc) == 1 else None) if model is not None else _spec_model_at(loc[:-1])
            if owner is not None:
                fields = list(owner.model_fields)
                close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
                message += f"; did you mean {close[0]!r}?" if close else ""
                message += f" (valid: {', '.join(fields) or 'none'})"
        elif first["type"] == "missing":
            message = "required key is missing"
        more = len(error.errors()) - 1
        if more:
            message += f" (and {more} more error{'s' if more > 1 else ''})"
        return self.error((*prefix, *loc), message)


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """``stages.bm25.params.k=200`` -> (("stages", "bm25", "params", "k"), 200); values are YAML."""
    if "=" not in text:
        raise InputError("expected KEY=VALUE, e.g. stages.bm25.params.k=200", f"--set {text}")
    key, value = text.split("=", 1)
    parts = tuple(p for p in key.strip().split("."))
    if not all(parts):
        raise InputError("the key must be a dotted path such as dataset.root", f"--set {text}")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return parts, parsed


def _apply_override(raw: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = raw
    for i, key in enumerate(path[:-1]):
        if not isinstance(node, dict):
            raise InputError(f"{'.'.join(path[:i])} is not a mapping", f"--set {'.'.join(path)}")
        node = node.setdefault(key, {})
    if not isinstance(node, dict):
        raise InputError(f"{'.'.join(path[:-1])} is not a mapping", f"--set {'.'.join(path)}")
    node[path[-1]] = value


def load_spec(path: str | Path, registry: Registry, overrides: list[str] | tuple[str, ...] = ()) -> Pipeline:
    """Read, validate and plan a spec file; every problem is an :class:`InputError`."""
    p = Path(path)
    if not p.is_file():
        raise InputError("spec file not found", str(p))
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not valid UTF-8 text ({e.reason})", str(p)) from None
    return parse_spec(text, registry, source=str(p), overrides=overrides)


def parse_spec(text: str, registry: Registry, source: str = "<spec>", overrides: list[str] | tuple[str, ...] = ()) -> Pipeline:
    """Validate spec text (see :func:`load_spec`)."""
    try:
        raw = _safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InputError(f"invalid YAML: {problem} ({where})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(f"the spec must be a YAML mapping (dataset:, stages:, ...) ({source}:1)")
    parsed = [parse_override(o) for o in overrides]
    for keys, value in parsed:
        _apply_override(raw, keys, value)
    errors = _Errors(source, _LineIndex(text), {keys for keys, _ in parsed})
    try:
        spec = PipelineSpec.model_validate(copy.deepcopy(raw))
    except ValidationError as e:
        raise errors.from_validation(e) from None
    stages = {name: _build_stage(name, stage, spec, registry, errors) for name, stage in spec.stages.items()}
    order = _plan(stages, errors)
    return Pipeline(spec, stages, order, source, raw)


def _build_stage(name: str, stage: StageSpec, spec: PipelineSpec, registry: Registry, errors: _Errors) -> Stage:
    path = ("stages", name)
    if not NAME.match(name):
        raise errors.error(path, "stage names start with a letter and use letters, digits, '-' and '_'")
    for lang in stage.languages or []:
        if lang not in spec.dataset.languages:
            raise errors.error((*path, "languages"), f"{lang!r} is not one of dataset.languages {spec.dataset.languages}")
    kind = KIND_TO_COMPONENT[stage.kind]
    try:
        component = registry.get(kind, stage.component)
    except InputError as e:
        raise errors.error((*path, "component"), e.message) from None
    model_refs = {
        key: value[len(STAGE_REF) :]
        for key, value in stage.params.items()
        if isinstance(value, str) and value.startswith(STAGE_REF)
    }
    languages = (stage.languages or spec.dataset.languages) if _mentions_language(stage.params) else [None]
    configs = []
    for language in languages:
        try:
            configs.append(component.cls.Config.model_validate(fill_language(stage.params, language)))
        except ValidationError as e:
            error = errors.from_validation(e, (*path, "params"), component.cls.Config)
            if language is not None:
                error = InputError(f"{error.message} [with {{lang}} = {language}]", error.where)
            raise error from None
    return Stage(name, stage, component, configs[0], model_refs)


def fill_language(value: Any, language: str | None) -> Any:
    """``{lang}`` in string params (also inside lists and mappings) becomes ``language``."""
    if language is None:
        return value
    if isinstance(value, str):
        return value.replace("{lang}", language)
    if isinstance(value, list):
        return [fill_language(v, language) for v in value]
    if isinstance(value, dict):
        return {k: fill_language(v, language) for k, v in value.items()}
    return value


def _mentions_language(value: Any) -> bool:
    if isinstance(value, str):
        return "{lang}" in value
    if isinstance(value, list):
        return any(_mentions_language(v) for v in value)
    if isinstance(value, dict):
        return any(_mentions_language(v) for v in value.values())
    return False


def _plan(stages: dict[str, Stage], errors: _Errors) -> list[str]:
    for name, stage in stages.items():
        for i, dep in enumerate(stage.spec.inputs):
            if dep not in stages:
                raise errors.error(("stages", name, "inputs", i), f"unknown stage {dep!r}{_suggest(dep, stages)}")
            if stages[dep].spec.kind == "train":
                raise errors.error(("stages", name, "inputs", i), f"{dep!r} is a train stage: it gives a model, not a run (use it as a param 'stage:{dep}')")
            if stage.spec.kind != "train" and stages[dep].spec.topics != stage.spec.topics:
                raise errors.error(("stages", name, "inputs", i), f"{dep!r} runs on topics {stages[dep].spec.topics!r} but this stage on {stage.spec.topics!r}")
        for param, dep in stage.model_refs.items():
            where = ("stages", name, "params", param)
            if dep not in stages:
                raise errors.error(where, f"unknown stage {dep!r}{_suggest(dep, stages)}")
            if stages[dep].spec.kind != "train":
                raise errors.error(where, f"{dep!r} is a {stages[dep].spec.kind} stage; 'stage:NAME' must name a train stage")
    sorter = graphlib.TopologicalSorter({name: stage.dependencies for name, stage in stages.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as e:
        cycle = e.args[1]
        raise errors.error(("stages", cycle[0]), "stages depend on each other in a cycle: " + " -> ".join(cycle)) from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order.extend(ready)
        sorter.done(*ready)
    return order


def _suggest(name: str, stages: dict[str, Stage]) -> str:
    close = difflib.get_close_matches(name, list(stages), n=1)
    return f"; did you mean {close[0]!r}?" if close else f" (stages: {', '.join(stages)})"
