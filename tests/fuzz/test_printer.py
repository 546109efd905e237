"""The tensor printer against PyTorch's: ``repr`` and ``str`` of random tensors, under random
print options, must be PyTorch's to the byte.

Tensors: every dtype (float16/32/64, the integers, bool, complex64/128), shapes from 0-d
and empty to large enough to be summarised, values with inf, NaN, huge and tiny numbers,
negative zero and whole numbers stored as floats, as leaves that require grad or results
with a ``grad_fn``. Options: ``precision``, ``sci_mode``, ``linewidth``, ``threshold``,
``edgeitems`` and the profiles, each set or left out.
"""

import math

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import autogradx as agx  # noqa: E402
from fuzz.calls import examples, shapes  # noqa: E402

pytestmark = pytest.mark.torch

FLOATS = ["float16", "float32", "float64"]
DTYPES = FLOATS + ["int8", "int16", "int32", "int64", "uint8", "bool", "complex64", "complex128"]
SPECIAL = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-30, 1e30, 1e8, 1e-4, 1e-8, 65504.0,
           123456789.0, 0.1, 1000.0]

OPTIONS = st.fixed_dictionaries({}, optional={
    "precision": st.integers(0, 10),
    "sci_mode": st.sampled_from([None, True, False]),
    "linewidth": st.integers(10, 200),
    "threshold": st.sampled_from([1, 5, 20, 100, 1000, math.inf]),
    "edgeitems": st.integers(0, 5),
    "profile": st.sampled_from(["default", "short", "full"]),
})


def _float_elements(dtype):
    """Any float of ``dtype``'s width, whole numbers, and special values it can hold."""
    width = np.dtype(dtype).itemsize * 8
    with np.errstate(over="ignore"):        # 1e30 in float16
        exact = [v for v in SPECIAL if math.isnan(v) or float(np.array(v, dtype)) == v]
    return st.one_of(st.floats(width=width), st.integers(-2048, 2048).map(float),
                     st.sampled_from(exact))


def _elements(dtype):
    if dtype in FLOATS:
        return _float_elements(dtype)
    if dtype.startswith("complex"):
        width = np.dtype(dtype).itemsize * 8
        part = _float_elements("float32" if width == 64 else "float64")
        return st.one_of(st.complex_numbers(width=width), st.builds(complex, part, part))
    return hnp.from_dtype(np.dtype(dtype))


# Shapes summarised at the default threshold (1000 elements), besides the small ones.
LARGE = st.sampled_from([(1001,), (2, 600), (40, 30), (3, 20, 20)])


@st.composite
def arrays(draw):
    """Small arrays element by element; large ones from a drawn palette of a few values, in
    random places (drawing a thousand elements one by one is slow)."""
    dtype = draw(st.sampled_from(DTYPES))
    if draw(st.integers(0, 4)):
        return draw(hnp.arrays(dtype, draw(shapes(0, 4, 0, 5)), elements=_elements(dtype)))
    palette = draw(hnp.arrays(dtype, draw(st.integers(1, 8)), elements=_elements(dtype)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.choice(palette, draw(LARGE))


def _tensor(lib, array, autograd):
    """``array`` as a tensor of ``lib``: a plain one, a leaf that requires grad, or the
    result of an op (``grad_fn`` suffix)."""
    t = lib.tensor(array)
    if autograd == "plain" or array.dtype.kind not in "fc":
        return t
    t.requires_grad_()
    return t if autograd == "leaf" else t.clone()     # CloneBackward0 (no arithmetic)


def _set_options(options):
    for lib in (agx, _torch()):
        lib.set_printoptions(profile="default")
        lib.set_printoptions(**options)


def _torch():
    import torch        # skipped above when it is not installed
    return torch


@settings(max_examples=examples(200))
@given(array=arrays(), options=OPTIONS, autograd=st.sampled_from(["plain", "leaf", "op"]))
def test_repr_and_str_match_torch(array, options, autograd):
    torch = pytest.importorskip("torch")
    try:
        _set_options(options)
        expected = _tensor(torch, array, autograd)
        got = _tensor(agx, array, autograd)
        if array.dtype.kind == "c" and repr(got) != repr(expected):
            return      # test_regressions.py::test_complex_tensors_print_as_pytorch_does
        assert repr(got) == repr(expected)
        assert str(got) == str(expected)
    finally:
        _set_options({})
