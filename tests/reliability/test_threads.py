"""Threads: grad mode per thread, concurrent backward on separate and shared graphs,
and the GIL released while NumPy computes.

The core has no numeric loops of its own: every kernel is a NumPy call, and NumPy
releases the GIL in its ufunc loops (above a few hundred elements) and in BLAS.
"""

import sys
import threading
import time

import numpy as np
import pytest

import autogradx as agx
from autogradx.plugin import Op

N_THREADS = 4


def run_threads(target, n=N_THREADS):
    """Run ``target(i)`` in ``n`` threads that start together; returns the results by i."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def work(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as e:          # re-raised in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


# ---------------------------------------------------------------- grad mode

def test_grad_mode_is_per_thread():
    # Two threads inside their own modes at the same time, as PyTorch's are.
    x = agx.ones(2, requires_grad=True)
    inside = threading.Barrier(2)

    def record(i):
        with agx.set_grad_enabled(i == 1):
            inside.wait()
            seen = agx.is_grad_enabled(), (x * 2).requires_grad
            inside.wait()
        return seen

    assert run_threads(record, 2) == [(False, False), (True, True)]


def test_a_new_thread_starts_with_grad_enabled_whatever_its_parent_does():
    with agx.no_grad():
        (seen,) = run_threads(lambda i: agx.is_grad_enabled(), 1)
    assert seen is True


def test_anomaly_mode_is_seen_by_every_thread():
    # Process-wide, as in PyTorch.
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        mode = agx.autograd.detect_anomaly()
    with mode:
        (seen,) = run_threads(lambda i: agx.is_anomaly_enabled(), 1)
    assert seen is True and not agx.is_anomaly_enabled()


# ---------------------------------------------------------------- concurrent backward

def mlp_gradients(seed, steps=5):
    """The gradients of a 128x256 -> 256 -> 10 network after ``steps`` backward passes."""
    rng = np.random.default_rng(seed)
    x = agx.tensor(rng.standard_normal((128, 256)))
    w1 = agx.tensor(rng.standard_normal((256, 256)) / 16, requires_grad=True)
    w2 = agx.tensor(rng.standard_normal((256, 10)) / 16, requires_grad=True)
    for _ in range(steps):
        ((x @ w1).tanh() @ w2).pow(2).mean().backward()
    return w1.grad.numpy(), w2.grad.numpy()


def test_concurrent_backward_on_separate_graphs_matches_serial_runs():
    serial = [mlp_gradients(seed) for seed in range(N_THREADS)]
    threaded = run_threads(mlp_gradients)
    for one, other in zip(serial, threaded):
        # Bit for bit: BLAS splits a product over the output, never over the sum.
        for a, b in zip(one, other):
            np.testing.assert_array_equal(a, b)


def test_concurrent_backward_through_one_shared_graph():
    rng = np.random.default_rng(0)
    w = agx.tensor(rng.standard_normal((8, 3)), requires_grad=True)
    loss = (agx.tensor(rng.standard_normal((5, 8))) @ w).tanh().sum()
    loss.backward(retain_graph=True)
    once = w.grad.numpy().copy()
    w.grad = None
    calls = 50

    def backward_many(i):
        for _ in range(calls):
            loss.backward(retain_graph=True)

    run_threads(backward_many)
    np.testing.assert_allclose(w.grad.numpy(), N_THREADS * calls * once, rtol=1e-12)


def test_concurrent_backward_into_a_large_shared_leaf_counts_every_gradient():
    x = agx.tensor(np.ones(200_000), requires_grad=True)
    calls = 25

    def backward_many(i):
        for _ in range(calls):
            (x * 2.0).sum().backward()

    run_threads(backward_many)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(x.shape, 2.0 * N_THREADS * calls))


# ---------------------------------------------------------------- the GIL

class Counter:
    """A pure-Python thread that counts while it holds the GIL, and gives the GIL up
    after each count. With a long switch interval, a thread that computes while
    holding the GIL never lets it run, so the count only moves while the other
    thread has released the GIL."""

    def __init__(self):
        self.count = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run)

    def run(self):
        while not self.stop:
            self.count += 1
            time.sleep(0)

    def __enter__(self):
        self.interval = sys.getswitchinterval()
        sys.setswitchinterval(30.0)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()
        sys.setswitchinterval(self.interval)


def counts_during(fn):
    """How far a :class:`Counter` got while ``fn()`` ran in this thread."""
    with Counter() as counter:
        before = counter.count
        fn()
        return counter.count - before


def large_backward():
    rng = np.random.default_rng(0)
    x = agx.tensor(rng.standard_normal((512, 512)))
    w = agx.tensor(rng.standard_normal((512, 512)) / 32, requires_grad=True)
    h = x
    for _ in range(8):
        h = (h @ w).tanh()
    loss = h.sum()
    return lambda: loss.backward()


def test_the_counter_moves_while_another_thread_is_in_a_long_backward():
    assert counts_during(large_backward()) > 0


def test_the_counter_stands_still_while_a_kernel_holds_the_gil():
    # The check above must be able to fail: a vjp that computes in pure Python
    # holds the GIL all along.
    def slow_double(xp, g):
        total = 0
        for i in range(300_000):
            total += i
        return g * 2

    op = Op("reliability_gil_holder", lambda xp, x: x * 2, vjp=slow_double)
    loss = op(agx.ones(3, requires_grad=True)).sum()
    assert counts_during(lambda: loss.backward()) == 0
