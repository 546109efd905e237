"""``autogradx.Tensor``: the compiled TensorBase plus its Python-level API.

Op methods (``exp``, ``sum``, ``matmul``, ...) are not written here: they are
derived from the registry, each op that declares a method name becoming one.
"""

import warnings

import numpy as np

from autogradx import _dtype, _factories, _inplace_views
from autogradx._core.grad_mode import is_grad_enabled
from autogradx._core.promote import get_default_float
from autogradx._core.names import tensor_type_name
from autogradx._core.tensor import Size, TensorBase, set_tensor_type
from autogradx._printing import format_tensor

__all__ = ["Tensor"]


class Tensor(TensorBase):
    """A multi-dimensional array that records the ops applied to it for autograd."""

    __slots__ = ()
    __module__ = "autogradx"    # its public path, as ``torch.Tensor``'s is ``torch``

    unsqueeze_ = _inplace_views.unsqueeze_
    squeeze_ = _inplace_views.squeeze_
    transpose_ = _inplace_views.transpose_
    t_ = _inplace_views.t_
    swapdims_ = _inplace_views.swapdims_
    swapaxes_ = _inplace_views.swapaxes_
    as_strided_ = _inplace_views.as_strided_

    def __init__(self, *args, **kwargs):
        # ``Tensor(data)`` and ``Tensor(*sizes)`` as in PyTorch's legacy constructor.
        from autogradx._legacy import legacy_array
        self._data = legacy_array(args, kwargs, get_default_float())

    def new(self, *args, **kwargs):
        """PyTorch's legacy constructor with this tensor's dtype and device: ``new(*sizes)``
        (uninitialised) or ``new(data)``."""
        from autogradx._legacy import legacy_array
        out = Tensor.__new__(Tensor)
        out._data = legacy_array(args, dict(kwargs), self._data.dtype)
        return out.to(self.device)

    @property
    def dtype(self):
        """The element type, e.g. ``autogradx.float32``."""
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def volatile(self):
        """Always False, with PyTorch's warning: volatile was removed (use ``no_grad``)."""
        warnings.warn("volatile was removed (Variable.volatile is always False)", UserWarning,
                      stacklevel=2)
        return False

    @volatile.setter
    def volatile(self, value):
        warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                      "instead.", UserWarning, stacklevel=2)

    @property
    def grad_dtype(self):
        """The dtype of this leaf's ``.grad`` (by default its own; gradients arriving in another
        dtype are cast to it), or None: any dtype, kept as it arrives."""
        want = self._grad_numpy_dtype
        return None if want is None else _dtype.from_numpy_dtype(want)

    @grad_dtype.setter
    def grad_dtype(self, value):
        if value is not None and not isinstance(value, _dtype.dtype):
            raise RuntimeError(
                f"grad_dtype must be a torch.dtype or None, but got {type(value).__name__}")
        self._grad_numpy_dtype = None if value is None else value.numpy

    @property
    def device(self):
        """The :class:`device` this tensor's storage is on."""
        from autogradx._device import device_of
        return device_of(self._data)

    @property
    def is_cuda(self):
        """True if this tensor is stored on a CUDA device."""
        return self.device.type == "cuda"

    def is_floating_point(self):
        """True if this tensor's dtype is a floating-point type."""
        return self._data.dtype.kind == "f"

    def is_complex(self):
        """True if this tensor's dtype is a complex type."""
        return self._data.dtype.kind == "c"

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment. If you were attempting to deepcopy a module, "
                "this may be because of a torch.nn.utils.weight_norm usage, see "
                "https://github.com/pytorch/pytorch/pull/103001")
        new = type(self).__new__(type(self))
        new._data = self._data.copy()
        memo[id(self)] = new
        if self.requires_grad:
            new.requires_grad_(True)
        if self.grad is not None:
            new.grad = self.grad.__deepcopy__(memo)
        return new

    def data_ptr(self):
        """The address of the first element, as an int (0 with no elements), as in PyTorch:
        tensors that share memory from the same element have the same one."""
        if self._data.size == 0:
            return 0
        # NumPy's and CuPy's array interfaces both give the address.
        interface = getattr(self._data, "__cuda_array_interface__", None)
        return (interface or self._data.__array_interface__)["data"][0]

    def element_size(self):
        """The size in bytes of one element."""
        return self._data.dtype.itemsize

    def clone(self):
        """A copy with its own storage; gradients flow back to this tensor."""
        from autogradx._registry import get_op
        return get_op("clone")(self)

    def to(self, *args, **kwargs):
        """Convert dtype and/or device: ``to(dtype)``, ``to(device)``, ``to(other)``,
        ``to(device, dtype)``. Returns self when nothing changes (unless ``copy=True``)."""
        from autogradx._registry import get_op
        dtype, device, copy = _parse_to(args, kwargs)
        out = self
        if device is not None and not _same_device(device, self.device):
            out = get_op("_to_device")(out, device)
        if dtype is not None and _dtype.as_numpy_dtype(dtype) != out._data.dtype:
            out = get_op("_to_copy")(out, _dtype.as_numpy_dtype(dtype))
        return out.clone() if copy and out is self else out

    # ``new_*``: a factory whose dtype and device default to this tensor's, not the defaults.

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        """``autogradx.tensor(data)`` with this tensor's dtype and device unless given."""
        return self._new(_factories.tensor, (data,), dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        """A tensor of ``size`` filled with ``fill_value``, of this tensor's dtype and device
        unless given."""
        return self._new(_factories.full, (size, fill_value), dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        """Ones of ``size``, of this tensor's dtype and device unless given."""
        return self._new(_factories.ones, size, dtype, device, requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        """Zeros of ``size``, of this tensor's dtype and device unless given."""
        return self._new(_factories.zeros, size, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        """An uninitialised tensor of ``size``, of this tensor's dtype and device unless
        given."""
        return self._new(_factories.empty, size, dtype, device, requires_grad)

    def _new(self, factory, args, dtype, device, requires_grad):
        return factory(*args, dtype=self.dtype if dtype is None else dtype,
                       device=self.device if device is None else device,
                       requires_grad=requires_grad)

    def float(self):
        """``self.to(autogradx.float32)``."""
        return self.to(_dtype.float32)

    def double(self):
        """``self.to(autogradx.float64)``."""
        return self.to(_dtype.float64)

    def half(self):
        """``self.to(autogradx.float16)``."""
        return self.to(_dtype.float16)

    def long(self):
        """``self.to(autogradx.int64)``."""
        return self.to(_dtype.int64)

    def int(self):
        """``self.to(autogradx.int32)``."""
        return self.to(_dtype.int32)

    def short(self):
        """``self.to(autogradx.int16)``."""
        return self.to(_dtype.int16)

    def bool(self):
        """``self.to(autogradx.bool)``."""
        return self.to(_dtype.bool)

    def type_as(self, other):
        """This tensor cast to ``other``'s dtype (itself if it has it already); the device
        stays as it is."""
        return self.to(other.dtype)

    def cpu(self):
        """This tensor in host memory (itself if it is there already)."""
        return self.to("cpu")

    def cuda(self, device=None):
        """This tensor on a CUDA device (through the CuPy backend plugin)."""
        from autogradx._device import device as _device
        return self.to(_device("cuda", device) if isinstance(device, int) else (device or "cuda"))

    @property
    def mT(self):
        """The tensor with its last two dimensions swapped."""
        if self.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                               f"Got {self.ndim}-D tensor.")
        return self.transpose(-2, -1)

    @property
    def T(self):
        """The tensor with its dimensions reversed."""
        if self.ndim > 2:
            import warnings
            warnings.warn(
                "The use of `x.T` on tensors of dimension other than 2 to reverse their shape "
                "is deprecated. Use `x.mT` to transpose batches of matrices or "
                "`x.permute(*range(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.",
                UserWarning, stacklevel=2)
        return self.permute(tuple(range(self.ndim - 1, -1, -1)))

    @property
    def real(self):
        """The real part (the tensor itself for a real tensor). Unlike PyTorch's, a copy
        for a complex tensor, not a view that writes back."""
        from autogradx._registry import get_op
        return get_op("real")(self)

    @property
    def imag(self):
        """The imaginary part of a complex tensor (a copy, as :attr:`real`)."""
        from autogradx._registry import get_op
        return get_op("imag")(self)

    def type(self, dtype=None, non_blocking=False):
        """The type's name (``'torch.FloatTensor'``) without ``dtype``; else this tensor
        cast to ``dtype`` (a dtype, a legacy class such as ``autogradx.DoubleTensor`` or its
        name ``'torch.DoubleTensor'``), as :meth:`to` does."""
        if dtype is None:
            return f"torch.{tensor_type_name(self._data.dtype)}"
        from autogradx._legacy import TENSOR_TYPES, _TensorTypeMeta
        if isinstance(dtype, str):
            cls = TENSOR_TYPES.get(dtype[6:]) if dtype.startswith("torch.") else None
            if cls is None:
                raise ValueError(f"invalid type: {dtype!r}")
            dtype = cls
        if type(dtype) is _TensorTypeMeta:
            dtype = dtype.dtype
        return self.to(dtype)

    def __repr__(self, *, tensor_contents=None):
        try:
            fn = self.grad_fn
            name = fn.name().rpartition("::")[2] if fn is not None else None
        except RuntimeError:
            # A view made under no_grad whose base changed in place: its grad_fn is refused,
            # and PyTorch's repr says so.
            fn, name = False, "Invalid"
        return format_tensor(
            self._data if type(self._data) is np.ndarray else self._data.get(),
            dtype_name=self._data.dtype.name,
            requires_grad=fn is None and self.requires_grad,
            grad_fn_name=name,
            device=None if type(self._data) is np.ndarray else str(self.device),
        )

    __str__ = __repr__

    def __format__(self, spec):
        if self.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __array__(self, dtype=None, copy=None):
        if self.requires_grad and is_grad_enabled():     # as numpy(): allowed under no_grad
            from autogradx._xp import vjp_on_tensors_note
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead." + vjp_on_tensors_note())
        # NumPy 2's protocol: copy=True asks for an array of its own, copy=False for this
        # tensor's memory itself (an error when a cast or a device transfer must copy).
        on_host = type(self._data) is np.ndarray
        cast = dtype is not None and np.dtype(dtype) != self._data.dtype
        if copy is False and (cast or not on_host):
            why = (f"it holds {self._data.dtype}, not {np.dtype(dtype)}" if cast
                   else "it is not in host memory")
            raise ValueError(f"Unable to avoid copy while creating an array as requested: {why}")
        a = self._data if on_host else self._data.get()
        if cast:
            return a.astype(dtype)
        return a.copy() if copy and on_host else a

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self)))

    def __reduce_ex__(self, protocol):
        raise TypeError("autogradx tensors are not pickled; use autogradx.save")

    def __getattr__(self, name):
        # Op methods are installed from the registry on first need.
        if name.startswith("__") or _install_methods():
            raise AttributeError(f"'Tensor' object has no attribute {name!r}")
        return getattr(self, name)


def _same_device(want, have):
    """``cuda`` names the current device (index 0) as ``cuda:0`` does."""
    return want.type == have.type and (want.index or 0) == (have.index or 0)


def _parse_to(args, kwargs):
    from autogradx._device import device as _device
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, TensorBase):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (_dtype.dtype, np.dtype, type)):
            dtype = a
        elif isinstance(a, (str, _device)):
            device = a
        elif isinstance(a, bool):
            pass            # non_blocking
        else:
            raise TypeError(f"to() received an invalid argument {a!r}")
    return dtype, (None if device is None else _device(device)), copy


_methods_installed = False


def _install_methods():
    """Make every op with a method name a Tensor method. Returns True if already done."""
    global _methods_installed
    if _methods_installed:
        return True
    from autogradx._registry import REGISTRY, PluginWarning
    for name, op in REGISTRY.methods().items():
        if name in Tensor.__dict__:
            continue
        if hasattr(Tensor, name):       # an attribute of the compiled TensorBase
            op = getattr(op, "op", op)
            warnings.warn(f"autogradx plugin {op.plugin!r}: op {op.name!r} asks for the Tensor "
                          f"method {name!r}, which autogradx defines; skipped", PluginWarning)
            continue
        setattr(Tensor, name, op)
    _methods_installed = True
    return False


set_tensor_type(Tensor)
