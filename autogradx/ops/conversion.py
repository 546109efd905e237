"""Ops that convert or overwrite a tensor as a whole: dtype casts, fill, copy."""

from autogradx import _factories
from autogradx._core.names import scalar_name
from autogradx._core.tensor import TensorBase
from autogradx.plugin import Op, OpList, lazy_conformance_cases

_ops = OpList()      # every op defined below, in order; OPS at the end


def _to_copy(xp, x, dtype):
    """A copy of ``x`` converted to ``dtype`` (a NumPy dtype)."""
    return x.astype(dtype)


# The gradient comes back in the output's dtype; the engine casts it to the input's.
_to_copy_op = _ops.add(Op("_to_copy", _to_copy, namespace=None, grad_fn="ToCopyBackward0",
                          vjp=lambda xp, g, dtype: g, jvp="linear"))


def _fill(xp, x, value):
    """A tensor shaped like ``x`` filled with ``value`` (a number or a 0-d tensor)."""
    return xp.full_like(x, value)


fill = _ops.add(Op("fill", _fill, inputs=("input", "value"), inplace=True,
                   grad_fn=lambda x, value:
                       "FillBackward0" if not hasattr(value, "shape") else "FillBackward1",
                   vjp=(lambda xp, g: g * 0, lambda xp, g: g.sum())))


def _zero(xp, x):
    """A tensor of zeros shaped like ``x``."""
    return xp.zeros_like(x)


zero = _ops.add(Op("zero", _zero, namespace=None, inplace="zero_", vjp=lambda xp, g: g * 0, jvp="elementwise"))


def _drawn(xp, x, kernel, sample, complex_scale, shift, scale, generator):
    """``shift + scale * z`` shaped like ``x`` and in its dtype, ``z`` drawn by ``sample`` (a
    method of the generator's NumPy ``Generator``). A complex ``x`` gets independent real and
    imaginary parts, each shifted by ``shift``, as PyTorch draws them."""
    if x.dtype.kind not in "fc":
        raise NotImplementedError(f'"{kernel}" not implemented for \'{scalar_name(x.dtype)}\'')
    rng = (generator or _factories.default_generator).rng
    z = _factories._draw(getattr(rng, sample), x.shape, x.dtype, complex_scale)
    if x.dtype.kind == "c":
        shift = complex(shift, shift)
    if shift != 0 or scale != 1:     # the defaults (uniform's [0, 1), N(0, 1)) skip two passes
        z = shift + scale * z
    return xp.asarray(z, dtype=x.dtype)


def _uniform(xp, x, from_=0.0, to=1.0, *, generator=None):
    """Values drawn uniformly from ``[from_, to)`` (PyTorch's ``from``) shaped like ``x``."""
    if from_ > to:
        raise RuntimeError(
            f"uniform_ expects to return a [from, to) range, but found from={from_:g} > to={to:g}")
    return _drawn(xp, x, "check_uniform_bounds", "random", 1.0, from_, to - from_, generator)


def _normal(xp, x, mean=0.0, std=1.0, *, generator=None):
    """Values drawn from ``N(mean, std**2)`` shaped like ``x`` (complex: each part has
    variance ``std**2 / 2``)."""
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    return _drawn(xp, x, "normal_kernel_cpu", "standard_normal", 0.5 ** 0.5, mean, std,
                  generator)


# The values do not depend on the tensor's old ones: its gradient is zero, as in PyTorch.
uniform = _ops.add(Op("uniform", _uniform, namespace=None, inplace="uniform_",
                      grad_fn="UniformBackward0",
                      vjp=lambda xp, g, from_=0.0, to=1.0, generator=None: g * 0))
normal = _ops.add(Op("normal", _normal, namespace=None, inplace="normal_",
                     grad_fn="NormalBackward0",
                     vjp=lambda xp, g, mean=0.0, std=1.0, generator=None: g * 0))


_P_RANGE = ("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
            "message be improved?  If so, please report an enhancement request to PyTorch.)")


def _coin_flips(xp, x, p, generator):
    """1 with probability ``p`` (a number, or an array broadcasting to ``x``), else 0, shaped
    like ``x`` and in its dtype."""
    rng = (generator or _factories.default_generator).rng
    return (xp.asarray(rng.random(x.shape)) < p).astype(x.dtype)


def _check_p(p):
    """A number ``p`` must be a probability, as PyTorch's bernoulli_ says."""
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p:g}")


def _check_p_array(xp, p):
    """An array of probabilities: floating point (unless empty), each in [0, 1]."""
    if p.dtype.kind != "f" and p.size:
        raise NotImplementedError(
            f'"bernoulli_tensor_cpu_p_" not implemented for \'{scalar_name(p.dtype)}\'')
    if not xp.all((p >= 0) & (p <= 1)):
        raise RuntimeError(_P_RANGE)


def _bernoulli(xp, x, p=None, *, generator=None):
    """0 or 1 in ``input``'s dtype: 1 with probability ``p`` (a number) or, without it, with
    the probability each value of ``input`` gives."""
    if p is None:
        if x.dtype.kind == "c" and x.size:
            raise NotImplementedError(
                f'"bernoulli_tensor_cpu_self_" not implemented for \'{scalar_name(x.dtype)}\'')
        _check_p_array(xp, x)
        return _coin_flips(xp, x, x, generator)
    _check_p(p)
    return _coin_flips(xp, x, p, generator)


def _bernoulli_vjp(xp, g, p=None, generator=None):
    # PyTorch: no gradient of the probabilities read from input (zeros), no derivative with p.
    if p is not None:
        raise RuntimeError("derivative for aten::bernoulli is not implemented")
    return xp.zeros_like(g)


bernoulli = _ops.add(Op("bernoulli", _bernoulli, method=True,
                        grad_fn=lambda x, p=None, generator=None:
                            "BernoulliBackward0" if p is None else "NotImplemented",
                        vjp={"input": _bernoulli_vjp}))


def _bernoulli_fill(xp, x, p=None, *, generator=None):
    """What ``x.bernoulli_(p)`` writes: 1 with probability ``p`` (a number, 0.5 if not
    given, or an array of probabilities broadcasting to ``x``), else 0, in ``x``'s dtype."""
    from autogradx.ops.shape import _expanded
    if x.dtype.kind == "c":
        raise NotImplementedError(
            f'"bernoulli_tensor_cpu_self_" not implemented for \'{scalar_name(x.dtype)}\'')
    if hasattr(p, "dtype"):
        _check_p_array(xp, p)
        return _coin_flips(xp, x, xp.broadcast_to(p, _expanded(p.shape, x.shape)), generator)
    p = 0.5 if p is None else p
    _check_p(p)
    return _coin_flips(xp, x, p, generator)


# The values drawn do not depend on x, nor on p's values differentiably: zero gradients.
bernoulli_fill = _ops.add(Op("bernoulli_fill", _bernoulli_fill, inputs=("input", "p"),
                             namespace=None, inplace="bernoulli_",
                             grad_fn=lambda x, p=None, generator=None:
                                 "BernoulliBackward1" if hasattr(p, "dtype") else
                                 "BernoulliBackward2",
                             vjp={"input": lambda xp, g: g * 0,
                                  "p": lambda xp, g, p: xp.zeros_like(p)}))


def _copy(xp, x, src, non_blocking=False):
    """``src`` broadcast to ``x``'s shape and converted to its dtype (what ``x.copy_(src)`` writes)."""
    if src.ndim > x.ndim or any(s not in (1, d) for s, d in zip(src.shape[::-1], x.shape[::-1])):
        raise RuntimeError(
            f"copy_(): the size of src {list(src.shape)} must be broadcastable to the "
            f"destination's size {list(x.shape)}")
    return xp.broadcast_to(src, x.shape).astype(x.dtype)


copy = _ops.add(Op("copy", _copy, inputs=("input", "src"), namespace=None, inplace="copy_",
                   grad_fn="CopyBackwards", vjp=(lambda xp, g, non_blocking=False: g * 0,
                                                 lambda xp, g, non_blocking=False: g)))


def _to_device(xp, x, device):
    """``x`` copied to ``device``; the gradient is copied back to where ``x`` was."""
    from autogradx._device import device_of
    from autogradx.backends import move
    return move(x, device), device_of(x)


def _to_device_vjp(xp, g, source, device):
    from autogradx.backends import move
    if isinstance(g, TensorBase):
        return g.to(source)
    return move(g, source)


_to_device_op = _ops.add(Op("_to_device", _to_device, namespace=None, residuals=True,
                            grad_fn="ToCopyBackward0", vjp=_to_device_vjp, jvp="linear"))


OPS = tuple(_ops)


# -- samples for the conformance kit ------------------------------------------------------

__getattr__ = lazy_conformance_cases(__name__)


def _conformance_cases():
    """Calls of each op. ``_to_copy`` converts to float64 only: finite differences through a
    cast to float32 are too coarse to check. ``_to_device`` copies to the CPU (a test on
    another device makes its own calls)."""
    import numpy as np

    from autogradx._device import device
    from autogradx.conformance import Arg, Sample as S

    def x(*shape):
        return Arg(shape)

    return {
        "_to_copy": [S(x(2, 3), np.dtype("float64")).options(out_dtype="float64")],
        "fill": [S(x(2, 3), 1.5), S(x(2, 3), x()), S(x(), -1.0)],
        "zero": [S(x(2, 3)), S(x())],
        "uniform": [S(x(2, 3)).options(manual_seed=0), S(x(3), -2.0, 3.0).options(manual_seed=0)],
        "normal": [S(x(2, 3)).options(manual_seed=0), S(x(3), 1.0, 0.5).options(manual_seed=0)],
        # Seed 1: the leaves' values come from seed 0's stream, which would draw them again.
        "bernoulli": [S(Arg((2, 3), low=0.0, high=1.0)).options(manual_seed=1)],
        "bernoulli_fill": [S(x(2, 3), 0.3).options(manual_seed=1),
                           S(x(2, 3), Arg((3,), low=0.0, high=1.0)).options(manual_seed=1)],
        "copy": [S(x(2, 3), x(2, 3)), S(x(2, 3), x(3)), S(x(2, 3), x(1, 3)),
                 S(x(2, 3), Arg((2, 3), dtype="float32")).options(id="2x3, float32 src")],
        "_to_device": [S(x(2, 3), device("cpu")), S(x(), device("cpu"))],
    }
