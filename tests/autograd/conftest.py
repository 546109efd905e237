import pytest


@pytest.fixture(scope="module")
def torch():
    """PyTorch, for the comparisons with torch.autograd (the test is skipped without it)."""
    return pytest.importorskip("torch")
