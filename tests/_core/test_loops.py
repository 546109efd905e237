"""The core's direct calls of NumPy's inner loops (autogradx/_core/loops.pyx): NumPy's
values bit for bit, NumPy's error state on floating-point exceptions, and every call
the loops do not take left to the ufunc."""

import warnings

import numpy as np
import pytest

import autogradx as ag
from autogradx._core import loops
from helpers import fast_paths

BINARY = [np.add, np.subtract, np.multiply, np.divide]
DTYPES = [np.float32, np.float64]
SPECIALS = [0.0, -0.0, 1.0, -1.5, 3.0e38, -3.0e38, 1e-40, -1e-45, 1e-310, 1e308, np.inf,
            -np.inf, np.nan, 2.0 ** -149, 7.25, 1 / 3]


def _values(rng, dtype, shape):
    """Random values of every magnitude, with the special ones mixed in."""
    x = rng.standard_normal(shape) * 10.0 ** rng.integers(-40, 40, size=shape)
    flat = x.reshape(-1)
    picks = rng.random(flat.size) < 0.3
    flat[picks] = rng.choice(SPECIALS, size=int(picks.sum()))
    with np.errstate(all="ignore"):
        return np.asarray(x, dtype)


def _same_bits(got, want):
    assert type(got) is np.ndarray and got.dtype == want.dtype and got.shape == want.shape
    assert got.flags.c_contiguous and got.flags.writeable and got.flags.owndata
    np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), want.view(f"u{want.itemsize}"))


def _cases(ufunc, a, b, s):
    return [(a,)] if ufunc.nin == 1 else [(a, b), (a, s), (s, a), (a, a)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ufunc", BINARY + [np.negative], ids=lambda u: u.__name__)
def test_direct_calls_give_numpys_bits(ufunc, dtype):
    rng = np.random.default_rng(0)
    for shape in [(1,), (3,), (16, 16), (500,), (2, 5, 7)]:
        for _ in range(20):
            # Values of every magnitude and the special ones: calls that raise a
            # floating-point flag are left to NumPy (None), the others must match it.
            for args in _cases(ufunc, *(_values(rng, dtype, sh) for sh in (shape, shape, ()))):
                with np.errstate(all="ignore"):
                    want = ufunc(*args)
                got = loops._direct(ufunc, *args)
                if got is not None:
                    _same_bits(got, want)
            # Ordinary values raise no flag: every call is made directly.
            plain = [np.asarray(rng.random(sh) + 0.5, dtype) for sh in (shape, shape, ())]
            for args in _cases(ufunc, *plain):
                _same_bits(loops._direct(ufunc, *args), ufunc(*args))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ufunc", BINARY + [np.negative], ids=lambda u: u.__name__)
def test_nan_payloads_are_numpys_in_place_and_out_of_place(ufunc, dtype):
    """With two NaN operands the result is one of them, chosen by the loop's path: the
    direct calls pass what NumPy passes (a single element with stride 0, the output
    aliasing the first input in place), so that the same NaN comes out."""
    uint = np.uint32 if dtype == np.float32 else np.uint64
    bits = 32 if dtype == np.float32 else 64
    quiet = (1 << (bits - 1)) | (0x7FC00000 << (bits - 32) if bits == 32 else 0x7FF8 << 48)
    nans = np.array([quiet & ~(1 << (bits - 1)), quiet, (quiet & ~(1 << (bits - 1))) | 1,
                     quiet | 0x12345], uint).view(dtype)
    values = np.concatenate([nans, np.array([1.0, -2.5, np.inf], dtype)])
    for n in (1, 2, 3, 17):
        for va in values:
            for vb in values:
                a = np.full(n, va, dtype)
                others = [()] if ufunc.nin == 1 else [(np.full(n, vb, dtype),),
                                                      (np.asarray(vb, dtype),)]
                for other in others:
                    with np.errstate(all="ignore"):
                        want = ufunc(a, *other)
                        want_in_place = a.copy()
                        ufunc(want_in_place, *other, want_in_place)
                    got = loops._direct(ufunc, a, *other)
                    if got is not None:
                        assert got.tobytes() == want.tobytes()
                    inplace = a.copy()
                    if loops._direct(ufunc, inplace, *other, into_a=True) is not None:
                        assert inplace.tobytes() == want_in_place.tobytes()


@pytest.mark.parametrize("ufunc", BINARY, ids=lambda u: u.__name__)
def test_a_call_into_its_first_operand_writes_it_and_returns_it(ufunc):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(7).astype(np.float32) + 3
    b = rng.standard_normal(7).astype(np.float32) + 3
    want = ufunc(a, b)
    got = loops._direct(ufunc, a, b, into_a=True)
    assert got is a
    _same_bits(a, want)
    assert loops._direct(np.negative, a, into_a=True) is a
    _same_bits(a, -want)


@pytest.mark.parametrize("case, args", [
    ("float16", (np.ones(3, np.float16), np.ones(3, np.float16))),
    ("int64", (np.ones(3, np.int64), np.ones(3, np.int64))),
    ("mixed dtypes", (np.ones(3, np.float32), np.ones(3, np.float64))),
    ("broadcast", (np.ones((2, 3)), np.ones(3))),
    ("0-d with 0-d", (np.array(1.0), np.array(2.0))),
    ("empty", (np.ones(0), np.ones(0))),
    ("over 500 elements", (np.ones(501), np.ones(501))),
    ("strided", (np.ones(6)[::2], np.ones(3))),
    ("Fortran order", (np.ones((3, 4), order="F"), np.ones((3, 4), order="F"))),
    ("subclass", (np.ones(3).view(np.ma.MaskedArray), np.ones(3))),
    ("byte-swapped", (np.ones(3, ">f8"), np.ones(3, ">f8"))),
    ("not an array", (np.ones(3), [1.0, 2.0, 3.0])),
])
def test_calls_the_loops_do_not_take_are_left_to_numpy(case, args):
    assert loops._direct(np.add, *args) is None


def test_calls_into_a_read_only_or_0d_operand_are_left_to_numpy():
    a = np.ones(3)
    a.flags.writeable = False
    assert loops._direct(np.add, a, np.ones(3), into_a=True) is None
    assert loops._direct(np.negative, a, into_a=True) is None
    assert loops._direct(np.add, np.array(1.0), np.ones(3), into_a=True) is None


def test_a_call_into_an_operand_that_the_other_overlaps_is_left_to_numpy():
    # NumPy copies the other operand first; a loop writing in place would read what it
    # has just written (x -= x[0] would subtract 0 from every element after the first).
    a = np.array([1.0, 2.0, 3.0])
    assert loops._direct(np.subtract, a, a[0, ...], into_a=True) is None
    buf = np.arange(1.0, 5.0)
    assert loops._direct(np.add, buf[1:], buf[:-1], into_a=True) is None
    assert a.tolist() == [1.0, 2.0, 3.0] and buf.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert loops._direct(np.add, a, a, into_a=True) is a      # the same elements: fine
    assert a.tolist() == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("grad", [False, True])
def test_in_place_updates_by_a_view_of_the_tensor_read_it_before_the_update(grad):
    for fast in (True, False):
        with fast_paths(fast):
            t = ag.tensor([1.0, 2.0, 3.0])
            with ag.set_grad_enabled(grad):
                # A part of the memory written (0-d): refused, as PyTorch refuses it.
                with pytest.raises(RuntimeError, match="refer to a single memory location"):
                    t.sub_(t[0])
                t.add_(t[1:2].expand(3))        # repeated elements: PyTorch runs it
        assert t.tolist() == [3.0, 4.0, 5.0], fast


def test_only_correctly_rounded_ufuncs_are_called_directly():
    # exp's loops may round differently from one implementation to another
    assert loops._direct(np.exp, np.ones(3)) is None
    assert loops._direct(np.maximum, np.ones(3), np.ones(3)) is None


def test_floating_point_exceptions_keep_numpys_error_state():
    a, zero = ag.tensor([1.0, 2.0]), ag.tensor([0.0, 0.0])
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError, match="divide by zero"):
            a / zero
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(divide="warn"):
            q = a / zero
    assert [str(w.message) for w in caught] == ["divide by zero encountered in divide"]
    assert q.tolist() == [np.inf, np.inf]
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError, match="overflow"):
            ag.tensor([3e38]) * 10.0


def test_an_overflowing_call_into_its_operand_leaves_it_unchanged():
    a = np.array([3e38, 1.0], np.float32)
    assert loops._direct(np.multiply, a, np.array(10.0, np.float32), into_a=True) is None
    assert a.tolist() == [np.float32(3e38), 1.0]


def test_flags_raised_before_the_call_do_not_count():
    with np.errstate(all="ignore"):
        np.array([1e308]) * 10              # leaves the overflow flag raised
    assert loops._direct(np.add, np.ones(3), np.ones(3)) is not None


def test_an_overflowing_gradient_sum_keeps_numpys_error_state():
    # Two paths into x, each with gradient 3e38: their float32 sum overflows.
    x = ag.tensor([1e-30], requires_grad=True)
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError, match="overflow"):
            (x * 3e38 + x * 3e38).backward(ag.tensor([1.0]))
    with np.errstate(over="ignore"):
        (x * 3e38 + x * 3e38).backward(ag.tensor([1.0]))
    assert x.grad.tolist() == [np.inf]


def test_turning_the_fast_paths_off_turns_the_direct_calls_off():
    with fast_paths(False):
        assert loops._direct(np.add, np.ones(3), np.ones(3)) is None
    assert loops._direct(np.add, np.ones(3), np.ones(3)) is not None


def test_each_loop_table_is_checked_against_its_ufunc_before_use():
    from autogradx._core.loops import _loops_agree
    for ufunc in (np.add, np.subtract, np.multiply, np.divide, np.negative):
        assert _loops_agree(ufunc, ufunc) == [True, True], ufunc
    # Another ufunc's loops give other bits: refused, so NumPy would be called instead.
    assert _loops_agree(np.add, np.subtract) == [False, False]
    assert _loops_agree(np.multiply, np.divide) == [False, False]
    assert _loops_agree(np.subtract, np.negative) == [False, False]     # arity differs
