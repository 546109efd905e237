"""The backward node of an op application: runs the op's formulas for the inputs that need
a gradient (or evaluates the arithmetic ones itself with NumPy's loops), after checking the
saved values for in-place changes; frees them after backward.
"""

import numpy as np

cimport numpy as cnp

from .dispatch cimport Switch, array_module
from .numpy_api import NUMPY     # what the vjps get on NumPy arrays while the fast paths are on
from .dispatch import FAST_PATHS
from .errors import SECOND_BACKWARD, _describe
from .loops cimport Loops, call1, call2, exact_in_place, scalar_operand
from .node cimport AccumulateGrad, Node, grad_edge
from .opdef cimport OpDef
from .saved import Packed, SavedTensor, pack, pack_with, unpack
from .tensor cimport (TensorBase, VersionCounter, new_tensor, same_shape, item_refcount,
                      writable_owner)

cdef type _ndarray = np.ndarray
cdef object _negative = np.negative
cdef type _generic = np.generic
cdef Switch _fast_paths = FAST_PATHS
cdef type _Packed = Packed


cdef class OpNode(Node):
    """The backward node of one application of a registered op."""

    cdef list apply(self, list grads, bint create_graph):
        cdef OpDef op = self.op
        cdef Py_ssize_t i, n = len(self.next_nodes)
        cdef tuple saved = self.saved
        if saved is None:
            raise RuntimeError(SECOND_BACKWARD)
        if self.packed:
            self._check_versions()      # of the values not packed
            saved = self.unpacked(create_graph)
        elif self.saved_from is not None and not self._versions_match():
            self._check_versions()      # raises PyTorch's error, naming the tensor
        if self.n_outputs == 1:
            if (op.vjp_rules is not None and _fast_paths.on and not create_graph and self.params is None
                    and type(grads[0]) is _ndarray and not cnp.PyArray_ISCOMPLEX(<cnp.ndarray>grads[0])):
                # Held by the sweep's buffer alone: the last ufunc vjp may write into it.
                owned = (item_refcount(grads, 0) == 1 and writable_owner(<cnp.ndarray>grads[0])
                         and (self.extras is None or not self.extras.post_hooks))
                return _rule_grads(self, op, grads[0], saved, n, owned)
            g = grads[0]
        else:
            g = _fill_missing(self, grads, create_graph)
        if create_graph:
            # Gradients of gradients: the same vjp, run on tensors so that it is recorded.
            xp = _tensor_namespace()
            data = (<TensorBase>(g if self.n_outputs == 1 else g[0]))._data
            if type(data) is not _ndarray:
                xp = xp.on(_device_of(data))    # its factories make tensors on that device
            saved = self._tensors_of(saved)
        else:
            xp = array_module(g if self.n_outputs == 1 else g[0])
        # PyTorch's complex convention for a holomorphic op: conj(formula(conj(g))).
        cdef bint conj = op.holomorphic and _any_complex(g, self.n_outputs)
        if conj:
            g = xp.conj(g) if self.n_outputs == 1 else tuple([xp.conj(x) for x in g])
        if op.n_outputs == 0 and self.n_outputs == 1:
            g = (g,)                # a variable-output op always gets a tuple
        params = self.params
        cdef list out
        if op.vjps is not None:
            out = [None] * n
            for i in range(n):
                fn = op.vjps[i]
                if fn is not None and self.next_nodes[i] is not None:
                    out[i] = _call_vjp(fn, xp, g, _reads_of(op, i, saved), params)
        else:
            res = _call_vjp(op.vjp, xp, g, saved, params)
            if n == 1 and not op.variadic:
                out = [res]
            elif not isinstance(res, (tuple, list)) or len(res) != n:
                got = len(res) if isinstance(res, (tuple, list)) else 1
                raise RuntimeError(
                    f"vjp of op {op.name!r} (plugin {op.plugin!r}) returned {got} gradients, "
                    f"expected {n} (one per input {op.inputs!r})")
            else:
                out = list(res)
        if create_graph:
            for i in range(n):
                if out[i] is not None and not isinstance(out[i], TensorBase):
                    out[i] = _as_constant(out[i])
        if conj:
            for i in range(n):
                if out[i] is not None:
                    out[i] = xp.conj(out[i])
                    if _real_input(self, i):
                        out[i] = xp.real(out[i])    # x * z for a real x (PyTorch's handle_r_to_c)
        return out

    def _saved_tensors(self):
        """The saved values as tensors that carry their history (for create_graph)."""
        return self._tensors_of(self.unpacked(True) if self.packed else self.saved)

    cdef tuple _tensors_of(self, tuple values):
        """``values`` (the saved ones; the packed ones unpacked to tensors) as tensors that
        carry their history."""
        cdef Py_ssize_t k
        cdef TensorBase t
        out = []
        for k in range(len(values)):
            value = values[k]
            # saved_from covers the declared saves; residuals (after them) have no source
            src = self.saved_from[k] if self.saved_from is not None and k < len(self.saved_from) else None
            packed = _is_packed(self.saved[k])
            if packed and isinstance(src, VersionCounter):
                value = (tuple([(<TensorBase>v)._data for v in value]) if type(value) is tuple
                         else (<TensorBase>value)._data)
            if packed and type(src) is tuple and type(value) is tuple:
                # the inputs of a variadic op, unpacked, on the inputs' histories
                out.append(tuple([_on_history(<TensorBase>v, <tuple>h) for v, h in zip(value, src)]))
            elif packed and type(src) is tuple:
                out.append(_on_history(<TensorBase>value, <tuple>src))    # an input, unpacked
            elif isinstance(src, TensorBase) or isinstance(src, tuple):
                out.append(src)                     # an input (or the inputs of a variadic op)
            elif isinstance(src, VersionCounter):   # the result: a tensor made by this node
                if isinstance(value, tuple):
                    out.append(tuple(new_tensor(v, self, i) for i, v in enumerate(value)))
                else:
                    t = new_tensor(value, self, 0)
                    t._vc = <VersionCounter>src
                    out.append(t)
            else:
                out.append(_as_constant(value))
        return tuple(out)

    cdef bint _versions_match(self):
        """Fast path of the in-place check: every saved tensor is at its saved version."""
        cdef Py_ssize_t k
        cdef tuple sources = self.saved_from, versions = self.saved_versions
        for k in range(len(sources)):
            src = sources[k]
            if src is None:
                continue
            if type(src) is VersionCounter:
                if (<VersionCounter>src).value != <Py_ssize_t>versions[k]:
                    return False
            elif isinstance(src, TensorBase):
                if (<TensorBase>src).version() != <Py_ssize_t>versions[k]:
                    return False
                if (<TensorBase>src)._grad_fn is None and _detached_in_place(self, k):
                    return False
            else:
                return False        # the inputs of a variadic op: the slow path checks each
        return True

    cdef void pack_saved(self, tuple raw, tuple outs) except *:
        """Saved-tensor hooks are on: each tensor saved (the inputs and results the formulas
        read, the arrays among the residuals; not numbers) is replaced by what the pack hook
        makes of it (saved.py)."""
        cdef OpDef op = self.op
        cdef Py_ssize_t k, i
        cdef list saved = list(self.saved)
        cdef list sources = list(self.saved_from) if self.saved_from is not None else [None] * len(saved)
        for k in range(len(op.save_idx)):
            if saved[k] is None:
                continue
            i = op.save_idx[k]
            if i >= 0 and op.variadic:
                saved[k] = tuple([pack(t) for t in raw])
                sources[k] = tuple([_history(<TensorBase>t) for t in raw])
            elif i >= 0:
                if not isinstance(raw[i], TensorBase):
                    continue        # a number (or a constant array), kept as it is
                saved[k] = pack(raw[i])
                sources[k] = _history(<TensorBase>raw[i])
            else:
                saved[k] = pack(outs[0]) if op.n_outputs == 1 else tuple([pack(o) for o in outs])
            # Each packed value kept as soon as it is made; the input tensor no longer held
            # (its history alone), so that its memory can go where the hook moved it.
            self.saved = tuple(saved)
            self.saved_from = tuple(sources)
            self.packed = True
        if op.residuals:
            # The arrays among the residuals (indices, masks) are saved tensors too.
            k = len(op.save_idx)
            packed = _pack_residual(saved[k])
            if packed is not saved[k]:
                saved[k] = packed
                self.saved = tuple(saved)
                self.packed = True

    cdef tuple unpacked(self, bint as_tensors):
        """The saved values, the packed ones unpacked by their unpack hooks (to arrays, or
        to the tensors the hooks gave)."""
        cdef list out = list(self.saved)
        cdef Py_ssize_t k
        for k in range(len(out)):
            v = out[k]
            if type(v) is _Packed:
                out[k] = unpack(v) if as_tensors else (<TensorBase>unpack(v))._data
            elif _is_packed(v):
                out[k] = tuple([unpack(p) if as_tensors else (<TensorBase>unpack(p))._data for p in v])
        if self.op.residuals:
            k = len(self.op.save_idx)
            out[k] = _unpack_residual(out[k], as_tensors)
        return tuple(out)

    def _raw_saved(self, Py_ssize_t k):
        """Saved value ``k`` as SavedTensor shows it: (what was packed, the unpack hook), or
        (the tensor, None): the input itself, the result detached."""
        if self.saved is None:
            raise RuntimeError(SECOND_BACKWARD)
        v = self.saved[k]
        if type(v) is _Packed:
            return (<object>v).obj, (<object>v).unpack_hook
        src = self.saved_from[k] if self.saved_from is not None else None
        if isinstance(src, TensorBase):
            return src, None
        return _as_constant(v), None

    def _register_saved_hooks(self, Py_ssize_t k, pack_hook, unpack_hook):
        """Pack saved value ``k`` now with ``pack_hook`` (SavedTensor.register_hooks)."""
        if self.saved is None:
            raise RuntimeError(
                "Calling register_hooks on a saved tensor after it has been freed. Saved "
                "intermediate values of the graph are freed when you call .backward() or "
                "autograd.grad(). Specify retain_graph=True if you need to backward through the "
                "graph a second time or if you need to access saved variables after calling "
                "backward.")
        v = self.saved[k]
        if _is_packed(v):
            raise RuntimeError(
                "Calling register_hooks on a saved tensor whose hooks have already been set. "
                "Hint: only one pair of hooks is allowed at a time.")
        if v is None:
            raise RuntimeError("Calling register_hooks on a saved tensor with value None is forbidden")
        t = self._tensors_of(self.saved)[k]     # the input, or the result on this node
        if not isinstance(t, TensorBase):
            raise RuntimeError("register_hooks: the saved value is not one tensor")
        cdef list saved = list(self.saved)
        cdef list sources = list(self.saved_from)
        saved[k] = pack_with(pack_hook, unpack_hook, t)
        if isinstance(sources[k], TensorBase):
            sources[k] = _history(<TensorBase>t)
        self.saved = tuple(saved)
        self.saved_from = tuple(sources)
        self.packed = True

    def _check_versions(self):
        if self.saved_from is None:
            return
        for k, (src, v) in enumerate(zip(self.saved_from, self.saved_versions)):
            if src is None or _is_packed(self.saved[k]):
                continue        # a packed value: PyTorch cannot see its versions through the hooks
            if isinstance(src, TensorBase) and _detached_in_place(self, k):
                raise RuntimeError(DETACHED_IN_PLACE)
            if isinstance(src, tuple):
                for t, tv in zip(src, v):
                    if (<TensorBase>t).version() != tv:
                        src, v = t, tv
                        break
                else:
                    continue
            now = (<TensorBase>src).version() if isinstance(src, TensorBase) else (<VersionCounter>src).value
            if now != v:
                desc = _describe(src, self)
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: {desc} is at version {now}; expected version "
                    f"{v} instead. Hint: {self._name} (op {self.op.name!r}) saved it for "
                    "backward; clone() the tensor before changing it in place.")

    cdef void release(self) noexcept:
        # Only a node that saved a value frees something, and may refuse to run again
        # (as in PyTorch); one that saved none (sum's shape alone, view, x + 1) can. An
        # array among the parameters (an index, a mask) is a tensor PyTorch saves too.
        if (self.saved and _saved_a_value(self)) or (
                self.params is not None and _holds_array(tuple(self.params.values()))):
            self.saved = None
            self.saved_from = None
            self.params = None

    @property
    def _saved_values(self):
        """The values saved for backward (arrays), or None once released."""
        return self.saved

    def __getattr__(self, str name):
        # PyTorch's introspection: grad_fn._saved_self, _saved_other, _saved_result, ...
        # and grad_fn._raw_saved_self, ...: the saved value itself (a SavedTensor)
        raw = name.startswith("_raw_saved_")
        if raw or name.startswith("_saved_"):
            key = name[11:] if raw else name[7:]
            key = "input" if key == "self" else key
            names = [s.lstrip("*") for s in self.op.save]
            if key in names:
                if raw:
                    return SavedTensor._of(self, names.index(key))
                if self.saved is None:
                    raise RuntimeError(SECOND_BACKWARD)
                return self._saved_tensors()[names.index(key)]
        raise AttributeError(f"'{self._name}' object has no attribute '{name}'")


# PyTorch's text, its missing space included.
DETACHED_IN_PLACE = (
    "Trying to use a saved tensor that has been detached in-place, i.e. with .detach_()."
    "This is not supported, please use out-of-place `.detach()` instead")


cdef bint _detached_in_place(OpNode node, Py_ssize_t k) except -1:
    """Saved input ``k`` (a tensor) had a history when saved (its edge leads to a node other
    than an accumulator) and has none now: ``detach_()`` took it, and with it what PyTorch
    reads to unpack the input for backward (an output's own node would do; an input's is
    refused). ``grad_fn._saved_self`` still gives the tensor, as in PyTorch."""
    cdef Py_ssize_t i = node.op.save_idx[k] if k < len(node.op.save_idx) else -1
    if i < 0 or node.op.variadic or i >= len(node.next_nodes):
        return False
    nxt = node.next_nodes[i]
    return (nxt is not None and type(nxt) is not AccumulateGrad
            and (<TensorBase>node.saved_from[k])._grad_fn is None)


cdef inline bint _real_input(OpNode node, Py_ssize_t i) except -1:
    """Whether input ``i`` (which gets a gradient) is real."""
    if node.next_nodes[i] is None:
        return False
    cdef Node target = <Node>node.next_nodes[i]
    dtype = target.expected_dtype(<Py_ssize_t>node.next_slots[i])
    if dtype is None:       # a leaf whose grad_dtype is None: its own dtype tells
        dtype = (<TensorBase>(<AccumulateGrad>target).variable)._data.dtype
    return dtype.kind != "c"


cdef bint _any_complex(object g, Py_ssize_t n_outputs) except -1:
    """Whether the output gradient (one per output where several) is complex."""
    if n_outputs != 1:
        return any([_any_complex(x, 1) for x in g])
    if type(g) is _ndarray:
        return cnp.PyArray_ISCOMPLEX(<cnp.ndarray>g)
    if isinstance(g, TensorBase):
        g = (<TensorBase>g)._data
    return g.dtype.kind == "c"


cdef inline bint _is_packed(object v):
    """``v``, a saved value, is a saved.Packed or a tuple of them (a variadic op's inputs, a
    multi-output op's results)."""
    return type(v) is _Packed or (type(v) is tuple and len(<tuple>v) and type((<tuple>v)[0]) is _Packed)


cdef object _pack_residual(object v):
    """The residuals ``v`` with each array packed (as a tensor without history); ``v``
    itself where it holds none."""
    if type(v) is _ndarray or hasattr(v, "__cuda_array_interface__"):
        return pack(new_tensor(v, None, 0))
    if type(v) is tuple:
        items = tuple([_pack_residual(item) for item in <tuple>v])
        return v if all([a is b for a, b in zip(items, <tuple>v)]) else items
    return v


cdef object _unpack_residual(object v, bint as_tensors):
    if type(v) is _Packed:
        return unpack(v) if as_tensors else (<TensorBase>unpack(v))._data
    if type(v) is tuple:
        return tuple([_unpack_residual(item, as_tensors) for item in <tuple>v])
    return v


cdef tuple _history(TensorBase t):
    """What a packed saved tensor keeps of ``t`` in place of ``t`` itself: where its gradient
    flows (grad_fn and output number, or the accumulator of a leaf that requires grad)."""
    if t._grad_fn is None and t._requires_grad:
        return (None, 0, grad_edge(t))
    return (t._grad_fn, t._output_nr, None)


cdef TensorBase _on_history(TensorBase u, tuple history):
    """The tensor an unpack hook gave, on the saved tensor's history (PyTorch's unpacked
    saved variable): ``u`` itself where it has that history already."""
    grad_fn, nr, acc = history
    if u._grad_fn is grad_fn and u._output_nr == nr and (
            (acc is None and not u._requires_grad) or
            (acc is not None and u._accumulator is not None and u._accumulator() is acc)):
        return u
    cdef TensorBase t = new_tensor(u._data, grad_fn, nr)
    if acc is not None:
        t._requires_grad = True
        t._accumulator = (<TensorBase>(<AccumulateGrad>acc).variable)._accumulator
    return t


def saved_history(TensorBase t):
    """``_history`` for autograd.Function's saved tensors."""
    return _history(t)


def on_history(TensorBase u, tuple history):
    """``_on_history`` for autograd.Function's saved tensors."""
    return _on_history(u, history)


cdef bint _saved_a_value(OpNode node) noexcept:
    """An input or the result (a number too: PyTorch keeps it as a tensor), or an array
    among the residuals; not shapes and flags."""
    cdef Py_ssize_t k, ns = len(node.op.save_idx)
    for k in range(ns):
        if node.saved[k] is not None:
            return True
    return len(node.saved) > ns and _holds_array(node.saved[ns])


cdef bint _holds_array(object v) noexcept:
    if type(v) is tuple or type(v) is list:
        for item in v:
            if _holds_array(item):
                return True
        return False
    return v is not None and (type(v) is _ndarray or type(v) is _Packed
                              or isinstance(v, (TensorBase, _generic))
                              or hasattr(v, "__cuda_array_interface__")
                              or hasattr(v, "__array_interface__"))


cdef list _rule_grads(OpNode node, OpDef op, object g, tuple saved, Py_ssize_t n, bint owned):
    """The input gradients, computed from the formulas' expression trees where they have them (NumPy
    arrays, no parameters, no create_graph): the same ufunc calls as the vjps make.
    When the sweep's buffer alone holds ``g`` (``owned``), its last use writes into it."""
    cdef list out = [None] * n
    cdef Py_ssize_t i, last = n - 1
    cdef bint fresh
    while last >= 0 and node.next_nodes[last] is None:
        last -= 1
    for i in range(last + 1):
        if node.next_nodes[i] is None:
            continue
        rule = op.vjp_rules[i]
        if rule is None:
            out[i] = _call_vjp(op.vjps[i], NUMPY, g, _reads_of(op, i, saved), None)
        elif <int>(<tuple>rule)[0] == 0:
            out[i] = g
            owned = False               # g is now an output itself
        else:
            out[i] = _eval(<tuple>rule, g, saved, &fresh, owned and i == last)
    return out


cdef object _eval(tuple e, object g, tuple saved, bint *fresh, bint into_g):
    """The value of the compiled vjp expression ``e`` (see _BINOPS): the ufunc calls
    Python would make for it, by NumPy's loops where they take them. ``fresh`` is set when
    the value is an array made here, which an enclosing operation may overwrite; with
    ``into_g``, an operation whose first operand is ``g`` itself may overwrite ``g``."""
    cdef int kind = e[0]
    cdef bint xf = False, yf = False
    fresh[0] = False
    if kind == 0:
        fresh[0] = into_g
        return g
    if kind == 1:
        return saved[<Py_ssize_t>e[1]]
    if kind == 2:
        return e[1]
    if kind == 3:
        x = _eval(<tuple>e[2], g, saved, &xf, into_g and (<tuple>e[2])[0] == 0)
        if type(x) is not _ndarray:
            # A number (a saved scalar): as the formula computes it, -x or ufunc(x).
            return -x if (<Loops>e[1]).ufunc is _negative else (<Loops>e[1]).ufunc(x)
        r = call1(<Loops>e[1], x, xf)
    else:
        x = _eval(<tuple>e[3], g, saved, &xf, into_g and (<tuple>e[3])[0] == 0)
        y = _eval(<tuple>e[4], g, saved, &yf, False)
        if type(x) is _ndarray:
            y = scalar_operand(y, x)
            r = call2(<Loops>e[1], x, y, xf and _fits_in(y, x))
        elif type(y) is _ndarray:
            r = call2(<Loops>e[1], scalar_operand(x, y), y, False)
        else:
            return e[2](x, y)       # numbers: Python's arithmetic, as in the vjp
    fresh[0] = type(r) is _ndarray
    return r


cdef inline bint _fits_in(object v, object g):
    """``ufunc(g, v)`` has ``g``'s dtype and shape, so it can be written into ``g`` with
    the bits of ``ufunc(g, v)``."""
    if type(v) is not _ndarray or not exact_in_place(<cnp.ndarray>g):
        return False
    if cnp.PyArray_DESCR(<cnp.ndarray>v) is not cnp.PyArray_DESCR(<cnp.ndarray>g):
        return False
    return (cnp.PyArray_NDIM(<cnp.ndarray>v) == 0
            or same_shape(<cnp.ndarray>v, <tuple>(<object>g).shape))


cdef inline tuple _reads_of(OpDef op, Py_ssize_t i, tuple saved):
    """The saved values input ``i``'s formula reads (all of them for the positional forms)."""
    if op.reads is None:
        return saved
    cdef tuple idx = <tuple>op.reads[i]
    cdef Py_ssize_t n = len(idx)
    if n == 0:
        return ()
    if n == 1:
        return (saved[<Py_ssize_t>idx[0]],)
    return tuple([saved[<Py_ssize_t>k] for k in idx])


cdef inline object _call_vjp(object fn, object xp, object g, tuple saved, dict params):
    if params is not None:
        return fn(xp, g, *saved, **params)
    cdef Py_ssize_t k = len(saved)
    if k == 0:
        return fn(xp, g)
    if k == 1:
        return fn(xp, g, saved[0])
    if k == 2:
        return fn(xp, g, saved[0], saved[1])
    return fn(xp, g, *saved)


cdef tuple _fill_missing(OpNode node, list grads, bint create_graph):
    """Multi-output ops get zeros for the outputs no gradient reached."""
    cdef Py_ssize_t i
    present = next(g for g in grads if g is not None)
    xp = array_module((<TensorBase>present)._data if create_graph else present)
    out = []
    for i in range(node.n_outputs):
        g = grads[i]
        if g is None:
            g = xp.zeros(node.out_shape[i], node.out_dtype[i])
            if create_graph:
                g = new_tensor(g, None, 0)
        out.append(g)
    return tuple(out)


# What the core calls above itself, given by autogradx at import (install_services), so
# that the core imports nothing above it.
cdef object _device_of = None           # device_of(array) -> device
cdef object _load_tensor_ns = None      # () -> the namespace vjps run on under create_graph
cdef object _tensor_ns = None


def install_services(device_of, tensor_namespace):
    """``device_of(array)``, and ``tensor_namespace()`` returning the array-module-like
    namespace whose functions record on tensors (gradients of gradients)."""
    global _device_of, _load_tensor_ns
    _device_of = device_of
    _load_tensor_ns = tensor_namespace


cdef object device_of(object data):
    return _device_of(data)


cdef object _tensor_namespace():
    global _tensor_ns
    if _tensor_ns is None:
        _tensor_ns = _load_tensor_ns()
    return _tensor_ns


cdef object _as_constant(object value):
    """Arrays (also inside tuples and lists) as tensors without history; other values as they are."""
    if isinstance(value, TensorBase):
        return value
    if hasattr(value, "__array_interface__") or hasattr(value, "__cuda_array_interface__"):
        return new_tensor(np.asarray(value) if isinstance(value, _generic) else value, None, 0)
    if type(value) is tuple or type(value) is list:
        return type(value)(_as_constant(v) for v in value)
    return value
