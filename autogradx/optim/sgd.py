"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from autogradx import _factories
from autogradx.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """``p -= lr * g`` where ``g`` is the gradient (plus ``weight_decay * p``), or
    with ``momentum`` the buffer ``b = momentum * b + (1 - dampening) * g``
    (``g + momentum * b`` with ``nesterov``). PyTorch's update, step for step."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _update(self, p, g, state, group):
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:     # the first step takes the gradient as it is
                state["momentum_buffer"] = buf = _factories._wrap(g.copy())
            else:
                buf._data *= momentum
                buf._data += (1 - group["dampening"]) * g
            g = g + momentum * buf._data if group["nesterov"] else buf._data
        p -= group["lr"] * g
