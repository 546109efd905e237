"""What happens to the other ranks when one fails.

MPI leaves a job whose rank raised an exception hanging: the rank's interpreter exits, the
others wait forever inside their next collective. While a process group exists,
``sys.excepthook`` is wrapped so that an uncaught exception, once printed, ends the whole
job through ``MPI_Abort``: ``mpiexec`` then stops every rank and exits non-zero. A rank
killed by a signal is caught by ``mpiexec`` itself, which ends the others. What is left
(a rank that exits early, or is stuck outside MPI) is covered by the deadline of every wait
(``work.py``): the ranks waiting on it raise ``DistBackendError`` after the group's
timeout, and that uncaught error aborts the job in turn.
"""

import sys

__all__ = ["install", "uninstall"]

_previous = None     # the excepthook ours replaced, while ours is installed


def install(rank, size, abort):
    """Wrap ``sys.excepthook`` so that an uncaught exception on this rank (``rank`` of
    ``size``) calls ``abort(1)`` after the usual traceback."""
    global _previous
    if _previous is not None:
        return
    _previous = sys.excepthook
    previous = _previous

    def abort_job(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        if size > 1 and not issubclass(exc_type, KeyboardInterrupt):
            print(f"autogradx.distributed: rank {rank} of {size} failed with the "
                  f"{exc_type.__name__} above; ending all ranks (MPI_Abort)",
                  file=sys.stderr, flush=True)
            sys.stdout.flush()
            abort(1)

    sys.excepthook = abort_job


def uninstall():
    """Put the excepthook that ``install`` replaced back."""
    global _previous
    if _previous is not None:
        sys.excepthook, _previous = _previous, None
