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
    jax_jit    JAX CPU: ``jax.jit`` of the whole step (``jax.value_and_grad`` of the
               same forward and loss in ``jax.numpy``, then the update as new arrays:
               JAX has no in-place update), results waited for
    jax_eager  the same step without ``jax.jit``: JAX dispatching op by op
    autograd   HIPS autograd (``autograd.value_and_grad`` of the same forward and
               loss in ``autograd.numpy``, then the same update)
    numpy      the floor: the same step with a hand-written backward in plain
               NumPy, the least any autograd over NumPy can cost

PyTorch, JAX and HIPS autograd are each skipped when not importable (the table
says so). Each cell is the median over rounds in which the implementations take
turns, with its spread ((max - min) / median of the rounds) and the range of the
round-by-round ratios.

Before timing, one step of each implementation from the same start is checked:
the losses and the gradients of the first and last layers' weights must agree
with the NumPy floor's within float32 tolerance, or the benchmark aborts.

Run:  python benchmarks/bench_mlp.py [--rounds N | --quick] [--no-torch] [--threads N]
Writes benchmarks/results/mlp.jsonl and benchmarks/results/mlp.md.
"""

import functools
import sys

import numpy as np

import autogradx as agx
import autogradx.nn.functional as agx_F
from _common import (
    arg_parser, fmt, fmt_range, fmt_spread, import_hips, import_jax, import_torch, machine_info,
    machine_line, match_torch_threads, parse_args, ratio, round_ratios, select_impls, summarize,
    target, time_interleaved, write_results,
)

torch = import_torch()          # None when not importable: the column is optional
hips_autograd = import_hips()   # likewise
anp = None if hips_autograd is None else hips_autograd.numpy
jax = None                      # imported by main, once the thread count is known

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
IMPLS = ["autogradx", "torch", "jax_jit", "jax_eager", "autograd", "numpy"]
NAMES = {"autogradx": "autogradx", "torch": "PyTorch", "jax_jit": "JAX jit",
         "jax_eager": "JAX eager", "autograd": "HIPS autograd", "numpy": "NumPy floor"}

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


def array_loss(params, x, y, xp):
    """The forward and loss in a NumPy-like module: HIPS autograd's ``autograd.numpy``
    or ``jax.numpy``."""
    h = x
    last = len(params) - 2
    for i in range(0, len(params), 2):
        h = xp.dot(h, params[i]) + params[i + 1]
        if i != last:
            h = xp.maximum(h, 0.0)
    m = xp.max(h, axis=1, keepdims=True)
    log_probs = h - (m + xp.log(xp.sum(xp.exp(h - m), axis=1, keepdims=True)))
    return -xp.mean(log_probs[np.arange(len(y)), y])


def hips_step(params, x, y, value_and_grad):
    loss, grads = value_and_grad(params, x, y)
    for p, g in zip(params, grads):
        p -= LR * g
    return loss, grads


@functools.cache
def jax_step(jit):
    """JAX's step as a function of (params, x, y) -> (loss, grads, new params). One
    function per mode for the whole run, so that ``jax.jit`` compiles each size once, in
    the check's step, outside the clock (the large MLP has no warm-up step)."""
    value_and_grad = jax.value_and_grad(lambda params, x, y: array_loss(params, x, y, jax.numpy))

    def step(params, x, y):
        loss, grads = value_and_grad(params, x, y)
        return loss, grads, [p - LR * g for p, g in zip(params, grads)]
    return jax.jit(step) if jit else step


def jax_runner(jit, params_np, x_np, y_np):
    step = jax_step(jit)
    state = [[jax.numpy.asarray(p) for p in params_np]]
    x, y = jax.numpy.asarray(x_np), jax.numpy.asarray(y_np)

    def run():
        loss, grads, state[0] = jax.block_until_ready(step(state[0], x, y))
        return loss, grads
    return run


def numpy_step(params, x, y, xp=np):
    """The floor: forward keeping what the backward needs, the backward by hand, in
    NumPy (or CuPy: ``xp``, for bench_gpu.py)."""
    acts, h = [x], x                    # inputs of each layer's matmul
    last = len(params) - 2
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i != last:
            h = xp.maximum(h, 0)
            acts.append(h)
    # cross entropy (mean over the batch) and its gradient w.r.t. the logits
    shifted = h - h.max(axis=1, keepdims=True)
    exp = xp.exp(shifted)
    sums = exp.sum(axis=1, keepdims=True)
    rows = xp.arange(len(y))
    loss = xp.mean(xp.log(sums[:, 0]) - shifted[rows, y])
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
    if impl.startswith("jax"):
        return jax_runner(impl == "jax_jit", params_np, x_np, y_np)
    params = [p.copy() for p in params_np]
    if impl == "autograd":
        value_and_grad = hips_autograd.value_and_grad(
            lambda params, x, y: array_loss(params, x, y, anp))
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
    """rows: {size: (description, rounds, {impl: summary in ms}, {impl: per-round ratios})}."""
    lines = [
        "# MLP training step, float32",
        "",
        "Median milliseconds per step (zero-grad, forward, cross-entropy, backward, "
        "SGD update) over interleaved rounds; spread is (max - min) / median of the rounds; "
        "the last columns are autogradx / that implementation, of the medians, round by "
        "round, and of the fastest rounds (each side's minimum).",
        "",
        "| MLP | rounds | implementation | ms | spread | autogradx / it | per-round ratios "
        "| fastest rounds' ratio |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size, (desc, rounds, cells, per_round) in rows.items():
        a = cells["autogradx"]
        for impl, cell in cells.items():
            lines.append(
                f"| {size} {desc} | {rounds} | {NAMES[impl]} | {fmt(cell['median'], 3)} "
                f"| {fmt_spread(cell['spread'])} | {fmt(ratio(a['median'], cell['median']))} "
                f"| {fmt_range(per_round[impl])} | {fmt(ratio(a['min'], cell['min']))} |")
    lines += ["", machine_line(machine)]
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def targets(rows, machine):
    """Issue #18's goals: the small step at most 0.5 of PyTorch's time and at most 1.2x the
    NumPy floor in every round (autogradx's lower overhead should show), within 1.5x of JAX
    jit (which compiles the whole step); the large one within 5% of the NumPy floor
    (nothing but BLAS should matter)."""
    small, large = rows.get("small"), rows.get("large")
    records = []
    if small:
        t = {impl: cell["median"] for impl, cell in small[2].items()}
        per_round = small[3]
        records += [
            target("mlp", "small MLP step: autogradx / PyTorch", ratio(t["autogradx"], t.get("torch")),
                   0.5, "<= 0.5 of PyTorch", machine),
            target("mlp", "small MLP step: autogradx / NumPy floor, worst round",
                   max(per_round["numpy"]), 1.2, "<= 1.2x the NumPy floor in every round", machine),
            target("mlp", "small MLP step: autogradx / JAX jit", ratio(t["autogradx"], t.get("jax_jit")),
                   1.5, "within 1.5x of JAX jit", machine),
        ]
    if large:
        t = {impl: cell["median"] for impl, cell in large[2].items()}
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
    global jax
    jax = import_jax(args.threads)
    impls, skip_notes = select_impls(IMPLS, args, torch, hips_autograd, jax)
    _, threads_note = match_torch_threads(torch, args.threads)
    if jax is not None:
        threads_note += "; XLA: " + ("one thread (XLA_FLAGS)" if args.threads == 1
                                     else "its own thread pool")
    notes = [threads_note, *skip_notes,
             "Ratios come from this one run on this one machine; compare them only within it."]

    machine = machine_info(torch, hips_autograd, jax)
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
        samples = time_interleaved(runners, rounds, repeat, warmup)
        cells = {impl: summarize(s, 1e3) for impl, s in samples.items()}
        per_round = {impl: round_ratios(samples, "autogradx", impl) for impl in samples}
        for impl, cell in cells.items():
            records.append({
                "case": CASE, "size": size, "widths": list(widths), "batch": batch,
                "dtype": "float32", "impl": impl, "median_ms_per_step": round(cell["median"], 4),
                "min_ms_per_step": round(cell["min"], 4), "max_ms_per_step": round(cell["max"], 4),
                "spread": round(cell["spread"], 4), "rounds": rounds,
                "steps_per_round": repeat, "machine": machine,
            })
        rows[size] = (desc, rounds, cells, per_round)
        del runners                     # free the large MLP's parameters

    records += targets(rows, machine)
    write_results(args.out_dir, "mlp", records, markdown_table(rows, machine, notes))


if __name__ == "__main__":
    main()
