"""The errors of ``autogradx.distributed``, named as ``torch.distributed``'s: every one is
a ``RuntimeError``, so code that catches PyTorch's catches these."""

__all__ = ["DistError", "DistBackendError"]


class DistError(RuntimeError):
    """A failure in a distributed operation."""


class DistBackendError(DistError):
    """The backend failed, or a collective did not finish within the group's timeout
    (another rank died, raised, or never joined it)."""
