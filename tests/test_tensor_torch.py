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


def test_gradient_buffers_are_copied_where_torch_copies_them():
    # PyTorch's test_no_grad_copy: a gradient that is an expanded view is copied into .grad
    # rather than kept.
    seen = []

    class Expand(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.size = x.size()
            return agx.tensor([1.0])

        @staticmethod
        def backward(ctx, g):
            out = agx.ones(1).expand(ctx.size)
            seen.append(out.data_ptr())
            return out

    a = agx.randn(5, 6, requires_grad=True)
    Expand.apply(a).backward()
    assert a.grad.data_ptr() != seen[0]
