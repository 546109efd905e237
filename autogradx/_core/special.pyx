"""Special functions NumPy lacks, as C loops over the elements of NumPy float arrays.

NumPy has no erf, lgamma or incomplete gamma function. The ops' NumPy-vectorised
formulas (``ops/activations.py``'s ``_erf_xp``, ``ops/elementwise.py``'s
``_incomplete_gamma_xp``) run on every backend, but cost dozens of whole-array passes
(Chebyshev sums, a series and a continued fraction iterated until every element has
converged): 100-500 us on a handful of elements. On NumPy arrays the ops call these
loops instead: libc's ``erf`` (``erff`` for float32) and ``lgamma``, and the same
series and continued fraction, iterated per element until that element has converged.
Values agree with the vectorised formulas (erf to 1e-15 relative, the incomplete gamma
functions to 1e-10: the vectorised ones add terms past an element's convergence) and
with PyTorch's (tests/_core/test_special.py).

Every function takes arrays (or numbers) that NumPy can convert, and returns new arrays.
"""

import numpy as np

cimport numpy as cnp
from libc.math cimport (INFINITY, NAN, erf as c_erf, erff, exp, fabs, isinf,
                       lgamma as c_lgamma, log)

cnp.import_array()

cdef object _float32 = np.float32
cdef object _float64 = np.float64
cdef object _asarray = np.asarray
cdef object _empty = np.empty
cdef object _empty_like = np.empty_like

# The float64 machine epsilon and smallest normal number.
cdef double _EPS = 2.220446049250313e-16
cdef double _TINY = 2.2250738585072014e-308
# More terms than the series needs for a up to ~1e7 (~sqrt(40 a) terms); the continued
# fraction needs far fewer. Only finite positive a and x reach the loops, so they end.
cdef Py_ssize_t _MAX_TERMS = 100_000


def erf(x):
    """The error function of a float32 or float64 array, in its dtype: libc's ``erf``
    and ``erff``, each within an ulp of the exact value (as PyTorch's kernels)."""
    cdef cnp.ndarray a = _asarray(x, order="C")
    cdef cnp.ndarray out = _empty_like(a)
    cdef Py_ssize_t i, n = a.size
    cdef double *d
    cdef double *od
    cdef float *f
    cdef float *of
    if a.dtype == _float64:
        d, od = <double *>cnp.PyArray_DATA(a), <double *>cnp.PyArray_DATA(out)
        with nogil:
            for i in range(n):
                od[i] = c_erf(d[i])
    elif a.dtype == _float32:
        f, of = <float *>cnp.PyArray_DATA(a), <float *>cnp.PyArray_DATA(out)
        with nogil:
            for i in range(n):
                of[i] = erff(f[i])
    else:
        raise TypeError(f"special.erf: expected a float32 or float64 array, got {a.dtype}")
    return out


def lgamma(x):
    """``log|Gamma(x)|`` in float64, inf at the poles (0, -1, -2, ...) as PyTorch gives."""
    cdef cnp.ndarray a = _asarray(x, dtype=_float64, order="C")
    cdef cnp.ndarray out = _empty_like(a)
    cdef double *d = <double *>cnp.PyArray_DATA(a)
    cdef double *od = <double *>cnp.PyArray_DATA(out)
    cdef Py_ssize_t i, n = a.size
    with nogil:
        for i in range(n):
            od[i] = c_lgamma(d[i])
    return out


cdef void _incomplete_gamma(double a, double x, double *p, double *q) noexcept nogil:
    """P(a, x) and Q(a, x) = 1 - P. Where a or x is 0, infinite, negative or NaN, PyTorch's
    values, from its checks in its order (so igamma(nan, 0) is 0, igamma(nan, inf) 1). The
    series of P where x < a + 1, the continued fraction of Q (modified Lentz) elsewhere:
    each converges fast on its side."""
    cdef double scale, term, total, n, b, c, d, h, an
    cdef Py_ssize_t i
    if not (a > 0 and x > 0 and a < INFINITY and x < INFINITY):
        if x < 0 or a < 0:
            p[0] = NAN
        elif a == 0:
            p[0] = 1.0 if x > 0 else NAN
        elif x == 0:
            p[0] = 0.0
        elif isinf(a):
            p[0] = NAN if isinf(x) else 0.0
        elif isinf(x):
            p[0] = 1.0
        else:
            p[0] = NAN
        q[0] = 1 - p[0]
        return
    scale = exp(a * log(x) - x - c_lgamma(a))
    if x < a + 1:
        term = total = 1 / a
        n = a
        for i in range(_MAX_TERMS):
            n = n + 1
            term = term * x / n
            total = total + term
            if not fabs(term) > fabs(total) * _EPS:
                break
        p[0] = total * scale
        q[0] = 1 - p[0]
        return
    b = x + 1 - a
    c, d = 1 / _TINY, 1 / b
    h = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = 1 / (_TINY if fabs(d) < _TINY else d)
        c = b + an / c
        if fabs(c) < _TINY:
            c = _TINY
        h = h * d * c
        if not fabs(d * c - 1) > _EPS:
            break
    q[0] = h * scale
    p[0] = 1 - q[0]


def incomplete_gamma(a, x):
    """``(P, Q)``: the regularized lower and upper incomplete gamma functions of ``a`` and
    ``x`` (broadcast together), float64 arrays."""
    cdef cnp.broadcast it = cnp.broadcast(_asarray(a, dtype=_float64),
                                          _asarray(x, dtype=_float64))
    cdef cnp.ndarray p = _empty((<object>it).shape, _float64)
    cdef cnp.ndarray q = _empty((<object>it).shape, _float64)
    cdef double *pd = <double *>cnp.PyArray_DATA(p)
    cdef double *qd = <double *>cnp.PyArray_DATA(q)
    cdef Py_ssize_t i = 0
    with nogil:
        while cnp.PyArray_MultiIter_NOTDONE(it):
            _incomplete_gamma((<double *>cnp.PyArray_MultiIter_DATA(it, 0))[0],
                              (<double *>cnp.PyArray_MultiIter_DATA(it, 1))[0], pd + i, qd + i)
            cnp.PyArray_MultiIter_NEXT(it)
            i += 1
    return p, q
