"""Elementwise ops. Inputs broadcast; the engine sums each gradient back to
its input's shape, so the vjps below return broadcast-shaped gradients.

Sections: arithmetic, unary float functions, unary ops that keep the dtype,
bounds and selection (clamp, maximum, where, lerp), and comparisons, logical,
bitwise and closeness tests (bool results, no gradient).
"""

import math
import operator

import numpy as np
import warnings

from autogradx._core import special as _special
from autogradx._core.names import c_name, scalar_name
from autogradx._core.promote import get_default_float
from autogradx._core.tensor import TensorBase
from autogradx.ops.complex import complex_sign, is_complex, refuse_complex
from autogradx.plugin import Op, OpList, lazy_conformance_cases

_ops = OpList()      # every op defined below, in order; OPS at the end

_BINARY = ("input", "other")


# The name PyTorch gives the node of an op whose derivative it does not implement.
_NOT_IMPLEMENTED = "torch::autograd::NotImplemented"

# PyTorch's refusal of complex numbers by relu and clamp (no order on them).
_NO_COMPLEX_CLAMP = "clamp is not supported for complex types"


# -- argument checks shared by several ops -------------------------------------

def _is_array(v):
    return hasattr(v, "shape")


def _require_tensor(op, name, position, v):
    """PyTorch's TypeError for a number where its signature takes only a Tensor."""
    if not _is_array(v):
        raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, "
                        f"not {type(v).__name__}")


def _kernel_missing(kernel, dtype):
    return NotImplementedError(
        f'"{kernel}" not implemented for \'{scalar_name(dtype)}\'')


def _refuse_kind(kernel, dtype, kinds):
    """No kernel for these dtype kinds ("b" bool, "iu" integers), as PyTorch says."""
    if dtype.kind in kinds:
        raise _kernel_missing(kernel, dtype)


def _dtype_of(a, b):
    """The (promoted) dtype of a binary op's arrays: Python numbers carry none."""
    return a.dtype if _is_array(a) else b.dtype


def _check_int_divisor(b):
    if (b == 0).any() if _is_array(b) else b == 0:
        raise RuntimeError("ZeroDivisionError")


def _no_derivative(aten_name):
    """The vjp of an op PyTorch has no derivative for: backward raises, as it does."""
    def vjp(xp, g, *saved, **params):
        raise RuntimeError(f"derivative for aten::{aten_name} is not implemented")
    return vjp


def _zeros(xp, g, *saved, **params):
    """Gradient of a piecewise constant function (floor, sign, rounded division)."""
    return xp.zeros_like(g)


# -- arithmetic ----------------------------------------------------------------

_BOOL_SUB = ("Subtraction, the `-` operator, with two bool tensors is not supported. "
             "Use the `^` or `logical_xor()` operator instead.")


def _add(xp, a, b, alpha=1, *, out=None):
    """``input + alpha * other``."""
    if alpha != 1:
        b = alpha * b
    return a + b if out is None else xp.add(a, b, out=out)


add = _ops.add(Op("add", _add, promote="elementwise", inputs=_BINARY, ufunc="add", method=True,
                  inplace=True, out=True,
                  vjp={"input": lambda xp, g, alpha=1: g,
                       "other": lambda xp, g, alpha=1: g if alpha == 1 else g * alpha}))


def _sub(xp, a, b, alpha=1, *, out=None):
    """``input - alpha * other``."""
    try:
        if alpha != 1:
            b = alpha * b
        return a - b if out is None else xp.subtract(a, b, out=out)
    except TypeError:       # NumPy's message for bool arrays; PyTorch's is a RuntimeError
        raise RuntimeError(_BOOL_SUB) from None


sub = _ops.add(Op("sub", _sub, promote="elementwise", inputs=_BINARY, ufunc="subtract",
                  method=True, inplace=True, out=True, aliases="subtract",
                  vjp={"input": lambda xp, g, alpha=1: g,
                       "other": lambda xp, g, alpha=1: -g if alpha == 1 else g * -alpha}))


def _rsub(xp, a, b, alpha=1):
    """``other - alpha * input`` (what ``2 - x`` computes)."""
    try:
        return b - a if alpha == 1 else b - alpha * a
    except TypeError:
        raise RuntimeError(_BOOL_SUB) from None


rsub = _ops.add(Op("rsub", _rsub, promote="elementwise", inputs=_BINARY,
                   grad_fn=lambda a, b, alpha=1:
                       "RsubBackward0" if _is_array(b) else "RsubBackward1",
                   vjp={"input": lambda xp, g, alpha=1: -g if alpha == 1 else g * -alpha,
                        "other": lambda xp, g, alpha=1: g}, jvp="elementwise"))


def _mul(xp, a, b, *, out=None):
    """``input * other``."""
    return a * b if out is None else xp.multiply(a, b, out=out)


mul = _ops.add(Op("mul", _mul, promote="elementwise", inputs=_BINARY, ufunc="multiply", method=True,
                  inplace=True, out=True, aliases="multiply",
                  vjp={"input": lambda xp, g, other: g * other,
                       "other": lambda xp, g, input: g * input}))


def _trunc_divide_int(xp, a, b):
    q = a // b
    # Floor division rounds an inexact negative quotient down; truncation rounds it up.
    return q + ((q < 0) & (a % b != 0))


_FLOAT64 = np.dtype(np.float64)


def _div(xp, a, b, *, rounding_mode=None):
    """``input / other``; ``rounding_mode`` ``"trunc"`` or ``"floor"`` rounds the quotient.

    True division gives a floating point result (the default dtype for
    integer inputs); rounded division keeps integer dtypes.
    """
    if rounding_mode is None:
        q = a / b
        if q.dtype.kind not in "fc" or q.dtype == _FLOAT64 and _dtype_of(a, b).kind in "biu":
            # Integers divide to the default float dtype (NumPy would give float64).
            q = q.astype(get_default_float())
        return q
    dtype = _dtype_of(a, b)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    _refuse_kind(f"div_{rounding_mode}_cpu", dtype, "bc")
    if dtype.kind in "iu":
        _check_int_divisor(b)
        return a // b if rounding_mode == "floor" else _trunc_divide_int(xp, a, b)
    return xp.floor_divide(a, b) if rounding_mode == "floor" else xp.trunc(a / b)


def _div_name(a, b, **params):
    if params:      # the rounding_mode overload, even for rounding_mode=None
        return "DivBackward2"
    # ``2 / x`` is a scalar times a reciprocal in PyTorch, hence its name.
    return "DivBackward0" if _is_array(a) else "MulBackward0"


def _div_grad_input(xp, g, other, rounding_mode=None):
    return g / other if rounding_mode is None else xp.zeros_like(g)


def _div_grad_other(xp, g, input, other, rounding_mode=None):
    return -g * input / (other * other) if rounding_mode is None else xp.zeros_like(g)


div = _ops.add(Op("div", _div, promote="elementwise", inputs=_BINARY, method=True, inplace=True,
                  aliases=("divide", "true_divide"), grad_fn=_div_name, ufunc="divide",
                  vjp={"input": _div_grad_input, "other": _div_grad_other}))


def _floor_divide(xp, a, b):
    """``input // other``: the quotient rounded down (Python's ``//``)."""
    dtype = _dtype_of(a, b)
    _refuse_kind("div_floor_cpu", dtype, "bc")
    if dtype.kind in "iu":
        _check_int_divisor(b)
    return xp.floor_divide(a, b)


floor_divide = _ops.add(Op("floor_divide", _floor_divide, promote="elementwise", inputs=_BINARY,
                           method=True, inplace=True, grad_fn=_NOT_IMPLEMENTED,
                           vjp=(_no_derivative("floor_divide"), _no_derivative("floor_divide"))))


def _remainder(xp, a, b):
    """``input % other``, with the sign of ``other`` (Python's ``%``)."""
    dtype = _dtype_of(a, b)
    _refuse_kind("remainder_cpu", dtype, "bc")
    if dtype.kind in "iu":
        _check_int_divisor(b)
        return xp.remainder(a, b)
    # PyTorch's formula (NumPy's differs in the sign of zero results): C's fmod,
    # moved into the divisor's sign.
    mod = xp.fmod(a, b)
    return xp.where((mod != 0) & ((mod < 0) != (b < 0)), mod + b, mod)


def _remainder_name(a, b):
    if not _is_array(a):
        return _NOT_IMPLEMENTED      # ``2 % x``: PyTorch has no derivative for it
    return "RemainderBackward1" if _is_array(b) else "RemainderBackward0"


def _remainder_grad_other(xp, g, input, other):
    if not _is_array(input):
        raise RuntimeError("derivative for aten::remainder is not implemented")
    return -g * xp.floor(input / other)  # floor (derivative 0) keeps this twice differentiable


remainder = _ops.add(Op("remainder", _remainder, promote="elementwise", inputs=_BINARY,
                        method=True, inplace=True, grad_fn=_remainder_name,
                        vjp={"input": lambda xp, g: g, "other": _remainder_grad_other}, jvp="elementwise"))


def _fmod(xp, a, b):
    """The remainder of ``input / other`` with the sign of ``input`` (C's ``fmod``)."""
    _require_tensor("fmod", "input", 1, a)
    _refuse_kind("fmod_cpu", a.dtype, "bc")
    if a.dtype.kind in "iu":
        _check_int_divisor(b)
    return xp.fmod(a, b)


fmod = _ops.add(Op("fmod", _fmod, promote="elementwise", inputs=_BINARY, method=True,
                   inplace=True,
                   grad_fn=lambda a, b: "FmodBackward1" if _is_array(b) else "FmodBackward0",
                   vjp={"input": lambda xp, g: g,
                        "other": lambda xp, g, input, other: -g * xp.trunc(input / other)}, jvp="elementwise"))


def _neg(xp, x):
    """``-input``."""
    try:
        return -x
    except TypeError:       # bool arrays
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead.") from None


neg = _ops.add(Op("neg", _neg, method=True, inplace=True, aliases="negative", ufunc="negative",
                  vjp={"input": lambda xp, g: -g}))


def _pow_name(x, y):
    if not _is_array(x):
        return "PowBackward2"       # scalar ** tensor
    return "PowBackward0" if not _is_array(y) else "PowBackward1"


def _pow_grad_base(xp, g, input, exponent):
    x, y = input, exponent
    if not _is_array(y):
        if y == 0:
            return g * 0
        return g * y * x ** (y - 1)
    # Where the exponent is 0 the gradient is 0, even at x = 0 (as PyTorch).
    return xp.where(y == 0, 0, g * y * x ** xp.where(y == 0, 1, y - 1))


def _pow_grad_exponent(xp, g, input, exponent, result):
    x, y, out = input, exponent, result
    # g * out * log(x), where PyTorch takes log(0) as 0 for y >= 0 (the gradient is 0) and
    # as -inf for y < 0 (out is inf, so the gradient is -inf); log(0) is never called.
    # Built on zeros of out's dtype: from two Python scalars, a tensor namespace (under
    # create_graph) would make it float32, and float32 wins over a 0-d float64 base.
    at_zero = xp.where(y < 0, -math.inf, xp.zeros_like(out))
    if not _is_array(x):
        return g * out * (math.log(x) if x > 0 else at_zero if x == 0 else math.nan)
    return g * out * xp.where(x == 0, at_zero, xp.log(xp.where(x == 0, 1, x)))


def _pow(xp, x, y):
    """``input ** exponent``."""
    return x ** y


pow_op = _ops.add(Op("pow", _pow, promote="elementwise", inputs=("input", "exponent"),
                     grad_fn=_pow_name, method=True, inplace=True,
                     vjp={"input": _pow_grad_base, "exponent": _pow_grad_exponent}, jvp="elementwise"))

clone = _ops.add(Op("clone", lambda xp, x: x.copy(), method=True, vjp=lambda xp, g: g,
                    doc="A copy with its own storage; gradients flow back to the input.", jvp="linear"))


# -- unary functions with a floating point result --------------------------------
# Integer and bool inputs give the default float dtype (promote="float").

def _float_op(name, forward, formula, doc, **kw):
    # Elementwise: its vjp formula is its jvp formula (a diagonal Jacobian).
    return Op(name, forward, vjp={"input": formula}, promote="float", method=True, inplace=True,
              doc=doc, jvp="elementwise", **kw)


def _sigmoid(xp, x):
    """``1 / (1 + exp(-input))``, computed without overflow for large ``|input|``."""
    if is_complex(x):
        return 1 / (1 + xp.exp(-x))
    e = xp.exp(-xp.abs(x))      # in (0, 1]: never overflows
    # The numerator is 1 where x >= 0, else e: max(e, sign(x)) gives it (sign(nan) is nan,
    # as e is) without a comparison and where() with a number, which cost 3x as much.
    return xp.maximum(e, xp.sign(x)) / (1 + e)


exp = _ops.add(_float_op("exp", lambda xp, x: xp.exp(x), lambda xp, g, result: g * result,
                         "``e ** input``.", ufunc="exp"))
expm1 = _ops.add(_float_op("expm1", lambda xp, x: xp.expm1(x),
                           lambda xp, g, result: g * (result + 1),
                           "``exp(input) - 1``, accurate for small ``input``.", ufunc="expm1"))
log = _ops.add(_float_op("log", lambda xp, x: xp.log(x), lambda xp, g, input: g / input,
                         "Natural logarithm.", ufunc="log"))
log1p = _ops.add(_float_op("log1p", lambda xp, x: xp.log1p(x), lambda xp, g, input: g / (input + 1),
                           "``log(1 + input)``, accurate for small ``input``.",
                           grad_fn="Log1PBackward0", ufunc="log1p"))
log2 = _ops.add(_float_op("log2", lambda xp, x: xp.log2(x),
                          lambda xp, g, input: g / (input * math.log(2)), "Base-2 logarithm.",
                          ufunc="log2"))
log10 = _ops.add(_float_op("log10", lambda xp, x: xp.log10(x),
                           lambda xp, g, input: g / (input * math.log(10)), "Base-10 logarithm.",
                           ufunc="log10"))
sqrt = _ops.add(_float_op("sqrt", lambda xp, x: xp.sqrt(x), lambda xp, g, result: g / (2 * result),
                          "Square root.", ufunc="sqrt"))
rsqrt = _ops.add(_float_op("rsqrt", lambda xp, x: 1 / xp.sqrt(x),
                           lambda xp, g, result: -0.5 * g * result ** 3, "``1 / sqrt(input)``."))
reciprocal = _ops.add(_float_op("reciprocal", lambda xp, x: 1 / x,
                                lambda xp, g, result: -g * result * result, "``1 / input``."))
sin = _ops.add(_float_op("sin", lambda xp, x: xp.sin(x), lambda xp, g, input: g * xp.cos(input),
                         "Sine.", ufunc="sin"))
cos = _ops.add(_float_op("cos", lambda xp, x: xp.cos(x), lambda xp, g, input: -g * xp.sin(input),
                         "Cosine.", ufunc="cos"))
tan = _ops.add(_float_op("tan", lambda xp, x: xp.tan(x),
                         lambda xp, g, result: g * (1 + result * result), "Tangent.", ufunc="tan"))
asin = _ops.add(_float_op("asin", lambda xp, x: xp.arcsin(x),
                          lambda xp, g, input: g / xp.sqrt(1 - input * input), "Arcsine.",
                          aliases="arcsin"))
acos = _ops.add(_float_op("acos", lambda xp, x: xp.arccos(x),
                          lambda xp, g, input: -g / xp.sqrt(1 - input * input), "Arccosine.",
                          aliases="arccos"))
atan = _ops.add(_float_op("atan", lambda xp, x: xp.arctan(x),
                          lambda xp, g, input: g / (1 + input * input), "Arctangent.",
                          aliases="arctan", ufunc="arctan"))
tanh = _ops.add(_float_op("tanh", lambda xp, x: xp.tanh(x),
                          lambda xp, g, result: g * (1 - result * result), "Hyperbolic tangent.",
                          namespace=("", "nn.functional"), ufunc="tanh"))
sigmoid = _ops.add(_float_op("sigmoid", _sigmoid, lambda xp, g, result: g * result * (1 - result),
                             _sigmoid.__doc__, namespace=("", "nn.functional")))


# -- unary ops that keep the input's dtype ---------------------------------------

def _abs(xp, x):
    """``|input|``."""
    _refuse_kind("abs_cpu", x.dtype, "b")
    return xp.abs(x)


def _abs_grad(xp, g, input):
    """PyTorch's ``grad * sgn(input)`` (sgn is 0 at 0 and at NaN, so inf or NaN there
    gives NaN, as in PyTorch)."""
    if is_complex(input):
        return g * complex_sign(xp, input)
    # On tensors (create_graph) xp.sign is the sign op: PyTorch's sign too.
    return g * (xp.sign(input) if isinstance(input, TensorBase) else _sign(xp, input))


# |z| is not holomorphic: the formula gives PyTorch's complex gradient itself.
abs_op = _ops.add(Op("abs", _abs, method=True, inplace=True, aliases="absolute",
                     holomorphic=False, vjp={"input": _abs_grad}, jvp="elementwise"))


def _square(xp, x):
    """``input * input`` (bool inputs give int64, as ``input ** 2`` does)."""
    if x.dtype.kind == "b":
        x = x.astype("int64")
    return x * x


square = _ops.add(Op("square", _square, method=True, inplace=True, grad_fn="PowBackward0",
                     vjp={"input": lambda xp, g, input: g * 2 * input}, jvp="elementwise"))


def _relu(xp, x, inplace=False):
    """``max(input, 0)``."""
    kind = x.dtype.kind     # checked inline: refuse_complex's two frames cost as much as max
    if kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    if kind == "c":
        refuse_complex(_NO_COMPLEX_CLAMP, x)
    # 0 first: of two equal operands NumPy returns the second, so -0.0 stays -0.0 (PyTorch's)
    return xp.maximum(0, x)


_UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _relu_grad(xp, g, result, inplace=False):
    """PyTorch's threshold_backward: +0 where ``result <= 0`` (whatever ``g`` is), else ``g``
    (also where ``result`` is NaN, which is not <= 0)."""
    if isinstance(g, TensorBase):
        return xp.where(result <= 0, 0, g)
    # The same bits without where()'s branch on each element (6x faster on a (512, 4096)
    # array): g's bits times 1, or times 0 (+0.0), which keeps -0.0, NaN and inf as they are.
    # result = max(input, 0) is >= 0 or NaN: nonzero (True as bool) exactly where g passes;
    # casts, cheaper than a comparison with 0, make the mask of g's bits' dtype.
    bits = _UINT[g.dtype.itemsize]
    return xp.multiply(g.view(bits), result.astype(bool).astype(bits)).view(g.dtype)


relu = _ops.add(Op("relu", _relu, method=True, inplace=True, inplace_param="inplace",
                   namespace=("", "nn.functional"), vjp={"input": _relu_grad}, jvp="elementwise"))


def _sign(xp, x):
    """-1, 0 or 1 by the sign of ``input`` (0 for NaN, as PyTorch)."""
    kind = x.dtype.kind
    if kind == "b":
        return x.copy()
    if kind == "f":
        # NumPy's sign is PyTorch's (+0 for -0.0) but for NaN, which is rare: a cheap check
        # instead of two comparisons with 0 and their casts.
        s = xp.sign(x)
        nan = xp.isnan(s)
        return xp.where(nan, 0, s) if nan.any() else s
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


def _real_sign(xp, x):
    """-1, 0 or 1 by the sign of ``input`` (0 for NaN); complex tensors take :func:`sgn`."""
    if x.dtype.kind == "c":     # inline: refuse_complex's two frames cost as much as sign
        refuse_complex("Unlike NumPy, torch.sign is not intended to support complex numbers. "
                       "Please use torch.sgn instead.", x)
    return _sign(xp, x)


def _sgn(xp, x):
    """``input / |input|`` (0 at 0); for real tensors, the same as :func:`sign`."""
    return complex_sign(xp, x) if x.dtype.kind == "c" else _sign(xp, x)     # x: an array


def _sgn_grad(xp, g, input, result):
    """PyTorch's sgn_backward: ``(g - sgn * Re(conj(sgn) * g)) / |z|``, 0 at 0; 0 for reals."""
    if not is_complex(input):
        return xp.zeros_like(g)
    a = xp.abs(input)
    nonzero = a != 0
    along = result * xp.real(xp.conj(result) * g)
    return xp.where(nonzero, (g - along) / xp.where(nonzero, a, 1), 0)


sign = _ops.add(Op("sign", _real_sign, method=True, inplace=True, vjp=_zeros, jvp="elementwise"))
sgn = _ops.add(Op("sgn", _sgn, method=True, inplace=True, holomorphic=False,
                  vjp={"input": _sgn_grad}, jvp="elementwise"))


def _rounding(kernel, fn, doc):
    """floor, ceil, trunc: integer inputs are already whole numbers."""
    def forward(xp, x):
        _refuse_kind(kernel, x.dtype, "b")
        refuse_complex(f"{kernel.partition('_')[0]} is not supported for complex inputs", x)
        return x.copy() if x.dtype.kind in "iu" else fn(xp, x)
    forward.__doc__ = doc
    return forward


floor = _ops.add(Op("floor", _rounding("floor_vml_cpu", lambda xp, x: xp.floor(x),
                                       "The largest whole number <= ``input``."),
                    method=True, inplace=True, vjp=_zeros, jvp="elementwise"))
ceil = _ops.add(Op("ceil", _rounding("ceil_vml_cpu", lambda xp, x: xp.ceil(x),
                                     "The smallest whole number >= ``input``."),
                   method=True, inplace=True, vjp=_zeros, jvp="elementwise"))
trunc = _ops.add(Op("trunc", _rounding("trunc_vml_cpu", lambda xp, x: xp.trunc(x),
                                       "``input`` rounded toward zero."),
                    method=True, inplace=True, aliases="fix", vjp=_zeros, jvp="elementwise"))


def _round(xp, x, *, decimals=0):
    """``input`` rounded to ``decimals`` decimal places, halves to even."""
    _refuse_kind("round_vml_cpu", x.dtype, "b")
    _refuse_kind("round_vml_cpu" if decimals == 0 else "round_cpu", x.dtype, "c")
    if x.dtype.kind in "iu":
        if decimals != 0:
            raise _kernel_missing("round_cpu", x.dtype)
        return x.copy()
    if decimals == 0:
        return xp.round(x)
    # PyTorch's formula: scale, round half to even, scale back.
    if decimals > 0:
        return xp.rint(x * 10.0 ** decimals) / 10.0 ** decimals
    return xp.rint(x / 10.0 ** -decimals) * 10.0 ** -decimals


round_op = _ops.add(Op("round", _round, method=True, inplace=True, vjp=_zeros,
                       grad_fn=lambda x, **params:
                           "RoundBackward1" if params else "RoundBackward0", jvp="elementwise"))


def _frac(xp, x):
    """The fractional part, ``input - trunc(input)``."""
    _refuse_kind("frac_cpu", x.dtype, "biuc")
    return x - xp.trunc(x)


frac = _ops.add(Op("frac", _frac, method=True, inplace=True, vjp=lambda xp, g: g, jvp="elementwise"))


# -- bounds and selection ----------------------------------------------------------

def _clamp(xp, x, lo=None, hi=None):
    """``input`` limited to ``[min, max]`` (``max`` where ``min > max``); either may be None.

    The bounds are both numbers or both tensors (tensor bounds get gradients).
    """
    if lo is None and hi is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    refuse_complex(_NO_COMPLEX_CLAMP, x, lo, hi)
    if lo is not None and hi is not None and _is_array(lo) != _is_array(hi):
        raise TypeError(
            "clamp() received an invalid combination of arguments: min and max must both be "
            f"numbers or both be Tensors, got {type(lo).__name__} and {type(hi).__name__}")
    out = x if lo is None else xp.maximum(x, lo)
    return out if hi is None else xp.minimum(out, hi)


def _clamp_name(x, lo=None, hi=None):
    return "ClampBackward0" if _is_array(lo) or _is_array(hi) else "ClampBackward1"


def _clamp_grad_input(xp, g, input, min, max):
    x, lo, hi = input, min, max
    # The gradient passes where lo <= x <= hi, bounds included (PyTorch's subgradient).
    inside = None if lo is None else x >= lo
    if hi is not None:
        inside = x <= hi if inside is None else inside & (x <= hi)
    return xp.where(inside, g, 0)


def _clamp_grad_min(xp, g, input, min, max):
    x, lo, hi = input, min, max
    below = x < lo
    if hi is not None:
        below = below & (lo < hi)       # where min > max the result is max: min gets nothing
    return xp.where(below, g, 0)


def _clamp_grad_max(xp, g, input, min, max):
    x, lo, hi = input, min, max
    above = x > hi
    if lo is not None:
        above = above | (hi < lo)
    return xp.where(above, g, 0)


clamp = _ops.add(Op("clamp", _clamp, promote="elementwise", inputs=("input", "min", "max"),
                    grad_fn=_clamp_name, method=True, inplace=True, aliases="clip",
                    vjp={"input": _clamp_grad_input, "min": _clamp_grad_min,
                         "max": _clamp_grad_max}, jvp="elementwise"))


def _clamp_min(xp, x, lo):
    """``max(input, min)``."""
    refuse_complex("maximum_cpu" if _is_array(lo) else _NO_COMPLEX_CLAMP, x, lo)
    return xp.maximum(x, lo)


def _clamp_max(xp, x, hi):
    """``min(input, max)``."""
    refuse_complex("minimum_cpu" if _is_array(hi) else _NO_COMPLEX_CLAMP, x, hi)
    return xp.minimum(x, hi)


clamp_min = _ops.add(Op("clamp_min", _clamp_min, promote="elementwise", inputs=("input", "min"),
                        method=True, inplace=True,
                        grad_fn=lambda x, lo:
                            "ClampMinBackward1" if _is_array(lo) else "ClampMinBackward0",
                        vjp={"input": lambda xp, g, input, min: xp.where(input >= min, g, 0),
                             "min": lambda xp, g, input, min: xp.where(input < min, g, 0)}, jvp="elementwise"))
clamp_max = _ops.add(Op("clamp_max", _clamp_max, promote="elementwise", inputs=("input", "max"),
                        method=True, inplace=True,
                        grad_fn=lambda x, hi:
                            "ClampMaxBackward1" if _is_array(hi) else "ClampMaxBackward0",
                        vjp={"input": lambda xp, g, input, max: xp.where(input <= max, g, 0),
                             "max": lambda xp, g, input, max: xp.where(input > max, g, 0)}, jvp="elementwise"))


def _maximum(xp, a, b):
    """The larger of ``input`` and ``other`` (NaN where either is NaN)."""
    _require_tensor("maximum", "input", 1, a)
    _require_tensor("maximum", "other", 2, b)
    refuse_complex("maximum not implemented for complex tensors.", a, b, error=RuntimeError)
    return xp.maximum(a, b)


def _minimum(xp, a, b):
    """The smaller of ``input`` and ``other`` (NaN where either is NaN)."""
    _require_tensor("minimum", "input", 1, a)
    _require_tensor("minimum", "other", 2, b)
    refuse_complex("minimum not implemented for complex tensors.", a, b, error=RuntimeError)
    return xp.minimum(a, b)


def _select_grad(xp, g, a, b, loses):
    # Ties split the gradient half and half, as PyTorch does.
    return xp.where(a == b, g / 2, xp.where(loses, 0, g))


# Each input's gradient compares both values: max(x, other) in reductions.py calls these
# formulas too.
maximum = _ops.add(Op("maximum", _maximum, promote="elementwise", inputs=_BINARY, method=True,
                      vjp={"input": lambda xp, g, input, other:
                               _select_grad(xp, g, input, other, input < other),
                           "other": lambda xp, g, input, other:
                               _select_grad(xp, g, input, other, other < input)}, jvp="elementwise"))
minimum = _ops.add(Op("minimum", _minimum, promote="elementwise", inputs=_BINARY, method=True,
                      vjp={"input": lambda xp, g, input, other:
                               _select_grad(xp, g, input, other, input > other),
                           "other": lambda xp, g, input, other:
                               _select_grad(xp, g, input, other, other > input)}, jvp="elementwise"))


def _nextafter(xp, a, b):
    """The next floating point number after ``input`` towards ``other``, elementwise."""
    dtype = _dtype_of(a, b)
    _refuse_kind("nextafter_cpu", dtype, "biuc")
    return xp.nextafter(a, b)


# PyTorch's derivative: the step is below rounding, so the input's gradient passes through
# where the result moved (where input == other the result is other: none), other gets none.
nextafter = _ops.add(Op("nextafter", _nextafter, promote="elementwise", inputs=_BINARY,
                        method=True, inplace=True,
                        vjp={"input": lambda xp, g, input, other: xp.where(input != other, g, 0),
                             "other": lambda xp, g: xp.zeros_like(g)}))


# ``where(condition, input, other)``: the condition is a parameter, not an input,
# so that type promotion (and the gradient) only concern ``input`` and ``other``.

def _check_condition(condition):
    if isinstance(condition, TensorBase):
        dtype = condition._data.dtype
    elif _is_array(condition) and hasattr(condition, "dtype"):
        dtype = condition.dtype     # an array: a constant (as in vjps run on tensors)
    else:
        raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, "
                        f"not {type(condition).__name__}")
    if dtype.name == "uint8":
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated and "
                      "will be removed in a future version of PyTorch. Use a boolean condition "
                      "instead.", UserWarning, stacklevel=4)
    elif dtype.kind != "b":
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {scalar_name(dtype)}")


def _where_args(condition, input=None, other=None):
    _check_condition(condition)
    if input is None and other is None:
        raise NotImplementedError(
            "where(condition) with a single argument (the indices of the True elements) is "
            "not supported yet; pass where(condition, input, other)")
    if input is None or other is None:
        raise TypeError("where() received an invalid combination of arguments: expected "
                        "(Tensor condition, Tensor input, Tensor other)")
    if not isinstance(input, TensorBase) and not isinstance(other, TensorBase):
        # Two numbers: PyTorch gives the default dtype of their kind; a 0-d tensor of
        # that dtype carries the first one.
        from autogradx._factories import tensor
        input = tensor(input, device=getattr(condition, "device", None))
    return (input, other), {"condition": condition}


def _tensor_where_args(input, condition, other):
    _check_condition(condition)
    return (input, other), {"condition": condition}


def _where(xp, x, y, *, condition):
    """Elements of ``input`` where ``condition`` is True, of ``other`` elsewhere.

    ``condition`` is a bool tensor; ``input`` and ``other`` may be numbers, and
    all three broadcast.
    """
    return xp.where(condition, x, y)


_WHERE_VJP = (lambda xp, g, condition: xp.where(condition, g, 0),
              lambda xp, g, condition: xp.where(condition, 0, g))

where = _ops.add(Op("where", _where, promote="elementwise", inputs=_BINARY, parse=_where_args,
                    vjp=_WHERE_VJP, jvp="elementwise"))
# ``Tensor.where(condition, other)`` is ``where(condition, self, other)``.
tensor_where = _ops.add(Op("tensor_where", _where, promote="elementwise", inputs=_BINARY,
                           parse=_tensor_where_args, namespace=None, method="where",
                           grad_fn="WhereBackward0", vjp=_WHERE_VJP, jvp="elementwise"))


def _lerp(xp, x, end, weight):
    """``input + weight * (end - input)``; all floating point tensors of one dtype."""
    _require_tensor("lerp", "end", 2, end)
    weight_is_array = _is_array(weight)
    _refuse_kind("lerp_kernel_tensor" if weight_is_array else "lerp_kernel_scalar",
                 x.dtype, "biu")
    for name, v in (("end", end), ("weight", weight))[:1 + weight_is_array]:
        if v.dtype != x.dtype:
            raise RuntimeError(f"expected dtype {c_name(x.dtype)} for `{name}` but got "
                               f"dtype {c_name(v.dtype)}")
    diff = end - x
    # PyTorch's two forms: each is exact at its own end (weight 0 or 1).
    if weight_is_array:
        return xp.where(xp.abs(weight) < 0.5, x + weight * diff, end - diff * (1 - weight))
    return x + weight * diff if -0.5 < weight < 0.5 else end - diff * (1 - weight)


lerp = _ops.add(Op("lerp", _lerp, inputs=("input", "end", "weight"), method=True, inplace=True,
                   grad_fn=lambda x, end, weight:
                       "LerpBackward1" if _is_array(weight) else "LerpBackward0",
                   vjp={"input": lambda xp, g, weight: g * (1 - weight),
                        "end": lambda xp, g, weight: g * weight,
                        "weight": lambda xp, g, input, end: g * (end - input)}, jvp="elementwise"))


# -- the regularized incomplete gamma functions --------------------------------------

def _lgamma(xp, a):
    """``log|Gamma(a)|`` in float64, of an array of ``xp``, or of a tensor as a constant
    (NumPy has no lgamma: a C loop on NumPy arrays, ``math.lgamma`` on the host for the
    others)."""
    if type(a) is np.ndarray:
        return _special.lgamma(a)
    if isinstance(a, TensorBase):       # under create_graph: a constant on a's device
        host, where = a.detach().cpu().numpy(), {"device": a.device}
    else:
        host, where = (a.get() if hasattr(a, "get") else a), {}   # CuPy arrays have .get()
    values = np.frompyfunc(_lgamma_or_pole, 1, 1)(np.asarray(host, dtype=np.float64))
    return xp.asarray(np.asarray(values, dtype=np.float64), **where)


def _lgamma_or_pole(v):
    """math.lgamma, with inf at its poles (0, -1, -2, ...) as PyTorch's lgamma gives."""
    try:
        return math.lgamma(v)
    except ValueError:
        return math.inf


_SERIES_TERMS = 100_000     # more than the series needs for a up to ~1e7 (~sqrt(40 a) terms)


def _incomplete_gamma(xp, a, x):
    """``(P, Q)``: the regularized lower and upper incomplete gamma functions in float64.
    On NumPy arrays a C loop (autogradx/_core/special.pyx) computes per element what
    :func:`_incomplete_gamma_xp` computes on whole arrays."""
    if type(a) is np.ndarray and type(x) is np.ndarray:
        return _special.incomplete_gamma(a, x)
    return _incomplete_gamma_xp(xp, a, x)


def _incomplete_gamma_xp(xp, a, x):
    """``(P, Q)`` on arrays of any backend, with PyTorch's values where ``a`` or ``x``
    is 0, infinite, negative or nan. The series of P where ``x < a + 1``,
    the continued fraction of Q (modified Lentz) elsewhere: each converges fast on its
    side, and the other function is 1 minus it. Iterated until every element has
    converged."""
    eps, tiny = np.finfo(np.float64).eps, np.finfo(np.float64).tiny
    a, x = xp.broadcast_arrays(xp.asarray(a, dtype=xp.float64), xp.asarray(x, dtype=xp.float64))
    inner = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
    series = inner & (x < a + 1)
    fraction = inner & ~series
    ia, ix = xp.where(inner, a, 1.0), xp.where(inner, x, 1.0)
    scale = xp.exp(ia * xp.log(ix) - ix - _lgamma(xp, ia))
    # Elements on the other side take values that converge at once (1, 0.5; 1, 2).
    sa, sx = xp.where(series, a, 1.0), xp.where(series, x, 0.5)
    term = total = 1 / sa
    n = sa
    for _ in range(_SERIES_TERMS):
        n = n + 1
        term = term * sx / n
        total = total + term
        if not bool(xp.any(xp.abs(term) > xp.abs(total) * eps)):
            break
    lower = total * scale
    ca, cx = xp.where(fraction, a, 1.0), xp.where(fraction, x, 2.0)
    b = cx + 1 - ca
    c, d = xp.full_like(b, 1 / tiny), 1 / b
    h = d
    for i in range(1, _SERIES_TERMS):
        an = -i * (i - ca)
        b = b + 2
        d = an * d + b
        d = 1 / xp.where(xp.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = xp.where(xp.abs(c) < tiny, tiny, c)
        h = h * d * c
        if not bool(xp.any(xp.abs(d * c - 1) > eps)):
            break
    upper = h * scale
    # PyTorch's checks, in its order (so igamma(nan, 0) is 0 and igamma(nan, inf) 1).
    edge = xp.where(a == 0, xp.where(x > 0, 1.0, xp.nan),
                    xp.where(x == 0, 0.0,
                             xp.where(xp.isinf(a), xp.where(xp.isinf(x), xp.nan, 0.0),
                                      xp.where(xp.isinf(x), 1.0, xp.nan))))
    edge = xp.where((x < 0) | (a < 0), xp.nan, edge)
    p = xp.where(series, lower, xp.where(inner, 1 - upper, edge))
    q = xp.where(series, 1 - lower, xp.where(inner, upper, 1 - edge))
    return p, q


def _incomplete_gamma_op(name, part, sign, doc):
    """``igamma`` (``part`` 0, P) or ``igammac`` (1, Q) of ``(input, other)``: PyTorch has
    the derivative for ``other`` only (``sign`` times the density)."""
    def forward(xp, a, x):
        _require_tensor(name, "input", 1, a)
        _require_tensor(name, "other", 2, x)
        dtype = _dtype_of(a, x)
        _refuse_kind(f"{name}_cpu", dtype, "biuc")
        return xp.asarray(_incomplete_gamma(xp, a, x)[part], dtype=dtype)
    forward.__doc__ = doc

    def grad_input(xp, g):
        raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")

    def grad_other(xp, g, input, other):
        return sign * g * xp.exp((input - 1) * xp.log(other) - other - _lgamma(xp, input))

    # No forward rule either: forward mode refuses it (autograd/_jvp.py's NO_FORWARD).
    return Op(name, forward, promote="elementwise", inputs=_BINARY, method=True, inplace=True,
              vjp={"input": grad_input, "other": grad_other})


igamma = _ops.add(_incomplete_gamma_op(
    "igamma", 0, 1, "The regularized lower incomplete gamma function P(input, other)."))
igammac = _ops.add(_incomplete_gamma_op(
    "igammac", 1, -1, "The regularized upper incomplete gamma function Q(input, other)."))


# -- comparisons, logical and bitwise ops, closeness: bool results, no gradient --------
# (Out of place they are never recorded; written in place into a float tensor, the
# core gives it a zero-gradient history, as PyTorch's EqBackward0.)

# Comparisons have a derivative, zero: their bool results carry no history, but one
# written in place into a float tensor keeps it requiring grad (as in PyTorch).
_ZERO_GRADS = (lambda xp, g: g * 0, lambda xp, g: g * 0)


def _comparison(name, compare, doc):
    ordered = name not in ("eq", "ne")       # complex numbers have no order

    # These run on every mask a model builds: the checks are inline, on array attributes
    # (a forward gets arrays, NumPy's or CuPy's), each helper's frame costing as much as
    # the comparison itself.
    def forward(xp, a, b):
        if not hasattr(a, "shape"):
            _require_tensor(name, "input", 1, a)
        # Promotion gave ``a`` the common dtype: complex if either input is.
        if ordered and a.dtype.kind == "c":
            refuse_complex(f"{name}_cpu", a)
        return compare(a, b)
    forward.__doc__ = doc
    return forward


eq = _ops.add(Op("eq", _comparison("eq", operator.eq, "``input == other``, elementwise."),
                 promote="elementwise", inputs=_BINARY, method=True, inplace=True, vjp=_ZERO_GRADS, jvp="elementwise",
                 ufunc="equal", number_first=False))
ne = _ops.add(Op("ne", _comparison("ne", operator.ne, "``input != other``, elementwise."),
                 promote="elementwise", inputs=_BINARY, method=True, inplace=True, vjp=_ZERO_GRADS,
                 aliases="not_equal", jvp="elementwise",
                 ufunc="not_equal", number_first=False))
lt = _ops.add(Op("lt", _comparison("lt", operator.lt, "``input < other``, elementwise."),
                 promote="elementwise", inputs=_BINARY, method=True, inplace=True, vjp=_ZERO_GRADS,
                 aliases="less", jvp="elementwise",
                 ufunc="less", number_first=False))
le = _ops.add(Op("le", _comparison("le", operator.le, "``input <= other``, elementwise."),
                 promote="elementwise", inputs=_BINARY, method=True, inplace=True, vjp=_ZERO_GRADS,
                 aliases="less_equal", jvp="elementwise",
                 ufunc="less_equal", number_first=False))
gt = _ops.add(Op("gt", _comparison("gt", operator.gt, "``input > other``, elementwise."),
                 promote="elementwise", inputs=_BINARY, method=True, inplace=True, vjp=_ZERO_GRADS,
                 aliases="greater", jvp="elementwise",
                 ufunc="greater", number_first=False))
ge = _ops.add(Op("ge", _comparison("ge", operator.ge, "``input >= other``, elementwise."),
                 promote="elementwise", inputs=_BINARY, method=True, inplace=True, vjp=_ZERO_GRADS,
                 aliases="greater_equal", jvp="elementwise",
                 ufunc="greater_equal", number_first=False))


def _logical(name, fn):
    def forward(xp, a, b):
        _require_tensor(name, "input", 1, a)
        _require_tensor(name, "other", 2, b)
        return getattr(xp, name)(a, b)
    forward.__doc__ = f"{fn} of the truth values of ``input`` and ``other`` (nonzero is True)."
    return forward


logical_and = _ops.add(Op("logical_and", _logical("logical_and", "AND"), inputs=_BINARY,
                          method=True, inplace=True))
logical_or = _ops.add(Op("logical_or", _logical("logical_or", "OR"), inputs=_BINARY, method=True,
                         inplace=True))
logical_xor = _ops.add(Op("logical_xor", _logical("logical_xor", "Exclusive OR"), inputs=_BINARY,
                          method=True, inplace=True))
logical_not = _ops.add(Op("logical_not", lambda xp, x: xp.logical_not(x), method=True, inplace=True,
                          doc="NOT of the truth values of ``input`` (nonzero is True)."))


def _bitwise(name, what):
    def forward(xp, a, b):
        dtype = _dtype_of(a, b)
        if dtype.kind not in "biu":
            raise _kernel_missing(f"{name}_cpu", dtype)
        return getattr(xp, name)(a, b)
    forward.__doc__ = f"Bitwise {what} of integer or bool tensors (logical for bool)."
    return forward


bitwise_and = _ops.add(Op("bitwise_and", _bitwise("bitwise_and", "AND (``&``)"),
                          promote="elementwise", inputs=_BINARY, method=True, inplace=True))
bitwise_or = _ops.add(Op("bitwise_or", _bitwise("bitwise_or", "OR (``|``)"), promote="elementwise",
                         inputs=_BINARY, method=True, inplace=True))
bitwise_xor = _ops.add(Op("bitwise_xor", _bitwise("bitwise_xor", "XOR (``^``)"),
                          promote="elementwise", inputs=_BINARY, method=True, inplace=True))


def _bitwise_not(xp, x):
    """Bitwise NOT (``~``) of an integer or bool tensor (logical NOT for bool)."""
    _refuse_kind("bitwise_not_cpu", x.dtype, "fc")
    return xp.invert(x)


bitwise_not = _ops.add(Op("bitwise_not", _bitwise_not, method=True, inplace=True))

isnan = _ops.add(Op("isnan", lambda xp, x: xp.isnan(x), method=True,
                    doc="True where ``input`` is NaN."))
isinf = _ops.add(Op("isinf", lambda xp, x: xp.isinf(x), method=True,
                    doc="True where ``input`` is infinite."))
isfinite = _ops.add(Op("isfinite", lambda xp, x: xp.isfinite(x), method=True,
                       doc="True where ``input`` is neither infinite nor NaN."))


def _close(xp, name, a, b, rtol, atol, equal_nan):
    _require_tensor(name, "other", 2, b)
    if a.dtype != b.dtype:
        raise RuntimeError(f"{scalar_name(a.dtype)} did not match "
                           f"{scalar_name(b.dtype)}")
    if a.dtype.kind == "b":
        return a == b
    return xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _isclose(xp, a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True where ``|input - other| <= atol + rtol * |other|`` (or equal); same dtypes."""
    return _close(xp, "isclose", a, b, rtol, atol, equal_nan)


def _allclose(xp, a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether :func:`isclose` holds for every element."""
    return _close(xp, "allclose", a, b, rtol, atol, equal_nan).all()


def _equal(xp, a, b):
    """Whether ``input`` and ``other`` have the same shape and the same values."""
    _require_tensor("equal", "other", 2, b)
    return xp.asarray(a.shape == b.shape and bool((a == b).all()))


isclose = _ops.add(Op("isclose", _isclose, inputs=_BINARY, method=True))
# Both return a Python bool, as PyTorch's do.
allclose = _ops.add(Op("allclose", _allclose, inputs=_BINARY, method=True, output_type=bool))
equal = _ops.add(Op("equal", _equal, inputs=_BINARY, method=True, output_type=bool))


OPS = tuple(_ops)


# -- samples for the conformance kit -------------------------------------------------

__getattr__ = lazy_conformance_cases(__name__)


# Ranges of generated inputs that keep an op inside its domain, away from its poles.
_DOMAINS = {"log": (0.2, 3.0), "log2": (0.2, 3.0), "log10": (0.2, 3.0), "sqrt": (0.2, 3.0),
            "rsqrt": (0.2, 3.0), "log1p": (-0.5, 2.0), "reciprocal": (0.5, 2.0),
            "tan": (-1.2, 1.2), "div": (0.5, 2.0), "pow": (0.5, 2.0),
            "asin": (-0.9, 0.9), "acos": (-0.9, 0.9)}


def _conformance_cases():
    """Generated elementwise samples for every op here (inputs within ``_DOMAINS``), and more
    calls for the ops that take numbers, parameters, or integer and bool tensors."""
    from autogradx.conformance import Arg, Sample as S, generated_samples

    def x(*shape, low=-2.0, high=2.0):
        return Arg(shape, low, high)

    def const(*shape, low=-2.0, high=2.0, dtype=None):
        return Arg(shape, low, high, dtype=dtype, requires_grad=False)

    def ints(*shape, dtype="int64"):
        return const(*shape, low=0, high=7, dtype=dtype)

    mask = const(2, 3, dtype="bool")
    special = Arg(values=[0.0, 1.5, math.inf, -math.inf, math.nan])
    cases = {op.name: generated_samples(op, *_DOMAINS.get(op.name, (-2.0, 2.0)))
             for op in OPS}
    extra = {
        "add": [S(x(2, 3), x(3), alpha=2), S(x(2, 3), 1.5)],
        "sub": [S(x(2, 3), x(3), alpha=0.5), S(x(2, 3), 1.5)],
        "rsub": [S(x(2, 3), 1.5), S(x(2, 3), x(3), alpha=2)],
        "mul": [S(x(2, 3), -1.5)],
        "div": [S(x(2, 3), 1.5), S(2.0, x(2, 3, low=0.5)),
                S(x(2, 3), x(2, 3, low=0.5), rounding_mode="floor"),
                S(x(2, 3), x(2, 3, low=0.5), rounding_mode="trunc")],
        "pow": [S(x(2, 3, low=0.5), 3), S(x(2, 3), 2), S(x(2, 3), 0), S(2.0, x(2, 3))],
        "fmod": [S(x(2, 3), 0.7), S(ints(2, 3), const(2, 3, low=1, high=4, dtype="int64"))],
        "round": [S(x(2, 3), decimals=1), S(x(2, 3), decimals=-1)],
        "clamp_min": [S(x(2, 3), 0.5)],
        "clamp_max": [S(x(2, 3), 0.5)],
        "lerp": [S(x(2, 3), x(2, 3), 0.3), S(x(2, 3), x(3), 0.8)],      # both formulas
        "eq": [S(x(2, 3), 0.5), S(ints(2, 3), ints(3))],
        "lt": [S(x(2, 3), 0.5)],
        "isnan": [S(special)],
        "isinf": [S(special)],
        "isfinite": [S(special)],
        "isclose": [S(x(3), x(3), rtol=0.5, atol=0.5)],
    }
    for name, samples in extra.items():
        cases[name] = cases[name] + samples
    same = Arg(values=[[0.5, -1.0], [2.0, 0.0]])
    pair = [S(ints(2, 3), ints(2, 3)), S(ints(2, 3), ints(3, dtype="bool")),
            S(const(4, dtype="bool"), const(4, dtype="bool"))]
    cases.update({
        # No derivative (PyTorch has none): constant operands only.
        "floor_divide": [S(const(2, 3, high=5), const(2, 3, low=1, high=3)), S(const(2, 3), 0.7),
                         S(ints(2, 3), const(3, low=1, high=4, dtype="int64"))],
        "clamp": [S(x(2, 3), -0.5, 0.5), S(x(2, 3), max=0.5), S(x(2, 3), min=-0.5),
                  S(x(2, 3), x(2, 3), x(1, 3))],        # tensor bounds, min > max in places
        "where": [S(mask, x(2, 3), x(1, 3)), S(mask, x(2, 3), 0.5), S(mask, 0.5, x(3))],
        "tensor_where": [S(x(2, 3), mask, x(2, 3)), S(x(2, 3), mask, 0.5)],
        "remainder": cases["remainder"] + [S(x(2, 3), 0.7)],
        "bitwise_and": pair, "bitwise_or": pair, "bitwise_xor": pair,
        "bitwise_not": [S(ints(2, 3)), S(const(4, dtype="bool"))],
        "allclose": [S(x(2, 3), x(2, 3)), S(same, same), S(x(3), x(3), rtol=0.5, atol=2.0)],
        "equal": [S(x(2, 3), x(2, 3)), S(same, same), S(x(2, 3), x(3))],
        # A derivative for ``other`` only (PyTorch has none for ``input``), on both sides of
        # x = a + 1; no forward mode, as PyTorch.
        "igamma": [S(const(2, 3, low=0.5, high=4.0), x(3, low=0.2, high=8.0)),
                   S(const(3, 1, low=0.5, high=4.0), x(1, 4, low=0.2, high=8.0))],
        "igammac": [S(const(2, 3, low=0.5, high=4.0), x(2, 3, low=0.2, high=8.0))],
    })
    return cases
