"""Tensors and NumPy arrays: ``np.array`` / ``np.asarray`` of a tensor (NumPy 2's
``__array__(dtype, copy)`` protocol), and tensors made from arrays (``tensor``,
``as_tensor``, ``from_numpy``, ``Tensor``) of the dtypes PyTorch takes or refuses."""

import datetime

import numpy as np
import pytest

import autogradx as agx


# ---------------------------------------------------------------- np.array(tensor)

def test_np_array_with_copy_is_a_copy():
    t = agx.tensor([1.0, 2.0])
    for a in (np.array(t, copy=True), np.array(t)):      # np.array copies by default
        a[0] = 9.0
    assert t.tolist() == [1.0, 2.0]


def test_np_asarray_and_copy_false_share_the_tensors_memory():
    t = agx.tensor([1.0, 2.0])
    np.asarray(t)[0] = 5.0
    np.array(t, copy=False)[1] = 6.0
    assert t.tolist() == [5.0, 6.0]


def test_a_cast_is_a_copy_and_copy_false_refuses_it():
    t = agx.tensor([1.0, 2.0])
    a = np.asarray(t, dtype=np.float64)
    a[0] = 9.0
    assert a.dtype == np.float64 and t.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="Unable to avoid copy.*float32, not float64"):
        np.array(t, dtype=np.float64, copy=False)
    assert np.shares_memory(np.array(t, dtype=np.float32, copy=False), t.numpy())


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore::DeprecationWarning")     # torch's __array__ takes no copy
def test_copies_match_torch():
    torch = pytest.importorskip("torch")

    def copies(lib):
        t = lib.tensor([1.0, 2.0])
        np.array(t, copy=True)[0] = 9.0
        np.asarray(t)[1] = 5.0
        with pytest.raises(ValueError):
            np.array(t, dtype=np.float64, copy=False)
        return t.tolist()

    assert copies(agx) == copies(torch) == [1.0, 5.0]


# ---------------------------------------------------------------- tensors from arrays

MAKERS = {
    "tensor": agx.tensor,
    "as_tensor": agx.as_tensor,
    "from_numpy": agx.from_numpy,
    "Tensor": agx.Tensor,
}

# Arrays of dtypes no tensor has, and what PyTorch raises for them. (PyTorch 2.3+ takes
# uint16, uint32 and uint64 arrays, as dtypes few of its ops support; autogradx has none
# of them and refuses them as it refuses the others.)
REFUSED = [
    pytest.param(np.array([1, 2], dtype=object), TypeError, "numpy.object_", id="object"),
    pytest.param(np.array(["1", "2"]), TypeError, "numpy.str_", id="str"),
    pytest.param(np.array([b"1"]), TypeError, "numpy.bytes_", id="bytes"),
    pytest.param(np.array(["2020-01-01"], dtype="datetime64[D]"), TypeError, "numpy.datetime64",
                 id="datetime64"),
    pytest.param(np.array([1.0, 2.0], dtype=np.longdouble), TypeError, "numpy.longdouble",
                 id="longdouble"),
    pytest.param(np.zeros(2, dtype=[("a", "f4")]), TypeError, "numpy.void", id="struct"),
    pytest.param(np.array([1, 2], dtype=np.uint32), TypeError, "numpy.uint32", id="uint32"),
    pytest.param(np.array([1.0, 2.0], dtype=">f8"), ValueError, "byte order", id=">f8"),
    pytest.param(np.array([1, 2], dtype=">i4"), ValueError, "byte order", id=">i4"),
]


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS)
@pytest.mark.parametrize("array, error, message", REFUSED)
def test_an_array_of_no_tensor_dtype_is_refused(make, array, error, message):
    # Not a tensor whose .dtype then raises: the array is refused where it comes in.
    with pytest.raises(error, match=message):
        make(array)


@pytest.mark.parametrize("array, error, message", REFUSED)
def test_a_dtype_argument_does_not_convert_a_refused_array(array, error, message):
    with pytest.raises(error, match=message):
        agx.tensor(array, dtype=agx.float32)


@pytest.mark.torch
@pytest.mark.parametrize("make", ["tensor", "as_tensor", "from_numpy"])
@pytest.mark.parametrize("array, error, message", REFUSED)
def test_refused_as_torch_refuses(make, array, error, message):
    torch = pytest.importorskip("torch")
    if array.dtype.kind == "u":
        getattr(torch, make)(array)         # see REFUSED
        return
    with pytest.raises(error):
        getattr(torch, make)(array)


def test_other_python_objects_are_refused():
    with pytest.raises(TypeError, match="Could not infer dtype of date"):
        agx.tensor([datetime.date(2020, 1, 1)])


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("subclass", [lambda: np.matrix([[1.0, 2.0]]),
                                      lambda: np.ma.masked_array([1.0, 2.0], mask=[False, True])],
                         ids=["matrix", "masked"])
@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS)
def test_array_subclasses_become_plain_arrays(make, subclass):
    # As PyTorch: a matrix is a 2-d tensor, a masked array its data (the mask is dropped).
    array = subclass()
    t = make(array)
    assert type(t._data) is np.ndarray
    assert t.tolist() == np.asarray(array).tolist()
