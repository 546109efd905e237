"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

from autogradx._core.dispatch import get_array_module
from autogradx.optim.optimizer import Optimizer, increment, step_state, zeros_state

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``v = alpha v + (1 - alpha) g^2``, ``p -= lr * g / (sqrt(v) + eps)``.

    ``centered`` subtracts the square of the running mean gradient from ``v``;
    ``momentum`` accumulates ``g / (sqrt(v) + eps)`` in a buffer that is applied
    instead. PyTorch's update, step for step.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _init_state(self, state, param, group):
        state["step"] = step_state()
        state["square_avg"] = zeros_state(param)
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_state(param)
        if group["centered"]:
            state["grad_avg"] = zeros_state(param)

    def _update(self, p, g, state, group):
        xp = get_array_module(p)
        alpha = group["alpha"]
        if group["maximize"]:
            g = -g
        increment(state["step"])
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        square_avg = state["square_avg"]._data
        square_avg *= alpha
        square_avg += (1 - alpha) * g * g
        if group["centered"]:
            grad_avg = state["grad_avg"]._data
            grad_avg += (1 - alpha) * (g - grad_avg)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = xp.sqrt(square_avg) + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]._data
            buf *= group["momentum"]
            buf += g / avg
            p -= group["lr"] * buf
        else:
            p -= group["lr"] * (g / avg)
