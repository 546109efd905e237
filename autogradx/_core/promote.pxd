# PyTorch's type promotion: dtype categories (-1 not a number type, 0 bool, 1 integer,
# 2 float, 3 complex) and the cast of an op's inputs to their result dtype.

from .opdef cimport OpDef

cdef int _category(object dtype) except -2
cdef int _scalar_category(object v)
cdef void _promote_all(OpDef op, list values, Py_ssize_t n) except *
