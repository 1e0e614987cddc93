"""Run every rankfw-vs-peer benchmark, each in its own process; print one table; write the results.

    python benchmarks/run_all.py [--quick] [--only bm25 fusion ...] [--ray] [--dense-scale] [--no-write] [--render]
        [--peer-python /work/venv-peer-onnx/bin/python /work/venv-peer/bin/python]
    python benchmarks/run_all.py --add-rows dense_scale ROWS.json   # merge one script's --json rows, re-render

Each ``bench_*.py`` runs in a child process of its own (the pyserini JVM and torch must not share a
process) with ``--json``; its own table and log go to a log file (path printed). The rows are
printed as one table and, for a complete run, written to ``benchmarks/results.json`` and
``benchmarks/README.md`` (regenerated, with the machine it ran on). ``--quick``: small sizes, a
few minutes, to check that everything runs (the numbers are not meaningful). The full run is
sized for about 15-20 minutes on 2 idle cores. ``--peer-python`` (or ``$RANKFW_PEER_PYTHON``):
the interpreters of the peer environments where sentence-transformers' ONNX / OpenVINO backends
run (README "How to run"); without them those peer rows are left out.
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
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from benches import BENCHES, DENSE, NAMES, PEER_SETUP, Bench, merged_machines


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
        "versions": {d: version(d) for d in ("rankfw", "torch", "transformers", "sentence-transformers",
                                             "onnxruntime", "pyserini", "ranx", "ir_measures", "numpy")},
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
           total_s: float, dense: str = "") -> str:
    """benchmarks/README.md: what each row compares, how to run, the table, the machine (and the dense section)."""
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

{PEER_SETUP}
Every script runs in its own process (the pyserini JVM and torch must not share one) and also runs
alone, e.g. `python benchmarks/bench_bm25.py --help`; `--json PATH` writes its rows. `run_all.py`
prints one table and writes `benchmarks/results.json` (rows, machine, per-script logs) and this
file. `--only NAME...` runs some of them (nothing is written); `--ray` adds `bench_ray.py`, `--dense-scale`
adds `bench_dense_scale.py` (`--add-rows dense_scale ROWS.json` merges its standalone `--json` rows),
`--bm25-scale` adds `bench_bm25_scale.py` (`--add-rows bm25_scale ROWS.json` likewise);
`--render` rewrites this file from `results.json` without running anything.

## Results

{mode}{markdown_table(lines)}

How time grows with size (largest size's time / smallest size's time):

{chr(10).join("- " + line for line in grows)}

Machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), {info['ram_gb']} GB RAM,
SIMD {', '.join(info['simd']) or 'unknown'}; {info['os']}; Python {info['python']}; {versions}.
Run on {info['date']} (load average at start {info['load_average_at_start']}), {total_s / 60:.1f} minutes in all.
{chr(10) + dense if dense else ""}"""


def dense_section(rows: list[dict[str, Any]]) -> str:
    """The dense-scale README section of ``rows`` ("" without dense rows)."""
    if not any(r["component"] in DENSE for r in rows):
        return ""
    from bench_bm25_scale import readme_section as bm25_scale
    from bench_dense_scale import readme_section

    return "\n\n".join(part.rstrip("\n") for part in (readme_section(rows), bm25_scale(rows)) if part) + "\n"


def render(record: dict[str, Any]) -> None:
    """Rewrite README.md from a results record."""
    ran = [b for b in BENCHES if b.name in record["benchmarks"]]
    rows = record["rows"]
    main_rows = [r for r in rows if r["component"] not in DENSE]
    (HERE / "README.md").write_text(readme(table(main_rows), scaling(main_rows), record["machine"],
                                           record["mode"] == "quick", ran, record["total_s"],
                                           "\n\n".join(p for p in (merged_machines(record), dense_section(rows)) if p)))
    print(text_table(table(main_rows)))


def main() -> None:
    """Run the benchmarks and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes; numbers not meaningful)")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHES], help="run only these (writes nothing)")
    parser.add_argument("--ray", action="store_true", help="also run bench_ray.py (Ray vs local executor)")
    parser.add_argument("--dense-scale", action="store_true", help="also run bench_dense_scale.py (~15 min)")
    parser.add_argument("--bm25-scale", action="store_true", help="also run bench_bm25_scale.py (~30 min)")
    parser.add_argument("--add-rows", nargs=2, metavar=("NAME", "JSON"),
                        help="merge a script's --json rows into results.json (replacing its old rows), re-render")
    parser.add_argument("--no-write", action="store_true", help="do not write results.json and README.md")
    parser.add_argument("--verbose", action="store_true", help="also stream each script's own output")
    parser.add_argument("--render", action="store_true", help="only rewrite README.md from results.json")
    parser.add_argument("--peer-python", nargs="+", metavar="PATH",
                        help="peer interpreters for sentence-transformers' onnx/openvino backends "
                             "(sets $RANKFW_PEER_PYTHON for the model benchmarks)")
    args = parser.parse_args()
    if args.peer_python:
        os.environ["RANKFW_PEER_PYTHON"] = os.pathsep.join(args.peer_python)
    if args.render or args.add_rows:
        record = json.loads((HERE / "results.json").read_text())
        if args.add_rows:
            name, path = args.add_rows
            new = json.loads(Path(path).read_text())
            components = {r["component"] for r in new}
            record["rows"] = [r for r in record["rows"] if r["component"] not in components] + new
            record["benchmarks"][name] = {"ok": True, "added_from": path, "machine": machine()}
            (HERE / "results.json").write_text(json.dumps(record, indent=2) + "\n")
        render(record)
        return
    optional = {"ray": args.ray, "dense_scale": args.dense_scale, "bm25_scale": args.bm25_scale}
    benches = [b for b in BENCHES if (b.name in args.only if args.only else not b.optional or optional[b.name])]
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
    main_rows = [r for r in rows if r["component"] not in DENSE]
    lines, grows = table(main_rows), scaling(main_rows)
    print(f"\n{text_table(lines)}\n\nrankfw/peer = rankfw time / peer time: below 1.00x rankfw is faster. "
          f"MB: peak RSS of each side in its own process. {total / 60:.1f} minutes.\nScaling (largest size's time / "
          "smallest's):\n" + "\n".join("  " + line for line in grows))
    failed = [name for name, s in statuses.items() if not s["ok"]]
    if args.only or args.no_write:
        print("(results.json and README.md not written: " + ("--only" if args.only else "--no-write") + ")")
    else:
        record = {"mode": "quick" if args.quick else "full", "command": " ".join(["python", *sys.argv]),
                  "machine": info, "total_s": round(total, 1), "benchmarks": statuses, "rows": rows}
        (HERE / "results.json").write_text(json.dumps(record, indent=2) + "\n")
        (HERE / "README.md").write_text(readme(lines, grows, info, args.quick, benches, total, dense_section(rows)))
        print(f"wrote {HERE / 'results.json'} and {HERE / 'README.md'}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (see the logs above)")


if __name__ == "__main__":
    main()
