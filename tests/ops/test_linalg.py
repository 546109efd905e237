"""Finite-difference gradient checks (float64) of the linear algebra ops, and their behaviour
at the edges: singular matrices, zero vectors, bad einsum equations, namespaces.

Inputs come from specs: ``R(shape)`` real values, ``M(shape)`` well-conditioned square
matrices (random plus 3 I), ``K(spec)`` the same without requires_grad.
"""

import math

import numpy as np
import pytest

import autogradx as agx
from autogradx.testing import gradcheck, gradgradcheck
from helpers import K, M, R, case, make_inputs

L = agx.linalg
INF = math.inf


def _einsum(eq):
    return lambda *ops: agx.einsum(eq, *ops)


PRODUCTS = [
    case("mm", agx.mm, R(2, 3), R(3, 4)),
    case("mm-1x1", agx.mm, R(1, 1), R(1, 1)),
    case("mm-empty-inner", agx.mm, R(2, 0), R(0, 3)),
    case("mm-method", lambda a, b: a.mm(b), R(3, 2), R(2, 2)),
    case("mm-const-mat2", agx.mm, R(2, 3), K(R(3, 4))),
    case("bmm", agx.bmm, R(2, 2, 3), R(2, 3, 4)),
    case("bmm-1x1x1", agx.bmm, R(1, 1, 1), R(1, 1, 1)),
    case("bmm-method", lambda a, b: a.bmm(b), R(3, 1, 2), R(3, 2, 2)),
    case("mv", agx.mv, R(2, 3), R(3)),
    case("mv-1x1", agx.mv, R(1, 1), R(1)),
    case("mv-method", lambda a, v: a.mv(v), R(4, 2), R(2)),
    case("dot", agx.dot, R(3), R(3)),
    case("dot-1", agx.dot, R(1), R(1)),
    case("dot-method", lambda a, b: a.dot(b), R(5), R(5)),
    case("outer", agx.outer, R(3), R(4)),
    case("outer-1x1", agx.outer, R(1), R(1)),
    case("ger", agx.ger, R(2), R(3)),
    case("outer-method", lambda a, b: a.outer(b), R(3), R(2)),
    case("ger-method", lambda a, b: a.ger(b), R(3), R(2)),
]

EINSUM = [
    case("matmul", _einsum("ij,jk->ik"), R(2, 3), R(3, 4)),
    case("matmul-implicit", _einsum("ij,jk"), R(2, 3), R(3, 4)),
    case("matmul-transposed-out", _einsum("ij,jk->ki"), R(2, 3), R(3, 4)),
    case("batched", _einsum("bij,bjk->bik"), R(2, 2, 3), R(2, 3, 4)),
    case("ellipsis", _einsum("...ij,...jk->...ik"), R(2, 2, 3), R(3, 4)),
    case("ellipsis-broadcast", _einsum("...ij,...jk"), R(2, 1, 2, 3), R(3, 3, 4)),
    case("inner", _einsum("i,i->"), R(3), R(3)),
    case("inner-broadcast-1", _einsum("i,i"), R(3), R(1)),
    case("outer", _einsum("i,j->ij"), R(2), R(3)),
    case("hadamard", _einsum("ij,ij->ij"), R(2, 3), R(2, 3)),
    case("size-1-broadcast", _einsum("ij,ij->ij"), R(1, 3), R(2, 3)),
    case("transpose", _einsum("ij->ji"), R(2, 3)),
    case("sum-all", _einsum("ij->"), R(2, 3)),
    case("sum-rows", _einsum("ij->i"), R(2, 3)),
    case("trace", _einsum("ii"), R(3, 3)),
    case("diagonal", _einsum("ii->i"), R(3, 3)),
    case("batched-trace", _einsum("bii->b"), R(2, 3, 3)),
    case("summed-in-one-operand", _einsum("ij,k->ik"), R(2, 3), R(4)),
    case("three-operands", _einsum("ij,jk,kl->il"), R(2, 3), R(3, 4), R(4, 2)),
    case("three-elementwise", _einsum("i,i,i->i"), R(3), R(3), R(3)),
    case("bilinear", _einsum("i,ij,j->"), R(2), R(2, 3), R(3)),
    case("scalars", _einsum(",->"), R(), R()),
    case("scalar-times-vector", _einsum("i,->i"), R(3), R()),
    case("spaces", _einsum(" i j , j k -> i k "), R(2, 3), R(3, 4)),
    case("capitals", _einsum("Ab,bC->AC"), R(2, 3), R(3, 2)),
    case("list-form", lambda a, b: agx.einsum("ij,jk->ik", [a, b]), R(2, 3), R(3, 4)),
    case("const-operand", _einsum("ij,jk->ik"), R(2, 3), K(R(3, 4))),
]

NORMS = [
    case("norm-default-vector", L.norm, R(5)),
    case("norm-default-matrix", L.norm, R(3, 4)),
    case("norm-default-3d", L.norm, R(2, 3, 4)),
    case("norm-default-0d", L.norm, R()),
    *[case(f"norm-vector-ord{o}", lambda x, o=o: L.norm(x, o), R(5))
      for o in (1, 2, 3, 0.5, -1, INF, -INF, 0)],
    *[case(f"norm-matrix-ord{o}", lambda x, o=o: L.norm(x, o), R(3, 4))
      for o in ("fro", "nuc", 1, -1, 2, -2, INF, -INF)],
    case("norm-dim-int", lambda x: L.norm(x, dim=1), R(3, 4)),
    case("norm-dim-neg-keepdim", lambda x: L.norm(x, 3, dim=-1, keepdim=True), R(2, 3, 4)),
    case("norm-dim-pair", lambda x: L.norm(x, dim=(0, 2)), R(2, 3, 4)),
    case("norm-dim-pair-ord2", lambda x: L.norm(x, 2, dim=(2, 0), keepdim=True), R(2, 3, 4)),
    case("norm-dtype", lambda x: L.norm(x, dtype=agx.float64), R(3, 4)),
    *[case(f"vector_norm-ord{o}", lambda x, o=o: L.vector_norm(x, o), R(2, 3))
      for o in (2, 1, 0.5, 1.5, 3, -1, -0.5, INF, -INF, 0)],
    case("vector_norm-dim", lambda x: L.vector_norm(x, 2, 1), R(2, 3, 4)),
    case("vector_norm-dim-tuple-keepdim", lambda x: L.vector_norm(x, 3, (0, -1), True),
         R(2, 3, 4)),
    case("vector_norm-dim-empty", lambda x: L.vector_norm(x, dim=()), R(2, 3)),
    case("vector_norm-size-1", lambda x: L.vector_norm(x, INF, dim=0), R(1, 3)),
    *[case(f"matrix_norm-ord{o}", lambda x, o=o: L.matrix_norm(x, o), R(2, 3, 4))
      for o in ("fro", "nuc", 1, -1, 2, -2, INF, -INF)],
    *[case(f"matrix_norm-ord{o}-dims-keepdim",
           lambda x, o=o: L.matrix_norm(x, o, dim=(-1, 0), keepdim=True), R(2, 3, 4))
      for o in ("fro", "nuc", 1, 2, -INF)],
]

def _sign_free(usv):
    """Functions of an SVD that do not depend on the singular vectors' signs (each pair
    ``u_i``, ``v_i`` is defined up to a common sign): ``U S U^T``, ``V S^2 V^T`` and ``S``."""
    u, s, vh = usv
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]
    return (u * s[..., None, :]) @ u.mT, vh.mT @ (s[..., :, None] ** 2 * vh), s


def _svd_v(usv):
    """``torch.svd``'s ``(U, S, V)`` as ``linalg.svd``'s ``(U, S, Vh)``."""
    return usv[0], usv[1], usv[2].mT


DECOMPOSITIONS = [
    case("svd-square", lambda a: _sign_free(L.svd(a)), R(3, 3)),
    case("svd-tall-full", lambda a: _sign_free(L.svd(a)), R(4, 2)),
    case("svd-tall-reduced", lambda a: _sign_free(L.svd(a, full_matrices=False)), R(4, 2)),
    case("svd-wide-batched", lambda a: _sign_free(L.svd(a, False)), R(2, 2, 3)),
    case("svd-only-S", lambda a: L.svd(a).S, R(3, 2)),
    case("svdvals", L.svdvals, R(2, 4)),
    case("torch-svd", lambda a: _sign_free(_svd_v(agx.svd(a))), R(3, 2)),
    case("torch-svd-some-false", lambda a: _sign_free(_svd_v(a.svd(some=False))), R(2, 3)),
    case("torch-svd-no-uv", lambda a: agx.svd(a, compute_uv=False).S, R(3, 3)),
    case("inv", L.inv, M(3, 3)),
    case("inv-batched", L.inv, M(2, 3, 3)),
    case("inv-1x1", L.inv, M(1, 1)),
    case("inverse-method", lambda a: a.inverse(), M(2, 2)),
    case("solve-matrix", L.solve, M(3, 3), R(3, 2)),
    case("solve-vector", L.solve, M(3, 3), R(3)),
    case("solve-batched-vector", L.solve, M(2, 3, 3), R(2, 3)),
    case("solve-batched-A-1d-B", L.solve, M(2, 3, 3), R(3)),
    case("solve-broadcast", L.solve, M(4, 3, 3), R(2, 1, 3, 2)),
    case("solve-left-false", lambda a, b: L.solve(a, b, left=False), M(3, 3), R(2, 3)),
    case("solve-const-A", L.solve, K(M(3, 3)), R(3, 2)),
    case("det", L.det, M(3, 3)),
    case("det-batched", L.det, M(2, 3, 3)),
    case("det-1x1", L.det, M(1, 1)),
    case("det-top-level", agx.det, M(2, 2)),
    case("det-method", lambda a: a.det(), M(4, 4)),
    case("slogdet-logabsdet", lambda a: L.slogdet(a).logabsdet, M(3, 3)),
    case("slogdet-both", lambda a: tuple(L.slogdet(a)), M(2, 3, 3)),
    case("slogdet-negative-det", lambda a: agx.slogdet(-a)[1], M(3, 3)),
]


@pytest.mark.parametrize("fn, specs", PRODUCTS + EINSUM + NORMS + DECOMPOSITIONS)
def test_gradcheck(fn, specs):
    assert gradcheck(fn, make_inputs(specs, seed=0))


GRADGRAD = [
    case("mm", agx.mm, R(2, 3), R(3, 2)),
    case("bmm", agx.bmm, R(2, 2, 3), R(2, 3, 2)),
    case("mv", agx.mv, R(2, 3), R(3)),
    pytest.param(agx.dot, (R(3), R(3)), id="dot"),
    case("outer", agx.outer, R(3), R(2)),
    case("einsum-matmul", _einsum("ij,jk->ik"), R(2, 3), R(3, 2)),
    case("einsum-trace", _einsum("ii"), R(3, 3)),
    case("einsum-summed-in-one-operand", _einsum("ij,k->ik"), R(2, 3), R(2)),
    case("vector_norm", L.vector_norm, R(2, 3)),
    case("vector_norm-ord3-dim", lambda x: L.vector_norm(x, 3, 1), R(2, 3)),
    case("vector_norm-inf", lambda x: L.vector_norm(x, INF), R(4)),
    case("matrix_norm-ord1", lambda x: L.matrix_norm(x, 1), R(3, 3)),
    case("matrix_norm-ord2", lambda x: L.matrix_norm(x, 2), R(3, 3)),
    case("matrix_norm-nuc", lambda x: L.matrix_norm(x, "nuc"), R(3, 2)),
    case("svd", lambda x: _sign_free(L.svd(x, full_matrices=False)), R(3, 2)),
    case("svd-wide", lambda x: _sign_free(L.svd(x)), R(2, 3)),
    case("svdvals", L.svdvals, R(3, 3)),
    case("inv", L.inv, M(3, 3)),
    pytest.param(L.solve, (M(3, 3), R(3, 2)), id="solve"),
    pytest.param(L.det, (M(3, 3),), id="det"),
]


@pytest.mark.parametrize("fn, specs", GRADGRAD)
def test_gradgradcheck(fn, specs):
    assert gradgradcheck(fn, make_inputs(specs, seed=0))


# ---------------------------------------------------------------- edges

def _leaf(values):
    return agx.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("matrix", [[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]],
                                    [[2.0, 0.0, 1.0], [4.0, 0.0, 2.0], [1.0, 3.0, 0.0]]],
                         ids=["rank-1", "zero-2x2", "rank-2-3x3"])
def test_det_gradient_of_singular_matrix_is_the_cofactor_matrix(matrix):
    a = _leaf(matrix)
    L.det(a).backward()
    m = np.asarray(matrix)
    n = len(m)
    cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(m, i, 0), j, 1))
                     for j in range(n)] for i in range(n)])
    np.testing.assert_allclose(a.grad.numpy(), cof, atol=1e-12)


def test_norm_gradients_at_zero_are_zero_without_warnings():
    for fn in (lambda x: L.vector_norm(x), lambda x: L.vector_norm(x, 3),
               lambda x: L.vector_norm(x, 1.5), lambda x: L.vector_norm(x, 0.5),
               lambda x: L.vector_norm(x, -1), lambda x: L.matrix_norm(x)):
        x = _leaf(np.zeros((2, 2)))
        fn(x).backward()
        assert np.all(x.grad.numpy() == 0)


def test_inf_norm_shares_the_gradient_between_ties():
    x = _leaf([3.0, -3.0, 1.0])
    L.vector_norm(x, INF).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, -0.5, 0.0])


@pytest.mark.parametrize("fn", [lambda a: L.inv(a), lambda a: L.solve(a, agx.ones(2))],
                         ids=["inv", "solve"])
def test_singular_matrix_raises_linalg_error(fn):
    from autogradx.ops.linalg import LinAlgError
    with pytest.raises(LinAlgError, match="singular"):
        fn(agx.zeros(2, 2))
    assert issubclass(LinAlgError, RuntimeError)


def test_slogdet_backward_through_singular_matrix_says_so():
    a = _leaf([[1.0, 2.0], [2.0, 4.0]])
    sign, logabsdet = L.slogdet(a)
    assert sign.item() == 0 and logabsdet.item() == -INF
    with pytest.raises(RuntimeError, match="singular"):
        logabsdet.backward()


def _nan_matrices():
    """A batch: NaN on the diagonal, inf off it (LU elimination makes a NaN of it), a
    plain matrix."""
    nan, inf = np.eye(3), np.eye(3)
    nan[1, 1], inf[0, 1] = np.nan, np.inf
    return np.stack([nan, inf, 2 * np.eye(3)])


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_slogdet_sign_of_a_nan_determinant_is_0():
    sign, logabsdet = L.slogdet(agx.tensor(_nan_matrices()))
    assert sign.tolist() == [0.0, 0.0, 1.0]         # as in PyTorch; LAPACK's sign would be 1
    assert np.isnan(logabsdet.numpy()[:2]).all()
    assert logabsdet.numpy()[2] == pytest.approx(3 * math.log(2.0))
    sign, _ = L.slogdet(agx.tensor(_nan_matrices().astype(np.complex128)))
    assert np.isnan(sign.numpy()[:2]).all() and sign.numpy()[2] == 1     # complex: NaN


@pytest.mark.parametrize("equation, shape, dtype, expected", [
    ("bii->b", (2, 3, 3), "bool", [3, 3]),
    ("ii", (3, 3), "bool", 3),
    ("ij->i", (2, 3), "uint8", [3, 3]),
    ("ij->", (2, 3), "int32", 6),
    ("ii->i", (2, 2), "bool", [True, True]),       # a diagonal: no sum, the dtype stays
])
def test_einsum_sums_one_integer_operand_as_sum_does(equation, shape, dtype, expected):
    # PyTorch sums a subscript out of one operand with sum(): int64 for bool and integers.
    out = agx.einsum(equation, agx.ones(shape, dtype=getattr(agx, dtype)))
    assert out.dtype == (agx.bool if equation == "ii->i" else agx.int64)
    assert out.tolist() == expected


@pytest.mark.parametrize("equation, shapes, message", [
    ("ij,jk->ik", [(2, 3)], "fewer operands"),
    ("ij->ij", [(2, 3), (3,)], "more operands"),
    ("ijk->", [(2, 3)], "einsum"),
    ("ij->jj", [(2, 3)], "einsum"),
], ids=["too-few-operands", "too-many-operands", "too-many-subscripts", "repeated-output"])
def test_einsum_bad_equation(equation, shapes, message):
    with pytest.raises(RuntimeError, match=message):
        agx.einsum(equation, *[agx.ones(s) for s in shapes])


def test_einsum_gradient_of_a_repeated_operand_accumulates():
    x = _leaf([1.0, 2.0, 3.0])
    agx.einsum("i,i->", x, x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_namespaces():
    assert L.norm is L.linalg_norm           # registered under ATen's name (see the module)
    assert agx.det is L.det and agx.slogdet is L.slogdet
    assert agx.ger is agx.outer
    assert not hasattr(agx, "inv") and not hasattr(agx, "solve")
    x = agx.eye(2, dtype=agx.float64)
    assert type(L.slogdet(x)).__name__ == "linalg_slogdet"
    np.testing.assert_array_equal(x.inverse().numpy(), np.eye(2))
