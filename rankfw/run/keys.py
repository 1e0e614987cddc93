"""Cache keys per unit: exactly what the unit reads, so that only what changed is recomputed.

A unit is (stage, language), or (stage, ``model``) for a trainer over several languages. Its key
is a hash of five parts, each kept in its done record so that ``rankfw plan`` can say which one
changed:

- ``component``: the stage kind, component name and its distribution;
- ``code``: a digest of the component's code (:mod:`rankfw.run.code`);
- ``params``: the params as the component's Config validated them (``{lang}`` filled in; a value
  written another way, ``5e-5`` or ``5.0e-5``, is the same key), the topic set, ``per_language``
  and ``--limit``;
- ``inputs``: what the units it reads (input runs of the same language, model references) wrote:
  the content digest of each finished input's output (its done record's), so an input recomputed
  to the same bytes (a code edit that changes nothing, a param that does not touch the output)
  leaves this key alone and what reads it is reused (early cut-off); an input still to compute
  enters as ``pending:`` and its key, so the key is final only once its inputs are done;
- ``data``: fingerprints of the sources it reads: a retrieve or rerank stage the language's corpus
  and the topics of its topic set (the topics file for ``eval``; the training file and the holdout
  fraction for ``train`` / ``heldout``); a fuse stage none; a trainer what its ``TrainingInput``
  exposes (corpus, training file and holdout, parallel text, and the topics and qrels of its topic
  set when it has input runs), the content of local files and folders its params name (a model
  folder given by path: :mod:`rankfw.run.local_params`) and the commit of each hub model its params
  name (:func:`rankfw.models.identity.hub_revision`: an upstream update recomputes). Qrels of the evaluation topics enter no
  run stage's key: metrics are recomputed from the runs on every run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankfw.core.components import Component
from rankfw.core.io import text_digest
from rankfw.data import is_irds
from rankfw.data.corpus import source_digest
from rankfw.data.language import LanguageData
from rankfw.run.code import CodeState, code_state
from rankfw.run.layout import MODEL_UNIT
from rankfw.run.local_params import local_param_digests
from rankfw.run.plan import descendants
from rankfw.models.identity import model_identity
from rankfw.spec import Pipeline, Stage, fill_language
from rankfw.spec.preflight import stage_hub_models

PARTS = ("component", "code", "params", "inputs", "data")
PENDING = "pending:"
"""The prefix of an input that is still to compute (its key follows): ``rankfw plan`` says the
unit is recomputed only if that input's output changes."""


def stage_topics(pipeline: Pipeline, stage: Stage) -> str:
    """The topic set a stage reads: its own ``topics``; for a train stage that does not name one,
    the topic set its input runs were made on (so a trainer on ``topics: train`` runs sees the
    training questions and their judgements, never the evaluation qrels)."""
    if stage.spec.kind == "train" and stage.spec.inputs and "topics" not in stage.spec.model_fields_set:
        sets = {pipeline.stages[dep].spec.topics for dep in stage.spec.inputs}
        if len(sets) == 1:
            return sets.pop()
    return stage.spec.topics


@dataclass(frozen=True)
class UnitKey:
    """A unit's key, its parts' digests, and what the inputs and data parts were made of."""

    key: str
    parts: dict[str, str]
    inputs: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)
    """the digest of each file of the component's code (:class:`rankfw.run.code.CodeState`)"""


class KeyMaker:
    """Computes (and remembers) the key of every unit of a pipeline."""

    def __init__(self, pipeline: Pipeline, data: dict[str, LanguageData], cache_dir: Path,
                 limit: int | None = None, own_data: Callable[[Stage, str], str | None] | None = None,
                 output_of: Callable[[str, str, UnitKey], str | None] | None = None) -> None:
        """``data`` holds the languages this run uses (a stage's other languages are left out);
        ``own_data(stage, language)`` is the fingerprint of what a component reads itself;
        ``output_of(stage, unit, key)`` the content digest of a unit finished with ``key`` (None when
        it is still to compute); without it, inputs enter by their keys."""
        self.own_data = own_data
        self.output_of = output_of
        self.pipeline = pipeline
        self.data = data
        self.cache_dir = cache_dir
        self.limit = limit
        self._keys: dict[tuple[str, str], UnitKey] = {}
        self._code: dict[str, CodeState] = {}
        self._sources: dict[tuple[str, str], str | None] = {}
        self._paths: dict[str, str] = {}
        self._hub: dict[str, str] = {}

    def unit(self, name: str, unit: str) -> UnitKey:
        """The key of ``unit`` (a language or ``model``) of stage ``name``."""
        if (name, unit) not in self._keys:
            self._keys[(name, unit)] = self._make(self.pipeline.stages[name], unit)
        return self._keys[(name, unit)]

    def forget(self, name: str) -> None:
        """Drop the keys of every stage that reads stage ``name``, directly or not (a unit of it was
        just computed: what reads it is keyed on its new output)."""
        stale = descendants(self.pipeline, name)
        for unit in [unit for unit in self._keys if unit[0] in stale]:
            del self._keys[unit]

    def _input(self, name: str, unit: str) -> str:
        """How input unit ``unit`` of stage ``name`` enters a reader's key: its output's digest, or
        ``pending:`` and its key while it is still to compute."""
        key = self.unit(name, unit)
        if self.output_of is None:
            return key.key
        content = self.output_of(name, unit, key)
        return f"out:{content}" if content is not None else f"{PENDING}{key.key}"

    def _make(self, stage: Stage, unit: str) -> UnitKey:
        language = None if unit == MODEL_UNIT else unit
        info = stage.component
        inputs: dict[str, str] = {}
        langs = [language] if language else [lang for lang in self.pipeline.languages_of(stage) if lang in self.data]
        for dep in stage.spec.inputs:
            for lang in langs:
                inputs[f"{dep} [{lang}]" if stage.spec.kind == "train" else dep] = self._input(dep, lang)
        for param, dep in sorted(stage.model_refs.items()):
            dep_unit = language if self.pipeline.stages[dep].spec.per_language and language else MODEL_UNIT
            inputs[f"{param}=stage:{dep}"] = self._input(dep, dep_unit)
        data = {f"{source} [{lang}]": value for lang in langs for source, value in self._data(stage, lang).items()}
        raw = fill_language(stage.spec.params, language)
        per_language = language is not None and _mentions(stage.spec.params)
        config = (stage.component.cls.Config.model_validate(raw) if per_language else stage.config).model_dump(mode="json")
        params = {
            "params": as_validated(raw, config),
            "config": None if per_language else config,
            "topics": stage_topics(self.pipeline, stage),
            "per_language": stage.spec.per_language,
            "languages": langs if language is None else None,
        }
        if self.limit is not None and self._reads_topics(stage):
            params["limit"] = self.limit
        code = self._code_state(stage)
        parts = {
            "component": _digest({"kind": stage.spec.kind, "component": info.name, "distribution": info.distribution}),
            "code": code.digest,
            "params": _digest(params),
            "inputs": _digest(inputs),
            "data": _digest(data),
        }
        return UnitKey(text_digest(*(f"{p}={parts[p]}" for p in PARTS)), parts, inputs, data, code.files)

    def _code_state(self, stage: Stage) -> CodeState:
        info = stage.component
        ident = f"{info.cls.__module__}.{info.cls.__qualname__}"
        if ident not in self._code:
            state = code_state(info.cls, info.distribution, self.cache_dir)
            self._code[ident] = CodeState(text_digest(ident, info.version, state.digest), state.files)
        return self._code[ident]

    @staticmethod
    def _reads_topics(stage: Stage) -> bool:
        return stage.spec.kind in ("retrieve", "rerank") or (stage.spec.kind == "train" and bool(stage.spec.inputs))

    def _data(self, stage: Stage, lang: str) -> dict[str, Any]:
        kind, topics = stage.spec.kind, stage_topics(self.pipeline, stage)
        local = local_param_digests(fill_language(stage.spec.params, lang), self.cache_dir, self._paths)
        for param, ref in stage_hub_models(stage, [lang]):  # the commit each hub model loads
            if ref not in self._hub:
                self._hub[ref] = model_identity(ref)
            local[f"hub {param}"] = self._hub[ref]
        if kind == "fuse":
            return local
        used: list[str] = ["corpus"]
        if kind == "train":
            used += ["train", "parallel"]
        if self._reads_topics(stage):
            used += ["topics"] if topics == "eval" else ["train"]
            if kind == "train" and topics == "eval":
                used.append("qrels")
        out: dict[str, Any] = {}
        for source in dict.fromkeys(used):
            digest = self._source(lang, source)
            if digest is not None:
                out[source] = digest
        if "train" in out:  # which training questions are held out (fraction, groups, folds)
            out["holdout"] = self.data[lang].holdout
            out.update(self.data[lang].holdout_rule.fingerprint())
        chosen = {k: v for k, v in self.data[lang].formats.items() if v is not None and v != "title"}
        if chosen:  # formats set in the spec (a detected format follows from the content hashed above)
            out["formats"] = chosen
        out.update(local)
        if self.own_data is not None and stage.component.cls.data_fingerprint is not Component.data_fingerprint:
            out["own"] = self.own_data(stage, lang)  # data the component reads itself, e.g. a run file
        return out

    def _source(self, lang: str, name: str) -> str | None:
        if (lang, name) not in self._sources:
            source = self.data[lang].sources.get(name)
            if source is None:
                value = None
            elif is_irds(source):
                value = source
            else:
                value = source_digest(Path(source), self.cache_dir / "corpus")
            self._sources[(lang, name)] = value
        return self._sources[(lang, name)]


def changed_parts(old: dict[str, Any], new: UnitKey) -> str:
    """Why a unit's key differs from its done record's: the parts that changed, with the inputs,
    data entries and code files named (e.g. ``data changed (corpus [de])``, ``code changed
    (rankfw_biencoder_distill.encoder)``)."""
    parts = old.get("parts") or {}
    reasons = []
    for part in PARTS:
        if parts.get(part) == new.parts[part]:
            continue
        if part == "code" and "code" not in old:  # a record written before files were recorded
            reasons.append("code changed")
        elif part in ("inputs", "data", "code"):
            before: dict[str, Any] = old.get(part) or {}
            after: dict[str, Any] = getattr(new, part)
            names = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
            if part == "inputs" and (waiting := [n for n in names if _pending(after.get(n))]):
                reasons.append(f"inputs to compute first ({', '.join(waiting)})")
                if not (names := [n for n in names if n not in waiting]):
                    continue
            if part == "code" and len(names) > 3:  # a version bump of rankfw changes many files
                names = [*names[:3], f"{len(names) - 3} more"]
            reasons.append(f"{part} changed ({', '.join(names)})" if names else f"{part} changed")
        else:
            reasons.append(f"{part} changed")
    return "; ".join(reasons) or "key changed"


def waits_only(old: dict[str, Any], new: UnitKey) -> bool:
    """Whether the record ``old`` differs from ``new`` only by inputs still to compute: the unit is
    then recomputed only if one of them comes out different."""
    parts = old.get("parts") or {}
    if any(parts.get(p) != new.parts[p] for p in PARTS if p != "inputs"):
        return False
    before: dict[str, Any] = old.get("inputs") or {}
    changed = [n for n in set(before) | set(new.inputs) if before.get(n) != new.inputs.get(n)]
    return bool(changed) and all(_pending(new.inputs.get(n)) for n in changed)


def _pending(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PENDING)


def as_validated(raw: Any, validated: Any) -> Any:
    """The params as written (their keys), each value as the Config validated it: ``lr: 5e-5`` (a
    string to YAML 1.1), ``5.0e-5`` and ``0.00005`` are one key, so writing a value differently
    recomputes nothing; a key the dump does not have (an alias) keeps its value as written."""
    if isinstance(raw, dict) and isinstance(validated, dict):
        return {k: as_validated(v, validated[k]) if k in validated else v for k, v in raw.items()}
    if isinstance(raw, list) and isinstance(validated, list) and len(raw) == len(validated):
        return [as_validated(r, v) for r, v in zip(raw, validated, strict=True)]
    return validated


def _mentions(value: Any) -> bool:
    return "{lang}" in json.dumps(value)


def _digest(value: Any) -> str:
    return text_digest(json.dumps(value, sort_keys=True, default=str))
