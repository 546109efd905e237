"""Factories whose arguments PyTorch reads in more than one way, checked against torch."""

import pytest

import autogradx as agx


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.torch
@pytest.mark.parametrize("args, kwargs, bounds", [
    ((5, (3, 4)), {}, (0, 5)),                  # randint(high, size)
    ((5, [2]), {}, (0, 5)),
    ((2, 7, (3,)), {}, (2, 7)),                 # randint(low, high, size)
    ((5,), {"size": (2, 2)}, (0, 5)),           # randint(high, size=)
    ((1, 3), {"size": (4,)}, (1, 3)),
    ((5, (3,)), {"dtype": "int32"}, (0, 5)),
], ids=str)
def test_randint_reads_its_arguments_as_torch_does(torch, args, kwargs, bounds):
    def call(lib):
        return lib.randint(*args, **{k: getattr(lib, v) if k == "dtype" else v
                                     for k, v in kwargs.items()})

    ours, theirs = call(agx), call(torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype)
    values = ours.numpy()
    assert ((values >= bounds[0]) & (values < bounds[1])).all()
