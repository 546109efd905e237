"""Random autograd programs, written once and run in autogradx and in PyTorch.

A :class:`Program` starts from a few float64 leaves whose shapes broadcast together (some
not requiring grad), applies 5 to 30 random steps, each making a new value from earlier
ones (so values are reused: shared subexpressions) or changing one in place, then sums some
of the values and differentiates the sum in one of several ways (:data:`MODES`).

The steps: elementwise unary and binary ops (with broadcasting), ops with a number,
reductions (dims, ``keepdim``), matmul where the shapes fit, stack, reshape, transpose,
unsqueeze and basic indexing (views), ``clone``, ``detach``, and in-place ops (``add_``,
``mul_``, ``clamp_``, ``relu_``, ...) on non-leaf values: also where a later-needed node
saved the value (backward must then fail, in both libraries), and sometimes on a leaf that
requires grad (which fails at once).

:func:`run` gives a :class:`Trace` of a program in one library: each value as made (its
values, ``requires_grad``, ``is_leaf``, ``grad_fn`` name), the values at the end, the
exception type of the step or phase that failed, and the gradients.
"""

import numpy as np
from hypothesis import strategies as st

from fuzz.calls import broadcast_shapes, dims_of, rngs, uniform
from fuzz.calls_indexing import basic_indices
from fuzz.calls_shape import same_size
from fuzz.known import builtin

#: How the sum of the chosen values is differentiated.
MODES = ("backward", "backward twice, retain_graph", "backward twice", "grad, create_graph")

UNARY = ("tanh", "sigmoid", "sin", "cos", "neg", "abs", "relu")
INPLACE_UNARY = ("relu_", "tanh_", "sigmoid_", "neg_")


#: Marks of values whose in-place change meets an autogradx bug (see test_graphs.py):
# x * c, x / c, c / x and x * y, x / y, x @ y where y needs no gradient save x, needlessly
UNNEEDED = "saved needlessly"
SQUARED = "squared"                     # x ** 2 saves its result, needlessly


class Value:
    """What the generator knows of a value: its shape, whether it requires grad and is a
    leaf, whether it is a view of another value (or shares its storage, detached), and
    its ``marks``."""

    __slots__ = ("shape", "requires_grad", "leaf", "view", "marks")

    def __init__(self, shape, requires_grad, leaf=False, view=False, marks=()):
        self.shape, self.requires_grad, self.leaf = tuple(shape), requires_grad, leaf
        self.view, self.marks = view, set(marks)


class Step:
    """``fn(lib, *values[operands])``: a new value, or (``inplace``) operand 0 changed."""

    __slots__ = ("text", "fn", "operands", "inplace")

    def __init__(self, text, fn, operands, inplace=False):
        self.text, self.fn, self.operands, self.inplace = text, fn, operands, inplace


class Program:
    """Leaves (arrays, and whether each requires grad), steps, the values summed into the
    output (``roots``), how it is differentiated (``mode``), and ``changed``: the marks of
    the values that in-place steps changed."""

    def __init__(self, leaves, steps, roots, mode, changed):
        self.leaves, self.steps, self.roots, self.mode = leaves, steps, roots, mode
        self.changed = changed

    def texts(self):
        """Per value, the line that made it."""
        lines = repr(self).splitlines()
        return lines[:len(self.leaves)] + [s.text for s in self.steps if not s.inplace]

    def __repr__(self):
        lines = [f"v{i} = leaf{tuple(a.shape)}{', requires_grad' if g else ''}"
                 for i, (a, g) in enumerate(self.leaves)]
        lines += [step.text for step in self.steps]
        lines.append(f"out = sum of {', '.join(f'v{i}' for i in self.roots)}; {self.mode}")
        return "\n".join(lines)


# ---------------------------------------------------------------- the steps

def _shape_of(fn, *shapes):
    """The shape NumPy gives ``fn`` of arrays of zeros of ``shapes`` (its rules are PyTorch's
    for the ops here), or None where it refuses them."""
    try:
        return np.shape(fn(*(np.zeros(s) for s in shapes)))
    except (ValueError, IndexError):
        return None


def _pick(draw, candidates):
    return draw(st.sampled_from(candidates)) if candidates else None


def unary(draw, values, n):
    """An elementwise function of a value."""
    i = draw(st.integers(0, len(values) - 1))
    name = draw(st.sampled_from(UNARY))
    step = Step(f"v{n} = v{i}.{name}()", lambda lib, x: getattr(x, name)(), (i,))
    return step, Value(values[i].shape, values[i].requires_grad)


def with_number(draw, values, n):
    """A value and a Python number: arithmetic, or the square."""
    i = draw(st.integers(0, len(values) - 1))
    c = draw(st.sampled_from([0.5, -2.0, 3.0]))
    fns = {"{x} * {c}": lambda lib, x: x * c, "{x} + {c}": lambda lib, x: x + c,
           "{c} - {x}": lambda lib, x: c - x, "{x} / {c}": lambda lib, x: x / c,
           "{x} ** 2": lambda lib, x: x ** 2}
    form = draw(st.sampled_from(sorted(fns)))
    text = form.format(x=f"v{i}", c=c)
    squared = form == "{x} ** 2"
    if "*" in form and not squared or "/" in form:
        values[i].marks.add(UNNEEDED)
    return (Step(f"v{n} = {text}", fns[form], (i,)),
            Value(values[i].shape, values[i].requires_grad, marks=[SQUARED] * squared))


_BINARY = {
    "{a} + {b}": lambda lib, a, b: a + b,
    "{a} - {b}": lambda lib, a, b: a - b,
    "{a} * {b}": lambda lib, a, b: a * b,
    "{a} / ({b} * {b} + 1)": lambda lib, a, b: a / (b * b + 1),
    "maximum({a}, {b})": lambda lib, a, b: lib.maximum(a, b),
}


def binary(draw, values, n):
    """An elementwise op of two values whose shapes broadcast (a value with itself too)."""
    i = draw(st.integers(0, len(values) - 1))
    partners = [j for j, v in enumerate(values)
                if _shape_of(np.add, values[i].shape, v.shape) is not None]
    j = _pick(draw, partners)
    form = draw(st.sampled_from(sorted(_BINARY)))
    text = form.format(a=f"v{i}", b=f"v{j}")
    shape = _shape_of(np.add, values[i].shape, values[j].shape)
    if "*" in form or "/" in form:
        _mark_unneeded(values[i], values[j], both_ways=form == "{a} * {b}")
    return (Step(f"v{n} = {text}", _BINARY[form], (i, j)),
            Value(shape, values[i].requires_grad or values[j].requires_grad))


def _mark_unneeded(a, b, both_ways=True):
    """Mark ``a`` saved needlessly by a product with ``b`` if ``b`` needs no gradient (and
    the other way round for ``both_ways``)."""
    if not b.requires_grad:
        a.marks.add(UNNEEDED)
    if both_ways and not a.requires_grad:
        b.marks.add(UNNEEDED)


def reduction(draw, values, n):
    """``sum``, ``mean`` or ``amax`` of all elements or over dims, ``keepdim`` or not."""
    i = draw(st.integers(0, len(values) - 1))
    shape = values[i].shape
    name = draw(st.sampled_from(["sum", "mean", "amax"]))
    dims = draw(st.one_of(st.none(), dims_of(len(shape))))
    keepdim = draw(st.booleans())
    if dims is None:
        text, fn = f"v{n} = v{i}.{name}()", lambda lib, x: getattr(x, name)()
        new = ()
    else:
        text = f"v{n} = v{i}.{name}(dim={dims}, keepdim={keepdim})"

        def fn(lib, x):
            return getattr(x, name)(dim=dims, keepdim=keepdim)
        new = _shape_of(lambda a: np.sum(a, axis=tuple(d % max(len(shape), 1) for d in dims)
                                         if shape else None, keepdims=keepdim), shape)
    return Step(text, fn, (i,)), Value(new, values[i].requires_grad)


def matmul(draw, values, n):
    """``a @ b`` for two values of at least one dim whose shapes fit, if there are any."""
    pairs = [(i, j) for i, a in enumerate(values) for j, b in enumerate(values)
             if a.shape and b.shape and _shape_of(np.matmul, a.shape, b.shape) is not None]
    if not pairs:
        return None
    i, j = draw(st.sampled_from(pairs))
    _mark_unneeded(values[i], values[j])
    return (Step(f"v{n} = v{i} @ v{j}", lambda lib, a, b: a @ b, (i, j)),
            Value(_shape_of(np.matmul, values[i].shape, values[j].shape),
                  values[i].requires_grad or values[j].requires_grad))


def stack(draw, values, n):
    """Two values of one shape (or a value twice) stacked along a new dim."""
    i = draw(st.integers(0, len(values) - 1))
    j = _pick(draw, [j for j, v in enumerate(values) if v.shape == values[i].shape])
    dim = draw(st.integers(-len(values[i].shape) - 1, len(values[i].shape)))
    shape = _shape_of(lambda a, b: np.stack([a, b], dim), values[i].shape, values[j].shape)
    return (Step(f"v{n} = stack([v{i}, v{j}], {dim})",
                 lambda lib, a, b: lib.stack([a, b], dim), (i, j)),
            Value(shape, values[i].requires_grad or values[j].requires_grad))


def view(draw, values, n):
    """A view of a value: reshape, transpose, unsqueeze or a basic index."""
    i = draw(st.integers(0, len(values) - 1))
    shape = values[i].shape
    form = draw(st.sampled_from(["reshape", "transpose", "unsqueeze", "index"]))
    if form == "reshape":
        target = draw(same_size(shape))
        text, fn = f".reshape({target})", lambda lib, x: x.reshape(target)
        new = _shape_of(lambda a: a.reshape(target), shape)
    elif form == "transpose":
        d0, d1 = (draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
                  for _ in range(2))
        text, fn = f".transpose({d0}, {d1})", lambda lib, x: x.transpose(d0, d1)
        new = _shape_of(lambda a: np.swapaxes(a, d0, d1), shape) if shape else ()
    elif form == "unsqueeze":
        d = draw(st.integers(-len(shape) - 1, len(shape)))
        text, fn = f".unsqueeze({d})", lambda lib, x: x.unsqueeze(d)
        new = _shape_of(lambda a: np.expand_dims(a, d), shape)
    else:
        index = draw(basic_indices(shape))
        text, fn = f"[{index!r}]", lambda lib, x: x[index]
        new = _shape_of(lambda a: a[index], shape)
    value = Value(new, values[i].requires_grad, view=True)
    value.marks = values[i].marks       # one memory: an in-place change of either marks both
    return Step(f"v{n} = v{i}{text}", fn, (i,)), value


def copy(draw, values, n):
    """``clone()``, or ``detach()``: a leaf that shares the value's storage."""
    i = draw(st.integers(0, len(values) - 1))
    if draw(st.booleans()):
        return (Step(f"v{n} = v{i}.clone()", lambda lib, x: x.clone(), (i,)),
                Value(values[i].shape, values[i].requires_grad))
    value = Value(values[i].shape, False, leaf=True, view=True)
    value.marks = values[i].marks       # one memory, as for a view
    return Step(f"v{n} = v{i}.detach()", lambda lib, x: x.detach(), (i,)), value


def inplace(draw, values, n):
    """An in-place op on a value (a view too): with a number, with a value that broadcasts
    to it, or unary. Mostly on a non-leaf (or a leaf without grad); one time in twenty on a
    leaf that requires grad, which must fail."""
    changeable = [i for i, v in enumerate(values) if not (v.leaf and v.requires_grad)]
    if draw(st.integers(0, 19)) == 0:
        changeable = [i for i, v in enumerate(values) if v.leaf and v.requires_grad]
    i = _pick(draw, changeable)
    if i is None:
        return None
    target = values[i]
    form = draw(st.sampled_from(["value", "number", "clamp", "unary"]))
    others = [j for j, v in enumerate(values)
              if _shape_of(np.add, target.shape, v.shape) == target.shape]
    if form == "value" and others:
        j = draw(st.sampled_from(others))
        name = draw(st.sampled_from(["add_", "sub_", "mul_"]))
        step = Step(f"v{i}.{name}(v{j})", lambda lib, x, y: getattr(x, name)(y), (i, j), True)
        if name == "mul_":
            _mark_unneeded(values[j], target, both_ways=False)
        target.requires_grad = target.requires_grad or values[j].requires_grad
    elif form == "number":
        name, c = draw(st.sampled_from(["add_", "mul_", "div_"])), draw(st.sampled_from([2.0,
                                                                                         -0.5]))
        step = Step(f"v{i}.{name}({c})", lambda lib, x: getattr(x, name)(c), (i,), True)
    elif form == "clamp":
        step = Step(f"v{i}.clamp_(-0.5, 0.5)", lambda lib, x: x.clamp_(-0.5, 0.5), (i,), True)
    else:
        name = draw(st.sampled_from(INPLACE_UNARY))
        step = Step(f"v{i}.{name}()", lambda lib, x: getattr(x, name)(), (i,), True)
    if target.requires_grad:
        target.leaf = False
    return step, None


KINDS = (unary, with_number, binary, reduction, matmul, stack, view, copy, inplace)


# ---------------------------------------------------------------- programs

@st.composite
def programs(draw, min_steps=5, max_steps=30):
    """Programs as described above (one leaf at least, the first, requires grad)."""
    rng = draw(rngs())
    shapes = draw(broadcast_shapes(draw(st.integers(1, 3)), max_side=3))
    leaves = [(uniform(rng, s), draw(st.booleans()) or k == 0) for k, s in enumerate(shapes)]
    values = [Value(a.shape, g, leaf=True) for a, g in leaves]
    steps, changed = [], set()
    for _ in range(draw(st.integers(min_steps, max_steps))):
        made = draw(st.sampled_from(KINDS))(draw, values, len(values))
        if made is None:
            made = unary(draw, values, len(values))
        step, value = made
        if step.inplace:
            changed |= values[step.operands[0]].marks    # of the value changed in place
        else:
            values.append(value)
        steps.append(step)
    roots = sorted({len(values) - 1} | set(draw(st.lists(st.integers(0, len(values) - 1),
                                                          max_size=2))))
    return Program(leaves, steps, roots, draw(st.sampled_from(MODES)), changed)


# ---------------------------------------------------------------- running one

def _node(t):
    return None if t.grad_fn is None else t.grad_fn.name().rpartition("::")[2]


def _array(t):
    """A copy of ``t``'s values. (The copy is made by the library: PyTorch's gradients through
    ``abs`` may be "zero tensors", which ``numpy()`` refuses, or with ``force=True`` crashes
    on.)"""
    return t.detach().clone().numpy()


def snapshot(t):
    """``(values, requires_grad, is_leaf, grad_fn name)`` of tensor ``t`` now."""
    return _array(t), t.requires_grad, t.is_leaf, _node(t)


class Trace:
    """What a program did in one library: ``made`` (a snapshot of each step's result as
    made), ``final`` (of every value at the end), ``error`` (``(where, exception type)``
    of the first failure), ``grads`` (each leaf's ``.grad`` values, or None) and, for
    ``autograd.grad``, ``returned`` (the gradients it returned)."""

    def __init__(self):
        self.made, self.final, self.grads, self.returned = [], [], [], []
        self.error = None


def run(lib, program):
    """The :class:`Trace` of ``program`` in ``lib`` (autogradx or torch)."""
    trace = Trace()
    leaves = [lib.tensor(a, requires_grad=g) for a, g in program.leaves]
    values = list(leaves)
    for k, step in enumerate(program.steps):
        try:
            out = step.fn(lib, *(values[i] for i in step.operands))
        except Exception as e:      # noqa: BLE001 - the type is what is compared
            trace.error = (f"step {k}: {step.text}", builtin(type(e)))
            return trace
        if not step.inplace:
            values.append(out)
        trace.made.append(snapshot(out))
    trace.final = [snapshot(v) for v in values]
    leaves_with_grad = [t for t in leaves if t.requires_grad]
    try:
        total = sum((values[i].sum() for i in program.roots[1:]), values[program.roots[0]].sum())
        for phase, fn in _phases(lib, program.mode, total, leaves_with_grad, trace):
            trace.error = (phase, None)
            fn()
            trace.error = None
            trace.grads = _grads(leaves)
    except Exception as e:          # noqa: BLE001 - the type is what is compared
        trace.error = (trace.error[0] if trace.error else "the output", builtin(type(e)))
    return trace


def _grads(leaves):
    """Each leaf's ``.grad`` values (None where it has none). A leaf without grad changed in
    place by a value with grad is a leaf no more: it has no ``.grad``."""
    return [None if not t.is_leaf or t.grad is None else _array(t.grad) for t in leaves]


def _phases(lib, mode, total, leaves, trace):
    """``(name, fn)`` for each call of ``mode``: after each one that succeeds, the trace
    takes the leaves' gradients (autogradx leaves them as they were when a call fails,
    where PyTorch may have added to some: the gradients compared are those before it)."""
    if mode == "grad, create_graph":
        second = []

        def first():
            grads = lib.autograd.grad(total, leaves, create_graph=True, allow_unused=True)
            trace.returned = [None if g is None else _array(g) for g in grads]
            second.extend((g * g).sum() for g in grads if g is not None and g.requires_grad)

        def again():
            if second:
                sum(second[1:], second[0]).backward()
        return [("autograd.grad", first), ("backward of the gradients", again)]
    retain = mode == "backward twice, retain_graph"
    calls = [("backward", lambda: total.backward(retain_graph=retain))]
    if mode != "backward":
        calls.append(("second backward", lambda: total.backward()))
    return calls
