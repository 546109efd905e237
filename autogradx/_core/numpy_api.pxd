# NumPy's namespace as forwards and vjps get it on NumPy arrays (numpy_api.pyx), and what the
# rest of the core takes from it.

cimport numpy as cnp

cdef object filled_like(cnp.ndarray a, object value)   # empty_like(a) filled with 0 or 1
