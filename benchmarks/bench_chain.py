"""A mixed chain that looks like real code, forward+backward, float32.

On an (8, 16) input ``x``, a (16, 16) weight ``W`` and a (16,) bias ``b``::

    a = tanh(x) * 2.0 + exp(-(x * x))       transcendental and arithmetic elementwise ops
    h = a @ W + b                           a small matmul
    h = log(1.0 + h * h)
    h = h - h.sum(dim=1, keepdim=True) / 16 a reduction over a dim, broadcast back
    h = h.reshape(4, 32).transpose(0, 1)    reshape, transpose
    h = h[1::2]                             indexing (a strided slice)
    p = softmax(h, dim=1)
    loss = (p * h).sum()

then the gradients of ``loss`` with respect to ``x``, ``W`` and ``b``. Implementations,
side by side in one process, taking turns in each round:

    autogradx    the chain above, ``loss.backward()``
    torch        the very same function on PyTorch CPU tensors
    jax_jit      ``jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))`` of the chain
                 in ``jax.numpy`` (softmax written out: exp of the shifted values over
                 their sum), results waited for
    jax_eager    the same without ``jax.jit``: JAX dispatching op by op
    autograd     HIPS autograd: ``autograd.value_and_grad`` of the ``autograd.numpy`` chain
    numpy        the floor: the chain in NumPy with a hand-written backward

PyTorch, JAX and HIPS autograd are each skipped when not importable (the table
says so). Before timing, every implementation's loss and gradients are checked
against the floor's; the benchmark aborts on a difference.

Run:  python benchmarks/bench_chain.py [--rounds N | --quick] [--no-torch] [--threads N]
Writes benchmarks/results/chain.jsonl and benchmarks/results/chain.md.
"""

import sys

import numpy as np

import autogradx as agx
from _common import (
    arg_parser, fmt, fmt_range, fmt_spread, freeze_heap, import_hips, import_jax, import_torch,
    machine_info, machine_line, match_torch_threads, parse_args, ratio, round_ratios, select_impls,
    summarize, target, time_interleaved, write_results,
)

torch = import_torch()          # each None when not importable: the columns are optional
hips = import_hips()
jax = None                      # imported by main, once the thread count is known

CASE = "mixed_chain"
IMPLS = ["autogradx", "torch", "jax_jit", "jax_eager", "autograd", "numpy"]
NAMES = {"autogradx": "autogradx", "torch": "PyTorch", "jax_jit": "JAX jit",
         "jax_eager": "JAX eager", "autograd": "HIPS autograd", "numpy": "NumPy floor"}
CALLS_PER_SAMPLE = 20
# Float32 through a dozen ops and a 16-term matmul, in different orders per library.
RTOL = 1e-4


def tensor_loss(x, W, b, lib):
    """The chain for autogradx and PyTorch (``lib`` is the module): the same code."""
    a = lib.tanh(x) * 2.0 + lib.exp(-(x * x))
    h = a @ W + b
    h = lib.log(1.0 + h * h)
    h = h - h.sum(dim=1, keepdim=True) / 16
    h = h.reshape(4, 32).transpose(0, 1)
    h = h[1::2]
    p = lib.softmax(h, dim=1)
    return (p * h).sum()


def array_loss(x, W, b, xp):
    """The same chain in NumPy's spelling, for ``jax.numpy`` and ``autograd.numpy``."""
    a = xp.tanh(x) * 2.0 + xp.exp(-(x * x))
    h = xp.dot(a, W) + b
    h = xp.log(1.0 + h * h)
    h = h - xp.sum(h, axis=1, keepdims=True) / 16
    h = xp.transpose(xp.reshape(h, (4, 32)))
    h = h[1::2]
    e = xp.exp(h - xp.max(h, axis=1, keepdims=True))
    p = e / xp.sum(e, axis=1, keepdims=True)
    return xp.sum(p * h)


def numpy_loss_and_grads(x, W, b):
    """The floor: the chain's forward, keeping what the backward needs, and the
    backward by hand. Returns (loss, [grad of x, grad of W, grad of b])."""
    t = np.tanh(x)
    e = np.exp(-(x * x))
    a = t * 2.0 + e
    h1 = a @ W + b
    q = 1.0 + h1 * h1
    h2 = np.log(q)
    h3 = h2 - h2.sum(axis=1, keepdims=True) / 16
    h5 = h3.reshape(4, 32).T[1::2]
    ex = np.exp(h5 - h5.max(axis=1, keepdims=True))
    p = ex / ex.sum(axis=1, keepdims=True)
    loss = (p * h5).sum()
    # d loss / d h5: directly p, and through the softmax p * (h5 - sum(p * h5))
    g5 = p + p * (h5 - (p * h5).sum(axis=1, keepdims=True))
    g4 = np.zeros((32, 4), np.float32)
    g4[1::2] = g5
    g3 = g4.T.reshape(8, 16)
    g2 = g3 - g3.sum(axis=1, keepdims=True) / 16
    g1 = g2 * (2.0 * h1 / q)
    ga = g1 @ W.T
    gx = ga * (2.0 * (1.0 - t * t) - 2.0 * x * e)
    return loss, [gx, a.T @ g1, g1.sum(axis=0)]


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (8, 16)).astype(np.float32),
            rng.uniform(-0.25, 0.25, (16, 16)).astype(np.float32),
            rng.uniform(-0.1, 0.1, 16).astype(np.float32)]


def make_runner(impl, arrays):
    """A zero-argument callable: one forward+backward, returning (loss, gradients)."""
    if impl in ("autogradx", "torch"):
        lib = agx if impl == "autogradx" else torch
        leaves = [lib.tensor(a, requires_grad=True) for a in arrays]

        def run():
            for leaf in leaves:
                leaf.grad = None
            loss = tensor_loss(*leaves, lib)
            loss.backward()
            return loss, [leaf.grad for leaf in leaves]
        return run
    if impl.startswith("jax"):
        grad = jax.value_and_grad(lambda x, W, b: array_loss(x, W, b, jax.numpy),
                                  argnums=(0, 1, 2))
        if impl == "jax_jit":
            grad = jax.jit(grad)
        inputs = [jax.numpy.asarray(a) for a in arrays]
        return lambda: jax.block_until_ready(grad(*inputs))
    if impl == "autograd":
        grad = hips.value_and_grad(lambda x, W, b: array_loss(x, W, b, hips.numpy),
                                   argnum=(0, 1, 2))
        return lambda: grad(*arrays)
    return lambda: numpy_loss_and_grads(*arrays)


def as_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().numpy()
    return np.asarray(value)


def check(impls, arrays):
    """Abort unless every implementation's loss and gradients match the floor's."""
    loss_ref, grads_ref = numpy_loss_and_grads(*arrays)
    for impl in impls:
        loss, grads = make_runner(impl, arrays)()
        problems = [] if np.isclose(float(as_numpy(loss)), loss_ref, rtol=RTOL) else ["loss"]
        for name, g, ref in zip(("x", "W", "b"), grads, grads_ref):
            g = as_numpy(g)
            if impl == "autogradx" and g.dtype != np.float32:
                problems.append(f"gradient of {name} is {g.dtype}")
            elif not np.allclose(g, ref, rtol=0, atol=RTOL * float(np.abs(ref).max())):
                problems.append(f"gradient of {name}")
        if problems:
            sys.exit(f"error: {impl} differs from the NumPy floor ({', '.join(problems)}); "
                     "refusing to time a wrong answer")


def markdown_table(cells, per_round, rounds, machine, notes):
    lines = [
        "# Mixed chain, forward+backward, float32",
        "",
        f"Median over {rounds} interleaved rounds of {CALLS_PER_SAMPLE} calls, microseconds per "
        "call (forward, loss, gradients of x, W, b); spread is (max - min) / median of the "
        "rounds; the last columns are autogradx / that implementation, of the medians, round "
        "by round, and of the fastest rounds (each side's minimum: on a busy machine the "
        "medians carry the interference).",
        "",
        "| implementation | µs | spread | autogradx / it | per-round ratios "
        "| fastest rounds' ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for impl, cell in cells.items():
        lines.append(f"| {NAMES[impl]} | {fmt(cell['median'], 1)} | {fmt_spread(cell['spread'])} "
                     f"| {fmt(ratio(cells['autogradx']['median'], cell['median']))} "
                     f"| {fmt_range(per_round[impl])} "
                     f"| {fmt(ratio(cells['autogradx']['min'], cell['min']))} |")
    lines += ["", machine_line(machine)]
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def targets(cells, machine):
    a = cells["autogradx"]["median"]
    return [
        target("chain", "mixed chain: autogradx / PyTorch",
               ratio(a, cells.get("torch", {}).get("median")), 1 / 3, "<= 1/3 of PyTorch",
               machine),
        target("chain", "mixed chain: autogradx / NumPy floor", ratio(a, cells["numpy"]["median"]),
               1.1, "<= 1.1x the NumPy floor", machine),
    ]


def main(argv=None):
    global jax
    args = parse_args(arg_parser(__doc__, rounds=15, quick_rounds=5), argv)
    # One thread unless told: arrays of at most 256 elements leave a second thread
    # nothing to do but wake up, and on a loaded machine waiting for it costs more
    # than the chain (PyTorch's and XLA's pools, NumPy's BLAS alike).
    threads = 1 if args.threads is None else args.threads
    jax = import_jax(threads)
    impls, skip_notes = select_impls(IMPLS, args, torch, hips, jax)
    _, threads_note = match_torch_threads(torch, threads)
    if jax is not None:
        threads_note += "; XLA: " + ("one thread (XLA_FLAGS)" if threads == 1
                                     else "its own thread pool")
    notes = [threads_note, *skip_notes,
             "Ratios come from this one run on this one machine; compare them only within it."]
    machine = machine_info(torch, hips, jax)
    arrays = make_problem()
    check(impls, arrays)
    runners = {impl: make_runner(impl, arrays) for impl in impls}
    freeze_heap()
    samples = time_interleaved(runners, args.rounds, repeat=CALLS_PER_SAMPLE, warmup=3)
    cells = {impl: summarize(s, 1e6) for impl, s in samples.items()}
    per_round = {impl: round_ratios(samples, "autogradx", impl) for impl in samples}
    records = [{
        "case": CASE, "impl": impl, "dtype": "float32",
        **{f"{k}_us": None if v is None else round(v, 3) for k, v in cell.items()
           if k != "spread"},
        "spread": None if cell["spread"] is None else round(cell["spread"], 4),
        "ratio_autogradx_over": round(ratio(cells["autogradx"]["median"], cell["median"]), 4),
        "rounds": args.rounds, "calls_per_sample": CALLS_PER_SAMPLE, "machine": machine,
    } for impl, cell in cells.items()]
    records += targets(cells, machine)
    write_results(args.out_dir, "chain", records,
                  markdown_table(cells, per_round, args.rounds, machine, notes))


if __name__ == "__main__":
    main()
