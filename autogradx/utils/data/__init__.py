"""``autogradx.utils.data``: datasets, samplers and ``DataLoader``, as
``torch.utils.data``: ``torch.utils.data.DataLoader`` runs unchanged with
``import autogradx as torch``, and ``from torch.utils.data import DataLoader`` becomes
``from autogradx.utils.data import DataLoader`` (a ``from`` import names the module, not
the alias).
``autogradx.utils.data.distributed.DistributedSampler`` splits a dataset between the ranks
of a process group (``autogradx.distributed``).

Batches are autogradx tensors, collated with PyTorch's rules and dtypes. Shuffling draws
from ``autogradx.Generator`` s: reproducible with ``autogradx.manual_seed`` or
``generator=``, though not the same order as PyTorch's for the same seed.
"""

from autogradx.utils.data import distributed
from autogradx.utils.data.dataloader import (
    DataLoader, default_collate, default_convert, get_worker_info,
)
from autogradx.utils.data.dataset import (
    ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
    random_split,
)
from autogradx.utils.data.sampler import (
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
    "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset",
    "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
    "default_collate", "default_convert", "distributed", "get_worker_info", "random_split",
]
