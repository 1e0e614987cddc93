"""``rankfw components list`` and ``rankfw components show NAME``: what each component does and
takes (a table of parameters; ``--json`` for the Config's JSON schema) and which code files are in
its cache key."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from rankfw.cli import _handle_errors, console, main
from rankfw.core.errors import InputError

if TYPE_CHECKING:
    from rankfw.core.registry import ComponentInfo

KINDS = ["retriever", "reranker", "trainer", "fuser"]


@main.group()
def components() -> None:
    """The installed components: list them, or look at one."""


@components.command("list")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def components_list(kind: str | None, as_json: bool) -> None:
    """Every installed component: name, kind, plugin and a one-line description."""
    from rankfw.core.registry import default_registry

    infos = [i for _, i in sorted(default_registry().components.items(), key=lambda kv: (kv[0][1], kv[0][0]))
             if kind is None or i.kind == kind]
    rows = [{"name": i.name, "kind": i.kind, "plugin": i.distribution, "description": i.description.splitlines()[0]}
            for i in infos]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="rankfw components", title_justify="left")
    for column in ("name", "kind", "plugin", "description"):
        table.add_column(column, no_wrap=column != "description")
    for row in rows:
        table.add_row(*(escape(row[c]) for c in ("name", "kind", "plugin", "description")))
    console.print(table)
    if not rows:
        console.print("no components installed: pip install a rankfw plugin (see README)")


@components.command("show")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), help="When several kinds share the name.")
@click.option("--json", "as_json", is_flag=True, help="Print the description, citation, JSON schema and defaults as JSON.")
@_handle_errors
def components_show(name: str, kind: str | None, as_json: bool) -> None:
    """The component NAME: description, citation and a table of its parameters."""
    from rankfw.core.registry import default_registry

    registry = default_registry()
    found = [i for i in registry.find(name) if kind is None or i.kind == kind]
    if not found:
        import difflib

        names = sorted({n for _, n in registry.components})
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"no component {name!r}{hint} (installed: {', '.join(names) or 'none'})", "components show")
    if as_json:
        out = [
            {**info.as_dict(), "config_schema": info.config_class.model_json_schema(), "defaults": info.defaults(),
             "parameters": [p.as_dict() for p in info.parameters()],
             **dict(zip(("code_files", "libraries"), _code_parts(info), strict=True))}
            for info in found
        ]
        click.echo(json.dumps(out[0] if len(out) == 1 else out, indent=2, default=str))
        return
    for info in found:
        console.print(f"[bold]{escape(info.name)}[/] ({info.kind}) from {escape(info.distribution)} "
                      f"{escape(info.version)}", highlight=False)
        console.print(escape(info.description), highlight=False)
        if info.cls.citation:
            console.print(f"Cite: {escape(info.cls.citation)}", highlight=False)
        files, libraries = _code_parts(info)
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more (--json lists them)" if len(files) > 5 else "")
        console.print(f"Code in its cache key: {escape(shown or 'its distribution')}", highlight=False)
        if libraries:
            names = ", ".join(f"{k} {v}" for k, v in list(libraries.items())[:5])
            more = f" and {len(libraries) - 5} more (--json lists them)" if len(libraries) > 5 else ""
            console.print(f"Library versions in its cache key: {escape(names + more)}", highlight=False)
        table = Table(title="parameters", title_justify="left")
        for column in ("name", "type", "default", "required", "description"):
            table.add_column(column, overflow="fold", no_wrap=column in ("name", "required"))
        for p in info.parameters():
            table.add_row(escape(p.name), escape(p.type), escape(p.default), "yes" if p.required else "",
                          escape(p.description))
        console.print(table)


def _code_parts(info: ComponentInfo) -> tuple[list[str], dict[str, str]]:
    """The files whose edit recomputes the component's stages, and the libraries (name -> version)
    whose upgrade does (its code digest, :mod:`rankfw.run.code`)."""
    from rankfw.core.io import default_cache_dir
    from rankfw.run.code import code_state
    from rankfw.run.libraries import LABEL

    files = code_state(info.cls, info.distribution, default_cache_dir()).files
    libraries = {k[len(LABEL):]: v for k, v in sorted(files.items()) if k.startswith(LABEL)}
    return sorted(k for k in files if not k.startswith(LABEL)), libraries
