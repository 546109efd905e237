"""``autogradx.functional``: the functions PyTorch also keeps in ``torch.functional``
(``einsum``, ``norm``, ``split``...), the same objects as ``autogradx.<name>``, so that code
importing that module (``import torch.functional as F``) runs."""

import autogradx

# torch.functional.__all__ (PyTorch 2.x); the ones autogradx has are this module's.
_TORCH_FUNCTIONAL = (
    "atleast_1d", "atleast_2d", "atleast_3d", "block_diag", "broadcast_shapes",
    "broadcast_tensors", "cartesian_prod", "cdist", "chain_matmul", "einsum", "istft", "lu",
    "meshgrid", "norm", "pca_lowrank", "split", "stft", "svd_lowrank", "tensordot", "unique",
    "unique_consecutive", "unravel_index",
)


def __getattr__(name):
    if name in _TORCH_FUNCTIONAL and hasattr(autogradx, name):
        return getattr(autogradx, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return [name for name in _TORCH_FUNCTIONAL if hasattr(autogradx, name)]
