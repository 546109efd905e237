"""The dtypes a tensor may hold, and PyTorch's names for them, as its messages and
``Tensor.type()`` spell them.

One table for the whole library (the core's in-place error, ``Tensor.type()``, the ops'
kernel and dtype errors). It lives in the core so that the core needs nothing above it.
"""

import numpy as np

# The scalar type names: "Float" in ``"addmm_impl_cpu_" not implemented for 'Float'``,
# and, with "Tensor" after them, the legacy tensor types (``torch.FloatTensor``).
SCALAR_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short",
                "int32": "Int", "int64": "Long", "float16": "Half", "float32": "Float",
                "float64": "Double", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}

# Every dtype a tensor may hold (autogradx._dtype has a torch-like dtype for each).
TENSOR_DTYPES = frozenset(np.dtype(name) for name in SCALAR_NAMES)

# The C++ names of the types, in a few dtype mismatch messages.
C_NAMES = {"float16": "c10::Half", "float32": "float", "float64": "double", "bool": "bool",
           "uint8": "unsigned char", "int8": "signed char", "int16": "short int",
           "int32": "int", "int64": "long int", "complex64": "c10::complex<float>",
           "complex128": "c10::complex<double>"}


def scalar_name(dtype):
    """PyTorch's name of a NumPy dtype (``Float``); NumPy's name for one PyTorch lacks."""
    return SCALAR_NAMES.get(dtype.name, dtype.name)


def c_name(dtype):
    """The C++ name of a dtype (``float``, ``long int``), NumPy's name for others."""
    return C_NAMES.get(dtype.name, dtype.name)


def tensor_type_name(dtype):
    """The legacy tensor type (``FloatTensor``), or ``Tensor`` for a dtype without one."""
    name = SCALAR_NAMES.get(dtype.name)
    return "Tensor" if name is None else name + "Tensor"
