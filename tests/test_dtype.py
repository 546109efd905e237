"""The dtype objects: PyTorch's names and properties, and pickling by name."""

import pickle

import numpy as np
import pytest

import autogradx as agx
from autogradx import _dtype

NAMES = [d.name for d in _dtype.ALL]


def test_complex_to_real_and_others_unchanged():
    assert agx.complex64.to_real() is agx.float32
    assert agx.complex128.to_real() is agx.float64
    assert agx.int64.to_real() is agx.int64


@pytest.mark.parametrize("name", NAMES)
def test_pickles_to_the_same_object(name):
    d = getattr(agx, name)
    assert pickle.loads(pickle.dumps(d)) is d


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_properties_match_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(agx, name), getattr(torch, name)
    assert repr(ours) == repr(theirs)
    assert ours.is_floating_point == theirs.is_floating_point
    assert ours.is_complex == theirs.is_complex
    assert ours.is_signed == theirs.is_signed
    assert ours.itemsize == theirs.itemsize
    assert repr(ours.to_real()) == repr(theirs.to_real())


def test_the_core_and_the_dtypes_agree_on_what_a_tensor_holds():
    from autogradx import _dtype
    from autogradx._core.names import SCALAR_NAMES, TENSOR_DTYPES
    assert {d.numpy for d in _dtype.ALL} == set(TENSOR_DTYPES)
    assert set(SCALAR_NAMES) == {d.numpy.name for d in _dtype.ALL}


@pytest.mark.parametrize("data", [[], [[]], [[], []], ()], ids=["[]", "[[]]", "[[],[]]", "()"])
def test_a_tensor_of_no_elements_has_the_default_float_dtype(data):
    t = agx.tensor(data)
    assert t.dtype == agx.float32 and tuple(t.shape) == np.array(data).shape
    torch = pytest.importorskip("torch")
    assert str(torch.tensor(data).dtype) == str(t.dtype)
