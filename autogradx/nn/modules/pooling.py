"""``MaxPool2d``: the maximum over sliding 2-d windows."""

from autogradx.nn import functional as F
from autogradx.nn.modules.module import Module

__all__ = ["MaxPool2d"]


class MaxPool2d(Module):
    """Max over ``kernel_size`` windows of ``(N, C, H, W)`` input, moved by ``stride``
    (default: the window size); ``return_indices`` also returns the argmax positions."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        pool = F.max_pool2d_with_indices if self.return_indices else F.max_pool2d
        return pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                    ceil_mode=self.ceil_mode)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")
