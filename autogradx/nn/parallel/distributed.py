"""``DistributedDataParallel``: one replica of a module per rank, gradients averaged over
the ranks during backward, as ``torch.nn.parallel.DistributedDataParallel`` on CPU.

At construction the ranks check that their modules have the same parameters and take rank
0's values of parameters and buffers. Each forward (with ``broadcast_buffers``) first takes
rank 0's buffers again; backward averages the gradients bucket by bucket while it runs
(``_reducer.py``), so after ``loss.backward()`` every rank holds the same ``.grad``: that of
the mean loss over the global batch when every rank's batch has the same size. ``no_sync()``
skips the averaging (gradients accumulate locally) until the first backward outside it.
"""

import contextlib
import zlib

import numpy as np

import autogradx
from autogradx.distributed.process_group import resolve
from autogradx.distributed.collectives import all_gather_into_tensor, broadcast
from autogradx.nn.modules.module import Module
from autogradx.nn.parallel._reducer import Reducer

__all__ = ["DistributedDataParallel"]

# PyTorch's defaults: 25 MB buckets, the first one 1 MB.
_BUCKET_CAP_MB = 25
_FIRST_BUCKET_MB = 1


class DistributedDataParallel(Module):
    """Data parallelism over ``process_group`` (the default group): see the module
    docstring. ``bucket_cap_mb`` caps a gradient bucket; ``find_unused_parameters`` walks
    the graph of each forward's output so that parameters it does not reach count as ready
    (their gradient is left alone where no rank used them). ``gradient_as_bucket_view``
    and ``static_graph`` are accepted and change nothing here (gradients are copied into
    and out of the buckets)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, init_sync=True, process_group=None,
                 bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if device_ids or output_device is not None:
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work "
                "with single-device/multiple-device GPU modules; autogradx's CPU modules "
                f"take neither, got device_ids={device_ids}, output_device={output_device}")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        if any(p.device.type != "cpu" for p in params):
            raise ValueError("DistributedDataParallel: the mpi backend takes CPU modules; "
                             f"this one has parameters on {params[0].device}")
        cap = _BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        if not cap > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.process_group = resolve(process_group)
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        names = {id(p): n for n, p in module.named_parameters()}
        self._verify_same_parameters(params, names)
        if init_sync:
            self._sync_from_rank0([p.detach() for p in module.parameters()]
                                  + list(module.buffers()))
        self.reducer = Reducer(params, names, self.process_group, cap,
                               min(_FIRST_BUCKET_MB, cap), find_unused_parameters)

    def _verify_same_parameters(self, params, names):
        """Every rank must wrap the same parameters (names, shapes, dtypes): compared
        through a checksum, so a mismatch fails here rather than as garbage later."""
        layout = ";".join(f"{names[id(p)]}:{tuple(p.shape)}:{p.dtype}" for p in params)
        mine = np.array([len(params), zlib.crc32(layout.encode())], dtype=np.int64)
        everyone = np.empty((self.process_group.size(), 2), dtype=np.int64)
        all_gather_into_tensor(autogradx.from_numpy(everyone), autogradx.from_numpy(mine),
                               group=self.process_group)
        differ = [r for r, row in enumerate(everyone) if (row != everyone[0]).any()]
        if differ:
            raise RuntimeError(
                "DistributedDataParallel: the module's parameters differ between ranks (group "
                f"ranks {differ} do not match rank 0's names, shapes or dtypes); every rank "
                "must wrap the same model")

    def _sync_from_rank0(self, tensors):
        """Overwrite ``tensors`` with rank 0's values, one broadcast per dtype."""
        if self.process_group.size() == 1 or not tensors:
            return
        root = self.process_group.global_ranks[0]
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype, []).append(t)
        for group in by_dtype.values():
            flat = np.concatenate([t._data.reshape(-1) for t in group])
            broadcast(autogradx.from_numpy(flat), src=root, group=self.process_group)
            offset = 0
            for t in group:
                n = t._data.size
                np.copyto(t._data, flat[offset:offset + n].reshape(t._data.shape))
                t._bump_version()
                offset += n

    def forward(self, *inputs, **kwargs):
        self.reducer.check_prior_finished()
        if self.broadcast_buffers:
            self._sync_from_rank0(list(self.module.buffers()))
        out = self.module(*inputs, **kwargs)
        if autogradx.is_grad_enabled() and self.require_backward_grad_sync:
            self.reducer.prepare(out)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate gradients locally without averaging them; the
        first synchronised backward after it averages the accumulated sums."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous
