"""The Python-level Tensor API against PyTorch: ``data_ptr``, ``Tensor.new_*`` (the tensor's
dtype and device unless given, the size in any of the factory's spellings), the type's
name, ``set_`` and the removed ``volatile``."""

import numpy as np
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


CALLS = {
    "new_ones_sizes": lambda x, lib: x.new_ones(5, 3),
    "new_ones_tuple": lambda x, lib: x.new_ones((2, 4)),
    "new_zeros_dtype": lambda x, lib: x.new_zeros(2, dtype=lib.int32),
    "new_empty_zero_size": lambda x, lib: x.new_empty(0),
    "new_full_int_fill": lambda x, lib: x.new_full((2, 2), 7),
    "new_full_dtype": lambda x, lib: x.new_full((3,), 1.5, dtype=lib.float32),
    "new_tensor_list": lambda x, lib: x.new_tensor([1, 2, 3]),
    "new_tensor_dtype": lambda x, lib: x.new_tensor([[1, 2]], dtype=lib.int64),
    "new_ones_requires_grad": lambda x, lib: x.new_ones(2, requires_grad=True),
    "new_zeros_device": lambda x, lib: x.new_zeros(1, device="cpu"),
}


@pytest.mark.parametrize("source_dtype", ["float64", "int32"])
@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_new_factory_matches_torch(call, source_dtype):
    try:
        theirs = call(torch.tensor([5.5, 3]).to(getattr(torch, source_dtype)), torch)
    except RuntimeError:            # an int tensor that requires grad: refused, as there
        with pytest.raises(RuntimeError, match="floating point and complex dtype can require"):
            call(agx.tensor([5.5, 3]).to(getattr(agx, source_dtype)), agx)
        return
    ours = call(agx.tensor([5.5, 3]).to(getattr(agx, source_dtype)), agx)
    assert str(ours.dtype) == str(theirs.dtype)
    assert ours.shape == tuple(theirs.shape)
    assert ours.requires_grad == theirs.requires_grad
    assert ours.is_leaf and ours.grad_fn is None
    if call is not CALLS["new_empty_zero_size"]:     # uninitialised values
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())


def test_new_tensor_copies():
    base = agx.tensor([1.0, 2.0])
    data = np.array([3.0, 4.0])
    out = base.new_tensor(data)
    data[0] = 0.0
    assert out.tolist() == [3.0, 4.0]


def test_tensor_type_prints_its_public_path_as_torch_does():
    # ``print(type(x))``, as PyTorch's tensor tutorial does: the package, not a private module
    assert repr(type(agx.ones(1))) == repr(type(torch.ones(1))).replace("torch", "autogradx")


# -- set_ ---------------------------------------------------------------------------------

def _set_facts(lib):
    """``set_`` shares the source's memory, bumps the version, empties without a source, and
    gives a leaf a new gradient edge: a graph recorded before leads to the old one."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    edge = lib.autograd.graph.get_gradient_edge(x)
    out = x * 3
    src = lib.tensor([5.0, 6.0])
    with lib.no_grad():
        same = x.set_(src) is x
        x[0] = 9.0
    unused = _error_type(lambda: lib.autograd.grad(out.sum(), x))
    old, = lib.autograd.grad(out.sum(), edge)
    empty = lib.ones(2, 2).set_()
    resized = lib.ones(2).set_(lib.zeros(3, 2))
    return (same, tuple(x.shape), src.tolist(), x._version, x.is_leaf, x.requires_grad, unused,
            old.tolist(), tuple(empty.shape), tuple(resized.shape))


def _error_type(fn):
    try:
        fn()
    except Exception as e:      # noqa: BLE001 - which type is what is compared
        return type(e).__name__
    return None


def test_set_matches_torch():
    assert _set_facts(agx) == _set_facts(torch)


@pytest.mark.parametrize("call", [
    lambda lib: lib.ones(2, requires_grad=True).set_(lib.ones(3)),
    lambda lib: lib.ones(2).set_(lib.ones(3, dtype=lib.float64)),
    lambda lib: (lib.ones(2, requires_grad=True) * 2).set_(lib.ones(3)).sum().backward(),
], ids=["leaf requiring grad", "dtype", "backward through set_"])
def test_set_refusals_are_torch_s(call):
    from torch_compare import error_of
    assert error_of(lambda: call(agx)) == error_of(lambda: call(torch))


# -- volatile -----------------------------------------------------------------------------

def test_volatile_is_false_with_torch_s_warnings():
    seen = []
    for lib in (agx, torch):
        x = lib.ones(2)
        with pytest.warns(UserWarning) as read:
            value = x.volatile
        with pytest.warns(UserWarning) as written:
            x.volatile = True
        seen.append((value, [str(w.message) for w in read], [str(w.message) for w in written]))
    assert seen[0] == seen[1]
    assert agx.autograd.torch is agx
