"""NumPy's API over tensors: the ``xp`` that vjps receive when gradients are
themselves differentiated (``create_graph=True``).

Op vjps are written against an array module (``xp.exp(x)``, ``xp.sum(g,
axis=..., keepdims=...)``). Run on tensors, each such call must be a recorded
op. Names that autogradx's ops share with NumPy resolve to those ops through
the registry; the few NumPy functions whose names or signatures differ from
PyTorch's are translated below.
"""

import functools
import types

import numpy as np

from autogradx._core.tensor import TensorBase


def _tensor(x, dtype=None, like=None, device=None):
    """``x`` as a tensor; a number or host array goes to the device of tensor ``like``
    (or to ``device``)."""
    import autogradx
    from autogradx._dtype import as_numpy_dtype
    if isinstance(x, TensorBase):
        return x if dtype is None else x.to(dtype)
    array = np.asarray(x) if dtype is None else np.asarray(x, dtype=as_numpy_dtype(dtype))
    return autogradx.as_tensor(array, device=_device_of(like) or device)


def _device_of(x):
    return x.device if isinstance(x, TensorBase) else None


def _op(name):
    from autogradx._registry import get_op
    return get_op(name)


def _dtype_of(x):
    return x._data.dtype if isinstance(x, TensorBase) else np.asarray(x).dtype


def asarray(x, dtype=None, device=None):
    return _tensor(x, dtype, device=device)


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
    return autogradx.zeros(tuple(x.shape), dtype=dtype or _dtype_of(x), device=_device_of(x))


def ones_like(x, dtype=None):
    import autogradx
    return autogradx.ones(tuple(x.shape), dtype=dtype or _dtype_of(x), device=_device_of(x))


def full_like(x, fill_value, dtype=None):
    import autogradx
    return autogradx.full(tuple(x.shape), fill_value, dtype=dtype or _dtype_of(x),
                          device=_device_of(x))


# Factories take the device of the gradients being differentiated (see on()).
def zeros(shape, dtype=None, device=None):
    import autogradx
    return autogradx.zeros(shape, dtype=dtype, device=device)


def ones(shape, dtype=None, device=None):
    import autogradx
    return autogradx.ones(shape, dtype=dtype, device=device)


def full(shape, fill_value, dtype=None, device=None):
    return _full(shape, fill_value, dtype, device)


def _full(shape, fill_value, dtype, device):
    import autogradx
    return autogradx.full(shape, fill_value, dtype=dtype, device=device)


# Index arithmetic in vjps (positions, identity matrices): constants, never differentiated.
def arange(start, stop=None, step=1, dtype=None, device=None):
    import autogradx
    return autogradx.arange(start, stop, step, dtype=dtype, device=device)


def eye(n, m=None, dtype=None, device=None):
    import autogradx
    return autogradx.eye(n, m, dtype=dtype, device=device)


_FACTORIES = ("asarray", "zeros", "ones", "full", "arange", "eye")


def rint(x):
    return _op("round")(x)


def logaddexp(a, b):
    """``log(exp(a) + exp(b))`` as ``max(a, b) + log1p(exp(-|a - b|))``, stable for large values."""
    a, b = _operands(a, b)
    return _op("maximum")(a, b) + _op("log1p")(_op("exp")(-_op("abs")(a - b)))


def pad(x, pad_width, mode="constant", constant_values=0):
    """``np.pad`` with a constant, as concatenations (so that it is differentiable)."""
    if mode != "constant":
        raise NotImplementedError(f"pad mode {mode!r} has no differentiable tensor version")
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    for axis, (before, after) in enumerate(widths.tolist()):
        parts = []
        for n in (before, None, after):
            if n is None:
                parts.append(x)
            elif n:
                edge = list(x.shape)
                edge[axis] = n
                parts.append(_full(tuple(edge), constant_values, _dtype_of(x), _device_of(x)))
        if len(parts) > 1:
            x = _op("cat")(parts, axis)
    return x


def maximum(a, b):
    return _op("maximum")(*_operands(a, b))     # NumPy takes numbers, PyTorch wants tensors


def minimum(a, b):
    return _op("minimum")(*_operands(a, b))


class _Add:
    """``xp.add``: the add op, and NumPy's ``add.at`` as a recorded scatter-add."""

    def __call__(self, a, b):
        return _op("add")(a, b)

    @staticmethod
    def at(out, index, values):
        """``out[index] += values`` in place, repeated positions adding up (``np.add.at``)."""
        data = out._data
        # Which flat position each selected element has: index arithmetic, no gradient.
        positions = _array_module(data).arange(data.size).reshape(data.shape)
        positions = positions[_index_arrays(index)]
        values = broadcast_to(values, positions.shape).reshape(-1)
        flat = _op("index_add")(out.reshape(-1), 0, positions.reshape(-1), values.to(out.dtype))
        out.copy_(flat.reshape(tuple(out.shape)))


add = _Add()


def _index_arrays(index):
    """An index with tensors in it (residuals arrive as tensors) as one NumPy understands."""
    if isinstance(index, TensorBase):
        return index._data
    if isinstance(index, tuple):
        return tuple(_index_arrays(i) for i in index)
    if isinstance(index, list):
        return [_index_arrays(i) for i in index]
    return index


def _array_module(data):
    from autogradx._core.dispatch import get_array_module
    return get_array_module(data)


def _operands(a, b):
    """Two operands of a binary function as tensors: a Python number takes the other's dtype."""
    if not isinstance(a, TensorBase):
        a = _tensor(a, _dtype_of(b), like=b)
    if not isinstance(b, TensorBase):
        b = _tensor(b, _dtype_of(a), like=a)
    return a, b


def max(x, axis=None, keepdims=False):
    return _op("amax")(x, () if axis is None else axis, keepdims)


def min(x, axis=None, keepdims=False):
    return _op("amin")(x, () if axis is None else axis, keepdims)


def sum(x, axis=None, dtype=None, keepdims=False):
    return _op("sum")(x, axis, keepdims, dtype=dtype)


def mean(x, axis=None, dtype=None, keepdims=False):
    return _op("mean")(x, axis, keepdims, dtype=dtype)


class _LinalgNamespace:
    """``xp.linalg``: the ops of autogradx's ``linalg`` namespace."""

    def __getattr__(self, name):
        from autogradx._registry import REGISTRY
        op = REGISTRY.namespace("linalg").get(name)
        if op is None:
            raise AttributeError(f"numpy.linalg.{name} has no autogradx counterpart")
        return op


linalg = _LinalgNamespace()


class _TensorNamespace:
    """The tensor ``xp`` (or its ``linalg``): translated NumPy names first, then ops of the
    same name in the registry ``namespace``, then NumPy's constants and dtypes."""

    def __init__(self, numpy_module, namespace, translated):
        self._numpy = numpy_module
        self._namespace = namespace
        self._translated = translated
        self._bound = {}

    def __getattr__(self, name):
        fn = self._translated.get(name)
        if fn is not None:
            return fn
        from autogradx._registry import REGISTRY
        op = REGISTRY.namespace(self._namespace).get(name)
        if op is not None:
            return op
        value = getattr(self._numpy, name, None)
        if value is not None and not callable(value) and not isinstance(value, types.ModuleType):
            return value        # constants: pi, inf, newaxis
        if value is not None and isinstance(value, type):
            return value        # np.float32 and friends as dtype arguments, np.linalg.LinAlgError
        where = self._numpy.__name__
        raise AttributeError(
            f"{where}.{name} has no autogradx counterpart, so a vjp using it cannot be "
            "differentiated (create_graph=True); the op must use functions that exist on tensors")

    def on(self, device):
        """This namespace with its factories (zeros, arange, ...) making tensors on ``device``."""
        bound = self._bound.get(device)
        if bound is None:
            translated = dict(self._translated)
            for name in _FACTORIES:
                translated[name] = functools.partial(translated[name], device=device)
            bound = self._bound[device] = _TensorNamespace(self._numpy, self._namespace,
                                                           translated)
        return bound

    def __repr__(self):
        return f"<autogradx tensor namespace for {self._numpy.__name__}>"


tensor_namespace = _TensorNamespace(np, "", dict(
    {k: v for k, v in globals().items()
     if callable(v) and not k.startswith("_") and not isinstance(v, type)},
    linalg=_TensorNamespace(np.linalg, "linalg", {})))


def is_tensor_namespace(xp):
    """True for the tensor namespace (or its ``linalg``, or one bound to a device)."""
    return isinstance(xp, _TensorNamespace)


def vjp_on_tensors_note():
    """When called (through any depth) from a vjp running on tensors (create_graph=True),
    a sentence naming its op and plugin, to add to an error its array-only code met there;
    else ``""``. Found from the calling frames: the vjp's first argument is this namespace."""
    import sys
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_argcount and isinstance(frame.f_locals.get(code.co_varnames[0]),
                                           _TensorNamespace):
            return (f" (In {_vjp_owner(code)}, run on tensors to compute gradients of "
                    "gradients (create_graph=True): call ops there, not array functions; "
                    "autogradx.plugin.on_tensors(xp) tells a vjp which case it is in.)")
        frame = frame.f_back
    return ""


def _vjp_owner(code):
    """``"the vjp of op 'name' (plugin 'p')"`` for the op whose vjp has ``code``."""
    from autogradx._registry import REGISTRY
    for op in REGISTRY.ops.values():
        for candidate in (op,) + tuple(op.overrides.values()):
            fns = (candidate.vjp,) + tuple(candidate.vjps or ())
            if any(getattr(f, "__code__", None) is code for f in fns):
                return f"the vjp of op {op.name!r} (plugin {op.plugin!r})"
    return f"the vjp {code.co_name!r}"
