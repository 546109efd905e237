"""Tensor attributes whose rules PyTorch code relies on, compared with torch:
``numpy()`` under ``no_grad``, ``requires_grad_()`` and ``requires_grad =`` on a non-leaf,
and ``del x.grad``."""

import numpy as np
import pytest

import autogradx as agx
from torch_compare import error_of

torch = pytest.importorskip("torch")


def test_numpy_of_a_tensor_that_requires_grad_is_allowed_under_no_grad():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        refused = error_of(x.numpy), error_of(lambda: np.asarray(y))
        with lib.no_grad():
            allowed = x.numpy().tolist(), np.asarray(y).tolist()
        return refused, allowed

    got, expected = run(agx), run(torch)
    assert got == expected and None not in expected[0]


def test_numpy_under_no_grad_shares_memory():
    x = agx.tensor([1.0, 2.0], requires_grad=True)
    with agx.no_grad():
        a = x.numpy()
    a[0] = 5.0
    assert x.detach().tolist() == [5.0, 2.0]


@pytest.mark.parametrize("how", ["method-True", "method-False", "attr-True", "attr-False"])
def test_requires_grad_on_a_non_leaf(how):
    def run(lib):
        y = lib.tensor([1.0], requires_grad=True) * 2
        value = how.endswith("True")

        def change():
            if how.startswith("method"):
                assert y.requires_grad_(value) is y
            else:
                y.requires_grad = value
        return error_of(change), y.requires_grad, y.is_leaf

    assert run(agx) == run(torch)


def test_requires_grad_on_a_leaf_still_switches_both_ways():
    def run(lib):
        x = lib.ones(2)
        states = [x.requires_grad_().requires_grad, x.requires_grad_(False).requires_grad]
        return states, error_of(lambda: lib.arange(3).requires_grad_())[0]

    assert run(agx) == run(torch)


def test_del_grad_sets_it_to_none():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * 3).sum().backward()
        before = x.grad.tolist()
        del x.grad
        after = x.grad
        (x * 3).sum().backward()         # accumulates afresh
        return before, after, x.grad.tolist()

    assert run(agx) == run(torch)


def _grad_dtype_steps(lib):
    """grad_dtype read and set on a leaf and a non-leaf, and .grad assigned under it: each
    step's result or error."""
    steps = []

    def step(fn):
        err = error_of(fn)
        steps.append(err if err is not None else repr(fn()))

    leaf = lib.tensor([1.0, 2.0], requires_grad=True)
    step(lambda: leaf.grad_dtype)
    step(lambda: lib.tensor([1, 2]).grad_dtype)
    step(lambda: (leaf * 2).grad_dtype)
    step(lambda: setattr(leaf * 2, "grad_dtype", lib.float16))
    step(lambda: setattr(leaf, "grad_dtype", "float16"))
    leaf.grad_dtype = lib.float16
    step(lambda: leaf.grad_dtype)
    step(lambda: setattr(leaf, "grad", lib.tensor([1.0, 1.0])))
    step(lambda: setattr(lib.tensor([1.0], requires_grad=True), "grad",
                         lib.tensor([1.0], dtype=lib.float64)))
    leaf.grad_dtype = None
    step(lambda: leaf.grad_dtype)
    leaf.grad = lib.tensor([1.0, 1.0], dtype=lib.float64)
    step(lambda: setattr(leaf, "grad_dtype", lib.float16))
    return steps


def test_grad_dtype_and_its_errors_are_torchs():
    assert _grad_dtype_steps(agx) == _grad_dtype_steps(torch)


@pytest.mark.parametrize("grad_dtype", ["default", None, "float16", "float64"])
def test_backward_casts_gradients_to_the_leafs_grad_dtype(grad_dtype):
    def run(lib):
        class ToDouble(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g.to(lib.float64) * 2

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        if grad_dtype != "default":
            x.grad_dtype = None if grad_dtype is None else getattr(lib, grad_dtype)
        ToDouble.apply(x).sum().backward()
        ToDouble.apply(x).sum().backward()      # accumulated in that dtype
        return str(x.grad.dtype), x.grad.tolist()

    assert run(agx) == run(torch)
