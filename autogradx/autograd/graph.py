"""``autogradx.autograd.graph``: the autograd graph's bookkeeping, for code that works
around it. For now ``increment_version``, as in ``torch.autograd.graph``."""

from autogradx._core.tensor import TensorBase

__all__ = ["increment_version"]


def increment_version(tensor):
    """Count a change to ``tensor`` (or to each tensor of an iterable) that autograd did not
    see, such as a write through ``.numpy()``: its version goes up by one, as after an
    in-place op, so a node that saved the old values refuses to run backward."""
    tensors = (tensor,) if isinstance(tensor, TensorBase) else tuple(tensor)
    for i, t in enumerate(tensors):
        if not isinstance(t, TensorBase):
            raise TypeError(
                f"increment_version(): expected a Tensor or an iterable of Tensors, got "
                f"{type(t).__name__} at index {i}")
    for t in tensors:
        t._bump_version()
