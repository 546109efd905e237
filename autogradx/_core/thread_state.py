"""Running a call on a fresh thread that inherits the caller's per-thread state.

PyTorch's engine runs a reentrant backward (one started from inside a node's backward)
nested too deep on another thread, with the caller's thread-local state, so that a chain of
them thousands deep does not exhaust one thread's stack. autogradx's engine does the same
(engine.pyx, ``run_backward``). Each module that keeps state per thread and that a backward
reads (grad mode, saved-tensor hooks, the default device, ...) declares here how to read and
set it (``carry``); ``run_on_fresh_thread`` copies all of it to the new thread.
"""

import contextvars
import threading

from .grad_mode import _set_grad_enabled, is_grad_enabled

_carried = []       # (get, set) pairs: set(get()) on another thread gives it this state


def carry(get, set):
    """Declare a piece of per-thread state: ``get()`` reads this thread's, ``set(value)``
    gives it to the thread it is called on."""
    _carried.append((get, set))


def run_on_fresh_thread(fn, *args):
    """``fn(*args)`` on a new thread that starts with this thread's carried state; its result
    returned, or its exception raised, here."""
    state = [(set_state, get()) for get, set_state in _carried]
    outcome = []

    def work():
        for set_state, value in state:
            set_state(value)
        try:
            outcome.append((True, fn(*args)))
        except BaseException as e:      # raised again on the calling thread
            outcome.append((False, e))

    # The context variables too (NumPy's floating-point error state among them).
    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(work,),
                              name="autogradx-reentrant-backward", daemon=True)
    worker.start()
    worker.join()
    ok, value = outcome.pop()
    if not ok:
        try:
            raise value
        finally:
            value = None                # no cycle through this frame's traceback
    return value


carry(is_grad_enabled, _set_grad_enabled)
