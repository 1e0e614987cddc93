"""Reports of a comparison: a PNG chart (per-language bars) and a self-contained HTML page."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from rankfw.core.io import atomic_open, atomic_write_text
from rankfw.run.compare import Comparison


def chart_png(comparison: Comparison, measure: str | None = None) -> bytes:
    """Grouped bars: one group per language (and the mean), one bar per system; wins/losses marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    measure = measure or comparison.measures[0]
    systems = list(comparison.values)
    groups = [*comparison.languages, "mean"]
    width = 0.8 / len(systems)
    fig, ax = plt.subplots(figsize=(max(6, 1.0 + 0.9 * len(groups) * max(1, len(systems) / 2)), 4), dpi=120)
    x = np.arange(len(groups))
    for i, system in enumerate(systems):
        heights = [comparison.values[system][g][measure] for g in groups]
        bars = ax.bar(x + i * width - 0.4 + width / 2, heights, width, label=system)
        for bar, group in zip(bars, groups):
            mark = comparison.mark(system, group, measure) if group != "mean" else ""
            if mark:
                ax.annotate("▲" if mark == "+" else "▼", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                            ha="center", va="bottom", fontsize=7, color="green" if mark == "+" else "red")
    ax.set_xticks(x, groups)
    ax.set_ylabel(measure)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{measure} per language (▲▼: significant vs {comparison.baseline}, {comparison.test}, Holm, "
                 f"α={comparison.alpha})", fontsize=9)
    ax.legend(fontsize=7, ncols=min(4, len(systems)), loc="lower right")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def write_png(comparison: Comparison, path: Path, measure: str | None = None) -> None:
    """Write :func:`chart_png` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(chart_png(comparison, measure))


def write_html(comparison: Comparison, path: Path) -> None:
    """A self-contained HTML report: one table per measure and the chart of each, inlined."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>rankfw comparison</title><style>",
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}",
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}",
        ".win{background:#d4f4d4}.loss{background:#f8d0d0}</style></head><body>",
        f"<h1>rankfw comparison</h1><p>Baseline <b>{html.escape(comparison.baseline)}</b>; paired "
        f"{html.escape(comparison.test)} test, Holm-Bonferroni correction across languages and systems, "
        f"&alpha; = {comparison.alpha}. <span class='win'>green</span>: significantly better, "
        f"<span class='loss'>red</span>: significantly worse.</p>",
    ]
    groups = [*comparison.languages, "mean"]
    for measure in comparison.measures:
        parts.append(f"<h2>{html.escape(measure)}</h2><table><tr><th>system</th>")
        parts.extend(f"<th>{html.escape(g)}</th>" for g in groups)
        parts.append("</tr>")
        for system, values in comparison.values.items():
            parts.append(f"<tr><td>{html.escape(system)}</td>")
            for g in groups:
                mark = comparison.mark(system, g, measure) if g != "mean" else ""
                css = {"+": " class='win'", "-": " class='loss'"}.get(mark, "")
                p = comparison.p_values.get(system, {}).get(g, {}).get(measure)
                title = f" title='p = {p:.4g}'" if p is not None else ""
                parts.append(f"<td{css}{title}>{values[g][measure]:.4f}{mark}</td>")
            parts.append("</tr>")
        parts.append("</table>")
        image = base64.b64encode(chart_png(comparison, measure)).decode("ascii")
        parts.append(f"<img alt='{html.escape(measure)} chart' src='data:image/png;base64,{image}'>")
    parts.append("</body></html>\n")
    atomic_write_text(path, "".join(parts))
