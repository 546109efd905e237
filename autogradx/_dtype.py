"""autogradx's dtypes: named wrappers of NumPy dtypes, spelt as in PyTorch."""

import numpy as np

__all__ = ["dtype", "as_numpy_dtype", "from_numpy_dtype", "check_array_dtype"]


class dtype:
    """A tensor element type, e.g. ``autogradx.float32``."""

    # A dict of slots gives each attribute its docstring.
    __slots__ = {
        "name": "The name PyTorch gives it, e.g. ``'float32'``.",
        "numpy": "The NumPy dtype of the tensors' arrays.",
        "is_floating_point": "True for a floating-point type.",
        "is_complex": "True for a complex type.",
        "is_signed": "True for a type that holds negative values.",
        "itemsize": "The size in bytes of one element.",
    }

    def __init__(self, name, np_dtype):
        self.name = name
        self.numpy = np.dtype(np_dtype)
        self.is_floating_point = self.numpy.kind == "f"
        self.is_complex = self.numpy.kind == "c"
        self.is_signed = self.numpy.kind in "ifc"
        self.itemsize = self.numpy.itemsize

    def __repr__(self):
        # PyTorch spells dtypes as torch.<name>; code ported by swapping the
        # import (``import autogradx as torch``) prints exactly what it did.
        return f"torch.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self):
        """The real dtype of a complex one (``complex64`` -> ``float32``); others: itself."""
        return _REAL.get(self, self)


float16 = half = dtype("float16", np.float16)
float32 = float = dtype("float32", np.float32)
float64 = double = dtype("float64", np.float64)
uint8 = dtype("uint8", np.uint8)
int8 = dtype("int8", np.int8)
int16 = short = dtype("int16", np.int16)
int32 = int = dtype("int32", np.int32)
int64 = long = dtype("int64", np.int64)
bool = dtype("bool", np.bool_)
complex64 = cfloat = dtype("complex64", np.complex64)
complex128 = cdouble = dtype("complex128", np.complex128)

ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool, complex64, complex128)
_FROM_NUMPY = {d.numpy: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_REAL = {complex64: float32, complex128: float64}


def _by_name(name):
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype):
    """The autogradx dtype of a NumPy dtype."""
    try:
        return _FROM_NUMPY[np_dtype]
    except KeyError:
        raise TypeError(f"autogradx has no dtype for NumPy dtype {np.dtype(np_dtype)}") from None


def check_array_dtype(np_dtype):
    """Refuse, as PyTorch does, the NumPy dtype of an array that no tensor dtype matches:
    ValueError for a byte order other than the machine's, TypeError for any other."""
    if np_dtype in _FROM_NUMPY:
        return
    if not np_dtype.isnative and np_dtype.newbyteorder("=") in _FROM_NUMPY:
        raise ValueError("given numpy array has byte order different from the native byte "
                         "order. Conversion between byte orders is currently not supported.")
    raise TypeError(f"can't convert np.ndarray of type numpy.{np_dtype.type.__name__}. The only "
                    f"supported types are: {', '.join(d.name for d in ALL)}.")


def as_numpy_dtype(d):
    """A NumPy dtype from an autogradx dtype, a NumPy dtype, a type or a name."""
    if isinstance(d, dtype):
        return d.numpy
    if isinstance(d, str) and d.startswith("torch."):
        d = d[6:]
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d].numpy
    try:
        np_dtype = np.dtype(d)
    except TypeError:
        raise TypeError(f"{d!r} is not a dtype") from None
    if np_dtype not in _FROM_NUMPY:
        raise TypeError(f"autogradx has no dtype for NumPy dtype {np_dtype}")
    return np_dtype
