"""Ops that rearrange elements without computing on them.

Most are views: the output is a NumPy view of the input (``view=True``), so the
core shares the input's version counter, as PyTorch does; ``reshape`` copies
only where the strides leave no choice, again as PyTorch. The vjps put the
gradient back into the input's layout. Gradients may keep a broadcast shape
(the engine sums them back), which makes ``expand``'s vjp the identity.
"""

import functools
import math
import operator

import numpy as np

from autogradx.plugin import Op, OpList, lazy_conformance_cases

_ops = OpList()      # every op defined below, in order; OPS at the end
_ALL, _BACKWARDS = slice(None), slice(None, None, -1)      # index parts: a whole dim, reversed

# -- arguments ------------------------------------------------------------------


def _wrap(dim, ndim):
    """``dim`` in ``[0, ndim)``, negative dims counting from the end (0-d tensors take 0, -1)."""
    if type(dim) is int and -ndim <= dim < ndim:
        return dim % ndim       # the common case, without the two calls below
    n = max(ndim, 1)
    d = operator.index(dim)
    if not -n <= d < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d % n


def _wrapped(dims, ndim):
    """``[_wrap(d, ndim) for d in dims]``, with _wrap's common case inline: a frame per dim
    is most of the cost."""
    return [d % ndim if type(d) is int and -ndim <= d < ndim else _wrap(d, ndim) for d in dims]


def _wrap_dims(dims, ndim):
    """An int or a sequence of them as a tuple of distinct wrapped dims."""
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    out = tuple(_wrapped(dims, ndim))
    if len(set(out)) < len(out):
        for d in out:
            if out.count(d) > 1:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return out


def _sizes(args, name="size"):
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all give ``(2, 3)``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    try:
        return tuple(map(operator.index, args))
    except TypeError:
        raise TypeError(f"{name} must be a tuple of ints, but got {args!r}") from None


def _sizes_parser(keyword):
    """A ``parse=`` for ``f(input, *sizes)``, ``f(input, sizes)`` and ``f(input, keyword=sizes)``:
    the sizes reach the forward (and the vjp) as the parameter ``keyword``."""
    def parse(input, *sizes, **kwargs):
        if keyword in kwargs:
            if sizes:
                raise TypeError(f"{keyword} given both positionally and by keyword")
            sizes = (kwargs[keyword],)
        kwargs[keyword] = _sizes(sizes, keyword)
        return (input,), kwargs
    return parse


# -- reshaping ------------------------------------------------------------------


def _infer(shape, numel):
    """``shape`` with its -1 replaced, checked against ``numel`` (PyTorch's messages)."""
    if (not shape or min(shape) >= 0) and math.prod(shape) == numel:
        return shape    # nothing to infer: no loop over the sizes
    infer, known = None, 1
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape {list(shape)}")
        else:
            known *= s
    if infer is None:
        if known == numel:
            return shape
    elif known == 0:
        if numel == 0:
            raise RuntimeError(
                f"cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                "unspecified dimension size -1 can be any value and is ambiguous")
    elif numel % known == 0:
        return shape[:infer] + (numel // known,) + shape[infer + 1:]
    raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")


def _viewable(x, shape):
    """Can ``x`` be seen in ``shape`` without a copy? (PyTorch's computeStride.)

    Walks the dims from the last one in chunks of memory-contiguous dims; each
    chunk must be made of whole dims of the new shape.
    """
    old, strides = x.shape, x.strides
    if x.flags.c_contiguous or not old or x.size == 0:
        return True
    view_d = len(shape) - 1
    chunk_stride = strides[-1]
    tensor_numel = view_numel = 1
    for d in range(len(old) - 1, -1, -1):
        tensor_numel *= old[d]
        if d == 0 or (old[d - 1] != 1 and strides[d - 1] != tensor_numel * chunk_stride):
            while view_d >= 0 and (view_numel < tensor_numel or shape[view_d] == 1):
                view_numel *= shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return False
            if d > 0:
                chunk_stride = strides[d - 1]
                tensor_numel = view_numel = 1
    return view_d == -1


def _reshaped(xp, x, shape):
    """``x`` in ``shape``: a view where the strides allow, else a fresh copy."""
    if _viewable(x, shape):
        return x.reshape(shape)
    # Not x.reshape(): its copy keeps a .base, and the core would take it for a view.
    out = xp.empty(shape, dtype=x.dtype)
    out.reshape(x.shape)[...] = x
    return out


def _reshape_name(x, shape):
    # PyTorch's reshape: a view of a contiguous tensor, an alias with new strides of
    # another one, else a clone then an _unsafe_view.
    if x.flags.c_contiguous:
        return "ViewBackward0"
    if not _viewable(x, shape):
        return "UnsafeViewBackward0"
    return "ReshapeAliasBackward0"


def _to_shape(xp, g, in_shape, **params):
    return xp.reshape(g, in_shape)


def _contiguous_reshape(x, shape):
    """``x.reshape(shape)`` for a C-contiguous ``x`` (always a view), or None where ``x`` is
    not or NumPy refuses ``shape``. With no size below -1 (NumPy infers any negative one)
    NumPy infers a -1 as ``_infer`` does and refuses what it refuses, so the common call
    skips ``_infer``'s Python; it gives the errors."""
    if x.flags.c_contiguous and (not shape or min(shape) >= -1):
        try:
            return x.reshape(shape)
        except (ValueError, TypeError):
            pass
    return None


def _reshape(xp, x, shape):
    """``input`` with the same elements in ``shape`` (one size may be -1): a view of it
    where its strides allow, else a copy."""
    out = _contiguous_reshape(x, shape)
    if out is None:
        out = _reshaped(xp, x, _infer(shape, x.size))
    return out, x.shape


reshape = _ops.add(Op("reshape", _reshape, residuals=True, method=True, view=True, vjp=_to_shape,
                      parse=_sizes_parser("shape"),
                      grad_fn=lambda x, shape: "ViewBackward0" if x.flags.c_contiguous
                      else _reshape_name(x, _infer(shape, x.size))))


def _reshape_as(xp, x, other):
    """``input.reshape(other.shape)``."""
    return _reshaped(xp, x, other.shape), x.shape


# ``other`` is an input only so that it may require grad (PyTorch allows it); it gets none.
reshape_as = _ops.add(Op("reshape_as", _reshape_as, inputs=("input", "other"), residuals=True,
                         namespace=None, method=True, view=True,
                         grad_fn=lambda x, other: _reshape_name(x, other.shape),
                         vjp=lambda xp, g, in_shape: (xp.reshape(g, in_shape), None)))


def _view_of(x, shape):
    if not (x.flags.c_contiguous or _viewable(x, shape)):
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one "
            "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    return x.reshape(shape)


def _view(xp, x, size):
    """A view of ``input`` in another shape (one size may be -1); an error where the
    strides do not allow one (``reshape`` copies instead)."""
    out = _contiguous_reshape(x, size)
    return (_view_of(x, _infer(size, x.size)) if out is None else out), x.shape


view = _ops.add(Op("view", _view, residuals=True, namespace=None, method=True, view=True,
                   parse=_sizes_parser("size"), grad_fn="ViewBackward0", vjp=_to_shape))


def _view_as(xp, x, other):
    """``input.view(other.shape)``."""
    return _view_of(x, other.shape), x.shape


view_as = _ops.add(Op("view_as", _view_as, inputs=("input", "other"), residuals=True,
                      namespace=None, method=True, view=True, grad_fn="ViewBackward0",
                      vjp=lambda xp, g, in_shape: (xp.reshape(g, in_shape), None)))


def _flat_shape(x, start_dim, end_dim):
    """The shape ``flatten`` gives, or None where it returns the input unchanged."""
    s, e = _wrapped((start_dim, end_dim), x.ndim)
    if x.ndim == 0:
        return (1,)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return None
    return x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]


def _flatten(xp, x, start_dim=0, end_dim=-1):
    """``input`` with dims ``start_dim`` to ``end_dim`` merged into one: a view where the
    strides allow, else a copy."""
    shape = _flat_shape(x, start_dim, end_dim)
    # Nothing to merge: PyTorch returns the input itself; here a view of it.
    if shape is None:
        return x[...], x.shape
    return (x.reshape(shape) if x.flags.c_contiguous else _reshaped(xp, x, shape)), x.shape


def _flatten_name(x, start_dim=0, end_dim=-1):
    shape = _flat_shape(x, start_dim, end_dim)
    return "AliasBackward0" if shape is None else _reshape_name(x, shape)


flatten = _ops.add(Op("flatten", _flatten, residuals=True, method=True, view=True,
                      grad_fn=_flatten_name, vjp=_to_shape))


def _ravel(xp, x):
    """``input`` as a 1-D tensor: a view where the strides allow, else a copy."""
    return _reshaped(xp, x, (x.size,)), x.shape


# PyTorch's ravel is contiguous().view(-1): a ViewBackward0 even after a copy.
ravel = _ops.add(Op("ravel", _ravel, residuals=True, method=True, view=True,
                    grad_fn="ViewBackward0", vjp=_to_shape))


def _unflatten(xp, x, dim, sizes):
    """``input`` with dim ``dim`` split into ``sizes`` (one may be -1); a view."""
    if x.ndim == 0:
        raise IndexError("unflatten: Dimension specified as 0 but tensor has no dimensions")
    d = _wrap(dim, x.ndim)
    sizes = _sizes((sizes,), "sizes")
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    try:
        sizes = _infer(sizes, x.shape[d])
    except RuntimeError as e:
        if "inferred" in str(e):
            raise RuntimeError(f"unflatten: {e}") from None
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {d} "
            f"({x.shape[d]}) in the input tensor") from None
    return x.reshape(x.shape[:d] + sizes + x.shape[d + 1:]), x.shape


unflatten = _ops.add(Op("unflatten", _unflatten, residuals=True, method=True, view=True,
                        grad_fn="ViewBackward0", vjp=_to_shape))


def _squeeze(xp, x, dim=None):
    """``input`` without its size-1 dims (all of them, or those among ``dim``); a view."""
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        drop = _wrap_dims(dim, x.ndim)
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in drop and s == 1))
    return x.reshape(shape), x.shape


def _squeeze_name(x, dim=None):
    if dim is None:
        return "SqueezeBackward0"
    return "SqueezeBackward2" if isinstance(dim, (tuple, list)) else "SqueezeBackward1"


squeeze = _ops.add(Op("squeeze", _squeeze, residuals=True, method=True, view=True,
                      grad_fn=_squeeze_name, vjp=_to_shape))


def _unsqueeze(xp, x, dim):
    """``input`` with a size-1 dim inserted at ``dim``; a view."""
    d = _wrap(dim, x.ndim + 1)
    return x.reshape(x.shape[:d] + (1,) + x.shape[d:]), x.shape


unsqueeze = _ops.add(Op("unsqueeze", _unsqueeze, residuals=True, method=True, view=True,
                        vjp=_to_shape))

# -- reordering dims --------------------------------------------------------------


def _permute(xp, x, *dims):
    """``input`` with its dims in the order ``dims``; a view."""
    # permute(0, 1) and permute((0, 1)) alike.
    perm = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
    wrapped = tuple([d % max(x.ndim, 1) for d in perm])
    if sorted(wrapped) != list(range(x.ndim)):
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match "
            f"the length of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is "
            f"not equal to len(dims) = {len(perm)}" if len(perm) != x.ndim else
            f"permute(): dims {perm} are not a permutation of the {x.ndim} dimensions")
    return xp.transpose(x, perm), wrapped


def _permute_vjp(xp, g, perm, **params):
    # The inverse permutation (perm's dims wrapped): where each dim went, perm's argsort.
    return xp.transpose(g, tuple(sorted(range(len(perm)), key=perm.__getitem__)))


permute = _ops.add(Op("permute", _permute, residuals=True, method=True, view=True,
                      vjp=_permute_vjp))


def _transpose(xp, x, dim0, dim1):
    """``input`` with dims ``dim0`` and ``dim1`` swapped; a view."""
    d0, d1 = _wrap(dim0, x.ndim), _wrap(dim1, x.ndim)
    return xp.swapaxes(x, d0, d1) if x.ndim else x[...]


transpose = _ops.add(Op("transpose", _transpose, method=True, view=True,
                        aliases=("swapaxes", "swapdims"),
                        vjp=lambda xp, g, dim0, dim1: xp.swapaxes(g, dim0, dim1) if g.ndim else g))


def _memory(x):
    """The memory ``x`` lies in, as PyTorch's storage: ``(flat, offset)``, ``flat`` a 1-d
    array of ``x``'s dtype over the whole memory of the array owning ``x``'s (the last of its
    ``.base`` chain), and ``offset`` where ``x`` starts in it."""
    if type(x) is np.ndarray and x.base is None and x.flags.c_contiguous:
        return x.reshape(-1), 0     # x owns its memory, in order: the common case, at 0.3 us
    owner = x
    while type(getattr(owner, "base", None)) is type(x):    # an array of the same device
        owner = owner.base
    if not (owner.flags.c_contiguous or owner.flags.f_contiguous):
        owner = x       # memory with gaps: only x's own elements count
    size = x.dtype.itemsize
    start = _address(x) - _address(owner)
    raw = owner.reshape(-1, order="A").view("uint8")
    return raw[:raw.size // size * size].view(x.dtype), start // size


def _address(a):
    return a.ctypes.data if hasattr(a, "ctypes") else a.data.ptr


def _positions(xp, offset, size, stride):
    """For each element of a view of ``size`` and ``stride`` (in elements) from ``offset``,
    its position in the memory."""
    if xp.__name__ == "numpy" and math.prod(size) <= _CACHED_POSITIONS:
        return _numpy_positions(offset, tuple(size), tuple(stride))
    return _sum_positions(xp, offset, size, stride)


# NumPy positions of views up to this many elements are kept (256 of them, 8 MB at most):
# the forward asks for two per call, each 4 us of small NumPy calls to make.
_CACHED_POSITIONS = 1 << 12


@functools.lru_cache(maxsize=256)
def _numpy_positions(offset, size, stride):
    pos = _sum_positions(np, offset, size, stride)
    pos.flags.writeable = False     # shared by every call of this geometry
    return pos


def _sum_positions(xp, offset, size, stride):
    pos = xp.asarray(offset, dtype=xp.int64)     # broadcast to ``size`` by the sums below
    for d, (n, st) in enumerate(zip(size, stride)):
        pos = pos + (xp.arange(n, dtype=xp.int64) * st).reshape((-1,) + (1,) * (len(size) - 1 - d))
    return pos


def _as_strided(xp, x, size, stride, storage_offset=None):
    """A view of ``input``'s memory (its storage, in PyTorch's terms) with the given ``size``
    and ``stride`` (in elements), from ``storage_offset`` (by default where ``input``
    starts)."""
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if stride and min(stride) < 0:
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    flat, start = _memory(x)
    offset = start if storage_offset is None else storage_offset
    needed = 0 if 0 in size else offset + 1 + sum((n - 1) * st for n, st in zip(size, stride))
    item = x.dtype.itemsize
    if needed > flat.size:
        raise RuntimeError(
            f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, "
            f"and itemsize {item} requiring a storage size of {needed * item} are out of "
            f"bounds for storage of size {flat.size * item}")
    if type(flat) is np.ndarray:    # the ndarray constructor: 0.5 us, as_strided 3-8 us
        out = np.ndarray(size, flat.dtype, flat, offset * item if needed else 0,
                         tuple(st * item for st in stride))
    else:
        out = xp.lib.stride_tricks.as_strided(flat[offset:] if needed else flat[:0], size,
                                              tuple(st * item for st in stride))
    if 0 in stride and hasattr(out.flags, "writeable") and any(
            st == 0 and n > 1 for n, st in zip(size, stride)):
        out.flags.writeable = False     # as NumPy marks a broadcast: writes into it are refused
    own = _positions(xp, start, x.shape, tuple(st // item for st in x.strides))
    return out, (_positions(xp, offset, size, stride), own, flat.size)


def _as_strided_vjp(xp, g, geometry, size, stride, storage_offset=None):
    # The gradient of the memory (repeated positions add), read where the input lies.
    out_pos, in_pos, n = geometry
    from autogradx.ops.indexing import _scatter_add
    return _scatter_add(xp, g, (n,), out_pos)[in_pos]


as_strided = _ops.add(Op("as_strided", _as_strided, residuals=True, method=True, view=True,
                         vjp=_as_strided_vjp))


def _t(xp, x):
    """A matrix transposed; tensors of fewer dims unchanged (a view either way)."""
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return xp.transpose(x)


t = _ops.add(Op("t", _t, method=True, view=True, grad_fn="TBackward0",
                vjp=lambda xp, g: xp.transpose(g)))


def _diagonal(xp, x, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` above the main one in dims ``dim1``, ``dim2``, as the last
    dim; a view."""
    if x.ndim < 2:
        raise RuntimeError(f"diagonal dimensions requires ndim larger than 1, got {x.ndim}")
    d1, d2 = _wrap(dim1, x.ndim), _wrap(dim2, x.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    out = x.diagonal(operator.index(offset), d1, d2)    # the method: no NumPy wrapper
    if getattr(out.flags, "writeable", True) is False and x.flags.writeable:
        out.flags.writeable = True      # NumPy hands it read-only; PyTorch's view is writable
    return out, x.shape


def _diagonal_vjp(xp, g, shape, offset=0, dim1=0, dim2=1):
    # Zeros with g written on the diagonal, by setitem so that it runs on tensors too.
    d1, d2 = _wrap(dim1, len(shape)), _wrap(dim2, len(shape))
    if type(g) is np.ndarray:   # into the zeros' diagonal view: no index arrays to build
        out = np.zeros(shape, dtype=g.dtype)
        diag = out.diagonal(offset, d1, d2)
        diag.flags.writeable = True     # NumPy hands it read-only; out is ours
        diag[...] = g
        return out
    n = g.shape[-1]
    index = [slice(None)] * len(shape)
    index[d1] = xp.arange(n) + max(-offset, 0)
    index[d2] = xp.arange(n) + max(offset, 0)
    # NumPy puts the dim of two index arrays where they stand if adjacent, else first.
    g = xp.moveaxis(g, -1, min(d1, d2) if abs(d1 - d2) == 1 else 0)
    out = xp.zeros(shape, dtype=g.dtype)
    out[tuple(index)] = g
    return out


diagonal = _ops.add(Op("diagonal", _diagonal, residuals=True, method=True, view=True,
                       vjp=_diagonal_vjp))


def _movedim(xp, x, source, destination):
    """``input`` with dims ``source`` moved to positions ``destination``; a view."""
    src = tuple(source) if isinstance(source, (tuple, list)) else (source,)
    dst = tuple(destination) if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
            f"contain the same number of dims as destination ({list(dst)} dims)")
    wrapped = {}
    for what, dims in (("source", src), ("destination", dst)):
        wrapped[what] = _wrapped(dims, x.ndim)
        if len(set(wrapped[what])) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{what}` ({list(dims)})")
    if x.ndim == 0:
        return x[...], ()
    # NumPy's moveaxis: the other dims in order, each moved dim inserted at its place.
    source = wrapped["source"]
    perm = [d for d in range(x.ndim) if d not in source]
    for d, s in sorted(zip(wrapped["destination"], source)):
        perm.insert(d, s)
    perm = tuple(perm)
    return xp.transpose(x, perm), perm


movedim = _ops.add(Op("movedim", _movedim, residuals=True, method=True, view=True,
                      aliases="moveaxis", grad_fn="PermuteBackward0", vjp=_permute_vjp))

# -- broadcasting and repeating -------------------------------------------------


def _expanded(shape, sizes):
    """The shape ``expand(*sizes)`` gives ``shape``: -1 keeps a dim, new dims lead."""
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a "
                                   f"leading, non-existing dimension {i}")
            out.append(s)
            continue
        have = shape[i - lead]
        if s == -1:
            s = have
        elif s < 0 or (have != 1 and s != have):
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({have}) "
                f"at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  "
                f"Tensor sizes: {list(shape)}")
        out.append(s)
    return tuple(out)


def _broadcast(xp, x, sizes):
    """``x`` expanded to ``sizes`` (a tuple, as ``expand`` takes it)."""
    if sizes == x.shape:
        return x[...]   # NumPy's broadcast views are read-only; this one stays writable
    if -1 not in sizes:
        # NumPy's broadcast_to follows expand's rules where no size is -1: it gives the
        # same view without _expanded's loop, and refuses what expand refuses.
        try:
            return xp.broadcast_to(x, sizes)
        except ValueError:
            pass        # _expanded raises PyTorch's error
    shape = _expanded(x.shape, sizes)
    return x[...] if shape == x.shape else xp.broadcast_to(x, shape)


def _expand(xp, x, size):
    """A view of ``input`` with its size-1 dims repeated (and new leading dims) to ``size``;
    -1 keeps a dim's size."""
    return _broadcast(xp, x, size)


# The engine sums a gradient back over the broadcast dims: the vjp is the identity.
expand = _ops.add(Op("expand", _expand, namespace=None, method=True, view=True,
                     parse=_sizes_parser("size"), vjp=lambda xp, g, size: g))


def _broadcast_to(xp, x, size):
    """``input`` expanded to ``size``; a view."""
    return _broadcast(xp, x, _sizes((size,)))


broadcast_to = _ops.add(Op("broadcast_to", _broadcast_to, method=True, view=True,
                           grad_fn="ExpandBackward0", vjp=lambda xp, g, size: g))


def _expand_as(xp, x, other):
    """``input.expand(other.shape)``."""
    return _broadcast(xp, x, other.shape)


expand_as = _ops.add(Op("expand_as", _expand_as, inputs=("input", "other"), namespace=None,
                        method=True, view=True, grad_fn="ExpandBackward0",
                        vjp=lambda xp, g: (g, None)))


def _tiled(xp, x, reps):
    """``x`` repeated ``reps[i]`` times along dim i (``len(reps) >= x.ndim``), with the
    shapes the vjp needs."""
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    if any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{min(r * s for r, s in zip(reps, shape))}: "
                           f"{[r * s for r, s in zip(reps, shape)]}")
    sizes = [r * s for r, s in zip(reps, shape)]
    if math.prod(sizes) * x.itemsize >= 2 ** 63:
        # NumPy's repeat computes this size in 64 bits and writes past its buffer when it
        # overflows (a crash); PyTorch refuses it too.
        raise RuntimeError(f"repeat: a tensor of sizes {sizes} ({math.prod(sizes)} elements) "
                           "is larger than any array can be")
    # Each dim i as (reps[i], size): x broadcast over the repeats, written into the result
    # (np.tile's Python wrapper costs ~2 us); the vjp sums over them.
    split = tuple([v for r, s in zip(reps, shape) for v in (r, s)])
    out = xp.empty(tuple(sizes), dtype=x.dtype)
    out.reshape(split)[...] = x.reshape(tuple([v for s in shape for v in (1, s)]))
    return out, (x.shape, split)


def _repeat(xp, x, repeats):
    """``input`` repeated ``repeats[i]`` times along dim i; extra repeats add leading dims."""
    if len(repeats) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    return _tiled(xp, x, repeats)


def _repeat_vjp(xp, g, shapes, **params):
    # Each output dim split into (repeat, size), as the forward wrote it; summed over the repeats.
    shape, split = shapes
    summed = xp.sum(xp.reshape(g, split), axis=tuple(range(0, len(split), 2)))
    return xp.reshape(summed, shape)


repeat = _ops.add(Op("repeat", _repeat, residuals=True, namespace=None, method=True,
                     parse=_sizes_parser("repeats"), vjp=_repeat_vjp, jvp="linear"))


def _tile(xp, x, dims):
    """``input`` repeated ``dims[i]`` times along dim i; missing leading repeats are 1."""
    reps = _sizes((dims,), "dims")
    return _tiled(xp, x, (1,) * (x.ndim - len(reps)) + reps)


tile = _ops.add(Op("tile", _tile, residuals=True, method=True, grad_fn="RepeatBackward0",
                   vjp=_repeat_vjp, jvp="linear"))

# -- flipping ----------------------------------------------------------------------


def _reversed(xp, a, axes):
    """``a`` reversed along ``axes``: a view with negative strides."""
    if type(a) is np.ndarray:   # by a slice: np.flip's Python wrapper costs ~3 us
        index = [_ALL] * a.ndim
        for i in axes:
            index[i] = _BACKWARDS
        return a[tuple(index)]
    return xp.flip(a, axes)     # tensors (gradients of gradients) refuse negative steps


def _flipped(xp, x, axes):
    # A copy, as in PyTorch (NumPy's flip is a view with negative strides).
    return (_reversed(xp, x, axes).copy() if axes else x.copy()), axes


def _flip_vjp(xp, g, axes, **params):
    return _reversed(xp, g, axes) if axes else g


def _flip(xp, x, dims):
    """A copy of ``input`` reversed along ``dims``."""
    axes = _wrap_dims(dims, x.ndim)
    return _flipped(xp, x, axes if x.ndim else ())


flip = _ops.add(Op("flip", _flip, residuals=True, method=True, parse=_sizes_parser("dims"),
                   vjp=_flip_vjp, jvp="linear"))


def _fliplr(xp, x):
    """A copy of ``input`` reversed along dim 1 (left/right)."""
    if x.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return _flipped(xp, x, (1,))


fliplr = _ops.add(Op("fliplr", _fliplr, residuals=True, method=True, grad_fn="FlipBackward0",
                     vjp=_flip_vjp, jvp="linear"))


def _flipud(xp, x):
    """A copy of ``input`` reversed along dim 0 (up/down)."""
    if x.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return _flipped(xp, x, (0,))


flipud = _ops.add(Op("flipud", _flipud, residuals=True, method=True, grad_fn="FlipBackward0",
                     vjp=_flip_vjp, jvp="linear"))

# -- memory layout ---------------------------------------------------------------


def _contiguous(xp, x, memory_format=None):
    """``input`` in C order: a copy if it is not, else (in PyTorch, the input itself) a view."""
    return x[...] if x.flags.c_contiguous else xp.ascontiguousarray(x)


contiguous = _ops.add(Op("contiguous", _contiguous, namespace=None, method=True, view=True,
                         grad_fn=lambda x, memory_format=None:
                             "AliasBackward0" if x.flags.c_contiguous else "CloneBackward0",
                         vjp=lambda xp, g, memory_format=None: g))

# -- joining -------------------------------------------------------------------------


def _dim_args(tensors, dim=0, *, axis=None):
    # PyTorch's cat and stack also take NumPy's ``axis``.
    return (tensors,), {"dim": dim if axis is None else axis}


def _joined(xp, tensors, dim):
    """``tensors`` concatenated along ``dim`` with PyTorch's checks, and each one's extent
    along it (None for a skipped 1-D empty tensor)."""
    ndims = [t.ndim for t in tensors]
    if 0 in ndims:
        raise RuntimeError(f"zero-dimensional tensor (at position {ndims.index(0)}) cannot be "
                           "concatenated")
    # PyTorch skips 1-D empty tensors, whatever the others' shape (a legacy rule).
    skip = [n == 1 and t.size == 0 for n, t in zip(ndims, tensors)] if 1 in ndims else None
    kept = tensors if skip is None else [t for t, s in zip(tensors, skip) if not s] or tensors[:1]
    ref = kept[0]
    d = _wrap(dim, ref.ndim)
    before, after = ref.shape[:d], ref.shape[d + 1:]
    for i, t in enumerate(tensors):
        if (skip is not None and skip[i]) or (t.ndim == ref.ndim and t.shape[:d] == before
                                              and t.shape[d + 1:] == after):    # one comparison
            continue
        if t.ndim != ref.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {ref.ndim} and {t.ndim}")
        for k in range(t.ndim):
            if k != d and t.shape[k] != ref.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref.shape[k]} but got size {t.shape[k]} for tensor number {i} in the list.")
    sizes = ([t.shape[d] for t in tensors] if skip is None else
             [None if s else t.shape[d] for t, s in zip(tensors, skip)])
    shape = before + (sum([n for n in sizes if n is not None]),) + after
    # Into a C-ordered result, as PyTorch's: NumPy would follow the inputs' layout.
    return xp.concatenate(kept, axis=d, out=xp.empty(shape, ref.dtype)), (d, sizes)


def _split_back(xp, g, d, sizes, shapes=None):
    """The pieces of ``g`` along ``d`` that the joined tensors came from."""
    pieces, start, before = [], 0, (_ALL,) * d
    for k, n in enumerate(sizes):
        if n is None:
            pieces.append(xp.zeros((0,), dtype=g.dtype))
            continue
        piece = g[before + (slice(start, start + n),)]
        pieces.append(piece if shapes is None else xp.reshape(piece, shapes[k]))
        start += n
    return pieces


def _cat(xp, tensors, dim=0):
    """``tensors`` joined along their existing dim ``dim``; their other sizes must match
    (1-D empty tensors are skipped). The result's dtype is their promoted dtype."""
    return _joined(xp, tensors, dim)


cat = _ops.add(Op("cat", _cat, inputs=("*tensors",), residuals=True, promote="elementwise",
                  parse=_dim_args, aliases=("concat", "concatenate"),
                  vjp=lambda xp, g, at, dim=0: _split_back(xp, g, *at), jvp="linear"))


def _stack(xp, tensors, dim=0):
    """``tensors``, all of one shape, joined along a new dim ``dim``."""
    ref = tensors[0]
    d = _wrap(dim, ref.ndim + 1)
    for i, t in enumerate(tensors):
        if t.shape != ref.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(ref.shape)} at entry 0 and {list(t.shape)} at entry {i}")
    out = xp.empty(ref.shape[:d] + (len(tensors),) + ref.shape[d:], ref.dtype)
    return _stacked(xp, tensors, d, out), (d, len(tensors))   # C-ordered, see _joined


def _stacked(xp, arrays, d, out=None):
    """``arrays`` (of one shape) stacked along a new dim ``d``."""
    if type(arrays[0]) is np.ndarray:
        # Each written into its place: np.stack's Python wrapper costs ~4 us, and a
        # concatenate of reshaped arrays twice as much as these writes.
        if out is None:
            shape = arrays[0].shape[:d] + (len(arrays),) + arrays[0].shape[d:]
            out = np.empty(shape, np.result_type(*arrays))
        before = (_ALL,) * d
        for i, a in enumerate(arrays):
            out[before + (i,)] = a
        return out
    return xp.stack(arrays, axis=d, out=out) if out is not None else xp.stack(arrays, axis=d)


stack = _ops.add(Op("stack", _stack, inputs=("*tensors",), residuals=True, promote="elementwise",
                    parse=_dim_args,
                    vjp=lambda xp, g, at, dim=0:
                        [g[(slice(None),) * at[0] + (i,)] for i in range(at[1])], jvp="linear"))


def _atleast(a, ndim):
    """NumPy's atleast_1d/2d/3d (``ndim``) of an array of fewer dims, by a reshape
    (their Python wrappers cost ~1.5 us an array): 1-D (n) becomes (1, n) or (1, n, 1),
    2-D (m, n) becomes (m, n, 1), 0-D all ones."""
    if ndim == 3 and a.ndim:
        return a.reshape(((1,) if a.ndim == 1 else ()) + a.shape + (1,))
    return a.reshape((1,) * (ndim - a.ndim) + a.shape)


def _stacker(name, ndim, dim):
    """hstack, vstack, dstack: ``cat`` of the tensors raised to at least ``ndim`` dims
    (NumPy's atleast_1d/2d/3d), along dim ``dim(n)`` for raised tensors of n dims."""
    def forward(xp, tensors):
        raised = [t if t.ndim >= ndim else _atleast(t, ndim) for t in tensors]
        out, (d, sizes) = _joined(xp, raised, dim(raised[0].ndim))
        return out, (d, sizes, [t.shape for t in tensors])

    forward.__doc__ = f"``tensors`` joined {name} (see ``cat``)."
    return Op(name, forward, inputs=("*tensors",), residuals=True, promote="elementwise",
              grad_fn="CatBackward0", vjp=lambda xp, g, at: _split_back(xp, g, *at), jvp="linear")


hstack = _ops.add(_stacker("hstack", 1, lambda n: 0 if n == 1 else 1))
vstack = _ops.add(_stacker("vstack", 2, lambda n: 0))
dstack = _ops.add(_stacker("dstack", 3, lambda n: 2))

# -- splitting ------------------------------------------------------------------------


def _pieces(x, d, sizes):
    """Views of ``x`` along ``d``, of the given extents, and what the vjp needs."""
    out, start, before = [], 0, (_ALL,) * d
    for n in sizes:
        out.append(x[before + (slice(start, start + n),)])
        start += n
    return tuple(out), d


def _split_args(tensor, split_size_or_sections=None, dim=0, *, split_size=None,
                split_sizes=None):
    # ``Tensor.split`` calls its first parameter ``split_size``, ``split_with_sizes``
    # (this op's alias) ``split_sizes``.
    sizes = next((s for s in (split_size, split_sizes) if s is not None), split_size_or_sections)
    return (tensor,), {"split_size_or_sections": sizes, "dim": dim}


def _split(xp, x, *, split_size_or_sections, dim=0):
    """``input`` cut along ``dim`` into pieces of ``split_size_or_sections`` (an int: all of
    that size but the last) or of the listed sizes; a tuple of views."""
    if x.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _wrap(dim, x.ndim)
    size, sections = x.shape[d], split_size_or_sections
    if isinstance(sections, (tuple, list)):
        sizes = _sizes((sections,), "split_sizes")
        if sum(sizes) != size or any(n < 0 for n in sizes):
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
                f"size at dimension {d}), but got split_sizes={list(sizes)}")
        return _pieces(x, d, sizes)
    n = operator.index(sections)
    if n < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={n}")
    if n == 0 and size:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension "
                           f"size of {size}")
    return _pieces(x, d, [min(n, size - s) for s in range(0, size, n)] if size else [0])


def _split_name(x, *, split_size_or_sections, dim=0):
    listed = isinstance(split_size_or_sections, (tuple, list))
    return "SplitWithSizesBackward0" if listed else "SplitBackward0"


# The gradients of the pieces (zeros for those that got none) joined back.
split = _ops.add(Op("split", _split, residuals=True, n_outputs=None, output_type=tuple, method=True,
                    view=True, parse=_split_args, aliases="split_with_sizes", grad_fn=_split_name,
                    vjp=lambda xp, g, d, **params: xp.concatenate(g, axis=d)))


def _chunk(xp, x, chunks, dim=0):
    """``input`` cut along ``dim`` into ``chunks`` pieces of equal size (the last may be
    smaller, and there may be fewer); a tuple of views."""
    if x.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _wrap(dim, x.ndim)
    size = x.shape[d]
    if size == 0:
        return _pieces(x, d, [0] * chunks)
    n = -(-size // chunks)
    return _pieces(x, d, [min(n, size - s) for s in range(0, size, n)])


chunk = _ops.add(Op("chunk", _chunk, residuals=True, n_outputs=None, output_type=tuple, method=True,
                    view=True, grad_fn="SplitBackward0",
                    vjp=lambda xp, g, d, chunks, dim=0: xp.concatenate(g, axis=d)))


def _unbind(xp, x, dim=0):
    """The slices of ``input`` along ``dim``, which they lack; a tuple of views."""
    if x.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = _wrap(dim, x.ndim)
    before = (_ALL,) * d
    return tuple([x[before + (i, Ellipsis)] for i in range(x.shape[d])]), d


unbind = _ops.add(Op("unbind", _unbind, residuals=True, n_outputs=None, output_type=tuple,
                     method=True, view=True, vjp=lambda xp, g, d, dim=0: _stacked(xp, g, d)))


OPS = tuple(_ops)


# -- samples for the conformance kit ------------------------------------------------------


__getattr__ = lazy_conformance_cases(__name__)


def _conformance_cases():
    """Calls of each op: sizes as a tuple and one by one, -1 sizes, negative dims, 0-d and
    size-1 dims, several tensors of mixed shapes."""
    from autogradx.conformance import Arg, Sample as S

    def x(*shape):
        return Arg(shape)

    def like(*shape):       # an operand whose shape alone matters
        return Arg(shape, requires_grad=False)

    return {
        "reshape": [S(x(2, 3), (3, 2)), S(x(2, 3), -1), S(x(2, 3), 1, 3, 2), S(x(), (1,)),
                    S(x(1), ())],
        "reshape_as": [S(x(2, 3), like(3, 2)), S(x(2, 3), like(6, 1))],
        "view": [S(x(2, 3), (3, 2)), S(x(2, 3), -1), S(x(2, 3), 3, -1), S(x(), (1, 1))],
        "view_as": [S(x(2, 3), like(6)), S(x(2, 3), like(1, 3, 2))],
        "flatten": [S(x(2, 3, 4)), S(x(2, 3, 4), 1), S(x(2, 3, 4), 0, -2), S(x()), S(x(2, 3), 1)],
        "ravel": [S(x(2, 3)), S(x())],
        "unflatten": [S(x(2, 6), 1, (2, 3)), S(x(6), 0, (-1, 2)), S(x(2, 6), -1, (3, 1, 2))],
        "squeeze": [S(x(2, 1, 3)), S(x(2, 1, 3), 1), S(x(2, 1, 3), 0), S(x(1, 2, 1), (0, -1)),
                    S(x())],
        "unsqueeze": [S(x(2, 3), 1), S(x(), 0), S(x(2, 3), -1)],
        "permute": [S(x(2, 3, 4), (2, 0, 1)), S(x(2, 3, 4), 1, -1, 0), S(x(), ())],
        "transpose": [S(x(2, 3, 4), 0, 2), S(x(2, 3), -1, -2), S(x(2, 3), 1, 1)],
        "as_strided": [S(x(2, 3), (2, 2), (1, 2)), S(x(6), (3, 2), (1, 1), 1), S(x(2, 3), (0,), (1,))],
        "t": [S(x(2, 3)), S(x(3)), S(x())],
        "movedim": [S(x(2, 3, 4), 0, -1), S(x(2, 3, 4), (0, 1), (2, 0))],
        "diagonal": [S(x(3, 4)), S(x(3, 4), 1), S(x(4, 3), -2), S(x(2, 3, 4), 0, 0, 2),
                     S(x(2, 3, 4), 1, -1, 0), S(x(2, 3), 5)],
        "expand": [S(x(3, 1), (2, 3, 4)), S(x(3, 1), -1, 4), S(x(), (2,))],
        "broadcast_to": [S(x(3, 1), (2, 3, 4)), S(x(), (2, 3))],
        "expand_as": [S(x(3, 1), like(2, 3, 4)), S(x(1), like(5))],
        "repeat": [S(x(2, 3), (2, 1)), S(x(2, 3), 1, 2, 2), S(x(3), (2, 2)), S(x(), (3,))],
        "tile": [S(x(2, 3), (2, 1)), S(x(2, 3), (2,)), S(x(3), (2, 2))],
        "flip": [S(x(2, 3, 4), (0, 2)), S(x(2, 3), [-1]), S(x(2, 3), 0)],
        "fliplr": [S(x(2, 3)), S(x(2, 3, 2))],
        "flipud": [S(x(3)), S(x(2, 3))],
        "contiguous": [S(x(2, 3)), S(x())],
        "cat": [S([x(2, 3), x(1, 3)]), S([x(2, 3), x(2, 2)], 1), S([x(4)]),
                S([x(2, 3), x(2, 1), x(2, 2)], dim=-1)],
        "stack": [S([x(2, 3), x(2, 3)]), S([x(2, 3), x(2, 3), x(2, 3)], 2), S([x(), x()]),
                  S([x(3), x(3)], dim=-1)],
        "hstack": [S([x(2, 3), x(2, 1)]), S([x(3), x(2)]), S([x(), x()])],
        "vstack": [S([x(2, 3), x(1, 3)]), S([x(3), x(3)])],
        "dstack": [S([x(2, 3), x(2, 3)]), S([x(3), x(3)]), S([x(2, 3, 1), x(2, 3, 2)])],
        "split": [S(x(5, 3), 2), S(x(5, 3), [1, 2], dim=1), S(x(5, 3), 5), S(x(4), [1, 0, 3])],
        "chunk": [S(x(5, 3), 2), S(x(5, 3), 3, 1), S(x(5, 3), 2, -1)],
        "unbind": [S(x(2, 3)), S(x(2, 3), 1), S(x(2, 3), dim=-1)],
    }
