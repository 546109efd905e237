"""A background thread that moves non-blocking operations forward.

MPI transfers a message only while some thread is inside an MPI call. An operation started
with ``async_op=True`` (DDP's gradient buckets among them) would otherwise wait, untouched,
until the main thread calls ``wait()`` or ``is_completed()``, and overlap nothing. While
such operations are in flight, this thread tests them every ``INTERVAL`` seconds; NumPy
releases the GIL in its kernels, so the tests run beside the backward's matrix products.
MPI allows it when it was initialised with ``MPI_THREAD_MULTIPLE`` (mpi4py's default); the
backend says so through ``thread_multiple``. ``AUTOGRADX_DIST_PROGRESS=0`` turns the
thread off. ``Work`` serialises its own tests, so the thread and ``wait()`` never test one
request at once.
"""

import os
import threading
import time

__all__ = ["watch", "enabled"]

INTERVAL = 2e-4          # seconds between two rounds of tests

_lock = threading.Lock()
_in_flight = []          # the Work objects not yet seen completed
_wake = threading.Event()
_thread = None


def enabled(comm):
    """Whether operations on backend communicator ``comm`` get the thread."""
    return (os.environ.get("AUTOGRADX_DIST_PROGRESS", "1") != "0"
            and getattr(comm, "thread_multiple", False))


def watch(work):
    """Test ``work`` in the background until it completes."""
    global _thread
    with _lock:
        _in_flight.append(work)
        if _thread is None:
            _thread = threading.Thread(target=_run, name="autogradx-dist-progress",
                                       daemon=True)
            _thread.start()
    _wake.set()


def _run():
    while True:
        _wake.wait()                      # asleep while nothing is in flight
        while True:
            with _lock:
                pending = list(_in_flight)
            done = [w for w in pending if w.is_completed()]
            with _lock:
                for w in done:
                    _in_flight.remove(w)
                if not _in_flight:
                    _wake.clear()
                    break
            time.sleep(INTERVAL)
