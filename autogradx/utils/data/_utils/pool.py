"""The worker processes of one ``DataLoader`` iterator, seen from the main process:
starting them, sending them messages, waiting for their answers while watching that they
live, and stopping them.

Each worker has an index queue (a ``multiprocessing.Queue``, so that sending never
blocks the main process) and a result pipe of its own. Waiting covers the result pipes
and the process sentinels together (``multiprocessing.connection.wait``): an answer is
taken as soon as it comes, and a worker that dies is reported at once.

A pool is shut down when its iterator is exhausted or collected, through a
``weakref.finalize`` on the iterator rather than a ``__del__``: the finalizer keeps the
pool alive until it has run. When an iterator dies in a garbage cycle (a traceback that
holds it), a ``__del__`` would run after multiprocessing's own finalizers had already
stopped the queues' feeder threads, so the stop messages would never leave.
"""

import os
import signal
import time
import weakref
from multiprocessing.connection import wait

from autogradx.utils.data._utils import MP_STATUS_CHECK_INTERVAL, transport
from autogradx.utils.data._utils.worker import _worker_loop


class WorkerPool:
    """``num_workers`` processes running ``_worker_loop`` on ``spec`` (a
    ``transport.Pickled``), seeded from ``base_seed``."""

    def __init__(self, context, num_workers, spec, base_seed):
        self.owner = os.getpid()
        self.done_event = context.Event()
        self.workers, self.index_queues = [], []
        self.result_conns = {}      # reader -> worker id, while the pipe is open
        self.failure = None         # why the pool was lost, once it was
        self.is_shutdown = False
        try:
            for worker_id in range(num_workers):
                index_queue = context.Queue()
                index_queue.cancel_join_thread()    # never block exit on undelivered indices
                reader, writer = context.Pipe(duplex=False)
                worker = context.Process(
                    target=_worker_loop, daemon=True,
                    args=(spec, index_queue, writer, self.done_event, base_seed, worker_id,
                          num_workers))
                worker.start()
                writer.close()      # the worker's end
                self.workers.append(worker)
                self.index_queues.append(index_queue)
                self.result_conns[reader] = worker_id
        except BaseException:
            self.shutdown()
            raise

    def shut_down_with(self, owner):
        """Shut the pool down when ``owner`` (its iterator) is collected; not at
        interpreter exit, where multiprocessing ends daemonic workers itself."""
        weakref.finalize(owner, self.shutdown).atexit = False

    def put(self, worker, message):
        self.index_queues[worker].put(message)

    def get(self, fetching, timeout):
        """The next answer of any worker, ``(task, data)``. ``fetching[w]`` says whether
        worker ``w`` must be alive; if one of those dies the pool is shut down and this
        raises. ``timeout`` (seconds, 0 for none) bounds the wait."""
        if self.failure is not None:
            raise RuntimeError(self.failure)
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            watched = {self.workers[w].sentinel: w for w, alive in enumerate(fetching) if alive}
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = wait([*self.result_conns, *watched], remaining)
            if not ready:
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")
            for conn in ready:
                if conn in self.result_conns:
                    try:
                        return transport.loads(conn.recv_bytes())
                    except EOFError:        # its worker is gone: its sentinel tells how
                        conn.close()
                        del self.result_conns[conn]
            dead = [w for sentinel, w in watched.items() if sentinel in ready]
            if dead:
                self._lost(dead)

    def _lost(self, dead):
        pids, causes = [], []
        for w in dead:
            worker = self.workers[w]
            worker.join(MP_STATUS_CHECK_INTERVAL)   # its sentinel fired: this collects the code
            pids.append(str(worker.pid))
            code = worker.exitcode
            causes.append(f"killed by signal: {signal.strsignal(-code)}" if code and code < 0
                          else f"exit code {code}")
        self.failure = (f"DataLoader worker (pid(s) {', '.join(pids)}) exited unexpectedly "
                        f"({', '.join(causes)})")
        self.shutdown()
        raise RuntimeError(self.failure)

    def shutdown(self):
        """Stop the workers: ask, wait a while (dropping answers nobody will read, so that
        no worker stays blocked sending one), then terminate the ones left."""
        if self.is_shutdown or os.getpid() != self.owner:
            return      # done already, or a copy inherited by a forked process
        self.is_shutdown = True
        self.done_event.set()
        for index_queue in self.index_queues:
            index_queue.put(None)
        deadline = time.monotonic() + MP_STATUS_CHECK_INTERVAL
        running = {w.sentinel for w in self.workers if w.exitcode is None}
        conns = set(self.result_conns)
        while running and (remaining := deadline - time.monotonic()) > 0:
            for ready in wait([*running, *conns], remaining):
                if ready in running:
                    running.discard(ready)
                    continue
                try:
                    ready.recv_bytes()
                except (EOFError, OSError):
                    conns.discard(ready)
        for worker in self.workers:
            if worker.is_alive():
                worker.terminate()
                worker.join(MP_STATUS_CHECK_INTERVAL)
        for index_queue in self.index_queues:
            index_queue.close()
        for conn in self.result_conns:
            conn.close()
