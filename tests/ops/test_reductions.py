"""The reductions on their own: finite-difference checks (float64) of gradients
and of gradients of gradients, gradients at ties and zeros, result dtypes, the
(values, indices) named tuple, and errors.

Gradcheck cases are one line each: an id, the function, and input specs:
``R(shape)`` real values, ``P(shape)`` positive values, ``A(values)`` fixed
values (zeros for prod, NaN for nansum). Random values have no ties, where
max-like reductions are not differentiable; ties are tested with fixed values
below. The comparison with PyTorch is in ``test_reductions_torch.py``.
"""

import math
import pickle
import subprocess
import sys

import numpy as np
import pytest

import autogradx as agx
from autogradx import return_types
from autogradx.testing import gradcheck, gradgradcheck
from helpers import A, P, R, case, make_inputs


inf = math.inf

GRADCHECK = [
    # sum, mean: dtype= (the rest is in test_gradients.py; float32 -> float64 is compared
    # with PyTorch)
    case("sum-dtype", lambda x: x.sum(1, dtype=agx.float64), R(2, 3)),
    case("mean-dtype", lambda x: agx.mean(x, dtype=agx.float64), R(2, 3)),
    # nansum
    case("nansum", lambda x: x.nansum(), R(2, 3)),
    case("nansum-dim-keepdim", lambda x: agx.nansum(x, (0, 2), keepdim=True), R(2, 3, 4)),
    case("nansum-with-nan", lambda x: x.nansum(1), A([[1.0, np.nan, 2.0], [np.nan, 3.0, 4.0]])),
    # prod
    case("prod", lambda x: x.prod(), R(2, 3)),
    case("prod-dim", lambda x: x.prod(1), R(2, 3, 4)),
    case("prod-dim-neg-keepdim", lambda x: agx.prod(x, -1, keepdim=True), R(2, 3, 4)),
    case("prod-dim0", lambda x: x.prod(0), R(3, 2)),
    case("prod-size1-dim", lambda x: x.prod(1), R(3, 1)),
    case("prod-0d", lambda x: x.prod(), R()),
    case("prod-0d-dim", lambda x: x.prod(0), R()),
    case("prod-one-zero", lambda x: x.prod(), A([[1.5, 0.0, 3.0], [2.0, -0.5, 1.2]])),
    case("prod-two-zeros", lambda x: x.prod(), A([[1.5, 0.0, 3.0], [0.0, -0.5, 1.2]])),
    case("prod-dim-zeros", lambda x: x.prod(1), A([[1.5, 0.0, 3.0], [0.0, 0.0, 1.2],
                                                    [1.0, 2.0, -1.0]])),
    case("prod-dtype", lambda x: x.prod(0, dtype=agx.float64), R(3, 2)),
    # cumsum, cumprod
    case("cumsum", lambda x: x.cumsum(1), R(2, 3, 4)),
    case("cumsum-neg", lambda x: agx.cumsum(x, dim=-1), R(2, 3)),
    case("cumsum-0d", lambda x: x.cumsum(0), R()),
    case("cumsum-dtype", lambda x: x.cumsum(0, dtype=agx.float64), R(4)),
    case("cumprod", lambda x: x.cumprod(1), R(2, 3, 4)),
    case("cumprod-neg", lambda x: agx.cumprod(x, -1), R(2, 3)),
    case("cumprod-0d", lambda x: x.cumprod(0), R()),
    case("cumprod-one-zero", lambda x: x.cumprod(0), A([1.5, 0.0, 2.0, -3.0])),
    case("cumprod-two-zeros", lambda x: x.cumprod(0), A([1.5, 0.0, 2.0, 0.0, 3.0])),
    case("cumprod-zeros-dim", lambda x: x.cumprod(1), A([[0.0, 2.0, 1.5], [1.5, 2.0, 0.0],
                                                          [2.0, 1.1, -0.5]])),
    case("cumprod-zeros-long", lambda x: x.cumprod(-1),
         A([[1.5, 0.0, 2.0, 0.0, 1.1, -0.7, 1.3], [0.9, 1.2, -1.1, 0.0, 1.4, 0.8, 1.5]])),
    # var, std (correction, legacy unbiased, keepdim, dims) and var_mean, std_mean
    case("var", lambda x: x.var(), R(2, 3)),
    case("var-dim", lambda x: x.var(1), R(2, 3, 4)),
    case("var-dims-keepdim", lambda x: agx.var(x, (0, -1), keepdim=True), R(2, 3, 4)),
    case("var-correction0", lambda x: x.var(1, correction=0), R(2, 3)),
    case("var-correction2", lambda x: x.var(-1, correction=2), R(2, 5)),
    case("var-correction-float", lambda x: x.var(correction=0.5), R(2, 3)),
    case("var-unbiased-False", lambda x: x.var(1, unbiased=False), R(2, 3)),
    case("var-legacy-positional", lambda x: agx.var(x, 1, False, True), R(2, 3)),
    case("var-legacy-unbiased-only", lambda x: x.var(False), R(2, 3)),
    case("var-size1-dim-correction0", lambda x: x.var(1, correction=0), R(3, 1)),
    case("var-0d-correction0", lambda x: x.var(correction=0), R()),
    case("std", lambda x: x.std(), R(2, 3)),
    case("std-dim-keepdim", lambda x: x.std(0, keepdim=True), R(3, 4)),
    case("std-correction0-dims", lambda x: agx.std(x, (0, 2), correction=0), R(2, 3, 4)),
    case("var_mean", lambda x: agx.var_mean(x, 1), R(2, 3)),
    case("var_mean-keepdim", lambda x: agx.var_mean(x, (0, 1), correction=0, keepdim=True),
         R(2, 3, 2)),
    case("std_mean", lambda x: agx.std_mean(x), R(2, 3)),
    case("std_mean-dim", lambda x: agx.std_mean(x, -1, unbiased=False), R(3, 4)),
    # norm
    case("norm", lambda x: x.norm(), R(2, 3)),
    case("norm-dim", lambda x: x.norm(dim=1), R(2, 3, 4)),
    case("norm-dim-keepdim", lambda x: agx.norm(x, 2, -1, True), R(2, 3)),
    case("norm-fro-dims", lambda x: x.norm("fro", (0, 1)), R(2, 3, 4)),
    case("norm-p1", lambda x: x.norm(p=1), R(2, 3)),
    case("norm-p3-dim", lambda x: x.norm(p=3, dim=0), R(2, 3)),
    case("norm-p1.5", lambda x: x.norm(p=1.5), R(5)),
    case("norm-p0.5", lambda x: x.norm(p=0.5, dim=1), R(2, 3)),
    case("norm-p-1", lambda x: x.norm(p=-1), R(4)),
    case("norm-inf", lambda x: x.norm(p=inf), R(2, 3)),
    case("norm-inf-dim", lambda x: x.norm(p=inf, dim=1, keepdim=True), R(2, 3)),
    case("norm--inf", lambda x: x.norm(p=-inf, dim=0), R(2, 3)),
    case("norm-0d", lambda x: x.norm(), R()),
    case("norm-dtype", lambda x: x.norm(dtype=agx.float64), R(2, 3)),
    # logsumexp
    case("logsumexp", lambda x: x.logsumexp(1), R(2, 3)),
    case("logsumexp-dims-keepdim", lambda x: agx.logsumexp(x, (0, 2), keepdim=True), R(2, 3, 4)),
    case("logsumexp-neg", lambda x: x.logsumexp(-1), R(4)),
    case("logsumexp-0d", lambda x: x.logsumexp(0), R()),
    case("logsumexp-large", lambda x: (x * 500).logsumexp(1), R(2, 3)),
    # amax, amin
    case("amax", lambda x: x.amax(), R(2, 3)),
    case("amax-dim", lambda x: x.amax(1), R(2, 3, 4)),
    case("amax-dims-keepdim", lambda x: agx.amax(x, (0, -1), keepdim=True), R(2, 3, 4)),
    case("amax-0d", lambda x: x.amax(), R()),
    case("amin", lambda x: x.amin(), R(2, 3)),
    case("amin-dim-neg", lambda x: agx.amin(x, -2), R(2, 3, 4)),
    # max, min: global, along a dim (values, indices), elementwise
    case("max", lambda x: x.max(), R(2, 3)),
    case("max-fn-0d", lambda x: agx.max(x), R()),
    case("max-dim", lambda x: x.max(1), R(2, 3, 4)),
    case("max-dim-keepdim", lambda x: agx.max(x, -1, keepdim=True), R(2, 3)),
    case("max-dim-kwarg", lambda x: x.max(dim=0).values, R(3, 2)),
    case("max-0d-dim", lambda x: x.max(0), R()),
    case("max-other", lambda x, y: agx.max(x, y), R(2, 3), R(2, 3)),
    case("max-other-broadcast", lambda x, y: x.max(y), R(3, 1), R(1, 4)),
    case("min", lambda x: x.min(), R(2, 3)),
    case("min-dim", lambda x: x.min(0), R(2, 3)),
    case("min-dim-neg-keepdim", lambda x: x.min(-2, True), R(2, 3, 4)),
    case("min-other", lambda x, y: agx.min(x, other=y), R(2, 3), R(3)),
]


@pytest.mark.parametrize("fn, specs", GRADCHECK)
def test_gradcheck_float64(fn, specs):
    assert gradcheck(fn, make_inputs(specs, seed=0))


# Gradients of gradients: the vjps above, run on tensors (create_graph=True).
GRADGRAD = [
    case("sum-dim", lambda x: x.sum(1), R(2, 3)),
    case("mean-keepdim", lambda x: x.mean(0, keepdim=True), R(2, 3)),
    case("nansum", lambda x: x.nansum(1), R(2, 3)),
    case("prod", lambda x: x.prod(), P(2, 3)),
    case("prod-dim-one-zero", lambda x: x.prod(1), A([[1.5, 0.0, 3.0], [2.0, -0.5, 1.2]])),
    case("cumsum", lambda x: x.cumsum(1), R(2, 3)),
    case("cumprod", lambda x: x.cumprod(1), R(2, 3)),
    case("cumprod-one-zero", lambda x: x.cumprod(0), A([1.5, 0.0, 2.0, -3.0])),
    case("cumprod-two-zeros-dim", lambda x: x.cumprod(1),
         A([[1.5, 0.0, 2.0, 0.0, 1.1, -0.7, 1.3], [0.9, 1.2, -1.1, 0.0, 1.4, 0.8, 1.5]])),
    case("var-dim", lambda x: x.var(1), R(2, 3)),
    case("std", lambda x: x.std(), R(2, 3)),
    case("var_mean", lambda x: agx.var_mean(x, 0), R(3, 2)),
    case("norm", lambda x: x.norm(), R(2, 3)),
    case("norm-p3-dim", lambda x: x.norm(p=3, dim=1), R(2, 3)),
    case("norm-inf", lambda x: x.norm(p=inf), R(2, 3)),
    case("logsumexp", lambda x: x.logsumexp(1), R(2, 3)),
    case("amax-dim", lambda x: x.amax(1), R(2, 3)),
    case("max", lambda x: x.max(), R(2, 3)),
    case("max-dim", lambda x: x.max(1), R(2, 3)),
    case("min-other", lambda x, y: agx.min(x, y), R(2, 3), R(3)),
]


@pytest.mark.parametrize("fn, specs", GRADGRAD)
def test_gradgradcheck(fn, specs):
    assert gradgradcheck(fn, make_inputs(specs, seed=0))


# ---------------------------------------------------------------- gradients at ties and zeros

def grad_of(fn, values, dtype=agx.float64):
    x = agx.tensor(values, dtype=dtype, requires_grad=True)
    out = fn(x)
    out = out[0] if isinstance(out, tuple) else out
    out.backward(agx.ones_like(out))
    return x.grad.numpy()


TIES = [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]


@pytest.mark.parametrize("fn, expected", [
    pytest.param(lambda x: x.max(), [[0, .5, .5], [0, 0, 0]], id="max-global"),
    pytest.param(lambda x: x.min(), [[1, 0, 0], [0, 0, 0]], id="min-global"),
    pytest.param(lambda x: x.amax(), [[0, .5, .5], [0, 0, 0]], id="amax-global"),
    pytest.param(lambda x: x.amax(1), [[0, .5, .5], [1 / 3, 1 / 3, 1 / 3]], id="amax-dim"),
    pytest.param(lambda x: x.amin(0), [[1, 0, 0], [0, 1, 1]], id="amin-dim-no-ties"),
    pytest.param(lambda x: x.amin(1, keepdim=True), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]],
                 id="amin-dim-keepdim"),
    # along a dim the gradient goes to the returned index (the first of ties) only
    pytest.param(lambda x: x.max(1), [[0, 1, 0], [1, 0, 0]], id="max-dim"),
    pytest.param(lambda x: x.min(1, keepdim=True), [[1, 0, 0], [1, 0, 0]], id="min-dim"),
    pytest.param(lambda x: agx.max(x, agx.full_like(x, 2.0)), [[0, 1, 1], [.5, .5, .5]],
                 id="max-other"),
    pytest.param(lambda x: agx.min(x, agx.full_like(x, 2.0)), [[1, 0, 0], [.5, .5, .5]],
                 id="min-other"),
])
def test_ties(fn, expected):
    np.testing.assert_allclose(grad_of(fn, TIES), expected)


def test_max_global_nan_gets_the_gradient():
    g = grad_of(lambda x: x.max(), [1.0, np.nan, 2.0, np.nan])
    np.testing.assert_allclose(g, [0, .5, 0, .5])


def test_max_dim_returns_the_first_nan():
    out = agx.tensor([1.0, np.nan, 2.0, np.nan]).max(0)
    assert math.isnan(out.values.item()) and out.indices.item() == 1


@pytest.mark.parametrize("fn, values, expected", [
    pytest.param(lambda x: x.prod(), [[1.0, 0.0, 3.0], [2.0, 2.0, 2.0]],
                 [[0, 24, 0], [0, 0, 0]], id="prod-one-zero"),
    pytest.param(lambda x: x.prod(), [[1.0, 0.0, 3.0], [0.0, 2.0, 2.0]],
                 [[0, 0, 0], [0, 0, 0]], id="prod-two-zeros"),
    pytest.param(lambda x: x.prod(1), [[1.0, 0.0, 3.0], [0.0, 0.0, 2.0]],
                 [[0, 3, 0], [0, 0, 0]], id="prod-dim"),
    pytest.param(lambda x: x.prod(0), [[1.0, 0.0, 3.0], [0.0, 0.0, 2.0]],
                 [[0, 0, 2], [1, 0, 3]], id="prod-dim0"),
    pytest.param(lambda x: x.cumprod(0), [1.0, 0.0, 2.0, 0.0, 3.0],
                 [1, 3, 0, 0, 0], id="cumprod-two-zeros"),
    pytest.param(lambda x: x.std(), [1.0, 1.0, 1.0], [0, 0, 0], id="std-constant"),
    pytest.param(lambda x: x.norm(), [0.0, 0.0], [0, 0], id="norm-at-0"),
    pytest.param(lambda x: x.norm(dim=1), [[0.0, 0.0], [3.0, 4.0]], [[0, 0], [.6, .8]],
                 id="norm-dim-at-0"),
    pytest.param(lambda x: x.norm(p=1.5), [0.0, 0.0], [0, 0], id="norm-p1.5-at-0"),
    pytest.param(lambda x: x.norm(p=0.5), [0.0, -4.0], [0, -1], id="norm-p0.5-zero-element"),
    pytest.param(lambda x: x.norm(p=inf), [1.0, -2.0, 2.0], [0, -.5, .5], id="norm-inf-ties"),
])
def test_gradient_at_special_points(fn, values, expected):
    np.testing.assert_allclose(grad_of(fn, values), expected)


def test_norm_p0_has_no_gradient():
    x = agx.tensor([0.0, -2.0, 3.0], requires_grad=True)
    y = x.norm(p=0)
    assert y.item() == 2.0
    y.backward()
    assert x.grad is None


def test_logsumexp_is_stable():
    x = agx.tensor([[1000.0, 1000.0], [-1000.0, -1000.0], [-inf, 0.0]], dtype=agx.float64)
    np.testing.assert_allclose(x.logsumexp(1).numpy(),
                               [1000 + math.log(2), -1000 + math.log(2), 0.0])
    np.testing.assert_allclose(x.logsumexp(0).numpy(), [1000.0, 1000.0])


# ---------------------------------------------------------------- the (values, indices) tuple

def test_max_dim_returns_the_named_tuple():
    x = agx.tensor([[1.0, 5.0], [4.0, 2.0]], requires_grad=True)
    out = x.max(1)
    assert type(out) is return_types.max and isinstance(out, tuple)
    values, indices = out
    assert values is out.values is out[0] and indices is out.indices is out[1]
    assert values.tolist() == [5.0, 4.0] and indices.tolist() == [1, 0]
    assert indices.dtype == agx.int64 and indices.grad_fn is None
    assert type(x.min(0)) is return_types.min


def test_named_tuple_repr_is_pytorchs():
    out = agx.tensor([[1.0, 5.0], [4.0, 2.0]], requires_grad=True).max(1)
    assert repr(out) == str(out) == (
        "torch.return_types.max(\n"
        "values=tensor([5., 4.], grad_fn=<MaxBackward0>),\n"
        "indices=tensor([1, 0]))")


def test_named_tuple_construction():
    assert return_types.max(values=1, indices=2) == (1, 2)
    assert return_types.max(1, 2) == return_types.max((1, 2)) == (1, 2)   # torch's form
    assert return_types.min((3, 4)).indices == 4
    with pytest.raises(TypeError, match="takes a 2-sequence"):
        return_types.max((1, 2, 3))
    r = return_types.sort(values=1, indices=2)
    assert pickle.loads(pickle.dumps(r)) == r and type(pickle.loads(pickle.dumps(r))) is type(r)
    assert repr(return_types.linalg_qr((1, 2))) == "torch.return_types.linalg_qr(\nQ=1,\nR=2)"


def test_return_types_is_an_attribute_of_a_fresh_import():
    code = "import autogradx; print(autogradx.return_types.max.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_max_forms():
    x = agx.tensor([[1.0, 5.0], [4.0, 2.0]])
    assert agx.max(x).item() == 5.0 and x.max().ndim == 0
    assert agx.max(x, x * 0 + 3).tolist() == [[3.0, 5.0], [4.0, 3.0]]
    assert x.max(1, True).values.shape == (2, 1)
    assert x.max(dim=-1).indices.tolist() == [1, 0]
    assert x.max(axis=0, keepdims=True).values.tolist() == [[4.0, 5.0]]   # NumPy spellings


# ---------------------------------------------------------------- dtypes

I32 = np.array([[1, 7, 7], [4, -2, 5]], np.int32)


@pytest.mark.parametrize("fn, expected", [
    pytest.param(lambda x: x.sum(), "torch.int64", id="sum-int32"),
    pytest.param(lambda x: x.nansum(1), "torch.int64", id="nansum-int32"),
    pytest.param(lambda x: x.prod(), "torch.int64", id="prod-int32"),
    pytest.param(lambda x: x.cumsum(0), "torch.int64", id="cumsum-int32"),
    pytest.param(lambda x: x.cumprod(1), "torch.int64", id="cumprod-int32"),
    pytest.param(lambda x: x.max(), "torch.int32", id="max-int32"),
    pytest.param(lambda x: x.amin(0), "torch.int32", id="amin-int32"),
    pytest.param(lambda x: x.max(1).values, "torch.int32", id="max-dim-values-int32"),
    pytest.param(lambda x: x.max(1).indices, "torch.int64", id="max-dim-indices"),
    pytest.param(lambda x: x.argmax(), "torch.int64", id="argmax-int32"),
    pytest.param(lambda x: x.argmin(1, keepdim=True), "torch.int64", id="argmin-int32"),
    pytest.param(lambda x: x.all(), "torch.bool", id="all-int32"),
    pytest.param(lambda x: x.any(1), "torch.bool", id="any-int32"),
    pytest.param(lambda x: x.logsumexp(1), "torch.float32", id="logsumexp-int32"),
    pytest.param(lambda x: x.mean(dtype=agx.float64), "torch.float64", id="mean-int32-dtype"),
    pytest.param(lambda x: x.sum(dtype=agx.float32), "torch.float32", id="sum-int32-dtype"),
    pytest.param(lambda x: x.to(agx.uint8).any(), "torch.uint8", id="any-uint8"),
    pytest.param(lambda x: (x > 0).sum(0), "torch.int64", id="sum-bool"),
    pytest.param(lambda x: (x > 0).max(), "torch.bool", id="max-bool"),
])
def test_result_dtype(fn, expected):
    assert str(fn(agx.tensor(I32)).dtype) == expected


def test_integer_max_has_no_grad_fn():
    x = agx.tensor(I32)
    assert x.max().item() == 7 and x.max().grad_fn is None
    assert x.max(1).values.tolist() == [7, 5] and x.max(1).indices.tolist() == [1, 2]
    assert x.argmax().item() == 1 and x.argmax(1).tolist() == [1, 2]   # first of ties


def test_argmax_keepdim_without_dim_keeps_every_dim():
    assert agx.tensor(I32).argmax(keepdim=True).tolist() == [[1]]


def test_all_any_values():
    x = agx.tensor([[1.0, 0.0], [2.0, 3.0]])
    assert x.all().item() is False and x.any().item() is True
    assert x.all(1).tolist() == [False, True] and x.any(0, keepdim=True).shape == (1, 2)
    assert agx.all(x, (0, 1)).item() is False


def test_0d_inputs():
    x = agx.tensor(2.5, requires_grad=True)
    assert x.max(0).values.item() == 2.5 and x.max(0).indices.item() == 0
    assert x.argmax(0).item() == 0 and x.cumsum(-1).shape == () and x.prod(0).item() == 2.5
    assert x.logsumexp(0).item() == 2.5 and x.amax(-1).shape == ()


def test_cumsum_in_place():
    x = agx.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.cumsum_(1) is x and x.tolist() == [[1.0, 3.0], [3.0, 7.0]]
    assert x.cumprod_(0).tolist() == [[1.0, 3.0], [3.0, 21.0]]


# ---------------------------------------------------------------- errors and warnings

X = agx.tensor(np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("fn, error, match", [
    pytest.param(lambda: X.sum(3), IndexError,
                 r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 3\)",
                 id="sum-bad-dim"),
    pytest.param(lambda: X.amax(-3), IndexError, r"range of \[-2, 1\], but got -3",
                 id="amax-bad-dim"),
    pytest.param(lambda: X.max(2), IndexError, r"but got 2", id="max-bad-dim"),
    pytest.param(lambda: agx.tensor(1.0).cumsum(1), IndexError, r"range of \[-1, 0\], but got 1",
                 id="cumsum-0d-bad-dim"),
    pytest.param(lambda: X.var((0, 0)), RuntimeError, "dim 0 appears multiple times",
                 id="var-repeated-dim"),
    pytest.param(lambda: X.max((0, 1)), TypeError, "invalid combination of arguments",
                 id="max-tuple-dim"),
    pytest.param(lambda: agx.max(X, 2.0), TypeError, r"got \(Tensor, float\)",
                 id="max-float-other"),
    pytest.param(lambda: X.max(keepdim=True), TypeError, "invalid combination",
                 id="max-keepdim-without-dim"),
    pytest.param(lambda: agx.max(X, X, 1), TypeError, "invalid combination", id="max-other-dim"),
    pytest.param(lambda: X.max(True), TypeError, r"got \(Tensor, bool\)", id="max-bool-dim"),
    pytest.param(lambda: X.prod((0, 1)), TypeError, "'dim' must be int, not tuple",
                 id="prod-tuple-dim"),
    pytest.param(lambda: X.argmax((0, 1)), TypeError, "'dim' must be int, not tuple",
                 id="argmax-tuple-dim"),
    pytest.param(lambda: X.cumsum(), TypeError, "dim", id="cumsum-without-dim"),
    pytest.param(lambda: X.logsumexp(), TypeError, "dim", id="logsumexp-without-dim"),
    pytest.param(lambda: agx.zeros(0).max(), RuntimeError,
                 r"max\(\): Expected reduction dim to be specified for input.numel\(\) == 0",
                 id="max-empty"),
    pytest.param(lambda: agx.zeros(0, 3).amax(0), IndexError,
                 r"amax\(\): Expected reduction dim 0 to have non-zero size", id="amax-empty-dim"),
    pytest.param(lambda: agx.zeros(0, 3).min(0), IndexError, "dim 0 to have non-zero size",
                 id="min-empty-dim"),
    pytest.param(lambda: agx.zeros(0).argmax(), IndexError, "numel\\(\\) == 0",
                 id="argmax-empty"),
    pytest.param(lambda: (X > 1).argmax(), RuntimeError, r"argmax\(\): does not support bool",
                 id="argmax-bool"),
    pytest.param(lambda: agx.tensor(I32).var(), RuntimeError,
                 "std and var only support floating point", id="var-int"),
    pytest.param(lambda: agx.tensor(I32).mean(), RuntimeError, "could not infer output dtype",
                 id="mean-int"),
    pytest.param(lambda: agx.tensor(I32).norm(), RuntimeError,
                 "Expected a floating point or complex tensor as input. Got Int", id="norm-int"),
    pytest.param(lambda: X.norm("abc"), RuntimeError, "Order abc not supported",
                 id="norm-bad-order"),
    pytest.param(lambda: X.norm("fro", (0, 1, 0)), RuntimeError, "dim must be a 2-tuple",
                 id="norm-fro-3-dims"),
    pytest.param(lambda: X.norm("nuc"), NotImplementedError, "nuclear norm", id="norm-nuc"),
    pytest.param(lambda: agx.zeros(0).norm(p=inf), RuntimeError, "cannot compute the inf norm",
                 id="norm-inf-empty"),
    pytest.param(lambda: X.var(1, unbiased=True, correction=1), TypeError, "not both",
                 id="var-unbiased-and-correction"),
])
def test_errors(fn, error, match):
    with pytest.raises(error, match=match):
        fn()


@pytest.mark.parametrize("fn", [
    pytest.param(lambda x: x.var(1), id="var-size1-dim"),
    pytest.param(lambda x: x.std(1, correction=2), id="std-correction2"),
    pytest.param(lambda x: agx.var_mean(x, 1), id="var_mean"),
])
def test_no_degrees_of_freedom_warns_and_gives_nan(fn):
    x = agx.tensor([[1.0], [2.0]], dtype=agx.float64)
    with pytest.warns(UserWarning, match=r"\(\): degrees of freedom is <= 0"):
        out = fn(x)
    out = out[0] if isinstance(out, tuple) else out
    assert np.isnan(out.numpy()).all()


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("axes, keepdim", [(None, False), (None, True), ((1,), False),
                                           ((0, 2), True), ((0, 2), False)])
def test_mean_of_is_numpy_mean_bit_for_bit(dtype, axes, keepdim):
    # var, std and mean take np.mean's two steps themselves: the same bits, dtype and shape
    from autogradx._core.numpy_api import NUMPY
    from autogradx.ops.reductions import _mean_of
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 5)) * 1e3 + 0.1
    if dtype.startswith("complex"):
        x = x + 1j * rng.normal(size=x.shape)
    x = x.astype(dtype)
    got, want = np.asarray(_mean_of(NUMPY, x, axes, keepdim)), np.asarray(
        np.mean(x, axis=axes, keepdims=keepdim))
    assert (got.dtype, got.shape) == (want.dtype, want.shape)
    assert got.tobytes() == want.tobytes()
