"""Module backward hooks: what ``register_full_backward_hook`` and
``register_full_backward_pre_hook`` install, as PyTorch's ``BackwardHook``.

A call of a module that has such hooks passes its tensor arguments, and then its tensor
outputs, through an identity Function (``BackwardHookFunctionBackward``, PyTorch's node
name). During backward the outputs' node is reached first: a pre-hook on it records the
gradients of the outputs (``grad_output``) and runs the module's backward pre-hooks, which
may replace them. The arguments' node is reached when the gradients of the arguments are
known: a post-hook on it runs the module's backward hooks with ``grad_input`` and
``grad_output``, and they may replace ``grad_input`` (a gradient that reaches the arguments
without passing through the outputs, in a double backward, runs no hook). When no argument
requires grad, the backward hooks run at the outputs' node with ``grad_input`` all None.

Only the tensors among the positional arguments and among the outputs (a tensor, or a
tuple or list of them) take part, as in PyTorch.
"""

import warnings

from autogradx._core.tensor import TensorBase
from autogradx._factories import zeros
from autogradx.autograd.function import Function
from autogradx.grad_mode import is_grad_enabled

__all__ = ["BackwardHook"]

# PyTorch's words, link included.
_NO_INPUT_GRAD = (
    "Full backward hook is firing when gradients are computed with respect to module outputs "
    "since no inputs require gradients. See https://docs.pytorch.org/docs/main/generated/"
    "torch.nn.Module.html#torch.nn.Module.register_full_backward_hook for more details.")


class BackwardHookFunction(Function):
    """The identity on tensors; its node is where the hooks see the gradients."""

    @staticmethod
    def forward(ctx, *tensors):
        # New tensors sharing the data, so that those of the inputs that do not require grad
        # can be marked (an input returned as-is would be replaced after the marking).
        outs = tuple(t.detach() for t in tensors)
        ctx.mark_non_differentiable(*[o for o, t in zip(outs, tensors) if not t.requires_grad])
        return outs

    @staticmethod
    def backward(ctx, *grads):
        return grads


def _wrap(values):
    """``values`` with their tensors passed through one BackwardHookFunction, the node, the
    positions of its inputs and those of its outputs (the tensors that require grad); None
    when no tensor requires grad (nothing to hook)."""
    positions = [i for i, v in enumerate(values) if isinstance(v, TensorBase)]
    if not (is_grad_enabled() and any(values[i].requires_grad for i in positions)):
        return None
    outs = BackwardHookFunction.apply(*(values[i] for i in positions))
    node = next(t.grad_fn for t in outs if t.grad_fn is not None)
    wrapped = list(values)
    for i, t in zip(positions, outs):
        wrapped[i] = t
    return wrapped, node, positions, [i for i in positions if wrapped[i].grad_fn is node]


def _spread(positions, grads, n):
    """The gradients of the hooked tensors placed at their positions among ``n`` values."""
    out = [None] * n
    for i, g in zip(positions, grads):
        out[i] = g
    return tuple(out)


def _replacement(what, hook_kind, old, new):
    if len(new) != len(old):
        raise RuntimeError(f"Backward {hook_kind} returned an invalid number of {what}, "
                           f"got {len(new)}, but expected {len(old)}")
    return tuple(new)


class BackwardHook:
    """One module call's backward hooks (see the module docstring)."""

    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.n_inputs = 0
        self.input_positions = None     # None: no argument requires grad
        self.input_zeros = []           # (position, shape, dtype, device) of the others
        self.output_positions = None
        self.n_outputs = 0
        self.grad_outputs = None

    def setup_input_hook(self, args):
        self.n_inputs = len(args)
        wrapped = _wrap(args)
        if wrapped is None or not self.hooks:
            return args
        args, node, self.input_positions, _ = wrapped
        # PyTorch's hooks see zeros, not None, for the tensors that do not require grad.
        self.input_zeros = [(i, a.shape, a.dtype, a.device) for i, a in enumerate(args)
                            if i in self.input_positions and not a.requires_grad]
        node.register_hook(self._on_grad_inputs)
        return tuple(args)

    def setup_output_hook(self, result):
        single = isinstance(result, TensorBase)
        if not (single or isinstance(result, (tuple, list))):
            return result
        outputs = (result,) if single else result
        wrapped = _wrap(outputs)
        if wrapped is None:
            return result
        outputs, node, _, self.output_positions = wrapped
        self.n_outputs = len(outputs)
        node.register_prehook(self._on_grad_outputs)
        return outputs[0] if single else type(result)(outputs)

    def _on_grad_outputs(self, grads):
        grad_outputs = _spread(self.output_positions, grads, self.n_outputs)
        for hook in self.pre_hooks:
            new = hook(self.module, grad_outputs)
            if new is not None:
                grad_outputs = _replacement("grad_output", "pre hook", grad_outputs, new)
        self.grad_outputs = grad_outputs
        if self.input_positions is None and self.hooks:
            warnings.warn(_NO_INPUT_GRAD, UserWarning, stacklevel=2)
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                new = hook(self.module, grad_inputs, grad_outputs)
                if new is not None and not (isinstance(new, tuple)
                                            and all(g is None for g in new)):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient should "
                        "always return None or None for all gradients.")
            self.grad_outputs = None
        return tuple(grad_outputs[i] for i in self.output_positions)

    def _on_grad_inputs(self, grads, _):
        if self.grad_outputs is None:
            # The gradient reached the arguments without passing through the outputs (a
            # gradient of a gradient): not a backward through the module, no hooks.
            return None
        grad_inputs = list(_spread(self.input_positions, grads, self.n_inputs))
        for i, shape, dtype, device in self.input_zeros:
            grad_inputs[i] = zeros(shape, dtype=dtype, device=device)
        grad_inputs = tuple(grad_inputs)
        for hook in self.hooks:
            new = hook(self.module, grad_inputs, self.grad_outputs)
            if new is not None:
                grad_inputs = _replacement("grad_input", "hook", grad_inputs, new)
        self.grad_outputs = None
        unused = {i for i, *_ in self.input_zeros}     # no gradient flows to them
        return tuple(None if i in unused else grad_inputs[i] for i in self.input_positions)
