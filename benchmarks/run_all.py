"""Run every rankfw-vs-peer benchmark, each in its own process; print one table; write the results.

    python benchmarks/run_all.py [--quick] [--only bm25 fusion ...] [--merge] [--ray] [--no-write] [--render]

Each ``bench_*.py`` runs in a child process of its own (the pyserini JVM and torch must not share a
process) with ``--json``; its own table and log go to a log file (path printed). The rows are
printed as one table and, for a complete run, written to ``benchmarks/results.json`` and
``benchmarks/README.md`` (regenerated, with the machine it ran on). ``--quick``: small sizes, a
few minutes, to check that everything runs (the numbers are not meaningful). The full run is
sized for about 15-20 minutes on 2 idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass(frozen=True)
class Bench:
    """One benchmark script: its name, file, its arguments for ``--quick`` (the full run uses the
    script's defaults), what its rows compare, whether it runs only when asked for."""

    name: str
    script: str
    quick: list[str]
    compares: str
    optional: bool = False


BENCHES = [
    Bench("bm25", "bench_bm25.py", ["--sizes", "1", "2", "3", "--rounds", "1"],
          "the `bm25` retrieve stage (opens the cached Lucene index, searches in batches, builds a Run) vs "
          "pyserini's `LuceneSearcher.batch_search` on the same index, topics, BM25(0.9, 0.4), k=100 and "
          "2 threads, hits turned into (docid, score) lists on both sides. Size N: the first N XQuAD-R "
          "languages' corpora concatenated (unique docids) and their dev questions, one analyzer (en)."),
    Bench("fusion", "bench_fusion.py", ["--queries", "100", "300", "1000"],
          "rankfw-fusion vs `ranx.fuse` on the same 5 random runs (100 hits per query), summed over six "
          "methods (RRF; CombSUM, CombMNZ, weighted sum with min-max; CombMAX with z-score; CombSUM of "
          "rank scores); outputs checked to agree on a sample of 1,000 queries."),
    Bench("biencoder", "bench_biencoder.py", ["--queries", "2", "4", "8", "--depth", "5", "--rounds", "1"],
          "the `biencoder` rerank stage (embedding cache off) vs sentence-transformers `encode` of the "
          "same distinct prefixed passages and queries plus the dot products; same loaded model "
          "(bundled multilingual-e5-small), batch 32, 2 threads; XQuAD-R de, 10 random candidates per query."),
    Bench("crossencoder", "bench_crossencoder.py", ["--questions", "2", "4", "8", "--depth", "5", "--rounds", "1"],
          "the `crossencoder` rerank stage (fp32) vs sentence-transformers `CrossEncoder.predict` on the "
          "same (query, passage) pairs; model: multilingual-e5-small with a fresh 1-logit head (throughput "
          "does not depend on training), max_length 128, batch 32, 2 threads; XQuAD-R en, 10 candidates "
          "per question; scores checked equal within 1e-3."),
    Bench("core", "bench_core.py", ["--sizes", "200", "500", "1000", "--rounds", "2"],
          "`rankfw.run.evaluate.evaluate` vs `ir_measures.calc_aggregate` (nDCG@10, R@100) on the same "
          "random run (100 hits per query) and qrels, each side in its own process; and `rankfw validate "
          "examples/quickstart.yaml` (plugin loading and spec check, no model, no JVM) vs a bare "
          "`python -c pass` (target < 1 s)."),
    Bench("serve", "bench_serve.py", ["--requests", "16", "--clients", "1", "4", "16"],
          "one query through a trained pipeline with `rankfw.Searcher.search` (BM25 k=100 -> bundled "
          "multilingual-e5-small bi-encoder -> cross-encoder top 10 at int8 -> weighted fusion; XQuAD-R en, the "
          "cross-encoder is e5-small with a fresh 1-logit head: no trained weights ship offline, speed does not "
          "depend on training): p50 / p95 against the sum of the stages' own component calls (ratio - 1 = the "
          "framework's overhead); its BM25 step vs pyserini `LuceneSearcher.search` and its cross-encoder step "
          "(int8) vs sentence-transformers `CrossEncoder.predict` (fp32) on the same 10 pairs; `rankfw serve` "
          "HTTP throughput at 4 and 16 concurrent clients vs 1 client (ratio < 1: more throughput), every "
          "answer checked against the in-process search."),
    Bench("ray", "bench_ray.py", ["--k", "5", "--rounds", "1"],
          "(only with `--ray`) one bi-encoder rerank stage under the Ray executor (2 actors x 1 CPU) vs the "
          "local executor (both rankfw; ratio = Ray / local).", optional=True),
]
NAMES = {"bm25": "BM25 stage", "fusion": "fusion", "biencoder": "bi-encoder rerank",
         "crossencoder": "cross-encoder rerank", "evaluate": "evaluation", "validate cold start": "validate cold start",
         "ray executor": "Ray executor", "core": "evaluation and validate cold start", "ray": "Ray executor",
         "serve": "search and serve", "serve-bm25": "search: BM25 step", "serve-ce": "search: cross-encoder step",
         "serve-p50": "search latency p50", "serve-p95": "search latency p95", "serve-1": "serve, 1 client",
         "serve-4": "serve, 4 clients", "serve-16": "serve, 16 clients"}


def machine() -> dict[str, Any]:
    """The machine and software the run is on: CPU, cores, RAM, versions, date, load."""
    cpu: str | None = None
    flags: set[str] = set()
    ram_gb: float | None = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = (part.strip() for part in line.partition(":"))
            if key == "model name" and cpu is None:
                cpu = value
            elif key == "flags" and not flags:
                flags = set(value.split())
        mem = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        ram_gb = round(int(mem.split()[1]) / 1024**2, 1)
    except (OSError, StopIteration):
        pass

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "cpu": cpu or platform.processor() or platform.machine(), "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "simd": [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f in flags], "ram_gb": ram_gb,
        "os": platform.platform(), "python": platform.python_version(),
        "versions": {d: version(d) for d in ("rankfw", "torch", "transformers", "sentence-transformers", "pyserini",
                                             "ranx", "ir_measures", "numpy")},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_bench(bench: Bench, quick: bool, out: Path, verbose: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run one script in its own process; its rows and a status (ok, seconds, log)."""
    result, log = out / f"{bench.name}.json", out / f"{bench.name}.log"
    cmd = [sys.executable, str(HERE / bench.script), "--json", str(result), *(bench.quick if quick else [])]
    print(f"{bench.name:<13} running ... ", end="", flush=True)
    start, cpu = time.perf_counter(), _children_cpu()
    with log.open("w") as handle:
        if verbose:
            print(flush=True)
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for line in proc.stdout or []:
                handle.write(line)
                print(f"  | {line}", end="", flush=True)
            code = proc.wait()
        else:
            code = subprocess.run(cmd, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, check=False).returncode
    seconds = time.perf_counter() - start
    status = {"ok": code == 0 and result.exists(), "exit_code": code, "seconds": round(seconds, 1),
              "cpu_s": round(_children_cpu() - cpu, 1), "log": str(log)}
    print(f"{'ok' if status['ok'] else 'FAILED (exit ' + str(code) + ')'} in {seconds:.0f} s, "
          f"{status['cpu_s']:.0f} s CPU (log: {log})")
    if not status["ok"]:
        print("".join(f"    {line}\n" for line in log.read_text(errors="replace").splitlines()[-15:]), end="")
        return [], status
    return json.loads(result.read_text()), status


def fmt_s(value: float | None) -> str:
    """Seconds with a precision that suits their size."""
    if value is None:
        return "–"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"


def table(rows: list[dict[str, Any]]) -> list[list[str]]:
    """The header and one line per row, as cells."""
    lines = [["component", "peer", "size", "rankfw s", "peer s", "rankfw/peer", "rankfw MB", "peer MB", "check"]]
    for r in rows:
        check = r.get("note") or {True: "same output", False: "DIFFERENT", None: ""}[r.get("same")]
        mb = [f"{r[k]:.0f}" if r.get(k) is not None else "–" for k in ("rankfw_peak_mb", "peer_peak_mb")]
        lines.append([NAMES.get(r["component"], r["component"]), r["peer"], r["label"], fmt_s(r["rankfw_s"]),
                      fmt_s(r["peer_s"]), f"{r['ratio']:.2f}x" if r.get("ratio") is not None else "–", *mb, check])
    return lines


def scaling(rows: list[dict[str, Any]]) -> list[str]:
    """Per component: how each side's time grows from its smallest size to its largest."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["component"], []).append(r)
    lines = []
    for component, group in groups.items():
        if len(group) >= 2 and group[0]["rankfw_s"] and group[0]["peer_s"]:
            first, last = group[0], group[-1]
            lines.append(f"{NAMES.get(component, component)}: {first['label']} -> {last['label']}: rankfw time "
                         f"x{last['rankfw_s'] / first['rankfw_s']:.1f}, {first['peer']} time x{last['peer_s'] / first['peer_s']:.1f}")
    return lines


def text_table(lines: list[list[str]]) -> str:
    """Aligned plain text (numbers right-aligned)."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    right = {3, 4, 5, 6, 7}
    return "\n".join(
        "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
        .rstrip() for line in lines)


def markdown_table(lines: list[list[str]]) -> str:
    """A GitHub markdown table."""
    head, *body = lines
    align = ["---:" if i in {3, 4, 5, 6, 7} else "---" for i in range(len(head))]
    return "\n".join("| " + " | ".join(line) + " |" for line in [head, align, *body])


def readme(lines: list[list[str]], grows: list[str], info: dict[str, Any], quick: bool, benches: list[Bench],
           total_s: float) -> str:
    """benchmarks/README.md: what each row compares, how to run, the table, the machine."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    compares = "\n".join(f"- **{NAMES.get(b.name, b.name)}** (`{b.script}`): {b.compares}" for b in benches)
    mode = ("**`--quick` run: small sizes, the numbers only show that everything runs; run the full benchmark for "
            "real numbers.**\n\n" if quick else "")
    return f"""# Benchmarks: rankfw against what a user would otherwise call

<!-- Written by benchmarks/run_all.py: edit the text there, not here. -->

Each row times a rankfw component and its peer in the same run, on the same inputs, and gives
**rankfw/peer = rankfw time / peer time: below 1.00x rankfw is faster, above 1.00x it is slower.**
Peak memory is the peak resident set (MB) of a process running only that side once at the
largest size (model load included), so the two sides never share a peak; `–` where not measured
(evaluation is timed with each side in its own process, so it has a peak at every size).
Each component is timed at three sizes to show how time grows with the corpus and the number of
queries. `check`: whether both sides produced the same output.

{compares}

## How to run

```bash
. .venv/bin/activate
python benchmarks/run_all.py          # full run, about 15-20 minutes on 2 idle cores
python benchmarks/run_all.py --quick  # small sizes, a few minutes: checks that everything runs
```

Every script runs in its own process (the pyserini JVM and torch must not share one) and also runs
alone, e.g. `python benchmarks/bench_bm25.py --help`; `--json PATH` writes its rows. `run_all.py`
prints one table and writes `benchmarks/results.json` (rows, machine, per-script logs) and this
file. `--only NAME...` runs some of them (nothing is written; with `--merge` their rows replace those
scripts' rows in `results.json` and this file, the run noted below); `--ray` adds `bench_ray.py`;
`--render` rewrites this file from `results.json` without running anything.

## Results

{mode}{markdown_table(lines)}

How time grows with size (largest size's time / smallest size's time):

{chr(10).join("- " + line for line in grows)}

Machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), {info['ram_gb']} GB RAM,
SIMD {', '.join(info['simd']) or 'unknown'}; {info['os']}; Python {info['python']}; {versions}.
Run on {info['date']} (load average at start {info['load_average_at_start']}), {total_s / 60:.1f} minutes in all.
"""


def merge(rows: list[dict[str, Any]], statuses: dict[str, Any], only: list[str], info: dict[str, Any], total: float) -> None:
    """Put ``rows`` of the scripts ``only`` into results.json (replacing theirs) and rewrite README.md."""
    record = json.loads((HERE / "results.json").read_text())
    mine = {r["component"] for r in rows}
    record["rows"] = [r for r in record["rows"] if r["component"] not in mine and
                      not any(r["component"].startswith(b + "-") for b in only)] + rows
    record["benchmarks"].update(statuses)
    record["merged"] = [m for m in record.get("merged", []) if m["only"] != only] + [
        {"only": only, "machine": info, "total_s": round(total, 1)}]
    (HERE / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    ran = [b for b in BENCHES if b.name in record["benchmarks"]]
    text = readme(table(record["rows"]), scaling(record["rows"]), record["machine"], record["mode"] == "quick", ran,
                  record["total_s"])
    (HERE / "README.md").write_text(text + merged_note(record))
    print(f"merged {len(rows)} rows into {HERE / 'results.json'} and {HERE / 'README.md'}")


def merged_note(record: dict[str, Any]) -> str:
    """A line per ``--merge`` run: which rows it replaced, when, at what load."""
    lines = [f"Rows of {', '.join(m['only'])} re-run with `--only ... --merge` on {m['machine']['date']} (load average "
             f"at start {m['machine']['load_average_at_start']}), {m['total_s'] / 60:.1f} minutes."
             for m in record.get("merged", [])]
    return "".join(f"{line}\n" for line in lines)


def main() -> None:
    """Run the benchmarks and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes; numbers not meaningful)")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHES], help="run only these (writes nothing)")
    parser.add_argument("--ray", action="store_true", help="also run bench_ray.py (Ray vs local executor)")
    parser.add_argument("--no-write", action="store_true", help="do not write results.json and README.md")
    parser.add_argument("--verbose", action="store_true", help="also stream each script's own output")
    parser.add_argument("--render", action="store_true", help="only rewrite README.md from results.json")
    parser.add_argument("--merge", action="store_true",
                        help="with --only: put the new rows into results.json (replacing those scripts' rows) and README.md")
    args = parser.parse_args()
    if args.render:
        record = json.loads((HERE / "results.json").read_text())
        ran = [b for b in BENCHES if b.name in record["benchmarks"]]
        rows = record["rows"]
        (HERE / "README.md").write_text(readme(table(rows), scaling(rows), record["machine"], record["mode"] == "quick",
                                               ran, record["total_s"]) + merged_note(record))
        print(text_table(table(rows)))
        return
    benches = [b for b in BENCHES if (b.name in args.only if args.only else not b.optional or args.ray)]
    info = machine()
    out = Path(tempfile.mkdtemp(prefix="rankfw-bench-"))
    print(f"{'quick' if args.quick else 'full'} run on {info['cpu']}, {info['cores']} cores, {info['ram_gb']} GB; "
          f"logs in {out}")
    load = info["load_average_at_start"]
    if load and load[0] > 0.5 * (info["usable_cores"] or 1):
        print(f"note: the machine is busy (load average {load[0]}): the timings will be noisy")
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    statuses: dict[str, Any] = {}
    for bench in benches:
        got, statuses[bench.name] = run_bench(bench, args.quick, out, args.verbose)
        rows += got
    total = time.perf_counter() - started
    lines, grows = table(rows), scaling(rows)
    print(f"\n{text_table(lines)}\n\nrankfw/peer = rankfw time / peer time: below 1.00x rankfw is faster. "
          f"MB: peak RSS of each side in its own process. {total / 60:.1f} minutes.\nScaling (largest size's time / "
          "smallest's):\n" + "\n".join("  " + line for line in grows))
    failed = [name for name, s in statuses.items() if not s["ok"]]
    if args.merge and args.only and not args.no_write and not failed:
        merge(rows, statuses, args.only, info, total)
    elif args.only or args.no_write:
        print("(results.json and README.md not written: " + ("--only" if args.only else "--no-write") + ")")
    else:
        record = {"mode": "quick" if args.quick else "full", "command": " ".join(["python", *sys.argv]),
                  "machine": info, "total_s": round(total, 1), "benchmarks": statuses, "rows": rows}
        (HERE / "results.json").write_text(json.dumps(record, indent=2) + "\n")
        (HERE / "README.md").write_text(readme(lines, grows, info, args.quick, benches, total))
        print(f"wrote {HERE / 'results.json'} and {HERE / 'README.md'}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (see the logs above)")


if __name__ == "__main__":
    main()
