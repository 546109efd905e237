"""Deep, wide and reused graphs: no recursion, no crash, every gradient counted.

Sizes are those of the suite; ``AUTOGRADX_LONG_CHECKS=1`` runs a chain of a
million ops and a node with a million consumers (see conftest.py).
"""

import sys
import weakref

import numpy as np
import pytest

import autogradx as agx
from helpers import leaf


class low_recursion_limit:
    """Run a block with Python's recursion limit at 100: a recursive backward or
    teardown of a deep graph would raise RecursionError (or crash the C stack)."""

    def __enter__(self):
        self.limit = sys.getrecursionlimit()
        sys.setrecursionlimit(100)

    def __exit__(self, *exc):
        sys.setrecursionlimit(self.limit)


def chain(x, depth):
    """``depth`` ops in a line from ``x``: a product that saves its input, a view, a
    negation, in turn. The gradient of the end with respect to ``x`` is -1 per negation."""
    h = x
    for i in range(depth):
        step = i % 3
        h = h * 1.0 if step == 0 else h.reshape(1) if step == 1 else -h
    return h


@pytest.mark.parametrize("backward", [True, False], ids=["backward-then-teardown",
                                                          "teardown-with-saved-values"])
def test_deep_chain_runs_and_dies_without_recursion(gc_off, size, backward):
    depth = size(100_000, 1_000_000)
    x = leaf([0.5])
    h = chain(x, depth)
    first = weakref.ref(h.grad_fn)
    with low_recursion_limit():
        if backward:
            h.backward()
        del h
    assert first() is None
    if backward:
        np.testing.assert_array_equal(x.grad.numpy(), [(-1.0) ** (depth // 3)])
    else:
        assert x.grad is None


def test_a_node_with_many_consumers(gc_off, size):
    # h's node feeds n products, and stack's node takes n inputs: both are n wide.
    n = size(100_000, 1_000_000)
    x = leaf([1.0, 2.0])
    h = x * 1.0
    node = weakref.ref(h.grad_fn)
    total = agx.stack([h * float(i) for i in range(n)]).sum()
    del h
    with low_recursion_limit():
        total.backward()
        del total
    assert node() is None
    # d/dx of sum_i i * x is sum_i i, an integer that float64 holds exactly
    np.testing.assert_array_equal(x.grad.numpy(), [n * (n - 1) / 2] * 2)


def test_a_graph_reused_across_many_backward_calls(size):
    calls = size(1_000, 10_000)
    rng = np.random.default_rng(0)
    x = agx.tensor(rng.standard_normal((4, 3)))
    w, b = leaf(rng.standard_normal((3, 5))), leaf(rng.standard_normal(5))
    loss = ((x @ w + b).tanh() ** 2).mean()
    loss.backward(retain_graph=True)
    once = w.grad.numpy().copy(), b.grad.numpy().copy()
    for _ in range(calls - 1):
        loss.backward(retain_graph=True)
    np.testing.assert_allclose(w.grad.numpy(), calls * once[0], rtol=1e-9)
    np.testing.assert_allclose(b.grad.numpy(), calls * once[1], rtol=1e-9)
    loss.backward()                                 # the last call frees the saved values
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
