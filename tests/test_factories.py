"""Factories checked against torch: those whose arguments PyTorch reads in more than one
way, and the random factories with a complex dtype, which draw the real and imaginary parts
independently (``randn``'s each with variance 1/2, a unit-variance complex normal;
``rand``'s each uniform on [0, 1))."""

import numpy as np
import pytest

import autogradx as agx


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.torch
@pytest.mark.parametrize("args, kwargs, bounds", [
    ((5, (3, 4)), {}, (0, 5)),                  # randint(high, size)
    ((5, [2]), {}, (0, 5)),
    ((2, 7, (3,)), {}, (2, 7)),                 # randint(low, high, size)
    ((5,), {"size": (2, 2)}, (0, 5)),           # randint(high, size=)
    ((1, 3), {"size": (4,)}, (1, 3)),
    ((5, (3,)), {"dtype": "int32"}, (0, 5)),
], ids=str)
def test_randint_reads_its_arguments_as_torch_does(torch, args, kwargs, bounds):
    def call(lib):
        return lib.randint(*args, **{k: getattr(lib, v) if k == "dtype" else v
                                     for k, v in kwargs.items()})

    ours, theirs = call(agx), call(torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype)
    values = ours.numpy()
    assert ((values >= bounds[0]) & (values < bounds[1])).all()


LEGACY = [(), (2, 3), ("size",), ((2, 3),), ([1, 2],), (5,), (0,)]


def _legacy_args(lib, args):
    return tuple(lib.Size([2, 3]) if a == "size" else a for a in args)


@pytest.mark.torch
@pytest.mark.parametrize("args", LEGACY, ids=str)
def test_legacy_constructor_reads_sizes_and_data_as_torch_does(torch, args):
    ours, theirs = agx.Tensor(*_legacy_args(agx, args)), torch.Tensor(*_legacy_args(torch, args))
    assert tuple(ours.shape) == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype)
    if args and isinstance(args[0], (tuple, list)):
        assert ours.tolist() == theirs.tolist()


@pytest.mark.torch
@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
@pytest.mark.parametrize("args", LEGACY, ids=str)
def test_new_keeps_the_dtype_as_torch_does(torch, args, dtype):
    def new(lib):
        x = lib.ones(2, dtype=getattr(lib, dtype), requires_grad=dtype == "float64")
        return x.new(*_legacy_args(lib, args))

    ours, theirs = new(agx), new(torch)
    assert tuple(ours.shape) == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype)
    assert not ours.requires_grad and ours.is_leaf
    if args and isinstance(args[0], (tuple, list)):
        assert ours.tolist() == theirs.tolist()


N = 200_000


@pytest.mark.torch
@pytest.mark.parametrize("factory", ["rand", "randn"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_random_parts_are_distributed_as_torch_draws_them(torch, factory, dtype):
    agx.manual_seed(0)
    torch.manual_seed(0)
    ours = getattr(agx, factory)(N, dtype=getattr(agx, dtype)).detach().numpy()
    theirs = getattr(torch, factory)(N, dtype=getattr(torch, dtype)).numpy()
    assert ours.dtype == theirs.dtype
    for part in (np.real, np.imag):
        # The statistics of N draws: means within 5 standard errors, variances within 2%.
        mine, ref = part(ours), part(theirs)
        assert abs(mine.mean() - ref.mean()) < 5 * np.sqrt(ref.var() / N) * 2
        assert mine.var() == pytest.approx(ref.var(), rel=0.02)
        assert (mine.min() >= 0) == (ref.min() >= 0)
    # The parts are drawn independently.
    assert abs(np.corrcoef(ours.real, ours.imag)[0, 1]) < 0.02


def test_real_dtypes_are_drawn_as_before():
    agx.manual_seed(3)
    a = agx.randn(4, dtype=agx.float16)
    agx.manual_seed(3)
    b = agx.randn(4, dtype=agx.float32)
    assert a.dtype == agx.float16
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy().astype(np.float16))
