"""The built-in ops against PyTorch: same inputs through both, in float32 and float64.

For every case: the forward values, the output dtype, the gradient of every
input (backward with the same random output gradient) and the name of the
``grad_fn`` must match PyTorch's. Then PyTorch's type promotion for int, float
and bool tensors, Python scalars and 0-d tensors, and the values (and
gradients) the ops give at special points (0, inf, overflow) without warnings.
"""

import numpy as np
import pytest

import autogradx as agx
from helpers import D, K, P, R, U
from torch_compare import (DTYPES, assert_close, backward_both, both, compare_input_gradients,
                           promo, random_like, run_both, special)

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12),
       "float16": dict(rtol=1e-3, atol=1e-3)}


class Case:
    """One op application: ``fn(lib, *tensors)`` on inputs from ``specs``.

    ``values_bug`` / ``name_bug``: the reason autogradx is known to be wrong
    about the values (and gradients) / the grad_fn name; the test is then an
    expected failure (strict) until the bug is fixed.
    """

    def __init__(self, id, fn, specs, grad_fn, values_bug=None, name_bug=None):
        self.id, self.fn, self.specs, self.grad_fn = id, fn, specs, grad_fn
        self.values_bug, self.name_bug = values_bug, name_bug


def case(*args, **kwargs):
    return Case(*args, **kwargs)


def _params(cases, bug):
    out = []
    for c in cases:
        reason = getattr(c, bug)
        marks = pytest.mark.xfail(strict=True, reason=reason) if reason else ()
        out.append(pytest.param(c.fn, c.specs, c.grad_fn, id=c.id, marks=marks))
    return out


def bce(lib, *args, **kw):
    return lib.nn.functional.binary_cross_entropy_with_logits(*args, **kw)


CASES = [
    # elementwise, with broadcasting and Python scalars on either side
    case("add", lambda L, x, y: x + y, (R(2, 3), R(2, 3)), "AddBackward0"),
    case("add-3x1+1x4", lambda L, x, y: x + y, (R(3, 1), R(1, 4)), "AddBackward0"),
    case("add-2x3x4+4", lambda L, x, y: x + y, (R(2, 3, 4), R(4)), "AddBackward0"),
    case("add-0d+2x3", lambda L, x, y: x + y, (R(), R(2, 3)), "AddBackward0"),
    case("add-1+5", lambda L, x, y: x + y, (R(1), R(5)), "AddBackward0"),
    case("add-x+py", lambda L, x: x + 2, (R(2, 3),), "AddBackward0"),
    case("add-py+x", lambda L, x: 2.5 + x, (R(2, 3),), "AddBackward0"),
    case("add-alpha", lambda L, x, y: L.add(x, y, alpha=2), (R(3, 1), R(1, 4)), "AddBackward0"),
    case("sub", lambda L, x, y: x - y, (R(3, 1), R(1, 4)), "SubBackward0"),
    case("sub-x-py", lambda L, x: x - 2, (R(2, 3),), "SubBackward0"),
    case("sub-alpha", lambda L, x, y: L.sub(x, y, alpha=-0.5), (R(2, 3, 4), R(4)),
         "SubBackward0"),
    case("rsub-py-x", lambda L, x: 2 - x, (R(2, 3),), "RsubBackward1"),
    case("rsub-pyfloat-x-0d", lambda L, x: 2.5 - x, (R(),), "RsubBackward1"),
    case("rsub-fn-tensors", lambda L, x, y: L.rsub(x, y), (R(3, 1), R(1, 4)), "RsubBackward0"),
    case("mul", lambda L, x, y: x * y, (R(2, 3, 4), R(4)), "MulBackward0"),
    case("mul-0d*2x3", lambda L, x, y: x * y, (R(), R(2, 3)), "MulBackward0"),
    case("mul-py*x", lambda L, x: 3 * x, (R(2, 3),), "MulBackward0"),
    case("div", lambda L, x, y: x / y, (R(3, 1), P(1, 4)), "DivBackward0"),
    case("div-1/5", lambda L, x, y: x / y, (R(1), P(5)), "DivBackward0"),
    case("div-x/py", lambda L, x: x / 2, (R(2, 3),), "DivBackward0"),
    case("div-py/x", lambda L, x: 2 / x, (P(2, 3),), "MulBackward0"),
    case("neg", lambda L, x: -x, (R(2, 3),), "NegBackward0"),
    case("neg-fn", lambda L, x: L.neg(x), (R(),), "NegBackward0"),
    case("exp", lambda L, x: L.exp(x), (R(2, 3),), "ExpBackward0"),
    case("exp-method", lambda L, x: x.exp(), (R(4),), "ExpBackward0"),
    case("log", lambda L, x: L.log(x), (P(2, 3),), "LogBackward0"),
    case("log-method", lambda L, x: x.log(), (P(),), "LogBackward0"),
    case("clone", lambda L, x: x.clone(), (R(2, 3),), "CloneBackward0"),
    case("clone-fn", lambda L, x: L.clone(x), (R(4),), "CloneBackward0"),
    # pow: tensor ** tensor (positive base), tensor ** scalar, scalar ** tensor
    case("pow-tensor", lambda L, x, y: x ** y, (P(2, 3), R(2, 3)), "PowBackward1"),
    case("pow-3x1**1x4", lambda L, x, y: x ** y, (P(3, 1), R(1, 4)), "PowBackward1"),
    case("pow-0d**2x3", lambda L, x, y: x ** y, (P(), R(2, 3)), "PowBackward1"),
    case("pow-**2", lambda L, x: x ** 2, (R(2, 3),), "PowBackward0"),
    case("pow-**0.5", lambda L, x: x ** 0.5, (P(2, 3),), "PowBackward0"),
    case("pow-**-1", lambda L, x: x ** -1, (P(2, 3),), "PowBackward0"),
    case("pow-**0", lambda L, x: x ** 0, (R(2, 3),), "PowBackward0"),
    case("pow-fn-scalar", lambda L, x: L.pow(x, 3), (R(2, 3),), "PowBackward0"),
    case("pow-2**x", lambda L, x: 2 ** x, (R(2, 3),), "PowBackward2"),
    case("pow-2.5**x", lambda L, x: 2.5 ** x, (R(),), "PowBackward2"),
    # matmul, every rank combination
    case("matmul-1d@1d", lambda L, a, b: a @ b, (R(3), R(3)), "DotBackward0"),
    case("matmul-2d@1d", lambda L, a, b: a @ b, (R(2, 3), R(3)), "MvBackward0"),
    case("matmul-1d@2d", lambda L, a, b: a @ b, (R(3), R(3, 4)), "SqueezeBackward4"),
    case("matmul-2d@2d", lambda L, a, b: a @ b, (R(2, 3), R(3, 4)), "MmBackward0"),
    case("matmul-3d@3d", lambda L, a, b: a @ b, (R(2, 2, 3), R(2, 3, 4)), "UnsafeViewBackward0"),
    case("matmul-3d@2d", lambda L, a, b: a @ b, (R(2, 2, 3), R(3, 4)), "UnsafeViewBackward0"),
    # 2-D @ 3-D where the 2-D input requires grad: PyTorch names the node after an
    # internal copy (CloneBackward0, or TransposeBackward0 for one row); autogradx
    # says UnsafeViewBackward0 as for every batched product (a documented difference).
    case("matmul-2d@3d-const-a", lambda L, a, b: a @ b, (K(R(2, 3)), R(2, 3, 4)),
         "UnsafeViewBackward0"),
    case("matmul-broadcast-batch", lambda L, a, b: a @ b, (R(2, 1, 3, 4), R(5, 4, 2)),
         "UnsafeViewBackward0"),
    case("matmul-1d@3d", lambda L, a, b: a @ b, (R(3), R(2, 3, 4)), "UnsafeViewBackward0"),
    case("matmul-3d@1d", lambda L, a, b: a @ b, (R(2, 3, 4), R(4)), "UnsafeViewBackward0"),
    case("matmul-fn", lambda L, a, b: L.matmul(a, b), (R(2, 3), R(3, 4)), "MmBackward0"),
    # reductions
    case("sum", lambda L, x: x.sum(), (R(2, 3, 4),), "SumBackward0"),
    case("sum-fn", lambda L, x: L.sum(x), (R(2, 3),), "SumBackward0"),
    case("sum-dim", lambda L, x: x.sum(1), (R(2, 3, 4),), "SumBackward1"),
    case("sum-dim-neg-keepdim", lambda L, x: x.sum(-1, keepdim=True), (R(2, 3, 4),),
         "SumBackward1"),
    case("sum-dim-tuple", lambda L, x: x.sum((0, 2)), (R(2, 3, 4),), "SumBackward1"),
    case("sum-dim-tuple-keepdim", lambda L, x: L.sum(x, dim=(2, 0), keepdim=True),
         (R(2, 3, 4),), "SumBackward1"),
    case("sum-dim-all", lambda L, x: x.sum((0, 1)), (R(2, 3),), "SumBackward1"),
    case("sum-dim-empty", lambda L, x: x.sum(dim=()), (R(2, 3),), "SumBackward1"),
    case("sum-0d", lambda L, x: x.sum(), (R(),), "SumBackward0"),
    case("sum-0d-dim", lambda L, x: x.sum(0), (R(),), "SumBackward1"),
    case("mean-0d-dim-keepdim", lambda L, x: x.mean(-1, keepdim=True), (R(),), "MeanBackward1"),
    case("mean", lambda L, x: x.mean(), (R(2, 3, 4),), "MeanBackward0"),
    case("mean-fn", lambda L, x: L.mean(x), (R(5),), "MeanBackward0"),
    case("mean-dim", lambda L, x: x.mean(0), (R(2, 3, 4),), "MeanBackward1"),
    case("mean-dim-neg-keepdim", lambda L, x: x.mean(-2, keepdim=True), (R(2, 3, 4),),
         "MeanBackward1"),
    case("mean-dim-tuple", lambda L, x: x.mean((1, 2)), (R(2, 3, 4),), "MeanBackward1"),
    case("mean-dim-tuple-keepdim", lambda L, x: L.mean(x, dim=(-1, 0), keepdim=True),
         (R(2, 3, 4),), "MeanBackward1"),
    # permute
    case("permute", lambda L, x: x.permute(2, 0, 1), (R(2, 3, 4),), "PermuteBackward0"),
    case("permute-tuple", lambda L, x: x.permute((1, 0)), (R(2, 3),), "PermuteBackward0"),
    case("permute-fn", lambda L, x: L.permute(x, (0, -1, 1)), (R(2, 3, 4),), "PermuteBackward0"),
    # binary_cross_entropy_with_logits: gradients for input and target
    *[case(f"bce-{red}", lambda L, x, y, r=red: bce(L, x, y, reduction=r),
           (R(2, 3), U(2, 3)), "BinaryCrossEntropyWithLogitsBackward0")
      for red in ("mean", "sum", "none")],
    *[case(f"bce-weight-{red}", lambda L, x, y, w, r=red: bce(L, x, y, weight=w, reduction=r),
           (R(2, 3), U(2, 3), K(P(2, 3))), "BinaryCrossEntropyWithLogitsBackward0")
      for red in ("mean", "sum", "none")],
    *[case(f"bce-pos_weight-{red}",
           lambda L, x, y, pw, r=red: bce(L, x, y, pos_weight=pw, reduction=r),
           (R(2, 3), U(2, 3), K(P(3))), "BinaryCrossEntropyWithLogitsBackward0")
      for red in ("mean", "sum", "none")],
    *[case(f"bce-weight-pos_weight-{red}",
           lambda L, x, y, w, pw, r=red: bce(L, x, y, weight=w, pos_weight=pw, reduction=r),
           (R(2, 3), U(2, 3), K(P(1, 3)), K(P(3))), "BinaryCrossEntropyWithLogitsBackward0")
      for red in ("mean", "sum", "none")],
    case("bce-positional-weight", lambda L, x, y, w: bce(L, x, y, w),
         (R(4), U(4), K(P(4))), "BinaryCrossEntropyWithLogitsBackward0"),
    case("bce-large-logits", lambda L, x, y: bce(L, x * 40, y),
         (R(2, 3), U(2, 3)), "BinaryCrossEntropyWithLogitsBackward0"),
]


# Inputs of different dtypes: the output follows PyTorch's promotion, and each
# input's gradient comes back in that input's own dtype.
MIXED = [
    case("mixed-add-f32+f64", lambda L, x, y: x + y, (R(2, 3), D("float64", R(3))), "AddBackward0"),
    case("mixed-mul-f64*f32", lambda L, x, y: x * y, (D("float64", R(3, 1)), R(1, 4)),
         "MulBackward0"),
    case("mixed-div-f32/f64-0d", lambda L, x, y: x / y, (R(2, 3), D("float64", P())),
         "DivBackward0"),
    case("mixed-pow-f64-0d**f32", lambda L, x, y: x ** y, (D("float64", P()), R(2, 3)),
         "PowBackward1"),
    case("mixed-sub-f16-f32", lambda L, x, y: x - y, (D("float16", R(2, 3)), R(3)),
         "SubBackward0"),
    case("mixed-mul-f32*int64", lambda L, x, y: x * y, (R(2, 3), D("int64", R(3))),
         "MulBackward0"),
    case("mixed-div-int64/f32", lambda L, x, y: x / y, (D("int64", R(2, 3)), P(3)),
         "DivBackward0"),
    case("mixed-add-f64-0d+int32", lambda L, x, y: x + y, (D("float64", R()), D("int32", R(4))),
         "AddBackward0"),
    case("mixed-bce-f32-target-f64", lambda L, x, y: bce(L, x, y),
         (R(2, 3), D("float64", U(2, 3))), "BinaryCrossEntropyWithLogitsBackward0"),
]


def _assert_close(a, t, dtype, what):
    assert_close(a, t, what, **TOL[dtype], equal_nan=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, specs, grad_fn", _params(CASES, "values_bug"))
def test_values_and_gradients(fn, specs, grad_fn, dtype):
    a_in, t_in, a_out, t_out, rng = run_both(fn, specs, dtype)
    assert str(a_out.dtype) == str(t_out.dtype)
    assert tuple(a_out.shape) == tuple(t_out.shape)
    _assert_close(a_out, t_out, dtype, "forward")
    backward_both(a_out, t_out, random_like(rng, t_out, dtype))
    compare_input_gradients(a_in, t_in, lambda a, t, what: _assert_close(a, t, dtype, what))


@pytest.mark.parametrize("fn, specs, grad_fn", _params(MIXED, "values_bug"))
def test_mixed_dtypes(fn, specs, grad_fn):
    a_in, t_in, a_out, t_out, rng = run_both(fn, specs, "float32")
    assert str(a_out.dtype) == str(t_out.dtype)
    assert a_out.grad_fn.name() == t_out.grad_fn.name() == grad_fn
    _assert_close(a_out, t_out, "float16" if "float16" in str(t_out.dtype) else "float32",
                  "forward")
    backward_both(a_out, t_out, random_like(rng, t_out))
    compare_input_gradients(a_in, t_in, lambda a, t, what: _assert_close(
        a, t, "float16" if "16" in str(t.dtype) else "float32", what))


@pytest.mark.parametrize("fn, specs, grad_fn", _params(CASES, "name_bug"))
def test_grad_fn_name(fn, specs, grad_fn):
    _, _, a_out, t_out, _ = run_both(fn, specs, "float32")
    assert t_out.grad_fn.name() == grad_fn, "the case's expected name is PyTorch's"
    assert a_out.grad_fn.name() == grad_fn




# ---------------------------------------------------------------- type promotion

I64 = np.array([1, 2, 3], np.int64)
I32 = np.array([1, 2, 3], np.int32)
I16 = np.array([1, 2, 3], np.int16)
I8 = np.array([1, -2, 3], np.int8)
U8 = np.array([1, 2, 3], np.uint8)
B = np.array([True, False, True])
F16 = np.array([1.5, 2.0, 3.0], np.float16)
F32 = np.array([1.5, 2.0, 3.0], np.float32)
F64 = np.array([1.5, 2.0, 3.0], np.float64)
I64_0 = np.array(2, np.int64)
I32_0 = np.array(2, np.int32)
F32_0 = np.array(2.5, np.float32)
F64_0 = np.array(2.5, np.float64)
B_0 = np.array(True)


PROMOTION = [
    # tensor with Python scalar: a scalar of a higher category gives the default dtype
    promo("int64+1.5", lambda x: x + 1.5, I64, expected="torch.float32"),
    promo("int64+1", lambda x: x + 1, I64, expected="torch.int64"),
    promo("int32+1", lambda x: x + 1, I32, expected="torch.int32"),
    promo("int8*1000", lambda x: x * 2, I8, expected="torch.int8"),
    promo("uint8+1.5", lambda x: x + 1.5, U8, expected="torch.float32"),
    promo("int32+True", lambda x: x + True, I32, expected="torch.int32"),
    promo("bool+1", lambda x: x + 1, B, expected="torch.int64"),
    promo("bool+True", lambda x: x + True, B, expected="torch.bool"),
    promo("bool*2.5", lambda x: x * 2.5, B, expected="torch.float32"),
    promo("float16+1.5", lambda x: x + 1.5, F16, expected="torch.float16"),
    promo("float32+1e10", lambda x: x + 1e10, F32, expected="torch.float32"),
    promo("float64*2", lambda x: x * 2, F64, expected="torch.float64"),
    promo("1.5-int64", lambda x: 1.5 - x, I64, expected="torch.float32"),
    promo("3-int32", lambda x: 3 - x, I32, expected="torch.int32"),
    promo("2*bool", lambda x: 2 * x, B, expected="torch.int64"),
    promo("True*int64", lambda x: True * x, I64, expected="torch.int64"),
    # tensor with tensor
    promo("bool+int64", lambda x, y: x + y, B, I64, expected="torch.int64"),
    promo("bool+int32", lambda x, y: x + y, B, I32, expected="torch.int32"),
    promo("bool*float16", lambda x, y: x * y, B, F16, expected="torch.float16"),
    promo("uint8+int8", lambda x, y: x + y, U8, I8, expected="torch.int16"),
    promo("int16*int32", lambda x, y: x * y, I16, I32, expected="torch.int32"),
    promo("int64+float16", lambda x, y: x + y, I64, F16, expected="torch.float16"),
    promo("int32-float32", lambda x, y: x - y, I32, F32, expected="torch.float32"),
    promo("float16+float32", lambda x, y: x + y, F16, F32, expected="torch.float32"),
    promo("float32*float64", lambda x, y: x * y, F32, F64, expected="torch.float64"),
    # dimensioned tensor with 0-d tensor: a 0-d tensor only wins with a higher category
    promo("float32+float64-0d", lambda x, y: x + y, F32, F64_0, expected="torch.float32"),
    promo("float64-0d*float32", lambda x, y: x * y, F64_0, F32, expected="torch.float32"),
    promo("int32+int64-0d", lambda x, y: x + y, I32, I64_0, expected="torch.int32"),
    promo("uint8+int64-0d", lambda x, y: x + y, U8, I64_0, expected="torch.uint8"),
    promo("int32+float64-0d", lambda x, y: x + y, I32, F64_0, expected="torch.float64"),
    promo("int64+float32-0d", lambda x, y: x + y, I64, F32_0, expected="torch.float32"),
    promo("bool+int32-0d", lambda x, y: x + y, B, I32_0, expected="torch.int32"),
    promo("float16+float64-0d", lambda x, y: x + y, F16, F64_0, expected="torch.float16"),
    promo("int64-0d+float32-0d", lambda x, y: x + y, I64_0, F32_0, expected="torch.float32"),
    promo("int32-0d+int64-0d", lambda x, y: x + y, I32_0, I64_0, expected="torch.int64"),
    promo("float32-0d+float64-0d", lambda x, y: x + y, F32_0, F64_0, expected="torch.float64"),
    promo("bool-0d+bool", lambda x, y: x + y, B_0, B, expected="torch.bool"),
    promo("int32-0d+2.5", lambda x: x + 2.5, I32_0, expected="torch.float32"),
    promo("float64-0d+2.5", lambda x: x + 2.5, F64_0, expected="torch.float64"),
    # true division, pow, unary float ops
    promo("int64/int64", lambda x, y: x / y, I64, I64, expected="torch.float32"),
    promo("int32/2", lambda x: x / 2, I32, expected="torch.float32"),
    promo("2/int64", lambda x: 2 / x, I64, expected="torch.float32"),
    promo("bool/bool-0d", lambda x, y: x / y, B, B_0, expected="torch.float32"),
    promo("int64/float64-0d", lambda x, y: x / y, I64, F64_0, expected="torch.float64"),
    promo("float16/int64", lambda x, y: x / y, F16, I64, expected="torch.float16"),
    promo("int64**2", lambda x: x ** 2, I64, expected="torch.int64"),
    promo("int64**0.5", lambda x: x ** 0.5, I64, expected="torch.float32"),
    promo("2**int64", lambda x: 2 ** x, I64, expected="torch.int64"),
    promo("2.0**int32", lambda x: 2.0 ** x, I32, expected="torch.float32"),
    promo("int32**int64", lambda x, y: x ** y, I32, I64, expected="torch.int64"),
    promo("float32**float64-0d", lambda x, y: x ** y, F32, F64_0, expected="torch.float32"),
    promo("exp-int64", lambda x: x.exp(), I64, expected="torch.float32"),
    promo("exp-bool", lambda x: x.exp(), B, expected="torch.float32"),
    promo("log-int32", lambda x: x.log(), I32, expected="torch.float32"),
    promo("exp-float16", lambda x: x.exp(), F16, expected="torch.float16"),
    promo("neg-int8", lambda x: -x, I8, expected="torch.int8"),
    promo("clone-uint8", lambda x: x.clone(), U8, expected="torch.uint8"),
    # reductions and matmul
    promo("sum-int32", lambda x: x.sum(), I32, expected="torch.int64"),
    promo("sum-bool", lambda x: x.sum(), B, expected="torch.int64"),
    promo("sum-uint8-dim", lambda x: x.sum(0), U8, expected="torch.int64"),
    promo("sum-float16", lambda x: x.sum(), F16, expected="torch.float16"),
    promo("mean-float16", lambda x: x.mean(), F16, expected="torch.float16"),
    promo("matmul-int64", lambda x, y: x @ y, I64, I64, expected="torch.int64"),
    promo("permute-bool", lambda x: x.permute(0), B, expected="torch.bool"),
    # a NumPy float64 scalar is a Python float (a subclass): it must not win over float32
    promo("float32+np.float64", lambda x: x + np.float64(1.5), F32, expected="torch.float32"),
]


@pytest.mark.parametrize("fn, arrays, expected", PROMOTION)
def test_type_promotion(fn, arrays, expected):
    a = fn(*[agx.tensor(x) for x in arrays])
    t = fn(*[torch.tensor(x) for x in arrays])
    assert str(t.dtype) == expected, "the case's expected dtype is PyTorch's"
    assert str(a.dtype) == expected
    assert tuple(a.shape) == tuple(t.shape)
    tol = TOL.get(expected[6:], dict(rtol=0, atol=0))
    np.testing.assert_allclose(a.numpy().astype(np.float64), t.numpy().astype(np.float64),
                               **tol)


# ---------------------------------------------------------------- special values

# autogradx lets NumPy's floating-point warnings through (a documented difference:
# silencing them costs about a microsecond per op); the values still match.
NUMPY_WARNS = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SPECIAL = [
    special("log-0", lambda L, x: L.log(x), np.array([0.0, 1.0, np.inf]),
            marks=NUMPY_WARNS),
    special("log-negative", lambda L, x: L.log(x), np.array([-1.0, 1.0]),
            marks=NUMPY_WARNS),
    special("div-by-0", lambda L, x, y: x / y, np.array([1.0, -1.0, 2.0]), np.array([0.0, 0.0, 2.0]),
            marks=NUMPY_WARNS),
    special("exp-overflow-float32", lambda L, x: L.exp(x), np.array([100.0, 0.0], np.float32),
            marks=NUMPY_WARNS),
    special("exp-inf", lambda L, x: L.exp(x), np.array([np.inf, -np.inf, 0.0])),
    special("pow-0**2", lambda L, x: x ** 2, np.array([0.0, 1.0])),
    special("pow-0**0", lambda L, x: x ** 0, np.array([0.0, 1.0])),
    special("pow-0**tensor-y", lambda L, x, y: x ** y,
            np.array([0.0, 0.0, 0.0, 2.0]), np.array([0.0, 1.0, 2.0, 0.0])),
    special("bce-logits-100", lambda L, x, y: bce(L, x, y, reduction="none"),
            np.array([100.0, -100.0, 0.0]), np.array([0.0, 1.0, 0.5])),
    special("bce-logits-100-pos_weight",
            lambda L, x, y: bce(L, x, y, pos_weight=L.tensor([2.0, 2.0, 2.0], dtype=L.float64)),
            np.array([100.0, -100.0, 0.0]), np.array([0.0, 1.0, 0.5])),
]


@pytest.mark.parametrize("fn, arrays", SPECIAL)
def test_special_values(fn, arrays):
    a_in, t_in = both(arrays)
    a_out, t_out = fn(agx, *a_in), fn(torch, *t_in)
    dtype = str(t_out.dtype)[6:]
    assert str(a_out.dtype) == str(t_out.dtype)
    _assert_close(a_out, t_out, dtype, "forward")
    backward_both(a_out, t_out, np.ones(tuple(t_out.shape), dtype))
    for i, (a, t) in enumerate(zip(a_in, t_in)):
        _assert_close(a.grad, t.grad, dtype, f"gradient of input {i}")


# ---------------------------------------------------------------- errors PyTorch raises

@pytest.mark.parametrize("which", ["weight", "pos_weight"])
def test_bce_weight_that_requires_grad_is_refused(which):
    rng = np.random.default_rng(0)
    x, y, w = rng.standard_normal((2, 3)), rng.uniform(0, 1, (2, 3)), rng.uniform(0.5, 2, 3)
    for lib in (torch, agx):
        kw = {which: lib.tensor(w, requires_grad=True)}
        with pytest.raises(RuntimeError, match=f"not differentiable with respect to argument "
                                               f"'{which}'"):
            bce(lib, lib.tensor(x, requires_grad=True), lib.tensor(y), **kw)
