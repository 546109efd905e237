"""The linear algebra ops against PyTorch, in float32 and float64: values, output dtype,
the gradient of every input (same random output gradient) and the grad_fn name; then
integer inputs, and the errors (the same exception type, a message naming the problem).
"""

import math

import numpy as np
import pytest

import autogradx as agx
from helpers import K, M, R, err
from torch_compare import (DTYPES, assert_close, assert_raises_like_torch, backward_both, case,
                           compare_input_gradients, outputs, random_like, run_both)
from torch_compare import ones as _t

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

INF = math.inf
TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}

CASES = [
    case("mm", lambda L, a, b: L.mm(a, b), (R(2, 3), R(3, 4)), "MmBackward0"),
    case("mm-method", lambda L, a, b: a.mm(b), (R(3, 3), K(R(3, 2))), "MmBackward0"),
    case("addmm", lambda L, x, a, b: L.addmm(x, a, b), (R(4), R(2, 3), R(3, 4)), "AddmmBackward0"),
    case("addmm-scaled", lambda L, x, a, b: L.addmm(x, a, b, beta=0.5, alpha=-2.0),
         (R(2, 1), R(2, 3), R(3, 4)), "AddmmBackward0"),
    case("addmm-beta-0", lambda L, x, a, b: x.addmm(a, b, beta=0), (R(2, 4), R(2, 3), R(3, 4)),
         "AddmmBackward0"),
    case("addmm-linear", lambda L, x, a, b: L.addmm(x, a, b.t()), (R(), K(R(2, 3)), R(4, 3)),
         "AddmmBackward0"),
    case("bmm", lambda L, a, b: L.bmm(a, b), (R(2, 2, 3), R(2, 3, 4)), "BmmBackward0"),
    case("mv", lambda L, a, v: L.mv(a, v), (R(2, 3), R(3)), "MvBackward0"),
    case("mv-method", lambda L, a, v: a.mv(v), (R(1, 4), R(4)), "MvBackward0"),
    case("dot", lambda L, a, b: L.dot(a, b), (R(4), R(4)), "DotBackward0"),
    case("dot-keyword", lambda L, a, b: L.dot(a, tensor=b), (R(3), R(3)), "DotBackward0"),
    case("outer", lambda L, a, b: L.outer(a, b), (R(3), R(4)), "MulBackward0"),
    case("ger-method", lambda L, a, b: a.ger(b), (R(2), R(3)), "MulBackward0"),
    case("linalg.cross", lambda L, a, b: L.linalg.cross(a, b), (R(2, 3), R(1, 3)),
         "LinalgCrossBackward0"),
    case("linalg.cross-dim", lambda L, a, b: L.linalg.cross(a, b, dim=0), (R(3, 2), R(3, 1)),
         "LinalgCrossBackward0"),
    case("cross-method-dim", lambda L, a, b: a.cross(b, dim=-2), (R(2, 3, 2), R(2, 3, 2)),
         "LinalgCrossBackward0"),
    # many vectors along the last dim (slices, not take, on NumPy), and along a middle one
    case("linalg.cross-many", lambda L, a, b: L.linalg.cross(a, b), (R(2, 400, 3), R(2, 400, 3)),
         "LinalgCrossBackward0"),
    case("cross-many-dim", lambda L, a, b: L.cross(a, b, dim=1), (R(40, 3, 20), R(40, 3, 20)),
         "LinalgCrossBackward0"),
    # einsum: PyTorch's node is that of its last internal op
    case("einsum-matmul", lambda L, a, b: L.einsum("ij,jk->ik", a, b), (R(2, 3), R(3, 4)),
         "ViewBackward0"),
    case("einsum-implicit", lambda L, a, b: L.einsum("ij,kj", a, b), (R(2, 3), R(4, 3)),
         "ViewBackward0"),
    case("einsum-batched-out-permuted", lambda L, a, b: L.einsum("bij,bjk->bki", a, b),
         (R(2, 2, 3), R(2, 3, 4)), "ViewBackward0"),
    case("einsum-ellipsis", lambda L, a, b: L.einsum("...ij,...jk", a, b),
         (R(2, 1, 2, 3), R(3, 3, 4)), "ViewBackward0"),
    case("einsum-inner", lambda L, a, b: L.einsum("i,i", a, b), (R(3), R(3)), "ViewBackward0"),
    case("einsum-outer", lambda L, a, b: L.einsum("i,j->ij", a, b), (R(2), R(3)),
         "MulBackward0"),
    case("einsum-hadamard-broadcast", lambda L, a, b: L.einsum("ij,ij->ji", a, b),
         (R(1, 3), R(2, 3)), "MulBackward0"),
    case("einsum-transpose", lambda L, a: L.einsum("ij->ji", a), (R(2, 3),), "PermuteBackward0"),
    case("einsum-diagonal", lambda L, a: L.einsum("ii->i", a), (R(3, 3),), "PermuteBackward0"),
    case("einsum-trace", lambda L, a: L.einsum("ii", a), (R(3, 3),), "SumBackward1"),
    case("einsum-sum", lambda L, a: L.einsum("ijk->j", a), (R(2, 3, 4),), "SumBackward1"),
    case("einsum-three", lambda L, a, b, c: L.einsum("ij,jk,kl->il", a, b, c),
         (R(2, 3), R(3, 4), R(4, 2)), "ViewBackward0"),
    case("einsum-list", lambda L, a, b: L.einsum("bi,bj->bij", [a, b]), (R(2, 3), R(2, 4)),
         "MulBackward0"),
    # norms
    case("norm", lambda L, x: L.linalg.norm(x), (R(2, 3, 4),), "LinalgVectorNormBackward0"),
    *[case(f"norm-vector-ord{o}", lambda L, x, o=o: L.linalg.norm(x, o), (R(5),),
           "LinalgVectorNormBackward0") for o in (1, 3, 0.5, -1, INF, -INF)],
    *[case(f"norm-matrix-ord{o}", lambda L, x, o=o: L.linalg.norm(x, o), (R(3, 4),), name)
      for o, name in (("fro", "LinalgVectorNormBackward0"), ("nuc", "SumBackward1"),
                      (1, "AmaxBackward0"), (-1, "AminBackward0"), (2, "AmaxBackward0"),
                      (-2, "AminBackward0"), (INF, "AmaxBackward0"), (-INF, "AminBackward0"))],
    case("norm-dim-keepdim", lambda L, x: L.linalg.norm(x, dim=-1, keepdim=True), (R(2, 3),),
         "LinalgVectorNormBackward0"),
    case("norm-dim-pair", lambda L, x: L.linalg.norm(x, dim=(0, 2)), (R(2, 3, 4),),
         "LinalgVectorNormBackward0"),
    case("norm-dim-pair-nuc", lambda L, x: L.linalg.norm(x, "nuc", (2, 0)), (R(2, 3, 4),),
         "SumBackward1"),
    case("norm-dim-pair-nuc-keepdim", lambda L, x: L.linalg.norm(x, "nuc", (2, 0), True),
         (R(2, 3, 4),), "PermuteBackward0"),
    case("norm-dtype", lambda L, x: L.linalg.norm(x, dtype=L.float64), (R(3, 4),),
         "LinalgVectorNormBackward0"),
    *[case(f"vector_norm-ord{o}", lambda L, x, o=o: L.linalg.vector_norm(x, o, (0, 2)),
           (R(2, 3, 4),), "LinalgVectorNormBackward0") for o in (2, 1, 1.5, 3, 0, INF, -INF)],
    case("vector_norm-keepdim", lambda L, x: L.linalg.vector_norm(x, 2, 1, True), (R(2, 3),),
         "LinalgVectorNormBackward0"),
    case("vector_norm-dtype", lambda L, x: L.linalg.vector_norm(x, dtype=L.float64),
         (R(2, 3),), "LinalgVectorNormBackward0"),
    *[case(f"matrix_norm-ord{o}", lambda L, x, o=o: L.linalg.matrix_norm(x, o), (R(2, 3, 4),),
           name)
      for o, name in (("fro", "LinalgVectorNormBackward0"), ("nuc", "SumBackward1"),
                      (1, "AmaxBackward0"), (-2, "AminBackward0"), (INF, "AmaxBackward0"))],
    case("matrix_norm-dims-keepdim", lambda L, x: L.linalg.matrix_norm(x, 1, (2, 0), True),
         (R(2, 3, 4),), "AmaxBackward0"),
    case("matrix_norm-ord2-keepdim", lambda L, x: L.linalg.matrix_norm(x, 2, (2, 0), True),
         (R(2, 3, 4),), "PermuteBackward0"),
    # inverse, solve, determinants
    case("inv", lambda L, a: L.linalg.inv(a), (M(3, 3),), "LinalgInvExBackward0"),
    case("inv-batched", lambda L, a: L.linalg.inv(a), (M(2, 3, 3),), "LinalgInvExBackward0"),
    case("inverse-method", lambda L, a: a.inverse(), (M(2, 2),), "LinalgInvExBackward0"),
    case("solve-matrix", lambda L, a, b: L.linalg.solve(a, b), (M(3, 3), R(3, 2)),
         "LinalgSolveExBackward0"),
    case("solve-vector", lambda L, a, b: L.linalg.solve(a, b), (M(3, 3), R(3)),
         "LinalgSolveExBackward0"),
    case("solve-batched-vector", lambda L, a, b: L.linalg.solve(a, b), (M(2, 3, 3), R(2, 3)),
         "LinalgSolveExBackward0"),
    case("solve-broadcast", lambda L, a, b: L.linalg.solve(a, b), (M(4, 3, 3), R(2, 1, 3, 2)),
         "LinalgSolveExBackward0"),
    case("solve-left-false", lambda L, a, b: L.linalg.solve(a, b, left=False),
         (M(3, 3), R(2, 3)), "LinalgSolveExBackward0"),
    case("solve-keywords", lambda L, a, b: L.linalg.solve(A=a, B=b), (M(2, 2), R(2)),
         "LinalgSolveExBackward0"),
    # one vjp gives both gradients: each input alone requiring grad
    case("solve-constant-B", lambda L, a, b: L.linalg.solve(a, b), (M(3, 3), K(R(3, 2))),
         "LinalgSolveExBackward0"),
    case("solve-constant-A", lambda L, a, b: L.linalg.solve(a, b, left=False),
         (K(M(3, 3)), R(2, 3)), "LinalgSolveExBackward0"),
    case("det", lambda L, a: L.linalg.det(a), (M(3, 3),), "LinalgDetBackward0"),
    case("det-batched", lambda L, a: L.linalg.det(a), (M(2, 3, 3),), "LinalgDetBackward0"),
    case("det-top-level", lambda L, a: L.det(-a), (M(2, 2),), "LinalgDetBackward0"),
    case("det-method", lambda L, a: a.det(), (M(4, 4),), "LinalgDetBackward0"),
    case("slogdet", lambda L, a: L.linalg.slogdet(a), (M(2, 3, 3),), "LinalgSlogdetBackward0"),
    case("slogdet-negative", lambda L, a: L.slogdet(-a), (M(3, 3),), "LinalgSlogdetBackward0"),
]


def _close(a, t, dtype, what):
    assert_close(a, t, what, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, specs, grad_fn", CASES)
def test_against_torch(fn, specs, grad_fn, dtype):
    a_in, t_in, a_out, t_out, rng = run_both(fn, specs, dtype)
    a_outs, t_outs = outputs(a_out), outputs(t_out)
    assert len(a_outs) == len(t_outs)
    for k, (a, t) in enumerate(zip(a_outs, t_outs)):
        assert str(a.dtype) == str(t.dtype), f"output {k}: dtype"
        _close(a, t, dtype, f"output {k}")
        assert t.grad_fn.name() == grad_fn, "the case's expected name is PyTorch's"
        assert a.grad_fn.name() == grad_fn
    backward_both(a_outs, t_outs, [random_like(rng, t) for t in t_outs])
    compare_input_gradients(a_in, t_in, lambda a, t, what: _close(a, t, dtype, what))


INTEGER_CASES = [
    pytest.param(lambda L, a, b: L.mm(a, b), [(2, 3), (3, 4)], id="mm"),
    pytest.param(lambda L, a, b: L.addmm(a[0], a, b, alpha=2), [(2, 3), (3, 3)], id="addmm"),
    pytest.param(lambda L, a, b: L.bmm(a, b), [(2, 2, 3), (2, 3, 1)], id="bmm"),
    pytest.param(lambda L, a, b: L.mv(a, b), [(2, 3), (3,)], id="mv"),
    pytest.param(lambda L, a, b: L.dot(a, b), [(3,), (3,)], id="dot"),
    pytest.param(lambda L, a, b: L.outer(a, b), [(3,), (2,)], id="outer"),
    pytest.param(lambda L, a, b: L.einsum("ij,jk", a, b), [(2, 3), (3, 2)], id="einsum"),
]


@pytest.mark.parametrize("fn, shapes", INTEGER_CASES)
def test_integer_inputs(fn, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.integers(-5, 5, s) for s in shapes]
    a = fn(agx, *[agx.tensor(x) for x in arrays])
    t = fn(torch, *[torch.tensor(x) for x in arrays])
    assert str(a.dtype) == str(t.dtype) == "torch.int64"
    assert a.grad_fn is None
    np.testing.assert_array_equal(a.numpy(), t.numpy())


def test_outer_promotes_like_torch():
    a = agx.outer(agx.tensor([1, 2]), agx.tensor([0.5, 1.5], dtype=agx.float64))
    t = torch.outer(torch.tensor([1, 2]), torch.tensor([0.5, 1.5], dtype=torch.float64))
    assert str(a.dtype) == str(t.dtype)
    np.testing.assert_array_equal(a.numpy(), t.numpy())


@pytest.mark.parametrize("equation, shape", [("bii->b", (2, 3, 3)), ("ii", (3, 3)),
                                             ("ij->i", (2, 3)), ("ii->i", (3, 3)),
                                             ("ij->ji", (2, 3))])
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32"])
def test_einsum_of_one_integer_operand(equation, shape, dtype):
    x = np.random.default_rng(0).integers(0, 3, shape).astype(dtype)
    a, t = agx.einsum(equation, agx.tensor(x)), torch.einsum(equation, torch.tensor(x))
    assert str(a.dtype) == str(t.dtype)
    np.testing.assert_array_equal(a.numpy(), t.numpy())


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_slogdet_of_nan_and_inf_matrices(dtype):
    data = np.eye(3, dtype=dtype)[None].repeat(4, 0)
    data[0, 1, 1], data[1, 0, 1], data[2, 2, 2], data[3, 0, 0] = np.nan, np.inf, -np.inf, 0
    a, t = agx.linalg.slogdet(agx.tensor(data)), torch.linalg.slogdet(torch.tensor(data))
    for ours, theirs in zip(a, t):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())     # NaNs where PyTorch's


def test_det_of_singular_matrix_and_of_empty_matrices():
    for data in ([[1.0, 2.0], [2.0, 4.0]], np.zeros((2, 0, 0))):
        a, t = agx.linalg.det(agx.tensor(data)), torch.linalg.det(torch.tensor(data))
        np.testing.assert_allclose(a.numpy(), t.numpy(), atol=1e-6)
        assert tuple(a.shape) == tuple(t.shape)


ERRORS = [
    err("mm-vector", lambda L: L.mm(_t(L, (2, 3)), _t(L, (3,))), "mat2 must be a matrix"),
    err("mm-shapes", lambda L: L.mm(_t(L, (2, 3)), _t(L, (2, 3))), r"2x3 and 2x3"),
    err("mm-dtypes", lambda L: L.mm(_t(L, (2, 3)), _t(L, (3, 2), "float64")), "dtype"),
    err("mm-bool", lambda L: L.mm(_t(L, (2, 2), "bool"), _t(L, (2, 2), "bool")), "Bool"),
    err("addmm-vector", lambda L: L.addmm(_t(L, (2,)), _t(L, (3,)), _t(L, (3, 2))),
        "mat1 must be a matrix, got 1-D tensor"),
    err("addmm-shapes", lambda L: L.addmm(_t(L, (2,)), _t(L, (2, 3)), _t(L, (2, 3))),
        r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)"),
    err("addmm-dtypes", lambda L: L.addmm(_t(L, (2,)), _t(L, (2, 3)), _t(L, (3, 2), "float64")),
        "mat1 and mat2 must have the same dtype, but got Float and Double"),
    err("addmm-input-dtype", lambda L: L.addmm(_t(L, (2,), "float64"), _t(L, (2, 3)),
                                               _t(L, (3, 2))),
        "self and mat2 must have the same dtype, but got Double and Float"),
    err("addmm-input-shape", lambda L: L.addmm(_t(L, (3,)), _t(L, (2, 3)), _t(L, (3, 2))),
        r"The expanded size of the tensor \(2\) must match the existing size \(3\)"),
    err("addmm-bool", lambda L: L.addmm(*(_t(L, s, "bool") for s in ((2,), (2, 2), (2, 2)))),
        "Bool"),
    err("bmm-2d", lambda L: L.bmm(_t(L, (2, 3)), _t(L, (3, 2))), "3D"),
    err("bmm-batch", lambda L: L.bmm(_t(L, (2, 2, 3)), _t(L, (3, 3, 4))), r"\[2, 3\]"),
    err("mv-matrix", lambda L: L.mv(_t(L, (2, 3)), _t(L, (3, 2))), "vector"),
    err("mv-size", lambda L: L.mv(_t(L, (2, 3)), _t(L, (4,))), "size mismatch"),
    err("dot-2d", lambda L: L.dot(_t(L, (2, 3)), _t(L, (3,))), "1D tensors expected"),
    err("dot-0d", lambda L: L.dot(_t(L, ()), _t(L, ())), "1D tensors expected"),
    err("dot-sizes", lambda L: L.dot(_t(L, (3,)), _t(L, (4,))), "inconsistent tensor size"),
    err("dot-dtypes", lambda L: L.dot(_t(L, (3,)), _t(L, (3,), "float64")), "dtype"),
    err("outer-2d", lambda L: L.outer(_t(L, (2, 3)), _t(L, (3,))), "1-D"),
    err("einsum-few-operands", lambda L: L.einsum("ij,jk", _t(L, (2, 3))), "fewer operands"),
    err("einsum-dtypes", lambda L: L.einsum("ij,jk", _t(L, (2, 3)), _t(L, (3, 2), "float64")),
        "dtype|Float"),
    err("einsum-subscripts", lambda L: L.einsum("ijk->", _t(L, (2, 3))), "einsum"),
    err("inv-nonsquare", lambda L: L.linalg.inv(_t(L, (2, 3))), "square"),
    err("inv-1d", lambda L: L.linalg.inv(_t(L, (3,))), "at least 2 dimensions"),
    err("inv-int", lambda L: L.linalg.inv(_t(L, (2, 2), "int64")), "floating point"),
    err("inv-singular", lambda L: L.linalg.inv(L.zeros(2, 2)), "singular"),
    err("solve-singular", lambda L: L.linalg.solve(L.zeros(2, 2), L.ones(2)), "singular"),
    err("solve-shapes", lambda L: L.linalg.solve(_t(L, (3, 3)), _t(L, (4,))), "Incompatible"),
    err("solve-left-false-vector",
        lambda L: L.linalg.solve(_t(L, (3, 3)), _t(L, (3,)), left=False), "Incompatible"),
    err("solve-dtypes", lambda L: L.linalg.solve(_t(L, (2, 2)), _t(L, (2,), "float64")),
        "same dtype"),
    err("det-nonsquare", lambda L: L.linalg.det(_t(L, (2, 3))), "square"),
    err("det-int", lambda L: L.linalg.det(_t(L, (2, 2), "int64")), "floating point"),
    err("norm-int", lambda L: L.linalg.norm(_t(L, (2, 2), "int64")), "floating point"),
    err("norm-ord-3d", lambda L: L.linalg.norm(_t(L, (2, 2, 2)), 2), "1D or 2D"),
    err("norm-fro-1d", lambda L: L.linalg.norm(_t(L, (3,)), "fro"), "at least 2 dimensions"),
    err("norm-matrix-ord3", lambda L: L.linalg.norm(_t(L, (2, 2)), 3), "Order 3 not supported"),
    err("norm-dim-out-of-range", lambda L: L.linalg.norm(_t(L, (2, 2)), dim=2),
        "out of range"),
    err("vector_norm-str-ord", lambda L: L.linalg.vector_norm(_t(L, (2,)), "fro"), "ord"),
    err("vector_norm-int-dtype",
        lambda L: L.linalg.vector_norm(_t(L, (2,)), dtype=L.int64), "floating point"),
    err("vector_norm-inf-empty",
        lambda L: L.linalg.vector_norm(_t(L, (0, 3)), INF), "empty"),
    err("vector_norm-negative-ord-empty",
        lambda L: L.linalg.vector_norm(_t(L, (0, 3)), -1), "cannot compute the -1 norm"),
    err("vector_norm-negative-ord-empty-dim",
        lambda L: L.linalg.vector_norm(_t(L, (3, 0)), -0.5, dim=1), "-0.5 norm"),
    err("norm-negative-p-empty", lambda L: L.norm(_t(L, (0,)), -2), "-2 norm"),
    err("matrix_norm-dim", lambda L: L.linalg.matrix_norm(_t(L, (2, 2)), dim=(0,)), "2-tuple"),
]


@pytest.mark.parametrize("fn, match", ERRORS)
def test_errors(fn, match):
    assert_raises_like_torch(fn, match)


# ---------------------------------------------------------------- singular value decomposition

_allclose = np.testing.assert_allclose


def _column_signs(ours, theirs):
    """The signs that turn our singular vectors (columns) into PyTorch's: each is defined up
    to a sign, which LAPACK calls need not choose alike."""
    return np.sign(np.sum(ours * theirs, axis=-2, keepdims=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, full", [((3, 3), True), ((4, 2), True), ((4, 2), False),
                                         ((2, 4), True), ((2, 4), False), ((2, 3, 2), False)])
def test_svd_values_and_gradients_match_torch(shape, full, dtype):
    """Random gradients of U, S and Vh (full ones included: PyTorch gives the columns
    beyond min(m, n) no gradient) after aligning the singular vectors' signs."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape).astype(dtype)
    x, t = agx.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours, theirs = agx.linalg.svd(x, full_matrices=full), torch.linalg.svd(t, full_matrices=full)
    assert type(ours).__name__ == type(theirs).__name__ == "linalg_svd"
    assert ours.U.grad_fn.name() == theirs.U.grad_fn.name()
    su = _column_signs(ours.U.detach().numpy(), theirs.U.detach().numpy())
    svh = np.swapaxes(_column_signs(np.swapaxes(ours.Vh.detach().numpy(), -1, -2),
                                    np.swapaxes(theirs.Vh.detach().numpy(), -1, -2)), -1, -2)
    for o, e in ((ours.U.detach().numpy() * su, theirs.U), (ours.S.detach().numpy(), theirs.S),
                 (ours.Vh.detach().numpy() * svh, theirs.Vh)):
        _allclose(o, e.detach().numpy(), **TOL[dtype])
    gu, gs, gvh = (rng.standard_normal(tuple(e.shape)).astype(dtype) for e in theirs)
    ((ours.U * agx.tensor(gu * su)).sum() + (ours.S * agx.tensor(gs)).sum()
     + (ours.Vh * agx.tensor(gvh * svh)).sum()).backward()
    ((theirs.U * torch.tensor(gu)).sum() + (theirs.S * torch.tensor(gs)).sum()
     + (theirs.Vh * torch.tensor(gvh)).sum()).backward()
    tol = {"float32": dict(rtol=1e-3, atol=1e-4), "float64": TOL["float64"]}[dtype]
    _allclose(x.grad.numpy(), t.grad.numpy(), **tol)


@pytest.mark.parametrize("some", [True, False])
def test_torch_svd_and_svdvals_match_torch(some):
    a = np.random.default_rng(1).standard_normal((4, 3))
    x, t = agx.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    ours, theirs = agx.svd(x, some=some), torch.svd(t, some=some)
    assert type(ours).__name__ == type(theirs).__name__ == "svd"
    assert [tuple(o.shape) for o in ours] == [tuple(e.shape) for e in theirs]
    _allclose(ours.S.detach().numpy(), theirs.S.detach().numpy(), **TOL["float64"])
    sv = _column_signs(ours.V.detach().numpy(), theirs.V.detach().numpy())
    _allclose(ours.V.detach().numpy() * sv, theirs.V.detach().numpy(), **TOL["float64"])
    (ours.V[:, :1] * agx.tensor(sv[:, :1])).sum().backward()
    theirs.V[:, :1].sum().backward()
    _allclose(x.grad.numpy(), t.grad.numpy(), **TOL["float64"])
    no_uv, no_uv_t = agx.svd(x, compute_uv=False), torch.svd(t, compute_uv=False)
    assert [tuple(o.shape) for o in no_uv] == [tuple(e.shape) for e in no_uv_t]
    assert not no_uv.U.detach().numpy().any() and not no_uv.V.detach().numpy().any()
    _allclose(agx.linalg.svdvals(x).detach().numpy(),
                 torch.linalg.svdvals(t).detach().numpy(), **TOL["float64"])


@pytest.mark.parametrize("call", [lambda L: L.linalg.svd(L.ones(3)),
                                  lambda L: L.linalg.svd(L.ones(3, 3, dtype=L.int64)),
                                  lambda L: L.linalg.svdvals(L.ones(2))],
                         ids=["1-d", "int64", "svdvals-1-d"])
def test_svd_errors_match_torch(call):
    with pytest.raises(RuntimeError) as theirs:
        call(torch)
    with pytest.raises(RuntimeError) as ours:
        call(agx)
    assert str(ours.value) == str(theirs.value)


def test_cross_without_dim_takes_the_first_dim_of_size_3_and_warns_as_torch():
    a = np.random.default_rng(4).standard_normal((2, 3, 3))
    results = []
    for lib in (agx, torch):
        with pytest.warns(UserWarning, match="Using torch.cross without specifying the dim"):
            results.append(lib.cross(lib.tensor(a), lib.tensor(a[::-1].copy())))
    _allclose(results[0].numpy(), results[1].numpy(), **TOL["float64"])
    for lib in (agx, torch):
        with pytest.raises(RuntimeError, match="no dimension of size 3 in input"):
            lib.cross(lib.ones(2, 2), lib.ones(2, 2))


# ---------------------------------------------------------------- second derivatives of norms

def _norms(ord, dim):
    """The norms that share PyTorch's norm_backward, as ``fn(lib, x)``."""
    fns = [lambda L, x: L.linalg.vector_norm(x, ord, dim=dim),
           lambda L, x: L.norm(x, ord, dim=dim),
           lambda L, x: L.linalg.vector_norm(x, ord, dim=dim, keepdim=True)]
    if dim is not None:
        fns.append(lambda L, x: L.linalg.norm(x, ord, dim=dim))
    if ord == 2:
        fns += [lambda L, x: x.norm(dim=dim),
                lambda L, x: L.linalg.matrix_norm(x.reshape(-1, x.shape[-1]), "fro")]
    return fns


NORM_INPUTS = {
    "zeros": np.zeros((2, 3)),
    "a-zero-row": [[0.0, 0.0, 0.0], [1.0, -2.0, 3.0]],
    "zero-elements": [[2.0, -2.0, 0.0], [0.5, 0.0, -1.0]],
    "nonzero": np.random.default_rng(5).standard_normal((2, 3)),
    "signed-zeros": [[-0.0, 0.0, -0.0], [1.0, -0.0, 2.0]],
}


def _assert_second_derivatives_match_torch(fn, data):
    """``fn(lib, x)``'s first and second derivatives (``grad(grad(y, x, v) . w, x)``) are
    torch's, NaN for NaN."""
    data = np.asarray(data, dtype=np.float64)
    results = []
    for lib in (agx, torch):
        x = lib.tensor(data, requires_grad=True)
        y = fn(lib, x)
        v = lib.tensor(np.random.default_rng(6).standard_normal(tuple(y.shape)))
        (g,) = lib.autograd.grad(y, x, v, create_graph=True)
        w = lib.tensor(np.random.default_rng(7).standard_normal(data.shape))
        if not g.requires_grad:         # ord 1: sign(x) * v, constant in x
            results.append((g.detach().numpy(), None))
            continue
        (gg,) = lib.autograd.grad((g * w).sum(), x)
        # (torch gives the zero second derivative of ord 1 as a ZeroTensor)
        results.append((g.detach().numpy(), (gg + 0).numpy()))
    (a_g, a_gg), (t_g, t_gg) = results
    np.testing.assert_allclose(a_g, t_g, rtol=1e-10, atol=1e-12, err_msg="first derivative")
    assert (a_gg is None) == (t_gg is None), "second derivative recorded in one library only"
    if t_gg is not None:
        np.testing.assert_allclose(a_gg, t_gg, rtol=1e-10, atol=1e-12, equal_nan=True,
                                   err_msg="second derivative")


@pytest.mark.parametrize("data", NORM_INPUTS.values(), ids=NORM_INPUTS.keys())
@pytest.mark.parametrize("dim", [None, -1])
@pytest.mark.parametrize("ord", [2, 1, 3, 1.5, 2.5, 0.5, -1, -0.5, INF, -INF])
def test_second_derivatives_of_norms_match_torch(ord, dim, data):
    # PyTorch's norm_backward divides by a zero norm (or, for ord < 1, by a zero element)
    # and then puts 0 in its place: the first derivative is 0 there, the second NaN.
    for fn in _norms(ord, dim):
        _assert_second_derivatives_match_torch(fn, data)


@pytest.mark.parametrize("data", NORM_INPUTS.values(), ids=NORM_INPUTS.keys())
@pytest.mark.parametrize("dim", [None, -1])
def test_second_derivatives_of_std_match_torch(dim, data):
    # std_backward divides by 2 std and masks where std == 0, as norm_backward does
    _assert_second_derivatives_match_torch(lambda L, x: L.std(x, dim=dim), data)


def test_second_derivative_of_the_norm_at_zero_is_nan_as_in_torch():
    # The case reported: autogradx gave 0.
    for lib in (agx, torch):
        x = lib.zeros(3, requires_grad=True)
        (g,) = lib.autograd.grad(lib.linalg.vector_norm(x), x, create_graph=True)
        g.sum().backward()
        assert not g.detach().numpy().any()
        assert np.isnan(x.grad.numpy()).all(), lib.__name__
