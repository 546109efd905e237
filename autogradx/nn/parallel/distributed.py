"""``DistributedDataParallel``: one replica of a module per rank, gradients averaged over
the ranks during backward, as ``torch.nn.parallel.DistributedDataParallel``: a CPU module
over the ``mpi`` backend, a module on the rank's CUDA device over ``nccl``.

At construction the ranks check that their modules have the same parameters and take rank
0's values of parameters and buffers. Each forward (with ``broadcast_buffers``) first takes
rank 0's buffers again; backward averages the gradients bucket by bucket while it runs
(``_reducer.py``), so after ``loss.backward()`` every rank holds the same ``.grad``: that of
the mean loss over the global batch when every rank's batch has the same size. ``no_sync()``
skips the averaging (gradients accumulate locally) until the first backward outside it.
"""

import contextlib
import zlib

import autogradx
from autogradx._core.tensor import wrap
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
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self.process_group = resolve(process_group)
        self.device = _check_devices(self.process_group, params, device_ids, output_device)
        cap = _BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        if not cap > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
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
        mine = autogradx.tensor([len(params), zlib.crc32(layout.encode())],
                                dtype=autogradx.int64, device=self.device)
        everyone = autogradx.empty((self.process_group.size(), 2), dtype=autogradx.int64,
                                   device=self.device)
        all_gather_into_tensor(everyone, mine, group=self.process_group)
        rows = everyone.tolist()
        differ = [r for r, row in enumerate(rows) if row != rows[0]]
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
        xp = self.process_group.comm.xp
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype, []).append(t)
        for group in by_dtype.values():
            flat = xp.concatenate([t._data.reshape(-1) for t in group])
            broadcast(wrap(flat), src=root, group=self.process_group)
            offset = 0
            for t in group:
                n = t._data.size
                xp.copyto(t._data, flat[offset:offset + n].reshape(t._data.shape))
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


def _check_devices(group, params, device_ids, output_device):
    """The device of the module's parameters: the group's (the CPU for mpi, the rank's
    CUDA device for nccl), and the one ``device_ids``/``output_device`` name if given
    (only a module on a CUDA device takes them, as in PyTorch)."""
    comm = group.comm
    device = params[0].device
    elsewhere = [p.device for p in params if p.device != device]
    if elsewhere:
        raise ValueError("DistributedDataParallel's input module must be on the same type "
                         f"of devices, but input module parameters locate in {device} and "
                         f"{elsewhere[0]}")
    if device.type != comm.device_type or not comm.owns(params[0]._data):
        want = ("CPU modules" if comm.device_type == "cpu"
                else f"modules on this rank's device, {comm.device_type}:{comm.device}")
        raise ValueError(f"DistributedDataParallel: the {group.backend_name} backend takes "
                         f"{want}; this one has parameters on {device}")
    if device.type == "cpu":
        if device_ids or output_device is not None:
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work "
                "with single-device/multiple-device GPU modules or CPU modules, but got "
                f"device_ids {device_ids}, output_device {output_device}, and module "
                f"parameters on {device}.")
        return device
    named = [d for d in list(device_ids or []) + [output_device] if d is not None]
    if device_ids is not None and len(device_ids) != 1:
        raise ValueError("device_ids can only be None or contain a single element, got "
                         f"{device_ids}")
    for d in named:
        index = d if isinstance(d, int) else autogradx.device(d).index
        if index != device.index:
            raise ValueError(f"DistributedDataParallel: device_ids/output_device name "
                             f"{d!r}, but the module's parameters are on {device}")
    return device
