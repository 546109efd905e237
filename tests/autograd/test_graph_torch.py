"""``autograd.graph.increment_version`` against ``torch.autograd.graph.increment_version``:
the version goes up by one for a tensor or each tensor of an iterable, in every mode, and a
node that saved the tensor then refuses to run backward with PyTorch's error."""

import pytest

import autogradx as agx

torch = pytest.importorskip("torch")
LIBS = [pytest.param(agx, id="autogradx"), pytest.param(torch, id="torch")]


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("make", [
    lambda lib: lib.rand(5, requires_grad=True),
    lambda lib: lib.zeros(5, dtype=lib.int32),
    lambda lib: lib.rand(5, requires_grad=True) * 2,
], ids=["leaf", "int", "non-leaf"])
def test_each_call_bumps_the_version_by_one(lib, make):
    a = make(lib)
    v = a._version
    lib.autograd.graph.increment_version(a)
    assert a._version == v + 1
    b = make(lib)
    lib.autograd.graph.increment_version([a, b])
    assert (a._version, b._version) == (v + 2, v + 1)


@pytest.mark.parametrize("lib", LIBS)
def test_inference_tensors_are_counted_too(lib):
    with lib.inference_mode():
        a = lib.rand(5, requires_grad=True)
        lib.autograd.graph.increment_version(a)
    lib.autograd.graph.increment_version(a)


def test_a_saved_tensor_then_refuses_backward_as_in_torch():
    messages = []
    for lib in (agx, torch):
        x = lib.ones(3, requires_grad=True)
        y = (x * x).sum()
        lib.autograd.graph.increment_version(x)
        with pytest.raises(RuntimeError) as err:
            y.backward()
        messages.append(str(err.value))
    prefix = "one of the variables needed for gradient computation has been modified by an inplace operation"
    assert all(m.startswith(prefix) for m in messages), messages


def test_non_tensors_are_refused_by_name():
    with pytest.raises(TypeError, match="got int at index 1"):
        agx.autograd.graph.increment_version([agx.ones(1), 3])
