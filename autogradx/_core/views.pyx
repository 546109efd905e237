"""In-place changes through views, as PyTorch makes them.

A view (``x[0]``, ``x.t()``, ``x.view(...)``) shares its base's memory and keeps how it was
made (a ViewInfo). When an op changes a view in place and a gradient is needed, the base's
history becomes a CopySlices node: the gradient it passes to the base's old history is the
incoming one with the view's region replaced by the op's gradient for its input 0 (the
view's old values); the op's other inputs get theirs. The view's own history is then
rebuilt on the base's new one by replaying the view ops that made it, as is the history of
any other view of that base the next time it is used (``rebase``); a gradient it retains
(``retain_grad()``) follows it to the new history.

The in-place view ops (``transpose_``, ``unsqueeze_``, ...) on a view change how the view is
made: it becomes one view op longer (``change_shape``).
"""

import numpy as np

from .dispatch cimport array_module
from .grad_mode cimport grad_enabled, set_grad_enabled_c
from .node cimport Node, grad_edge, move_retained_grad
from .opdef cimport OpDef
from .opnode cimport _tensor_namespace
from .opdef import _camel
from .tensor cimport (TensorBase, VersionCounter, ViewInfo, apply_fn, install_rebase, needs_grad,
                      stale_view)

cdef object _numpy = np
cdef apply_fn _apply_parsed = NULL      # op.pyx's, given when it is imported


_IN_CUSTOM_FUNCTION = (
    " This view was created inside a custom Function (or because an input was returned "
    "as-is) and the autograd logic to handle view+inplace would override the custom backward "
    "associated with the custom Function, leading to incorrect gradients. This behavior is "
    "forbidden. You can fix this by cloning the output of the custom Function.")


def mark_function_views(tuple outputs, tuple inputs, str name not None):
    """The outputs of the custom Function ``name`` that are views taken inside its forward
    (which ran under no_grad) are views made in a custom Function, as PyTorch's creation
    meta: an in-place change of one, or of its base, is refused (it would bypass the
    Function's backward)."""
    cdef ViewInfo info
    known = {id((<TensorBase>a)._view) for a in inputs
             if isinstance(a, TensorBase) and (<TensorBase>a)._view is not None}
    for k, o in enumerate(outputs):
        if not isinstance(o, TensorBase) or (<TensorBase>o)._view is None:
            continue
        info = (<TensorBase>o)._view
        info.custom_fn = f"Output {k} of {name}"
        while info is not None and id(info) not in known:
            info.no_grad_made = False       # made by the forward, not under the caller's no_grad
            info = info.parent


cdef void install_apply_parsed(apply_fn fn) noexcept:
    global _apply_parsed
    _apply_parsed = fn


cdef object replay(ViewInfo info, object x, bint on_tensor):
    """The view ``info`` describes, taken again from ``x``: its base as a tensor (recorded,
    when ``on_tensor``), or an array of the base's shape."""
    cdef OpDef op = <OpDef>info.op
    if info.parent is not None:
        x = replay(info.parent, x, on_tensor)
    if on_tensor:
        res = _apply_parsed(op, (x,) + info.args, dict(info.params) if info.params else None)
    else:
        xp = array_module(x)
        if op.overrides and xp is not _numpy:
            op = op.overrides.get(xp.__name__, op)
        res = op.forward(xp, x, *info.args, **(info.params or {}))
        if op.residuals:
            res = res[0]
    return res[info.index] if info.index >= 0 else res


cdef void rebase(TensorBase t) except *:
    """Give the view ``t`` the history of the same view taken now from its base; refused,
    as PyTorch refuses it, for a view made under no_grad of a base that needs a gradient."""
    cdef TensorBase root = <TensorBase>t._base, new
    cdef ViewInfo info = t._view
    if needs_grad(root):
        while info is not None:
            if info.custom_fn is not None:
                raise RuntimeError(f"{info.custom_fn} is a view and its base or another view of "
                                   "its base has been modified inplace." + _IN_CUSTOM_FUNCTION)
            if info.no_grad_made:
                raise RuntimeError(
                    "A view was created in no_grad mode and its base or another view of its "
                    "base has been modified inplace with grad mode enabled. Given that this use "
                    "case is ambiguous and error-prone, it is forbidden. You can clarify your "
                    "code by moving both the view and the inplace either both inside the "
                    "no_grad block (if you don't want the inplace to be tracked) or both "
                    "outside (if you want the inplace to be tracked).")
            info = info.parent
    check_base_layout(root, t._view)
    cdef bint was = grad_enabled()
    set_grad_enabled_c(True)        # as PyTorch, on reading grad_fn under no_grad too
    try:
        new = <TensorBase>replay(t._view, root, True)
    finally:
        set_grad_enabled_c(was)
    if new._grad_fn is not None and not t._view.dtype_changed:
        # PyTorch names the rebuilt view's node after the as_strided it replays; a view op
        # changing the dtype it replays as itself (its view function).
        (<Node>new._grad_fn)._name = "AsStridedBackward0"
    old_fn, old_nr = t._grad_fn, t._output_nr
    t._grad_fn = new._grad_fn
    t._output_nr = new._output_nr
    t._view.version = t._vc.value
    if t._retains_grad and t._grad_fn is not None:
        move_retained_grad(t, old_fn, old_nr)


install_rebase(rebase)


cdef void check_view_inplace(TensorBase t) except *:
    """PyTorch's refusals of an in-place change of the view ``t`` in grad mode."""
    cdef TensorBase root = <TensorBase>t._base
    cdef ViewInfo info = t._view
    if root._grad_fn is None and root._requires_grad:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if not needs_grad(root):
        return
    check_base_layout(root, info)       # before anything is written (copy_slices replays)
    while info is not None:
        if info.custom_fn is not None:
            raise RuntimeError(f"{info.custom_fn} is a view and is being modified inplace."
                               + _IN_CUSTOM_FUNCTION)
        # A view made under no_grad is refused as such first, as PyTorch records it.
        if info.no_grad_made:
            raise RuntimeError(
                "A view was created in no_grad mode and is being modified inplace with grad "
                "mode enabled. Given that this use case is ambiguous and error-prone, it is "
                "forbidden. You can clarify your code by moving both the view and the inplace "
                "either both inside the no_grad block (if you don't want the inplace to be "
                "tracked) or both outside (if you want the inplace to be tracked).")
        if info.index >= 0:
            raise RuntimeError(
                f"Output {info.index} of {_camel((<OpDef>info.op).name)} is a view and "
                "is being modified inplace. This view is the output of a function that returns "
                "multiple views. Such functions do not allow the output views to be modified "
                "inplace. You should replace the inplace operation by an out-of-place one.")
        info = info.parent


cdef void copy_slices(TensorBase t, object fn) except *:
    """After an op with node ``fn`` (or None) wrote into the view ``t``: the base's history
    becomes a CopySlices node, and the view's is rebuilt on it."""
    cdef TensorBase root = <TensorBase>t._base
    cdef CopySlices node = CopySlices.__new__(CopySlices)
    cdef Node f = <Node>fn if fn is not None else None
    data = root._data
    xp = array_module(data)
    check_base_layout(root, t._view)    # done already where the base needs a gradient
    node._name = "CopySlices"
    node.fn = f
    node.positions, node.unit = _positions(t._view, data)
    base_edge = grad_edge(root) if needs_grad(root) else None
    base_slot = root._output_nr if root._grad_fn is not None else 0
    if f is not None:
        node.next_nodes = (base_edge,) + f.next_nodes[1:]
        node.next_slots = (base_slot,) + f.next_slots[1:]
    else:
        node.next_nodes = (base_edge,)
        node.next_slots = (base_slot,)
    node.n_outputs = 1
    node.out_shape = data.shape
    node.out_dtype = data.dtype
    root._grad_fn = node
    root._output_nr = 0
    rebase(t)


cdef void check_base_layout(TensorBase root, ViewInfo info) except *:
    """The view ops of ``info`` replay from its base's layout when the view was taken: refused
    (PyTorch replays from the storage, with as_strided) where the base changed its shape in
    place since (``transpose_``), rather than rebuilding a wrong history."""
    while info.parent is not None:
        info = info.parent
    old, data = info.base_data, root._data
    if data is old or old is None:
        return
    if old.shape == data.shape and old.strides == data.strides:
        info.base_data = data       # the same layout (a writable view of the same memory)
        return
    raise NotImplementedError(
        f"autogradx cannot rebuild the history of a view whose base changed its shape in "
        f"place (from {list(old.shape)} to {list(data.shape)}: transpose_, unsqueeze_, "
        f"as_strided_, ...) after the view was taken; take the view again after the change")


cdef tuple _positions(ViewInfo info, object data):
    """Where the view ``info`` describes lies in its base's memory (``data``, laid out in C
    order): ``(positions, dtype)``, the flat position of each of its elements counted in
    elements of its dtype. Read from the strides of the view taken again from an array
    like the base, so that a view changing the dtype (view_as_real, view(dtype)) is found
    as any other."""
    xp = array_module(data)
    probe = xp.empty(data.shape, data.dtype)
    view = replay(info, probe, False)
    offsets = xp.full(view.shape, _address(view) - _address(probe), dtype=xp.int64)
    for d in range(view.ndim):
        steps = xp.arange(view.shape[d], dtype=xp.int64) * view.strides[d]
        offsets = offsets + steps.reshape((-1,) + (1,) * (view.ndim - 1 - d))
    return offsets // view.dtype.itemsize, view.dtype


cdef Py_ssize_t _address(object a) except? -1:
    return a.ctypes.data if isinstance(a, _numpy.ndarray) else a.data.ptr


cdef bint _by_view_fn(ViewInfo info) noexcept:
    """A view op of the chain ``info`` changes the dtype: PyTorch rebuilds such a view with
    its view functions, not with as_strided."""
    while info is not None:
        if info.dtype_changed:
            return True
        info = info.parent
    return False


cdef object _reinterpret(object flat):
    """The 1-d tensor ``flat`` of complex numbers as a 1-d tensor of their real and imaginary
    parts, or back: the dtype changes of autogradx's views (view_as_real, view_as_complex),
    recorded."""
    xp = _tensor_namespace()
    if (<TensorBase>flat)._data.dtype.kind == "c":
        return xp.view_as_real(flat).reshape(-1)
    return xp.view_as_complex(flat.reshape(-1, 2))


def change_shape(TensorBase t not None, object take, str name not None):
    """An in-place view op (``transpose_``) on ``t``: ``take()`` applies the same view op to
    ``t`` out of place. As in PyTorch: in grad mode it is refused where an in-place change of
    ``t`` would be; ``t`` takes the new view's array, its version is bumped, and where
    recorded its history is the new view's (its node named ``name``,
    ``TransposeBackward1``). A view stays a view of its base, made by one more view op;
    except where a view it was taken from changes the dtype: PyTorch rebuilds such a view
    with its view functions, which do not know the in-place one (the history rebuilt after
    a later in-place change misses it, as PyTorch's does)."""
    if grad_enabled():
        if t._base is not None:
            check_view_inplace(t)
        elif t._grad_fn is None and t._requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation.")
    cdef TensorBase out = <TensorBase>take()
    cdef ViewInfo info = t._view
    cdef VersionCounter vc = t.version_counter()
    t._data = out._data
    vc.value += 1
    if info is not None and out._view is not None and not _by_view_fn(info):
        info = out._view
        # Not a view's creation: the view keeps how it was created (PyTorch's creation meta).
        info.no_grad_made = False
        t._view = info
    if out._grad_fn is not None:
        (<Node>out._grad_fn)._name = name
        old_fn, old_nr = t._grad_fn, t._output_nr
        t._grad_fn = out._grad_fn
        t._output_nr = out._output_nr
        if info is not None:
            info.version = vc.value
        if t._retains_grad:
            move_retained_grad(t, old_fn, old_nr)
    return t


cdef class CopySlices(Node):
    """The base's node after an in-place change of one of its views (see the module doc)."""

    cdef list apply(self, list grads, bint create_graph):
        g = grads[0]
        if create_graph:
            # On tensors, so that the gradient is itself recorded: the op's gradient written
            # into a copy of the incoming one, which PyTorch's next functions show (the
            # op's double-backward node next to the copy's).
            if self.unit == (<TensorBase>g)._data.dtype:
                where = array_module(self.positions).unravel_index(self.positions, g.shape)
                res = self.fn.apply([g[where]], True) if self.fn is not None else [None]
                result = g.clone()
                result[where] = 0.0 if res[0] is None else res[0]
                return [result] + res[1:]
            flat = _reinterpret(g.reshape(-1))
            res = self.fn.apply([flat[self.positions]], True) if self.fn is not None else [None]
            result = flat.clone()
            result[self.positions] = 0.0 if res[0] is None else res[0]
            return [_reinterpret(result).reshape(g.shape)] + res[1:]
        result = g.copy()
        flat = result.reshape(-1)
        if self.unit != flat.dtype:
            flat = flat.view(self.unit)     # a view changing the dtype (view_as_real)
        region = flat[self.positions]
        if isinstance(region, np.generic):
            region = np.asarray(region)     # a 0-d view's region: NumPy gives a scalar
        res = self.fn.apply([region], False) if self.fn is not None else [None]
        flat[self.positions] = 0 if res[0] is None else res[0]
        return [result] + res[1:]

    cdef void release(self) noexcept:
        if self.fn is not None:
            self.fn.release()

    def name(self):
        return "torch::autograd::CopySlices"
