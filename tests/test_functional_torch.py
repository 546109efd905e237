"""``autogradx.functional`` mirrors ``torch.functional``: each of PyTorch's names there that
autogradx has is the same object as ``autogradx.<name>``; the others are absent."""

import pytest

import autogradx as agx
import autogradx.functional

torch = pytest.importorskip("torch")
import torch.functional  # noqa: E402


@pytest.mark.parametrize("name", torch.functional.__all__)
def test_torch_functional_name(name):
    if hasattr(agx, name):
        assert getattr(autogradx.functional, name) is getattr(agx, name)
        assert name in dir(autogradx.functional)
    else:
        with pytest.raises(AttributeError, match=name):
            getattr(autogradx.functional, name)


def test_split_through_the_module():
    parts = autogradx.functional.split(agx.arange(5), 2)
    assert [p.tolist() for p in parts] == [[0, 1], [2, 3], [4]]
