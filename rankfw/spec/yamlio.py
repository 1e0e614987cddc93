"""Reading spec YAML safely: bounded nesting and alias expansion, merge keys, no duplicate keys.

The text is parsed into events once to bound nesting (the parser is not recursive, the composer
is), composed once into a node graph whose size *after* alias expansion is counted without
expanding it (a "billion laughs" spec is refused in microseconds), and only then constructed.
Every problem is an :class:`InputError` naming ``file:line``.
"""

from __future__ import annotations

from typing import Any

import yaml

from rankfw.core.errors import InputError
from rankfw.spec.locate import LineIndex

MAX_DEPTH = 64
"""The deepest nesting of mappings and sequences a spec may have."""
MAX_NODES = 100_000
"""The most YAML nodes a spec may have once every alias is expanded."""
MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlSyntaxError(InputError):
    """Text that is not valid YAML (as opposed to YAML refused for its size or nesting)."""


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last).

    YAML 1.1 merge keys (``<<: *base``) are accepted: keys given explicitly override merged ones.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, source: str) -> tuple[Any, LineIndex]:
    """``(data, lines)`` of one YAML document: the data and the line of every YAML path in it."""
    try:
        _check_depth(text, source)
        loader = UniqueKeyLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, LineIndex(None)
            _check_size(node, source)
            # Locate errors before constructing: the constructor flattens merge keys in place.
            index = LineIndex(node)
            data = loader.construct_document(node)
        finally:
            loader.dispose()  # type: ignore[no-untyped-call]
    except yaml.YAMLError as e:
        raise YamlSyntaxError(f"invalid YAML: {_problem(e)} ({source}:{_line(e, text)})") from None
    return data, index


def _check_depth(text: str, source: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise InputError(f"the YAML nests deeper than {MAX_DEPTH} levels ({source}:{event.start_mark.line + 1})")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_size(root: yaml.Node, source: str) -> None:
    """Count nodes as if every alias were expanded (memoised per node, so linear in the text)."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    active: set[int] = set()

    def visit(node: yaml.Node) -> None:
        if id(node) in sizes:
            return
        where = f"{source}:{node.start_mark.line + 1}"
        if id(node) in active:
            raise InputError(f"a YAML alias refers to the node that contains it ({where})")
        active.add(id(node))
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        for child in children:
            visit(child)
        active.discard(id(node))
        sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
        depths[id(node)] = 1 + max((depths[id(c)] for c in children), default=0)
        if sizes[id(node)] > MAX_NODES:
            raise InputError(f"YAML aliases expand to more than {MAX_NODES:,} nodes ({where})")
        if depths[id(node)] > MAX_DEPTH:
            raise InputError(f"YAML aliases nest deeper than {MAX_DEPTH} levels ({where})")

    visit(root)


def _problem(error: yaml.YAMLError) -> str:
    return getattr(error, "problem", None) or str(error).splitlines()[0]


def _line(error: yaml.YAMLError, text: str) -> int:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(error, "position", None)  # a ReaderError: a character offset
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return 1
