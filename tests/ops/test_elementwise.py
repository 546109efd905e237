"""The elementwise ops on their own: finite-difference gradient checks (float64),
gradients at special points (ties, bounds, zeros), in-place variants, and errors.

Gradcheck cases are one line each: an id, the function, and input specs:
``R(shape)`` real values, ``P(shape)`` positive values, ``B(shape)`` a bool
tensor (a condition), ``K(spec)`` a constant operand (no gradient). Python
scalars are written into the functions. The comparison with PyTorch is in
``test_elementwise_torch.py``.
"""

import numpy as np
import pytest

import autogradx as agx
from autogradx.ops import elementwise
from autogradx.testing import gradcheck
from helpers import B, K, P, R, U, case, leaf, make_inputs, uniform


ARITHMETIC = [
    case("multiply-3x1*1x4", lambda x, y: agx.multiply(x, y), R(3, 1), R(1, 4)),
    case("multiply-method-py", lambda x: x.multiply(2.5), R(2, 3)),
    case("subtract-2x3x4-4", lambda x, y: agx.subtract(x, y), R(2, 3, 4), R(4)),
    case("subtract-alpha", lambda x, y: x.subtract(y, alpha=2), R(2, 3), R()),
    case("divide-3x1/1x4", lambda x, y: agx.divide(x, y), R(3, 1), P(1, 4)),
    case("true_divide-0d/2x3", lambda x, y: agx.true_divide(x, y), R(), P(2, 3)),
    case("negative", lambda x: agx.negative(x), R(2, 3)),
    case("negative-method-0d", lambda x: x.negative(), R()),
    case("div-trunc", lambda x, y: agx.div(x, y, rounding_mode="trunc"), R(3, 1), P(1, 4)),
    case("div-floor", lambda x, y: x.div(y, rounding_mode="floor"), R(2, 3), P(3)),
    case("div-floor-py", lambda x: agx.div(x, 0.7, rounding_mode="floor"), R(2, 3)),
    case("div-mode-None", lambda x, y: agx.div(x, y, rounding_mode=None), R(2, 3), P(3)),
    case("remainder-3x1%1x4", lambda x, y: x % y, R(3, 1), P(1, 4)),
    case("remainder-neg-divisor", lambda x, y: x % -y, R(2, 3), P(2, 3)),
    case("remainder-py", lambda x: x % 0.7, R(2, 3)),
    case("remainder-fn-0d", lambda x, y: agx.remainder(x, y), R(), P(4)),
    case("remainder-const-divisor", lambda x, y: x.remainder(y), R(2, 3), K(P(3))),
    case("fmod-3x1,1x4", lambda x, y: agx.fmod(x, y), R(3, 1), P(1, 4)),
    case("fmod-neg-divisor", lambda x, y: agx.fmod(x, -y), R(2, 3), P(3)),
    case("fmod-py", lambda x: x.fmod(-0.7), R(2, 3)),
]

UNARY = [
    case("sqrt", lambda x: agx.sqrt(x), P(2, 3)),
    case("sqrt-method-0d", lambda x: x.sqrt(), P()),
    case("rsqrt", lambda x: agx.rsqrt(x), P(2, 3)),
    case("rsqrt-method", lambda x: x.rsqrt(), P(4)),
    case("square", lambda x: agx.square(x), R(2, 3)),
    case("square-method-0d", lambda x: x.square(), R()),
    case("reciprocal", lambda x: agx.reciprocal(x), P(2, 3)),
    case("reciprocal-negative", lambda x: (-x).reciprocal(), P(2, 3)),
    case("expm1", lambda x: agx.expm1(x), R(2, 3)),
    case("expm1-small", lambda x: (x * 1e-3).expm1(), R(4)),
    case("log1p", lambda x: agx.log1p(x), P(2, 3)),
    case("log1p-small", lambda x: (x * 1e-3).log1p(), R(4)),
    case("log2", lambda x: agx.log2(x), P(2, 3)),
    case("log10", lambda x: x.log10(), P(2, 3)),
    case("sin", lambda x: agx.sin(x), R(2, 3)),
    case("cos", lambda x: x.cos(), R(2, 3)),
    case("tan", lambda x: agx.tan(x), uniform((2, 3), -1.2, 1.2)),
    case("asin", lambda x: agx.asin(x), uniform((2, 3), -0.9, 0.9)),
    case("acos", lambda x: x.arccos(), uniform((2, 3), -0.9, 0.9)),
    case("atan", lambda x: agx.atan(x), R(2, 3)),
    case("tanh", lambda x: agx.tanh(x), R(2, 3)),
    case("tanh-0d", lambda x: x.tanh(), R()),
    case("sigmoid", lambda x: agx.sigmoid(x), R(2, 3)),
    case("sigmoid-method-large", lambda x: (x * 20).sigmoid(), R(2, 3)),
    case("relu", lambda x: agx.relu(x), R(2, 3)),
    case("relu-method-0d", lambda x: x.relu(), R()),
    case("abs", lambda x: agx.abs(x), R(2, 3)),
    case("abs-operator", lambda x: abs(x), R(4)),
    case("absolute", lambda x: x.absolute(), R(2, 3)),
    case("sign", lambda x: agx.sign(x) * x, R(2, 3)),
    case("sgn", lambda x: x.sgn() + x, R(2, 3)),
    case("floor", lambda x: agx.floor(x * 3) + x, R(2, 3)),
    case("ceil", lambda x: x.mul(3).ceil() + x, R(2, 3)),
    case("round", lambda x: agx.round(x * 3) + x, R(2, 3)),
    case("round-decimals", lambda x: x.round(decimals=1) + x, R(2, 3)),
    case("round-decimals-negative", lambda x: (x * 100).round(decimals=-1) + x, R(4)),
    case("trunc", lambda x: agx.trunc(x * 3) + x, R(2, 3)),
    case("fix", lambda x: agx.fix(x * 3) + x, R(4)),
    case("frac", lambda x: agx.frac(x * 3), R(2, 3)),
    case("chain", lambda x: agx.sigmoid(agx.sqrt(x.abs() + 1) * x.sin()).log1p(), R(2, 3)),
]

BOUNDS = [
    case("clamp-scalars", lambda x: agx.clamp(x, -0.5, 0.8), R(3, 4)),
    case("clamp-min-only", lambda x: x.clamp(min=-0.3), R(3, 4)),
    case("clamp-max-only", lambda x: x.clamp(max=0.3), R(3, 4)),
    case("clamp-int-bounds", lambda x: x.clamp(-1, 1), R(3, 4)),
    case("clamp-min>max", lambda x: x.clamp(1.0, -1.0), R(3, 4)),
    case("clamp-0d", lambda x: x.clamp(-0.5, 0.5), R()),
    case("clip", lambda x: agx.clip(x, -0.5, 0.5), R(3, 4)),
    case("clamp-tensors", lambda x, lo, hi: agx.clamp(x, lo, hi),
         R(3, 4), uniform((3, 1), -2.0, 0.0), uniform((1, 4), 0.0, 2.0)),
    case("clamp-tensors-crossed", lambda x, lo, hi: agx.clamp(x, lo, hi), R(3, 4), R(4), R(3, 1)),
    case("clamp-tensor-min", lambda x, lo: x.clamp(min=lo), R(3, 4), R(4)),
    case("clamp-tensor-max", lambda x, hi: x.clamp(max=hi), R(3, 4), R(3, 1)),
    case("clamp-tensor-0d-bounds", lambda x, lo, hi: x.clamp(lo, hi),
         R(3, 4), uniform((), -1.0, 0.0), uniform((), 0.0, 1.0)),
    case("clamp-const-bounds", lambda x, lo, hi: x.clamp(lo, hi), R(3, 4), K(R(4)), K(R(4))),
    case("clamp-bound-broadcasts-input", lambda x, lo: agx.clamp(x, min=lo), R(4), R(3, 4)),
    case("clamp_min", lambda x: agx.clamp_min(x, 0.2), R(3, 4)),
    case("clamp_min-tensor", lambda x, lo: x.clamp_min(lo), R(3, 4), R(4)),
    case("clamp_max", lambda x: x.clamp_max(-0.2), R(3, 4)),
    case("clamp_max-tensor", lambda x, hi: agx.clamp_max(x, hi), R(3, 4), R(3, 1)),
    case("maximum", lambda x, y: agx.maximum(x, y), R(2, 3), R(2, 3)),
    case("maximum-3x1,1x4", lambda x, y: agx.maximum(x, y), R(3, 1), R(1, 4)),
    case("maximum-0d-method", lambda x, y: x.maximum(y), R(), R(2, 3)),
    case("minimum", lambda x, y: agx.minimum(x, y), R(2, 3), R(2, 3)),
    case("minimum-2x3x4,4", lambda x, y: x.minimum(y), R(2, 3, 4), R(4)),
    case("nextafter", lambda x, y: agx.nextafter(x, y), R(2, 3), R(3)),
    # the incomplete gamma functions: a derivative for ``other`` only, on both sides of
    # x = a + 1 (series and continued fraction)
    case("igamma", lambda a, x: agx.igamma(a, x), K(uniform((2, 3), 0.5, 4.0)),
         uniform((3,), 0.2, 8.0)),
    case("igammac-method", lambda a, x: a.igammac(x), K(uniform((3, 1), 0.5, 4.0)),
         uniform((1, 4), 0.2, 8.0)),
    case("where", lambda c, x, y: agx.where(c, x, y), B(2, 3), R(2, 3), R(2, 3)),
    case("where-broadcast", lambda c, x, y: agx.where(c, x, y), B(3, 1), R(1, 4), R(4)),
    case("where-cond-broadcasts-inputs", lambda c, x, y: agx.where(c, x, y),
         B(2, 3, 4), R(4), R()),
    case("where-py-other", lambda c, x: agx.where(c, x, 0.5), B(2, 3), R(2, 3)),
    case("where-py-input", lambda c, y: agx.where(c, -1, y), B(2, 3), R(3)),
    case("where-kwargs", lambda c, x, y: agx.where(condition=c, input=x, other=y),
         B(3), R(3), R(3)),
    case("where-method", lambda x, c, y: x.where(c, y), R(2, 3), B(2, 3), R(3)),
    case("where-method-py", lambda x, c: x.where(c, 2.0), R(2, 3), B(2, 3)),
    case("where-mask-from-input", lambda x: agx.where(x > 0, x, x * 0.1), R(3, 4)),
    case("lerp", lambda x, e: agx.lerp(x, e, 0.3), R(2, 3), R(2, 3)),
    case("lerp-weight-high", lambda x, e: x.lerp(e, 0.8), R(3, 1), R(1, 4)),
    case("lerp-weight-tensor", lambda x, e, w: agx.lerp(x, e, w), R(2, 3), R(3), U(2, 1)),
    case("lerp-weight-0d", lambda x, e, w: agx.lerp(x, e, w), R(3), R(3), U()),
]

# In-place variants on a non-leaf: the gradient flows through them to the leaf.
INPLACE = [
    case("add_", lambda x, y: (x * 1).add_(y, alpha=2), R(2, 3), R(3)),
    case("sub_", lambda x, y: (x * 1).sub_(y), R(2, 3), R(2, 3)),
    case("mul_", lambda x, y: (x + 1).mul_(y), R(2, 3), R(3)),
    case("div_", lambda x, y: (x + 1).div_(y), R(2, 3), P(3)),
    case("div_-floor", lambda x, y: (x + 1).div_(y, rounding_mode="floor") + x, R(2, 3), P(3)),
    case("pow_", lambda x: (x + 3).pow_(1.5), R(2, 3)),
    case("pow_-tensor", lambda x, y: (x + 3).pow_(y), R(2, 3), R(3)),
    case("neg_", lambda x: (x * 2).neg_(), R(2, 3)),
    case("remainder_", lambda x, y: (x * 2).remainder_(y), R(2, 3), P(3)),
    case("fmod_", lambda x: (x * 2).fmod_(0.7), R(2, 3)),
    case("abs_", lambda x: (x * 2).abs_(), R(2, 3)),
    case("sqrt_", lambda x: (x + 2.5).sqrt_(), R(2, 3)),
    case("rsqrt_", lambda x: (x + 2.5).rsqrt_(), R(2, 3)),
    case("square_", lambda x: (x * 2).square_(), R(2, 3)),
    case("reciprocal_", lambda x: (x + 2.5).reciprocal_(), R(2, 3)),
    case("exp_", lambda x: (x * 2).exp_(), R(2, 3)),
    case("expm1_", lambda x: (x * 2).expm1_(), R(2, 3)),
    case("log_", lambda x: (x + 2.5).log_(), R(2, 3)),
    case("log1p_", lambda x: (x * 0.4).log1p_(), R(2, 3)),
    case("log2_", lambda x: (x + 2.5).log2_(), R(2, 3)),
    case("log10_", lambda x: (x + 2.5).log10_(), R(2, 3)),
    case("sin_", lambda x: (x * 2).sin_(), R(2, 3)),
    case("cos_", lambda x: (x * 2).cos_(), R(2, 3)),
    case("tan_", lambda x: (x * 0.5).tan_(), R(2, 3)),
    case("tanh_", lambda x: (x * 2).tanh_(), R(2, 3)),
    case("sigmoid_", lambda x: (x * 2).sigmoid_(), R(2, 3)),
    case("relu_", lambda x: (x * 2).relu_(), R(2, 3)),
    case("sign_", lambda x: (x * 2).sign_() * x, R(2, 3)),
    case("floor_", lambda x: (x * 2).floor_() + x, R(2, 3)),
    case("frac_", lambda x: (x * 2).frac_(), R(2, 3)),
    case("clamp_", lambda x: (x * 2).clamp_(-1, 1), R(2, 3)),
    case("clamp_-tensors", lambda x, lo, hi: (x * 2).clamp_(lo, hi), R(2, 3), R(3), P(3)),
    case("clamp_min_", lambda x: (x * 2).clamp_min_(0.1), R(2, 3)),
    case("clamp_max_-tensor", lambda x, hi: (x * 2).clamp_max_(hi), R(2, 3), R(3)),
    case("lerp_", lambda x, e: (x * 2).lerp_(e, 0.3), R(2, 3), R(2, 3)),
    case("ops-after-in-place", lambda x: (agx.sigmoid((x * 2).sin_()) * x).sqrt_(), P(2, 3)),
    case("operators-in-place", lambda x, y: _iops(x * 1, y), R(2, 3), P(3)),
]


def _iops(t, y):
    t += y
    t *= y
    t -= 0.5
    t /= y
    t %= 1.5
    return t


ALL = ARITHMETIC + UNARY + BOUNDS + INPLACE


@pytest.mark.parametrize("fn, specs", ALL)
def test_gradcheck_float64(fn, specs):
    assert gradcheck(fn, make_inputs(specs, seed=1234))


FLOAT32 = [
    case("sigmoid", lambda x: agx.sigmoid(x * 4), R(2, 3)),
    case("clamp-tensors", lambda x, lo, hi: agx.clamp(x, lo, hi), R(3, 4), R(4), P(3, 1)),
    case("maximum-0d", lambda x, y: agx.maximum(x, y), R(), R(2, 3)),
    case("where-broadcast", lambda c, x, y: agx.where(c, x, y), B(3, 1), R(1, 4), R(4)),
    case("remainder", lambda x, y: x % y, R(3, 1), P(1, 4)),
    case("lerp-weight-tensor", lambda x, e, w: agx.lerp(x, e, w), R(2, 3), R(3), U(2, 1)),
]


@pytest.mark.parametrize("fn, specs", FLOAT32)
def test_gradcheck_float32_inputs(fn, specs):
    assert gradcheck(fn, make_inputs(specs, seed=1234, dtype=agx.float32))


def test_every_differentiable_op_is_gradchecked():
    """Each op of the module with a vjp (floor_divide excepted: it has no derivative;
    comparisons: their zero derivative is tested with their in-place forms) appears in
    a gradcheck id, by its name or an alias."""
    ids = " ".join(p.id for p in ALL)
    ops = [op for op in elementwise.OPS if op.vjp is not None or op.vjps is not None]
    for op in ops:
        if op.name in ("floor_divide", "clone", "add", "sub", "rsub", "mul", "div", "pow",
                       "exp", "log", "neg", "eq", "ne", "lt", "le", "gt", "ge"):
            continue        # no derivative / covered by tests/ops/test_gradients.py
        names = (op.name, op.method or "", *op.aliases)
        assert any(n and n in ids for n in names), op.name


# ---------------------------------------------------------------- special points

def grads(fn, *values):
    """The gradients of ``fn(*leaves).sum()`` for leaves holding ``values``."""
    leaves = [leaf(v) for v in values]
    fn(*leaves).sum().backward()
    return [t.grad.numpy() for t in leaves]


def test_maximum_minimum_split_ties_half_and_half():
    x, y = [0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 2.0, 1.0]
    gx, gy = grads(agx.maximum, x, y)
    np.testing.assert_array_equal(gx, [0.5, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(gy, [0.5, 1.0, 0.5, 0.0])
    gx, gy = grads(agx.minimum, x, y)
    np.testing.assert_array_equal(gx, [0.5, 1.0, 0.5, 0.0])
    np.testing.assert_array_equal(gy, [0.5, 0.0, 0.5, 1.0])


def test_maximum_of_a_tensor_with_itself_gives_the_full_gradient():
    x = leaf([1.0, -2.0])
    agx.maximum(x, x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_clamp_passes_the_gradient_at_the_bounds():
    (g,) = grads(lambda x: x.clamp(1.0, 2.0), [0.0, 1.0, 1.5, 2.0, 3.0, np.nan])
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 0, 0])
    (g,) = grads(lambda x: x.clamp(min=1.0), [0.0, 1.0, 3.0])
    np.testing.assert_array_equal(g, [0, 1, 1])
    (g,) = grads(lambda x: x.clamp_max(1.0), [0.0, 1.0, 3.0])
    np.testing.assert_array_equal(g, [1, 1, 0])


def test_clamp_tensor_bounds_gradients_at_ties_and_crossed_bounds():
    x, lo, hi = [0.0, 1.0, 2.0, 3.0, -1.0], [0.0, 2.0, 2.0, 1.0, 5.0], [1.0, 3.0, 2.0, 3.0, 4.0]
    gx, glo, ghi = grads(agx.clamp, x, lo, hi)
    np.testing.assert_array_equal(gx, [1, 0, 1, 1, 0])
    np.testing.assert_array_equal(glo, [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(ghi, [0, 0, 0, 0, 1])      # min > max: the result is max
    gx, glo = grads(agx.clamp_min, x, lo)
    np.testing.assert_array_equal(gx, [1, 0, 1, 1, 0])
    np.testing.assert_array_equal(glo, [0, 1, 0, 0, 1])


def test_zero_gradients_at_zero():
    for fn, expected in [(agx.abs, [0.0, 1.0, -1.0]), (agx.sign, [0.0, 0.0, 0.0]),
                         (agx.relu, [0.0, 1.0, 0.0]), (agx.sgn, [0.0, 0.0, 0.0])]:
        (g,) = grads(fn, [0.0, 2.0, -2.0])
        np.testing.assert_array_equal(g, expected, err_msg=fn.__name__)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_sqrt_gradient_at_zero_is_infinite():
    (g,) = grads(agx.sqrt, [0.0, 4.0])
    np.testing.assert_array_equal(g, [np.inf, 0.25])


def test_sigmoid_is_exact_and_warning_free_at_large_magnitudes():
    x = agx.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], requires_grad=True)
    out = agx.sigmoid(x)
    np.testing.assert_array_equal(out.detach().numpy()[[0, 2, 4]], [0.0, 0.5, 1.0])
    assert out.detach().numpy()[1] == pytest.approx(np.exp(-50.0), rel=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, np.exp(-50.0), 0.25, 0.0, 0.0],
                               rtol=1e-6, atol=1e-30)


def test_log1p_expm1_keep_precision_for_tiny_inputs():
    x = agx.tensor([1e-20, -1e-20], dtype=agx.float64)
    np.testing.assert_array_equal(agx.log1p(x).numpy(), [1e-20, -1e-20])
    np.testing.assert_array_equal(agx.expm1(x).numpy(), [1e-20, -1e-20])


def test_where_gradient_is_zero_where_not_selected():
    c = agx.tensor([True, False, True])
    x, y = leaf([1.0, 2.0, 3.0]), leaf([4.0])
    agx.where(c, x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 1])
    np.testing.assert_array_equal(y.grad.numpy(), [1])


def test_rounded_division_gradients_are_zero():
    gx, gy = grads(lambda x, y: agx.div(x, y, rounding_mode="floor"), [1.5, -2.5], [2.0, 0.5])
    np.testing.assert_array_equal(gx, [0, 0])
    np.testing.assert_array_equal(gy, [0, 0])


# ---------------------------------------------------------------- in place

INPLACE_VALUES = [
    ("add_", (1.5,)), ("sub_", (0.5,)), ("mul_", (2.0,)), ("div_", (4.0,)),
    ("pow_", (2,)), ("neg_", ()), ("floor_divide_", (0.5,)), ("remainder_", (0.7,)),
    ("fmod_", (0.7,)), ("abs_", ()), ("sqrt_", ()), ("rsqrt_", ()), ("square_", ()),
    ("reciprocal_", ()), ("exp_", ()), ("expm1_", ()), ("log_", ()), ("log1p_", ()),
    ("log2_", ()), ("log10_", ()), ("sin_", ()), ("cos_", ()), ("tan_", ()), ("tanh_", ()),
    ("sigmoid_", ()), ("relu_", ()), ("sign_", ()), ("sgn_", ()), ("floor_", ()),
    ("ceil_", ()), ("round_", ()), ("trunc_", ()), ("frac_", ()), ("clamp_", (0.6, 1.2)),
    ("clamp_min_", (1.0,)), ("clamp_max_", (1.0,)),
    ("lerp_", (agx.ones(3, dtype=agx.float64), 0.25)),
    ("eq_", (1.5,)), ("ne_", (1.5,)), ("lt_", (1.0,)), ("le_", (1.5,)), ("gt_", (1.0,)),
    ("ge_", (1.5,)), ("logical_and_", (agx.tensor([0.0, 1.0, 1.0]),)),
    ("logical_or_", (agx.tensor([0.0, 1.0, 1.0]),)),
    ("logical_xor_", (agx.tensor([0.0, 1.0, 1.0]),)), ("logical_not_", ()),
]


@pytest.mark.parametrize("name, args", INPLACE_VALUES, ids=[n for n, _ in INPLACE_VALUES])
def test_inplace_matches_out_of_place_and_bumps_the_version(name, args):
    data = np.array([0.5, 1.5, 2.5])
    t = agx.tensor(data)
    expected = getattr(agx.tensor(data), name[:-1])(*args)
    version = t._version
    assert getattr(t, name)(*args) is t
    assert t._version == version + 1
    assert t.dtype == agx.float64       # the result is cast into the tensor's dtype
    np.testing.assert_allclose(t.numpy(), expected.numpy().astype(np.float64), rtol=1e-12)


@pytest.mark.parametrize("name, args", [("add_", (1,)), ("abs_", ()), ("clamp_", (0, 1)),
                                        ("sigmoid_", ())],
                         ids=["add_", "abs_", "clamp_", "sigmoid_"])
def test_inplace_on_a_leaf_that_requires_grad_is_refused(name, args):
    x = agx.tensor([0.5, 1.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        getattr(x, name)(*args)
    with agx.no_grad():
        getattr(x, name)(*args)     # allowed outside grad mode
    assert x.grad_fn is None


def test_inplace_records_the_new_grad_fn_on_a_non_leaf():
    x = agx.tensor([0.5, 1.5], requires_grad=True)
    y = x * 2
    assert y.sqrt_().grad_fn.name() == "SqrtBackward0"
    assert y.clamp_(0, 1).grad_fn.name() == "ClampBackward1"
    assert y.grad_fn.next_functions[0][0].name() == "SqrtBackward0"


def test_an_inplace_op_changing_what_the_one_before_saved_is_refused():
    # sqrt_ saves its result, which clamp_ then changes: PyTorch refuses the backward
    # (autogradx once computed it from the changed values, which happened to be right here).
    x = agx.tensor([0.5, 1.5], requires_grad=True)
    y = x * 2
    y.sqrt_()
    y.clamp_(0, 1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*SqrtBackward0"):
        y.sum().backward()


def test_inplace_change_of_a_saved_input_is_detected():
    x = agx.tensor([0.5, 1.5], requires_grad=True)
    y = x * 1
    z = y.sin()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_change_of_a_saved_result_is_detected():
    x = agx.tensor([0.5, 1.5], requires_grad=True)
    y = agx.sigmoid(x)      # saves its result
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_into_an_integer_tensor_refuses_a_float_result():
    t = agx.tensor([1, 4])
    with pytest.raises(RuntimeError, match="can't be cast"):
        t.sqrt_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        t.clamp_(0.5)
    np.testing.assert_array_equal(t.numpy(), [1, 4])     # unchanged


@pytest.mark.parametrize("op", ["__ifloordiv__", "__imod__", "__iand__", "__ior__", "__ixor__"])
def test_inplace_operators_on_integers(op):
    t = agx.tensor([6, 7, -9])
    expected = getattr(np.array([6, 7, -9]), op)(4)
    assert getattr(t, op)(4) is t
    np.testing.assert_array_equal(t.numpy(), expected)


ALIAS_INPLACE = ["multiply_", "subtract_", "divide_", "true_divide_", "negative_", "absolute_",
                 "fix_", "clip_", "greater_", "less_", "greater_equal_", "less_equal_",
                 "not_equal_"]


@pytest.mark.parametrize("name", ALIAS_INPLACE)
def test_alias_inplace_variants_match_their_op(name):
    data = np.array([0.5, 1.5, -2.5])
    t = agx.tensor(data)
    args = () if name in ("negative_", "absolute_", "fix_") else (1.5,)
    expected = getattr(agx.tensor(data), name[:-1])(*args).numpy().astype(data.dtype)
    assert getattr(t, name)(*args) is t
    np.testing.assert_array_equal(t.numpy(), expected)


# ---------------------------------------------------------------- bad input

def test_clamp_needs_a_bound_and_bounds_of_one_kind():
    x = agx.tensor([1.0])
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        agx.clamp(x)
    with pytest.raises(TypeError, match="clamp"):
        agx.clamp(x, 0, agx.tensor([1.0]))


def test_where_checks_its_condition():
    x = agx.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="boolean tensor.*Float"):
        agx.where(x, x, x)
    with pytest.raises(TypeError, match="'condition'.*must be Tensor, not bool"):
        agx.where(True, x, x)


def test_floor_divide_has_no_derivative():
    x = agx.tensor([1.5, 2.5], requires_grad=True)
    y = x // 2
    assert y.grad_fn.name() == "torch::autograd::NotImplemented"
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
        y.sum().backward()


@pytest.mark.parametrize("fn", [lambda t: t // 0, lambda t: t % 0, lambda t: agx.fmod(t, 0),
                                lambda t: agx.div(t, 0, rounding_mode="trunc")],
                         ids=["floor_divide", "remainder", "fmod", "div-trunc"])
def test_integer_division_by_zero_raises(fn):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fn(agx.tensor([1, 2]))


def test_comparisons_are_never_recorded():
    x = agx.tensor([1.0, 2.0], requires_grad=True)
    for out in (x > 1, x == x, agx.isclose(x, x), agx.isnan(x), agx.logical_not(x)):
        assert out.dtype == agx.bool and out.grad_fn is None and not out.requires_grad
