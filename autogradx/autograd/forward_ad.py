"""``autogradx.autograd.forward_ad``: forward-mode AD, as ``torch.autograd.forward_ad``.

Inside ``with dual_level():``, ``make_dual(x, t)`` gives a tensor that carries the tangent
``t``; every op applied to tensors with tangents gives its outputs the tangent ``J t``
(the op's forward rule, see _jvp.py), and ``unpack_dual(y)`` reads it back. One level at a
time, as PyTorch: entering a second raises its error. Leaving the level drops every tangent.

The tangents are kept in a side table keyed by the tensor's id (an entry goes when its
tensor does), so that a tensor carries no extra field and applying an op with no level
entered costs one C flag check (autogradx/_core/forward.pyx).
"""

import collections
import contextlib
import weakref

from autogradx._core import forward as _core_forward
from autogradx._core.tensor import TensorBase

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "UnpackedDualTensor"]

UnpackedDualTensor = collections.namedtuple("UnpackedDualTensor", ["primal", "tangent"])
UnpackedDualTensor.__doc__ = "What unpack_dual returns: the primal (a view) and its tangent, or None."

_current_level = -1
# id(tensor) -> (weak reference to the tensor, its tangent) at the current level.
_tangents = {}
# (id(node), output number) -> (weak reference to the node, the tangent of that output):
# a node's saved result, made again as a tensor when its vjp runs under create_graph
# (forward over reverse), is a new tensor with the same node, and the same tangent.
_result_tangents = {}


def _forget(table, key):
    return lambda ref: table.pop(key, None)


def tangent_of(t):
    """The tangent ``t`` carries at the current level, or None."""
    entry = _tangents.get(id(t))
    if entry is None:
        fn = t.grad_fn
        if fn is None:
            return None
        entry = _result_tangents.get((id(fn), t.output_nr))
        if entry is None or entry[0]() is not fn:
            return None
    return entry[1]


def set_tangent(t, tangent):
    """Give ``t`` the tangent ``tangent`` at the current level (None removes it)."""
    key = id(t)
    if tangent is None:
        _tangents.pop(key, None)
        return
    _tangents[key] = (weakref.ref(t, _forget(_tangents, key)), tangent)
    fn = t.grad_fn
    if fn is not None:
        node_key = (id(fn), t.output_nr)
        _result_tangents[node_key] = (weakref.ref(fn, _forget(_result_tangents, node_key)),
                                      tangent)


def keep_result_tangent(t, tangent):
    """``t``'s node's output keeps ``tangent`` (a copy of ``t``'s, taken before an in-place
    op changes that in place): a value saved from it before the change finds it there."""
    fn = t.grad_fn
    if fn is not None:
        node_key = (id(fn), t.output_nr)
        _result_tangents[node_key] = (weakref.ref(fn, _forget(_result_tangents, node_key)),
                                      tangent)


@contextlib.contextmanager
def suspended():
    """No tangent propagation inside (the forward rules' own ops, make_dual's alias)."""
    prev = _core_forward._set_forward_active(False)
    try:
        yield
    finally:
        _core_forward._set_forward_active(prev)


def enter_dual_level():
    """Enter a new forward grad level and return its index (0: one level at a time)."""
    global _current_level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    from autogradx.autograd import _jvp
    _core_forward.install_propagation(_jvp.propagate, _jvp.propagate_inplace)
    _current_level = 0
    _core_forward._set_forward_active(True)
    return _current_level


def exit_dual_level(*, level=None):
    """Leave the forward grad level ``level`` (the current one by default), deleting every
    tangent of that level."""
    global _current_level
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that "
                           "was created. This is not supported.")
    _core_forward._set_forward_active(False)
    _tangents.clear()
    _result_tangents.clear()
    _current_level = level - 1


class dual_level(contextlib.ContextDecorator):
    """Context manager for forward AD: every forward AD computation happens inside it.

    ``__enter__`` returns the level's index; on exit its tangents are deleted::

        with dual_level():
            y, jvp = unpack_dual(f(make_dual(x, v)))
    """

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()


def _check_level(level, what):
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError(what)
    if level != _current_level:
        raise RuntimeError(f"forward AD level {level} is not the current level {_current_level}")
    return level


def make_dual(tensor, tangent, *, level=None):
    """A new tensor aliasing ``tensor`` (a view, differentiable by backward) that carries
    ``tangent`` as its forward gradient at ``level`` (the current one by default)."""
    _check_level(level, "Trying to create a dual Tensor for forward AD but no level exists, "
                        "make sure to enter_dual_level() first.")
    for what, t in (("primal", tensor), ("tangent", tangent)):
        if not isinstance(t, TensorBase):
            raise TypeError(f"make_dual(): {what} must be a Tensor, not {type(t).__name__}")
        if not (t.is_floating_point() or t.is_complex()):
            raise ValueError(f"Expected {what} to be floating point or complex, but got: {t.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size {list(tensor.shape)} "
            f"while the given forward gradient is of size {list(tangent.shape)}.")
    with suspended():
        dual = tensor.view_as(tensor)
        if tangent.dtype != tensor.dtype:
            tangent = tangent.to(tensor.dtype)
    set_tangent(dual, tangent)
    return dual


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)``: a view of ``tensor`` without tangent and its tangent at
    ``level`` as is (None where it has none)."""
    if level is None:
        level = _current_level
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    tangent = tangent_of(tensor)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    with suspended():
        primal = tensor.view_as(tensor)
    return UnpackedDualTensor(primal, tangent)
