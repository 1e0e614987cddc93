"""The ``rankfw search`` and ``rankfw serve`` commands (registered on :data:`rankfw.cli.main`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from rankfw.cli import _handle_errors, console, err_console
from rankfw.cli_options import set_option as _set_option
from rankfw.core.errors import InputError


def _searcher(target: Path, stage: str | None, language: str | None, overrides: tuple[str, ...], cache: Path | None) -> Any:
    from rankfw.search import Searcher

    if target.is_dir():
        if overrides:
            raise InputError("--set applies to a spec file, not an output folder", "--set")
        return Searcher.from_output(target, stage=stage, language=language, cache=cache)
    return Searcher.from_yaml(target, stage=stage, language=language, overrides=overrides, cache=cache)


@click.command()
@click.argument("target", metavar="OUT_DIR|SPEC", type=click.Path(exists=True, path_type=Path))
@click.argument("query")
@click.option("--stage", help="Stage to search (default: the last one that ranks the evaluation topics).")
@click.option("--language", help="Language of the query (default: the stage's first).")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="Hits to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@_set_option
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), help="Cache folder (default: the spec's).")
@_handle_errors
def search(target: Path, query: str, stage: str | None, language: str | None, k: int, as_json: bool,
           overrides: tuple[str, ...], cache: Path | None) -> None:
    """Rank the passages of a trained pipeline (an output folder of 'rankfw run', or a spec) for QUERY."""
    searcher = _searcher(target, stage, language, overrides, cache)
    hits = searcher.search(query, k=k)
    if as_json:
        click.echo(json.dumps({"stage": searcher.stage, "language": searcher.language, "query": query,
                               "hits": [h.as_dict() for h in hits]}, ensure_ascii=False, indent=2))
        return
    table = Table(title=escape(f"{searcher.stage} [{searcher.language}]: {query}"), title_justify="left")
    for column, justify in (("rank", "right"), ("docid", "left"), ("score", "right"), ("passage", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for h in hits:
        text = f"{h.title}: {h.text}" if h.title else h.text
        table.add_row(str(h.rank), h.docid, f"{h.score:.4f}", escape(text if len(text) <= 100 else text[:99] + "…"))
    console.print(table)


@click.command()
@click.argument("target", metavar="OUT_DIR|SPEC", type=click.Path(exists=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--stage", help="Default stage of requests (default: the last one).")
@click.option("--language", help="Default language of requests (default: the stage's first).")
@click.option("--window-ms", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="How long a batch waits for more requests.")
@click.option("--max-batch", type=click.IntRange(min=1), default=32, show_default=True, help="Queries per batch at most.")
@click.option("--queue-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Requests waiting at most; more are answered 503.")
@click.option("--max-k", type=click.IntRange(min=1), default=1000, show_default=True, help="Largest k a request may ask.")
@_set_option
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), help="Cache folder (default: the spec's).")
@_handle_errors
def serve(target: Path, host: str, port: int, stage: str | None, language: str | None, window_ms: float,
          max_batch: int, queue_size: int, max_k: int, overrides: tuple[str, ...], cache: Path | None) -> None:
    """Serve a trained pipeline over HTTP: POST /search, GET /health, GET /stages (needs rankfw[serve])."""
    try:
        import uvicorn  # noqa: F401

        from rankfw.serve import app  # noqa: F401  (Starlette)
        from rankfw.serve import serve as run_server
    except ImportError as e:
        raise InputError(f"rankfw serve needs its extra: pip install 'rankfw[serve]' ({e})", "serve") from None
    searcher = _searcher(target, stage, language, overrides, cache)
    run_server(searcher, host=host, port=port, window_ms=window_ms, max_batch=max_batch, queue_size=queue_size,
               max_k=max_k, log=lambda m: err_console.print(escape(m), highlight=False, soft_wrap=True))
