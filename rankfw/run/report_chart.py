"""The chart of a comparison: one panel per measure, grouped bars (a group per language and the
mean, a bar per system, baseline first), the y-axis fitted to the values, significant wins and
losses marked, the legend above the panels. Written as PNG, PDF, SVG, ... by the file's extension."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rankfw.core.errors import InputError
from rankfw.core.io import atomic_open
from rankfw.run.compare import Comparison


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def y_limits(values: list[float]) -> tuple[float, float]:
    """Axis limits fitted to ``values``: a margin below the lowest bar and room for the marks above
    the highest, kept within [0, 1.05] for measures in [0, 1]."""
    lo, hi = min(values), max(values)
    span = max(hi - lo, 0.05)
    bottom, top = lo - 0.25 * span, hi + 0.2 * span
    if lo >= 0:
        bottom = max(0.0, bottom)
    if hi <= 1:
        top = min(1.05, top)
    return bottom, top


def figure(comparison: Comparison) -> Any:
    """The matplotlib figure of ``comparison`` (every measure, one panel each)."""
    import numpy as np

    plt = _pyplot()
    systems = comparison.systems
    groups = comparison.groups if len(comparison.languages) > 1 else comparison.languages  # one language: no mean
    width = 0.8 / len(systems)
    panel_width = max(6.0, 1.2 + 0.22 * len(groups) * max(2, len(systems)))
    fig, axes = plt.subplots(len(comparison.measures), 1, figsize=(panel_width, 1.2 + 2.8 * len(comparison.measures)),
                             dpi=120, layout="constrained", squeeze=False)
    x = np.arange(len(groups))
    colours = plt.get_cmap("tab10").colors
    truncated = False
    for ax, measure in zip(axes[:, 0], comparison.measures):
        heights = {s: [comparison.values[s][g][measure] for g in groups] for s in systems}
        bottom, top = y_limits([h for hs in heights.values() for h in hs])
        truncated = truncated or bottom > 0
        for i, system in enumerate(systems):
            offset = x + i * width - 0.4 + width / 2
            bars = ax.bar(offset, [h - bottom for h in heights[system]], width, bottom=bottom, label=system,
                          color=colours[i % len(colours)], edgecolor="white", linewidth=0.5)
            for bar, group in zip(bars, groups):
                mark = comparison.mark(system, group, measure) if group != "mean" else ""
                if mark:
                    ax.annotate("▲" if mark == "+" else "▼", (bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height()),
                                ha="center", va="bottom", fontsize=6, color="#1a7f1a" if mark == "+" else "#c62828")
        ax.set_ylim(bottom, top)
        ax.set_xlim(-0.5, len(groups) - 0.5)
        if groups[-1] == "mean":
            ax.axvline(len(groups) - 1.5, color="0.6", linestyle=":", linewidth=1)
        ax.set_xticks(x, groups)
        ax.set_ylabel(measure)
        ax.grid(axis="y", color="0.9", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncols=min(len(systems), 5), fontsize=8, frameon=False)
    test = comparison.test + (", Holm" if comparison.p_values else "")
    note = "; the y-axis does not start at 0" if truncated else ""
    fig.supxlabel(f"▲▼ significant vs {comparison.baseline} ({test}, α={comparison.alpha}){note}",
                  fontsize=7, color="0.35")
    return fig


def chart_bytes(comparison: Comparison, fmt: str = "png") -> bytes:
    """The chart as bytes of ``fmt`` (png, pdf, svg, ...)."""
    plt = _pyplot()
    fig = figure(comparison)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=fmt)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def chart_format(path: Path) -> str:
    """The savefig format of ``path``'s extension; an :class:`InputError` for one matplotlib lacks."""
    plt = _pyplot()
    supported = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in supported:
        known = ", ".join(f".{f}" for f in sorted(supported))
        raise InputError(f"cannot tell the chart format from the extension {path.suffix or '(none)'!r} (use {known})",
                         str(path))
    return fmt


def write_chart(comparison: Comparison, path: Path) -> None:
    """Write the chart to ``path`` atomically, in the format its extension names."""
    data = chart_bytes(comparison, chart_format(path))
    with atomic_open(path, "wb") as f:
        f.write(data)
