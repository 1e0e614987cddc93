"""Code digests: a component's key covers the code it can run (its module and what that imports,
transitively), so editing one module of a plugin recomputes the stages whose code reaches it and
no others."""

from __future__ import annotations

import functools
import importlib
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rankfw.core.io import text_digest
from rankfw.core.registry import Registry, load_registry
from rankfw.run import code
from rankfw.run.runner import Runner
from rankfw.spec import load_spec


def _package(root: Path, name: str, files: dict[str, str]) -> Path:
    """Write the package ``name`` (``files``: relative path -> source) under ``root``."""
    for rel, source in files.items():
        path = root / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root / name


def _import(root: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(root))
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        monkeypatch.delitem(sys.modules, module)
    importlib.invalidate_caches()
    importlib.import_module(name)


def _digest(module: str, cls: str, cache: Path) -> str:
    return code.code_digest(getattr(importlib.import_module(module), cls), None, cache)


def _edit(path: Path) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")


def test_code_digest_of_a_wheel_and_of_an_editable_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    import pydantic
    import rankfw_testplugin

    from rankfw.run.libraries import required_versions

    wheel = metadata.distribution("pydantic")  # its RECORD and the versions of what it requires
    pins = [f"{label}={version}" for label, version in sorted(required_versions(wheel).items())]
    assert "library pydantic-core=" + metadata.version("pydantic-core") in pins
    assert code.code_digest(pydantic.BaseModel, "pydantic", tmp_path) == text_digest(
        "wheel", "pydantic", wheel.version, wheel.read_text("RECORD") or "", *pins)
    first = code.code_digest(rankfw_testplugin.IdfTrainer, "rankfw-testplugin", tmp_path)  # editable: its sources
    source = Path(rankfw_testplugin.__file__).resolve()
    # and the versions of the libraries it imports (pydantic, rankfw) and of what those require
    # (pydantic-core), not of rankfw's requirements (its code is traced: rankfw.models)
    libraries = {k: v for k, v in code.code_state(rankfw_testplugin.IdfTrainer, "rankfw-testplugin", tmp_path).files.items()
                 if k.startswith("library ")}
    assert {"library pydantic", "library pydantic-core", "library rankfw"} <= set(libraries)
    assert "library rich" not in libraries and libraries["library pydantic"] == metadata.version("pydantic")
    assert first == text_digest("source", "rankfw_testplugin", "rankfw_testplugin.__init__", code.file_digest(source),
                                *(x for item in libraries.items() for x in item))
    code._MEMO.clear()
    code._LOADED.clear()
    monkeypatch.setattr(code, "file_digest", lambda path: (_ for _ in ()).throw(AssertionError(f"read {path}")))
    monkeypatch.setattr(code, "file_facts", lambda text: (_ for _ in ()).throw(AssertionError("parsed a file")))
    assert code.code_digest(rankfw_testplugin.IdfTrainer, "rankfw-testplugin", tmp_path) == first  # from the memo file


PIECES = {
    "__init__.py": "from pk.a import A\nfrom pk.c import C\nfrom pk.d import D\nVERSION = 1\n",
    "a.py": "class A:\n    def run(self):\n        from pk.b import helper  # imported where it is used\n        return helper()\n",
    "b.py": "def helper():\n    return 1\n",
    "c.py": "from .tools import shared\n\nclass C:\n    pass\n",
    "tools/__init__.py": "from pk.tools.impl import shared\ntry:\n    from pk.tools.fast import speedy\n"
                         "except ImportError:\n    from pk.tools.slow import speedy\n\ndef other():\n    return 2\n",
    "tools/fast.py": "def speedy():\n    return 1\n",
    "tools/slow.py": "def speedy():\n    return 1\n",
    "f.py": "from pk.tools import speedy\n\nclass F:\n    pass\n",
    "tools/impl.py": "def shared():\n    return 3\n",
    "tools/unused.py": "X = 1\n",
    "d.py": "from pk.lazy import Thing\n\nclass D:\n    pass\n",
    "lazy/__init__.py": "from lazyhelper import lazy_exports\n\n__getattr__ = lazy_exports({'Thing': 'pk.lazy.thing'})\n",
    "lazy/thing.py": "class Thing:\n    pass\n",
    "e.py": "import importlib\n\nclass E:\n    def load(self, name):\n        return importlib.import_module(name)\n",
}
LAZY_HELPER = ("import importlib\n\ndef lazy_exports(exports):\n    def get(name):\n"
               "        return getattr(importlib.import_module(exports[name]), name)\n    return get\n")


@pytest.mark.parametrize(("edited", "changes"), [  # E imports by a computed name: it has the whole package
    ("b.py", {"A", "E"}),                 # an import inside a function
    ("tools/impl.py", {"C", "E"}),        # a relative import of a name the package's __init__ re-exports
    ("tools/__init__.py", {"C", "E", "F"}),  # a parent package's own code
    ("tools/slow.py", {"E", "F"}),        # the fallback of a name the __init__ binds twice (try/except)
    ("tools/unused.py", {"E"}),           # imported by nobody
    ("lazy/thing.py", {"D", "E"}),        # exported lazily by a helper of another package (a string names it)
    ("__init__.py", {"A", "C", "D", "E", "F"}),  # the plugin's entry point runs before any of them
])
def test_editing_a_module_changes_the_digest_of_the_classes_whose_code_reaches_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edited: str, changes: set[str]) -> None:
    root = _package(tmp_path / "src", "pk", PIECES).parent
    _package(root, "lazyhelper", {"__init__.py": LAZY_HELPER})
    _import(root, "pk", monkeypatch)
    owners = {"A": "pk.a", "C": "pk.c", "D": "pk.d", "E": "pk.e", "F": "pk.f"}
    before = {c: _digest(m, c, tmp_path / "cache") for c, m in owners.items()}
    _edit(root / "pk" / edited)
    after = {c: _digest(m, c, tmp_path / "cache") for c, m in owners.items()}
    assert {c for c in owners if after[c] != before[c]} == changes


def test_a_file_that_does_not_parse_brings_in_its_whole_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _package(tmp_path / "src", "pk", PIECES).parent
    _package(root, "lazyhelper", {"__init__.py": LAZY_HELPER})
    _import(root, "pk", monkeypatch)
    (root / "pk" / "b.py").write_text("def helper(:\n", encoding="utf-8")  # A imports it lazily
    before = _digest("pk.a", "A", tmp_path / "cache")
    _edit(root / "pk" / "tools" / "unused.py")
    assert _digest("pk.a", "A", tmp_path / "cache") != before


def test_a_plugin_that_imports_rankfw_models_is_recomputed_when_rankfw_models_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing a shared package (rankfw.models, e.g. the ONNX int8 scheme) changes the code digest of
    a plugin that imports it, and only of such a plugin."""
    shared = _package(tmp_path / "lib", "fakemodels", {"__init__.py": "from fakemodels.onnx import session\n",
                                                       "onnx.py": "def session():\n    return 1\n"})
    monkeypatch.syspath_prepend(str(shared.parent))
    monkeypatch.setattr(code, "SHARED", ("fakemodels",))
    _package(tmp_path / "src", "plug_uses", {"__init__.py": "class C:\n    def f(self):\n"
                                             "        from fakemodels import session\n"})
    _package(tmp_path / "src", "plug_plain", {"__init__.py": "from rankfw.core import Run\n\nclass C:\n    pass\n"})
    for name in ("plug_uses", "plug_plain"):
        _import(tmp_path / "src", name, monkeypatch)
    before = {m: _digest(m, "C", tmp_path / "cache") for m in ("plug_uses", "plug_plain")}
    _edit(shared / "onnx.py")
    after = {m: _digest(m, "C", tmp_path / "cache") for m in ("plug_uses", "plug_plain")}
    assert after["plug_uses"] != before["plug_uses"]
    assert after["plug_plain"] == before["plug_plain"]


def test_the_biencoder_reranker_does_not_depend_on_the_fine_tuning_trainer() -> None:
    """The plugins' own layout: editing finetune.py recomputes the fine-tuned model, not the zero-shot
    reranker's runs; the reranker's encoder and rankfw.models' model references are in its closure."""
    from rankfw_biencoder_distill import BiEncoderReranker, FinetuneTrainer

    def closure(cls: type) -> set[str]:
        roots = {n: code._places(n) for n in ("rankfw_biencoder_distill", "rankfw.models")}
        found = code.ModuleClosure(roots, code._facts)
        found.add(cls.__module__)
        return set(found.files)

    reranker, trainer = closure(BiEncoderReranker), closure(FinetuneTrainer)
    assert {"rankfw_biencoder_distill.encoder", "rankfw.models.refs"} <= reranker
    assert "rankfw_biencoder_distill.finetune" not in reranker
    assert {"rankfw_biencoder_distill.finetune", "rankfw_biencoder_distill.encoder"} <= trainer


TWO_STAGES = {
    "__init__.py": "from rankfw.core import hookimpl\nfrom rankfw_twopart.scaled import Scaled\n"
                   "from rankfw_twopart.shifted import Shifted\n\n\n@hookimpl\ndef register_rerankers(register):\n"
                   "    register('scaled', Scaled)\n    register('shifted', Shifted)\n",
    "scaled.py": "from rankfw.core import ComponentConfig, Reranker, Run\n\n\nclass Scaled(Reranker):\n"
                 "    description = 'scores times 2 (test)'\n\n    class Config(ComponentConfig):\n        pass\n\n"
                 "    def rerank(self, topics, run, corpus, ctx):\n"
                 "        return Run.from_scores({q: {d: s * 2.0 for d, s in h} for q, h in run.items()})\n",
    "shifted.py": "from rankfw.core import ComponentConfig, Reranker, Run\n\n\nclass Shifted(Reranker):\n"
                  "    description = 'scores plus 1 (test)'\n\n    class Config(ComponentConfig):\n        pass\n\n"
                  "    def rerank(self, topics, run, corpus, ctx):\n"
                  "        return Run.from_scores({q: {d: s + 1.0 for d, s in h} for q, h in run.items()})\n",
}


def _two_stage_spec(tmp_path: Path, xquad: Path, write_spec, package: Path,  # type: ignore[no-untyped-def]
                    monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Callable[[], Registry]]:
    """A spec of ``first`` (overlap) reranked by the two-module plugin in ``package`` (``scaled``,
    ``shifted``) on English XQuAD, and a function that imports the plugin afresh and loads a registry."""
    import rankfw_testplugin

    def plugins() -> Registry:
        _import(package.parent, "rankfw_twopart", monkeypatch)
        return load_registry(extra_plugins=[("testplugin", rankfw_testplugin), ("twopart", sys.modules["rankfw_twopart"])],
                             use_entry_points=False)

    data = tmp_path / "data" / "en"
    data.mkdir(parents=True)
    for name in ("corpus.jsonl", "topics.dev.tsv", "qrels.dev.txt"):
        shutil.copyfile(xquad / "en" / name, data / name)
    spec = write_spec(tmp_path / "s.yaml", tmp_path / "data", tmp_path / "out", """\
  first: {kind: retrieve, component: overlap, params: {k: 20}}
  scaled: {kind: rerank, component: scaled, inputs: [first]}
  shifted: {kind: rerank, component: shifted, inputs: [first]}
""", languages="[en]")
    return spec, plugins


def test_editing_one_module_of_a_plugin_recomputes_only_the_stage_that_runs_it(
        tmp_path: Path, xquad: Path, registry: Registry, write_spec, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    package = _package(tmp_path / "plugin", "rankfw_twopart", TWO_STAGES)
    spec, plugins = _two_stage_spec(tmp_path, xquad, write_spec, package, monkeypatch)
    Runner(load_spec(spec, plugins()), cache_dir=tmp_path / "cache").run()
    (package / "shifted.py").write_text(TWO_STAGES["shifted.py"].replace("s + 1.0", "s + 5.0"), encoding="utf-8")
    plan = {p.stage: p for p in Runner(load_spec(spec, plugins()), cache_dir=tmp_path / "cache").plan()}
    assert {s: (p.status, p.reason) for s, p in plan.items() if p.status != "cached"} == {
        "shifted": ("to compute", "code changed (rankfw_twopart.shifted)")}
    Runner(load_spec(spec, plugins()), cache_dir=tmp_path / "cache").run()
    first = (tmp_path / "out/stages/first/en.run").read_text().splitlines()[0].split()
    top = (tmp_path / "out/stages/shifted/en.run").read_text().splitlines()[0].split()
    assert top[2] == first[2] and float(top[4]) == pytest.approx(float(first[4]) + 5.0)


def test_a_data_file_the_package_ships_is_in_its_digest_an_editors_swap_file_is_not(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _package(tmp_path / "src", "pk", {**PIECES, "stopwords.txt": "the\na\n"}).parent
    _package(root, "lazyhelper", {"__init__.py": LAZY_HELPER})
    _import(root, "pk", monkeypatch)
    before = _digest("pk.a", "A", tmp_path / "cache")
    (root / "pk" / ".a.py.swp").write_text("editor state", encoding="utf-8")
    (root / "pk" / "b.py~").write_text("a backup", encoding="utf-8")
    assert _digest("pk.a", "A", tmp_path / "cache") == before
    _edit(root / "pk" / "stopwords.txt")
    assert _digest("pk.a", "A", tmp_path / "cache") != before


def test_a_changed_code_part_names_the_files_and_an_older_record_names_none() -> None:
    from rankfw.run.keys import PARTS, UnitKey, changed_parts

    files = {f"pk.m{i}": f"d{i}" for i in range(6)}
    new = UnitKey("k2", {p: "same" for p in PARTS} | {"code": "c2"}, code=files)
    old = {"parts": {p: "same" for p in PARTS} | {"code": "c1"}}
    assert changed_parts(old, new) == "code changed"  # written before code files were recorded
    assert changed_parts({**old, "code": {**files, "pk.m4": "old"}}, new) == "code changed (pk.m4)"
    gone = {k: v for k, v in files.items() if k != "pk.m0"} | {"pk.gone": "x"}
    assert changed_parts({**old, "code": gone}, new) == "code changed (pk.gone, pk.m0)"
    assert changed_parts({**old, "code": {}}, new) == "code changed (pk.m0, pk.m1, pk.m2, 3 more)"


NOTEBOOK_CELL = '''
def boost(score):
    return score * 2.0


class Cell:
    """A reranker written in a notebook cell."""
    description = "boosted"

    def rerank(self, hits):
        return [(d, boost(s)) for d, s in hits]
'''


def _notebook(source: str, monkeypatch: pytest.MonkeyPatch) -> type:
    """``source`` run as a notebook runs a cell: in a module with no file (a new kernel each call)."""
    import types

    module = types.ModuleType("notebook_main")
    monkeypatch.setitem(sys.modules, "notebook_main", module)
    exec(compile(source, f"/tmp/ipykernel_{id(module)}/cell.py", "exec"), vars(module))  # noqa: S102
    return vars(module)["Cell"]


@pytest.mark.parametrize(("edit", "same"), [
    (lambda s: s, True),                                        # the same cell in a new kernel
    (lambda s: "\n\n# a comment above\n" + s, True),            # moved down the cell: lines only
    (lambda s: s.replace("score * 2.0", "score * 3.0"), False),  # a helper the method calls
    (lambda s: s.replace("[(d, boost(s))", "[(d, -boost(s))"), False),  # the method itself
    (lambda s: s.replace('"boosted"', '"boosted twice"'), False),  # a class attribute
])
def test_a_class_from_a_notebook_cell_is_recomputed_when_its_code_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: Any, same: bool) -> None:
    before = code.code_state(_notebook(NOTEBOOK_CELL, monkeypatch), None, tmp_path)
    after = code.code_state(_notebook(edit(NOTEBOOK_CELL), monkeypatch), None, tmp_path)
    assert set(before.files) == {"class Cell", "def Cell.rerank", "def boost"}
    assert (after.digest == before.digest) is same


def test_a_class_run_into_a_module_that_has_a_file_is_keyed_by_its_own_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cell run in a kernel whose ``__main__`` has a file (or ``exec`` into a module): the module's
    file is not the class's code, so editing the cell must still change the key."""
    import types

    host = tmp_path / "host.py"
    host.write_text("X = 1\n", encoding="utf-8")

    def cell(source: str) -> type:
        module = types.ModuleType("host_main")
        module.__file__ = str(host)
        monkeypatch.setitem(sys.modules, "host_main", module)
        exec(compile(source, "<cell>", "exec"), vars(module))  # noqa: S102
        return vars(module)["Cell"]

    before = code.code_state(cell(NOTEBOOK_CELL), None, tmp_path)
    after = code.code_state(cell(NOTEBOOK_CELL.replace("score * 2.0", "score * 3.0")), None, tmp_path)
    assert "def boost" in before.files and after.digest != before.digest


def test_upgrading_a_library_recomputes_only_the_stages_whose_code_imports_it(
        tmp_path: Path, xquad: Path, write_spec, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """A library's version is part of the digest of the code that imports it: before, upgrading,
    say, onnxruntime or transformers reused the runs the old version made."""
    from rankfw.run import libraries

    site = tmp_path / "site"
    _package(site, "fakelib", {"__init__.py": "SCALE = 2.0\n"})
    info = site / "fakelib-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakelib\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("fakelib\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(libraries, "_providers", functools.cache(libraries._providers.__wrapped__))  # sees fakelib
    files = {**TWO_STAGES, "scaled.py": TWO_STAGES["scaled.py"].replace(
        "from rankfw.core import", "import fakelib\nfrom rankfw.core import").replace("s * 2.0", "s * fakelib.SCALE")}
    package = _package(tmp_path / "plugin", "rankfw_twopart", files)
    spec, plugins = _two_stage_spec(tmp_path, xquad, write_spec, package, monkeypatch)
    Runner(load_spec(spec, plugins()), cache_dir=tmp_path / "cache").run()
    assert {p.status for p in Runner(load_spec(spec, plugins()), cache_dir=tmp_path / "cache").plan()} == {"cached"}
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakelib\nVersion: 1.1\n")  # pip install -U fakelib
    info.rename(site / "fakelib-1.1.dist-info")
    plan = {p.stage: p for p in Runner(load_spec(spec, plugins()), cache_dir=tmp_path / "cache").plan()}
    assert {s: (p.status, p.reason) for s, p in plan.items() if p.status != "cached"} == {
        "scaled": ("to compute", "code changed (library fakelib)")}
