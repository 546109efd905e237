"""vmap's hook into the op paths: a C flag that is set while a vmap level is active (and
cleared while a batching rule computes on the batched arrays), so that applying an op
outside vmap costs one C call, and the dispatch to the batching rules that op.pyx calls
while it is set. The rules themselves (autogradx/_batching) live above the core and are
handed to it with ``install_dispatch``, as the core imports nothing above itself."""

cdef extern from *:
    """
    static int agx_batching_active = 0;
    """
    int agx_batching_active


class _NotBatched:
    """What the dispatch returns when no input of the op is batched: apply it as usual."""

    def __repr__(self):
        return "NOT_BATCHED"


NOT_BATCHED = _NotBatched()
cdef object _not_batched = NOT_BATCHED

cdef object _dispatch = None            # (op, args, kwargs) -> result, or NOT_BATCHED


cdef bint batching_active() noexcept nogil:
    return agx_batching_active


def is_batching_active():
    """Whether ops are dispatched to the batching rules now."""
    return bool(agx_batching_active)


def _set_batching_active(bint active):
    """Set the flag and return its previous value (vmap sets it while its function runs;
    the batching rules clear it while they compute on the batched arrays)."""
    global agx_batching_active
    cdef bint prev = agx_batching_active
    agx_batching_active = active
    return prev


def install_dispatch(fn):
    global _dispatch
    _dispatch = fn


cdef object dispatch(object op, tuple args, dict kwargs):
    return _dispatch(op, args, kwargs)


cdef bint not_batched(object res) noexcept:
    return res is _not_batched
