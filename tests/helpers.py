"""Helpers shared by the test files: input specs, the tensors made from them, the one-line
constructors of the case tables (``case``, ``err``), small tensor makers and comparisons, and
a child interpreter for the calls that once crashed the process (``error_in_child``).

An input spec describes one input of a test case, such as ``R(2, 3)``: a 2x3 input of
random values in [-2, 2). A spec gives a NumPy array (``Spec.array``: the same data for
autogradx and PyTorch, see ``torch_compare.py``) or an autogradx tensor (``Spec.make``: for
the finite-difference checks). The constructors:

* ``R(shape)`` real values in [-2, 2); ``P(shape)`` positive values in [0.5, 2) (log, pow,
  division); ``U(shape)`` values in [0.1, 0.9) (probabilities, BCE targets); ``W(shape)``
  wide values in [-30, 30) (past softplus' threshold and the erf branches);
  ``uniform(shape, low, high)`` any other range;
* ``M(shape)`` well-conditioned square matrices (random in [-1, 1) plus 3 I);
* ``B(shape)`` a bool condition; ``A(values)`` fixed values; ``I(values)`` fixed int64 values;
* ``Prob(shape)`` probabilities summing to 1 along dim 1; ``Idx(shape, C)`` class indices;
* ``K(spec)`` the same input as a constant (no gradient); ``D(dtype, spec)`` the same input in
  its own dtype, whatever the dtype a test runs at.

This module must not import torch: the tests that do not compare with PyTorch use it, and
they run (and collect) without torch installed.
"""

import contextlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import autogradx as agx
from autogradx._core.dispatch import _set_fast_paths


class Spec:
    """One input of a test case: ``draw(rng, shape)`` gives its data as a NumPy array.

    ``requires_grad``: whether the input takes part in the gradient (float data only);
    ``dtype``: the input's own dtype (None: the dtype the test runs at).
    """

    def __init__(self, shape, draw, requires_grad=True, dtype=None):
        self.shape, self.draw, self.requires_grad, self.dtype = shape, draw, requires_grad, dtype

    def array(self, rng, dtype):
        """The data as a NumPy array: in the spec's own dtype if it has one, else float data
        in ``dtype`` and integer or bool data as drawn."""
        data = self.draw(rng, self.shape)
        if self.dtype is not None:
            return data.astype(self.dtype)
        return data.astype(dtype) if data.dtype.kind == "f" else data

    def make(self, rng, dtype=agx.float64):
        """The input as an autogradx tensor: float data in ``dtype`` (or the spec's own dtype),
        requiring grad as the spec says; integer and bool data as drawn, without grad."""
        data = self.draw(rng, self.shape)
        if self.dtype is not None:
            data, dtype = data.astype(self.dtype), getattr(agx, self.dtype)
        if data.dtype.kind != "f":
            return agx.tensor(data)
        return agx.tensor(data, dtype=dtype, requires_grad=self.requires_grad)


def uniform(shape, low, high):
    """Random values of ``shape`` in [low, high)."""
    return Spec(shape, lambda rng, s: rng.uniform(low, high, s))


def R(*shape):
    return uniform(shape, -2.0, 2.0)


def P(*shape):
    return uniform(shape, 0.5, 2.0)


def U(*shape):
    return uniform(shape, 0.1, 0.9)


def W(*shape):
    return uniform(shape, -30.0, 30.0)


def M(*shape):
    """Square matrices (the last two dims) far from singular: random values plus 3 I."""
    def draw(rng, s):
        return rng.uniform(-1.0, 1.0, s) + 3 * np.eye(s[-1])
    return Spec(shape, draw)


def B(*shape):
    """A bool condition, true about half the time."""
    return Spec(shape, lambda rng, s: rng.uniform(0, 1, s) < 0.5, requires_grad=False,
                dtype="bool")


def A(values, dtype=None):
    """Fixed ``values`` (ties, zeros, NaN), in ``dtype`` if given."""
    return Spec(None, lambda rng, s: np.array(values), dtype=dtype)


def I(values):  # noqa: E743 - one letter, as the other constructors
    """Fixed int64 ``values``."""
    return A(values, "int64")


def Prob(*shape):
    """Probabilities summing to 1 along dim 1 (dim 0 for 1-d)."""
    def draw(rng, s):
        e = rng.uniform(0.1, 1.0, s)
        return e / e.sum(axis=0 if len(s) == 1 else 1, keepdims=True)
    return Spec(shape, draw)


def Idx(shape, n_classes, ignore=-100, n_ignored=1):
    """Class indices in [0, n_classes), the first ``n_ignored`` set to ``ignore``."""
    def draw(rng, s):
        t = rng.integers(0, n_classes, s)
        t.reshape(-1)[:n_ignored] = ignore
        return t
    return Spec(shape, draw, requires_grad=False)


def K(spec):
    """``spec`` as a constant: no gradient."""
    return Spec(spec.shape, spec.draw, requires_grad=False, dtype=spec.dtype)


def D(dtype, spec, int_scale=3):
    """``spec`` in its own ``dtype``, whatever the dtype a test runs at.

    For a signed integer dtype the random values are multiplied by ``int_scale`` and rounded
    (the files' cases were written with their own scale: each keeps its own); any other dtype
    (uint8 too) is a plain cast of the values."""
    draw = spec.draw
    if dtype.startswith("int"):
        def draw(rng, s):
            return np.round(spec.draw(rng, s) * int_scale)
    return Spec(spec.shape, draw, dtype=dtype,
                requires_grad=spec.requires_grad and np.dtype(dtype).kind == "f")


def as_spec(spec):
    """``spec`` itself, or for a shape (a tuple) the spec ``R(*shape)``."""
    return spec if isinstance(spec, Spec) else R(*spec)


def make_inputs(specs, seed, dtype=agx.float64):
    """The autogradx tensors of ``specs`` (or shapes, see ``as_spec``), drawn from a generator
    seeded with ``seed``: the inputs of a gradient check."""
    rng = np.random.default_rng(seed)
    return tuple(as_spec(s).make(rng, dtype) for s in specs)


def case(id, fn, *specs, marks=()):
    """A gradient-check case: ``fn`` applied to the inputs made from ``specs``."""
    return pytest.param(fn, specs, id=id, marks=marks)


def err(id, fn, *expected, marks=()):
    """An error case: ``fn`` and what it must raise (an exception type, a message to match:
    what the table's test takes)."""
    return pytest.param(fn, *expected, id=id, marks=marks)


# ---------------------------------------------------------------- tensors by hand

def float_tensor(values, requires_grad=True, dtype="float64", lib=agx):
    """``values`` as a float tensor of ``lib`` (autogradx, or torch for a comparison);
    ``dtype`` by name or as a dtype of either library."""
    return lib.tensor(np.asarray(values, dtype=float),
                      dtype=getattr(lib, str(dtype).split(".")[-1]), requires_grad=requires_grad)


def leaf(values, dtype="float64"):
    """A leaf tensor that requires grad."""
    return float_tensor(values, dtype=dtype)


def transposed(x):
    """``x`` with its first two dims swapped: not contiguous, so reshaping it must copy."""
    return x.transpose(0, 1)


def view_base():
    """A 2x3x4 float64 tensor of 0 to 23, to take views of."""
    return agx.tensor(np.arange(24.0).reshape(2, 3, 4))


def arr(x):
    """A tensor's values (of either library) as a NumPy array."""
    return x.detach().numpy()


def close(a, b, rtol=1e-12, atol=1e-12):
    """Assert that ``a`` and ``b`` (tensors of either library, arrays, lists or numbers) hold
    the same values within ``rtol`` and ``atol``."""
    np.testing.assert_allclose(arr(a) if hasattr(a, "detach") else a,
                               arr(b) if hasattr(b, "detach") else b, rtol=rtol, atol=atol)


@contextlib.contextmanager
def fast_paths(on):
    """The core's fast paths (``ufunc=``, ``vjp_ufunc=``, NumPy's loops called directly)
    on or off inside the block, as the conformance kit compares them."""
    previous = _set_fast_paths(on)
    try:
        yield
    finally:
        _set_fast_paths(previous)


_CHILD = """
import numpy as np
import autogradx as agx

def case():
{body}

try:
    case()
    print("no error")
except Exception as e:
    print(f"{{type(e).__name__}}: {{e}}")
"""


def error_in_child(code):
    """The exception that ``code`` raises, as ``'TypeError: message'`` (``'no error'`` if
    none), run in a child interpreter: a crash there fails the test that asks, where in the
    test run's own process it would end the run."""
    body = textwrap.indent(textwrap.dedent(code).strip(), "    ")
    out = subprocess.run([sys.executable, "-c", _CHILD.format(body=body)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, f"the interpreter died with status {out.returncode}:\n{out.stderr}"
    return out.stdout.strip().splitlines()[-1]


def backward_cycle_warning(create_graph=True):
    """What ``backward(create_graph=True)`` warns, as PyTorch does (the leaves' .grad will
    hold a graph that leads back to them); nothing expected otherwise."""
    if not create_graph:
        return contextlib.nullcontext()
    return pytest.warns(UserWarning, match=r"Using backward\(\) with create_graph=True will "
                                           "create a reference cycle")
