# In-place changes through views: the base's CopySlices history, and views' histories
# rebuilt on their base's.

from .node cimport Node
from .tensor cimport TensorBase, ViewInfo, apply_fn

cdef class CopySlices(Node):
    cdef Node fn                     # the in-place op's node (its edge `slot` replaced by the base's), or None
    cdef object positions            # flat positions in the base of the view's elements; None once released
    cdef Py_ssize_t slot             # which input of fn the view is (0 for an op; any for a custom Function)


cdef void install_apply_parsed(apply_fn fn) noexcept
cdef void check_view_inplace(TensorBase t) except *
cdef void copy_slices(TensorBase t, object fn, Py_ssize_t slot=*) except *
cdef object replay(ViewInfo info, object x, bint on_tensor)
