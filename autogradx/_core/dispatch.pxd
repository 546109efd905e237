# Which array module computes on an array, and whether the core's fast paths are on (the
# conformance kit turns them off to compare).

cdef object array_module(object data)
cdef bint is_numpy(object xp) noexcept   # NumPy, or numpy_api's NUMPY


cdef class Switch:
    cdef readonly bint on            # read as a struct field by the hot paths: no call
