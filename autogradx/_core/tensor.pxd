cimport numpy as cnp

# The Tensor's C-level layout. The Python class autogradx.Tensor subclasses
# TensorBase (adding only methods), so every field a hot path touches is here.

cdef class VersionCounter:
    cdef public Py_ssize_t value     # bumped by every in-place change; shared by views


# How a view was made, which decides the in-place changes of it that are refused (PyTorch's
# CreationMeta). A view of a view takes its parent's, unless made in one of the modes itself.
cdef enum:
    VIEW_DEFAULT = 0                 # made by a view op in grad mode: in-place changes allowed
    VIEW_NO_GRAD = 1                 # made while grad mode was off
    VIEW_INFERENCE = 2               # made in inference_mode (kept by its views of views)
    VIEW_CUSTOM_FUNCTION = 3         # returned by a custom Function
    VIEW_MULTI_OUTPUT = 4            # one of the views an op or a Function returned together


cdef class ViewInfo:
    # How a view was made from its base, so that its history can be rebuilt on the base's
    # new history after an in-place change (views.pyx replays the view ops).
    cdef public Py_ssize_t version   # the shared version when this view's history was last set
    cdef public object op            # the view op (an OpDef) that made it from `parent`'s tensor
    cdef public tuple args           # the op's other inputs (arrays) and positional parameters
    cdef public dict params          # the op's keyword parameters, or None
    cdef public Py_ssize_t index     # which output of a multi-output view op (split), or -1
    cdef public ViewInfo parent      # the view it was taken from, or None (taken from the base)
    cdef public int creation         # VIEW_DEFAULT, ... (above)
    cdef public bint dtype_changed   # the view op changed the dtype (view_as_real)
    cdef public object base_data     # taken from the base (no parent): the base's array then, whose layout the ops replay from


cdef class TensorBase:
    cdef public object _data         # the ndarray (NumPy, or CuPy on a GPU) holding the values
    cdef object _grad_fn             # Node that produced this tensor; None for leaves
    cdef Py_ssize_t _output_nr       # which output of _grad_fn this tensor is
    cdef bint _requires_grad         # leaves only: set by the user; non-leaves have a _grad_fn
    cdef bint _retains_grad          # non-leaves: keep .grad after backward (retain_grad())
    cdef object _grad                # accumulated gradient Tensor, or None
    cdef object _accumulator         # weakref to this leaf's AccumulateGrad node, or None
    cdef readonly object _base       # the tensor this one is a view of, or None
    cdef ViewInfo _view              # views: how the view was made from _base, or None
    cdef VersionCounter _vc          # created on first need; views share their base's counter
    cdef object _hooks               # leaves: hook id -> hook, run before accumulation; or None
    cdef object _post_acc_hooks      # leaves: hook id -> hook(tensor), run after accumulation; or None
    cdef object _grad_dtype          # leaves: the NumPy dtype .grad keeps; None: the tensor's; False: any
    cdef object __weakref__

    cdef VersionCounter version_counter(self)
    cdef Py_ssize_t version(self) noexcept


cdef type TensorType                 # autogradx.Tensor, the class new tensors get

# op.pyx installs its apply_op here, so that Python operators on tensors can
# reach the op-application hot path without a Python-level call.
ctypedef object (*apply_fn)(object op, tuple args, dict kwargs)
cdef void install_apply(apply_fn fn, apply_fn inplace_fn) noexcept
# views.pyx installs how a stale view's history is rebuilt on its base's.
ctypedef void (*rebase_fn)(TensorBase t) except *
cdef object apply_registered(object op, tuple args, dict kwargs)     # what OpDef.__call__ calls

cdef TensorBase new_tensor(object data, object grad_fn, Py_ssize_t output_nr)
cdef void gc_track(object obj) noexcept
cdef void gc_untrack(object obj) noexcept
cdef bint needs_grad(TensorBase t) noexcept
cdef object grad_dtype_of(TensorBase t)     # the dtype t's .grad must have, or None for any
cdef void install_rebase(rebase_fn fn) noexcept
cdef void rebase_view(TensorBase t) except *


cdef inline bint stale_view(TensorBase t) noexcept:
    """``t`` is a view whose memory changed in place since its history was set (PyTorch
    then rebuilds its grad_fn on the base's)."""
    return t._base is not None and t._vc.value != t._view.version


cdef inline bint same_shape(cnp.ndarray a, tuple shape) noexcept:
    """``a.shape == shape`` without building the shape tuple (``shape`` holds Python ints)."""
    cdef int i, nd = cnp.PyArray_NDIM(a)
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(a)
    if nd != len(shape):
        return False
    for i in range(nd):
        if dims[i] != <cnp.npy_intp>(<object>shape[i]):
            return False
    return True


cdef inline object dtype_of(object a):
    """``a.dtype``, read through NumPy's C API for an ndarray (no attribute lookup)."""
    return <object>cnp.PyArray_DESCR(<cnp.ndarray>a) if type(a) is cnp.ndarray else a.dtype


cdef inline bint writable_owner(cnp.ndarray a) noexcept:
    """``a`` owns its memory (no base) and may be written: safe to update in place once
    nothing else holds it."""
    return cnp.PyArray_BASE(a) == NULL and cnp.PyArray_ISWRITEABLE(a)


cdef extern from *:
    """
    static inline Py_ssize_t agx_item_refcount(PyObject *list, Py_ssize_t i) {
        return Py_REFCNT(PyList_GET_ITEM(list, i));
    }
    """
    # References to ``l[i]`` (no bounds check), counted without taking one: 1 when the
    # list is all that holds it.
    Py_ssize_t item_refcount "agx_item_refcount" (list l, Py_ssize_t i)
