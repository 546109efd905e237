"""Import time: ``import autogradx`` against ``import numpy``, HIPS autograd and PyTorch.

Each sample is a fresh interpreter that times its own import with
``time.perf_counter`` (interpreter start-up is not counted). autogradx's
number includes NumPy's import, which it needs, so the cost autogradx adds
is the difference of the two medians. ``import autograd`` (HIPS autograd,
when importable) loads ``autograd.numpy`` and so NumPy too; its child then
times a first ``autograd.grad`` call (of ``(x + 1).sum()`` on a two-element
array). The autogradx child also times, after the import:

    first tensor   ``autogradx.tensor([1.0, 2.0])``
    first op       ``x + 1`` on it: the first op call loads the plugin
                   registry (entry point scan, plugin modules, op table)
    second op      ``x * 2``: an op once the registry is loaded

The children take turns within each repeat (numpy, autogradx, autograd,
torch), and the reported numbers are medians over repeats. Bytecode is cached
as an installed package's would be: the children write and read their
``.pyc`` files under a temporary ``PYTHONPYCACHEPREFIX`` (this checkout may
forbid writing them next to the sources), after one untimed warm-up child per
module fills it.

Run:  python benchmarks/bench_import.py [--rounds N | --quick] [--no-torch]
Writes benchmarks/results/import.jsonl and benchmarks/results/import.md.
"""

import importlib.metadata
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile

from _common import (
    HIPS_MISSING_NOTE, arg_parser, fmt, machine_info, machine_line, parse_args, ratio, target,
    write_results,
)

CASE = "import_time"

# What each child runs: it prints a JSON object of phase durations (seconds);
# json is imported after the clock stops, so it is not charged to the import.
IMPORT_ONLY = """
import time
t0 = time.perf_counter()
import {module}
t1 = time.perf_counter()
import json
print(json.dumps({{"import": t1 - t0}}))
"""
CHILDREN = {
    "numpy": IMPORT_ONLY.format(module="numpy"),
    "autogradx": """
import time
t0 = time.perf_counter()
import autogradx
t1 = time.perf_counter()
x = autogradx.tensor([1.0, 2.0])
t2 = time.perf_counter()
y = x + 1
t3 = time.perf_counter()
z = x * 2
t4 = time.perf_counter()
import json
print(json.dumps({"import": t1 - t0, "first_tensor": t2 - t1, "first_op": t3 - t2,
                  "second_op": t4 - t3}))
""",
    "autograd": """
import time
t0 = time.perf_counter()
import autograd
t1 = time.perf_counter()
x = autograd.numpy.array([1.0, 2.0])
g = autograd.grad(lambda x: (x + 1).sum())(x)
t2 = time.perf_counter()
import json
print(json.dumps({"import": t1 - t0, "first_grad": t2 - t1}))
""",
    "torch": IMPORT_ONLY.format(module="torch"),
}


def run_child(module, env):
    proc = subprocess.run([sys.executable, "-c", CHILDREN[module]], capture_output=True, text=True,
                          env=env, check=False)
    if proc.returncode:
        sys.exit(f"error: the {module} import child failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_env(pycache):
    env = dict(os.environ, PYTHONPYCACHEPREFIX=pycache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def markdown_table(medians, repeats, machine, notes):
    np_ms = medians["numpy"]["import"] * 1e3
    agx = {k: v * 1e3 for k, v in medians["autogradx"].items()}
    lines = [
        "# Import time",
        "",
        f"Median over {repeats} fresh interpreters each, milliseconds.",
        "",
        "| measure | ms |",
        "|---|---:|",
        f"| `import numpy` | {fmt(np_ms, 1)} |",
        f"| `import autogradx` (includes NumPy) | {fmt(agx['import'], 1)} |",
        f"| autogradx - numpy | {fmt(agx['import'] - np_ms, 1)} |",
        f"| first `autogradx.tensor(...)` | {fmt(agx['first_tensor'], 2)} |",
        f"| first op (`x + 1`: loads the plugin registry) | {fmt(agx['first_op'], 1)} |",
        f"| second op (`x * 2`) | {fmt(agx['second_op'], 3)} |",
    ]
    if "autograd" in medians:
        hips = {k: v * 1e3 for k, v in medians["autograd"].items()}
        ready = ratio(agx["import"] + agx["first_tensor"] + agx["first_op"],
                      hips["import"] + hips["first_grad"])
        lines += [
            f"| `import autograd` (HIPS; loads `autograd.numpy`, includes NumPy) "
            f"| {fmt(hips['import'], 1)} |",
            f"| HIPS autograd - numpy | {fmt(hips['import'] - np_ms, 1)} |",
            f"| first HIPS `autograd.grad(...)(x)` | {fmt(hips['first_grad'], 1)} |",
            f"| ratio autogradx / HIPS: (import + first tensor + first op) "
            f"/ (import + first grad) | {fmt(ready)} |",
        ]
    if "torch" in medians:
        lines.append(f"| `import torch` (reference) | {fmt(medians['torch']['import'] * 1e3, 1)} |")
    lines += ["", machine_line(machine)]
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(arg_parser(__doc__, rounds=9, quick_rounds=3), argv)
    machine = machine_info()
    # PyTorch's import is a reference, and seconds long: only looked for here
    # (the children import it), and left out of quick runs.
    skip_note = None
    if args.no_torch:
        skip_note = "PyTorch reference skipped (--no-torch)."
    elif args.quick:
        skip_note = "PyTorch reference skipped (--quick)."
    elif importlib.util.find_spec("torch") is None:
        skip_note = "PyTorch is not importable; its reference row is skipped."
    else:
        machine["torch"] = importlib.metadata.version("torch")
    hips_note = None
    if importlib.util.find_spec("autograd") is None:
        hips_note = HIPS_MISSING_NOTE
    else:
        machine["autograd"] = importlib.metadata.version("autograd")
    modules = [m for m in CHILDREN
               if (m != "torch" or skip_note is None) and (m != "autograd" or hips_note is None)]

    samples = {m: [] for m in modules}
    with tempfile.TemporaryDirectory(prefix="agx-bench-pycache-") as pycache:
        env = child_env(pycache)
        for module in modules:
            run_child(module, env)      # warm-up: fills the bytecode cache
        for _ in range(args.rounds):
            for module in modules:
                samples[module].append(run_child(module, env))
    medians = {m: {phase: statistics.median(s[phase] for s in runs) for phase in runs[0]}
               for m, runs in samples.items()}

    records = [{
        "case": CASE, "module": module, "rounds": args.rounds,
        "median_ms": {phase: round(v * 1e3, 3) for phase, v in medians[module].items()},
        "min_ms": {phase: round(min(s[phase] for s in samples[module]) * 1e3, 3)
                   for phase in medians[module]},
        "machine": machine,
    } for module in modules]
    added_ms = (medians["autogradx"]["import"] - medians["numpy"]["import"]) * 1e3
    records.append(target("import", "import autogradx - import numpy (ms)", added_ms, 50,
                          "<= numpy + 50 ms", machine))
    notes = [n for n in (skip_note, hips_note) if n]
    write_results(args.out_dir, "import", records,
                  markdown_table(medians, args.rounds, machine, notes))


if __name__ == "__main__":
    main()
