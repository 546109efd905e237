# vmap's footprint in the core: one flag read on every op application (a vmap level is
# active), and the dispatch to the batching rules, installed from above (autogradx/_batching),
# that op.pyx calls only while the flag is set.

cdef bint batching_active() noexcept nogil
cdef object dispatch(object op, tuple args, dict kwargs)     # the result, or NOT_BATCHED
cdef bint not_batched(object res) noexcept                # dispatch said: apply the op as usual
