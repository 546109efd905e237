"""``autogradx.nn.functional``: the ops registered in the ``nn.functional`` namespace, and
``linear``, composed of ops as PyTorch composes it (so that its graph is PyTorch's)."""

import math as _math

from autogradx._namespace import op_namespace as _op_namespace

__getattr__, __dir__ = _op_namespace(__name__, "nn.functional")


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``: the affine map of ``nn.Linear``.

    ``input`` (*, in), ``weight`` (out, in) (or (in,) for a single output without its dim,
    and then no bias), ``bias`` broadcasting against (*, out). Recorded as PyTorch's linear
    records it, node for node: ``addmm(bias, input, weight.t())`` for a matrix input (so
    ``grad_fn`` is ``AddmmBackward0``, its inputs the bias, the input and a ``TBackward0`` of
    the weight); a contiguous input of other ranks folded to a matrix for it and viewed back
    (``ViewBackward0``); otherwise ``matmul(input, weight.t())``, the bias added in place.
    """
    import autogradx
    if input.dim() == 0 or weight.dim() == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are "
                           f"{input.dim()}D and {weight.dim()}D")
    if bias is not None:
        if input.dim() == 2:
            return autogradx.addmm(bias, input, weight.t())
        # PyTorch folds a contiguous input into a matrix (aten/src/ATen/native/Linear.cpp).
        if input._data.flags.c_contiguous and (input.dim() == 3 or bias.dim() == 1):
            batch = tuple(input.shape[:-1])
            rows = input.reshape(_math.prod(batch), input.shape[-1])
            out = autogradx.addmm(bias, rows, weight.t())
            return out.view(*batch, out.shape[1])
    out = autogradx.matmul(input, weight.t())
    if bias is not None:
        out.add_(bias)
    return out
