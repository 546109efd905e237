"""The machinery behind ``DataLoader``: collation, fetching, the worker processes and
what crosses between them. Users meet ``default_collate`` and ``get_worker_info``
through ``autogradx.utils.data``; the rest is internal.
"""

# How long a worker waits on its index queue before checking that the main process is
# still alive, and how long shutting down waits for a worker before terminating it.
MP_STATUS_CHECK_INTERVAL = 5.0
