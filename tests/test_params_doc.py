"""Parameters described for people: types without JSON-schema noise, defaults, required fields."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from rankfw.core import ComponentConfig
from rankfw.spec.params_doc import parameters


class _Config(ComponentConfig):
    """A config with one field of each shape."""

    mode: Literal["a", "b"] = Field("a", description="the mode")
    threads: PositiveInt | None = Field(None, description="threads")
    fields: tuple[Literal["title", "text"], ...] = Field(("title", "text"), min_length=1)
    weights: list[float] | str = Field(description="required: no default")
    rate: float = Field(0.5, gt=0, le=1)
    flag: bool = False
    names: list[str] = Field(default_factory=lambda: ["x"])


def test_types_defaults_and_required() -> None:
    got = {p.name: (p.type, p.default, p.required) for p in parameters(_Config)}
    assert got == {
        "mode": ("one of a, b", "a", False),
        "threads": ("int > 0, optional", "None", False),
        "fields": ("tuple[title | text, ...] min length 1", '["title", "text"]', False),
        "weights": ("list[float] | str", "", True),
        "rate": ("float > 0, <= 1", "0.5", False),
        "flag": ("bool", "false", False),
        "names": ("list[str]", '["x"]', False),
    }
    assert [p.description for p in parameters(_Config)][:2] == ["the mode", "threads"]
