"""The machinery behind ``DataLoader``: collation, fetching, the worker processes and
what crosses between them. Users meet ``default_collate`` and ``get_worker_info``
through ``autogradx.utils.data``; the rest is internal.
"""

import atexit

# How long a worker waits on its index queue before checking that the main process is
# still alive, and how long shutting down waits for a worker before terminating it.
MP_STATUS_CHECK_INTERVAL = 5.0

# Set when the interpreter exits: iterators then leave their daemonic workers to
# multiprocessing's own exit handler instead of shutting them down from ``__del__``
# while modules are being torn down.
python_exit_status = False


def _set_python_exit_flag():
    global python_exit_status
    python_exit_status = True


atexit.register(_set_python_exit_flag)
