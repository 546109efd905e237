"""Which array module computes on an array (NumPy, or a backend's), and whether the
core's fast paths (ufunc calls, formulas evaluated with NumPy's loops, direct loop calls)
are on."""

import numpy as np

from . import loops as _loops

cdef object _numpy = np
cdef type _ndarray = np.ndarray
cdef dict _array_modules = {}        # array type -> array module, for backends besides NumPy


def register_array_module(type array_type, module):
    """Let tensors hold arrays of ``array_type``, computed on by ``module``."""
    _array_modules[array_type] = module


cdef object array_module(object data):
    if type(data) is _ndarray:
        return _numpy
    xp = _array_modules.get(type(data))
    if xp is None:
        raise TypeError(f"no autogradx backend handles arrays of type {type(data).__name__}")
    return xp


cdef class Switch:
    """A flag the hot paths of other modules hold and read directly."""


# Use the ops' ufunc= and arithmetic vjp formulas on NumPy arrays.
cdef Switch fast_paths = Switch.__new__(Switch)
fast_paths.on = True
FAST_PATHS = fast_paths        # what op.pyx and opnode.pyx take at import


def _set_fast_paths(bint on):
    """Turn the core's ufunc calls for ``ufunc=`` ops and arithmetic vjp formulas, and its direct
    calls of NumPy's inner loops, on or off (the conformance kit compares both); returns
    the previous setting."""
    prev = fast_paths.on
    fast_paths.on = on
    _loops._set_direct_calls(on)
    return prev


def get_array_module(data):
    """The array module (NumPy, CuPy, ...) that computes on ``data``."""
    return array_module(data)
