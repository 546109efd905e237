"""Ops that rearrange elements without computing on them."""

from autogradx.plugin import Op


def _dims(dims):
    """``permute(0, 1)`` and ``permute((0, 1))`` both give ``(0, 1)``."""
    if len(dims) == 1 and not isinstance(dims[0], int):
        return tuple(dims[0])
    return tuple(dims)


def _permute(xp, x, *dims):
    perm = _dims(dims)
    if sorted(d % max(x.ndim, 1) for d in perm) != list(range(x.ndim)):
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match "
            f"the length of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is "
            f"not equal to len(dims) = {len(perm)}" if len(perm) != x.ndim else
            f"permute(): dims {perm} are not a permutation of the {x.ndim} dimensions")
    return xp.transpose(x, perm), perm


def _permute_vjp(xp, g, perm):
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p % len(perm)] = i
    return xp.transpose(g, inverse)


permute = Op("permute", _permute, residuals=True, method=True, vjp=_permute_vjp)
