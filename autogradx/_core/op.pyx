"""The op-application hot path.

``apply_op`` is what every call of a registered op goes through: unwrap the
tensors, promote dtypes, run the forward on the arrays, and, when grad mode
is on and an input requires grad, record an OpNode holding the edges and the
values the formulas of those inputs read. ``apply_inplace`` writes an op's
result into its first input (``x.add_(y)``, ``x[i] = v``).
"""

import numpy as np

cimport numpy as cnp

from types import MethodType

from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM

from .dispatch cimport Switch, array_module, is_numpy
from .dispatch import FAST_PATHS
from .errors import _shape_error, _type_names, record_forward
from .batching cimport batching_active, dispatch as batching_dispatch, not_batched
from .forward cimport forward_active, propagate, propagate_inplace
from .grad_mode cimport anomaly_enabled, grad_enabled, inference_enabled, saved_hooks_on
from .loops cimport call1, call2, scalar_operand
from .names import TENSOR_DTYPES, scalar_name
from .node cimport Node, grad_edge, move_retained_grad
from .opdef cimport OpDef, call_as_method
from .opdef import _camel
from .opnode cimport OpNode, device_of
from .views cimport check_view_inplace, copy_slices, install_apply_parsed
from .promote cimport _category, _promote_all, _scalar_category
from .tensor cimport (TensorBase, VersionCounter, ViewInfo, gc_track, gc_untrack, new_tensor, needs_grad, install_apply,
                      same_shape, dtype_of, stale_view, rebase_view, VIEW_DEFAULT, VIEW_INFERENCE,
                      VIEW_MULTI_OUTPUT, VIEW_NO_GRAD)

cdef object _numpy = np
cdef type _ndarray = np.ndarray
cdef type _generic = np.generic
cdef Switch _fast_paths = FAST_PATHS
cdef object _f32 = np.dtype(np.float32), _f64 = np.dtype(np.float64)
cdef frozenset _DTYPES = TENSOR_DTYPES     # what a tensor may hold


cpdef object apply_op(OpDef op, tuple args, dict kwargs):
    """Apply ``op`` to tensors (and scalars) ``args``; record it when gradients are needed."""
    if op.parse is not None:
        args, kwargs = op.parse(*args, **(kwargs or {}))
        args = tuple(args)
    return _apply_parsed(op, args, kwargs)


cdef object _apply_parsed(OpDef op, tuple args, dict kwargs):
    """``apply_op`` on arguments already in the op's own form (its ``parse`` applied)."""
    if op.inplace_param is not None:
        inplace, args, kwargs = _take_inplace_flag(op, args, kwargs)
        if inplace:
            return apply_inplace(op, args, kwargs)      # F.relu(x, inplace=True)
    if kwargs and "out" in kwargs:
        return _apply_out(op, args, kwargs)
    if batching_active():
        res = batching_dispatch(op, args, kwargs)     # vmap: a batched input takes its rule
        if not not_batched(res):
            return res
    if op.variadic:
        return _apply_variadic(op, args, kwargs)
    cdef Py_ssize_t n = op.n_inputs, nargs = len(args), i, first = 0
    cdef tuple raw                  # the inputs as given (tensors, arrays, numbers, None)
    cdef tuple extra = ()
    cdef dict params = None
    cdef object xp = None, v
    cdef bint record = False
    if nargs > n:
        extra = _unwrap_params(op, args[n:])
        nargs = n
    if nargs == n and not kwargs:
        raw = args if not extra else args[:n]     # the usual call: no list to build
    else:
        raw = _inputs_from(op, args, nargs, kwargs)
    if kwargs:
        params = {}
        for key, v in kwargs.items():
            if key in _ALIASES and key not in op.params:
                key = _ALIASES[key]
            if key in op.inputs:
                continue            # taken by _inputs_from
            elif isinstance(v, TensorBase):
                params[key] = _param_array(op, key, <TensorBase>v)
            else:
                params[key] = v
    cdef list values = list(raw)
    for i in range(n):
        v = raw[i]
        if isinstance(v, TensorBase):
            values[i] = (<TensorBase>v)._data
            if xp is None:
                xp = array_module((<TensorBase>v)._data)
                first = i
            elif type(values[i]) is not type(values[first]):
                _device_mismatch(op, values[first], values[i], i)
            if not record and needs_grad(<TensorBase>v):
                record = True
        elif v is None:
            if i < op.n_required:
                raise TypeError(f"{op.name}() missing required argument '{op.inputs[i]}'")
        elif isinstance(v, _generic):
            values[i] = v.item()    # NumPy scalars count as Python numbers, as in PyTorch
        elif type(v) is _ndarray:
            pass                    # an array takes part as a constant (no gradient)
        elif _scalar_category(v) < 0:
            raise TypeError(
                f"{op.name}(): argument '{op.inputs[i]}' must be a Tensor, an array or a number, "
                f"not {type(v).__name__}")
    if xp is None:
        raise TypeError(
            f"{op.name}(): expected a Tensor among its inputs {op.inputs!r}, got "
            f"{_type_names(raw)}")
    op = _for_arrays(op, xp, values, n)
    record = record and op.differentiable() and grad_enabled()
    if record and op.vjps is not None:
        for i in range(n):
            if op.vjps[i] is None and isinstance(raw[i], TensorBase) and needs_grad(<TensorBase>raw[i]):
                raise _not_differentiable(op, op.inputs[i])
    try:
        if params is None and not extra:
            res = (_call_ufunc(op, values, n) if op.numpy_ufunc is not None and is_numpy(xp) and _fast_paths.on
                   else None)
            if res is None:
                res = _call_forward(op, xp, values, n)
        elif params is None:
            res = op.forward(xp, *values, *extra)
        else:
            res = op.forward(xp, *values, *extra, **params)
    except ValueError as e:
        _shape_error(op, e, values)
        raise
    return _outputs(op, raw, values, extra, params, res, record)


cdef object _apply_out(OpDef op, tuple args, dict kwargs):
    """``op(..., out=t)``: the result written into ``t`` (its version bumped, so that a node
    that saved ``t`` sees the change) and ``t`` returned, as PyTorch does; refused where a
    gradient would be needed, as PyTorch refuses it."""
    kwargs = dict(kwargs)
    out = kwargs.pop("out")
    if out is None:
        return apply_op(op, args, kwargs)
    if not isinstance(out, TensorBase):
        raise TypeError(f"{op.name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    cdef TensorBase t = <TensorBase>out
    if grad_enabled() and (needs_grad(t) or any(
            isinstance(a, TensorBase) and needs_grad(<TensorBase>a)
            for a in args + tuple(kwargs.values()))):
        raise RuntimeError(f"{op.name}(): functions with out=... arguments don't support "
                           "automatic differentiation, but one of the arguments requires grad.")
    if (type(t._data) is _ndarray and op.numpy_ufunc is not None
            and op.numpy_ufunc.signature is None):
        # As PyTorch's elementwise kernels (its reductions and matmul do not check).
        _refuse_partial_overlap(op, t, args, kwargs, 0)
    res = apply_op(op, args, kwargs)
    if not isinstance(res, TensorBase):
        raise TypeError(f"{op.name}(): out= is for ops of one tensor result")
    data = (<TensorBase>res)._data
    if tuple(data.shape) != tuple(t._data.shape):
        raise RuntimeError(f"{op.name}(): out= has shape {list(t._data.shape)}, the result "
                           f"{list(data.shape)}; autogradx does not resize it")
    if _category(data.dtype) > _category(t._data.dtype):
        raise RuntimeError(f"result type {scalar_name(data.dtype)} can't be cast to the "
                           f"desired output type {scalar_name(t._data.dtype)}")
    t._data[...] = data
    cdef VersionCounter vc = t.version_counter()
    vc.value += 1
    return t


cdef OpDef _for_arrays(OpDef op, object xp, list values, Py_ssize_t n):
    """The op that computes on ``xp``'s arrays (a backend's own kernel, if it has one), with
    ``values`` promoted to its dtype rule; apply_op and _apply_variadic share this step."""
    if op.overrides and not is_numpy(xp):
        op = op.overrides.get(xp.__name__, op)
    if op.promote is not None:
        _promote_all(op, values, n)
    return op


cdef tuple _inputs_from(OpDef op, tuple args, Py_ssize_t nargs, dict kwargs):
    """The ``n`` inputs from the first ``nargs`` positional arguments and the keywords
    naming inputs; None for those not given."""
    cdef list given = list(args[:nargs])
    given.extend([None] * (op.n_inputs - nargs))
    if kwargs:
        for key, v in kwargs.items():
            if key in _ALIASES and key not in op.params:
                key = _ALIASES[key]
            if key in op.inputs:
                i = op.inputs.index(key)
                if i < nargs:
                    raise TypeError(f"{op.name}() got multiple values for argument '{key}'")
                given[i] = v
    return tuple(given)


cdef inline object _call_forward(OpDef op, object xp, list values, Py_ssize_t n):
    """The forward on the inputs alone (no parameters), without building an argument tuple
    for the usual one or two."""
    if n == 1:
        return op.forward(xp, values[0])
    if n == 2:
        return op.forward(xp, values[0], values[1])
    return op.forward(xp, *values)


cdef object _call_ufunc(OpDef op, list values, Py_ssize_t n):
    """The forward as the NumPy ufunc it declares, on float arrays of one dtype (no Python
    frame); None for other inputs, or when the ufunc refuses them, so that the forward
    runs (and raises its own error)."""
    a = values[0]
    if n == 1:
        return call1(op.loops, a, False) if _is_float_array(a) else None
    b = values[1]
    if _is_float_array(a):
        if type(b) is _ndarray and not _same_dtype(<cnp.ndarray>a, <cnp.ndarray>b):
            return None             # ops that promote have made them one dtype already
        b = scalar_operand(b, a)
    elif op.number_first and type(a) is not _ndarray and _is_float_array(b):
        a = scalar_operand(a, b)
    else:
        return None
    try:
        return call2(op.loops, a, b, False)
    except (TypeError, ValueError):
        return None


cdef inline bint _same_dtype(cnp.ndarray a, cnp.ndarray b) except -1:
    da, db = <object>cnp.PyArray_DESCR(a), <object>cnp.PyArray_DESCR(b)
    return da is db or da == db


cdef inline bint _is_float_array(object v) except -1:
    return type(v) is _ndarray and _category(<object>cnp.PyArray_DESCR(<cnp.ndarray>v)) == 2


cdef object _outputs(OpDef op, tuple raw, list values, tuple extra, dict params, object res,
                     bint record):
    """Wrap what the forward returned in tensors, mark views, record the node."""
    resid = None
    if op.residuals:
        res, resid = res
    if op.n_outputs == 1:
        if type(res) is not _ndarray and isinstance(res, _generic):
            res = _numpy.asarray(res)
        elif type(res) is not _ndarray and not hasattr(res, "dtype"):
            raise TypeError(f"forward of op {op.name!r} (plugin {op.plugin!r}) returned a "
                            f"{type(res).__name__}, expected an array")
        elif res is values[0] and isinstance(raw[0], TensorBase):
            return raw[0]       # the op left its input as it was (contiguous() of a contiguous tensor)
        _check_output(op, res)
        out = new_tensor(res, None, 0)
        if op.view:
            _mark_view(<TensorBase>out, raw[0], op, values, extra, params, -1)
        if record and _category(dtype_of(res)) >= 2:
            _record(op, raw, values, extra, params, (out,), resid)
        if forward_active():
            propagate(op, raw, values, extra, params, (out,), resid)
        return out if op.output_type is None else op.output_type(out)
    outs = _wrap_outputs(res)
    for o in outs:
        _check_output(op, (<TensorBase>o)._data)
    if op.n_outputs and len(outs) != op.n_outputs:
        raise RuntimeError(
            f"forward of op {op.name!r} (plugin {op.plugin!r}) returned {len(outs)} outputs, "
            f"expected {op.n_outputs}")
    if op.view:
        for k in range(len(outs)):
            _mark_view(<TensorBase>outs[k], raw[0], op, values, extra, params, k)
    if record and outs:         # unbind of an empty dim: no outputs, nothing to record
        _record(op, raw, values, extra, params, outs, resid)
    if forward_active():
        propagate(op, raw, values, extra, params, outs, resid)
    return outs if op.output_type is None else op.output_type(outs)


cdef void _check_output(OpDef op, object res) except *:
    """Refuse an output no tensor can hold (its .dtype would fail): an array of object,
    str, datetime, longdouble, ... dtype, or no array at all."""
    dt = dtype_of(res) if type(res) is _ndarray else getattr(res, "dtype", None)
    if dt is _f32 or dt is _f64 or dt in _DTYPES:
        return
    what = f"an array of dtype {dt}" if dt is not None else f"a {type(res).__name__}"
    raise TypeError(f"forward of op {op.name!r} (plugin {op.plugin!r}) returned {what}, "
                    "expected an array of one of the tensor dtypes")


cdef tuple _take_inplace_flag(OpDef op, tuple args, dict kwargs):
    """(whether the call asks to work in place, args, kwargs with the flag cleared)."""
    name = op.inplace_param
    if kwargs and name in kwargs:
        return bool(kwargs[name]), args, {k: v for k, v in kwargs.items() if k != name}
    cdef Py_ssize_t pos = op.n_inputs + op.params.index(name)
    if pos < len(args) and args[pos]:
        return True, args[:pos] + (False,) + args[pos + 1:], kwargs
    return False, args, kwargs


cdef object _apply_variadic(OpDef op, tuple args, dict kwargs):
    """``op(tensors, *params)`` for an op whose input is a sequence of tensors (``cat``)."""
    cdef Py_ssize_t i, n
    cdef bint record = False
    name = op.inputs[0][1:]
    kwargs = dict(kwargs) if kwargs else {}
    if args:
        seq, extra = args[0], args[1:]
    elif name in kwargs:
        seq, extra = kwargs.pop(name), ()
    else:
        raise TypeError(f"{op.name}() missing required argument '{name}'")
    if isinstance(seq, TensorBase) or not isinstance(seq, (list, tuple)) or not seq:
        raise TypeError(
            f"{op.name}(): argument '{name}' must be a non-empty tuple or list of Tensors, "
            f"not {type(seq).__name__}")
    raw = tuple(seq)
    n = len(raw)
    values = [None] * n
    for i in range(n):
        if not isinstance(raw[i], TensorBase):
            raise TypeError(
                f"{op.name}(): expected Tensor as element {i} in argument '{name}', but got "
                f"{type(raw[i]).__name__}")
        values[i] = (<TensorBase>raw[i])._data
        if type(values[i]) is not type(values[0]):
            _device_mismatch(op, values[0], values[i], 0)
        if not record and needs_grad(<TensorBase>raw[i]):
            record = True
    xp = array_module(values[0])
    op = _for_arrays(op, xp, values, n)
    extra = _unwrap_params(op, tuple(extra))
    params = {k: (_param_array(op, k, <TensorBase>v) if isinstance(v, TensorBase) else v)
              for k, v in kwargs.items()} or None
    record = record and op.differentiable() and grad_enabled()
    try:
        res = op.forward(xp, values, *extra, **(params or {}))
    except ValueError as e:
        _shape_error(op, e, values)
        raise
    return _outputs(op, raw, values, extra, params, res, record)


# Most nodes' slot and version tuples are all zeros: share one object per length.
cdef tuple _ZEROS = tuple((0,) * k for k in range(8))


cdef inline tuple _shared_zeros(tuple t):
    cdef Py_ssize_t k = len(t)
    if k < 8 and t == _ZEROS[k]:
        return <tuple>_ZEROS[k]
    return t


cdef void _mark_view(TensorBase out, object src, OpDef op, list values, tuple extra,
                     dict params, Py_ssize_t index) except *:
    """A view shares its base's version counter, so in-place changes show on both, and
    keeps how it was made (ViewInfo), so that its history can be rebuilt on the base's."""
    cdef TensorBase base
    cdef ViewInfo info
    if not isinstance(src, TensorBase):
        return
    base = <TensorBase>src
    data = out._data
    if type(data) is _ndarray and type(base._data) is _ndarray:
        # np.may_share_memory's test, from the array headers (its call is a tenth of the
        # cost of a small op).
        if (cnp.PyArray_BASE(<cnp.ndarray>data) is NULL
                or (cnp.PyArray_SIZE(<cnp.ndarray>data)
                    and not _bounds_overlap(<cnp.ndarray>data, <cnp.ndarray>base._data))):
            return      # the forward copied: not a view after all
    elif getattr(data, "base", None) is None:
        return      # the forward copied: not a view after all
    # NumPy copies may keep a .base (x.T.reshape(-1)): only shared memory makes a view.
    elif data.size and not array_module(data).may_share_memory(data, base._data):
        return
    out._base = base._base if base._base is not None else base
    out._vc = base.version_counter()
    info = ViewInfo.__new__(ViewInfo)
    info.version = out._vc.value
    info.op = op
    info.args = tuple(values[1:]) + extra if len(values) > 1 else extra
    info.params = dict(params) if params else None     # _record adds to the call's dict
    info.index = index
    info.parent = base._view
    info.creation = _view_creation(base._view, index)
    info.dtype_changed = dtype_of(out._data) != dtype_of(base._data)
    if base._view is None:
        info.base_data = base._data
    out._view = info


cdef inline int _view_creation(ViewInfo parent, Py_ssize_t index) noexcept:
    """A new view's creation mark (tensor.pxd), as PyTorch propagates it: the mode it is made
    in, else its parent's; inference mode is never overridden."""
    cdef int made = (VIEW_DEFAULT if grad_enabled() and index < 0 else
                     VIEW_MULTI_OUTPUT if grad_enabled() else
                     VIEW_INFERENCE if inference_enabled() else VIEW_NO_GRAD)
    if parent is None:
        return made
    if made == VIEW_DEFAULT or parent.creation == VIEW_INFERENCE:
        return parent.creation
    return made


cpdef object apply_inplace(OpDef op, tuple args, dict kwargs):
    """Apply ``op`` and write its result into input 0 (``x.add_(y)``, ``x += y``, ``x[i] = v``).

    The result is computed out of place first, so a failure changes nothing.
    When recorded, the tensor's ``grad_fn`` becomes the new node, whose edge
    for input 0 leads to the tensor's previous history.
    """
    if not args or not isinstance(args[0], TensorBase):
        raise TypeError(f"{op.inplace or op.name}(): expected a Tensor to modify in place")
    cdef TensorBase t = <TensorBase>args[0], o
    cdef OpNode node
    cdef Py_ssize_t k
    name = op.inplace or op.name + "_"
    if type(t._data) is _ndarray and not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>t._data):
        _make_writable(name, t)
    cdef bint on_view = t._base is not None and grad_enabled()
    if grad_enabled():
        if t._grad_fn is None and t._requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation.")
        if on_view:
            check_view_inplace(t, args)
    if type(t._data) is _ndarray:
        _refuse_partial_overlap(op, t, args, kwargs)
    if (op.out and not forward_active() and not batching_active()
            and _write_in_place(op, t, args, kwargs)):
        return t
    if saved_hooks_on() and grad_enabled() and 0 in op.save_idx:
        # The pack hook gets the values the formulas read, not the tensor about to be
        # written over (PyTorch packs a copy of self for an in-place op).
        args = (_snapshot(t),) + args[1:]
    res = apply_op(op, args, kwargs)
    if res is t or res is args[0]:
        return t            # the forward left input 0 as it was: nothing to write
    if not isinstance(res, TensorBase):
        raise TypeError(f"{name}(): op {op.name!r} (plugin {op.plugin!r}) gave "
                        f"{type(res).__name__}, not one tensor to write into input 0")
    o = <TensorBase>res
    if o._data.shape != t._data.shape:
        raise RuntimeError(
            f"{name}(): output with shape {list(t._data.shape)} doesn't match the broadcast "
            f"shape {list(o._data.shape)}")
    if _category(o._data.dtype) > _category(t._data.dtype):
        raise RuntimeError(
            f"{name}(): result type {o._data.dtype} can't be cast to the desired output "
            f"type {t._data.dtype}")
    if isinstance(o._grad_fn, OpNode):
        node = <OpNode>o._grad_fn
        if node.saved:
            saved = list(node.saved)
            sources = list(node.saved_from) if node.saved_from is not None else None
            versions = list(node.saved_versions) if node.saved_versions is not None else None
            for k in range(len(op.save_idx)):
                if op.save_idx[k] == 0 and saved[k] is t._data:
                    # The vjp needs the values before they are overwritten: save a
                    # snapshot that keeps the tensor's history (for create_graph).
                    saved[k] = t._data.copy()
                    if sources is not None:
                        snap = new_tensor(saved[k], t._grad_fn, t._output_nr)
                        (<TensorBase>snap)._requires_grad = t._requires_grad
                        if forward_active():
                            propagate_inplace(snap, t)      # and t's tangent, as it is now
                        sources[k] = snap
                        versions[k] = 0         # the snapshot's own, unchanging version
            node.saved = tuple(saved)
            if sources is not None:
                node.saved_from = tuple(sources)
                node.saved_versions = tuple(versions)
    on_view = on_view and (o._grad_fn is not None or needs_grad(<TensorBase>t._base))
    if (not on_view and o._grad_fn is None and op.differentiable() and grad_enabled()
            and needs_grad(t)):
        # The result cannot carry a gradient (a comparison's bools written into a float
        # tensor): the tensor keeps requiring grad through a node that passes back zeros.
        _zero_history(op, t, args)
    t._data[...] = o._data
    cdef VersionCounter vc = t.version_counter()
    vc.value += 1
    if isinstance(o._grad_fn, OpNode):
        _result_saved_is_t(<OpNode>o._grad_fn, op, o, vc)
    if forward_active():
        propagate_inplace(t, o)
    if on_view:
        copy_slices(t, o._grad_fn)      # the base's history, and the view's on it
    elif o._grad_fn is not None:
        old_fn, old_nr = t._grad_fn, t._output_nr
        t._grad_fn = o._grad_fn
        t._output_nr = 0
        if t._retains_grad:
            move_retained_grad(t, old_fn, old_nr)
    return t


cdef void _result_saved_is_t(OpNode node, OpDef op, TensorBase o, VersionCounter vc) except *:
    """The result ``node`` saved is now ``t``'s values: as PyTorch (which saves ``t``), a
    later in-place change of ``t`` or of a tensor sharing its memory is refused at backward
    (``x.exp_(); x.mul_(2)``), not read from the copy the result was computed in."""
    cdef Py_ssize_t k
    if node.saved_from is None:
        return
    own = o.version_counter()
    sources, versions = list(node.saved_from), list(node.saved_versions)
    for k in range(len(op.save_idx)):
        if op.save_idx[k] < 0 and sources[k] is own:
            sources[k] = vc
            versions[k] = vc.value
    node.saved_from = tuple(sources)
    node.saved_versions = tuple(versions)


cdef TensorBase _snapshot(TensorBase t):
    """A copy of ``t``'s values on ``t``'s history."""
    if stale_view(t):
        rebase_view(t)
    cdef TensorBase snap = new_tensor(t._data.copy(), t._grad_fn, t._output_nr)
    snap._requires_grad = t._requires_grad
    return snap


cdef void _make_writable(str name, TensorBase t) except *:
    """``t``'s array is read-only. NumPy marks so its broadcast views (an expand()ed tensor)
    and the views taken from them: as PyTorch, writing is refused only where elements of
    ``t`` share a memory location; elsewhere ``t`` gets a writable view of the same memory
    (``gI = g.expand(n); gI[0] = 0`` writes the one element). Memory read-only itself (a
    read-only NumPy array given to from_numpy) is refused."""
    cdef cnp.ndarray a = <cnp.ndarray>t._data
    cdef int d
    for d in range(a.ndim):
        if a.strides[d] == 0 and a.shape[d] > 1:
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers "
                "to a single memory location. Please clone() the tensor before performing the "
                "operation.")
    w = a.view()
    try:
        w.flags.writeable = True
    except ValueError:
        raise RuntimeError(f"{name}(): the tensor's memory is read-only (it was made from a "
                           "read-only NumPy array); clone() it before changing it in place") from None
    t._data = w


_OVERLAP = ("unsupported operation: some elements of the input tensor and the written-to "
            "tensor refer to a single memory location. Please clone() the tensor before "
            "performing the operation.")


cdef void _refuse_partial_overlap(OpDef op, TensorBase t, tuple args, dict kwargs,
                                  Py_ssize_t first=1) except *:
    """As PyTorch, refuse an in-place op that reads a tensor sharing part, not all, of the
    memory it writes (``x[1:].add_(x[:-1])``, ``x.mul_(x[0])``): its result would depend on
    the order the elements are written in. Tensors with gaps or repeated elements
    (``x[::2]``) pass, as PyTorch cannot tell them apart cheaply either; so does the number
    a fill reads (its ``value``). setitem writes only the part indexed: checked apart.
    Inputs from ``first`` on are checked: 1 in place (input 0 is ``t``), 0 for ``out=``."""
    cdef Py_ssize_t i, n
    if op.name == "setitem":
        _refuse_setitem_overlap(t, args)
        return
    if op.variadic:
        return
    if op.parse is not None:
        args, kwargs = op.parse(*args, **(kwargs or {}))
        args = tuple(args)
    n = len(args)
    for i in range(first, op.n_inputs):
        name = op.inputs[i]
        if name == "value":
            continue
        v = args[i] if i < n else (kwargs.get(name) if kwargs else None)
        if (isinstance(v, TensorBase) and v is not t
                and type((<TensorBase>v)._data) is _ndarray
                and _partial_overlap(<cnp.ndarray>t._data, <cnp.ndarray>(<TensorBase>v)._data)):
            raise RuntimeError(_OVERLAP)


cdef void _refuse_setitem_overlap(TensorBase t, tuple args) except *:
    """``x[index] = v`` as PyTorch runs it. A basic index copies ``v`` into the view indexed
    (partial overlap refused), ``v`` broadcast first where its shape differs (elements
    repeated: not checked) and filled in where 0-d. An advanced index is index_put_ on the
    view the basic parts make, which refuses ``v`` sharing any memory with it, save a
    one-element ``v`` at one boolean mask (a masked_fill_)."""
    if len(args) < 3 or not isinstance(args[1], TensorBase):
        return
    v = (<TensorBase>args[1])._data
    if type(v) is not _ndarray:
        return
    basic, masks, arrays = [], 0, 0
    for p in (args[2] if isinstance(args[2], tuple) else (args[2],)):
        if isinstance(p, list):
            p = np.asarray(p)
        elif isinstance(p, TensorBase):
            p = (<TensorBase>p)._data     # under vmap the index keeps its tensors
        if isinstance(p, (bool, np.bool_)) or (isinstance(p, _ndarray) and p.ndim == 0
                                               and p.dtype == bool):
            return                      # a True/False dim: rare, left unchecked
        if isinstance(p, _ndarray) and p.ndim > 0:
            if p.dtype == bool:
                masks += 1
                basic.extend([slice(None)] * p.ndim)
            else:
                arrays += 1
                basic.append(slice(None))
        else:
            basic.append(int(p) if isinstance(p, _ndarray) else p)
    try:
        target = t._data[tuple(basic)]
    except (IndexError, TypeError, ValueError):
        return                          # the op itself names a bad index
    if type(target) is not _ndarray:
        return                          # one element (a NumPy scalar): all of v or none
    if not (masks or arrays):
        if v.shape != target.shape:
            if v.ndim == 0:
                return
            shape = list(v.shape)
            while shape and shape[0] == 1:
                del shape[0]            # PyTorch strips v's leading 1-dims, then expands
            try:
                v = np.broadcast_to(v.reshape(shape), target.shape)
            except ValueError:
                return
        if _partial_overlap(<cnp.ndarray>target, <cnp.ndarray>v):
            raise RuntimeError(_OVERLAP)
        return
    if masks == 1 and not arrays and v.size == 1:
        return
    if _partial_overlap(<cnp.ndarray>target, <cnp.ndarray>v) or _same_elements(target, v):
        raise RuntimeError(_OVERLAP)


cdef bint _same_elements(cnp.ndarray a, cnp.ndarray b) except -1:
    """PyTorch's MemOverlapStatus::Full: the same elements, the same way."""
    if a.size == 0 or b.size == 0 or not np.may_share_memory(a, b):
        return False
    return (_extent(a) == _extent(b) and _same_strides(a, b) and _dense(a))


cdef bint _partial_overlap(cnp.ndarray a, cnp.ndarray b) except -1:
    """PyTorch's MemOverlapStatus::Partial of two arrays: both without gaps or repeated
    elements, sharing memory but not the same elements the same way (strides)."""
    cdef Py_ssize_t a0, a1, b0, b1
    if a is b or cnp.PyArray_SIZE(a) == 0 or cnp.PyArray_SIZE(b) == 0:
        return False
    a0, a1 = _extent(a)
    b0, b1 = _extent(b)
    if a1 <= b0 or b1 <= a0:
        return False            # apart: the common case, answered first
    if not (_dense(a) and _dense(b)):
        return False
    if a0 == b0 and a1 == b1:
        return not _same_strides(a, b)
    return True


cdef bint _same_strides(cnp.ndarray a, cnp.ndarray b) noexcept:
    cdef int d
    if a.ndim != b.ndim:
        return False
    for d in range(a.ndim):
        if a.strides[d] != b.strides[d]:
            return False
    return True


cdef inline void _bounds(cnp.ndarray a, Py_ssize_t *lo, Py_ssize_t *hi) noexcept:
    """[lo, hi): from the lowest address of ``a``'s elements to one past the highest."""
    cdef Py_ssize_t low = <Py_ssize_t>cnp.PyArray_DATA(a), high = low, step
    cdef int d
    for d in range(cnp.PyArray_NDIM(a)):
        step = cnp.PyArray_STRIDE(a, d) * (cnp.PyArray_DIM(a, d) - 1)
        if step < 0:
            low += step
        else:
            high += step
    lo[0] = low
    hi[0] = high + cnp.PyArray_ITEMSIZE(a)


cdef bint _bounds_overlap(cnp.ndarray a, cnp.ndarray b) noexcept:
    """``np.may_share_memory(a, b)`` (its default test: the two memory bounds overlap)."""
    cdef Py_ssize_t a0, a1, b0, b1
    if cnp.PyArray_SIZE(a) == 0 or cnp.PyArray_SIZE(b) == 0:
        return False
    _bounds(a, &a0, &a1)
    _bounds(b, &b0, &b1)
    return a0 < b1 and b0 < a1


cdef tuple _extent(cnp.ndarray a):
    """The lowest address of ``a``'s elements, and one past the highest."""
    cdef Py_ssize_t lo = <Py_ssize_t>cnp.PyArray_DATA(a), hi = lo
    cdef int d
    for d in range(a.ndim):
        if a.strides[d] < 0:
            lo += (a.shape[d] - 1) * a.strides[d]
        else:
            hi += (a.shape[d] - 1) * a.strides[d]
    return lo, hi + a.itemsize


cdef bint _dense(cnp.ndarray a) except -1:
    """``a``'s elements fill a block of memory once each (some order of its dims is C order)."""
    dims = sorted((a.strides[d], a.shape[d]) for d in range(a.ndim) if a.shape[d] != 1)
    cdef Py_ssize_t expected = a.itemsize
    for stride, size in dims:
        if stride != expected:
            return False
        expected *= size
    return True


cdef bint _write_in_place(OpDef op, TensorBase t, tuple args, dict kwargs) except -1:
    """Run the forward with ``out=`` input 0's array when that is sure to be what
    the out-of-place path would write: nothing is recorded, every tensor input
    has input 0's dtype and broadcasts to its shape, every number is of a
    category that dtype holds. Returns False (nothing done) otherwise."""
    cdef Py_ssize_t i, n = len(args), d, nd
    cdef TensorBase a
    if n != op.n_inputs or op.parse is not None or op.variadic or op.inplace_param is not None:
        return False
    data = t._data
    if type(data) is not _ndarray or not data.flags.writeable:
        return False
    dtype = data.dtype
    cdef int cat = _category(dtype)
    if cat < 2:
        return False            # integer results may need a cast the slow path refuses
    record = grad_enabled()
    shape = data.shape
    nd = len(shape)
    for i in range(n):
        v = args[i]
        if isinstance(v, TensorBase):
            a = <TensorBase>v
            if record and needs_grad(a):
                return False
            if type(a._data) is not _ndarray or a._data.dtype != dtype:
                return False
            ashape = a._data.shape
            if len(ashape) > nd:
                return False
            for d in range(len(ashape)):
                if ashape[len(ashape) - 1 - d] != 1 and ashape[len(ashape) - 1 - d] != shape[nd - 1 - d]:
                    return False
        elif v is None or not 0 <= _scalar_category(v) <= cat:
            return False
    if kwargs:
        for key in kwargs:
            if key in op.inputs or key == "out" or isinstance(kwargs[key], TensorBase):
                return False
    values = [(<TensorBase>v)._data if isinstance(v, TensorBase) else v for v in args]
    if cat == 2 and op.numpy_ufunc is not None and _fast_paths.on and not kwargs and values[0] is data:
        # The ufunc the forward computes on float arrays, into data (no Python frame).
        if n == 1:
            call1(op.loops, data, True)
        else:
            call2(op.loops, data, scalar_operand(values[1], data), True)
    else:
        try:
            op.forward(_numpy, *values, out=data, **(kwargs or {}))
        except ValueError as e:
            _shape_error(op, e, values)
            raise
    cdef VersionCounter vc = t.version_counter()
    vc.value += 1
    return True


cdef void _zero_history(OpDef op, TensorBase t, tuple args) except *:
    from .node import make_node
    name = op.grad_fn if isinstance(op.grad_fn, str) else _camel(op.name) + "Backward0"
    inputs = [a if isinstance(a, TensorBase) else None for a in args]
    metas = [None if a is None else ((<TensorBase>a)._data.shape, (<TensorBase>a)._data.dtype)
             for a in inputs]

    def zeros(grads, create_graph):
        xp = array_module(grads[0]._data if create_graph else grads[0])
        out = [None if m is None else xp.zeros(m[0], m[1]) for m in metas]
        return [new_tensor(z, None, 0) if create_graph and z is not None else z for z in out]

    make_node(name, inputs, [t], zeros)


cdef class InplaceMethod:
    """The in-place variant of an op (``Tensor.add_``), derived from its ``inplace`` name."""

    cdef readonly OpDef op

    def __init__(self, OpDef op):
        self.op = op

    def __call__(self, *args, **kwargs):
        return apply_inplace(self.op, args, kwargs)

    def __get__(self, obj, objtype):
        if obj is None:
            return self
        return MethodType(self, obj)

    @property
    def __name__(self):
        return self.op.inplace

    @property
    def __doc__(self):
        return f"In-place version of :func:`{self.op.name}`."

    def __repr__(self):
        return f"<in-place method {self.op.inplace!r} of op {self.op.name!r}>"


call_as_method(InplaceMethod)


# NumPy spellings accepted for PyTorch's parameter names.
cdef dict _ALIASES = {"axis": "dim", "keepdims": "keepdim"}


cdef object _param_array(OpDef op, str name, TensorBase t):
    """Tensors passed as parameters reach the forward as arrays: no gradient flows to them."""
    if needs_grad(t) and grad_enabled() and op.differentiable():
        raise _not_differentiable(op, name)
    return t._data


cdef object _not_differentiable(OpDef op, str name):
    return RuntimeError(
        f"The function '{op.name}' is not differentiable with respect to argument '{name}'. "
        "This input cannot have requires_grad True.")


cdef tuple _unwrap_params(OpDef op, tuple extra):
    cdef Py_ssize_t k
    for v in extra:
        if isinstance(v, TensorBase):
            return tuple(
                _param_array(op, op.params[k] if k < len(op.params) else f"#{k}", extra[k])
                if isinstance(extra[k], TensorBase) else extra[k] for k in range(len(extra)))
    return extra


def _device_mismatch(op, a, b, index):
    da, db = device_of(a), device_of(b)
    if da != db:
        raise RuntimeError(
            f"Expected all tensors to be on the same device, but found at least two devices, "
            f"{da} and {db}! (when checking argument '{op.inputs[index]}' of {op.name}())")


def _wrap_outputs(res):
    return tuple(new_tensor(np.asarray(r) if isinstance(r, _generic) else r, None, 0)
                 for r in res)


cdef void _record(OpDef op, tuple raw, list values, tuple extra, dict params, tuple outs,
                  object resid) except *:
    cdef OpNode node = OpNode.__new__(OpNode)
    # An op's node refers only to earlier nodes, arrays, input tensors and plain
    # parameters: no cycle can pass through it until a hook is added (which tracks it),
    # or unless a parameter is a container of the caller's (checked below).
    gc_untrack(node)
    cdef Py_ssize_t i, n = len(raw), k, ns = len(op.save_idx)
    cdef TensorBase t, out
    cdef tuple nexts = PyTuple_New(n)     # filled below: every item is set
    cdef list slots = None
    if extra and not op.varargs:
        if params is None:
            params = {}
        if len(extra) > len(op.params):
            raise TypeError(
                f"{op.name}() takes {n + len(op.params)} positional arguments but "
                f"{n + len(extra)} were given")
        for k in range(len(extra)):
            params[op.params[k]] = extra[k]
    node.op = op
    if type(op.grad_fn) is str:
        node._name = op.grad_fn
    elif op.variadic:
        node._name = op.grad_fn(values, **(params or {}))
    elif params:
        node._name = op.grad_fn(*values, **params)
    else:
        node._name = op.grad_fn(*values)
    for i in range(n):
        v = raw[i]
        edge = None
        if isinstance(v, TensorBase) and needs_grad(<TensorBase>v):
            t = <TensorBase>v
            edge = grad_edge(t)
            if t._output_nr:
                if slots is None:
                    slots = [0] * n
                slots[i] = t._output_nr
        Py_INCREF(edge)
        PyTuple_SET_ITEM(nexts, i, edge)
    node.next_nodes = nexts
    # Most edges lead to output 0 of their node: those share one tuple of zeros.
    node.next_slots = (<tuple>_ZEROS[n] if slots is None and n < 8
                       else _shared_zeros(tuple(slots) if slots is not None else (0,) * n))
    node.n_outputs = len(outs)
    if node.n_outputs == 1:
        out = <TensorBase>outs[0]
        data = out._data
        # Chains of same-shaped ops share one shape tuple (48 bytes a node saved).
        if (n and nexts[0] is not None and (<Node>nexts[0]).n_outputs == 1
                and type(data) is _ndarray and type((<Node>nexts[0]).out_shape) is tuple
                and same_shape(<cnp.ndarray>data, <tuple>(<Node>nexts[0]).out_shape)):
            node.out_shape = (<Node>nexts[0]).out_shape
        else:
            node.out_shape = data.shape
        node.out_dtype = dtype_of(data)
        out._grad_fn = node
    else:
        node.out_shape = tuple((<TensorBase>o)._data.shape for o in outs)
        node.out_dtype = tuple((<TensorBase>o)._data.dtype for o in outs)
        for k in range(node.n_outputs):
            out = <TensorBase>outs[k]
            if _category(out._data.dtype) >= 2:
                out._grad_fn = node
                out._output_nr = k
    if ns or op.residuals:
        _save(node, op, raw, values, outs, resid, ns)
        if saved_hooks_on():
            node.pack_saved(raw, outs)
    else:
        node.saved = ()
    node.params = params or None
    if (params and not _plain(tuple(params.values()))) or (op.residuals and not _plain(resid)):
        # A list the caller keeps (sum(dim=lst), x[lst]) may come to hold the result: the
        # collector must see this node to free such a cycle.
        gc_track(node)
    if anomaly_enabled():
        record_forward(node)


cdef bint _plain(object v) except -1:
    """``v`` cannot refer to anything that refers back to the graph: numbers, strings,
    dtypes, arrays of numbers, slices and tuples of these."""
    if v is None or type(v) is int or type(v) is float or type(v) is bool or type(v) is str:
        return True
    if type(v) is tuple:
        for item in <tuple>v:
            if not _plain(item):
                return False
        return True
    if type(v) is _ndarray:
        return not (<object>cnp.PyArray_DESCR(<cnp.ndarray>v)).hasobject
    if type(v) is slice:
        return _plain((<slice>v).start) and _plain((<slice>v).stop) and _plain((<slice>v).step)
    return v is Ellipsis or isinstance(v, (complex, bytes, np.generic, np.dtype))


cdef void _save(OpNode node, OpDef op, tuple raw, list values, tuple outs, object resid,
                Py_ssize_t ns) except *:
    """The values ``op.save`` names, with the tensors (or result counter) each came from
    and their versions, for the in-place check before the vjp."""
    cdef Py_ssize_t i, k
    cdef tuple saved = PyTuple_New(ns + op.residuals)     # filled below: every item is set
    cdef list sources = None, versions = None            # made on first need
    # Bit k: a formula of an input that requires grad reads saved value k.
    cdef unsigned long long needed = _needed(node, op) if op.reads is not None else ~0ULL
    for k in range(ns):
        i = op.save_idx[k]
        src = None
        version = 0
        if not (needed >> k) & 1:
            value = None            # no formula of an input that requires grad reads it
        elif i >= 0 and op.variadic:
            value = tuple(values)
            src = raw
            version = tuple((<TensorBase>r).version() for r in raw)
        elif i >= 0:
            value = values[i]
            if isinstance(raw[i], TensorBase):
                src = raw[i]
                version = (<TensorBase>src).version()
        else:
            value = (outs[0]._data if op.n_outputs == 1
                     else tuple((<TensorBase>o)._data for o in outs))
            src = (<TensorBase>outs[0]).version_counter()
            version = (<VersionCounter>src).value
        Py_INCREF(value)
        PyTuple_SET_ITEM(saved, k, value)
        if src is not None:
            if sources is None:
                sources = [None] * ns
            sources[k] = src
            if type(version) is not int or version:
                if versions is None:
                    versions = [0] * ns
                versions[k] = version
    if op.residuals:
        Py_INCREF(resid)
        PyTuple_SET_ITEM(saved, ns, resid)
    node.saved = saved
    if sources is not None:
        node.saved_from = tuple(sources)
        # Versions that are all 0 (tensors never changed in place) share one tuple.
        node.saved_versions = (_shared_zeros(tuple(versions)) if versions is not None
                               else _ZEROS[ns] if ns < 8 else (0,) * ns)


cdef unsigned long long _needed(OpNode node, OpDef op) except? 0:
    """Bit k set: the formula of an input that requires grad reads saved value k."""
    cdef unsigned long long needed = 0
    cdef Py_ssize_t i
    for i in range(op.n_inputs):
        if node.next_nodes[i] is not None:
            needed |= <unsigned long long>op.read_masks[i]
    return needed


cdef object _apply_entry(object op, tuple args, dict kwargs):
    return apply_op(<OpDef>op, args, kwargs)


cdef object _inplace_entry(object op, tuple args, dict kwargs):
    return apply_inplace(<OpDef>op, args, kwargs)


cdef object _apply_parsed_entry(object op, tuple args, dict kwargs):
    return _apply_parsed(<OpDef>op, args, kwargs)


install_apply(_apply_entry, _inplace_entry)
install_apply_parsed(_apply_parsed_entry)


def apply_parsed(OpDef op, tuple args, dict kwargs):
    """``apply_op`` on arguments already in the op's own form (its ``parse`` applied), as
    ``_outputs`` sees them: the forward rules (autograd/_jvp.py) apply an op again to
    tangents with the parameters of the call."""
    return _apply_parsed(op, args, kwargs)
