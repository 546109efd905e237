"""Loss functions of ``autogradx.nn.functional``, in their numerically stable forms."""

import warnings

from autogradx.plugin import Op

_NN = "nn.functional"


def _reduction(size_average, reduce, reduction):
    """Map PyTorch's legacy ``size_average``/``reduce`` pair onto ``reduction``."""
    if size_average is None and reduce is None:
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"{reduction} is not a valid value for reduction")
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use "
                  "reduction='mean' or reduction='sum' instead.", UserWarning, stacklevel=4)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else ("mean" if size_average else "sum")


def _reduce(xp, loss, reduction):
    if reduction == "mean":
        return xp.mean(loss)
    if reduction == "sum":
        return xp.sum(loss)
    return loss


def _unreduce(g, n, reduction):
    return g / n if reduction == "mean" else g


def _bce_logits(xp, x, y, weight=None, size_average=None, reduce=None, reduction="mean",
                pos_weight=None):
    """Binary cross entropy between ``sigmoid(input)`` and ``target``, from logits."""
    if x.shape != y.shape:
        raise ValueError(
            f"Target size ({list(y.shape)}) must be the same as input size ({list(x.shape)})")
    reduction = _reduction(size_average, reduce, reduction)
    # softplus(-x) = log(1 + exp(-x)), without overflow for large |x|.
    softplus_neg = xp.logaddexp(0, -x)
    if pos_weight is None:
        loss = (1 - y) * x + softplus_neg
    else:
        loss = (1 - y) * x + ((pos_weight - 1) * y + 1) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(xp, loss, reduction)


def _bce_logits_grad_input(xp, g, x, y, weight=None, size_average=None, reduce=None,
                           reduction="mean", pos_weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    sig = xp.exp(-xp.logaddexp(0, -x))
    if pos_weight is None:
        grad = sig - y
    else:
        grad = ((pos_weight - 1) * y + 1) * sig - pos_weight * y
    if weight is not None:
        grad = grad * weight
    return _unreduce(g, x.size, reduction) * grad


def _bce_logits_grad_target(xp, g, x, y, weight=None, size_average=None, reduce=None,
                            reduction="mean", pos_weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    grad = -x if pos_weight is None else (pos_weight - 1) * xp.logaddexp(0, -x) - x
    if weight is not None:
        grad = grad * weight
    return _unreduce(g, x.size, reduction) * grad


binary_cross_entropy_with_logits = Op(
    "binary_cross_entropy_with_logits", _bce_logits, namespace=_NN,
    inputs=("input", "target", "weight"), save=("input", "target", "weight"),
    promote="elementwise",
    vjp=(_bce_logits_grad_input, _bce_logits_grad_target, None))
