"""Per-thread grad mode, kept in a C thread-local so that the check on the
op-application hot path costs a function call, not a Python lookup."""

cdef extern from *:
    """
    static _Thread_local int agx_grad_enabled = 1;
    """
    int agx_grad_enabled


cdef bint grad_enabled() noexcept nogil:
    return agx_grad_enabled


cdef void set_grad_enabled_c(bint enabled) noexcept nogil:
    global agx_grad_enabled
    agx_grad_enabled = enabled


def is_grad_enabled():
    """Return True if gradients are recorded on this thread."""
    return bool(agx_grad_enabled)


def _set_grad_enabled(bint enabled):
    """Set this thread's grad mode and return the previous one."""
    cdef bint prev = agx_grad_enabled
    set_grad_enabled_c(enabled)
    return prev
