"""Loss functions of ``autogradx.nn.functional``, in their numerically stable forms.

Each loss is one op, so one backward node. Where PyTorch builds a loss out of
several nodes, the node takes the name of PyTorch's last one, so ``grad_fn``
reads the same: ``cross_entropy`` with class indices is ``log_softmax`` then
``nll_loss`` (``NllLossBackward0``), with label smoothing it ends in an
``AddBackward0``, with class probabilities in ``NegBackward0`` (or
``DivBackward1`` for the mean); a weighted ``mse_loss`` ends in ``MulBackward0``,
``SumBackward0`` or ``DivBackward0``; unbatched and >4-d ``nll_loss`` with
``reduction='none'`` end in PyTorch's ``ViewBackward0``.

Differences from PyTorch: the ``weight`` of ``cross_entropy`` never takes a
gradient (PyTorch gives one with class-probability targets, where its loss is
composite); errors PyTorch raises as ``ValueError`` come out of the core as
``RuntimeError`` with the same message.
"""

import math
import warnings

import numpy as np

from autogradx._core.names import scalar_name
from autogradx._core.tensor import TensorBase
from autogradx.ops.complex import refuse_complex
from autogradx.ops.reductions import _mean_of
from autogradx.plugin import Op, OpList, lazy_conformance_cases

_ops = OpList()      # every op defined below, in order; OPS at the end

_NN = "nn.functional"




def _not_implemented(kernel, dtype):
    return NotImplementedError(f'"{kernel}" not implemented for \'{scalar_name(dtype)}\'')


def _size(shape):
    return f"torch.Size({list(shape)})"


# -- reductions ------------------------------------------------------------------

def _reduction(size_average, reduce, reduction, warn=True):
    """Map PyTorch's legacy ``size_average``/``reduce`` pair onto ``reduction``.

    Only forwards warn (once per call, pointing at the caller); vjps and grad_fn
    names map quietly.
    """
    if size_average is None and reduce is None:
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"{reduction} is not a valid value for reduction")
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "none" if not reduce else ("mean" if size_average else "sum")
    if warn:
        # stacklevel 3: this helper, the forward, then the caller (the core adds no frame).
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
    return reduction


def _quiet(params):
    if params.get("size_average") is None and params.get("reduce") is None:
        return params.get("reduction", "mean")      # the forward has checked it
    return _reduction(params.get("size_average"), params.get("reduce"),
                      params.get("reduction", "mean"), warn=False)


def _reduce(xp, loss, reduction):
    if reduction == "mean":
        return _mean_of(xp, loss, None, False)      # xp.mean's bits, for a third of its cost
    if reduction == "sum":
        return xp.sum(loss)
    return loss


def _unreduce(xp, g, x, reduction):
    """``g`` divided by ``x``'s number of elements for the mean."""
    if reduction != "mean":
        return g
    return g / _numel(xp, x)


def _numel(xp, x):
    # np.size runs two Python frames; a NumPy array's attribute is the same number.
    return x.size if type(x) is np.ndarray else xp.size(x)


def _clamp(xp, x, lo, hi):
    """``xp.clip(x, lo, hi)``; on NumPy arrays two ufuncs (np.clip's Python wrappers cost
    ~2 us), which agree with it everywhere, NaN included."""
    if type(x) is np.ndarray:
        return np.minimum(np.maximum(x, lo), hi)
    return xp.clip(x, lo, hi)


def _safe_divisor(xp, total):
    """``total`` with zeros replaced by ones: a weight sum of 0 means every term is 0 too."""
    return xp.where(total == 0, 1, total)


def _by_weight_sum(xp, loss, total):
    """``sum(loss) / total``: NaN for a total of 0 (all targets ignored), without a warning."""
    return xp.where(total == 0, xp.nan, xp.sum(loss) / _safe_divisor(xp, total)).astype(loss.dtype)


# -- binary cross entropy ------------------------------------------------------------

def _bce_logits(xp, x, y, weight=None, size_average=None, reduce=None, reduction="mean",
                pos_weight=None):
    """Binary cross entropy between ``sigmoid(input)`` and ``target``, from logits."""
    if x.shape != y.shape:
        raise ValueError(
            f"Target size ({list(y.shape)}) must be the same as input size ({list(x.shape)})")
    reduction = _reduction(size_average, reduce, reduction)
    refuse_complex("log_sigmoid_cpu", x, y)
    # softplus(-x) = log(1 + exp(-x)), without overflow for large |x|.
    softplus_neg = xp.logaddexp(0, -x)
    if pos_weight is None:
        loss = (1 - y) * x + softplus_neg
    else:
        loss = (1 - y) * x + ((pos_weight - 1) * y + 1) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(xp, loss, reduction)


def _bce_logits_grad_input(xp, g, input, target, weight=None, size_average=None, reduce=None,
                           reduction="mean", pos_weight=None):
    x, y = input, target
    reduction = _reduction(size_average, reduce, reduction, warn=False)
    sig = xp.exp(-xp.logaddexp(0, -x))
    if pos_weight is None:
        grad = sig - y
    else:
        grad = ((pos_weight - 1) * y + 1) * sig - pos_weight * y
    if weight is not None:
        grad = grad * weight
    return _unreduce(xp, g, x, reduction) * grad


def _bce_logits_grad_target(xp, g, input, weight=None, size_average=None, reduce=None,
                            reduction="mean", pos_weight=None):
    x = input
    reduction = _reduction(size_average, reduce, reduction, warn=False)
    grad = -x if pos_weight is None else (pos_weight - 1) * xp.logaddexp(0, -x) - x
    if weight is not None:
        grad = grad * weight
    return _unreduce(xp, g, x, reduction) * grad


binary_cross_entropy_with_logits = _ops.add(Op(
    "binary_cross_entropy_with_logits", _bce_logits, namespace=_NN,
    inputs=("input", "target", "weight"), promote="elementwise",
    vjp={"input": _bce_logits_grad_input, "target": _bce_logits_grad_target}))


def _clamped_log(xp, x):
    """``max(log(x), -100)`` as PyTorch's BCE computes it; no warning at ``x = 0``."""
    return xp.where(x > 0, xp.maximum(xp.log(xp.where(x > 0, x, 1)), -100), -100)


def _clamped_log1m(xp, x):
    """``max(log(1 - x), -100)``; no warning at ``x = 1``."""
    return xp.where(x < 1, xp.maximum(xp.log1p(-xp.where(x < 1, x, 0)), -100), -100)


def _bce_weighted(xp, v, weight, x):
    """``v`` times ``weight`` in ``x``'s dtype; ``v`` itself without a weight (no pass)."""
    return v if weight is None else v * xp.asarray(weight, dtype=x.dtype)


def _bce(xp, input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross entropy between probabilities ``input`` and ``target``.

    ``-weight * (target * log(input) + (1 - target) * log(1 - input))``, each
    log clamped to ``>= -100`` as in PyTorch, so that 0 and 1 give finite losses.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(
            f"Using a target size ({_size(target.shape)}) that is different to the input size "
            f"({_size(input.shape)}) is deprecated. Please ensure they have the same size.")
    if input.dtype.kind != "f":
        raise _not_implemented("binary_cross_entropy", input.dtype)
    if target.dtype != input.dtype:
        raise RuntimeError(
            f"Found dtype {scalar_name(target.dtype)} but expected {scalar_name(input.dtype)}")
    if not xp.all((input >= 0) & (input <= 1)):    # NaN too, as PyTorch
        raise RuntimeError("all elements of input should be between 0 and 1")
    loss = (target - 1) * _clamped_log1m(xp, input) - target * _clamped_log(xp, input)
    return _reduce(xp, _bce_weighted(xp, loss, weight, input), reduction)


def _bce_grad_input(xp, g, input, target, weight=None, **params):
    x, y = input, target
    # PyTorch's formula: (x - y) / max(x (1 - x), 1e-12), finite at 0 and 1.
    grad = _bce_weighted(xp, (x - y) / xp.maximum((1 - x) * x, 1e-12), weight, x)
    return _unreduce(xp, g, x, _quiet(params)) * grad


def _bce_grad_target(xp, g, input, weight=None, **params):
    x = input
    # -logit(x) = log(1 - x) - log(x): +-inf at 0 and 1, as in PyTorch (no clamping here).
    inner = xp.where((x > 0) & (x < 1), x, 0.5)
    neg_logit = xp.where(x <= 0, xp.inf, xp.where(x >= 1, -xp.inf,
                                                  xp.log1p(-inner) - xp.log(inner)))
    return _bce_weighted(xp, _unreduce(xp, g, x, _quiet(params)) * neg_logit, weight, x)


binary_cross_entropy = _ops.add(Op(
    "binary_cross_entropy", _bce, namespace=_NN, inputs=("input", "target", "weight"),
    vjp={"input": _bce_grad_input, "target": _bce_grad_target}))


# -- regression losses: a function of input - target, elementwise ---------------------
#
# PyTorch's signatures put ``weight`` after the reduction arguments; a ``parse``
# hook moves it among the tensor inputs, so that it takes a gradient as in
# PyTorch (where the weighted losses are composite).

def _weight_last(op, *params):
    """A parse hook: PyTorch's ``(input, target, *params, weight)`` into the op's order."""
    names = params + ("weight",)

    def parse(input=None, target=None, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError(f"{op}() takes from 2 to {2 + len(names)} positional arguments but "
                            f"{2 + len(args)} were given")
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"{op}() got multiple values for argument '{name}'")
            kwargs[name] = value
        return (input, target), kwargs
    return parse


def _warn_size(x, y):
    if x.shape != y.shape:
        # stacklevel 4: this helper, _pointwise, the forward, then the caller.
        warnings.warn(
            f"Using a target size ({_size(y.shape)}) that is different to the input size "
            f"({_size(x.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.", UserWarning, stacklevel=4)


def _pointwise(xp, x, y, weight, reduction, elem, weight_sum_mean, **params):
    """``elem(input - target)`` times ``weight``, reduced.

    ``weight_sum_mean``: the mean divides by ``sum(weight)`` (mse, l1) rather
    than by the number of elements (huber), as PyTorch's weighted losses do.
    """
    _warn_size(x, y)
    if weight is not None and weight.shape != x.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = elem(xp, x - y, **params)
    if weight is None:
        return _reduce(xp, loss, reduction)
    loss = loss * weight
    if reduction == "mean" and weight_sum_mean:
        return xp.sum(loss) / xp.sum(weight)
    return _reduce(xp, loss, reduction)


def _pointwise_vjps(elem, slope, weight_sum_mean, reduction=_quiet):
    """The derivative formulas of input, target and weight of a loss built by ``_pointwise``."""
    def scale(xp, g, d, weight, params):
        if reduction(params) != "mean":
            return g
        return g / (xp.sum(weight) if weight is not None and weight_sum_mean else _numel(xp, d))

    def grad_input(xp, g, input, target, weight=None, **params):
        d = input - target
        grad = slope(xp, d, **params)
        if weight is not None:
            grad = grad * weight
        return scale(xp, g, d, weight, params) * grad

    def grad_target(xp, g, input, target, weight=None, **params):
        return -grad_input(xp, g, input, target, weight, **params)

    def grad_weight(xp, g, input, target, weight, **params):
        d = input - target
        loss = elem(xp, d, **params)
        if reduction(params) == "mean" and weight_sum_mean:
            # d/dw of sum(w l) / sum(w)
            total = xp.sum(weight)
            return g * (loss - xp.sum(loss * weight) / total) / total
        return scale(xp, g, d, weight, params) * loss

    return {"input": grad_input, "target": grad_target, "weight": grad_weight}


def _pointwise_name(unweighted, weighted_mean, reduction=_quiet):
    """grad_fn names: PyTorch's own node unweighted, its last composite node weighted."""
    def name(x, y, weight=None, **params):
        if weight is None:
            return unweighted(params) if callable(unweighted) else unweighted
        return {"none": "MulBackward0", "sum": "SumBackward0",
                "mean": weighted_mean}[reduction(params)]
    return name


def _float_only(kernel, x):
    if x.dtype.kind != "f":
        raise _not_implemented(kernel, x.dtype)


def _mse(xp, input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Mean squared error ``(input - target) ** 2``, optionally weighted.

    Called as ``mse_loss(input, target, size_average=None, reduce=None,
    reduction='mean', weight=None)``; the weighted mean divides by ``sum(weight)``.
    """
    reduction = _reduction(size_average, reduce, reduction)
    _float_only("mse_cpu", input)
    return _pointwise(xp, input, target, weight, reduction, _square, True)


def _square(xp, d, **_):
    return d * d


mse_loss = _ops.add(Op(
    "mse_loss", _mse, namespace=_NN, inputs=("input", "target", "weight"),
    promote="elementwise", parse=_weight_last("mse_loss", "size_average", "reduce", "reduction"),
    grad_fn=_pointwise_name("MseLossBackward0", "DivBackward0"),
    vjp=_pointwise_vjps(_square, lambda xp, d, **_: 2 * d, True)))


def _abs(xp, d, **_):
    return xp.abs(d)


def _sign(xp, d, **_):
    return xp.sign(d)


_L1_NAMES = {"none": "AbsBackward0", "mean": "MeanBackward0", "sum": "SumBackward0"}


def _l1(xp, input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Mean absolute error ``|input - target|``, optionally weighted.

    Called as ``l1_loss(input, target, size_average=None, reduce=None,
    reduction='mean', weight=None)``; the weighted mean divides by ``sum(weight)``.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if reduction == "mean" and input.dtype.kind not in "fc":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating "
            f"point or complex dtype. Got: {scalar_name(input.dtype)}")
    return _pointwise(xp, input, target, weight, reduction, _abs, True)


l1_loss = _ops.add(Op(
    "l1_loss", _l1, namespace=_NN, inputs=("input", "target", "weight"),
    promote="elementwise", parse=_weight_last("l1_loss", "size_average", "reduce", "reduction"),
    grad_fn=_pointwise_name(lambda p: _L1_NAMES[_quiet(p)], "DivBackward0"),
    vjp=_pointwise_vjps(_abs, _sign, True)))


def _smooth_l1_elem(xp, d, beta=1.0, **_):
    if beta == 0:
        return xp.abs(d)
    a = xp.abs(d)
    return xp.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)


def _smooth_l1_slope(xp, d, beta=1.0, **_):
    return xp.sign(d) if beta == 0 else _clamp(xp, d / beta, -1, 1)


def _smooth_l1(xp, input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Smooth L1: ``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``.

    ``d = input - target``; ``beta=0`` is the L1 loss.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta != 0:
        _float_only("smooth_l1_cpu", input)
    return _pointwise(xp, input, target, None, reduction, _smooth_l1_elem, False, beta=beta)


def _smooth_l1_vjps():
    vjps = _pointwise_vjps(_smooth_l1_elem, _smooth_l1_slope, False)
    grad_input, grad_target = vjps["input"], vjps["target"]
    return {"input": lambda xp, g, input, target, **params:
                grad_input(xp, g, input, target, None, **params),
            "target": lambda xp, g, input, target, **params:
                grad_target(xp, g, input, target, None, **params)}


def _smooth_l1_name(x, y, **params):
    if params.get("beta", 1.0) == 0:
        return _L1_NAMES[_quiet(params)]       # PyTorch calls l1_loss for beta=0
    return "SmoothL1LossBackward0"


smooth_l1_loss = _ops.add(Op(
    "smooth_l1_loss", _smooth_l1, namespace=_NN, inputs=("input", "target"),
    promote="elementwise", grad_fn=_smooth_l1_name,
    vjp=_smooth_l1_vjps()))


def _huber_elem(xp, d, delta=1.0, **_):
    a = xp.abs(d)
    return xp.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


def _huber_slope(xp, d, delta=1.0, **_):
    return _clamp(xp, d, -delta, delta)


def _huber_reduction(params):
    return _reduction(None, None, params.get("reduction", "mean"), warn=False)


def _huber(xp, input, target, weight=None, reduction="mean", delta=1.0):
    """Huber loss: ``0.5 d**2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``.

    Called as ``huber_loss(input, target, reduction='mean', delta=1.0,
    weight=None)``. As in PyTorch, the unweighted loss has the input's dtype
    (the target is cast to it), and the weighted mean divides by the number
    of elements.
    """
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _float_only("huber_cpu", input)
    if target.dtype != input.dtype:
        target = target.astype(input.dtype)
    if weight is not None and weight.dtype.kind != "f":
        weight = weight.astype(input.dtype)
    return _pointwise(xp, input, target, weight, reduction, _huber_elem, False, delta=delta)


huber_loss = _ops.add(Op(
    "huber_loss", _huber, namespace=_NN, inputs=("input", "target", "weight"),
    parse=_weight_last("huber_loss", "reduction", "delta"),
    grad_fn=_pointwise_name("HuberLossBackward0", "MeanBackward0", _huber_reduction),
    vjp=_pointwise_vjps(_huber_elem, _huber_slope, False, _huber_reduction)))


# -- classification losses: class indices (or probabilities) along dim 1 --------------

def _class_dim(x):
    return 0 if x.ndim == 1 else 1


_CLASS_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.uint8))


def _check_classes(x, target, weight):
    """PyTorch's checks of an ``(N, C, d1, ...)`` input against its class-index target."""
    if x.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {x.ndim})")
    if target.dtype not in _CLASS_INDEX_DTYPES:
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {scalar_name(target.dtype)}")
    if x.ndim <= 2 and target.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if x.ndim >= 2 and target.shape[:1] != x.shape[:1]:
        got = target.shape[0] if target.ndim else "none"
        raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target "
                         f"batch_size ({got}).")
    expected = x.shape[:1] + x.shape[2:] if x.ndim >= 2 else ()
    if target.shape != expected:
        raise RuntimeError(f"Expected target size {list(expected)}, got {list(target.shape)}")
    _check_class_weight(x, weight, "")
    if weight is not None and weight.dtype != x.dtype:
        raise RuntimeError(f"expected scalar type {scalar_name(x.dtype)} but found "
                           f"{scalar_name(weight.dtype)}")


def _check_class_weight(x, weight, prefix):
    n_classes = x.shape[_class_dim(x)]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != n_classes):
        raise RuntimeError(
            f"{prefix}weight tensor should be defined either for all {n_classes} classes or "
            f"no classes but got weight tensor of shape: {list(weight.shape)}")


def _targets(xp, x, target, weight, ignore_index, check=False):
    """``(safe, keep, w)``: targets safe to index with (0 where ignored), the mask of
    the kept ones, and each target's class weight (0 where ignored), in ``x``'s dtype."""
    keep = target != ignore_index
    n_classes = x.shape[_class_dim(x)]
    if check:
        bad = keep & ((target < 0) | (target >= n_classes))
        if xp.any(bad):
            raise IndexError(f"Target {int(target[bad].ravel()[0])} is out of bounds.")
    safe = xp.where(keep, target, 0)
    # (the class weights have x's dtype: checked by the forward)
    w = xp.asarray(keep, dtype=x.dtype) if weight is None else xp.where(keep, weight[safe], 0)
    return safe, keep, w


def _pick(xp, x, safe):
    """``x`` at the target class of each sample: the class dim taken away."""
    if x.ndim == 2 and not isinstance(x, TensorBase):
        return x[xp.arange(x.shape[0]), safe]      # (N, C): the same, without the general indexing
    cd = _class_dim(x)
    return xp.squeeze(xp.take_along_axis(x, xp.expand_dims(safe, cd), cd), cd)


def _pick_kept(xp, x, safe, keep):
    """_pick, with 0 for the ignored samples: their values (NaN or inf too) must not reach
    the loss, as they would through a weight of 0."""
    return xp.where(keep, _pick(xp, x, safe), 0)


def _one_hot(xp, x, safe):
    """Boolean mask of ``x``'s shape, true at each sample's target class."""
    cd = _class_dim(x)
    classes = xp.arange(x.shape[cd]).reshape((-1,) + (1,) * (x.ndim - cd - 1))
    return xp.expand_dims(safe, cd) == classes


def _class_weight(weight, x):
    """The class weights shaped to broadcast along ``x``'s class dim (1 if None)."""
    if weight is None:
        return 1
    return weight.reshape((-1,) + (1,) * (x.ndim - _class_dim(x) - 1))


def _nll_reduce(xp, loss, w, reduction):
    if reduction == "mean":
        return _by_weight_sum(xp, loss, xp.sum(w))
    return _reduce(xp, loss, reduction)


def _nll_scale(xp, g, w, reduction):
    """The output gradient spread on the samples: ``g / sum(w)`` for the mean."""
    return g / _safe_divisor(xp, xp.sum(w)) if reduction == "mean" else g


def _nll(xp, input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
         reduction="mean"):
    """Negative log likelihood of log-probabilities ``input`` at class indices ``target``.

    ``input`` is ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``; ``target`` holds
    class indices (int64 or uint8), ``ignore_index`` marks samples that count
    for nothing. The mean divides by the summed weights of the kept targets
    (NaN when none is kept), as PyTorch does.
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_classes(input, target, weight)
    if input.dtype.kind != "f":
        raise _not_implemented("nll_loss_out_frame", input.dtype)
    # The residual: whether _plain_targets held (the vjp then need not test the targets again).
    if _plain_targets(xp, input, target, weight, ignore_index, 0.0):
        return _plain_nll(xp, input, target, reduction), True
    safe, keep, w = _targets(xp, input, target, weight, ignore_index, check=True)
    return _nll_reduce(xp, -w * _pick_kept(xp, input, safe, keep), w, reduction), False


def _nll_grad(xp, g, input, target, weight, plain, ignore_index=-100, **params):
    # input for its shape and dtype only, but nothing else read gives the number of classes
    x = input
    if plain and not isinstance(x, TensorBase):
        return _plain_nll_grad(xp, g, x, target, _quiet(params))
    safe, _, w = _targets(xp, x, target, weight, ignore_index)
    gw = _nll_scale(xp, g, w, _quiet(params)) * w
    return -xp.expand_dims(gw, _class_dim(x)) * _one_hot(xp, x, safe)


def _nll_name_of(x, reduction):
    if x.ndim <= 2:
        return "NllLossBackward0"
    if x.ndim == 4 or reduction != "none":
        return "NllLoss2DBackward0"
    return "ViewBackward0"      # PyTorch reshapes to 4-d and views the result back


def _nll_name(x, target, weight=None, **params):
    return _nll_name_of(x, _quiet(params))


nll_loss = _ops.add(Op(
    "nll_loss", _nll, namespace=_NN, inputs=("input", "target", "weight"),
    save=("input", "target", "weight"), residuals=True, grad_fn=_nll_name,
    vjp=(_nll_grad, None, None)))


def _log_softmax(xp, x, axis):
    """``log(softmax(x))`` without overflow: shifted by the max along ``axis``."""
    z = x - xp.max(x, axis=axis, keepdims=True)
    return z - xp.log(xp.sum(xp.exp(z), axis=axis, keepdims=True))


def _probability_targets(x, target):
    return target.shape == x.shape


def _smoothed(target, n_classes, label_smoothing):
    if label_smoothing > 0:
        return target * (1 - label_smoothing) + label_smoothing / n_classes
    return target


def _check_smoothing(label_smoothing):
    if label_smoothing > 1:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")


def _cross_entropy(xp, input, target, weight=None, size_average=None, ignore_index=-100,
                   reduce=None, reduction="mean", label_smoothing=0.0):
    """Cross entropy between ``softmax(input)`` along dim 1 (dim 0 for 1-d input) and ``target``.

    ``target`` holds class indices (like :func:`nll_loss`, with ``ignore_index``),
    or class probabilities with ``input``'s shape (float). ``label_smoothing``
    mixes the target with the uniform distribution. Computed through a stable
    log-softmax, so large logits do not overflow.
    """
    # Returns (loss, (log-softmax, whether _plain_targets held)): the vjps reuse both (see
    # _ce_log_softmax).
    reduction = _reduction(size_average, reduce, reduction)
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    cd = _class_dim(input)
    n_classes = input.shape[cd]
    if _probability_targets(input, target):
        if target.dtype.kind != "f":
            raise RuntimeError("Expected floating point type for target with class "
                               f"probabilities, got {scalar_name(target.dtype)}")
        _check_class_weight(input, weight, "cross_entropy: ")
        _check_smoothing(label_smoothing)
    else:
        _check_classes(input, target, weight)
        if label_smoothing > 0:
            _check_smoothing(label_smoothing)
    if input.dtype.kind != "f":
        raise _not_implemented("log_softmax_lastdim_kernel_impl", input.dtype)
    logp = _log_softmax(xp, input, cd)
    if _probability_targets(input, target):
        if weight is not None and weight.dtype.kind != "f":
            weight = weight.astype(input.dtype)
        terms = logp * _smoothed(target, n_classes, label_smoothing) * _class_weight(weight, input)
        if reduction == "none":
            return -xp.sum(terms, axis=cd), (logp, False)
        if reduction == "sum":
            return -xp.sum(terms), (logp, False)
        if input.size == 0:
            return xp.asarray(xp.nan, dtype=terms.dtype), (logp, False)
        return -xp.sum(terms) / _n_samples(xp, input), (logp, False)
    if _plain_targets(xp, input, target, weight, ignore_index, label_smoothing):
        return _plain_nll(xp, logp, target, reduction), (logp, True)
    safe, keep, w = _targets(xp, input, target, weight, ignore_index, check=True)
    loss = -w * _pick_kept(xp, logp, safe, keep)
    if label_smoothing > 0:
        smooth = -xp.sum(logp * _class_weight(weight, input), axis=cd)
        smooth = xp.where(keep, smooth, 0)
        loss = (1 - label_smoothing) * loss + label_smoothing / n_classes * smooth
    return _nll_reduce(xp, loss, w, reduction), (logp, False)


def _plain_targets(xp, x, target, weight, ignore_index, label_smoothing):
    """The common call: (N, C) arrays with N in-range class indices, none ignored, no
    class weights, no smoothing. Every mask and weight of the general path is then 1, so
    the shorter computation gives its bits (N < 2**24: a float32 count of N is N)."""
    if (x.ndim != 2 or target.ndim != 1 or weight is not None or label_smoothing > 0
            or isinstance(x, TensorBase) or not 0 < target.shape[0] < 2 ** 24):
        return False
    # (xp's: NumPy's array methods run its Python wrappers)
    lo, hi = int(xp.min(target)), int(xp.max(target))
    return 0 <= lo and hi < x.shape[1] and not lo <= ignore_index <= hi


def _plain_nll(xp, logp, target, reduction):
    """The nll loss of _plain_targets: the general path's bits, every weight being 1."""
    loss = -1.0 * _pick(xp, logp, target)      # -w * picked with every w 1
    return (loss if reduction == "none" else xp.sum(loss) if reduction == "sum"
            else xp.sum(loss) / xp.asarray(logp.shape[0], dtype=loss.dtype))


def _plain_nll_grad(xp, g, x, target, reduction):
    """_nll_grad for _plain_targets: ``v`` (minus the output gradient per sample) at each
    target, ``v * 0`` elsewhere (the general path's zeros, with their signs)."""
    v = -(g / xp.asarray(x.shape[0], dtype=x.dtype) if reduction == "mean" else g)
    if v.ndim:
        v = v[:, None]
    out = v * xp.zeros_like(x)
    out[xp.arange(x.shape[0]), target] = v if v.ndim == 0 else v[:, 0]
    return out


def _ce_grad_plain(xp, g, logp, target, reduction):
    """_ce_grad_input for _plain_targets, in 5 array operations instead of about 15; None
    where the output gradient is zero or not finite (the general path then keeps its
    NaNs and the signs of its zeros)."""
    gs = g / xp.asarray(logp.shape[0], dtype=logp.dtype) if reduction == "mean" else g
    v = -1 * gs                                     # the target's entry of grad_logp
    if v.ndim == 0:                                 # (a mean or sum: a Python test is cheaper)
        if not (math.isfinite(v) and v != 0):
            return None
    elif not bool(xp.all(xp.isfinite(v) & (v != 0))):
        return None
    else:
        v = v[:, None]
    # grad_logp is v at the target and v * 0 (a zero of v's sign) elsewhere; each row
    # sums to v exactly, so the result is grad_logp - exp(logp) * v.
    pv = xp.exp(logp) * v
    out = v * 0.0 - pv
    rows = xp.arange(logp.shape[0])
    picked = v - pv[rows, target] if v.ndim == 0 else v[:, 0] - pv[rows, target]
    out[rows, target] = picked
    return out


def _n_samples(xp, x):
    """The number of samples of ``(N, C, d1, ...)`` input: ``N * d1 * ...``."""
    return xp.size(x) // x.shape[_class_dim(x)]


def _ce_probability_scale(xp, g, x, reduction):
    """The output gradient spread back along the class dim, for probability targets."""
    if reduction == "mean":
        g = g / _n_samples(xp, x)
    return xp.expand_dims(g, _class_dim(x)) if reduction == "none" else g


def _ce_log_softmax(xp, x, logp):
    """The forward's log-softmax when the vjp runs on arrays; recomputed from ``x``
    when it runs on tensors (create_graph), so that its dependence on ``x`` is recorded."""
    return _log_softmax(xp, x, _class_dim(x)) if isinstance(x, TensorBase) else logp


def _ce_grad_input(xp, g, x, target, weight, res, ignore_index=-100, label_smoothing=0.0,
                   **params):
    reduction = _quiet(params)
    cd = _class_dim(x)
    n_classes = x.shape[cd]
    logp, plain = res
    logp = _ce_log_softmax(xp, x, logp)
    if _probability_targets(x, target):
        grad_logp = (-_ce_probability_scale(xp, g, x, reduction)
                     * _smoothed(target, n_classes, label_smoothing) * _class_weight(weight, x))
    else:
        if plain and not isinstance(x, TensorBase):    # (the forward's _plain_targets)
            out = _ce_grad_plain(xp, g, logp, target, reduction)
            if out is not None:
                return out
        safe, keep, w = _targets(xp, x, target, weight, ignore_index)
        gs = _nll_scale(xp, g, w, reduction)
        nll_part = 1 - label_smoothing if label_smoothing > 0 else 1
        grad_logp = -nll_part * xp.expand_dims(gs * w, cd) * _one_hot(xp, x, safe)
        if label_smoothing > 0:
            spread = xp.expand_dims(gs * keep, cd) * _class_weight(weight, x)
            grad_logp = grad_logp - label_smoothing / n_classes * spread
    # the vjp of log_softmax: g - softmax * sum(g)
    return grad_logp - xp.exp(logp) * xp.sum(grad_logp, axis=cd, keepdims=True)


def _ce_grad_target(xp, g, x, target, weight, res, ignore_index=-100, label_smoothing=0.0,
                    **params):
    # Only probability targets are floating point, so only they reach this vjp.
    logp = _ce_log_softmax(xp, x, res[0])
    keep = 1 - label_smoothing if label_smoothing > 0 else 1
    return (-keep * _ce_probability_scale(xp, g, x, _quiet(params)) * logp
            * _class_weight(weight, x))


def _ce_name(x, target, weight=None, label_smoothing=0.0, **params):
    reduction = _quiet(params)
    if _probability_targets(x, target):
        return "DivBackward1" if reduction == "mean" else "NegBackward0"
    if label_smoothing > 0:
        return "AddBackward0"
    return _nll_name_of(x, reduction)


cross_entropy = _ops.add(Op(
    "cross_entropy", _cross_entropy, namespace=_NN, inputs=("input", "target", "weight"),
    save=("input", "target", "weight"), residuals=True, grad_fn=_ce_name,
    vjp=(_ce_grad_input, _ce_grad_target, None)))


OPS = tuple(_ops)


# -- samples for the conformance kit ------------------------------------------------------

__getattr__ = lazy_conformance_cases(__name__)


def _conformance_cases():
    """Calls of each loss: every reduction, weights, the parameters (beta, delta,
    pos_weight, ignore_index, label_smoothing), class indices and class probabilities."""
    import numpy as np

    from autogradx.conformance import Arg, Sample as S

    def x(*shape, low=-2.0, high=2.0):
        return Arg(shape, low, high)

    def const(*shape, low=0.2, high=2.0):       # weights: no gradient
        return Arg(shape, low, high, requires_grad=False)

    def I(values):          # int64 class indices
        return Arg(values=np.asarray(values, dtype=np.int64))

    def pointwise(**params):
        return [S(x(2, 3), x(2, 3), **params), S(x(2, 3), x(2, 3), reduction="sum", **params),
                S(x(2, 3), x(2, 3), reduction="none", **params), S(x(), x(), **params)]

    prob = x(2, 3, low=0.05, high=0.95)         # inside (0, 1), away from its clamped ends
    target = x(2, 3, low=0.0, high=1.0)
    weighted = [S(x(2, 3), x(2, 3), weight=x(2, 3)),
                S(x(2, 3), x(2, 3), reduction="none", weight=x(2, 3))]
    # Class probabilities along dim 1 (rows that sum to 1 are not needed for the gradient).
    probs = x(3, 4, low=0.0, high=1.0)
    return {
        "binary_cross_entropy_with_logits": [
            S(x(2, 3), target), S(x(2, 3), target, reduction="sum"),
            S(x(2, 3), target, const(3), reduction="none"),
            S(x(2, 3), target, pos_weight=const(3)), S(x(), x(low=0.0, high=1.0))],
        "binary_cross_entropy": [
            S(prob, target), S(prob, target, reduction="sum"),
            S(prob, target, const(2, 3), reduction="none"), S(prob, target, weight=const(3))],
        "mse_loss": pointwise() + weighted,
        "l1_loss": pointwise() + weighted,
        "smooth_l1_loss": pointwise() + pointwise(beta=0.5)[:1] + pointwise(beta=0.0)[:1],
        "huber_loss": pointwise() + pointwise(delta=0.5)[:1] + weighted,
        "nll_loss": [S(x(3, 4), I([0, 3, 1])), S(x(3, 4), I([0, 3, 1]), reduction="none"),
                     S(x(3, 4), I([0, 3, 1]), const(4)), S(x(3, 4), I([0, 3, 3]), reduction="sum"),
                     S(x(3, 4), I([0, -100, 1])), S(x(3, 4), I([0, 2, 1]), ignore_index=2),
                     S(x(2, 3, 2), I([[0, 2], [1, 1]])), S(x(4), I(2))],
        "cross_entropy": [S(x(3, 4), I([0, 3, 1])), S(x(3, 4), I([0, 3, 1]), const(4)),
                          S(x(3, 4), I([0, 3, 1]), reduction="none"),
                          S(x(3, 4), I([0, 2, 1]), ignore_index=2, label_smoothing=0.2),
                          S(x(2, 3, 2), I([[0, 2], [1, 1]])), S(x(3, 4), probs),
                          S(x(3, 4), probs, const(4), reduction="sum", label_smoothing=0.1),
                          S(x(4), I(2))],
    }
