"""Matrix products, ``einsum`` and the ``autogradx.linalg`` functions.

Registry names: ``linalg.norm``, ``linalg.svd`` and ``linalg.cross`` are registered
as ``linalg_norm``, ``linalg_svd`` and ``linalg_cross`` (ATen's names) and exposed
under ``norm``, ``svd`` and ``cross`` through ``aliases``, because the registry keys
``norm``, ``svd`` and ``cross`` are ``torch.norm``, ``torch.svd`` and ``torch.cross``,
different functions. The other ``linalg`` ops keep PyTorch's names; ``det`` and
``slogdet`` are the same functions at the top level (``torch.det``), so they appear in
both namespaces.

Backward through a matrix 2-norm, a nuclear norm or the determinant of an exactly
singular matrix uses the SVD, whose gradient is PyTorch's (defined for distinct
singular values), so those vjps are differentiated again too (``create_graph=True``).

Differences from PyTorch: the gradient of a complex SVD is not supported (it raises);
``torch.svd``'s ``V`` has the op's node (``LinalgSvdBackward0``) where PyTorch's is the
``TransposeBackward0`` of ``Vh``; with ``compute_uv=False`` its zero ``U`` and ``V``
carry that node too.
"""

import functools
import math
import string
import warnings

import numpy as np

from autogradx._core.names import scalar_name
from autogradx._dtype import as_numpy_dtype
from autogradx.ops.complex import is_complex
from autogradx.ops.shape import _expanded
from autogradx.plugin import Op, OpList, lazy_conformance_cases
from autogradx.return_types import linalg_slogdet, linalg_svd, svd as svd_type

_ops = OpList()      # every op defined below, in order; OPS at the end

_LINALG = "linalg"


class LinAlgError(RuntimeError):
    """A matrix is singular (PyTorch's ``torch.linalg.LinAlgError``)."""


def _mT(xp, a):
    """The matrix transpose of a (batch of) matrices."""
    return xp.swapaxes(a, -1, -2)


def _wrap_dim(dim, ndim):
    """``dim`` as a non-negative axis, with PyTorch's error for one out of range."""
    n = max(ndim, 1)
    if not isinstance(dim, int) or not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def _refuse_dtypes(name, *arrays, kinds="b"):
    """PyTorch has no kernel for these dtypes (``"addmm_impl_cpu_" not implemented for 'Bool'``)."""
    for a in arrays:
        if a.dtype.kind in kinds:
            raise NotImplementedError(f'"{name}" not implemented for \'{scalar_name(a.dtype)}\'')


def _same_dtype(name, a, b):
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"{name}(): expected both inputs to have the same dtype, but got: "
            f"{a.dtype} != {b.dtype}")


# -- matmul and its fixed-rank kernels ------------------------------------------------

# PyTorch names the node after the kernel the shapes lead to.
_MATMUL_NAMES = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (1, 2): "SqueezeBackward4",
                 (2, 2): "MmBackward0"}


def _matmul_name(a, b):
    return _MATMUL_NAMES.get((min(a.ndim, 3), min(b.ndim, 3)), "UnsafeViewBackward0")


def _matmul(xp, a, b):
    """Matrix product of two tensors of one dtype: the dot product of 1-D tensors, else a
    matrix product, batched over broadcast leading dimensions (a 1-D ``input`` counts as one
    row, a 1-D ``other`` as one column, that dimension then dropped from the result).
    """
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D")
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {a.dtype} != {b.dtype}")
    return xp.matmul(a, b)


# Each input's gradient reads only the other input: whether an input was 1-D shows in
# g's dims (a 1-D operand's dim is dropped from the result), so its values need not be kept.

def _matmul_grad_input(xp, g, other):
    b = other
    if b.ndim == 1:
        return g * b if g.ndim == 0 else g[..., None] * b
    if g.ndim < b.ndim:             # input was 1-D
        return xp.matmul(b, g[..., None])[..., 0]
    return xp.matmul(g, b.swapaxes(-1, -2))


def _matmul_grad_other(xp, g, input):
    a = input
    if a.ndim == 1:
        return g * a if g.ndim == 0 else a[:, None] * g[..., None, :]
    if g.ndim < a.ndim:             # other was 1-D
        return xp.matmul(g[..., None, :], a)[..., 0, :]
    return xp.matmul(a.swapaxes(-1, -2), g)


matmul = _ops.add(Op("matmul", _matmul, inputs=("input", "other"), grad_fn=_matmul_name,
                     method=True, ufunc="matmul",
                     vjp={"input": _matmul_grad_input, "other": _matmul_grad_other}, jvp="multilinear"))


def _mm(xp, a, b):
    """Matrix product of 2-D tensors: ``(n, m) @ (m, p) -> (n, p)``."""
    for name, t in (("self", a), ("mat2", b)):
        if t.ndim != 2:
            raise RuntimeError(f"mm(): {name} must be a matrix, got {t.ndim}-D tensor")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(
            f"mm(): mat1 and mat2 shapes cannot be multiplied "
            f"({a.shape[0]}x{a.shape[1]} and {b.shape[0]}x{b.shape[1]})")
    _same_dtype("mm", a, b)
    _refuse_dtypes("addmm_impl_cpu_", a)
    return xp.matmul(a, b)


_MM_GRADS = {"input": lambda xp, g, mat2: xp.matmul(g, _mT(xp, mat2)),
             "mat2": lambda xp, g, input: xp.matmul(_mT(xp, input), g)}

mm = _ops.add(Op("mm", _mm, inputs=("input", "mat2"), method=True, vjp=_MM_GRADS, jvp="multilinear"))


def _times(alpha, x):
    """``alpha * x``; ``x`` itself for 1 (the default: no pass over it)."""
    return x if alpha == 1 else alpha * x


def _addmm(xp, x, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``, ``input`` broadcast to the product's shape;
    with ``beta=0`` input is ignored (its nan and inf too). ``nn.Linear`` of a matrix is
    ``addmm(bias, input, weight.t())``."""
    for name, t in (("mat1", mat1), ("mat2", mat2)):
        if t.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {t.ndim}-D tensor")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied "
            f"({mat1.shape[0]}x{mat1.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    for name, t in (("mat1", mat1), ("self", x)):
        if t.dtype != mat2.dtype:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got "
                               f"{scalar_name(t.dtype)} and {scalar_name(mat2.dtype)}")
    _refuse_dtypes("addmm_impl_cpu_", mat1)
    shape = (mat1.shape[0], mat2.shape[1])
    if x.shape != shape and x.shape != shape[1:]:     # (a matrix or a row broadcasts)
        _expanded(x.shape, shape)       # input must broadcast: PyTorch's error
    out = _times(alpha, xp.matmul(mat1, mat2))
    if beta != 0:
        out = out + (x if beta == 1 else beta * x)
    return out.astype(mat2.dtype, copy=False)


addmm = _ops.add(Op("addmm", _addmm, inputs=("input", "mat1", "mat2"), method=True,
                    vjp={"input": lambda xp, g, beta=1, alpha=1: _times(beta, g),
                         "mat1": lambda xp, g, mat2, beta=1, alpha=1:
                             _times(alpha, xp.matmul(g, _mT(xp, mat2))),
                         "mat2": lambda xp, g, mat1, beta=1, alpha=1:
                             _times(alpha, xp.matmul(_mT(xp, mat1), g))},
                    jvp={"input": lambda xp, t, beta=1, alpha=1: t * beta,
                         "mat1": lambda xp, t, mat2, beta=1, alpha=1: alpha * xp.matmul(t, mat2),
                         "mat2": lambda xp, t, mat1, beta=1, alpha=1: alpha * xp.matmul(mat1, t)}))


def _bmm(xp, a, b):
    """Batched matrix product of 3-D tensors: ``(b, n, m) @ (b, m, p) -> (b, n, p)``."""
    for name, t in (("batch1", a), ("batch2", b)):
        if t.ndim != 3:
            raise RuntimeError(f"bmm(): {name} must be a 3D tensor, got {t.ndim}-D")
    if b.shape[:2] != (a.shape[0], a.shape[2]):
        raise RuntimeError(
            f"bmm(): Expected size for first two dimensions of batch2 tensor to be: "
            f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    _same_dtype("bmm", a, b)
    _refuse_dtypes("bmm", a)
    return xp.matmul(a, b)


bmm = _ops.add(Op("bmm", _bmm, inputs=("input", "mat2"), method=True, vjp=_MM_GRADS, jvp="multilinear"))


def _mv(xp, a, v):
    """Matrix-vector product: ``(n, m) @ (m,) -> (n,)``."""
    if a.ndim != 2 or v.ndim != 1:
        raise RuntimeError(
            f"mv(): vector + matrix @ vector expected, got 1, {a.ndim}, {v.ndim}")
    if a.shape[1] != v.shape[0]:
        raise RuntimeError(
            f"mv(): size mismatch, got input ({a.shape[0]}), mat ({a.shape[0]}x{a.shape[1]}), "
            f"vec ({v.shape[0]})")
    _same_dtype("mv", a, v)
    _refuse_dtypes("addmv_impl_cpu", a)
    return xp.matmul(a, v)


mv = _ops.add(Op("mv", _mv, inputs=("input", "vec"), method=True,
                 vjp={"input": lambda xp, g, vec: g[:, None] * vec,
                      "vec": lambda xp, g, input: xp.matmul(g, input)}, jvp="multilinear"))


def _dot(xp, a, b):
    """Inner product of two 1-D tensors of the same size (no broadcasting)."""
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(
            f"dot(): 1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.shape != b.shape:
        raise RuntimeError(
            f"dot(): inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
            f"[{b.shape[0]}] to have the same number of elements, but got {a.shape[0]} and "
            f"{b.shape[0]} elements respectively")
    _same_dtype("dot", a, b)
    _refuse_dtypes("dot", a)
    return xp.matmul(a, b)


# xp.multiply rather than *: formulas of plain arithmetic get the core's elementwise fast
# path, meant for operands that broadcast (test_ufunc_fast_path.py runs each such op of
# this namespace on them); dot takes two vectors of one size, and g is 0-d.
dot = _ops.add(Op("dot", _dot, inputs=("input", "tensor"), method=True,
                  vjp={"input": lambda xp, g, tensor: xp.multiply(g, tensor),
                       "tensor": lambda xp, g, input: xp.multiply(g, input)}, jvp="multilinear"))


def _outer(xp, a, b):
    """Outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``."""
    for name, t in (("self", a), ("vec2", b)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return a[:, None] * b


# PyTorch computes it as a broadcast product, hence its node's name.
outer = _ops.add(Op("outer", _outer, inputs=("input", "vec2"), promote="elementwise",
                    grad_fn="MulBackward0", method=True, aliases="ger",
                    vjp={"input": lambda xp, g, vec2: xp.matmul(g, vec2),
                         "vec2": lambda xp, g, input: xp.matmul(input, g)}, jvp="multilinear"))


# -- cross product ----------------------------------------------------------------------

def _cross_dim(a, b, dim):
    """The axis of the 3-vectors in the broadcast shape of ``a`` and ``b``, checked;
    ``dim=None`` (``torch.cross``'s deprecated default) takes the first axis of size 3."""
    _refuse_dtypes("cross", a)
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected scalar type {scalar_name(a.dtype)} but found "
                           f"{scalar_name(b.dtype)}")
    if dim is None:
        shape = np.broadcast_shapes(a.shape, b.shape)
        if 3 not in shape:
            raise RuntimeError("no dimension of size 3 in input")
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\n"
                      "Please either pass the dim explicitly or simply use torch.linalg.cross."
                      "\nThe default value of dim will change to agree with that of "
                      "linalg.cross in a future release.", UserWarning, stacklevel=4)
        return shape.index(3)
    if a.ndim != b.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = _wrap_dim(dim, a.ndim)
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{a.shape[d]} and {b.shape[d]}")
    return d


_NEXT, _AFTER = np.array([1, 2, 0]), np.array([2, 0, 1])     # component k -> k+1, k+2
_TAKE_MAX = 3 * 512     # elements: take's break-even with slices along a last axis (measured)


def _cross_product(xp, a, b, d):
    """``a x b`` along axis ``d``, written with indexing and arithmetic so that it runs on
    tensors too (each input's gradient is a cross product)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.shape == b.shape:
        # out[k] = a[k+1] b[k+2] - a[k+2] b[k+1], the same bits as below.
        if d < a.ndim - 1 or a.size <= _TAKE_MAX:
            # The components rolled by the arrays' take (0.2 us each, where np.stack of
            # three slices costs 5 us).
            return (a.take(_NEXT, axis=d) * b.take(_AFTER, axis=d)
                    - a.take(_AFTER, axis=d) * b.take(_NEXT, axis=d))
        # take gathers one element at a time along a last axis of 3: on many vectors,
        # slices (views) written into the result cost less.
        out = np.empty(a.shape, np.result_type(a, b))
        part = [(slice(None),) * d + (k, Ellipsis) for k in range(3)]
        for k in range(3):
            i, j = part[(k + 1) % 3], part[(k + 2) % 3]
            np.subtract(a[i] * b[j], a[j] * b[i], out=out[part[k]])
        return out
    a, b = xp.moveaxis(a, d, -1), xp.moveaxis(b, d, -1)
    out = xp.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                    a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                    a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)
    return xp.moveaxis(out, -1, d)


def _linalg_cross(xp, a, b, *, dim=-1):
    """The cross product of the 3-vectors along ``dim`` of ``input`` and ``other`` (which
    broadcast)."""
    d = _cross_dim(a, b, dim)
    if a.shape != b.shape:
        a, b = xp.broadcast_arrays(a, b)
    return _cross_product(xp, a, b, d), d


def _cross(xp, a, b, dim=None):
    """``torch.cross``: as ``linalg.cross``, but ``dim=None`` takes the first dim of size 3
    (deprecated in PyTorch, which warns)."""
    d = _cross_dim(a, b, dim)
    if a.shape != b.shape:
        a, b = xp.broadcast_arrays(a, b)
    return _cross_product(xp, a, b, d), d


# a x b: the gradient of a is b x g, that of b is g x a (along the dim the forward used).
_CROSS_VJP = (lambda xp, g, input, other, d, **params: _cross_product(xp, other, g, d),
              lambda xp, g, input, other, d, **params: _cross_product(xp, g, input, d))

linalg_cross = _ops.add(Op("linalg_cross", _linalg_cross, inputs=("input", "other"),
                           namespace=_LINALG, aliases="cross", residuals=True,
                           save=("input", "other"), grad_fn="LinalgCrossBackward0",
                           vjp=_CROSS_VJP))
cross = _ops.add(Op("cross", _cross, inputs=("input", "other"), method=True, residuals=True,
                    save=("input", "other"), grad_fn="LinalgCrossBackward0", vjp=_CROSS_VJP))


# -- einsum ---------------------------------------------------------------------

_LETTERS = string.ascii_uppercase + string.ascii_lowercase


try:        # NumPy's C einsum: np.einsum's Python argument handling costs ~10 us a call
    from numpy._core.multiarray import c_einsum as _c_einsum
except ImportError:         # pragma: no cover - a NumPy that moved it
    _c_einsum = None


def _contract(xp, equation, arrays):
    """``xp.einsum(equation, *arrays)``, optimized beyond two operands as np.einsum is
    asked to; NumPy operands without an optimization go to NumPy's C function directly
    (what np.einsum itself calls then)."""
    if len(arrays) > 2:
        return xp.einsum(equation, *arrays, optimize=True)
    if _c_einsum is not None and all(type(a) is np.ndarray for a in arrays):
        try:
            return _c_einsum(equation, *arrays)
        except ValueError:
            pass    # raised again below from np.einsum's frame: the core then names the shapes
    return xp.einsum(equation, *arrays, optimize=False)


@functools.lru_cache(maxsize=256)       # the forward, grad_fn and vjp all parse it
def _einsum_subscripts(equation, ndims):
    """The equation with every ``...`` spelt out: (subscripts per operand, output subscripts).

    ``ndims``: a tuple, the operands' numbers of dims. The implicit output (no ``->``)
    is the broadcast dims, then the letters that appear once, in alphabetical order
    (capitals first), as in PyTorch and NumPy.
    """
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise RuntimeError(
            f"einsum(): {'more' if len(ndims) > len(terms) else 'fewer'} operands were provided "
            f"than specified in the equation ({len(terms)} in {equation!r}, {len(ndims)} given)")
    spare = [c for c in _LETTERS if c not in equation]
    n_broadcast = max([n - len(t.replace("...", "")) for t, n in zip(terms, ndims)
                       if "..." in t] or [0])
    broadcast = "".join(spare[:n_broadcast])
    ins = []
    for t, n in zip(terms, ndims):
        if "..." in t:
            k = n - len(t.replace("...", ""))
            t = t.replace("...", broadcast[n_broadcast - k:] if k else "")
        ins.append(t)
    ins = tuple(ins)
    if arrow:
        out = rhs.replace("...", broadcast)
    else:
        labels = "".join(t.replace("...", "") for t in terms)
        out = broadcast + "".join(sorted(c for c in set(labels) if labels.count(c) == 1))
    return ins, out


def _einsum_args(equation, *operands, optimize=None):
    # PyTorch's signature: einsum(equation, *operands) or einsum(equation, [operands]).
    # NumPy's ``optimize`` is accepted (and left to the forward) so that vjps written
    # against np.einsum also run on tensors.
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = operands[0]
    return (list(operands), equation), {}


def _einsum(xp, operands, equation):
    """Sums of products over the subscripts of ``equation`` (``"ij,jk->ik"``).

    ``einsum(equation, *operands)``, with ``...`` for broadcast dims, the
    implicit output when there is no ``->``, and size-1 dims broadcasting.
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the equation must be a string, got {type(equation).__name__}")
    ins, out = _einsum_subscripts(equation, tuple([o.ndim for o in operands]))  # checks the count
    for o in operands[1:]:
        if o.dtype != operands[0].dtype:
            raise RuntimeError(
                f"einsum(): expected all operands to have the same dtype, but got "
                f"{operands[0].dtype} and {o.dtype}")
    if len(operands) == 1 and operands[0].dtype.kind in "biu" and _summed(ins, out):
        # PyTorch sums one operand's subscripts out with sum(), which gives int64 for bool
        # and integer tensors (NumPy's einsum keeps the dtype: bools would be or-ed).
        operands = [operands[0].astype(np.int64)]
    return _contract(xp, equation, operands)


def _summed(ins, out):
    """Whether a subscript of the operands ``ins`` is summed out (missing from ``out``)."""
    return bool(set("".join(ins)) - set(out))


def _einsum_name(operands, equation):
    # PyTorch's node is that of einsum's last internal op: a contraction ends in a view
    # of a batched product, products without summation in a mul; one operand ends in a
    # sum when a subscript is summed out, else in a permute.
    ins, out = _einsum_subscripts(equation, tuple([o.ndim for o in operands]))
    summed = _summed(ins, out)
    if len(ins) == 1:
        return "SumBackward1" if summed else "PermuteBackward0"
    return "ViewBackward0" if summed else "MulBackward0"


def _einsum_grad(xp, g, operands, ins, out, k):
    """The gradient of operand ``k``: an einsum of the output gradient and the other operands."""
    x = operands[k]
    equation, extras = _einsum_grad_plan(ins, out, k, x.shape)
    arrays = [g] + [o for j, o in enumerate(operands) if j != k]
    for eye, size in extras:
        arrays.append(xp.eye(size, dtype=g.dtype) if eye else xp.ones(size, dtype=g.dtype))
    grad = _contract(xp, equation, arrays)
    if grad.shape != x.shape:
        # Size-1 dims of the other operands leave size-1 dims here: broadcast them back.
        grad = xp.broadcast_to(grad, tuple(max(a, b) for a, b in zip(grad.shape, x.shape)))
    return grad


@functools.lru_cache(maxsize=256)
def _einsum_grad_plan(ins, out, k, shape):
    """The equation of operand ``k``'s gradient (operands: the output gradient, the other
    operands, then the extras) and its extra operands, ``(is_eye, size)`` each.

    Subscripts of operand ``k`` that appear nowhere else are broadcast in with a
    vector of ones; a repeated subscript (a diagonal, ``"ii"``) is restored by an
    identity matrix over a fresh subscript.
    """
    terms = [out] + [s for j, s in enumerate(ins) if j != k]
    extras = []
    spare = iter(c for c in _LETTERS if c not in "".join(ins) + out)
    used = set("".join(terms))
    target = ""
    for axis, c in enumerate(ins[k]):
        if c in target:
            fresh = next(spare)
            terms.append(c + fresh)
            extras.append((True, shape[axis]))
            target += fresh
            continue
        if c not in used:
            terms.append(c)
            extras.append((False, shape[axis]))
            used.add(c)
        target += c
    return ",".join(terms) + "->" + target, tuple(extras)


def _einsum_vjp(xp, g, operands, equation):
    ins, out = _einsum_subscripts(equation, tuple([o.ndim for o in operands]))
    return [_einsum_grad(xp, g, operands, ins, out, k) for k in range(len(operands))]


einsum = _ops.add(Op("einsum", _einsum, inputs=("*operands",), parse=_einsum_args, save="operands",
                     grad_fn=_einsum_name, vjp=_einsum_vjp, jvp="multilinear"))


# -- norms ----------------------------------------------------------------------

def _norm_input(name, x, dtype):
    """``x`` in the dtype the norm is computed in (``dtype=``, else its own)."""
    if x.dtype.kind not in "fc":
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got {x.dtype}")
    if dtype is None:
        return x
    dtype = as_numpy_dtype(dtype)
    if dtype.kind not in "fc":
        raise RuntimeError(f"{name}: dtype should be floating point or complex, but got {dtype}")
    if dtype.itemsize < x.dtype.itemsize:
        raise RuntimeError(
            f"{name}: the dtype of the input ({x.dtype}) should be convertible without "
            f"narrowing to the specified dtype ({dtype})")
    return x.astype(dtype)


def _vector_axes(dim, ndim):
    """The reduced axes of a vector norm: all of them for ``dim=None`` or ``()``."""
    if dim is None or (not isinstance(dim, int) and len(dim) == 0):
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    axes = tuple(_wrap_dim(d, ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"dim {list(axes)} appears multiple times in the list of dims")
    return axes if ndim else ()


def _keep(xp, t, axes, keepdim):
    """A reduced array with its reduced axes back as size-1 dims (a 0-d one, reduced over
    every axis, broadcasts as it is)."""
    return t if keepdim or not axes or not t.ndim else xp.expand_dims(t, axes)


def _vnorm(xp, x, ord, axes, keepdim):
    if isinstance(ord, str) or not isinstance(ord, (int, float)):
        raise TypeError(f"linalg.vector_norm(): argument 'ord' must be a number, not "
                        f"{type(ord).__name__}")
    if ord == 2:        # the commonest: |x| * |x| is x * x for real x, one ufunc fewer
        a = x if x.dtype.kind == "f" else xp.abs(x)
        return xp.sqrt(xp.sum(a * a, axis=axes, keepdims=keepdim))
    # max and min, and a negative power's sum (inf over nothing), have no identity
    if (ord < 0 or math.isinf(ord)) and (any(x.shape[i] == 0 for i in axes)
                                         or (not axes and x.size == 0)):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty "
                           "tensor because the operation does not have an identity")
    a = xp.abs(x)
    if math.isinf(ord):
        reduce = xp.max if ord > 0 else xp.min
        return reduce(a, axis=axes, keepdims=keepdim)
    if ord == 0:
        return xp.sum(a != 0, axis=axes, keepdims=keepdim).astype(x.dtype)
    if ord == 1:
        return xp.sum(a, axis=axes, keepdims=keepdim)
    if ord < 0:
        # 0 ** ord is inf: written out so that no division by zero is attempted.
        powers = xp.where(a == 0, math.inf, xp.where(a == 0, 1, a) ** ord)
    else:
        powers = a ** ord
    return xp.sum(powers, axis=axes, keepdims=keepdim) ** (1.0 / ord)


def _vnorm_grad(xp, g, x, norm, ord, axes, keepdim):
    """PyTorch's norm_backward (FunctionsManual.cpp), case by case, step for step: 0 where
    the norm is 0 (for ord < 1, where the element is 0), by replacing the quotient there
    after dividing (``_zero_where``, PyTorch's ``masked_fill_``), so that a second
    derivative through it is NaN there, as PyTorch's is."""
    if ord == 0:
        return None             # a count: no gradient (None, as in PyTorch)
    g = _keep(xp, g, axes, keepdim)
    norm = _keep(xp, norm, axes, keepdim)
    if ord == 2:            # the commonest first: x / norm, then 0 where the norm is 0
        return g * _zero_where(xp, norm == 0, x / norm)
    if ord == 1:
        return xp.sign(x) * g
    if math.isinf(ord):
        # The gradient of an amax: shared evenly between the elements that attain it.
        a = xp.abs(x)
        mask = (a == norm) | xp.isnan(a)
        return xp.sign(x) * (g / xp.sum(mask, axis=axes, keepdims=True) * mask)
    if ord < 1:
        powers = _zero_where(xp, x == 0, xp.abs(x) ** (ord - 1))
        return xp.sign(x) * powers * g * norm ** (1 - ord)
    scale = _zero_where(xp, norm == 0, g / norm ** (ord - 1))
    if ord < 2:
        return xp.sign(x) * xp.abs(x) ** (ord - 1) * scale
    return x * xp.abs(x) ** (ord - 2) * scale


def _zero_where(xp, mask, a):
    """``a`` with 0 where ``mask`` (PyTorch's ``a.masked_fill_(mask, 0)``)."""
    # Only where something is masked: np.where costs several ufuncs' time. (bool() for a
    # single one: np.any takes the NumPy scalar a 0-d comparison gives the slow way round.)
    if not (bool(mask) if mask.ndim == 0 else xp.any(mask)):
        return a
    return xp.where(mask, 0, a)


def _vector_norm(xp, x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The vector ``ord``-norm over ``dim`` (all elements by default).

    ``ord``: any real number, ``inf`` (max ``|x|``), ``-inf`` (min), 0 (the number
    of non-zero elements).
    """
    x = _norm_input("linalg.vector_norm", x, dtype)
    return _vnorm(xp, x, ord, _vector_axes(dim, x.ndim), keepdim)


vector_norm = _ops.add(Op(
    "vector_norm", _vector_norm, namespace=_LINALG, grad_fn="LinalgVectorNormBackward0",
    vjp={"input": lambda xp, g, input, result, ord=2, dim=None, keepdim=False, dtype=None:
             _vnorm_grad(xp, g, input, result, ord, _vector_axes(dim, input.ndim), keepdim)}))


_MATRIX_ORDS = ("fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2)


def _matrix_dims(name, x, ord, dim):
    """The two matrix axes of a matrix norm, checked."""
    if x.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if isinstance(dim, int) or len(dim) != 2:
        raise RuntimeError(f"{name}: dim must be a 2-tuple. Got {dim}")
    d0, d1 = _wrap_dim(dim[0], x.ndim), _wrap_dim(dim[1], x.ndim)
    if d0 == d1:
        raise RuntimeError(f"{name}: dims must be different. Got ({d0}, {d1})")
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"{name}: Order {ord} not supported.")
    return d0, d1


def _mnorm(xp, x, ord, dims, keepdim):
    if ord == "fro":
        return _vnorm(xp, x, 2, dims, keepdim)
    m = xp.moveaxis(x, dims, (-2, -1))
    if ord == "nuc" or abs(ord) == 2:
        values = xp.linalg.svd(m, compute_uv=False)
    else:
        # 1: the largest column sum of |x|, inf: the largest row sum.
        values = xp.sum(xp.abs(m), axis=-2 if abs(ord) == 1 else -1)
    if ord == "nuc":
        out = xp.sum(values, axis=-1)
    else:
        out = (xp.max if ord > 0 else xp.min)(values, axis=-1)
    return xp.expand_dims(out, tuple(sorted(dims))) if keepdim else out


def _mnorm_grad(xp, g, x, ord, dims, keepdim):
    if keepdim:
        g = xp.squeeze(g, axis=dims)
    m = xp.moveaxis(x, dims, (-2, -1))
    if ord == "nuc" or abs(ord) == 2:
        u, s, vh = xp.linalg.svd(m, full_matrices=False)
        if ord == "nuc":
            grad = g[..., None, None] * xp.matmul(u, vh)
        else:
            grad = xp.matmul(u * _extremum_weights(xp, g, s, ord > 0)[..., None, :], vh)
    else:
        axis = -2 if abs(ord) == 1 else -1
        w = _extremum_weights(xp, g, xp.sum(xp.abs(m), axis=axis), ord > 0)
        grad = xp.sign(m) * xp.expand_dims(w, axis)
    return xp.moveaxis(grad, (-2, -1), dims)


def _matrix_norm_grad(xp, g, x, norm, ord, dims, keepdim):
    if ord == "fro":
        return _vnorm_grad(xp, g, x, norm, 2, dims, keepdim)
    return _mnorm_grad(xp, g, x, ord, dims, keepdim)


def _extremum_weights(xp, g, values, largest):
    """The gradient of an amax (amin) over the last axis: ``g`` shared by the values that attain it.

    The extremum is taken again here rather than from the forward's result: an SVD
    recomputed, or sums in another dtype, need not give the very same bits.
    """
    extremum = (xp.max if largest else xp.min)(values, axis=-1, keepdims=True)
    mask = values == extremum
    return xp.where(mask, g[..., None] / xp.sum(mask, axis=-1, keepdims=True), 0)


def _matrix_norm_name(ord, keepdim):
    if ord == "fro":
        return "LinalgVectorNormBackward0"
    if keepdim and (ord == "nuc" or abs(ord) == 2):
        return "PermuteBackward0"   # PyTorch moves the kept dims of the singular values back
    if ord == "nuc":
        return "SumBackward1"
    return "AmaxBackward0" if ord > 0 else "AminBackward0"


def _matrix_norm(xp, x, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """A matrix norm over the two dims ``dim`` (the last two by default).

    ``ord``: ``'fro'`` (Frobenius), ``'nuc'`` (nuclear), 2 / -2 (largest / smallest
    singular value), 1 / -1 (max / min column sum of ``|x|``), ``inf`` / ``-inf``
    (max / min row sum).
    """
    dims = _matrix_dims("linalg.matrix_norm", x, ord, dim)
    return _mnorm(xp, _norm_input("linalg.matrix_norm", x, dtype), ord, dims, keepdim)


def _matrix_norm_vjp(xp, g, input, result, ord="fro", dim=(-2, -1), keepdim=False, dtype=None):
    return _matrix_norm_grad(xp, g, input, result, ord, _matrix_dims("", input, ord, dim), keepdim)


matrix_norm = _ops.add(Op(
    "matrix_norm", _matrix_norm, namespace=_LINALG,
    grad_fn=lambda x, ord="fro", dim=(-2, -1), keepdim=False, dtype=None:
        _matrix_norm_name(ord, keepdim),
    vjp={"input": _matrix_norm_vjp}))


def _norm_plan(ndim, ord, dim):
    """What ``linalg.norm`` computes: ("vector", ord, axes) or ("matrix", ord, dims)."""
    if dim is None:
        if ord is None:
            return "vector", 2, tuple(range(ndim))
        if ndim not in (1, 2):
            raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input must "
                               f"be 1D or 2D. Got {ndim}D.")
        dim = (0,) if ndim == 1 else (-2, -1)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) == 1 and not isinstance(ord, str):
        return "vector", 2 if ord is None else ord, _vector_axes(dims, ndim)
    if len(dims) not in (1, 2):
        raise RuntimeError(
            f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dims)}")
    return "matrix", "fro" if ord is None else ord, dims


def _norm(xp, x, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector or matrix norm, picked as ``torch.linalg.norm`` does.

    With ``dim=None``: the 2-norm of all elements when ``ord`` is None, else the
    vector norm of a 1-D input or the matrix norm of a 2-D one. An int ``dim``
    gives a vector norm, a pair of dims a matrix norm (see
    :func:`vector_norm` and :func:`matrix_norm` for ``ord``).
    """
    kind, ord, dims = _norm_plan(x.ndim, ord, dim)
    if kind == "matrix":
        dims = _matrix_dims("linalg.matrix_norm", x, ord, dims)
        return _mnorm(xp, _norm_input("linalg.matrix_norm", x, dtype), ord, dims, keepdim)
    return _vnorm(xp, _norm_input("linalg.vector_norm", x, dtype), ord, dims, keepdim)


def _norm_name(x, ord=None, dim=None, keepdim=False, dtype=None):
    kind, ord, _ = _norm_plan(x.ndim, ord, dim)
    return _matrix_norm_name(ord, keepdim) if kind == "matrix" else "LinalgVectorNormBackward0"


def _norm_vjp(xp, g, input, result, ord=None, dim=None, keepdim=False, dtype=None):
    x, out = input, result
    kind, ord, dims = _norm_plan(x.ndim, ord, dim)
    if kind == "matrix":
        return _matrix_norm_grad(xp, g, x, out, ord, _matrix_dims("", x, ord, dims), keepdim)
    return _vnorm_grad(xp, g, x, out, ord, dims, keepdim)


linalg_norm = _ops.add(Op("linalg_norm", _norm, namespace=_LINALG, aliases="norm",
                          grad_fn=_norm_name, vjp={"input": _norm_vjp}))


# -- inverse, solve, determinant -------------------------------------------------------

def _check_square(name, a):
    if a.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    if a.dtype.kind not in "fc":
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got {a.dtype}")


def _lapack(name, fn, *args):
    """``fn(*args)`` with NumPy's (and CuPy's) error for a singular matrix turned into PyTorch's."""
    try:
        return fn(*args)
    except np.linalg.LinAlgError as e:     # a ValueError, which the core would rename
        raise LinAlgError(f"{name}: The input matrix is singular ({e}).") from None


def _inv(xp, a):
    """The inverse of a square matrix (or of each in a batch)."""
    _check_square("linalg.inv", a)
    return _lapack("linalg.inv", xp.linalg.inv, a)


# d(A^-1) = -A^-1 dA A^-1
inv = _ops.add(Op("inv", _inv, namespace=_LINALG, method="inverse", grad_fn="LinalgInvExBackward0",
                  vjp={"input": lambda xp, g, result:
                           -xp.matmul(_mT(xp, result), xp.matmul(g, _mT(xp, result)))}))


def _solve_is_vector(a, b):
    # As PyTorch: B is a (batch of) vector(s) if 1-D or shaped as A without its last dim.
    return b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])


def _solve(xp, a, b, *, left=True):
    """``X`` with ``A X = B`` (``X A = B`` with ``left=False``), batched and broadcast.

    ``B`` is a (batch of) vector(s) when 1-D or shaped as ``A`` less its last dim.
    """
    _check_square("linalg.solve", a)
    if a.dtype != b.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {a.dtype} and B of type {b.dtype} instead")
    vector = _solve_is_vector(a, b)
    n = a.shape[-1]
    rows, cols = (b.shape[-1], 1) if vector else b.shape[-2:]
    if (rows if left else cols) != n or (vector and not left):
        raise RuntimeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation "
            f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {rows}x{cols})")
    if vector:
        return _lapack("linalg.solve", xp.linalg.solve, a, b[..., None])[..., 0]
    if left:
        return _lapack("linalg.solve", xp.linalg.solve, a, b)
    return _mT(xp, _lapack("linalg.solve", xp.linalg.solve, _mT(xp, a), _mT(xp, b)))


def _solve_grad_b(xp, g, A, left=True):
    # AX = B: gB = A^-T g.  XA = B: gB = g A^-T. It reads A only: g has the shape of X.
    if g.ndim < A.ndim:          # the vector case
        return xp.linalg.solve(_mT(xp, A), g[..., None])[..., 0]
    if left:
        return xp.linalg.solve(_mT(xp, A), g)
    return _mT(xp, xp.linalg.solve(A, _mT(xp, g)))


def _solve_grad_a(xp, g, A, result, left=True):
    # gA = -gB X^T (XA = B: -X^T gB). When B needs a gradient too, its solve is made twice:
    # a vjp per input keeps a node to what the inputs needing gradients read.
    a, x = A, result
    gb = _solve_grad_b(xp, g, a, left)
    if x.ndim < a.ndim:
        return -gb[..., :, None] * x[..., None, :]
    return -xp.matmul(gb, _mT(xp, x)) if left else -xp.matmul(_mT(xp, x), gb)


solve = _ops.add(Op("solve", _solve, namespace=_LINALG, inputs=("A", "B"),
                    grad_fn="LinalgSolveExBackward0", vjp={"A": _solve_grad_a, "B": _solve_grad_b}))


def _det(xp, a):
    """The determinant of a square matrix (or of each in a batch)."""
    _check_square("linalg.det", a)
    return xp.linalg.det(a)


def _cofactors_svd(xp, a):
    """The cofactor matrix (the gradient of det) from the SVD: exact for singular matrices too.

    With ``A = U S Vh``, ``cof(A) = det(U) det(Vh) U diag(prod_{j != i} s_j) Vh``.
    """
    u, s, vh = xp.linalg.svd(a)
    ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    before = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(xp.cumprod(xp.flip(xp.concatenate([s[..., 1:], ones], axis=-1), -1),
                               axis=-1), -1)
    signs = xp.linalg.det(u) * xp.linalg.det(vh)
    return signs[..., None, None] * xp.matmul(u * (before * after)[..., None, :], vh)


def _det_vjp(xp, g, input, result):
    a, det = input, result
    # g det A^-T where A is invertible. It is ill-conditioned near singular matrices; at
    # exactly singular ones (det == 0) the cofactors come from the SVD instead, which is
    # PyTorch's formula under create_graph (its first-order backward returns ~0 there).
    if not bool(xp.any(det == 0)):
        return (g * det)[..., None, None] * _mT(xp, xp.linalg.inv(a))
    return g[..., None, None] * _cofactors_svd(xp, a)


det = _ops.add(Op("det", _det, namespace=(_LINALG, ""), method=True, grad_fn="LinalgDetBackward0",
                  vjp={"input": _det_vjp}))


def _slogdet(xp, a):
    """``(sign, logabsdet)``: the sign and the log of the absolute value of the determinant.

    ``det = sign * exp(logabsdet)``, without overflow for large matrices.
    """
    _check_square("linalg.slogdet", a)
    sign, logabsdet = xp.linalg.slogdet(a)
    if sign.dtype.kind != "c":
        # A NaN in the factorisation makes LAPACK's sign 1; PyTorch's sign is then 0 (the
        # product of the pivots' signs, sign(NaN) being 0).
        sign = xp.where(xp.isnan(logabsdet), xp.zeros_like(sign), sign)
    return sign, logabsdet


def _slogdet_vjp(xp, g, input, result):
    # The sign of a real determinant is piecewise constant: only logabsdet has a gradient.
    # For complex A: d logabsdet = Re tr(A^-1 dA) and d sign = i sign Im tr(A^-1 dA), so the
    # gradient is (g_logabsdet + i Im(g_sign conj(sign))) A^-H. Neither output is holomorphic
    # (holomorphic=False).
    try:
        inverse = xp.linalg.inv(input)
    except (np.linalg.LinAlgError, LinAlgError):    # on arrays / on tensors
        raise LinAlgError("linalg.slogdet backward: the matrix is singular (logabsdet = -inf), "
                          "so the gradient of logabsdet is not defined") from None
    if not is_complex(input):
        return g[1][..., None, None] * _mT(xp, inverse)
    weight = g[1] + 1j * xp.imag(g[0] * xp.conj(result[0]))
    return weight[..., None, None] * xp.conj(_mT(xp, inverse))


slogdet = _ops.add(Op("slogdet", _slogdet, namespace=(_LINALG, ""), n_outputs=2,
                      output_type=linalg_slogdet, method=True, grad_fn="LinalgSlogdetBackward0",
                      holomorphic=False, vjp={"input": _slogdet_vjp}))


# -- singular value decomposition ----------------------------------------------------

def _svd_input(name, a):
    if a.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if a.dtype.kind not in "fc":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. "
                           f"Got {scalar_name(a.dtype)}")
    if a.dtype.itemsize == 2:
        raise NotImplementedError(f'"linalg_svd_cpu" not implemented for '
                                  f"'{scalar_name(a.dtype)}'")


def _linalg_svd(xp, a, full_matrices=True, *, driver=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, the singular values ``S`` in descending
    order; ``full_matrices=False`` gives the reduced ``U`` and ``Vh`` (``k = min(m, n)``
    columns / rows)."""
    _svd_input("linalg.svd", a)
    u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices)
    return u, s, vh


def _is_zero(xp, t):
    return not bool(xp.any(t != 0))


def _svd_backward(xp, gU, gS, gVh, U, S, Vh):
    """PyTorch's ``svd_backward`` for real input with distinct singular values: the
    gradient of ``A`` from those of ``U``, ``S`` and ``Vh`` (full ones narrowed to ``k``).

    An output whose gradient is zero (not used) takes no part, as PyTorch's undefined
    gradients: where only ``S`` is used the gradient is ``U diag(gS) Vh``, defined for
    repeated singular values too.
    """
    if is_complex(U):
        raise NotImplementedError("linalg.svd: the gradient of a complex SVD is not supported "
                                  "by autogradx")
    k = S.shape[-1]
    m, n = U.shape[-2], Vh.shape[-1]
    U, Vh = U[..., :, :k], Vh[..., :k, :]
    use_u = not _is_zero(xp, gU)
    use_v = not _is_zero(xp, gVh)
    if not use_u and not use_v:
        return xp.matmul(U * gS[..., None, :], Vh)
    gU, gVh = gU[..., :, :k], gVh[..., :k, :]
    eye = xp.eye(k, dtype=S.dtype)
    S2 = S * S
    E = S2[..., None, :] - S2[..., :, None] + eye        # the diagonal is never read: 1
    inner = gS[..., :, None] * eye
    if use_u:
        UtgU = xp.matmul(_mT(xp, U), gU)
        inner = inner + (UtgU - _mT(xp, UtgU)) * S[..., None, :] / E
    if use_v:
        VtgV = xp.matmul(Vh, _mT(xp, gVh))
        inner = inner + S[..., :, None] * (VtgV - _mT(xp, VtgV)) / E
    if m > n and use_u:
        # U inner Vh + (I - U U^T) gU S^-1 Vh
        gUSinv = gU / S[..., None, :]
        return xp.matmul(xp.matmul(U, inner) + gUSinv
                         - xp.matmul(U, xp.matmul(_mT(xp, U), gUSinv)), Vh)
    if m < n and use_v:
        # U (inner Vh + S^-1 gVh (I - V Vh))
        SinvgVh = gVh / S[..., :, None]
        return xp.matmul(U, xp.matmul(inner, Vh) + SinvgVh
                         - xp.matmul(xp.matmul(SinvgVh, _mT(xp, Vh)), Vh))
    return xp.matmul(U, xp.matmul(inner, Vh))


def _linalg_svd_vjp(xp, g, result, full_matrices=True, driver=None):
    return _svd_backward(xp, *g, *result)


linalg_svd_op = _ops.add(Op("linalg_svd", _linalg_svd, namespace=_LINALG, aliases="svd",
                            n_outputs=3, output_type=linalg_svd, holomorphic=False,
                            grad_fn="LinalgSvdBackward0", vjp={"input": _linalg_svd_vjp}))


def _svdvals(xp, a, *, driver=None):
    """The singular values of ``A`` (of each matrix in a batch), in descending order."""
    _svd_input("linalg.svd", a)     # (PyTorch names linalg.svd here too)
    return xp.linalg.svd(a, compute_uv=False)


def _svdvals_vjp(xp, g, input, driver=None):
    u, _, vh = xp.linalg.svd(input, full_matrices=False)
    return xp.matmul(u * g[..., None, :], vh)


svdvals = _ops.add(Op("svdvals", _svdvals, namespace=_LINALG, grad_fn="LinalgSvdBackward0",
                      holomorphic=False, vjp={"input": _svdvals_vjp}))


def _svd(xp, a, some=True, compute_uv=True):
    """``(U, S, V)`` with ``A = U diag(S) V^T`` (``torch.svd``; ``linalg.svd`` gives
    ``Vh = V^T``): reduced with ``some``, zero ``U`` and ``V`` without ``compute_uv``."""
    _svd_input("linalg.svd", a)
    u, s, vh = xp.linalg.svd(a, full_matrices=not some or not compute_uv)
    if not compute_uv:
        return xp.zeros_like(u), s, xp.zeros_like(vh)
    return u, s, _mT(xp, vh).conj()


def _svd_vjp(xp, g, input, result, some=True, compute_uv=True):
    if not compute_uv:          # U and V are zeros: only S has a gradient
        return _svdvals_vjp(xp, g[1], input)
    u, s, v = result
    return _svd_backward(xp, g[0], g[1], _mT(xp, g[2]), u, s, _mT(xp, v))


# PyTorch's V is a transpose of Vh, so its node is TransposeBackward0 (here, the op's own).
svd_op = _ops.add(Op("svd", _svd, method=True, n_outputs=3, output_type=svd_type,
                     holomorphic=False, grad_fn="LinalgSvdBackward0", vjp={"input": _svd_vjp}))


OPS = tuple(_ops)


# -- samples for the conformance kit ------------------------------------------------------


__getattr__ = lazy_conformance_cases(__name__)


def _conformance_cases():
    """Calls of each op: every matmul form (vectors, batches that broadcast), the norms' orders
    and dims, well-conditioned matrices for inv, solve and det."""
    from autogradx.conformance import Arg, Sample as S

    def x(*shape):
        return Arg(shape)

    m = [[2.0, 0.5, 0.1], [0.3, 1.5, 0.2], [0.1, 0.4, 1.8]]
    mat = Arg(values=m)
    mats = Arg(values=[m, [[1.0, 0.2, 0.0], [-0.4, 2.0, 0.3], [0.5, 0.0, -1.5]]])
    # Distinct singular values, so that the gradients of the 2- and nuclear norms are defined.
    rect = Arg(values=[[1.0, 0.3, -0.5], [0.2, -2.0, 0.4]])

    return {
        "matmul": [S(x(2, 3), x(3, 4)), S(x(3), x(3)), S(x(3), x(3, 2)), S(x(2, 3), x(3)),
                   S(x(2, 2, 3), x(3, 4)), S(x(2, 1, 2, 3), x(3, 3, 2))],
        "mm": [S(x(2, 3), x(3, 4)), S(x(1, 3), x(3, 1))],
        "addmm": [S(x(4), x(2, 3), x(3, 4)), S(x(2, 4), x(2, 3), x(3, 4)), S(x(), x(1, 3), x(3, 1)),
                  S(x(2, 1), x(2, 3), x(3, 4), beta=0.5, alpha=-2.0),
                  S(x(4), x(2, 3), x(3, 4), beta=0)],
        "bmm": [S(x(2, 3, 4), x(2, 4, 5))],
        "mv": [S(x(3, 4), x(4))],
        "dot": [S(x(4), x(4))],
        "outer": [S(x(3), x(4)), S(x(1), x(2))],
        "einsum": [S("ij,jk->ik", x(2, 3), x(3, 4)), S("bii->b", x(2, 3, 3)), S("i,i", x(3), x(3)),
                   S("...ij,...jk", x(2, 2, 3), x(3, 2)), S("ij->ji", [x(2, 3)]),
                   S("i,j->ij", x(1), x(3))],
        "vector_norm": [S(x(2, 3)), S(x(2, 3), 1, 1), S(x(2, 3), math.inf, (0, 1), True),
                        S(x(2, 3), -math.inf, -1), S(x(2, 3), 3, dim=0), S(x(2, 3), 0.5),
                        S(x())],
        "matrix_norm": [S(x(2, 3)), S(x(2, 3, 3), 1), S(x(3, 3), -1, keepdim=True),
                        S(x(2, 3), math.inf), S(x(2, 3), -math.inf, (1, 0)), S(rect, 2),
                        S(rect, -2), S(rect, "nuc")],
        "linalg_norm": [S(x(2, 3)), S(x(4), 3), S(x(2, 3), "fro", (0, 1)), S(x(2, 3), 1, 1),
                        S(x(2, 3), math.inf), S(rect, 2), S(x(2, 3), dim=-1, keepdim=True)],
        "inv": [S(mat), S(mats)],
        "solve": [S(mat, x(3, 2)), S(mat, x(3)), S(mats, x(2, 3, 1)), S(mat, x(2, 3), left=False)],
        "det": [S(mat), S(mats)],
        "slogdet": [S(mat), S(mats)],
        "linalg_cross": [S(x(3), x(3)), S(x(2, 3), x(1, 3)), S(x(3, 2), x(3, 2), dim=0)],
        "cross": [S(x(2, 3), x(2, 3), 1), S(x(3, 2, 1), x(3, 1, 2), dim=-3)],
        # Distinct singular values: the gradients of the singular vectors are defined. (The
        # columns of a full U or Vh beyond min(m, n) get no gradient, as in PyTorch, whatever
        # finite differences say: tests/ops/test_linalg_torch.py.)
        "linalg_svd": [S(mat), S(rect, False), S(mats, full_matrices=False)],
        "svdvals": [S(mat), S(rect), S(mats)],
        "svd": [S(mat), S(rect), S(mats, compute_uv=False)],
    }
