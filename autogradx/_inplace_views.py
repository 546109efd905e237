"""The in-place view ops of ``Tensor``: ``unsqueeze_``, ``squeeze_``, ``t_``, ``transpose_``.

Each changes the tensor's shape, not its values: the tensor takes the array of the
out-of-place view (a view of its own storage, so nothing is copied), its version is
bumped, and, where recorded, its history ends in a node whose gradient undoes the shape
change, named as PyTorch's (``UnsqueezeBackward1``, ``SqueezeBackward3/4/5``,
``TBackward1``, ``TransposeBackward1``). As in PyTorch, a leaf that requires grad is
refused while grad mode is on.

Difference from PyTorch: a view of a tensor that requires grad is refused too (autogradx
rebuilds a view's history by replaying how the view was taken from its base, which a
shape changed in place would no longer match).
"""

from autogradx._core.grad_mode import is_grad_enabled
from autogradx._core.node import make_node


def _change_shape(t, out, name, undo):
    """``t`` takes ``out``'s array (an out-of-place view of ``t``); ``undo(g)`` maps a
    gradient of the new shape back to the old one."""
    record = is_grad_enabled() and t.requires_grad
    if record and t.is_leaf:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    if record and t._base is not None:
        raise NotImplementedError(
            f"{name.lower()}(): changing the shape of a view of a tensor that requires grad "
            "in place is not supported by autogradx; use the out-of-place op")
    t.data = out.detach()
    t._bump_version()
    if record:
        make_node(name, [t], [t], lambda grads, create_graph: [undo(grads[0])])
    return t


def unsqueeze_(self, dim):
    """In-place version of ``unsqueeze``: a dim of size one inserted at ``dim``."""
    shape = tuple(self.shape)
    return _change_shape(self, self.unsqueeze(dim), "UnsqueezeBackward1",
                         lambda g: g.reshape(shape))


def squeeze_(self, dim=None):
    """In-place version of ``squeeze``: the dims of size one (of ``dim``, an int or a tuple,
    if given) removed."""
    shape = tuple(self.shape)
    out = self.squeeze() if dim is None else self.squeeze(dim)
    name = ("SqueezeBackward3" if dim is None else
            "SqueezeBackward5" if isinstance(dim, (tuple, list)) else "SqueezeBackward4")
    return _change_shape(self, out, name, lambda g: g.reshape(shape))


def transpose_(self, dim0, dim1):
    """In-place version of ``transpose``: dims ``dim0`` and ``dim1`` swapped."""
    out = self.transpose(dim0, dim1)
    return _change_shape(self, out, "TransposeBackward1", lambda g: g.swapaxes(dim0, dim1))


def t_(self):
    """In-place version of ``t``: a matrix transposed (0-d and 1-d tensors unchanged)."""
    if self.dim() > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is "
                           f"{self.dim()}D")
    out = self.t()
    return _change_shape(self, out, "TBackward1",
                         lambda g: g.swapaxes(0, 1) if g.ndim == 2 else g)
