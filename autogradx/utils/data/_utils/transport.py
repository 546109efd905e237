"""What crosses between the main process and the workers, autogradx tensors included.

autogradx tensors refuse ``pickle`` (``autogradx.save`` is their file format), so the
worker processes pickle with a pickler of their own that sends a tensor as its array and
``requires_grad``. It is used only between a ``DataLoader`` and its own workers: nothing
else unpickles this format. A tensor with a graph behind it cannot cross (autograd does
not span processes); PyTorch refuses it with the same message.
"""

import io
import pickle

from autogradx._core.tensor import TensorBase, wrap

__all__ = ["dumps", "loads", "Pickled"]

_NON_LEAF = (
    "Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
    "does not support crossing process boundaries.  If you just want to transfer the data, "
    "call detach() on the tensor before serializing (e.g., putting it on the queue).")


def _rebuild_tensor(array, requires_grad):
    return wrap(array, requires_grad)


def _rebuild_parameter(array, requires_grad):
    from autogradx.nn.parameter import Parameter
    return Parameter(wrap(array, False), requires_grad)


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj):
        if not isinstance(obj, TensorBase):
            return NotImplemented
        if obj.requires_grad and not obj.is_leaf:
            raise RuntimeError(_NON_LEAF)
        from autogradx.nn.parameter import Parameter
        rebuild = _rebuild_parameter if isinstance(obj, Parameter) else _rebuild_tensor
        return rebuild, (obj._data, obj.requires_grad)


def dumps(obj):
    """``obj`` as bytes, its autogradx tensors included."""
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


loads = pickle.loads


class Pickled:
    """``obj``, which a spawned or forkserver worker receives through :func:`dumps`;
    a forked worker inherits it without pickling."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __reduce__(self):
        return _unpickle, (dumps(self.obj),)


def _unpickle(data):
    return Pickled(loads(data))
