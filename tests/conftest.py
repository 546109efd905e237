import gc

import numpy as np
import pytest



@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def gc_off():
    """Run a test with the cycle collector off: graphs must die by refcount alone."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
