"""The contract of one op (what a plugin registers): ``OpDef``, checked when it is made.

Its derivative is one formula per input (``vjp={"input": ...}``), from which what is saved
and the arithmetic fast path are derived (formula.py); or the positional forms.
"""

import inspect
import re
import warnings
from types import MethodType

import numpy as np

cimport cython

from .loops cimport loops_of
from . import formula as _formula
from .tensor cimport apply_registered

cdef frozenset _PROMOTE = frozenset({None, "elementwise", "float"})


def _camel(name):
    """An op's name as PyTorch's codegen writes its node (``_camel(name) + "Backward0"``): the
    native function's name title-cased (``log1p`` -> ``Log1P``), which for torch.special and
    torch.linalg functions carries the namespace (``special.erfcx`` -> ``SpecialErfcx``)."""
    return "".join(part.title() for part in re.split(r"[_.]+", name) if part)


class _FromName:
    """The default ``namespace``: the dotted name's prefix, or the top level."""

    def __repr__(self):
        return "<the name's prefix>"


_FROM_NAME = _FromName()


cdef class OpDef:
    """Op(name, forward, *, inputs=("input",), promote=None, n_outputs=1, output_type=None, view=False, parse=None, vjp=None, save=(), residuals=False, grad_fn=None, holomorphic=True, jvp=None, namespace=<the name's prefix>, method=None, inplace=None, inplace_param=None, aliases=(), doc=None, out=False, ufunc=None, number_first=True, vjp_ufunc=None)

    The contract of one op: a forward and its vjp over an array module.

    See :mod:`autogradx.plugin` for the documented constructor arguments.
    """

    # The signature above is written by hand: Cython's embedded one put ``inputs`` before
    # ``*args`` (the deprecated positional vjp), as if positional.
    @cython.embedsignature(False)
    def __init__(self, str name, forward, *args,
                 # what it computes
                 inputs=("input",), promote=None, n_outputs=1, output_type=None,
                 bint view=False, parse=None,
                 # its derivative
                 vjp=None, save=(), bint residuals=False, grad_fn=None, bint holomorphic=True,
                 jvp=None,
                 # where it appears
                 namespace=_FROM_NAME, method=None, inplace=None, inplace_param=None, aliases=(),
                 doc=None,
                 # speed hints
                 bint out=False, ufunc=None, bint number_first=True, vjp_ufunc=None):
        if args:
            # vjp was the one argument after forward that could be positional.
            if len(args) > 1 or vjp is not None:
                raise TypeError(f"op {name!r}: Op() takes name and forward positionally, "
                                "everything else by keyword")
            warnings.warn(f"op {name!r}: pass the derivative as vjp=...; a positional vjp is "
                          "deprecated", DeprecationWarning, stacklevel=2)
            vjp = args[0]
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
            if len(save) > 63:
                raise ValueError(f"op {name!r}: its formulas read {len(save)} values; at most 63")
            self.reads = tuple(tuple(save.index(x) for x in r) for r in read)
            self.read_masks = tuple(sum(1 << k for k in set(r)) for r in self.reads)
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
        self.grad_fn = grad_fn if grad_fn is not None else _camel(name) + "Backward0"
        self.promote = promote
        self.n_outputs = n_outputs
        self.output_type = output_type
        if namespace is _FROM_NAME:
            namespace = name.rpartition(".")[0]
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
        self.number_first = number_first
        if vjp_ufunc is not None:
            warnings.warn(
                f"op {name!r}: vjp_ufunc= is deprecated and ignored: give vjp as a dict of one "
                "formula per input, named by what it reads ({'input': lambda xp, g, other: "
                "g * other, ...}); the core derives the fast path from such formulas",
                DeprecationWarning, stacklevel=2)
        if self.reads is not None and n_outputs == 1:
            self.vjp_rules = _vjp_rules(self)
        self.inplace_param = inplace_param
        self.holomorphic = holomorphic
        self._set_jvp(jvp)
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

    def _set_jvp(self, jvp):
        """Check and keep the declared forward rule (see the field's comment in opdef.pxd)."""
        if jvp == "elementwise" and not self.differentiable():
            raise ValueError(f"op {self.name!r}: jvp='elementwise' takes its vjp as its jvp; "
                             "it has none")
        if jvp is None or jvp in ("elementwise", "linear", "multilinear"):
            self.jvp = jvp
            return
        if not isinstance(jvp, dict):
            raise TypeError(f"op {self.name!r}: jvp must be 'elementwise', 'linear', "
                            f"'multilinear' or a dict of one formula per input, got {jvp!r}")
        if self.variadic:
            raise ValueError(f"op {self.name!r}: a variadic op's jvp is 'linear' or "
                             "'multilinear'")
        unknown = [k for k in jvp if k not in self.inputs]
        if unknown:
            raise ValueError(f"op {self.name!r}: jvp names {unknown!r}, which are not among "
                             f"its inputs {self.inputs!r}")
        params = _formula.forward_parameters(self.forward, len(self.inputs))
        self.jvp = tuple(jvp.get(i) for i in self.inputs)
        self.jvp_reads = tuple(() if f is None else _formula.reads(self.name, i, f, self.inputs, params)
                               for i, f in zip(self.inputs, self.jvp))

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
        return apply_registered(self, args, kwargs)

    def __repr__(self):
        return f"<op {self.name!r} from plugin {self.plugin!r}>"


cdef extern from *:
    """
    static void agx_call_as_method(PyObject *type) {
        ((PyTypeObject *)type)->tp_flags |= Py_TPFLAGS_METHOD_DESCRIPTOR;
        PyType_Modified((PyTypeObject *)type);
    }
    """
    void agx_call_as_method(object type)


cdef void call_as_method(type t) noexcept:
    """Let ``x.name(...)`` call the ``t`` found on x's class as ``t(x, ...)``, as CPython
    calls its own method descriptors: no bound method is made per call (0.5 us of every
    ``x.exp()``). ``x.name`` alone still binds, through __get__."""
    agx_call_as_method(t)


call_as_method(OpDef)


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
