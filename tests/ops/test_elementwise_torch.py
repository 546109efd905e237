"""The elementwise ops against PyTorch: the same inputs through both libraries.

For every case, in float32 and float64: the forward values, the output dtype,
the gradient of every input (backward with the same random output gradient)
and the ``grad_fn`` name. Then: inputs of mixed dtypes, integer and bool
inputs (PyTorch's dtype rules), gradients of gradients, special points (ties,
bounds, zeros, infinities), in-place variants, and the errors PyTorch raises.
"""

import numpy as np
import pytest

import autogradx as agx
from helpers import B, K, P, R, U, err, uniform
from helpers import D as _D
from torch_compare import (DTYPES, assert_close, backward_both, both, compare_input_gradients,
                           promo, random_like, run_both, special)

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = {"float16": dict(rtol=1e-3, atol=1e-3), "float32": dict(rtol=1e-5, atol=1e-6),
       "float64": dict(rtol=1e-10, atol=1e-12)}
NOT_IMPLEMENTED = "torch::autograd::NotImplemented"

# autogradx lets NumPy's floating-point warnings through (a documented difference).
NUMPY_WARNS = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def D(dtype, spec):
    """``spec`` with its own dtype; integer values are the random values rounded (unscaled,
    as these cases were written: the shared default scales them by 3)."""
    return _D(dtype, spec, int_scale=1)


def case(id, fn, specs, grad_fn, backward=True, marks=()):
    """``fn(lib, *tensors)``; ``backward=False`` for ops PyTorch has no derivative for."""
    return pytest.param(fn, specs, grad_fn, backward, id=id, marks=marks)


CASES = [
    # arithmetic: aliases, rounded division, floor division, remainders
    case("multiply", lambda L, x, y: L.multiply(x, y), (R(3, 1), R(1, 4)), "MulBackward0"),
    case("multiply-method", lambda L, x: x.multiply(2.5), (R(2, 3),), "MulBackward0"),
    case("subtract-alpha", lambda L, x, y: L.subtract(x, y, alpha=2), (R(2, 3), R(3)),
         "SubBackward0"),
    case("divide", lambda L, x, y: L.divide(x, y), (R(3, 1), P(1, 4)), "DivBackward0"),
    case("true_divide-0d", lambda L, x, y: L.true_divide(x, y), (R(), P(2, 3)), "DivBackward0"),
    case("negative", lambda L, x: L.negative(x), (R(2, 3),), "NegBackward0"),
    case("negative-method", lambda L, x: x.negative(), (R(),), "NegBackward0"),
    case("div-trunc", lambda L, x, y: L.div(x, y, rounding_mode="trunc"), (R(3, 1), P(1, 4)),
         "DivBackward2"),
    case("div-floor", lambda L, x, y: x.div(y, rounding_mode="floor"), (R(2, 3), P(3)),
         "DivBackward2"),
    case("div-floor-py", lambda L, x: L.div(x, -0.7, rounding_mode="floor"), (R(2, 3),),
         "DivBackward2"),
    case("div-mode-None", lambda L, x, y: L.div(x, y, rounding_mode=None), (R(2, 3), P(3)),
         "DivBackward2"),
    case("divide-trunc", lambda L, x, y: L.divide(x, y, rounding_mode="trunc"), (R(4), P()),
         "DivBackward2"),
    case("floor_divide", lambda L, x, y: x // y, (R(3, 1), P(1, 4)), NOT_IMPLEMENTED,
         backward=False),
    case("floor_divide-py", lambda L, x: x // -0.7, (R(2, 3),), NOT_IMPLEMENTED, backward=False),
    case("floor_divide-rfloordiv", lambda L, y: 2 // y, (P(2, 3),), NOT_IMPLEMENTED,
         backward=False),
    case("floor_divide-fn", lambda L, x, y: L.floor_divide(x, y), (R(2, 3), P(3)),
         NOT_IMPLEMENTED, backward=False),
    case("remainder", lambda L, x, y: x % y, (R(3, 1), P(1, 4)), "RemainderBackward1"),
    case("remainder-neg-divisor", lambda L, x, y: x % -y, (R(2, 3), P(3)), "RemainderBackward1"),
    case("remainder-py", lambda L, x: x % 0.7, (R(2, 3),), "RemainderBackward0"),
    case("remainder-fn-0d", lambda L, x, y: L.remainder(x, y), (R(), P(4)),
         "RemainderBackward1"),
    case("remainder-method-const", lambda L, x, y: x.remainder(y), (R(2, 3), K(P(3))),
         "RemainderBackward1"),
    case("remainder-rmod", lambda L, y: 2 % y, (P(2, 3),), NOT_IMPLEMENTED, backward=False),
    case("fmod", lambda L, x, y: L.fmod(x, y), (R(3, 1), P(1, 4)), "FmodBackward1"),
    case("fmod-neg-divisor", lambda L, x, y: L.fmod(x, -y), (R(2, 3), P(3)), "FmodBackward1"),
    case("fmod-py", lambda L, x: x.fmod(-0.7), (R(2, 3),), "FmodBackward0"),
    # unary functions
    case("sqrt", lambda L, x: L.sqrt(x), (P(2, 3),), "SqrtBackward0"),
    case("sqrt-method-0d", lambda L, x: x.sqrt(), (P(),), "SqrtBackward0"),
    case("rsqrt", lambda L, x: L.rsqrt(x), (P(2, 3),), "RsqrtBackward0"),
    case("square", lambda L, x: L.square(x), (R(2, 3),), "PowBackward0"),
    case("square-method", lambda L, x: x.square(), (R(),), "PowBackward0"),
    case("reciprocal", lambda L, x: L.reciprocal(x), (P(2, 3),), "ReciprocalBackward0"),
    case("reciprocal-negative", lambda L, x: (-x).reciprocal(), (P(4),),
         "ReciprocalBackward0"),
    case("expm1", lambda L, x: L.expm1(x), (R(2, 3),), "Expm1Backward0"),
    case("expm1-small", lambda L, x: (x * 1e-4).expm1(), (R(4),), "Expm1Backward0"),
    case("log1p", lambda L, x: L.log1p(x), (P(2, 3),), "Log1PBackward0"),
    case("log1p-small", lambda L, x: (x * 1e-4).log1p(), (R(4),), "Log1PBackward0"),
    case("log2", lambda L, x: L.log2(x), (P(2, 3),), "Log2Backward0"),
    case("log10", lambda L, x: x.log10(), (P(2, 3),), "Log10Backward0"),
    case("sin", lambda L, x: L.sin(x), (R(2, 3),), "SinBackward0"),
    case("cos", lambda L, x: x.cos(), (R(2, 3),), "CosBackward0"),
    case("tan", lambda L, x: L.tan(x), (U(2, 3),), "TanBackward0"),
    case("asin", lambda L, x: L.asin(x), (U(2, 3),), "AsinBackward0"),
    case("asin-negative", lambda L, x: (-x).arcsin(), (U(2, 3),), "AsinBackward0"),
    case("acos", lambda L, x: x.acos(), (U(2, 3),), "AcosBackward0"),
    case("atan", lambda L, x: L.atan(x), (R(2, 3),), "AtanBackward0"),
    case("tanh", lambda L, x: L.tanh(x), (R(2, 3),), "TanhBackward0"),
    case("tanh-large", lambda L, x: (x * 20).tanh(), (R(2, 3),), "TanhBackward0"),
    case("sigmoid", lambda L, x: L.sigmoid(x), (R(2, 3),), "SigmoidBackward0"),
    case("sigmoid-method-large", lambda L, x: (x * 50).sigmoid(), (R(2, 3),),
         "SigmoidBackward0"),
    case("relu", lambda L, x: L.relu(x), (R(2, 3),), "ReluBackward0"),
    case("relu-method-0d", lambda L, x: x.relu(), (R(),), "ReluBackward0"),
    case("abs", lambda L, x: L.abs(x), (R(2, 3),), "AbsBackward0"),
    case("abs-operator", lambda L, x: abs(x), (R(4),), "AbsBackward0"),
    case("absolute", lambda L, x: L.absolute(x), (R(2, 3),), "AbsBackward0"),
    case("sign", lambda L, x: L.sign(x), (R(2, 3),), "SignBackward0"),
    case("sgn", lambda L, x: x.sgn(), (R(2, 3),), "SgnBackward0"),
    case("floor", lambda L, x: L.floor(x), (R(2, 3),), "FloorBackward0"),
    case("ceil", lambda L, x: x.ceil(), (R(2, 3),), "CeilBackward0"),
    case("round", lambda L, x: L.round(x * 3), (R(2, 3),), "RoundBackward0"),
    case("round-decimals", lambda L, x: x.round(decimals=2), (R(2, 3),), "RoundBackward1"),
    case("round-decimals-negative", lambda L, x: L.round(x * 1000, decimals=-2), (R(4),),
         "RoundBackward1"),
    case("trunc", lambda L, x: L.trunc(x * 3), (R(2, 3),), "TruncBackward0"),
    case("fix", lambda L, x: x.fix(), (R(2, 3),), "TruncBackward0"),
    case("frac", lambda L, x: L.frac(x * 3), (R(2, 3),), "FracBackward0"),
    # bounds and selection
    case("clamp-scalars", lambda L, x: L.clamp(x, -0.5, 0.8), (R(3, 4),), "ClampBackward1"),
    case("clamp-min-only", lambda L, x: x.clamp(min=-0.3), (R(3, 4),), "ClampBackward1"),
    case("clamp-max-only", lambda L, x: x.clamp(max=0.3), (R(3, 4),), "ClampBackward1"),
    case("clamp-min>max", lambda L, x: x.clamp(1, -1), (R(3, 4),), "ClampBackward1"),
    case("clip", lambda L, x: L.clip(x, -0.5, 0.5), (R(3, 4),), "ClampBackward1"),
    case("clip-method", lambda L, x: x.clip(max=0.5), (R(3, 4),), "ClampBackward1"),
    case("clamp-tensors", lambda L, x, lo, hi: L.clamp(x, lo, hi),
         (R(3, 4), uniform((3, 1), -2.0, 0.0), uniform((1, 4), 0.0, 2.0)), "ClampBackward0"),
    case("clamp-tensors-crossed", lambda L, x, lo, hi: x.clamp(lo, hi), (R(3, 4), R(4), R(3, 1)),
         "ClampBackward0"),
    case("clamp-tensor-min", lambda L, x, lo: x.clamp(min=lo), (R(3, 4), R(4)), "ClampBackward0"),
    case("clamp-tensor-max", lambda L, x, hi: L.clamp(x, max=hi), (R(3, 4), R(3, 1)),
         "ClampBackward0"),
    case("clamp-0d-tensor-bounds", lambda L, x, lo, hi: x.clamp(lo, hi),
         (R(3, 4), uniform((), -1.0, 0.0), uniform((), 0.0, 1.0)), "ClampBackward0"),
    case("clamp-const-bounds", lambda L, x, lo, hi: x.clamp(lo, hi), (R(3, 4), K(R(4)), K(P(4))),
         "ClampBackward0"),
    case("clamp-bound-broadcasts-input", lambda L, x, lo: L.clamp(x, min=lo), (R(4), R(3, 4)),
         "ClampBackward0"),
    case("clamp_min", lambda L, x: L.clamp_min(x, 0.2), (R(3, 4),), "ClampMinBackward0"),
    case("clamp_min-tensor", lambda L, x, lo: x.clamp_min(lo), (R(3, 4), R(4)),
         "ClampMinBackward1"),
    case("clamp_max", lambda L, x: x.clamp_max(-0.2), (R(3, 4),), "ClampMaxBackward0"),
    case("clamp_max-tensor", lambda L, x, hi: L.clamp_max(x, hi), (R(3, 4), R(3, 1)),
         "ClampMaxBackward1"),
    case("maximum", lambda L, x, y: L.maximum(x, y), (R(2, 3), R(2, 3)), "MaximumBackward0"),
    case("nextafter", lambda L, x, y: L.nextafter(x, y), (R(2, 3), R(3)), "NextafterBackward0"),
    # the incomplete gamma functions: PyTorch has the derivative for ``other`` only
    case("igamma", lambda L, a, x: L.igamma(a, x), (K(P(2, 3)), uniform((3,), 0.0, 4.0)),
         "IgammaBackward0"),
    case("igammac-method", lambda L, a, x: a.igammac(x), (K(uniform((2, 3), 0.1, 9.0)),
                                                          uniform((2, 3), 0.0, 12.0)),
         "IgammacBackward0"),
    case("nextafter-method", lambda L, x, y: x.nextafter(y), (R(2, 3), R(2, 3)),
         "NextafterBackward0"),
    case("maximum-3x1,1x4", lambda L, x, y: L.maximum(x, y), (R(3, 1), R(1, 4)),
         "MaximumBackward0"),
    case("maximum-0d-method", lambda L, x, y: x.maximum(y), (R(), R(2, 3)), "MaximumBackward0"),
    case("minimum", lambda L, x, y: L.minimum(x, y), (R(2, 3, 4), R(4)), "MinimumBackward0"),
    case("minimum-const", lambda L, x, y: x.minimum(y), (R(2, 3), K(R(3))), "MinimumBackward0"),
    case("where", lambda L, c, x, y: L.where(c, x, y), (B(2, 3), R(2, 3), R(2, 3)),
         "WhereBackward0"),
    case("where-broadcast", lambda L, c, x, y: L.where(c, x, y), (B(3, 1), R(1, 4), R(4)),
         "WhereBackward0"),
    case("where-cond-broadcasts", lambda L, c, x, y: L.where(c, x, y), (B(2, 3, 4), R(4), R()),
         "WhereBackward0"),
    case("where-py-other", lambda L, c, x: L.where(c, x, 0.5), (B(2, 3), R(2, 3)),
         "WhereBackward0"),
    case("where-py-input", lambda L, c, y: L.where(c, -1, y), (B(2, 3), R(3)), "WhereBackward0"),
    case("where-kwargs", lambda L, c, x, y: L.where(condition=c, input=x, other=y),
         (B(3), R(3), R(3)), "WhereBackward0"),
    case("where-method", lambda L, x, c, y: x.where(c, y), (R(2, 3), B(2, 3), R(3)),
         "WhereBackward0"),
    case("where-method-py", lambda L, x, c: x.where(c, 2.0), (R(2, 3), B(2, 3)),
         "WhereBackward0"),
    case("where-mask", lambda L, x: L.where(x > 0, x, x * 0.1), (R(3, 4),), "WhereBackward0"),
    case("lerp", lambda L, x, e: L.lerp(x, e, 0.3), (R(2, 3), R(2, 3)), "LerpBackward0"),
    case("lerp-weight-high", lambda L, x, e: x.lerp(e, 0.8), (R(3, 1), R(1, 4)),
         "LerpBackward0"),
    case("lerp-weight-tensor", lambda L, x, e, w: L.lerp(x, e, w), (R(2, 3), R(3), U(2, 1)),
         "LerpBackward1"),
    case("lerp-weight-0d", lambda L, x, e, w: L.lerp(x, e, w), (R(3), R(3), U()),
         "LerpBackward1"),
    # in place, on a non-leaf: the tensor takes the op's grad_fn
    case("add_", lambda L, x, y: (x * 1).add_(y, alpha=2), (R(2, 3), R(3)), "AddBackward0"),
    case("mul_", lambda L, x, y: (x + 1).mul_(y), (R(2, 3), R(3)), "MulBackward0"),
    case("div_", lambda L, x, y: (x + 1).div_(y), (R(2, 3), P(3)), "DivBackward0"),
    case("div_-trunc", lambda L, x, y: (x + 1).div_(y, rounding_mode="trunc"), (R(2, 3), P(3)),
         "DivBackward2"),
    case("pow_", lambda L, x: (x + 3).pow_(1.5), (R(2, 3),), "PowBackward0"),
    case("neg_", lambda L, x: (x * 2).neg_(), (R(2, 3),), "NegBackward0"),
    case("remainder_", lambda L, x, y: (x * 2).remainder_(y), (R(2, 3), P(3)),
         "RemainderBackward1"),
    case("fmod_", lambda L, x: (x * 2).fmod_(0.7), (R(2, 3),), "FmodBackward0"),
    case("abs_", lambda L, x: (x * 2).abs_(), (R(2, 3),), "AbsBackward0"),
    case("sqrt_", lambda L, x: (x + 2.5).sqrt_(), (R(2, 3),), "SqrtBackward0"),
    case("rsqrt_", lambda L, x: (x + 2.5).rsqrt_(), (R(2, 3),), "RsqrtBackward0"),
    case("square_", lambda L, x: (x * 2).square_(), (R(2, 3),), "PowBackward0"),
    case("reciprocal_", lambda L, x: (x + 2.5).reciprocal_(), (R(2, 3),), "ReciprocalBackward0"),
    case("exp_", lambda L, x: (x * 2).exp_(), (R(2, 3),), "ExpBackward0"),
    case("expm1_", lambda L, x: (x * 2).expm1_(), (R(2, 3),), "Expm1Backward0"),
    case("log_", lambda L, x: (x + 2.5).log_(), (R(2, 3),), "LogBackward0"),
    case("log1p_", lambda L, x: (x * 0.4).log1p_(), (R(2, 3),), "Log1PBackward0"),
    case("log2_", lambda L, x: (x + 2.5).log2_(), (R(2, 3),), "Log2Backward0"),
    case("log10_", lambda L, x: (x + 2.5).log10_(), (R(2, 3),), "Log10Backward0"),
    case("sin_", lambda L, x: (x * 2).sin_(), (R(2, 3),), "SinBackward0"),
    case("cos_", lambda L, x: (x * 2).cos_(), (R(2, 3),), "CosBackward0"),
    case("tan_", lambda L, x: (x * 0.5).tan_(), (R(2, 3),), "TanBackward0"),
    case("tanh_", lambda L, x: (x * 2).tanh_(), (R(2, 3),), "TanhBackward0"),
    case("sigmoid_", lambda L, x: (x * 2).sigmoid_(), (R(2, 3),), "SigmoidBackward0"),
    case("relu_", lambda L, x: (x * 2).relu_(), (R(2, 3),), "ReluBackward0"),
    case("sign_", lambda L, x: (x * 2).sign_(), (R(2, 3),), "SignBackward0"),
    case("sgn_", lambda L, x: (x * 2).sgn_(), (R(2, 3),), "SgnBackward0"),
    case("floor_", lambda L, x: (x * 2).floor_(), (R(2, 3),), "FloorBackward0"),
    case("ceil_", lambda L, x: (x * 2).ceil_(), (R(2, 3),), "CeilBackward0"),
    case("round_", lambda L, x: (x * 2).round_(), (R(2, 3),), "RoundBackward0"),
    case("round_-decimals", lambda L, x: (x * 2).round_(decimals=1), (R(2, 3),),
         "RoundBackward1"),
    case("trunc_", lambda L, x: (x * 2).trunc_(), (R(2, 3),), "TruncBackward0"),
    case("frac_", lambda L, x: (x * 2).frac_(), (R(2, 3),), "FracBackward0"),
    case("clamp_", lambda L, x: (x * 2).clamp_(-1, 1), (R(2, 3),), "ClampBackward1"),
    case("clamp_-tensors", lambda L, x, lo, hi: (x * 2).clamp_(lo, hi), (R(2, 3), R(3), P(3)),
         "ClampBackward0"),
    case("clamp_min_", lambda L, x: (x * 2).clamp_min_(0.1), (R(2, 3),), "ClampMinBackward0"),
    case("clamp_max_-tensor", lambda L, x, hi: (x * 2).clamp_max_(hi), (R(2, 3), R(3)),
         "ClampMaxBackward1"),
    case("lerp_", lambda L, x, e: (x * 2).lerp_(e, 0.3), (R(2, 3), R(2, 3)), "LerpBackward0"),
    case("floor_divide_", lambda L, x: (x * 2).floor_divide_(0.7), (R(2, 3),), NOT_IMPLEMENTED,
         backward=False),
    case("operator-imod", lambda L, x: _imod(x * 2, 0.7), (R(2, 3),), "RemainderBackward0"),
]


def _imod(t, y):
    t %= y
    return t


def _assert_close(a, t, what, dtype=None):
    """Tolerances of ``dtype``, else of ``t``'s own dtype (integer and bool: exact)."""
    t = t.detach().numpy(force=True)    # force: PyTorch's zero gradients may be ZeroTensors
    tol = TOL.get(dtype or t.dtype.name, dict(rtol=0, atol=0))
    assert_close(a, t, f"{what} ({t.dtype})", **tol, equal_nan=True)


def _compare_backward(a_in, t_in, a_out, t_out, grad, dtype=None):
    backward_both(a_out, t_out, grad)
    compare_input_gradients(a_in, t_in, lambda a, t, what: _assert_close(a, t, what, dtype))


@pytest.mark.parametrize("fn, specs, grad_fn, backward", CASES)
def test_values_gradients_and_grad_fn(fn, specs, grad_fn, backward):
    for dtype in DTYPES:
        a_in, t_in, a_out, t_out, rng = run_both(fn, specs, dtype)
        assert str(a_out.dtype) == str(t_out.dtype)
        _assert_close(a_out, t_out, "forward")
        if dtype == DTYPES[0]:
            assert t_out.grad_fn.name() == grad_fn, "the case's expected name is PyTorch's"
            assert a_out.grad_fn.name() == grad_fn
        if backward:
            _compare_backward(a_in, t_in, a_out, t_out, random_like(rng, t_out, dtype))


# Inputs of different dtypes: the output follows PyTorch's promotion, and each
# input's gradient comes back in that input's own dtype.
MIXED = [
    case("maximum-f32,f64", lambda L, x, y: L.maximum(x, y), (R(2, 3), D("float64", R(3))),
         "MaximumBackward0"),
    case("minimum-f64-0d,f32", lambda L, x, y: L.minimum(x, y), (D("float64", R()), R(2, 3)),
         "MinimumBackward0"),
    case("maximum-f32,int64", lambda L, x, y: L.maximum(x, y), (R(2, 3), D("int64", R(3))),
         "MaximumBackward0"),
    case("where-f32,f64", lambda L, c, x, y: L.where(c, x, y),
         (B(2, 3), R(2, 3), D("float64", R(3))), "WhereBackward0"),
    case("where-int64,f32", lambda L, c, x, y: L.where(c, x, y),
         (B(2, 3), D("int64", R(2, 3)), R(3)), "WhereBackward0"),
    case("where-f16,f64-0d", lambda L, c, x, y: L.where(c, x, y),
         (B(2, 3), D("float16", R(2, 3)), D("float64", R())), "WhereBackward0"),
    case("clamp-f32,f64-bounds", lambda L, x, lo, hi: L.clamp(x, lo, hi),
         (R(2, 3), D("float64", uniform((3,), -2.0, 0.0)), D("float64", P(3))), "ClampBackward0"),
    case("clamp-f32,f64-0d-bound", lambda L, x, lo: L.clamp(x, min=lo),
         (R(2, 3), D("float64", R())), "ClampBackward0"),
    case("clamp-int64,f32-bounds", lambda L, x, lo, hi: L.clamp(x, lo, hi),
         (D("int64", R(2, 3)), uniform((3,), -2.0, 0.0), P(2, 1)), "ClampBackward0"),
    case("clamp_min-f64,f32", lambda L, x, lo: x.clamp_min(lo), (D("float64", R(2, 3)), R(3)),
         "ClampMinBackward1"),
    case("remainder-f32,f64-0d", lambda L, x, y: x % y, (R(2, 3), D("float64", P())),
         "RemainderBackward1"),
    case("fmod-f64,f32", lambda L, x, y: L.fmod(x, y), (D("float64", R(2, 3)), P(3)),
         "FmodBackward1"),
    case("div-floor-int64,f32", lambda L, x, y: L.div(x, y, rounding_mode="floor"),
         (D("int64", R(2, 3)), P(3)), "DivBackward2"),
    case("sqrt-f16", lambda L, x: L.sqrt(x), (D("float16", P(2, 3)),), "SqrtBackward0"),
    case("sigmoid-f16", lambda L, x: L.sigmoid(x), (D("float16", R(2, 3)),), "SigmoidBackward0"),
]


@pytest.mark.parametrize("fn, specs, grad_fn, backward", MIXED)
def test_mixed_dtypes(fn, specs, grad_fn, backward):
    a_in, t_in, a_out, t_out, rng = run_both(fn, specs, "float32")
    assert str(a_out.dtype) == str(t_out.dtype)
    assert a_out.grad_fn.name() == t_out.grad_fn.name() == grad_fn
    # Tolerances of the least precise dtype taking part: it bounds every gradient.
    tol = "float16" if any("16" in str(t.dtype) for t in t_in) else "float32"
    _assert_close(a_out, t_out, "forward", tol)
    _compare_backward(a_in, t_in, a_out, t_out, random_like(rng, t_out), tol)


# ---------------------------------------------------------------- gradients of gradients

SECOND = [
    ("sqrt", lambda L, x: L.sqrt(x)), ("rsqrt", lambda L, x: x.rsqrt()),
    ("reciprocal", lambda L, x: L.reciprocal(x)), ("square", lambda L, x: x.square() * x),
    ("expm1", lambda L, x: L.expm1(x)), ("log1p", lambda L, x: L.log1p(x)),
    ("log2", lambda L, x: L.log2(x)), ("log10", lambda L, x: L.log10(x)),
    ("sin", lambda L, x: L.sin(x)), ("cos", lambda L, x: L.cos(x)), ("tan", lambda L, x: L.tan(x)),
    ("asin", lambda L, x: L.asin(x * 0.4)), ("acos", lambda L, x: L.acos(x * 0.4)),
    ("atan", lambda L, x: L.atan(x)),
    ("tanh", lambda L, x: L.tanh(x)), ("sigmoid", lambda L, x: L.sigmoid(x)),
    ("abs", lambda L, x: L.abs(x) * x), ("relu", lambda L, x: L.relu(x - 1) * x),
    ("sign", lambda L, x: L.sign(x - 1) * x * x), ("floor", lambda L, x: L.floor(x * 3) * x),
    ("frac", lambda L, x: L.frac(x * x) * x),
    ("round-decimals", lambda L, x: L.round(x * x, decimals=1) * x),
    ("clamp", lambda L, x: L.clamp(x, 0.8, 1.5) * x),
    ("clamp-tensors", lambda L, x: L.clamp(x * x, x.detach(), x.detach() + 0.5) * x),
    ("clamp_min-tensor", lambda L, x: L.clamp_min(x, x * x - 1) * x),
    ("maximum", lambda L, x: L.maximum(x, x * x)), ("minimum", lambda L, x: L.minimum(x, x * x)),
    ("where", lambda L, x: L.where(x > 1, x * x, x)),
    ("lerp", lambda L, x: L.lerp(x, x * x, x)),
    ("remainder", lambda L, x: (x * x) % x.detach() * x),
    ("fmod", lambda L, x: L.fmod(x * x, 0.7) * x),
    ("div-floor", lambda L, x: L.div(x * x, 0.3, rounding_mode="floor") * x + x * x),
]


@pytest.mark.parametrize("fn", [f for _, f in SECOND], ids=[i for i, _ in SECOND])
def test_second_derivatives(fn):
    data = np.array([0.7, 1.3, 1.9])
    results = []
    for lib in (agx, torch):
        x = lib.tensor(data, requires_grad=True)
        (g,) = lib.autograd.grad(fn(lib, x).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        results.append((g.detach().numpy(), gg.numpy()))
    (a_g, a_gg), (t_g, t_gg) = results
    np.testing.assert_allclose(a_g, t_g, rtol=1e-10, err_msg="first derivative")
    np.testing.assert_allclose(a_gg, t_gg, rtol=1e-10, err_msg="second derivative")


def test_pow_exponent_gradient_under_create_graph_keeps_a_0d_bases_dtype():
    # A 0-d float64 base ** a float64 tensor: the exponent's gradient, recorded, is float64
    # (its at-zero term was once made float32, and won the promotion over the 0-d base).
    exponent = np.linspace(0.5, 2.0, 6).reshape(2, 3)
    got = []
    for lib in (agx, torch):
        b = lib.tensor(0.7, dtype=lib.float64, requires_grad=True)
        e = lib.tensor(exponent, requires_grad=True)
        (g,) = lib.autograd.grad((b ** e).sum(), e, create_graph=True)
        got.append(g)
    assert got[0].dtype == agx.float64
    np.testing.assert_allclose(got[0].detach().numpy(), got[1].detach().numpy(), rtol=1e-12)


# ---------------------------------------------------------------- dtype rules

I64 = np.array([-2, 0, 3], np.int64)
I32 = np.array([-2, 0, 3], np.int32)
I8 = np.array([1, -2, 3], np.int8)
U8 = np.array([1, 2, 0], np.uint8)
BL = np.array([True, False, True])
F16 = np.array([1.5, -2.0, 3.0], np.float16)
F32 = np.array([1.5, -2.0, 3.0], np.float32)
F64 = np.array([1.5, -2.0, 3.0], np.float64)
F64_0 = np.array(0.5, np.float64)
I64_0 = np.array(2, np.int64)
NAN = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)
POS = np.array([1, 2, 5], np.int64)


FLOAT_OPS = ["sqrt", "rsqrt", "reciprocal", "expm1", "log1p", "log2", "log10", "sin", "cos",
             "tan", "atan", "tanh", "sigmoid"]

PROMOTION = [
    *[promo(f"{op}-int64", lambda L, x, op=op: getattr(L, op)(x), POS, expected="torch.float32")
      for op in FLOAT_OPS],
    *[promo(f"{op}-bool", lambda L, x, op=op: getattr(x, op)(), BL, expected="torch.float32")
      for op in ("sqrt", "sigmoid", "log1p", "expm1", "asin", "acos")],
    promo("sigmoid-int8", lambda L, x: x.sigmoid(), I8, expected="torch.float32"),
    promo("tanh-float16", lambda L, x: x.tanh(), F16, expected="torch.float16"),
    promo("abs-int64", lambda L, x: L.abs(x), I64, expected="torch.int64"),
    promo("abs-int8", lambda L, x: abs(x), I8, expected="torch.int8"),
    promo("absolute-uint8", lambda L, x: L.absolute(x), U8, expected="torch.uint8"),
    promo("neg-int32", lambda L, x: L.neg(x), I32, expected="torch.int32"),
    promo("negative-int8", lambda L, x: L.negative(x), I8, expected="torch.int8"),
    promo("sign-int64", lambda L, x: L.sign(x), I64, expected="torch.int64"),
    promo("sign-bool", lambda L, x: L.sign(x), BL, expected="torch.bool"),
    promo("sgn-int32", lambda L, x: x.sgn(), I32, expected="torch.int32"),
    promo("square-int32", lambda L, x: L.square(x), I32, expected="torch.int32"),
    promo("square-bool", lambda L, x: L.square(x), BL, expected="torch.int64"),
    promo("relu-int64", lambda L, x: L.relu(x), I64, expected="torch.int64"),
    *[promo(f"{op}-int64", lambda L, x, op=op: getattr(L, op)(x), I64, expected="torch.int64")
      for op in ("floor", "ceil", "round", "trunc", "fix")],
    # arithmetic on integers
    promo("div-int64/int64", lambda L, x, y: L.div(x, y), I64, POS, expected="torch.float32"),
    promo("divide-bool/bool", lambda L, x, y: L.divide(x, y), BL, np.ones(3, bool),
          expected="torch.float32"),
    promo("div-floor-int64", lambda L, x: L.div(x, 2, rounding_mode="floor"), I64,
          expected="torch.int64"),
    promo("div-trunc-int64-neg", lambda L, x: L.div(x, -2, rounding_mode="trunc"), I64,
          expected="torch.int64"),
    promo("div-trunc-int32/int32", lambda L, x, y: L.div(x, y, rounding_mode="trunc"),
          np.array([-7, 7, -7, 7, 0], np.int32), np.array([2, -2, -2, 2, 3], np.int32),
          expected="torch.int32"),
    promo("div-floor-int64/float", lambda L, x: L.div(x, 2.5, rounding_mode="floor"), I64,
          expected="torch.float32"),
    promo("floor_divide-int64", lambda L, x: x // -2, I64, expected="torch.int64"),
    promo("floor_divide-int64-py-float", lambda L, x: x // 2.5, I64, expected="torch.float32"),
    promo("floor_divide-rfloordiv-int", lambda L, x: 7 // x, np.array([3, -3, 2]),
          expected="torch.int64"),
    promo("floor_divide-int32,int64-0d", lambda L, x, y: L.floor_divide(x, y), I32, I64_0,
          expected="torch.int32"),
    promo("remainder-int64", lambda L, x: x % -2, I64, expected="torch.int64"),
    promo("remainder-rmod-int", lambda L, x: 7 % x, np.array([3, -3, 2]), expected="torch.int64"),
    promo("remainder-int8,f32", lambda L, x, y: L.remainder(x, y), I8, F32,
          expected="torch.float32"),
    promo("fmod-int64", lambda L, x: L.fmod(x, -2), I64, expected="torch.int64"),
    promo("fmod-int32-py-float", lambda L, x: x.fmod(1.5), I32, expected="torch.float32"),
    # clamp
    promo("clamp-int64-float-min", lambda L, x: L.clamp(x, 0.5), I64, expected="torch.float32"),
    promo("clamp-int64-int-bounds", lambda L, x: L.clamp(x, 0, 2), I64, expected="torch.int64"),
    promo("clamp-bool-int", lambda L, x: L.clamp(x, 0), BL, expected="torch.int64"),
    promo("clamp-int64-f32-tensor", lambda L, x, lo: L.clamp(x, lo), I64, F32,
          expected="torch.float32"),
    promo("clamp-int64-int-tensors", lambda L, x, lo, hi: L.clamp(x, lo, hi), I64,
          np.array(0), np.array(2), expected="torch.int64"),
    promo("clamp-f32-f64-0d", lambda L, x, lo: L.clamp(x, lo), F32, F64_0,
          expected="torch.float32"),
    promo("clamp_min-int64-float", lambda L, x: L.clamp_min(x, 0.5), I64, expected="torch.float32"),
    promo("clamp_max-int32-int", lambda L, x: x.clamp_max(1), I32, expected="torch.int32"),
    # maximum, minimum, where
    promo("maximum-int64,f32", lambda L, x, y: L.maximum(x, y), I64, F32, expected="torch.float32"),
    promo("maximum-bool,bool", lambda L, x, y: L.maximum(x, y), BL, BL[::-1].copy(),
          expected="torch.bool"),
    promo("maximum-int32,int64-0d", lambda L, x, y: L.maximum(x, y), I32, I64_0,
          expected="torch.int32"),
    promo("minimum-uint8,int8", lambda L, x, y: L.minimum(x, y), U8, I8, expected="torch.int16"),
    promo("maximum-nan", lambda L, x, y: L.maximum(x, y), NAN, NAN[::-1].copy(),
          expected="torch.float32"),
    promo("where-ints", lambda L, c: L.where(c, 1, 0), BL, expected="torch.int64"),
    promo("where-floats", lambda L, c: L.where(c, 1.0, 0), BL, expected="torch.float32"),
    promo("where-bools", lambda L, c: L.where(c, True, False), BL, expected="torch.bool"),
    promo("where-int32,py-int", lambda L, c, x: L.where(c, x, 2), BL, I32,
          expected="torch.int32"),
    promo("where-int64,py-float", lambda L, c, x: L.where(c, x, 2.5), BL, I64,
          expected="torch.float32"),
    promo("where-int64,f32", lambda L, c, x, y: L.where(c, x, y), BL, I64, F32,
          expected="torch.float32"),
    promo("where-f32,f64-0d", lambda L, c, x, y: L.where(c, x, y), BL, F32, F64_0,
          expected="torch.float32"),
    promo("where-method-int64,f64", lambda L, x, c, y: x.where(c, y), I64, BL, F64,
          expected="torch.float64"),
    # comparisons promote, then give bool
    promo("eq-int64,py-float", lambda L, x: x == 0.5, I64, expected="torch.bool"),
    promo("eq-int64,f32", lambda L, x, y: L.eq(x, y), I64, F32, expected="torch.bool"),
    promo("ne-f32,f64", lambda L, x, y: x != y, F32, F64, expected="torch.bool"),
    promo("lt-uint8,2", lambda L, x: x < 2, U8, expected="torch.bool"),
    promo("le-int32,1.5", lambda L, x: x <= 1.5, I32, expected="torch.bool"),
    promo("gt-bool,int", lambda L, x, y: x > y, BL, I64, expected="torch.bool"),
    promo("ge-nan", lambda L, x: x >= 1.0, NAN, expected="torch.bool"),
    promo("greater", lambda L, x, y: L.greater(x, y), F32, F64, expected="torch.bool"),
    promo("less", lambda L, x: L.less(x, 0), I8, expected="torch.bool"),
    promo("greater_equal", lambda L, x: x.greater_equal(0), I64, expected="torch.bool"),
    promo("less_equal", lambda L, x, y: L.less_equal(x, y), I64, I32, expected="torch.bool"),
    promo("not_equal", lambda L, x: x.not_equal(0), F16, expected="torch.bool"),
    promo("reflected-comparison", lambda L, x: 0 < x, I64, expected="torch.bool"),
    # logical and bitwise
    promo("logical_and-f32,int64", lambda L, x, y: L.logical_and(x, y), F32, I64,
          expected="torch.bool"),
    promo("logical_or-int8,bool", lambda L, x, y: x.logical_or(y), I8, BL, expected="torch.bool"),
    promo("logical_xor-f32,bool", lambda L, x, y: L.logical_xor(x, y), F32, BL,
          expected="torch.bool"),
    promo("logical_not-int64", lambda L, x: L.logical_not(x), I64, expected="torch.bool"),
    promo("logical_not-nan", lambda L, x: x.logical_not(), NAN, expected="torch.bool"),
    promo("bitwise_and-int64,bool", lambda L, x, y: L.bitwise_and(x, y), I64, BL,
          expected="torch.int64"),
    promo("bitwise_and-int32,py-int", lambda L, x: x & 3, I32, expected="torch.int32"),
    promo("bitwise_and-rand", lambda L, x: 3 & x, I64, expected="torch.int64"),
    promo("bitwise_and-bool,True", lambda L, x: x & True, BL, expected="torch.bool"),
    promo("bitwise_or-bool,int", lambda L, x: x | 4, BL, expected="torch.int64"),
    promo("bitwise_or-uint8,int8", lambda L, x, y: L.bitwise_or(x, y), U8, I8,
          expected="torch.int16"),
    promo("bitwise_xor-bool,bool", lambda L, x, y: x ^ y, BL, BL[::-1].copy(),
          expected="torch.bool"),
    promo("bitwise_xor-int8,py-int", lambda L, x: L.bitwise_xor(x, 5), I8, expected="torch.int8"),
    promo("bitwise_not-int64", lambda L, x: ~x, I64, expected="torch.int64"),
    promo("bitwise_not-uint8", lambda L, x: L.bitwise_not(x), U8, expected="torch.uint8"),
    promo("bitwise_not-bool", lambda L, x: ~x, BL, expected="torch.bool"),
    # tests of values
    promo("isnan", lambda L, x: L.isnan(x), NAN, expected="torch.bool"),
    promo("isinf", lambda L, x: x.isinf(), NAN, expected="torch.bool"),
    promo("isfinite", lambda L, x: L.isfinite(x), NAN, expected="torch.bool"),
    promo("isnan-int64", lambda L, x: L.isnan(x), I64, expected="torch.bool"),
    promo("isinf-bool", lambda L, x: L.isinf(x), BL, expected="torch.bool"),
    promo("isfinite-int8", lambda L, x: x.isfinite(), I8, expected="torch.bool"),
    promo("isclose", lambda L, x, y: L.isclose(x, y), F32, F32 + np.float32(1e-6),
          expected="torch.bool"),
    promo("isclose-tolerances", lambda L, x, y: L.isclose(x, y, rtol=0, atol=1e-3), F64,
          F64 + 5e-4 * np.array([1, 3, -1]), expected="torch.bool"),
    promo("isclose-nan-inf", lambda L, x: L.isclose(x, x), NAN, expected="torch.bool"),
    promo("isclose-equal_nan", lambda L, x: x.isclose(x, equal_nan=True), NAN,
          expected="torch.bool"),
    promo("isclose-int64", lambda L, x, y: L.isclose(x, y), I64, I64[::-1].copy(),
          expected="torch.bool"),
    promo("isclose-broadcast", lambda L, x, y: L.isclose(x, y), F64, np.array([[1.5], [3.0]]),
          expected="torch.bool"),
]


@pytest.mark.parametrize("fn, arrays, expected", PROMOTION)
def test_dtype_rules(fn, arrays, expected):
    a = fn(agx, *[agx.tensor(x) for x in arrays])
    t = fn(torch, *[torch.tensor(x) for x in arrays])
    assert str(t.dtype) == expected, "the case's expected dtype is PyTorch's"
    assert str(a.dtype) == expected
    assert a.grad_fn is None and not a.requires_grad
    _assert_close(a, t, "values")


BOOL_RESULTS = [
    ("allclose", lambda L, x, y: L.allclose(x, y), F32, F32 + np.float32(1e-6)),
    ("allclose-false", lambda L, x, y: x.allclose(y, atol=0, rtol=1e-9), F64, F64 * (1 + 1e-6)),
    ("allclose-equal_nan", lambda L, x: L.allclose(x, x, equal_nan=True), NAN),
    ("allclose-nan", lambda L, x: L.allclose(x, x), NAN),
    ("allclose-broadcast", lambda L, x, y: L.allclose(x, y), F32, F32[:1].copy()),
    ("equal", lambda L, x, y: L.equal(x, y), F32, F32.copy()),
    ("equal-other-dtype", lambda L, x, y: x.equal(y), I64, I64.astype(np.float32)),
    ("equal-other-shape", lambda L, x, y: L.equal(x, y), F32, F32[:1].copy()),
    ("equal-nan", lambda L, x: L.equal(x, x), NAN),
]


@pytest.mark.parametrize("fn, arrays", [pytest.param(f, a, id=i) for i, f, *a in BOOL_RESULTS])
def test_allclose_and_equal_values(fn, arrays):
    a = fn(agx, *[agx.tensor(x) for x in arrays])
    t = fn(torch, *[torch.tensor(x) for x in arrays])
    assert a is t


@pytest.mark.parametrize("name", ["allclose", "equal"])
def test_allclose_and_equal_return_python_bools(name):
    x = agx.tensor([1.0, 2.0], requires_grad=True)
    assert getattr(agx, name)(x, x) is True
    assert getattr(x, name)(x + 1) is False


# ---------------------------------------------------------------- special values


SPECIAL = [
    special("maximum-ties", lambda L, x, y: L.maximum(x, y),
            np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 2.0, 2.0, 1.0])),
    special("minimum-ties", lambda L, x, y: L.minimum(x, y),
            np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 2.0, 2.0, 1.0])),
    special("maximum-nan", lambda L, x, y: L.maximum(x, y),
            np.array([np.nan, 1.0, np.nan]), np.array([1.0, np.nan, np.nan])),
    special("maximum-inf", lambda L, x, y: L.maximum(x, y),
            np.array([np.inf, -np.inf, np.inf]), np.array([1.0, 2.0, np.inf])),
    special("clamp-at-bounds", lambda L, x: L.clamp(x, 1.0, 2.0),
            np.array([0.0, 1.0, 1.5, 2.0, 3.0, np.nan, np.inf, -np.inf])),
    special("clamp-min>max", lambda L, x: L.clamp(x, 2.0, 1.0), np.array([0.0, 1.5, 3.0, np.nan])),
    special("clamp-min-at-bound", lambda L, x: x.clamp(min=1.0), np.array([0.0, 1.0, 2.0])),
    special("clamp-nan-bound", lambda L, x: x.clamp(min=float("nan")), np.array([0.0, 1.0])),
    special("clamp-tensors-ties-crossed", lambda L, x, lo, hi: L.clamp(x, lo, hi),
            np.array([0.0, 1.0, 2.0, 3.0, -1.0, 4.5]), np.array([0.0, 2.0, 2.0, 1.0, 5.0, 5.0]),
            np.array([1.0, 3.0, 2.0, 3.0, 4.0, 4.0])),
    special("clamp-tensor-min-ties", lambda L, x, lo: L.clamp(x, min=lo),
            np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 1.0])),
    special("clamp_min-tensor-ties", lambda L, x, lo: L.clamp_min(x, lo),
            np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 1.0])),
    special("clamp_max-tensor-ties", lambda L, x, hi: L.clamp_max(x, hi),
            np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 1.0])),
    special("clamp_min-at-bound", lambda L, x: L.clamp_min(x, 1.0), np.array([0.0, 1.0, 2.0])),
    special("clamp_max-at-bound", lambda L, x: L.clamp_max(x, 1.0), np.array([0.0, 1.0, 2.0])),
    special("abs-zeros-nan", lambda L, x: L.abs(x), np.array([0.0, -0.0, 1.0, -1.0, np.nan])),
    special("sign-zeros-nan", lambda L, x: L.sign(x), np.array([0.0, -0.0, np.nan, -np.inf])),
    special("sgn-nan", lambda L, x: L.sgn(x), np.array([np.nan, 2.0, -0.0])),
    special("relu-zeros", lambda L, x: L.relu(x), np.array([0.0, -0.0, 1.0, -1.0])),
    special("relu-nan-inf", lambda L, x: L.relu(x), np.array([np.nan, np.inf, -np.inf, 1.0])),
    special("sqrt-zero", lambda L, x: L.sqrt(x), np.array([0.0, 4.0]), marks=NUMPY_WARNS),
    special("sqrt-negative", lambda L, x: L.sqrt(x), np.array([-1.0, 4.0]), marks=NUMPY_WARNS),
    special("rsqrt-zero", lambda L, x: L.rsqrt(x), np.array([0.0, 4.0]), marks=NUMPY_WARNS),
    special("reciprocal-zero", lambda L, x: L.reciprocal(x), np.array([0.0, -0.0, 2.0]),
            marks=NUMPY_WARNS),
    special("sigmoid-extremes", lambda L, x: L.sigmoid(x),
            np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0, np.inf, -np.inf])),
    special("sigmoid-extremes-float32", lambda L, x: L.sigmoid(x),
            np.array([-200.0, -90.0, 0.0, 90.0, 200.0], np.float32)),
    special("tanh-extremes", lambda L, x: L.tanh(x), np.array([-1000.0, 0.0, 1000.0, np.inf])),
    special("log1p-minus-one", lambda L, x: L.log1p(x), np.array([-1.0, 0.0, 1e-300]),
            marks=NUMPY_WARNS),
    special("expm1-tiny-huge", lambda L, x: L.expm1(x), np.array([1e-300, -1e-300, 1000.0]),
            marks=NUMPY_WARNS),
    special("log2-log10-zero", lambda L, x: L.log2(x) + L.log10(x), np.array([0.0, 1.0, 8.0]),
            marks=NUMPY_WARNS),
    special("round-halves", lambda L, x: L.round(x),
            np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5])),
    special("round-decimals-halves", lambda L, x: L.round(x, decimals=1),
            np.array([0.25, 0.35, -0.45, 1e300, 123.456])),
    special("floor-ceil-trunc-frac", lambda L, x: L.floor(x) + L.ceil(x) + L.trunc(x) + L.frac(x),
            np.array([-1.5, -0.5, 0.0, 0.5, 1.5])),
    special("remainder-signs", lambda L, x, y: x % y,
            np.array([-0.0, 3.0, 2.0, -2.0, 5.5, -5.5, 7.0]),
            np.array([3.0, 3.0, -2.0, 2.0, -2.0, 2.0, np.inf])),
    special("fmod-signs", lambda L, x, y: L.fmod(x, y),
            np.array([-0.0, 3.0, 2.0, -2.0, 5.5, -5.5, 7.0]),
            np.array([3.0, 3.0, -2.0, 2.0, -2.0, 2.0, np.inf])),
    special("div-floor-signs", lambda L, x, y: L.div(x, y, rounding_mode="floor"),
            np.array([-0.0, 3.0, 2.0, -2.0, 5.5, -5.5, 1.0, -1.0]),
            np.array([3.0, 3.0, -2.0, 2.0, -2.0, 2.0, 0.0, 0.0]), marks=NUMPY_WARNS),
    special("div-trunc-signs", lambda L, x, y: L.div(x, y, rounding_mode="trunc"),
            np.array([-0.0, 3.0, 2.0, -2.0, 5.5, -5.5, 1.0, -1.0]),
            np.array([3.0, 3.0, -2.0, 2.0, -2.0, 2.0, 0.0, 0.0]), marks=NUMPY_WARNS),
    # The exponent's gradient at base 0: 0 for exponent >= 0, out * log(0) = -inf below.
    special("pow-zero-base", lambda L, x, y: x ** y, np.array([0.0, 0.0, 0.0, 0.0, 2.0]),
            np.array([-1.0, 0.0, 1.0, 2.5, -1.0]), marks=NUMPY_WARNS),
    special("pow-scalar-zero-base", lambda L, y: 0 ** y, np.array([-1.0, 0.0, 1.0, 2.5]),
            marks=NUMPY_WARNS),
    special("pow-scalar-negative-base", lambda L, y: (-2.0) ** y, np.array([-1.0, 0.0, 2.0]),
            marks=NUMPY_WARNS),
    special("where-inf-not-selected", lambda L, c, x, y: L.where(c, x, y),
            np.array([True, False]), np.array([1.0, np.inf]), np.array([np.nan, 2.0])),
    special("lerp-ends", lambda L, x, e, w: L.lerp(x, e, w), np.array([1.0, 1.0, 3.0]),
            np.array([1e8, 5.0, -7.0]), np.array([0.0, 1.0, 0.5])),
    # zeros, infinities, negatives and nan; a tiny x; both sides of x = a + 1
    special("igamma-edges", lambda L, a, x: L.igamma(a.detach(), x),
            np.array([0.0, 0.0, 1.0, 2.0, -1.0, 1.0, np.inf, 1.0, np.inf, 3.0, 7.5, 7.5, 0.1]),
            np.array([0.0, 1.0, 0.0, -1.0, 1.0, np.inf, 1.0, np.nan, np.inf, 1e-300, 8.4, 8.6,
                      30.0]), marks=NUMPY_WARNS),
    special("igammac-edges", lambda L, a, x: L.igammac(a.detach(), x),
            np.array([0.0, 0.0, 1.0, 2.0, -1.0, 1.0, np.inf, 1.0, np.inf, 3.0, 7.5, 7.5, 0.1]),
            np.array([0.0, 1.0, 0.0, -1.0, 1.0, np.inf, 1.0, np.nan, np.inf, 1e-300, 8.4, 8.6,
                      30.0]), marks=NUMPY_WARNS),
]


@pytest.mark.parametrize("fn, arrays", SPECIAL)
def test_special_values(fn, arrays):
    a_in, t_in = both(arrays)
    a_out, t_out = fn(agx, *a_in), fn(torch, *t_in)
    assert str(a_out.dtype) == str(t_out.dtype)
    _assert_close(a_out, t_out, "forward")
    dtype = str(t_out.dtype)[6:]
    _compare_backward(a_in, t_in, a_out, t_out, np.ones(tuple(t_out.shape), dtype))


# ---------------------------------------------------------------- in place

INPLACE_INTEGER = [
    ("abs_", I64, ()), ("neg_", I32, ()), ("sign_", I64, ()), ("square_", I32, ()),
    ("relu_", I64, ()), ("floor_", I64, ()), ("clamp_", I64, (0, 2)), ("clamp_min_", I8, (0,)),
    ("add_", I64, (2,)), ("mul_", I32, (3,)), ("floor_divide_", I64, (-2,)),
    ("remainder_", I64, (-2,)), ("fmod_", I64, (2,)), ("div_", I64, (2,)),
    ("bitwise_and_", I64, (6,)), ("bitwise_or_", BL, (BL[::-1].copy(),)),
    ("bitwise_xor_", I32, (5,)), ("bitwise_not_", I8, ()), ("logical_not_", I64, ()),
    ("logical_and_", F32, (BL,)), ("eq_", I64, (0,)), ("lt_", F32, (0.5,)),
    ("ge_", I64, (0.5,)), ("sqrt_", np.abs(F16), ()), ("sigmoid_", F64, ()),
]


@pytest.mark.parametrize("name, array, args", INPLACE_INTEGER,
                         ids=[f"{n}-{a.dtype}" for n, a, _ in INPLACE_INTEGER])
def test_inplace_values_dtypes_and_errors(name, array, args):
    """The result cast into the tensor's dtype, or PyTorch's error when it cannot be."""
    results = []
    for lib in (agx, torch):
        t = lib.tensor(array.copy())
        version = t._version
        extra = [lib.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
        try:
            assert getattr(t, name)(*extra) is t
        except RuntimeError as e:
            assert t._version == version
            results.append(("error", "can't be cast" in str(e)))
        else:
            assert t._version == version + 1
            results.append((str(t.dtype), t.numpy().copy()))
    (a_kind, a_value), (t_kind, t_value) = results
    assert a_kind == t_kind
    if a_kind == "error":
        assert a_value and t_value
    else:
        np.testing.assert_array_equal(a_value, t_value)


def _inplace_then_backward(lib, name, args):
    x = lib.tensor([0.5, 1.5], requires_grad=True)
    y = x * 1
    getattr(y, name)(*args)
    y.sum().backward()
    return y.grad_fn.name(), x.grad.numpy(force=True)


@pytest.mark.parametrize("name", ["eq_", "lt_", "ne_", "le_", "gt_", "ge_"])
def test_inplace_comparison_on_a_tensor_that_requires_grad(name):
    (a_name, a_grad), (t_name, t_grad) = [_inplace_then_backward(lib, name, (1.0,))
                                          for lib in (agx, torch)]
    assert a_name == t_name
    np.testing.assert_array_equal(a_grad, t_grad)


@pytest.mark.parametrize("name", ["logical_not_", "logical_and_"])
def test_inplace_logical_op_on_a_tensor_that_requires_grad(name):
    # PyTorch records nothing here: the tensor keeps its history (and its gradient).
    results = [_inplace_then_backward(lib, name, () if name == "logical_not_"
                                      else (lib.tensor([1.0, 0.0]),)) for lib in (agx, torch)]
    (a_name, a_grad), (t_name, t_grad) = results
    assert a_name == t_name == "MulBackward0"
    np.testing.assert_array_equal(a_grad, t_grad)


# ---------------------------------------------------------------- errors PyTorch raises

def _backward(out):
    out.sum().backward()


ERRORS = [
    err("neg-bool", lambda L: -L.tensor([True]), RuntimeError,
        r"Negation, the `-` operator, on a bool tensor is not supported"),
    err("sub-bool", lambda L: L.tensor([True]) - L.tensor([False]), RuntimeError,
        r"Subtraction, the `-` operator, with two bool tensors is not supported"),
    err("clamp-no-bounds", lambda L: L.clamp(L.tensor([1.0])), RuntimeError,
        r"At least one of 'min' or 'max' must not be None"),
    err("clamp-mixed-bounds", lambda L: L.clamp(L.tensor([1.0]), 0, L.tensor([1.0])),
        TypeError, r"clamp\(\) received an invalid combination of arguments"),
    err("maximum-number", lambda L: L.maximum(L.tensor([1.0]), 2), TypeError,
        r"maximum\(\): argument 'other' \(position 2\) must be Tensor, not int"),
    err("minimum-number", lambda L: L.minimum(L.tensor([1.0]), 2.5), TypeError,
        r"minimum\(\): argument 'other' \(position 2\) must be Tensor, not float"),
    err("where-int-condition", lambda L: L.where(L.tensor([1, 0]), 1.0, 0.0), RuntimeError,
        r"where expected condition to be a boolean tensor, but got a tensor with dtype Long"),
    err("where-bool-condition", lambda L: L.where(True, L.tensor([1.0]), L.tensor([2.0])),
        TypeError, r"where\(\)"),
    err("where-two-arguments", lambda L: L.where(L.tensor([True]), L.tensor([2.0])),
        TypeError, r"where\(\) received an invalid combination of arguments"),
    err("div-bad-rounding-mode", lambda L: L.div(L.tensor([1.0]), 2, rounding_mode="x"),
        RuntimeError, r"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                      r"but found 'x'"),
    err("floor_divide-int-by-zero", lambda L: L.tensor([1, 2]) // 0, RuntimeError,
        "ZeroDivisionError"),
    err("floor_divide-int-by-zero-tensor", lambda L: L.tensor([1, 2]) // L.tensor([1, 0]),
        RuntimeError, "ZeroDivisionError"),
    err("remainder-int-by-zero", lambda L: L.tensor([1, 2]) % 0, RuntimeError,
        "ZeroDivisionError"),
    err("rmod-int-by-zero", lambda L: 2 % L.tensor([1, 0]), RuntimeError, "ZeroDivisionError"),
    err("fmod-int-by-zero", lambda L: L.fmod(L.tensor([1, 2]), 0), RuntimeError,
        "ZeroDivisionError"),
    err("div-floor-int-by-zero", lambda L: L.div(L.tensor([1]), 0, rounding_mode="floor"),
        RuntimeError, "ZeroDivisionError"),
    err("floor_divide-bool", lambda L: L.tensor([True]) // L.tensor([True]),
        NotImplementedError, r"not implemented for 'Bool'"),
    err("remainder-bool", lambda L: L.tensor([True]) % L.tensor([True]), NotImplementedError,
        r"not implemented for 'Bool'"),
    err("fmod-bool", lambda L: L.fmod(L.tensor([True]), L.tensor([True])), NotImplementedError,
        r"not implemented for 'Bool'"),
    err("div-floor-bool", lambda L: L.div(L.tensor([True]), L.tensor([True]),
                                          rounding_mode="floor"),
        NotImplementedError, r"not implemented for 'Bool'"),
    err("fmod-number-first", lambda L: L.fmod(2, L.tensor([1.0])), TypeError, r"fmod\(\)"),
    err("eq-number-first", lambda L: L.eq(2, L.tensor([1.0])), TypeError, r"eq\(\)"),
    err("abs-bool", lambda L: L.abs(L.tensor([True])), NotImplementedError,
        r"not implemented for 'Bool'"),
    err("floor-bool", lambda L: L.floor(L.tensor([True])), NotImplementedError,
        r"not implemented for 'Bool'"),
    err("round-bool", lambda L: L.round(L.tensor([True])), NotImplementedError,
        r"not implemented for 'Bool'"),
    err("frac-int", lambda L: L.frac(L.tensor([1])), NotImplementedError,
        r"not implemented for 'Long'"),
    err("round-decimals-int", lambda L: L.round(L.tensor([1]), decimals=1),
        NotImplementedError, r"not implemented for 'Long'"),
    err("relu-bool", lambda L: L.relu(L.tensor([True])), RuntimeError,
        r"Boolean inputs not supported for relu"),
    err("bitwise_and-float", lambda L: L.bitwise_and(L.tensor([1.0]), L.tensor([1.0])),
        NotImplementedError, r"not implemented for 'Float'"),
    err("bitwise_or-int-py-float", lambda L: L.tensor([1]) | 2.5, NotImplementedError,
        r"not implemented for 'Float'"),
    err("bitwise_not-float", lambda L: L.bitwise_not(L.tensor([1.0])), NotImplementedError,
        r"not implemented for 'Float'"),
    err("logical_and-number", lambda L: L.logical_and(L.tensor([1.0]), True), TypeError,
        r"logical_and\(\): argument 'other' \(position 2\) must be Tensor, not bool"),
    err("isclose-dtypes", lambda L: L.isclose(L.tensor([1.0]), L.tensor([1.0]).double()),
        RuntimeError, r"Float did not match Double"),
    err("allclose-dtypes", lambda L: L.allclose(L.tensor([1]), L.tensor([1.0])),
        RuntimeError, r"Long did not match Float"),
    err("isclose-number", lambda L: L.isclose(L.tensor([1.0]), 1.0), TypeError,
        r"isclose\(\): argument 'other' \(position 2\) must be Tensor, not float"),
    err("equal-number", lambda L: L.equal(L.tensor([1.0]), 1.0), TypeError,
        r"equal\(\): argument 'other' \(position 2\) must be Tensor, not float"),
    err("lerp-end-dtype", lambda L: L.lerp(L.tensor([1.0]), L.tensor([2.0]).double(), 0.5),
        RuntimeError, r"expected dtype float for `end` but got dtype double"),
    err("lerp-weight-dtype", lambda L: L.lerp(L.tensor([1.0]), L.tensor([2.0]),
                                              L.tensor([0.5]).double()),
        RuntimeError, r"expected dtype float for `weight` but got dtype double"),
    err("lerp-int", lambda L: L.lerp(L.tensor([1]), L.tensor([2]), 0.5), NotImplementedError,
        r"not implemented for 'Long'"),
    err("sqrt_-int", lambda L: L.tensor([1, 4]).sqrt_(), RuntimeError,
        r"result type Float can't be cast to the desired output type Long|"
        r"result type float32 can't be cast to the desired output type int64"),
    err("inplace-on-leaf", lambda L: L.tensor([1.0], requires_grad=True).sigmoid_(),
        RuntimeError, r"a leaf Variable that requires grad is being used in an in-place"),
    err("floor_divide-backward",
        lambda L: _backward(L.tensor([1.5], requires_grad=True) // 2), RuntimeError,
        r"derivative for aten::floor_divide is not implemented"),
    err("rmod-backward", lambda L: _backward(2 % L.tensor([1.5], requires_grad=True)),
        RuntimeError, r"derivative for aten::remainder is not implemented"),
    err("igamma-input-backward",
        lambda L: _backward(L.igamma(L.tensor([1.5], requires_grad=True), L.tensor([1.0]))),
        NotImplementedError, r"the derivative for 'igamma: input' is not implemented\."),
    err("igammac-number", lambda L: L.igammac(L.tensor([1.0]), 2.0), TypeError,
        r"igammac\(\): argument 'other' \(position 2\) must be Tensor, not float"),
    err("igamma-int", lambda L: L.igamma(L.tensor([1]), L.tensor([2])), NotImplementedError,
        r"\"igamma_cpu\" not implemented for 'Long'"),
]


@pytest.mark.parametrize("fn, exc, match", ERRORS)
def test_errors_match_pytorch(fn, exc, match):
    for lib in (torch, agx):
        with pytest.raises(exc, match=match):
            fn(lib)


def test_every_op_is_compared_with_torch():
    """Each op of the elementwise module, by name or alias, appears in a case id above."""
    from autogradx.ops import elementwise
    ids = " ".join(p.id for p in CASES + MIXED + PROMOTION + SPECIAL + ERRORS) + " " + " ".join(
        i for i, *_ in BOOL_RESULTS)
    for op in elementwise.OPS:
        if op.name in ("add", "sub", "rsub", "mul", "div", "pow", "exp", "log", "neg", "clone"):
            continue        # tests/ops/test_against_torch.py
        names = (op.name, op.method or "", *op.aliases)
        assert any(n and n in ids for n in names), op.name


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_igamma_igammac_values_and_gradient_over_a_sweep(dtype):
    """A C loop on NumPy arrays (autogradx/_core/special.pyx): PyTorch's values and its
    gradient in ``other`` over a range of ``input`` (PyTorch switches to an asymptotic
    series beyond 20, good to ~2e-9) and ``other``, with the special points."""
    rng = np.random.default_rng(0)
    a = np.exp(rng.uniform(np.log(1e-2), np.log(20.0), 2000))
    x = a * np.exp(rng.uniform(-3, 3, 2000))
    edges = np.array([0.0, -1.0, 0.5, 3.0, np.inf, np.nan])
    a = np.concatenate([a, np.repeat(edges, 6)]).astype(dtype)
    x = np.concatenate([x, np.tile(edges, 6)]).astype(dtype)
    tol = {"float32": dict(rtol=2e-5, atol=1e-30), "float64": dict(rtol=1e-12, atol=1e-300)}
    for name in ("igamma", "igammac"):
        out = {}
        for lib in (agx, torch):
            xt = lib.tensor(x, requires_grad=True)
            y = getattr(lib, name)(lib.tensor(a), xt)
            y.sum().backward()
            out[lib] = y.detach().numpy(), xt.grad.numpy()
        for got, want in zip(out[agx], out[torch]):
            assert got.dtype == want.dtype
            np.testing.assert_allclose(got, want, **tol[dtype])


def test_abs_gradient_is_grad_times_sgn_as_in_torch():
    # grad * sgn(input): at 0 and at NaN an infinite or NaN grad gives NaN, a finite one 0.
    data = np.array([0.0, -0.0, np.nan, 1.0, -1.0, 0.0, 2.0, -3.0])
    grad = np.array([np.inf, -np.inf, 1.0, np.nan, np.inf, 2.0, -np.inf, np.nan])
    results = []
    for lib in (agx, torch):
        x = lib.tensor(data, requires_grad=True)
        lib.abs(x).backward(lib.tensor(grad))
        results.append(x.grad.numpy())
    np.testing.assert_array_equal(results[0], results[1])


_SPECIAL = [-0.0, 0.0, np.nan, np.inf, -np.inf, 1e-30, -1e-30, 3.0, -3.0, 100.0, -100.0]


def _same_bits_as_torch(got, want):
    """Equal values, NaN where PyTorch has NaN, and the sign of each zero."""
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sign", "sgn", "sigmoid"])
def test_sign_and_sigmoid_at_zeros_infinities_and_nan(name, dtype):
    """sign and sgn: PyTorch's 0 for NaN and +0 for -0.0; sigmoid: 1 / 2 at both zeros, its
    limits at the infinities, NaN at NaN; then the gradients."""
    x_np = np.array(_SPECIAL, dtype=dtype)
    out = {}
    for lib in (agx, torch):
        x = lib.tensor(x_np, requires_grad=True)
        y = getattr(lib, name)(x)
        y.backward(lib.tensor(np.linspace(-1, 1, x_np.size).astype(dtype)))
        grad = x.grad.numpy(force=True) if lib is torch else x.grad.numpy()   # a ZeroTensor
        out[lib] = y.detach().numpy(), grad
    (got, got_grad), (want, want_grad) = out[agx], out[torch]
    assert got.dtype == want.dtype
    if name == "sigmoid":
        # exp differs between the libraries by an ulp or so; at -100 PyTorch's float32
        # 1 / (1 + exp(100)) is 0, autogradx's the subnormal exp(-100) / (1 + exp(-100)).
        tol = dict(rtol=1e-6, atol=np.finfo(dtype).tiny)
        np.testing.assert_allclose(got, want, **tol)
        np.testing.assert_allclose(got_grad, want_grad, **tol)
    else:
        _same_bits_as_torch(got, want)
        _same_bits_as_torch(got_grad, want_grad)


# inf * 0 (slope 0) warns, as NumPy's arithmetic does everywhere in autogradx; PyTorch is quiet.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("slope", [0.01, 1.0, 0.0, -0.2, 2.0])
def test_leaky_relu_at_zeros_infinities_and_nan(slope, dtype):
    """Every slope (``0 < slope <= 1`` takes a shorter formula): PyTorch's values (the sign
    of zeros, NaN for inf * 0) and gradients."""
    x_np = np.array(_SPECIAL, dtype=dtype)
    g_np = np.array([-0.0, 1.0, 2.0, -0.0, np.inf, 1.0, np.nan, 1.0, -1.0, 2.0, 3.0], dtype=dtype)
    out = {}
    for lib in (agx, torch):
        x = lib.tensor(x_np, requires_grad=True)
        y = lib.nn.functional.leaky_relu(x, slope)
        y.backward(lib.tensor(g_np))
        out[lib] = y.detach().numpy(), x.grad.numpy()
    for got, want in zip(out[agx], out[torch]):
        assert got.dtype == want.dtype
        _same_bits_as_torch(got, want)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["abs", "angle"])
@pytest.mark.parametrize("values", [_SPECIAL, [1.5, -2.0, 3.0, -1e-30]], ids=["special", "nonzero"])
def test_abs_and_angle_at_zeros_infinities_and_nan(name, values, dtype):
    """abs's gradient is PyTorch's g * sgn(input) (sgn 0 at 0 and at NaN: NaN for an inf
    or NaN g there, -0.0 for -0.0); angle is pi below 0, +0 at both zeros, NaN at NaN."""
    x_np = np.array(values, dtype=dtype)
    g_np = np.resize(np.array([-0.0, np.inf, np.nan, 2.0, -1.0], dtype=dtype), x_np.shape)
    out = {}
    for lib in (agx, torch):
        x = lib.tensor(x_np, requires_grad=True)
        y = getattr(lib, name)(x)
        y.backward(lib.tensor(g_np))
        grad = x.grad.numpy(force=True) if lib is torch else x.grad.numpy()   # a ZeroTensor
        out[lib] = y.detach().numpy(), grad
    for got, want in zip(out[agx], out[torch]):
        assert got.dtype == want.dtype
        _same_bits_as_torch(got, want)
