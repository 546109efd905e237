"""The in-place functions of the top level (``autogradx.sin_(x)``) against PyTorch's: the
list comes from the registry (each in-place method whose name PyTorch also has as a
function of ``torch``), and each writes into its argument what PyTorch's writes."""

import numpy as np
import pytest

import autogradx as agx
from autogradx._registry import REGISTRY

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

FUNCTIONS = sorted(n for n, f in REGISTRY.namespace("").items() if n.endswith("_"))

# The arguments after the tensor, where the function needs some.
EXTRA = {"clamp_": (-0.5, 0.5), "clip_": (-0.5, 0.5), "clamp_min_": (0.1,),
         "clamp_max_": (0.1,), "fill_": (2.5,), "xlogy_": (0.5,), "threshold_": (0.4, -1.0)}


def test_every_in_place_method_pytorch_has_as_a_function_is_one():
    methods = REGISTRY.methods()
    theirs = {n for n in dir(torch) if n.endswith("_") and not n.startswith("_")
              and callable(getattr(torch, n))}
    assert set(FUNCTIONS) == {n for n in methods if n in theirs and n.endswith("_")}
    assert FUNCTIONS and not set(FUNCTIONS) - theirs


@pytest.mark.parametrize("name", FUNCTIONS)
def test_in_place_function_matches_torch(name):
    values = np.array([0.25, 0.5, 0.75])
    ours, theirs = agx.tensor(values), torch.tensor(values)
    result = getattr(agx, name)(ours, *EXTRA.get(name, ()))
    expected = getattr(torch, name)(theirs, *EXTRA.get(name, ()))
    assert result is ours and expected is theirs
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    assert ours._version == theirs._version == 1


def test_in_place_function_on_a_leaf_that_requires_grad_refuses_as_torch():
    messages = []
    for lib in (agx, torch):
        with pytest.raises(RuntimeError) as e:
            lib.exp_(lib.ones(2, requires_grad=True))
        messages.append(str(e.value))
    assert messages[0] == messages[1]


def test_in_place_function_records_the_op_as_the_method_does():
    x = agx.tensor([0.5, 1.0], requires_grad=True)
    y = x * 1
    agx.sin_(y)
    assert y.grad_fn.name() == "SinBackward0"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.5, 1.0]))
