"""rankfw compare for papers: spec order, baseline first, --systems, LABEL=PATH, charts by
extension, fitted axes, deltas and p-values, provenance, LaTeX that parses (and compiles)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import rankfw_testplugin
from click.testing import CliRunner

from rankfw.cli import main
from rankfw.core.registry import load_registry
from rankfw.run.compare import compare
from rankfw.run.report_chart import figure
from rankfw.run.report_latex import latex
from rankfw.run.runner import Runner
from rankfw.run.systems import qrels_from_output, systems_from_paths
from rankfw.spec import load_spec

FAST = ["--resamples", "1000"]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, xquad_root: Path) -> Path:
    """An output folder of four run stages whose spec order (first, re, fused, narrow) is not
    alphabetical, plus a train stage."""
    root = tmp_path_factory.mktemp("compare")
    spec = root / "s.yaml"
    spec.write_text(f"""name: paper
output: {root / "out"}
dataset:
  root: {xquad_root}
  languages: [en, de]
  corpus: "{{root}}/{{lang}}/corpus.jsonl"
  topics: "{{root}}/{{lang}}/topics.dev.tsv"
  qrels: "{{root}}/{{lang}}/qrels.dev.txt"
  train: "{{root}}/{{lang}}/train.jsonl.gz"
stages:
  first: {{kind: retrieve, component: overlap, params: {{k: 50}}}}
  idf: {{kind: train, component: idf}}
  re: {{kind: rerank, component: idf-overlap, inputs: [first], params: {{model: "stage:idf", k: 20}}}}
  fused: {{kind: fuse, component: sum, inputs: [first, re]}}
  narrow: {{kind: rerank, component: idf-overlap, inputs: [first], params: {{model: "stage:idf", k: 3}}}}
""", encoding="utf-8")
    registry = load_registry(extra_plugins=[("testplugin", rankfw_testplugin)], use_entry_points=False)
    Runner(load_spec(spec, registry), cache_dir=root / "cache").run()
    return root / "out"


@pytest.fixture(scope="module")
def xquad_root() -> Path:
    from rankfw.testing import xquad_data

    return xquad_data()


def _json(*args: str) -> dict:
    result = CliRunner().invoke(main, ["compare", *args, *FAST, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_spec_order_baseline_first_and_systems_option(out: Path) -> None:
    assert list(_json(str(out), "-m", "nDCG@10")["values"]) == ["first", "re", "fused", "narrow"]
    data = _json(str(out), "-m", "nDCG@10", "--baseline", "fused")
    assert list(data["values"]) == ["fused", "first", "re", "narrow"] and data["baseline"] == "fused"
    picked = _json(str(out), "-m", "nDCG@10", "--systems", "narrow,first")
    assert list(picked["values"]) == ["narrow", "first"] and picked["baseline"] == "narrow"
    assert picked["languages"] == ["en", "de"]  # the spec's order
    bad = CliRunner().invoke(main, ["compare", str(out), "--systems", "first,nope"])
    assert bad.exit_code == 2 and "unknown system 'nope'" in bad.stderr and "first, re, fused, narrow" in bad.stderr


def test_stage_run_files_are_named_by_stage_and_labels_override(out: Path, tmp_path: Path, xquad_root: Path) -> None:
    stages = out / "stages"
    # two stages' en.run (and de.run): named by their stage, one language each, qrels from the spec
    data = _json(*(str(stages / s / f"{lang}.run") for s in ("first", "re") for lang in ("en", "de")), "-m", "nDCG@10")
    assert list(data["values"]) == ["first", "re"] and data["languages"] == ["en", "de"]
    whole = _json(str(out), "-m", "nDCG@10", "--systems", "first,re")
    assert data["values"] == whole["values"]
    labelled = _json(f"BM={stages / 'first' / 'en.run'}", f"IDF={stages / 're' / 'en.run'}", "-m", "nDCG@10")
    assert list(labelled["values"]) == ["BM", "IDF"]
    assert labelled["values"]["IDF"]["en"] == whole["values"]["re"]["en"]
    # plain files with one stem in two folders: named by folder; the same label twice is an error
    for folder, stage in (("a", "first"), ("b", "re")):
        (tmp_path / folder).mkdir()
        shutil.copy(stages / stage / "en.run", tmp_path / folder / "en.run")
    qrels = ["--qrels", str(xquad_root / "en" / "qrels.dev.txt")]
    plain = _json(str(tmp_path / "a" / "en.run"), str(tmp_path / "b" / "en.run"), *qrels, "-m", "nDCG@10")
    assert list(plain["values"]) == ["a/en", "b/en"]
    assert plain["values"]["b/en"]["all"] == whole["values"]["re"]["en"]
    clash = CliRunner().invoke(main, ["compare", f"x={tmp_path / 'a' / 'en.run'}", f"x={tmp_path / 'b' / 'en.run'}", *qrels])
    assert clash.exit_code == 2 and "two systems share a name" in clash.stderr and "LABEL=PATH" in clash.stderr


def test_charts_follow_the_extension(out: Path, tmp_path: Path) -> None:
    png, pdf, svg, odd = tmp_path / "c.png", tmp_path / "c.pdf", tmp_path / "c.svg", tmp_path / "as-pdf.pdf"
    result = CliRunner().invoke(main, ["compare", str(out), *FAST, "--png", str(png), "--pdf", str(pdf),
                                       "--svg", str(svg), "--png", str(odd)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-" and odd.read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in svg.read_bytes()[:2000]
    bad = CliRunner().invoke(main, ["compare", str(out), "--png", str(tmp_path / "chart")])
    assert bad.exit_code == 2 and "extension" in bad.stderr and not (tmp_path / "chart").exists()


def _comparison(out: Path, measures: list[str]):  # type: ignore[no-untyped-def]
    systems = systems_from_paths([out])
    return compare(systems, qrels_from_output(out, ["en", "de"]), measures, resamples=1000)


def test_chart_has_a_panel_per_measure_fitted_axes_and_the_legend_outside(out: Path) -> None:
    comparison = _comparison(out, ["nDCG@10", "R@100", "RR@10"])
    fig = figure(comparison)
    fig.canvas.draw()
    axes = fig.axes
    assert [ax.get_ylabel() for ax in axes] == ["nDCG@10", "R@100", "RR@10"]
    for ax, measure in zip(axes, comparison.measures):
        values = [comparison.values[s][g][measure] for s in comparison.systems for g in comparison.groups]
        bottom, top = ax.get_ylim()
        assert 0 < bottom < min(values) and max(values) < top <= 1.05  # fitted, not 0..1
        assert (top - bottom) < 2.5 * (max(values) - min(values)) + 0.05
        assert len(ax.patches) == len(comparison.systems) * len(comparison.groups)
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == comparison.systems
    box = legend.get_window_extent()
    assert not any(box.overlaps(ax.get_window_extent()) for ax in axes)


def test_markdown_and_html_have_deltas_p_values_and_provenance(out: Path, tmp_path: Path) -> None:
    data = _json(str(out), "-m", "nDCG@10", "--baseline", "first")
    md = CliRunner().invoke(main, ["compare", str(out), *FAST, "-m", "nDCG@10", "--baseline", "first", "--markdown"]).stdout
    delta_rows = md.split("Δ vs first")[1].splitlines()
    re_row = next(r for r in delta_rows if r.startswith("| re |")).strip("| ").split(" | ")
    delta, p = re.fullmatch(r"([+-]\d\.\d{4}) \(p=([\d.e-]+)\)", re_row[1]).groups()  # type: ignore[union-attr]
    assert float(delta) == pytest.approx(data["deltas"]["re"]["en"]["nDCG@10"], abs=1e-4)
    assert float(p) == pytest.approx(data["p_values"]["re"]["en"]["nDCG@10"], rel=1e-2)
    assert float(re_row[-1]) == pytest.approx(data["deltas"]["re"]["mean"]["nDCG@10"], abs=1e-4)
    page = tmp_path / "r.html"
    assert CliRunner().invoke(main, ["compare", str(out), *FAST, "-m", "nDCG@10", "--baseline", "first",
                                     "--html", str(page)]).exit_code == 0
    text = page.read_text()
    assert f"{data['deltas']['re']['en']['nDCG@10']:+.4f}, p=" in text
    assert "rerank idf-overlap" in text
    prov = data["provenance"]
    assert prov["systems"]["re"]["component"] == "idf-overlap" and prov["systems"]["re"]["config"]["k"] == 20
    assert prov["specs"][str(out / "spec.yaml")]["name"] == "paper" and re.match(r"\d{4}-\d\d-\d\d", prov["date"])
    assert "summary>spec paper" in text and f"{prov['systems']['re']['distribution']}" in text and f"Made {prov['date'][:10]}" in text


# --- LaTeX ------------------------------------------------------------------------------------


def check_latex(text: str) -> list[list[str]]:
    """Parse ``text`` as far as a table needs: comments, balanced braces, matched environments,
    no unescaped special character, every tabular row with as many cells as its column spec.
    Returns the rows (cells) of every tabular."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
    plain = re.sub(r"\\[\\{}&%$#_]", "", body)
    depth = 0
    for c in plain:
        depth += {"{": 1, "}": -1}.get(c, 0)
        assert depth >= 0, "a } closes nothing"
    assert depth == 0, "unbalanced braces"
    assert not re.search(r"[#%_]", plain), "an unescaped special character"
    stack: list[str] = []
    for kind, env in re.findall(r"\\(begin|end)\{([^}]*)\}", body):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, f"\\end{{{env}}} does not match"
    assert not stack, f"unclosed {stack}"
    assert plain.count("$") % 2 == 0, "unbalanced math"
    rows: list[list[str]] = []
    for spec, inner in re.findall(r"\\begin\{tabular\}\{([^}]*)\}(.*?)\\end\{tabular\}", body, re.DOTALL):
        columns = len(re.sub(r"[^lrc]", "", spec))
        assert "\\toprule" in inner and "\\bottomrule" in inner and "\\midrule" in inner
        for line in inner.split("\\\\"):
            line = re.sub(r"\\(top|mid|bottom)rule", "", line).strip()
            if line:
                cells = [c.strip() for c in re.split(r"(?<!\\)&", line)]
                assert len(cells) == columns, f"{len(cells)} cells for {columns} columns: {line}"
                rows.append(cells)
    return rows


def test_latex_parses_bolds_the_best_and_explains_the_marks(out: Path) -> None:
    source = f"my_run&co={out}"  # a label with LaTeX's special characters
    result = CliRunner().invoke(main, ["compare", source, *FAST, "-m", "nDCG@10", "-m", "R@100", "--latex"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    rows = check_latex(text)
    assert text.count("\\begin{table}") == 2 and "\\usepackage{booktabs}" in text
    assert re.search(r"^% system my_run&co/re: stage re = rerank idf-overlap \(\S+ [\d.]+\)", text, re.MULTILINE)
    data = _json(source, "-m", "nDCG@10", "-m", "R@100")
    header, *body = rows[:5]
    names = ["first", "re", "fused", "narrow"]
    assert header == ["System", "en", "de", "Mean"] and [r[0] for r in body] == [f"my\\_run\\&co/{n}" for n in names]
    for col, group in enumerate(["en", "de", "mean"], start=1):
        best = max(round(v[group]["nDCG@10"], 3) for v in data["values"].values())
        for row in body:
            value = float(re.search(r"\d\.\d{3}", row[col]).group())  # type: ignore[union-attr]
            assert ("\\textbf" in row[col]) == (value == best)
            system = f"my_run&co/{names[body.index(row)]}"
            mark = data["significant"].get(system, {}).get(group, {}).get("nDCG@10", "")
            shown = row[col].replace("\\phantom{$^{\\uparrow}$}", "")
            assert ("uparrow" in shown) == (mark == "+") and ("downarrow" in shown) == (mark == "-")
    assert any("uparrow" in c for r in body for c in r)  # the test stages do differ
    assert "significantly better/worse than my\\_run\\&co/first" in text and "Holm-Bonferroni" in text


def test_latex_escapes_names() -> None:
    from rankfw.run.compare import Comparison

    values = {"bm_25": {"en": {"nDCG@10": 0.5}, "mean": {"nDCG@10": 0.5}},
              "a&b#1%": {"en": {"nDCG@10": 0.6}, "mean": {"nDCG@10": 0.6}}}
    comparison = Comparison(["nDCG@10"], ["en"], "bm_25", "t-test", 0.05, values, {"a&b#1%": {"en": {"nDCG@10": 0.01}}})
    rows = check_latex(latex(comparison))
    assert [r[0] for r in rows[1:]] == ["bm\\_25", "a\\&b\\#1\\%"]
    assert rows[2][1] == "\\textbf{0.600}$^{\\uparrow}$" and rows[1][1] == "0.500\\phantom{$^{\\uparrow}$}"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles_with_pdflatex(out: Path, tmp_path: Path) -> None:
    text = CliRunner().invoke(main, ["compare", str(out), *FAST, "-m", "nDCG@10", "-m", "R@100", "--latex"]).stdout
    (tmp_path / "tables.tex").write_text(text, encoding="utf-8")
    (tmp_path / "doc.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                                      "\\input{tables.tex}\n\\end{document}\n", encoding="utf-8")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "doc.pdf").read_bytes()[:5] == b"%PDF-"
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert "Undefined control sequence" not in log and "Missing" not in log
