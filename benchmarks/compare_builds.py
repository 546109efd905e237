"""Compare two builds of autogradx on the same benchmarks, in one session, interleaved.

Each build is an interpreter whose ``import autogradx`` finds that build (a venv with an
editable install of a checkout of the commit). The benchmark scripts are this checkout's,
for both: only the library differs. Rounds alternate A B B A A B ..., so that a slow spell
of the machine falls on both. For each target record (the ratios run_all.py checks: autogradx
over PyTorch and over the NumPy floor, measured in the same process) the table gives each
build's median over the rounds and its range.

Run:  python benchmarks/compare_builds.py --base /path/to/venv-a/bin/python \\
          --new /path/to/venv-b/bin/python [--rounds 2] [--only per_op mlp deep_chain] [--quick]
Writes benchmarks/results/compare_builds.jsonl and compare_builds.md.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import RESULTS_DIR, fmt

HERE = Path(__file__).resolve().parent


def run_build(python, only, quick, out_dir):
    """run_all.py under ``python``; returns its target records."""
    cmd = [python, str(HERE / "run_all.py"), "--out-dir", str(out_dir), "--only", *only]
    cmd += ["--quick"] * quick
    # From a neutral folder, so that the interpreter imports its own build of autogradx.
    subprocess.run(cmd, check=True, cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL)
    records = []
    for name in only:
        path = out_dir / f"{name}.jsonl"
        with open(path, encoding="utf-8") as f:
            records += [r for r in map(json.loads, f) if r.get("case") == "target"]
    return records


def order(rounds):
    """A B B A A B ...: each build goes first as often as the other."""
    return [("base", "new") if k % 2 == 0 else ("new", "base") for k in range(rounds)]


def table(runs, base, new):
    keys = list(dict.fromkeys((r["benchmark"], r["metric"]) for r in runs["base"][0]))
    lines = [f"base: `{base}`  ", f"new: `{new}`", "",
             "| benchmark | measure | base (median, range) | new (median, range) | new / base |",
             "|---|---|---:|---:|---:|"]
    for key in keys:
        cells = []
        for build in ("base", "new"):
            values = [r["value"] for run in runs[build] for r in run
                      if (r["benchmark"], r["metric"]) == key and r["value"] is not None]
            cells.append(values)
        if not all(cells):
            continue
        med = [statistics.median(v) for v in cells]
        lines.append(f"| {key[0]} | {key[1]} | "
                     + " | ".join(f"{fmt(m)} ({fmt(min(v))}-{fmt(max(v))})"
                                  for m, v in zip(med, cells))
                     + f" | {med[1] / med[0]:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="interpreter of the build compared against")
    p.add_argument("--new", required=True, help="interpreter of the build under test")
    p.add_argument("--rounds", type=int, default=2, help="runs of each build (default 2)")
    p.add_argument("--only", nargs="+", default=["per_op", "mlp", "deep_chain"])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    pythons = {"base": args.base, "new": args.new}
    runs = {"base": [], "new": []}
    with tempfile.TemporaryDirectory() as scratch:
        for k, pair in enumerate(order(args.rounds)):
            for build in pair:
                print(f"round {k + 1}: {build}", file=sys.stderr, flush=True)
                runs[build].append(run_build(pythons[build], args.only, args.quick,
                                             Path(scratch) / f"{build}{k}"))
    text = table(runs, args.base, args.new)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.out_dir / "compare_builds.jsonl", "w", encoding="utf-8") as f:
        for build, build_runs in runs.items():
            for k, run in enumerate(build_runs):
                for r in run:
                    f.write(json.dumps(dict(r, build=build, round=k)) + "\n")
    (args.out_dir / "compare_builds.md").write_text(text, encoding="utf-8")
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
