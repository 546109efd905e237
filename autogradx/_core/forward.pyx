"""Forward-mode AD's hook into the op paths: a C flag that is set while a dual level is
entered (``forward_ad.dual_level``), so that applying an op with no level active costs one
C call, and the tangent propagation that op.pyx calls while it is set. The propagation
itself (which forward rule each op has, evaluating it on tensors) lives above the core and
is handed to it with ``install_propagation``, as the core imports nothing above itself."""

cdef extern from *:
    """
    static int agx_forward_active = 0;
    """
    int agx_forward_active

cdef object _propagate = None           # (op, raw, values, extra, params, outs, resid) -> None
cdef object _propagate_inplace = None   # (written tensor, out-of-place result) -> None


cdef bint forward_active() noexcept nogil:
    return agx_forward_active


def _set_forward_active(bint active):
    """Set the flag and return its previous value (forward_ad sets it while a level is
    entered and clears it while a tangent is being computed)."""
    global agx_forward_active
    cdef bint prev = agx_forward_active
    agx_forward_active = active
    return prev


def install_propagation(propagate, propagate_inplace):
    global _propagate, _propagate_inplace
    _propagate = propagate
    _propagate_inplace = propagate_inplace


cdef void propagate(object op, tuple raw, list values, tuple extra, dict params,
                    tuple outs, object resid) except *:
    _propagate(op, raw, values, extra, params, outs, resid)


cdef void propagate_inplace(object t, object result) except *:
    _propagate_inplace(t, result)
