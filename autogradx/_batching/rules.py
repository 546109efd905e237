"""Batching rules: an op applied to batched tensors as one op call on the whole batch.

Each rule serves an op *kind*, and each op's kind comes from what the registry says of it
(:func:`kind_of`), the way its forward rule does (autograd/_jvp.py):

``"broadcast"``
    Elementwise ops (a plain ufunc, or an elementwise forward rule): every batched operand
    gets its sample dims padded with size-1 dims to the operands' largest rank, behind its
    batch dims; unbatched operands are left as they are (they broadcast from the right).
``"dims"``
    Ops whose parameters are dims (``dim``, ``dim0``, ``start_dim``, ``source`` ...), shapes
    (``size``, ``shape``) or repeat counts (``repeats``): reductions, softmax and its kin,
    cumulative ops, views, reshapes, transposes, selections. Dims move past the batch
    dims, shapes and repeats get the batch's in front; ``dim=None`` of a reduction
    (``keepdim`` among its parameters) reduces the sample's dims (flattened into one).
``"concat"``
    ``cat`` and ``stack``: every tensor batched (expanded where it is not), the dim moved.
``"matmul"``
    The multilinear ops of two inputs (``matmul``, ``mm``, ``bmm``, ``mv``, ``dot``,
    ``outer``): one batched ``matmul``, vectors made matrices and back.
``"einsum"``
    ``einsum``: a subscript letter for the batch dims of each batched operand and the result.
``"index"``
    ``x[index]`` (basic or advanced, with unbatched indices): ``slice(None)`` for the batch dims.
``"loss"``, ``"class_loss"``
    Ops with a ``reduction`` parameter: computed with ``reduction="none"`` and reduced per
    sample; the class-index losses (``ignore_index``) fold the batch into their ``N`` dim.
``"addmm"``
    ``addmm``: a batched ``matmul`` plus the input padded to its result.
``"direct"``
    Ops that act on their input's trailing dims only, whatever the leading ones (matrix
    functions of ``linalg``; declared in DECLARED).

What a kind's rule cannot handle (a batched index tensor, a weight of a loss, dims it
cannot place) raises :class:`~autogradx._batching.Unsupported`, and that call takes the
fallback loop, as do ops of no kind.
"""

import functools
import inspect

from autogradx._batching import Unsupported, walk
from autogradx._core.op import apply_parsed
from autogradx._core.tensor import TensorBase

__all__ = ["Call", "kind_of", "rule_for", "KINDS", "DECLARED"]

_DIM_PARAMS = frozenset({"dim", "dim0", "dim1", "dim2", "start_dim", "end_dim", "source",
                         "destination", "dims", "axis"})
_SHAPE_PARAMS = frozenset({"size", "shape"})
_REPS_PARAMS = frozenset({"repeats"})

# Kinds the registry cannot tell (an op's parameters do not say it acts on trailing dims),
# and parameter names that mean something else for one op. Each entry says why.
DECLARED = {
    "unique": None,                 # its result's size depends on the values
    "as_strided": None,             # its strides count the sample's memory: no batch stride
    "one_hot": "direct",            # appends the class dim
    "view_as_real": "direct",       # appends a dim of 2
    "view_as_complex": "direct",    # consumes the last dim
    "det": "direct", "inv": "direct", "slogdet": "direct", "svdvals": "direct",
    "svd": "direct", "linalg_svd": "direct",     # NumPy's linalg takes leading batch dims
    "layer_norm": "direct",         # normalises over trailing dims (unbatched weight, bias)
    "clone": "direct", "conj": "direct", "real": "direct", "imag": "direct",
    "_to_copy": "direct", "_to_device": "direct", "contiguous": "direct",
    "gather": "dims", "take_along_dim": "dims",  # their index is batched with the input
    "addmm": "addmm",               # beta * input + alpha * mat1 @ mat2: no metadata says so
    # Elementwise, with nothing in the registry to say so (no derivative, no promotion).
    "isnan": "broadcast", "isinf": "broadcast", "isfinite": "broadcast",
    "logical_not": "broadcast", "logical_and": "broadcast", "logical_or": "broadcast",
    "logical_xor": "broadcast", "isclose": "broadcast", "bitwise_not": "broadcast",
    "split": "dims",                # its dim is keyword-only (after split_size_or_sections)
    "setitem": "index",             # x[index] = values, out of place
    # (N, C, *spatial) ops: the batch folded into N.
    "conv1d": "fold", "conv2d": "fold", "conv3d": "fold", "avg_pool2d": "fold",
    "max_pool2d": "fold", "max_pool2d_with_indices": "fold",
    # Shape ops of no parameter whose meaning is a composition of ops that have rules.
    "t": "composite", "ravel": "composite", "fliplr": "composite", "flipud": "composite",
    # x.view_as(other) is x.view(other.shape): the op of the name without "_as".
    "view_as": "like", "reshape_as": "like", "expand_as": "like",
}
# Ops whose index parameter is batched along with the input (the same rank as it).
_ALIGNED_INDEX = frozenset({"gather", "take_along_dim"})
_ROLE_OVERRIDES = {"tile": {"dims": "reps"}}

KINDS = ("broadcast", "dims", "concat", "matmul", "einsum", "index", "loss", "class_loss",
         "direct", "addmm", "like", "composite", "fold")


def kind_of(op):
    """The batching rule kind of ``op`` (one of KINDS), or None: the fallback loop."""
    if op.name in DECLARED:
        return DECLARED[op.name]
    from autogradx.autograd._jvp import rule_kind
    if op.jvp == "multilinear":
        return "einsum" if op.variadic else "matmul"
    if "reduction" in op.params:
        return "class_loss" if "ignore_index" in op.params else "loss"
    if rule_kind(op) == "elementwise" or (op.numpy_ufunc is not None
                                         and op.numpy_ufunc.signature is None):
        return "broadcast"
    if op.variadic and "dim" in op.params:
        return "concat"
    if op.promote is not None and not op.params and not op.variadic and not op.view:
        return "broadcast"      # type-promoting and parameterless: PyTorch's elementwise ops
    if op.view and "index" in op.params and "dim" not in op.params:
        return "index"
    if (op.varargs and op.view) or set(op.params) & (_DIM_PARAMS | _SHAPE_PARAMS | _REPS_PARAMS):
        return "dims"
    return None


def rule_for(op):
    """The batching rule of ``op``, or None."""
    kind = kind_of(op)
    return None if kind is None else _RULES[kind]


class Call:
    """One op call on batched tensors: ``args``/``kwargs`` (parsed, batched tensors
    aligned to the same ``n`` leading batch dims), and which of them are batched."""

    __slots__ = ("op", "args", "kwargs", "n", "batched", "original")

    def __init__(self, op, args, kwargs, n, batched, original=None):
        self.op, self.args, self.kwargs, self.n, self.batched = op, args, kwargs or {}, n, batched
        self.original = original        # the arguments as the function gave them

    def is_batched(self, t):
        return isinstance(t, TensorBase) and id(t) in self.batched

    def rank(self, t):
        """The rank of a sample of ``t`` (``t``'s own for an unbatched tensor)."""
        return t._data.ndim - (self.n if self.is_batched(t) else 0)

    def batch_shape(self, t):
        return tuple(t._data.shape[:self.n])

    def pad(self, t, rank):
        """Batched ``t`` with size-1 dims after its batch dims up to a sample rank of ``rank``."""
        extra = rank - self.rank(t)
        if extra <= 0 or not self.is_batched(t):
            return t
        shape = t._data.shape
        return t.reshape(shape[:self.n] + (1,) * extra + shape[self.n:])

    def apply(self, args, kwargs=None):
        return apply_parsed(self.op, tuple(args), kwargs or None)

    def bound(self):
        """``{name: value}`` of every input and parameter of the call, defaults included."""
        sig = _signature(self.op)
        if sig is None:
            raise Unsupported
        try:
            b = sig.bind(None, *self.args, **self.kwargs)
        except TypeError:
            raise Unsupported from None
        b.apply_defaults()
        out = dict(b.arguments)
        out.pop(next(iter(sig.parameters)))     # xp
        return out, sig

    def input_names(self, sig):
        """The forward's names of the op's inputs (its parameters after ``xp``)."""
        return tuple(sig.parameters)[1:1 + self.op.n_inputs]

    def call_bound(self, values, sig):
        """The op called with ``values`` (by name, as :meth:`bound` gives them)."""
        args, kwargs = [], {}
        for name, p in list(sig.parameters.items())[1:]:
            if name not in values:
                continue
            v = values[name]
            if p.kind is p.VAR_POSITIONAL:
                args.extend(v)
            elif p.kind is p.POSITIONAL_OR_KEYWORD and not kwargs:
                args.append(v)
            elif p.kind is p.VAR_KEYWORD:
                kwargs.update(v)
            else:
                kwargs[name] = v
        return self.apply(args, kwargs)


@functools.lru_cache(maxsize=None)
def _signature_by_id(key, forward):
    try:
        return inspect.signature(forward)
    except (TypeError, ValueError):
        return None


def _signature(op):
    return _signature_by_id(op.name, op.forward)


def _wrap(d, rank, name="dim"):
    """``d`` (a sample's dim) as a non-negative dim, checked as PyTorch checks it."""
    if not isinstance(d, int) or isinstance(d, bool):
        raise Unsupported
    w = max(rank, 1)
    if not -w <= d < w:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-w}, {w - 1}], "
                         f"but got {d})")
    if rank == 0:
        raise Unsupported       # a 0-d sample's dim 0 has no batched counterpart
    return d % w


# -- broadcast --------------------------------------------------------------------------


def _broadcast(c):
    tensors = [v for v in list(c.args) + list(c.kwargs.values()) if isinstance(v, TensorBase)]
    rank = max(c.rank(t) for t in tensors)

    def fit(v):
        return c.pad(v, rank) if isinstance(v, TensorBase) else v
    return c.apply([fit(v) for v in c.args], {k: fit(v) for k, v in c.kwargs.items()})


def _direct(c):
    if any(c.is_batched(v) for v in list(c.args[1:]) + list(c.kwargs.values())):
        raise Unsupported       # a batched weight of layer_norm, say
    if not c.is_batched(c.args[0]):
        raise Unsupported
    return c.apply(c.args, c.kwargs)


# -- dims -------------------------------------------------------------------------------


def _dims(c):
    op = c.op
    x = c.args[0]
    if not c.is_batched(x):
        raise Unsupported       # only another input is batched (a shape donor, an index)
    values, sig = c.bound()
    inputs = c.input_names(sig)
    for name in inputs[1:]:
        if isinstance(values.get(name), TensorBase):
            raise Unsupported   # max(input, other), cross(input, other): the loop
    n = c.n
    batch = c.batch_shape(x)
    rank = c.rank(x)
    roles = _ROLE_OVERRIDES.get(op.name, {})
    reduction = "keepdim" in op.params
    for name, v in list(values.items()):
        if name in inputs:
            continue
        role = roles.get(name)
        if role is None:
            role = ("dim" if name in _DIM_PARAMS else "shape" if name in _SHAPE_PARAMS
                    else "reps" if name in _REPS_PARAMS else None)
            if sig.parameters[name].kind is sig.parameters[name].VAR_POSITIONAL:
                role = "dim"        # permute(*dims), or permute(dims)
                if len(v) == 1 and isinstance(v[0], (tuple, list)):
                    v = tuple(v[0])
        if isinstance(v, TensorBase):
            if op.name in _ALIGNED_INDEX:
                if not c.is_batched(v):
                    v = v.expand(batch + tuple(v._data.shape))
                values[name] = v
                continue
            if c.is_batched(v):
                raise Unsupported
            continue
        if role == "dim":
            if v is None or (v == () and op.name in ("amax", "amin")):
                if name != "dim":
                    raise Unsupported
                if reduction:
                    return _reduce_all(c, values, sig, x, rank)
                if op.name == "squeeze":
                    v = tuple(d for d, s in enumerate(x._data.shape[n:]) if s == 1)
                else:
                    raise Unsupported
            w = rank + 1 if op.name in ("unsqueeze",) else rank
            if isinstance(v, (tuple, list)):
                values[name] = type(v)(_wrap(d, w) + n for d in v)
                if sig.parameters[name].kind is sig.parameters[name].VAR_POSITIONAL:
                    values[name] = tuple(range(n)) + tuple(values[name])
            else:
                values[name] = _wrap(v, w) + n
        elif role == "shape":
            shape = tuple(v) if isinstance(v, (tuple, list)) else (v,)
            x = c.pad(x, len(shape))
            values[name] = batch + shape
        elif role == "reps":
            reps = tuple(v) if isinstance(v, (tuple, list)) else (v,)
            if len(reps) < rank:
                reps = (1,) * (rank - len(reps)) + reps
            x = c.pad(x, len(reps))
            values[name] = (1,) * n + reps
    values[inputs[0]] = x
    return c.call_bound(values, sig)


def _like(c):
    """``x.view_as(other)``: ``x.view(other's sample shape)`` (``other`` gives only a shape)."""
    from autogradx._registry import get_op
    x, other = c.args[0], c.args[1]
    if c.kwargs or len(c.args) != 2:
        raise Unsupported
    shape = tuple(other._data.shape[c.n if c.is_batched(other) else 0:])
    if not c.is_batched(x):
        batch = c.batch_shape(other)
        x = x.expand(batch + tuple(x._data.shape))
    return _dims(Call(get_op(c.op.name[:-len("_as")]), (x, shape), None, c.n, {id(x)}))


# What the composite ops are, as ops with rules (applied to one sample, dispatched again).
COMPOSITES = {
    "t": lambda x: x if x.dim() < 2 else x.transpose(0, 1),
    "ravel": lambda x: x.reshape(-1),
    "fliplr": lambda x: x.flip(1),
    "flipud": lambda x: x.flip(0),
}


def _composite(c):
    from autogradx._core import batching
    if len(c.args) != 1 or c.kwargs or c.original is None:
        raise Unsupported
    if c.rank(c.args[0]) < (2 if c.op.name == "fliplr" else 1 if c.op.name == "flipud" else 0):
        raise Unsupported       # the op's own error, from the loop
    prev = batching._set_batching_active(True)
    try:
        return COMPOSITES[c.op.name](c.original[0])
    finally:
        batching._set_batching_active(prev)


def _reduce_all(c, values, sig, x, rank):
    """A reduction over all of a sample's dims: the sample flattened, reduced along it."""
    if c.op.n_outputs != 1 or values.get("ord") is not None and c.op.name == "linalg_norm":
        raise Unsupported       # max(x) and max(x, dim) differ in kind; linalg.norm's ord
    n = c.n
    batch = c.batch_shape(x)
    values[c.input_names(sig)[0]] = x.reshape(batch + (-1,))
    values["dim"] = n
    keep = values.get("keepdim")
    values["keepdim"] = False
    out = c.call_bound(values, sig)
    if keep:
        out = out.reshape(batch + (1,) * rank)
    return out


# -- concat -----------------------------------------------------------------------------


def _concat(c):
    values, sig = c.bound()
    name = c.input_names(sig)[0]
    seq = values[name]
    batched = [t for t in seq if c.is_batched(t)]
    batch = c.batch_shape(batched[0])
    rank = c.rank(batched[0])
    values[name] = [t if c.is_batched(t) else t.expand(batch + tuple(t._data.shape))
                                  for t in seq]
    d = values.get("dim", 0)
    values["dim"] = _wrap(d, rank + 1 if c.op.name == "stack" else rank) + c.n
    return c.call_bound(values, sig)


# -- matmul and einsum ------------------------------------------------------------------

# The sample ranks each op of the matmul kind takes (matmul takes any but 0).
_MATRIX_RANKS = {"mm": (2, 2), "bmm": (3, 3), "mv": (2, 1), "dot": (1, 1), "outer": (1, 1)}


def _matmul(c):
    from autogradx._registry import get_op
    a, b = c.args[:2]
    if len(c.args) > 2 or c.kwargs:
        raise Unsupported
    ra, rb = c.rank(a), c.rank(b)
    want = _MATRIX_RANKS.get(c.op.name)
    if want is not None and (ra, rb) != want:
        raise RuntimeError(f"{c.op.name}: expected inputs of {want[0]} and {want[1]} dims per "
                           f"sample, got {ra} and {rb} (sample shapes "
                           f"{list(a._data.shape[c.n if c.is_batched(a) else 0:])} and "
                           f"{list(b._data.shape[c.n if c.is_batched(b) else 0:])})")
    if ra == 0 or rb == 0:
        raise RuntimeError(f"both arguments to {c.op.name} need to be at least 1D, but they "
                           f"are {ra}D and {rb}D")
    if c.op.name == "outer":
        a, b = a.unsqueeze(-1), b.unsqueeze(-2)
        ra, rb, drop = 2, 2, ()
    else:
        drop = []
        if ra == 1:
            a, ra = a.unsqueeze(-2), 2
            drop.append(-2)
        if rb == 1:
            b, rb = b.unsqueeze(-1), 2
            drop.append(-1)
    # The sample batch dims line up from the right: pad the batched operands to one rank.
    rank = max(ra, rb)
    a, b = c.pad(a, rank), c.pad(b, rank)
    out = get_op("matmul")(a, b)
    for d in sorted(drop):      # -2 before -1: the second is then the last dim
        out = out.squeeze(d if d == -1 or len(drop) == 1 else -1)
    return out


def _addmm(c):
    """``addmm``: a batched ``matmul`` of the two matrices, scaled by ``alpha``, plus
    ``beta`` times the input padded to the result (``nn.Linear`` of a matrix is addmm)."""
    from autogradx._registry import get_op
    if len(c.args) != 3 or set(c.kwargs) - {"beta", "alpha"}:
        raise Unsupported
    x, m1, m2 = c.args
    if c.rank(m1) != 2 or c.rank(m2) != 2 or c.rank(x) > 2:
        raise Unsupported           # the loop raises the op's own error
    beta, alpha = c.kwargs.get("beta", 1), c.kwargs.get("alpha", 1)
    out = get_op("matmul")(c.pad(m1, 2), c.pad(m2, 2))
    if alpha != 1:
        out = out * alpha
    if beta == 0:                   # the input is ignored, its nan and inf too
        if c.is_batched(m1) or c.is_batched(m2):
            return out
        return out.expand(c.batch_shape(x) + tuple(out.shape))     # the batch is the input's
    x = c.pad(x, 2)
    return out + (x if beta == 1 else x * beta)


def _einsum(c):
    from autogradx._registry import get_op
    values, sig = c.bound()
    ops = list(values[c.input_names(sig)[0]])
    eq = values.get("equation")
    if not isinstance(eq, str):
        raise Unsupported
    spec = eq.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    used = set(spec)
    free = [ch for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if ch not in used]
    letters = "".join(free[:c.n])
    if not arrow:
        # The implicit output: the letters that appear once, in alphabetical order.
        counts = {}
        for ch in lhs.replace(",", "").replace(".", ""):
            counts[ch] = counts.get(ch, 0) + 1
        rhs = ("..." if "..." in lhs else "") + "".join(sorted(ch for ch, k in counts.items()
                                                                 if k == 1))
    terms = [letters + t if c.is_batched(x) else t for t, x in zip(terms, ops)]
    values["equation"] = ",".join(terms) + "->" + letters + rhs
    return c.call_bound(values, sig)


# -- indexing ---------------------------------------------------------------------------


def _is_advanced(p):
    return isinstance(p, (TensorBase, list, bool)) or hasattr(p, "shape")


def _index(c):
    x = c.args[0]
    values, sig = c.bound()
    index = values["index"]
    parts = index if type(index) is tuple else (index,)
    if any(c.is_batched(p) for p in parts):
        raise Unsupported       # a batched index: the loop
    names = c.input_names(sig)
    if not c.is_batched(x):
        # setitem of batched values into an unbatched tensor: a batched result (which an
        # in-place x[index] = values then refuses to write back, as PyTorch does).
        x = values[names[0]] = x.expand(c.batch_shape(values[names[1]]) + tuple(x._data.shape))
    advanced = [k for k, p in enumerate(parts) if _is_advanced(p)]
    if advanced and advanced != list(range(advanced[0], advanced[-1] + 1)):
        raise Unsupported       # separated advanced indices put their dims first
    # An index tensor inside the tuple reaches the forward as its array (as a lone one does).
    parts = tuple(p._data if isinstance(p, TensorBase) else p for p in parts)
    values["index"] = (slice(None),) * c.n + parts
    if len(names) > 1 and c.is_batched(values[names[1]]):
        # setitem's values broadcast to the region from the right: pad behind the batch dims.
        region = x._data[values["index"]].ndim - c.n
        values[names[1]] = c.pad(values[names[1]], region)
    return c.call_bound(values, sig)


# -- fold -----------------------------------------------------------------------------


def _fold(c):
    """An op on ``(N, C, *spatial)`` (or one ``(C, *spatial)``) input: the batch dims folded
    into N, the op applied once, the batch dims unfolded from the result."""
    values, sig = c.bound()
    names = c.input_names(sig)
    x = values[names[0]]
    if not c.is_batched(x) or any(c.is_batched(v) for k, v in values.items() if k != names[0]):
        raise Unsupported       # a batched weight: the loop
    spatial = (values[names[1]]._data.ndim - 2 if len(names) > 1 and
               isinstance(values.get(names[1]), TensorBase) else
               int(next(ch for ch in c.op.name if ch.isdigit())))
    rank = c.rank(x)
    if rank not in (spatial + 1, spatial + 2):
        raise Unsupported       # the op's own error, from the loop
    batch = c.batch_shape(x)
    lead = batch + tuple(x._data.shape[c.n:c.n + rank - spatial - 1])
    values[names[0]] = x.reshape((-1,) + tuple(x._data.shape[len(lead):]))
    out = c.call_bound(values, sig)
    return walk(out, lambda t: t.reshape(lead + tuple(t._data.shape[1:])))


# -- losses ---------------------------------------------------------------------------


def _loss_call(c):
    """``(values, sig, names, reduction)``, refusing what the loss rules do not batch."""
    values, sig = c.bound()
    names = c.input_names(sig)
    if values.get("size_average") is not None or values.get("reduce") is not None:
        raise Unsupported       # the legacy arguments
    if any(c.is_batched(v) for k, v in values.items() if k not in names):
        raise Unsupported       # a batched pos_weight
    return values, sig, names, values.get("reduction", "mean")


def _loss(c):
    """An elementwise loss: its ``"none"`` form (a broadcast), reduced over each sample."""
    values, sig, names, how = _loss_call(c)
    if how == "mean" and values.get("weight") is not None:
        raise Unsupported       # a weighted mean: the loop
    tensors = [values[k] for k in names if isinstance(values.get(k), TensorBase)]
    rank = max(c.rank(t) for t in tensors)
    for k in names:
        if isinstance(values.get(k), TensorBase):
            values[k] = c.pad(values[k], rank)
    values["reduction"] = "none"
    out = c.call_bound(values, sig)
    dims = tuple(range(c.n, out._data.ndim))
    if how not in ("mean", "sum") or not dims:
        return out
    return out.sum(dim=dims) if how == "sum" else out.mean(dim=dims)


def _class_loss(c):
    """``nll_loss``, ``cross_entropy``: the batch folded into the loss's ``N`` dim (a sample of
    one ``(C,)`` row is one row of N), ``"none"``, then each sample's sum or mean (over the
    targets not ignored)."""
    values, sig, names, how = _loss_call(c)
    x_name, t_name = names[0], names[1]
    x, target = values[x_name], values[t_name]
    if values.get("weight") is not None or values.get("label_smoothing", 0.0):
        raise Unsupported       # weighted means: the loop
    n = c.n
    batch = c.batch_shape(x) if c.is_batched(x) else c.batch_shape(target)
    if not c.is_batched(x):
        x = x.expand(batch + tuple(x._data.shape))
    if not c.is_batched(target):
        target = target.expand(batch + tuple(target._data.shape))
    probs = target._data.ndim == x._data.ndim     # class probabilities, not indices
    one_row = x._data.ndim - n == 1
    # (batch, N, C, ...) -> (batch * N, C, ...); a (C,) sample is one row.
    keep = 0 if one_row else 1
    values[x_name] = x.reshape((-1,) + tuple(x._data.shape[n + keep:]))
    values[t_name] = target.reshape((-1,) + tuple(target._data.shape[n + keep:]))
    values["reduction"] = "none"
    out = c.call_bound(values, sig)
    out = out.reshape(batch + (() if one_row else (x._data.shape[n],)) + tuple(out._data.shape[1:]))
    dims = tuple(range(n, out._data.ndim))
    if how == "none":
        return out
    total = out.sum(dim=dims) if dims else out
    if how == "sum":
        return total
    if probs:
        return total / max(1, out[(0,) * n].numel()) if dims else total
    kept = target != values.get("ignore_index", -100)
    kept = kept.sum(dim=dims) if dims else kept
    return total / kept.to(total.dtype)


_RULES = {"broadcast": _broadcast, "dims": _dims, "concat": _concat, "matmul": _matmul,
          "einsum": _einsum, "index": _index, "loss": _loss, "class_loss": _class_loss,
          "direct": _direct, "addmm": _addmm, "like": _like, "composite": _composite,
          "fold": _fold}
