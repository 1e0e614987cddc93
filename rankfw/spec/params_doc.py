"""A component's parameters for people: name, type (``int > 0``, ``str, optional``, ``one of a,
b``), default, whether required and the description, read from its pydantic ``Config``."""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="), ("min_length", "min length"),
           ("max_length", "max length"), ("multiple_of", "multiple of"))


@dataclass(frozen=True)
class Parameter:
    """One parameter of a component's Config, described for ``components show``."""

    name: str
    type: str
    default: str
    required: bool
    description: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "default": self.default, "required": self.required,
                "description": self.description}


def parameters(config: type[BaseModel]) -> list[Parameter]:
    """Every field of ``config``, in declaration order."""
    return [_parameter(name, f) for name, f in config.model_fields.items()]


def _parameter(name: str, f: FieldInfo) -> Parameter:
    required = f.is_required()
    text, optional = type_name(f.annotation)
    bounds = _constraints(f.metadata)
    if bounds:
        text = f"{text} {bounds}"
    if optional:
        text += ", optional"
    default = "" if required else format_value(f.get_default(call_default_factory=True))
    return Parameter(f.alias or name, text, default, required, f.description or "")


def type_name(annotation: Any) -> tuple[str, bool]:
    """``annotation`` as short text, and whether ``None`` is allowed (``X | None`` -> ``("X", True)``)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        kept = [a for a in args if a is not type(None)]
        names = [type_name(a)[0] for a in kept]
        return " | ".join(names), len(kept) < len(args)
    if annotation is type(None):
        return "None", True
    return _plain(annotation), False


def _plain(annotation: Any, nested: bool = False) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        inner = _plain(args[0], nested)
        bounds = _constraints(args[1:])
        return f"{inner} {bounds}" if bounds else inner
    if origin is typing.Literal:
        return " | ".join(str(a) for a in args) if nested else "one of " + ", ".join(str(a) for a in args)
    if origin is typing.Union or origin is types.UnionType:
        return type_name(annotation)[0]
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        inner = ", ".join("..." if a is Ellipsis else _plain(a, nested=True) for a in args)
        return f"{name}[{inner}]" if args else name
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _constraints(metadata: Any) -> str:
    """Bounds from pydantic / annotated_types metadata, e.g. ``> 0, <= 8192``."""
    parts = []
    for item in metadata:
        for attr, symbol in _BOUNDS:
            value = getattr(item, attr, None)
            if value is not None and not callable(value):
                parts.append(f"{symbol} {value}")
    return ", ".join(parts)


def format_value(value: Any) -> str:
    """A default as it would be written in a spec (``None``, ``auto``, ``["title", "text"]``)."""
    if value is None:
        return "None"
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
