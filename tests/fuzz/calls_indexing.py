"""Strategies of calls of the indexing ops (autogradx/ops/indexing.py): basic indices
(ints, slices with steps, None, Ellipsis), integer and bool indices (repeated ones too,
where the gradient adds up), index tensors for gather and scatter, and ``x[i] = v``."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fuzz.calls import Call, broadcastable_to, const, dim_of, rngs, shapes, uniform


def _positive_steps(index):
    """``index`` with each slice's step made positive (PyTorch has no negative steps)."""
    def fix(part):
        if isinstance(part, slice) and part.step is not None and part.step < 0:
            return slice(part.start, part.stop, -part.step)
        return part
    return tuple(map(fix, index)) if isinstance(index, tuple) else fix(index)


def basic_indices(shape):
    return hnp.basic_indices(shape, allow_newaxis=True).map(_positive_steps)


def _values(draw, min_dims=0, max_dims=3, min_side=1):
    return uniform(draw(rngs()), draw(shapes(min_dims, max_dims, min_side)))


@st.composite
def advanced_index(draw, shape, unique=False):
    """An integer index tensor along dim 0 (negative entries too), a bool mask of the
    leading dims, or a tuple with a list in a later dim; ``unique``: no repeated element."""
    rng = draw(rngs())
    form = draw(st.sampled_from(["ints", "mask", "later"] if len(shape) > 1 else ["ints", "mask"]))
    if form == "mask":
        k = draw(st.integers(1, len(shape)))
        return const(rng.uniform(size=shape[:k]) < 0.5)
    n = shape[0] if form == "ints" else shape[1]
    if unique:
        picks = rng.permutation(n)[:draw(st.integers(0, n))]
    else:
        picks = rng.integers(0, n, draw(shapes(0, 2, 0, 3)))
    picks = picks - n * rng.integers(0, 2, np.shape(picks))          # some negative
    if form == "ints":
        return const(np.asarray(picks, dtype=np.int64))
    return (slice(None), [int(i) for i in np.ravel(picks)])


@st.composite
def getitem(draw):
    x = _values(draw)
    return Call("x[i]", x, draw(basic_indices(x.shape)), fn=lambda lib, x, i: x[i])


@st.composite
def index(draw):
    x = _values(draw, min_dims=1)
    return Call("x[i]", x, draw(advanced_index(x.shape)), fn=lambda lib, x, i: x[i])


def _assign(lib, x, v, i):
    y = x.clone()
    y[i] = v
    return y


@st.composite
def setitem(draw):
    """``y = x.clone(); y[i] = v`` with a basic or advanced index (no element assigned
    twice), ``v`` a tensor that broadcasts to ``y[i]`` or a number."""
    x = _values(draw, min_dims=1)
    i = draw(st.one_of(basic_indices(x.shape), advanced_index(x.shape, unique=True)))
    target = np.empty(x.shape)[i.array if hasattr(i, "array") else i].shape
    v = draw(st.one_of(st.just(uniform(draw(rngs()), draw(broadcastable_to(target)))),
                       st.floats(-2, 2)))
    return Call("y = x.clone(); y[i] = v", x, v, i, fn=_assign)


@st.composite
def narrow(draw):
    x = _values(draw, min_dims=1)
    dim = draw(dim_of(x.ndim))
    n = x.shape[dim]
    start = draw(st.integers(-n, n - 1))
    return Call("narrow", x, dim, start, draw(st.integers(0, n - start % n)))


@st.composite
def select(draw):
    x = _values(draw, min_dims=1)
    dim = draw(dim_of(x.ndim))
    return Call("select", x, dim, draw(st.integers(-x.shape[dim], x.shape[dim] - 1)))


@st.composite
def index_select(draw):
    x = _values(draw)
    dim = draw(dim_of(x.ndim))
    n = x.shape[dim] if x.ndim else 1
    # a 0-d tensor takes exactly one index, 0
    picks = draw(st.lists(st.integers(0, n - 1), min_size=x.ndim == 0, max_size=4 if x.ndim else 1))
    return Call("index_select", x, dim, const(np.asarray(picks, dtype=np.int64)))


@st.composite
def _gather_index(draw, shape, dim, rng):
    """An index for ``gather``/``scatter_add`` along ``dim``: the same rank, no larger than
    ``shape`` in the other dims, entries within ``shape[dim]``."""
    dim %= len(shape)
    sizes = tuple(draw(st.integers(1, side)) if d != dim else draw(st.integers(0, 4))
                  for d, side in enumerate(shape))
    return rng.integers(0, shape[dim], sizes)


@st.composite
def gather(draw):
    x = _values(draw, min_dims=1)
    dim = draw(dim_of(x.ndim))
    return Call("gather", x, dim, const(draw(_gather_index(x.shape, dim, draw(rngs())))))


@st.composite
def scatter_add(draw):
    rng = draw(rngs())
    x = _values(draw, min_dims=1)
    dim = draw(dim_of(x.ndim))
    index = draw(_gather_index(x.shape, dim, rng))
    src = uniform(rng, tuple(s + draw(st.integers(0, 1)) for s in index.shape))
    return Call("scatter_add", x, dim, const(index), src)


@st.composite
def take_along_dim(draw):
    rng = draw(rngs())
    x = _values(draw, min_dims=1)
    if draw(st.booleans()):
        return Call("take_along_dim", x, const(rng.integers(0, x.size, draw(shapes(1, 1)))))
    dim = draw(dim_of(x.ndim))
    sizes = tuple(draw(st.sampled_from([1, side])) if d != dim % x.ndim
                  else draw(st.integers(1, 4)) for d, side in enumerate(x.shape))
    return Call("take_along_dim", x, const(rng.integers(0, x.shape[dim], sizes)), dim)


@st.composite
def index_add(draw):
    rng = draw(rngs())
    x = _values(draw, min_dims=1)
    dim = draw(dim_of(x.ndim))
    index = rng.integers(0, x.shape[dim], draw(st.integers(0, 4)))
    shape = list(x.shape)
    shape[dim] = index.size
    kwargs = {"alpha": draw(st.sampled_from([2.0, -0.5]))} if draw(st.booleans()) else {}
    return Call("index_add", x, dim, const(index), uniform(rng, tuple(shape)), **kwargs)


@st.composite
def masked_fill(draw):
    rng = draw(rngs())
    x = _values(draw)
    mask = const(rng.uniform(size=draw(broadcastable_to(x.shape))) < 0.5)
    value = draw(st.one_of(st.floats(-2, 2), st.just(uniform(rng, ()))))
    return Call("masked_fill", x, mask, value)


CALLS = {
    "getitem": getitem(),
    "index": index(),
    "setitem": setitem(),
    "narrow": narrow(),
    "select": select(),
    "index_select": index_select(),
    "gather": gather(),
    "take_along_dim": take_along_dim(),
    "scatter_add": scatter_add(),
    "index_add": index_add(),
    "masked_fill": masked_fill(),
}
