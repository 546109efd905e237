"""``autogradx.autograd.grad_mode``: where PyTorch's code finds the grad-mode context
managers (``torch.autograd.grad_mode.no_grad``); they are :mod:`autogradx.grad_mode`'s."""

from autogradx.grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode"]
