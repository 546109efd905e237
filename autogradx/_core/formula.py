"""Derivative formulas: what each one reads, and the arithmetic ones as expression trees.

An op written in the one-derivative-source form gives, for each differentiable input,
one formula ``formula(xp, g, <the values it reads>, <parameters>)`` whose parameter names
say what it reads: the op's inputs by name and ``result``, as PyTorch's derivatives.yaml
does. From these the core learns what to save (only what the formulas of the inputs that
require grad read) and, by tracing a formula once on symbols, whether it is plain
arithmetic of ``g``, the saved values and numbers: then the core evaluates it itself with
NumPy's inner loops (op.pyx ``_eval``) instead of calling it. Nothing here is written twice:
the fast path is derived from the formula, and a formula that is not plain arithmetic
simply has none.
"""
import inspect

import numpy as np

RESULT = "result"

# Expression tree nodes (op.pyx turns each ufunc into its Loops):
#   (0,) g    (1, k) saved value k    (2, v) the number v
#   (3, ufunc, x) -x, cos(x), ... (a unary ufunc)
#   (4, ufunc, operator, x, y) x + y, x - y, x * y, x / y
_ARITHMETIC = {"add": (np.add, lambda a, b: a + b), "sub": (np.subtract, lambda a, b: a - b),
               "mul": (np.multiply, lambda a, b: a * b),
               "truediv": (np.divide, lambda a, b: a / b)}


def reads(op_name, input_name, formula, inputs, params):
    """The names ``formula`` reads (inputs and ``result``), in its parameter order.

    Its parameters are ``(xp, g, *reads, *params)``: a name after ``g`` is an input, the
    result, or one of the op's parameters (passed by keyword, as the caller gave them)."""
    where = f"op {op_name!r}: the derivative formula for input {input_name!r}"
    if not callable(formula):
        raise TypeError(f"{where} must be callable, got {type(formula).__name__}")
    try:
        signature = inspect.signature(formula)
    except (TypeError, ValueError):
        raise TypeError(f"{where} has no inspectable signature; write it as a function whose "
                        "parameter names say what it reads") from None
    parameters = list(signature.parameters.values())
    if len(parameters) < 2 or any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                                  for p in parameters[:2]):
        raise TypeError(f"{where} must take (xp, g, ...), got {signature}")
    names = []
    for p in parameters[2:]:
        if p.kind is p.VAR_KEYWORD:
            continue
        if p.name in params:
            continue
        if (p.name not in inputs and p.name != RESULT) or p.kind is p.VAR_POSITIONAL:
            raise TypeError(
                f"{where} reads {p.name!r}, which is neither an input {tuple(inputs)!r}, "
                f"{RESULT!r}, nor a parameter of the forward {tuple(params)!r}")
        names.append(p.name)
    return tuple(names)


def forward_parameters(forward, n_inputs):
    """The names of the forward's parameters after ``xp`` and its inputs (by keyword too)."""
    try:
        names = list(inspect.signature(forward).parameters)
    except (TypeError, ValueError):
        return ()
    return tuple(names[1 + n_inputs:])


class _Untraceable(Exception):
    """The formula did something besides arithmetic of g, saved values and numbers, and
    unary ufuncs of these."""


def _untraceable(*args, **kwargs):
    raise _Untraceable


class _Symbol:
    """A value in a formula being traced: it records + - * / and unary minus."""

    __slots__ = ("tree",)
    __array_ufunc__ = None          # NumPy scalars defer to the symbol's reflected methods

    def __init__(self, tree):
        self.tree = tree

    def __neg__(self):
        return _Symbol((3, np.negative, self.tree))

    def __pos__(self):
        return self

    # Comparisons, truth and anything else would make a branch that the tree cannot
    # follow (``g if other == 0 else g / other``): no fast path for such a formula.
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = _untraceable
    __pow__ = __rpow__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _untraceable
    __matmul__ = __rmatmul__ = __abs__ = __getitem__ = __len__ = __iter__ = _untraceable
    __hash__ = None

    def __getattr__(self, name):
        raise _Untraceable


def _operand(v):
    if isinstance(v, _Symbol):
        return v.tree
    if type(v) in (int, float):
        return (2, v)
    raise _Untraceable


def _binary(name):
    ufunc, python = _ARITHMETIC[name]

    def forward(self, other):
        return _Symbol((4, ufunc, python, self.tree, _operand(other)))

    def reflected(self, other):
        return _Symbol((4, ufunc, python, _operand(other), self.tree))
    return forward, reflected


for _name in _ARITHMETIC:
    _f, _r = _binary(_name)
    setattr(_Symbol, f"__{_name}__", _f)
    setattr(_Symbol, f"__r{_name}__", _r)


class _NoArrayModule:
    """``xp`` while tracing: of the array module, only NumPy's unary ufuncs of one output
    (``xp.cos(input)``, ``xp.sign(input)``) are taken, on a traced value: anything else is
    not part of an expression tree."""

    def __getattr__(self, name):
        ufunc = getattr(np, name, None)
        if not isinstance(ufunc, np.ufunc) or ufunc.nin != 1 or ufunc.nout != 1:
            raise _Untraceable

        def call(x, *args, **kwargs):
            if args or kwargs or not isinstance(x, _Symbol):
                raise _Untraceable      # out=, dtype=, a constant argument
            return _Symbol((3, ufunc, x.tree))
        return call


def trace(formula, slots):
    """The expression tree of ``formula(xp, g, *saved)`` when called without parameters,
    where ``slots`` gives the index in the node's saved values of each value it reads;
    None when the formula is not plain arithmetic that uses ``g``."""
    args = [_Symbol((1, k)) for k in slots]
    try:
        out = formula(_NoArrayModule(), _Symbol((0,)), *args)
    except Exception:       # _Untraceable, or math.log(symbol) and the like
        return None
    if not isinstance(out, _Symbol) or not _uses_g(out.tree):
        return None
    return out.tree


def _uses_g(tree):
    kind = tree[0]
    if kind == 0:
        return True
    if kind == 3:
        return _uses_g(tree[2])
    if kind == 4:
        return _uses_g(tree[3]) or _uses_g(tree[4])
    return False
