# The backward node of one op application, and the services the core gets from above it
# at import (install_services).

from .node cimport Node
from .opdef cimport OpDef


cdef class OpNode(Node):
    cdef readonly OpDef op           # the op whose vjp this node runs
    cdef tuple saved                 # the vjp's saved arguments (arrays, scalars); a value no input
                                     # that requires grad reads is None; None once released
    cdef tuple saved_from            # per saved value: input tensor or result VersionCounter it came from, or None;
                                     # for a packed input, its history (grad_fn, output_nr, accumulator)
    cdef tuple saved_versions        # their versions when saved
    cdef dict params                 # keyword parameters of the call, passed on to the vjp; or None
    cdef bint packed                 # some saved values are saved.Packed (saved-tensor hooks were on)

    cdef void pack_saved(self, tuple raw, tuple outs) except *
    cdef tuple unpacked(self, bint as_tensors)
    cdef tuple _tensors_of(self, tuple values)

    cdef bint _versions_match(self)


cdef object device_of(object data)
cdef object _tensor_namespace()     # the namespace vjps run on under create_graph (recording on tensors)
