"""A deep graph: 100,000 ops on a one-element tensor.

The chain (20-op cycles, 5000 of them) is mostly ``h * 1.0001``,
``h + 0.0001``, ``h * 0.9999``, ``h - 0.0001``, with a ``sin`` twice per cycle
and an ``exp`` (then ``- 1``) once. On a ``(1,)`` float32 tensor the arithmetic
is free, so this measures what a long graph costs:

    forward    building the graph (the chain, then ``.sum()`` for the loss)
    backward   ``loss.backward()``: the engine's walk over 100,001 nodes
    teardown   ``del loss`` after the backward, the collector off: freeing
               the nodes (the saved tensors went during the backward)
    memory     bytes of graph per op while it is alive, measured in a fresh
               subprocess per implementation and method:
               tracemalloc  what Python's allocators hand out, which is
                            everything autogradx allocates (its nodes and
                            tensors are Python objects, NumPy reports its
                            buffers to tracemalloc) but almost nothing of
                            PyTorch's (its graph lives in C++);
               RSS          growth of the resident set (/proc/self/statm),
                            which sees every allocator but at page
                            granularity and including the allocators' slack.
               The RSS child also times one teardown of a graph that was
               never backpropagated (saved tensors still alive).

Implementations: autogradx, PyTorch CPU, HIPS autograd (each skipped when not
importable), and a NumPy floor (the same chain in plain ndarray ops, keeping
only what its hand-written backward needs). HIPS autograd's forward is
``autograd.make_vjp`` of the chain's sum (the traced forward) and its backward
the call of the returned vjp: together what ``autograd.grad`` does. It keeps
every saved value until the graph goes, so its teardown frees those too. Its
backward sorts the graph without recursion (autograd 1.9.1 runs a
1,000,000-op chain under the default recursion limit of 1000).

Before timing, the gradient of the input is checked against every other
implementation's (in float64, see CHECK_DTYPE); the benchmark aborts if they
differ.
--quick runs one round of a 20,000-op chain.

Run:  python benchmarks/bench_deep_chain.py [--rounds N | --quick] [--no-torch] [--threads N]
Writes benchmarks/results/deep_chain.jsonl and benchmarks/results/deep_chain.md.
"""

import gc
import json
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

import autogradx as agx
from _common import (
    arg_parser, fmt, fmt_range, fmt_spread, import_hips, import_torch, machine_info, machine_line,
    match_torch_threads, parse_args, ratio, round_ratios, rss_bytes, select_impls, summarize,
    target, write_results,
)

# None when not importable (the columns are optional). A memory child measuring
# another implementation skips the imports (torch's takes seconds).
_CHILD_ARGS = sys.argv[2:3] if sys.argv[1:2] == ["--memory-child"] else None
torch = import_torch() if _CHILD_ARGS in (None, ["torch"]) else None
hips = import_hips() if _CHILD_ARGS in (None, ["autograd"]) else None

CASE = "deep_chain"
CYCLES = 5000                   # 100,000 ops (plus the final .sum()); --quick: a fifth
OPS_PER_CYCLE = 20
IMPLS = ["autogradx", "torch", "autograd", "numpy"]
HIPS_MEASURES = ("HIPS autograd: forward is `autograd.make_vjp` of the chain's sum, backward "
                 "the call of its vjp (together `autograd.grad`); its saved values live until "
                 "the graph goes, so its teardown frees them too.")
X0 = -0.5
# The check runs in float64: in float32, ``exp(h) - 1`` near h = 0 loses most
# of its digits, and the libraries' exp differ by an ulp or so, which moves the
# trajectory (and the gradient) by a few percent between PyTorch and NumPy. In
# float64 the implementations agree to about 1e-12; the same vjps run in both.
CHECK_DTYPE, GRAD_RTOL = np.float64, 1e-8


# ---------------------------------------------------------------------------
# The chain. The affine pairs nearly cancel (their product is
# ``h * (1 - 1e-8) - 1e-8``) and ``sin(expm1(sin(h)))`` pulls a negative h
# slowly towards 0, so h stays small and every factor of the gradient stays
# near 1: after 100,000 ops the gradient is around 1e-6, a normal float32,
# neither underflowed to 0 (a vacuous check, and slow subnormals) nor blown up.
# ---------------------------------------------------------------------------

def affine_block(h):
    """8 ops: two ``* 1.0001 + 0.0001`` and two ``* 0.9999 - 0.0001``."""
    h = h * 1.0001
    h = h + 0.0001
    h = h * 1.0001
    h = h + 0.0001
    h = h * 0.9999
    h = h - 0.0001
    h = h * 0.9999
    h = h - 0.0001
    return h


def chain_forward(x, sin, exp, cycles):
    """The chain for any array type with operators, given its sin and exp."""
    h = x
    for _ in range(cycles):
        h = affine_block(h)
        h = sin(h)
        h = affine_block(h)
        h = exp(h)
        h = h - 1.0
        h = sin(h)
    return h


def numpy_forward_saving(x, cycles):
    """The floor's forward: the chain, keeping cos of each sin's input and
    each exp's output (all the backward needs; the affine ops need nothing)."""
    saved = []
    h = x
    for _ in range(cycles):
        h = affine_block(h)
        saved.append(np.cos(h))
        h = np.sin(h)
        h = affine_block(h)
        h = np.exp(h)
        saved.append(h)
        h = h - 1.0
        saved.append(np.cos(h))
        h = np.sin(h)
    return h.sum(), saved


AFFINE_FACTOR = 1.0001 * 1.0001 * 0.9999 * 0.9999


def numpy_backward(saved):
    """d(sum)/dx walking the saved factors in reverse, one multiply per op as
    a hand-written backward would (the affine block's constant folded)."""
    g = np.ones(1, dtype=saved[0].dtype)
    while saved:
        g = g * saved.pop()             # sin
        g = g * saved.pop()             # exp (the "- 1" passes g through)
        g = g * AFFINE_FACTOR
        g = g * saved.pop()             # sin
        g = g * AFFINE_FACTOR
    return g


# ---------------------------------------------------------------------------
# Per implementation: a leaf, a forward returning what keeps the graph alive,
# and a backward taking it.
# ---------------------------------------------------------------------------

def make_impl(impl, cycles, dtype=np.float32):
    """(forward, backward, grad_of_x) for one implementation: forward returns
    what keeps the graph alive, backward takes it (the floor's and HIPS
    autograd's return the gradient, the others' leave it in ``x.grad``, which
    grad_of_x reads)."""
    x_np = np.full(1, X0, dtype=dtype)
    if impl == "numpy":
        return (lambda: numpy_forward_saving(x_np, cycles),
                lambda state: numpy_backward(state[1]), None)
    if impl == "autograd":
        anp = hips.numpy
        traced = hips.make_vjp(lambda x: chain_forward(x, anp.sin, anp.exp, cycles).sum())
        # state is (vjp, loss); the seed is a one of the loss's dtype, as grad's
        return (lambda: traced(x_np),
                lambda state: state[0](np.ones_like(state[1])), None)
    mod = agx if impl == "autogradx" else torch
    x = mod.tensor(x_np, requires_grad=True)

    def forward():
        x.grad = None
        return chain_forward(x, mod.sin, mod.exp, cycles).sum()

    def grad_of_x():
        return x.grad.numpy().copy()
    return forward, lambda loss: loss.backward(), grad_of_x


def check_gradients(impls, cycles):
    """Abort unless autogradx's gradient of x matches the others' (in float64)."""
    grads = {}
    for impl in impls:
        forward, backward, grad_of_x = make_impl(impl, cycles, CHECK_DTYPE)
        g = backward(forward())
        grads[impl] = g if grad_of_x is None else grad_of_x()
    ours = grads["autogradx"]
    if ours.dtype != CHECK_DTYPE or not 1e-30 < abs(float(ours[0])) < 1e30:
        sys.exit(f"error: autogradx's gradient {ours!r} is not a normal {CHECK_DTYPE.__name__}")
    for impl, g in grads.items():
        if not np.allclose(ours, g, rtol=GRAD_RTOL, atol=0):
            sys.exit(f"error: autogradx's gradient {ours} differs from {impl}'s {g}; "
                     "refusing to time a wrong answer")


# ---------------------------------------------------------------------------
# Timing: one round per implementation, each phase on its own clock.
# ---------------------------------------------------------------------------

def time_round(forward, backward):
    """(forward, backward, teardown) seconds for one run, the collector off."""
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        state = forward()
        t1 = time.perf_counter()
        backward(state)
        t2 = time.perf_counter()
        del state
        t3 = time.perf_counter()
    finally:
        gc.enable()
    return t1 - t0, t2 - t1, t3 - t2


# ---------------------------------------------------------------------------
# Memory: one fresh subprocess per (impl, method), so that what one run left
# in the allocators' free lists cannot hide another's growth.
# ---------------------------------------------------------------------------

def memory_child(impl, method, cycles):
    """Run in the child: build the graph once, print a JSON line of sizes."""
    if torch is not None:
        match_torch_threads(torch)
    # Warm up on one cycle (lazy imports, the op registry, first-call caches);
    # a full-size warm-up would leave freed memory for the measured run to reuse.
    forward, backward, _ = make_impl(impl, 1)
    backward(forward())
    forward = make_impl(impl, cycles)[0]
    gc.collect()
    gc.disable()
    if method == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        state = forward()
        alive, peak = tracemalloc.get_traced_memory()
        del state
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        result = {"alive": alive - after, "peak": peak - before, "kept": after - before}
    else:
        before = rss_bytes()
        state = forward()
        alive = rss_bytes()
        t0 = time.perf_counter()
        del state
        teardown = time.perf_counter() - t0
        after = rss_bytes()
        result = {"alive": alive - before, "returned": alive - after,
                  "teardown_no_backward_s": teardown}
    print(json.dumps(result))


def measure_memory(impl, method, cycles):
    proc = subprocess.run([sys.executable, __file__, "--memory-child", impl, method, str(cycles)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.exit(f"error: memory child for {impl} ({method}) failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# Reporting.
# ---------------------------------------------------------------------------

IMPL_NAMES = {"autogradx": "autogradx", "torch": "PyTorch", "autograd": "HIPS autograd",
              "numpy": "NumPy floor"}


def ratio_item(ours, theirs, name):
    """A list item of autogradx / ``name`` ratios per phase, (fwd, bwd, teardown) in each."""
    return "- autogradx / {}: forward {}, backward {}, teardown {}, total {}.".format(
        name, *(fmt(ratio(a, b)) for a, b in zip(ours, theirs)),
        fmt(ratio(sum(ours), sum(theirs))))


def markdown_table(times, totals, memory, n_ops, machine, rounds, notes):
    """times: {impl: (fwd, bwd, teardown) medians in s}; totals: {impl: [each round's
    fwd + bwd + teardown]}; memory: {impl: {method: dict}}."""
    lines = [
        f"# Deep chain: {n_ops:,} ops on a (1,) float32 tensor",
        "",
        f"Median over {rounds} interleaved round(s), milliseconds; µs/op is forward + backward "
        f"over {n_ops:,} ops; spread is (max - min) / median of the rounds' totals (forward + "
        "backward + teardown).",
        "",
        "| impl | forward ms | backward ms | teardown ms | µs/op | spread "
        "| teardown, no backward ms | graph B/op (tracemalloc) | graph B/op (RSS) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for impl, (fwd, bwd, down) in times.items():
        mem = memory.get(impl, {})
        tm, rss = mem.get("tracemalloc"), mem.get("rss")
        lines.append(
            f"| {IMPL_NAMES[impl]} | {fmt(fwd * 1e3, 1)} | {fmt(bwd * 1e3, 1)} "
            f"| {fmt(down * 1e3, 1)} | {fmt((fwd + bwd) * 1e6 / n_ops)} "
            f"| {fmt_spread(summarize(totals[impl])['spread'])} "
            f"| {fmt(rss and rss['teardown_no_backward_s'] * 1e3, 1)} "
            f"| {fmt(tm and tm['alive'] / n_ops, 0)} | {fmt(rss and rss['alive'] / n_ops, 0)} |")
    references = [impl for impl in ("torch", "autograd") if impl in times]
    if references:
        lines += ["", *(ratio_item(times["autogradx"], times[impl], IMPL_NAMES[impl])
                        + f" Total round by round: "
                        f"{fmt_range(round_ratios(totals, 'autogradx', impl))}."
                        for impl in references)]
    lines += [
        "",
        "Graph bytes per op: (memory with the graph alive - after `del loss`) / ops with "
        "tracemalloc; (RSS with the graph alive - RSS before the forward) / ops with RSS, "
        "each in a fresh process. tracemalloc sees all of autogradx's and HIPS autograd's "
        "graphs but not PyTorch's C++ graph, so its PyTorch number is not the graph's size; "
        "RSS is page-granular and includes allocator slack. The NumPy floor keeps only 3 "
        "small arrays per 20 ops.",
        "", machine_line(machine),
    ]
    lines += [f"Note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def targets(times, memory, n_ops, machine):
    """Goals: forward + backward + teardown at most half of PyTorch's time, and
    at most 400 bytes of graph per op (tracemalloc, which sees all of it)."""
    agx_t, torch_t = times["autogradx"], times.get("torch")
    tm = memory["autogradx"]["tracemalloc"]
    return [
        target("deep_chain", "deep chain time: autogradx / PyTorch",
               ratio(sum(agx_t), torch_t and sum(torch_t)), 0.5, "<= 0.5 of PyTorch", machine),
        target("deep_chain", "deep chain graph bytes/op (autogradx, tracemalloc)",
               tm["alive"] / n_ops, 400, "<= 400 bytes/op", machine),
    ]


def main(argv=None):
    if argv is None and _CHILD_ARGS is not None:
        return memory_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    args = parse_args(arg_parser(__doc__, rounds=3, quick_rounds=1), argv)
    impls, skip_notes = select_impls(IMPLS, args, torch, hips)
    _, threads_note = match_torch_threads(torch, args.threads)
    notes = [threads_note, *skip_notes]
    if hips is not None:
        notes.append(HIPS_MEASURES)
    machine = machine_info(torch, hips)

    cycles = CYCLES // 5 if args.quick else CYCLES
    n_ops = cycles * OPS_PER_CYCLE
    check_gradients(impls, cycles)      # also warms up each implementation's code
    runners = {impl: make_impl(impl, cycles)[:2] for impl in impls}
    samples = {impl: [] for impl in impls}
    for _ in range(args.rounds):
        for impl, (forward, backward) in runners.items():
            samples[impl].append(time_round(forward, backward))
    times = {impl: tuple(statistics.median(phase) for phase in zip(*s))
             for impl, s in samples.items()}
    # Each round's total (forward + backward + teardown), for the spread of the rounds.
    totals = {impl: [sum(r) for r in s] for impl, s in samples.items()}
    spreads = {impl: summarize(t)["spread"] for impl, t in totals.items()}
    memory = {impl: {method: measure_memory(impl, method, cycles)
                     for method in ("tracemalloc", "rss")}
              for impl in impls}

    records = []
    for impl in impls:
        fwd, bwd, down = times[impl]
        records.append({
            "case": CASE, "n_ops": n_ops, "shape": [1], "dtype": "float32", "impl": impl,
            "median_forward_ms": round(fwd * 1e3, 3), "median_backward_ms": round(bwd * 1e3, 3),
            "median_teardown_ms": round(down * 1e3, 3), "rounds": args.rounds,
            "spread": round(spreads[impl], 4),
            "memory": {method: {k: v if k.endswith("_s") else round(v / n_ops, 2)
                                for k, v in m.items()}
                       for method, m in memory[impl].items()},
            "memory_units": "bytes per op (teardown_no_backward_s in seconds)",
            "machine": machine,
        })
    records += targets(times, memory, n_ops, machine)
    write_results(args.out_dir, "deep_chain", records,
                  markdown_table(times, totals, memory, n_ops, machine, args.rounds, notes))


if __name__ == "__main__":
    main()
