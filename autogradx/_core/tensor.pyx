"""The Tensor's compiled base: storage, autograd metadata and the accessors
that must be fast. Methods that build on ops live in autogradx/_tensor.py."""

import numpy as np

from .batching cimport batching_active
from .grad_mode cimport grad_enabled

cdef type _ndarray = np.ndarray
cdef object _run_backward = None     # engine.run_backward, looked up on first use


cdef class VersionCounter:
    """A mutable count of in-place changes, shared by a tensor and its views."""

    def __repr__(self):
        return f"VersionCounter({self.value})"


cdef type TensorType = TensorBase


def set_tensor_type(type cls):
    """Make ``cls`` (a subclass of TensorBase) the class of new tensors."""
    global TensorType
    if not issubclass(cls, TensorBase):
        raise TypeError(f"{cls!r} is not a subclass of TensorBase")
    TensorType = cls


def wrap(object data, bint requires_grad=False):
    """A tensor without history holding ``data``, of the class ``set_tensor_type`` made
    current: how the package's modules make tensors without importing the Tensor class."""
    cdef TensorBase t = new_tensor(data, None, 0)
    if requires_grad:
        t.requires_grad = True      # through the property, which checks the dtype
    return t


cdef extern from "Python.h":
    void PyObject_GC_Track(object obj)
    void PyObject_GC_UnTrack(object obj)
    int PyObject_GC_IsTracked(object obj)


cdef void gc_track(object obj) noexcept:
    """Hand ``obj`` back to the cycle collector (it may now be part of a cycle)."""
    if not PyObject_GC_IsTracked(obj):
        PyObject_GC_Track(obj)


cdef void gc_untrack(object obj) noexcept:
    if PyObject_GC_IsTracked(obj):
        PyObject_GC_UnTrack(obj)


cdef TensorBase new_tensor(object data, object grad_fn, Py_ssize_t output_nr):
    cdef TensorBase t = TensorType.__new__(TensorType)
    t._data = data
    t._grad_fn = grad_fn
    t._output_nr = output_nr
    return t


cdef bint needs_grad(TensorBase t) noexcept:
    # A view changed in place since its history was set takes its base's (rebase_view).
    if stale_view(t):
        return (<TensorBase>t._base)._requires_grad or (<TensorBase>t._base)._grad_fn is not None
    return t._requires_grad or t._grad_fn is not None


cdef object grad_dtype_of(TensorBase t):
    if t._grad_dtype is None:
        return t._data.dtype
    return None if t._grad_dtype is False else t._grad_dtype


cdef rebase_fn _rebase_impl = NULL


cdef void install_rebase(rebase_fn fn) noexcept:
    global _rebase_impl
    _rebase_impl = fn


cdef void rebase_view(TensorBase t) except *:
    """Rebuild a stale view's history on its base's current one (as PyTorch does on
    reading its grad_fn)."""
    if _rebase_impl is NULL:
        from . import views  # noqa: F401  (installs it)
    _rebase_impl(t)


cdef class ViewInfo:
    """How a view was made from its base (see tensor.pxd)."""


cdef class TensorBase:
    """Storage and autograd metadata of a tensor (see autogradx.Tensor)."""

    cdef VersionCounter version_counter(self):
        if self._vc is None:
            self._vc = VersionCounter()
        return self._vc

    cdef Py_ssize_t version(self) noexcept:
        return 0 if self._vc is None else self._vc.value

    @property
    def data(self):
        """A tensor sharing this one's storage, detached from the graph."""
        cdef TensorBase t = new_tensor(self._data, None, 0)
        t._vc = self.version_counter()
        return t

    @data.setter
    def data(self, value):
        if not isinstance(value, TensorBase):
            raise TypeError(f"data must be a Tensor, not {type(value).__name__}")
        data = (<TensorBase>value)._data
        if needs_grad(self) and data.dtype.kind not in "fc":
            # Integer data could not take the gradients that backward computes for it.
            raise RuntimeError("data set to a tensor that requires gradients must be floating "
                               "point or complex dtype")
        self._data = data

    @property
    def grad_fn(self):
        """The node that created this tensor, or None for a leaf."""
        if stale_view(self):
            rebase_view(self)
        return self._grad_fn

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded op."""
        if stale_view(self):
            rebase_view(self)
        return self._grad_fn is None

    @property
    def requires_grad(self):
        """True if gradients will be computed for this tensor."""
        return needs_grad(self)

    def _is_view(self):
        """True if this tensor shares its base's storage (``_base`` is that base)."""
        return self._base is not None

    @requires_grad.setter
    def requires_grad(self, bint value):
        if self._grad_fn is not None:
            raise RuntimeError(_leaf_only(value))
        if value and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients "
                f"(got dtype {self._data.dtype})"
            )
        self._requires_grad = value

    @property
    def grad(self):
        """The gradient accumulated by backward(), or None."""
        if self._grad_fn is not None and not self._retains_grad and self._grad is None:
            import warnings
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                "Its .grad attribute won't be populated during autograd.backward(). If you "
                "indeed want the .grad field to be populated for a non-leaf Tensor, use "
                ".retain_grad() on the non-leaf Tensor.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, TensorBase):
                raise TypeError(f"assigned grad must be a Tensor or None, not {type(value).__name__}")
            g = (<TensorBase>value)._data
            if g.shape != self._data.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: expected shape "
                    f"{tuple(self._data.shape)}, got {tuple(g.shape)}"
                )
            want = grad_dtype_of(self)
            if want is not None and g.dtype != want:
                from .names import c_name, scalar_name
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{c_name(g.dtype)}' to a tensor "
                    f"with grad_dtype '{scalar_name(want)}'. The gradient must match the tensor's "
                    "grad_dtype (defaults to the tensor's dtype). You can set the tensor's "
                    "grad_dtype attribute with a specific dtype, or None to allow any dtype. Set "
                    "grad_dtype with caution. Diverging the dtypes of a tensor and its gradient "
                    "may break downstream systems that assume they match.")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None       # ``del x.grad``, as in PyTorch

    @property
    def _grad_numpy_dtype(self):
        """A leaf's grad_dtype as a NumPy dtype, None for any (autogradx.Tensor.grad_dtype
        gives it as an autogradx dtype)."""
        if not self.is_leaf:
            raise RuntimeError("grad_dtype can only be accessed on leaf tensors.")
        return grad_dtype_of(self)

    @_grad_numpy_dtype.setter
    def _grad_numpy_dtype(self, want):
        if not self.is_leaf:
            raise RuntimeError("grad_dtype can only be set on leaf tensors.")
        if want is None:
            self._grad_dtype = False
            return
        if self._grad is not None and (<TensorBase>self._grad)._data.dtype != want:
            from .names import c_name, scalar_name
            raise RuntimeError(
                f"Cannot set grad_dtype to '{scalar_name(want)}' because there is already a "
                f"gradient with dtype '{c_name((<TensorBase>self._grad)._data.dtype)}'. Please "
                "clear the gradient (.grad = None) before changing grad_dtype, or ensure the new "
                "grad_dtype matches the existing gradient's dtype.")
        self._grad_dtype = want

    @property
    def retains_grad(self):
        """True if this non-leaf tensor keeps its .grad after backward."""
        return self._retains_grad

    @property
    def _version(self):
        """How many in-place changes this tensor's storage has seen."""
        return self.version()

    @property
    def output_nr(self):
        """Which output of its ``grad_fn`` this tensor is (0 for a leaf)."""
        return self._output_nr

    def _bump_version(self):
        """Record an in-place change of the storage (for saved-tensor checks)."""
        cdef VersionCounter vc = self.version_counter()
        vc.value += 1

    def set_(self, source=None):
        """This tensor takes ``source``'s memory (shared, not copied; none without
        ``source``: empty), as PyTorch's ``set_``. The dtypes must match; the version is
        bumped. A leaf gets a new gradient edge, as in PyTorch: a graph recorded before
        leads to the old one. On a tensor with a history, in grad mode, backward through it
        raises (PyTorch has no derivative for ``set_``)."""
        from .names import c_name
        if source is None:
            data = self._data[:0].reshape(0) if self._data.ndim else self._data.reshape(1)[:0]
        elif not isinstance(source, TensorBase):
            raise TypeError(f"set_(): argument 'source' must be Tensor, not {type(source).__name__}")
        else:
            data = (<TensorBase>source)._data
            if data.dtype != self._data.dtype:
                raise RuntimeError(f"Could not set tensor of type {c_name(data.dtype)} to a "
                                   f"tensor of type {c_name(self._data.dtype)}")
        if grad_enabled() and self._grad_fn is None and self._requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation.")
        self._data = data
        self._bump_version()
        self._accumulator = None
        if grad_enabled() and needs_grad(self):
            from .node import make_node
            make_node("NotImplemented", [self], [self], _no_set_derivative)
        return self

    # -- autograd API ---------------------------------------------------------

    def requires_grad_(self, bint requires_grad=True):
        """Set ``requires_grad`` in place and return self. On a non-leaf, which requires
        grad already, only True is allowed (as in PyTorch: a no-op)."""
        if self._grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(_leaf_only(False))
            return self
        self.requires_grad = requires_grad
        return self

    def detach(self):
        """A new leaf sharing this tensor's storage, outside the graph."""
        cdef TensorBase t = new_tensor(self._data, None, 0)
        t._vc = self.version_counter()
        return t

    def detach_(self):
        """Detach this tensor from the graph in place, making it a leaf."""
        if self._base is not None:
            # Its history is its base's: detaching the view alone cannot be honest.
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        if self._grad_fn is not None:
            self._grad_fn = None
            self._output_nr = 0
        self._requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the ``.grad`` of the leaves.

        ``gradient`` is required unless this tensor has a single element. The
        graph's saved values are freed afterwards unless ``retain_graph=True``.
        """
        # Here rather than in the Python class: every training step calls it, and this
        # saves a Python frame (a fifth of a microsecond) on each.
        global _run_backward
        if inputs is not None:
            return _backward_to(self, gradient, retain_graph, create_graph, inputs=inputs)
        if retain_graph is None:
            retain_graph = create_graph
        if gradient is not None and not isinstance(gradient, TensorBase):
            raise TypeError(f"gradient must be a Tensor or None, not {type(gradient).__name__}")
        if _run_backward is None:
            from .engine import run_backward as _run_backward     # engine imports this module
        _run_backward((self,), (gradient,), bool(retain_graph), bool(create_graph))

    def retain_grad(self):
        """Keep this non-leaf tensor's ``.grad`` after backward (a no-op on leaves)."""
        if not (self._requires_grad or self._grad_fn is not None):
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is None or self._retains_grad:
            return
        self._grad_fn._retain_grad(self._output_nr, self)
        self._retains_grad = True

    def register_hook(self, hook):
        """Register ``hook(grad) -> Tensor or None``, run when this tensor's gradient is computed.

        A hook may return a replacement gradient. Returns a handle whose
        ``remove()`` unregisters it.
        """
        from .node import _HookDict, add_hook
        if not (self._requires_grad or self._grad_fn is not None):
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            return self._grad_fn._register_tensor_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = _HookDict()
        return add_hook(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Register ``hook(tensor) -> None``, run on this leaf after backward has accumulated
        its gradient into ``.grad`` (not by ``autograd.grad``, which accumulates nothing).
        Returns a handle whose ``remove()`` unregisters it."""
        from .node import _HookDict, add_hook
        if not (self._requires_grad or self._grad_fn is not None):
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = _HookDict()
        return add_hook(self._post_acc_hooks, hook)

    # -- metadata -------------------------------------------------------------

    @property
    def shape(self):
        """The tensor's shape as a ``Size``."""
        return Size(self._data.shape)

    def size(self, dim=None):
        """The shape as a ``Size``, or the length of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    @property
    def ndim(self):
        """Number of dimensions."""
        return self._data.ndim

    def dim(self):
        """Number of dimensions."""
        return self._data.ndim

    def numel(self):
        """Number of elements."""
        return self._data.size

    def nelement(self):
        """Number of elements (alias of :meth:`numel`)."""
        return self._data.size

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # -- conversion -----------------------------------------------------------

    def numpy(self, *, bint force=False):
        """The NumPy array behind this tensor (zero-copy: they share memory). A tensor that
        requires grad is refused while grad mode is on (``detach()`` it first), as in PyTorch."""
        if (self._requires_grad or self._grad_fn is not None) and grad_enabled() and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead.")
        if type(self._data) is not _ndarray:
            if not force:
                raise TypeError(
                    f"can't convert a tensor holding {type(self._data).__name__} to numpy. "
                    "Use Tensor.cpu() to copy the tensor to host memory first.")
            return self._data.get()
        return self._data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists; a Python number for a 0-d tensor."""
        return self._data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __hash__(self):
        return id(self)

    # NumPy defers binary operators to a tensor (ndarray * tensor -> Tensor.__rmul__).
    __array_priority__ = 1000

    # -- operators: each is a registered op ----------------------------------

    def __add__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_ADD), (self, other), None)

    def __radd__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_ADD), (other, self), None)

    def __iadd__(self, other):
        if not _operand(other):
            return NotImplemented
        return _inplace(_operator(OP_ADD), (self, other), None)

    def __sub__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_SUB), (self, other), None)

    def __rsub__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_RSUB), (self, other), None)

    def __isub__(self, other):
        if not _operand(other):
            return NotImplemented
        return _inplace(_operator(OP_SUB), (self, other), None)

    def __mul__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_MUL), (self, other), None)

    def __rmul__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_MUL), (other, self), None)

    def __imul__(self, other):
        if not _operand(other):
            return NotImplemented
        return _inplace(_operator(OP_MUL), (self, other), None)

    def __truediv__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_DIV), (self, other), None)

    def __rtruediv__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_DIV), (other, self), None)

    def __itruediv__(self, other):
        if not _operand(other):
            return NotImplemented
        return _inplace(_operator(OP_DIV), (self, other), None)

    def __floordiv__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_FLOORDIV), (self, other), None)

    def __rfloordiv__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_FLOORDIV), (other, self), None)

    def __ifloordiv__(self, other):
        if not _operand(other):
            return NotImplemented
        return _inplace(_operator(OP_FLOORDIV), (self, other), None)

    def __mod__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_MOD), (self, other), None)

    def __rmod__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_MOD), (other, self), None)

    def __imod__(self, other):
        if not _operand(other):
            return NotImplemented
        return _inplace(_operator(OP_MOD), (self, other), None)

    def __matmul__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_MATMUL), (self, other), None)

    def __rmatmul__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_MATMUL), (other, self), None)

    def __and__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_AND), (self, other), None)

    def __rand__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_AND), (other, self), None)

    def __iand__(self, other):
        if not _operand(other):
            return NotImplemented
        return _inplace(_operator(OP_AND), (self, other), None)

    def __or__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_OR), (self, other), None)

    def __ror__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_OR), (other, self), None)

    def __ior__(self, other):
        if not _operand(other):
            return NotImplemented
        return _inplace(_operator(OP_OR), (self, other), None)

    def __xor__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_XOR), (self, other), None)

    def __rxor__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_XOR), (other, self), None)

    def __ixor__(self, other):
        if not _operand(other):
            return NotImplemented
        return _inplace(_operator(OP_XOR), (self, other), None)

    def __eq__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_EQ), (self, other), None)

    def __ne__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_NE), (self, other), None)

    def __lt__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_LT), (self, other), None)

    def __le__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_LE), (self, other), None)

    def __gt__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_GT), (self, other), None)

    def __ge__(self, other):
        if not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_GE), (self, other), None)

    def __pow__(self, other, modulo):
        if modulo is not None or not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_POW), (self, other), None)

    def __rpow__(self, other, modulo):
        if modulo is not None or not _operand(other):
            return NotImplemented
        return _apply(_operator(OP_POW), (other, self), None)

    def __ipow__(self, other):
        if not _operand(other):
            return NotImplemented
        return _inplace(_operator(OP_POW), (self, other), None)

    def __neg__(self):
        return _apply(_operator(OP_NEG), (self,), None)

    def __pos__(self):
        return self

    def __abs__(self):
        return _apply(_operator(OP_ABS), (self,), None)

    def __invert__(self):
        return _apply(_operator(OP_NOT), (self,), None)

    def __getitem__(self, idx):
        idx, advanced = _index_param(idx)
        return _apply(_operator(OP_INDEX if advanced else OP_GETITEM), (self, idx), None)

    def __setitem__(self, idx, value):
        idx, advanced = _index_param(idx)
        if not advanced and _shares_elements(self._data):
            # An expand()ed tensor: as PyTorch, write into the view indexed, refused only
            # where the elements of that view share memory.
            region = _apply(_operator(OP_GETITEM), (self, idx), None)
            if isinstance(value, TensorBase):
                region.copy_(value)
            else:
                region.fill_(value)
            return
        _inplace(_operator(OP_SETITEM), (self, value, idx), None)


cdef str _leaf_only(bint value):
    """PyTorch's refusal to change ``requires_grad`` on a non-leaf (the hint is for False)."""
    msg = "you can only change requires_grad flags of leaf variables."
    if not value:
        msg += (" If you want to use a computed variable in a subgraph that doesn't require "
                "differentiation use var_no_grad = var.detach().")
    return msg


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``torch.Size([...])``."""

    __slots__ = ()

    def __repr__(self):
        return f"torch.Size([{', '.join(str(s) for s in self)}])"

    __str__ = __repr__

    def numel(self):
        """The number of elements of a tensor of this shape (the product of the sizes)."""
        n = 1
        for s in self:
            n *= s
        return n


def _no_set_derivative(grads, create_graph):
    raise RuntimeError("derivative for set_ is not implemented")


cdef bint _shares_elements(object a) except -1:
    """Elements of the array ``a`` share one memory location (a broadcast dim)."""
    if type(a) is _ndarray and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a):
        return False        # NumPy marks its broadcast views read-only (as_strided's too)
    for n, step in zip(a.shape, a.strides):
        if step == 0 and n > 1:
            return True
    return False


cdef Py_ssize_t _wrap_dim(object dim, Py_ssize_t ndim) except -1:
    cdef Py_ssize_t d = dim, n = ndim if ndim > 0 else 1
    if d < -n or d >= n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return d + n if d < 0 else d


# Python operators -> the registered ops that implement them. The op
# definitions come from plugins; only the names are fixed here, by the
# language's operator protocol.
OPERATOR_OPS = ("add", "sub", "rsub", "mul", "div", "pow", "matmul", "neg", "floor_divide",
                "remainder", "abs", "eq", "ne", "lt", "le", "gt", "ge", "bitwise_and",
                "bitwise_or", "bitwise_xor", "bitwise_not", "getitem", "index", "setitem")
cdef enum:
    OP_ADD, OP_SUB, OP_RSUB, OP_MUL, OP_DIV, OP_POW, OP_MATMUL, OP_NEG, OP_FLOORDIV, OP_MOD,
    OP_ABS, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_AND, OP_OR, OP_XOR, OP_NOT,
    OP_GETITEM, OP_INDEX, OP_SETITEM

cdef list _operator_ops = [None] * len(OPERATOR_OPS)
cdef apply_fn _apply_impl = NULL
cdef apply_fn _inplace_impl = NULL


cdef void install_apply(apply_fn fn, apply_fn inplace_fn) noexcept:
    global _apply_impl, _inplace_impl
    _apply_impl = fn
    _inplace_impl = inplace_fn


cdef void _load_apply() except *:
    # op.pyx installs the two when it is imported; nothing may call a NULL pointer.
    from . import op  # noqa: F401
    if _apply_impl is NULL or _inplace_impl is NULL:
        raise ImportError("autogradx._core.op did not install the op-application path")


cdef inline object _apply(object op, tuple args, dict kwargs):
    if _apply_impl is NULL:
        _load_apply()
    return _apply_impl(op, args, kwargs)


cdef object apply_registered(object op, tuple args, dict kwargs):
    return _apply(op, args, kwargs)


cdef inline object _inplace(object op, tuple args, dict kwargs):
    if _inplace_impl is NULL:
        _load_apply()
    return _inplace_impl(op, args, kwargs)


cdef inline object _operator(Py_ssize_t index):
    op = _operator_ops[index]
    if op is None:
        op = _load_operator(index)
    return op


cdef object _get_op = None       # the registry's lookup, given at import (install_op_lookup)


def install_op_lookup(get_op):
    """``get_op(name)``: how the operators find their ops; autogradx gives it at import,
    so that the core imports nothing above it."""
    global _get_op
    _get_op = get_op


cdef object _backward_to = None     # autograd.backward, given at import (install_backward)


def install_backward(backward):
    """``autograd.backward``: what ``Tensor.backward(inputs=...)`` calls (it checks and
    retains the inputs); autogradx gives it at import, as install_op_lookup."""
    global _backward_to
    _backward_to = backward


cdef object _load_operator(Py_ssize_t index):
    from .opdef import OpDef
    op = _get_op(OPERATOR_OPS[index])
    if not isinstance(op, OpDef):
        # op.pyx's entry points take it for an OpDef, unchecked.
        raise TypeError(f"the op registered as {OPERATOR_OPS[index]!r} is not an "
                        f"autogradx.plugin.Op but a {type(op).__name__!r}")
    _operator_ops[index] = op
    return op


cdef type _generic = np.generic


cdef inline bint _operand(object other):
    """Can ``other`` take part in an operator with a tensor? (Else NotImplemented.)"""
    cdef type t = type(other)
    if t is float or t is int or isinstance(other, TensorBase):
        return True
    return isinstance(other, (int, float, complex, _generic, _ndarray))


cdef object _index_param(object idx):
    """An index with tensors replaced by their arrays; and whether it is advanced. Under vmap
    the tensors stay, so that the batching dispatch sees a batched one (x[i] per sample)."""
    cdef bint keep = batching_active()
    if isinstance(idx, TensorBase):
        return (idx if keep else (<TensorBase>idx)._data), True
    if isinstance(idx, tuple):
        parts = []
        advanced = False
        for part in idx:
            if isinstance(part, TensorBase):
                parts.append(part if keep else (<TensorBase>part)._data)
                advanced = True
            else:
                if isinstance(part, (list, _ndarray)):
                    advanced = True
                parts.append(part)
        return tuple(parts), advanced
    return idx, isinstance(idx, (list, _ndarray))
