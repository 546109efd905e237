"""Run every benchmark and gather their results into one summary.

Each benchmark runs in its own fresh interpreter, one after the other (so
none inherits another's imports, allocator state or thread settings), with
the options given here passed on. Each writes its ``<name>.jsonl`` and
``<name>.md`` under the results folder; this script then writes
``summary.md``: a table of the project's speed and memory targets with the
measured value next to each, followed by every benchmark's own table. The
summary is printed at the end; progress goes to stderr.

Run:  python benchmarks/run_all.py [--quick] [--no-torch] [--threads N] [--only NAME ...]
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS_DIR, fmt

HERE = Path(__file__).resolve().parent
# name: the script; the order in which they run and appear in the summary.
BENCHMARKS = {
    "per_op": "bench_per_op.py",
    "catalogue": "bench_catalogue.py",
    "chain": "bench_chain.py",
    "mlp": "bench_mlp.py",
    "deep_chain": "bench_deep_chain.py",
    "import": "bench_import.py",
    "memory": "bench_memory.py",
    "func": "bench_func.py",
}


def run_benchmark(name, options):
    """Run one benchmark script; returns (ok, seconds, stderr)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE / BENCHMARKS[name]), *options],
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0, time.perf_counter() - start, proc.stderr


def read_targets(out_dir, names):
    """The ``"case": "target"`` records of the named benchmarks' .jsonl files."""
    found = []
    for name in names:
        path = out_dir / f"{name}.jsonl"
        if path.exists():
            with open(path, encoding="utf-8") as f:
                found += [r for r in map(json.loads, f) if r.get("case") == "target"]
    return found


def targets_table(records):
    lines = [
        "| benchmark | measure | value | target | met |",
        "|---|---|---:|---|:---:|",
    ]
    for r in records:
        met = {True: "yes", False: "**no**", None: "n/a"}[r["met"]]
        lines.append(f"| {r['benchmark']} | {r['metric']} | {fmt(r['value'])} "
                     f"| {r['goal']} | {met} |")
    return lines


def summary(out_dir, names, outcomes, quick):
    lines = [
        "# autogradx benchmarks: summary",
        "",
        f"{'Quick (smoke) run' if quick else 'Full run'}; each benchmark's own table follows. "
        "Ratios are autogradx / reference (below 1: autogradx is faster).",
        "",
        "## Targets",
        "",
        *targets_table(read_targets(out_dir, [n for n in names if outcomes[n][0]])),
    ]
    failed = [n for n in names if not outcomes[n][0]]
    if failed:
        lines += ["", "Failed (no results): " + ", ".join(failed) + "."]
    lines += ["", "Wall time per benchmark: " + ", ".join(
        f"{n} {outcomes[n][1]:.0f} s" for n in names) + "."]
    for name in names:
        md = out_dir / f"{name}.md"
        if outcomes[name][0] and md.exists():
            lines += ["", "#" + md.read_text(encoding="utf-8").rstrip()]  # one level down
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="every benchmark's smoke run")
    p.add_argument("--no-torch", action="store_true", help="leave out the PyTorch columns")
    p.add_argument("--threads", type=int, default=None,
                   help="NumPy's BLAS and PyTorch threads (default: as NumPy's BLAS has it; "
                        "the memory benchmark uses 1 unless this is given)")
    p.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS),
                   help="run only these benchmarks")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR,
                   help="results folder (default benchmarks/results/)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    options = ["--out-dir", str(args.out_dir)]
    options += ["--quick"] * args.quick + ["--no-torch"] * args.no_torch
    if args.threads is not None:
        options += ["--threads", str(args.threads)]
    names = [n for n in BENCHMARKS if n in args.only]
    outcomes = {}
    for name in names:
        print(f"running {BENCHMARKS[name]} ...", file=sys.stderr, flush=True)
        ok, seconds, stderr = run_benchmark(name, options)
        outcomes[name] = (ok, seconds)
        status = f"done in {seconds:.0f} s" if ok else f"FAILED after {seconds:.0f} s"
        print(f"  {status}", file=sys.stderr, flush=True)
        if not ok or stderr.strip():
            print(stderr.rstrip(), file=sys.stderr, flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    text = summary(args.out_dir, names, outcomes, args.quick)
    (args.out_dir / "summary.md").write_text(text, encoding="utf-8")
    print(text, end="")
    return 0 if all(ok for ok, _ in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
