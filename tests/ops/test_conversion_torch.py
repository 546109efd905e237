"""``Tensor.uniform_``, ``Tensor.normal_``, ``bernoulli`` and ``Tensor.bernoulli_``
(ops/conversion.py) against PyTorch: the same distributions (the streams differ), grad_fn
names, zero gradients, dtypes and refusals."""

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


# -- bernoulli ----------------------------------------------------------------------------

BERNOULLI = [
    ("bernoulli", lambda lib, p: lib.bernoulli(p)),
    ("bernoulli-p", lambda lib, p: lib.bernoulli(lib.zeros(N, dtype=lib.float64), 0.3)),
    ("method", lambda lib, p: p.bernoulli()),
    ("bernoulli_", lambda lib, p: lib.zeros(N, dtype=lib.int32).bernoulli_()),
    ("bernoulli_-float", lambda lib, p: lib.zeros(N, dtype=lib.bool).bernoulli_(0.8)),
    ("bernoulli_-tensor", lambda lib, p: lib.zeros(2, N // 2).bernoulli_(p[:N // 2])),
]


@pytest.mark.parametrize("call", [c for _, c in BERNOULLI], ids=[n for n, _ in BERNOULLI])
def test_bernoulli_draws_as_torch_draws(call):
    probabilities = np.random.default_rng(1).random(N)    # not the stream seed 0 draws

    outs = []
    for lib in (agx, torch):
        lib.manual_seed(0)
        out = call(lib, lib.tensor(probabilities))
        outs.append((str(out.dtype).rpartition(".")[2], tuple(out.shape),
                     out.numpy().astype(np.float64).reshape(-1, N)))
    (ours_dtype, ours_shape, ours), (theirs_dtype, theirs_shape, theirs) = outs
    assert (ours_dtype, ours_shape) == (theirs_dtype, theirs_shape)
    assert set(np.unique(ours)) <= {0.0, 1.0}
    # Each row's mean, and where the probabilities vary, that the ones follow them.
    np.testing.assert_allclose(ours.mean(axis=1), theirs.mean(axis=1), atol=0.01)
    high = probabilities > 0.5
    np.testing.assert_allclose(ours[:, high].mean(), theirs[:, high].mean(), atol=0.01)


def _bernoulli_graph(lib, which):
    x = lib.full((3,), 0.5, dtype=lib.float64, requires_grad=True)
    p = lib.full((3,), 0.5, dtype=lib.float64, requires_grad=True)
    if which == "bernoulli":
        y = lib.bernoulli(x)
    elif which == "bernoulli_-tensor":
        y = (x * 1).bernoulli_(p)
    else:
        y = (x * 1).bernoulli_(0.5)
    (y + x + p).sum().backward()
    return node_name(y.grad_fn), x.grad.numpy().tolist(), p.grad.numpy().tolist()


@pytest.mark.parametrize("which", ["bernoulli", "bernoulli_-tensor", "bernoulli_-float"])
def test_bernoulli_in_a_graph_passes_zero_gradients_as_torch(which):
    assert _bernoulli_graph(agx, which) == _bernoulli_graph(torch, which)


@pytest.mark.parametrize("call", [
    lambda lib: lib.bernoulli(lib.tensor([True, False])),
    lambda lib: lib.bernoulli(lib.ones(3, dtype=lib.int64)),
    lambda lib: lib.bernoulli(lib.ones(3) * 2),
    lambda lib: lib.bernoulli(lib.ones(2, dtype=lib.complex64)),
    lambda lib: lib.bernoulli(lib.ones(3), 1.5),
    lambda lib: lib.zeros(3).bernoulli_(-0.1),
    lambda lib: lib.zeros(3).bernoulli_(lib.ones(3, dtype=lib.int64)),
    lambda lib: lib.zeros(2, 3).bernoulli_(lib.rand(4)),
    lambda lib: lib.zeros(3, requires_grad=True).bernoulli_(),
    lambda lib: lib.bernoulli(lib.ones(3, requires_grad=True), 0.5).sum().backward(),
], ids=["bool", "int", "p > 1", "complex", "p-float > 1", "p_ < 0", "int p_", "p_ shape",
        "leaf requiring grad", "backward with p"])
def test_bernoulli_refusals_are_torch_s(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    assert_raises_like_torch(call, re.escape(str(theirs.value)))
