"""``autogradx.backends.cuda``: PyTorch's CUDA switches that scripts set
(``torch.backends.cuda.matmul.allow_tf32 = True``). The CuPy backend does not read them:
they are kept so that such code runs."""

import types

__all__ = ["is_built", "matmul"]

matmul = types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                               allow_bf16_reduced_precision_reduction=True)


def is_built():
    """True if a backend for the ``cuda`` device (autogradx's CuPy plugin) is installed,
    whether or not a GPU is usable here (that is ``autogradx.cuda.is_available()``)."""
    from autogradx.backends import _BACKENDS, _load_plugins
    if _load_plugins is not None:
        _load_plugins()
    return "cuda" in _BACKENDS
