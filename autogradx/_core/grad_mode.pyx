"""Per-thread grad mode, kept in a C thread-local so that the check on the
op-application hot path costs a function call, not a Python lookup."""

cdef extern from *:
    """
    static _Thread_local int agx_grad_enabled = 1;
    static _Thread_local int agx_inference_mode = 0;
    static int agx_anomaly_enabled = 0;
    static int agx_anomaly_check_nan = 1;
    static _Thread_local int agx_saved_hooks_on = 0;
    static int agx_saved_hooks_threads = 0;
    """
    int agx_grad_enabled
    int agx_inference_mode           # a no_grad that views made in it name as inference mode
    int agx_anomaly_enabled
    int agx_anomaly_check_nan
    int agx_saved_hooks_on
    int agx_saved_hooks_threads      # threads whose flag is on: a plain read first, the
                                     # thread-local one only where some thread has hooks


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


cdef bint inference_enabled() noexcept nogil:
    return agx_inference_mode


def is_inference_mode_enabled():
    """Return True inside ``inference_mode`` on this thread."""
    return bool(agx_inference_mode)


def _set_inference_mode(bint enabled):
    """Set this thread's inference mode flag and return the previous one (grad mode is set
    apart, with ``_set_grad_enabled``)."""
    global agx_inference_mode
    cdef bint prev = agx_inference_mode
    agx_inference_mode = enabled
    return prev


cdef bint anomaly_enabled() noexcept nogil:
    return agx_anomaly_enabled


cdef bint anomaly_check_nan() noexcept nogil:
    return agx_anomaly_enabled and agx_anomaly_check_nan


def is_anomaly_enabled():
    """True if anomaly detection is on (for every thread, as in PyTorch)."""
    return bool(agx_anomaly_enabled)


def is_anomaly_check_nan_enabled():
    """True if anomaly detection, when on, makes a NaN gradient an error."""
    return bool(agx_anomaly_check_nan)


def _set_anomaly_enabled(bint enabled, bint check_nan=True):
    """Set anomaly detection (and whether it checks for NaN); return the previous
    ``(enabled, check_nan)``."""
    global agx_anomaly_enabled, agx_anomaly_check_nan
    prev = (bool(agx_anomaly_enabled), bool(agx_anomaly_check_nan))
    agx_anomaly_enabled = enabled
    agx_anomaly_check_nan = check_nan
    return prev


cdef bint saved_hooks_on() noexcept nogil:
    return agx_saved_hooks_threads != 0 and agx_saved_hooks_on


def _set_saved_hooks_on(bint on):
    """Whether ops pack what they save (saved.py keeps the hooks; this is the hot path's flag)."""
    global agx_saved_hooks_on, agx_saved_hooks_threads
    if on != agx_saved_hooks_on:
        agx_saved_hooks_threads += 1 if on else -1
    agx_saved_hooks_on = on
