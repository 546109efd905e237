"""Elementwise ops. Inputs broadcast; the engine sums each gradient back to
its input's shape, so the vjps below return broadcast-shaped gradients."""

import math

from autogradx.plugin import Op

_BINARY = ("input", "other")


def _pow_name(x, y):
    if not hasattr(x, "shape"):
        return "PowBackward2"       # scalar ** tensor
    return "PowBackward0" if not hasattr(y, "shape") else "PowBackward1"


def _add(xp, a, b, alpha=1):
    return a + b if alpha == 1 else a + alpha * b


add = Op("add", _add, promote="elementwise", inputs=_BINARY, method=True, inplace=True,
         vjp=(lambda xp, g, alpha=1: g,
              lambda xp, g, alpha=1: g if alpha == 1 else g * alpha))


def _sub(xp, a, b, alpha=1):
    return a - b if alpha == 1 else a - alpha * b


sub = Op("sub", _sub, promote="elementwise", inputs=_BINARY, method=True, inplace=True,
         vjp=(lambda xp, g, alpha=1: g,
              lambda xp, g, alpha=1: -g if alpha == 1 else g * -alpha))


def _rsub(xp, a, b, alpha=1):
    """``other - alpha * input`` (what ``2 - x`` computes)."""
    return b - a if alpha == 1 else b - alpha * a


rsub = Op("rsub", _rsub, promote="elementwise", inputs=_BINARY,
          grad_fn=lambda a, b, alpha=1: "RsubBackward0" if hasattr(b, "shape") else "RsubBackward1",
          vjp=(lambda xp, g, alpha=1: -g if alpha == 1 else g * -alpha,
               lambda xp, g, alpha=1: g))

mul = Op("mul", lambda xp, a, b: a * b, promote="elementwise", inputs=_BINARY,
         save=_BINARY, method=True, inplace=True,
         vjp=(lambda xp, g, a, b: g * b,
              lambda xp, g, a, b: g * a))

div = Op("div", lambda xp, a, b: a / b, promote="float", inputs=_BINARY, save=_BINARY,
         method=True,
         # ``2 / x`` is a scalar times a reciprocal in PyTorch, hence its name.
         grad_fn=lambda a, b: "DivBackward0" if hasattr(a, "shape") else "MulBackward0",
         vjp=(lambda xp, g, a, b: g / b,
              lambda xp, g, a, b: -g * a / (b * b)))

neg = Op("neg", lambda xp, x: -x, method=True, vjp=lambda xp, g: -g)


def _pow_grad_base(xp, g, x, y, out):
    if not hasattr(y, "shape"):
        if y == 0:
            return g * 0
        return g * y * x ** (y - 1)
    # Where the exponent is 0 the gradient is 0, even at x = 0 (as PyTorch).
    return xp.where(y == 0, 0, g * y * x ** xp.where(y == 0, 1, y - 1))


def _pow_grad_exponent(xp, g, x, y, out):
    if not hasattr(x, "shape"):
        return g * out * (math.log(x) if x > 0 else math.nan)
    # 0 ** y has no log; PyTorch takes that gradient as 0 where y >= 0.
    safe = xp.where(x == 0, 1, x)
    return xp.where((x == 0) & (y >= 0), 0, g * out * xp.log(safe))


pow = Op("pow", lambda xp, x, y: x ** y, promote="elementwise", inputs=("input", "exponent"),
         save=("input", "exponent", "result"), grad_fn=_pow_name, method=True,
         vjp=(_pow_grad_base, _pow_grad_exponent))

exp = Op("exp", lambda xp, x: xp.exp(x), promote="float", save="result", method=True,
         vjp=lambda xp, g, out: g * out)

log = Op("log", lambda xp, x: xp.log(x), promote="float", save="input", method=True,
         vjp=lambda xp, g, x: g / x)

clone = Op("clone", lambda xp, x: x.copy(), method=True, vjp=lambda xp, g: g)
