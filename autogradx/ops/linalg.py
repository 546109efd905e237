"""Matrix products."""

from autogradx.plugin import Op


def _matmul_name(a, b):
    # PyTorch names the node after the kernel the shapes lead to.
    names = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (1, 2): "SqueezeBackward4",
             (2, 2): "MmBackward0"}
    return names.get((min(a.ndim, 3), min(b.ndim, 3)), "UnsafeViewBackward0")


def _matmul(xp, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D")
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {a.dtype} != {b.dtype}")
    return xp.matmul(a, b)


def _matmul_grad_a(xp, g, a, b):
    if b.ndim == 1:
        return g * b if a.ndim == 1 else g[..., None] * b
    if a.ndim == 1:
        return xp.matmul(b, g[..., None])[..., 0]
    return xp.matmul(g, xp.swapaxes(b, -1, -2))


def _matmul_grad_b(xp, g, a, b):
    if a.ndim == 1:
        return g * a if b.ndim == 1 else a[:, None] * g[..., None, :]
    if b.ndim == 1:
        return xp.matmul(g[..., None, :], a)[..., 0, :]
    return xp.matmul(xp.swapaxes(a, -1, -2), g)


matmul = Op("matmul", _matmul, inputs=("input", "other"), save=("input", "other"),
            grad_fn=_matmul_name, method=True, vjp=(_matmul_grad_a, _matmul_grad_b))
