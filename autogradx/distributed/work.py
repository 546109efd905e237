"""``Work``: the handle of a collective or point-to-point operation in flight, as
``torch.distributed``'s work objects (``async_op=True`` returns one).

Waiting is a loop over the backend request's non-blocking ``test()`` (an MPI request's
test; for ``nccl``, a query of the CUDA event recorded after the operation) under a
deadline, not a blocking wait: a rank that died, raised or never joined the operation turns into a
:class:`DistBackendError` on the others after the group's timeout instead of a hang
(docs/distributed.md, *Failures*). MPI moves a message forward only inside MPI calls, so
the loop tests without sleeping for the first second (as ``MPI_Wait`` itself spins: a
pause would stall a transfer that is under way), giving the core away (``sched_yield``)
every ``_TESTS_PER_YIELD`` tests, as MPICH's wait does, so that a peer sharing the core
runs; after that second it sleeps between tests, a growing pause of at most a millisecond
(a rank waiting for a slow or dead peer).
"""

import os
import threading
import time

from autogradx.distributed.errors import DistBackendError

__all__ = ["Work"]

_SPIN_SECONDS = 1.0       # how long the loop tests without sleeping
_TESTS_PER_YIELD = 64     # while spinning: tests between two sched_yield calls
_MAX_PAUSE = 1e-3         # seconds: the longest sleep between two tests


class Work:
    """An operation in flight: ``wait()`` blocks until it is done (or the timeout runs
    out), ``is_completed()`` asks without blocking.

    ``requests`` are the backend's request objects (each with ``test() -> bool``);
    ``what`` names the operation in errors (a string, or a function returning one, so that
    the common case formats nothing);
    ``finish`` runs once when all are done (copies out of staging buffers, the division
    of ``AVG``); ``result`` is what ``result()`` returns (the output tensors).
    """

    def __init__(self, requests, what, timeout, finish=None, result=None):
        self._requests = list(requests)
        self._what = what            # "all_reduce (float32 tensor of shape (4,)) on rank 1 of 2"
        self._timeout = timeout      # seconds
        self._finish = finish
        self._result = result
        self._started = time.monotonic()
        self._done = False
        self._error = None
        # The progress thread (progress.py) tests too: one test of a request at a time,
        # and ``finish`` runs once, before anyone sees the work done.
        self._lock = threading.Lock()

    def _poll(self):
        with self._lock:
            if self._done:
                return True
            self._requests = [r for r in self._requests if not r.test()]
            if self._requests:
                return False
            if self._finish is not None:
                finish, self._finish = self._finish, None
                try:
                    finish()
                except Exception as exc:      # raised by wait(), in the caller's thread
                    self._error = exc
            self._done = True
            return True

    def is_completed(self):
        """Whether the operation has finished (never blocks)."""
        return self._poll()

    def wait(self, timeout=None):
        """Block until the operation has finished and return True.

        Raises :class:`DistBackendError` when it has not finished ``timeout`` (a
        ``datetime.timedelta`` or seconds; by default the group's timeout) after it
        started: a rank died, raised, or is stuck elsewhere. The group cannot be used
        after that (the operation is still posted on the ranks that joined it).
        """
        if self._error is not None:
            raise self._error
        limit = self._timeout if timeout is None else _seconds(timeout)
        deadline = self._started + limit
        spin_until = time.monotonic() + _SPIN_SECONDS
        pause = 1e-5
        tests = 0
        while not self._poll():
            now = time.monotonic()
            if now > deadline:
                self._error = DistBackendError(
                    f"{self.what} did not finish within its timeout of {limit:g} s: another "
                    "rank died, raised an error, or has not joined this operation (a rank "
                    "that skipped it, or called a different collective)")
                raise self._error
            if now > spin_until:
                time.sleep(pause)
                pause = min(pause * 2, _MAX_PAUSE)
            else:
                tests += 1
                if tests % _TESTS_PER_YIELD == 0:
                    _yield()
        if self._error is not None:
            raise self._error
        return True

    def is_success(self):
        """True once the operation finished without error."""
        return self._done and self._error is None

    def exception(self):
        """The error ``wait()`` raised, or None."""
        return self._error

    def result(self):
        """The operation's output tensors (a list), after waiting for it."""
        self.wait()
        return self._result

    @property
    def what(self):
        """The operation, in words."""
        return self._what() if callable(self._what) else self._what

    def __repr__(self):
        state = "completed" if self._done else "pending"
        return f"<Work {self.what}: {state}>"


# os.sched_yield is POSIX only; elsewhere a zero sleep gives the core away too.
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))


def _seconds(timeout):
    """``timeout`` (a ``timedelta`` or a number of seconds) in seconds, checked."""
    seconds = timeout.total_seconds() if hasattr(timeout, "total_seconds") else timeout
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"timeout must be a positive datetime.timedelta or number of "
                         f"seconds, got {timeout!r}")
    return float(seconds)
