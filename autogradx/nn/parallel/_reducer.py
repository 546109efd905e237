"""The gradient buckets of ``DistributedDataParallel``: which parameters share an
all-reduce, when each all-reduce starts, and writing the averages back into ``.grad``.

Parameters go into buckets in reverse registration order (backward reaches the last layers
first), split by dtype and capped in bytes (the first bucket small, so communication starts
early), as PyTorch's reducer does. A hook after each parameter's gradient accumulation
copies ``.grad`` into its slot of the bucket's flat buffer; when a bucket's last slot is
filled, its non-blocking ``all_reduce(AVG)`` starts while backward goes on; MPI moves its
data while the progress thread of ``autogradx.distributed`` tests it (``progress.py``), and
each later hook tests the buckets in flight too (all there is when the thread is off); NCCL
moves it on its own CUDA stream. The buffers live where the parameters do (the group's
array module, NumPy or CuPy). Buckets start
strictly in index order, so every rank posts the same sequence of collectives (MPI needs
that of non-blocking collectives), whatever order its gradients arrive in. The hook of the
last parameter waits for every bucket and writes the averages into ``.grad``.

The hook is ``Tensor.register_post_accumulate_grad_hook`` where the tensor type has it, else
a post-hook on the parameter's ``AccumulateGrad`` node (held here, so the graph reuses that
node), which runs at the same moment: after ``.grad`` is updated.
"""

import time

import numpy as np

from autogradx._core.tensor import TensorBase, wrap
from autogradx.distributed.collectives import all_reduce
from autogradx.distributed.reduce_op import ReduceOp

__all__ = ["Reducer"]

_MB = 1024 * 1024

UNFINISHED_REDUCTION = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `autogradx.nn.parallel.DistributedDataParallel`, and "
    "by making sure all `forward` function outputs participate in calculating loss. "
    "Parameters that were not used: {names}")


class _Bucket:
    """Parameters whose gradients travel in one all-reduce, and its flat buffer."""

    def __init__(self, params, xp):
        self.params = params
        sizes = [p._data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.buffer = xp.zeros(self.offsets[-1], dtype=params[0]._data.dtype)
        self.pending = len(params)      # slots not yet filled this iteration
        self.work = None                # the all-reduce in flight, or None

    def slot(self, i):
        p = self.params[i]
        return self.buffer[self.offsets[i]:self.offsets[i + 1]].reshape(p._data.shape)


def _buckets(params, first_cap, cap, xp):
    """Parameters in reverse order, cut into buckets of one dtype and at most ``cap``
    bytes (``first_cap`` for the first), each holding at least one parameter; their
    buffers made by array module ``xp``."""
    out, current, size = [], [], 0
    for p in reversed(params):
        limit = first_cap if not out else cap
        nbytes = p._data.nbytes
        if current and (p._data.dtype != current[0]._data.dtype or size + nbytes > limit):
            out.append(_Bucket(current, xp))
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        out.append(_Bucket(current, xp))
    return out


class Reducer:
    """Averages the gradients of ``params`` over ``group`` during backward (see the
    module docstring). ``names`` maps a parameter's id to its name, for errors."""

    def __init__(self, params, names, group, bucket_cap_mb, first_bucket_mb,
                 find_unused_parameters):
        self.group = group
        self.names = names
        self.find_unused = find_unused_parameters
        self.xp = group.comm.xp
        self.buckets = _buckets(params, first_bucket_mb * _MB, bucket_cap_mb * _MB, self.xp)
        self.where = {}                 # id(param) -> (bucket index, slot)
        for b, bucket in enumerate(self.buckets):
            for i, p in enumerate(bucket.params):
                self.where[id(p)] = (b, i)
        self.armed = False              # a synchronised backward is expected
        self.touched = False            # a hook ran since the last prepare
        self.ready = set()              # ids of the parameters whose slot is filled
        self.next_bucket = 0            # the first bucket not yet started
        self.used = None                # find_unused: 1 per parameter used on this rank
        # Last backward (read by benchmarks/bench_distributed.py), time.monotonic() values:
        self.last_gradient_at = 0.0     # the last gradient arrived, the waiting began
        self.reduced_at = 0.0           # every bucket was reduced
        self._handles = [self._hook(p) for p in params]

    def _hook(self, p):
        if hasattr(p, "register_post_accumulate_grad_hook"):
            return p.register_post_accumulate_grad_hook(self._ready_hook)
        acc = p.view_as(p).grad_fn.next_functions[0][0]

        def after_accumulation(grad_inputs, grad_outputs):
            self._ready_hook(p)
        # Keep the node alive: the parameter holds it weakly and would make a new one
        # (without this hook) for the next graph if it went.
        return acc, acc.register_hook(after_accumulation)

    # -- one iteration -----------------------------------------------------------------

    def check_prior_finished(self):
        """Raise PyTorch's error when the last synchronised backward left a bucket
        unreduced (a parameter took no part in the loss)."""
        if self.armed and self.touched:
            missing = [self.names[id(p)] for bucket in self.buckets for p in bucket.params
                       if id(p) not in self.ready]
            raise RuntimeError(UNFINISHED_REDUCTION.format(names=", ".join(missing)))

    def prepare(self, outputs):
        """Expect a synchronised backward from ``outputs`` (the forward's result)."""
        for bucket in self.buckets:
            bucket.pending = len(bucket.params)
            bucket.work = None
        self.ready = set()
        self.next_bucket = 0
        self.armed, self.touched = True, False
        if self.find_unused:
            reached = _reachable_leaves(outputs)
            params = [p for bucket in self.buckets for p in bucket.params]
            self.used = self.xp.asarray([id(p) in reached for p in params], dtype=np.int32)
            for p in params:
                if id(p) not in reached:
                    self._mark_ready(p)

    def _ready_hook(self, p):
        if self.armed and id(p) not in self.ready:
            self.touched = True
            self._mark_ready(p)

    def _mark_ready(self, p):
        b, i = self.where[id(p)]
        bucket = self.buckets[b]
        if p.grad is None:
            bucket.slot(i).fill(0)
        else:
            self.xp.copyto(bucket.slot(i), p.grad._data)
        self.ready.add(id(p))
        bucket.pending -= 1
        # MPI moves a message only inside MPI calls: test the buckets in flight at every
        # gradient too (without the progress thread, this is all that moves them).
        for started in self.buckets[:self.next_bucket]:
            started.work.is_completed()
        while self.next_bucket < len(self.buckets) and \
                self.buckets[self.next_bucket].pending == 0:
            nxt = self.buckets[self.next_bucket]
            nxt.work = all_reduce(wrap(nxt.buffer), op=ReduceOp.AVG,
                                  group=self.group, async_op=True)
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self._finish()

    def _finish(self):
        """Wait for every bucket and write the averaged gradients into ``.grad``."""
        self.last_gradient_at = time.monotonic()
        for bucket in self.buckets:
            bucket.work.wait()
        self.reduced_at = time.monotonic()
        if self.find_unused:
            all_reduce(wrap(self.used), op=ReduceOp.MAX, group=self.group)
            used_anywhere = self.used.tolist()          # on the host
        k = 0
        for bucket in self.buckets:
            for i, p in enumerate(bucket.params):
                anywhere = used_anywhere[k] if self.find_unused else True
                k += 1
                if not anywhere:
                    continue                # unused on every rank: .grad stays as it was
                if p.grad is None:
                    p.grad = wrap(bucket.slot(i).copy())
                else:
                    self.xp.copyto(p.grad._data, bucket.slot(i))
                    p.grad._bump_version()
        self.armed = False

    def remove(self):
        for handle in self._handles:
            (handle[1] if isinstance(handle, tuple) else handle).remove()


def _reachable_leaves(outputs):
    """The ids of the leaf tensors that the graphs behind ``outputs`` (tensors, possibly in
    lists, tuples and dicts) reach."""
    stack, seen, leaves = [], set(), set()
    pending = [outputs]
    while pending:
        obj = pending.pop()
        if isinstance(obj, (list, tuple)):
            pending.extend(obj)
        elif isinstance(obj, dict):
            pending.extend(obj.values())
        elif isinstance(obj, TensorBase) and obj.grad_fn is not None:
            stack.append(obj.grad_fn)
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)
        if variable is not None:
            leaves.add(id(variable))
        stack.extend(n for n, _ in node.next_functions)
    return leaves
