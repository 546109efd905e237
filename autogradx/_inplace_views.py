"""The in-place view ops of ``Tensor``: ``unsqueeze_``, ``squeeze_``, ``t_``, ``transpose_``
(``swapdims_``, ``swapaxes_``), ``as_strided_``.

Each changes the tensor's shape, not its values: the tensor takes the array of the
out-of-place view (a view of its own storage, so nothing is copied), its version is
bumped, and, where recorded, its history ends in that view's node, named as PyTorch's
(``UnsqueezeBackward1``, ``SqueezeBackward3/4/5``, ``TBackward1``, ``TransposeBackward1``,
``AsStridedBackward1``). As in PyTorch, a leaf that requires grad is refused while grad mode
is on, and so is a view where an in-place change of it would be; a view stays a view of its
base (``autogradx._core.views.change_shape``).
"""

from autogradx._core.views import change_shape


def unsqueeze_(self, dim):
    """In-place version of ``unsqueeze``: a dim of size one inserted at ``dim``."""
    return change_shape(self, lambda: self.unsqueeze(dim), "UnsqueezeBackward1")


def squeeze_(self, dim=None):
    """In-place version of ``squeeze``: the dims of size one (of ``dim``, an int or a tuple,
    if given) removed."""
    name = ("SqueezeBackward3" if dim is None else
            "SqueezeBackward5" if isinstance(dim, (tuple, list)) else "SqueezeBackward4")
    return change_shape(self, lambda: self.squeeze() if dim is None else self.squeeze(dim), name)


def transpose_(self, dim0, dim1):
    """In-place version of ``transpose``: dims ``dim0`` and ``dim1`` swapped."""
    return change_shape(self, lambda: self.transpose(dim0, dim1), "TransposeBackward1")


swapdims_ = swapaxes_ = transpose_


def t_(self):
    """In-place version of ``t``: a matrix transposed (0-d and 1-d tensors unchanged)."""
    if self.dim() > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is "
                           f"{self.dim()}D")
    return change_shape(self, self.t, "TBackward1")


def as_strided_(self, size, stride, storage_offset=None):
    """In-place version of ``as_strided``: the tensor takes the view of its memory with
    ``size`` and ``stride`` (in elements) from ``storage_offset``."""
    return change_shape(self, lambda: self.as_strided(size, stride, storage_offset),
                        "AsStridedBackward1")
