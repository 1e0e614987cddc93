"""Locating spec errors: YAML path -> line, and :class:`InputError` s that name both."""

from __future__ import annotations

import difflib
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from rankfw.core.errors import InputError
from rankfw.spec.model import DatasetSpec, ExecutorSpec, PipelineSpec, StageSpec

MERGE_TAG = "tag:yaml.org,2002:merge"


class LineIndex:
    """Maps a YAML path (tuple of keys / indexes) to the line it starts on.

    Built from a composed node graph (see :func:`rankfw.spec.yamlio.load_yaml`, which bounds its
    size); keys merged in with ``<<: *base`` map to the line of the base's key.
    """

    def __init__(self, node: yaml.Node | None) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        if node is not None:
            self._walk(node, (), True)

    def _walk(self, node: yaml.Node, path: tuple[Any, ...], explicit: bool) -> None:
        if explicit or path not in self.lines:
            self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            merged = []
            for key, value in node.value:
                if key.tag == MERGE_TAG:
                    merged.extend(value.value if isinstance(value, yaml.SequenceNode) else [value])
                    continue
                sub = (*path, key.value)
                self._walk(value, sub, explicit)
                if explicit or sub not in self.lines:
                    self.lines[sub] = key.start_mark.line + 1
            for base in merged:  # explicit keys win over merged ones, as in the data
                if isinstance(base, yaml.MappingNode):
                    for key, value in base.value:
                        if (*path, key.value) not in self.lines:
                            self._walk(value, (*path, key.value), False)
                            self.lines.setdefault((*path, key.value), key.start_mark.line + 1)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i), explicit)

    def line(self, path: tuple[Any, ...]) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


def spec_model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The spec model that holds keys at ``path`` (for listing the valid keys)."""
    if path == ():
        return PipelineSpec
    if path in (("dataset",), ("executor",)):
        return {"dataset": DatasetSpec, "executor": ExecutorSpec}[path[0]]
    if len(path) == 2 and path[0] == "stages":
        return StageSpec
    return None


def dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) if path else "(top level)"


class SpecErrors:
    """Builds :class:`InputError` s located by YAML path and line."""

    def __init__(self, source: str, lines: LineIndex, overrides: set[tuple[str, ...]]) -> None:
        self.source, self.lines, self.overrides = source, lines, overrides

    def error(self, path: tuple[Any, ...], message: str) -> InputError:
        """``path.to.key: message (file:line)``, or ``(--set)`` for a command-line override."""
        if any(path[: len(o)] == o for o in self.overrides):
            return InputError(message, f"{dotted(path)} (--set)")
        line = self.lines.line(path)
        return InputError(f"{message} ({self.source}:{line})" if line else f"{message} ({self.source})", dotted(path))

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
            owner = (model if len(loc) == 1 else None) if model is not None else spec_model_at(loc[:-1])
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
