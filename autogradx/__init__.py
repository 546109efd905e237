"""autogradx: reverse-mode automatic differentiation with PyTorch's autograd
dialect over NumPy arrays.

Ops (``autogradx.exp``, ``Tensor.sum``, ``nn.functional.*``) come from
plugins registered through the ``autogradx.plugins`` entry point group and are
looked up in the registry on first use.
"""

import numpy as _np

# NumPy 1.x promotes 0-d arrays by value (before NEP 50): a 0-d float32 tensor would come
# back float64 from many ops. Say so at import, not as a wrong dtype later.
if int(_np.__version__.split(".")[0]) < 2:
    raise ImportError(f"autogradx needs NumPy 2.0 or newer; NumPy {_np.__version__} is "
                      f"installed (pip install -U numpy)")

from autogradx import _dtype
from autogradx._core import opnode as _core_opnode, tensor as _core_tensor
from autogradx._core.tensor import Size
from autogradx._device import (
    device, device_of as _device_of, get_default_device, set_default_device,
)
from autogradx._dtype import (
    bool, cdouble, cfloat, complex64, complex128, double, dtype, float, float16, float32,
    float64, half, int, int8, int16, int32, int64, long, short, uint8,
)
from autogradx._factories import (
    Generator, arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
    get_default_dtype, initial_seed, linspace, manual_seed, ones, ones_like, rand, rand_like,
    randint, randn, randn_like, seed, set_default_dtype, tensor, zeros, zeros_like,
)
from autogradx._namespace import op_namespace as _op_namespace
from autogradx._printing import set_printoptions
from autogradx._tensor import Tensor
from autogradx._legacy import (
    BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor, IntTensor,
    LongTensor, ShortTensor,
)
from autogradx.serialization import load, save
from autogradx.grad_mode import (
    enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
    set_grad_enabled,
)
from autogradx import autograd, backends as _backends
from autogradx.autograd import is_anomaly_enabled, set_detect_anomaly
from autogradx.autograd.anomaly_mode import is_anomaly_check_nan_enabled


# What the core and the backends call above themselves, given to them here. The registry
# and the tensor namespace are imported on first use: ``import autogradx`` scans no plugins.

def _load_plugins():
    from autogradx._registry import REGISTRY
    REGISTRY.load()


def _get_op(name):
    from autogradx._registry import get_op
    return get_op(name)


def _tensor_namespace():
    from autogradx._xp import tensor_namespace
    return tensor_namespace


_backends.set_plugin_loader(_load_plugins)
_core_opnode.install_services(device_of=_device_of, tensor_namespace=_tensor_namespace)
_core_tensor.install_op_lookup(_get_op)
_core_tensor.install_backward(autograd.backward)

__version__ = "0.1.0"

# PyTorch's constants (``torch.inf``, ``torch.nan``, ...): Python's floats, as there.
from math import e, inf, nan, pi

# Submodules imported on first use (``autogradx.nn`` and friends), so that
# ``import autogradx`` costs little more than importing NumPy.
_SUBMODULES = ("accelerator", "backends", "conformance", "cuda", "distributed", "func",
               "functional", "linalg", "nn", "optim", "return_types", "special", "testing",
               "utils", "viz", "xpu")
_op_getattr, _op_dir = _op_namespace(__name__, "")


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    return _op_getattr(name)


def __dir__():
    return sorted(set(_op_dir()) | set(_SUBMODULES))


def is_tensor(obj):
    """True if ``obj`` is an autogradx tensor."""
    return isinstance(obj, Tensor)
