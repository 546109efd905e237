"""Convolution and pooling against PyTorch, in float32 and float64.

For every case: the forward values (and max pooling's indices), the output
dtype, the gradient of every input (backward with the same random output
gradient) and the name of the ``grad_fn`` must match PyTorch's. Then integer
inputs, ties and NaNs in max pooling, and the errors for bad input.
"""

import numpy as np
import pytest

import autogradx as agx
from helpers import R, err
from torch_compare import (DTYPES, F, assert_close, backward_both, case, compare_input_gradients,
                           random_like, run_both)
from torch_compare import ones as _t

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


def conv2d(**kw):
    return lambda L, x, w, *b: F(L).conv2d(x, w, *b, **kw)


def conv1d(**kw):
    return lambda L, x, w, *b: F(L).conv1d(x, w, *b, **kw)


def conv3d(**kw):
    return lambda L, x, w, *b: F(L).conv3d(x, w, *b, **kw)


def max_pool(**kw):
    return lambda L, x: F(L).max_pool2d(x, **kw)


def max_pool_indices(**kw):
    return lambda L, x: F(L).max_pool2d_with_indices(x, **kw)


def avg_pool(**kw):
    return lambda L, x: F(L).avg_pool2d(x, **kw)


CONV = "ConvolutionBackward0"
MAX = "MaxPool2DWithIndicesBackward0"
AVG = "AvgPool2DBackward0"

CASES = [
    case("conv2d", conv2d(), (R(2, 3, 6, 5), R(4, 3, 3, 2), R(4)), CONV),
    case("conv2d-no-bias", conv2d(), (R(2, 3, 6, 5), R(4, 3, 3, 2)), CONV),
    case("conv2d-stride", conv2d(stride=(2, 3)), (R(2, 2, 7, 8), R(3, 2, 3, 3), R(3)), CONV),
    case("conv2d-padding", conv2d(padding=(2, 1)), (R(2, 2, 4, 5), R(3, 2, 3, 3), R(3)), CONV),
    case("conv2d-valid", conv2d(padding="valid"), (R(1, 2, 4, 5), R(3, 2, 3, 3)), CONV),
    case("conv2d-same-odd", conv2d(padding="same"), (R(2, 2, 5, 5), R(3, 2, 3, 3), R(3)), CONV),
    case("conv2d-same-even", conv2d(padding="same"), (R(1, 2, 5, 6), R(3, 2, 2, 4)), CONV),
    case("conv2d-same-dilation", conv2d(padding="same", dilation=(2, 3)),
         (R(1, 2, 6, 7), R(3, 2, 2, 3)), CONV),
    case("conv2d-dilation", conv2d(dilation=(2, 1)), (R(2, 2, 7, 5), R(3, 2, 3, 2), R(3)), CONV),
    case("conv2d-all", conv2d(stride=2, padding=(1, 2), dilation=(1, 2), groups=2),
         (R(2, 4, 7, 8), R(6, 2, 3, 2), R(6)), CONV),
    case("conv2d-groups", conv2d(groups=3), (R(2, 6, 5, 4), R(6, 2, 2, 2), R(6)), CONV),
    case("conv2d-depthwise", conv2d(groups=4, padding=1), (R(2, 4, 5, 5), R(8, 1, 3, 3)), CONV),
    case("conv2d-1x1", conv2d(), (R(2, 3, 4, 4), R(5, 3, 1, 1), R(5)), CONV),
    case("conv2d-empty-batch", conv2d(padding=1), (R(0, 2, 4, 4), R(3, 2, 3, 3), R(3)), CONV),
    case("conv2d-unbatched", conv2d(padding=1), (R(2, 5, 4), R(3, 2, 3, 3), R(3)),
         "SqueezeBackward1"),
    case("conv1d", conv1d(), (R(2, 3, 7), R(4, 3, 3), R(4)), CONV),
    case("conv1d-all", conv1d(stride=2, padding=1, dilation=2, groups=2),
         (R(2, 4, 9), R(4, 2, 3), R(4)), CONV),
    case("conv1d-same", conv1d(padding="same"), (R(2, 2, 6), R(3, 2, 4)), CONV),
    case("conv1d-unbatched", conv1d(padding=(2,)), (R(3, 6), R(2, 3, 3), R(2)),
         "SqueezeBackward1"),
    case("conv3d", conv3d(stride=(1, 2, 1), padding=1), (R(2, 2, 3, 5, 4), R(3, 2, 2, 3, 2), R(3)),
         CONV),
    case("conv3d-unbatched-groups", conv3d(groups=2), (R(4, 3, 3, 3), R(2, 2, 2, 2, 2)),
         "SqueezeBackward1"),
    # large enough that the input's gradient sums its windows back one kernel offset at a
    # time (the small cases above take the one-scatter path)
    case("conv2d-large", conv2d(stride=(1, 2), padding=1, dilation=(2, 1)),
         (R(2, 8, 20, 21), R(6, 8, 3, 3), R(6)), CONV),
    # max pooling
    case("max_pool2d", max_pool(kernel_size=2), (R(2, 3, 6, 6),), MAX),
    case("max_pool2d-odd", max_pool(kernel_size=2), (R(1, 2, 7, 5),), MAX),
    case("max_pool2d-stride", max_pool(kernel_size=3, stride=(2, 1)), (R(2, 2, 7, 6),), MAX),
    case("max_pool2d-padding", max_pool(kernel_size=(3, 2), padding=(1, 1)), (R(1, 2, 6, 5),),
         MAX),
    case("max_pool2d-dilation", max_pool(kernel_size=2, stride=1, dilation=(2, 3), padding=1),
         (R(1, 2, 6, 7),), MAX),
    case("max_pool2d-ceil_mode", max_pool(kernel_size=3, stride=2, padding=1, ceil_mode=True),
         (R(2, 2, 6, 7),), MAX),
    case("max_pool2d-ceil_mode-dilation", max_pool(kernel_size=2, stride=2, dilation=2,
                                                   ceil_mode=True), (R(1, 2, 6, 7),), MAX),
    case("max_pool2d-unbatched", max_pool(kernel_size=2, stride=1), (R(2, 4, 5),), MAX),
    case("max_pool2d-empty-batch", max_pool(kernel_size=2), (R(0, 2, 4, 4),), MAX),
    case("max_pool2d_with_indices", max_pool_indices(kernel_size=3, stride=2, padding=1),
         (R(2, 2, 6, 7),), MAX),
    case("max_pool2d_with_indices-ceil-unbatched",
         max_pool_indices(kernel_size=2, dilation=2, padding=1, ceil_mode=True), (R(2, 6, 5),),
         MAX),
    case("max_pool2d-stride=[]", max_pool(kernel_size=2, stride=[]), (R(1, 2, 4, 4),), MAX),
    # average pooling
    case("avg_pool2d", avg_pool(kernel_size=2), (R(2, 3, 6, 6),), AVG),
    case("avg_pool2d-stride", avg_pool(kernel_size=3, stride=(2, 1)), (R(2, 2, 7, 6),), AVG),
    *[case(f"avg_pool2d-padding-count_include_pad={cip}",
           avg_pool(kernel_size=3, stride=2, padding=1, count_include_pad=cip),
           (R(1, 2, 6, 7),), AVG) for cip in (True, False)],
    *[case(f"avg_pool2d-ceil_mode-count_include_pad={cip}",
           avg_pool(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=cip),
           (R(2, 2, 6, 7),), AVG) for cip in (True, False)],
    case("avg_pool2d-ceil_mode-no-padding", avg_pool(kernel_size=2, ceil_mode=True),
         (R(1, 2, 5, 5),), AVG),
    case("avg_pool2d-divisor_override", avg_pool(kernel_size=2, padding=1, divisor_override=3),
         (R(1, 2, 5, 4),), AVG),
    case("avg_pool2d-unbatched", avg_pool(kernel_size=(2, 3), stride=1), (R(2, 4, 5),), AVG),
    case("avg_pool2d-large", avg_pool(kernel_size=3, stride=2, padding=1, ceil_mode=True),
         (R(4, 8, 25, 24),), AVG),
]


def _close(a, t, dtype, what):
    assert_close(a, t, what, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, specs, grad_fn", CASES)
def test_values_gradients_and_grad_fn(fn, specs, grad_fn, dtype):
    # PyTorch warns that an even kernel with padding='same' may copy the input
    a_in, t_in, a_out, t_out, rng = run_both(fn, specs, dtype, ignore_torch_warnings=True)
    if isinstance(t_out, tuple):
        assert isinstance(a_out, tuple) and len(a_out) == 2
        assert str(a_out[1].dtype) == "torch.int64" and a_out[1].grad_fn is None
        assert a_out[1].tolist() == t_out[1].tolist(), "indices"
        a_out, t_out = a_out[0], t_out[0]
    assert str(a_out.dtype) == str(t_out.dtype)
    _close(a_out, t_out, dtype, "forward")
    assert t_out.grad_fn.name() == grad_fn, "the case's expected name is PyTorch's"
    assert a_out.grad_fn.name() == grad_fn
    backward_both(a_out, t_out, random_like(rng, t_out, dtype))
    compare_input_gradients(a_in, t_in, lambda a, t, what: _close(a, t, dtype, what),
                            every_input=True)


ALL_INTS = ("int64", "int32", "uint8")

# PyTorch averages int64 only (the others are errors, below); uint8 sums wrap in both.
INTEGER = [
    pytest.param(lambda L, x, w: F(L).conv2d(x, w, padding=1, groups=2), dtype,
                 id=f"conv2d-{dtype}") for dtype in ALL_INTS
] + [
    pytest.param(lambda L, x, w: F(L).max_pool2d_with_indices(x, 2, padding=1), dtype,
                 id=f"max_pool2d-{dtype}") for dtype in ALL_INTS
] + [
    pytest.param(lambda L, x, w: F(L).avg_pool2d(x, 3, stride=2, padding=1), "int64",
                 id="avg_pool2d-int64"),
    pytest.param(lambda L, x, w: F(L).avg_pool2d(-x, 3, stride=2, padding=1,
                                                 count_include_pad=False), "int64",
                 id="avg_pool2d-negative-int64"),
]


@pytest.mark.parametrize("fn, dtype", INTEGER)
def test_integer_inputs(fn, dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 9, (2, 4, 5, 5)).astype(dtype)
    w = rng.integers(0, 3, (2, 2, 2, 2)).astype(dtype)
    t_out = fn(torch, torch.tensor(x), torch.tensor(w))
    a_out = fn(agx, agx.tensor(x), agx.tensor(w))
    for a, t in zip(a_out if isinstance(a_out, tuple) else (a_out,),
                    t_out if isinstance(t_out, tuple) else (t_out,)):
        assert str(a.dtype) == str(t.dtype)
        assert a.grad_fn is None
        assert a.tolist() == t.tolist()


@pytest.mark.parametrize("values", [
    pytest.param([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 2.0, 2.0]], id="ties"),
    pytest.param([[np.nan, 1.0, np.nan], [1.0, np.nan, 0.0], [0.0, 2.0, np.nan]], id="nans"),
    pytest.param([[-np.inf, -np.inf, 0.0], [-np.inf, -np.inf, 1.0], [2.0, -np.inf, -np.inf]],
                 id="minus-inf"),
])
@pytest.mark.parametrize("kw", [dict(kernel_size=2, stride=1),
                                dict(kernel_size=2, stride=1, padding=1),
                                dict(kernel_size=2, stride=1, padding=1, dilation=2)],
                         ids=["plain", "padding", "padding-dilation"])
def test_max_pool_indices_at_ties_nans_and_infinities(values, kw):
    x = np.array([[values]])
    a_in, t_in = agx.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a_out, a_idx = F(agx).max_pool2d_with_indices(a_in, **kw)
    t_out, t_idx = F(torch).max_pool2d_with_indices(t_in, **kw)
    assert a_idx.tolist() == t_idx.tolist()
    np.testing.assert_array_equal(a_out.detach().numpy(), t_out.detach().numpy())
    a_out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_array_equal(a_in.grad.numpy(), t_in.grad.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1),
                                     padding=(1, 1), ceil_mode=True),
                                dict(kernel_size=2)],
                         ids=["padding", "dilation-ceil", "plain"])
# a few hundred windows, and more than _ARGMAX_WINDOWS (another way to the first maximum)
@pytest.mark.parametrize("shape", [(3, 4, 9, 10), (4, 8, 24, 25)], ids=["few", "many"])
def test_max_pool_indices_over_many_windows(dtype, kw, shape):
    """Many windows at once, each with its own mix of ties, NaNs and lowest values: every
    window's index must be PyTorch's (first maximum, last NaN, never the padding)."""
    rng = np.random.default_rng(1)
    x = rng.integers(-2, 2, shape).astype(dtype)     # few values: many ties
    lowest = -np.inf if dtype.startswith("float") else np.iinfo(dtype).min
    x[rng.random(x.shape) < 0.3] = lowest
    if dtype.startswith("float"):
        x[rng.random(x.shape) < 0.05] = np.nan
    a_out, a_idx = F(agx).max_pool2d_with_indices(agx.tensor(x), **kw)
    t_out, t_idx = F(torch).max_pool2d_with_indices(torch.tensor(x), **kw)
    assert a_idx.tolist() == t_idx.tolist()
    np.testing.assert_array_equal(a_out.numpy(), t_out.numpy())


@pytest.mark.parametrize("fn, weights", [(conv2d(padding=1, stride=2), [(4, 3, 3, 3)]),
                                         (max_pool(kernel_size=2), []),
                                         (avg_pool(kernel_size=3, padding=1), [])],
                         ids=["conv2d", "max_pool2d", "avg_pool2d"])
def test_input_not_contiguous(fn, weights):
    """The windows are a view over the input's memory: a transposed input must give
    PyTorch's values and gradients all the same."""
    rng = np.random.default_rng(2)
    values = [rng.standard_normal((2, 3, 6, 7))] + [rng.standard_normal(s) for s in weights]
    a_leaves = [agx.tensor(v, requires_grad=True) for v in values]
    t_leaves = [torch.tensor(v, requires_grad=True) for v in values]
    a_x, t_x = a_leaves[0].transpose(2, 3), t_leaves[0].transpose(2, 3)
    assert not a_x.detach().numpy().flags.c_contiguous
    a_out, t_out = fn(agx, a_x, *a_leaves[1:]), fn(torch, t_x, *t_leaves[1:])
    np.testing.assert_allclose(a_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10)
    a_out.sum().backward()
    t_out.sum().backward()
    for a, t in zip(a_leaves, t_leaves):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-10)


@pytest.mark.xfail(strict=True, raises=NotImplementedError,
                   reason="core: an op has a fixed number of outputs, so max_pool2d cannot "
                          "return (output, indices) for return_indices=True; "
                          "max_pool2d_with_indices does")
def test_max_pool2d_return_indices():
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    a_out, a_idx = F(agx).max_pool2d(agx.tensor(x), 2, return_indices=True)
    t_out, t_idx = F(torch).max_pool2d(torch.tensor(x), 2, return_indices=True)
    assert a_idx.tolist() == t_idx.tolist()


def test_functions_in_the_torch_namespace():
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype("float32")
    w = np.ones((3, 2, 2, 2), "float32")
    np.testing.assert_allclose(agx.conv2d(agx.tensor(x), agx.tensor(w)).numpy(),
                               torch.conv2d(torch.tensor(x), torch.tensor(w)).numpy(), rtol=1e-5)
    np.testing.assert_array_equal(agx.max_pool2d(agx.tensor(x), 2).numpy(),
                                  torch.max_pool2d(torch.tensor(x), 2).numpy())


# ---------------------------------------------------------------- errors

X = (2, 4, 7, 6)


ERRORS = [
    err("conv2d-channels", lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 2, 3, 3)))),
    err("conv2d-groups-channels", lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 2, 2)), groups=3)),
    err("conv2d-groups-out-channels",
        lambda L: F(L).conv2d(_t(L, X), _t(L, (3, 2, 2, 2)), groups=2)),
    err("conv2d-no-out-channels", lambda L: F(L).conv2d(_t(L, X), _t(L, (0, 4, 2, 2)))),
    err("conv2d-bias-size", lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 2, 2)), _t(L, (5,)))),
    err("conv2d-weight-dtype",
        lambda L: F(L).conv2d(_t(L, X, "float64"), _t(L, (6, 4, 2, 2), "float32"))),
    err("conv1d-weight-dtype", lambda L: F(L).conv1d(_t(L, (2, 4)), _t(L, (1, 2, 2), "float64"))),
    err("conv2d-weight-int", lambda L: F(L).conv2d(_t(L, X, "int64"), _t(L, (6, 4, 2, 2)))),
    err("conv2d-bias-dtype",
        lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 2, 2)), _t(L, (6,), "float64"))),
    err("conv2d-bool", lambda L: F(L).conv2d(_t(L, X, "bool"), _t(L, (6, 4, 2, 2), "bool"))),
    err("conv2d-kernel-too-big", lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 9, 2)))),
    err("conv2d-kernel-too-big-dilated",
        lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 3, 2)), dilation=(4, 1))),
    err("conv2d-input-5d", lambda L: F(L).conv2d(_t(L, X + (1,)), _t(L, (6, 4, 2, 2)))),
    err("conv2d-stride-0", lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 2, 2)), stride=0)),
    err("conv2d-negative-padding",
        lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 2, 2)), padding=-1)),
    err("conv2d-dilation-0", lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 2, 2)), dilation=0)),
    err("conv2d-groups-0", lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 2, 2)), groups=0)),
    err("conv2d-stride-3-values",
        lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 2, 2)), stride=(1, 2, 3))),
    err("conv2d-same-strided",
        lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 3, 3)), padding="same", stride=2)),
    err("conv2d-bad-padding-string",
        lambda L: F(L).conv2d(_t(L, X), _t(L, (6, 4, 3, 3)), padding="full")),
    err("max_pool2d-stride-0", lambda L: F(L).max_pool2d(_t(L, X), 2, 0)),
    err("max_pool2d-kernel-0", lambda L: F(L).max_pool2d(_t(L, X), 0, 1)),
    err("max_pool2d-negative-stride", lambda L: F(L).max_pool2d(_t(L, X), 2, -1)),
    err("max_pool2d-dilation-0", lambda L: F(L).max_pool2d(_t(L, X), 3, dilation=0)),
    err("max_pool2d-negative-padding", lambda L: F(L).max_pool2d(_t(L, X), 2, 1, -1)),
    err("max_pool2d-padding-over-half", lambda L: F(L).max_pool2d(_t(L, X), 3, 2, 2)),
    err("max_pool2d-padding-over-half-dilated",
        lambda L: F(L).max_pool2d(_t(L, X), 2, dilation=3, padding=3)),
    err("max_pool2d-padding-over-half-kernel",
        lambda L: F(L).max_pool2d(_t(L, X), 2, dilation=3, padding=2)),
    err("max_pool2d-output-too-small", lambda L: F(L).max_pool2d(_t(L, X), 8)),
    err("max_pool2d-2d-input", lambda L: F(L).max_pool2d(_t(L, (7, 6)), 2)),
    err("max_pool2d-empty-plane", lambda L: F(L).max_pool2d(_t(L, (2, 3, 0, 6)), 2)),
    err("max_pool2d-kernel-3-values", lambda L: F(L).max_pool2d(_t(L, X), (3, 2, 1))),
    err("max_pool2d-bool", lambda L: F(L).max_pool2d(_t(L, X, "bool"), 2)),
    err("avg_pool2d-divisor-0", lambda L: F(L).avg_pool2d(_t(L, X), 3, divisor_override=0)),
    err("avg_pool2d-stride-0", lambda L: F(L).avg_pool2d(_t(L, X), 3, 0)),
    err("avg_pool2d-padding-over-half", lambda L: F(L).avg_pool2d(_t(L, X), 2, padding=2)),
    err("avg_pool2d-output-too-small", lambda L: F(L).avg_pool2d(_t(L, X), 8)),
    err("avg_pool2d-5d-input", lambda L: F(L).avg_pool2d(_t(L, X + (3,)), 2)),
    err("avg_pool2d-bool", lambda L: F(L).avg_pool2d(_t(L, X, "bool"), 2)),
    err("avg_pool2d-int32", lambda L: F(L).avg_pool2d(_t(L, X, "int32"), 2)),
    err("avg_pool2d-empty-channels", lambda L: F(L).avg_pool2d(_t(L, (2, 0, 4, 4)), 2)),
]


@pytest.mark.parametrize("fn", ERRORS)
def test_errors_match_torch(fn):
    with pytest.raises(Exception) as t_err:
        fn(torch)
    with pytest.raises(Exception) as a_err:
        fn(agx)
    assert str(t_err.value).replace("[[", "[").replace("]]", "]") in str(a_err.value)
    assert a_err.type is t_err.type


@pytest.mark.parametrize("call", [
    lambda L, x, w, s: F(L).conv2d(x, w, stride=s),
    lambda L, x, w, s: F(L).max_pool2d(x, s),
    lambda L, x, w, s: F(L).avg_pool2d(x, 2, stride=s),
], ids=["conv2d", "max_pool2d", "avg_pool2d"])
def test_float_in_a_tuple_refused_after_the_int_call(call):
    """The checked arguments are cached, and ``(2.0, 2) == (2, 2)``: once the int call has
    run, the float one must still be refused, as PyTorch refuses it."""
    a_x, a_w = agx.ones(1, 1, 4, 4), agx.ones(1, 1, 2, 2)
    t_x, t_w = torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2)
    call(agx, a_x, a_w, (2, 2))
    with pytest.raises(TypeError):
        call(torch, t_x, t_w, (2.0, 2))
    with pytest.raises(TypeError):
        call(agx, a_x, a_w, (2.0, 2))


# The integer arguments, as PyTorch's argument parser takes them: Python and NumPy integers,
# and tuples or lists of them; a float (even 2.0), a bool, None, a string or a NumPy array
# is a TypeError.
_ARG_VALUES = {
    "float": 1.5, "integral-float": 2.0, "numpy-float": np.float64(2.0), "bool": True,
    "false": False, "none": None, "string": "2", "numpy-array": np.array([2, 2]),
    "float-in-tuple": (2.0, 1), "bool-in-tuple": (True, 1), "numpy-int": np.int64(2),
    "numpy-int32": np.int32(1), "numpy-ints-in-tuple": (np.int64(2), np.int64(1)),
    "list": [2, 1], "one-element-tuple": (2,),
}

_INT_ARG_CALLS = {
    "conv1d": (lambda L, **kw: F(L).conv1d(L.ones(1, 2, 8), L.ones(3, 2, 3), **kw),
               ("stride", "padding", "dilation", "groups")),
    "conv2d": (lambda L, **kw: F(L).conv2d(L.ones(1, 2, 8, 8), L.ones(3, 2, 3, 3), **kw),
               ("stride", "padding", "dilation", "groups")),
    "conv3d": (lambda L, **kw: F(L).conv3d(L.ones(1, 2, 6, 6, 6), L.ones(3, 2, 3, 3, 3), **kw),
               ("stride", "padding", "dilation", "groups")),
    "torch.conv2d": (lambda L, **kw: L.conv2d(L.ones(1, 2, 8, 8), L.ones(3, 2, 3, 3), **kw),
                     ("stride", "padding", "dilation", "groups")),
    "max_pool2d": (lambda L, **kw: F(L).max_pool2d(L.ones(1, 2, 8, 8), **{"kernel_size": 2, **kw}),
                   ("kernel_size", "stride", "padding", "dilation")),
    "max_pool2d_with_indices": (
        lambda L, **kw: F(L).max_pool2d_with_indices(L.ones(1, 2, 8, 8),
                                                     **{"kernel_size": 2, **kw})[0],
        ("kernel_size", "stride", "padding", "dilation")),
    "avg_pool2d": (lambda L, **kw: F(L).avg_pool2d(L.ones(1, 2, 8, 8), **{"kernel_size": 2, **kw}),
                   ("kernel_size", "stride", "padding")),
}


@pytest.mark.parametrize("value", _ARG_VALUES.values(), ids=_ARG_VALUES.keys())
@pytest.mark.parametrize("op, arg", [(op, arg) for op, (_, args) in _INT_ARG_CALLS.items()
                                     for arg in args])
def test_integer_arguments_are_parsed_as_torch_parses_them(op, arg, value):
    call = _INT_ARG_CALLS[op][0]
    try:
        want = call(torch, **{arg: value})
    except Exception as e:      # noqa: BLE001 - the type is what is compared
        with pytest.raises(type(e)) as got:
            call(agx, **{arg: value})
        if isinstance(e, TypeError):
            assert f"argument '{arg}'" in str(got.value) and "must be" in str(got.value)
        return
    np.testing.assert_array_equal(call(agx, **{arg: value}).numpy(), want.numpy())
