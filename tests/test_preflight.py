"""``rankfw validate`` reads what it can without running: first lines of every local source (format,
fields, one-line errors), irds: ids and hub models checked against the local caches (a warning,
an error with --offline), and a download failure at run time is one line, exit 2."""

from __future__ import annotations

import json
import re
import types
from collections.abc import Callable
from pathlib import Path

import pytest
import rankfw_testplugin
from click.testing import CliRunner
from pydantic import Field

from rankfw.cli import main
from rankfw.core import ComponentConfig, Corpus, Reranker, Run, StageContext, Topics, hookimpl
from rankfw.core.registry import Registry, load_registry
from rankfw.models import ModelRef


def _spec(tmp_path: Path, tiny: Path, extra: str = "", stages: str = "", **sources: str) -> Path:
    paths = {"corpus": f"{tiny}/{{lang}}/corpus.jsonl", "topics": f"{tiny}/{{lang}}/topics.dev.tsv",
             "qrels": f"{tiny}/{{lang}}/qrels.dev.txt", **sources}
    dataset = "".join(f'  {k}: "{v}"\n' for k, v in paths.items())
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"output: {tmp_path / 'out'}\ndataset:\n  languages: [en, de]\n{dataset}{extra}stages:\n"
                    f"  first: {{kind: retrieve, component: overlap}}\n{stages}", encoding="utf-8")
    return spec


def _validate(spec: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["validate", str(spec), *args])


def _one_line_error(result, pattern: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.stderr
    assert re.search(pattern, lines[0]), lines[0]


def test_validate_reports_format_and_fields_of_each_source(tmp_path: Path, tiny: Path, cli_registry: Registry) -> None:
    result = _validate(_spec(tmp_path, tiny))
    assert result.exit_code == 0, result.output
    assert "corpus: MIRACL / rankfw JSONL (detected; fields docid, title, text) [en, de]" in result.stdout
    assert "topics: TSV qid<TAB>query (detected), 2 topics [en, de]" in result.stdout
    assert "qrels: TREC qrels" in result.stdout and "2 judgements" in result.stdout
    assert result.stdout.strip().splitlines()[-1].endswith("ok (1 stages: first; 2 languages)")


def test_validate_detects_pyserini_beir_and_a_corpus_folder(tmp_path: Path, tiny: Path, cli_registry: Registry) -> None:
    for lang in ("en", "de"):
        folder = tmp_path / "pyserini" / lang
        folder.mkdir(parents=True)
        docs = [json.loads(line) for line in (tiny / lang / "corpus.jsonl").read_text().splitlines()]
        (folder / "part0.jsonl").write_text("".join(json.dumps({"id": d["docid"], "contents": d["text"]}) + "\n" for d in docs))
        (tmp_path / f"qrels-{lang}.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    spec = _spec(tmp_path, tiny, corpus=f"{tmp_path}/pyserini/{{lang}}", qrels=f"{tmp_path}/qrels-{{lang}}.tsv")
    result = _validate(spec)
    assert result.exit_code == 0, result.output
    assert "corpus: pyserini JsonCollection" in result.stdout and "fields id, contents" in result.stdout
    assert "qrels: BEIR qrels TSV with a header line" in result.stdout
    # and the run reads the same files
    run = CliRunner().invoke(main, ["run", str(spec), "--cache", str(tmp_path / "cache")])
    assert run.exit_code == 0, run.output


def test_validate_names_a_forced_format_that_does_not_fit(tmp_path: Path, tiny: Path, cli_registry: Registry) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"id": "d1", "contents": "Cats purr."}\n')
    spec = _spec(tmp_path, tiny, extra="  formats: {corpus: rankfw}\n", corpus=str(corpus))
    _one_line_error(_validate(spec), re.escape(f"{corpus}:1: no 'docid' field (this line has: id, contents; "
                                               "a pyserini corpus? set formats.corpus: pyserini)"))


@pytest.mark.parametrize(
    ("source", "content", "pattern"),
    [
        ("corpus", '{"docid": "d1", "text": "x"}\n{"docid": "d2", "text": 3}\n', r"@:2: document 'd2': 'text' must be a string"),
        ("topics", "q1\tcats\nq2\n", r"@:2: expected 2 tab-separated columns"),
        ("qrels", "q1 0 d1 1\nq1 0 d1 0\n", r"@:2: \(q1, d1\) is judged 0 here and 1 on line 1"),
        ("topics", "<top>\n<num> 1\n</top>\n", r"@:1: topic '1' has no <title> text"),
    ],
)
def test_validate_stops_at_a_bad_line(tmp_path: Path, tiny: Path, cli_registry: Registry, source: str, content: str, pattern: str) -> None:
    bad = tmp_path / f"bad-{source}.txt"
    bad.write_text(content)
    _one_line_error(_validate(_spec(tmp_path, tiny, **{source: str(bad)})), pattern.replace("@", re.escape(str(bad))))


def _register_remote_topics(tmp_path: Path, cached: bool) -> str:
    """An ir_datasets dataset whose topics come from an unreachable URL (cached beforehand or not)."""
    import ir_datasets
    from ir_datasets.formats import TsvQueries
    from ir_datasets.util import Download, RequestsDownload

    cache_path = tmp_path / "irds" / "queries.tsv"
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    if cached:
        cache_path.write_text("q1\twhich animals purr\nq2\twho barks at the mail carrier\n")
    download = Download([RequestsDownload("http://127.0.0.1:9/queries.tsv", tries=1)], cache_path=str(cache_path))
    name = f"rankfw-test-remote/{tmp_path.name}-{int(cached)}"
    ir_datasets.registry.register(name, ir_datasets.datasets.base.Dataset(TsvQueries(download)))
    return f"irds:{name}"


def test_irds_id_not_in_the_cache_warns_fails_offline_and_at_run_time(tmp_path: Path, tiny: Path, cli_registry: Registry) -> None:
    source = _register_remote_topics(tmp_path, cached=False)
    spec = _spec(tmp_path, tiny, topics=source)
    result = _validate(spec)
    assert result.exit_code == 0, result.output
    assert f"warning: {source}: not in the local cache: needs the internet at run time" in result.stderr
    _one_line_error(_validate(spec, "--offline"), rf"{re.escape(source)}: not in the local cache: --offline forbids")
    run = CliRunner().invoke(main, ["run", str(spec), "--cache", str(tmp_path / "cache")])
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.exit_code == 2 and "Traceback" not in run.output, run.output
    assert len(errors) == 1 and source in errors[0] and "local cache" in errors[0] and "download failed" in errors[0]
    assert not (tmp_path / "out").exists()


def test_a_cached_irds_id_gives_no_warning(tmp_path: Path, tiny: Path, cli_registry: Registry) -> None:
    spec = _spec(tmp_path, tiny, topics=_register_remote_topics(tmp_path, cached=True))
    result = _validate(spec, "--offline")
    assert result.exit_code == 0 and "warning" not in result.stderr, result.output
    assert "topics: ir_datasets id [en, de]" in result.stdout


class _HubReranker(Reranker):
    description = "A reranker with a model parameter (test)"

    class Config(ComponentConfig):
        model: ModelRef = Field("bundled:all-MiniLM-L6-v2")
        teacher: ModelRef | None = None
        device: str = "auto"

    def rerank(self, topics: Topics, run: Run, corpus: Corpus, ctx: StageContext) -> Run:
        return run


@hookimpl
def _register(register: Callable[[str, type[Reranker]], None]) -> None:
    register("hub", _HubReranker)


def test_hub_models_not_in_the_cache(tmp_path: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    import rankfw.core.registry as reg

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    plugin = types.ModuleType("hubplugin")
    plugin.register_rerankers = _register  # type: ignore[attr-defined]
    registry = load_registry(extra_plugins=[("testplugin", rankfw_testplugin), ("hub", plugin)], use_entry_points=False)
    monkeypatch.setattr(reg, "default_registry", lambda: registry)
    stages = ("  a: {kind: rerank, component: hub, inputs: [first], params: {teacher: \"some-org/teacher-{lang}\"}}\n"
              "  b: {kind: rerank, component: hub, inputs: [first], params: {model: some-org/student}}\n")
    spec = _spec(tmp_path, tiny, stages=stages)
    result = _validate(spec)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: stages.a.params.teacher: 'some-org/teacher-en' not in the local cache: needs the internet at run time (looked in {tmp_path / 'hub'})",
        f"warning: stages.a.params.teacher: 'some-org/teacher-de' not in the local cache: needs the internet at run time (looked in {tmp_path / 'hub'})",
        f"warning: stages.b.params.model: 'some-org/student' not in the local cache: needs the internet at run time (looked in {tmp_path / 'hub'})",
    ]  # the bundled default and the 'device' string are not hub models
    _one_line_error(_validate(spec, "--offline"), r"stages.a.params.teacher: 'some-org/teacher-en' not in the local cache: --offline")
    cached = tmp_path / "hub" / "models--some-org--student"
    (cached / "snapshots" / "r1").mkdir(parents=True)
    (cached / "snapshots" / "r1" / "config.json").write_text("{}")
    (cached / "refs").mkdir()
    (cached / "refs" / "main").write_text("r1")
    assert "some-org/student" not in _validate(spec).stderr
