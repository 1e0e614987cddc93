"""A comparison as a self-contained HTML page: per measure a table of values (marks, the best in
bold, the delta against the baseline and its p-value under each value), the chart, and the
provenance (specs, components and their versions, date). Charts: :mod:`rankfw.run.report_chart`;
LaTeX: :mod:`rankfw.run.report_latex`."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from rankfw.core.io import atomic_write_text
from rankfw.run.compare import Comparison
from rankfw.run.report_chart import chart_bytes, write_chart

__all__ = ["html_page", "write_chart", "write_html"]

_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}"
    ".win{background:#d4f4d4}.loss{background:#f8d0d0}.d{display:block;font-size:75%;color:#555}"
    ".best{font-weight:bold}pre{background:#f6f6f6;padding:.5em;overflow:auto}img{max-width:100%}"
)


def _table(comparison: Comparison, measure: str) -> list[str]:
    e = html.escape
    parts = [f"<h2>{e(measure)}</h2><table><tr><th>system</th>", *(f"<th>{e(g)}</th>" for g in comparison.groups), "</tr>"]
    for system in comparison.systems:
        parts.append(f"<tr><td>{e(system)}</td>")
        for g in comparison.groups:
            mark = comparison.mark(system, g, measure) if g != "mean" else ""
            classes = [c for c in ({"+": "win", "-": "loss"}.get(mark, ""),
                                   "best" if len(comparison.systems) > 1 and system in comparison.best(g, measure) else "") if c]
            css = f" class='{' '.join(classes)}'" if classes else ""
            detail = ""
            if system != comparison.baseline:
                p = comparison.p_value(system, g, measure)
                detail = f"<span class='d'>{comparison.delta(system, g, measure):+.4f}" + (
                    f", p={p:.3g}" if p is not None else "") + "</span>"
            parts.append(f"<td{css}>{comparison.values[system][g][measure]:.4f}{mark}{detail}</td>")
        parts.append("</tr>")
    parts.append("</table>")
    return parts


def _provenance(comparison: Comparison) -> list[str]:
    e = html.escape
    p = comparison.provenance
    made = (f"<h2>Provenance</h2><p>Made {e(p.get('date', ''))} by rankfw {e(str(p.get('rankfw', '?')))} "
            f"(ir_measures {e(str(p.get('ir_measures', '?')))}).</p>")
    head = "".join(f"<th>{h}</th>" for h in ("system", "source", "component", "distribution", "version", "parameters",
                                             "finished"))
    parts = [made, f"<table><tr>{head}</tr>"]
    for name, s in p.get("systems", {}).items():
        source = f"{e(s['spec'])} &rarr; stage {e(s['stage'])}" if "stage" in s else "<br>".join(map(e, s.get("runs", {}).values()))
        params = json.dumps(s["config"], sort_keys=True, ensure_ascii=False) if "config" in s else ""
        parts.append(f"<tr><td>{e(name)}</td><td>{source}</td><td>{e(s.get('kind', ''))} {e(s.get('component', ''))}</td>"
                     f"<td>{e(s.get('distribution', ''))}</td><td>{e(str(s.get('version', '')))}</td>"
                     f"<td><code>{e(params)}</code></td><td>{e(s.get('finished', ''))}</td></tr>")
    parts.append("</table>")
    for path, spec in p.get("specs", {}).items():
        parts.append(f"<details><summary>spec {e(spec.get('name', ''))}: {e(path)}</summary><pre>{e(spec['text'])}</pre></details>")
    return parts


def html_page(comparison: Comparison) -> str:
    """The report as one HTML string (no external resources)."""
    test = f"paired {comparison.test} test" + (f" ({comparison.resamples} permutations)" if comparison.resamples else "")
    intro = (
        f"<h1>rankfw comparison</h1><p>Baseline <b>{html.escape(comparison.baseline)}</b>; {html.escape(test)}, "
        f"Holm-Bonferroni correction across languages and systems, &alpha; = {comparison.alpha}. "
        "<span class='win'>green, +</span>: significantly better, <span class='loss'>red, -</span>: significantly "
        "worse; under each value its difference from the baseline and the corrected p-value; the best value "
        "of each column in bold.</p>"
    )
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>rankfw comparison</title><style>{_STYLE}</style></head><body>",
        intro,
    ]
    for measure in comparison.measures:
        parts.extend(_table(comparison, measure))
    image = base64.b64encode(chart_bytes(comparison, "png")).decode("ascii")
    parts.append(f"<h2>Chart</h2><img alt='chart of {html.escape(', '.join(comparison.measures))}' "
                 f"src='data:image/png;base64,{image}'>")
    parts.extend(_provenance(comparison))
    parts.append("</body></html>\n")
    return "".join(parts)


def write_html(comparison: Comparison, path: Path) -> None:
    """Write :func:`html_page` to ``path`` atomically."""
    atomic_write_text(path, html_page(comparison))
