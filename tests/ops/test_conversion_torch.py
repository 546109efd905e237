"""``Tensor.uniform_`` and ``Tensor.normal_`` (ops/conversion.py) against PyTorch: the same
distributions (the streams differ), grad_fn names, zero gradients, dtypes and refusals."""

import re

import numpy as np
import pytest

import autogradx as agx
from torch_compare import assert_raises_like_torch, node_name

torch = pytest.importorskip("torch")

N = 100_000
FILLS = [("uniform_", (), {}), ("uniform_", (-2.0, 3.0), {}), ("uniform_", (), {"to": 5.0}),
         ("normal_", (), {}), ("normal_", (1.5, 0.5), {}), ("normal_", (), {"std": 3.0})]


def _drawn(lib, method, args, kwargs, dtype):
    lib.manual_seed(0)
    out = getattr(lib.zeros(N, dtype=getattr(lib, dtype)), method)(*args, **kwargs)
    return out.numpy()


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
@pytest.mark.parametrize("method, args, kwargs", FILLS)
def test_values_are_distributed_as_torch_draws_them(method, args, kwargs, dtype):
    ours = _drawn(agx, method, args, kwargs, dtype)
    theirs = _drawn(torch, method, args, kwargs, dtype)
    assert ours.dtype == theirs.dtype
    for part in (np.real, np.imag) if ours.dtype.kind == "c" else (np.real,):
        mine, ref = part(ours), part(theirs)
        spread = np.sqrt(ref.var() / N)
        assert abs(mine.mean() - ref.mean()) < 10 * spread
        assert mine.var() == pytest.approx(ref.var(), rel=0.03)
        if method == "uniform_":
            low, high = ref.min(), ref.max()
            assert mine.min() >= np.floor(low) and mine.max() <= np.ceil(high)


@pytest.mark.parametrize("method, grad_fn", [("uniform_", "UniformBackward0"),
                                             ("normal_", "NormalBackward0")])
def test_in_a_graph_the_gradient_is_zero_as_in_torch(method, grad_fn):
    grads = []
    for lib in (agx, torch):
        leaf = lib.ones(3, requires_grad=True)
        y = leaf * 2
        getattr(y, method)()
        assert node_name(y.grad_fn) == grad_fn
        (y + leaf).sum().backward()
        grads.append(leaf.grad.numpy())
        assert y._version == 1
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(2, dtype=lib.int64).uniform_(),
    lambda lib: lib.zeros(2, dtype=lib.bool).normal_(),
    lambda lib: lib.zeros(2).uniform_(2.0, 1.0),
    lambda lib: lib.zeros(2).normal_(0.0, -1.0),
    lambda lib: lib.zeros(2, requires_grad=True).uniform_(),
], ids=["int uniform_", "bool normal_", "from > to", "negative std", "leaf requiring grad"])
def test_refusals_are_torch_s(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    assert_raises_like_torch(call, re.escape(str(theirs.value)))


def test_the_generator_makes_the_draws_reproducible():
    a = agx.zeros(5).normal_(generator=agx.Generator().manual_seed(7))
    b = agx.zeros(5).normal_(generator=agx.Generator().manual_seed(7))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
