"""Loading a spec: YAML (safe_load) validated by pydantic into a graph of named stages.

Every error names the YAML path and line, e.g.
``stages.ce.params.batch_size: Input should be greater than 0 (pipeline.yaml:14)``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rankfw.core.errors import InputError
from rankfw.core.registry import Registry
from rankfw.spec.locate import SpecErrors
from rankfw.spec.model import (
    KIND_TO_COMPONENT,
    MAX_NAME,
    NAME,
    STAGE_REF,
    Pipeline,
    PipelineSpec,
    Stage,
    StageSpec,
)
from rankfw.spec.plan import plan_stages
from rankfw.spec.yamlio import YamlSyntaxError, load_yaml


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """``stages.bm25.params.k=200`` -> (("stages", "bm25", "params", "k"), 200); values are YAML."""
    if "=" not in text:
        raise InputError("expected KEY=VALUE, e.g. stages.bm25.params.k=200", f"--set {text}")
    key, value = text.split("=", 1)
    parts = tuple(p for p in key.strip().split("."))
    if not all(parts):
        raise InputError("the key must be a dotted path such as dataset.root", f"--set {text}")
    try:
        parsed = load_yaml(value, f"--set {text}")[0] if value.strip() else ""
    except YamlSyntaxError:
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
    raw, lines = load_yaml(text, source)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(f"the spec must be a YAML mapping (dataset:, stages:, ...) ({source}:1)")
    parsed = [parse_override(o) for o in overrides]
    for keys, value in parsed:
        _apply_override(raw, keys, value)
    errors = SpecErrors(source, lines, {keys for keys, _ in parsed})
    try:
        spec = PipelineSpec.model_validate(copy.deepcopy(raw))
    except ValidationError as e:
        raise errors.from_validation(e) from None
    stages = {name: _build_stage(name, stage, spec, registry, errors) for name, stage in spec.stages.items()}
    order = plan_stages(stages, errors, spec.dataset.languages)
    for stage in stages.values():
        _check_training_data(stage, spec, errors)
    return Pipeline(spec, stages, order, source, raw)


def _build_stage(name: str, stage: StageSpec, spec: PipelineSpec, registry: Registry, errors: SpecErrors) -> Stage:
    path = ("stages", name)
    if not NAME.match(name) or len(name) > MAX_NAME:
        raise errors.error(path, f"stage names start with a letter and use letters, digits, '-' and '_' (at most {MAX_NAME} characters)")
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


def _check_training_data(stage: Stage, spec: PipelineSpec, errors: SpecErrors) -> None:
    """A train stage must get something to train on: dataset.train or dataset.parallel in one of
    its languages, input runs, or a source of its own (a ``source`` param)."""
    if stage.spec.kind != "train" or stage.spec.inputs or stage.spec.params.get("source"):
        return
    languages = stage.spec.languages or spec.dataset.languages
    if not any(spec.dataset.source(field, lang) for field in ("train", "parallel") for lang in languages):
        raise errors.error(("stages", stage.name), f"a train stage needs training data: set dataset.train (or "
                           f"dataset.parallel) for one of its languages ({', '.join(languages)})")


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
