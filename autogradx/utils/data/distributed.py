"""``DistributedSampler``: each rank's share of a dataset's indices, as
``torch.utils.data.distributed.DistributedSampler``.

All ranks draw the same permutation (seeded with ``seed + epoch``; call ``set_epoch`` at
each epoch to reshuffle), pad it by repeating its start (or with ``drop_last``, cut it) to
a multiple of the number of replicas, and take every ``num_replicas``-th index from
``rank`` on. The permutation is NumPy's for that seed, not PyTorch's (as everywhere in
``autogradx.utils.data``); without shuffling the indices are PyTorch's exactly.
"""

import math

from autogradx._factories import Generator
from autogradx.utils.data._utils.rng import randperm
from autogradx.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """Indices ``rank, rank + num_replicas, ...`` of the (shuffled, padded) dataset order;
    ``num_replicas`` and ``rank`` default to the default process group's."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from autogradx import distributed as dist
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            # The largest split every rank can take in full.
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            g = Generator().manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=g)
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        assert len(indices) == self.total_size
        indices = indices[self.rank:self.total_size:self.num_replicas]
        assert len(indices) == self.num_samples
        return iter(indices)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Shuffle with ``seed + epoch`` from the next iteration on: call it at the start
        of every epoch, on every rank, with the same value."""
        self.epoch = epoch
