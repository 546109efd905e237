"""``ReduceOp``: how a reducing collective combines the ranks' tensors, as
``torch.distributed.ReduceOp`` (``dist.ReduceOp.SUM`` and so on)."""

import enum

__all__ = ["ReduceOp"]


class ReduceOp(enum.Enum):
    """The reductions of ``all_reduce``, ``reduce`` and ``reduce_scatter``.

    ``AVG`` is ``SUM`` divided by the group's size; it needs a floating point or complex
    tensor (an integer mean would be rounded). ``BAND``, ``BOR`` and ``BXOR`` are bitwise
    and take integer or bool tensors.
    """

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7

    def __repr__(self):
        return f"<ReduceOp.{self.name}: {self.value}>"
