"""In-place changes through views, as PyTorch makes them.

A view (``x[0]``, ``x.t()``, ``x.view(...)``) shares its base's memory and keeps how it was
made (a ViewInfo). When an op changes a view in place and a gradient is needed, the base's
history becomes a CopySlices node: the gradient it passes to the base's old history is the
incoming one with the view's region replaced by the op's gradient for its input 0 (the
view's old values); the op's other inputs get theirs. The view's own history is then
rebuilt on the base's new one by replaying the view ops that made it, as is the history of
any other view of that base the next time it is used (``rebase``); a gradient it retains
(``retain_grad()``) follows it to the new history. A custom Function that
marks an input view dirty (``ctx.mark_dirty``) goes through the same path, its node in
place of the op's and the view at any of its inputs.

How a view was made (its creation mark, tensor.pxd: PyTorch's CreationMeta) decides which
of these changes PyTorch refuses, with its messages (``refusal``): a view made under
no_grad or inference_mode, one of several views an op or a Function returned, or a view a
custom Function returned (``mark_function_views``), whose backward the rebuilt history
would bypass.

The in-place view ops (``transpose_``, ``unsqueeze_``, ...) on a view change how the view is
made: it becomes one view op longer (``change_shape``).
"""

import numpy as np

from .batching cimport batching_active
from .batching import _set_batching_active
from .dispatch cimport array_module, is_numpy
from .errors import SECOND_BACKWARD
from .grad_mode cimport grad_enabled, set_grad_enabled_c
from .node cimport Node, grad_edge, move_retained_grad
from .opdef cimport OpDef
from .opnode cimport _tensor_namespace
from .tensor cimport (TensorBase, VersionCounter, ViewInfo, apply_fn, install_rebase, needs_grad,
                      stale_view, VIEW_CUSTOM_FUNCTION, VIEW_DEFAULT, VIEW_INFERENCE,
                      VIEW_MULTI_OUTPUT, VIEW_NO_GRAD)

cdef object _numpy = np
cdef apply_fn _apply_parsed = NULL      # op.pyx's, given when it is imported


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
        # Under vmap the view was taken on the batch's arrays (its batching rule's arguments):
        # it is replayed so, not through the rule again.
        was = batching_active() and _set_batching_active(False)
        try:
            res = _apply_parsed(op, (x,) + info.args, dict(info.params) if info.params else None)
        finally:
            if was:
                _set_batching_active(True)
    else:
        xp = array_module(x)
        if op.overrides and not is_numpy(xp):
            op = op.overrides.get(xp.__name__, op)
        res = op.forward(xp, x, *info.args, **(info.params or {}))
        if op.residuals:
            res = res[0]
    return res[info.index] if info.index >= 0 else res


cdef void rebase(TensorBase t) except *:
    """Give the view ``t`` the history of the same view taken now from its base; refused,
    as PyTorch refuses it, for a view whose creation forbids it (tensor.pxd) once it or its
    base needs a gradient."""
    cdef TensorBase root = <TensorBase>t._base, new
    if t._view.creation != VIEW_DEFAULT and (t._grad_fn is not None or needs_grad(root)):
        raise RuntimeError(refusal(t, True))
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


def view_taken_from(TensorBase t, TensorBase base):
    """The view ``t`` is of its base, taken again from ``base``, a tensor of the base's shape
    (forward mode: the base's tangent, whose view is the view's tangent)."""
    return replay(t._view, base, True)


def check_inplace_on_view(TensorBase t):
    """``check_view_inplace`` for a custom Function that changed the view ``t`` in place
    (``ctx.mark_dirty``)."""
    check_view_inplace(t, (t,))


def rebase_on_node(TensorBase t, Node fn, Py_ssize_t slot):
    """``copy_slices`` for a custom Function whose node ``fn`` took the view ``t`` as its
    input ``slot`` and changed it in place (``ctx.mark_dirty``)."""
    copy_slices(t, fn, slot)


cdef void check_view_inplace(TensorBase t, tuple args) except *:
    """PyTorch's refusals of an in-place change of the view ``t`` (args: the op's inputs) in
    grad mode, made where the op needs a gradient: a view whose creation forbids it, then a
    view of a leaf that requires grad."""
    cdef TensorBase root = <TensorBase>t._base
    # PyTorch's view requires grad where its base does, even one made under no_grad.
    cdef bint view_needs = needs_grad(t) or needs_grad(root)
    if not view_needs and not any(isinstance(a, TensorBase) and needs_grad(<TensorBase>a)
                                  for a in args[1:]):
        return
    if t._view.creation != VIEW_DEFAULT:
        raise RuntimeError(refusal(t, False))
    if view_needs and root._grad_fn is None:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if needs_grad(root):
        check_base_layout(root, t._view)     # before anything is written (copy_slices replays)


cdef str refusal(TensorBase t, bint indirect):
    """PyTorch's message refusing an in-place change of the view ``t`` (``indirect``: of its
    base or another of its views), for how it was made (handle_view_on_rebase)."""
    cdef int creation = t._view.creation
    changed = "its base or another view of its base has been" if indirect else "is being"
    if t._grad_fn is None:
        header = "A view was created in"
    else:
        # The view's node by its name (UnbindBackward0, IdOneOutputBackward), as PyTorch's
        # handle_view_on_rebase and the ported tests at their pinned commit; torch 2.13 names
        # the op instead (Unbind), which the tests comparing with it allow for.
        header = f"Output {t._output_nr} of {(<Node>t._grad_fn).name()} is a view"
        if creation == VIEW_NO_GRAD or creation == VIEW_INFERENCE:
            header += " of a view which was created in"
    if creation == VIEW_INFERENCE:
        msg = f"{header} inference mode and {changed} modified inplace in normal mode."
    elif t._grad_fn is None or creation == VIEW_NO_GRAD:
        msg = f"{header} no_grad mode and {changed} modified inplace with grad mode enabled."
    else:
        msg = f"{header} and {changed} modified inplace."
    if creation == VIEW_MULTI_OUTPUT:
        return msg + (
            " This view is the output of a function that returns multiple views. Such functions "
            "do not allow the output views to be modified inplace. You should replace the "
            "inplace operation by an out-of-place one.")
    if creation == VIEW_CUSTOM_FUNCTION:
        return msg + (
            " This view was created inside a custom Function (or because an input was returned "
            "as-is) and the autograd logic to handle view+inplace would override the custom "
            "backward associated with the custom Function, leading to incorrect gradients. This "
            "behavior is forbidden. You can fix this by cloning the output of the custom "
            "Function.")
    block = "inference_mode" if creation == VIEW_INFERENCE else "no_grad"
    return msg + (
        " Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify "
        "your code by moving both the view and the inplace either both inside the "
        f"{block} block (if you don't want the inplace to be tracked) or both outside (if you "
        "want the inplace to be tracked).")


def mark_function_views(tuple outputs, tuple inputs, Py_ssize_t n_differentiable,
                        bint pure_view):
    """Mark the views among a custom Function's outputs (the inputs it returned as they are
    excepted) as PyTorch does: an in-place change of one is refused, as it would bypass the
    Function's backward; as one of several views where the Function has several
    differentiable outputs; a "pure view" Function's (``ctx._is_pure_view``) are plain views,
    whose in-place changes rebuild their history from their base."""
    cdef TensorBase t
    cdef int creation = (VIEW_MULTI_OUTPUT if n_differentiable > 1 else
                         VIEW_DEFAULT if pure_view else VIEW_CUSTOM_FUNCTION)
    for o in outputs:
        if isinstance(o, TensorBase) and (<TensorBase>o)._base is not None and not any(
                o is i for i in inputs):
            t = <TensorBase>o
            t._view.creation = creation


cdef void copy_slices(TensorBase t, object fn, Py_ssize_t slot=0) except *:
    """After an op with node ``fn`` (or None) wrote into the view ``t``, its input ``slot``:
    the base's history becomes a CopySlices node, and the view's is rebuilt on it."""
    cdef TensorBase root = <TensorBase>t._base
    cdef CopySlices node = CopySlices.__new__(CopySlices)
    cdef Node f = <Node>fn if fn is not None else None
    data = root._data
    xp = array_module(data)
    check_base_layout(root, t._view)    # done already where the base needs a gradient
    node._name = "CopySlices"
    node.fn = f
    node.slot = slot
    node.positions, node.unit = _positions(t._view, data)
    base_edge = grad_edge(root) if needs_grad(root) else None
    base_slot = root._output_nr if root._grad_fn is not None else 0
    if f is not None:
        node.next_nodes = f.next_nodes[:slot] + (base_edge,) + f.next_nodes[slot + 1:]
        node.next_slots = f.next_slots[:slot] + (base_slot,) + f.next_slots[slot + 1:]
    else:
        node.next_nodes = (base_edge,)
        node.next_slots = (base_slot,)
    node.n_outputs = 1
    node.out_shape = data.shape
    node.out_dtype = data.dtype
    old_fn, old_nr = root._grad_fn, root._output_nr
    root._grad_fn = node
    root._output_nr = 0
    if root._retains_grad:
        move_retained_grad(root, old_fn, old_nr)   # the base's .grad: of its new version
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
    # asarray: for a 0-d view the division gives a NumPy scalar, which has no array module
    return xp.asarray(offsets // view.dtype.itemsize), view.dtype


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
            check_view_inplace(t, (t,))
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
        info.creation = t._view.creation
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
        if self.positions is None:
            raise RuntimeError(SECOND_BACKWARD)
        g = grads[0]
        if create_graph:
            # On tensors, so that the gradient is itself recorded: the op's gradient written
            # into a copy of the incoming one, which PyTorch's next functions show (the
            # op's double-backward node next to the copy's).
            if self.unit == (<TensorBase>g)._data.dtype:
                where = array_module(self.positions).unravel_index(self.positions, g.shape)
                res = self.fn.apply([g[where]], True) if self.fn is not None else [None]
                result = g.clone()
                written = res[self.slot]
                result[where] = 0.0 if written is None else written
                return res[:self.slot] + [result] + res[self.slot + 1:]
            flat = _reinterpret(g.reshape(-1))
            res = self.fn.apply([flat[self.positions]], True) if self.fn is not None else [None]
            result = flat.clone()
            written = res[self.slot]
            result[self.positions] = 0.0 if written is None else written
            return res[:self.slot] + [_reinterpret(result).reshape(g.shape)] + res[self.slot + 1:]
        result = g.copy()
        flat = result.reshape(-1)
        if self.unit != flat.dtype:
            flat = flat.view(self.unit)     # a view changing the dtype (view_as_real)
        region = flat[self.positions]
        if isinstance(region, np.generic):
            region = np.asarray(region)     # a 0-d view's region: NumPy gives a scalar
        res = self.fn.apply([region], False) if self.fn is not None else [None]
        written = res[self.slot]
        flat[self.positions] = 0 if written is None else written
        return res[:self.slot] + [result] + res[self.slot + 1:]

    cdef void release(self) noexcept:
        # As PyTorch: fn is let go of, and freed with what it saved unless something else
        # holds it (a custom Function's node, which its saved outputs reach too: it releases
        # its own when the engine gets there). A later backward through this node is refused.
        self.fn = None
        self.positions = None

    def name(self):
        return "torch::autograd::CopySlices"
