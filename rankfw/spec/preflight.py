"""What ``rankfw validate`` checks beyond the spec, without running anything: the first lines of
every local data source (format detected, fields found), and whether ``irds:`` datasets and hub
models are in the local caches (else a warning, or an error with ``offline``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from rankfw.core.errors import InputError
from rankfw.core.io import iter_lines
from rankfw.data import is_irds, read_parallel, read_qrels, read_topics, read_training
from rankfw.data.formats import corpus_files, get_format
from rankfw.data.irds import irds_home, irds_missing_files
from rankfw.spec.model import DatasetSpec, Pipeline, Stage

NOT_CACHED = "not in the local cache: needs the internet at run time"
IRDS_PARTS = {"corpus": ("docs",), "topics": ("queries",), "qrels": ("qrels",), "train": ("docs", "queries", "qrels")}
HEAD = 5
"""How many records of a corpus or training file are read."""


@dataclass
class Report:
    """What preflight found: one line per source kind and format, and the warnings."""

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def preflight(pipeline: Pipeline, needed: Mapping[str, set[str]], offline: bool = False) -> Report:
    """Check the sources each language needs (``needed``: language -> dataset fields) and the
    stages' hub models. Bad lines raise :class:`InputError`; so does anything not cached when
    ``offline``."""
    report = Report()
    dataset = pipeline.spec.dataset
    groups: dict[tuple[str, str], list[str]] = {}
    irds_parts: dict[str, set[str]] = {}
    for lang, fields in needed.items():
        for name in ("corpus", "topics", "qrels", "train", "parallel"):
            source = dataset.source(name, lang)
            if name not in fields or source is None:
                continue
            where = f"dataset.{name} [{lang}]"
            if is_irds(source):
                irds_parts.setdefault(source, set()).update(IRDS_PARTS.get(name, ()))
                summary = "ir_datasets id"
            else:
                summary = _local(dataset, name, source, where)
            groups.setdefault((name, summary), []).append(lang)
    for (name, summary), langs in groups.items():
        report.lines.append(f"{name}: {summary} [{', '.join(langs)}]")
    absent = [source for source, parts in irds_parts.items() if irds_missing_files(source, sorted(parts))]
    if absent:
        where = absent[0] if len(absent) == 1 else f"{len(absent)} ir_datasets ids ({', '.join(absent)})"
        _warn(report, offline, where, f"{NOT_CACHED} (ir_datasets looks in {irds_home()})")
    _holdout(report, dataset, needed)
    report.lines.extend(_run_files(pipeline))
    for where, ref in hub_models(pipeline):
        if not hub_model_cached(ref):
            _warn(report, offline, where, f"{ref!r} {NOT_CACHED} (looked in {_hub_cache()})")
    return report


def _holdout(report: Report, dataset: DatasetSpec, needed: Mapping[str, set[str]]) -> None:
    """A line per held-out split (questions and groups held out), and a warning when languages
    that share query ids hold out different ones (e.g. ``title`` on translated titles)."""
    from rankfw.data.holdout import HoldoutRule

    rule = HoldoutRule(dataset.holdout, dataset.holdout_group_by, dataset.holdout_folds, dataset.holdout_fold)
    if not rule.active:
        return
    how = f"fold {rule.fold} of {rule.folds}" if rule.folds is not None else f"fraction {rule.fraction}"
    summaries: dict[str, list[str]] = {}
    split: dict[str, tuple[set[str], frozenset[str]]] = {}
    for lang, fields in needed.items():
        source = dataset.source("train", lang)
        if "train" not in fields or source is None or is_irds(source) or not Path(source).is_file():
            continue
        examples = list(read_training(source))
        held = rule.heldout_qids(examples)
        groups = {rule.group(ex) for ex in examples if ex.query_id in held}
        split[lang] = ({ex.query_id for ex in examples}, held)
        line = f"{len(held)} of {len(examples)} training questions held out ({_plural(len(groups), 'group')}, {how} by {rule.group_by})"
        summaries.setdefault(line, []).append(lang)
    for line, langs in summaries.items():
        report.lines.append(f"holdout: {line} [{', '.join(langs)}]")
    langs = list(split)
    for other in langs[1:]:
        shared = split[langs[0]][0] & split[other][0]
        differ = len((split[langs[0]][1] ^ split[other][1]) & shared)
        if differ:
            report.warnings.append(
                f"dataset.holdout_group_by: {differ} of {len(shared)} query ids shared by {langs[0]} and {other} are held out "
                f"in one language only (group keys differ between languages; docid:REGEX keeps a parallel collection aligned)")


def _warn(report: Report, offline: bool, where: str, message: str) -> None:
    if offline:
        raise InputError(message.replace("needs the internet at run time", "--offline forbids downloading it"), where)
    report.warnings.append(f"{where}: {message}")


def _local(dataset: DatasetSpec, name: str, source: str, where: str) -> str:
    """Read a local source's first lines (topics and qrels: all of them); a summary line."""
    path = Path(source)
    if not path.exists() or (path.is_dir() and name != "corpus"):
        raise InputError(f"file not found: {source}", where)
    formats = dataset.formats
    if name == "corpus":
        fmt = get_format("corpus", formats.corpus, path)
        files = corpus_files(path)
        docs, keys = [], ""
        for lineno, line in itertools.islice(((n, x) for n, x in iter_lines(files[0]) if x.strip()), HEAD):
            docs.append(fmt.reader(line, f"{files[0]}:{lineno}"))
            keys = keys or _fields(line)
        if not docs:
            raise InputError("no documents (the file is empty)", str(files[0]))
        how = "set" if formats.corpus else "detected"
        many = f", {len(files)} files" if len(files) > 1 else ""
        return f"{fmt.description} ({how}{many}; {keys})"
    if name == "topics":
        fmt = get_format("topics", formats.topics, path)
        count = len(read_topics(path, fmt.name, formats.topic_field))
        field_note = f", <{formats.topic_field}>" if fmt.name == "trec" else ""
        return f"{fmt.description} ({'set' if formats.topics else 'detected'}{field_note}), {_plural(count, 'topic')}"
    if name == "qrels":
        fmt = get_format("qrels", formats.qrels, path)
        count = sum(len(j) for j in read_qrels(path, fmt.name).values())
        return f"{fmt.description} ({'set' if formats.qrels else 'detected'}), {_plural(count, 'judgement')}"
    if name == "train":
        examples = list(itertools.islice(read_training(path), HEAD))
        if not examples:
            raise InputError("no training examples (the file is empty)", source)
        return "MIRACL train JSONL (query, positive_passages, negative_passages)"
    return f"parallel text, {_plural(len(read_parallel(path)), 'sentence pair')}"


def _fields(line: str) -> str:
    import json

    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return f"{len(line.split(chr(9)))} tab-separated columns"
    return "fields " + ", ".join(obj) if isinstance(obj, dict) else ""


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def _run_files(pipeline: Pipeline) -> list[str]:
    """Read the run files of ``runfile`` stages (their docids are checked against the corpus at run time)."""
    from rankfw.builtin.runfile import RunFileRetriever
    from rankfw.core.runs import Run

    lines = []
    for name, stage in pipeline.stages.items():
        if stage.component.cls is not RunFileRetriever:
            continue
        template = str(stage.spec.params.get("path", ""))
        queries = 0
        for lang in pipeline.languages_of(stage):
            path = Path(template.replace("{lang}", lang)).expanduser()
            if not path.is_file():
                raise InputError(f"run file not found: {path}", f"stages.{name}.params.path [{lang}]")
            queries += len(Run.read_trec(path))
        lines.append(f"stages.{name}: TREC run files, {_plural(queries, 'query')} in all [{', '.join(pipeline.languages_of(stage))}]")
    return lines


# --- hub models -------------------------------------------------------------------------------


def hub_models(pipeline: Pipeline) -> list[tuple[str, str]]:
    """``(spec path, hub id)`` of every model parameter (a ``ModelRef`` field) naming a hub id."""
    found = []
    for name, stage in pipeline.stages.items():
        for param, ref in stage_hub_models(stage, pipeline.languages_of(stage)):
            item = (f"stages.{name}.params.{param}", ref)
            if item not in found:
                found.append(item)
    return found


def stage_hub_models(stage: Stage, languages: Iterable[str]) -> list[tuple[str, str]]:
    """``(param, hub id)`` of each model parameter (a ``ModelRef`` field) of ``stage`` that names a
    hub id in one of ``languages`` (``{lang}`` filled in), in the order of the component's Config."""
    from rankfw.models.refs import BUNDLED_PREFIX, STAGE_PREFIX

    found = []
    for param, info in type(stage.config).model_fields.items():
        value = stage.spec.params.get(param, getattr(stage.config, param))  # the template, {lang} unfilled
        if not isinstance(value, str) or not _is_model_ref(info.annotation, info.metadata):
            continue
        for lang in languages:
            ref = value.replace("{lang}", lang)
            if ref.startswith((STAGE_PREFIX, BUNDLED_PREFIX)) or Path(ref).expanduser().exists():
                continue
            if (param, ref) not in found:
                found.append((param, ref))
    return found


def _is_model_ref(annotation: Any, metadata: list[Any]) -> bool:
    from rankfw.models.refs import _validate_ref

    if any(getattr(m, "func", None) is _validate_ref for m in metadata):
        return True
    if get_origin(annotation) is Annotated:
        args = get_args(annotation)
        return _is_model_ref(args[0], list(args[1:]))
    return any(_is_model_ref(arg, []) for arg in get_args(annotation))


def hub_model_cached(ref: str) -> bool:
    """Whether a hub model's config is in the local HuggingFace cache (nothing is downloaded)."""
    from huggingface_hub import try_to_load_from_cache

    from rankfw.models.refs import split_hub_ref

    repo, revision = split_hub_ref(ref)
    return any(isinstance(try_to_load_from_cache(repo, name, revision=revision), str)
               for name in ("config.json", "modules.json"))


def _hub_cache() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)
