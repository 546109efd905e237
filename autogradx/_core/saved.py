"""Saved-tensor hooks (PyTorch's ``torch.autograd.graph.saved_tensors_hooks``): this thread's
stack of (pack, unpack) pairs, and the packing and unpacking of one saved tensor.

While a pair is active, every tensor an op or a Function saves for backward (an input, a
result, an array among an op's residuals; not a number it saves, PyTorch's "wrapped
numbers") goes through ``pack_hook`` once, when the op is recorded, with grad mode off; the
node keeps what it returns instead of the tensor. Each use in backward (and each
``grad_fn._saved_*`` or ``ctx.saved_tensors``) calls ``unpack_hook`` on it, which must give
back a tensor of the saved one's shape (another dtype is taken, as in PyTorch). The C flag that op.pyx reads
(grad_mode.saved_hooks_on) is set exactly while the stack is not empty.
"""

import threading

from .grad_mode import _set_grad_enabled, _set_saved_hooks_on
from .thread_state import carry
from .tensor import TensorBase


class _State(threading.local):
    def __init__(self):
        self.stack = []             # (pack_hook, unpack_hook), innermost last
        self.disabled = None        # disable_saved_tensors_hooks's message, while it is active


_state = _State()

PACK_IN_PLACE = (
    "A saved tensor pack hook is modifying its input in place. Tensors provided as input to "
    "pack hook cannot be modified by in-place operations as this can lead to unexpected "
    "side-effects. Please open an issue if you need to perform in-place operations on the "
    "input to a pack hook.")


class Packed:
    """What a saved tensor became: the pack hook's result, the unpack hook to apply, and
    the tensor's shape (what the unpacked tensor must have)."""

    __slots__ = ("unpack_hook", "obj", "shape")

    def __init__(self, unpack_hook, obj, shape):
        self.unpack_hook = unpack_hook
        self.obj = obj
        self.shape = shape


def push_hooks(pack_hook, unpack_hook):
    if _state.disabled is not None:
        raise RuntimeError(_state.disabled)
    _state.stack.append((pack_hook, unpack_hook))
    _set_saved_hooks_on(True)


def active():
    """A pair of hooks applies to what is saved now on this thread."""
    return bool(_state.stack)


def pop_hooks():
    _state.stack.pop()
    _set_saved_hooks_on(bool(_state.stack))


def saved_hooks_state():
    """This thread's hooks and disabling, for restore_saved_hooks (the engine keeps them
    across a backward, whose unpack hooks may enter a pair without leaving it)."""
    return _state.stack[:], _state.disabled


def restore_saved_hooks(state):
    """Back to ``state`` (None: no hooks)."""
    if state is None:
        _state.stack.clear()
    else:
        _state.stack[:], _state.disabled = state
    _set_saved_hooks_on(bool(_state.stack))


# A backward handed to another thread (engine.pyx) keeps this thread's hooks.
carry(saved_hooks_state, restore_saved_hooks)


def disabled_message():
    """The message of the innermost disable_saved_tensors_hooks, or None."""
    return _state.disabled


def set_disabled(message):
    """Refuse new hooks with ``message`` (None: allow them again). Refused at once where
    hooks are active, as in PyTorch."""
    if message is not None and _state.stack:
        raise RuntimeError(message)
    _state.disabled = message


def pack_with(pack_hook, unpack_hook, tensor):
    """``tensor`` packed by ``pack_hook`` (grad mode off); refused if the hook changed it in place."""
    version = tensor._version
    prev = _set_grad_enabled(False)
    try:
        obj = pack_hook(tensor)
    finally:
        _set_grad_enabled(prev)
    if tensor._version != version:
        raise RuntimeError(PACK_IN_PLACE)
    return Packed(unpack_hook, obj, tuple(tensor._data.shape))


def pack(tensor):
    """``tensor`` packed by the innermost active pair."""
    pack_hook, unpack_hook = _state.stack[-1]
    return pack_with(pack_hook, unpack_hook, tensor)


def unpack(packed):
    """The tensor the unpack hook makes of ``packed``."""
    t = packed.unpack_hook(packed.obj)
    if not isinstance(t, TensorBase):
        raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                        f"result of type {type(t).__name__}")
    if tuple(t._data.shape) != packed.shape:
        # PyTorch leaves this to the formula that reads it; a clear error here instead.
        raise RuntimeError(
            f"saved tensor unpack_hook returned a tensor of shape {list(t._data.shape)}, but "
            f"the tensor saved had shape {list(packed.shape)}: unpack_hook(pack_hook(t)) must "
            "give back a tensor of t's shape")
    return t


class SavedTensor:
    """One value a node saved for backward (``grad_fn._raw_saved_self``, PyTorch's
    ``torch.autograd.SavedTensor``): ``data`` is what was packed (or the tensor, where no
    hooks packed it), ``unpack_hook`` the hook that will unpack it (or None), and
    ``register_hooks(pack_hook, unpack_hook)`` packs it now with a pair of its own."""

    __slots__ = ("_node", "_index")

    def __init__(self):
        raise RuntimeError("Trying to create a SavedTensor object from Python is forbidden.")

    @classmethod
    def _of(cls, node, index):
        self = object.__new__(cls)
        self._node, self._index = node, index
        return self

    @property
    def data(self):
        return self._node._raw_saved(self._index)[0]

    @property
    def unpack_hook(self):
        return self._node._raw_saved(self._index)[1]

    def register_hooks(self, pack_hook, unpack_hook):
        if not callable(pack_hook) or not callable(unpack_hook):
            raise TypeError("register_hooks(): expected two callables, pack_hook and unpack_hook")
        self._node._register_saved_hooks(self._index, pack_hook, unpack_hook)
