"""Samplers: the order in which a ``DataLoader`` visits a map-style dataset's indices,
and ``BatchSampler``, which groups them into batches.

The random ones draw from an ``autogradx.Generator`` (the default one when given none),
so ``autogradx.manual_seed`` fixes their order; the order is not PyTorch's for the same
seed, since the generators differ.
"""

import itertools
from typing import Generic, TypeVar

import numpy as np

from autogradx.utils.data._utils.rng import fresh_generator, randperm, rng_of

__all__ = [
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler",
]

T_co = TypeVar("T_co", covariant=True)


class Sampler(Generic[T_co]):
    """Base class of samplers: ``__iter__`` yields indices (or lists of indices, for a
    batch sampler); ``__len__``, where defined, is how many."""

    def __iter__(self):
        raise NotImplementedError


def _is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class SequentialSampler(Sampler[int]):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """The indices in random order; with ``replacement=True``, ``num_samples`` indices
    drawn independently.

    Without replacement, ``num_samples`` beyond the dataset's length run through further
    permutations. Without a generator each pass seeds a fresh one from the default
    generator, so successive epochs differ and ``autogradx.manual_seed`` fixes them all.
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        """How many indices a pass yields (the dataset's length unless given)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        generator = fresh_generator() if self.generator is None else self.generator
        if self.replacement:
            yield from rng_of(generator).integers(n, size=self.num_samples).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from randperm(n, generator)
        yield from randperm(n, generator)[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices, in a random order (a new one each pass)."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        for i in randperm(len(self.indices), self.generator):
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


def _check_distribution(weights, num_samples, replacement):
    """PyTorch's ``multinomial`` checks, in its order and with its texts (which differ
    between its one-pass path, without replacement or for one sample, and its per-entry
    path)."""
    if not replacement and num_samples > len(weights):
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if not replacement or num_samples == 1:
        if not (np.all(np.isfinite(weights)) and np.all(weights >= 0)):
            raise RuntimeError("probability tensor contains either `inf`, `nan` or "
                               "element < 0")
    else:
        bad = ~((weights >= 0) & np.isfinite(weights))
        if bad.any():
            first = weights[np.argmax(bad)]
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               + ("entry < 0)" if not first >= 0 else
                                  "entry = infinity or NaN)"))
    if weights.sum() <= 0:
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")


def _multinomial(weights, num_samples, replacement, rng):
    """Indices drawn with probabilities proportional to ``weights``."""
    _check_distribution(weights, num_samples, replacement)
    if replacement:
        return rng.choice(len(weights), size=num_samples, p=weights / weights.sum())
    # Without replacement: the smallest Exp(1) / weight keys (a weighted draw of the whole
    # order at once). Zero weights get infinite keys: they come last, as in PyTorch, rather
    # than being refused as NumPy's choice refuses them.
    with np.errstate(divide="ignore"):
        keys = rng.exponential(size=len(weights)) / weights
    return np.argsort(keys, kind="stable")[:num_samples]


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices of ``range(len(weights))``, each drawn with probability
    proportional to its weight (with or without replacement)."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not _is_positive_int(num_samples):
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        from autogradx._factories import as_tensor
        weights = as_tensor(weights, dtype="float64")
        if weights.dim() != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights.shape)}")
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        drawn = _multinomial(self.weights.numpy(), self.num_samples, self.replacement,
                             rng_of(self.generator))
        yield from drawn.tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler[list]):
    """Lists of ``batch_size`` indices from ``sampler``; the last one shorter, or dropped
    with ``drop_last=True``."""

    def __init__(self, sampler, batch_size, drop_last):
        if not _is_positive_int(batch_size):
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        indices = iter(self.sampler)
        while batch := list(itertools.islice(indices, self.batch_size)):
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield batch

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return -(-len(self.sampler) // self.batch_size)
