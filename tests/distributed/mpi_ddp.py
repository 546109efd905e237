"""Run under ``mpiexec -n N`` (tests/distributed/test_mpi.py, and test_nccl.py for the
``nccl`` backend: ``backend_choice.py``): ``DistributedDataParallel``
against one process training the same model on the same global batch, step by step, with
``no_sync``, uneven last batches (``DistributedSampler``), unused parameters and buffers.

Every rank also runs the single-process reference itself (same start, whole global batch),
so each rank checks its own replica after every step.
"""

import copy
import datetime

import numpy as np

import autogradx as torch
import autogradx.distributed as dist
from autogradx import nn
from autogradx.nn.parallel import DistributedDataParallel as DDP
from autogradx.utils.data import DataLoader, TensorDataset
from autogradx.utils.data.distributed import DistributedSampler
from backend_choice import BACKEND, DEVICE, host, on_device

dist.init_process_group(BACKEND, timeout=datetime.timedelta(seconds=60))
rank, size = dist.get_rank(), dist.get_world_size()
F = nn.functional
TOL = dict(rtol=1e-5, atol=1e-6)


def make_model(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 3)).to(DEVICE)


def assert_close(model, reference, what):
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert np.allclose(host(p), host(q), **TOL), \
            f"rank {rank}: {what}: {name} differs from the single-process run"


def assert_grads_close(model, reference, what):
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert np.allclose(host(p.grad), host(q.grad), **TOL), \
            f"rank {rank}: {what}: grad of {name} differs from the single-process one"


rng = np.random.default_rng(0)
X = rng.standard_normal((60, 6)).astype(np.float32)
y = rng.integers(0, 3, 60)

# -- construction: rank 0's parameters and buffers win --------------------------------------
model = make_model(seed=rank)                  # every rank starts elsewhere
model.register_buffer("running", torch.full((2,), float(rank), device=DEVICE))
# Tiny buckets: several all-reduces per backward, started while backward runs.
ddp = DDP(model, bucket_cap_mb=0.001)
assert len(ddp.reducer.buckets) > 1
assert np.array_equal(host(model.running), np.zeros(2, np.float32))
reference = make_model(seed=0)
assert_close(model, reference, "after construction")

# -- training, step by step, against the same global batch in one process -----------------
opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
per_rank = 4
global_batch = per_rank * size
for step in range(5):
    rows = slice(step * global_batch, (step + 1) * global_batch)
    xb, yb = on_device(X[rows]), on_device(y[rows])
    mine = slice(rank * per_rank, (rank + 1) * per_rank)
    opt.zero_grad()
    F.cross_entropy(ddp(xb[mine]), yb[mine]).backward()
    opt.step()
    ref_opt.zero_grad()
    F.cross_entropy(reference(xb), yb).backward()
    ref_opt.step()
    assert_close(model, reference, f"step {step}")

# -- no_sync: two local micro-batches, then a synchronised one ----------------------------
opt.zero_grad()
ref_opt.zero_grad()
local = copy.deepcopy(reference)
micro = [slice(k * global_batch, (k + 1) * global_batch) for k in range(3)]
with ddp.no_sync():
    for k in range(2):
        rows = np.arange(micro[k].start, micro[k].stop)[rank * per_rank:(rank + 1) * per_rank]
        F.cross_entropy(ddp(on_device(X[rows])), on_device(y[rows])).backward()
        F.cross_entropy(local(on_device(X[rows])), on_device(y[rows])).backward()
# Inside no_sync nothing was averaged: the gradients are this rank's own.
assert_grads_close(model, local, "inside no_sync")
rows = np.arange(micro[2].start, micro[2].stop)[rank * per_rank:(rank + 1) * per_rank]
F.cross_entropy(ddp(on_device(X[rows])), on_device(y[rows])).backward()
for k in range(3):
    F.cross_entropy(reference(on_device(X[micro[k]])),
                    on_device(y[micro[k]])).backward()
assert_grads_close(model, reference, "after no_sync and a synchronised step")

# -- uneven last batch: DistributedSampler pads, each rank's mean counts alike --------------
n_items = 4 * size + 1                   # not a multiple of the ranks: the sampler pads
dataset = TensorDataset(torch.from_numpy(X[:n_items]), torch.from_numpy(y[:n_items]))
sampler = DistributedSampler(dataset, shuffle=True, seed=3)
sampler.set_epoch(1)
loader = DataLoader(dataset, batch_size=2, sampler=sampler)


def shard(r):
    s = DistributedSampler(dataset, num_replicas=size, rank=r, shuffle=True, seed=3)
    s.set_epoch(1)
    return list(s)


shards = [shard(r) for r in range(size)]
assert list(sampler) == shards[rank]
assert sorted(set().union(*map(set, shards))) == list(range(n_items))
assert len({len(s) for s in shards}) == 1            # padded to equal shares
batches = [[s[i:i + 2] for i in range(0, len(s), 2)] for s in shards]
assert len(batches[0][-1]) == 1                      # ... and an uneven last batch
for step, (xb, yb) in enumerate(loader):
    opt.zero_grad()
    F.cross_entropy(ddp(xb.to(DEVICE)), yb.to(DEVICE)).backward()
    opt.step()
    # The reference: the mean over ranks of each rank's batch mean (what DDP computes).
    ref_opt.zero_grad()
    loss = sum(F.cross_entropy(reference(on_device(X[b[step]])),
                               on_device(y[b[step]])) for b in batches) / size
    loss.backward()
    ref_opt.step()
    assert_close(model, reference, f"uneven epoch, step {step}")

# -- unused parameters --------------------------------------------------------------------
class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(4, 4)
        self.sometimes = nn.Linear(4, 4)     # used on rank 0 only
        self.never = nn.Linear(4, 4)         # used nowhere

    def forward(self, x, use):
        h = self.trunk(x)
        return self.sometimes(h) if use else h


torch.manual_seed(0)
branchy = Branchy().to(DEVICE)
reference = copy.deepcopy(branchy)
net = DDP(branchy, find_unused_parameters=True, bucket_cap_mb=0.0001)
xb = on_device(X[:2 * size, :4])
mine = xb[2 * rank:2 * rank + 2]
net(mine, use=rank == 0).sum().backward()
total = sum(reference(xb[2 * r:2 * r + 2], use=r == 0).sum() for r in range(size)) / size
total.backward()
for name in ("trunk", "sometimes"):
    for p, q in zip(getattr(branchy, name).parameters(), getattr(reference, name).parameters()):
        assert np.allclose(host(p.grad), host(q.grad), **TOL), f"unused: {name}"
assert all(p.grad is None for p in branchy.never.parameters()), "a parameter used nowhere got a grad"

torch.manual_seed(0)
strict = DDP(Branchy().to(DEVICE))                     # find_unused_parameters=False
strict(mine, use=True).sum().backward()
try:
    strict(mine, use=True)
except RuntimeError as exc:
    assert "Expected to have finished reduction in the prior iteration" in str(exc)
    assert "never.weight" in str(exc), str(exc)
else:
    raise AssertionError("an unused parameter without find_unused_parameters went unnoticed")

# -- replicas that differ are refused on every rank -----------------------------------------
if size > 1:
    try:
        DDP(nn.Linear(3, 3 + (rank == size - 1)).to(DEVICE))
    except RuntimeError as exc:
        assert "parameters differ between ranks" in str(exc), str(exc)
    else:
        raise AssertionError("different models on the ranks went unnoticed")

# -- on nccl: the replicas are on the GPU, a CPU module is refused --------------------------
if BACKEND == "nccl":
    assert all(p.device.type == "cuda" for p in model.parameters())
    try:
        DDP(nn.Linear(2, 2))
    except ValueError as exc:
        assert "the nccl backend takes modules on this rank's device" in str(exc), str(exc)
    else:
        raise AssertionError("a CPU module went to the nccl backend")
    here = torch.cuda.current_device()
    DDP(nn.Linear(2, 2).to(DEVICE), device_ids=[here], output_device=here)
    try:
        DDP(nn.Linear(2, 2).to(DEVICE), device_ids=[here + 1])
    except ValueError as exc:
        assert f"parameters are on cuda:{here}" in str(exc), str(exc)
    else:
        raise AssertionError("device_ids naming another device went unnoticed")
else:
    try:
        DDP(nn.Linear(2, 2), device_ids=[0])
    except ValueError as exc:
        assert "device_ids and output_device arguments only work" in str(exc), str(exc)
    else:
        raise AssertionError("device_ids on a CPU module went unnoticed")

dist.destroy_process_group()
print(f"rank {rank} of {size}: ddp ok", flush=True)
