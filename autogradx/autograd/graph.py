"""``autogradx.autograd.graph``: the autograd graph's bookkeeping, for code that works
around it, as in ``torch.autograd.graph``: ``increment_version``, and the saved-tensor hooks
(``saved_tensors_hooks``, ``save_on_cpu``, ``disable_saved_tensors_hooks``; the core's
_core/saved.py applies them)."""

import contextlib

from autogradx._core import saved as _saved
from autogradx._core.tensor import TensorBase

__all__ = ["increment_version", "saved_tensors_hooks", "save_on_cpu",
           "disable_saved_tensors_hooks"]


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


class saved_tensors_hooks:
    """Context manager under which every tensor saved for backward (by an op or by
    ``ctx.save_for_backward``) is stored as ``pack_hook(tensor)`` (called once, when the op
    is recorded, with grad mode off; any object) and turned back into a tensor by
    ``unpack_hook(packed)`` at each use in backward. ``unpack_hook(pack_hook(t))`` should
    equal ``t`` in value, shape, dtype and device. Nested, the innermost pair applies.
    Numbers an op saves are not packed; a pack hook that changes its input in place is an
    error, as is an unpack hook that returns something other than a tensor."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        _saved.push_hooks(self.pack_hook, self.unpack_hook)

    def __exit__(self, *args):
        _saved.pop_hooks()


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors are kept on the CPU and moved back to their device for backward (a
    GPU's memory traded for copies). On the CPU nothing is copied. ``pin_memory`` and
    ``device_type`` are accepted for PyTorch compatibility."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack_to_cpu(tensor):
            return tensor.device, tensor.cpu()

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device)

        super().__init__(pack_to_cpu, unpack_from_cpu)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Within it, entering ``saved_tensors_hooks`` raises ``RuntimeError(error_message)``
    (as does entering it while hooks are active): for features that cannot work with them."""
    prev = _saved.disabled_message()
    try:
        _saved.set_disabled(error_message)
        yield
    finally:
        _saved.set_disabled(prev)
