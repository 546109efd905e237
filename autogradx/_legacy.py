"""PyTorch's legacy constructors: ``autograd.Variable`` and the typed tensor classes
(``FloatTensor``, ``LongTensor``, ...), for code written before ``torch.tensor``.

Both make ordinary tensors: ``type(FloatTensor([1]))`` is ``Tensor``. ``isinstance``
answers as in PyTorch: ``isinstance(t, Variable)`` for every tensor, ``isinstance(t,
FloatTensor)`` for a float32 tensor in host memory. The typed classes are derived from
the dtype-name table (``_core/names.py``), one per dtype PyTorch has a class for.
"""

import numbers
import warnings

import numpy as np

from autogradx import _dtype
from autogradx._core.names import SCALAR_NAMES, c_name
from autogradx._core.tensor import Size, TensorBase, wrap
from autogradx._factories import _array_from, _size

__all__ = ["Variable", "TENSOR_TYPES", "BoolTensor", "ByteTensor", "CharTensor", "ShortTensor",
           "IntTensor", "LongTensor", "HalfTensor", "FloatTensor", "DoubleTensor"]


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, TensorBase)


class Variable(metaclass=_VariableMeta):
    """``Variable(tensor, requires_grad=False)``: a new leaf sharing ``tensor``'s data, as
    PyTorch's legacy Variable gives (Variables and tensors are one type since PyTorch 0.4)."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with "
                          "torch.no_grad():` instead.", UserWarning, stacklevel=2)
        if data is None:
            return wrap(np.empty((0,), _dtype.float32.numpy))
        if not isinstance(data, TensorBase):
            raise TypeError(f"Variable data has to be a tensor, but got {_type_name(data)}")
        if requires_grad and data._data.dtype.kind not in "fc":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        return data.detach().requires_grad_(bool(requires_grad))


def _type_name(obj):
    """The type of ``obj`` as PyTorch's messages name it."""
    cls = type(obj)
    if cls.__module__ == "builtins" or isinstance(obj, TensorBase):
        return cls.__name__
    if cls.__module__.startswith("autogradx"):
        return f"torch.{cls.__name__}"
    return f"{cls.__module__}.{cls.__name__}"


class _TensorTypeMeta(type):
    """The class of ``FloatTensor`` and its siblings: calling one makes a tensor of its
    dtype; ``isinstance`` checks a tensor's dtype and that it is in host memory."""

    def __instancecheck__(cls, obj):
        return (isinstance(obj, TensorBase) and type(obj._data) is np.ndarray
                and obj._data.dtype == cls.dtype.numpy)

    def __call__(cls, *args, **kwargs):
        return wrap_legacy(legacy_array(args, kwargs, cls.dtype.numpy), args)


def wrap_legacy(array, args):
    """A tensor holding ``array``; when it is a tensor's own (``FloatTensor(t)``), an
    alias that keeps ``t``'s gradient flowing, as PyTorch's alias does."""
    if len(args) == 1 and isinstance(args[0], TensorBase) and args[0]._data is array:
        t = args[0]
        return t.view_as(t) if t.requires_grad else t.detach()
    return wrap(array)


def legacy_array(args, kwargs, np_dtype):
    """The array a legacy constructor of dtype ``np_dtype`` makes: ``(*sizes)``, a
    ``Size``, ``(data)`` (a sequence, an ndarray, or a tensor of that very dtype, whose
    memory is shared), or nothing (an empty tensor); ``device`` (cpu only) may be given."""
    device = kwargs.pop("device", None)
    if kwargs:
        got = ", ".join([_type_name(a) for a in args] + [f"{k}={_type_name(v)}"
                                                         for k, v in kwargs.items()])
        raise TypeError(
            f"new() received an invalid combination of arguments - got ({got}), but expected "
            "one of:\n * (*, torch.device device = None)\n * (Tensor other)\n * (tuple of ints "
            "size, *, torch.device device = None)\n * (object data, *, torch.device device = "
            "None)")
    if device is not None:
        from autogradx._device import device as _device
        if _device(device).type != "cpu":
            raise RuntimeError(f"legacy constructor expects device type: cpu but device type: "
                               f"{_device(device).type} was passed")
    if not args:
        return np.empty((0,), np_dtype)
    if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args) or (
            len(args) == 1 and isinstance(args[0], Size)):
        return np.empty(_size(args), np_dtype)
    if len(args) > 1:
        raise TypeError(f"new(): expected sizes (ints) or one data argument, got "
                        f"{tuple(_type_name(a) for a in args)}")
    data = args[0]
    if isinstance(data, TensorBase):
        if data._data.dtype != np_dtype:
            raise TypeError(f"expected {_options(np_dtype)} (got {_options(data._data.dtype)})")
        return data._data
    if isinstance(data, str):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if isinstance(data, numbers.Number):
        raise TypeError(f"new(): data must be a sequence (got {_type_name(data)})")
    try:
        return _array_from(data, np_dtype)
    except OverflowError:
        raise RuntimeError(f"value cannot be converted to type {np_dtype} without overflow") \
            from None


def _options(np_dtype):
    return (f"TensorOptions(dtype={c_name(np_dtype)}, device=cpu, layout=Strided, "
            "requires_grad=false (default), pinned_memory=false (default), "
            "memory_format=(nullopt))")


def _tensor_type(np_name):
    name = SCALAR_NAMES[np_name] + "Tensor"
    return _TensorTypeMeta(name, (), {
        "dtype": _dtype.from_numpy_dtype(np.dtype(np_name)), "is_cuda": False,
        "is_sparse": False, "__module__": "autogradx",
        "__doc__": f"Legacy constructor of {np_name} tensors: ``{name}(*sizes)`` or "
                   f"``{name}(data)``.",
    })


# PyTorch has a class for each real dtype (none for the complex ones).
BoolTensor = _tensor_type("bool")
ByteTensor = _tensor_type("uint8")
CharTensor = _tensor_type("int8")
ShortTensor = _tensor_type("int16")
IntTensor = _tensor_type("int32")
LongTensor = _tensor_type("int64")
HalfTensor = _tensor_type("float16")
FloatTensor = _tensor_type("float32")
DoubleTensor = _tensor_type("float64")

TENSOR_TYPES = {cls.__name__: cls for cls in (
    BoolTensor, ByteTensor, CharTensor, ShortTensor, IntTensor, LongTensor, HalfTensor,
    FloatTensor, DoubleTensor)}
