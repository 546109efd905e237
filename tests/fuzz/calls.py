"""The kit the op strategies are written with: a drawn op call (:class:`Call`), its inputs,
and the strategies for shapes, dims and values they share.

A call is written once for both libraries: ``Call("nn.functional.softmax", x, dim=1)`` calls
``lib.nn.functional.softmax(tensor_x, dim=1)`` in autogradx or in PyTorch; a path starting
with a dot is a method of the first input (``".view"``). Inputs are NumPy arrays: floating
ones take part in the gradient (the *data* inputs, also the ones recast by the dtype
checks), those wrapped in :func:`const` (indices, masks, weights) do not.

Values come from a NumPy generator seeded by Hypothesis (:func:`rngs`); shapes, dims,
broadcasting and parameters are drawn by Hypothesis itself. Ops with kinks or ties get
values that keep away from them: :func:`off_grid` against :func:`on_grid` (nothing within
``margin`` of a multiple of ``step``) and :func:`distinct` (magnitudes pairwise apart).
"""

import operator
import os

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["PROFILE_ENV", "LONG_FACTOR", "examples", "Call", "DType", "const", "cast", "rngs",
           "uniform", "off_grid", "on_grid", "distinct", "shapes", "broadcast_shapes",
           "broadcastable_to", "dim_of", "dims_of", "options"]


#: The environment variable naming the Hypothesis profile (see conftest.py).
PROFILE_ENV = "AUTOGRADX_FUZZ_PROFILE"
#: How many times more examples the ``fuzz-long`` profile runs.
LONG_FACTOR = 20


def examples(n):
    """The number of examples of a test that runs ``n`` in the ``ci`` profile."""
    return n * LONG_FACTOR if os.environ.get(PROFILE_ENV) == "fuzz-long" else n


class Const:
    """An input that takes no part in the gradient (and keeps its dtype in dtype checks)."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = np.asarray(array)


def const(array):
    """``array`` as a constant input: no gradient, dtype kept."""
    return Const(array)


class DType:
    """A dtype argument (``dtype=DType("float64")``), the dtype object of the library the call
    runs in."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


class _Slot:
    """Where input ``index`` goes in a call's arguments."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _describe(value):
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        return f"T[{','.join(map(str, value.shape))}]"
    if isinstance(value, Const):
        return f"C:{value.array.dtype}[{','.join(map(str, value.array.shape))}]"
    if type(value) in (list, tuple):
        inner = ", ".join(_describe(v) for v in value)
        return f"[{inner}]" if type(value) is list else f"({inner}{',' if len(value) == 1 else ''})"
    return repr(value)


def _resolve(lib, path, args):
    """The function ``path`` names in ``lib`` (``"linalg.norm"``); for ``".name"`` the
    method of the first argument; for ``"operator.name"`` Python's operator (``2 / x``)."""
    if path.startswith("."):
        return getattr(args[0], path[1:]), args[1:]
    obj = operator if path.startswith("operator.") else lib
    path = path.partition("operator.")[2] or path
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj, args


class Call:
    """One drawn call: ``path`` applied to ``args`` and ``kwargs``, where arrays (and
    :func:`const` arrays) become tensors, also inside lists and tuples.

    Instead of a path, ``fn(lib, *args, **kwargs)`` may be given for calls that are more
    than one function (``y = x.clone(); y[i] = v``), with ``path`` as its label. The
    options of the call itself (every other keyword goes to the op): ``fd_step``, the step
    of its finite differences; ``finite_differences=False`` skips that check where the op's
    gradient differs from them by definition (embedding's ``padding_idx`` row); ``random``
    marks a call whose values depend on the library's random stream (dropout).
    """

    def __init__(self, path, *args, fn=None, fd_step=1e-6, finite_differences=True,
                 random=False, **kwargs):
        self.path, self.fn, self.fd_step, self.random = path, fn, fd_step, random
        self.finite_differences = finite_differences
        self.label = f"{path}({', '.join(self._labels(args, kwargs))})"
        self.inputs = []        # (array, differentiable) in the order of the tensor arguments
        self.args = self._template(args)
        self.kwargs = {k: self._template(v) for k, v in kwargs.items()}

    @staticmethod
    def _labels(args, kwargs):
        return [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()]

    def _template(self, value):
        if isinstance(value, np.generic):
            value = np.asarray(value)       # a 0-d array's element: a 0-d tensor all the same
        if isinstance(value, (np.ndarray, Const)):
            array = value if isinstance(value, np.ndarray) else value.array
            self.inputs.append((array, isinstance(value, np.ndarray) and array.dtype.kind == "f"))
            return _Slot(len(self.inputs) - 1)
        if type(value) in (list, tuple):
            return type(value)(self._template(v) for v in value)
        return value

    def __repr__(self):
        return self.label

    def arrays(self, dtypes=None):
        """The input arrays, the data inputs cast to ``dtypes`` (one per data input, see
        :func:`cast`) if given; with whether each takes part in the gradient."""
        dtypes = iter(dtypes or ())
        out = []
        for array, data in self.inputs:
            if data:
                array = cast(array, next(dtypes, array.dtype))
            out.append((array, data and array.dtype.kind == "f"))
        return out

    @property
    def n_data(self):
        """How many inputs take part in the gradient (and are recast by dtype checks)."""
        return sum(data for _, data in self.inputs)

    def tensors(self, lib, dtypes=None):
        """The inputs as tensors of ``lib`` (see :meth:`arrays`), floating data inputs
        requiring grad."""
        return [lib.tensor(array, requires_grad=grad) for array, grad in self.arrays(dtypes)]

    def bind(self, lib):
        """``f(*tensors)``: the call in ``lib`` on tensors in the order of :meth:`tensors`."""
        def call(*tensors):
            args = _fill(self.args, tensors, lib)
            kwargs = {k: _fill(v, tensors, lib) for k, v in self.kwargs.items()}
            if self.fn is not None:
                return self.fn(lib, *args, **kwargs)
            fn, args = _resolve(lib, self.path, args)
            return fn(*args, **kwargs)
        call.__name__ = self.path
        return call


def cast(array, dtype):
    """``array`` in ``dtype``: whole numbers toward zero for integers (magnitudes for unsigned
    ones), nonzero for bool."""
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        array = np.nan_to_num(array, posinf=0.0, neginf=0.0)      # NaNs of nansum's inputs
    if dtype.kind == "b":
        return array != 0
    if dtype.kind in "iu":
        array = np.trunc(array)
        return (np.abs(array) if dtype.kind == "u" else array).astype(dtype)
    return array.astype(dtype)


def _fill(value, tensors, lib):
    if isinstance(value, _Slot):
        return tensors[value.index]
    if isinstance(value, DType):
        return getattr(lib, value.name)
    if type(value) in (list, tuple):
        return type(value)(_fill(v, tensors, lib) for v in value)
    return value


# ---------------------------------------------------------------- values

def rngs():
    """NumPy generators seeded by Hypothesis: the source of every drawn value."""
    return st.integers(0, 2**32 - 1).map(np.random.default_rng)


def uniform(rng, shape, low=-2.0, high=2.0):
    """Values drawn uniformly from ``[low, high)``."""
    return np.asarray(rng.uniform(low, high, shape))


def on_grid(rng, shape, low=-2.0, high=2.0, step=0.5, nonzero=False):
    """Multiples of ``step`` in ``[low, high]`` (the bounds, thresholds or targets that the
    :func:`off_grid` values keep away from)."""
    ks = np.arange(np.ceil(low / step), np.floor(high / step) + 1)
    if nonzero:
        ks = ks[ks != 0]
    return np.asarray(rng.choice(ks, shape) * step)


def off_grid(rng, shape, low=-2.0, high=2.0, step=0.5, margin=0.05):
    """Values in about ``[low, high)`` at least ``margin`` from every multiple of ``step``:
    away from the kinks of ``abs``, ``floor``, ``round``, and from :func:`on_grid` values."""
    ks = np.arange(np.floor(low / step), np.ceil(high / step))
    offsets = rng.uniform(margin / step, 1 - margin / step, shape)
    return np.asarray((rng.choice(ks, shape) + offsets) * step)


def distinct(rng, shape, low=0.1, high=2.0, signed=True):
    """Values whose magnitudes lie in ``[low, high]`` and are pairwise at least
    ``(high - low) / (2 n)`` apart (no ties for max, pooling or inf-norms; no zeros)."""
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return np.zeros(shape)
    gap = (high - low) / n
    mags = low + gap * (rng.permutation(n) + rng.uniform(0.25, 0.75, n))
    signs = rng.choice([-1.0, 1.0], n) if signed else 1.0
    return (mags * signs).reshape(shape)


# ---------------------------------------------------------------- shapes and dims

def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Array shapes, 0-d included by default."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcast_shapes(n, min_dims=0, max_dims=3, min_side=1, max_side=4):
    """``n`` shapes that broadcast together (size-1 dims, missing leading dims, 0-d)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=min_dims,
                                             max_dims=max_dims, min_side=min_side,
                                             max_side=max_side).map(lambda b: b.input_shapes)


@st.composite
def broadcastable_to(draw, shape):
    """Shapes that broadcast to ``shape`` without growing it (in-place ops, expand)."""
    n = draw(st.integers(0, len(shape)))
    return tuple(draw(st.sampled_from([1, side])) for side in shape[len(shape) - n:])


def dim_of(ndim):
    """A dim of a tensor of rank ``ndim``, negative or not (a 0-d tensor takes 0 and -1)."""
    n = max(ndim, 1)
    return st.integers(-n, n - 1)


def dims_of(ndim, min_size=1, max_size=None):
    """A tuple of distinct dims of a tensor of rank ``ndim``, each negative or not."""
    n = max(ndim, 1)
    return st.lists(dim_of(ndim), min_size=min_size, max_size=min(n, max_size or n),
                    unique_by=lambda d: d % n).map(tuple)


def options(**strategies):
    """Keyword arguments, each drawn from its strategy or left out."""
    return st.fixed_dictionaries({}, optional=strategies)
