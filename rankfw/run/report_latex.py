"""A comparison as LaTeX for a paper: one booktabs table per measure (best value per column in
bold, significance marks explained in the caption) under a comment block with the provenance."""

from __future__ import annotations

import json
import re

from rankfw.run.compare import Comparison

_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
WIN, LOSS = r"$^{\uparrow}$", r"$^{\downarrow}$"
r"""The marks of a significant win and loss; in a column with marks, the values without one get a
``\phantom`` of the same width, so the numbers stay aligned."""
WIDE = 6
"""More columns than this (languages and the mean) make a ``table*`` (both columns of a paper)."""


def escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_SPECIAL.get(c, c) for c in text)


def comment(text: str) -> str:
    """``text`` as LaTeX comment lines (one ``%`` line per line of text)."""
    return "\n".join(f"% {line}".rstrip() for line in text.splitlines() or [""])


def provenance_comment(comparison: Comparison) -> str:
    """The provenance of a comparison (date, versions, specs, each system's component) as comments."""
    p = comparison.provenance
    lines = [
        f"rankfw compare, {p.get('date', '')}: rankfw {p.get('rankfw', '?')}, ir_measures {p.get('ir_measures', '?')}",
        r"needs \usepackage{booktabs}",
        f"measures: {', '.join(comparison.measures)}; baseline: {comparison.baseline}; {comparison.legend()}",
    ]
    for path, spec in p.get("specs", {}).items():
        lines.append(f"spec {spec.get('name', '')!r}: {path}")
    for name, s in p.get("systems", {}).items():
        if "component" in s:
            params = json.dumps(s.get("config", {}), sort_keys=True, ensure_ascii=False)
            lines.append(f"system {name}: stage {s.get('stage')} = {s.get('kind', '')} {s['component']} "
                         f"({s.get('distribution', '?')} {s.get('version', '?')}), finished {s.get('finished', '?')}, "
                         f"params {params}")
        else:
            lines.append(f"system {name}: run files {', '.join(s.get('runs', {}).values())}")
    return comment("\n".join(lines))


def latex_table(comparison: Comparison, measure: str, digits: int = 3) -> str:
    """One booktabs ``table`` of ``measure``: a row per system (baseline first), a column per
    language and the mean; the best value of each column in bold; arrows mark significant
    wins and losses against the baseline, as the caption says."""
    groups = comparison.groups
    header = ["System", *(escape(g) for g in comparison.languages), "Mean"]
    test = f"paired {comparison.test} test" + (f", {comparison.resamples} permutations" if comparison.resamples else "")
    caption = (
        f"{escape(measure)} per language and the mean over the languages. Best value per column in bold. "
        f"{WIN}/{LOSS}: significantly better/worse than {escape(comparison.baseline)} ({escape(test)}; "
        rf"Holm-Bonferroni correction across languages and systems; $p < {comparison.alpha}$)."
    )
    wide = len(groups) > WIDE  # spans both columns of a two-column paper, with narrower gaps
    env = "table*" if wide else "table"
    lines = [
        rf"\begin{{{env}}}[t]", r"\centering", r"\small", *([r"\setlength{\tabcolsep}{4pt}"] if wide else []),
        rf"\caption{{{caption}}}",
        rf"\label{{tab:rankfw-{label(measure)}}}",
        r"\begin{tabular}{l" + "r" * len(groups) + "}", r"\toprule",
        " & ".join(header) + r" \\", r"\midrule",
    ]
    marks = {(s, g): comparison.mark(s, g, measure) if g != "mean" else "" for s in comparison.systems for g in groups}
    marked = {g for (_, g), m in marks.items() if m}
    for system in comparison.systems:
        cells = [escape(system)]
        for g in groups:
            text = f"{comparison.values[system][g][measure]:.{digits}f}"
            if len(comparison.systems) > 1 and system in comparison.best(g, measure, digits):
                text = rf"\textbf{{{text}}}"
            blank = rf"\phantom{{{WIN}}}" if g in marked else ""
            cells.append(text + {"+": WIN, "-": LOSS}.get(marks[system, g], blank))
        lines.append(" & ".join(cells) + r" \\")
        if system == comparison.baseline and len(comparison.systems) > 1:
            lines.append(r"\midrule")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\end{{{env}}}"]
    return "\n".join(lines)


def label(text: str) -> str:
    """A ``\\label`` key made of ``text``: lower-case letters, digits and hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "measure"


def latex(comparison: Comparison, digits: int = 3) -> str:
    """The provenance comment, then one table per measure."""
    tables = [latex_table(comparison, m, digits) for m in comparison.measures]
    return provenance_comment(comparison) + "\n\n" + "\n\n".join(tables) + "\n"
