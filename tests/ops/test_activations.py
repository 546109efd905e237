"""Finite-difference gradient checks (float64) of the activations and nn.functional basics,
and their behaviour: stability at large inputs, dropout's statistics and seeding, one_hot,
padding modes, embedding gradients, erf's accuracy.

Inputs come from specs: ``R(shape)`` real values in [-2, 2), ``W(shape)`` wider ones in
[-30, 30) (past softplus' threshold and the erf branches), ``K(spec)`` without
requires_grad.
"""

import math

import numpy as np
import pytest

import autogradx as agx
from autogradx.testing import gradcheck, gradgradcheck
from helpers import K, R, W, case, make_inputs

F = agx.nn.functional


POINTWISE = [
    case("leaky_relu", F.leaky_relu, R(2, 3)),
    case("leaky_relu-slope", lambda x: F.leaky_relu(x, 0.2), R(4)),
    case("leaky_relu-0d", lambda x: F.leaky_relu(x, negative_slope=-0.5), R()),
    case("elu", F.elu, R(2, 3)),
    case("elu-alpha", lambda x: F.elu(x, 0.5), W(7)),
    case("elu-0d", lambda x: F.elu(x, alpha=2.0), R()),
    case("gelu", F.gelu, R(2, 3)),
    case("gelu-wide", F.gelu, W(20)),
    case("gelu-tanh", lambda x: F.gelu(x, approximate="tanh"), R(2, 3)),
    case("gelu-0d", F.gelu, R()),
    case("silu", F.silu, R(2, 3)),
    case("silu-wide", F.silu, W(9)),
    case("softplus", F.softplus, R(2, 3)),
    case("softplus-beta-threshold", lambda x: F.softplus(x, 2, 1), R(3, 4)),
    case("softplus-wide", F.softplus, W(9)),
    case("softplus-0d", lambda x: F.softplus(x, beta=0.5), R()),
    case("empty", F.gelu, R(0, 3)),
]

SOFTMAX = [
    *[case(f"{name}-dim{d}", lambda x, f=f, d=d: f(x, d), R(2, 3, 4))
      for name, f in (("softmax", F.softmax), ("log_softmax", F.log_softmax))
      for d in (0, 1, -1)],
    case("softmax-1d", lambda x: F.softmax(x, 0), R(5)),
    case("softmax-0d", lambda x: F.softmax(x, -1), R()),
    case("softmax-size-1", lambda x: F.softmax(x, 1), R(3, 1)),
    case("softmax-wide", lambda x: F.softmax(x, 0), W(6)),
    case("softmax-dtype", lambda x: F.softmax(x, 1, dtype=agx.float64), R(2, 3)),
    case("softmax-top-level", lambda x: agx.softmax(x, 0), R(3, 2)),
    case("softmax-method", lambda x: x.softmax(-1), R(2, 3)),
    case("log_softmax-0d", lambda x: F.log_softmax(x, 0), R()),
    case("log_softmax-wide", lambda x: F.log_softmax(x, 0), W(6)),
    case("log_softmax-method", lambda x: x.log_softmax(1), R(2, 3)),
    case("log_softmax-top-level", lambda x: agx.log_softmax(x, dim=-1), R(4)),
]

LAYERS = [
    case("linear", F.linear, R(3, 4), R(5, 4), R(5)),
    case("linear-no-bias", F.linear, R(3, 4), R(5, 4)),
    case("linear-1d-input", F.linear, R(4), R(5, 4), R(5)),
    case("linear-3d-input", F.linear, R(2, 3, 4), R(5, 4), R(5)),
    case("linear-1d-weight", F.linear, R(2, 3, 4), R(4)),
    case("linear-bias-broadcast", F.linear, R(3, 4), R(5, 4), R(1)),
    case("linear-const-weight", F.linear, R(3, 4), K(R(2, 4)), R(2)),
    case("linear-keywords", lambda x, w, b: F.linear(input=x, weight=w, bias=b),
         R(2, 4), R(3, 4), R(3)),
    case("layer_norm", lambda x: F.layer_norm(x, (4,)), R(3, 4)),
    case("layer_norm-affine", lambda x, w, b: F.layer_norm(x, (4,), w, b), R(2, 3, 4), R(4), R(4)),
    case("layer_norm-2-dims", lambda x, w: F.layer_norm(x, [3, 4], w, eps=1e-3),
         R(2, 3, 4), R(3, 4)),
    case("layer_norm-bias-only", lambda x, b: F.layer_norm(x, (3,), None, b), R(2, 3), R(3)),
    case("layer_norm-keywords",
         lambda x, w: F.layer_norm(x, weight=w, normalized_shape=agx.Size([2, 3])),
         R(2, 3), R(2, 3)),
    case("layer_norm-const-input", lambda x, w, b: F.layer_norm(x, (4,), w, b),
         K(R(3, 4)), R(4), R(4)),
    case("embedding", lambda w: F.embedding(agx.tensor([[1, 2, 1], [0, 4, 1]]), w), R(5, 3)),
    case("embedding-0d-index", lambda w: F.embedding(agx.tensor(2), w), R(5, 3)),
    case("embedding-int32", lambda w: F.embedding(agx.tensor([3, 3], dtype=agx.int32), w),
         R(4, 2)),
]

PADDING = [
    case("pad-last", lambda x: F.pad(x, (1, 2)), R(2, 3)),
    case("pad-two-dims", lambda x: F.pad(x, (1, 0, 2, 1), value=3.0), R(2, 3, 4)),
    case("pad-all-dims", lambda x: F.pad(x, [1, 1, 1, 1, 1, 1]), R(2, 3, 4)),
    case("pad-crop", lambda x: F.pad(x, (-1, 2, 1, -1)), R(3, 4)),
    case("pad-crop-all", lambda x: F.pad(x, (-3, 1)), R(2, 3)),
    case("pad-nothing", lambda x: F.pad(x, ()), R(2, 3)),
    case("pad-0d", lambda x: F.pad(x, ()), R()),
    *[case(f"pad-{mode}-{len(p)}", lambda x, m=mode, p=p: F.pad(x, p, mode=m), R(*shape))
      for mode in ("reflect", "replicate", "circular")
      for p, shape in (((2, 1), (2, 4)), ((1, 2, 2, 0), (1, 3, 4)),
                       ((1, 1, 0, 2, 2, 1), (1, 1, 3, 3, 4)))],
    case("pad-reflect-crop", lambda x: F.pad(x, (-1, 1), mode="reflect"), R(2, 3)),
    case("pad-circular-full", lambda x: F.pad(x, (3, 3), mode="circular"), R(2, 3)),
]


@pytest.mark.parametrize("fn, specs", POINTWISE + SOFTMAX + LAYERS + PADDING)
def test_gradcheck(fn, specs):
    assert gradcheck(fn, make_inputs(specs, seed=0))


def test_dropout_gradcheck_under_a_fixed_mask():
    x = R(4, 5).make(np.random.default_rng(0))

    def fn(t):
        agx.manual_seed(3)      # the same mask at every evaluation
        return F.dropout(t, 0.3)

    assert gradcheck(fn, (x,))


GRADGRAD = [
    case("leaky_relu", lambda x: F.leaky_relu(x, 0.2), R(5)),
    case("elu", F.elu, R(5)),
    case("gelu", F.gelu, W(6)),
    case("gelu-tanh", lambda x: F.gelu(x, approximate="tanh"), R(5)),
    case("silu", F.silu, R(5)),
    case("softplus", lambda x: F.softplus(x, 2, 1), R(5)),
    case("softmax", lambda x: F.softmax(x, 1), R(2, 3)),
    case("log_softmax", lambda x: F.log_softmax(x, 0), R(2, 3)),
    case("linear", F.linear, R(2, 3, 4), R(2, 4), R(2)),
    case("layer_norm", lambda x, w, b: F.layer_norm(x, (3,), w, b), R(2, 3), R(3), R(3)),
    *[case(f"pad-{mode}", lambda x, m=mode: F.pad(x, (2, 1), mode=m), R(2, 3))
      for mode in ("constant", "reflect", "replicate", "circular")],
    case("embedding", lambda w: F.embedding(agx.tensor([0, 1, 1]), w), R(3, 2)),
]


@pytest.mark.parametrize("fn, specs", GRADGRAD)
def test_gradgradcheck(fn, specs):
    assert gradgradcheck(fn, make_inputs(specs, seed=0))


# ---------------------------------------------------------------- relu, sigmoid, tanh

FUNCTIONAL_OF_ELEMENTWISE = pytest.mark.xfail(
    condition=not all(hasattr(F, n) for n in ("relu", "sigmoid", "tanh")), strict=True,
    reason="F.relu, F.sigmoid and F.tanh are the elementwise family's ops, which must "
           "declare namespace=('', 'nn.functional')")


@FUNCTIONAL_OF_ELEMENTWISE
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_functional_relu_sigmoid_tanh_are_the_top_level_ops(name):
    assert getattr(F, name) is getattr(agx, name)
    x = R(2, 3).make(np.random.default_rng(0))
    assert gradcheck(getattr(F, name), (x,))


# ---------------------------------------------------------------- stability

def _no_nan(t):
    assert np.all(np.isfinite(t.detach().numpy()))


@pytest.mark.parametrize("dtype", [agx.float32, agx.float64], ids=["float32", "float64"])
def test_softmax_and_log_softmax_of_large_logits(dtype):
    x = agx.tensor([[1e4, -1e4, 0.0], [1e30, 1e30, -1e30]], dtype=dtype, requires_grad=True)
    p = F.softmax(x, 1)
    logp = F.log_softmax(x, 1)
    np.testing.assert_allclose(p.detach().numpy(), [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-6)
    np.testing.assert_allclose(logp.detach().numpy()[0], [0, -2e4, -1e4], rtol=1e-6)
    (p.sum() + logp[0].sum()).backward()
    _no_nan(x.grad)


@pytest.mark.parametrize("fn", [F.gelu, lambda x: F.gelu(x, approximate="tanh"), F.silu,
                                F.softplus, F.elu, lambda x: F.softplus(x, 10, 1e6)],
                         ids=["gelu", "gelu-tanh", "silu", "softplus", "elu", "softplus-beta"])
def test_activations_at_huge_inputs_stay_finite(fn):
    x = agx.tensor([-1e30, -800.0, -40.0, 0.0, 40.0, 800.0, 1e30], dtype=agx.float64,
                   requires_grad=True)
    y = fn(x)
    _no_nan(y)
    y.sum().backward()
    _no_nan(x.grad)


def test_softmax_implicit_dim_warns_as_pytorch():
    x = agx.ones(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(x)
    np.testing.assert_allclose(y.numpy(), np.full((2, 3), 1 / 3), rtol=1e-6)  # dim 1 for 2-D


@pytest.mark.parametrize("name", ["_erf", "_erf_xp"])
def test_erf_is_accurate_to_float64(name):
    """Both the C loop (NumPy arrays) and the vectorised formula (other backends)."""
    from autogradx.ops import activations
    erf = getattr(activations, name)
    x = np.concatenate([np.linspace(-7, 7, 4001), [0.0, 1.0, -1.0, 6.0, 1e-300, -1e-8]])
    got = erf(np, x)
    want = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-300)
    assert np.isnan(erf(np, np.array([np.nan]))).all()
    np.testing.assert_array_equal(erf(np, np.array([np.inf, -np.inf])), [1.0, -1.0])


# ---------------------------------------------------------------- dropout

def test_dropout_statistics_and_scaling():
    agx.manual_seed(0)
    x = agx.ones(200, 500, requires_grad=True)
    y = F.dropout(x, 0.3)
    values = y.detach().numpy()
    dropped = values == 0
    assert abs(dropped.mean() - 0.3) < 0.005
    np.testing.assert_allclose(values[~dropped], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)       # zero where dropped


def test_dropout_is_deterministic_under_manual_seed():
    x = agx.ones(50, 50)
    agx.manual_seed(7)
    a = F.dropout(x).numpy()
    b = F.dropout(x).numpy()
    agx.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x).numpy(), a)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("kwargs", [dict(training=False), dict(p=0.0), dict(p=0.9, training=False)],
                         ids=["eval", "p0", "eval-p0.9"])
def test_dropout_without_dropping_returns_the_input(kwargs):
    x = agx.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    y = F.dropout(x, **kwargs)
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())
    assert np.shares_memory(y.detach().numpy(), x.detach().numpy())
    assert y.grad_fn.name() == "AliasBackward0"
    y.backward(agx.full((2, 2), 2.0))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 2.0))


def test_dropout_p1_zeroes_everything():
    x = agx.ones(3, 4, requires_grad=True)
    y = F.dropout(x, 1.0)
    assert not y.detach().numpy().any() and y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    assert not x.grad.numpy().any()


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_probability_out_of_range(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        F.dropout(agx.ones(2), p)


@pytest.mark.parametrize("name, kwargs", [("dropout", {"p": 0.5}), ("leaky_relu", {}),
                                          ("elu", {}), ("silu", {}), ("relu", {})])
def test_inplace_writes_into_the_input_and_records_the_op(name, kwargs):
    fn = getattr(F, name)
    x = agx.tensor(np.array([-1.5, 0.5, 2.0]), requires_grad=True)
    agx.manual_seed(3)
    expected = fn(x * 1, **kwargs)
    y = x * 1
    version = y._version
    agx.manual_seed(3)
    out = fn(y, inplace=True, **kwargs)
    assert out is y and y._version == version + 1
    np.testing.assert_array_equal(y.detach().numpy(), expected.detach().numpy())
    assert y.grad_fn.name() == expected.grad_fn.name()
    y.sum().backward()
    g = x.grad.numpy().copy()
    x.grad = None
    expected.sum().backward()
    np.testing.assert_array_equal(g, x.grad.numpy())
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        fn(x, inplace=True, **kwargs)


# ---------------------------------------------------------------- one_hot, pad, embedding

def test_one_hot():
    y = F.one_hot(agx.tensor([[0, 2], [1, 0]]))
    assert y.dtype == agx.int64 and tuple(y.shape) == (2, 2, 3) and y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), np.eye(3, dtype=np.int64)[[[0, 2], [1, 0]]])
    assert tuple(F.one_hot(agx.tensor(1), 4).shape) == (4,)
    assert tuple(F.one_hot(agx.tensor([], dtype=agx.int64), 3).shape) == (0, 3)


@pytest.mark.parametrize("mode, expected", [
    ("constant", [0, 0, 1, 2, 3, 0]),
    ("reflect", [3, 2, 1, 2, 3, 2]),
    ("replicate", [1, 1, 1, 2, 3, 3]),
    ("circular", [2, 3, 1, 2, 3, 1]),
])
def test_pad_modes(mode, expected):
    x = agx.tensor([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(F.pad(x, (2, 1), mode=mode).numpy()[0], expected)


def test_pad_gradient_folds_back_onto_the_sources():
    x = agx.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    F.pad(x, (2, 1), mode="reflect").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 3, 2]])


def test_embedding_gradient_accumulates_over_repeated_indices_and_skips_padding():
    w = agx.ones(4, 2, requires_grad=True)
    F.embedding(agx.tensor([[1, 1, 3], [1, 0, 3]]), w, padding_idx=3).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 1], [3, 3], [0, 0], [0, 0]])
    w.grad = None
    F.embedding(agx.tensor([1, 1, 2]), w, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [1, 1], [1, 1], [0, 0]])


def test_embedding_unsupported_options():
    with pytest.raises(NotImplementedError, match="max_norm"):
        F.embedding(agx.tensor([0]), agx.ones(2, 2), max_norm=1.0)


@pytest.mark.parametrize("shape", [(3,), (40, 40), (64, 128)])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_relu_gradient_bits_are_thresholds(shape, dtype):
    """relu's gradient is +0 where the output is <= 0 and the output gradient elsewhere
    (where the output is NaN too), bit for bit: -0.0, NaN and inf gradients included
    (PyTorch's threshold_backward)."""
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal(shape).astype(dtype)
    x_np.flat[:5] = [1.0, -1.0, 2.0, 0.0, np.nan]
    g_np = rng.standard_normal(shape).astype(dtype)
    g_np.flat[:4] = [-0.0, np.nan, np.inf, -np.inf]
    x = agx.tensor(x_np, requires_grad=True)
    agx.relu(x).backward(agx.tensor(g_np))
    expected = np.where(x_np <= 0, 0, g_np).astype(dtype)
    if x_np.size > 4:
        assert expected.flat[4] == g_np.flat[4] != 0       # at NaN: the gradient passes
    assert x.grad.numpy().tobytes() == expected.tobytes()
    try:
        import torch
    except ImportError:
        return
    tx = torch.tensor(x_np, requires_grad=True)
    torch.relu(tx).backward(torch.tensor(g_np))
    assert tx.grad.numpy().tobytes() == expected.tobytes()
