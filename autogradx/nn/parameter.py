"""``nn.Parameter``: a tensor that a Module registers as one of its parameters."""

from autogradx._core.tensor import TensorBase
from autogradx._tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A leaf tensor that ``Module.__setattr__`` registers as a parameter.

    It shares storage with ``data`` and requires grad unless told otherwise
    (whatever the grad mode). Ops on parameters return plain tensors.
    """

    __slots__ = ()

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from autogradx._factories import empty
            data = empty(0)
        if not isinstance(data, TensorBase):
            raise TypeError(f"Parameter data must be a Tensor, not {type(data).__name__}")
        self = super().__new__(cls)
        self._data = data._data
        self.requires_grad = requires_grad
        return self

    def __init__(self, data=None, requires_grad=True):
        pass        # Tensor.__init__ would parse ``data`` a second time

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = Parameter(self.detach().clone(), self.requires_grad)
        return memo[id(self)]
