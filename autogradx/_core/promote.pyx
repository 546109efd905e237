"""PyTorch's type promotion over NumPy dtypes, and the default float dtype.

Each dtype has a category (bool < integer < float < complex); an op declaring
``promote="elementwise"`` gets its inputs cast to the result dtype of PyTorch's rules
(Python numbers count by category only), ``promote="float"`` also turns integers into the
default float dtype.
"""

import numpy as np

cimport numpy as cnp

from .opdef cimport OpDef

cdef type _ndarray = np.ndarray
cdef type _generic = np.generic
cdef object _default_float = np.dtype(np.float32)
cdef object _int64 = np.dtype(np.int64)
cdef object _bool = np.dtype(np.bool_)
cdef object _f32 = np.dtype(np.float32), _f64 = np.dtype(np.float64)


def set_default_float(dtype):
    global _default_float
    _default_float = np.dtype(dtype)


def get_default_float():
    return _default_float



cdef dict _CATEGORIES = {}


cdef int _category(object dtype) except -2:
    """0 bool, 1 integer, 2 floating, 3 complex (PyTorch's promotion categories)."""
    if dtype is _f32 or dtype is _f64:
        return 2
    c = _CATEGORIES.get(dtype)
    if c is not None:
        return <int>c
    kind = dtype.kind
    cat = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}.get(kind, 4)
    _CATEGORIES[dtype] = cat
    return cat


cdef inline int _scalar_category(object v):
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return 1
    if isinstance(v, float):
        return 2
    if isinstance(v, complex):
        return 3
    return -1


cdef object _promote_pair(object a, object b):
    """Promotion of two tensors' dtypes: the higher category wins across categories."""
    if a is None or a == b:
        return b
    ca, cb = _category(a), _category(b)
    if ca == cb or ca + cb == 5:        # float and complex: the complex of the larger precision
        return np.promote_types(a, b)
    return a if ca > cb else b


cdef object _default_for(int category):
    if category == 2:
        return _default_float
    if category == 1:
        return _int64
    if category == 0:
        return _bool
    return np.dtype(np.complex64) if _default_float == np.float32 else np.dtype(np.complex128)


cdef object _result_dtype(list values, Py_ssize_t n):
    """PyTorch's result type: dimensioned tensors, then 0-d tensors, then Python scalars."""
    cdef object dim = None, zero = None
    cdef int scalar_cat = -1, c
    cdef Py_ssize_t i
    for i in range(n):
        v = values[i]
        if type(v) is _ndarray or (v is not None and hasattr(v, "dtype") and not isinstance(v, _generic)):
            if v.ndim:
                dim = _promote_pair(dim, v.dtype)
            else:
                zero = _promote_pair(zero, v.dtype)
        elif v is not None:
            c = _scalar_category(v)
            if c < 0 and isinstance(v, _generic):
                zero = _promote_pair(zero, v.dtype)
            elif c > scalar_cat:
                scalar_cat = c
    if dim is None:
        dim = zero
    elif zero is not None and _category(zero) > _category(dim):
        dim = _complex_of(dim) if _category(zero) == 3 and _category(dim) == 2 else zero
    if dim is None:
        return _default_for(scalar_cat)
    if scalar_cat > _category(dim):
        return _complex_of(dim) if scalar_cat == 3 and _category(dim) == 2 else _default_for(scalar_cat)
    return dim


cdef object _complex_of(object dtype):
    """A float dtype meeting a complex operand of lower priority (a 0-d tensor, a number)
    gives the complex dtype of its own precision, as in PyTorch (float64 * 1j is complex128;
    float16's, complex32, autogradx has not: complex64)."""
    return np.dtype(np.complex128) if dtype.itemsize == 8 else np.dtype(np.complex64)


cdef void _promote_all(OpDef op, list values, Py_ssize_t n) except *:
    cdef Py_ssize_t i
    cdef int scalar_cat = -1, c
    cdef object common = None
    # Fast path: the arrays share one dtype and no scalar is of a higher category.
    for i in range(n):
        v = values[i]
        if type(v) is _ndarray:
            dt = <object>cnp.PyArray_DESCR(<cnp.ndarray>v)
            if common is None:
                common = dt
            elif dt is not common and dt != common:
                break
        elif v is not None:
            c = _scalar_category(v)
            if c < 0:
                break
            if c > scalar_cat:
                scalar_cat = c
    else:
        if common is not None:
            c = _category(common)
            if scalar_cat <= c and (c >= 2 or op.promote != "float"):
                return
    dtype = _result_dtype(values, n)
    if op.promote == "float" and _category(dtype) < 2:
        dtype = _default_float
    for i in range(n):
        v = values[i]
        if v is None or _scalar_category(v) >= 0:
            continue
        if isinstance(v, _generic):
            values[i] = np.asarray(v, dtype=dtype)
        elif v.dtype != dtype:
            values[i] = v.astype(dtype)
