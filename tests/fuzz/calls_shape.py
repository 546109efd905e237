"""Strategies of calls of the shape ops (autogradx/ops/shape.py): random target shapes of
the same size (with ``-1``), dims and permutations (negative ones too), expansions,
repetitions, and the joining and splitting of tensors along any dim."""

import math

import numpy as np
from hypothesis import strategies as st

from fuzz.calls import Call, const, dim_of, dims_of, rngs, shapes, uniform


def _factors(n):
    """The prime factors of ``n``, with repetition."""
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@st.composite
def same_size(draw, shape, min_dims=0, max_dims=4, infer=True):
    """A shape of as many elements as ``shape``: its prime factors shuffled into a few dims
    (size-1 dims too), sometimes with one size given as -1 (not for no elements: -1 would
    stand for any size)."""
    if math.prod(shape) == 0:
        sizes = list(draw(shapes(max(min_dims, 1), max_dims, 0, 3)))
        sizes[draw(st.integers(0, len(sizes) - 1))] = 0
        return tuple(sizes)
    factors = draw(st.permutations(_factors(math.prod(shape))))
    n_dims = draw(st.integers(max(min_dims, 1 if factors else 0), max_dims))
    sizes = [1] * n_dims
    for f in factors:
        sizes[draw(st.integers(0, n_dims - 1))] *= f
    if infer and sizes and draw(st.booleans()):
        sizes[draw(st.integers(0, n_dims - 1))] = -1
    return tuple(sizes)


def _tensor(draw, min_dims=0, max_dims=3, min_side=1, max_side=4):
    """A drawn shape and random values of it."""
    shape = draw(shapes(min_dims, max_dims, min_side, max_side))
    return uniform(draw(rngs()), shape)


@st.composite
def reshape(draw, path):
    x = _tensor(draw)
    target = draw(same_size(x.shape))
    if path == ".reshape" and target and draw(st.booleans()):
        return Call(path, x, *target)           # varargs spelling
    return Call(path, x, target)


@st.composite
def like(draw, path):
    """``reshape_as``, ``view_as``: the other tensor gives the shape (no gradient)."""
    x = _tensor(draw)
    return Call(path, x, const(np.zeros(draw(same_size(x.shape, infer=False)))))


@st.composite
def flatten(draw):
    x = _tensor(draw, max_dims=4)
    n = max(x.ndim, 1)
    start, end = sorted(draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2)))
    negative = draw(st.booleans())
    if negative:
        start, end = start - n, end - n
    return Call("flatten", x, start, end)


@st.composite
def unflatten(draw):
    x = _tensor(draw, min_dims=1)
    dim = draw(dim_of(x.ndim))
    return Call("unflatten", x, dim, draw(same_size((x.shape[dim],), 1, 3)))


@st.composite
def squeeze(draw):
    x = _tensor(draw, max_dims=4, max_side=2)
    form = draw(st.sampled_from(["all", "dim", "dims"]))
    if form == "all":
        return Call("squeeze", x)
    return Call("squeeze", x, draw(dim_of(x.ndim) if form == "dim" else dims_of(x.ndim)))


@st.composite
def unsqueeze(draw):
    x = _tensor(draw)
    return Call("unsqueeze", x, draw(st.integers(-x.ndim - 1, x.ndim)))


@st.composite
def permute(draw):
    x = _tensor(draw, max_dims=4)
    perm = [d - x.ndim if draw(st.booleans()) else d
            for d in draw(st.permutations(range(x.ndim)))]
    if perm and draw(st.booleans()):
        return Call(".permute", x, *perm)
    return Call("permute", x, tuple(perm))


@st.composite
def transpose(draw):
    x = _tensor(draw)
    return Call("transpose", x, draw(dim_of(x.ndim)), draw(dim_of(x.ndim)))


@st.composite
def movedim(draw):
    x = _tensor(draw, max_dims=4)
    k = draw(st.integers(1, max(x.ndim, 1)))
    source, destination = draw(dims_of(x.ndim, k, k)), draw(dims_of(x.ndim, k, k))
    if k == 1 and draw(st.booleans()):
        return Call("movedim", x, source[0], destination[0])
    return Call("movedim", x, source, destination)


@st.composite
def diagonal(draw):
    """Any two distinct dims and an offset that may run past the edge (an empty diagonal)."""
    x = _tensor(draw, min_dims=2, max_dims=4)
    d1, d2 = draw(dims_of(x.ndim, 2, 2))
    offset = draw(st.integers(-4, 4))
    if draw(st.booleans()):
        return Call(".diagonal", x, offset, d1, d2)
    return Call("diagonal", x, offset=offset, dim1=d1, dim2=d2)


@st.composite
def expanded_shape(draw, shape):
    """A shape that ``shape`` broadcasts to: new leading dims, size-1 dims grown."""
    lead = draw(shapes(0, 2, 1, 3))
    return lead + tuple(draw(st.integers(1, 3)) if side == 1 else side for side in shape)


@st.composite
def expand(draw, path):
    x = _tensor(draw, max_side=3)
    target = draw(expanded_shape(x.shape))
    if path == ".expand_as":
        return Call(path, x, const(np.zeros(target)))
    if path == ".expand":      # -1 keeps an existing dim's size
        new = len(target) - x.ndim
        target = tuple(-1 if i >= new and draw(st.booleans()) else side
                       for i, side in enumerate(target))
        if target and draw(st.booleans()):
            return Call(path, x, *target)
    return Call(path, x, target)


@st.composite
def repeat(draw, path):
    x = _tensor(draw, max_side=3)
    min_len = x.ndim if path == ".repeat" else 0
    reps = tuple(draw(st.lists(st.integers(1, 3), min_size=min_len, max_size=min_len + 2)))
    if path == ".repeat" and reps and draw(st.booleans()):
        return Call(path, x, *reps)
    return Call(path, x, reps)


@st.composite
def flip(draw, path):
    min_dims = {"fliplr": 2, "flipud": 1}.get(path, 0)
    x = _tensor(draw, min_dims=min_dims)
    if path != "flip":
        return Call(path, x)
    return Call(path, x, draw(dims_of(x.ndim)))


@st.composite
def contiguous(draw):
    """``contiguous()`` of a transposed tensor (of a contiguous one it is the tensor)."""
    x = _tensor(draw, min_dims=2)
    d0, d1 = draw(dims_of(x.ndim, 2, 2))
    return Call(f"transpose({d0}, {d1}).contiguous", x,
                fn=lambda lib, x: x.transpose(d0, d1).contiguous())


def _joined_dim(path, rank):
    """The dim along which the tensors that ``path`` joins may differ, or None: ``hstack``
    joins 1-d tensors along dim 0 and others along dim 1; ``vstack`` (``dstack``) joins
    along dim 0 (2) after making every tensor at least 2-d (3-d): a dim of size 1 that it
    adds cannot differ."""
    if path == "hstack":
        return min(rank - 1, 1) if rank else None
    join = {"vstack": 0, "dstack": 2}[path]
    return join if rank >= max(join + 1, 2) else None


@st.composite
def joined(draw, path):
    """``cat``, ``stack`` and the ``*stack`` ops: tensors of one shape but along the joined
    dim (size 0 there too, for ``cat``)."""
    rng = draw(rngs())
    n = draw(st.integers(1, 3))
    base = draw(shapes(min_dims=1 if path == "cat" else 0))
    if path == "stack":
        return Call(path, [uniform(rng, base) for _ in range(n)],
                    draw(st.integers(-len(base) - 1, len(base))))
    dim = draw(dim_of(len(base))) if path == "cat" else _joined_dim(path, len(base))
    parts = []
    for _ in range(n):
        shape = list(base)
        if dim is not None:
            shape[dim] = draw(st.integers(0 if path == "cat" else 1, 3))
        parts.append(uniform(rng, tuple(shape)))
    if path != "cat":
        return Call(path, parts)
    return Call(path, parts, dim) if draw(st.booleans()) else Call(path, parts, dim=dim)


@st.composite
def split(draw):
    x = _tensor(draw, min_dims=1, max_side=5)
    dim = draw(dim_of(x.ndim))
    size = x.shape[dim]
    if draw(st.booleans()):
        return Call("split", x, draw(st.integers(1, size + 1)), dim)
    cuts = sorted(draw(st.lists(st.integers(0, size), max_size=3)))
    sections = [b - a for a, b in zip([0] + cuts, cuts + [size])]
    return Call("split", x, sections, dim=dim)


@st.composite
def chunk(draw):
    x = _tensor(draw, min_dims=1, max_side=5)
    return Call("chunk", x, draw(st.integers(1, 6)), draw(dim_of(x.ndim)))


@st.composite
def unbind(draw):
    x = _tensor(draw, min_dims=1)
    return Call("unbind", x, draw(dim_of(x.ndim)))


@st.composite
def simple(draw, path, min_dims=0, max_dims=3):
    return Call(path, _tensor(draw, min_dims, max_dims))


@st.composite
def as_strided(draw):
    """A view of a 1-d input's memory of a drawn size and stride (0 too: elements read
    twice) from a drawn offset, every element inside the memory."""
    size = draw(st.lists(st.integers(0, 3), min_size=0, max_size=3))
    stride = [draw(st.integers(0, 3)) for _ in size]
    needed = 0 if 0 in size else 1 + sum((n - 1) * s for n, s in zip(size, stride))
    n = max(needed, 1) + draw(st.integers(0, 3))
    x = uniform(draw(rngs()), (n,))
    offset = draw(st.integers(0, n - needed)) if needed else 0
    return Call("as_strided", x, tuple(size), tuple(stride), offset)


CALLS = {
    "reshape": st.one_of(reshape("reshape"), reshape(".reshape")),
    "as_strided": as_strided(),
    "view": reshape(".view"),
    "reshape_as": like(".reshape_as"),
    "view_as": like(".view_as"),
    "flatten": flatten(),
    "ravel": simple("ravel"),
    "unflatten": unflatten(),
    "squeeze": squeeze(),
    "unsqueeze": unsqueeze(),
    "permute": permute(),
    "transpose": transpose(),
    "t": simple("t", max_dims=2),
    "movedim": movedim(),
    "diagonal": diagonal(),
    "expand": expand(".expand"),
    "broadcast_to": expand("broadcast_to"),
    "expand_as": expand(".expand_as"),
    "repeat": repeat(".repeat"),
    "tile": repeat("tile"),
    "flip": flip("flip"),
    "fliplr": flip("fliplr"),
    "flipud": flip("flipud"),
    "contiguous": contiguous(),
    **{name: joined(name) for name in ("cat", "stack", "hstack", "vstack", "dstack")},
    "split": split(),
    "chunk": chunk(),
    "unbind": unbind(),
}
