"""``autogradx.autograd``: backward, grad, custom Functions and grad mode."""

import contextlib
import threading

import autogradx as torch  # noqa: F401  (torch.autograd.torch: PyTorch's module imports torch)
from autogradx._core.engine import is_checkpoint_valid as _is_checkpoint_valid  # noqa: F401
from autogradx._core.engine import run_backward as _run_backward
from autogradx._core.saved import SavedTensor
from autogradx._core.tensor import TensorBase, wrap
from autogradx._legacy import Variable
from autogradx.autograd.anomaly_mode import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from autogradx.autograd.function import Function, FunctionCtx, once_differentiable
from autogradx.autograd import graph  # noqa: F401  (torch.autograd.graph without an import)
from autogradx.autograd.graph import GradientEdge
from autogradx.autograd import forward_ad  # noqa: F401  (likewise torch.autograd.forward_ad)
from autogradx.autograd import grad_mode  # noqa: F401  (likewise)
from autogradx.grad_mode import (
    enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled,
)

__all__ = ["backward", "grad", "SavedTensor", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "Function", "FunctionCtx", "once_differentiable", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "gradcheck", "gradgradcheck", "Variable"]


def _as_tuple(x, what, allow_none=False, allow_edges=False):
    """``x`` (a tensor or a sequence of them) as a tuple; None where ``allow_none`` (a
    grad_output that is implicitly ones). With ``allow_edges``, a GradientEdge may stand
    for a tensor."""
    if isinstance(x, TensorBase) or (allow_edges and isinstance(x, GradientEdge)):
        return (x,)
    if x is None and allow_none:
        return None
    x = (x,) if x is None else tuple(x)
    for i, t in enumerate(x):
        if not (isinstance(t, TensorBase) or (allow_none and t is None)
                or (allow_edges and isinstance(t, GradientEdge))):
            kinds = "Tensors or GradientEdges" if allow_edges else "Tensors"
            raise TypeError(f"{what} must be {kinds}, got {type(t).__name__} at index {i}")
    return x


def _grad_outputs(outputs, grad_outputs):
    if grad_outputs is None:
        return (None,) * len(outputs)
    grad_outputs = _as_tuple(grad_outputs, "grad_outputs", allow_none=True)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"grad requires one grad_output per output: got {len(grad_outputs)} grad_outputs "
            f"for {len(outputs)} outputs")
    return grad_outputs


def _check_inputs(inputs):
    for i, t in enumerate(inputs):
        if isinstance(t, TensorBase) and not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require grad")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of ``tensors`` (weighted by ``grad_tensors``) into the leaves.

    With ``inputs``, only those tensors' ``.grad`` are accumulated. A GradientEdge
    (``autograd.graph``) may stand for a tensor in ``tensors`` and in ``inputs``.
    """
    tensors = _as_tuple(tensors, "tensors", allow_edges=True)
    grads = _grad_outputs(tensors, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs, "inputs", allow_edges=True)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
        _check_inputs(inputs)
        for t in inputs:
            if isinstance(t, TensorBase) and not t.is_leaf:
                t.retain_grad()         # a non-leaf input gets its .grad, as in PyTorch
    _run_backward(tensors, grads, bool(retain_graph), bool(create_graph), inputs, True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than
    accumulated into ``.grad``.

    ``grad_outputs`` weights each output (required for non-scalar outputs). A GradientEdge
    (``autograd.graph``) may stand for a tensor in ``outputs`` and in ``inputs``.
    With ``create_graph=True`` the returned gradients are differentiable.
    With ``is_grads_batched=True`` the first dim of each grad_output is a batch: one
    backward per row, the gradients stacked along a new first dim.
    """
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs = _as_tuple(outputs, "outputs", allow_edges=not is_grads_batched)
    inputs = _as_tuple(inputs, "inputs", allow_edges=True)
    if not inputs:
        # PyTorch's engine check (TORCH_CHECK_VALUE), the text of the ported tests; torch
        # 2.13's Python wrapper raised RuntimeError "`inputs` argument to `grad()` cannot be
        # empty." before reaching it.
        raise ValueError("grad requires non-empty inputs.")
    _check_inputs(inputs)
    grads = _grad_outputs(outputs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    if is_grads_batched:
        raw = _batched(outputs, grads, bool(retain_graph), bool(create_graph), inputs)
    else:
        raw = _run_backward(outputs, grads, bool(retain_graph), bool(create_graph), inputs,
                            False)
    result = []
    for i, (g, x) in enumerate(zip(raw, inputs)):
        if g is None:
            if materialize_grads and isinstance(x, GradientEdge):
                raise RuntimeError(
                    "materialize_grads cannot be used when the given input is a GradientEdge")
            if materialize_grads:
                # Differentiable in turn under create_graph, as PyTorch's zeros are.
                from autogradx import zeros_like
                g = zeros_like(x, requires_grad=bool(create_graph))
            elif not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior.")
        elif not isinstance(g, TensorBase):
            g = wrap(g)
        result.append(g)
    return tuple(result)


def _batched(outputs, grads, retain_graph, create_graph, inputs):
    """``grad``'s raw gradients for batched grad_outputs: what PyTorch computes with vmap,
    here one backward per row, the rows stacked (None where no gradient arrived)."""
    from autogradx import Size, stack
    for i, (g, out) in enumerate(zip(grads, outputs)):
        if g is None:
            raise RuntimeError(
                "If `is_grads_batched=True`, each grad_output must be a tensor whose first "
                f"dimension is the batch dimension, but grad_output[{i}] is None.")
        if Size(g.shape[1:]) != out.shape:
            raise RuntimeError(
                "If `is_grads_batched=True`, we interpret the first dimension of each "
                "grad_output as the batch dimension. The sizes of the remaining dimensions are "
                "expected to match the shape of corresponding output, but a mismatch was "
                f"detected: grad_output[{i}] has a shape of {Size(g.shape[1:])} and output[{i}] has a "
                f"shape of {out.shape}. If you only want some tensors in `grad_output` to be "
                "considered batched, consider using vmap.")
    sizes = [g.shape[0] for g in grads]
    if len(set(sizes)) > 1:
        raise ValueError(
            "vmap: Expected all tensors to have the same size in the mapped dimension, got "
            f"sizes {sizes} for the mapped dimension")
    rows = []
    for b in range(sizes[0]):
        rows.append(_run_backward(outputs, tuple(g[b] for g in grads),
                                  retain_graph or b < sizes[0] - 1, create_graph, inputs, False))
    return [None if row[0] is None else stack([wrap(r) if not isinstance(r, TensorBase) else r
                                               for r in row])
            for row in zip(*rows)] if rows else [None] * len(inputs)


from autogradx.autograd import functional  # noqa: E402  (built on grad, above)
# The functions shadow their module's name, as in PyTorch: ``autograd.gradcheck(fn, x)``;
# ``from autogradx.autograd.gradcheck import gradcheck`` finds the module in sys.modules.
from autogradx.autograd.gradcheck import gradcheck, gradgradcheck  # noqa: E402
