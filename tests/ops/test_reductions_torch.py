"""The reductions against PyTorch: same inputs through both, in float32 and float64.

For every case: the output values, dtypes and shapes (each field of a named
tuple such as ``max(dim)``'s ``(values, indices)``, and the tuple's type), the
``grad_fn`` name, and the gradient of every input (backward with the same
random output gradients). Fixed inputs cover ties (max-like
reductions), zeros (prod, cumprod, norms), NaN (nansum) and integer tensors.
"""

import math

import numpy as np
import pytest

import autogradx as agx
from helpers import A, I, R
from torch_compare import (DTYPES, backward_both, case, compare_input_gradients, outputs,
                           random_like, run_both)

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}
inf = math.inf

TIES = A([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
ZEROS = A([[1.5, 0.0, 3.0], [0.0, 0.0, 2.0], [1.0, 2.0, -1.0]])
INTS = I([[1, 7, 7], [4, -2, 5]])

CASES = [
    # sum, mean, nansum
    case("sum-dtype", lambda L, x: x.sum(dtype=L.float64), (R(2, 3),), "SumBackward0"),
    case("sum-dim-dtype", lambda L, x: L.sum(x, 1, dtype=L.float64), (R(2, 3),), "SumBackward1"),
    case("mean-dtype", lambda L, x: x.mean(dtype=L.float64), (R(2, 3),), "MeanBackward0"),
    case("mean-dim-dtype", lambda L, x: x.mean((0, 1), True, dtype=L.float64), (R(2, 3, 2),),
         "MeanBackward1"),
    case("sum-int", lambda L, x: x.sum(1), (INTS,), None),
    case("mean-int-dtype", lambda L, x: x.mean(dtype=L.float64), (INTS,), None),
    case("nansum", lambda L, x: x.nansum(), (R(2, 3),), "NansumBackward0"),
    case("nansum-nan-dim", lambda L, x: L.nansum(x, 1), (A([[1.0, np.nan], [np.nan, np.nan]]),),
         "NansumBackward0"),
    case("nansum-dims-keepdim", lambda L, x: x.nansum((0, 2), keepdim=True), (R(2, 3, 4),),
         "NansumBackward0"),
    case("nansum-int", lambda L, x: x.nansum(), (INTS,), None),
    # prod
    case("prod", lambda L, x: x.prod(), (R(2, 3),), "ProdBackward0"),
    case("prod-dim", lambda L, x: L.prod(x, 1), (R(2, 3, 4),), "ProdBackward1"),
    case("prod-dim-neg-keepdim", lambda L, x: x.prod(-1, keepdim=True), (R(2, 3),),
         "ProdBackward1"),
    case("prod-0d", lambda L, x: x.prod(), (R(),), "ProdBackward0"),
    case("prod-0d-dim", lambda L, x: x.prod(0), (R(),), "ProdBackward1"),
    case("prod-one-zero", lambda L, x: x.prod(), (A([[1.5, 0.0], [2.0, -3.0]]),),
         "ProdBackward0"),
    case("prod-two-zeros", lambda L, x: x.prod(), (ZEROS,), "ProdBackward0"),
    case("prod-zeros-dim1", lambda L, x: x.prod(1), (ZEROS,), "ProdBackward1"),
    case("prod-zeros-dim0", lambda L, x: x.prod(0), (ZEROS,), "ProdBackward1"),
    case("prod-dtype", lambda L, x: x.prod(1, dtype=L.float64), (R(2, 3),), "ProdBackward1"),
    case("prod-int", lambda L, x: x.prod(0), (INTS,), None),
    # cumsum, cumprod
    case("cumsum", lambda L, x: x.cumsum(1), (R(2, 3, 4),), "CumsumBackward0"),
    case("cumsum-neg", lambda L, x: L.cumsum(x, dim=-1), (R(2, 3),), "CumsumBackward0"),
    case("cumsum-0d", lambda L, x: x.cumsum(0), (R(),), "CumsumBackward0"),
    case("cumsum-dtype", lambda L, x: x.cumsum(0, dtype=L.float64), (R(3, 2),), "CumsumBackward0"),
    case("cumsum-int", lambda L, x: x.cumsum(1), (INTS,), None),
    case("cumprod", lambda L, x: x.cumprod(1), (R(2, 3, 4),), "CumprodBackward0"),
    case("cumprod-zeros", lambda L, x: L.cumprod(x, 1), (ZEROS,), "CumprodBackward0"),
    case("cumprod-zeros-dim0", lambda L, x: x.cumprod(0), (ZEROS,), "CumprodBackward0"),
    case("cumprod-zeros-long", lambda L, x: x.cumprod(-1),
         (A([[1.5, 0.0, 2.0, 0.0, 1.1, -0.7, 1.3], [0.9, 1.2, -1.1, 0.0, 1.4, 0.8, 1.5]]),),
         "CumprodBackward0"),
    case("cumprod-int", lambda L, x: x.cumprod(0), (INTS,), None),
    # var, std: correction, legacy unbiased, keepdim, dims, a dim of size 1
    case("var", lambda L, x: x.var(), (R(2, 3),), "VarBackward0"),
    case("var-dim", lambda L, x: L.var(x, 1), (R(2, 3, 4),), "VarBackward0"),
    case("var-dims-keepdim", lambda L, x: x.var((0, -1), keepdim=True), (R(2, 3, 4),),
         "VarBackward0"),
    *[case(f"var-correction{c}", lambda L, x, c=c: x.var(1, correction=c), (R(2, 4),),
           "VarBackward0") for c in (0, 1, 2)],
    case("var-unbiased-False", lambda L, x: x.var(0, unbiased=False), (R(3, 2),), "VarBackward0"),
    case("var-legacy-positional", lambda L, x: L.var(x, 1, False, True), (R(2, 3),),
         "VarBackward0"),
    case("var-legacy-unbiased-only", lambda L, x: x.var(False), (R(2, 3),), "VarBackward0"),
    case("var-size1-dim-correction0", lambda L, x: x.var(1, correction=0), (R(3, 1),),
         "VarBackward0"),
    case("var-0d-correction0", lambda L, x: x.var(correction=0), (R(),), "VarBackward0"),
    case("std", lambda L, x: x.std(), (R(2, 3),), "StdBackward0"),
    case("std-dim-keepdim", lambda L, x: L.std(x, -1, keepdim=True), (R(2, 3),), "StdBackward0"),
    case("std-correction0-dims", lambda L, x: x.std((0, 2), correction=0), (R(2, 3, 4),),
         "StdBackward0"),
    case("std-correction2", lambda L, x: x.std(1, correction=2), (R(2, 4),), "StdBackward0"),
    case("std-constant-row", lambda L, x: x.std(1), (A([[1.0, 1.0], [1.0, 3.0]]),),
         "StdBackward0"),
    case("var_mean", lambda L, x: L.var_mean(x, 1), (R(2, 3),), "VarMeanBackward0"),
    case("var_mean-keepdim", lambda L, x: L.var_mean(x, (0, 1), correction=0, keepdim=True),
         (R(2, 3, 2),), "VarMeanBackward0"),
    case("std_mean", lambda L, x: L.std_mean(x), (R(2, 3),), "StdMeanBackward0"),
    case("std_mean-dim", lambda L, x: L.std_mean(x, -1, unbiased=False), (R(3, 4),),
         "StdMeanBackward0"),
    # norm: p, dims, keepdim, zeros
    case("norm", lambda L, x: x.norm(), (R(2, 3),), "LinalgVectorNormBackward0"),
    case("norm-fn-dim", lambda L, x: L.norm(x, dim=1), (R(2, 3, 4),),
         "LinalgVectorNormBackward0"),
    case("norm-positional-keepdim", lambda L, x: x.norm(2, -1, True), (R(2, 3),),
         "LinalgVectorNormBackward0"),
    case("norm-fro-dims", lambda L, x: x.norm("fro", (0, 1)), (R(2, 3, 4),),
         "LinalgVectorNormBackward0"),
    *[case(f"norm-p{p}", lambda L, x, p=p: x.norm(p=p, dim=1), (R(2, 4),),
           "LinalgVectorNormBackward0") for p in (1, 3, 1.5, 0.5, -1, inf, -inf)],
    case("norm-p0", lambda L, x: x.norm(p=0), (A([[0.0, 2.0], [1.0, 0.0]]),),
         "LinalgVectorNormBackward0"),
    case("norm-0d", lambda L, x: x.norm(), (R(),), "LinalgVectorNormBackward0"),
    case("norm-p-None", lambda L, x: L.norm(x, None, dim=1), (R(2, 3),),
         "LinalgVectorNormBackward0"),
    case("norm-negative-p-zeros", lambda L, x: L.norm(x, -2), (A([0.0, 0.0, 0.0]),),
         "LinalgVectorNormBackward0"),
    case("norm-dtype", lambda L, x: x.norm(dtype=L.float64), (R(2, 3),),
         "LinalgVectorNormBackward0"),
    case("norm-zero-row", lambda L, x: x.norm(dim=1), (A([[0.0, 0.0], [3.0, 4.0]]),),
         "LinalgVectorNormBackward0"),
    *[case(f"norm-p{p}-zeros", lambda L, x, p=p: x.norm(p=p, dim=1),
           (A([[0.0, 0.0, 0.0], [0.0, -2.0, 1.0]]),), "LinalgVectorNormBackward0")
      for p in (1, 3, 1.5, 0.5, inf)],
    case("norm-inf-ties", lambda L, x: x.norm(p=inf), (A([1.0, -2.0, 2.0]),),
         "LinalgVectorNormBackward0"),
    # logsumexp
    case("logsumexp", lambda L, x: x.logsumexp(1), (R(2, 3),), "LogsumexpBackward0"),
    case("logsumexp-dims-keepdim", lambda L, x: L.logsumexp(x, (0, 2), keepdim=True),
         (R(2, 3, 4),), "LogsumexpBackward0"),
    case("logsumexp-0d", lambda L, x: x.logsumexp(0), (R(),), "LogsumexpBackward0"),
    case("logsumexp-large", lambda L, x: x.logsumexp(-1), (A([[80.0, 85.0], [-90.0, -88.0]]),),
         "LogsumexpBackward0"),
    case("logsumexp-int", lambda L, x: x.logsumexp(1), (INTS,), None),
    # amax, amin: ties share the gradient evenly
    case("amax", lambda L, x: x.amax(), (R(2, 3),), "AmaxBackward0"),
    case("amax-ties", lambda L, x: x.amax(), (TIES,), "AmaxBackward0"),
    case("amax-dim-ties", lambda L, x: L.amax(x, 1), (TIES,), "AmaxBackward0"),
    case("amax-dims-keepdim", lambda L, x: x.amax((0, -1), keepdim=True), (R(2, 3, 4),),
         "AmaxBackward0"),
    case("amin-ties", lambda L, x: x.amin(), (TIES,), "AminBackward0"),
    case("amin-dim-ties-keepdim", lambda L, x: L.amin(x, -1, True), (TIES,), "AminBackward0"),
    case("amax-int", lambda L, x: x.amax(0), (INTS,), None),
    # max, min: global (ties split evenly), along a dim (the returned index), elementwise
    case("max", lambda L, x: x.max(), (R(2, 3),), "MaxBackward1"),
    case("max-ties", lambda L, x: L.max(x), (TIES,), "MaxBackward1"),
    case("max-nan", lambda L, x: x.max(), (A([1.0, np.nan, 2.0, np.nan]),), "MaxBackward1"),
    case("max-0d", lambda L, x: x.max(), (R(),), "MaxBackward1"),
    case("min-ties", lambda L, x: x.min(), (TIES,), "MinBackward1"),
    case("max-dim", lambda L, x: x.max(1), (R(2, 3, 4),), "MaxBackward0"),
    case("max-dim-ties", lambda L, x: x.max(1), (TIES,), "MaxBackward0"),
    case("max-dim-keepdim", lambda L, x: L.max(x, -1, keepdim=True), (TIES,), "MaxBackward0"),
    case("max-dim-kwarg", lambda L, x: L.max(x, dim=0), (TIES,), "MaxBackward0"),
    case("max-dim-nan", lambda L, x: x.max(0), (A([1.0, np.nan, 2.0, np.nan]),), "MaxBackward0"),
    case("max-0d-dim", lambda L, x: x.max(0), (R(),), "MaxBackward0"),
    case("min-dim-ties", lambda L, x: x.min(0), (TIES,), "MinBackward0"),
    case("min-dim-neg-keepdim", lambda L, x: x.min(-1, True), (TIES,), "MinBackward0"),
    case("max-other", lambda L, x, y: L.max(x, y), (R(2, 3), R(2, 3)), "MaximumBackward0"),
    case("max-other-ties", lambda L, x, y: x.max(y), (TIES, A([2.0, 3.0, 0.0])),
         "MaximumBackward0"),
    case("max-other-broadcast", lambda L, x, y: L.max(x, other=y), (R(3, 1), R(1, 4)),
         "MaximumBackward0"),
    case("min-other-ties", lambda L, x, y: L.min(x, y), (TIES, A([[2.0], [2.0]])),
         "MinimumBackward0"),
    case("max-int-other-float", lambda L, x, y: L.max(x, y), (I([[1, 3, 3], [2, 2, 2]]), TIES),
         "MaximumBackward0"),
    case("max-int", lambda L, x: x.max(), (INTS,), None),
    case("max-dim-int", lambda L, x: x.max(1), (INTS,), None),
    case("min-dim-int", lambda L, x: x.min(0, keepdim=True), (INTS,), None),
    # argmax, argmin, all, any: integer and bool results
    case("argmax", lambda L, x: x.argmax(), (TIES,), None),
    case("argmax-dim", lambda L, x: L.argmax(x, 1), (TIES,), None),
    case("argmin-dim-keepdim", lambda L, x: x.argmin(-1, keepdim=True), (TIES,), None),
    case("argmax-keepdim", lambda L, x: x.argmax(keepdim=True), (R(2, 3),), None),
    case("argmax-int", lambda L, x: x.argmax(0), (INTS,), None),
    case("argmin-0d", lambda L, x: x.argmin(0), (R(),), None),
    case("all", lambda L, x: x.all(), (A([[1.0, 0.0], [2.0, 3.0]]),), None),
    case("all-dim", lambda L, x: L.all(x, 1), (A([[1.0, 0.0], [2.0, 3.0]]),), None),
    case("any-dims-keepdim", lambda L, x: x.any((0, 1), keepdim=True),
         (A([[0.0, 0.0], [0.0, 3.0]]),), None),
    case("any-int", lambda L, x: x.any(0), (INTS,), None),
    case("all-uint8", lambda L, x: x.all(), (A([1, 2, 0], "uint8"),), None),
]


def _assert_close(a, t, dtype, what):
    a, t = a.detach().numpy(), t.detach().numpy()
    assert a.shape == t.shape, f"{what}: shape {a.shape} != torch's {t.shape}"
    if t.dtype.kind == "f":
        np.testing.assert_allclose(a, t, equal_nan=True, err_msg=what, **TOL[dtype])
    else:
        np.testing.assert_array_equal(a, t, err_msg=what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, specs, grad_fn", CASES)
def test_values_and_gradients(fn, specs, grad_fn, dtype):
    a_in, t_in, a_out, t_out, rng = run_both(fn, specs, dtype)
    assert type(a_out).__name__ == type(t_out).__name__
    a_outs, t_outs = outputs(a_out), outputs(t_out)
    assert len(a_outs) == len(t_outs)
    for k, (a, t) in enumerate(zip(a_outs, t_outs)):
        assert str(a.dtype) == str(t.dtype), f"output {k}: dtype"
        _assert_close(a, t, dtype, f"output {k}")
    roots = [(a, t) for a, t in zip(a_outs, t_outs) if t.requires_grad]
    assert [a.requires_grad for a in a_outs] == [t.requires_grad for t in t_outs]
    t_node, a_node = t_outs[0].grad_fn, a_outs[0].grad_fn
    assert (t_node and t_node.name()) == grad_fn, "the case's expected name is PyTorch's"
    assert (a_node and a_node.name()) == grad_fn
    if not roots:
        return
    backward_both([a for a, _ in roots], [t for _, t in roots],
                  [random_like(rng, t) for _, t in roots])
    compare_input_gradients(a_in, t_in, lambda a, t, what: _assert_close(a, t, dtype, what))


@pytest.mark.parametrize("fn", [
    pytest.param(lambda L, x: x.max(1), id="max-dim"),
    pytest.param(lambda L, x: L.min(x, 0, keepdim=True), id="min-dim-keepdim"),
    pytest.param(lambda L, x: x.detach().max(-1), id="max-no-grad"),
])
def test_named_tuple_repr(fn):
    x = np.array([[1.5, 3.0, 3.0], [2.0, -2.0, 2.0]], np.float32)
    a = fn(agx, agx.tensor(x, requires_grad=True))
    t = fn(torch, torch.tensor(x, requires_grad=True))
    assert repr(a) == repr(t)


@pytest.mark.parametrize("fn", [
    pytest.param(lambda L, x: x.sum(3), id="sum"),
    pytest.param(lambda L, x: x.amax((0, -3)), id="amax-tuple"),
    pytest.param(lambda L, x: x.max(-3), id="max"),
    pytest.param(lambda L, x: x.argmax(2), id="argmax"),
    pytest.param(lambda L, x: x.cumsum(2), id="cumsum"),
    pytest.param(lambda L, x: x.logsumexp(5), id="logsumexp"),
    pytest.param(lambda L, x: x.var(-5), id="var"),
])
def test_bad_dim_message(fn):
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(IndexError) as t_err:
        fn(torch, torch.tensor(x))
    with pytest.raises(IndexError) as a_err:
        fn(agx, agx.tensor(x))
    assert str(a_err.value) == str(t_err.value)


def test_var_without_degrees_of_freedom():
    x = np.array([[1.0], [2.0]])
    with pytest.warns(UserWarning) as t_warn:
        t = torch.tensor(x).var(1)
    with pytest.warns(UserWarning) as a_warn:
        a = agx.tensor(x).var(1)
    assert str(a_warn[0].message) in str(t_warn[0].message)
    _assert_close(a, t, "float64", "var")


@pytest.mark.parametrize("fn, allowed", [
    pytest.param(lambda x: x.max(1).values, True, id="max-dim-saves-only-indices"),
    pytest.param(lambda x: x.min(0, keepdim=True)[0], True, id="min-dim"),
    pytest.param(lambda x: x.amax(1), False, id="amax-saves-its-result"),
    pytest.param(lambda x: x.std(0), False, id="std-saves-its-result"),
])
def test_in_place_change_of_the_output(fn, allowed):
    x = np.array([[1.0, 3.0, 2.0], [4.0, 0.0, 5.0]])
    grads = []
    for L in (torch, agx):
        leaf = L.tensor(x, requires_grad=True)
        out = fn(leaf * 1)
        out.add_(1)
        if allowed:
            out.sum().backward()
            grads.append(leaf.grad.numpy())
        else:
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                out.sum().backward()
    if allowed:
        np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.parametrize("kwargs", [{}, {"sorted": False}, {"return_inverse": True},
                                    {"return_counts": True, "return_inverse": True},
                                    {"dim": 1, "return_inverse": True, "return_counts": True},
                                    {"dim": -2, "return_counts": True}],
                         ids=["plain", "unsorted", "inverse", "inverse-counts", "dim", "dim-neg"])
@pytest.mark.parametrize("values", [[[3.0, 1.0, 3.0], [2.0, 1.0, 2.0]], [[1.0, math.nan, math.nan]],
                                    [[True, False, True]], [[5, 3, 5], [5, 3, 5]]],
                         ids=["float", "nan", "bool", "int"])
def test_unique_matches_torch(values, kwargs):
    got = []
    for lib in (agx, torch):
        x = lib.tensor(values)
        if x.dtype.is_floating_point:
            x.requires_grad_()
        out = lib.unique(x, **kwargs)
        out = out if isinstance(out, tuple) else (out,)
        got.append(out)
        assert out[0].requires_grad == x.requires_grad
    assert len(got[0]) == len(got[1])
    for a, t in zip(*got):
        assert str(a.dtype) == str(t.dtype)
        np.testing.assert_array_equal(a.detach().numpy(), t.detach().numpy())
        assert a.grad_fn is None or a.grad_fn.name() == t.grad_fn.name()


@pytest.mark.parametrize("dim", [None, 0, 1, 2, -1])
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "float16"])
def test_unique_of_3d_input_matches_torch(dim, dtype):
    """Slices of more than one axis compare in PyTorch's (lexicographic) order; every
    output, with repeats along each axis."""
    x = np.random.default_rng(3).integers(0, 3, (4, 3, 5)).astype(dtype)
    x[1] = x[3]
    x[:, 0] = x[:, 2]
    x[:, :, 1] = x[:, :, 4]
    kwargs = dict(dim=dim, return_inverse=True, return_counts=True)
    ours = agx.unique(agx.tensor(x), **kwargs)
    theirs = torch.unique(torch.tensor(x), **kwargs)
    for a, t in zip(ours, theirs, strict=True):
        assert str(a.dtype) == str(t.dtype)
        np.testing.assert_array_equal(a.numpy(), t.numpy())


@pytest.mark.parametrize("shape, dim", [((2, 0), 1), ((0,), None), ((1,), None), ((), None)])
def test_unique_of_empty_and_single_inputs_matches_torch(shape, dim):
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    kwargs = dict(dim=dim, return_inverse=True, return_counts=True)
    ours = agx.unique(agx.tensor(x), **kwargs)
    theirs = torch.unique(torch.tensor(x), **kwargs)
    for a, t in zip(ours, theirs, strict=True):
        assert str(a.dtype) == str(t.dtype) and tuple(a.shape) == tuple(t.shape)
        np.testing.assert_array_equal(a.numpy(), t.numpy())


@pytest.mark.parametrize("dim", [None, 0])
def test_unique_backward_refuses_as_torch(dim):
    messages = []
    for lib in (agx, torch):
        x = lib.tensor([[1.0, 2.0], [1.0, 2.0]], requires_grad=True)
        with pytest.raises(NotImplementedError) as e:
            x.unique(dim=dim).sum().backward()
        messages.append(str(e.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("shape, dim", [((0, 0), 0), ((3, 0), 0), ((0, 3), 1)],
                         ids=["two-empty-dims", "empty-dim-not-selected", "empty-not-selected-1"])
def test_unique_of_empty_slices_refuses_as_torch(shape, dim):
    with pytest.raises(RuntimeError) as theirs:
        torch.unique(torch.ones(shape), dim=dim)
    with pytest.raises(RuntimeError) as ours:
        agx.unique(agx.ones(shape), dim=dim)
    assert str(ours.value) == str(theirs.value)
