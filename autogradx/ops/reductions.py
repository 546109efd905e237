"""Reductions over all elements or over ``dim`` (an int or a tuple), with ``keepdim``."""

from autogradx.plugin import Op


def _axes(dim, ndim):
    """``dim`` as a tuple of non-negative axes, or None for all of them."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return None             # dim=() means every dim, as in PyTorch
    n = max(ndim, 1)
    out = []
    for d in dims:
        if not -n <= d < n:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
        out.append(d % n)
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {out} appears multiple times in the list of dims")
    return tuple(out) if ndim else ()     # a 0-d tensor accepts dim 0 / -1: nothing to reduce


def _expand_back(xp, g, shape, dim, keepdim):
    """Broadcast the gradient of a reduction back over the reduced dims."""
    axes = _axes(dim, len(shape))
    if axes is not None and not keepdim and len(shape):
        g = xp.expand_dims(g, axes)
    return xp.broadcast_to(g, shape)


def _dim_name(base):
    return lambda x, dim=None, keepdim=False, **kw: f"{base}Backward{0 if dim is None else 1}"


def _sum(xp, x, dim=None, keepdim=False, *, dtype=None):
    axes = _axes(dim, x.ndim)
    if dtype is None and x.dtype.kind in "biu":
        dtype = "int64"     # integer sums are int64, as in PyTorch
    return xp.sum(x, axis=axes, keepdims=keepdim, dtype=dtype), x.shape


sum = Op("sum", _sum, residuals=True, grad_fn=_dim_name("Sum"), method=True,
         vjp=lambda xp, g, shape, dim=None, keepdim=False, dtype=None:
             _expand_back(xp, g, shape, dim, keepdim))


def _mean(xp, x, dim=None, keepdim=False, *, dtype=None):
    if x.dtype.kind not in "fc" and dtype is None:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating "
            f"point or complex dtype. Got: {x.dtype}")
    axes = _axes(dim, x.ndim)
    return xp.mean(x, axis=axes, keepdims=keepdim, dtype=dtype), x.shape


def _mean_vjp(xp, g, shape, dim=None, keepdim=False, dtype=None):
    axes = _axes(dim, len(shape))
    count = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            count *= s
    return _expand_back(xp, g / count, shape, dim, keepdim)


mean = Op("mean", _mean, residuals=True, grad_fn=_dim_name("Mean"), method=True, vjp=_mean_vjp)
