"""``DataLoader``: batches from a dataset, in the main process or in worker processes,
with PyTorch's arguments, defaults, ``len`` rules and error texts.

With ``num_workers=0`` an iterator fetches each batch when asked. With workers it keeps
``prefetch_factor`` batches per worker in flight, hands the tasks round-robin and returns
the batches in sampler order (``in_order=False``: as they come). It waits on the workers'
result pipes and on their process sentinels together, so a worker that dies is reported
at once instead of hanging the loop, and ``timeout`` bounds each wait. The workers stop
when the iterator is exhausted or deleted (with ``persistent_workers``, when the loader is).
"""

import itertools
import math
import multiprocessing
import os
import warnings
from typing import Generic, TypeVar

from autogradx.utils.data._utils import transport
from autogradx.utils.data._utils.collate import default_collate, default_convert
from autogradx.utils.data._utils.fetch import create_fetcher
from autogradx.utils.data._utils.pool import WorkerPool
from autogradx.utils.data._utils.rng import draw_seed
from autogradx.utils.data._utils.worker import (
    ExceptionWrapper, _IterableDatasetStopIteration, _ResumeIteration, get_worker_info,
)
from autogradx.utils.data.dataset import IterableDataset
from autogradx.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]

T_co = TypeVar("T_co", covariant=True)

# Attributes that decide what the loader yields: fixed once it exists, as in PyTorch.
_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
           "persistent_workers")


class _InfiniteConstantSampler(Sampler):
    """``None`` forever: the sampler of an iterable dataset, whose samples take no index."""

    def __iter__(self):
        return itertools.repeat(None)


def _check_worker_options(num_workers, timeout, prefetch_factor, persistent_workers):
    """PyTorch's checks of the multiprocessing options; returns ``prefetch_factor`` with
    its default (2 with workers) filled in."""
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         "disable multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if num_workers > 0 and prefetch_factor is None:
        prefetch_factor = 2
    elif prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    return prefetch_factor


def _check_iterable_options(shuffle, sampler, batch_sampler):
    """An iterable dataset decides its own order: no shuffle, sampler or batch sampler."""
    if shuffle not in (False, None):
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                         f"option, but got shuffle={shuffle}")
    if sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                         f"option, but got sampler={sampler}")
    if batch_sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                         f"batch_sampler option, but got batch_sampler={batch_sampler}")


def _warn_pin_memory():
    from autogradx import cuda
    if cuda.is_available():
        msg = ("'pin_memory' argument is set as true, but autogradx does not pin memory: "
               "batches are returned as they are.")
    else:
        msg = ("'pin_memory' argument is set as true but no accelerator is found, then "
               "device pinned memory won't be used.")
    warnings.warn(msg, stacklevel=4)


def _cpu_count():
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


class DataLoader(Generic[T_co]):
    """An iterable over batches of ``dataset``, as ``torch.utils.data.DataLoader``.

    :param dataset: a map-style :class:`Dataset` (``__getitem__``, ``__len__``) or an
        :class:`IterableDataset`.
    :param batch_size: samples per batch (default 1); ``None`` turns batching off, each
        sample then goes through ``collate_fn`` (``default_convert``) alone.
    :param shuffle: a new random order each epoch (a ``RandomSampler`` over ``generator``).
    :param sampler: the order of the indices (any iterable; ``len`` for ``len(loader)``).
    :param batch_sampler: yields lists of indices; excludes ``batch_size``, ``shuffle``,
        ``sampler`` and ``drop_last``.
    :param num_workers: worker processes that load batches (0: the main process does).
    :param collate_fn: list of samples -> batch (``default_collate`` when batching).
    :param pin_memory: accepted for PyTorch code; autogradx does not pin memory (it warns).
    :param drop_last: drop the last batch when it is short.
    :param timeout: seconds to wait for a batch from the workers (0: no limit, though a
        worker that dies is reported at once either way).
    :param worker_init_fn: called in each worker with its id, after seeding.
    :param multiprocessing_context: a start method name or a multiprocessing context
        (default: the platform's). Under ``spawn`` or ``forkserver`` the dataset,
        ``collate_fn`` and ``worker_init_fn`` must pickle (autogradx tensors do here).
    :param generator: the ``autogradx.Generator`` for shuffling and for the workers' base
        seed (default: the default generator, so ``autogradx.manual_seed`` fixes them).
    :param prefetch_factor: batches in flight per worker (default 2 with workers).
    :param persistent_workers: keep the workers (and their dataset copies) between epochs.
    :param pin_memory_device: deprecated in PyTorch; accepted and ignored.
    :param in_order: with workers, ``False`` returns batches as they are ready.

    Each worker seeds Python's ``random``, ``autogradx`` and NumPy's global generator
    from the iterator's base seed plus its id (:func:`get_worker_info` gives the seed).
    The shuffled order and the seeds are reproducible but are not PyTorch's numbers.
    """

    _initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        self.prefetch_factor = _check_worker_options(num_workers, timeout, prefetch_factor,
                                                     persistent_workers)
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            _check_iterable_options(shuffle, sampler, batch_sampler)
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        # len(dataset) as len(loader) last read it, to warn when an iterable dataset
        # yields more than it said.
        self._IterableDataset_len_called = None
        self._iterator = None
        self._initialized = True
        self.check_worker_number_rationality()

    @property
    def multiprocessing_context(self):
        """The multiprocessing context the workers start in (None: the default one)."""
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"multiprocessing_context can only be used with multi-process "
                                 f"loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"multiprocessing_context option should be a valid context "
                                f"object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self._multiprocessing_context = context

    def __setattr__(self, attr, value):
        if self._initialized and attr in _FROZEN:
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(attr, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        """What the iterator draws: lists of indices when batching, single indices else."""
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self):
        if not (self.persistent_workers and self.num_workers > 0):
            return self._get_iterator()
        if self._iterator is None or self._iterator._shutdown:
            self._iterator = self._get_iterator()
        else:
            self._iterator._reset(self)
        return self._iterator

    def __len__(self):
        if not self._is_iterable:
            return len(self._index_sampler)
        # An iterable dataset's own estimate, divided into batches: the loader cannot know
        # how the workers split the stream.
        length = self._IterableDataset_len_called = len(self.dataset)
        if self.batch_size is not None:
            length = length // self.batch_size if self.drop_last else \
                math.ceil(length / self.batch_size)
        return length

    def check_worker_number_rationality(self):
        """Warn when there are more workers than CPUs this process may use."""
        if not self.num_workers:
            return
        cpus = _cpu_count()
        if cpus is None or self.num_workers > cpus:
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                          f"total. Our suggested max number of worker in current system is "
                          f"{cpus}, which is smaller than what this DataLoader is going to "
                          f"create. Please be aware that excessive worker creation might get "
                          f"DataLoader running slow or even freeze, lower the worker number to "
                          f"avoid potential slowness/freeze if necessary.", stacklevel=3)


class _BaseDataLoaderIter:
    """One pass over a loader (one epoch; persistent workers reuse it through ``_reset``)."""

    def __init__(self, loader):
        self._dataset = loader.dataset
        self._is_iterable = loader._is_iterable
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._persistent_workers = loader.persistent_workers
        if loader.pin_memory:
            _warn_pin_memory()
        self._sampler_iter = iter(self._index_sampler)
        # Drawn for every iterator, workers or not, as PyTorch draws it: the default
        # generator advances the same way.
        self._base_seed = draw_seed(loader.generator)
        self._num_yielded = 0

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)     # may raise StopIteration

    def _next_data(self):
        raise NotImplementedError

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        reported = self._IterableDataset_len_called
        if self._is_iterable and reported is not None and self._num_yielded > reported:
            msg = (f"Length of IterableDataset {self._dataset} was reported to be {reported} "
                   f"(when accessing len(dataloader)), but {self._num_yielded} samples have "
                   f"been fetched. ")
            if self._num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly "
                        "configuring the IterableDataset replica at each worker.")
            warnings.warn(msg, stacklevel=2)
        return data

    def __len__(self):
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{type(self).__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    """Fetches each batch in the main process when it is asked for."""

    def __init__(self, loader):
        super().__init__(loader)
        if self._timeout != 0:
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        self._fetcher = create_fetcher(self._dataset, self._auto_collation, self._collate_fn,
                                       self._drop_last)

    def _next_data(self):
        return self._fetcher.fetch(self._next_index())     # either may raise StopIteration


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Batches loaded by worker processes; see the module docstring."""

    def __init__(self, loader):
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        if self._prefetch_factor <= 0:
            raise AssertionError("prefetch_factor must be greater than 0 for "
                                 "MultiProcessingDataLoaderIter")
        self._in_order = loader.in_order
        context = loader.multiprocessing_context or multiprocessing.get_context()
        spec = transport.Pickled((self._dataset, self._auto_collation, self._collate_fn,
                                  self._drop_last, loader.worker_init_fn))
        self._pool = WorkerPool(context, self._num_workers, spec, self._base_seed)
        self._pool.shut_down_with(self)
        self._reset(loader, first_iter=True)

    @property
    def _workers(self):
        return self._pool.workers

    @property
    def _shutdown(self):
        return self._pool.is_shutdown

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0          # the next task to send
        self._rcvd_idx = 0          # the next task to return (in order)
        self._task_worker = {}      # task -> its worker, until the task is returned
        self._arrived = {}          # task -> (worker, data) that came before its turn
        self._workers_status = [True] * self._num_workers     # False: its data ran out
        self._workers_num_tasks = [0] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            for worker in range(self._num_workers):
                self._pool.put(worker, _ResumeIteration())
            resumed = 0
            while resumed < self._num_workers:
                # Answers still in flight from an epoch that was left early are dropped.
                task, _ = self._get_data()
                resumed += isinstance(task, _ResumeIteration)
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self):
        """Send the sampler's next index to the next worker in turn that is still
        fetching (with ``in_order=False``, one below its share of the tasks)."""
        try:
            index = self._next_index()
        except StopIteration:
            return
        share = self._prefetch_factor * self._num_workers // max(1, sum(self._workers_status))
        for _ in range(self._num_workers):
            worker = next(self._worker_cycle)
            if self._workers_status[worker] and \
                    (self._in_order or self._workers_num_tasks[worker] < share):
                break
        else:
            return
        self._pool.put(worker, (self._send_idx, index))
        self._task_worker[self._send_idx] = worker
        self._workers_num_tasks[worker] += 1
        self._send_idx += 1

    def _get_data(self):
        return self._pool.get(self._workers_status, self._timeout)

    def _next_data(self):
        while True:
            # Skip tasks already returned (in_order=False) and tasks that a worker whose
            # data ran out will never answer.
            while self._rcvd_idx < self._send_idx:
                if self._rcvd_idx in self._arrived:
                    break
                worker = self._task_worker.get(self._rcvd_idx)
                if worker is not None and self._workers_status[worker]:
                    break
                self._task_worker.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._pool.shutdown()
                raise StopIteration
            if self._rcvd_idx in self._arrived:
                worker, data = self._arrived.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process_data(data, worker)

            task, data = self._get_data()
            if isinstance(data, _IterableDatasetStopIteration):
                self._worker_ran_out(data.worker_id)
                del self._task_worker[task]
                self._try_put_index()
                continue
            worker = self._task_worker.pop(task)
            if task == self._rcvd_idx:
                self._rcvd_idx += 1
            elif self._in_order:
                self._arrived[task] = (worker, data)
                continue
            return self._process_data(data, worker)

    def _worker_ran_out(self, worker):
        """An iterable dataset's copy in ``worker`` is exhausted: send it no more tasks
        (and, unless it persists, let it exit)."""
        self._workers_status[worker] = False
        if not self._persistent_workers:
            self._pool.put(worker, None)

    def _process_data(self, data, worker):
        self._workers_num_tasks[worker] -= 1
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data
