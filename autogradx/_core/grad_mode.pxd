# Grad mode: one flag per thread, read on every op application.
# The flag itself is a C thread-local in grad_mode.pyx; other modules reach it
# through these functions so there is exactly one copy of it.

cdef bint grad_enabled() noexcept nogil
cdef void set_grad_enabled_c(bint enabled) noexcept nogil
cdef bint inference_enabled() noexcept nogil     # inside inference_mode on this thread
cdef bint anomaly_enabled() noexcept nogil
cdef bint anomaly_check_nan() noexcept nogil   # anomaly mode is on and checks for NaN
cdef bint saved_hooks_on() noexcept nogil      # a saved_tensors_hooks pair is active on this thread
