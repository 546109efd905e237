"""Per-op overhead of a long chain of elementwise ops on tiny tensors.

A chain of 1000 elementwise ops on a (3,) and a (16, 16) float32 tensor, timed
in three modes and four implementations side by side in one process:

    modes:  forward           forward with grad recording (graph built)
            no_grad           forward under no_grad (nothing recorded)
            forward_backward  forward, then ``h.sum().backward()``
    impls:  autogradx, PyTorch CPU and HIPS autograd (each skipped when not
            importable), and a hand-written NumPy floor: plain ndarray ops for
            the forward, the hand-derived gradient chain for the backward.

HIPS autograd records a graph only while one of its differential operators
traces a function, so its cells are: ``forward``, ``autograd.make_vjp`` of the
chain (the traced forward, returning the vjp without calling it);
``forward_backward``, ``autograd.grad`` of ``chain(x, c).sum()`` with respect
to both leaves (make_vjp, then the vjp); no ``no_grad`` cell: outside a trace
its operators on ndarrays are plain NumPy, which is the floor.

On tensors this small the arithmetic is nearly free, so the numbers measure
the per-op bookkeeping: dispatch, dtype promotion, node creation, and the
engine's walk of the graph. The NumPy floor is the price of the ndarray ops
as the plain expressions make them: a layer over NumPy can only get below it by
calling NumPy more cheaply than they do (autogradx casts each Python number
operand once, where ``a * 1.0001`` casts it on every call, and on small arrays
calls NumPy's arithmetic loops without the ufunc's dispatch).

Next to the medians, the table gives autogradx / PyTorch for the fastest round
of each: on a busy machine the medians carry the interference, the minimums
show what the code costs.

Before anything is timed, autogradx's output and gradients are checked against
every other implementation's; the benchmark aborts if they differ.

Run:  python benchmarks/bench_per_op.py [--rounds N | --quick] [--no-torch] [--threads N]
Writes benchmarks/results/per_op.jsonl and benchmarks/results/per_op.md.
"""

import sys

import numpy as np

import autogradx as agx
from _common import (
    arg_parser, fmt, fmt_spread, import_hips, import_torch, machine_info, machine_line,
    match_torch_threads, parse_args, ratio, select_impls, summarize, target, time_interleaved,
    write_results,
)

torch = import_torch()          # None when not importable: the column is optional
hips = import_hips()            # likewise

CASE = "elementwise_chain"
N_OPS = 1000
SHAPES = [(3,), (16, 16)]
MODES = ["forward", "no_grad", "forward_backward"]
IMPLS = ["autogradx", "torch", "autograd", "numpy"]
# HIPS autograd has no no_grad mode (see the module docstring): an empty cell.
NOT_APPLICABLE = {("autograd", "no_grad")}
HIPS_MEASURES = ("HIPS autograd: `forward` is `autograd.make_vjp` of the chain (traced, vjp "
                 "not called), `forward_backward` is `autograd.grad` of its sum w.r.t. both "
                 "leaves; no `no_grad` cell, since outside a trace its ops on ndarrays are "
                 "plain NumPy (the floor).")

# Float32 over 1000 ops: the implementations round in slightly different
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


def chain_loss(x, c):
    """The chain's ``.sum()``: the scalar HIPS autograd's ``grad`` differentiates."""
    return chain_forward(x, c).sum()


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


def hips_runner(mode, x, c):
    """HIPS autograd's callable for ``forward`` or ``forward_backward``: the
    first returns (vjp, output), the second the gradients w.r.t. x and c."""
    if mode == "forward":
        traced = hips.make_vjp(chain_forward, argnum=(0, 1))
        return lambda: traced(x, c)
    grad = hips.grad(chain_loss, argnum=(0, 1))
    return lambda: grad(x, c)


def make_runner(impl, mode, x, c):
    """A zero-argument callable running one (impl, mode) chain once."""
    if impl == "autograd":
        return hips_runner(mode, x, c)
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
    x, c = make_leaves(impl, x_np, c_np)
    if impl == "numpy":
        out, saved = numpy_forward_saving(x, c)
        return (out, *numpy_backward(out, c, saved))
    if impl == "autograd":              # the very callables that are timed
        _, out = make_runner(impl, "forward", x, c)()
        return (out, *make_runner(impl, "forward_backward", x, c)())
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
# Reporting.
# ---------------------------------------------------------------------------

def shape_str(shape):
    return "x".join(map(str, shape))


def markdown_table(rows, mins, spreads, machine, rounds, notes):
    """rows, mins: {(shape, mode): {impl: median, resp. minimum, us_per_op}}; spreads:
    {(shape, mode): {impl: (max - min) / median of its rounds}}."""
    lines = [
        f"# Per-op time: chain of {N_OPS} elementwise ops, float32",
        "",
        f"Median over {rounds} interleaved rounds, microseconds per op (round total / {N_OPS}). "
        "`forward_backward` includes the final `h.sum()` and the backward pass. Spreads are "
        "(max - min) / median of the rounds, of autogradx and of PyTorch.",
        "",
        "| shape | mode | autogradx µs/op | PyTorch µs/op | HIPS autograd µs/op "
        "| NumPy floor µs/op | autogradx / PyTorch | autogradx / HIPS | autogradx / NumPy "
        "| fastest rounds: autogradx / PyTorch | spreads: autogradx, PyTorch |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (shape, mode), t in rows.items():
        agx_t, torch_t, hips_t, np_t = (t.get(impl) for impl in IMPLS)
        fastest = mins[(shape, mode)]
        lines.append(
            f"| {shape} | {mode} | {fmt(agx_t)} | {fmt(torch_t)} | {fmt(hips_t)} | {fmt(np_t)} "
            f"| {fmt(ratio(agx_t, torch_t))} | {fmt(ratio(agx_t, hips_t))} "
            f"| {fmt(ratio(agx_t, np_t))} "
            f"| {fmt(ratio(fastest['autogradx'], fastest.get('torch')))} "
            f"| {', '.join(fmt_spread(spreads[(shape, mode)].get(i)) for i in IMPLS[:2])} |")
    lines += ["", machine_line(machine)]
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------

def targets(rows, machine):
    """The project's per-op goals: a recorded forward+backward at most 1/3 of
    PyTorch's time, and a no_grad forward at most twice the bare NumPy ops."""
    records = []
    for (shape, mode), t in rows.items():
        if mode == "forward_backward":
            records.append(target("per_op", f"forward_backward {shape}: autogradx / PyTorch",
                                  ratio(t["autogradx"], t.get("torch")), 1 / 3,
                                  "<= 1/3 of PyTorch", machine))
        elif mode == "no_grad":
            records.append(target("per_op", f"no_grad {shape}: autogradx / NumPy",
                                  ratio(t["autogradx"], t["numpy"]), 2.0,
                                  "<= 2x the bare NumPy ops", machine))
    return records


def main(argv=None):
    args = parse_args(arg_parser(__doc__, rounds=7, quick_rounds=3), argv)
    impls, skip_notes = select_impls(IMPLS, args, torch, hips)
    _, threads_note = match_torch_threads(torch, args.threads)
    notes = [threads_note, *skip_notes]
    if hips is not None:
        notes.append(HIPS_MEASURES)

    machine = machine_info(torch, hips)
    rng = np.random.default_rng(0)
    records, rows, mins, spreads = [], {}, {}, {}
    for shape in SHAPES:
        x_np = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        c_np = rng.uniform(0.99, 1.01, shape).astype(np.float32)  # see the op chain
        check_gradients(shape, x_np, c_np, impls)
        for mode in MODES:
            runners = {impl: make_runner(impl, mode, *make_leaves(impl, x_np, c_np))
                       for impl in impls if (impl, mode) not in NOT_APPLICABLE}
            for impl, samples in time_interleaved(runners, args.rounds).items():
                cell = summarize(samples, 1e6 / N_OPS)
                median = cell["median"]
                rows.setdefault((shape_str(shape), mode), {})[impl] = median
                mins.setdefault((shape_str(shape), mode), {})[impl] = cell["min"]
                spreads.setdefault((shape_str(shape), mode), {})[impl] = cell["spread"]
                records.append({
                    "case": CASE, "n_ops": N_OPS, "shape": list(shape), "dtype": "float32",
                    "mode": mode, "impl": impl, "median_us_per_op": round(median, 4),
                    "min_us_per_op": round(cell["min"], 4), "spread": round(cell["spread"], 4),
                    "rounds": args.rounds,
                    "machine": machine,
                })

    records += targets(rows, machine)
    write_results(args.out_dir, "per_op", records,
                  markdown_table(rows, mins, spreads, machine, args.rounds, notes))


if __name__ == "__main__":
    main()
