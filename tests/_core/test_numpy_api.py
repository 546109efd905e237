"""numpy_api's NUMPY: the ``xp`` forwards and vjps get on NumPy arrays. Each of its C
functions must give what NumPy's own function gives, bit for bit (values, dtype, shape,
strides where NumPy fixes them, read-only views), or NumPy's own error."""

import itertools
import warnings

import numpy as np
import pytest

import autogradx as agx
from autogradx._core.dispatch import _set_fast_paths, get_array_module
from autogradx._core.numpy_api import FAST, NUMPY


def _arrays():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((3, 4, 5))
    out = []
    for dtype in (np.float32, np.float64, np.complex64, np.int64, np.bool_, np.float16):
        a = (base * 3).astype(dtype) if dtype is not np.complex64 else (base + 1j * base).astype(dtype)
        out += [a, a[:, ::2], a.transpose(2, 0, 1), a[0, 0, 0:1], np.asarray(a[1, 2, 3]), a[:0],
                a[1, 2, 3]]      # a NumPy scalar, as every 0-d ufunc result is
    return out


ARRAYS = _arrays()


def _same(mine, numpys):
    assert type(mine) is type(numpys)
    if isinstance(numpys, np.ndarray):
        assert mine.dtype == numpys.dtype and mine.shape == numpys.shape
        assert mine.flags.writeable == numpys.flags.writeable
        assert mine.tobytes() == numpys.tobytes()
    else:
        assert np.asarray(mine).dtype == np.asarray(numpys).dtype
        assert np.asarray(mine).tobytes() == np.asarray(numpys).tobytes()


def _both(name, *args, **kwargs):
    """Call NUMPY's and NumPy's ``name``; their results, or their errors, must be the same."""
    try:
        expected = getattr(np, name)(*args, **kwargs)
    except Exception as e:          # noqa: BLE001 - the C function must raise the same
        with pytest.raises(type(e)):
            getattr(NUMPY, name)(*args, **kwargs)
        return None
    got = getattr(NUMPY, name)(*args, **kwargs)
    _same(got, expected)
    return got


def _axis_choices(ndim):
    yield None
    for k in range(-ndim - 1, ndim + 1):
        yield k
    for r in range(ndim + 1):
        yield from itertools.combinations(range(ndim), r)
    yield (0, 0)
    yield (-1, ndim - 1) if ndim else (0,)
    yield [0]                       # a list: NumPy's own function decides
    yield np.int64(0)


def test_the_namespace_is_numpys_with_the_c_functions_in_place():
    assert NUMPY.__name__ == "numpy"
    assert NUMPY.ndarray is np.ndarray and NUMPY.linalg is np.linalg and NUMPY.exp is np.exp
    assert NUMPY.char is np.char                            # one of NumPy's lazy attributes
    for name, f in FAST.items():
        assert getattr(NUMPY, name) is f and callable(getattr(np, name))


def test_where_and_concatenate_are_numpys():
    # The C functions behind NumPy's __array_function__ dispatch, on arrays and numbers:
    # NumPy's results and errors.
    a, b = np.arange(6.0).reshape(2, 3), np.ones((1, 3), np.float32)
    for got, want in [(NUMPY.concatenate([a, b]), np.concatenate([a, b])),
                      (NUMPY.concatenate((a, a), 1), np.concatenate((a, a), 1)),
                      (NUMPY.concatenate([a, b], axis=None), np.concatenate([a, b], axis=None)),
                      (NUMPY.where(a > 2, a, 0.5), np.where(a > 2, a, 0.5)),
                      (NUMPY.where(a > 2, np.float32(1), 0), np.where(a > 2, np.float32(1), 0)),
                      (NUMPY.where(a > 2)[1], np.where(a > 2)[1])]:
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    for bad in ([a, np.ones(2)], []):
        with pytest.raises(ValueError) as numpys:
            np.concatenate(bad)
        with pytest.raises(ValueError) as ours:
            NUMPY.concatenate(bad)
        assert str(ours.value) == str(numpys.value)


def test_ops_get_it_while_the_fast_paths_are_on_and_numpy_itself_otherwise():
    a = np.ones(3)
    assert get_array_module(a) is NUMPY
    prev = _set_fast_paths(False)
    try:
        assert get_array_module(a) is np
    finally:
        _set_fast_paths(prev)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "amax", "amin", "mean", "any", "all"])
def test_reductions(name):
    for a in ARRAYS:
        for axis in _axis_choices(a.ndim):
            for keepdims in ({}, {"keepdims": True}, {"keepdims": False}):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)     # means of nothing
                    _both(name, a, axis=axis, **keepdims)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            _both(name, a, None)
            if name in ("sum", "prod", "mean"):
                _both(name, a, dtype=np.float64)
            if name == "sum":
                _both(name, a, 0 if a.ndim else None, None, np.empty(a.shape[1:], np.float64))
    _both(name, [1.0, 2.0, 3.0])                            # not an ndarray: NumPy's function
    _both(name, np.ones((2, 3)), where=np.array([True, False, True]))


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_mean_of_nothing_warns_as_numpy_does():
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        expected = np.mean(np.ones((0,), np.float32))
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        got = NUMPY.mean(np.ones((0,), np.float32))
    assert np.isnan(got) and type(got) is type(expected)


def test_broadcast_to():
    for a in ARRAYS:
        for shape in [a.shape, (2,) + a.shape, (1,) + a.shape, (3, 1) + a.shape, (),
                      tuple(1 for _ in a.shape), tuple(4 if s == 1 else s for s in a.shape),
                      (-1,) + a.shape, (2.0,) + a.shape, list(a.shape), 7]:
            got = _both("broadcast_to", a, shape)
            if got is not None:
                expected = np.broadcast_to(a, shape)
                if isinstance(a, np.ndarray):       # a NumPy scalar has no memory to share
                    assert got.base is a or np.shares_memory(got, a) or a.size == 0
                assert all(s1 == s2 for s1, s2, n in zip(got.strides, expected.strides, got.shape)
                           if n > 1)
    one = np.float32(2) * np.ones((1, 3), np.float32)
    view = NUMPY.broadcast_to(one, (4, 3))
    with pytest.raises(ValueError, match="read-only"):
        view[0, 0] = 1


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumulative(name):
    for a in ARRAYS:
        for axis in [None, 0, -1, a.ndim, -a.ndim - 1]:
            for kwargs in ({}, {"dtype": np.float64}, {"dtype": np.int32}):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    _both(name, a, axis, **kwargs)
    _both(name, [1, 2, 3])


def test_reshape_transpose():
    for a in ARRAYS:
        for shape in [a.shape, (-1,), (a.size,), (1, -1), (-1, 1), (2, -1), 7, (0,), None]:
            for kwargs in ({}, {"order": "F"}, {"order": "A"}, {"copy": True}):
                _both("reshape", a, shape, **kwargs)
        for axes in [None, tuple(range(a.ndim))[::-1], tuple(range(a.ndim)), (0,) * a.ndim,
                     list(range(a.ndim))]:
            _both("transpose", a, axes)
            _both("transpose", a)


def test_expand_dims_moveaxis_swapaxes():
    for a in ARRAYS:
        n = a.ndim
        for axis in list(_axis_choices(n + 1)):
            if axis is not None:
                _both("expand_dims", a, axis)
        for src, dst in itertools.product(list(_axis_choices(n))[1:], repeat=2):
            _both("moveaxis", a, src, dst)
        for i, j in itertools.product(range(-n - 1, n + 1), repeat=2):
            _both("swapaxes", a, i, j)


@pytest.mark.parametrize("name", ["ones_like", "zeros_like", "full_like"])
def test_filled_like(name):
    fill = (2.5,) if name == "full_like" else ()
    for a in ARRAYS:
        for kwargs in ({}, {"dtype": np.int32}, {"dtype": np.complex128}, {"order": "C"},
                       {"shape": (2, 2)}, {"subok": False}):
            got = _both(name, a, *fill, **kwargs)
            if got is not None:
                assert got.flags.writeable and got.flags.owndata
                assert got.strides == getattr(np, name)(a, *fill, **kwargs).strides
    _both("full_like", np.ones(3, np.int8), 1000)       # NumPy's unsafe cast, as NumPy does it
    _both("full_like", np.ones(3), np.nan)


def test_gradients_are_those_numpy_itself_gives():
    # The whole path: a backward whose vjps use these functions, with NUMPY and with NumPy.
    x = agx.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)

    def grads():
        x.grad = None
        (x.sum(1, keepdim=True) * x.mean(0) + x.sum() + x.movedim(0, 1).mean((0, 1))).sum().backward()
        return x.grad.numpy().copy()

    fast = grads()
    prev = _set_fast_paths(False)
    try:
        slow = grads()
    finally:
        _set_fast_paths(prev)
    assert fast.tobytes() == slow.tobytes()
