"""Strategies of calls of the elementwise ops (autogradx/ops/elementwise.py, the elementwise
activations and the special functions): any shapes that broadcast, Python numbers in place
of tensors where the op takes them, and values inside each op's domain, away from its kinks.
"""

import numpy as np
from hypothesis import strategies as st

from fuzz.calls import (Call, broadcast_shapes, broadcastable_to, const, off_grid, on_grid,
                        options, rngs, shapes, uniform)


# ---------------------------------------------------------------- values by domain

def between(low, high):
    """Values in ``[low, high)``: a smooth op's domain."""
    return lambda rng, shape: uniform(rng, shape, low, high)


def kinked(step=0.5, low=-2.0, high=2.0):
    """Values away from the multiples of ``step``: where the op has a kink or a jump."""
    return lambda rng, shape: off_grid(rng, shape, low, high, step, step / 10)


def magnitude(low, high):
    """Values of either sign with magnitudes in ``[low, high)`` (away from a pole at 0)."""
    return lambda rng, shape: np.asarray(uniform(rng, shape, low, high)
                                         * rng.choice([-1.0, 1.0], shape))


def grid(rng, shape, nonzero=False):
    """Bounds and divisors on the 0.5 grid, which :func:`kinked` values keep away from."""
    return on_grid(rng, shape, nonzero=nonzero)


ANY = between(-2.0, 2.0)
POSITIVE = between(0.2, 3.0)
KINKED = kinked()
NONZERO = magnitude(0.5, 2.0)
SCALARS = st.sampled_from([-1.5, -0.5, 0.5, 1.0, 2.0])
GRID_SCALARS = st.sampled_from([-1.5, -1.0, -0.5, 0.5, 1.0, 1.5])
ALPHAS = st.sampled_from([1, 2, -0.5, 0.25])


# ---------------------------------------------------------------- unary ops

def unary(path, values=ANY, params=None):
    """``path(x, **params)`` for ``x`` of any shape (empty ones included)."""
    @st.composite
    def draw_call(draw):
        x = values(draw(rngs()), draw(shapes(min_side=0)))
        return Call(path, x, **(draw(params) if params is not None else {}))
    return draw_call()


def dropout():
    """Dropout with a fixed seed inside the call: every evaluation draws the same mask."""
    @st.composite
    def draw_call(draw):
        x = ANY(draw(rngs()), draw(shapes()))
        seed, p = draw(st.integers(0, 2**16)), draw(st.sampled_from([0.0, 0.2, 0.5, 1.0]))
        training = draw(st.booleans())

        def fn(lib, x, p, training):
            lib.manual_seed(seed)
            return lib.nn.functional.dropout(x, p, training)
        return Call("nn.functional.dropout", x, p, training, fn=fn, random=True)
    return draw_call()


def polygamma():
    """``special.polygamma(n, x)``: the order first, then positive values."""
    @st.composite
    def draw_call(draw):
        x = POSITIVE(draw(rngs()), draw(shapes()))
        return Call("special.polygamma", draw(st.integers(0, 3)), x)
    return draw_call()


def rounded():
    """``round(x, decimals=d)``: values away from the halfway points of the ``10**-d``
    grid (every multiple of half the step)."""
    @st.composite
    def draw_call(draw):
        decimals = draw(st.sampled_from([None, 0, 1, 2, -1]))
        step = 0.5 * 10.0 ** -(decimals or 0)
        x = kinked(step)(draw(rngs()), draw(shapes()))
        return Call("round", x) if decimals is None else Call("round", x, decimals=decimals)
    return draw_call()


# ---------------------------------------------------------------- ops of several inputs

def nary(path, *values, scalars=None, params=None, operator=None):
    """``path(a, b, ...)`` on tensors whose shapes broadcast together. ``scalars``: numbers
    the last input may be instead of a tensor; ``operator``: the Python operator spelling
    with a number on the left (``2 ** x``), drawn sometimes."""
    @st.composite
    def draw_call(draw):
        rng = draw(rngs())
        arrays = [v(rng, s) for v, s in zip(values, draw(broadcast_shapes(len(values))))]
        kwargs = draw(params) if params is not None else {}
        form = draw(st.sampled_from(["tensors"] + ["scalar"] * (scalars is not None)
                                    + ["operator"] * (operator is not None)))
        if form == "scalar":
            arrays[-1] = draw(scalars)
        elif form == "operator":
            return Call(f"operator.{operator}", draw(scalars), arrays[-1])
        return Call(path, *arrays, **kwargs)
    return draw_call()


def divided(path, rounding=True):
    """Division and remainders: numerators off the 0.5 grid, nonzero divisors on it, so that
    no quotient is near a whole number (where the rounded ones jump)."""
    params = options(rounding_mode=st.sampled_from([None, "floor", "trunc"])) if rounding \
        else None
    return nary(path, KINKED, lambda rng, s: grid(rng, s, nonzero=True), scalars=GRID_SCALARS,
                params=params)


def powers():
    """``x ** y``: positive bases with any exponent; any base with whole exponents; a
    positive number to a tensor power."""
    @st.composite
    def draw_call(draw):
        rng = draw(rngs())
        form = draw(st.sampled_from(["tensors", "whole", "fraction", "base"]))
        if form == "tensors":
            a, b = draw(broadcast_shapes(2))
            return Call("pow", POSITIVE(rng, a), ANY(rng, b))
        x = draw(shapes())
        if form == "whole":
            return Call("pow", ANY(rng, x), draw(st.sampled_from([0, 1, 2, 3, -1, -2])))
        if form == "fraction":
            return Call("pow", POSITIVE(rng, x), draw(st.sampled_from([0.5, -0.5, 2.5])))
        return Call(draw(st.sampled_from(["pow", "operator.pow"])),
                    draw(st.sampled_from([0.5, 2.0, 2.5])), ANY(rng, x))
    return draw_call()


def bounded(path, *bound_names):
    """``clamp``-like: values off the 0.25 grid, bounds on it (numbers or tensors that
    broadcast with the values), each bound given or not (one at least). A lower bound is a
    multiple of 0.5, an upper one is not, so that the bounds never meet (where min > max,
    max wins)."""
    @st.composite
    def draw_call(draw):
        rng = draw(rngs())
        present = draw(st.lists(st.sampled_from(bound_names), min_size=1, unique=True))
        shape, *bound_shapes = draw(broadcast_shapes(1 + len(present)))
        tensors = draw(st.booleans())
        bounds = {name: (grid(rng, s) if tensors else draw(GRID_SCALARS))
                  + (0.25 if name == "max" else 0.0) for name, s in zip(present, bound_shapes)}
        x = kinked(0.25)(rng, shape)
        if len(bound_names) == 1:
            return Call(path, x, bounds[bound_names[0]])
        return Call(path, x, **bounds)
    return draw_call()


def where(method):
    """``where(condition, x, y)`` (or ``x.where(condition, y)``), numbers allowed."""
    @st.composite
    def draw_call(draw):
        rng = draw(rngs())
        c, a, b = draw(broadcast_shapes(3))
        cond = const(rng.uniform(size=c) < 0.5)
        x, y = ANY(rng, a), ANY(rng, b)
        if method:
            return Call(".where", x, cond, draw(st.one_of(st.just(y), SCALARS)))
        x, y = draw(st.sampled_from([(x, y), (x, 0.5), (-1.5, y)]))
        return Call("where", cond, x, y)
    return draw_call()


def lerp():
    """``lerp(x, end, weight)``: the weight a number (both of PyTorch's formulas) or a
    tensor of the same dtype."""
    @st.composite
    def draw_call(draw):
        rng = draw(rngs())
        a, b, w = draw(broadcast_shapes(3))
        weight = draw(st.one_of(st.floats(-1.0, 2.0), st.just(ANY(rng, w))))
        return Call("lerp", ANY(rng, a), ANY(rng, b), weight)
    return draw_call()


def compared(path):
    """A comparison written in place into a float tensor (``x.clone().lt_(y)``): its result
    keeps a history with a zero gradient, as in PyTorch. Out of place it has no gradient."""
    @st.composite
    def draw_call(draw):
        rng = draw(rngs())
        shape = draw(shapes())
        x = KINKED(rng, shape)
        other = draw(st.one_of(st.just(grid(rng, draw(broadcastable_to(shape)))), GRID_SCALARS))

        def fn(lib, x, other):
            return getattr(x.clone(), path + "_")(other)
        return Call(f"clone().{path}_", x, other, fn=fn)
    return draw_call()


# ---------------------------------------------------------------- the table

def _ops():
    unaries = {
        "neg": ANY, "clone": ANY, "exp": ANY, "expm1": ANY, "log": POSITIVE,
        "log1p": between(-0.5, 2.0), "log2": POSITIVE, "log10": POSITIVE, "sqrt": POSITIVE,
        "rsqrt": POSITIVE, "reciprocal": NONZERO, "sin": ANY, "cos": ANY,
        "tan": between(-1.2, 1.2), "tanh": ANY, "sigmoid": ANY, "square": ANY,
        "asin": between(-0.9, 0.9), "acos": between(-0.9, 0.9), "atan": ANY,
        # kinks or jumps: at 0 (abs, relu, sign) or at whole numbers
        "abs": KINKED, "relu": KINKED, "sign": KINKED, "sgn": KINKED, "floor": KINKED,
        "ceil": KINKED, "trunc": KINKED, "frac": KINKED,
        # the parts of a number (real ones here; tests/ops/test_complex_torch.py: complex)
        "conj": ANY, "real": ANY, "angle": KINKED,
    }
    table = {name: unary(name, values) for name, values in unaries.items()}
    functional = "nn.functional."
    table.update({
        "round": rounded(),
        "leaky_relu": unary(functional + "leaky_relu", KINKED,
                            options(negative_slope=st.sampled_from([0.01, 0.2, -0.5, 2.0]))),
        "elu": unary(functional + "elu", KINKED, options(alpha=st.sampled_from([1.0, 0.5, 2.0]))),
        # the step at the threshold: 0, where KINKED values keep off
        "threshold": unary(functional + "threshold", KINKED,
                           st.fixed_dictionaries({"threshold": st.just(0.0),
                                                  "value": st.sampled_from([0.0, -1.5, 2.0])})),
        "gelu": unary(functional + "gelu", ANY,
                      options(approximate=st.sampled_from(["none", "tanh"]))),
        "silu": unary(functional + "silu", ANY),
        # softplus turns linear where beta * x > threshold: values keep off that switch
        "softplus": unary(functional + "softplus", kinked(0.5, -4.0, 4.0),
                          options(beta=st.sampled_from([1.0, 2.0, 0.5]),
                                  threshold=st.sampled_from([20.0, 1.0]))),
        "dropout": dropout(),
        "add": nary("add", ANY, ANY, scalars=SCALARS, params=options(alpha=ALPHAS)),
        "sub": nary("sub", ANY, ANY, scalars=SCALARS, params=options(alpha=ALPHAS)),
        "rsub": nary("rsub", ANY, ANY, scalars=SCALARS, params=options(alpha=ALPHAS)),
        "mul": nary("mul", ANY, ANY, scalars=SCALARS),
        "div": st.one_of(divided("div"),
                         nary("div", ANY, NONZERO, scalars=GRID_SCALARS, operator="truediv")),
        "floor_divide": divided("floor_divide", rounding=False),
        "remainder": divided("remainder", rounding=False),
        "fmod": divided("fmod", rounding=False),
        "pow": powers(),
        "maximum": nary("maximum", KINKED, grid),
        "minimum": nary("minimum", grid, KINKED),
        "nextafter": nary("nextafter", ANY, ANY),
        # PyTorch differentiates the incomplete gamma functions in ``other`` only
        "igamma": nary("igamma", lambda rng, s: const(POSITIVE(rng, s)), POSITIVE),
        "igammac": nary("igammac", lambda rng, s: const(POSITIVE(rng, s)), POSITIVE),
        "complex": nary("complex", ANY, ANY),
        "view_as_complex": nary("view_as_complex", lambda rng, s: ANY(rng, s + (2,))),
        "clamp": bounded("clamp", "min", "max"),
        "clamp_min": bounded("clamp_min", "min"),
        "clamp_max": bounded("clamp_max", "max"),
        "where": where(method=False),
        "tensor_where": where(method=True),
        "lerp": lerp(),
    })
    table.update({name: compared(name) for name in ("eq", "ne", "lt", "le", "gt", "ge")})
    return table


def _special_ops():
    """The ops of the scipy_special plugin (used when it is installed)."""
    table = {f"special.{name}": unary(f"special.{name}", values) for name, values in {
        "erf": ANY, "erfc": ANY, "erfinv": between(-0.9, 0.9), "gammaln": between(0.2, 4.0),
        "digamma": between(0.2, 4.0), "i0": ANY, "i1": ANY, "i0e": KINKED, "i1e": KINKED,
        "expit": ANY,
    }.items()}
    table["special.polygamma"] = polygamma()
    table["special.xlogy"] = nary("special.xlogy", ANY, POSITIVE, scalars=st.just(1.5))
    return table


CALLS = {**_ops(), **_special_ops()}
