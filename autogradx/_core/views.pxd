# In-place changes through views: the base's CopySlices history, and views' histories
# rebuilt on their base's.

from .node cimport Node
from .tensor cimport TensorBase, ViewInfo, apply_fn

cdef class CopySlices(Node):
    cdef Node fn                     # the in-place op's node (its edge 0 replaced by the base's), or None
    cdef object positions            # flat positions in the base's memory of the view's elements
    cdef object unit                 # the view's dtype, which those positions count in


cdef void install_apply_parsed(apply_fn fn) noexcept
cdef void check_view_inplace(TensorBase t) except *
cdef void copy_slices(TensorBase t, object fn) except *
cdef object replay(ViewInfo info, object x, bint on_tensor)
