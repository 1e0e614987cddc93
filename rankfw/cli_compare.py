"""``rankfw compare``: systems side by side with significance tests, as a table, markdown, LaTeX,
JSON, charts (PNG, PDF, SVG by extension) and an HTML report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from rankfw.cli import _handle_errors, console, main
from rankfw.core.errors import InputError

if TYPE_CHECKING:
    from rankfw.run.compare import Comparison


@main.command()
@click.argument("paths", nargs=-1, required=True, metavar="[LABEL=]PATH...")
@click.option("--qrels", "qrels_source", help="Qrels for run files (file or irds: id); output folders use their spec's.")
@click.option("--language", help="Language of the run files (default 'all'; LANG for OUT/stages/NAME/LANG.run).")
@click.option("-m", "--measure", "measures", multiple=True, help="ir_measures name (repeatable); default nDCG@10 and R@100.")
@click.option("--baseline", help="System to test against (default: the first); it comes first everywhere.")
@click.option("--systems", "only", metavar="A,B,C", help="Compare only these systems, in this order.")
@click.option("--test", type=click.Choice(["randomization", "t-test"]), default="randomization", show_default=True)
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True)
@click.option("--resamples", type=click.IntRange(100), default=10_000, show_default=True, help="Permutations of the randomization test.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (values, deltas, p-values, provenance).")
@click.option("--markdown", is_flag=True, help="Print markdown tables: values with marks, deltas with p-values.")
@click.option("--latex", is_flag=True, help="Print LaTeX booktabs tables (best in bold, marks, provenance comment).")
@click.option("--png", "--pdf", "--svg", "charts", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the chart (one panel per measure); the file's extension picks the format.")
@click.option("--heldout", is_flag=True,
              help="Add each stage's mean on the held-out training questions (its sibling stage X_ho on topics: heldout).")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Write a self-contained HTML report.")
@_handle_errors
def compare(paths: tuple[str, ...], qrels_source: str | None, language: str | None, measures: tuple[str, ...],
            baseline: str | None, only: str | None, test: str, alpha: float, resamples: int, as_json: bool,
            markdown: bool, latex: bool, charts: tuple[Path, ...], heldout: bool, html_path: Path | None) -> None:
    """Compare systems (TREC run files or 'rankfw run' output folders, each optionally LABEL=PATH)
    per language, with paired significance tests against a baseline and Holm-Bonferroni correction.
    Systems come in spec order, the baseline first."""
    from rankfw.data import read_qrels
    from rankfw.run.compare import compare as compare_systems
    from rankfw.run.evaluate import DEFAULT_METRICS, parse_measures
    from rankfw.run.systems import (
        languages_in_order,
        provenance,
        qrels_from_output,
        select_systems,
        systems_from_paths,
    )

    if sum([as_json, markdown, latex]) > 1:
        raise InputError("choose one of --json, --markdown and --latex", "compare")
    names = list(measures) or list(DEFAULT_METRICS)
    parse_measures(names)
    systems = systems_from_paths(list(paths), language)
    if only:
        systems = select_systems(systems, [s.strip() for s in only.split(",") if s.strip()])
        baseline = baseline or systems[0].name
    if charts:
        from rankfw.run.report_chart import chart_format

        for chart in charts:
            chart_format(chart)  # a bad extension fails before the evaluation
    languages = languages_in_order(systems)
    if qrels_source:
        qrels = {lang: read_qrels(qrels_source) for lang in languages}
    else:
        folder = next((s.folder for s in systems if s.folder is not None), None)
        if folder is None:
            raise InputError("run files need --qrels", "compare")
        qrels = qrels_from_output(folder, languages)
    result = compare_systems(systems, qrels, names, baseline, test, alpha, resamples)  # type: ignore[arg-type]
    result.provenance = provenance(systems)
    if heldout:
        from rankfw.run.heldout import heldout_values

        result.heldout = heldout_values(systems, names)
        if not result.heldout:
            raise InputError("no system has a held-out sibling stage (X_ho with topics: heldout)", "--heldout")
    for chart in charts:
        from rankfw.run.report_chart import write_chart

        write_chart(result, chart)
    if html_path:
        from rankfw.run.report import write_html

        write_html(result, html_path)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    elif latex:
        from rankfw.run.report_latex import latex as latex_text

        click.echo(latex_text(result), nl=False)
    elif markdown:
        for measure in names:
            click.echo(f"**{measure}** ({result.legend()})\n")
            click.echo(result.markdown(measure) + "\n")
    else:
        _print_tables(result, names)


def _print_tables(result: Comparison, names: list[str]) -> None:
    for measure in names:
        table = Table(title=measure, title_justify="left", caption=result.legend(), caption_justify="left")
        table.add_column("system")
        for group in result.groups:
            table.add_column(group, justify="right")
        table.add_column("Δ mean", justify="right")
        if result.heldout:
            table.add_column("held-out mean", justify="right")
        for system in result.systems:
            cells = [f"{result.values[system][g][measure]:.4f}{result.mark(system, g, measure) if g != 'mean' else ''}"
                     for g in result.groups]
            delta = f"{result.delta(system, 'mean', measure):+.4f}" if system != result.baseline else ""
            table.add_row(system, *cells, delta, *([result.heldout_cell(system, measure)] if result.heldout else []))
        console.print(table)
