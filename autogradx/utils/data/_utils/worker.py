"""The worker processes of a ``DataLoader`` with ``num_workers > 0``.

Each worker receives ``(task index, sampler index)`` pairs on its own index queue and
answers each with ``(task index, batch)`` on its own result pipe, pickled by
``transport`` (so autogradx tensors cross). An exception in the dataset, the collate
function or ``worker_init_fn`` is sent back as an :class:`ExceptionWrapper`, which the
main process re-raises with the worker's traceback in its message. ``None`` on the index
queue stops a worker; so does the main process going away.
"""

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass

from autogradx.utils.data._utils import MP_STATUS_CHECK_INTERVAL, transport
from autogradx.utils.data._utils.fetch import create_fetcher
from autogradx.utils.data.dataset import IterableDataset

__all__ = ["WorkerInfo", "get_worker_info"]


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker knows of itself: ``id`` (0 to ``num_workers - 1``), ``num_workers``,
    ``seed`` (the base seed of the iterator plus ``id``) and ``dataset`` (this worker's
    copy of the dataset)."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info = None


def get_worker_info():
    """The ``WorkerInfo`` of the ``DataLoader`` worker this runs in; ``None`` in the
    main process. An ``IterableDataset`` uses it to split its stream between workers."""
    return _worker_info


class KeyErrorMessage(str):
    """A message that ``KeyError`` shows as it is (``KeyError`` shows the ``repr`` of its
    argument, which would print the traceback as one line of escapes)."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception with its traceback as text, to raise again in another process."""

    def __init__(self, exc_info=None, where="in background"):
        exc_info = sys.exc_info() if exc_info is None else exc_info
        self.exc_type = exc_info[0]
        self.type_name = self.exc_type.__name__     # kept if exc_type must become RuntimeError
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        """Raise the exception again, of its type where it can be built from a message
        (else as a RuntimeError), the original traceback in its text."""
        msg = f"Caught {self.type_name} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """A worker's answer once its copy of an iterable dataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Sent to persistent workers to start a new epoch; echoed back as an acknowledgement."""


def _seed_worker(base_seed, worker_id):
    """Seed Python's, autogradx's and NumPy's global generators for this worker, so that
    workers draw different numbers and the same numbers on every run."""
    import numpy as np

    from autogradx._factories import manual_seed
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(np.random.SeedSequence([base_seed, worker_id]).generate_state(4))
    return seed


def _send(conn, task, data, where):
    """Send one answer. One that cannot be pickled is replaced by the error saying why."""
    try:
        payload = transport.dumps((task, data))
    except Exception:
        if isinstance(data, ExceptionWrapper):      # an exception type pickle cannot find:
            data.exc_type = RuntimeError            # raised as a RuntimeError
        else:
            data = ExceptionWrapper(where=f"{where} (sending the batch to the main process)")
        payload = transport.dumps((task, data))
    conn.send_bytes(payload)


def _worker_loop(spec, index_queue, result_conn, done_event, base_seed, worker_id,
                 num_workers):
    """The body of worker ``worker_id``. ``spec`` (a ``transport.Pickled``) holds the
    dataset, ``auto_collation``, ``collate_fn``, ``drop_last`` and ``worker_init_fn``."""
    global _worker_info
    try:
        dataset, auto_collation, collate_fn, drop_last, init_fn = spec.obj
        where = f"in DataLoader worker process {worker_id}"
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        fetcher = init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_error = ExceptionWrapper(where=where)   # the answer to every task
        ended = False
        parent = os.getppid()
        while os.getppid() == parent:       # else the main process has died: stop
            try:
                message = index_queue.get(timeout=MP_STATUS_CHECK_INTERVAL)
            except queue.Empty:
                continue
            if message is None:
                break
            if isinstance(message, _ResumeIteration):
                ended = False
                if init_error is None:
                    fetcher = create_fetcher(dataset, auto_collation, collate_fn, drop_last)
                _send(result_conn, message, None, where)
                continue
            if done_event.is_set() or ended:
                continue        # shutting down, or nothing left to fetch: no answer
            task, index = message
            if init_error is not None:
                data = init_error
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as exc:
                    if isinstance(exc, StopIteration) and isinstance(dataset, IterableDataset):
                        data, ended = _IterableDatasetStopIteration(worker_id), True
                    else:
                        data = ExceptionWrapper(where=where)
            _send(result_conn, task, data, where)
            del data, index, message
    except (KeyboardInterrupt, BrokenPipeError):
        # Ctrl-C reaches the workers too, and the main process says what happened; a
        # closed pipe means the main process is gone.
        pass
