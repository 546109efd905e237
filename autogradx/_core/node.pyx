"""Graph nodes: the base class, leaf accumulators, and hook handles."""

import itertools
import weakref

from cpython.ref cimport Py_REFCNT
from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.pythread cimport (NOWAIT_LOCK, WAIT_LOCK, PyThread_acquire_lock,
                               PyThread_allocate_lock, PyThread_release_lock, PyThread_type_lock)
from .tensor cimport (TensorBase, gc_track, grad_dtype_of, needs_grad, new_tensor, rebase_view,
                      stale_view)

cimport cython

_hook_ids = itertools.count()

# Adding into .grad reads, adds and writes back, and NumPy releases the GIL in the add
# of a large array: threads that backpropagate into the same leaf take turns here. A C
# lock (a threading.Lock's with-block costs more than the rest of a small accumulation).
cdef PyThread_type_lock _accumulate_lock = PyThread_allocate_lock()


cdef inline void _acquire_accumulate_lock() noexcept:
    # Wait without the GIL, as threading.Lock does: the holder may need the GIL to finish.
    if not PyThread_acquire_lock(_accumulate_lock, NOWAIT_LOCK):
        with nogil:
            PyThread_acquire_lock(_accumulate_lock, WAIT_LOCK)


class RemovableHandle:
    """Returned by every ``register_*hook``; ``remove()`` unregisters the hook."""

    __slots__ = ("_hooks_ref", "id")

    def __init__(self, hooks):
        self._hooks_ref = weakref.ref(hooks)
        self.id = next(_hook_ids)

    def remove(self):
        hooks = self._hooks_ref() if self._hooks_ref is not None else None
        if hooks is not None:
            hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _HookDict(dict):
    """A dict that a RemovableHandle can refer to weakly."""
    __slots__ = ("__weakref__",)


def add_hook(owner_dict, hook):
    """Insert ``hook`` into ``owner_dict`` (a _HookDict) and return its handle."""
    if not callable(hook):
        raise TypeError(f"hook must be callable, got {type(hook).__name__}")
    return _store_hook(owner_dict, hook)


cdef object _store_hook(owner_dict, hook):
    # A node's hooks are not checked at registration: PyTorch stores any object there (and
    # calling one that is not callable fails in backward).
    handle = RemovableHandle(owner_dict)
    owner_dict[handle.id] = hook
    return handle


# Deep chains are torn down by reference counting; the trashcan keeps that
# from recursing once per node on the C stack.
cdef class NodeExtras:
    """A node's hooks and metadata (see node.pxd)."""


# The sequence number the next node gets (under the GIL).
cdef Py_ssize_t _next_sequence_nr = 0


@cython.trashcan(True)
cdef class Node:
    """A backward function in the graph (the ``grad_fn`` of a tensor)."""

    def __cinit__(self):
        global _next_sequence_nr
        self.sequence_nr = _next_sequence_nr
        _next_sequence_nr += 1

    def _sequence_nr(self):
        """The node's place in creation order, which decides the order in which backward runs
        the nodes that are ready at once (PyTorch's ``Node._sequence_nr()``)."""
        return self.sequence_nr

    cdef NodeExtras get_extras(self):
        if self.extras is None:
            self.extras = NodeExtras.__new__(NodeExtras)
            gc_track(self)      # hooks and metadata may refer back to the graph
        return self.extras

    cdef object expected_shape(self, Py_ssize_t slot):
        return self.out_shape if self.n_outputs == 1 else self.out_shape[slot]

    cdef object expected_dtype(self, Py_ssize_t slot):
        return self.out_dtype if self.n_outputs == 1 else self.out_dtype[slot]

    cdef list apply(self, list grads, bint create_graph):
        raise NotImplementedError(f"{self._name} has no backward")

    cdef void release(self) noexcept:
        pass

    def name(self):
        """The node's name, e.g. ``'MulBackward0'``."""
        return self._name

    @property
    def next_functions(self):
        """``((node, output_index), ...)``, one pair per input, ``(None, 0)`` where no gradient flows."""
        if self.next_nodes is None:
            return ()
        return tuple(zip(self.next_nodes, self.next_slots))

    def register_hook(self, hook):
        """Register ``hook(grad_inputs, grad_outputs)``, run after this node; it may return new grad_inputs."""
        cdef NodeExtras ex = self.get_extras()
        if ex.post_hooks is None:
            ex.post_hooks = _HookDict()
        return _store_hook(ex.post_hooks, hook)

    def register_prehook(self, hook):
        """Register ``hook(grad_outputs)``, run before this node; it may return new grad_outputs."""
        cdef NodeExtras ex = self.get_extras()
        if ex.pre_hooks is None:
            ex.pre_hooks = _HookDict()
        return _store_hook(ex.pre_hooks, hook)

    def _register_tensor_hook(self, Py_ssize_t slot, hook):
        _check_slot(self, slot)
        cdef NodeExtras ex = self.get_extras()
        if ex.tensor_hooks is None:
            ex.tensor_hooks = {}
        hooks = ex.tensor_hooks.get(slot)
        if hooks is None:
            hooks = ex.tensor_hooks[slot] = _HookDict()
        return add_hook(hooks, hook)

    def _retain_grad(self, Py_ssize_t slot, TensorBase tensor not None):
        # The sweep indexes its gradients by slot, unchecked, and casts the tensor back.
        _check_slot(self, slot)
        cdef NodeExtras ex = self.get_extras()
        if ex.retain_refs is None:
            ex.retain_refs = {}
        ex.retain_refs[slot] = weakref.ref(tensor)

    @property
    def metadata(self):
        """A dict for per-node data; anomaly mode keeps the forward traceback here."""
        cdef NodeExtras ex = self.get_extras()
        if ex.metadata is None:
            ex.metadata = {}
        return ex.metadata

    def __repr__(self):
        return f"<{self._name} object at {id(self):#x}>"

    def __call__(self, *grads):
        """The gradients for this node's inputs, given one gradient (or None) per output."""
        from .engine import call_node
        return call_node(self, grads)


cdef void _check_slot(Node node, Py_ssize_t slot) except *:
    if not 0 <= slot < node.n_outputs:
        raise IndexError(f"{node._name} has {node.n_outputs} outputs, not an output {slot}")


cdef class AccumulateGrad(Node):
    """The node through which gradients reach a leaf tensor's ``.grad``."""

    cdef object expected_shape(self, Py_ssize_t slot):
        return (<TensorBase>self.variable)._data.shape

    cdef object expected_dtype(self, Py_ssize_t slot):
        # The leaf's grad_dtype: None lets a gradient of any dtype through.
        return grad_dtype_of(<TensorBase>self.variable)

    cdef list apply(self, list grads, bint create_graph):
        cdef TensorBase var = <TensorBase>self.variable
        cdef TensorBase old
        cdef Py_ssize_t own_refs
        # The leaf's tensor hooks ran before this node's pre-hooks (engine.pyx), as in PyTorch.
        g = grads[0]
        grads[0] = None
        # Which references to an array gradient mean that nothing else can see it: this
        # local, and the engine's copy of the gradients for this node's post-hooks. As in
        # PyTorch, a stolen gradient is the one those hooks see, so a post-accumulate-grad
        # hook's in-place change of .grad shows in them.
        own_refs = 1 + (self.extras is not None and bool(self.extras.post_hooks))
        _acquire_accumulate_lock()
        try:
            if isinstance(g, TensorBase):
                # create_graph: the gradient is itself a differentiable tensor.
                if var._grad is None:
                    var._grad = _grad_copy(<TensorBase>g)
                else:
                    var._grad = var._grad + g
            elif var._grad is None:
                # Steal the buffer when nothing else can see it, else copy it,
                # so that a later in-place accumulation cannot reach another tensor.
                if Py_REFCNT(g) > own_refs or getattr(g, "base", 0) is not None:
                    g = g.copy()
                var._grad = new_tensor(g, None, 0)
            else:
                old = <TensorBase>var._grad
                if old._grad_fn is None and old._data.shape == g.shape and old._data.flags.writeable:
                    old._data += g
                    if old._vc is not None:
                        old._vc.value += 1
                else:
                    var._grad = var._grad + new_tensor(g, None, 0)
        finally:
            PyThread_release_lock(_accumulate_lock)
        g = None
        if var._post_acc_hooks:
            _run_post_accumulate_hooks(var)
        return []

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


cdef TensorBase _grad_copy(TensorBase g):
    """What ``.grad`` becomes of the first gradient ``g`` that create_graph accumulates: a
    copy, as PyTorch makes (``.grad`` is never a view or an alias of another tensor), recorded
    as PyTorch's copy is, by a CopyBackwards node leading to ``g``'s history."""
    cdef TensorBase c = new_tensor(g._data.copy(), None, 0)
    cdef CopyBackwards node
    if needs_grad(g):
        node = CopyBackwards.__new__(CopyBackwards)
        node._name = "CopyBackwards"
        src = grad_edge(g)          # rebuilds a stale view's history first
        node.next_nodes = (None, src)
        node.next_slots = (0, g._output_nr if g._grad_fn is not None else 0)
        node.n_outputs = 1
        node.out_shape = c._data.shape
        node.out_dtype = c._data.dtype
        c._grad_fn = node
    return c


cdef class CopyBackwards(Node):
    """The node of a copy into a tensor that needs no gradient (input 0) from one that does
    (input 1): the gradient passes to input 1 unchanged."""

    cdef list apply(self, list grads, bint create_graph):
        return [None, grads[0]]

    def name(self):
        return "torch::autograd::CopyBackwards"

    def __repr__(self):
        return f"<CopyBackwards object at {id(self):#x}>"


cdef class PyNode(Node):
    """A node whose backward is a Python callable (custom Functions, checkpointing)."""

    cdef list apply(self, list grads, bint create_graph):
        cdef Py_ssize_t i
        out = list(self.backward_fn(grads, create_graph))
        if len(out) != len(self.next_nodes):
            # The sweep reads one gradient per edge, unchecked.
            raise RuntimeError(f"{self._name} returned {len(out)} gradients for "
                               f"{len(self.next_nodes)} inputs")
        if create_graph:
            # The nodes after this one take create_graph's gradients for tensors, unchecked:
            # arrays become tensors without history, as an op's vjp results do.
            for i in range(len(out)):
                if out[i] is not None and not isinstance(out[i], TensorBase):
                    out[i] = new_tensor(out[i], None, 0)
        return out

    cdef void release(self) noexcept:
        if self.release_fn is not None:
            try:
                self.release_fn()
            except Exception:
                pass

    def __repr__(self):
        return f"<{self.qualname or self._name} object at {id(self):#x}>"

    def __getattr__(self, str name):
        # A custom Function's grad_fn shows its ctx: saved_tensors, needs_input_grad, ...
        if self.ctx is not None and not name.startswith("__"):
            return getattr(self.ctx, name)
        raise AttributeError(f"'{self._name}' object has no attribute '{name}'")


def make_node(str name, inputs, outputs, backward_fn, release_fn=None, qualname=None, ctx=None,
              node_type=PyNode):
    """A PyNode named ``name`` with edges to ``inputs`` (tensors that need a gradient, or
    None) that makes ``outputs`` (tensors, which get it as their ``grad_fn``, or None for a slot
    no gradient flows into: a Function's non-tensor output). ``node_type`` is PyNode or a
    Python subclass of it (a custom Function's ``<Name>Backward`` class)."""
    if not (isinstance(node_type, type) and issubclass(node_type, PyNode)):
        raise TypeError(f"make_node: node_type must be a subclass of PyNode, got {node_type!r}")
    cdef PyNode node = node_type.__new__(node_type)
    cdef TensorBase t
    cdef Py_ssize_t i
    node._name = name
    node.qualname = qualname
    node.ctx = ctx
    node.backward_fn = backward_fn
    node.release_fn = release_fn
    nexts, slots = [], []
    for x in inputs:
        if isinstance(x, TensorBase) and ((<TensorBase>x)._requires_grad or (<TensorBase>x)._grad_fn is not None):
            t = <TensorBase>x
            nexts.append(grad_edge(t))
            slots.append(t._output_nr if t._grad_fn is not None else 0)
        else:
            nexts.append(None)
            slots.append(0)
    node.next_nodes = tuple(nexts)
    node.next_slots = tuple(slots)
    outputs = tuple(outputs)
    for o in outputs:
        if o is not None and not isinstance(o, TensorBase):
            raise TypeError(f"make_node: the outputs must be Tensors or None, got "
                            f"{type(o).__name__}")
    node.n_outputs = len(outputs)
    shapes = tuple(None if o is None else (<TensorBase>o)._data.shape for o in outputs)
    dtypes = tuple(None if o is None else (<TensorBase>o)._data.dtype for o in outputs)
    node.out_shape = shapes[0] if len(outputs) == 1 else shapes
    node.out_dtype = dtypes[0] if len(outputs) == 1 else dtypes
    for i in range(len(outputs)):
        if outputs[i] is None:
            continue
        t = <TensorBase>outputs[i]
        old_fn, old_nr = t._grad_fn, t._output_nr
        t._grad_fn = node
        t._output_nr = i
        t._requires_grad = False
        if t._view is not None:
            # A view's history is set now, as PyTorch records a view's version when it sets
            # its history: in-place changes made before (inside a Function's forward) do not
            # make it rebuild its grad_fn from its base.
            t._view.version = t.version()
        if t._retains_grad:             # an input marked dirty, rebased onto this node
            move_retained_grad(t, old_fn, old_nr)
    return node


cdef void move_retained_grad(TensorBase t, object old_fn, Py_ssize_t old_nr) except *:
    """``t`` got a new grad_fn in place: its retained ``.grad`` becomes the gradient of its
    latest version, as PyTorch moves retain_grad (hooks registered before stay behind)."""
    cdef Node old
    if old_fn is not None and (<Node>old_fn).extras is not None:
        old = <Node>old_fn
        refs = old.extras.retain_refs
        if refs is not None and old_nr in refs and refs[old_nr]() is t:
            del refs[old_nr]
    (<Node>t._grad_fn)._retain_grad(t._output_nr, t)


cdef void _run_post_accumulate_hooks(TensorBase var) except *:
    # Each hook is called with the leaf itself; its .grad is already up to date.
    for hook in tuple(var._post_acc_hooks.values()):
        res = hook(var)
        if res is None:
            continue
        if not isinstance(res, TensorBase):
            raise TypeError(f"expected Variable, but hook returned '{type(res).__name__}'")
        raise RuntimeError("Tensor post accumulate grad hooks should return None.")


cdef list run_leaf_hooks(AccumulateGrad node, list grads):
    """The leaf's own hooks, on the gradient about to reach it."""
    cdef TensorBase var = <TensorBase>node.variable
    if not var._hooks or grads[0] is None:
        return grads
    g = grads[0]
    for hook in tuple(var._hooks.values()):
        res = hook(new_tensor(g, None, 0) if not isinstance(g, TensorBase) else g)
        if res is not None:
            g = hook_result(hook, res, g)
    grads[0] = g
    return grads


cdef object hook_result(object hook, object res, object g):
    """The array of a hook's replacement gradient, which must keep the gradient's shape and dtype."""
    name = getattr(hook, "__name__", repr(hook))
    if not isinstance(res, TensorBase):
        raise TypeError(f"hook '{name}' returned {type(res).__name__}; expected a Tensor or None")
    data = (<TensorBase>res)._data
    gdata = g._data if isinstance(g, TensorBase) else g
    if data.dtype != gdata.dtype:
        raise RuntimeError(
            f"hook '{name}' has changed the type of value (was {gdata.dtype} got {data.dtype})")
    if data.shape != gdata.shape:
        raise RuntimeError(
            f"hook '{name}' has changed the size of value (was {list(gdata.shape)} got "
            f"{list(data.shape)})")
    return res if isinstance(g, TensorBase) else data


def grad_fn_or_accumulator(TensorBase t not None):
    """The node a gradient for ``t`` flows into: its ``grad_fn``, or its ``AccumulateGrad``
    node for a leaf (made if it has none yet)."""
    return grad_edge(t)


cdef Node grad_edge(TensorBase t):
    """The node a gradient for ``t`` flows into: its grad_fn, or its accumulator."""
    if stale_view(t):
        rebase_view(t)
    if t._grad_fn is not None:
        return <Node>t._grad_fn
    cdef object acc = None
    if t._accumulator is not None:
        acc = t._accumulator()
    if acc is None:
        acc = _new_accumulator(t)
    return <Node>acc


cdef AccumulateGrad _new_accumulator(TensorBase t):
    cdef AccumulateGrad acc = AccumulateGrad.__new__(AccumulateGrad)
    acc._name = "AccumulateGrad"
    acc.sequence_nr = PY_SSIZE_T_MAX    # as PyTorch's: a ready accumulator runs first
    acc.variable = t
    acc.n_outputs = 1
    acc.next_nodes = ()
    acc.next_slots = ()
    # The leaf refers to its accumulator weakly: the accumulator owns the leaf.
    t._accumulator = weakref.ref(acc)
    return acc
