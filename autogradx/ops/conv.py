"""Convolution and pooling of ``autogradx.nn.functional``, by im2col.

The forward lays the sliding windows of the padded input out as columns
(:func:`_im2col`: kernel offsets by channel, then every output position) and
multiplies the filters with them, one matmul per group. The vjp for the
filters is the product of the output gradient with the same columns; the vjp
for the input multiplies the output gradient by the filters and sums the
windows back onto the input (:func:`_col2im`, the adjoint of the windowing).
Pooling reuses the windows, their kernel offsets flattened into one axis: max
pooling records the flat index of each window's maximum and scatter-adds the
gradient there, average pooling sums that axis and spreads the gradient back
with :func:`_col2im`.

Everything runs on the array module ``xp`` the op is handed. The vjps also
run on tensors (``create_graph=True``), so they use only functions autogradx
has as ops, plus ``xp.add.at`` for the scatter and ``out[idx] = out[idx] + v``
for col2im, which autogradx records; :func:`_windows` is the one piece that
differs by array type (a strided view; tensors take a slower path of stacked
slices).

On the small inputs where Python costs more than the arithmetic, what follows
from the arguments alone is worked out once per argument set and kept: the
checked geometry (:func:`_memoised`), the windows' strides and positions, the
padded shape, max pooling's index parts, average pooling's divisors.
"""

import functools
import itertools
import math

import numpy as np

from autogradx._core.names import c_name, scalar_name
from autogradx._core.tensor import TensorBase
from autogradx.ops.complex import refuse_complex
from autogradx.plugin import Op, OpList, lazy_conformance_cases

_ops = OpList()      # every op defined below, in order; OPS at the end

_NN = "nn.functional"
_BOTH = ("", "nn.functional")       # torch.conv2d as well as F.conv2d



# -- the windowing helpers -----------------------------------------------------------

def _offsets(kernel):
    """Every kernel offset, in row-major order."""
    return itertools.product(*(range(k) for k in kernel))


def _place(offset, stride, dilation, out):
    """The slices that pick the element at kernel ``offset`` of each of ``out`` windows."""
    return tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                 for o, s, d, n in zip(offset, stride, dilation, out))


def _windows(xp, x, kernel, stride, dilation, out):
    """The first ``out`` windows over the spatial axes of ``(N, C, ...)`` ``x``:
    ``(N, C, *kernel, *out)``.

    An array gets a strided view, no copy: a NumPy array through the ndarray
    constructor over its buffer (0.5 us, where ``sliding_window_view`` spends
    15 us in Python), another backend's through ``sliding_window_view``. A
    tensor (a vjp run with ``create_graph=True``) gets its slices, stacked.
    """
    nd = len(kernel)
    if type(x) is np.ndarray:
        x = np.ascontiguousarray(x)         # the buffer must be one block
        shape, strides = _window_layout(x.shape, x.strides, kernel, stride, dilation, out)
        return np.ndarray(shape, x.dtype, x, 0, strides)
    if isinstance(x, TensorBase):
        slabs = [x[(slice(None), slice(None)) + _place(offset, stride, dilation, out)]
                 for offset in _offsets(kernel)]
        return xp.stack(slabs, 2).reshape(tuple(x.shape[:2]) + tuple(kernel) + tuple(out))
    span = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
    view = xp.lib.stride_tricks.sliding_window_view(x, span, axis=tuple(range(2, 2 + nd)))
    view = view[(slice(None), slice(None))
                + tuple(slice(0, (n - 1) * s + 1, s) for n, s in zip(out, stride))
                + tuple(slice(None, None, d) for d in dilation)]
    return xp.moveaxis(view, tuple(range(2 + nd, 2 + 2 * nd)), tuple(range(2, 2 + nd)))


@functools.lru_cache(maxsize=256)
def _window_layout(shape, strides, kernel, stride, dilation, out):
    """The shape and strides (in bytes) of :func:`_windows` of a NumPy array."""
    steps = strides[2:]
    return (shape[:2] + tuple(kernel) + tuple(out),
            strides[:2] + tuple(t * d for t, d in zip(steps, dilation))
            + tuple(t * s for t, s in zip(steps, stride)))


@functools.lru_cache(maxsize=64)      # at most 64 x 128 kB: see _COL2IM_SCATTER_MAX
def _window_positions(shape, kernel, stride, dilation, out):
    """For each element of :func:`_windows` of an array of ``shape``, its flat position
    in that array (NumPy int64, read-only: it is shared by every call of this geometry)."""
    positions = _windows(np, np.arange(math.prod(shape)).reshape(shape), kernel, stride,
                         dilation, out).copy()
    positions.flags.writeable = False
    return positions


# Below this many elements of ``cols``, one ``add.at`` beats a slice-add per kernel
# offset (Python calls dominate); above it the vectorised adds win (add.at is ~5x slower
# per element: 2.7 ms against 0.6 ms for 1.2M).
_COL2IM_SCATTER_MAX = 1 << 14


def _col2im(xp, cols, shape, stride, dilation):
    """The adjoint of :func:`_windows`: each window of ``cols`` summed back at its place.

    ``cols`` is ``(a, b, *kernel, *out)``; the result is ``(a, b, *shape)``. One
    strided slice per kernel offset (the windows of one offset do not overlap),
    or, for a small NumPy ``cols``, one scatter-add to the windows' positions.
    """
    nd = len(stride)
    kernel, out_size = cols.shape[2:2 + nd], cols.shape[2 + nd:]
    full = tuple(cols.shape[:2]) + tuple(shape)
    grad = xp.zeros(full, dtype=cols.dtype)
    if type(cols) is np.ndarray and cols.size <= _COL2IM_SCATTER_MAX:
        positions = _window_positions(full, tuple(kernel), tuple(stride), tuple(dilation),
                                      tuple(out_size))
        np.add.at(grad.reshape(-1), positions, cols)
        return grad
    for offset in _offsets(kernel):
        place = (slice(None), slice(None)) + _place(offset, stride, dilation, out_size)
        grad[place] = grad[place] + cols[(slice(None), slice(None)) + offset]
    return grad


def _scatter_add(xp, values, index, size):
    """``out[index] += values`` into ``size`` zeros, repeated indices adding up."""
    grad = xp.zeros(size, dtype=values.dtype)
    xp.add.at(grad, index.reshape(-1), values.reshape(-1))
    return grad


def _pad(xp, x, pads, value=0):
    """Pad the last ``len(pads)`` axes by ``(before, after)`` pairs.

    A filled array with ``x`` written in: ``xp.pad`` costs 20-40 us of Python.
    """
    if not any(lo or hi for lo, hi in pads):
        return x
    shape, inside = _padding(tuple(x.shape), pads)
    out = xp.zeros(shape, dtype=x.dtype) if value == 0 else xp.full(shape, value, dtype=x.dtype)
    out[inside] = x
    return out


@functools.lru_cache(maxsize=256)
def _padding(shape, pads):
    """The shape of ``shape`` padded by ``pads`` (on its last axes), and the index of the
    original inside it."""
    lead = len(shape) - len(pads)
    return (shape[:lead] + tuple(n + lo + hi for n, (lo, hi) in zip(shape[lead:], pads)),
            (Ellipsis,) + tuple(slice(lo, lo + n) for (lo, _), n in zip(pads, shape[lead:])))


def _crop(g, pads, shape):
    """The inverse of :func:`_pad` on a gradient: the part over the original ``shape``."""
    return g[_padding(tuple(shape), pads)[1]]


def _memoised(check):
    """``check``, a function of hashable arguments that validates them and returns their
    geometry, answered from a cache: the forward and the vjps ask for the same one on
    every call. Errors are not cached. Arguments are checked afresh where they are not
    hashable (a list for a stride) or hold anything but ints in a tuple: ``(1.0, 2)``
    equals ``(1, 2)`` as a key, but PyTorch refuses it (``typed`` tells a float from an
    int only at the top level)."""
    cached = functools.lru_cache(maxsize=256, typed=True)(check)

    @functools.wraps(check)
    def geometry(*args):
        for a in args:
            if type(a) is tuple and any(type(v) is not int for v in a):
                return check(*args)
        try:
            return cached(*args)
        except TypeError:       # unhashable: a TypeError of check itself comes back again
            return check(*args)
    return geometry


# -- integer arguments ---------------------------------------------------------------

def _is_index(v):
    """An int for PyTorch's argument parser: a Python or NumPy integer, not a bool."""
    return (isinstance(v, int) and not isinstance(v, bool)) or isinstance(v, np.integer)


def _type_name(v):
    t = type(v)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _ints(name, value, what, position=None):
    """``value`` (an int, or a tuple or list of ints) as Python ints: an int or a tuple.
    Anything else (a float, even 2.0; a bool; a NumPy array) raises PyTorch's TypeError,
    as its argument parser does before the op looks at anything."""
    where = f"{name}(): argument '{what}'" + (f" (position {position})" if position else "")
    if _is_index(value):
        return int(value)
    if type(value) not in (tuple, list):
        raise TypeError(f"{where} must be tuple of ints, not {_type_name(value)}")
    for i, v in enumerate(value):
        if not _is_index(v):
            raise TypeError(f"{where} must be tuple of ints, but found element of type "
                            f"{_type_name(v)} at pos {i}")
    return tuple(int(v) for v in value)


# -- convolution ---------------------------------------------------------------------

# Where PyTorch's conv1d/2d/3d(input, weight, bias, stride, padding, dilation, groups) takes them.
_CONV_POSITIONS = {"stride": 4, "padding": 5, "dilation": 6, "groups": 7}


def _expand(name, value, nd, what):
    """``value`` (an int, or a sequence of 1 or ``nd`` ints) as a tuple of ``nd`` ints."""
    value = _ints(name, value, what, _CONV_POSITIONS[what])
    if isinstance(value, int):
        return (value,) * nd
    if len(value) == 1:
        return value * nd
    if len(value) != nd:
        raise RuntimeError(
            f"expected {what} to be a single integer value or a list of {nd} values to match "
            f"the convolution dimensions, but got {what}={list(value)}")
    return value


class _ConvGeometry:
    """The checked arguments of one convolution, normalised to tuples; its padded and output
    sizes, and the axis order that lays its windows out as columns."""

    __slots__ = ("stride", "pads", "dilation", "groups", "batched", "out", "padded", "col_order")

    def __init__(self, stride, pads, dilation, groups, batched, out, padded):
        self.stride, self.pads, self.dilation = stride, pads, dilation
        self.groups, self.batched, self.out, self.padded = groups, batched, out, padded
        # the windows' axes as columns: (N, C, *kernel, *out) -> (C, *kernel, N, *out)
        nd = len(stride)
        self.col_order = (1, *range(2, 2 + nd), 0, *range(2 + nd, 2 + 2 * nd))


def _conv_pads(nd, padding, kernel, stride, dilation):
    """``(before, after)`` per spatial axis, from a padding string or ``nd`` ints."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        # an odd total pads one more after than before, as in PyTorch
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    return tuple((p, p) for p in padding)


def _conv_dtypes(nd, x, weight, bias):
    """PyTorch's checks of a convolution's dtypes."""
    if x.dtype.kind == "b":
        raise NotImplementedError(f"\"slow_conv{'2d' if nd == 2 else ''}_cpu\" not implemented "
                                  "for 'Bool'")
    if weight.dtype != x.dtype:
        raise RuntimeError(f"expected scalar type {scalar_name(x.dtype)} but found "
                           f"{scalar_name(weight.dtype)}")
    if bias is not None and bias.dtype != x.dtype:
        raise RuntimeError(
            f"Input type ({c_name(x.dtype)}) and bias type "
            f"({c_name(bias.dtype)}) should be the same")


def _conv_geometry(nd, x_shape, w_shape, bias_shape, stride, padding, dilation, groups):
    """PyTorch's checks of a convolution's shapes and arguments; returns its geometry.

    Shapes only, so that the vjps (which may run on tensors) recompute it (from a
    cache: :func:`_memoised`).
    """
    return _check_conv_geometry(nd, tuple(x_shape), tuple(w_shape),
                                None if bias_shape is None else tuple(bias_shape),
                                stride, padding, dilation, groups)


@_memoised
def _check_conv_geometry(nd, x_shape, w_shape, bias_shape, stride, padding, dilation, groups):
    name = f"conv{nd}d"
    # the argument types first, as PyTorch's parser checks them before the op runs
    stride = _expand(name, stride, nd, "stride")
    dilation = _expand(name, dilation, nd, "dilation")
    if not isinstance(padding, str):
        padding = _expand(name, padding, nd, "padding")
    if not _is_index(groups):
        raise TypeError(f"{name}(): argument 'groups' (position {_CONV_POSITIONS['groups']}) "
                        f"must be int, not {_type_name(groups)}")
    groups = int(groups)
    if len(x_shape) not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got "
            f"input of size: {list(x_shape)}")
    if len(w_shape) != nd + 2:
        raise RuntimeError(f"Expected {nd + 2}D weight for {name}, but got weight of size: "
                           f"{list(w_shape)}")
    kernel = w_shape[2:]
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    pads = _conv_pads(nd, padding, kernel, stride, dilation)
    c_out = w_shape[0]
    if c_out == 0 or c_out % groups:
        what = "at least 1" if c_out == 0 else f"divisible by {groups}"
        raise RuntimeError(f"Given groups={groups}, expected weight to be {what} at dimension 0, "
                           f"but got weight of size {list(w_shape)} instead")
    channels = x_shape[-nd - 1]
    if channels != w_shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(w_shape)}, expected "
            f"input{list(x_shape)} to have {w_shape[1] * groups} channels, but got "
            f"{channels} channels instead")
    if bias_shape is not None and tuple(bias_shape) != (c_out,):
        raise RuntimeError(
            f"Given weight of size {list(w_shape)}, expected bias to be 1-dimensional with "
            f"{c_out} elements, but got bias of size {list(bias_shape)} instead")
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[-nd:], pads))
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    if any(p < s for p, s in zip(padded, span)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
            f"Kernel size: ({' x '.join(map(str, span))}). Kernel size can't be greater than "
            "actual input size")
    out = tuple((p - s) // st + 1 for p, s, st in zip(padded, span, stride))
    return _ConvGeometry(stride, pads, dilation, groups, len(x_shape) == nd + 2, out, padded)



def _im2col(xp, x, kernel, geo):
    """The windows of padded ``x`` as columns: ``(groups, C/groups * prod(kernel), N * prod(out))``.

    Kernel offsets outside, output positions inside: copying the strided view
    in this order is an order of magnitude faster than rows of whole windows.
    """
    out = geo.out
    x = _pad(xp, x, geo.pads)
    n, c = x.shape[:2]
    win = _windows(xp, x, kernel, geo.stride, geo.dilation, out)
    cols = xp.transpose(win, geo.col_order).reshape(
        geo.groups, c // geo.groups * math.prod(kernel), n * math.prod(out))
    return cols, out


def _filters(w, groups):
    """The filters as ``(groups, C_out/groups, C_in/groups * prod(kernel))``."""
    return w.reshape(groups, w.shape[0] // groups, math.prod(w.shape[1:]))


def _grad_rows(xp, g, groups):
    """The output gradient ``(N, C_out, *out)`` as ``(groups, C_out/groups, N * prod(out))``."""
    n, c = g.shape[:2]
    return xp.swapaxes(g, 0, 1).reshape(groups, c // groups, n * math.prod(g.shape[2:]))


def _conv(xp, nd, x, weight, bias, stride, padding, dilation, groups):
    _conv_dtypes(nd, x, weight, bias)
    geo = _conv_geometry(nd, x.shape, weight.shape, None if bias is None else bias.shape,
                         stride, padding, dilation, groups)
    if not geo.batched:
        x = x[None]
    cols, out = _im2col(xp, x, weight.shape[2:], geo)
    y = xp.matmul(_filters(weight, groups), cols)          # (groups, C_out/groups, N * prod(out))
    y = xp.swapaxes(y.reshape((weight.shape[0], x.shape[0]) + out), 0, 1)
    if bias is not None:
        y = y + bias.reshape((-1,) + (1,) * nd)
    y = xp.ascontiguousarray(y)
    return y if geo.batched else y[0]


def _vjp_geometry(x, weight, stride, padding, dilation, groups):
    return _conv_geometry(weight.ndim - 2, x.shape, weight.shape, None, stride, padding,
                          dilation, groups)


# Input and weight each read both: the input's gradient needs the weight and the input's
# shape, the weight's the input and the kernel's shape; neither shape shows in g (a
# strided output's size does not give the input's back).

def _conv_grad_input(xp, g, input, weight, stride=1, padding=0, dilation=1, groups=1):
    x = input
    geo = _vjp_geometry(x, weight, stride, padding, dilation, groups)
    if not geo.batched:
        g, x = g[None], x[None]
    nd = len(geo.stride)
    n, c = x.shape[:2]
    cols = xp.matmul(xp.swapaxes(_filters(weight, geo.groups), 1, 2), _grad_rows(xp, g, geo.groups))
    # (groups, C/groups * prod(kernel), N * prod(out)) -> (C, N, *kernel, *out)
    cols = xp.moveaxis(cols.reshape((c,) + weight.shape[2:] + (n,) + g.shape[2:]), 1 + nd, 1)
    grad = xp.swapaxes(_col2im(xp, cols, geo.padded, geo.stride, geo.dilation), 0, 1)
    grad = _crop(grad, geo.pads, x.shape)
    return grad if geo.batched else grad[0]


def _conv_grad_weight(xp, g, input, weight, stride=1, padding=0, dilation=1, groups=1):
    x = input
    geo = _vjp_geometry(x, weight, stride, padding, dilation, groups)
    if not geo.batched:
        g, x = g[None], x[None]
    cols, _ = _im2col(xp, x, weight.shape[2:], geo)
    return xp.matmul(_grad_rows(xp, g, geo.groups), xp.swapaxes(cols, 1, 2)).reshape(weight.shape)


def _conv_grad_bias(nd):
    """The bias's formula reads nothing: g is (N, C_out, *out), or (C_out, *out) unbatched."""
    def grad_bias(xp, g, **_):
        axes = tuple(i for i in range(g.ndim) if i != (1 if g.ndim == nd + 2 else 0))
        return xp.sum(g, axis=axes)
    return grad_bias


def _conv_name(x, weight, bias=None, *args, **params):
    # PyTorch convolves an unbatched input as a batch of one and squeezes it.
    return "ConvolutionBackward0" if x.ndim == weight.ndim else "SqueezeBackward1"


def _conv_op(nd, forward):
    return Op(f"conv{nd}d", forward, namespace=_BOTH, inputs=("input", "weight", "bias"),
              grad_fn=_conv_name,
              vjp={"input": _conv_grad_input, "weight": _conv_grad_weight,
                   "bias": _conv_grad_bias(nd)})


def _conv1d(xp, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution (cross-correlation) of ``(N, C_in, L)`` or ``(C_in, L)`` input.

    ``weight`` is ``(C_out, C_in / groups, k)``; ``padding`` is an int, a
    1-tuple, ``'valid'`` or ``'same'`` (stride 1 only).
    """
    return _conv(xp, 1, input, weight, bias, stride, padding, dilation, groups)


def _conv2d(xp, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation) of ``(N, C_in, H, W)`` or ``(C_in, H, W)`` input.

    ``weight`` is ``(C_out, C_in / groups, kH, kW)``; ``stride``, ``padding``
    and ``dilation`` are ints or pairs; ``padding`` may also be ``'valid'``
    or ``'same'`` (stride 1 only; an odd total pads one more at the end).
    """
    return _conv(xp, 2, input, weight, bias, stride, padding, dilation, groups)


def _conv3d(xp, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d convolution (cross-correlation) of ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)`` input.

    ``weight`` is ``(C_out, C_in / groups, kD, kH, kW)``; arguments as for :func:`conv2d`.
    """
    return _conv(xp, 3, input, weight, bias, stride, padding, dilation, groups)


conv1d = _ops.add(_conv_op(1, _conv1d))
conv2d = _ops.add(_conv_op(2, _conv2d))
conv3d = _ops.add(_conv_op(3, _conv3d))


# -- pooling -------------------------------------------------------------------------

# Where PyTorch's max_pool2d(input, kernel_size, stride, padding, dilation) takes them
# (its avg_pool2d's messages give no position).
_POOL_POSITIONS = {"kernel_size": 2, "stride": 3, "padding": 4, "dilation": 5}


def _pair(name, value, what, allow_none=False):
    if allow_none and (value is None or (type(value) in (tuple, list) and len(value) == 0)):
        return None
    value = _ints(name, value, what, _POOL_POSITIONS[what] if name == "max_pool2d" else None)
    if isinstance(value, int):
        return (value, value)
    if len(value) in (1, 2):
        return value * (3 - len(value))
    ways = "must either be omitted, a single int" if allow_none else "must either be a single int"
    if what == "dilation":
        ways = "must be either a single int"
    raise RuntimeError(f"{name}: {what} {ways}, or a tuple of two ints")


def _pool_out(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size: the last window must start inside the input or its
    left padding."""
    n = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (n - 1) * s >= size + p:
        n -= 1
    return n


class _PoolGeometry:
    """The checked arguments of one 2-d pooling; its vjp gets it as a residual.

    One object serves every call of the same arguments (see :func:`_memoised`),
    so what follows from them alone is worked out once: the padding, and, in
    ``memo``, the index arrays and divisors.
    """

    __slots__ = ("kernel", "stride", "padding", "dilation", "out", "shape", "batched", "pads",
                 "padded_size", "flat_windows", "disjoint", "_memo")

    def __init__(self, kernel, stride, padding, dilation, out, shape, batched):
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        self.out, self.shape, self.batched = out, shape, batched
        # before and after each spatial dim: enough after for the ceil_mode windows
        self.pads = tuple((p, max(p, (o - 1) * s + (k - 1) * d + 1 - n - p))
                          for n, k, s, p, d, o in zip(shape[2:], kernel, stride, padding,
                                                      dilation, out))
        self.padded_size = tuple(n + lo + hi for n, (lo, hi) in zip(shape[2:], self.pads))
        self.flat_windows = shape[:2] + (math.prod(kernel),) + out
        # no two windows share an element (each starts past the last one's end)
        self.disjoint = all(s >= (k - 1) * d + 1 for k, s, d in zip(kernel, stride, dilation))
        self._memo = {}

    def memo(self, key, make):
        """``make()``, made once per ``key`` (which names the array module where it matters)."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = make()
            return value

    def windows(self, xp, x, value):
        """The windows of ``x`` padded with ``value``, kernel offsets flattened, in an array
        of their own: ``(N, C, kH * kW, outH, outW)``."""
        win = _windows(xp, _pad(xp, x.reshape(self.shape), self.pads, value), self.kernel,
                       self.stride, self.dilation, self.out)
        return win.reshape(self.flat_windows)


@_memoised
def _pool_check(name, shape, kernel_size, stride, padding, dilation, ceil_mode):
    """PyTorch's checks of a 2-d pooling's arguments (in its order) for an input of
    ``shape``; returns the geometry."""
    kernel = _pair(name, kernel_size, "kernel_size")
    stride = _pair(name, stride, "stride", allow_none=True) or kernel
    padding = _pair(name, padding, "padding")
    dilation = _pair(name, dilation, "dilation")
    ndim = len(shape)
    if ndim not in (3, 4) and name == "max_pool2d":
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    if ndim not in (3, 4) or 0 in shape[-3:]:
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with optional 0 dim batch "
                           f"size for input, but got:{list(shape)}")
    if 0 in stride:
        raise RuntimeError("stride should not be zero")
    if min(kernel) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {kernel[0]} "
                           f"kW: {kernel[1]}")
    if min(stride) < 0:
        raise RuntimeError(f"stride should be greater than zero, but got dH: {stride[0]} "
                           f"dW: {stride[1]}")
    if min(dilation) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: "
                           f"{dilation[0]} dilationW: {dilation[1]}")
    if min(padding) < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {min(padding)}")
    for k, p, d in zip(kernel, padding, dilation):
        if p > ((k - 1) * d + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    if any(p > k // 2 for k, p in zip(kernel, padding)):
        raise RuntimeError(
            "pad should be smaller than or equal to half of kernel size, but got padW = "
            f"{padding[1]}, padH = {padding[0]}, kW = {kernel[1]}, kH = {kernel[0]}")
    batched = ndim == 4
    shape = shape if batched else (1,) + shape
    out = tuple(_pool_out(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(shape[2:], kernel, stride, padding, dilation))
    if min(out) < 1:
        raise RuntimeError(
            f"Given input size: ({'x'.join(map(str, shape[1:]))}). Calculated output size: "
            f"({shape[1]}x{out[0]}x{out[1]}). Output size is too small")
    return _PoolGeometry(kernel, stride, padding, dilation, out, shape, batched)


# Up to this many windows, NumPy's argmax over the kernel axis beats the three whole-array
# calls of the weighted alternative below (measured: 1 against 5 us at 64 windows, even
# at 4096, 230 against 200 us at 16384).
_ARGMAX_WINDOWS = 4096


def _max_pool(xp, x, kernel_size, stride, padding, dilation, ceil_mode):
    """``(values, flat indices into each input plane, geometry)`` of 2-d max pooling.

    PyTorch's scan through the kernel offsets in order, in which a value
    replaces the maximum if greater or NaN: ties go to the first maximum, NaNs
    to the last NaN, and the padding (-inf, or the lowest integer) is never taken.
    """
    if x.dtype.kind == "b":
        raise NotImplementedError("\"max_pool2d\" not implemented for 'Bool'")
    geo = _pool_check("max_pool2d", tuple(x.shape), kernel_size, stride, padding, dilation,
                      ceil_mode)
    lowest = -xp.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min
    win = geo.windows(xp, x, lowest)
    best = win.max(axis=2)
    size = win.shape[2]
    if best.size <= _ARGMAX_WINDOWS:
        arg = win.argmax(axis=2)        # the first maximum, or the first NaN
    else:
        # Offset k weighs K - k where it holds the maximum: the heaviest is the first. (An
        # argmax makes a call per window: 3 times slower on 100k windows of 3 x 3.)
        weight = geo.memo(("weight", xp), lambda: xp.arange(size, 0, -1).reshape(size, 1, 1))
        arg = size - ((win == best[:, :, None]) * weight).max(axis=2)
    if x.dtype.kind == "f":
        nan = xp.isnan(best)
        if nan.any():   # the last NaN: the first in the reversed windows
            arg = xp.where(nan, size - 1 - win[:, :, ::-1].argmax(axis=2), arg)
    index = _plane_index(xp, arg, geo)
    if any(geo.padding):
        # No element above the lowest value (-inf, or the lowest integer) may mean the
        # padding's: PyTorch points at the window's first element inside the input. (With
        # no padding before, that is where ``arg`` already points.)
        first = geo.memo(("first_inside", xp), lambda: _first_inside(xp, geo))
        index = xp.where(best == lowest, first, index)
    return best, index, geo


def _plane_index(xp, arg, geo):
    """The flat ``h * W + w`` input index of kernel offset ``arg`` of each window."""
    corner, step = geo.memo(("plane_index", xp), lambda: _plane_index_parts(xp, geo))
    return corner + step.take(arg)


def _plane_index_parts(xp, geo):
    """Each window's top left corner (padding included) and the step from it to each kernel
    offset, as flat plane indices."""
    kw, (sh, sw), (ph, pw), (dh, dw) = geo.kernel[1], geo.stride, geo.padding, geo.dilation
    width = geo.shape[3]
    top = xp.arange(geo.out[0])[:, None] * sh - ph
    left = xp.arange(geo.out[1]) * sw - pw
    offset = xp.arange(math.prod(geo.kernel))
    return ((top * width + left).astype(xp.int64),
            ((offset // kw * dh) * width + offset % kw * dw).astype(xp.int64))


def _first_inside(xp, geo):
    """Each window's first element inside the input, as a flat plane index."""
    (sh, sw), (ph, pw), (dh, dw) = geo.stride, geo.padding, geo.dilation
    top = xp.arange(geo.out[0])[:, None] * sh - ph
    left = xp.arange(geo.out[1]) * sw - pw
    return ((top + _ceil_div(-top, dh) * dh * (top < 0)) * geo.shape[3]
            + left + _ceil_div(-left, dw) * dw * (left < 0)).astype(xp.int64)


def _ceil_div(a, b):
    return -(-a // b)


def _unbatch(a, geo):
    return a if geo.batched else a[0]


def _max_pool_grad(xp, g, geo, index):
    n, c, height, width = geo.shape
    planes = (n * c, math.prod(geo.out))
    starts = geo.memo(("plane_starts", xp), lambda: xp.arange(n * c)[:, None] * (height * width))
    flat = index.reshape(planes) + starts
    if geo.disjoint and type(g) is np.ndarray:
        # windows apart: no input element is two windows' maximum, so an assignment does
        # what the scatter-add would (NumPy's add.at costs 2-3 us more on a small array)
        grad = np.zeros(n * c * height * width, dtype=g.dtype)
        grad[flat] = g.reshape(planes)
    else:
        grad = _scatter_add(xp, g.reshape(planes), flat, n * c * height * width)
    return _unbatch(grad.reshape(geo.shape), geo)


def _max_pool2d(xp, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                return_indices=False):
    """2-d max pooling of ``(N, C, H, W)`` or ``(C, H, W)`` input.

    ``stride`` defaults to ``kernel_size``; padding counts as -inf; with
    ``ceil_mode`` the last window may hang over the end. The gradient goes to
    the first maximum of each window. ``return_indices=True`` is not supported
    here: call :func:`~autogradx.nn.functional.max_pool2d_with_indices`.
    """
    if return_indices:
        raise NotImplementedError(
            "max_pool2d(return_indices=True) is not supported by autogradx: an op returns a "
            "fixed number of outputs; call nn.functional.max_pool2d_with_indices instead")
    values, index, geo = _max_pool(xp, input, kernel_size, stride, padding, dilation, ceil_mode)
    return _unbatch(values, geo), (geo, index)


def _max_pool2d_with_indices(xp, input, kernel_size, stride=None, padding=0, dilation=1,
                             ceil_mode=False, return_indices=False):
    """2-d max pooling returning ``(output, indices)``, as :func:`max_pool2d`.

    ``indices`` (int64) are flat indices ``h * W + w`` into each input plane.
    ``return_indices`` is accepted and ignored, as in PyTorch.
    """
    values, index, geo = _max_pool(xp, input, kernel_size, stride, padding, dilation, ceil_mode)
    return (_unbatch(values, geo), _unbatch(index, geo)), (geo, index)


max_pool2d = _ops.add(Op(
    "max_pool2d", _max_pool2d, namespace=_BOTH, residuals=True,
    grad_fn="MaxPool2DWithIndicesBackward0",
    vjp=lambda xp, g, resid, **_: _max_pool_grad(xp, g, *resid)))

max_pool2d_with_indices = _ops.add(Op(
    "max_pool2d_with_indices", _max_pool2d_with_indices, namespace=_NN, residuals=True,
    n_outputs=2, grad_fn="MaxPool2DWithIndicesBackward0",
    vjp=lambda xp, g, resid, **_: _max_pool_grad(xp, g[0], *resid)))


def _avg_divisor(xp, geo, count_include_pad):
    """Each window's divisor, ``(outH, outW)``: PyTorch counts the padding but not the
    ceil_mode overhang past it, or only the input's elements."""
    sizes = []
    for n, k, s, p, o in zip(geo.shape[2:], geo.kernel, geo.stride, geo.padding, geo.out):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, n)
        sizes.append(end - start)
    return sizes[0][:, None] * sizes[1]


def _avg_pool2d(xp, input, kernel_size, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True, divisor_override=None):
    """2-d average pooling of ``(N, C, H, W)`` or ``(C, H, W)`` input.

    ``stride`` defaults to ``kernel_size``; padding counts as zeros, and in the
    divisor when ``count_include_pad``; ``divisor_override`` replaces the divisor.
    Integer inputs give integer averages, rounded toward zero.
    """
    if input.dtype.kind in "biu" and input.dtype.name != "int64":
        raise NotImplementedError(f"\"avg_pool2d\" not implemented for '{scalar_name(input.dtype)}'")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    refuse_complex("avg_pool2d", input)
    geo = _pool_check("avg_pool2d", tuple(input.shape), kernel_size, stride, padding, 1,
                      ceil_mode)
    sums = geo.windows(xp, input, 0).sum(axis=2)
    if divisor_override is not None:
        divisor = divisor_override
    else:
        divisor = geo.memo(("divisor", xp, bool(count_include_pad)),
                           lambda: _avg_divisor(xp, geo, count_include_pad))
    if input.dtype.kind == "f":
        out = sums / xp.asarray(divisor, dtype=input.dtype)
    else:
        out = (xp.sign(sums) * (xp.abs(sums) // divisor)).astype(input.dtype)
    return _unbatch(out, geo), (geo, divisor)


def _avg_pool_grad(xp, g, resid, **_):
    geo, divisor = resid
    g = (g if geo.batched else g[None]) / xp.asarray(divisor, dtype=g.dtype)
    spread = xp.broadcast_to(g[:, :, None, None], g.shape[:2] + geo.kernel + g.shape[2:])
    grad = _col2im(xp, spread, geo.padded_size, geo.stride, geo.dilation)
    return _unbatch(_crop(grad, geo.pads, geo.shape), geo)


avg_pool2d = _ops.add(Op("avg_pool2d", _avg_pool2d, namespace=_NN, residuals=True,
                         grad_fn="AvgPool2DBackward0", vjp=_avg_pool_grad))


OPS = tuple(_ops)


# -- samples for the conformance kit ---------------------------------------------------

__getattr__ = lazy_conformance_cases(__name__)



def _conformance_cases():
    """Calls of each op: stride, padding (numbers, pairs, 'same'), dilation, groups, bias
    given or not, unbatched input, ceil_mode."""
    from autogradx.conformance import Arg, Sample as S

    def x(*shape):
        return Arg(shape)

    return {
        "conv1d": [S(x(1, 2, 5), x(3, 2, 3), x(3), padding=1),
                   S(x(2, 4, 7), x(2, 2, 2), None, 2, 0, 2, 2),     # stride, dilation, groups
                   S(x(2, 5), x(3, 2, 3), padding="same")],
        "conv2d": [S(x(1, 2, 5, 5), x(3, 2, 3, 3), x(3), stride=2, padding=1),
                   S(x(1, 4, 4, 4), x(2, 2, 2, 2), groups=2, dilation=2),
                   S(x(2, 1, 4, 5), x(2, 1, 2, 3), x(2), stride=(1, 2), padding=(1, 0)),
                   S(x(2, 4, 4), x(1, 2, 2, 2), padding="same")],
        "conv3d": [S(x(1, 1, 4, 4, 4), x(2, 1, 2, 2, 2)),
                   S(x(1, 2, 3, 4, 3), x(2, 2, 1, 2, 2), x(2), stride=(1, 2, 1), padding=1)],
        "max_pool2d": [S(x(1, 2, 4, 4), 2), S(x(1, 2, 5, 5), 3, stride=2, padding=1),
                       S(x(2, 5, 4), (2, 3), 1, dilation=(2, 1)),
                       S(x(1, 1, 5, 5), 2, ceil_mode=True)],
        "max_pool2d_with_indices": [S(x(1, 2, 4, 4), 2), S(x(2, 5, 5), 3, 2, 1, ceil_mode=True)],
        "avg_pool2d": [S(x(1, 2, 4, 4), 2), S(x(1, 2, 5, 5), 3, stride=2, padding=1),
                       S(x(1, 2, 5, 5), 3, 2, 1, count_include_pad=False),
                       S(x(2, 5, 5), 2, ceil_mode=True),
                       S(x(1, 1, 4, 4), 2, divisor_override=3)],
    }
