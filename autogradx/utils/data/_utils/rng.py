"""The random draws of data loading, all from ``autogradx.Generator``s: a permutation, a
seed. Without a generator they come from the default one, so ``autogradx.manual_seed``
makes shuffling reproducible. NumPy's PCG64 draws them: the numbers differ from
PyTorch's for the same seed.
"""

from autogradx._factories import Generator, default_generator

# PyTorch's seeds for new generators are int64 values drawn from [0, 2**63).
_SEED_BOUND = 1 << 63


def rng_of(generator):
    """The ``numpy.random.Generator`` behind ``generator`` (the default one for None)."""
    if generator is None:
        return default_generator.rng
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be an autogradx.Generator, not "
                        f"{type(generator).__module__}.{type(generator).__qualname__}")
    return generator.rng


def draw_seed(generator=None):
    """A seed drawn from ``generator`` (the default generator for None)."""
    return int(rng_of(generator).integers(_SEED_BOUND))


def randperm(n, generator=None):
    """A random permutation of ``range(n)`` as a list of ints."""
    return rng_of(generator).permutation(n).tolist()


def fresh_generator():
    """A new generator seeded from the default one, as ``RandomSampler`` makes for each
    pass when it was given none: each epoch shuffles differently, all of them fixed by
    ``autogradx.manual_seed``."""
    return Generator().manual_seed(draw_seed())
