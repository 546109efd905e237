"""One training step of a multilayer perceptron, float32.

Two sizes:

    small   64-128-128-10, batch 64        (overhead-bound: a dozen small ops)
    large   1024-4096-4096-10, batch 512   (BLAS-bound: the matmuls dominate)

A step is: clear the gradients (``p.grad = None``), forward (``h @ W + b``
per layer, ``relu`` between layers), ``nn.functional.cross_entropy`` against
integer labels, backward, and a plain SGD update under no_grad, in place
(``p -= lr * p.grad``). Implementations side by side in one process, from the
same initial parameters and the same batch:

    autogradx
    torch      PyTorch CPU, with as many threads as NumPy's BLAS
    autograd   HIPS autograd (``autograd.value_and_grad`` of the same forward and
               loss in ``autograd.numpy``, then the same update), only when
               ``import autograd`` works: the table says when it is absent
    numpy      the floor: the same step with a hand-written backward in plain
               NumPy, the least any autograd over NumPy can cost

Before timing, one step of each implementation from the same start is checked:
the losses and the gradients of the first and last layers' weights must agree
with the NumPy floor's within float32 tolerance, or the benchmark aborts.

Run:  python benchmarks/bench_mlp.py [--rounds N | --quick] [--no-torch] [--threads N]
Writes benchmarks/results/mlp.jsonl and benchmarks/results/mlp.md.
"""

import statistics
import sys

import numpy as np

import autogradx as agx
import autogradx.nn.functional as agx_F
from _common import (
    arg_parser, fmt, import_hips, import_torch, machine_info, machine_line, match_torch_threads,
    parse_args, ratio, select_impls, target, time_interleaved, write_results,
)

torch = import_torch()          # None when not importable: the column is optional
hips_autograd = import_hips()   # likewise
anp = None if hips_autograd is None else hips_autograd.numpy

CASE = "mlp_train_step"
LR = 0.01
N_CLASSES = 10
# name: (layer widths, batch size, steps per timed sample, warm-up steps,
#        default rounds, quick rounds).
# The small step takes about a millisecond, so a sample is many steps; the
# large one takes seconds on two cores, so it gets few rounds and no warm-up
# beyond the check's step (its arrays are too big for allocator caches anyway).
SIZES = {
    "small": ((64, 128, 128, N_CLASSES), 64, 20, 1, 15, 5),
    "large": ((1024, 4096, 4096, N_CLASSES), 512, 1, 0, 5, 1),
}
IMPLS = ["autogradx", "torch", "autograd", "numpy"]

# Float32 sums over up to 4096 terms, in different orders per BLAS: compare
# losses to 1e-4 relative and gradients to 1e-3 of their largest entry.
LOSS_RTOL, GRAD_RTOL = 1e-4, 1e-3


# ---------------------------------------------------------------------------
# Problem setup: the same parameters and batch for everyone.
# ---------------------------------------------------------------------------

def make_problem(widths, batch, seed=0):
    """(params, x, y) as NumPy arrays: params is [W1, b1, W2, b2, ...] with
    W of shape (in, out), drawn like PyTorch's nn.Linear default
    (uniform in +-1/sqrt(in)); x standard normal; y integer labels."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        bound = 1.0 / np.sqrt(n_in)
        params.append(rng.uniform(-bound, bound, (n_in, n_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, n_out).astype(np.float32))
    x = rng.standard_normal((batch, widths[0])).astype(np.float32)
    y = rng.integers(0, widths[-1], batch)
    return params, x, y


# ---------------------------------------------------------------------------
# The step, one per implementation. Each returns (loss, [gradients]) so the
# check can read the gradients; the SGD update has already been applied.
# ---------------------------------------------------------------------------

def tensor_step(params, x, y, F, no_grad):
    """The step for autogradx and PyTorch: same code, their own modules."""
    for p in params:
        p.grad = None
    h = x
    last = len(params) - 2
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i != last:
            h = F.relu(h)
    loss = F.cross_entropy(h, y)
    loss.backward()
    with no_grad():
        for p in params:
            p -= LR * p.grad
    return loss, [p.grad for p in params]


def hips_loss(params, x, y):
    """The forward and loss in HIPS autograd's wrapped NumPy."""
    h = x
    last = len(params) - 2
    for i in range(0, len(params), 2):
        h = anp.dot(h, params[i]) + params[i + 1]
        if i != last:
            h = anp.maximum(h, 0.0)
    m = anp.max(h, axis=1, keepdims=True)
    log_probs = h - (m + anp.log(anp.sum(anp.exp(h - m), axis=1, keepdims=True)))
    return -anp.mean(log_probs[np.arange(len(y)), y])


def hips_step(params, x, y, value_and_grad):
    loss, grads = value_and_grad(params, x, y)
    for p, g in zip(params, grads):
        p -= LR * g
    return loss, grads


def numpy_step(params, x, y):
    """The floor: forward keeping what the backward needs, the backward by hand."""
    acts, h = [x], x                    # inputs of each layer's matmul
    last = len(params) - 2
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i != last:
            h = np.maximum(h, 0)
            acts.append(h)
    # cross entropy (mean over the batch) and its gradient w.r.t. the logits
    shifted = h - h.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sums = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = np.mean(np.log(sums[:, 0]) - shifted[rows, y])
    g = exp / sums
    g[rows, y] -= 1
    g /= len(y)
    grads = [None] * len(params)
    for i in range(last, -1, -2):
        a = acts.pop()
        grads[i], grads[i + 1] = a.T @ g, g.sum(axis=0)
        if i:
            g = (g @ params[i].T) * (a > 0)   # back through relu: a > 0 iff its input was
    for p, dp in zip(params, grads):
        p -= LR * dp
    return loss, grads


def make_runner(impl, params_np, x_np, y_np):
    """A zero-argument callable running one step of ``impl`` on its own copy
    of the parameters (each step updates them in place)."""
    if impl == "autogradx":
        params = [agx.tensor(p, requires_grad=True) for p in params_np]
        x, y = agx.tensor(x_np), agx.tensor(y_np)
        return lambda: tensor_step(params, x, y, agx_F, agx.no_grad)
    if impl == "torch":
        params = [torch.tensor(p, requires_grad=True) for p in params_np]
        x, y = torch.tensor(x_np), torch.tensor(y_np)
        return lambda: tensor_step(params, x, y, torch.nn.functional, torch.no_grad)
    params = [p.copy() for p in params_np]
    if impl == "autograd":
        value_and_grad = hips_autograd.value_and_grad(hips_loss)
        return lambda: hips_step(params, x_np, y_np, value_and_grad)
    return lambda: numpy_step(params, x_np, y_np)


def as_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().numpy()
    return np.asarray(value)


def check_step(size, params_np, x_np, y_np, impls):
    """Abort unless every implementation's first step matches the floor's:
    the loss, and the gradients of the first and the last weight matrix."""
    loss_ref, grads_ref = make_runner("numpy", params_np, x_np, y_np)()
    for impl in impls:
        if impl == "numpy":
            continue
        loss, grads = make_runner(impl, params_np, x_np, y_np)()
        loss = float(as_numpy(loss))
        if not np.isclose(loss, loss_ref, rtol=LOSS_RTOL):
            sys.exit(f"error: {impl} loss {loss} != NumPy floor's {loss_ref} "
                     f"for the {size} MLP; refusing to time a wrong answer")
        for k in (0, len(grads_ref) - 2):
            ours, ref = as_numpy(grads[k]), grads_ref[k]
            if impl == "autogradx" and ours.dtype != np.float32:
                sys.exit(f"error: autogradx gradient of parameter {k} is {ours.dtype}, "
                         "not float32")
            if not np.allclose(ours, ref, rtol=0, atol=GRAD_RTOL * float(np.abs(ref).max())):
                diff = float(np.abs(ours - ref).max())
                sys.exit(f"error: {impl} gradient of parameter {k} differs from the NumPy "
                         f"floor's for the {size} MLP (max abs diff {diff})")


# ---------------------------------------------------------------------------
# Reporting.
# ---------------------------------------------------------------------------

def markdown_table(rows, machine, notes):
    """rows: {size: (description, rounds, {impl: median ms/step})}."""
    lines = [
        "# MLP training step, float32",
        "",
        "Median milliseconds per step (zero-grad, forward, cross-entropy, backward, "
        "SGD update).",
        "",
        "| MLP | rounds | autogradx ms | PyTorch ms | HIPS autograd ms | NumPy floor ms "
        "| autogradx / PyTorch | autogradx / HIPS | autogradx / NumPy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, (desc, rounds, t) in rows.items():
        a = t.get("autogradx")
        lines.append(
            f"| {size} {desc} | {rounds} | {fmt(a, 3)} | {fmt(t.get('torch'), 3)} "
            f"| {fmt(t.get('autograd'), 3)} | {fmt(t.get('numpy'), 3)} "
            f"| {fmt(ratio(a, t.get('torch')))} | {fmt(ratio(a, t.get('autograd')))} "
            f"| {fmt(ratio(a, t.get('numpy')))} |")
    lines += ["", machine_line(machine)]
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def targets(rows, machine):
    """Goals: the small step at most 0.65 of PyTorch's time (autogradx's lower
    overhead should show), the large one within 5% of the NumPy floor (nothing
    but BLAS should matter)."""
    small, large = rows.get("small"), rows.get("large")
    records = []
    if small:
        t = small[2]
        records.append(target("mlp", "small MLP step: autogradx / PyTorch",
                              ratio(t["autogradx"], t.get("torch")), 0.65,
                              "<= 0.65 of PyTorch", machine))
    if large:
        t = large[2]
        records.append(target("mlp", "large MLP step: autogradx / NumPy floor",
                              ratio(t["autogradx"], t["numpy"]), 1.05,
                              "within 5% of the NumPy floor", machine))
    return records


def main(argv=None):
    parser = arg_parser(__doc__, rounds=None, quick_rounds=None, rounds_help=(
        "timed rounds per MLP (default: 15 small, 5 large; with --quick 5 and 1)"))
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES),
                        help="which MLPs to time (default: all)")
    args = parse_args(parser, argv)
    impls, skip_notes = select_impls(IMPLS, args, torch, hips_autograd)
    _, threads_note = match_torch_threads(torch, args.threads)
    notes = [threads_note, *skip_notes]

    machine = machine_info(torch, hips_autograd)
    records, rows = [], {}
    for size in args.sizes:
        widths, batch, repeat, warmup, rounds, quick_rounds = SIZES[size]
        if args.rounds is not None:
            rounds = args.rounds
        elif args.quick:
            rounds = quick_rounds
        params_np, x_np, y_np = make_problem(widths, batch)
        check_step(size, params_np, x_np, y_np, impls)
        runners = {impl: make_runner(impl, params_np, x_np, y_np) for impl in impls}
        desc = f"{'-'.join(map(str, widths))}, batch {batch}"
        medians = {}
        for impl, samples in time_interleaved(runners, rounds, repeat, warmup).items():
            ms = [s * 1e3 for s in samples]
            medians[impl] = statistics.median(ms)
            records.append({
                "case": CASE, "size": size, "widths": list(widths), "batch": batch,
                "dtype": "float32", "impl": impl, "median_ms_per_step": round(medians[impl], 4),
                "min_ms_per_step": round(min(ms), 4), "rounds": rounds,
                "steps_per_round": repeat, "machine": machine,
            })
        rows[size] = (desc, rounds, medians)
        del runners                     # free the large MLP's parameters

    records += targets(rows, machine)
    write_results(args.out_dir, "mlp", records, markdown_table(rows, machine, notes))


if __name__ == "__main__":
    main()
