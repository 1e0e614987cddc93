"""Hostile spec YAML: alias bombs and deep nesting are refused in one line (exit 2) within a small
memory limit; YAML 1.1 merge keys work; syntax errors name the file and line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rankfw.core import InputError
from rankfw.core.registry import Registry
from rankfw.spec import parse_override, parse_spec

HEAD = """dataset: {languages: [en], corpus: c.jsonl, topics: t.tsv}
stages:
  a: {kind: retrieve, component: overlap}
"""


def _laughs(levels: int = 9) -> str:
    text = 'x0: &x0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels + 1):
        text += f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 10) + "]\n"
    return text


BOMBS = {
    "aliases under a free key": "metrics: [nDCG@10]\nlaughs:\n" + "".join("  " + line + "\n" for line in _laughs().splitlines()),
    "aliases under params": HEAD.replace("component: overlap}", "component: overlap, params: {k: 10, junk: *x9}}").replace(
        "stages:", _laughs() + "stages:"),
    "deep flow nesting": "metrics: " + "[" * 3000 + "]" * 3000 + "\n",
    "deep block nesting": "".join("  " * i + f"k{i}:\n" for i in range(400)) + "  " * 400 + "v: 1\n",
    "self-referencing alias": "metrics: &m [*m]\n",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_hostile_yaml_is_one_line_exit_2_under_a_memory_limit(name: str, tmp_path: Path) -> None:
    spec = tmp_path / "bomb.yaml"
    spec.write_text(BOMBS[name], encoding="utf-8")
    assert len(spec.read_bytes()) < 3000 if "nesting" not in name else True
    limit = 1 << 30  # 1 GiB of data segment: the old loader walked ~10^9 alias paths
    code = (f"import resource, sys; resource.setrlimit(resource.RLIMIT_DATA, ({limit}, {limit})); "
            f"from rankfw.cli import main; sys.argv = ['rankfw', 'validate', {str(spec)!r}]; main()")
    env = {**os.environ, "RANKFW_LOAD_PLUGINS": "rankfw-testplugin"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "bomb.yaml:" in lines[0]
    assert any(w in lines[0] for w in ("nodes", "deeper", "refers to"))


def test_alias_bomb_in_a_set_override_is_refused(registry: Registry) -> None:
    bomb = "[" + ",".join(["[" + ",".join(["[" + ",".join(["lol"] * 10) + "]"] * 10) + "]"] * 10) + "]"
    assert parse_override("metrics=" + bomb)[1][0][0][0] == "lol"  # plain nesting is fine
    with pytest.raises(InputError, match="deeper than"):
        parse_override("x=" + "[" * 500 + "]" * 500)


def test_merge_keys_reuse_a_stage(registry: Registry) -> None:
    text = """dataset: {languages: [en], corpus: c.jsonl, topics: t.tsv}
base: &base {kind: retrieve, component: overlap, params: {k: 7}}
stages:
  a: {<<: *base}
  b:
    <<: *base
    params: {k: 3, seconds_per_query: 0.5}
"""
    text = text.replace("base: &base", "x-base: &base")
    with pytest.raises(InputError, match="x-base"):  # unknown top-level key, located
        parse_spec(text, registry, source="m.yaml")
    text = text.replace("x-base: &base {kind: retrieve, component: overlap, params: {k: 7}}\n", "")
    text = text.replace("  a: {<<: *base}", "  a: &base {kind: retrieve, component: overlap, params: {k: 7}}")
    pipeline = parse_spec(text, registry, source="m.yaml")
    assert pipeline.stages["a"].config.k == 7
    assert pipeline.stages["b"].config.k == 3 and pipeline.stages["b"].config.seconds_per_query == 0.5
    assert pipeline.stages["b"].component.name == "overlap"
    # an error inside a merged stage still names a line
    bad = text.replace("params: {k: 3, seconds_per_query: 0.5}", "params: {k: -1}")
    with pytest.raises(InputError, match=r"stages\.b\.params\.k: .*\(m\.yaml:6\)"):
        parse_spec(bad, registry, source="m.yaml")
    dup = text.replace("    params: {k: 3, seconds_per_query: 0.5}", "    params: {k: 3}\n    params: {k: 4}")
    with pytest.raises(InputError, match="duplicate key 'params'"):
        parse_spec(dup, registry, source="m.yaml")


@pytest.mark.parametrize(("text", "line"), [
    ("metrics: [nDCG@10]\nname: x\n\x07bad: 1\n", 3),
    ("metrics: [nDCG@10]\nname: 'unterminated\n", 3),
    ("metrics: [nDCG@10]\nname: @x\n", 2),
    ("metrics: [nDCG@10]\nname:\n\tb: 2\n", 3),
    ("metrics: [nDCG@10]\nname: *nope\n", 2),
])
def test_yaml_syntax_errors_name_the_line(text: str, line: int, registry: Registry) -> None:
    with pytest.raises(InputError, match=rf"invalid YAML: .*\(s\.yaml:{line}\)$"):
        parse_spec(text, registry, source="s.yaml")
