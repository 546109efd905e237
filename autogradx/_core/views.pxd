# In-place changes through views: the base's CopySlices history, and views' histories
# rebuilt on their base's.

from .node cimport Node
from .tensor cimport TensorBase, ViewInfo, apply_fn

cdef class CopySlices(Node):
    cdef Node fn                     # the in-place op's node (edge `slot` is the base's here), or None
    cdef object positions            # flat positions of the view's elements in the base; None: released
    cdef Py_ssize_t slot             # which input of fn the view is (0 for an op, any for a Function)
    cdef object unit                 # the view's dtype, which those positions count in


cdef void install_apply_parsed(apply_fn fn) noexcept
cdef void check_view_inplace(TensorBase t, tuple args) except *
cdef void copy_slices(TensorBase t, object fn, Py_ssize_t slot=*) except *
cdef object replay(ViewInfo info, object x, bint on_tensor)
