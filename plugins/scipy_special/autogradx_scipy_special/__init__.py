"""Special functions for autogradx, from SciPy: ``autogradx.special.erf`` and friends.

A third-party op plugin, written only against autogradx's public plugin
contract (:mod:`autogradx.plugin`). Each op is a forward that calls
``scipy.special`` (``cupyx.scipy.special`` for CuPy arrays) and a vjp written
with array-module functions and this plugin's own ops, so that gradients of
gradients work too (``digamma``'s derivative is ``polygamma(1, x)``, whose
derivative is ``polygamma(2, x)``, ...).

The functions appear in ``autogradx.special`` (as ``torch.special``), and as
Tensor methods where PyTorch has them (``x.erf()``, ``x.lgamma()``,
``x.polygamma(n)``, ``x.xlogy(y)``, with in-place variants).
"""

import math

import autogradx
from autogradx.plugin import Op, Plugin, on_tensors

__version__ = "0.1.0"
__all__ = ["plugin"]

_NS = "special"


_FOUND = {}     # xp -> its kernels module: an import statement per call costs a microsecond


def _kernels(xp):
    """The special functions for arrays of ``xp``: SciPy's for NumPy, CuPy's on a GPU.

    Imported on first use, so that loading the plugin stays cheap.
    """
    kernels = _FOUND.get(xp)
    if kernels is None:
        kernels = _FOUND[xp] = _import_kernels(xp)
    return kernels


def _import_kernels(xp):
    name = getattr(xp, "__name__", "")
    if name == "numpy":
        import scipy.special
        return scipy.special
    if name == "cupy":
        import cupyx.scipy.special
        return cupyx.scipy.special
    raise TypeError(f"autogradx-scipy-special has no special functions for arrays of {name!r} "
                    "(it supports NumPy and CuPy)")


def _special(xp, name, *args):
    """``name`` from the kernels on arrays; on tensors (gradients of gradients) the op of
    that name, so that the call is recorded and differentiable in turn."""
    if on_tensors(xp):
        return _OPS[name](*args)
    if name == "polygamma":
        return _polygamma_kernel(_kernels(xp), *args)
    return getattr(_kernels(xp), name)(*args)


def _polygamma_kernel(kernels, n, x):
    """``kernels.polygamma(n, x)`` for an int ``n``, by its own formula but without its
    Python wrapper, which converts ``n``, computes both ``psi`` and ``zeta`` on every
    element and picks one with ``where`` (twice as long on small arrays): ``psi`` for
    ``n = 0``, else ``(-1)^(n+1) n! zeta(n + 1, x)`` in the same order of operations, in
    float64 as there (its ``n`` is an int64 array, which promotes float32 ``x``)."""
    if n == 0:
        return kernels.psi(x)
    zeta = kernels.zeta(n + 1, x.astype("float64", copy=False))
    return (-1.0) ** (n + 1) * kernels.gamma(n + 1.0) * zeta


# PyTorch's names for complex dtypes, in its error messages.
_COMPLEX_NAMES = {"complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def _refuse_complex(kernel, *values):
    """PyTorch has no complex kernel for these functions: its error, naming the kernel."""
    for v in values:
        dtype = getattr(v, "dtype", None)
        if dtype is not None and dtype.kind == "c":
            raise NotImplementedError(
                f"\"{kernel}\" not implemented for '{_COMPLEX_NAMES.get(dtype.name, dtype.name)}'")


def _unary(name, doc, kernel):
    """A forward applying the special function ``name``, keeping the input's dtype; complex
    input is refused, naming PyTorch's ``kernel``."""
    def forward(xp, x):
        if x.dtype.kind == "c":     # x is an array: the check inline, not a frame per call
            _refuse_complex(kernel, x)
        return getattr(_kernels(xp), name)(x).astype(x.dtype, copy=False)
    forward.__name__ = f"_{name}"
    forward.__doc__ = doc
    return forward


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)

# A dotted name puts the function in autogradx.special and names its node as PyTorch names
# torch.special's own functions (special.i0e: SpecialI0EBackward0). Where torch.special
# aliases a function of torch (erf, digamma, i0, expit = sigmoid, gammaln = lgamma), PyTorch's
# node is that function's, given by grad_fn=.

erf = Op(f"{_NS}.erf", _unary("erf", "The error function, ``2/sqrt(pi) * int_0^x exp(-t^2) dt``.",
                                "erf_vml_cpu"),
         vjp={"input": lambda xp, g, input: g * _TWO_OVER_SQRT_PI * xp.exp(-(input * input))},
         promote="float", method=True, inplace=True, grad_fn="ErfBackward0")

erfc = Op(f"{_NS}.erfc", _unary("erfc", "The complementary error function, ``1 - erf(x)``.",
                                  "erfc_vml_cpu"),
          vjp={"input": lambda xp, g, input: g * -_TWO_OVER_SQRT_PI * xp.exp(-(input * input))},
          promote="float", method=True, inplace=True, grad_fn="ErfcBackward0")

# erfinv' = sqrt(pi)/2 exp(erfinv(x)^2): from the result, which is saved.
erfinv = Op(f"{_NS}.erfinv",
            _unary("erfinv", "The inverse of :func:`erf`, defined on ``(-1, 1)``.",
                   "erfinv_vml_cpu"),
            vjp={"input": lambda xp, g, result:
                 g * (math.sqrt(math.pi) / 2) * xp.exp(result * result)},
            promote="float", method=True, inplace=True, grad_fn="ErfinvBackward0")

gammaln = Op(f"{_NS}.gammaln",
             _unary("gammaln", "``log |Gamma(x)|``; ``Tensor.lgamma`` in PyTorch's spelling.",
                    "lgamma_vml_cpu"),
             vjp={"input": lambda xp, g, input: g * _special(xp, "psi", input)},
             promote="float", method="lgamma",
             inplace="lgamma_", grad_fn="LgammaBackward0")

digamma = Op(f"{_NS}.digamma", _unary("psi", "The logarithmic derivative of Gamma, ``psi(x)``.",
                                        "digamma"),
             vjp={"input": lambda xp, g, input: g * _special(xp, "polygamma", 1, input)},
             promote="float", method=True, inplace=True, grad_fn="DigammaBackward0")


def _polygamma_args(*args, **kwargs):
    # torch.special.polygamma(n, input) and Tensor.polygamma(n): the op takes (input, n).
    names = ("input", "n") if args and isinstance(args[0], autogradx.Tensor) else ("n", "input")
    if len(args) > 2:
        raise TypeError(f"polygamma() takes 2 arguments but {len(args)} were given")
    values = dict(zip(names, args))
    for name in names[len(args):]:
        if name not in kwargs:
            raise TypeError(f"polygamma() missing required argument '{name}'")
        values[name] = kwargs.pop(name)
    return (values["input"], values["n"]), kwargs


def _polygamma(xp, x, n):
    """The ``n``-th derivative of :func:`digamma`; ``polygamma(0, x)`` is ``digamma(x)``."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    _refuse_complex({0: "digamma", 1: "trigamma"}.get(n, "polygamma"), x)
    return _polygamma_kernel(_kernels(xp), n, x).astype(x.dtype, copy=False)


polygamma = Op(f"{_NS}.polygamma", _polygamma, parse=_polygamma_args,
               vjp={"input": lambda xp, g, input, n: g * _special(xp, "polygamma", n + 1, input)},
               promote="float", method=True, inplace=True, grad_fn="PolygammaBackward0")

i0 = Op(f"{_NS}.i0", _unary("i0", "The modified Bessel function of the first kind, order 0.",
                              "i0_vml_cpu"),
        vjp={"input": lambda xp, g, input: g * _special(xp, "i1", input)},
        promote="float", method=True, inplace=True, grad_fn="I0Backward0")

i0e = Op(f"{_NS}.i0e", _unary("i0e", "``exp(-|x|) * i0(x)``, finite for large ``|x|``.",
                                "i0e_cpu"),
         vjp={"input": lambda xp, g, input, result:
              g * (_special(xp, "i1e", input) - xp.sign(input) * result)},
         promote="float")


def _bessel1_slope(xp, x, r, i0_name, correction):
    """i1' = i0 - i1/x (and i1e' = i0e - i1e (sign x + 1/x)); at x = 0 both are 1/2,
    which the formula reaches only as a limit: x is replaced there to avoid 0/0."""
    at_zero = x == 0
    safe = xp.where(at_zero, 1.0, x)
    slope = _special(xp, i0_name, safe) - r * correction(safe)
    return xp.where(at_zero, 0.5, slope)


i1 = Op(f"{_NS}.i1", _unary("i1", "The modified Bessel function of the first kind, order 1.",
                              "i1_cpu"),
        vjp={"input": lambda xp, g, input, result:
             g * _bessel1_slope(xp, input, result, "i0", lambda s: 1 / s)},
        promote="float")

i1e = Op(f"{_NS}.i1e", _unary("i1e", "``exp(-|x|) * i1(x)``, finite for large ``|x|``.",
                                "i1e_cpu"),
         vjp={"input": lambda xp, g, input, result:
              g * _bessel1_slope(xp, input, result, "i0e", lambda s: xp.sign(s) + 1 / s)},
         promote="float")


def _xlogy(xp, x, y):
    """``x * log(y)``, and 0 where ``x`` is 0 (unless ``y`` is NaN)."""
    _refuse_complex("xlogy_cpu", x, y)
    out = _kernels(xp).xlogy(x, y)
    return out.astype((x if hasattr(x, "dtype") else y).dtype, copy=False)


def _xlogy_name(x, y):
    # PyTorch's node for a number as input is XlogyBackward1, for a number as other 2.
    return ("XlogyBackward1" if not hasattr(x, "shape") else
            "XlogyBackward2" if not hasattr(y, "shape") else "XlogyBackward0")


xlogy = Op(f"{_NS}.xlogy", _xlogy, inputs=("input", "other"),
           vjp={"input": lambda xp, g, input, other: g * _special(xp, "xlogy", input != 0, other),
                "other": lambda xp, g, input, other: g * input / other},
           promote="float", method=True, inplace=True, grad_fn=_xlogy_name)

def _expit(xp, x):
    """The logistic sigmoid ``1 / (1 + exp(-x))`` (complex too, as PyTorch)."""
    if x.dtype.kind == "c":
        return 1 / (1 + xp.exp(-x))
    return _kernels(xp).expit(x).astype(x.dtype, copy=False)


expit = Op(f"{_NS}.expit", _expit,
           vjp={"input": lambda xp, g, result: g * result * (1 - result)},
           promote="float", grad_fn="SigmoidBackward0")

# Special functions the vjps call by their SciPy names, as ops (for tensors).
_OPS = {"psi": digamma, "polygamma": polygamma, "i0": i0, "i1": i1, "i0e": i0e, "i1e": i1e,
        "xlogy": xlogy}

plugin = Plugin("scipy_special",
                [erf, erfc, erfinv, gammaln, digamma, polygamma, i0, i0e, i1, i1e, xlogy, expit],
                version=__version__,
                description="special functions from SciPy (autogradx.special)")


def __getattr__(name):
    # The conformance samples are only imported when the conformance kit asks for them.
    if name == "conformance_cases":
        from autogradx_scipy_special.cases import conformance_cases
        return conformance_cases
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
