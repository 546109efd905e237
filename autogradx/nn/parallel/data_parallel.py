"""``nn.DataParallel`` where autogradx runs: on one device.

PyTorch's ``DataParallel`` splits each batch across GPUs. autogradx computes on one device
at a time, so the wrapper calls the module unchanged, which is what PyTorch does when it has
no GPU to use. Code written for PyTorch keeps working: the wrapped module is the ``module``
attribute (state dict keys get the ``module.`` prefix, as there) and gradients flow through
it as through the module itself. Asking for several devices is an error rather than a
silent single-device run.
"""

from autogradx.nn.modules.module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """``module(*inputs, **kwargs)``, as PyTorch's ``DataParallel`` without GPUs (see the
    module docstring)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        device_ids = [] if device_ids is None else list(device_ids)
        if len(device_ids) > 1:
            raise RuntimeError(
                f"DataParallel: autogradx runs on one device, got device_ids={device_ids}")
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
