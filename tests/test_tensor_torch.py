"""Tensor methods of ``_tensor.py`` against PyTorch's: ``data_ptr``."""

import pytest

import autogradx as agx

torch = pytest.importorskip("torch")


def _pointer_facts(lib):
    """What PyTorch code may rely on about data_ptr: views from the same element share it, an
    offset view is ``offset * element_size`` further, copies and new tensors do not share it,
    and a tensor without elements has 0."""
    x = lib.arange(6.0).reshape(2, 3)
    return [
        x.view(6).data_ptr() == x.data_ptr(),
        x[1].data_ptr() - x.data_ptr() == 3 * x.element_size(),
        x.t().data_ptr() == x.data_ptr(),
        x.clone().data_ptr() != x.data_ptr(),
        x.detach().data_ptr() == x.data_ptr(),
        lib.zeros(0).data_ptr() == 0,
        isinstance(x.data_ptr(), int),
    ]


def test_data_ptr_behaves_as_torch_s():
    assert _pointer_facts(agx) == _pointer_facts(torch) == [True] * 7

