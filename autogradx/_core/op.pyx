"""Op definitions and the op-application hot path.

``apply_op`` is what every call of a registered op goes through: unwrap the
tensors, promote dtypes, run the forward on the arrays, and, when grad mode
is on and an input requires grad, record an OpNode holding the edges and the
saved values the op's vjp will need.
"""

import inspect
import re
import warnings
from types import MethodType

import numpy as np


cimport cython
cimport numpy as cnp

from cpython.ref cimport Py_INCREF, Py_REFCNT
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM

from .grad_mode cimport anomaly_enabled, grad_enabled
from .loops cimport Loops, loops_of, call1, call2, exact_in_place
from . import loops as _loops
from .node cimport Node, grad_edge
from . import formula as _formula
from .names import TENSOR_DTYPES, tensor_type_name
from .tensor cimport (TensorBase, VersionCounter, gc_untrack, new_tensor, needs_grad, install_apply,
                      same_shape, item_refcount, dtype_of, writable_owner)

cdef object _numpy = np
cdef type _ndarray = np.ndarray
cdef type _generic = np.generic
cdef dict _array_modules = {}        # array type -> array module, for backends besides NumPy
cdef object _default_float = np.dtype(np.float32)
cdef object _int64 = np.dtype(np.int64)
cdef object _bool = np.dtype(np.bool_)
cdef object _f16 = np.dtype(np.float16), _f32 = np.dtype(np.float32), _f64 = np.dtype(np.float64)
cdef frozenset _PROMOTE = frozenset({None, "elementwise", "float"})
cdef frozenset _DTYPES = TENSOR_DTYPES     # what a tensor may hold

SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved "
    "tensors after they have already been freed). Saved intermediate values of the graph "
    "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
    "you need to backward through the graph a second time or if you need to access saved "
    "tensors after calling backward."
)


def register_array_module(type array_type, module):
    """Let tensors hold arrays of ``array_type``, computed on by ``module``."""
    _array_modules[array_type] = module


cdef object array_module(object data):
    if type(data) is _ndarray:
        return _numpy
    xp = _array_modules.get(type(data))
    if xp is None:
        raise TypeError(f"no autogradx backend handles arrays of type {type(data).__name__}")
    return xp


cdef bint _fast = True      # use the ops' ufunc= and arithmetic vjp formulas on NumPy arrays


def _set_fast_paths(bint on):
    """Turn the core's ufunc calls for ``ufunc=`` ops and arithmetic vjp formulas, and its direct
    calls of NumPy's inner loops, on or off (the conformance kit compares both); returns
    the previous setting."""
    global _fast
    prev = _fast
    _fast = on
    _loops._set_direct_calls(on)
    return prev


def get_array_module(data):
    """The array module (NumPy, CuPy, ...) that computes on ``data``."""
    return array_module(data)


def set_default_float(dtype):
    global _default_float
    _default_float = np.dtype(dtype)


def get_default_float():
    return _default_float


def _camel(name):
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"_+", name) if part)


cdef class OpDef:
    """The contract of one op: a forward and its vjp over an array module.

    See :mod:`autogradx.plugin` for the documented constructor arguments.
    """

    def __init__(self, str name, forward, vjp=None, *, inputs=("input",), save=(),
                 bint residuals=False, grad_fn=None, promote=None, n_outputs=1,
                 output_type=None, namespace="", method=None, inplace=None, bint view=False,
                 aliases=(), parse=None, inplace_param=None, bint out=False, ufunc=None,
                 vjp_ufunc=None, doc=None):
        if not name.replace(".", "_").isidentifier():
            raise ValueError(f"op name {name!r} is not a valid identifier")
        if not callable(forward):
            raise TypeError(f"op {name!r}: forward must be callable, got {type(forward).__name__}")
        inputs = tuple(inputs)
        if not inputs or not all(isinstance(i, str) for i in inputs):
            raise TypeError(f"op {name!r}: inputs must be a non-empty tuple of names, got {inputs!r}")
        self.variadic = inputs[0].startswith("*")
        if self.variadic and (len(inputs) != 1 or isinstance(vjp, (tuple, list))):
            raise ValueError(
                f"op {name!r}: a variadic op has exactly one input ('*name') and a single vjp "
                "returning one gradient per tensor")
        if parse is not None and not callable(parse):
            raise TypeError(f"op {name!r}: parse must be callable")
        self.parse = parse
        self.params, self.n_required, self.varargs = _signature(name, forward, inputs)
        if isinstance(vjp, dict):
            # The one-derivative-source form: one formula per input, named by what it reads.
            if self.variadic or residuals:
                raise ValueError(f"op {name!r}: a vjp given per input name is for ops of fixed "
                                 "inputs without residuals")
            if save:
                raise ValueError(f"op {name!r}: with a vjp per input name, what is saved is what "
                                 "the formulas read; save= is not given")
            unknown = [k for k in vjp if k not in inputs]
            if unknown:
                raise ValueError(f"op {name!r}: vjp names {unknown!r}, which are not among its "
                                 f"inputs {inputs!r}")
            self.vjps = tuple(vjp.get(i) for i in inputs)
            self.vjp = None
            params = _formula.forward_parameters(forward, len(inputs))
            read = [() if f is None else _formula.reads(name, i, f, inputs, params)
                    for i, f in zip(inputs, self.vjps)]
            # Saved: every value some formula reads, inputs in order, then the result.
            save = tuple(i for i in inputs + (_formula.RESULT,) if any(i in r for r in read))
            self.reads = tuple(tuple(save.index(x) for x in r) for r in read)
        elif isinstance(vjp, (tuple, list)):
            if len(vjp) != len(inputs):
                raise ValueError(
                    f"op {name!r}: {len(vjp)} vjps given for {len(inputs)} inputs {inputs!r}")
            for v in vjp:
                if v is not None and not callable(v):
                    raise TypeError(f"op {name!r}: each vjp must be callable or None")
            self.vjps = tuple(vjp)
            self.vjp = None
        elif vjp is None or callable(vjp):
            self.vjp = vjp
            self.vjps = None
        else:
            raise TypeError(f"op {name!r}: vjp must be callable, a tuple of callables, or None")
        save = (save,) if isinstance(save, str) else tuple(save)
        idx = []
        for s in save:
            if s == "result":
                idx.append(-1)
            elif s in inputs or ("*" + s) in inputs:
                idx.append(inputs.index(s) if s in inputs else inputs.index("*" + s))
            else:
                raise ValueError(
                    f"op {name!r}: cannot save {s!r}: not one of the inputs {inputs!r} or 'result'")
        if promote not in _PROMOTE:
            raise ValueError(f"op {name!r}: promote must be None, 'elementwise' or 'float'")
        if n_outputs is None:
            n_outputs = 0           # as many as the forward returns (split, unbind)
        elif n_outputs < 1:
            raise ValueError(f"op {name!r}: n_outputs must be at least 1, or None")
        if grad_fn is not None and not (isinstance(grad_fn, str) or callable(grad_fn)):
            raise TypeError(f"op {name!r}: grad_fn must be a name or a callable")
        self.name = name
        self.forward = forward
        self.inputs = inputs
        self.n_inputs = len(inputs)
        self.save = save
        self.save_idx = tuple(idx)
        self.residuals = residuals
        self.grad_fn = grad_fn if grad_fn is not None else _camel(name.rpartition(".")[2]) + "Backward0"
        self.promote = promote
        self.n_outputs = n_outputs
        self.output_type = output_type
        namespaces = () if namespace is None else (
            (namespace,) if isinstance(namespace, str) else tuple(namespace))
        for ns in namespaces:
            if not isinstance(ns, str) or not all(p.isidentifier() for p in ns.split(".") if p):
                raise ValueError(f"op {name!r}: bad namespace {ns!r}")
        self.namespaces = namespaces
        if method is True:
            method = name.rpartition(".")[2]
        if method is not None and not (isinstance(method, str) and method.isidentifier()):
            raise ValueError(f"op {name!r}: bad method name {method!r}")
        self.namespace = namespace
        self.method = method or None
        if inplace is True:
            inplace = name.rpartition(".")[2] + "_"
        if inplace is not None and not (isinstance(inplace, str) and inplace.isidentifier()):
            raise ValueError(f"op {name!r}: bad in-place method name {inplace!r}")
        self.inplace = inplace or None
        if (inplace or inplace_param is not None) and (n_outputs != 1 or output_type is not None):
            raise ValueError(f"op {name!r}: an in-place form is for ops of one output "
                             "(n_outputs=1, no output_type)")
        self.view = view
        self.out = out
        if ufunc is not None:
            if len(inputs) > 2 or self.variadic or residuals or n_outputs != 1:
                raise ValueError(f"op {name!r}: ufunc= is for ops of one or two inputs and one output")
            self.numpy_ufunc = getattr(np, ufunc, None)
            if not isinstance(self.numpy_ufunc, np.ufunc):
                raise ValueError(f"op {name!r}: ufunc={ufunc!r} is not a NumPy ufunc")
            self.loops = loops_of(self.numpy_ufunc)
        if vjp_ufunc is not None:
            warnings.warn(
                f"op {name!r}: vjp_ufunc= is deprecated and ignored: give vjp as a dict of one "
                "formula per input, named by what it reads ({'input': lambda xp, g, other: "
                "g * other, ...}); the core derives the fast path from such formulas",
                DeprecationWarning, stacklevel=2)
        if self.reads is not None and n_outputs == 1:
            self.vjp_rules = _vjp_rules(self)
        self.inplace_param = inplace_param
        aliases = (aliases,) if isinstance(aliases, str) else tuple(aliases)
        if not all(isinstance(a, str) and a.isidentifier() for a in aliases):
            raise ValueError(f"op {name!r}: bad aliases {aliases!r}")
        self.aliases = aliases
        self.overrides = {}
        self.doc = doc if doc is not None else (forward.__doc__ or "")
        if out and not _takes_keyword(forward, "out"):
            raise TypeError(f"op {name!r}: out=True but its forward takes no keyword 'out'")
        if inplace_param is not None and inplace_param not in self.params:
            raise ValueError(f"op {name!r}: inplace_param {inplace_param!r} is not a parameter "
                             f"of its forward {self.params!r}")

    cdef bint differentiable(self) noexcept:
        return self.vjp is not None or self.vjps is not None

    def defvjp(self, vjp):
        """Attach the vjp (decorator form); returns it unchanged."""
        if self.plugin is not None:
            raise RuntimeError(f"op {self.name!r} is already registered; its vjp is fixed")
        if not callable(vjp):
            raise TypeError(f"op {self.name!r}: vjp must be callable")
        self.vjp = vjp
        self.vjps = None
        return vjp

    def _set_plugin(self, plugin):
        self.plugin = plugin

    def _add_override(self, str module_name, OpDef other):
        """Use ``other`` instead of this op when the arrays belong to ``module_name``."""
        if other.inputs != self.inputs or other.n_outputs != self.n_outputs:
            raise ValueError(
                f"override of op {self.name!r} for {module_name!r} must keep its inputs "
                f"{self.inputs!r} and {self.n_outputs} output(s)")
        self.overrides[module_name] = other

    def __get__(self, obj, objtype):
        # Installed on the Tensor class, an op binds like a method.
        if obj is None:
            return self
        return MethodType(self, obj)

    @property
    def arithmetic_vjps(self):
        """The inputs whose derivative formula is plain arithmetic of ``g``, saved values and
        numbers: on NumPy arrays the core evaluates it with NumPy's loops (formula.py)."""
        if self.vjp_rules is None:
            return ()
        return tuple(name for name, rule in zip(self.inputs, self.vjp_rules) if rule is not None)

    @property
    def __signature__(self):
        sig = inspect.signature(self.forward)
        return sig.replace(parameters=list(sig.parameters.values())[1:])

    @property
    def __doc__(self):
        return self.doc

    @property
    def __name__(self):
        return self.name.rpartition(".")[2]

    def __call__(self, *args, **kwargs):
        return apply_op(self, args, kwargs)

    def __repr__(self):
        return f"<op {self.name!r} from plugin {self.plugin!r}>"


cdef tuple _vjp_rules(OpDef op):
    """Per input, its formula as an expression tree the core evaluates itself (see
    formula.py), or None where the formula is not plain arithmetic; None when none is."""
    rules = tuple(None if f is None else _resolve(_formula.trace(f, op.reads[i]))
                  for i, f in enumerate(op.vjps))
    return rules if any(r is not None for r in rules) else None


cdef object _resolve(object tree):
    """A traced tree with each ufunc replaced by its Loops, as _eval takes it."""
    if tree is None:
        return None
    kind = tree[0]
    if kind == 3:
        return (3, loops_of(tree[1]), _resolve(tree[2]))
    if kind == 4:
        return (4, loops_of(tree[1]), tree[2], _resolve(tree[3]), _resolve(tree[4]))
    return tree


def _takes_keyword(forward, str key):
    try:
        return key in inspect.signature(forward).parameters
    except (TypeError, ValueError):
        return False


def _signature(name, forward, inputs):
    """Names of the forward's parameters after its inputs, and how many inputs are required."""
    try:
        sig = inspect.signature(forward)
    except (TypeError, ValueError):
        return (), len(inputs), True
    positional = [p for p in sig.parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind is p.VAR_POSITIONAL for p in sig.parameters.values())
    if len(positional) < 1 + len(inputs):
        raise TypeError(
            f"op {name!r}: forward must take (xp, {', '.join(inputs)}, ...), "
            f"got {sig}")
    ins = positional[1:1 + len(inputs)]
    required = sum(1 for p in ins if p.default is p.empty)
    return tuple(p.name for p in positional[1 + len(inputs):]), required, varargs


cdef class OpNode(Node):
    """The backward node of one application of a registered op."""

    cdef list apply(self, list grads, bint create_graph):
        cdef OpDef op = self.op
        cdef Py_ssize_t i, n = len(self.next_nodes)
        cdef tuple saved = self.saved
        if saved is None:
            raise RuntimeError(SECOND_BACKWARD)
        if self.saved_from is not None and not self._versions_match():
            self._check_versions()      # raises PyTorch's error, naming the tensor
        if self.n_outputs == 1:
            if (op.vjp_rules is not None and _fast and not create_graph and self.params is None
                    and type(grads[0]) is _ndarray):
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
            saved = self._saved_tensors()
        else:
            xp = array_module(g if self.n_outputs == 1 else g[0])
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
        return out

    def _saved_tensors(self):
        """The saved values as tensors that carry their history (for create_graph)."""
        cdef Py_ssize_t k
        cdef TensorBase t
        out = []
        for k in range(len(self.saved)):
            value = self.saved[k]
            # saved_from covers the declared saves; residuals (after them) have no source
            src = self.saved_from[k] if self.saved_from is not None and k < len(self.saved_from) else None
            if isinstance(src, TensorBase) or isinstance(src, tuple):
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
            else:
                return False        # the inputs of a variadic op: the slow path checks each
        return True

    def _check_versions(self):
        for src, v in zip(self.saved_from, self.saved_versions):
            if src is None:
                continue
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
                    f"by an inplace operation: {desc}, is at version {now}; expected version "
                    f"{v} instead. Hint: {self._name} (op {self.op.name!r}) saved it for "
                    "backward; clone() the tensor before changing it in place.")

    cdef void release(self) noexcept:
        # Only a node that saved a value frees something, and may refuse to run again
        # (as in PyTorch); one that saved none (sum's shape alone, view, x + 1) can.
        if self.saved and _saved_a_value(self):
            self.saved = None
            self.saved_from = None

    @property
    def _saved_values(self):
        """The values saved for backward (arrays), or None once released."""
        return self.saved

    def __getattr__(self, str name):
        # PyTorch's introspection: grad_fn._saved_self, _saved_other, _saved_result, ...
        if name.startswith("_saved_"):
            key = name[7:]
            key = "input" if key == "self" else key
            names = [s.lstrip("*") for s in self.op.save]
            if key in names:
                if self.saved is None:
                    raise RuntimeError(SECOND_BACKWARD)
                return self._saved_tensors()[names.index(key)]
        raise AttributeError(f"'{self._name}' object has no attribute '{name}'")


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
    return v is not None and (type(v) is _ndarray or isinstance(v, (TensorBase, _generic))
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
            out[i] = _call_vjp(op.vjps[i], _numpy, g, _reads_of(op, i, saved), None)
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
            return -x
        r = call1(<Loops>e[1], x, xf)
    else:
        x = _eval(<tuple>e[3], g, saved, &xf, into_g and (<tuple>e[3])[0] == 0)
        y = _eval(<tuple>e[4], g, saved, &yf, False)
        if type(x) is _ndarray:
            y = _scalar_operand(y, x)
            r = call2(<Loops>e[1], x, y, xf and _fits_in(y, x))
        elif type(y) is _ndarray:
            r = call2(<Loops>e[1], _scalar_operand(x, y), y, False)
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


def _describe(src, node):
    """How PyTorch names a saved tensor in its in-place error: ``[torch.FloatTensor [2]]``."""
    if isinstance(src, TensorBase):
        t = <TensorBase>src
        desc = f"[torch.{tensor_type_name(t._data.dtype)} {list(t._data.shape)}]"
        if t._grad_fn is not None:
            desc += f", which is output {t._output_nr} of {t._grad_fn.name()}"
        return desc
    return f"[the output of {node.name()}]"


cdef dict _CATEGORIES = {}


cdef int _category(object dtype) except -2:
    """0 bool, 1 integer, 2 floating, 3 complex (PyTorch's promotion categories)."""
    if dtype is _f32 or dtype is _f64:
        return 2
    c = _CATEGORIES.get(dtype)
    if c is not None:
        return <int>c
    kind = dtype.kind
    cat = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}.get(kind, 4)
    _CATEGORIES[dtype] = cat
    return cat


cdef inline int _scalar_category(object v):
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return 1
    if isinstance(v, float):
        return 2
    if isinstance(v, complex):
        return 3
    return -1


cdef object _promote_pair(object a, object b):
    """Promotion of two tensors' dtypes: the higher category wins across categories."""
    if a is None or a == b:
        return b
    ca, cb = _category(a), _category(b)
    if ca == cb:
        return np.promote_types(a, b)
    return a if ca > cb else b


cdef object _default_for(int category):
    if category == 2:
        return _default_float
    if category == 1:
        return _int64
    if category == 0:
        return _bool
    return np.dtype(np.complex64) if _default_float == np.float32 else np.dtype(np.complex128)


cdef object _result_dtype(list values, Py_ssize_t n):
    """PyTorch's result type: dimensioned tensors, then 0-d tensors, then Python scalars."""
    cdef object dim = None, zero = None
    cdef int scalar_cat = -1, c
    cdef Py_ssize_t i
    for i in range(n):
        v = values[i]
        if type(v) is _ndarray or (v is not None and hasattr(v, "dtype") and not isinstance(v, _generic)):
            if v.ndim:
                dim = _promote_pair(dim, v.dtype)
            else:
                zero = _promote_pair(zero, v.dtype)
        elif v is not None:
            c = _scalar_category(v)
            if c < 0 and isinstance(v, _generic):
                zero = _promote_pair(zero, v.dtype)
            elif c > scalar_cat:
                scalar_cat = c
    if dim is None:
        dim = zero
    elif zero is not None and _category(zero) > _category(dim):
        dim = zero
    if dim is None:
        return _default_for(scalar_cat)
    if scalar_cat > _category(dim):
        return _default_for(scalar_cat)
    return dim


cdef void _promote(OpDef op, list values) except *:
    _promote_all(op, values, op.n_inputs)


cdef void _promote_all(OpDef op, list values, Py_ssize_t n) except *:
    cdef Py_ssize_t i
    cdef int scalar_cat = -1, c
    cdef object common = None
    # Fast path: the arrays share one dtype and no scalar is of a higher category.
    for i in range(n):
        v = values[i]
        if type(v) is _ndarray:
            dt = <object>cnp.PyArray_DESCR(<cnp.ndarray>v)
            if common is None:
                common = dt
            elif dt is not common and dt != common:
                break
        elif v is not None:
            c = _scalar_category(v)
            if c < 0:
                break
            if c > scalar_cat:
                scalar_cat = c
    else:
        if common is not None:
            c = _category(common)
            if scalar_cat <= c and (c >= 2 or op.promote != "float"):
                return
    dtype = _result_dtype(values, n)
    if op.promote == "float" and _category(dtype) < 2:
        dtype = _default_float
    for i in range(n):
        v = values[i]
        if v is None or _scalar_category(v) >= 0:
            continue
        if isinstance(v, _generic):
            values[i] = np.asarray(v, dtype=dtype)
        elif v.dtype != dtype:
            values[i] = v.astype(dtype)


cpdef object apply_op(OpDef op, tuple args, dict kwargs):
    """Apply ``op`` to tensors (and scalars) ``args``; record it when gradients are needed."""
    if op.parse is not None:
        args, kwargs = op.parse(*args, **(kwargs or {}))
        args = tuple(args)
    if op.inplace_param is not None:
        inplace, args, kwargs = _take_inplace_flag(op, args, kwargs)
        if inplace:
            return apply_inplace(op, args, kwargs)      # F.relu(x, inplace=True)
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
    if op.overrides and xp is not _numpy:
        op = op.overrides.get(xp.__name__, op)     # a backend's own kernel for this op
    if op.promote is not None:
        _promote(op, values)
    record = record and op.differentiable() and grad_enabled()
    if record and op.vjps is not None:
        for i in range(n):
            if op.vjps[i] is None and isinstance(raw[i], TensorBase) and needs_grad(<TensorBase>raw[i]):
                raise _not_differentiable(op, op.inputs[i])
    try:
        if params is None and not extra:
            res = (_call_ufunc(op, values, n) if op.numpy_ufunc is not None and xp is _numpy and _fast
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
        b = _scalar_operand(b, a)
    elif type(a) is not _ndarray and _is_float_array(b):
        a = _scalar_operand(a, b)
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


# Python numbers meeting float arrays in ufunc calls. NumPy casts such a number to the
# array's dtype on every call (NEP 50), which costs about as much as the arithmetic of
# a small array; the same cast done once gives the same values (bit for bit), so the
# core keeps the casts of the numbers a program uses, per dtype, up to _SCALARS_MAX.
cdef dict _scalars16 = {}, _scalars32 = {}, _scalars64 = {}
cdef Py_ssize_t _SCALARS_MAX = 512


cdef object _scalar_operand(object v, object array):
    """``v``, or when it is a Python float or int and ``array`` a float array, the cached
    read-only 0-d array of ``v`` in ``array``'s dtype."""
    if type(v) is not float and type(v) is not int:
        return v
    cdef object dtype = <object>cnp.PyArray_DESCR(<cnp.ndarray>array)
    cdef dict cache
    if dtype is _f32:
        cache = _scalars32
    elif dtype is _f64:
        cache = _scalars64
    elif dtype is _f16:
        cache = _scalars16
    else:
        return v
    s = cache.get(v)
    if s is not None:
        return s
    # Zeros are left out (0.0 and -0.0 are equal keys), and so is what would overflow
    # (NumPy warns then) or lose precision as a float64 first (ints beyond 2**53).
    if v == 0 or v != v or len(cache) >= _SCALARS_MAX:
        return v
    if type(v) is int and not -9007199254740992 <= v <= 9007199254740992:
        return v
    if not abs(v) <= _FLOAT_MAX[dtype]:
        return v
    s = np.asarray(v, dtype)
    s.flags.writeable = False
    cache[v] = s
    return s


cdef dict _FLOAT_MAX = {d: float(np.finfo(d).max) for d in (_f16, _f32, _f64)}


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
            _mark_view(<TensorBase>out, raw[0])
        if record and _category(dtype_of(res)) >= 2:
            _record(op, raw, values, extra, params, (out,), resid)
        return out if op.output_type is None else op.output_type(out)
    outs = _wrap_outputs(res)
    for o in outs:
        _check_output(op, (<TensorBase>o)._data)
    if op.n_outputs and len(outs) != op.n_outputs:
        raise RuntimeError(
            f"forward of op {op.name!r} (plugin {op.plugin!r}) returned {len(outs)} outputs, "
            f"expected {op.n_outputs}")
    if op.view:
        for o in outs:
            _mark_view(<TensorBase>o, raw[0])
    if record and outs:         # unbind of an empty dim: no outputs, nothing to record
        _record(op, raw, values, extra, params, outs, resid)
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
    if op.overrides and xp is not _numpy:
        op = op.overrides.get(xp.__name__, op)
    if op.promote is not None:
        _promote_all(op, values, n)
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


cdef void _mark_view(TensorBase out, object src) except *:
    """A view shares its base's version counter, so in-place changes show on both."""
    cdef TensorBase base
    if not isinstance(src, TensorBase) or getattr(out._data, "base", None) is None:
        return      # the forward copied: not a view after all
    base = <TensorBase>src
    # NumPy copies may keep a .base (x.T.reshape(-1)): only shared memory makes a view.
    if out._data.size and not array_module(out._data).may_share_memory(out._data, base._data):
        return
    out._base = base._base if base._base is not None else base
    out._vc = base.version_counter()
    out._view_src = (<TensorBase>out._base)._grad_fn


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
    if op.out and _write_in_place(op, t, args, kwargs):
        return t
    name = op.inplace or op.name + "_"
    if grad_enabled():
        if t._grad_fn is None and t._requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation.")
        if t._base is not None and needs_grad(t):
            raise RuntimeError(
                f"{name}(): in-place change of a view of a tensor that requires grad is not "
                "supported by autogradx; assign through the base tensor (base[idx] = value) "
                "or clone() the view first")
    res = apply_op(op, args, kwargs)
    if res is t:
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
                        sources[k] = snap
                        versions[k] = 0         # the snapshot's own, unchanging version
            node.saved = tuple(saved)
            if sources is not None:
                node.saved_from = tuple(sources)
                node.saved_versions = tuple(versions)
    if o._grad_fn is None and op.differentiable() and grad_enabled() and needs_grad(t):
        # The result cannot carry a gradient (a comparison's bools written into a float
        # tensor): the tensor keeps requiring grad through a node that passes back zeros.
        _zero_history(op, t, args)
    t._data[...] = o._data
    cdef VersionCounter vc = t.version_counter()
    vc.value += 1
    if o._grad_fn is not None:
        t._grad_fn = o._grad_fn
        t._output_nr = 0
    return t


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
    if cat == 2 and op.numpy_ufunc is not None and _fast and not kwargs and values[0] is data:
        # The ufunc the forward computes on float arrays, into data (no Python frame).
        if n == 1:
            call1(op.loops, data, True)
        else:
            call2(op.loops, data, _scalar_operand(values[1], data), True)
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
    da, db = _device_of(a), _device_of(b)
    if da != db:
        raise RuntimeError(
            f"Expected all tensors to be on the same device, but found at least two devices, "
            f"{da} and {db}! (when checking argument '{op.inputs[index]}' of {op.name}())")


def _forward_trace():
    import traceback
    return "".join(traceback.format_stack())    # compiled frames do not appear in it


def _shape_error(op, exc, values):
    """A ValueError raised inside the array library (NumPy's shape errors) becomes
    PyTorch's RuntimeError naming the op and the shapes; an op's own ValueError
    (PyTorch raises some too) passes through unchanged."""
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "")
    msg = str(exc)
    # Operators on arrays raise from C, with no frame of the library: know them by text.
    from_operator = "broadcast" in msg or "core dimension" in msg or "cannot reshape" in msg
    if module.partition(".")[0] in ("numpy", "cupy", "cupyx") or from_operator:
        raise RuntimeError(f"{op.name}(): {_torch_message(msg, values) or exc} "
                           f"(input shapes: {_shapes(values)})") from exc


def _torch_message(msg, values):
    """PyTorch's wording for two shapes that do not broadcast or multiply, or None."""
    shapes = [tuple(v.shape) for v in values if hasattr(v, "shape")]
    if len(shapes) != 2:
        return None
    a, b = shapes
    if "core dimension" in msg and len(a) == len(b) == 2:
        return f"mat1 and mat2 shapes cannot be multiplied ({a[0]}x{a[1]} and {b[0]}x{b[1]})"
    if "operands could not be broadcast together" not in msg:
        return None
    for i in range(1, min(len(a), len(b)) + 1):
        if a[-i] != b[-i] and a[-i] != 1 and b[-i] != 1:
            return (f"The size of tensor a ({a[-i]}) must match the size of tensor b ({b[-i]}) "
                    f"at non-singleton dimension {max(len(a), len(b)) - i}")
    return None


def _type_names(values):
    return ", ".join(type(a).__name__ for a in values if a is not None) or "none"


def _shapes(values):
    return ", ".join(str(tuple(getattr(x, "shape", ()))) for x in values if x is not None)


def _wrap_outputs(res):
    return tuple(new_tensor(np.asarray(r) if isinstance(r, _generic) else r, None, 0)
                 for r in res)


cdef void _record(OpDef op, tuple raw, list values, tuple extra, dict params, tuple outs,
                  object resid) except *:
    cdef OpNode node = OpNode.__new__(OpNode)
    # An op's node refers only to earlier nodes, arrays, input tensors and plain
    # parameters: no cycle can pass through it until a hook is added (which tracks it).
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
    else:
        node.saved = ()
    node.params = params or None
    if anomaly_enabled():
        node.metadata["traceback_"] = _forward_trace()


cdef void _save(OpNode node, OpDef op, tuple raw, list values, tuple outs, object resid,
                Py_ssize_t ns) except *:
    """The values ``op.save`` names, with the tensors (or result counter) each came from
    and their versions, for the in-place check before the vjp."""
    cdef Py_ssize_t i, k
    cdef tuple saved = PyTuple_New(ns + op.residuals)     # filled below: every item is set
    cdef list sources = None, versions = None            # made on first need
    cdef tuple needed = _needed(node, op, ns) if op.reads is not None else None
    for k in range(ns):
        i = op.save_idx[k]
        src = None
        version = 0
        if needed is not None and not needed[k]:
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


cdef tuple _needed(OpNode node, OpDef op, Py_ssize_t ns):
    """Per saved value: whether the formula of an input that requires grad reads it."""
    cdef list needed = [False] * ns
    cdef Py_ssize_t i
    for i in range(op.n_inputs):
        if node.next_nodes[i] is not None:
            for k in <tuple>op.reads[i]:
                needed[k] = True
    return tuple(needed)


cdef object _apply_entry(object op, tuple args, dict kwargs):
    return apply_op(<OpDef>op, args, kwargs)


cdef object _inplace_entry(object op, tuple args, dict kwargs):
    return apply_inplace(<OpDef>op, args, kwargs)


install_apply(_apply_entry, _inplace_entry)
