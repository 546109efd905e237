"""Strategies of calls of the linear algebra ops (autogradx/ops/linalg.py): products of every
rank with broadcast batch dims, random einsum equations, vector and matrix norms of every
order, cross products, well-conditioned matrices for inv, solve and determinants, singular value
decompositions (through functions of them that the singular vectors' signs do not change)."""

import numpy as np
from hypothesis import strategies as st

from fuzz.calls import (Call, broadcast_shapes, dim_of, dims_of, distinct, rngs, shapes,
                        uniform)

SIDES = st.integers(1, 4)


@st.composite
def matmul(draw, path="matmul"):
    """``a @ b`` for 1-d to 4-d operands, their batch dims broadcasting."""
    rng = draw(rngs())
    n, k, m = draw(SIDES), draw(SIDES), draw(SIDES)
    batch_a, batch_b = draw(broadcast_shapes(2, max_dims=2, max_side=3))
    a = (k,) if draw(st.booleans()) else batch_a + (n, k)
    b = (k,) if draw(st.booleans()) else batch_b + (k, m)
    spelling = draw(st.sampled_from([path, "operator.matmul"]))
    return Call(spelling, uniform(rng, a), uniform(rng, b))


@st.composite
def product(draw, path):
    """The products of fixed ranks: ``mm``, ``bmm``, ``mv``, ``dot``, ``outer``."""
    rng = draw(rngs())
    b, n, k, m = draw(SIDES), draw(SIDES), draw(SIDES), draw(SIDES)
    a_shape, b_shape = {"mm": ((n, k), (k, m)), "bmm": ((b, n, k), (b, k, m)),
                        "mv": ((n, k), (k,)), "dot": ((k,), (k,)), "outer": ((n,), (m,))}[path]
    return Call(path, uniform(rng, a_shape), uniform(rng, b_shape))


@st.composite
def addmm(draw):
    """``beta * input + alpha * (mat1 @ mat2)``, ``input`` of any shape broadcasting to the
    product's (0-d, a row, a column, the full matrix), beta and alpha drawn (0 included)."""
    rng = draw(rngs())
    n, k, m = draw(SIDES), draw(SIDES), draw(SIDES)
    x = draw(st.sampled_from([(), (m,), (1, m), (n, 1), (n, m)]))
    scales = draw(st.fixed_dictionaries({}, optional={
        "beta": st.sampled_from([0, 0.5, 2]), "alpha": st.sampled_from([0, -1.5, 3])}))
    path = draw(st.sampled_from(["addmm", ".addmm"]))
    return Call(path, uniform(rng, x), uniform(rng, (n, k)), uniform(rng, (k, m)), **scales)


@st.composite
def einsum(draw):
    """A random equation over the letters ``ijkl``: one to three operands, repeated letters
    (diagonals) included, the output implicit or any order of some of the letters."""
    rng = draw(rngs())
    sizes = {c: draw(SIDES) for c in "ijkl"}
    operands = draw(st.lists(st.lists(st.sampled_from("ijkl"), max_size=3), min_size=1,
                             max_size=3))
    terms = ["".join(op) for op in operands]
    equation = ",".join(terms)
    if draw(st.booleans()):
        used = sorted(set("".join(terms)))
        equation += "->" + "".join(draw(st.permutations(used))[:draw(st.integers(0, len(used)))])
    arrays = [uniform(rng, tuple(sizes[c] for c in term)) for term in terms]
    return Call("einsum", equation, *arrays)


VECTOR_ORDS = [2, 1, 3, 0.5, -1, float("inf"), float("-inf")]
MATRIX_ORDS = ["fro", "nuc", 1, -1, 2, -2, float("inf"), float("-inf")]


@st.composite
def vector_norm(draw):
    x = distinct(draw(rngs()), draw(shapes()))
    kwargs = {}
    if draw(st.booleans()):
        kwargs["dim"] = draw(st.one_of(dim_of(x.ndim), dims_of(x.ndim)))
        kwargs["keepdim"] = draw(st.booleans())
    return Call("linalg.vector_norm", x, draw(st.sampled_from(VECTOR_ORDS)), **kwargs)


@st.composite
def matrix_norm(draw, path="linalg.matrix_norm"):
    """Matrix norms over two dims of a (batched) matrix of distinct entries (no ties for the
    1- and inf-norms; distinct singular values, almost surely, for 2 and nuc).
    ``linalg.norm`` needs the dims of a batched input."""
    shape = draw(shapes(min_dims=2, max_dims=4, max_side=3))
    kwargs = {"keepdim": draw(st.booleans())} if draw(st.booleans()) else {}
    if draw(st.booleans()) or (path == "linalg.norm" and len(shape) > 2):
        kwargs["dim"] = draw(dims_of(len(shape), 2, 2))
    return Call(path, distinct(draw(rngs()), shape), draw(st.sampled_from(MATRIX_ORDS)),
                **kwargs)


@st.composite
def linalg_norm(draw):
    """``linalg.norm``: the default (2-norm of the flattened input), vector orders over
    one dim, matrix orders over two."""
    form = draw(st.sampled_from(["default", "vector", "matrix"]))
    if form == "matrix":
        return draw(matrix_norm("linalg.norm"))
    shape = draw(shapes(max_dims=2 if form == "default" else 3))
    x = distinct(draw(rngs()), shape)
    if form == "default":
        return Call("linalg.norm", x)
    return Call("linalg.norm", x, draw(st.sampled_from(VECTOR_ORDS)), draw(dim_of(x.ndim)),
                draw(st.booleans()))


def well_conditioned(rng, batch, n):
    """Square matrices far from singular: random entries plus ``n`` times the identity,
    the sign of the determinant random."""
    a = uniform(rng, batch + (n, n), -1.0, 1.0) + n * np.eye(n)
    a[..., 0, :] *= rng.choice([-1.0, 1.0], batch + (1,))
    return a


@st.composite
def square(draw, path):
    batch, n = draw(shapes(0, 2, 1, 2)), draw(SIDES)
    return Call(path, well_conditioned(draw(rngs()), batch, n))


@st.composite
def solve(draw):
    """``linalg.solve(A, B)`` with B a vector, a matrix or a batch; ``left=False`` solves
    ``X A = B`` (B batched as A: PyTorch could take a B of one dim less for a vector)."""
    rng = draw(rngs())
    batch, n, k = draw(shapes(0, 2, 1, 2)), draw(SIDES), draw(SIDES)
    left = draw(st.booleans())
    if not left:
        b_shape = batch + (k, n)
    elif draw(st.booleans()):
        b_shape = (n,)
    else:
        b_shape = draw(st.sampled_from([(), batch])) + (n, k)
    kwargs = {} if left else {"left": False}
    return Call("linalg.solve", well_conditioned(rng, batch, n), uniform(rng, b_shape), **kwargs)


@st.composite
def cross(draw, path):
    """3-vectors along a drawn dim of operands of one rank that broadcast."""
    a, b = draw(broadcast_shapes(2, 0, 2, max_side=3))
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    d = draw(st.integers(0, n))
    a, b = a[:d] + (3,) + a[d:], b[:d] + (3,) + b[d:]
    rng = draw(rngs())
    dim = draw(st.sampled_from([d, d - n - 1]))
    if path == "linalg.cross" and dim == -1 and draw(st.booleans()):
        return Call(path, uniform(rng, a), uniform(rng, b))
    return Call(path, uniform(rng, a), uniform(rng, b), dim=dim)


def _sign_free(u, s, vh):
    """What an SVD determines whatever signs LAPACK gives the singular vectors:
    ``U_k S U_k^T``, ``V_k S^2 V_k^T`` and ``S`` (``k = min(m, n)``)."""
    k = s.shape[-1]
    u, vh = u[..., :k], vh[..., :k, :]
    return (u * s[..., None, :]) @ u.mT, vh.mT @ (s[..., :, None] ** 2 * vh), s


@st.composite
def svd(draw, path):
    """A (batched) matrix of distinct entries (distinct singular values, almost surely),
    through ``linalg.svd`` (full or reduced) or ``torch.svd`` (``some`` or not)."""
    a = distinct(draw(rngs()), draw(shapes(min_dims=2, max_dims=3, max_side=3)))
    if path == "linalg.svdvals":
        return Call(path, a)
    flag = draw(st.booleans())
    if path == "linalg.svd":
        return Call(path, a, flag, fn=lambda lib, x, full: _sign_free(*lib.linalg.svd(x, full)))
    return Call(path, a, flag,
                fn=lambda lib, x, some: _sign_free(*(lambda u, s, v: (u, s, v.mT))(
                    *lib.svd(x, some))))


CALLS = {
    "matmul": matmul(),
    **{name: product(name) for name in ("mm", "bmm", "mv", "dot", "outer")},
    "addmm": addmm(),
    "einsum": einsum(),
    "vector_norm": vector_norm(),
    "matrix_norm": matrix_norm(),
    "linalg_norm": linalg_norm(),
    "inv": square("linalg.inv"),
    "det": st.one_of(square("linalg.det"), square("det")),
    "slogdet": square("linalg.slogdet"),
    "solve": solve(),
    "linalg_cross": cross("linalg.cross"),
    "cross": cross("cross"),
    "linalg_svd": svd("linalg.svd"),
    "svdvals": svd("linalg.svdvals"),
    "svd": svd("svd"),
}
