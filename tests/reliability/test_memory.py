"""Memory: training steps that do not grow, saved values freed as backward goes,
and graphs that die by reference counting alone (no cycles for the collector).

Growth is measured three ways: pymalloc's count of allocated blocks (free to
read, so it covers every step), the resident set size, and tracemalloc (which
also sees NumPy's data buffers, but makes each step about twice as slow).
"""

import gc
import os
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import autogradx as agx
from autogradx import conformance, nn
from autogradx.utils.checkpoint import checkpoint
from helpers import leaf


class Trainer:
    """A small classifier (16-32-4 MLP, batch 8) trained by SGD with momentum."""

    def __init__(self, seed=0):
        agx.manual_seed(seed)
        rng = np.random.default_rng(seed)
        self.model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
        self.optimizer = agx.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.x = agx.tensor(rng.standard_normal((8, 16)), dtype=agx.float32)
        self.y = agx.tensor(rng.integers(0, 4, 8))

    def step(self):
        self.optimizer.zero_grad()
        loss = nn.functional.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()


def leaky_step(kept):
    """A step that keeps one small tensor each time: what the checks must catch."""
    kept.append(agx.ones(4) * 2)


def rss():
    """The resident set size in bytes (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def growth(step, warmup, steps, measure):
    """What ``steps`` calls of ``step`` leave behind, after ``warmup`` calls (caches
    fill up during those): ``(objects found in reference cycles, growth of measure())``.

    A full collection clears the interpreter's free lists (of tuples, floats, ...)
    before each reading, so that only live objects count."""
    for _ in range(warmup):
        step()
    gc.collect()
    before = measure()
    for _ in range(steps):
        step()
    garbage = gc.collect()
    return garbage, measure() - before


def blocks_and_rss():
    """pymalloc's count of allocated blocks, and the RSS in bytes."""
    return np.array([sys.getallocatedblocks(), rss()])


def traced():
    """The bytes tracemalloc counts as allocated (it sees NumPy's data buffers too)."""
    return tracemalloc.get_traced_memory()[0]


class tracing:
    """Trace allocations within a block."""

    def __enter__(self):
        tracemalloc.start()

    def __exit__(self, *exc):
        tracemalloc.stop()


# Growth is measured where the RSS can be read (/proc) and Python's own allocator runs:
# tools/sanitize.sh turns it off (PYTHONMALLOC=malloc), and ASan holds freed memory back.
measured = pytest.mark.skipif(
    not os.path.exists("/proc/self/statm") or sys.getallocatedblocks() == 0,
    reason="needs /proc/self/statm and pymalloc (off under PYTHONMALLOC=malloc)")


@measured
def test_ten_thousand_training_steps_grow_neither_blocks_nor_rss(gc_off, size):
    steps = size(10_000, 100_000)
    garbage, (blocks, resident) = growth(Trainer().step, 1_000, steps - 1_000, blocks_and_rss)
    assert garbage == 0
    # Caches move by a few dozen blocks; a leak of one object per step would show 9,000
    # blocks, and of one gradient buffer (2 KiB) per step, 18 MB of RSS.
    assert blocks < 1000
    assert resident < 4 * 2**20


@measured
def test_training_steps_leave_nothing_traced(gc_off, size):
    with tracing():
        garbage, grown = growth(Trainer().step, 500, size(2_000, 20_000), traced)
    assert garbage == 0
    assert grown < 32 * 2**10   # one leaked tensor per step: 500 KB


@measured
def test_the_growth_checks_catch_a_leak_of_one_tensor_a_step(gc_off):
    kept = []
    _, (blocks, _) = growth(lambda: leaky_step(kept), 100, 1_000, blocks_and_rss)
    assert blocks >= 1_000
    with tracing():
        _, grown = growth(lambda: leaky_step(kept), 100, 1_000, traced)
    assert grown >= 1_000 * 100


def test_saved_values_are_freed_as_backward_passes_each_node(gc_off):
    # Each sin saves its input. When the node of step j runs, the inputs saved by the
    # nodes after it (already run) must be gone, and those of the nodes before it kept.
    x = leaf(np.full(1000, 0.5))
    h, saved, seen = x, [], {}

    def note_alive(j):
        def hook(grads):
            seen[j] = [r() is not None for r in saved]
        return hook

    for j in range(20):
        if j:
            saved.append(weakref.ref(h._data))
        h = h.sin()
        h.grad_fn.register_prehook(note_alive(j))
    h.sum().backward()
    for j, alive in seen.items():
        # saved[i] is the input of step i + 1: alive while step i + 1 has not run
        assert alive == [i + 1 <= j for i in range(len(saved))], f"at step {j}"
    assert sorted(seen) == list(range(20))


# ---------------------------------------------------------------- reference cycles

def cycle_garbage(build):
    """Run ``build()`` (which makes a graph and drops it) with the cycle collector off;
    return how many objects the collector then finds unreachable (0: refcounting freed
    everything). A first run fills caches and imports modules, which is not counted."""
    build()
    gc.collect()
    gc.disable()
    try:
        build()
        return gc.collect()
    finally:
        gc.enable()


def mlp_step():
    Trainer().step()


def every_kind_of_hook():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: g * 2)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g + 1)
    y.grad_fn.register_prehook(lambda grads: grads)
    handle = y.grad_fn.register_hook(lambda grads_in, grads_out: None)
    (y * y).sum().backward()
    handle.remove()


class Cube(agx.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        ctx.note = "kept on ctx"
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * g * x ** 2


def custom_function():
    x = leaf([1.0, 2.0])
    Cube.apply(x).sum().backward()


def gradients_of_gradients():
    x = leaf([1.0, 2.0])
    (g,) = agx.autograd.grad((x ** 3).sum(), x, create_graph=True)
    g.sum().backward()


def checkpointed():
    x = leaf(np.ones((3, 4)))
    checkpoint(lambda t: (t.tanh() * 2).sum(), x, use_reentrant=False).backward()


def views_and_in_place_writes():
    x = leaf(np.ones((3, 4)))
    y = x * 2
    y[0] = x[1] * 3
    y.transpose(0, 1)[1:].sum().backward()


def anomaly_mode():
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        mode = agx.autograd.detect_anomaly()
    with mode:
        x = leaf([1.0, 2.0])
        (x.exp() * x).sum().backward()


def graph_dropped_before_backward():
    x = leaf(np.ones(8))
    y = (x.sin() * x).cumsum(0).max()
    del y


CYCLE_FREE = [mlp_step, every_kind_of_hook, custom_function, gradients_of_gradients,
              checkpointed, views_and_in_place_writes, anomaly_mode, graph_dropped_before_backward]


@pytest.mark.parametrize("build", CYCLE_FREE, ids=lambda f: f.__name__.replace("_", "-"))
def test_graphs_leave_nothing_for_the_cycle_collector(build):
    assert cycle_garbage(build) == 0


def test_a_cycle_through_a_hook_is_detected():
    # The check above must be able to fail: a hook that holds its own tensor.
    def cyclic_hook():
        y = leaf([1.0, 2.0]) * 2
        y.register_hook(lambda g, y=y: g)
        y.sum().backward()

    assert cycle_garbage(cyclic_hook) > 0


def builtin_op_calls():
    """``(op, sample)`` for each sample call that the built-in ops give the conformance kit."""
    for op, cases in conformance.plugin_cases("numpy"):
        for sample in cases if isinstance(cases, list) else ():
            yield op, sample


def graph_survives(op, sample):
    """Run ``op`` on ``sample`` in float64 and backward with the graph kept, then drop
    everything: True if one of the outputs or their nodes is still alive."""
    call = conformance._Call(op, sample, 0, np.dtype(np.float64))
    out = call(*call.leaves)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,))
            if isinstance(o, agx.Tensor)]
    refs = [weakref.ref(o) for o in outs] + [weakref.ref(o.grad_fn) for o in outs if o.grad_fn]
    roots = [o for o in outs if o.requires_grad and o.is_floating_point()]
    if roots:
        agx.autograd.backward(roots, [agx.ones_like(o) for o in roots], retain_graph=True)
    del call, out, outs, roots
    return any(r() is not None for r in refs)


def test_every_builtin_op_frees_its_graph_by_reference_counting(gc_off):
    calls = list(builtin_op_calls())
    assert len(calls) > 300
    gc.collect()            # what building the samples left
    survivors = [f"{op.name}({sample.describe()})" for op, sample in calls
                 if graph_survives(op, sample)]
    assert survivors == []
    assert gc.collect() == 0


@pytest.mark.parametrize("use", [
    pytest.param(lambda x, lst: x.exp().sum(dim=lst), id="sum-dim-list"),
    pytest.param(lambda x, lst: x[lst], id="index-list"),
    pytest.param(lambda x, lst: x.permute(lst), id="permute-list"),
])
def test_a_cycle_through_a_parameter_the_caller_keeps_is_collected(use):
    """The list an op was called with comes to hold the result: a cycle through the node's
    parameters, which the collector must see (op nodes are otherwise untracked)."""
    import weakref
    x = agx.ones(4, requires_grad=True)
    refs = []
    for _ in range(10):
        lst = [0]
        y = use(x, lst)
        lst.append(y)
        refs.append(weakref.ref(y.grad_fn))
        del y, lst
    gc.collect()
    assert [r() for r in refs] == [None] * 10


def test_plain_parameters_keep_nodes_out_of_the_collector(gc_off):
    x = agx.ones(2, 3, requires_grad=True)
    assert not gc.is_tracked(x.sum(dim=1, keepdim=True).grad_fn)
    assert not gc.is_tracked(x[0, 1:].grad_fn)
    assert not gc.is_tracked((x * 2).grad_fn)
    assert gc.is_tracked(x.sum(dim=[0]).grad_fn)
