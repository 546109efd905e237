"""``LayerNorm`` (over the trailing dimensions) and ``GroupNorm`` (over groups of channels),
with a learned scale and shift."""

import numbers

from autogradx._factories import empty
from autogradx.nn import functional as F
from autogradx.nn import init
from autogradx.nn.modules.module import Module
from autogradx.nn.parameter import Parameter

__all__ = ["LayerNorm", "GroupNorm"]



def _affine_parameters(module, affine, shape, bias, device, dtype):
    """``weight`` (and ``bias`` unless ``bias=False``) of ``shape`` where ``affine``, else
    both registered as None, as PyTorch's normalization modules."""
    for name, wanted in (("weight", affine), ("bias", affine and bias)):
        module.register_parameter(
            name, Parameter(empty(shape, device=device, dtype=dtype)) if wanted else None)


def _reset_affine(module):
    """The affine parameters back to ones and zeros (no change without them)."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)

class LayerNorm(Module):
    """Normalise the last ``len(normalized_shape)`` dims to mean 0 and variance 1, then
    (with ``elementwise_affine``) scale by ``weight`` (ones) and shift by ``bias`` (zeros)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, elementwise_affine, self.normalized_shape, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Split the ``num_channels`` channels into ``num_groups`` groups and normalise each
    group of each sample to mean 0 and variance 1, then (with ``affine``) scale by
    ``weight`` (ones) and shift by ``bias`` (zeros), per channel."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine_parameters(self, affine, num_channels, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")
