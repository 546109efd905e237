"""Strategies of calls of the reductions (autogradx/ops/reductions.py): no dim, one dim
(negative or not) or a tuple of them, ``keepdim``, the ops' own parameters, and values
without ties where the gradient picks one element (max, amax, inf-norms); ``unique`` of
values that repeat."""

import numpy as np
from hypothesis import strategies as st

from fuzz.calls import Call, DType, dim_of, dims_of, distinct, rngs, shapes, uniform


def with_zeros(rng, shape):
    """Values of which about a quarter are exactly 0 (where prod's gradient is special)."""
    x = uniform(rng, shape)
    return np.where(rng.uniform(size=shape) < 0.25, 0.0, x)


def with_nans(rng, shape):
    """Values of which about a quarter are NaN (which nansum skips)."""
    x = uniform(rng, shape)
    return np.where(rng.uniform(size=shape) < 0.25, np.nan, x)


def _reduced_size(shape, dim):
    """How many elements each output element of a reduction over ``dim`` gathers."""
    if dim is None or not shape:
        return int(np.prod(shape, dtype=np.int64))
    dims = dim if isinstance(dim, tuple) else (dim,)
    return int(np.prod([shape[d % len(shape)] for d in dims], dtype=np.int64))


@st.composite
def reduction_args(draw, ndim, forms=("all", "dim", "dims")):
    """``(args, kwargs)`` after the input: nothing, a dim, or a tuple of dims, each
    positional or by keyword, with ``keepdim`` sometimes."""
    form = draw(st.sampled_from(forms))
    if form == "all":
        return (), {}
    dim = draw(dim_of(ndim) if form == "dim" else dims_of(ndim))
    kwargs = {}
    if draw(st.booleans()):
        kwargs["keepdim"] = draw(st.booleans())
    if draw(st.booleans()):
        return (dim,), kwargs
    return (), {"dim": dim, **kwargs}


def reduction(path, values=uniform, forms=("all", "dim", "dims"), min_side=1, dtypes=False):
    """``path(x, [dim], [keepdim])``; ``dtypes``: a ``dtype=`` argument sometimes."""
    @st.composite
    def draw_call(draw):
        shape = draw(shapes(min_side=min_side))
        args, kwargs = draw(reduction_args(len(shape), forms))
        if dtypes and draw(st.booleans()):
            kwargs["dtype"] = DType("float64")
        return Call(path, values(draw(rngs()), shape), *args, **kwargs)
    return draw_call()


def scan(path, values=uniform):
    """``cumsum``-like: ``path(x, dim)``, ``dtype=`` sometimes."""
    @st.composite
    def draw_call(draw):
        shape = draw(shapes(min_side=0))
        kwargs = {"dtype": DType("float64")} if draw(st.booleans()) else {}
        return Call(path, values(draw(rngs()), shape), draw(dim_of(len(shape))), **kwargs)
    return draw_call()


def moments(path):
    """``var``, ``std`` and their ``*_mean``: over dims that hold more elements than the
    correction (no division by zero), with ``correction`` or ``unbiased``."""
    @st.composite
    def draw_call(draw):
        shape = draw(shapes(min_side=1))
        args, kwargs = draw(reduction_args(len(shape)))
        dim = args[0] if args else kwargs.get("dim")
        n = _reduced_size(shape, dim)
        how = draw(st.sampled_from(["default", "correction", "unbiased"]))
        if how == "correction":
            kwargs["correction"] = draw(st.integers(0, min(2, n - 1)))
        elif how == "unbiased":
            kwargs["unbiased"] = draw(st.booleans()) if n > 1 else False
        elif n < 2:
            kwargs["correction"] = 0
        return Call(path, uniform(draw(rngs()), shape), *args, **kwargs)
    return draw_call()


def norm():
    """``torch.norm(x, p, dim, keepdim)``: finite p (1 and below need no zeros), inf
    norms (no ties), and Frobenius over two dims."""
    @st.composite
    def draw_call(draw):
        shape = draw(shapes(min_side=1))
        x = distinct(draw(rngs()), shape)
        p = draw(st.sampled_from([2, 1, 3, 0.5, float("inf"), float("-inf"), "fro"]))
        if p == "fro":
            dims = draw(st.one_of(st.none(), dims_of(len(shape), 2, 2))) if len(shape) >= 2 \
                else None
            return Call("norm", x, p, dims)
        args, kwargs = draw(reduction_args(len(shape), ("all", "dim")))
        return Call("norm", x, p, *args, **kwargs)
    return draw_call()


def extreme(path):
    """``max``/``min``: of all elements, along a dim (values and indices), or of two
    tensors (as ``maximum``), without ties."""
    @st.composite
    def draw_call(draw):
        rng = draw(rngs())
        form = draw(st.sampled_from(["all", "dim", "other"]))
        shape = draw(shapes(min_side=1))
        if form == "other":
            both = distinct(rng, (2,) + shape)
            return Call(path, both[0], both[1])
        args, kwargs = draw(reduction_args(len(shape), (form,)))
        return Call(path, distinct(rng, shape), *args, **kwargs)
    return draw_call()


@st.composite
def unique(draw):
    """``unique`` of few distinct values (repeats), of all elements or of slices along a dim,
    with the inverse and the counts or not."""
    rng = draw(rngs())
    shape = draw(shapes(min_side=0))
    kwargs = draw(st.fixed_dictionaries({}, optional={
        "sorted": st.booleans(), "return_inverse": st.booleans(),
        "return_counts": st.booleans()}))
    if shape and draw(st.booleans()):
        kwargs["dim"] = draw(dim_of(len(shape)))
    return Call(draw(st.sampled_from(["unique", ".unique"])),
                rng.integers(-1, 2, shape).astype(float) / 2, **kwargs)


CALLS = {
    "sum": reduction("sum", min_side=0, dtypes=True),
    "nansum": reduction("nansum", with_nans, min_side=0),
    "mean": reduction("mean", dtypes=True),
    "prod": reduction("prod", with_zeros, forms=("all", "dim"), min_side=0),
    "amax": reduction("amax", distinct),
    "amin": reduction("amin", distinct),
    "logsumexp": reduction("logsumexp", forms=("dim", "dims")),
    "cumsum": scan("cumsum"),
    "cumprod": scan("cumprod", with_zeros),
    "var": moments("var"), "std": moments("std"),
    "var_mean": moments("var_mean"), "std_mean": moments("std_mean"),
    "norm": norm(),
    "max": extreme("max"), "min": extreme("min"),
    "unique": unique(),
}
