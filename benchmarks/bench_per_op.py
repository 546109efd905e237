"""Per-op overhead of a long chain of elementwise ops on tiny tensors.

A chain of 1000 elementwise ops on a (3,) and a (16, 16) float32 tensor, timed
in three modes and three implementations side by side in one process:

    modes:  forward           forward with grad recording (graph built)
            no_grad           forward under no_grad (nothing recorded)
            forward_backward  forward, then ``h.sum().backward()``
    impls:  autogradx, PyTorch CPU (skipped when torch is not importable), and a
            hand-written NumPy floor: plain ndarray ops for the forward, the
            hand-derived gradient chain for the backward.

On tensors this small the arithmetic is nearly free, so the numbers measure
the per-op bookkeeping: dispatch, dtype promotion, node creation, and the
engine's walk of the graph. The NumPy floor is the price of the ndarray ops
alone, i.e. what no autograd layer over NumPy can beat.

Before anything is timed, autogradx's gradients are checked against the NumPy
floor's and PyTorch's; the benchmark aborts if they differ.

Run:  python benchmarks/bench_per_op.py [--rounds N | --quick] [--no-torch]
Writes benchmarks/results/per_op.jsonl and benchmarks/results/per_op.md.
"""

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import autogradx as agx

try:
    import torch
except ImportError:          # the PyTorch column is optional
    torch = None

CASE = "elementwise_chain"
N_OPS = 1000
SHAPES = [(3,), (16, 16)]
MODES = ["forward", "no_grad", "forward_backward"]
IMPLS = ["autogradx", "torch", "numpy"]
RESULTS_DIR = Path(__file__).resolve().parent / "results"

# Float32 over 1000 ops: the three implementations round in slightly different
# orders (autogradx's div vjp is ``-g * a / (b * b)``, the floor's the same
# algebra regrouped), so compare with a float32-sized relative tolerance.
RTOL, ATOL = 1e-4, 1e-6


# ---------------------------------------------------------------------------
# The op chain. One cycle is 10 ops; 100 cycles make the 1000-op chain.
#
# The mix uses only ops autogradx supports today (+ - * / and unary minus),
# each with a Python scalar and with a second leaf ``c`` as the other operand.
# The loop is unrolled by hand (no per-op dispatch table) so that the only
# Python overhead in the timings is the ops themselves, the same for all three
# implementations.
#
# One cycle maps h to -c * (1.0001 * h + 0.5) / 1.0002 + (terms in c alone), so
# d(out)/d(x) is a product of 100 factors of about -c, and c is drawn from
# [0.99, 1.01]: values stay within a few units and gradients within a few
# hundred (no overflow, no underflow into slow subnormals), and both gradients
# depend on c elementwise, so the check below exercises every vjp.
# Careful when editing the cycle: orders like ``h * c; h + c; h / c`` cancel c
# exactly, which leaves c's gradient zero in exact arithmetic and turns the
# check into a comparison of rounding noise.
# ---------------------------------------------------------------------------

OPS_PER_CYCLE = 10
CYCLES = N_OPS // OPS_PER_CYCLE
assert CYCLES * OPS_PER_CYCLE == N_OPS


def chain_forward(x, c):
    """The chain, written once for any type with arithmetic operators.

    Used as-is for autogradx and PyTorch (both record the graph through the
    operators) and for the NumPy floor's no_grad forward.
    """
    h = x
    for _ in range(CYCLES):
        h = h * 1.0001
        h = h + 0.5
        h = h * c
        h = h - 0.25
        h = h / 1.0002
        h = -h
        h = h / c
        h = h + c
        h = h * c
        h = h - c
    return h


def numpy_forward_saving(x, c):
    """The NumPy floor's forward with grad: chain_forward, plus keeping the
    inputs that the backward needs (the left operands of ``* c`` and ``/ c``)."""
    saved = []
    h = x
    for _ in range(CYCLES):
        h = h * 1.0001
        h = h + 0.5
        saved.append(h)
        h = h * c
        h = h - 0.25
        h = h / 1.0002
        h = -h
        saved.append(h)
        h = h / c
        h = h + c
        saved.append(h)
        h = h * c
        h = h - c
    return h, saved


def numpy_backward(out, c, saved):
    """Hand-derived gradients of ``out.sum()`` w.r.t. x and c, walking the
    chain_forward cycle in reverse. Returns (grad_x, grad_c)."""
    g = np.ones_like(out)               # d(sum)/d(out)
    grad_c = np.zeros_like(c)
    c_squared = c * c                   # hand-written code would hoist this
    for _ in range(CYCLES):
        grad_c -= g                                     # h = h - c
        grad_c += g * saved.pop()                       # h = h * c
        g = g * c
        grad_c += g                                     # h = h + c
        grad_c -= g * saved.pop() / c_squared           # h = h / c
        g = g / c
        g = -g                                          # h = -h
        g = g / 1.0002                                  # h = h / 1.0002
        #                                                 h = h - 0.25: identity
        grad_c += g * saved.pop()                       # h = h * c
        g = g * c
        #                                                 h = h + 0.5: identity
        g = g * 1.0001                                  # h = h * 1.0001
    return g, grad_c


# ---------------------------------------------------------------------------
# One timed unit per (impl, mode): a callable running the whole chain once.
# Each returns what it computed so that tearing the graph down happens after
# the clock stops, in every implementation alike.
# ---------------------------------------------------------------------------

def make_leaves(impl, x_np, c_np):
    """Fresh leaves ``x`` and ``c`` for one implementation, from the same data."""
    if impl == "autogradx":
        return (agx.tensor(x_np, requires_grad=True), agx.tensor(c_np, requires_grad=True))
    if impl == "torch":
        return (torch.tensor(x_np, requires_grad=True), torch.tensor(c_np, requires_grad=True))
    return x_np.copy(), c_np.copy()


def make_runner(impl, mode, x, c):
    """A zero-argument callable running one (impl, mode) chain once."""
    if impl == "numpy":
        if mode == "forward":
            return lambda: numpy_forward_saving(x, c)
        if mode == "no_grad":
            return lambda: chain_forward(x, c)

        def numpy_forward_backward():
            out, saved = numpy_forward_saving(x, c)
            out.sum()                   # the loss, as the autograd impls compute it
            return numpy_backward(out, c, saved)
        return numpy_forward_backward

    no_grad = agx.no_grad if impl == "autogradx" else torch.no_grad
    if mode == "forward":
        return lambda: chain_forward(x, c)
    if mode == "no_grad":
        def forward_no_grad():
            with no_grad():
                return chain_forward(x, c)
        return forward_no_grad

    def forward_backward():
        x.grad = c.grad = None          # fresh gradients, not accumulated over rounds
        loss = chain_forward(x, c).sum()
        loss.backward()
        return loss
    return forward_backward


# ---------------------------------------------------------------------------
# Correctness check, once per shape, before any timing.
# ---------------------------------------------------------------------------

def reference_grads(impl, x_np, c_np):
    """(out, grad_x, grad_c) as NumPy arrays from one forward+backward."""
    if impl == "numpy":
        x, c = make_leaves("numpy", x_np, c_np)
        out, saved = numpy_forward_saving(x, c)
        return (out, *numpy_backward(out, c, saved))
    x, c = make_leaves(impl, x_np, c_np)
    out = chain_forward(x, c)
    out.sum().backward()
    return tuple(np.array(t.detach().numpy()) for t in (out, x.grad, c.grad))


def check_gradients(shape, x_np, c_np, impls):
    """Abort unless autogradx matches every other implementation."""
    names = ("output", "grad of x", "grad of c")
    ours = reference_grads("autogradx", x_np, c_np)
    for impl in impls:
        if impl == "autogradx":
            continue
        theirs = reference_grads(impl, x_np, c_np)
        for name, a, b in zip(names, ours, theirs):
            if a.dtype != np.float32:
                sys.exit(f"error: autogradx {name} for shape {shape} is {a.dtype}, not float32")
            scale = float(np.abs(b).max()) or 1.0
            if a.shape != b.shape or not np.allclose(a, b, rtol=RTOL, atol=ATOL * scale):
                diff = float(np.abs(a - b).max()) if a.shape == b.shape else "shape mismatch"
                sys.exit(f"error: autogradx {name} differs from {impl} for shape {shape} "
                         f"(max abs diff {diff}); refusing to time a wrong answer")


# ---------------------------------------------------------------------------
# Timing.
# ---------------------------------------------------------------------------

def time_once(run):
    """Microseconds per op for one run of the chain.

    The collector is off while the chain runs, so a collection triggered by
    the graph's many small objects is not charged to whichever op happened to
    trigger it; it runs before the round instead.
    """
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        result = run()
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    del result                          # graph teardown, outside the clock
    return elapsed / 1e3 / N_OPS


def time_cell(runners, rounds):
    """{impl: (median, min) µs/op} for one (shape, mode) over ``rounds`` rounds.

    Each runner gets one untimed warm-up run (first-use lookups, allocator).
    The implementations take turns within every round rather than running
    their rounds back to back, so a burst of load on the machine lands on all
    of them alike and the ratios stay fair.
    """
    for run in runners.values():
        run()
    samples = {impl: [] for impl in runners}
    for _ in range(rounds):
        for impl, run in runners.items():
            samples[impl].append(time_once(run))
    return {impl: (statistics.median(t), min(t)) for impl, t in samples.items()}


# ---------------------------------------------------------------------------
# Reporting.
# ---------------------------------------------------------------------------

def shape_str(shape):
    return "x".join(map(str, shape))


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine_info():
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "autogradx": agx.__version__,
        "git_commit": git_commit(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def fmt(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None else a / b


def markdown_table(rows, machine, rounds, torch_note):
    """rows: {(shape, mode): {impl: median_us_per_op}}."""
    lines = [
        f"# Per-op time: chain of {N_OPS} elementwise ops, float32",
        "",
        f"Median over {rounds} rounds, microseconds per op (round total / {N_OPS}). "
        "`forward_backward` includes the final `h.sum()` and the backward pass.",
        "",
        "| shape | mode | autogradx µs/op | PyTorch µs/op | NumPy floor µs/op "
        "| autogradx / PyTorch | autogradx / NumPy |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (shape, mode), t in rows.items():
        agx_t, torch_t, np_t = t.get("autogradx"), t.get("torch"), t.get("numpy")
        lines.append(
            f"| {shape} | {mode} | {fmt(agx_t)} | {fmt(torch_t)} | {fmt(np_t)} "
            f"| {fmt(ratio(agx_t, torch_t))} | {fmt(ratio(agx_t, np_t))} |")
    lines += ["", f"Machine: Python {machine['python']}, NumPy {machine['numpy']}, "
              f"PyTorch {machine['torch'] or 'not installed'}"
              f"{' (%s threads)' % machine['torch_threads'] if machine['torch'] else ''}, "
              f"{machine['platform']}, {machine['cpu_count']} CPUs, "
              f"commit {machine['git_commit'] or 'unknown'}."]
    if torch_note:
        lines += ["", f"Note: {torch_note}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7, help="timed rounds per cell (default 7)")
    p.add_argument("--quick", action="store_true", help="3 rounds, for a CI smoke run")
    p.add_argument("--no-torch", action="store_true", help="leave out the PyTorch column")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR,
                   help="where per_op.jsonl and per_op.md go (default benchmarks/results/)")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds = 3
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    torch_note = None
    if torch is None:
        torch_note = "PyTorch is not importable; its column is skipped."
    elif args.no_torch:
        torch_note = "PyTorch column skipped (--no-torch)."
    impls = [i for i in IMPLS if i != "torch" or torch_note is None]

    machine = machine_info()
    rng = np.random.default_rng(0)
    records, rows = [], {}
    for shape in SHAPES:
        x_np = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        c_np = rng.uniform(0.99, 1.01, shape).astype(np.float32)  # see the op chain
        check_gradients(shape, x_np, c_np, impls)
        for mode in MODES:
            runners = {impl: make_runner(impl, mode, *make_leaves(impl, x_np, c_np))
                       for impl in impls}
            for impl, (median, fastest) in time_cell(runners, args.rounds).items():
                rows.setdefault((shape_str(shape), mode), {})[impl] = median
                records.append({
                    "case": CASE, "n_ops": N_OPS, "shape": list(shape), "dtype": "float32",
                    "mode": mode, "impl": impl, "median_us_per_op": round(median, 4),
                    "min_us_per_op": round(fastest, 4), "rounds": args.rounds,
                    "machine": machine,
                })

    table = markdown_table(rows, machine, args.rounds, torch_note)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.out_dir / "per_op.jsonl", "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    (args.out_dir / "per_op.md").write_text(table, encoding="utf-8")
    print(table, end="")


if __name__ == "__main__":
    main()
