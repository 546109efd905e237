"""NumPy's API over tensors: the ``xp`` that vjps receive when gradients are
themselves differentiated (``create_graph=True``).

Op vjps are written against an array module (``xp.exp(x)``, ``xp.sum(g,
axis=..., keepdims=...)``). Run on tensors, each such call must be a recorded
op. Names that autogradx's ops share with NumPy resolve to those ops through
the registry; the few NumPy functions whose names or signatures differ from
PyTorch's are translated below.
"""

import math

import numpy as np

from autogradx._core.tensor import TensorBase


def _tensor(x, dtype=None):
    import autogradx
    if isinstance(x, TensorBase):
        return x if dtype is None else x.to(dtype)
    return autogradx.as_tensor(np.asarray(x) if dtype is None else np.asarray(x, dtype=dtype))


def _op(name):
    from autogradx._registry import get_op
    return get_op(name)


def _dtype_of(x):
    return x._data.dtype if isinstance(x, TensorBase) else np.asarray(x).dtype


def asarray(x, dtype=None):
    return _tensor(x, dtype)


def size(x):
    return x.numel() if isinstance(x, TensorBase) else np.size(x)


def ndim(x):
    return x.ndim


def shape(x):
    return tuple(x.shape)


def expand_dims(x, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    ndim_out = x.ndim + len(axes)
    for a in sorted(a % ndim_out for a in axes):
        x = x.unsqueeze(a)
    return x


def transpose(x, axes=None):
    return x.permute(tuple(range(x.ndim - 1, -1, -1)) if axes is None else tuple(axes))


def swapaxes(x, axis1, axis2):
    return x.transpose(axis1, axis2)


def moveaxis(x, source, destination):
    return _op("movedim")(x, source, destination)


def concatenate(arrays, axis=0):
    return _op("cat")(list(arrays), axis)


def stack(arrays, axis=0):
    return _op("stack")(list(arrays), axis)


def split(x, indices_or_sections, axis=0):
    n = x.shape[axis]
    if isinstance(indices_or_sections, int):
        return _op("chunk")(x, indices_or_sections, axis)
    bounds = [0, *[int(i) for i in indices_or_sections], n]
    return _op("split")(x, [b - a for a, b in zip(bounds, bounds[1:])], axis)


def take_along_axis(x, indices, axis):
    return _op("take_along_dim")(x, _tensor(indices), axis)


def broadcast_to(x, shape):
    return _tensor(x).expand(tuple(shape))


def reshape(x, shape):
    return x.reshape(tuple(shape) if not isinstance(shape, int) else (shape,))


def zeros_like(x, dtype=None):
    import autogradx
    return autogradx.zeros(tuple(x.shape), dtype=dtype or _dtype_of(x))


def ones_like(x, dtype=None):
    import autogradx
    return autogradx.ones(tuple(x.shape), dtype=dtype or _dtype_of(x))


def full_like(x, fill_value, dtype=None):
    import autogradx
    return autogradx.full(tuple(x.shape), fill_value, dtype=dtype or _dtype_of(x))


def zeros(shape, dtype=None):
    import autogradx
    return autogradx.zeros(shape, dtype=dtype)


def ones(shape, dtype=None):
    import autogradx
    return autogradx.ones(shape, dtype=dtype)


def max(x, axis=None, keepdims=False):
    return _op("amax")(x, () if axis is None else axis, keepdims)


def min(x, axis=None, keepdims=False):
    return _op("amin")(x, () if axis is None else axis, keepdims)


def sum(x, axis=None, dtype=None, keepdims=False):
    return _op("sum")(x, axis, keepdims, dtype=dtype)


def mean(x, axis=None, dtype=None, keepdims=False):
    return _op("mean")(x, axis, keepdims, dtype=dtype)


class _TensorNamespace:
    """The tensor ``xp``: translated NumPy names first, then ops of the same name."""

    def __init__(self):
        self._translated = {k: v for k, v in globals().items()
                            if callable(v) and not k.startswith("_") and k not in ("math", "np")}

    def __getattr__(self, name):
        fn = self._translated.get(name)
        if fn is not None:
            return fn
        from autogradx._registry import REGISTRY
        op = REGISTRY.namespace("").get(name)
        if op is not None:
            return op
        value = getattr(np, name, None)
        if value is not None and not callable(value):
            return value        # constants: pi, inf, newaxis, dtypes
        if value is not None and isinstance(value, type):
            return value        # np.float32 and friends as dtype arguments
        raise AttributeError(
            f"numpy.{name} has no autogradx counterpart, so a vjp using it cannot be "
            "differentiated (create_graph=True); the op must use functions that exist on tensors")

    def __repr__(self):
        return "<autogradx tensor namespace>"


tensor_namespace = _TensorNamespace()
pi = math.pi
