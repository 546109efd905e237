# Direct calls of NumPy's own inner loops for small float arrays (see loops.pyx).

cimport numpy as cnp

cdef class Loops:
    cdef readonly object ufunc       # the NumPy ufunc whose loops these are
    cdef int nin                     # its inputs: 1 or 2
    cdef void *fn[2]                 # its inner loop for float32 and for float64, or NULL
    cdef void *data[2]               # the loop's data argument


cdef Loops loops_of(object ufunc)
# ``ufunc(a[, b])``, or into ``a`` (``ufunc(a[, b], a)``): the loop when it takes the
# call, the ufunc otherwise.
cdef object call1(Loops f, object a, bint into_a)
cdef object call2(Loops f, object a, object b, bint into_a)
# ``v``, or when it is a Python number and ``array`` a float array, its cached cast to
# ``array``'s dtype (the value NumPy's own cast gives, without its cost per call).
cdef object scalar_operand(object v, object array)


cdef inline bint exact_in_place(cnp.ndarray a) noexcept:
    """``ufunc(a, b, a)`` leaves in ``a`` the bits of ``ufunc(a, b)``: not for a single
    element, which NumPy's loops take as a reduction when written in place (another of
    two NaNs can come out). Writes in place for speed ask this first."""
    return cnp.PyArray_SIZE(a) > 1
