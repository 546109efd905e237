"""The plugin contract: what an op plugin provides and how autogradx finds it.

A plugin is a pip-installable package that declares an entry point in the
``autogradx.plugins`` group, pointing at a :class:`Plugin` object (or at a
function that returns one)::

    # pyproject.toml of the plugin package
    [project.entry-points."autogradx.plugins"]
    myops = "myops:plugin"

Each op is an :class:`Op`: a forward and a vector-Jacobian product (vjp),
both written against the array module ``xp`` they are handed (NumPy on the
CPU, CuPy on a GPU), so one definition serves every backend::

    import autogradx.plugin as agp

    cube = agp.Op(
        "cube",
        lambda xp, x: x ** 3,
        vjp={"input": lambda xp, g, input: 3 * g * input ** 2},
        method=True,
    )
    plugin = agp.Plugin("myops", [cube])

The contract of an op:

``forward(xp, *inputs, *params) -> array``
    ``inputs`` are arrays (or Python scalars, or ``None`` for an optional input
    that was not given), in the order of the ``inputs`` names; ``params`` are
    everything after them (``dim``, ``keepdim``, ...), passed as the caller
    passed them. With ``n_outputs > 1`` it returns a tuple of arrays; with
    ``residuals=True`` it returns ``(output, residuals)``, where residuals are
    non-differentiable values the vjp needs (an index array, a mask). With
    ``n_outputs=None`` it returns a tuple of any length (``split``, ``unbind``)
    and the vjp always gets a tuple. A forward that returns input 0's own array
    returns that tensor itself, with no new node (``contiguous()`` of a
    contiguous tensor).

``vjp={"input": formula, ...}``: one derivative formula per input (the preferred form)
    ``formula(xp, g, <what it reads>, **params) -> gradient of that input``. Its
    parameter names after ``g`` say what it reads: the op's inputs by name and
    ``"result"`` (as PyTorch's derivatives.yaml), then the op's parameters with
    their defaults. autogradx saves exactly what the formulas of the inputs that
    require grad read, and nothing else: ``x * 2`` keeps nothing of ``x``, so
    ``x`` may then change in place. ``save=`` is derived, not given. A formula
    that is plain arithmetic of ``g``, the values it reads and Python numbers
    (``g * other``, ``-g * input / (other * other)``) is also evaluated by the
    core itself on NumPy arrays, with NumPy's own loops: the core calls each
    formula once, on symbols, when the op is made, to find out (so a formula
    must have no side effects). Inputs without a formula get no gradient.

``vjp(xp, g, *saved, **params) -> grads`` (the positional form)
    ``g`` is the gradient of the output (a tuple of them for several
    outputs), ``saved`` the values named in ``save`` in that order (input names
    and/or ``"result"``), then the residuals if any. It returns one gradient
    per input (``None`` where there is none); it may also be given as a tuple
    of functions, one per input, and autogradx then calls only those whose
    input needs a gradient. A gradient may have the broadcast shape of the
    output: autogradx sums it back to its input's shape and casts it to its
    dtype, in one place, for every op.

To keep gradients of gradients possible, write vjps with operations that exist
both on arrays and on tensors (arithmetic operators and ``xp`` functions), and
save inputs or the result rather than values derived from them. A vjp that must
call something else on arrays (a SciPy function) asks :func:`on_tensors` which
case it is in, and calls an op on tensors.

``jvp``: the forward rule (forward-mode AD, ``autogradx.func.jvp``), only where it cannot be derived
    Left out, it is derived from the vjp: an elementwise op (one with ``ufunc=``) applies
    its per-input formulas to the tangents (a vjp formula of an elementwise op is its jvp,
    ``g`` standing for the tangent), a view op applies itself to the tangent; any other op with a vjp gets the
    tangent by the transpose trick (two reverse passes through its vjp: right, but
    slow). ``jvp="elementwise"``: the op is elementwise (a diagonal Jacobian) without
    declaring ``ufunc=``, so its vjp formulas serve. ``jvp="linear"``: the op is linear in its tensor inputs jointly (``sum``,
    ``cat``): the op applied to the tangents (zeros where an input has none).
    ``jvp="multilinear"``: linear in each input separately (``matmul``): the sum over the
    inputs with a tangent of the op with that input replaced by it. ``jvp={"input":
    formula, ...}``: one formula per input, ``formula(xp, t, <what it reads>, **params)``
    with ``t`` that input's tangent, read as the vjp formulas are; their sum is the
    output's tangent. ``python -m autogradx coverage`` lists which rule each op has.

``op.defvjp(vjp)`` attaches a positional-form vjp after the op is made (it
returns ``vjp``, so it works as a decorator), before the op is registered::

    cube = agp.Op("cube", lambda xp, x: x ** 3, save="input")

    @cube.defvjp
    def _cube_vjp(xp, g, input):
        return 3 * g * input ** 2

``Op`` arguments: ``name`` and ``forward`` positionally, everything else by keyword (a
positional ``vjp`` still works, with a ``DeprecationWarning``), in four groups: what it
computes (``inputs``, ``promote``, ``n_outputs``, ``output_type``, ``view``, ``parse``),
its derivative (``vjp``, ``save``, ``residuals``, ``grad_fn``, ``holomorphic``, ``jvp``), where it appears
(``namespace``, ``method``, ``inplace``, ``inplace_param``, ``aliases``, ``doc``) and
speed hints (``out``, ``ufunc``).

``name``
    Registry name; also the function name. In a dotted name (``"special.logit"``)
    the part after the last dot is the function's and the method's name, the prefix
    the default ``namespace``, and the default node name keeps it
    (``SpecialLogitBackward0``, as PyTorch names torch.special's own functions).
``inputs``
    Names of the tensor inputs, e.g. ``("input", "other")``: the forward's first
    parameters after ``xp``, and the names derivative formulas read them by.
    Callers may pass them by position or keyword. The forward gets an array for
    each tensor, a Python number as is, and ``None`` for an input that has a
    default in the forward's signature and was not given. Everything after them
    in the forward's signature is a parameter (``dim``, ``keepdim``).
``save``
    For the positional forms of ``vjp``: names of inputs (and/or ``"result"``)
    the vjp needs, all saved whichever inputs require grad. Saved tensors are
    checked for in-place changes before the vjp runs, and released after
    backward unless ``retain_graph=True``.
``grad_fn``
    The name of the backward node (``"MulBackward0"``); by default PyTorch's rule:
    the op's name title-cased word by word, dots as underscores, plus ``Backward0``
    (``log1p``: ``Log1PBackward0``). May be a function of the inputs and params
    returning the name.
``holomorphic``
    Complex gradients follow PyTorch's convention (the conjugate Wirtinger
    derivative: ``g * conj(f'(z))`` for a holomorphic ``f``). With the default
    ``True``, the formulas are written for real numbers and extend holomorphically
    (``g * other``, ``g @ b.T``): for a complex ``g`` the core runs
    ``conj(formula(conj(g)))``, so they are written once for both. ``False`` for an
    op that is not holomorphic (``abs``, ``real``, ``var``): its formulas then get
    complex values as they are and must give PyTorch's gradient themselves.
``promote``
    ``"elementwise"`` applies PyTorch's type promotion to the inputs before the
    forward; ``"float"`` does so and also turns integer inputs into the default
    float dtype (``exp``, true division).
``namespace``
    Where the function appears: ``""`` for ``autogradx.<name>``,
    ``"nn.functional"``, ``"linalg"``; a tuple for several (``("",
    "nn.functional")`` for ``relu``); ``None`` for no function. By default a dotted
    name's prefix, else ``""``.
``inplace``
    ``True`` (or a name such as ``"add_"``) for an in-place Tensor method: the
    result is computed out of place, then written into input 0.
``out``
    ``True`` when the forward takes a keyword ``out=``, an array of the
    result's shape and dtype to write the result into (as NumPy's ufuncs do).
    In-place calls that record nothing (an optimizer's ``p -= lr * g`` under
    ``no_grad``) then write straight into input 0's array, without a temporary
    result and a copy.
``ufunc``
    The name of the NumPy ufunc (``"multiply"``) that the forward computes on
    floating-point NumPy arrays when it is called with no parameters, for an op
    of one or two inputs. On such arrays the core then calls the ufunc itself,
    which saves the forward's Python call; other dtypes (integer division, say)
    and inputs the ufunc refuses go to the forward. A Python number meeting a
    float array is cast once to that dtype and kept (the same values NumPy's own
    cast gives, without its cost per call). The conformance kit checks that both
    give the same result.
``vjp_ufunc``
    Deprecated and ignored (with a ``DeprecationWarning``): give ``vjp`` as one
    formula per input; the core derives the same fast path from the formulas.
``view``
    ``True`` when the output is a view of input 0 (it shares the version counter).
``aliases``
    Further names for the function and the method (``"clip"`` for ``clamp``).
``inputs=("*tensors",)``
    A variadic op (``cat``, ``stack``): input 0 is a sequence of tensors; the
    forward gets a list of arrays and the vjp returns one gradient per tensor.
``parse``
    ``parse(*args, **kwargs) -> (args, kwargs)`` reorders an unusual call
    signature into the op's (``einsum(equation, *operands)``).
``method``
    ``True`` (or a name) to make it a Tensor method as well.
"""

from autogradx._core.opdef import OpDef as Op
from autogradx._core.dispatch import get_array_module

__all__ = ["Op", "Plugin", "OpList", "ENTRY_POINT_GROUP", "get_array_module", "on_tensors",
           "set_priority", "lazy_conformance_cases", "collect"]

#: The entry point group autogradx loads plugins from.
ENTRY_POINT_GROUP = "autogradx.plugins"


def set_priority(names):
    """Which plugin's op is used when several plugins register one name: ``names`` (a list,
    or a comma-separated string) first, in that order, then the other plugins in the
    default order (autogradx's own first, then the rest by entry point name). The
    environment variable ``AUTOGRADX_PLUGIN_PRIORITY=a,b`` does the same; this call takes
    precedence. Call it before the first op call, which loads the plugins::

        import autogradx
        autogradx.plugin.set_priority(["fastspecial", "scipy_special"])

    ``python -m autogradx info`` lists the ops that several plugins register.
    """
    from autogradx._registry import REGISTRY
    REGISTRY.set_priority(names)


def on_tensors(xp):
    """True when a vjp handed ``xp`` runs on tensors, False when it runs on arrays.

    Under ``create_graph=True`` (gradients of gradients) vjps get tensors, and an
    ``xp`` whose functions record ops on them; anything that is not an op (a SciPy
    function, ``np.`` calls) cannot take those tensors. Such a vjp calls an op there::

        def _j0_vjp(xp, g, input):
            if on_tensors(xp):
                return -g * bessel_j1(input)        # an op: recorded, differentiable
            return -g * scipy.special.j1(input)
    """
    from autogradx._xp import is_tensor_namespace
    return is_tensor_namespace(xp)


class Plugin:
    """A named set of ops, the object a plugin's entry point refers to.

    ``backends`` lists :class:`autogradx.backends.Backend` objects (array
    libraries for other devices); ``overrides`` lists ``(op name, array module
    name, Op)`` triples: a faster definition of an existing op used only when
    its inputs are arrays of that module (``("mul", "cupy", fused_mul)``).
    """

    def __init__(self, name, ops=(), *, backends=(), overrides=(), version=None, description=""):
        if not isinstance(name, str) or not name:
            raise TypeError(f"plugin name must be a non-empty string, got {name!r}")
        ops = list(ops)
        for op in ops:
            if not isinstance(op, Op):
                raise TypeError(f"plugin {name!r}: {op!r} is not an autogradx.plugin.Op")
        from autogradx.backends import Backend
        backends = list(backends)
        for b in backends:
            if not isinstance(b, Backend):
                raise TypeError(f"plugin {name!r}: {b!r} is not an autogradx.backends.Backend")
        self.name = name
        self.ops = ops
        self.backends = backends
        overrides = list(overrides)
        for entry in overrides:
            if not (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[2], Op)):
                raise TypeError(f"plugin {name!r}: overrides are (op name, array module name, "
                                f"Op) triples, got {entry!r}")
        self.overrides = overrides
        self.version = version
        self.description = description

    def __repr__(self):
        return f"<Plugin {self.name!r}: {len(self.ops)} ops>"


def lazy_conformance_cases(module_name, builder="_conformance_cases"):
    """A module ``__getattr__`` that builds the module's ``conformance_cases`` (by calling
    its function ``builder``) only when the conformance kit asks for them, so that
    importing the ops costs nothing more::

        __getattr__ = lazy_conformance_cases(__name__)
    """
    import sys

    def __getattr__(name):
        if name == "conformance_cases":
            return getattr(sys.modules[module_name], builder)()
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__


class OpList:
    """The ops a module defines, in the order it defines them: a plugin's op list kept
    where the ops are written, never a second time by hand::

        _ops = OpList()

        cube = _ops.add(Op("cube", _cube, vjp={"input": _cube_grad}))
        square = _ops.add(_power_op("square", 2))       # an op built by a helper

        OPS = tuple(_ops)                               # Plugin("myops", OPS)

    ``add`` returns the op it is given, so the module keeps a name for it (to call it,
    to test it). An op built and not added (a helper's, a test's) is not listed.
    """

    def __init__(self):
        self._ops = []

    def add(self, op):
        """Append ``op`` (an :class:`Op`) and return it; adding one op twice is an error."""
        if not isinstance(op, Op):
            raise TypeError(f"OpList.add() takes an autogradx.plugin.Op, got {op!r}")
        if any(op is known for known in self._ops):
            raise ValueError(f"op {op.name!r} is already in this list")
        self._ops.append(op)
        return op

    def __iter__(self):
        return iter(self._ops)

    def __len__(self):
        return len(self._ops)

    def __repr__(self):
        return f"OpList({[op.name for op in self._ops]!r})"


def collect(*modules):
    """All :class:`Op` objects bound to a name at the top level of ``modules``, in order:
    a convenience for a quick plugin (``Plugin("myops", collect(mymodule))``).

    It takes whatever is a global, so an op imported from another module is listed (and
    registered) again, and one built at top level as an intermediate is listed by
    accident; an explicit list (``Plugin(name, [op, ...])``, or an :class:`OpList` filled
    where the ops are defined) is the recommended form, the one autogradx's own ops use.
    """
    ops = []
    for module in modules:
        ops.extend(v for v in vars(module).values() if isinstance(v, Op))
    return ops
