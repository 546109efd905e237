"""The backward sweep.

Gradients flow from the roots along node edges. The sweep first counts, for
every reachable node, how many edges lead into it; a node runs once all of
them have delivered (or declined to deliver) a gradient, so each node runs
exactly once and gradients meeting at a node are summed in its buffer first.
Of the nodes ready at once, the one made last runs first, an accumulator before
any (PyTorch's ready queue, ordered by sequence number). Both passes use an
explicit stack or heap: no Python or C recursion however deep the graph is. A
backward started from inside another (reentrant) nests on the thread's stack, and
past a depth goes on on a fresh thread, as PyTorch's does.
"""

import contextvars

import numpy as np

cimport numpy as cnp

cimport cython

from cpython.object cimport PyObject
from cpython.ref cimport Py_REFCNT
from cpython.contextvars cimport PyContextVar_Set, PyContextVar_Reset, get_value

from .saved import restore_saved_hooks, saved_hooks_state
from .node cimport Node, NodeExtras, AccumulateGrad, grad_edge, hook_result, run_leaf_hooks
from .grad_mode cimport (anomaly_enabled, anomaly_check_nan, grad_enabled, saved_hooks_on,
                         set_grad_enabled_c)
from .loops cimport Loops, loops_of, call2, exact_in_place
from .dispatch cimport array_module
from .tensor cimport TensorBase, new_tensor, needs_grad, same_shape, dtype_of, writable_owner

from .errors import _anomaly, warn_failed_node
from .thread_state import run_on_fresh_thread

# NumPy's floating-point error state, a context variable since NumPy 2. A backward runs with
# it silent, as PyTorch's backward never warns of a division by zero or an overflow (anomaly
# mode reports NaN gradients), unless the caller has set one (np.errstate), which then
# decides. Read and set directly: np.errstate would cost a backward microseconds.
try:
    from numpy._core.umath import _extobj_contextvar as _np_errstate, _make_extobj
    _NP_DEFAULT = contextvars.Context().run(_np_errstate.get)
    _NP_SILENT = contextvars.Context().run(_make_extobj, all="ignore")
except ImportError:                 # another NumPy: its warnings pass through
    _np_errstate = None

cdef type _ndarray = np.ndarray
cdef type _generic = np.generic
cdef Loops _add = loops_of(np.add)
_NONE_REPLACED = "can't replace a None gradient with a non-None value"

# The sweep each thread runs, for hooks that ask about it (autograd.graph's multi-grad
# hooks): its id (-1 between sweeps), and its roots and inputs, borrowed from _sweep's
# frame while it runs. C thread-locals: setting them costs a sweep nothing measurable.
cdef extern from *:
    """
    static _Thread_local long long agx_sweep_id = -1;
    static _Thread_local PyObject *agx_sweep_roots = NULL;
    static _Thread_local PyObject *agx_sweep_inputs = NULL;
    static long long agx_sweeps = 0;
    static _Thread_local int agx_reentrant_depth = 0;
    """
    long long agx_sweep_id
    PyObject *agx_sweep_roots
    PyObject *agx_sweep_inputs
    long long agx_sweeps
    int agx_reentrant_depth         # backward calls running on this thread, nested

# How deep backward calls nest on one thread before the next goes to a fresh thread: each
# level costs the caller's backward a dozen Python frames (of the default limit of 1000).
cdef enum:
    MAX_REENTRANT_DEPTH = 32


cdef object unbroadcast(object g, object shape, Node producer, Py_ssize_t index):
    """Sum ``g`` down to ``shape``: the one place where broadcasting is undone."""
    cdef Py_ssize_t lead = g.ndim - len(shape), i
    if lead < 0:
        _bad_grad(g, shape, producer, index)
    gshape = g.shape
    axes = list(range(lead))
    for i in range(len(shape)):
        if gshape[lead + i] != shape[i]:
            if shape[i] != 1:
                _bad_grad(g, shape, producer, index)
            axes.append(lead + i)
    # The array module's sum: on NumPy arrays numpy_api's, np.add.reduce without the
    # Python frame of ndarray.sum (a quarter of the cost on small arrays).
    xp = array_module(g)
    if lead and len(axes) == lead and len(shape):
        return xp.sum(g, axis=tuple(axes))      # a new array, not a view of one (leaves keep it)
    g = xp.sum(g, axis=tuple(axes), keepdims=True) if axes else g
    return g.reshape(shape) if lead else g


cdef void _bad_grad(object g, object shape, Node producer, Py_ssize_t index) except *:
    raise RuntimeError(
        f"Function {producer._name}{_origin(producer)} returned an invalid gradient at index "
        f"{index} - got {list(g.shape)} but expected shape compatible with {list(shape)}")


cdef str _origin(Node producer):
    """`` (op 'name', plugin 'name')`` for an op's node; empty for other nodes."""
    op = getattr(producer, "op", None)
    return f" (op {op.name!r}, plugin {op.plugin!r})" if op is not None else ""


cdef void _not_an_array(object g, Node producer, Py_ssize_t index) except *:
    # Array subclasses (np.matrix, masked arrays) and look-alikes would end up in .grad
    # and change what arithmetic on it means: only the backends' own arrays pass.
    cls = type(g)
    name = cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    raise TypeError(
        f"Function {producer._name}{_origin(producer)} returned a {name} as gradient {index}, "
        "expected an array (numpy.ndarray, or the array type of a registered backend)")


cdef void _not_a_shape(Node target, object shape) except *:
    # A tensor whose _data was replaced by something that is not an array.
    raise TypeError(
        f"{target._name} takes a gradient of shape {shape!r}, a {type(shape).__name__}: the "
        "tensor it is for does not hold an array")


cdef object conform(object g, Node target, Py_ssize_t slot, Node producer, Py_ssize_t index):
    """Check a gradient against the tensor it is for: un-broadcast it, cast its dtype."""
    shape = target.expected_shape(slot)
    if type(shape) is not tuple:
        _not_a_shape(target, shape)
    if isinstance(g, TensorBase):
        return _conform_tensor(<TensorBase>g, shape, target, slot, producer, index)
    if type(g) is not _ndarray:
        if isinstance(g, _generic):
            g = np.asarray(g)
        elif not _is_backend_array(g):
            _not_an_array(g, producer, index)
    if not (type(g) is _ndarray and same_shape(<cnp.ndarray>g, <tuple>shape)) and g.shape != shape:
        g = unbroadcast(g, shape, producer, index)
    dtype = target.expected_dtype(slot)
    gdtype = dtype_of(g)
    if dtype is not None and gdtype is not dtype and gdtype != dtype:
        if g.dtype.kind not in "fc" or (g.dtype.kind == "c" and dtype.kind != "c"):
            raise TypeError(
                f"Function {producer._name}{_origin(producer)} returned a gradient of dtype "
                f"{g.dtype} at index {index}; expected {dtype}")
        g = g.astype(dtype)
    return g


cdef bint _is_backend_array(object g) except -1:
    try:
        array_module(g)
    except TypeError:
        return False
    return True


cdef object _conform_tensor(TensorBase g, tuple shape, Node target, Py_ssize_t slot,
                            Node producer, Py_ssize_t index):
    """``conform`` for create_graph, where gradients are tensors and every step is recorded."""
    if type(g._data) is not _ndarray and not _is_backend_array(g._data):
        _not_an_array(g._data, producer, index)
    if g._data.shape != shape:
        unbroadcast(g._data, shape, producer, index)       # raises if incompatible
        lead = g._data.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i in range(len(shape))
                                          if shape[i] == 1 and g._data.shape[lead + i] != 1)
        if axes:
            g = g.sum(dim=axes, keepdim=True)
        if lead:
            g = g.reshape(shape)
    dtype = target.expected_dtype(slot)
    if dtype is not None and g._data.dtype != dtype:
        g = g.to(dtype)
    return g


cdef inline object _as_tensor(object g):
    return g if isinstance(g, TensorBase) else new_tensor(g, None, 0)


cdef list _run_tensor_hooks(Node node, list grads):
    cdef TensorBase t
    for slot, hooks in (node.extras.tensor_hooks or {}).items():
        g = grads[slot]
        if not hooks:
            continue
        for hook in tuple(hooks.values()):
            res = hook(None if g is None else _as_tensor(g))
            if res is not None:
                if g is None:
                    raise RuntimeError(_NONE_REPLACED)
                g = hook_result(hook, res, g)
        grads[slot] = g
    for slot, ref in (node.extras.retain_refs or {}).items():
        owner = ref()
        g = grads[slot]
        if owner is None or g is None:
            continue
        t = <TensorBase>owner
        if isinstance(g, TensorBase):
            t._grad = g if t._grad is None else t._grad + g
        elif t._grad is None:
            t._grad = new_tensor(g.copy(), None, 0)
        else:
            t._grad = new_tensor((<TensorBase>t._grad)._data + g, None, 0)
    return grads


cdef list _leaf_hooks(AccumulateGrad node, list grads):
    """The hooks of the leaf ``node`` accumulates into, on its gradient; as PyTorch's tensor
    hooks, with None when the node runs (or is captured) without one."""
    if grads[0] is not None:
        return run_leaf_hooks(node, grads)
    hooks = (<TensorBase>node.variable)._hooks
    for hook in tuple(hooks.values()) if hooks else ():
        if hook(None) is not None:
            raise RuntimeError(_NONE_REPLACED)
    return grads


cdef list _hook_grads(object hook, object res, list grads):
    """What a node hook returned in place of ``grads``, checked as PyTorch checks it: a
    tuple of as many tensors (or Nones), each of the shape and dtype of the one it replaces."""
    cdef Py_ssize_t i, n = len(grads)
    if type(res) is not tuple:
        raise TypeError(f"expected tuple, but hook returned '{type(res).__name__}'")
    if len(res) != n:
        name = getattr(hook, "__name__", repr(hook))
        raise RuntimeError(f"hook '{name}' has returned an incorrect number of values "
                           f"(got {len(res)}, but expected {n})")
    for r in res:
        if r is not None and not isinstance(r, TensorBase):
            raise TypeError(f"expected Variable, but hook returned '{type(r).__name__}'")
    out = [None] * n
    for i in range(n):
        if res[i] is None:
            continue
        if grads[i] is None:
            raise RuntimeError(_NONE_REPLACED)
        out[i] = hook_result(hook, res[i], grads[i])
    return out


cdef list _run_pre_hooks(Node node, list grads):
    for hook in tuple(node.extras.pre_hooks.values()):
        res = hook(tuple(None if g is None else _as_tensor(g) for g in grads))
        if res is not None:
            grads = _hook_grads(hook, res, grads)
    return grads


cdef list _run_post_hooks(Node node, list in_grads, list grads):
    cdef tuple nexts = node.next_nodes
    cdef Py_ssize_t i
    # As in PyTorch, the hooks see (and must keep) the gradients as the inputs take them.
    for i in range(len(nexts)):
        if nexts[i] is not None and in_grads[i] is not None:
            in_grads[i] = conform(in_grads[i], <Node>nexts[i], node.next_slots[i], node, i)
    for hook in tuple(node.extras.post_hooks.values()):
        res = hook(tuple(None if g is None else _as_tensor(g) for g in in_grads),
                   tuple(None if g is None else _as_tensor(g) for g in grads))
        if res is not None:
            in_grads = _hook_grads(hook, res, in_grads)
    return in_grads


@cython.freelist(64)
@cython.final
cdef class _Pending:
    """Per-node state of one backward call: edges still to deliver, and the gradient buffer."""
    cdef object owner               # the sweep it belongs to (that sweep's overflow dict)
    cdef Py_ssize_t deps
    cdef list grads
    cdef bint needed                # runs in this call (all nodes, unless inputs= prunes)
    cdef int visit                  # pruning walk: 0 new, 1 on the stack, 2 done
    cdef list captures              # (output slot, result index) for the inputs= tensors made here


# A sweep keeps each node's _Pending on the node itself (``node.pending``), and in its own
# dict only when another sweep (another thread, or a backward run by a hook) holds that
# node already. The dict is also the sweep's identity: ``owner``. Nothing in a _Pending
# refers back to its node, so an interrupted sweep leaves no cycle; ``_sweep`` clears
# what is left on the nodes when it fails.

cdef inline _Pending _get(dict state, Node node):
    """The sweep's state for ``node``, or None if it has none yet."""
    p = node.pending
    if p is not None and (<_Pending>p).owner is state:
        return <_Pending>p
    if not state:
        return None
    return <_Pending>state.get(node)


cdef inline _Pending _new(dict state, Node node, bint needed):
    cdef _Pending p = _Pending.__new__(_Pending)
    p.owner = state
    p.needed = needed
    if node.pending is None:
        node.pending = p
    else:
        state[node] = p
    return p


cdef inline void _drop(dict state, Node node, _Pending p) except *:
    if node.pending is p:
        node.pending = None
    else:
        del state[node]


cdef void _clear(dict state, list roots) noexcept:
    """After a failed sweep: take its states off every node it reached."""
    cdef list stack = [r[0] for r in roots]
    cdef set seen = set()
    cdef Node node
    while stack:
        node = <Node>stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.pending is not None and (<_Pending>node.pending).owner is state:
            node.pending = None
        for nxt in node.next_nodes:
            if nxt is not None:
                stack.append(nxt)


CREATE_GRAPH_CYCLE = (
    "Using backward() with create_graph=True will create a reference cycle between the "
    "parameter and its gradient which can cause a memory leak. We recommend using "
    "autograd.grad when creating the graph to avoid this. If you have to use this function, "
    "make sure to reset the .grad fields of your parameters to None after use to break the "
    "cycle and avoid the leak.")


cpdef run_backward(tuple tensors, tuple grads, bint keep_graph, bint create_graph,
                   tuple inputs=None, bint accumulate=True):
    """Backpropagate ``grads`` (tensors or None) from ``tensors`` into the leaves' ``.grad``.

    With ``create_graph`` the gradients are tensors and the sweep itself is
    recorded, so that the gradients can be differentiated in turn. With
    ``inputs``, only the nodes leading to them run, and their gradients are
    returned (``accumulate=False``, for ``autograd.grad``) or accumulated into
    those leaves only (``backward(inputs=...)``). A GradientEdge (``(node, output_nr)``
    named tuple) may stand for a tensor in ``tensors`` and in ``inputs``.
    """
    global agx_reentrant_depth
    if agx_reentrant_depth >= MAX_REENTRANT_DEPTH:
        # A backward started from a node's backward, nested this deep on this thread: as
        # PyTorch's engine does, go on on another thread (with this one's state) whose stack
        # is fresh, so that a chain of them thousands deep meets no recursion limit.
        return run_on_fresh_thread(run_backward, tensors, grads, keep_graph, create_graph,
                                   inputs, accumulate)
    cdef bint prev_mode = grad_enabled()
    # Saved-tensor hooks are restored after, as PyTorch restores its thread state (an unpack
    # hook may enter a pair without leaving it); only looked at where some are on.
    cdef bint hooks_on = saved_hooks_on()
    hooks = saved_hooks_state() if hooks_on else None
    set_grad_enabled_c(create_graph)
    agx_reentrant_depth += 1
    # (Through the C API: the methods cost a tenth of a microsecond more per backward.)
    quiet = (PyContextVar_Set(_np_errstate, _NP_SILENT)
             if _np_errstate is not None and get_value(_np_errstate) is _NP_DEFAULT else None)
    try:
        return _sweep(tensors, grads, keep_graph, create_graph, inputs, accumulate)
    finally:
        if quiet is not None:
            PyContextVar_Reset(_np_errstate, quiet)
        agx_reentrant_depth -= 1
        set_grad_enabled_c(prev_mode)
        if hooks_on or saved_hooks_on():
            restore_saved_hooks(hooks)




cdef list _sweep(tuple tensors, tuple grads, bint keep_graph, bint create_graph, tuple inputs,
                 bint accumulate):
    cdef Py_ssize_t i, n_roots = len(tensors)
    cdef TensorBase t
    cdef Node node

    # Validate every root before touching any state.
    roots = []
    if len(grads) != n_roots:
        raise RuntimeError(f"{len(grads)} gradients given for {n_roots} tensors")
    for i in range(n_roots):
        if _is_edge(tensors[i]):
            node, slot = _edge_at(tensors, i, "tensors")
            g = _root_grad(i, grads[i], node.expected_shape(slot), node.expected_dtype(slot),
                           None, create_graph)
            roots.append((node, slot, g))
            continue
        t = _tensor_at(tensors, i, "tensors")
        if not needs_grad(t):
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn")
        g = _root_grad(i, grads[i], t._data.shape, t._data.dtype, t._data, create_graph)
        roots.append((grad_edge(t), t._output_nr if t._grad_fn is not None else 0, g))
    if accumulate and create_graph:
        # PyTorch's warning, where its engine gives it: each leaf's .grad will hold a graph
        # that leads back to the leaf.
        import warnings
        warnings.warn(CREATE_GRAPH_CYCLE, UserWarning, stacklevel=2)

    cdef dict state = {}
    cdef Py_ssize_t live = 0        # states on nodes and in ``state``, not yet dropped
    global agx_sweep_id, agx_sweep_roots, agx_sweep_inputs, agx_sweeps
    cdef long long outer_id = agx_sweep_id
    cdef PyObject *outer_roots = agx_sweep_roots
    cdef PyObject *outer_inputs = agx_sweep_inputs
    agx_sweeps += 1                 # under the GIL
    agx_sweep_id = agx_sweeps
    agx_sweep_roots = <PyObject *>roots
    agx_sweep_inputs = <PyObject *>inputs
    cdef bint anomaly = anomaly_enabled()
    if anomaly:
        outer_node = getattr(_anomaly, "node", None)
        _anomaly.node = None        # set by _run to each node it runs
    try:
        return _run(state, roots, keep_graph, create_graph, inputs, accumulate, &live)
    except BaseException:
        if anomaly and _anomaly.node is not None:
            warn_failed_node(_anomaly.node)
        raise
    finally:
        agx_sweep_id = outer_id
        agx_sweep_roots = outer_roots
        agx_sweep_inputs = outer_inputs
        if anomaly:
            _anomaly.node = outer_node
        if live:
            _clear(state, roots)


cdef object _root_grad(Py_ssize_t i, object g, object shape, object dtype, object like,
                       bint create_graph):
    """The gradient that starts the sweep at root ``i``, whose output has ``shape`` and
    ``dtype`` (``like``: its array, None for a GradientEdge): ones for None (scalar roots
    only), else ``g`` checked and cast as PyTorch does."""
    if g is None:
        # A NumPy root answers from its array header, without Python calls.
        numpy_root = type(like) is _ndarray
        if (cnp.PyArray_SIZE(<cnp.ndarray>like) if numpy_root else _numel(shape)) != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        if (cnp.PyArray_ISCOMPLEX(<cnp.ndarray>like) if numpy_root
                else np.dtype(dtype).kind == "c"):
            raise RuntimeError("grad can be implicitly created only for real scalar outputs "
                               f"but got torch.{np.dtype(dtype)}")
        g = np.ones(shape, dtype) if like is None else array_module(like).ones_like(like)
        return new_tensor(g, None, 0) if create_graph else g
    if not isinstance(g, TensorBase):
        raise TypeError(f"gradient {i} must be a Tensor or None, not {type(g).__name__}")
    if (<TensorBase>g)._data.shape != shape:
        raise RuntimeError(
            f"Mismatch in shape: grad_output[{i}] has a shape of "
            f"{_size((<TensorBase>g)._data.shape)} and output[{i}] has a shape of "
            f"{_size(shape)}.")
    if (<TensorBase>g)._data.dtype != dtype:
        _check_complex(i, (<TensorBase>g)._data.dtype, dtype)
        return g.to(dtype) if create_graph else (<TensorBase>g)._data.astype(dtype)
    return g if create_graph else (<TensorBase>g)._data


cdef Py_ssize_t _numel(object shape) except -1:
    cdef Py_ssize_t n = 1
    for s in shape:
        n *= s
    return n


cdef inline bint _is_edge(object x):
    # A GradientEdge (autograd.graph): a (node, output_nr[, token]) named tuple that stands
    # for a tensor among the roots or the inputs.
    return type(x) is not tuple and isinstance(x, tuple) and len(x) >= 2 and isinstance(x[0], Node)


cdef tuple _edge_at(tuple items, Py_ssize_t i, str what):
    """``(node, output slot)`` of the GradientEdge ``items[i]``, checked."""
    node, slot = items[i][0], items[i][1]
    if type(slot) is not int or not 0 <= slot < (<Node>node).n_outputs:
        raise RuntimeError(f"element {i} of {what} is a GradientEdge to output {slot!r} of "
                           f"{(<Node>node)._name}, which has {(<Node>node).n_outputs} outputs")
    return node, slot


cdef tuple _target_at(tuple inputs, Py_ssize_t i):
    """``(node, output slot)`` where ``inputs[i]`` (a tensor or a GradientEdge) takes its gradient."""
    if _is_edge(inputs[i]):
        return _edge_at(inputs, i, "inputs")
    cdef TensorBase x = _tensor_at(inputs, i, "inputs")
    return grad_edge(x), x._output_nr if x._grad_fn is not None else 0


cdef TensorBase _tensor_at(tuple tensors, Py_ssize_t i, str what):
    """``tensors[i]``, which run_backward's callers may have filled with anything."""
    t = tensors[i]
    if not isinstance(t, TensorBase):
        raise TypeError(f"element {i} of {what} is a {type(t).__name__}, expected a Tensor")
    return <TensorBase>t


cdef void _check_complex(Py_ssize_t i, object gdtype, object dtype) except *:
    # Other dtypes are cast to the output's; between real and complex a cast would drop
    # the imaginary part, or invent one: PyTorch refuses.
    if (gdtype.kind == "c") != (dtype.kind == "c"):
        raise RuntimeError(
            "For complex Tensors, both grad_output and output are required to have the same "
            f"dtype. Mismatch in dtype: grad_output[{i}] has a dtype of torch.{gdtype} and "
            f"output[{i}] has a dtype of torch.{dtype}.")


cdef list _run(dict state, list roots, bint keep_graph, bint create_graph, tuple inputs,
               bint accumulate, Py_ssize_t *live):
    cdef Py_ssize_t i, k, top = 0
    cdef Node node, nxt
    cdef NodeExtras extras
    cdef _Pending p, q
    cdef list stack = [], buf, in_grads, hooked = None
    cdef tuple nexts, slots

    # Pass 1: count the edges into every reachable node. ``stack`` is used with its own
    # top, so that it is not shrunk and grown again at each step.
    for node, _, _ in roots:
        if _get(state, node) is None:
            _new(state, node, inputs is None)
            live[0] += 1
            top = _push(stack, top, node)
    while top:
        top -= 1
        node = <Node>stack[top]
        for nxt_obj in node.next_nodes:
            if nxt_obj is None:
                continue
            p = _get(state, <Node>nxt_obj)
            if p is None:
                p = _new(state, <Node>nxt_obj, inputs is None)
                live[0] += 1
                top = _push(stack, top, nxt_obj)
            p.deps += 1

    cdef list results = None
    if inputs is not None:
        results = [None] * len(inputs)
        _mark_targets(state, inputs, accumulate)
        _prune(state, roots)

    # Pass 2: run each node once all its incoming edges have delivered; of the nodes ready
    # at once, the latest made first (``stack`` is now a heap: PyTorch's ready queue).
    for node, slot, g in roots:
        p = _get(state, node)
        if p.grads is None:
            p.grads = [None] * node.n_outputs
            if p.deps == 0:
                top = _heap_push(stack, top, node)
        if p.grads[slot] is None:
            p.grads[slot] = g
        else:
            g = p.grads[slot] + g
            p.grads[slot] = np.asarray(g) if isinstance(g, _generic) else g
    g = None
    while top:
        node = _heap_pop(stack, top)
        top -= 1
        p = _get(state, node)
        buf = p.grads
        p.grads = None
        _drop(state, node, p)
        live[0] -= 1
        if buf is None:
            buf = [None] * node.n_outputs
        if anomaly_enabled():
            _anomaly.node = node        # the node to report if this step fails
        extras = node.extras
        # As in PyTorch: the tensor's hooks, then retain_grad, then the node's pre-hooks. A
        # node that runs, or whose gradient is captured, calls its tensors' hooks (with None
        # for an output that got no gradient); only one that runs calls its own prehooks.
        if isinstance(node, AccumulateGrad) and (p.needed or p.captures is not None):
            buf = _leaf_hooks(<AccumulateGrad>node, buf)
        if extras is not None and (p.needed or p.captures is not None):
            if extras.tensor_hooks is not None or extras.retain_refs is not None:
                buf = _run_tensor_hooks(node, buf)
            if extras.pre_hooks and p.needed:
                buf = _run_pre_hooks(node, buf)
        if p.captures is not None:
            for slot, index in p.captures:
                results[index] = buf[slot]
        in_grads = None
        if p.needed:
            if extras is not None and extras.post_hooks:
                # The post-hooks see the gradients the node took, which apply may consume
                # (AccumulateGrad takes its buffer): they keep their own list.
                hooked = buf[:]
            # Indexed, not iterated, so that no local keeps a gradient alive: OpNode.apply
            # may write into one that only ``buf`` holds.
            for i in range(len(buf)):
                if buf[i] is not None:
                    if create_graph and anomaly_enabled():
                        in_grads = _apply_as_parent(node, buf)
                    else:
                        in_grads = node.apply(buf, create_graph)
                    break
            if in_grads is not None and anomaly_check_nan():
                _check_nan(node, in_grads)
            if not keep_graph:
                node.release()
        if extras is not None and extras.post_hooks and in_grads is not None:
            in_grads = _run_post_hooks(node, in_grads, hooked)
            hooked = None
        nexts = node.next_nodes
        slots = node.next_slots
        for i in range(len(nexts)):
            nxt_obj = nexts[i]
            if nxt_obj is None:
                continue
            nxt = <Node>nxt_obj
            q = _get(state, nxt)
            if in_grads is not None:
                g = in_grads[i]
                if g is not None:
                    k = slots[i]
                    g = conform(g, nxt, k, node, i)
                    if q.grads is None:
                        q.grads = [None] * nxt.n_outputs
                    prev = q.grads[k]
                    if prev is None:
                        q.grads[k] = g
                    elif (type(prev) is _ndarray and Py_REFCNT(prev) == 2
                          and writable_owner(<cnp.ndarray>prev)
                          and exact_in_place(<cnp.ndarray>prev)):
                        # Only this buffer holds ``prev``: sum in place (with the bits of
                        # prev + g, which must not depend on who holds prev).
                        call2(_add, prev, g, True)
                    else:
                        prev = prev + g
                        # 0-d arrays add up to a NumPy scalar; gradients stay arrays.
                        q.grads[k] = np.asarray(prev) if isinstance(prev, _generic) else prev
                    g = prev = None
            q.deps -= 1
            if q.deps == 0:
                top = _heap_push(stack, top, nxt)
    return results


cdef inline Py_ssize_t _push(list stack, Py_ssize_t top, object item) except -1:
    if top < len(stack):
        stack[top] = item
    else:
        stack.append(item)
    return top + 1


# The ready queue: a binary max-heap on sequence_nr in heap[:n], pushed and popped as
# libstdc++'s push_heap and pop_heap do, so that nodes of equal rank (accumulators) leave
# it in the order PyTorch's std::priority_queue gives them.

cdef Py_ssize_t _heap_push(list heap, Py_ssize_t n, Node node) except -1:
    """Add ``node`` to the heap of ``n`` nodes; returns the new size."""
    if n == len(heap):
        heap.append(None)
    _sift_up(heap, n, 0, node)
    return n + 1


cdef Node _heap_pop(list heap, Py_ssize_t n):
    """Take the first node out of the heap of ``n`` nodes (which then holds ``n - 1``)."""
    cdef Node first = <Node>heap[0]
    cdef Py_ssize_t hole = 0, child = 0, size = n - 1
    last = heap[size]
    heap[size] = None
    if size == 0:
        return first
    # Move the larger child up into the hole down to a leaf, then sift ``last`` up from it.
    while child < (size - 1) // 2:
        child = 2 * (child + 1)
        if (<Node>heap[child]).sequence_nr < (<Node>heap[child - 1]).sequence_nr:
            child -= 1
        heap[hole] = heap[child]
        hole = child
    if (size & 1) == 0 and child == (size - 2) // 2:
        child = 2 * (child + 1)
        heap[hole] = heap[child - 1]
        hole = child - 1
    _sift_up(heap, hole, 0, <Node>last)
    return first


cdef inline void _sift_up(list heap, Py_ssize_t hole, Py_ssize_t top, Node node) except *:
    cdef Py_ssize_t parent = (hole - 1) // 2
    while hole > top and (<Node>heap[parent]).sequence_nr < node.sequence_nr:
        heap[hole] = heap[parent]
        hole = parent
        parent = (hole - 1) // 2
    heap[hole] = node


cdef void _check_nan(Node node, list in_grads) except *:
    """Anomaly mode: a NaN gradient is an error naming the node and the input it is for."""
    for i, g in enumerate(in_grads):
        if g is None:
            continue
        data = (<TensorBase>g)._data if isinstance(g, TensorBase) else g
        if data.dtype.kind in "fc" and bool(array_module(data).isnan(data).any()):
            raise RuntimeError(f"Function '{node._name}' returned nan values in its {i}th output.")


cdef list _apply_as_parent(Node node, list buf):
    """``node.apply`` under create_graph in anomaly mode: the nodes it records keep ``node``
    as their parent, whose forward traceback the report of their failure shows too."""
    outer = getattr(_anomaly, "parent", None)
    _anomaly.parent = node
    try:
        return node.apply(buf, True)
    finally:
        _anomaly.parent = outer


cdef void _mark_targets(dict state, tuple inputs, bint accumulate) except *:
    """Note where each of ``inputs`` gets its gradient; unreachable ones get None."""
    cdef Py_ssize_t i
    cdef _Pending p
    for i in range(len(inputs)):
        node, slot = _target_at(inputs, i)
        p = _get(state, <Node>node)
        if p is None:
            continue
        if p.captures is None:
            p.captures = []
        p.captures.append((slot, i))
        if accumulate:
            p.needed = True         # as in PyTorch, backward(inputs=...) runs their nodes


cdef void _prune(dict state, list roots) except *:
    """Mark the nodes on a path from the roots to a captured gradient (post-order walk)."""
    cdef _Pending p, q
    cdef list stack = []
    cdef Py_ssize_t i
    for node, _, _ in roots:
        stack.append((node, 0))
    while stack:
        node, i = stack.pop()
        p = _get(state, <Node>node)
        if p.visit == 2:
            continue
        p.visit = 1
        nexts = (<Node>node).next_nodes
        while i < len(nexts) and (nexts[i] is None or _get(state, <Node>nexts[i]).visit == 2):
            if nexts[i] is not None:
                q = _get(state, <Node>nexts[i])
                if q.needed or q.captures is not None:
                    p.needed = True
            i += 1
        if i < len(nexts):
            stack.append((node, i))
            stack.append((nexts[i], 0))
            continue
        p.visit = 2


def _size(shape):
    return f"torch.Size([{', '.join(str(s) for s in shape)}])"


def current_graph_task_id():
    """An id of the backward this thread runs (the innermost; a hook asks, and checkpoint
    recomputes once per backward), or -1 outside backward: PyTorch's
    ``torch._C._current_graph_task_id``."""
    return agx_sweep_id


def is_checkpoint_valid():
    """Whether the backward this thread runs may run a reentrant checkpoint's backward: not
    when it delivers gradients to chosen inputs only (``autograd.grad``,
    ``backward(inputs=...)``), whose own backward would not honour them. True outside
    backward. PyTorch's ``torch.autograd._is_checkpoint_valid``."""
    return agx_sweep_inputs == NULL or <object>agx_sweep_inputs is None


def will_engine_execute_node(node):
    """Whether the backward this thread runs (a hook asks) runs ``node`` or captures its
    gradient: ``node`` is reached from the roots and, when the backward has ``inputs``, leads
    to one of them. PyTorch's ``torch._C._will_engine_execute_node``."""
    if agx_sweep_id == -1:
        raise RuntimeError(
            "_will_engine_execute_node should only be called during the backward pass")
    if not isinstance(node, Node):
        raise TypeError(f"_will_engine_execute_node expects a grad_fn, got {type(node).__name__}")
    roots = <object>agx_sweep_roots
    inputs = <object>agx_sweep_inputs
    if node not in _reachable([r[0] for r in roots]):
        return False
    if inputs is None:
        return True
    return not _reachable([node]).isdisjoint(_target_at(inputs, i)[0] for i in range(len(inputs)))


cdef set _reachable(list nodes):
    """The nodes reached from ``nodes`` (them included)."""
    cdef set seen = set()
    while nodes:
        node = nodes.pop()
        if node not in seen:
            seen.add(node)
            nodes.extend(n for n in (<Node>node).next_nodes if n is not None)
    return seen


def call_node(Node node, tuple grads):
    """``node(*grads)``: the node's backward run once on ``grads`` (one Tensor or None per
    output), outside any sweep and without its hooks, as PyTorch runs a ``grad_fn`` called
    directly. Recorded when grad mode is on. Returns the gradient for each input (None
    where none flows), or the one gradient where the node has one input."""
    cdef Py_ssize_t i, n = len(node.next_nodes)
    if len(grads) != node.n_outputs:
        raise TypeError(f"expected {node.n_outputs} arguments, got {len(grads)} instead")
    cdef bint create_graph = grad_enabled()
    buf = [None if grads[i] is None else
           _root_grad(i, grads[i], node.expected_shape(i), node.expected_dtype(i), None,
                      create_graph)
           for i in range(len(grads))]
    in_grads = node.apply(buf, create_graph) if any(g is not None for g in buf) else [None] * n
    out = []
    for i in range(len(in_grads)):
        nxt = node.next_nodes[i]
        g = in_grads[i] if nxt is not None else None
        if g is not None:
            g = _as_tensor(conform(g, <Node>nxt, node.next_slots[i], node, i))
        out.append(g)
    return out[0] if len(out) == 1 else tuple(out)
