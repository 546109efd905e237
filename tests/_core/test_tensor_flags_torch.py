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
