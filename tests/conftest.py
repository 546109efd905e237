import gc
import os

import numpy as np
import pytest


def pytest_configure(config):
    # CI installs the PyTorch reference and sets AUTOGRADX_REQUIRE_TORCH=1: there a torch
    # that is missing or fails to import stops the run instead of skipping every
    # comparison test. Without the variable, a user without torch gets clean skips.
    if os.environ.get("AUTOGRADX_REQUIRE_TORCH", "") in ("", "0"):
        return
    try:
        import torch  # noqa: F401
    except Exception as exc:
        raise pytest.UsageError(
            f"AUTOGRADX_REQUIRE_TORCH is set, but torch cannot be imported: {exc!r}") from exc

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
