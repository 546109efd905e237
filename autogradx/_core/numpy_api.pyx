"""NumPy as forwards and vjps receive it on NumPy arrays: NumPy's own namespace, in which
the functions NumPy writes in Python that ops call most are C functions.

``np.sum(g)`` on a (3,) array spends four times as long in NumPy's Python wrappers
(argument dispatch, ``_wrapreduction``, a dict of keywords) as in the sum itself, and
``np.broadcast_to`` ten times as long (an nditer, built to make a view). Every op's
backward pays for both: the sum of its output and its vjp's expansion back. Here each
such function, given an exact ndarray and plain arguments, makes the call NumPy's wrapper
would end in (``np.add.reduce``, ``a.transpose(order)``, the same view) and so returns the
same array, bit for bit; anything else (other array types, keywords it does not take,
arguments NumPy would refuse) goes to NumPy's own function, which gives NumPy's result or
NumPy's error. tests/core/test_numpy_api.py compares the two on many arguments.

``NUMPY`` is a module named ``numpy`` holding NumPy's namespace with these in place, so
``xp.__name__`` and every other ``xp.<name>`` are NumPy's. The conformance kit's
``fast_paths=False`` hands formulas NumPy itself, to compare.
"""

import types

import numpy as np

cimport cython
cimport numpy as cnp
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyArray_Descr:
        pass
    # Steals a reference to descr.
    object PyArray_NewFromDescr(PyTypeObject *subtype, PyArray_Descr *descr, int nd,
                                cnp.npy_intp *dims, cnp.npy_intp *strides, void *data,
                                int flags, PyObject *obj)
    object PyArray_FromScalar(object scalar, PyArray_Descr *outcode)   # a 0-d array of it
    object PyArray_NewLikeArray(cnp.ndarray prototype, cnp.NPY_ORDER order, PyObject *descr,
                                int subok)

cdef type _ndarray = np.ndarray
cdef type _generic = np.generic
cdef object _NoValue = np._NoValue
cdef object _add_reduce = np.add.reduce
cdef object _or_reduce = np.logical_or.reduce
cdef object _and_reduce = np.logical_and.reduce
cdef object _mul_reduce = np.multiply.reduce
cdef object _max_reduce = np.maximum.reduce
cdef object _min_reduce = np.minimum.reduce
cdef object _true_divide = np.true_divide
cdef object _empty_like = np.empty_like
cdef object _copyto = np.copyto
cdef object _intp = np.intp
cdef object _bool = np.bool_

cdef object _np_broadcast_to = np.broadcast_to
cdef object _np_sum = np.sum
cdef object _np_mean = np.mean
cdef object _np_prod = np.prod
cdef object _np_max = np.max
cdef object _np_min = np.min
cdef object _np_cumsum = np.cumsum
cdef object _np_cumprod = np.cumprod
cdef object _np_any = np.any
cdef object _np_all = np.all
cdef object _np_ones_like = np.ones_like
cdef object _np_zeros_like = np.zeros_like
cdef object _np_full_like = np.full_like
cdef object _np_expand_dims = np.expand_dims
cdef object _np_moveaxis = np.moveaxis
cdef object _np_swapaxes = np.swapaxes
cdef object _np_reshape = np.reshape
cdef object _np_transpose = np.transpose
cdef object _np_where = np.where
cdef object _np_concatenate = np.concatenate
cdef object _where_c = np.where._implementation             # the C functions behind the
cdef object _concatenate_c = np.concatenate._implementation # __array_function__ dispatch

cdef enum:
    MAX_DIMS = 64                   # NPY_MAXDIMS in NumPy 2


# ---------------------------------------------------------------- axes

cdef Py_ssize_t _axis(object a, Py_ssize_t ndim) except -2:
    """``a`` as an axis in [0, ndim); -1 when it is not a plain int in range (NumPy then
    decides: it may take it, e.g. a NumPy integer, or raise its own error)."""
    if type(a) is not int:
        return -1
    cdef Py_ssize_t v = a
    if v < -ndim or v >= ndim:
        return -1
    return v + ndim if v < 0 else v


cdef tuple _axes(object axis, Py_ssize_t ndim):
    """``axis`` (an int or a tuple of ints) as a tuple of distinct axes in [0, ndim); None
    when NumPy should decide."""
    cdef Py_ssize_t k
    if type(axis) is int:
        k = _axis(axis, ndim)
        return None if k < 0 else (k,)
    if type(axis) is not tuple:
        return None
    out = []
    for a in <tuple>axis:
        k = _axis(a, ndim)
        if k < 0 or k in out:
            return None
        out.append(k)
    return tuple(out)


# ---------------------------------------------------------------- views

def broadcast_to(array, shape, subok=False):
    """``numpy.broadcast_to``: a read-only view of ``array`` with ``shape``."""
    if isinstance(array, _generic) and type(shape) is tuple:
        array = PyArray_FromScalar(array, NULL)   # what NumPy makes of a NumPy scalar
    if type(array) is _ndarray and type(shape) is tuple:
        view = _broadcast_view(<cnp.ndarray>array, <tuple>shape)
        if view is not None:
            return view
    return _np_broadcast_to(array, shape, subok=subok)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object _broadcast_view(cnp.ndarray a, tuple shape):
    """The view np.broadcast_to makes (same shape, strides, data, read-only), or None when
    ``shape`` is not plain ints ``a`` broadcasts to."""
    cdef int nd = len(shape), and_ = cnp.PyArray_NDIM(a), i, j
    cdef cnp.npy_intp dims[MAX_DIMS]
    cdef cnp.npy_intp strides[MAX_DIMS]
    cdef cnp.npy_intp d
    if nd > MAX_DIMS or and_ > nd:
        return None
    for i in range(nd):
        s = shape[i]
        if type(s) is not int or s < 0:
            return None
        dims[i] = s
        j = i - (nd - and_)
        if j < 0:
            strides[i] = 0
            continue
        d = cnp.PyArray_DIMS(a)[j]
        if d == dims[i]:
            strides[i] = cnp.PyArray_STRIDES(a)[j]
        elif d == 1:
            strides[i] = 0
        else:
            return None
    descr = <object>cnp.PyArray_DESCR(a)
    Py_INCREF(descr)                # PyArray_NewFromDescr steals it
    view = PyArray_NewFromDescr(<PyTypeObject *>_ndarray, <PyArray_Descr *>descr, nd, dims, strides,
                                cnp.PyArray_DATA(a), 0, NULL)   # flags 0: read-only, as NumPy's
    cnp.set_array_base(view, a)
    return view


def expand_dims(a, axis):
    """``numpy.expand_dims``: ``a`` reshaped with length-1 axes inserted at ``axis``."""
    cdef Py_ssize_t out_ndim, i
    cdef tuple axes
    if type(a) is _ndarray and (type(axis) is int or type(axis) is tuple):
        out_ndim = (1 if type(axis) is int else len(axis)) + (<cnp.ndarray>a).ndim
        axes = _axes(axis, out_ndim)
        if axes is not None:
            shape = (<cnp.ndarray>a).shape
            new = []
            j = 0
            for i in range(out_ndim):
                if i in axes:
                    new.append(1)
                else:
                    new.append(shape[j])
                    j += 1
            return a.reshape(new)
    return _np_expand_dims(a, axis)


def moveaxis(a, source, destination):
    """``numpy.moveaxis``: ``a`` with axes ``source`` moved to ``destination``."""
    cdef Py_ssize_t n, k
    if type(a) is _ndarray:
        n = (<cnp.ndarray>a).ndim
        src, dst = _axes(source, n), _axes(destination, n)
        if src is not None and dst is not None and len(src) == len(dst):
            order = [k for k in range(n) if k not in src]
            for d, s in sorted(zip(dst, src)):
                order.insert(d, s)
            return a.transpose(order)
    return _np_moveaxis(a, source, destination)


def reshape(a, shape, order="C", *, copy=None):
    """``numpy.reshape``: the method, without NumPy's wrapper."""
    if type(a) is _ndarray and copy is None:
        return a.reshape(shape, order=order)
    if copy is None:
        return _np_reshape(a, shape, order)     # NumPy 2.0 has no copy= (2.1 added it)
    return _np_reshape(a, shape, order, copy=copy)


def transpose(a, axes=None):
    """``numpy.transpose``: the method, without NumPy's wrapper."""
    if type(a) is _ndarray:
        return a.transpose(axes)
    return _np_transpose(a, axes)


# ---------------------------------------------------------------- dispatched C functions
# np.where and np.concatenate are C, behind an __array_function__ dispatch that runs a Python
# function to collect their arguments (a third of np.concatenate's cost on small arrays).
# On NumPy arrays and numbers no argument can override them: the C function is called
# directly. Any other argument (a CuPy array, a tensor) takes the dispatch, and with it its
# error.

cdef inline bint _plain(object v) noexcept:
    cdef type t = type(v)
    return t is _ndarray or t is float or t is int or t is bool or isinstance(v, _generic)


def where(condition, *args):
    """``numpy.where``."""
    if _plain(condition):
        for v in args:
            if not _plain(v):
                break
        else:
            return _where_c(condition, *args)
    return _np_where(condition, *args)


def concatenate(arrays, axis=0, out=None, **kwargs):
    """``numpy.concatenate``."""
    if out is None and (type(arrays) is list or type(arrays) is tuple):
        for v in arrays:
            if type(v) is not _ndarray:
                break
        else:
            return _concatenate_c(arrays, axis, **kwargs)
    return _np_concatenate(arrays, axis, out, **kwargs)


def swapaxes(a, axis1, axis2):
    """``numpy.swapaxes``: the method, without NumPy's wrapper."""
    if type(a) is _ndarray:
        return a.swapaxes(axis1, axis2)
    return _np_swapaxes(a, axis1, axis2)


# ---------------------------------------------------------------- reductions

cdef inline object _reduce(object reduce, object a, object axis, object dtype, object out,
                           object keepdims):
    """``ufunc.reduce`` as NumPy's ``_wrapreduction`` calls it for an ndarray (keywords given
    as _NoValue are not passed)."""
    if keepdims is _NoValue:
        return reduce(a, axis, dtype, out)
    return reduce(a, axis, dtype, out, keepdims=keepdims)


def sum(a, axis=None, dtype=None, out=None, keepdims=_NoValue, initial=_NoValue,
        where=_NoValue):
    """``numpy.sum``: ``np.add.reduce``, as NumPy's wrapper calls it for an ndarray."""
    if type(a) is _ndarray and initial is _NoValue and where is _NoValue:
        return _reduce(_add_reduce, a, axis, dtype, out, keepdims)
    return _np_sum(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial,
                   where=where)


def prod(a, axis=None, dtype=None, out=None, keepdims=_NoValue, initial=_NoValue,
         where=_NoValue):
    """``numpy.prod``: ``np.multiply.reduce``, as NumPy's wrapper calls it for an ndarray."""
    if type(a) is _ndarray and initial is _NoValue and where is _NoValue:
        return _reduce(_mul_reduce, a, axis, dtype, out, keepdims)
    return _np_prod(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial,
                    where=where)


def max(a, axis=None, out=None, keepdims=_NoValue, initial=_NoValue, where=_NoValue):
    """``numpy.max``: ``np.maximum.reduce``, as NumPy's wrapper calls it for an ndarray."""
    if type(a) is _ndarray and initial is _NoValue and where is _NoValue:
        return _reduce(_max_reduce, a, axis, None, out, keepdims)
    return _np_max(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)


def min(a, axis=None, out=None, keepdims=_NoValue, initial=_NoValue, where=_NoValue):
    """``numpy.min``: ``np.minimum.reduce``, as NumPy's wrapper calls it for an ndarray."""
    if type(a) is _ndarray and initial is _NoValue and where is _NoValue:
        return _reduce(_min_reduce, a, axis, None, out, keepdims)
    return _np_min(a, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)


def mean(a, axis=None, dtype=None, out=None, keepdims=_NoValue, *, where=_NoValue):
    """``numpy.mean``: for a float or complex ndarray, NumPy's sum then its division by
    the count (an intp, as NumPy divides)."""
    cdef Py_ssize_t count
    cdef tuple axes
    if (type(a) is _ndarray and dtype is None and out is None and where is _NoValue
            and (<cnp.ndarray>a).dtype.kind in "fc" and (<cnp.ndarray>a).dtype.itemsize >= 4):
        shape = (<cnp.ndarray>a).shape
        if axis is None:
            count = cnp.PyArray_SIZE(<cnp.ndarray>a)
        else:
            axes = _axes(axis, (<cnp.ndarray>a).ndim)
            if axes is None:
                return _np_mean(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims)
            count = 1
            for k in axes:
                count *= shape[k]
        if count > 0:
            ret = (_add_reduce(a, axis, None, None) if keepdims is _NoValue
                   else _add_reduce(a, axis, None, None, keepdims=keepdims))
            if type(ret) is not _ndarray and (<cnp.ndarray>a).dtype.kind == "f" and count <= (
                    1 << 24 if (<cnp.ndarray>a).dtype.itemsize == 4 else 1 << 53):
                # NumPy divides the scalar by an intp, in float64, then casts back: divided
                # by a Python int it is divided in its own precision, which gives the same
                # bits where the count is exact in it (a correctly rounded quotient either
                # way), at a third of the cost.
                return ret / count
            n = _intp(count)
            if type(ret) is _ndarray:
                return _true_divide(ret, n, out=ret, casting="unsafe", subok=False)
            return ret.dtype.type(ret / n)
    return _np_mean(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims, where=where)


def any(a, axis=None, out=None, keepdims=_NoValue, *, where=_NoValue):
    """``numpy.any``: ``np.logical_or.reduce`` to bool, as NumPy's wrapper calls it."""
    # A NumPy scalar too (every 0-d ufunc result is one): NumPy's wrapper would call its
    # method, which ends in the same reduction.
    if (type(a) is _ndarray or isinstance(a, _generic)) and where is _NoValue:
        return _reduce(_or_reduce, a, axis, _bool, out, keepdims)
    return _np_any(a, axis=axis, out=out, keepdims=keepdims, where=where)


def all(a, axis=None, out=None, keepdims=_NoValue, *, where=_NoValue):
    """``numpy.all``: ``np.logical_and.reduce`` to bool, as NumPy's wrapper calls it."""
    # A NumPy scalar too (every 0-d ufunc result is one): NumPy's wrapper would call its
    # method, which ends in the same reduction.
    if (type(a) is _ndarray or isinstance(a, _generic)) and where is _NoValue:
        return _reduce(_and_reduce, a, axis, _bool, out, keepdims)
    return _np_all(a, axis=axis, out=out, keepdims=keepdims, where=where)


def cumsum(a, axis=None, dtype=None, out=None):
    """``numpy.cumsum``: the method, without NumPy's wrapper."""
    if type(a) is _ndarray:
        return a.cumsum(axis, dtype, out)
    return _np_cumsum(a, axis=axis, dtype=dtype, out=out)


def cumprod(a, axis=None, dtype=None, out=None):
    """``numpy.cumprod``: the method, without NumPy's wrapper."""
    if type(a) is _ndarray:
        return a.cumprod(axis, dtype, out)
    return _np_cumprod(a, axis=axis, dtype=dtype, out=out)


# ---------------------------------------------------------------- filled like an array

def ones_like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``numpy.ones_like``: an array like ``a`` filled with 1, as NumPy makes it."""
    if (type(a) is _ndarray and dtype is None and order == "K" and shape is None
            and device is None):
        return _filled_like(<cnp.ndarray>a, 1)
    return _np_ones_like(a, dtype=dtype, order=order, subok=subok, shape=shape, device=device)


def zeros_like(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``numpy.zeros_like``: an array like ``a`` filled with 0, as NumPy makes it."""
    if (type(a) is _ndarray and dtype is None and order == "K" and shape is None
            and device is None):
        return _filled_like(<cnp.ndarray>a, 0)
    return _np_zeros_like(a, dtype=dtype, order=order, subok=subok, shape=shape, device=device)


cdef object _filled_like(cnp.ndarray a, object value):
    """``empty_like(a)`` (order K, a's dtype) filled with 0 or 1, which every dtype holds
    exactly: what ``copyto(res, value, casting="unsafe")`` writes."""
    res = PyArray_NewLikeArray(a, cnp.NPY_KEEPORDER, NULL, 1)
    cnp.PyArray_FillWithScalar(res, value)
    return res


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``numpy.full_like``: ``empty_like`` filled with ``fill_value``, as NumPy makes it."""
    if type(a) is _ndarray and order == "K" and shape is None and device is None:
        res = _empty_like(a, dtype)
        _copyto(res, fill_value, casting="unsafe")
        return res
    return _np_full_like(a, fill_value, dtype=dtype, order=order, subok=subok, shape=shape,
                         device=device)


# ---------------------------------------------------------------- the namespace

FAST = {f.__name__: f for f in (broadcast_to, expand_dims, moveaxis, reshape, transpose, swapaxes, sum,
                                where, concatenate,
                                prod, max, min, mean, any, all, cumsum, cumprod, ones_like,
                                zeros_like, full_like)}
FAST["amax"], FAST["amin"] = max, min      # NumPy's aliases (its own are separate functions)



NUMPY = types.ModuleType("numpy")
NUMPY.__dict__.update(np.__dict__)      # NumPy's names (and its __getattr__ for lazy ones)
NUMPY.__dict__.update(FAST)
