"""Indexing: ``x[index]``, ``x[index] = values`` and the dim-wise selections
and scatters (``index_select``, ``gather``, ``scatter_add``, ``masked_fill``, ...).

``Tensor.__getitem__`` calls ``getitem`` for a basic index (ints, slices, None,
``...``: the result is a view) and ``index`` for an advanced one (integer or
boolean arrays: a copy); ``Tensor.__setitem__`` runs ``setitem`` in place.
The vjp of taking elements puts the gradient back where they came from:
``_embed`` where each position is taken once, ``_scatter_add`` where an index
may repeat positions (their gradients add up).
"""

import functools
import operator

import numpy as np

from autogradx._core.names import scalar_name, tensor_type_name
from autogradx._core.tensor import TensorBase
from autogradx.ops.shape import _wrap
from autogradx.plugin import Op, OpList, get_array_module, lazy_conformance_cases

_ops = OpList()      # every op defined below, in order; OPS at the end



def _embed(xp, g, shape, index):
    """Zeros of ``shape`` with ``g`` written at ``index`` (which takes each position once).

    Written with setitem, so that it runs on tensors as well (gradients of gradients).
    """
    out = xp.zeros(shape, dtype=g.dtype)
    out[index] = g
    return out


def _scatter_add(xp, g, shape, index):
    """Zeros of ``shape`` with ``g`` added at ``index``; repeated positions sum.

    NumPy's ``add.at``, which the tensor namespace of gradients of gradients
    records as an ``index_add``.
    """
    out = xp.zeros(shape, dtype=g.dtype)
    xp.add.at(out, index if type(out) is np.ndarray else _on_device_of(xp, out, index), g)
    return out


def _on_device_of(xp, out, index):
    """``index`` with its NumPy arrays moved to ``out``'s device where ``out`` is a device
    array (CuPy refuses host arrays in ``add.at``); unchanged on NumPy and on tensors."""
    if type(out) is np.ndarray or hasattr(out, "_data"):
        return index
    parts = index if type(index) is tuple else (index,)
    moved = tuple(xp.asarray(p) if type(p) is np.ndarray else p for p in parts)
    return moved if type(index) is tuple else moved[0]


def _zero_at(xp, g, index):
    """``g`` with the positions ``index`` selects set to zero."""
    keep = xp.ones_like(g, dtype=bool)     # NumPy's ones is Python, ones_like C (xp's)
    keep[index] = False
    return xp.where(keep, g, 0)


# -- x[index] ----------------------------------------------------------------------


def _parts(index):
    """The index as a tuple of arrays (a tensor in it, which vmap's fallback loop hands over,
    as its array); a 0-d integer array (``x[torch.tensor(1)]``) counts as an int."""
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if type(p) is not slice and type(p) is not int:
            break
    else:
        return parts    # ints and slices (the common basic index): nothing to convert
    parts = (p._data if isinstance(p, TensorBase) else p for p in parts)
    return tuple(int(p) if _is_array(p) and p.ndim == 0 and p.dtype.kind in "iu" else p
                 for p in parts)


def _is_array(p):
    return hasattr(p, "dtype") and hasattr(p, "ndim") and not isinstance(p, np.generic)


def _is_bool(p):
    return isinstance(p, (bool, np.bool_))


def _width(p):
    """How many dims of the indexed tensor an index part consumes."""
    if type(p) is slice or type(p) is int:
        return 1
    if p is None or p is Ellipsis or _is_bool(p):
        return 0
    if isinstance(p, list):
        p = np.asarray(p)
    return p.ndim if _is_array(p) and p.dtype == bool else 1


def _kinds(shape, parts):
    """What PyTorch does for each part of an index: "alias" (nothing: ``...`` or a slice
    covering its dim), "slice", "select", "unsqueeze", "bool" (a True or False scalar)
    or "index" (an array)."""
    dim, kinds = 0, []
    for p in parts:
        if type(p) is int:
            kinds.append("select")
            dim += 1
            continue
        if p is Ellipsis:
            dim += len(shape) - sum(_width(q) for q in parts)
            kinds.append("alias")
        elif p is None:
            kinds.append("unsqueeze")
        elif isinstance(p, slice):
            full = dim < len(shape) and p.indices(shape[dim]) == (0, shape[dim], 1)
            kinds.append("alias" if full else "slice")
        elif _is_bool(p):
            kinds.append("bool")
        elif _is_array(p) or isinstance(p, list):
            kinds.append("index")
        else:
            kinds.append("select")
        dim += _width(p)
    return kinds


_NODE_NAMES = {"slice": "SliceBackward0", "select": "SelectBackward0",
               "unsqueeze": "UnsqueezeBackward0", "index": "IndexBackward0"}


def _getitem_name(x, index):
    # PyTorch applies the parts in order and names the last op; an advanced part comes last.
    if type(index) is int:
        return "SelectBackward0"
    if type(index) is slice:
        return "SliceBackward0"
    if _one_array(index):
        return "IndexBackward0"
    kinds = _kinds(x.shape, _parts(index))
    if "index" in kinds or "bool" in kinds:
        return "IndexBackward0"
    applied = [k for k in kinds if k != "alias"]
    return _NODE_NAMES[applied[-1]] if applied else "AliasBackward0"


def _check_steps(index):
    """Refuse a slice of step <= 0 (PyTorch's ValueError); True if the index holds a list."""
    lists = False
    for p in index if isinstance(index, tuple) else (index,):
        if type(p) is slice:
            if p.step is not None and operator.index(p.step) <= 0:
                raise ValueError("step must be greater than zero")
        elif isinstance(p, list):
            lists = True
    return lists


def _index_args(input, index):
    if _one_array(index):
        return (input, index), {}   # no slice to check, no list to convert
    # Checked here, not in the forward, where the core would turn a ValueError into a RuntimeError.
    if _check_steps(index):
        index = _lists_as_arrays(index)
    return (input, index), {}


def _lists_as_arrays(index):
    """A list of ints or bools in the index as the array NumPy makes of it, as PyTorch makes
    a tensor of it: the node then holds it as an array, which backward frees."""
    if isinstance(index, list):
        a = np.asarray(index)
        return a if a.dtype.kind in "iub" and a.size else index
    if type(index) is tuple:
        return tuple(_lists_as_arrays(p) if isinstance(p, list) else p for p in index)
    return index


def _index_error(e, ndim):
    """NumPy's IndexError in PyTorch's words."""
    msg = str(e)
    if msg.startswith("too many indices"):
        msg = f"too many indices for tensor of dimension {ndim}"
    return IndexError(msg.replace(" axis ", " dimension "))


def _take(x, parts):
    """``x[parts]`` with PyTorch's errors; an array even where NumPy would give a scalar."""
    for p in parts:
        if p is Ellipsis:
            break
    else:
        parts = parts + (Ellipsis,)     # x[0, 1, ...] is a 0-d view, x[0, 1] a NumPy scalar
    try:
        return x[parts]
    except IndexError as e:
        raise _index_error(e, x.ndim) from None


def _getitem(xp, x, index):
    """``input[index]`` for a basic index (ints, slices, None, ``...``): a view."""
    return _take(x, index if type(index) is tuple else (index,)), x.shape


getitem = _ops.add(Op("getitem", _getitem, residuals=True, namespace=None, view=True,
                      parse=_index_args, grad_fn=_getitem_name,
                      vjp=lambda xp, g, shape, index: _embed(xp, g, shape, _parts(index))))


def _one_array(index):
    """Is ``index`` a single NumPy array of at least one dim (``x[tensor]``, the common
    advanced index), which needs none of ``_parts``' conversions?"""
    return type(index) is np.ndarray and index.ndim > 0


def _advanced(parts):
    return any(_is_array(p) or isinstance(p, list) or _is_bool(p) for p in parts)


def _index(xp, x, index):
    """``input[index]`` where the index holds integer or boolean arrays: a copy."""
    one = _one_array(index)     # x[tensor]: advanced, and its own parts
    parts = (index,) if one else _parts(index)
    for p in parts:
        if (one or _is_array(p)) and p.dtype.kind not in "iub":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    out = _take(x, parts)
    if (one or _advanced(parts)) and getattr(out, "base", None) is not None:
        out = out.copy()    # NumPy may return a view of a temporary: make it plainly a copy
    return out, x.shape


def _index_vjp(xp, g, shape, index):
    if _one_array(index):
        return _scatter_add(xp, g, shape, (index,))
    parts = _parts(index)
    if _advanced(parts):
        return _scatter_add(xp, g, shape, parts)
    return _embed(xp, g, shape, parts)


# view=True for indices that turn out basic (x[torch.tensor(1)] is a view in PyTorch too).
advanced_index = _ops.add(Op("index", _index, residuals=True, namespace=None, view=True,
                             parse=_index_args, grad_fn=_getitem_name, vjp=_index_vjp))


# -- x[index] = values --------------------------------------------------------------


def _setitem_args(input, values, index):
    _check_steps(index)
    return (input, values, index), {}


def _setitem(xp, x, values, index):
    """A copy of ``input`` with ``values`` (broadcast) written at ``index``.

    ``x[index] = values`` computes it and writes it back into ``x``.
    """
    parts = _parts(index)
    if _advanced(parts) and _is_array(values) and values.dtype != x.dtype:
        raise RuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{scalar_name(x.dtype)} for the destination and "
            f"{scalar_name(values.dtype)} for the source.")
    out = x.copy()
    try:
        out[parts] = values
    except IndexError as e:
        raise _index_error(e, x.ndim) from None
    except ValueError:
        raise _expand_error(tuple(out[parts].shape), values) from None
    return out, getattr(values, "shape", ())


def _expand_error(target, values):
    """PyTorch's error for values that do not broadcast to the part they are written to."""
    shape = tuple(values.shape)
    for i in range(1, min(len(target), len(shape)) + 1):
        if shape[-i] != 1 and shape[-i] != target[-i]:
            return RuntimeError(
                f"The expanded size of the tensor ({target[-i]}) must match the existing size "
                f"({shape[-i]}) at non-singleton dimension {len(target) - i}.  Target sizes: "
                f"{list(target)}.  Tensor sizes: {list(shape)}")
    return RuntimeError(f"expand(torch.{tensor_type_name(values.dtype)}{{{list(shape)}}}, "
                        f"size={list(target)}): the number of sizes provided ({len(target)}) "
                        f"must be greater or equal to the number of dimensions in the tensor "
                        f"({len(shape)})")


def _setitem_name(x, values, index):
    # PyTorch: index_put for a purely advanced index, a fill or copy when the index
    # covers everything, else a copy into a view of the base (CopySlices).
    kinds = {k for k in _kinds(x.shape, _parts(index)) if k != "alias"}
    if not kinds:
        return "CopyBackwards" if _is_array(values) else "FillBackward3"
    return "IndexPutBackward0" if kinds == {"index"} else "CopySlices"


def _values_grad(xp, g, shape, index):
    """The part of ``g`` that ``values`` was written to (NumPy drops its leading 1-dims)."""
    part = g[_parts(index)]
    if part.ndim < len(shape):
        part = xp.reshape(part, (1,) * (len(shape) - part.ndim) + tuple(part.shape))
    return part


setitem = _ops.add(Op("setitem", _setitem, inputs=("input", "values"), residuals=True,
                      namespace=None, parse=_setitem_args, grad_fn=_setitem_name,
                      vjp=(lambda xp, g, shape, index: _zero_at(xp, g, _parts(index)),
                           _values_grad)))


# -- slices along one dim ---------------------------------------------------------------


def _narrow(xp, x, dim, start, length):
    """``length`` elements of ``input`` along ``dim`` from ``start`` (may be negative); a view."""
    if x.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _wrap(dim, x.ndim)
    size, start, length = x.shape[d], operator.index(start), operator.index(length)
    if not -size <= start <= size:
        raise IndexError(
            f"start out of range (expected to be in range of [{-size}, {size}], but got {start})")
    start %= max(size, 1)
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    where = (slice(None),) * d + (slice(start, start + length),)
    return x[where], (x.shape, where)


narrow = _ops.add(Op("narrow", _narrow, residuals=True, method=True, view=True,
                     grad_fn="SliceBackward0",
                     vjp=lambda xp, g, at, dim, start, length: _embed(xp, g, *at)))


def _select(xp, x, dim, index):
    """``input`` at position ``index`` of dim ``dim``, which is removed; a view."""
    if x.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _wrap(dim, x.ndim)
    i = operator.index(index)
    if not -x.shape[d] <= i < x.shape[d]:
        raise IndexError(
            f"select(): index {i} out of range for tensor of size {list(x.shape)} at dimension {d}")
    where = (slice(None),) * d + (i, Ellipsis)
    return x[where], (x.shape, where)


select = _ops.add(Op("select", _select, residuals=True, method=True, view=True,
                     vjp=lambda xp, g, at, dim, index: _embed(xp, g, *at)))


# -- gathering and scattering along a dim -------------------------------------------


def _check_bounds(index, size, dim):
    if index.size:
        if type(index) is np.ndarray:   # the ufuncs' reduce: ndarray.min's Python frame skipped
            lo, hi = int(np.minimum.reduce(index, None)), int(np.maximum.reduce(index, None))
        else:
            lo, hi = int(index.min()), int(index.max())
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise RuntimeError(
                f"index {bad} is out of bounds for dimension {dim} with size {size}")


def _check_vector(name, index):
    if not _is_array(index) or index.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32 or int64 for index")
    if index.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")


def _index_select(xp, x, dim, index):
    """The slices of ``input`` along ``dim`` at the positions in ``index`` (a 1-D integer
    tensor); positions may repeat."""
    d = _wrap(dim, x.ndim)
    _check_vector("index_select", index)
    if x.ndim == 0:
        if index.size != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                               f"{index.size} value(s)")
        _check_bounds(index, 1, 0)
        return x.copy(), ((), None)
    _check_bounds(index, x.shape[d], d)
    at = (slice(None),) * d + (index.reshape(-1),)
    return x[at], (x.shape, at)


def _index_select_vjp(xp, g, taken, dim, index):
    # g added back where the forward took it from (at: its advanced index; None for a 0-d x).
    shape, at = taken
    return g if at is None else _scatter_add(xp, g, shape, at)


index_select = _ops.add(Op("index_select", _index_select, residuals=True, method=True,
                           vjp=_index_select_vjp, jvp="linear"))


def _along(index, dim):
    """The advanced index that takes, for each position of ``index``, element ``index[pos]``
    along ``dim`` and the position's own coordinate along the other dims."""
    if type(index) is np.ndarray:
        coordinates = _numpy_coordinates(index.shape, dim)
        return coordinates[:dim] + (index,) + coordinates[dim + 1:]
    return _coordinates(get_array_module(index), index.shape, dim, index)


def _coordinates(xp, shape, dim, index=None):
    """Each dim's coordinates (``arange``s shaped to broadcast), ``index`` at ``dim``."""
    n = len(shape)
    return tuple(index if k == dim else xp.arange(s).reshape((-1,) + (1,) * (n - k - 1))
                 for k, s in enumerate(shape))


@functools.lru_cache(maxsize=256)
def _numpy_coordinates(shape, dim):
    # Kept per shape (small: each the size of one dim): a gather builds them on every call.
    coordinates = _coordinates(np, shape, dim)
    for c in coordinates:
        if c is not None:
            c.flags.writeable = False   # shared by every call of this shape
    return coordinates


def _check_gather(name, x, dim, index, src=None):
    """PyTorch's checks of ``index`` (and ``src``) for gather and scatter along ``dim``."""
    d = _wrap(dim, x.ndim)
    if not _is_array(index) or index.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if index.ndim != x.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    if src is not None and src.ndim != x.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    for k in range(x.ndim):
        over_self = k != d and index.shape[k] > x.shape[k]
        if over_self or (src is not None and index.shape[k] > src.shape[k]):
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(index.shape)} to be "
                f"no larger than self {list(x.shape)} apart from dimension {d}"
                + ("" if src is None else f" and to be no larger size than src {list(src.shape)}"))
    _check_bounds(index, x.shape[d] if x.ndim else 1, d)
    return d


def _gathered(xp, x, dim, index, unflat=None):
    """The values of ``x`` at ``index`` along ``dim``, and what the vjp needs: the advanced
    index used (None for a 0-d ``x``), kept so that the vjp need not build it again, and
    the shape to give the gradient (``unflat``; None for ``x``'s own)."""
    if x.ndim == 0:
        return x.copy(), (unflat, (), None)
    at = _along(index, dim)
    return x[at], (unflat, x.shape, at)


def _gather_vjp(xp, g, taken, **params):
    # The gradient of the (flattened or broadcast) input that was gathered from; the
    # engine sums a broadcast one back.
    unflat, shape, at = taken
    out = g if at is None else _scatter_add(xp, g, shape, at)
    return out if unflat is None else xp.reshape(out, unflat)


def _gather(xp, x, dim, index, *, sparse_grad=False):
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` for ``dim=0`` (and so on): the values
    of ``input`` along ``dim`` at ``index``, which has ``input``'s number of dims."""
    return _gathered(xp, x, _check_gather("gather", x, dim, index), index)


gather = _ops.add(Op("gather", _gather, residuals=True, method=True, vjp=_gather_vjp,
                     jvp="linear"))


def _take_along_dim(xp, x, indices, dim=None):
    """The values of ``input`` at ``indices`` along ``dim`` (of the flattened ``input``
    when ``dim`` is None); the other dims of the two broadcast."""
    # Without a dim PyTorch gathers from the flattened input, which also takes int32.
    if not _is_array(indices) or indices.dtype.kind not in "iu" or (
            dim is not None and indices.dtype != np.int64):
        got = (scalar_name(indices.dtype) if hasattr(indices, "dtype") else "non-tensor")
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got {got}")
    shape = x.shape
    if dim is None:
        x, indices, d = x.reshape(-1), indices.reshape(-1), 0
    else:
        if x.ndim != indices.ndim:
            raise RuntimeError(
                "torch.take_along_dim(): input and indices should have the same number of "
                f"dimensions, but got {x.ndim} dimensions for input, and {indices.ndim} "
                "dimensions for indices")
        d = _wrap(dim, x.ndim)
        if x.ndim and (x.shape[:d] != indices.shape[:d]
                       or x.shape[d + 1:] != indices.shape[d + 1:]):
            common = list(np.broadcast_shapes(*[s[:d] + (1,) + s[d + 1:]
                                                for s in (x.shape, indices.shape)]))
            x = xp.broadcast_to(x, tuple(common[:d] + [x.shape[d]] + common[d + 1:]))
            indices = xp.broadcast_to(
                indices, tuple(common[:d] + [indices.shape[d]] + common[d + 1:]))
    _check_bounds(indices, x.shape[d] if x.ndim else 1, d)
    return _gathered(xp, x, d, indices, shape if dim is None else None)


take_along_dim = _ops.add(Op("take_along_dim", _take_along_dim, residuals=True, method=True,
                             grad_fn="GatherBackward0", vjp=_gather_vjp, jvp="linear"))


def _scatter_args(input, dim, index, src):
    return (input, src), {"dim": dim, "index": index}


def _scatter_add_fwd(xp, x, src, *, dim, index):
    """``input`` plus ``src`` added at ``index`` along ``dim``: for ``dim=0``,
    ``out[index[i][j]][j] += src[i][j]``; only ``src``'s first ``index.shape`` values count."""
    d = _check_gather("scatter_add", x, dim, index, src)
    if src.dtype != x.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if not x.ndim:
        return x + src, (src.shape, None)
    out = x.copy()
    used = src if src.shape == index.shape else src[tuple(slice(0, n) for n in index.shape)]
    at = _along(index, d)
    xp.add.at(out, at, used)
    return out, (src.shape, at)


def _scatter_add_src_grad(xp, g, scattered, dim, index):
    # g where src was added (the forward's advanced index), in src's shape.
    src_shape, at = scattered
    part = g if at is None else g[at]
    if tuple(part.shape) == tuple(src_shape):
        return part
    return _embed(xp, part, src_shape, tuple(slice(0, n) for n in index.shape))


scatter_add = _ops.add(Op("scatter_add", _scatter_add_fwd, inputs=("input", "src"), residuals=True,
                          method=True, inplace=True, parse=_scatter_args,
                          vjp=(lambda xp, g, scattered, dim, index: g, _scatter_add_src_grad)))


def _index_add_args(input, dim, index, source, *, alpha=1):
    return (input, source), {"dim": dim, "index": index, "alpha": alpha}


def _index_add(xp, x, source, *, dim, index, alpha=1):
    """``input`` plus ``alpha * source`` added at the positions ``index`` along ``dim``;
    repeated positions add up."""
    d = _wrap(dim, x.ndim)
    _check_vector("index_add_", index)
    if source.dtype != x.dtype:
        raise RuntimeError(
            f"index_add_(): self ({scalar_name(x.dtype)}) and source "
            f"({scalar_name(source.dtype)}) must have the same scalar type")
    expected = x.shape[:d] + (index.size,) + x.shape[d + 1:] if x.ndim else ()
    if tuple(source.shape) != expected and not (x.ndim == 0 and source.size == 1):
        raise RuntimeError(
            "source tensor shape must match self tensor shape, excluding the specified "
            f"dimension. Got self.shape = {list(x.shape)} source.shape = {list(source.shape)}")
    _check_bounds(index, x.shape[d] if x.ndim else 1, d)
    scaled = source if alpha == 1 else source * alpha
    if not x.ndim:
        return x + scaled.reshape(())
    out = x.copy()
    xp.add.at(out, (slice(None),) * d + (index.reshape(-1),), scaled)
    return out


def _index_add_source_grad(xp, g, dim, index, alpha=1):
    if not g.ndim:
        return g * alpha
    part = g[(slice(None),) * _wrap(dim, g.ndim) + (index.reshape(-1),)]
    return part if alpha == 1 else part * alpha


index_add = _ops.add(Op("index_add", _index_add, inputs=("input", "source"), method=True,
                        inplace=True, parse=_index_add_args,
                        vjp=(lambda xp, g, dim, index, alpha=1: g, _index_add_source_grad)))


def _masked_fill(xp, x, mask, value):
    """``input`` with ``value`` (a number or a 0-d tensor) where ``mask`` is True; ``input``
    and ``mask`` broadcast."""
    if type(mask) is not np.ndarray and not _is_array(mask):
        raise TypeError(f"masked_fill(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask.dtype != bool:
        raise RuntimeError(
            f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    if type(value) is not float and _is_array(value) and value.ndim:
        raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    return xp.where(mask, xp.asarray(value, dtype=x.dtype), x)


masked_fill = _ops.add(Op(
    "masked_fill", _masked_fill, inputs=("input", "mask", "value"), method=True, inplace=True,
    grad_fn=lambda x, mask, value:
        "MaskedFillBackward1" if _is_array(value) else "MaskedFillBackward0",
    vjp={"input": lambda xp, g, mask: xp.where(mask, 0, g),
         "value": lambda xp, g, mask: xp.where(mask, g, 0)},
    # Elementwise over input and value (value broadcast): the formulas give the jvp.
    jvp="elementwise"))


OPS = tuple(_ops)


# -- samples for the conformance kit ------------------------------------------------------


__getattr__ = lazy_conformance_cases(__name__)


def _conformance_cases():
    """Calls of each op: basic and advanced indices, repeated positions (their gradients add
    up), negative dims and indices, masks that broadcast."""
    from autogradx.conformance import Arg, Sample as S

    def x(*shape):
        return Arg(shape)

    def I(values):          # an int64 index tensor
        return Arg(values=np.asarray(values, dtype=np.int64))

    def mask(*shape):
        return Arg(shape, dtype="bool", requires_grad=False)

    rows = I([[0, 1], [3, 3], [2, 0]])
    return {
        "getitem": [S(x(4, 3), (slice(1, 3), 0)), S(x(4, 3), (None, Ellipsis, -1)), S(x(4, 3), 1),
                    S(x(4, 3), slice(None, None, 2)), S(x(), None)],
        # Tensor.__getitem__ hands the op the index tensors inside a tuple as arrays of
        # their device; lists stand for them here, on any device.
        "index": [S(x(4, 3), I([0, 2, 2])), S(x(4, 3), mask(4)), S(x(4, 3), mask(4, 3)),
                  S(x(4, 3), (slice(None), [-1, 0])), S(x(4, 3), ([0, 3], [1, 1]))],
        "setitem": [S(x(4, 3), x(3), (slice(1, 3),)), S(x(4, 3), x(3), I([0, 2])),
                    S(x(4, 3), x(), (1, 2)), S(x(4, 3), 0.5, mask(4, 3)),
                    S(x(4, 3), x(2, 1), (slice(None, 2), slice(1, 3)))],
        "narrow": [S(x(4, 3), 0, 1, 2), S(x(4, 3), -1, 0, 3)],
        "select": [S(x(4, 3), 1, -1), S(x(4, 3), 0, 2), S(x(4), 0, 1)],
        "index_select": [S(x(4, 3), 0, I([0, 2, 2])), S(x(4, 3), -1, I([2])), S(x(), 0, I([0]))],
        "gather": [S(x(3, 4), 1, rows), S(x(4, 3), 0, I([[3, 0, 0], [1, 1, 2]]))],
        "take_along_dim": [S(x(3, 4), I([[0], [3], [2]]), 1), S(x(3, 4), I([0, 5, 11, 5])),
                           S(x(3, 4), I([[1, 0, 2, 2]]), 0)],
        "scatter_add": [S(x(3, 4), 1, rows, x(3, 2)), S(x(3, 4), 1, rows, x(3, 3)),
                        S(x(4, 3), 0, I([[3, 0, 0], [3, 1, 2]]), x(2, 3))],
        "index_add": [S(x(4, 3), 0, I([0, 2, 2]), x(3, 3)),
                      S(x(4, 3), -1, I([1]), x(4, 1), alpha=2.0)],
        "masked_fill": [S(x(2, 3), mask(2, 3), 0.5), S(x(2, 3), mask(1, 3), x()),
                        S(x(2, 3), mask(3), -1.0)],
    }
