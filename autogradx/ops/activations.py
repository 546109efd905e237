"""Activations and the basic ops of ``autogradx.nn.functional``.

``relu``, ``sigmoid`` and ``tanh`` are not defined here: PyTorch's ``F.relu`` is
``torch.relu``, so the elementwise family's ops appear in ``nn.functional`` by
declaring both namespaces (``namespace=("", "nn.functional")``), not through a
second definition. ``softmax`` and ``log_softmax`` are likewise one op each, in
both namespaces and as Tensor methods.

Differences from PyTorch, on purpose:

* ``inplace=True`` (``relu``, ``leaky_relu``, ``elu``, ``silu``, ``dropout``)
  computes the result out of place and then writes it into the input (the
  core's ``inplace_param``), so the input's history becomes the op's node.
* ``dropout`` draws its mask from autogradx's default generator (seeded by
  ``autogradx.manual_seed``), so the masks differ from PyTorch's. Where PyTorch
  returns the input itself (``training=False``, ``p=0``, no elements), autogradx
  returns a view of it, whose node is named ``AliasBackward0``.
* ``embedding``: ``max_norm`` (which renormalises ``weight`` in place) and
  ``sparse=True`` (sparse gradients) are not supported.
"""

import math
import warnings

import numpy as np

from autogradx import _factories
from autogradx._core import engine as _engine, special as _special
from autogradx._dtype import as_numpy_dtype
from autogradx.ops.complex import refuse_complex
from autogradx.ops.elementwise import _sigmoid
from autogradx.ops.linalg import _mT, _refuse_dtypes, _wrap_dim
from autogradx.plugin import Op, OpList, lazy_conformance_cases, on_tensors

_ops = OpList()      # every op defined below, in order; OPS at the end

_NN = "nn.functional"
_FLOAT32 = np.dtype("float32")


def _float_only(kernel, x):
    """PyTorch has no integer, bool or complex kernel for these functions."""
    if x.dtype.kind != "f":     # a float input, the usual case, costs one comparison
        _refuse_dtypes(kernel, x, kinds="biu")
        refuse_complex(kernel, x)


# -- pointwise activations ---------------------------------------------------------

def _leaky_relu(xp, x, negative_slope=0.01, inplace=False):
    """``x`` where ``x > 0``, else ``negative_slope * x``."""
    _float_only("leaky_relu_cpu", x)
    if 0 < negative_slope <= 1:
        # Then x * negative_slope (NaN only where x is) is the larger of the two where
        # x <= 0, the smaller where x > 0: one maximum() instead of a comparison and where().
        return xp.maximum(x, x * negative_slope)
    return xp.where(x > 0, x, x * negative_slope)


leaky_relu = _ops.add(Op("leaky_relu", _leaky_relu, namespace=_NN, inplace_param="inplace",
                         vjp={"input": lambda xp, g, input, negative_slope=0.01, inplace=False:
                                  xp.where(input > 0, g, g * negative_slope)}, jvp="elementwise"))


def _threshold(xp, x, threshold, value, inplace=False):
    """``value`` where ``x <= threshold``, else ``x`` (NaN stays NaN); ``value`` in ``x``'s
    dtype, which must hold the numbers."""
    kind = x.dtype.kind
    if kind != "f":
        _refuse_dtypes("threshold_cpu", x, kinds="b")
        refuse_complex("threshold_cpu", x)
    if kind in "iu":
        info = xp.iinfo(x.dtype)
        if not all(info.min <= v <= info.max for v in (threshold, value)):
            raise RuntimeError(f"value cannot be converted to type {x.dtype.name}_t without "
                               "overflow")
    return xp.where(x <= threshold, xp.asarray(value).astype(x.dtype), x)


def _threshold_backward(xp, grad_output, x, threshold):
    """PyTorch's threshold_backward: 0 where ``input <= threshold``, else ``grad_output``
    (which a NaN input passes)."""
    return xp.where(x <= threshold, 0, grad_output)


# threshold's gradient, an op of its own on tensors so that double backward records
# PyTorch's node; its gradient for input is zero (a step function), as PyTorch's.
threshold_backward = _ops.add(Op(
    "threshold_backward", _threshold_backward, inputs=("grad_output", "input"), namespace=None,
    grad_fn="ThresholdBackwardBackward0", jvp="elementwise",
    vjp={"grad_output": lambda xp, g, input, threshold: _threshold_grad(xp, g, input, threshold),
         "input": lambda xp, g, threshold: g * 0}))


def _threshold_grad(xp, g, input, threshold):
    if on_tensors(xp):
        return threshold_backward(g, input, threshold)
    return _threshold_backward(xp, g, input, threshold)


threshold = _ops.add(Op("threshold", _threshold, namespace=("", _NN), inplace="threshold_",
                        inplace_param="inplace",
                        vjp={"input": lambda xp, g, input, threshold, value, inplace=False:
                                 _threshold_grad(xp, g, input, threshold)}, jvp="elementwise"))


def _elu(xp, x, alpha=1.0, inplace=False):
    """``alpha * (exp(x) - 1)`` where ``x < 0``, else ``x`` (NaN stays NaN; -0.0 stays -0.0,
    as PyTorch's ``alpha * expm1(-0.0)``)."""
    _float_only("elu_cpu", x)
    return xp.where(x < 0, alpha * xp.expm1(xp.minimum(x, 0)), x)


elu = _ops.add(Op("elu", _elu, namespace=_NN, inplace_param="inplace",
                  vjp={"input": lambda xp, g, input, alpha=1.0, inplace=False:
                           xp.where(input <= 0, g * alpha * xp.exp(xp.minimum(input, 0)), g)}, jvp="elementwise"))


# erf, which NumPy lacks, to float64 precision (max relative error 2.3e-16, as math.erf):
# |x| < 1: x p(x^2); 1 <= |x| < 6: 1 - exp(-x^2) q(|x|); beyond, erfc(6) < 3e-17. p and q
# are Chebyshev interpolants of erf(x)/x over x^2 in [0, 1] (degree 12) and of
# exp(x^2) erfc(x) over [1, 6] (degree 27), computed with mpmath at 40 digits.
_ERF_SMALL = (
    0.9754769393826541, -0.14226120510371365, 0.010035582187599796, -0.0005768764699767485,
    2.741993125219606e-05, -1.1043175507344507e-06, 3.8488755420345036e-08,
    -1.1808582533875466e-09, 3.2334215826050907e-11, -7.991015947004483e-13,
    1.799072511348477e-14, -3.718635162421382e-16, 7.101507363020076e-18)
_ERFC_SCALED = (
    0.20196598791223083, -0.147884835533987, 0.05188222158351389, -0.017525709964867527,
    0.005721802417478219, -0.0018109803028142997, 0.0005570714353927344,
    -0.00016689473052528832, 4.878565911493746e-05, -1.3935932859822488e-05,
    3.895514595190115e-06, -1.0668392337070025e-06, 2.865502572057316e-07,
    -7.555861081756622e-08, 1.957586342968354e-08, -4.987110132992565e-09,
    1.2501871239431183e-09, -3.0858852312872354e-10, 7.504484747601753e-11,
    -1.7990193064415526e-11, 4.253478301136975e-12, -9.923156071154297e-13,
    2.285294667970314e-13, -5.197544088176976e-14, 1.1678351696355356e-14,
    -2.593053457083206e-15, 5.681279394414833e-16, -1.1795898620066477e-16)


def _chebyshev(t, coefs):
    """``sum_k coefs[k] T_k(t)`` for ``t`` in [-1, 1], by Clenshaw's recurrence."""
    b1 = b2 = 0.0
    for c in coefs[:0:-1]:
        b1, b2 = 2 * t * b1 - b2 + c, b1
    return t * b1 - b2 + coefs[0]


_C_ERF_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))     # native byte order only


def _erf(xp, x):
    """The error function, elementwise, in ``x``'s dtype: libc's erf in a C loop
    (autogradx/_core/special.pyx) on NumPy float32 and float64 arrays, the Chebyshev
    interpolants on the others (CuPy, float16, tensors under create_graph)."""
    if type(x) is np.ndarray and x.dtype in _C_ERF_DTYPES:
        return _special.erf(x)
    return _erf_xp(xp, x)


def _erf_xp(xp, x):
    """The error function, elementwise, in ``x``'s dtype, on arrays of any backend."""
    a = xp.abs(x)
    small = xp.minimum(a, 1.0)
    mid = xp.clip(a, 1.0, 6.0)      # clipped so that neither branch overflows
    p = _chebyshev(2 * small * small - 1, _ERF_SMALL)
    q = _chebyshev((2 * mid - 7) / 5, _ERFC_SCALED)
    return xp.where(a < 1, x * p, xp.sign(x) * (1 - xp.exp(-mid * mid) * q))


_SQRT_2_PI = math.sqrt(2 / math.pi)


class _Quiet:
    """NumPy's floating-point warnings off, for a forward whose NaN or inf PyTorch gives
    silently: the engine's policy for a backward (silent unless the caller has set an error
    state with np.errstate, which then decides), through its context variable: np.errstate
    itself costs ~3 us, a third of gelu's forward on a (2, 3) array. Other array modules do
    not warn."""

    __slots__ = ("token",)

    def __enter__(self):
        state = _engine._np_errstate
        quiet = state is not None and state.get() is _engine._NP_DEFAULT
        self.token = state.set(_engine._NP_SILENT) if quiet else None

    def __exit__(self, *exc):
        if self.token is not None:
            _engine._np_errstate.reset(self.token)


def _gelu(xp, x, approximate="none"):
    """GELU: ``x * Phi(x)``, Phi the standard normal CDF.

    ``approximate='tanh'``: ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``.
    """
    _float_only("GeluKernelImpl", x)
    if approximate not in ("none", "tanh"):
        raise RuntimeError(
            f"gelu(): approximate argument must be either none or tanh, got {approximate!r}")
    # -inf * 0 (NaN, as PyTorch's) and, for 'tanh', x ** 3 overflowing (to inf: tanh is
    # then 1, the result x, as PyTorch's) happen without the warnings NumPy would give.
    with _Quiet():
        if approximate == "tanh":
            return 0.5 * x * (1 + xp.tanh(_SQRT_2_PI * (x + 0.044715 * x ** 3)))
        return x * 0.5 * (1 + _erf(xp, x * math.sqrt(0.5)))


def _gelu_vjp(xp, g, input, approximate="none"):
    x = input
    if approximate == "tanh":
        t = xp.tanh(_SQRT_2_PI * (x + 0.044715 * x ** 3))
        inner = _SQRT_2_PI * (1 + 3 * 0.044715 * x * x)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner)
    cdf = 0.5 * (1 + _erf(xp, x * math.sqrt(0.5)))
    pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return g * (cdf + x * pdf)


gelu = _ops.add(Op("gelu", _gelu, namespace=_NN, vjp={"input": _gelu_vjp}, jvp="elementwise"))


def _silu(xp, x, inplace=False):
    """SiLU (swish): ``x * sigmoid(x)``."""
    _float_only("silu_cpu", x)
    return x * _sigmoid(xp, x)


def _silu_vjp(xp, g, input, inplace=False):
    s = _sigmoid(xp, input)
    return g * s * (1 + input * (1 - s))


silu = _ops.add(Op("silu", _silu, namespace=_NN, inplace_param="inplace", vjp={"input": _silu_vjp}, jvp="elementwise"))


def _softplus(xp, x, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``; ``x`` itself where ``beta x > threshold``."""
    _float_only("softplus_cpu", x)
    bx = x * beta
    return xp.where(bx > threshold, x, xp.logaddexp(0, bx) / beta)


def _softplus_vjp(xp, g, input, beta=1.0, threshold=20.0):
    bx = input * beta
    return xp.where(bx > threshold, g, g * _sigmoid(xp, bx))


softplus = _ops.add(Op("softplus", _softplus, namespace=_NN, vjp={"input": _softplus_vjp},
                       jvp="elementwise"))


# -- softmax ------------------------------------------------------------------------

def _softmax_axis(ndim, dim):
    """The axis softmax normalises over; None for a 0-d input (a single element)."""
    if type(dim) is int and -ndim <= dim < ndim:
        return dim              # NumPy's reductions take a negative axis as PyTorch's dim
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1     # PyTorch's legacy implicit choice
    axis = _wrap_dim(dim, ndim)
    return axis if ndim else None


def _softmax_input(name, x, dim, stacklevel, dtype):
    if not isinstance(stacklevel, int):
        # torch.softmax(x, dim, dtype) and Tensor.softmax pass dtype third, where
        # F.softmax has its _stacklevel.
        dtype = stacklevel
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the "
                      "call to include dim=X as an argument.", UserWarning, stacklevel=4)
    if dtype is not None:
        x = x.astype(as_numpy_dtype(dtype))
    _float_only(f"{name}_kernel_impl", x)
    return x, _softmax_axis(x.ndim, dim)


def _softmax(xp, x, dim=None, _stacklevel=3, dtype=None):
    """``exp(x) / sum(exp(x))`` over ``dim``, computed from ``x - max(x)`` (no overflow).

    ``dtype``: the dtype to compute (and return) in.
    """
    x, axis = _softmax_input("softmax", x, dim, _stacklevel, dtype)
    if not x.size:
        return x.copy()         # (max over an empty axis has no identity)
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def _softmax_vjp(xp, g, result, dim=None, _stacklevel=3, dtype=None):
    axis = _softmax_axis(result.ndim, dim)
    return result * (g - xp.sum(g * result, axis=axis, keepdims=True))


# Its Jacobian diag(s) - s s^T is symmetric: the vjp formula is also the jvp's.
softmax = _ops.add(Op("softmax", _softmax, namespace=("", _NN), method=True,
                      vjp={"input": _softmax_vjp}, jvp={"input": _softmax_vjp}))


def _log_softmax(xp, x, dim=None, _stacklevel=3, dtype=None):
    """``log(softmax(x))`` over ``dim``, computed as ``x - max - log(sum(exp(x - max)))``.

    ``dtype``: the dtype to compute (and return) in.
    """
    x, axis = _softmax_input("log_softmax", x, dim, _stacklevel, dtype)
    if not x.size:
        return x.copy()         # (max over an empty axis has no identity)
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def _log_softmax_vjp(xp, g, result, dim=None, _stacklevel=3, dtype=None):
    axis = _softmax_axis(result.ndim, dim)
    return g - xp.exp(result) * xp.sum(g, axis=axis, keepdims=True)


log_softmax = _ops.add(Op("log_softmax", _log_softmax, namespace=("", _NN), method=True,
                          vjp={"input": _log_softmax_vjp}))


# -- dropout ------------------------------------------------------------------------

def _dropout_args(input, p=0.5, training=True, inplace=False):
    # Checked here, before the op runs, so that the error stays a ValueError as in PyTorch.
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return (input, p, training, inplace), {}


def _dropout(xp, x, p=0.5, training=True, inplace=False):
    """Zeroes each element with probability ``p`` and scales the others by ``1 / (1 - p)``.

    The mask comes from autogradx's default generator (``autogradx.manual_seed``).
    With ``training=False`` (or ``p=0``) the input comes back unchanged.
    """
    if not training or p == 0 or x.size == 0:
        return x.view(), None
    if x.dtype.kind != "f":
        refuse_complex("bernoulli_scalar_cpu_", x)
        raise RuntimeError(
            f"dropout(): result type Float can't be cast to the desired output type {x.dtype}")
    keep = _factories.default_generator.rng.random(x.shape) >= p
    scale = xp.asarray(keep, dtype=x.dtype) * (1 / (1 - p)) if p < 1 else xp.zeros_like(x)
    return x * scale, scale


dropout = _ops.add(Op("dropout", _dropout, namespace=_NN, parse=_dropout_args, residuals=True,
                      view=True, inplace_param="inplace",
                      grad_fn=lambda x, p=0.5, training=True, inplace=False:
                          "MulBackward0" if training and p > 0 and x.size else "AliasBackward0",
                      vjp=lambda xp, g, scale, p=0.5, training=True, inplace=False:
                          g if scale is None else g * scale, jvp="elementwise"))


# -- one_hot, pad (linear is composed of ops: autogradx/nn/functional.py) -----------------

def _one_hot(xp, x, num_classes=-1):
    """``out[..., k] = 1`` where ``input[...] == k``, else 0 (int64, one more dim).

    ``num_classes=-1``: one more than the largest index.
    """
    if x.dtype.kind != "i" or x.dtype.itemsize != 8:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if x.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(x.max()) + 1
    if x.size:
        if int(x.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(x.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return (x[..., None] == xp.arange(num_classes)).astype(x.dtype)


one_hot = _ops.add(Op("one_hot", _one_hot, namespace=_NN))


_NUMPY_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
                    "circular": "wrap"}


def _pad_widths(x, pad, mode, value):
    """``(axis, left, right)`` per padded axis (the last first, as ``pad`` lists them), checked."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k = len(pad) // 2
    if k > x.ndim:
        raise RuntimeError(
            f"Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pad)} and input of dimension {x.ndim}")
    if mode not in _NUMPY_PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    widths = [(x.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]) for i in range(k)]
    if mode == "constant":
        for axis, left, right in widths:
            if x.shape[axis] + left + right < 0:
                raise RuntimeError(f"pad(): padding ({left}, {right}) at dimension {axis} "
                                   f"leaves a negative size (input {list(x.shape)})")
        return widths
    if value is not None:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {x.ndim}D input tensor. Supported "
            "combinations for non-constant padding: 2D or 3D input: padding size = 2 (pads "
            "last dimension); 3D or 4D input: padding size = 4 (pads last 2 dimensions); 4D or "
            "5D input: padding size = 6 (pads last 3 dimensions).")
    for axis, left, right in widths:
        size = x.shape[axis]
        if mode == "reflect" and max(left, right) >= size:
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({left}, {right}) at dimension {axis} of input "
                f"{list(x.shape)}")
        if mode == "circular" and max(left, right) > size:
            raise RuntimeError("Padding value causes wrapping around more than once.")
    return widths


def _pad(xp, x, pad, mode="constant", value=None):
    """Pads (or, with negative sizes, crops) the last ``len(pad) // 2`` dims.

    ``pad = (left_last, right_last, left_second_last, ...)``. Modes:
    ``'constant'`` (with ``value``, 0 by default), ``'reflect'``, ``'replicate'``
    and ``'circular'``.
    """
    widths = _pad_widths(x, pad, mode, value)
    if not widths:
        return x.copy()
    crop = [slice(None)] * x.ndim
    padding = [(0, 0)] * x.ndim
    for axis, left, right in widths:
        crop[axis] = slice(max(-left, 0), x.shape[axis] - max(-right, 0))
        padding[axis] = (max(left, 0), max(right, 0))
    x = x[tuple(crop)]
    if mode == "constant":      # a filled array with x written in: xp.pad costs 20-40 us
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, padding))
        out = (xp.zeros(shape, dtype=x.dtype) if value is None
               else xp.full(shape, value, dtype=x.dtype))
        out[tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape, padding))] = x
        return out
    return xp.pad(x, padding, mode=_NUMPY_PAD_MODES[mode])


def _pad_name(x, pad, mode="constant", value=None):
    if mode == "constant":
        return "ConstantPadNdBackward0"
    if mode == "circular":
        return "torch::autograd::CopySlices"     # PyTorch builds it from slice copies
    kind = "Reflection" if mode == "reflect" else "Replication"
    return f"{kind}Pad{len(pad) // 2}DBackward0"


def _axis_slice(t, axis, start, stop):
    index = [slice(None)] * t.ndim
    index[axis] = slice(start, stop)
    return t[tuple(index)]


def _zero_pad(xp, t, axis, before, after):
    """``t`` with ``before`` and ``after`` zeros along ``axis`` (concatenated, so that it
    also runs on tensors)."""
    parts = []
    for n in (before, after):
        shape = list(t.shape)
        shape[axis] = n
        parts.append(xp.zeros(tuple(shape), dtype=t.dtype))
    return xp.concatenate([parts[0], t, parts[1]], axis=axis)


def _unpad_axis(xp, g, axis, left, right, mode):
    """The gradient of one padded axis: padded-in elements fold back onto their sources."""
    pl, pr = max(left, 0), max(right, 0)
    n = g.shape[axis] - pl - pr
    grad = _axis_slice(g, axis, pl, pl + n)
    head, tail = _axis_slice(g, axis, 0, pl), _axis_slice(g, axis, pl + n, pl + n + pr)
    if mode == "reflect":       # x[pl], ..., x[1] | x | x[n-2], ..., x[n-1-pr]
        if pl:
            grad = grad + _zero_pad(xp, xp.flip(head, axis), axis, 1, n - 1 - pl)
        if pr:
            grad = grad + _zero_pad(xp, xp.flip(tail, axis), axis, n - 1 - pr, 1)
    elif mode == "replicate":   # x[0] repeated | x | x[n-1] repeated
        if pl:
            grad = grad + _zero_pad(xp, xp.sum(head, axis=axis, keepdims=True), axis, 0, n - 1)
        if pr:
            grad = grad + _zero_pad(xp, xp.sum(tail, axis=axis, keepdims=True), axis, n - 1, 0)
    elif mode == "circular":    # x[n-pl:] | x | x[:pr]
        if pl:
            grad = grad + _zero_pad(xp, head, axis, n - pl, 0)
        if pr:
            grad = grad + _zero_pad(xp, tail, axis, 0, n - pr)
    if left < 0 or right < 0:   # cropped elements get no gradient
        grad = _zero_pad(xp, grad, axis, max(-left, 0), max(-right, 0))
    return grad


def _pad_vjp(xp, g, pad, mode="constant", value=None):
    pad = [int(p) for p in pad]
    if mode == "constant" and min(pad, default=0) >= 0:
        # nothing cropped, and the padding holds constants: the gradient is g over the input
        k = len(pad) // 2
        return g[(Ellipsis,) + tuple(slice(pad[2 * i], g.shape[-1 - i] - pad[2 * i + 1])
                                     for i in range(k - 1, -1, -1))]
    for i in range(len(pad) // 2):
        g = _unpad_axis(xp, g, g.ndim - 1 - i, pad[2 * i], pad[2 * i + 1], mode)
    return g


pad = _ops.add(Op("pad", _pad, namespace=_NN, grad_fn=_pad_name, vjp=_pad_vjp))


# -- layer_norm, embedding -------------------------------------------------------------

def _layer_norm_args(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    # PyTorch's order puts normalized_shape between the input and the other tensors.
    return (input, weight, bias), {"normalized_shape": normalized_shape, "eps": eps}


def _norm_axes(x, normalized_shape):
    shape = tuple(normalized_shape)
    return tuple(range(x.ndim - len(shape), x.ndim))


def _upcast(x):
    """float16 arrays in float32, as PyTorch computes them (a tensor under create_graph, or
    an array of another dtype, as it is)."""
    return x.astype(_FLOAT32) if isinstance(x.dtype, np.dtype) and x.dtype == np.float16 else x


def _mean(xp, x, axes, n):
    """``xp.mean(x, axes, keepdims=True)`` where ``n`` elements are averaged: the sum
    divided by a Python int costs half NumPy's mean (its division by an intp with casting
    options costs as much as the sum). The normalisations compute float16 in float32."""
    return xp.sum(x, axis=axes, keepdims=True) / n


def _moments(xp, x, axes):
    """``(mean, x - mean, biased variance)`` over ``axes`` (keeping them)."""
    n = math.prod([x.shape[a] for a in axes])
    mean = _mean(xp, x, axes, n)
    centred = x - mean
    return mean, centred, _mean(xp, centred * centred, axes, n)


def _normalized(xp, x, axes, eps):
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` (biased variance), and that reciprocal."""
    _, centred, var = _moments(xp, x, axes)
    rstd = 1 / xp.sqrt(var + eps)
    return centred * rstd, rstd


def _grad_normalized(xp, gw, xhat, rstd, axes):
    """The gradient of ``xhat = (x - mean(x)) * rstd`` (statistics over ``axes``) given the
    gradient ``gw`` of ``xhat``: the one formula of layer, batch, instance and group norm."""
    n = math.prod([gw.shape[a] for a in axes])
    return rstd * (gw - _mean(xp, gw, axes, n) - xhat * _mean(xp, gw * xhat, axes, n))


def _layer_norm(xp, x, weight=None, bias=None, *, normalized_shape, eps=1e-05):
    """Normalises over the last ``len(normalized_shape)`` dims to mean 0 and variance 1,
    then scales by ``weight`` and shifts by ``bias`` (both of ``normalized_shape``).

    ``layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05)``.
    """
    if not isinstance(normalized_shape, (tuple, list)):
        raise TypeError(f"layer_norm(): argument 'normalized_shape' (position 2) must be tuple "
                        f"of ints, not {type(normalized_shape).__name__}")
    shape = tuple(normalized_shape)
    if not shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    if x.shape[x.ndim - len(shape):] != shape or x.ndim < len(shape):
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size{list(x.shape)}")
    _float_only("LayerNormKernelImpl", x)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if t.shape != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(shape)}")
        if t.dtype != x.dtype:
            raise RuntimeError(f"layer_norm(): mixed dtype: expected {name} of dtype {x.dtype} "
                               f"as the input, got {t.dtype}")
    out, _ = _normalized(xp, _upcast(x), _norm_axes(x, shape), eps)
    if weight is not None:
        out = out * weight
    return (out if bias is None else out + bias).astype(x.dtype, copy=False)


def _layer_norm_vjp(xp, g, input, weight, *, normalized_shape, eps=1e-05):
    """The gradients of input, weight and bias, from one computation of the statistics
    (PyTorch's one formula for all three also keeps input and weight)."""
    axes = _norm_axes(input, normalized_shape)
    xhat, rstd = _normalized(xp, _upcast(input), axes, eps)
    g = _upcast(g)
    gw = g if weight is None else g * weight
    # weight's and bias's are summed over the batch dims by the engine.
    return (_grad_normalized(xp, gw, xhat, rstd, axes), None if weight is None else g * xhat, g)


layer_norm = _ops.add(Op("layer_norm", _layer_norm, namespace=_NN,
                         inputs=("input", "weight", "bias"), parse=_layer_norm_args,
                         grad_fn="NativeLayerNormBackward0", save=("input", "weight"),
                         vjp=_layer_norm_vjp))


def _embedding(xp, idx, weight, padding_idx=None, max_norm=None, norm_type=2.0,
               scale_grad_by_freq=False, sparse=False):
    """The rows of ``weight`` that ``input`` indexes: ``out[...] = weight[input[...]]``.

    ``padding_idx``: that row gets no gradient. ``scale_grad_by_freq``: a row's
    gradient is divided by how often the batch uses it.
    """
    if idx.dtype.kind not in "iu" or idx.dtype.itemsize not in (4, 8):
        raise RuntimeError(
            f"Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {idx.dtype} instead (while checking arguments for "
            "embedding)")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    # (PyTorch refuses only where the weight requires grad.)
    if weight.dtype.kind == "c":
        refuse_complex("embedding does not support automatic differentiation for outputs "
                       "with complex dtype.", weight, error=RuntimeError)
    n = weight.shape[0]
    if padding_idx is not None and not -n <= padding_idx < n:
        raise AssertionError("Padding_idx must be within num_embeddings")
    if max_norm is not None or sparse:
        raise NotImplementedError(
            "embedding(): max_norm (which renormalises weight in place) and sparse=True are "
            "not supported by autogradx")
    # xp's min and max: the array methods go through NumPy's Python wrappers.
    if idx.size and (int(xp.min(idx)) < 0 or int(xp.max(idx)) >= n):
        raise IndexError("index out of range in self")
    flat = idx.reshape(-1)
    scale = None
    if padding_idx is not None or scale_grad_by_freq:
        scale = xp.ones(flat.shape, dtype=weight.dtype)
        if scale_grad_by_freq:
            scale = scale / xp.bincount(flat, minlength=n)[flat]
        if padding_idx is not None:
            scale = xp.where(flat == padding_idx % n, 0, scale)
    return weight[idx], (flat, n, scale)


def _rows_sum(xp, n, idx, rows):
    """``out[i] = sum of rows[j] with idx[j] == i``: this module's one scatter-add
    (NumPy's ``add.at``; an ``index_add`` op can replace it for gradients of gradients)."""
    out = xp.zeros((n, rows.shape[-1]), dtype=rows.dtype)
    xp.add.at(out, idx, rows)
    return out


def _embedding_grad_weight(xp, g, residual, **params):
    flat, n, scale = residual
    rows = xp.reshape(g, (-1, g.shape[-1]))
    if scale is not None:
        rows = rows * scale[:, None]
    return _rows_sum(xp, n, flat, rows)


embedding = _ops.add(Op("embedding", _embedding, namespace=_NN, inputs=("input", "weight"),
                        residuals=True, vjp=(None, _embedding_grad_weight), jvp="linear"))


OPS = tuple(_ops)


# -- samples for the conformance kit ------------------------------------------------------

__getattr__ = lazy_conformance_cases(__name__)


def _conformance_cases():
    """Calls of each op: its parameters' values (slopes, modes, dims), optional inputs given
    and left out, index inputs."""
    import numpy as np

    from autogradx.conformance import Arg, Sample as S

    def x(*shape, low=-2.0, high=2.0):
        return Arg(shape, low, high)

    def I(values):          # an int64 index tensor
        return Arg(values=np.asarray(values, dtype=np.int64))

    pointwise = [S(x()), S(x(5)), S(x(2, 3))]
    return {
        "leaky_relu": pointwise + [S(x(2, 3), 0.2), S(x(2, 3), negative_slope=-0.5)],
        "threshold": [S(x(), 0.5, 3.0), S(x(2, 3), 0.1, -1.0), S(x(2, 3), -0.5, 0.0)],
        "threshold_backward": [S(x(2, 3), x(2, 3), 0.1), S(x(), x(), -0.5)],
        "elu": pointwise + [S(x(2, 3), 0.5), S(x(2, 3), alpha=2.0)],
        "gelu": pointwise + [S(x(2, 3, low=-4.0, high=4.0), approximate="tanh")],
        "silu": pointwise,
        # linear where beta * x > threshold: these values fall on both sides, away from it
        "softplus": pointwise + [S(x(2, 3), 2.0),
                                 S(Arg(values=[-3.0, 0.5, 5.0, 30.0]), 1.0, 10.0)],
        "softmax": [S(x(2, 3), 1), S(x(2, 3), dim=0), S(x(2, 3, 4), -1), S(x(), 0),
                    S(x(2, 3), 1, dtype="float64").options(out_dtype="float64")],
        "log_softmax": [S(x(2, 3), 1), S(x(2, 3), dim=0), S(x(2, 3, 4), -1), S(x(), 0)],
        "dropout": [S(x(4, 5), 0.5).options(manual_seed=0), S(x(4, 5), 0.5, False),
                    S(x(3), p=0.0), S(x(2, 3), 1.0).options(manual_seed=0)],
        "one_hot": [S(I([0, 2, 1]), 3), S(I([[0, 1], [3, 0]])), S(I(2), 4)],
        "pad": [S(x(2, 3), (1, 2)), S(x(2, 3), (1, 1, 0, 2), value=0.5), S(x(2, 3), (-1, 1)),
                S(x(1, 2, 3, 3), (1, 1, 1, 1), "reflect"), S(x(1, 2, 3), (2, 1), "replicate"),
                S(x(1, 2, 3), (1, 2), "circular"), S(x(1, 2, 3, 3), (1, 0, 2, 1), "circular")],
        "layer_norm": [S(x(2, 3), (3,), x(3), x(3)), S(x(2, 3, 4), (3, 4)),
                       S(x(2, 3), [3], weight=x(3), eps=1e-3)],
        # padding_idx and scale_grad_by_freq change the gradient from the derivative, on
        # purpose: here the padding row is not used and no row repeats, so they agree.
        "embedding": [S(I([[0, 2], [1, 0]]), x(3, 4)), S(I([1, 2, 2]), x(3, 2), padding_idx=0),
                      S(I([2, 0, 1]), x(3, 2), scale_grad_by_freq=True)],
    }
