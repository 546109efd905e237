"""Reductions over all elements or over ``dim`` (an int or a tuple), with ``keepdim``.

A reduction's vjp expands the gradient of its reduced output back over the
reduced dims (``_expand_back``); any broadcasting beyond that is the engine's.
``max`` and ``min`` are one op each with PyTorch's three forms: ``x.max()``,
``x.max(dim)`` (values and indices) and ``max(x, other)`` (elementwise).
"""

import math
import numbers
import warnings

import numpy as np

from autogradx import return_types
from autogradx._core.names import scalar_name
from autogradx._core.tensor import TensorBase
from autogradx._dtype import as_numpy_dtype
from autogradx.ops.complex import abs_square, refuse_complex
from autogradx.ops.linalg import _vnorm, _vnorm_grad, _zero_where
from autogradx.plugin import Op, OpList, lazy_conformance_cases

_ops = OpList()      # every op defined below, in order; OPS at the end

_INT64 = np.dtype(np.int64)


# ---------------------------------------------------------------- helpers

def _axes(dim, ndim):
    """``dim`` as a tuple of non-negative axes, or None for all of them."""
    if dim is None:
        return None
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if not dims:
        return None             # dim=() means every dim, as in PyTorch
    n = ndim or 1
    out = []
    for d in dims:
        if not -n <= d < n:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        if d % n in out:
            raise RuntimeError(f"dim {d % n} appears multiple times in the list of dims")
        out.append(d % n)
    return tuple(out) if ndim else ()     # a 0-d tensor accepts dim 0 / -1: nothing to reduce


def _one_axis(name, dim, ndim):
    """The axis of an op that takes one int ``dim``; None for a 0-d input."""
    if not _is_int(dim):
        raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
    axes = _axes(dim, ndim)
    return axes[0] if axes else None


def _is_int(v):
    # type(v) is int first: an isinstance against the ABC costs several times as much
    return type(v) is int or (isinstance(v, numbers.Integral) and not isinstance(v, bool))


def _kept(xp, g, ndim, dim, keepdim):
    """A reduction's output (or its gradient) with the reduced dims back as size 1, so that
    it broadcasts against the ``ndim``-d input (a vjp multiplying it by an array of the
    input's shape needs no more)."""
    if dim is None or dim == () or keepdim:    # over everything, a 0-d array already does
        return g
    axes = _axes(dim, ndim)
    return g if axes is None or not ndim else xp.expand_dims(g, axes)


def _expand_back(xp, g, shape, dim, keepdim):
    """Broadcast the gradient of a reduction back over the reduced dims."""
    return xp.broadcast_to(_kept(xp, g, len(shape), dim, keepdim), shape)


def _count(shape, axes):
    """How many elements each output of a reduction over ``axes`` (None: all) combines."""
    if axes is None:
        return math.prod(shape)
    return math.prod(s for i, s in enumerate(shape) if i in axes)


def _acc_dtype(x, dtype):
    """The dtype to accumulate in: ``dtype`` if given, int64 for integer and bool inputs."""
    if dtype is not None:
        return as_numpy_dtype(dtype)
    return _INT64 if x.dtype.kind in "biu" else None


def _check_nonempty(name, x, axes, error=RuntimeError):
    """max-like reductions have no identity: PyTorch refuses to reduce over nothing."""
    if axes is None and x.size == 0:
        raise error(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                    "Specify the reduction dim with the 'dim' argument.")
    for a in axes or ():
        if x.shape[a] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {a} to have non-zero size.")


def _mean_of(xp, x, axes, keepdim):
    """``xp.mean(x, axis=axes, keepdims=keepdim)``, bit for bit, for less. On a non-empty
    NumPy array of float32 or float64 np.mean is the sum divided by the count as an intp
    (so in float64, then cast back); divided by the count as a Python int it is divided in
    the array's own precision instead, which rounds to the same result wherever the count
    is exact in it (up to 2**24), at half the cost. (float16 np.mean sums in float32, and a
    complex division differs in its last bits: both left to np.mean.)"""
    if type(x) is np.ndarray and x.size and x.dtype.kind == "f" and x.dtype.itemsize >= 4:
        s = xp.sum(x, axis=axes, keepdims=keepdim)
        n = x.size // s.size
        if n <= 1 << 24:
            return s / n
    return xp.mean(x, axis=axes, keepdims=keepdim)


def _flip(xp, a, axis):
    """``a`` reversed along ``axis``: for a NumPy array the view np.flip makes, by slicing
    (np.flip is Python around it, ten times the cost on a small array)."""
    if type(a) is np.ndarray:
        return a[(slice(None),) * (axis % a.ndim) + (_REVERSED,)]
    return xp.flip(a, axis)


_REVERSED = slice(None, None, -1)


def _dim_name(base):
    return lambda x, dim=None, keepdim=False, **kw: f"{base}Backward{0 if dim is None else 1}"


# ---------------------------------------------------------------- sums and means

# sum's forward, vjp and name are compiled (_sum.pyx): nearly every graph ends in one.
from autogradx.ops import _sum  # noqa: E402  (it reads the helpers above at call time)

for _f in (_sum.sum_forward, _sum.sum_vjp, _sum.sum_name):
    _f.__module__ = __name__        # the op is this module's: its samples are found here

sum_op = _ops.add(Op("sum", _sum.sum_forward, residuals=True, grad_fn=_sum.sum_name,
                     method=True, vjp=_sum.sum_vjp, jvp="linear"))


def _nansum(xp, x, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (all by default) treating NaN as zero; integers sum to int64."""
    refuse_complex("nansum on CPU does not support complex inputs", x, error=RuntimeError)
    if x.dtype.kind == "f":
        # what np.nansum does (its Python costs more than the sum on a small array)
        nan = xp.isnan(x)
        if xp.any(nan):
            x = xp.where(nan, 0, x)
    return xp.sum(x, axis=_axes(dim, x.ndim), keepdims=keepdim, dtype=_acc_dtype(x, dtype))


def _nansum_vjp(xp, g, input, dim=None, keepdim=False, dtype=None):
    g = _expand_back(xp, g, input.shape, dim, keepdim)
    nan = xp.isnan(input)
    return xp.where(nan, 0, g) if xp.any(nan) else g


nansum = _ops.add(Op("nansum", _nansum, method=True, vjp={"input": _nansum_vjp}))


def _mean(xp, x, dim=None, keepdim=False, *, dtype=None):
    """Mean of the elements over ``dim`` (all by default), in ``dtype`` if given."""
    if dtype is not None:
        dtype = as_numpy_dtype(dtype)
    elif x.dtype.kind not in "fc":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating "
            f"point or complex dtype. Got: {x.dtype}")
    axes = _axes(dim, x.ndim)
    if dtype is None:
        return _mean_of(xp, x, axes, keepdim), x.shape
    return xp.mean(x, axis=axes, keepdims=keepdim, dtype=dtype), x.shape


def _mean_grad(xp, g, shape, dim, keepdim):
    # [...]: g / n of a 0-d g is a NumPy scalar, which broadcast_to takes the slow way;
    # indexed with ... it is a 0-d array again (a view, on every backend).
    return _expand_back(xp, (g / _count(shape, _axes(dim, len(shape))))[...], shape, dim, keepdim)


mean = _ops.add(Op("mean", _mean, residuals=True, grad_fn=_dim_name("Mean"), method=True,
                   vjp=lambda xp, g, shape, dim=None, keepdim=False, dtype=None:
                       _mean_grad(xp, g, shape, dim, keepdim), jvp="linear"))


def _cumsum(xp, x, dim, *, dtype=None):
    """Cumulative sums along ``dim``; integers and bools accumulate in int64."""
    axis = _one_axis("cumsum", dim, x.ndim)     # None for a 0-d x: flatten, then reshape back
    out = xp.cumsum(x, axis=axis, dtype=_acc_dtype(x, dtype))
    return out if axis is not None else out.reshape(x.shape)


def _reverse_cumsum(xp, g, axis):
    """Sums from each position to the end along ``axis`` (the vjp of cumsum)."""
    if g.ndim == 0:
        return g
    return _flip(xp, xp.cumsum(_flip(xp, g, axis), axis), axis)


cumsum = _ops.add(Op("cumsum", _cumsum, method=True, inplace=True,
                     vjp=lambda xp, g, dim, dtype=None:
                         # (dim % ndim: the forward has checked dim)
                         _reverse_cumsum(xp, g, dim % g.ndim if g.ndim else None), jvp="linear"))


# ---------------------------------------------------------------- products

def _prod(xp, x, dim=None, keepdim=False, *, dtype=None):
    """Product of all the elements, or over ``dim`` (an int); integers multiply in int64."""
    axis = None if dim is None else _one_axis("prod", dim, x.ndim)
    return xp.prod(x, axis=axis, keepdims=keepdim, dtype=_acc_dtype(x, dtype))


def _products_before(xp, x):
    """Along the last axis, the product of the elements before each position (1 at 0)."""
    return xp.cumprod(xp.concatenate([xp.ones_like(x[..., :1]), x[..., :-1]], axis=-1), axis=-1)


def _others_product(xp, x, axis):
    """At each position along ``axis``, the product of the other elements.

    Exclusive products from both ends, so it is exact where ``x`` has zeros
    (``result / x`` is not): one zero gets the product of the rest, several
    zeros give 0 everywhere, as in PyTorch.
    """
    last = axis % x.ndim == x.ndim - 1       # (always, for the product of all elements)
    if not last:
        x = xp.moveaxis(x, axis, -1)
    after = _flip(xp, _products_before(xp, _flip(xp, x, -1)), -1)
    others = _products_before(xp, x) * after
    return others if last else xp.moveaxis(others, -1, axis)


def _prod_vjp(xp, g, input, dim=None, keepdim=False, dtype=None):
    x = input
    g = _kept(xp, g, x.ndim, dim, keepdim)
    axis = None if dim is None else _axes(dim, x.ndim)
    if not axis:        # all elements (or a 0-d x): one flat axis
        return g * _others_product(xp, x.reshape(-1), 0).reshape(x.shape)
    return g * _others_product(xp, x, axis[0])


prod = _ops.add(Op("prod", _prod, grad_fn=_dim_name("Prod"), method=True, vjp={"input": _prod_vjp}))


def _cumprod(xp, x, dim, *, dtype=None):
    """Cumulative products along ``dim``; integers and bools accumulate in int64."""
    axis = _one_axis("cumprod", dim, x.ndim)     # None for a 0-d x, as in cumsum
    out = xp.cumprod(x, axis=axis, dtype=_acc_dtype(x, dtype))
    return out if axis is not None else out.reshape(x.shape)


def _cumprod_vjp(xp, g, input, result, dim, dtype=None):
    """Position k gets ``sum_{j >= k} g_j prod_{i <= j, i != k} x_i``.

    Without zeros in ``x`` that is the reverse cumsum of ``g * out``, over ``x``.
    With zeros it is ``P_k S_k``: ``P_k`` the product of the elements before k,
    and ``S_k = g_k + x_{k+1} S_{k+1}``, solved by a doubling scan (log2(n)
    steps). No division: exact at zeros, as PyTorch, and exact again when
    differentiated (a gradient of the gradient).
    """
    x, out = input, result
    if x.ndim == 0:
        return g
    axis = dim % x.ndim     # (the forward has checked dim)
    if not xp.any(x == 0):
        return _reverse_cumsum(xp, g * out, axis) / x
    x, s = xp.moveaxis(x, axis, -1), xp.moveaxis(g, axis, -1)
    a = xp.concatenate([x[..., 1:], xp.zeros_like(x[..., :1])], axis=-1)   # x_{k+1}; 0 at the end
    step = 1
    while step < x.shape[-1]:
        # (a, s) jumped ``step`` ahead: S_k = s_k + a_k S_{k+step}; compose two jumps
        pad = xp.zeros_like(x[..., :step])
        s = s + a * xp.concatenate([s[..., step:], pad], axis=-1)
        a = a * xp.concatenate([a[..., step:], pad], axis=-1)
        step *= 2
    return xp.moveaxis(_products_before(xp, x) * s, -1, axis)


cumprod = _ops.add(Op("cumprod", _cumprod, method=True, inplace=True, vjp={"input": _cumprod_vjp}))


# ---------------------------------------------------------------- variance and std

def _dof(name, x, dim, unbiased, correction):
    """(axes, degrees of freedom) from PyTorch's ``correction`` and legacy ``unbiased`` forms."""
    if isinstance(dim, bool):               # var(x, False): the legacy var(input, unbiased)
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}(): pass either unbiased or correction, not both")
    if x.dtype.kind not in "fc":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = _axes(dim, x.ndim)
    dof = _count(x.shape, axes) - correction
    if dof <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                      "less than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
    return axes, dof if dof > 0 else 0


def _variance(xp, x, axes, dof, keepdim):
    """The variance over ``axes``, the mean it took out (the output of var_mean), and
    ``x`` minus that mean (kept for the vjp: see _centered)."""
    mean = _mean_of(xp, x, axes, True)
    centered = x - mean
    s = xp.sum(abs_square(xp, centered), axis=axes, keepdims=keepdim)   # real for complex x too
    if not keepdim:
        mean = mean.reshape(s.shape)
    if dof > 0:
        return s / dof, mean, centered
    # s / 0, without a warning
    return xp.where(s == 0, math.nan, math.inf).astype(s.dtype), mean, centered


def _centered(xp, x, centered, axes):
    """``x`` minus its mean: the forward's (the same bits) when the vjp runs on arrays;
    recomputed from ``x`` on tensors (create_graph), so that its dependence on ``x`` is
    recorded."""
    return x - _mean_of(xp, x, axes, True) if isinstance(x, TensorBase) else centered


def _var_grad(xp, g, x, axes, dof, centered, keepdim):
    g = _kept(xp, g, x.ndim, axes, keepdim)
    return g * _centered(xp, x, centered, axes) * (2 / dof if dof else math.inf)


def _std_grad(xp, g, x, std, axes, dof, centered, keepdim):
    # d std = d var / (2 std), 0 where std == 0: PyTorch's std_backward, divide then mask
    return _var_grad(xp, _zero_where(xp, std == 0, g / (2 * std)), x, axes, dof, centered,
                     keepdim)


# Each forward returns its outputs and the residual (axes, dof, x - mean).

def _var(xp, x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim`` (all by default) with ``correction`` (1: Bessel's, the default;
    ``unbiased=False`` is ``correction=0``)."""
    axes, dof = _dof("var", x, dim, unbiased, correction)
    var, _, centered = _variance(xp, x, axes, dof, keepdim)
    return var, (axes, dof, centered)


def _std(xp, x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation over ``dim`` (all by default), with ``correction`` as in ``var``."""
    axes, dof = _dof("std", x, dim, unbiased, correction)
    var, _, centered = _variance(xp, x, axes, dof, keepdim)
    return xp.sqrt(var), (axes, dof, centered)


def _var_mean(xp, x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim``, with ``correction`` as in ``var``."""
    axes, dof = _dof("var_mean", x, dim, unbiased, correction)
    var, mean, centered = _variance(xp, x, axes, dof, keepdim)
    return (var, mean), (axes, dof, centered)


def _std_mean(xp, x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim``, with ``correction`` as in ``var``."""
    axes, dof = _dof("std_mean", x, dim, unbiased, correction)
    var, mean, centered = _variance(xp, x, axes, dof, keepdim)
    return (xp.sqrt(var), mean), (axes, dof, centered)


# The residual is (axes, dof, x - mean); dim, unbiased and correction are already in it. The
# variance of complex numbers is real and not holomorphic: its formula, 2 g (x - mean) / dof, is
# PyTorch's complex gradient as written (holomorphic=False).
var = _ops.add(Op("var", _var, save="input", residuals=True, method=True, holomorphic=False,
                  vjp=lambda xp, g, x, red, keepdim=False, **_: _var_grad(xp, g, x, *red, keepdim)))

std = _ops.add(Op("std", _std, save=("input", "result"), residuals=True, method=True,
                  holomorphic=False,
                  vjp=lambda xp, g, x, out, red, keepdim=False, **_:
                      _std_grad(xp, g, x, out, *red, keepdim)))

var_mean = _ops.add(Op("var_mean", _var_mean, save="input", residuals=True, n_outputs=2,
                       holomorphic=False,
                       vjp=lambda xp, g, x, red, keepdim=False, **_:
                           _var_grad(xp, g[0], x, *red, keepdim)
                           + _mean_grad(xp, g[1], x.shape, red[0], keepdim)))

std_mean = _ops.add(Op("std_mean", _std_mean, save=("input", "result"), residuals=True, n_outputs=2,
                       holomorphic=False,
                       vjp=lambda xp, g, x, out, red, keepdim=False, **_:
                           _std_grad(xp, g[0], x, out[0], *red, keepdim)
                           + _mean_grad(xp, g[1], x.shape, red[0], keepdim)))


# ---------------------------------------------------------------- norms

def _norm_order(p, dim):
    """``p`` as a number: 'fro' (and None, as PyTorch) is the 2-norm (over at most two dims)."""
    if p is None:
        return 2
    if not isinstance(p, str):
        return p
    if p == "fro":
        if isinstance(dim, (tuple, list)) and len(dim) > 2:
            raise RuntimeError(
                f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
        return 2
    if p == "nuc":
        raise NotImplementedError("norm(): the nuclear norm (p='nuc') is not supported by "
                                  "autogradx")
    raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")


def _norm_axes(dim, ndim):
    """The axes ``torch.norm`` reduces, as linalg's vector norm takes them (a tuple)."""
    axes = _axes(dim, ndim)
    return tuple(range(ndim)) if axes is None else axes


def _norm(xp, x, p="fro", dim=None, keepdim=False, *, dtype=None):
    """The vector p-norm over ``dim`` (all elements by default): ``p`` a number, ``inf``,
    ``-inf``, or ``'fro'`` (the 2-norm); in ``dtype`` if given."""
    p = _norm_order(p, dim)
    if dtype is not None:
        x = x.astype(as_numpy_dtype(dtype))
    if x.dtype.kind not in "fc":
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {scalar_name(x.dtype)}")
    return _vnorm(xp, x, p, _norm_axes(dim, x.ndim), keepdim)


def _norm_vjp(xp, g, input, result, p="fro", dim=None, keepdim=False, dtype=None):
    # linalg.vector_norm's: PyTorch's torch.norm is that op.
    return _vnorm_grad(xp, g, input, result, _norm_order(p, dim),
                       _norm_axes(dim, input.ndim), keepdim)


norm = _ops.add(Op("norm", _norm, grad_fn="LinalgVectorNormBackward0", method=True,
                   vjp={"input": _norm_vjp}))


# ---------------------------------------------------------------- logsumexp

def _logsumexp(xp, x, dim, keepdim=False):
    """``log(sum(exp(x)))`` over ``dim``, without overflow: the max is taken out first."""
    axes = _axes(dim, x.ndim)
    if x.size or _count(x.shape, axes):     # (a non-empty x has no empty reduced dim)
        m = xp.amax(x, axis=axes, keepdims=True)
        finite = xp.isfinite(m)
        if not xp.all(finite):
            m = xp.where(finite, m, 0)      # all -inf (or an inf): nothing to take out
    else:
        m = xp.zeros_like(xp.sum(x, axis=axes, keepdims=True))
    s = xp.sum(xp.exp(x - m), axis=axes, keepdims=keepdim)
    return xp.log(s) + m.reshape(s.shape)


def _logsumexp_grad(xp, g, input, result, dim, keepdim=False):
    # softmax(input) along dim times g: g and result with the reduced dims back (_kept,
    # with the axes found once for both)
    axes = None if keepdim else _axes(dim, input.ndim)
    if axes and input.ndim:
        g, result = xp.expand_dims(g, axes), xp.expand_dims(result, axes)
    return g * xp.exp(input - result)


logsumexp = _ops.add(Op("logsumexp", _logsumexp, promote="float", method=True,
                        vjp={"input": _logsumexp_grad}))


# ---------------------------------------------------------------- amax, amin

def _amax(xp, x, dim=(), keepdim=False):
    """The largest element over ``dim`` (all dims by default); tied elements share the
    gradient evenly."""
    refuse_complex("max_values_cpu", x)
    axes = _axes(dim, x.ndim)
    _check_nonempty("amax", x, axes)
    return xp.amax(x, axis=axes, keepdims=keepdim)


def _amin(xp, x, dim=(), keepdim=False):
    """The smallest element over ``dim`` (all dims by default); tied elements share the
    gradient evenly."""
    refuse_complex("min_values_cpu", x)
    axes = _axes(dim, x.ndim)
    _check_nonempty("amin", x, axes)
    return xp.amin(x, axis=axes, keepdims=keepdim)


def _ties_vjp(xp, g, input, result, dim=(), keepdim=False):
    """The gradient shared evenly by the elements equal to the result (PyTorch's amax)."""
    x, out = input, result
    mask = x == _kept(xp, out, x.ndim, dim, keepdim)
    count = xp.sum(mask, axis=_axes(dim, x.ndim), keepdims=True)
    return _kept(xp, g, x.ndim, dim, keepdim) * mask / count


amax = _ops.add(Op("amax", _amax, method=True, vjp={"input": _ties_vjp}))
amin = _ops.add(Op("amin", _amin, method=True, vjp={"input": _ties_vjp}))


# ---------------------------------------------------------------- max, min

# An op has a fixed number of outputs: max(dim) gives (values, indices), so the
# other forms give their result and this placeholder, which _values_or_pair drops.
_NO_INDICES = np.empty(0, _INT64)
_NO_INDICES.flags.writeable = False

# name -> (the reduction and its arg-reduction in the array module, the elementwise op)
_EXTREMA = {"max": ("amax", "argmax", "maximum"), "min": ("amin", "argmin", "minimum")}


def _elementwise(name):
    """The elementwise family's ``maximum`` (``minimum``): ``max(x, other)`` is that op."""
    from autogradx._registry import get_op     # looked up when called: a sibling family's op
    return get_op(_EXTREMA[name][2])


def _extremum(xp, name, x, other, dim, keepdim):
    """The outputs, and the indices along ``dim`` again as the vjp's residual."""
    if other is not None:
        return (_elementwise(name).forward(xp, x, other), _NO_INDICES), None
    refuse_complex(f"{name}_all" if dim is None else f"{name}(): does not support complex input",
                   x, error=NotImplementedError if dim is None else RuntimeError)
    reduce, arg = getattr(xp, _EXTREMA[name][0]), getattr(xp, _EXTREMA[name][1])
    if dim is None:
        _check_nonempty(name, x, None)
        return (reduce(x), _NO_INDICES), None
    axis = _one_axis(name, dim, x.ndim)
    if axis is None:                            # a 0-d x: itself, at index 0
        indices = xp.zeros((), _INT64)
        return (x.copy(), indices), indices
    _check_nonempty(name, x, (axis,))
    indices = arg(x, axis=axis, keepdims=True).astype(_INT64, copy=False)
    values = xp.take_along_axis(x, indices, axis)
    if not keepdim:
        values, indices = values.squeeze(axis), indices.squeeze(axis)
    return (values, indices), indices


def _max(xp, x, other=None, dim=None, keepdim=False):
    """``max(input)``: the largest element. ``max(input, dim, keepdim=False)``: the named
    tuple ``(values, indices)`` along ``dim``. ``max(input, other)``: the elementwise
    maximum (as ``maximum``)."""
    return _extremum(xp, "max", x, other, dim, keepdim)


def _min(xp, x, other=None, dim=None, keepdim=False):
    """``min(input)``: the smallest element. ``min(input, dim, keepdim=False)``: the named
    tuple ``(values, indices)`` along ``dim``. ``min(input, other)``: the elementwise
    minimum (as ``minimum``)."""
    return _extremum(xp, "min", x, other, dim, keepdim)


def _selected_grad(xp, g, indices, shape, dim, keepdim):
    """The gradient at the selected ``indices`` along ``dim``, 0 elsewhere."""
    if not shape:
        return g
    axis = _axes(dim, len(shape))[0]
    if not keepdim:
        g, indices = xp.expand_dims(g, axis), xp.expand_dims(indices, axis)
    positions = xp.arange(shape[axis]).reshape([-1 if i == axis else 1 for i in range(len(shape))])
    return xp.where(positions == indices, g, 0)


def _extremum_vjp(name):
    # Not saving the result: as in PyTorch, max(dim)'s values may change in place.
    def vjp(xp, g, x, other, indices, dim=None, keepdim=False):
        g = g[0]
        if other is not None:
            # maximum's formulas, each given what it reads of the (input, other) max saves
            op = _elementwise(name)
            values = {"input": x, "other": other}
            return tuple(f(xp, g, *[values[op.save[k]] for k in reads])
                         for f, reads in zip(op.vjps, op.reads))
        if dim is None:
            # PyTorch's evenly_distribute_backward: ties (NaNs if the result is NaN) share it
            values = getattr(xp, _EXTREMA[name][0])(x)
            mask = x == values if values == values else xp.isnan(x)     # a NaN result: the NaNs
            return mask * (g / xp.sum(mask)), None
        return _selected_grad(xp, g, indices, x.shape, dim, keepdim), None
    return vjp


def _extremum_name(name, elementwise):
    return lambda x, other=None, dim=None, keepdim=False: (
        elementwise if other is not None else f"{name}Backward{1 if dim is None else 0}")


def _extremum_parse(name):
    def parse(*args, **kwargs):
        # max(x, 1, True) passes dim and keepdim: the second positional argument is
        # ``other`` only when it is a tensor.
        given = args, kwargs
        if len(args) > 1 and not isinstance(args[1], TensorBase):
            extra = dict(zip(("dim", "keepdim"), args[1:]))
            if len(args) > 3 or extra.keys() & kwargs.keys():
                raise _bad_call(name, *given)
            args, kwargs = args[:1], {**kwargs, **extra}
        elif len(args) > 2:
            raise _bad_call(name, *given)
        other = args[1] if len(args) > 1 else kwargs.get("other")
        has_dim = "dim" in kwargs or "axis" in kwargs
        dim = kwargs.get("dim", kwargs.get("axis"))
        keepdim = "keepdim" in kwargs or "keepdims" in kwargs
        if ((other is not None and (not isinstance(other, TensorBase) or has_dim or keepdim))
                or (has_dim and not _is_int(dim)) or (keepdim and not has_dim)):
            raise _bad_call(name, *given)
        return args, kwargs
    return parse


def _bad_call(name, args, kwargs):
    got = [type(a).__name__ for a in args] + [f"{k}={type(v).__name__}" for k, v in kwargs.items()]
    return TypeError(
        f"{name}() received an invalid combination of arguments - got ({', '.join(got)}), but "
        "expected one of:\n * (Tensor input)\n * (Tensor input, Tensor other)\n"
        " * (Tensor input, int dim, bool keepdim = False)")


def _values_or_pair(pair):
    def build(outs):
        values, indices = outs
        return values if indices._data is _NO_INDICES else pair(values, indices)
    return build


max_op = _ops.add(Op("max", _max, inputs=("input", "other"), promote="elementwise",
                     save=("input", "other"), residuals=True, n_outputs=2,
                     parse=_extremum_parse("max"), output_type=_values_or_pair(return_types.max),
                     grad_fn=_extremum_name("Max", "MaximumBackward0"), method=True,
                     vjp=_extremum_vjp("max")))

min_op = _ops.add(Op("min", _min, inputs=("input", "other"), promote="elementwise",
                     save=("input", "other"), residuals=True, n_outputs=2,
                     parse=_extremum_parse("min"), output_type=_values_or_pair(return_types.min),
                     grad_fn=_extremum_name("Min", "MinimumBackward0"), method=True,
                     vjp=_extremum_vjp("min")))


# ---------------------------------------------------------------- argmax, argmin

def _arg_extremum(xp, name, x, dim, keepdim):
    if x.dtype.kind == "b":
        raise RuntimeError(f"{name}(): does not support bool input")
    refuse_complex(f"{name}(): does not support complex input", x, error=RuntimeError)
    arg = getattr(xp, name)
    if dim is None:
        _check_nonempty(name, x, None, IndexError)
        return xp.asarray(arg(x, keepdims=keepdim), dtype=_INT64)
    axis = _one_axis(name, dim, x.ndim)
    if axis is None:
        return xp.zeros((), _INT64)
    _check_nonempty(name, x, (axis,))
    return arg(x, axis=axis, keepdims=keepdim).astype(_INT64, copy=False)


def _argmax(xp, x, dim=None, keepdim=False):
    """Index of the largest element (first of ties): in the flattened input, or along ``dim``."""
    return _arg_extremum(xp, "argmax", x, dim, keepdim)


def _argmin(xp, x, dim=None, keepdim=False):
    """Index of the smallest element (first of ties): in the flattened input, or along
    ``dim``."""
    return _arg_extremum(xp, "argmin", x, dim, keepdim)


argmax = _ops.add(Op("argmax", _argmax, method=True))
argmin = _ops.add(Op("argmin", _argmin, method=True))


# ---------------------------------------------------------------- all, any

def _all(xp, x, dim=None, keepdim=False):
    """Whether every element over ``dim`` (all by default) is nonzero: bool (uint8 for uint8)."""
    out = xp.all(x, axis=_axes(dim, x.ndim), keepdims=keepdim)
    return out.astype(np.uint8) if x.dtype == np.uint8 else out


def _any(xp, x, dim=None, keepdim=False):
    """Whether any element over ``dim`` (all by default) is nonzero: bool (uint8 for uint8)."""
    out = xp.any(x, axis=_axes(dim, x.ndim), keepdims=keepdim)
    return out.astype(np.uint8) if x.dtype == np.uint8 else out


all_op = _ops.add(Op("all", _all, method=True))
any_op = _ops.add(Op("any", _any, method=True))


# ---------------------------------------------------------------- unique

def _unique_sorted(xp, x, d, return_inverse, return_counts):
    """np.unique's values, inverse and counts (None where not asked for) of a NumPy array,
    by one sort of its elements (``d`` None) or a lexsort of its slices along ``d``:
    np.unique is Python around the same sort (a structured view of the slices for ``d``).
    As ``equal_nan=False``, NaN differs from itself: each NaN is a group of its own."""
    if d is None:
        flat = x.reshape(-1)
        if return_inverse:
            order = flat.argsort()      # (np.unique's quicksort: the same order of equal NaNs)
            s = flat[order]
        else:
            s = flat.copy()
            s.sort()
        differs = s[1:] != s[:-1]
    else:
        rows = xp.moveaxis(x, d, 0).reshape(x.shape[d], -1)
        order = np.lexsort(rows.T[::-1]) if rows.shape[1] else np.arange(len(rows))
        s = rows[order]
        differs = (s[1:] != s[:-1]).any(axis=1)
    starts = np.empty(len(s), dtype=bool)      # where each group of equal ones begins
    starts[:1] = True
    starts[1:] = differs
    values = s[starts] if d is None else x.take(order[starts], axis=d)
    inverse = counts = None
    if return_inverse:
        inverse = np.empty(len(s), dtype=np.int64)
        inverse[order] = starts.cumsum() - 1
        if d is None:
            inverse = inverse.reshape(x.shape)
    if return_counts:
        first = starts.nonzero()[0]
        counts = np.empty(len(first), dtype=np.int64)
        counts[:-1] = first[1:] - first[:-1]
        counts[-1:] = len(s) - first[-1:]
    return values, inverse, counts


def _unique(xp, x, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct elements of ``input`` in ascending order (``sorted=False`` too, as
    PyTorch's CPU kernel), or its distinct slices along ``dim``; with ``return_inverse``
    where each element (slice) went, with ``return_counts`` how often each occurs. NaNs
    are each distinct, as in PyTorch."""
    refuse_complex("unique" if dim is None else "unique_dim", x)       # (no order on them)
    d = None
    if dim is not None:
        from autogradx.ops.shape import _wrap
        d = _wrap(dim, x.ndim)
        empty = [k for k, n in enumerate(x.shape) if n == 0]
        if len(empty) > 1:
            raise RuntimeError("Number of zero sized dimensions is more than one, so unique "
                               "cannot be applied ")
        if empty and empty != [d]:
            raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so "
                               "unique cannot be applied")
    if type(x) is np.ndarray and x.size:
        values, inverse, counts = _unique_sorted(xp, x, d, return_inverse, return_counts)
    elif d is None:
        values, inverse, counts = xp.unique(x.reshape(-1), return_inverse=True,
                                            return_counts=True, equal_nan=False)
        inverse = inverse.reshape(x.shape)
    else:
        values, inverse, counts = xp.unique(x, return_inverse=True, return_counts=True,
                                            axis=d, equal_nan=False)
        inverse = inverse.reshape(-1)
    outs = [values]
    if return_inverse:
        outs.append(inverse.astype(np.int64, copy=False))
    if return_counts:
        outs.append(counts.astype(np.int64, copy=False))
    return tuple(outs)


def _unique_name(x, sorted=True, return_inverse=False, return_counts=False, dim=None):
    return "Unique2Backward0" if dim is None else "UniqueDimBackward0"


def _unique_vjp(xp, g, sorted=True, return_inverse=False, return_counts=False, dim=None):
    # PyTorch records the node, and its backward refuses.
    aten = "_unique2" if dim is None else "unique_dim"
    raise NotImplementedError(f"the derivative for '{aten}' is not implemented.")


# The values alone, or a tuple with the inverse and/or the counts, as PyTorch returns.
unique = _ops.add(Op("unique", _unique, n_outputs=None, method=True, grad_fn=_unique_name,
                     output_type=lambda outs: outs[0] if len(outs) == 1 else tuple(outs),
                     vjp={"input": _unique_vjp}))


OPS = tuple(_ops)


# ---------------------------------------------------------------- samples for the conformance kit

__getattr__ = lazy_conformance_cases(__name__)


def _conformance_cases():
    """Calls of each op: over everything, one dim, several dims, negative dims, keepdim,
    0-d inputs."""
    from autogradx.conformance import Arg, Sample as S

    def x(*shape):
        return Arg(shape)

    # sum, mean, amax...: (input, dim, keepdim)
    dims = [S(x(2, 3)), S(x(2, 3), 1), S(x(2, 3, 4), (0, -1), True), S(x(2, 3), dim=-2),
            S(x()), S(x(), 0)]
    # ops of one int dim: cumsum, cumprod
    one_dim = [S(x(2, 3), 1), S(x(2, 3), dim=-2), S(x(4), 0), S(x(), 0)]
    # var and std: the default correction, another one, and unbiased=False
    spread = [S(x(2, 3)), S(x(2, 3), 1), S(x(2, 3, 4), (0, 2), keepdim=True, correction=0),
              S(x(5), unbiased=False), S(x(2, 3), -1, correction=2)]
    with_zeros = Arg(values=[[1.5, 0.0, -2.0], [0.5, 0.0, 0.0]])
    repeats = Arg(values=[[1.5, 0.0, 1.5], [0.5, 0.0, 0.5]], requires_grad=False)
    return {
        "sum": dims + [S(x(0, 3), 0), S(x(2, 3), 1, dtype="float64").options(out_dtype="float64")],
        "nansum": [S(x(2, 3)), S(x(2, 3), 1, True)],
        "mean": dims + [S(x(2, 3), 1, dtype="float64").options(out_dtype="float64")],
        "cumsum": one_dim,
        "prod": [S(x(2, 3)), S(x(2, 3, 4), -1, True), S(x(), 0), S(with_zeros),
                 S(with_zeros, 1), S(with_zeros, 0, True)],         # one int dim only
        "cumprod": one_dim + [S(with_zeros, 1)],
        "var": spread, "std": spread, "var_mean": spread, "std_mean": spread,
        "norm": [S(x(2, 3)), S(x(2, 3), 1), S(x(2, 3), 3, 1, True), S(x(2, 3), math.inf, -1),
                 S(x(2, 3), 0.5), S(x(2, 3), "fro", (0, 1))],
        "logsumexp": [S(x(2, 3), 1), S(x(2, 3), (0, 1), True), S(x(2, 3), -1)],
        "amax": dims, "amin": dims,
        "max": [S(x(2, 3)), S(x(2, 3), 1), S(x(2, 3), 0, True), S(x(2, 3), dim=-1),
                S(x(2, 3), x(3))],
        "min": [S(x(2, 3)), S(x(2, 3), 1), S(x(2, 3), 0, True), S(x(2, 3), dim=-1),
                S(x(2, 3), x(3))],
        "argmax": [S(x(2, 3)), S(x(2, 3), 1), S(x(2, 3), 0, True)],
        "argmin": [S(x(2, 3)), S(x(2, 3), 1), S(x(2, 3), 0, True)],
        "all": [S(x(2, 3)), S(Arg((2, 3), dtype="bool"), 1), S(Arg((2, 3), dtype="bool"), 0, True)],
        "any": [S(x(2, 3)), S(Arg((2, 3), dtype="bool"), 1), S(Arg((2, 3), dtype="bool"), 0, True)],
        # No derivative (PyTorch has none): constant inputs only.
        "unique": [S(repeats), S(repeats, return_inverse=True, return_counts=True),
                   S(repeats, dim=1, return_inverse=True), S(repeats, False, False, True, 0)],
    }
