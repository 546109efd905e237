"""Which array module computes on an array (NumPy, or a backend's), and whether the
core's fast paths (ufunc calls, formulas evaluated with NumPy's loops, direct loop calls)
are on."""

import numpy as np

from . import loops as _loops
from .numpy_api import NUMPY

cdef object _numpy = np
cdef object _fast_numpy = NUMPY       # NumPy's namespace with C versions of its Python functions
cdef type _ndarray = np.ndarray
cdef dict _array_modules = {}        # array type -> array module, for backends besides NumPy


def register_array_module(type array_type, module):
    """Let tensors hold arrays of ``array_type``, computed on by ``module``."""
    _array_modules[array_type] = module


cdef object array_module(object data):
    if type(data) is _ndarray:
        return _fast_numpy if fast_paths.on else _numpy
    xp = _array_modules.get(type(data))
    if xp is None:
        raise TypeError(f"no autogradx backend handles arrays of type {type(data).__name__}")
    return xp


cdef bint is_numpy(object xp) noexcept:
    return xp is _fast_numpy or xp is _numpy


cdef class Switch:
    """A flag the hot paths of other modules hold and read directly."""


# Use the ops' ufunc= and arithmetic vjp formulas on NumPy arrays, and hand forwards and
# vjps numpy_api's NUMPY.
cdef Switch fast_paths = Switch.__new__(Switch)
fast_paths.on = True
FAST_PATHS = fast_paths        # what op.pyx and opnode.pyx take at import


def _set_fast_paths(bint on):
    """Turn the core's ufunc calls for ``ufunc=`` ops and arithmetic vjp formulas, its direct
    calls of NumPy's inner loops, and numpy_api's C functions in ``xp``, on or off (the conformance kit compares both); returns
    the previous setting."""
    prev = fast_paths.on
    fast_paths.on = on
    _loops._set_direct_calls(on)
    return prev


def get_array_module(data):
    """The array module (NumPy, CuPy, ...) that computes on ``data``."""
    return array_module(data)
