# Forward-mode AD's footprint in the core: one flag read on every op application (a dual
# level is entered), and the tangent propagation, installed from above (autogradx/autograd/
# _jvp.py), that the op paths call only while the flag is set.

cdef bint forward_active() noexcept nogil
cdef void propagate(object op, tuple raw, list values, tuple extra, dict params,
                    tuple outs, object resid) except *
cdef void propagate_inplace(object t, object result) except *
