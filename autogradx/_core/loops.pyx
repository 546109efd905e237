"""NumPy's inner loops, called directly for small float arrays.

A ufunc call on a (3,) array spends almost all of its time choosing what to
do: override checks, type promotion, descriptor resolution, loop selection,
output allocation, the error-state lookup. For the calls the core makes most
(elementwise arithmetic of the forward, the vjps and the sum of gradients)
the choice is always the same when the operands are

    exact ndarrays of native float32 or float64 (one dtype for all),
    C-contiguous and aligned, of one shape (or one of them 0-d),
    of 1 to 500 elements (NumPy keeps the GIL below 500 too),

so the core makes it once per ufunc and dtype, the way NumPy's legacy loop
selector does (the first loop in ``ufunc.types`` whose type codes all
match), and calls that loop with the strides NumPy would pass, into an array
allocated as NumPy allocates it. The values are NumPy's own, bit for bit.
Only the ufuncs of _EXACT take part: IEEE 754 rounds their results correctly,
so no choice of loop could give other bits than NumPy's.

Floating-point exceptions keep NumPy's meaning: when the loop raises any of
the flags NumPy checks (divide, overflow, underflow, invalid), the result is
dropped and the call is made again through the ufunc, so that ``np.errstate``
decides whether to warn, raise or stay quiet. A call into its first operand
keeps a copy of that operand in scratch memory and puts it back before that.

Anything else (other dtypes, strides, broadcasting, subclasses, CuPy arrays,
larger arrays) goes through the ufunc: call1 and call2 make the call either way.

The loop chosen for each ufunc and dtype is checked against the ufunc on a few values
the first time it is asked for, and left unused (NumPy called instead) if they differ.
The module relies on the GIL: the scratch buffer and the floating-point flags it reads
are shared, so its functions are only ever called with the GIL held (no nogil block
calls them).
"""

import numpy as np

cimport numpy as cnp
from libc.string cimport memcpy

cnp.import_array()

cdef extern from "<fenv.h>":
    int fetestexcept(int excepts) nogil
    int feclearexcept(int excepts) nogil
    int FE_DIVBYZERO, FE_OVERFLOW, FE_UNDERFLOW, FE_INVALID

ctypedef void (*inner_loop)(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps,
                            void *data) noexcept

cdef int _FPE = FE_DIVBYZERO | FE_OVERFLOW | FE_UNDERFLOW | FE_INVALID
cdef enum:
    MAX_SIZE = 500
cdef double _scratch[MAX_SIZE]          # a call into its first operand keeps that operand here
cdef object _f32 = np.dtype(np.float32), _f64 = np.dtype(np.float64)
cdef dict _cache = {}                   # ufunc -> Loops
cdef frozenset _EXACT = frozenset({np.add, np.subtract, np.multiply, np.divide, np.negative})

cdef bint _on = True


def _set_direct_calls(bint on):
    """Turn the direct loop calls on or off (the conformance kit compares the two)."""
    global _on
    _on = on


cdef class Loops:
    """A ufunc's float32 and float64 inner loops, as NumPy would select them."""

    def __repr__(self):
        return (f"<loops of {self.ufunc.__name__}: float32 {self.fn[0] != NULL}, "
                f"float64 {self.fn[1] != NULL}>")


cdef int _find(cnp.ufunc u, char code) noexcept:
    """Index of the first loop whose type codes are all ``code``, or -1."""
    cdef int i, j, nargs = u.nin + u.nout
    for i in range(u.ntypes):
        for j in range(nargs):
            if u.types[i * nargs + j] != code:
                break
        else:
            return i
    return -1


cdef Loops loops_of(object ufunc):
    """The direct-call loops of a NumPy ufunc (none for a ufunc outside _EXACT)."""
    cdef Loops f = _cache.get(ufunc)
    if f is not None:
        return f
    if not isinstance(ufunc, np.ufunc):
        raise TypeError(f"expected a NumPy ufunc, got {type(ufunc).__name__}")
    cdef cnp.ufunc u = <cnp.ufunc>ufunc
    f = Loops.__new__(Loops)
    f.ufunc = ufunc
    f.nin = u.nin
    if ufunc in _EXACT:
        for k, code in enumerate((cnp.NPY_FLOAT, cnp.NPY_DOUBLE)):
            i = _find(u, code)
            if i >= 0:
                f.fn[k] = <void *>u.functions[i]
                f.data[k] = u.data[i]
                if not _agrees(f, k):
                    f.fn[k] = NULL      # a loop table other than expected: NumPy calls only
    _cache[ufunc] = f
    return f


cdef bint _agrees(Loops f, int k):
    """The loop found for slot ``k`` gives the ufunc's own bits on a few values (in a call
    and into its first operand): the loop tables are trusted only once they are seen to be
    NumPy's. Checked once per ufunc, when its loops are first asked for."""
    global _on
    dtype = _f32 if k == 0 else _f64
    a = np.array([1.5, -2.25, 3.0, 0.1, -7.0, 1e3, 0.125], dtype)
    b = np.array([0.5, 4.0, -1.75, 3.0, 0.3, -2.0, 9.0], dtype)
    operands = (a,) if f.nin == 1 else (a, b)
    was, _on = _on, True        # checked even while the conformance kit has them off
    try:
        expected = f.ufunc(*operands)
        for into_a in (False, True):
            x = a.copy()
            got = _direct1(f, x, into_a) if f.nin == 1 else _direct2(f, x, b, into_a)
            if got is None or got.dtype != expected.dtype or got.tobytes() != expected.tobytes():
                return False
    except Exception:
        return False
    finally:
        _on = was
    return True


def _loops_agree(ufunc, tables):
    """Whether the check above accepts ``ufunc`` run by the loops of ``tables`` (another
    ufunc's, to see the check refuse them; for tests)."""
    cdef Loops f = Loops.__new__(Loops)
    cdef Loops source = loops_of(tables)
    f.ufunc = ufunc
    f.nin = source.nin
    f.fn[0], f.fn[1] = source.fn[0], source.fn[1]
    f.data[0], f.data[1] = source.data[0], source.data[1]
    return [bool(_agrees(f, k)) for k in range(2)]


cdef inline int _slot(cnp.ndarray a) noexcept:
    """0 for a float32 array the loops take, 1 for float64, -1 for anything else."""
    cdef object d = <object>cnp.PyArray_DESCR(a)
    cdef int flags = cnp.PyArray_FLAGS(a)
    if not (flags & cnp.NPY_ARRAY_C_CONTIGUOUS) or not (flags & cnp.NPY_ARRAY_ALIGNED):
        return -1
    if d is _f32:
        return 0
    if d is _f64:
        return 1
    return -1


cdef object _run(Loops f, int k, cnp.ndarray shaped, char **args, cnp.npy_intp *steps,
                 bint into_a):
    """Call loop ``k`` over ``shaped``'s elements; the result, or None on a floating-point
    exception (nothing written then)."""
    cdef cnp.npy_intp n = cnp.PyArray_SIZE(shaped)
    cdef cnp.ndarray out
    cdef Py_ssize_t nbytes = n * cnp.PyArray_ITEMSIZE(shaped)
    cdef int i
    if n == 1:
        for i in range(f.nin + 1):
            steps[i] = 0        # NumPy's iterator gives a single element stride 0
    if fetestexcept(_FPE):
        feclearexcept(_FPE)
    if into_a:
        # The loop sees what NumPy's call passes (the output is the first input: a
        # single-element sum is then a reduction); a is kept to be put back on a flag.
        memcpy(_scratch, args[0], nbytes)
        args[f.nin] = args[0]
        (<inner_loop>f.fn[k])(args, &n, steps, f.data[k])
        if fetestexcept(_FPE):
            memcpy(args[0], _scratch, nbytes)
            return None
        return shaped                       # a itself when writing into a
    out = cnp.PyArray_SimpleNew(cnp.PyArray_NDIM(shaped), cnp.PyArray_DIMS(shaped),
                                cnp.NPY_FLOAT if k == 0 else cnp.NPY_DOUBLE)
    args[f.nin] = cnp.PyArray_BYTES(out)
    (<inner_loop>f.fn[k])(args, &n, steps, f.data[k])
    if fetestexcept(_FPE):
        return None
    return out


cdef object call1(Loops f, object a, bint into_a):
    """``f.ufunc(a)``, or with ``into_a`` ``f.ufunc(a, a)``: by the loop when it takes
    the call."""
    r = _direct1(f, a, into_a)
    if r is None:
        r = f.ufunc(a, a) if into_a else f.ufunc(a)
    return r


cdef object call2(Loops f, object a, object b, bint into_a):
    """``f.ufunc(a, b)``, or with ``into_a`` ``f.ufunc(a, b, a)``: by the loop when it
    takes the call."""
    r = _direct2(f, a, b, into_a)
    if r is None:
        r = f.ufunc(a, b, a) if into_a else f.ufunc(a, b)
    return r


cdef object _direct1(Loops f, object a, bint into_a):
    """``f.ufunc(a)`` (``into_a``: ``f.ufunc(a, a)``, returning ``a``) by the loop
    directly; None when the call is not one the loops take."""
    if not _on or type(a) is not cnp.ndarray:
        return None
    cdef cnp.ndarray x = <cnp.ndarray>a
    cdef int k = _slot(x)
    cdef cnp.npy_intp n = cnp.PyArray_SIZE(x)
    if (k < 0 or f.fn[k] == NULL or f.nin != 1 or cnp.PyArray_NDIM(x) == 0
            or not 0 < n <= MAX_SIZE):
        return None
    if into_a and not cnp.PyArray_ISWRITEABLE(x):
        return None
    cdef char *args[2]
    cdef cnp.npy_intp steps[2]
    args[0] = cnp.PyArray_BYTES(x)
    steps[0] = steps[1] = cnp.PyArray_ITEMSIZE(x)
    return _run(f, k, x, args, steps, into_a)


cdef object _direct2(Loops f, object a, object b, bint into_a):
    """``f.ufunc(a, b)`` (``into_a``: ``f.ufunc(a, b, a)``, returning ``a``) by the loop
    directly; None when the call is not one the loops take."""
    if not _on or type(a) is not cnp.ndarray or type(b) is not cnp.ndarray:
        return None
    cdef cnp.ndarray x = <cnp.ndarray>a, y = <cnp.ndarray>b, shaped
    cdef int k = _slot(x)
    if k < 0 or f.fn[k] == NULL or f.nin != 2 or _slot(y) != k:
        return None
    cdef int xd = cnp.PyArray_NDIM(x), yd = cnp.PyArray_NDIM(y)
    cdef cnp.npy_intp item = cnp.PyArray_ITEMSIZE(x)
    cdef char *args[3]
    cdef cnp.npy_intp steps[3]
    steps[0] = steps[1] = steps[2] = item
    if xd and yd:
        if not cnp.PyArray_SAMESHAPE(x, y):
            return None
        shaped = x
    elif xd:
        steps[1] = 0
        shaped = x
    elif yd and not into_a:
        steps[0] = 0
        shaped = y
    else:
        return None     # 0-d with 0-d: NumPy returns a scalar
    if not 0 < cnp.PyArray_SIZE(shaped) <= MAX_SIZE:
        return None
    args[0] = cnp.PyArray_BYTES(x)
    args[1] = cnp.PyArray_BYTES(y)
    if into_a and (not cnp.PyArray_ISWRITEABLE(x) or _overlap(x, y)):
        return None     # NumPy copies b first when a write into a would reach it
    return _run(f, k, shaped, args, steps, into_a)


cdef inline bint _overlap(cnp.ndarray x, cnp.ndarray y) noexcept:
    """The memory of contiguous ``y`` meets ``x``'s, other than as ``x`` itself."""
    cdef char *xs = cnp.PyArray_BYTES(x)
    cdef char *ys = cnp.PyArray_BYTES(y)
    if ys == xs and cnp.PyArray_NBYTES(y) == cnp.PyArray_NBYTES(x):
        return False    # the same elements: each is read before it is written
    return ys < xs + cnp.PyArray_NBYTES(x) and xs < ys + cnp.PyArray_NBYTES(y)


def _direct(ufunc, a, b=None, *, bint into_a=False):
    """What the core computes for ``ufunc(a[, b])`` by the loop, or None where it leaves
    the call to NumPy (for tests)."""
    cdef Loops f = loops_of(ufunc)
    return _direct1(f, a, into_a) if b is None else _direct2(f, a, b, into_a)


# Python numbers meeting float arrays in ufunc calls. NumPy casts such a number to the
# array's dtype on every call (NEP 50), which costs about as much as the arithmetic of
# a small array; the same cast done once gives the same values (bit for bit), so the
# core keeps the casts of the numbers a program uses, per dtype, up to _SCALARS_MAX.
cdef object _f16 = np.dtype(np.float16)
cdef dict _scalars16 = {}, _scalars32 = {}, _scalars64 = {}
cdef Py_ssize_t _SCALARS_MAX = 512


cdef object scalar_operand(object v, object array):
    """``v``, or when it is a Python float or int and ``array`` a float array, the cached
    read-only 0-d array of ``v`` in ``array``'s dtype."""
    if type(v) is not float and type(v) is not int:
        return v
    cdef object dtype = <object>cnp.PyArray_DESCR(<cnp.ndarray>array)
    cdef dict cache
    if dtype is _f32:
        cache = _scalars32
    elif dtype is _f64:
        cache = _scalars64
    elif dtype is _f16:
        cache = _scalars16
    else:
        return v
    s = cache.get(v)
    if s is not None:
        return s
    # Zeros are left out (0.0 and -0.0 are equal keys), and so is what would overflow
    # (NumPy warns then) or lose precision as a float64 first (ints beyond 2**53).
    if v == 0 or v != v or len(cache) >= _SCALARS_MAX:
        return v
    if type(v) is int and not -9007199254740992 <= v <= 9007199254740992:
        return v
    if not abs(v) <= _FLOAT_MAX[dtype]:
        return v
    s = np.asarray(v, dtype)
    s.flags.writeable = False
    cache[v] = s
    return s


cdef dict _FLOAT_MAX = {d: float(np.finfo(d).max) for d in (_f16, _f32, _f64)}
