"""Sample calls of each op, for autogradx's conformance kit.

``python -m autogradx.conformance scipy_special`` checks every op with them:
gradients against finite differences over shapes and broadcasting, dtypes,
gradients of gradients. Values stay inside each function's domain and away
from its poles.
"""

from autogradx.conformance import Arg, Sample


def _shapes(low, high):
    """One op input over the usual shapes: 0-d, a vector, a matrix, size-1 dims."""
    return [Sample(Arg(shape, low, high)) for shape in ((), (5,), (2, 3), (2, 1, 3))]


conformance_cases = {
    "special.erf": _shapes(-2.0, 2.0),
    "special.erfc": _shapes(-2.0, 2.0),
    "special.erfinv": _shapes(-0.9, 0.9),
    "special.gammaln": _shapes(0.5, 4.0),
    "special.digamma": _shapes(0.5, 4.0),
    "special.polygamma": [Sample(0, Arg((2, 3), 0.5, 3.0)), Sample(1, Arg((5,), 0.5, 3.0)),
                          Sample(3, Arg((), 0.5, 3.0))],
    "special.i0": _shapes(-3.0, 3.0),
    "special.i0e": _shapes(0.2, 3.0) + [Sample(Arg((4,), -3.0, -0.2))],
    "special.i1": _shapes(-3.0, 3.0) + [Sample(Arg(values=[0.0, 1.0]))],
    "special.i1e": _shapes(0.2, 3.0) + [Sample(Arg((4,), -3.0, -0.2)),
                                        Sample(Arg(values=[0.0, -1.0]))],
    "special.xlogy": [
        Sample(Arg((2, 3)), Arg((2, 3), 0.5, 2.0)),
        Sample(Arg((3, 1)), Arg((1, 4), 0.5, 2.0)),             # broadcasting
        Sample(Arg((2, 3, 4)), Arg((4,), 0.5, 2.0)),
        Sample(Arg(()), Arg((2, 3), 0.5, 2.0)),
        Sample(2.5, Arg((2, 3), 0.5, 2.0)),                     # a number for input
        Sample(Arg((2, 3)), 1.5),                               # a number for other
    ],
    "special.expit": _shapes(-4.0, 4.0),
}
