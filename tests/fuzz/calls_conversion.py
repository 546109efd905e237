"""Strategies of calls of the conversion and filling ops (autogradx/ops/conversion.py):
dtype casts, and ``fill_``, ``zero_``, ``copy_``, ``uniform_``, ``normal_`` and ``bernoulli_`` on
a copy of the input; ``bernoulli`` of probabilities."""

from hypothesis import strategies as st

from fuzz.calls import Call, DType, broadcastable_to, rngs, shapes, uniform


def _values(draw):
    return uniform(draw(rngs()), draw(shapes(min_side=0)))


@st.composite
def to_copy(draw):
    """A cast to float32 (linear: a large step, ``fd_step=1e-2``, keeps the finite
    differences clear of float32's rounding), or a copy to float64."""
    x = _values(draw)
    form = draw(st.sampled_from(["to", "float", "copy"]))
    if form == "copy":      # a copy even where the dtype is the input's
        return Call(".to", x, DType("float64"), copy=True)
    return Call(".to", x, DType("float32"), fd_step=1e-2) if form == "to" else \
        Call(".float", x, fd_step=1e-2)


def _filled(method):
    def fn(lib, x, *args):
        y = x.clone()
        return getattr(y, method)(*args)
    return fn


@st.composite
def fill(draw):
    x = _values(draw)
    value = draw(st.one_of(st.floats(-2, 2), st.just(uniform(draw(rngs()), ()))))
    return Call("clone().fill_", x, value, fn=_filled("fill_"))


@st.composite
def zero(draw):
    return Call("clone().zero_", _values(draw), fn=_filled("zero_"))


@st.composite
def copy(draw):
    x = _values(draw)
    src = uniform(draw(rngs()), draw(broadcastable_to(x.shape)))
    return Call("clone().copy_", x, src, fn=_filled("copy_"))


def _random_fill(method, draw_params):
    """``method`` with drawn parameters and a fixed seed inside the call: every evaluation
    draws the same values (the gradient is zero either way)."""
    @st.composite
    def draw_call(draw):
        x = _values(draw)
        seed, params = draw(st.integers(0, 2**16)), draw(draw_params)

        def fn(lib, x, *params):
            lib.manual_seed(seed)
            return _filled(method)(lib, x, *params)
        return Call(f"clone().{method}", x, *params, fn=fn, random=True)
    return draw_call()


@st.composite
def bernoulli(draw):
    """``bernoulli(p)`` of probabilities, with a fixed seed inside the call (as
    ``_random_fill``)."""
    p = uniform(draw(rngs()), draw(shapes(min_side=0)), 0.0, 1.0)
    # Seeds past rngs()': a stream of p's own seed would draw p itself, every value on the
    # boundary where a step of finite differences flips it.
    seed = draw(st.integers(2**32, 2**32 + 2**16))

    def fn(lib, p):
        lib.manual_seed(seed)
        return lib.bernoulli(p)
    return Call("bernoulli", p, fn=fn, random=True)


_BOUNDS = st.tuples(st.floats(-3, 0), st.floats(0, 3))
_MEAN_STD = st.tuples(st.floats(-3, 3), st.floats(0, 3))

CALLS = {"_to_copy": to_copy(), "fill": fill(), "zero": zero(), "copy": copy(),
         "uniform": _random_fill("uniform_", _BOUNDS),
         "normal": _random_fill("normal_", _MEAN_STD), "bernoulli": bernoulli(),
         "bernoulli_fill": _random_fill("bernoulli_", st.tuples(st.floats(0, 1)))}
