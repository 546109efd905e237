"""The activations and nn.functional basics against PyTorch, in float32 and float64: values,
output dtype, the gradient of every input (same random output gradient) and the grad_fn
name; then integer inputs and the errors (same exception type, a message naming the problem).
"""

import re

import numpy as np
import pytest

import autogradx as agx
from helpers import I, K, R, W, err
from torch_compare import (DTYPES, F, assert_close, assert_raises_like_torch, backward_both, case,
                           compare_input_gradients, node_name, random_like, run_both)
from torch_compare import ones as _t

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


# A case's ``grad_fn`` is PyTorch's node name, or (PyTorch's, autogradx's) where they
# differ on purpose (see autogradx/ops/activations.py).
CASES = [
    case("leaky_relu", lambda L, x: F(L).leaky_relu(x), (R(2, 3),), "LeakyReluBackward0"),
    case("leaky_relu-slope", lambda L, x: F(L).leaky_relu(x, 0.3), (R(5),), "LeakyReluBackward0"),
    case("threshold", lambda L, x: F(L).threshold(x, 0.1, -2.0), (R(2, 3),), "ThresholdBackward0"),
    case("threshold-top-level", lambda L, x: L.threshold(x, -0.5, 4.0), (R(5),),
         "ThresholdBackward0"),
    case("elu", lambda L, x: F(L).elu(x), (W(2, 5),), "EluBackward0"),
    case("elu-alpha", lambda L, x: F(L).elu(x, alpha=0.4), (R(3),), "EluBackward0"),
    case("gelu", lambda L, x: F(L).gelu(x), (W(4, 5),), "GeluBackward0"),
    case("gelu-small", lambda L, x: F(L).gelu(x), (R(2, 3),), "GeluBackward0"),
    case("gelu-tanh", lambda L, x: F(L).gelu(x, approximate="tanh"), (W(3, 4),), "GeluBackward0"),
    case("silu", lambda L, x: F(L).silu(x), (W(3, 4),), "SiluBackward0"),
    case("softplus", lambda L, x: F(L).softplus(x), (W(3, 4),), "SoftplusBackward0"),
    case("softplus-beta-threshold", lambda L, x: F(L).softplus(x, 2, 1), (R(3, 4),),
         "SoftplusBackward0"),
    *[case(f"{f}-dim{d}", lambda L, x, f=f, d=d: getattr(F(L), f)(x, d), (R(2, 3, 4),),
           name)
      for f, name in (("softmax", "SoftmaxBackward0"), ("log_softmax", "LogSoftmaxBackward0"))
      for d in (0, -1)],
    case("softmax-wide", lambda L, x: F(L).softmax(x, 0), (W(6),), "SoftmaxBackward0"),
    case("softmax-0d", lambda L, x: F(L).softmax(x, 0), (R(),), "SoftmaxBackward0"),
    case("softmax-top-level-dtype", lambda L, x: L.softmax(x, 1, L.float64), (R(2, 3),),
         "SoftmaxBackward0"),
    case("softmax-method", lambda L, x: x.softmax(-1), (R(2, 3),), "SoftmaxBackward0"),
    case("log_softmax-method-dtype", lambda L, x: x.log_softmax(0, dtype=L.float32), (R(3, 2),),
         "LogSoftmaxBackward0"),
    case("log_softmax-wide", lambda L, x: F(L).log_softmax(x, 1), (W(2, 6),),
         "LogSoftmaxBackward0"),
    # PyTorch returns the input itself (here made by a mul), autogradx a view of it.
    case("dropout-eval", lambda L, x: F(L).dropout(x * 1, training=False), (R(2, 3),),
         ("MulBackward0", "AliasBackward0")),
    case("dropout-p1", lambda L, x: F(L).dropout(x, 1.0), (R(2, 3),), "MulBackward0"),
    case("linear", lambda L, x, w, b: F(L).linear(x, w, b), (R(3, 4), R(5, 4), R(5)),
         "AddmmBackward0"),
    case("linear-no-bias", lambda L, x, w: F(L).linear(x, w), (R(3, 4), R(5, 4)), "MmBackward0"),
    case("linear-1d", lambda L, x, w, b: F(L).linear(x, w, b), (R(4), R(5, 4), R(5)),
         "ViewBackward0"),
    case("linear-1d-no-bias", lambda L, x, w: F(L).linear(x, w), (R(4), R(5, 4)),
         "SqueezeBackward4"),
    case("linear-3d", lambda L, x, w, b: F(L).linear(x, w, b), (R(2, 3, 4), R(5, 4), R(5)),
         "ViewBackward0"),
    case("linear-3d-no-bias", lambda L, x, w: F(L).linear(x, w), (R(2, 3, 4), R(5, 4)),
         "UnsafeViewBackward0"),
    case("linear-1d-weight", lambda L, x, w: F(L).linear(x, w), (R(3, 4), R(4)), "MvBackward0"),
    case("linear-const-input", lambda L, x, w, b: F(L).linear(x, w, b),
         (K(R(3, 4)), R(2, 4), R(1)), "AddmmBackward0"),
    case("pad", lambda L, x: F(L).pad(x, (1, 2)), (R(2, 3),), "ConstantPadNdBackward0"),
    case("pad-value-crop", lambda L, x: F(L).pad(x, (1, -1, 2, 0, -1, 1), value=-2.5),
         (R(2, 3, 4),), "ConstantPadNdBackward0"),
    case("pad-reflect-1d", lambda L, x: F(L).pad(x, (2, 1), mode="reflect"), (R(2, 3, 4),),
         "ReflectionPad1DBackward0"),
    case("pad-reflect-2d", lambda L, x: F(L).pad(x, (2, 1, 0, 2), mode="reflect"),
         (R(2, 3, 4),), "ReflectionPad2DBackward0"),
    case("pad-reflect-3d", lambda L, x: F(L).pad(x, (1, 1, 1, 0, 0, 1), mode="reflect"),
         (R(2, 3, 3, 3),), "ReflectionPad3DBackward0"),
    case("pad-replicate-1d", lambda L, x: F(L).pad(x, (3, 1), mode="replicate"), (R(2, 3),),
         "ReplicationPad1DBackward0"),
    case("pad-replicate-2d", lambda L, x: F(L).pad(x, (1, 2, 2, 1), mode="replicate"),
         (R(1, 2, 3, 4),), "ReplicationPad2DBackward0"),
    case("pad-circular", lambda L, x: F(L).pad(x, (1, 2, 2, 1), mode="circular"),
         (R(2, 3, 4),), "torch::autograd::CopySlices"),
    case("layer_norm", lambda L, x: F(L).layer_norm(x, (4,)), (R(3, 4),),
         "NativeLayerNormBackward0"),
    case("layer_norm-affine", lambda L, x, w, b: F(L).layer_norm(x, [3, 4], w, b, 1e-3),
         (R(2, 3, 4), R(3, 4), R(3, 4)), "NativeLayerNormBackward0"),
    case("layer_norm-weight-keyword", lambda L, x, w: F(L).layer_norm(x, (3,), weight=w),
         (R(4, 3), R(3)), "NativeLayerNormBackward0"),
    case("embedding", lambda L, i, w: F(L).embedding(i, w), (I([[1, 2, 1], [0, 4, 1]]), R(5, 3)),
         "EmbeddingBackward0"),
    case("embedding-padding", lambda L, i, w: F(L).embedding(i, w, padding_idx=-4),
         (I([1, 2, 1, 0]), R(5, 3)), "EmbeddingBackward0"),
    case("embedding-freq", lambda L, i, w: F(L).embedding(i, w, scale_grad_by_freq=True),
         (I([[1, 2], [1, 1]]), R(3, 2)), "EmbeddingBackward0"),
]


def _close(a, t, what):
    """Tolerances of ``t``'s dtype."""
    assert_close(a, t, what, **TOL[str(t.dtype)[len("torch."):]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, specs, grad_fn", CASES)
def test_against_torch(fn, specs, grad_fn, dtype):
    a_in, t_in, a, t, rng = run_both(fn, specs, dtype)
    assert str(a.dtype) == str(t.dtype)
    _close(a, t, "forward")
    torch_name, name = grad_fn if isinstance(grad_fn, tuple) else (grad_fn, grad_fn)
    assert t.grad_fn.name() == torch_name, "the case's expected name is PyTorch's"
    assert a.grad_fn.name() == name
    backward_both(a, t, random_like(rng, t))
    compare_input_gradients(a_in, t_in, _close)


def test_dropout_in_training_is_a_mul_node():
    a = agx.nn.functional.dropout(agx.ones(3, requires_grad=True) * 1, 0.5)
    t = torch.nn.functional.dropout(torch.ones(3, requires_grad=True) * 1, 0.5)
    assert a.grad_fn.name() == t.grad_fn.name() == "MulBackward0"


def _graph(fn):
    """A node and the nodes behind it, by name, as nested tuples (None: no gradient)."""
    if fn is None:
        return None
    name = node_name(fn)
    return (name,) if name == "AccumulateGrad" else (
        name, *(_graph(f) for f, _ in fn.next_functions))


@pytest.mark.parametrize("x, w, b", [
    (R(3, 4), R(5, 4), R(5)), (R(4), R(5, 4), R(5)), (R(2, 3, 4), R(5, 4), R(5)),
    (R(2, 2, 3, 4), R(5, 4), R(5)), (R(2, 3, 4), R(5, 4), R(1)), (R(3, 4), R(2, 4), R()),
    (R(3, 4), R(5, 4), None), (K(R(3, 4)), R(5, 4), R(5)), (K(R(2, 3, 4)), R(5, 4), R(5)),
], ids=["2d", "1d", "3d", "4d", "3d-bias-1", "0d-bias", "2d-no-bias", "const-2d",
        "const-3d"])
def test_linear_records_pytorchs_nodes(x, w, b):
    """Node for node as PyTorch's linear (addmm of the bias, the input and a TBackward0 of
    the weight; a folded input viewed back). (matmul, which linear calls without a bias or on
    an input it cannot fold, is one node where PyTorch's batched and 1-D products are several.)"""
    specs = (x, w) if b is None else (x, w, b)
    a_in, t_in, a, t, rng = run_both(lambda L, *args: F(L).linear(*args), specs, "float64")
    assert _graph(a.grad_fn) == _graph(t.grad_fn)
    _close(a, t, "forward")
    backward_both(a, t, random_like(rng, t))
    compare_input_gradients(a_in, t_in, _close)


def test_linear_of_a_transposed_input_adds_the_bias_in_place():
    """A non-contiguous input of 3 dims: matmul, then the bias added (AddBackward0)."""
    x = agx.ones(2, 4, 3).transpose(1, 2)
    out = agx.nn.functional.linear(x, agx.ones(5, 4, requires_grad=True),
                                   agx.ones(5, requires_grad=True))
    xt = torch.ones(2, 4, 3).transpose(1, 2)
    ref = torch.nn.functional.linear(xt, torch.ones(5, 4, requires_grad=True),
                                     torch.ones(5, requires_grad=True))
    assert node_name(out.grad_fn) == node_name(ref.grad_fn) == "AddBackward0"
    assert [node_name(f) for f, _ in out.grad_fn.next_functions] == \
        [node_name(f) for f, _ in ref.grad_fn.next_functions]


@pytest.mark.parametrize("make", [
    # the fuzzer's finds, before linear was composed as PyTorch's: a 0-d float32 bias added
    # in place to a float64 product; a bool input with a float64 bias, refused by addmm
    lambda L: F(L).linear(L.tensor([0.5], dtype=L.float64), L.tensor([[0.3]], dtype=L.float64),
                          L.tensor(0.2, dtype=L.float32)),
    lambda L: F(L).linear(L.tensor([True]), L.tensor([[True]]),
                          L.tensor([0.5], dtype=L.float64)),
], ids=["float32-0d-bias", "bool-input-float64-bias"])
def test_linear_of_mixed_dtypes_as_torch(make):
    try:
        expected = make(torch)
    except RuntimeError as e:
        with pytest.raises(RuntimeError, match=re.escape(str(e))):
            make(agx)
    else:
        out = make(agx)
        assert str(out.dtype) == str(expected.dtype)
        np.testing.assert_allclose(out.numpy(), expected.numpy())


INTEGER_CASES = [
    pytest.param(lambda L, x: F(L).one_hot(x), [[0, 3], [2, 2]], id="one_hot"),
    pytest.param(lambda L, x: F(L).one_hot(x, 5), [1, 0, 4], id="one_hot-num_classes"),
    pytest.param(lambda L, x: F(L).one_hot(input=x, num_classes=3), 2, id="one_hot-0d"),
    pytest.param(lambda L, x: F(L).pad(x, (1, 1), value=2.5), [[1, 2], [3, 4]],
                 id="pad-int-float-value"),
    pytest.param(lambda L, x: F(L).pad(x, (1, 1), mode="reflect"), [[1, 2, 3]],
                 id="pad-reflect-int"),
    pytest.param(lambda L, x: F(L).pad(x > 1, (1, 0), value=1), [[1, 2], [3, 4]],
                 id="pad-bool"),
    pytest.param(lambda L, x: F(L).linear(x, x), [[1, 2], [3, 4]], id="linear-int"),
    pytest.param(lambda L, x: F(L).dropout(x, training=False), [1, 2], id="dropout-eval-int"),
    pytest.param(lambda L, x: F(L).softmax(x, 0, dtype=L.float64), [1, 2, 3],
                 id="softmax-int-with-dtype"),
]


@pytest.mark.parametrize("fn, values", INTEGER_CASES)
def test_integer_inputs(fn, values):
    a = fn(agx, agx.tensor(values))
    t = fn(torch, torch.tensor(values))
    assert str(a.dtype) == str(t.dtype)
    np.testing.assert_allclose(a.numpy(), t.numpy())


ERRORS = [
    *[err(f"{name}-int", lambda L, n=name: getattr(F(L), n)(_t(L, (2,), "int64")), "Long")
      for name in ("leaky_relu", "elu", "gelu", "silu", "softplus")],
    err("leaky_relu-bool", lambda L: F(L).leaky_relu(_t(L, (2,), "bool")), "Bool"),
    err("gelu-approximate", lambda L: F(L).gelu(_t(L, (2,)), approximate="erf"),
        "approximate argument must be either none or tanh"),
    err("softmax-int", lambda L: F(L).softmax(_t(L, (2,), "int64"), 0), "Long"),
    err("softmax-int-dtype", lambda L: F(L).softmax(_t(L, (2,)), 0, dtype=L.int64), "Long"),
    err("log_softmax-int", lambda L: F(L).log_softmax(_t(L, (2,), "int32"), 0), "Int"),
    err("softmax-dim", lambda L: F(L).softmax(_t(L, (2, 3)), 2), "out of range"),
    err("dropout-p", lambda L: F(L).dropout(_t(L, (2,)), 1.5), "between 0 and 1"),
    err("dropout-int", lambda L: F(L).dropout(_t(L, (2,), "int64")), "can't be cast"),
    err("linear-dtypes", lambda L: F(L).linear(_t(L, (2, 3)), _t(L, (4, 3), "float64")),
        "same dtype"),
    err("linear-shapes", lambda L: F(L).linear(_t(L, (2, 3)), _t(L, (4, 2))),
        r"2x3 and 2x4"),
    err("linear-0d", lambda L: F(L).linear(_t(L, ()), _t(L, (4, 2))), "at least 1D"),
    err("linear-1d-weight-bias", lambda L: F(L).linear(_t(L, (2, 3)), _t(L, (3,)), _t(L, ())),
        "must be a matrix"),
    err("linear-bias-dtype",
        lambda L: F(L).linear(_t(L, (2, 3)), _t(L, (4, 3)), _t(L, (4,), "float64")), "dtype"),
    err("one_hot-int32", lambda L: F(L).one_hot(_t(L, (2,), "int32")), "LongTensor"),
    err("one_hot-negative", lambda L: F(L).one_hot(L.tensor([-1, 2])), "non-negative"),
    err("one_hot-too-large", lambda L: F(L).one_hot(L.tensor([1, 5]), 3), "smaller than"),
    err("one_hot-empty", lambda L: F(L).one_hot(L.tensor([], dtype=L.int64)), "empty"),
    err("pad-odd", lambda L: F(L).pad(_t(L, (2, 3)), (1,)), "divisible by 2"),
    err("pad-too-long", lambda L: F(L).pad(_t(L, (2, 3)), (1,) * 6), "two times"),
    err("pad-negative-size", lambda L: F(L).pad(_t(L, (2, 3)), (-2, -2)), "negative"),
    err("pad-mode", lambda L: F(L).pad(_t(L, (2, 3)), (1, 1), mode="wrap"), "wrap"),
    err("pad-reflect-too-wide", lambda L: F(L).pad(_t(L, (2, 3)), (3, 3), mode="reflect"),
        "Padding size should be less than"),
    err("pad-reflect-dims", lambda L: F(L).pad(_t(L, (3, 4)), (1,) * 4, mode="reflect"),
        "not supported for 2D input"),
    err("pad-replicate-value", lambda L: F(L).pad(_t(L, (2, 3)), (1, 1), "replicate", 1.0),
        "doesn't take in value"),
    err("pad-circular-wraps", lambda L: F(L).pad(_t(L, (2, 3)), (4, 4), mode="circular"),
        "wrapping around more than once"),
    err("layer_norm-int-shape", lambda L: F(L).layer_norm(_t(L, (2, 3)), 3), "normalized_shape"),
    err("layer_norm-empty-shape", lambda L: F(L).layer_norm(_t(L, (2, 3)), ()),
        "at least 1-dimensional"),
    err("layer_norm-shape", lambda L: F(L).layer_norm(_t(L, (2, 3)), (2,)), r"\[\*, 2\]"),
    err("layer_norm-weight-shape", lambda L: F(L).layer_norm(_t(L, (2, 3)), (3,), _t(L, (2,))),
        "weight"),
    err("layer_norm-int", lambda L: F(L).layer_norm(_t(L, (2, 3), "int64"), (3,)), "Long"),
    err("layer_norm-mixed-dtype",
        lambda L: F(L).layer_norm(_t(L, (2, 3)), (3,), _t(L, (3,), "float64")), "dtype"),
    err("embedding-float-indices", lambda L: F(L).embedding(_t(L, (2,)), _t(L, (3, 2))),
        "indices"),
    err("embedding-out-of-range", lambda L: F(L).embedding(L.tensor([3]), _t(L, (3, 2))),
        "index out of range"),
    err("embedding-negative-index", lambda L: F(L).embedding(L.tensor([-1]), _t(L, (3, 2))),
        "index out of range"),
    err("embedding-1d-weight", lambda L: F(L).embedding(L.tensor([0]), _t(L, (3,))), "2-D"),
    err("embedding-padding-idx", lambda L: F(L).embedding(L.tensor([0]), _t(L, (3, 2)),
                                                            padding_idx=3), "Padding_idx"),
]


@pytest.mark.parametrize("fn, match", ERRORS)
def test_errors(fn, match):
    assert_raises_like_torch(fn, match)


# gelu's erf is a C loop on NumPy float32/float64 arrays and Chebyshev interpolants on
# the others: both against PyTorch over a sweep, with its special points. (Not +-inf:
# -inf * 0 gives NaN as in PyTorch, with NumPy's RuntimeWarning; float32 gelu(inf) is NaN
# in PyTorch's vectorised kernel, inf in its float64 one and in autogradx.)
_GELU_SWEEP = np.concatenate([np.linspace(-9, 9, 3001),
                              [0.0, -0.0, 1e-30, -1e-30, 40.0, -40.0, np.nan]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gelu_values_and_gradient_over_a_sweep(dtype):
    # absolute: 1 + erf(x) cancels in the negative tail, in float32 as in PyTorch
    tol = {"float32": dict(rtol=2e-6, atol=1e-6), "float64": dict(rtol=1e-13, atol=1e-15)}
    x = _GELU_SWEEP.astype(dtype)
    g = np.random.default_rng(0).standard_normal(x.shape).astype(dtype)
    out = {}
    for lib in (agx, torch):
        t = lib.tensor(x, requires_grad=True)
        y = F(lib).gelu(t)
        y.backward(lib.tensor(g))
        out[lib] = y.detach().numpy(), t.grad.numpy()
    for got, want in zip(out[agx], out[torch]):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, **tol[dtype])       # NaN where PyTorch has NaN


_GELU_EDGES = [-np.inf, np.inf, np.nan, -0.0, 0.0, -1e20, 1e20, -3e38, 3e38, 1e-30]


@pytest.mark.parametrize("value", _GELU_EDGES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gelu_at_infinities_nan_and_huge_values_matches_torch_without_a_warning(
        dtype, approximate, value):
    # (pyproject turns warnings into errors: -inf * 0 and an overflowing x ** 3 once warned.)
    # One element at a time: PyTorch's vectorised float32 kernel gives NaN for +inf (and
    # flushes tiny gradients to 0) in some lanes only; its scalar loop is the reference.
    x = np.array([value], dtype=dtype)
    out = {}
    for lib in (agx, torch):
        t = lib.tensor(x, requires_grad=True)
        y = F(lib).gelu(t, approximate=approximate)
        y.backward(lib.ones_like(y))
        out[lib] = y.detach().numpy(), t.grad.numpy()
    for got, want in zip(out[agx], out[torch]):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=0, equal_nan=True)
        assert np.signbit(got) == np.signbit(want) or np.isnan(want).all()


_EDGES = np.array([-np.inf, np.inf, np.nan, -0.0, 0.0, 0.5, -0.5, 1e30, -1e30, -50.0])


@pytest.mark.parametrize("fn", [
    lambda L, x: F(L).threshold(x, 0.5, -2.0), lambda L, x: F(L).threshold(x, -0.0, 3.0),
    lambda L, x: F(L).elu(x), lambda L, x: F(L).elu(x, 0.5), lambda L, x: F(L).relu(x),
], ids=["threshold", "threshold-at-zero", "elu", "elu-alpha", "relu"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_at_nan_infinities_and_signed_zeros_matches_torch(fn, dtype):
    # NaN fails ``x <= threshold`` in PyTorch: it passes through with its gradient; elu and
    # relu keep the sign of a zero (alpha * expm1(-0.0) is -0.0).
    out = {}
    for lib in (agx, torch):
        x = lib.tensor(_EDGES.astype(dtype), requires_grad=True)
        y = fn(lib, x)
        y.backward(lib.tensor(np.linspace(-1, 1, _EDGES.size).astype(dtype)))
        out[lib] = y.detach().numpy(), x.grad.numpy()
    for got, want in zip(out[agx], out[torch]):
        np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("fn", [lambda L, x: F(L).softmax(x, dim=-1),
                                lambda L, x: F(L).log_softmax(x, dim=-1),
                                lambda L, x: F(L).softmax(x, dim=0)],
                         ids=["softmax", "log_softmax", "softmax-dim-0"])
@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 3)])
def test_softmax_of_empty_tensors_matches_torch(fn, shape):
    out = {}
    for lib in (agx, torch):
        x = lib.zeros(shape, requires_grad=True)
        y = fn(lib, x)
        y.sum().backward()
        out[lib] = y.detach().numpy(), x.grad.numpy()
    for got, want in zip(out[agx], out[torch]):
        assert got.shape == want.shape and got.dtype == want.dtype


def test_gelu_through_the_vectorised_erf_matches_torch():
    """float16 and gradients of gradients take the vectorised formula."""
    x = np.linspace(-5, 5, 41)
    out = {}
    for lib in (agx, torch):
        t = lib.tensor(x, requires_grad=True)
        (g,) = lib.autograd.grad(F(lib).gelu(t).sum(), t, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), t)
        half = F(lib).gelu(lib.tensor(x, dtype=lib.float16))
        out[lib] = g.detach().numpy(), gg.numpy(), half.float().numpy()
    for got, want, tol in zip(out[agx], out[torch], (1e-13, 1e-12, 2e-3)):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
