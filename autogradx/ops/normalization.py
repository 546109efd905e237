"""Batch, instance and group normalisation (``autogradx.nn.functional``).

Each normalises ``input`` (``(N, C, *)``) to mean 0 and variance 1 over some of its
axes, then scales by a per-channel ``weight`` and shifts by a per-channel ``bias``:

* ``batch_norm``: over every axis but the channels', one mean per channel; in
  training it also updates ``running_mean``/``running_var`` in place (``(1 - momentum)
  * running + momentum * batch``, the unbiased variance), which PyTorch does without
  bumping their version counters, and so does autogradx. In evaluation it normalises
  with the running statistics instead.
* ``instance_norm``: over the spatial axes, one mean per sample and channel.
* ``group_norm``: over each group of ``C // num_groups`` channels with the spatial axes.

``layer_norm`` (in ``activations``) is the same computation over the trailing axes.
The input's gradient is one formula for all of them (``_grad_normalized``): the
derivative of ``(x - mean) * rstd`` over the axes the statistics were taken on. Each op
has one vjp for input, weight and bias (as PyTorch's one formula, it keeps input and
weight), so that a backward computes the statistics once.

``instance_norm`` is one op where PyTorch reshapes around ``batch_norm``: its node
takes the name of PyTorch's last one (``ViewBackward0``).
"""

import numpy as np

from autogradx._core.names import scalar_name
from autogradx.ops.activations import (_float_only, _grad_normalized, _moments, _normalized,
                                       _upcast)
from autogradx.plugin import Op, OpList, lazy_conformance_cases

_ops = OpList()      # every op defined below, in order; OPS at the end

_NN = "nn.functional"
_FLOAT32 = np.dtype("float32")


# -- shared pieces ----------------------------------------------------------------------

def _channels(xp, t, x):
    """A per-channel vector ``t`` shaped to broadcast against ``x`` (``(N, C, *)``)."""
    # (the method, on arrays and tensors alike: xp.reshape is NumPy's Python wrapper)
    return t.reshape((1, -1) + (1,) * (x.ndim - 2))


def _affine(xp, out, x, weight, bias):
    """``out * weight + bias`` per channel. ``out`` is a forward's own temporary array: the
    bias goes in in place, one array of ``x``'s size less to allocate (on large inputs
    each fresh one costs as much in page faults as the arithmetic)."""
    if weight is not None:
        out = out * _channels(xp, weight, x)
    if bias is not None:
        out += _channels(xp, bias, x)
    return out


def _not_channel_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _computed_in(kernel, x, *tensors):
    """The dtype to compute in: ``x``'s, or float32 for float16 ``x`` with float32 weights
    and statistics (PyTorch's one mixed case; the result keeps ``x``'s dtype)."""
    others = {t.dtype for t in tensors if t is not None} - {x.dtype}
    if not others:
        _float_only(kernel, x)
        return x.dtype
    if others != {_FLOAT32}:
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    if x.dtype != np.float16:
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
    return _FLOAT32


def _check_per_channel(x, **tensors):
    for name, t in tensors.items():
        if t is not None and t.size != x.shape[1]:
            raise RuntimeError(f"{name} should contain {x.shape[1]} elements not {t.size}")


def _scaled(xp, g, weight, x):
    """``g`` times the per-channel ``weight`` (the gradient of the normalised ``x``)."""
    return g if weight is None else g * _channels(xp, weight, x)


def _param_grads(xp, g, xhat, weight):
    """The gradients of the per-channel weight (None without one) and bias."""
    per_channel = _not_channel_axes(g)
    return (None if weight is None else xp.sum(g * xhat, axis=per_channel),
            xp.sum(g, axis=per_channel))


def _grads(xp, g, input, weight, xhat, rstd, axes):
    """The gradients of input, weight and bias from the statistics computed once for the
    three: ``axes`` are those of the statistics, None for constant ones (the running
    statistics of evaluation)."""
    gw = _scaled(xp, g, weight, input)
    grad_input = gw * rstd if axes is None else _grad_normalized(xp, gw, xhat, rstd, axes)
    return (grad_input, *_param_grads(xp, g, xhat, weight))


def _update_running(xp, running_mean, running_var, mean, var_unbiased, momentum):
    """PyTorch's exponential moving average, written into the buffers' arrays."""
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += momentum * mean
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += momentum * var_unbiased


# -- batch_norm ------------------------------------------------------------------------

def _batch_norm_args(input, running_mean, running_var, weight=None, bias=None, training=False,
                     momentum=0.1, eps=1e-05):
    # PyTorch's order puts the running statistics (no gradient) before the weight and bias.
    if training and input.ndim >= 2:
        n = input.numel() // input.shape[1]
        if n == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got "
                             f"input size torch.Size({list(input.shape)})")
    return (input, weight, bias), {"running_mean": running_mean, "running_var": running_var,
                                   "training": training, "momentum": momentum, "eps": eps}


def _uses_batch_stats(running_mean, running_var, training):
    return training or running_mean is None or running_var is None


def _batch_stats(xp, x, running_mean, running_var, training, eps):
    """``(xhat, rstd)``: ``x`` normalised with the batch's statistics or the running ones."""
    x = _upcast(x)
    if _uses_batch_stats(running_mean, running_var, training):
        return _normalized(xp, x, _not_channel_axes(x), eps)
    # The running statistics are arrays even where x is a tensor (gradients of gradients):
    # array methods and operators, not xp.
    shape = (1, -1) + (1,) * (x.ndim - 2)
    rstd = (running_var.reshape(shape) + eps) ** -0.5
    return (x - running_mean.reshape(shape)) * rstd, rstd


def _batch_norm(xp, x, weight=None, bias=None, *, running_mean, running_var, training=False,
                momentum=0.1, eps=1e-05):
    """Normalises each channel (dim 1) over the batch and spatial dims, then scales by
    ``weight`` and shifts by ``bias``; ``training`` uses the batch's statistics and updates
    ``running_mean``/``running_var`` in place, evaluation uses them.

    ``batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
    momentum=0.1, eps=1e-05)``.
    """
    if x.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but "
                         f"got 1)")
    _float_only("batch_norm", x)       # (before the dtypes of the others, as PyTorch)
    dtype = _computed_in("batch_norm", x, weight, bias, running_mean, running_var)
    _check_per_channel(x, weight=weight, bias=bias, running_mean=running_mean,
                       running_var=running_var)
    x, result_dtype = x.astype(dtype, copy=False), x.dtype
    if not training:
        for name, t in (("running_mean", running_mean), ("running_var", running_var)):
            if t is None:
                raise RuntimeError(f"{name} must be defined in evaluation mode")
    if training:
        # The batch's statistics once, for the output and the running ones.
        n = x.size // x.shape[1]
        mean, centred, var = _moments(xp, _upcast(x), _not_channel_axes(x))
        centred *= 1 / xp.sqrt(var + eps)
        xhat = centred          # (in place: a forward's arrays, see _affine)
        _update_running(xp, running_mean, running_var, mean.reshape(-1),
                        var.reshape(-1) * (n / max(n - 1, 1)), momentum)
    else:
        xhat, _ = _batch_stats(xp, x, running_mean, running_var, training, eps)
    return _affine(xp, xhat, x, weight, bias).astype(result_dtype, copy=False)


def _batch_norm_vjp(xp, g, input, weight, *, running_mean, running_var, training=False,
                    momentum=0.1, eps=1e-05):
    xhat, rstd = _batch_stats(xp, input, running_mean, running_var, training, eps)
    batch = _uses_batch_stats(running_mean, running_var, training)
    return _grads(xp, g, input, weight, xhat, rstd, _not_channel_axes(input) if batch else None)


batch_norm = _ops.add(Op("batch_norm", _batch_norm, namespace=_NN,
                         inputs=("input", "weight", "bias"), parse=_batch_norm_args,
                         grad_fn="NativeBatchNormBackward0", save=("input", "weight"),
                         vjp=_batch_norm_vjp))


# -- instance_norm ---------------------------------------------------------------------

def _instance_norm_args(input, running_mean=None, running_var=None, weight=None, bias=None,
                        use_input_stats=True, momentum=0.1, eps=1e-05):
    if use_input_stats and input.ndim >= 2 and input.numel() // (input.shape[0] * input.shape[1]) <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"torch.Size({list(input.shape)})")
    return (input, weight, bias), {"running_mean": running_mean, "running_var": running_var,
                                   "use_input_stats": use_input_stats, "momentum": momentum,
                                   "eps": eps}


def _instance_stats(xp, x, running_mean, running_var, use_input_stats, eps):
    """``(xhat, rstd)``: ``x`` normalised per sample and channel, or with the running statistics."""
    x = _upcast(x)
    if use_input_stats:
        return _normalized(xp, x, tuple(range(2, x.ndim)), eps)
    return _batch_stats(xp, x, running_mean, running_var, False, eps)


def _instance_norm(xp, x, weight=None, bias=None, *, running_mean=None, running_var=None,
                   use_input_stats=True, momentum=0.1, eps=1e-05):
    """Normalises each channel of each sample over the spatial dims, then scales by
    ``weight`` and shifts by ``bias``; with ``use_input_stats`` and running statistics,
    updates them in place with the batch's mean of the per-sample statistics, without
    it normalises with them.

    ``instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
    use_input_stats=True, momentum=0.1, eps=1e-05)``.
    """
    if x.ndim < 3:
        raise RuntimeError(f"instance_norm(): expected an input of shape (N, C, *) with at "
                           f"least one spatial dim, got {list(x.shape)}")
    _float_only("batch_norm", x)       # (before the dtypes of the others, as PyTorch)
    # (PyTorch repeats the running statistics per sample, which casts them: any float
    # dtype does.)
    dtype = _computed_in("batch_norm", x, weight, bias)
    _check_per_channel(x, weight=weight, bias=bias, running_mean=running_mean,
                       running_var=running_var)
    x, result_dtype = x.astype(dtype, copy=False), x.dtype
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    if use_input_stats:
        # The statistics once, for the output and the running ones.
        axes = tuple(range(2, x.ndim))
        n = x.size // (x.shape[0] * x.shape[1])
        mean, centred, var = _moments(xp, _upcast(x), axes)
        centred *= 1 / xp.sqrt(var + eps)
        xhat = centred          # (in place: a forward's arrays, see _affine)
        if running_mean is not None or running_var is not None:
            _update_running(xp, running_mean, running_var, xp.mean(mean, axis=axes + (0,)),
                            xp.mean(var, axis=axes + (0,)) * (n / (n - 1)), momentum)
    else:
        xhat, _ = _instance_stats(xp, x, running_mean, running_var, use_input_stats, eps)
    return _affine(xp, xhat, x, weight, bias).astype(result_dtype, copy=False)


def _instance_norm_vjp(xp, g, input, weight, *, running_mean=None, running_var=None,
                       use_input_stats=True, momentum=0.1, eps=1e-05):
    xhat, rstd = _instance_stats(xp, input, running_mean, running_var, use_input_stats, eps)
    axes = tuple(range(2, input.ndim)) if use_input_stats else None
    return _grads(xp, g, input, weight, xhat, rstd, axes)


instance_norm = _ops.add(Op("instance_norm", _instance_norm, namespace=_NN,
                            inputs=("input", "weight", "bias"), parse=_instance_norm_args,
                            grad_fn="ViewBackward0", save=("input", "weight"),
                            vjp=_instance_norm_vjp))


# -- group_norm ------------------------------------------------------------------------

def _group_norm_args(input, num_groups, weight=None, bias=None, eps=1e-05):
    return (input, weight, bias), {"num_groups": num_groups, "eps": eps}


def _grouped(xp, x, num_groups):
    """``x`` as ``(N, num_groups, rest)``: each group's statistics are over its last axis."""
    return x.reshape((x.shape[0], num_groups, -1))


def _group_stats(xp, x, num_groups, eps):
    """``(xhat, rstd)`` with ``xhat`` in ``x``'s shape and ``rstd`` per sample and group."""
    x = _upcast(x)
    xhat, rstd = _normalized(xp, _grouped(xp, x, num_groups), (2,), eps)
    return xhat.reshape(x.shape), rstd


def _group_norm(xp, x, weight=None, bias=None, *, num_groups, eps=1e-05):
    """Splits the channels (dim 1) into ``num_groups`` groups and normalises each group of
    each sample over its channels and the spatial dims, then scales by ``weight`` and shifts
    by ``bias`` (per channel).

    ``group_norm(input, num_groups, weight=None, bias=None, eps=1e-05)``.
    """
    if x.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{x.ndim}")
    if x.shape[1] % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(x.shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.size != x.shape[1]):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {list(t.shape)} "
                               f"and input of shape {list(x.shape)}")
    # (PyTorch compares the weight's dtype with the input's, or the bias's without a weight.)
    dtype = _computed_in("GroupNormKernelImpl", x, weight if weight is not None else bias)
    if weight is not None and bias is not None and bias.dtype != weight.dtype:
        raise RuntimeError(f"expected scalar type {scalar_name(weight.dtype)} but found "
                           f"{scalar_name(bias.dtype)}")
    result_dtype = x.dtype
    xhat, _ = _group_stats(xp, x.astype(dtype, copy=False), num_groups, eps)
    return _affine(xp, xhat, x, weight, bias).astype(result_dtype, copy=False)


def _group_norm_vjp(xp, g, input, weight, *, num_groups, eps=1e-05):
    """The gradients of input, weight and bias; the input's in groups, where its statistics
    were taken, the others per channel."""
    input = _upcast(input)
    xhat, rstd = _normalized(xp, _grouped(xp, input, num_groups), (2,), eps)
    gw = _grouped(xp, _scaled(xp, g, weight, input), num_groups)
    grad_input = _grad_normalized(xp, gw, xhat, rstd, (2,)).reshape(input.shape)
    return (grad_input, *_param_grads(xp, g, xhat.reshape(input.shape), weight))


group_norm = _ops.add(Op("group_norm", _group_norm, namespace=_NN,
                         inputs=("input", "weight", "bias"), parse=_group_norm_args,
                         grad_fn="NativeGroupNormBackward0", save=("input", "weight"),
                         vjp=_group_norm_vjp))


OPS = tuple(_ops)


# -- samples for the conformance kit ------------------------------------------------------

__getattr__ = lazy_conformance_cases(__name__)


def _conformance_cases():
    """Calls of each op: training and evaluation, with and without the affine tensors."""
    from autogradx.conformance import Arg, Sample as S

    def x(*shape, low=-2.0, high=2.0):
        return Arg(shape, low, high)

    def const(*shape):      # running statistics: no gradient, positive
        return Arg(shape, 0.5, 1.5, requires_grad=False)

    return {
        "batch_norm": [S(x(4, 3), None, None, x(3), x(3), True),
                       S(x(2, 3, 4), None, None, training=True),
                       # (training with running statistics writes into them, which the kit
                       # reports as a mutated input: tests/nn/test_normalization_torch.py)
                       S(x(2, 3, 4), const(3), const(3), x(3), x(3)),
                       S(x(2, 3), const(3), const(3), bias=x(3), eps=1e-3)],
        "instance_norm": [S(x(2, 3, 4)), S(x(2, 3, 2, 3), weight=x(3), bias=x(3)),
                          S(x(2, 3, 4), const(3), const(3), x(3), x(3), False)],
        "group_norm": [S(x(2, 4, 3), 2, x(4), x(4)), S(x(2, 6), 3), S(x(2, 4, 2, 2), 1, x(4)),
                       S(x(3, 2, 3), 2, bias=x(2), eps=1e-3)],
    }
