"""vmap's batched tensors, its levels, and the dispatch of ops to batching rules.

Inside ``vmap``, a batched tensor holds the whole batch in one array (its *physical* form),
the batch dims of the vmap levels it belongs to first, one per level, outermost first. Its
class is :class:`BatchedTensor`, whose ``shape``, ``size()``, ``dim()``, ``numel()`` ... give
the per-sample (*logical*) view the mapped function expects, and whose ``item()``,
``tolist()``, ``numpy()`` and truth value refuse (one value per sample is not one value).

Every op applied while a level is active reaches :func:`dispatch` (the core's hook,
autogradx/_core/batching.pyx). When an input is batched, the batched inputs are brought
to the same batch dims (a missing level is expanded, a view), and the op's batching rule
(rules.py, one per op kind, derived from the registry) computes the batched result with
ordinary ops on the physical arrays, the hook switched off meanwhile. The autograd graph
and forward-mode tangents are recorded on those physical ops, so ``grad`` inside vmap and
vmap inside ``grad`` both differentiate the batched computation. An op without a rule runs
once per sample and the results are stacked (the fallback loop), and is counted in
:func:`fallback_stats`.
"""

import math
import warnings
import weakref

from autogradx._core import batching as _core
from autogradx._core.op import apply_parsed
from autogradx._core.tensor import Size, TensorBase
from autogradx._tensor import Tensor

__all__ = ["BatchedTensor", "Level", "push_level", "pop_level", "levels_of", "logical_dims",
           "dispatch", "fallback_stats", "reset_fallback_stats", "set_fallback_warning",
           "VmapFallbackWarning", "physical", "mark", "Unsupported", "walk", "align", "enter",
           "leave", "grad", "batch_all"]


class VmapFallbackWarning(UserWarning):
    """An op ran vmap's fallback loop (once per sample) for want of a batching rule."""


class Unsupported(Exception):
    """A batching rule cannot batch this call (its arguments are outside what it handles):
    the op takes the fallback loop."""


class Level:
    """One active vmap: its number (its depth), batch size and randomness mode."""

    __slots__ = ("id", "size", "randomness")

    def __init__(self, id, size, randomness):
        self.id, self.size, self.randomness = id, size, randomness


_levels = []            # the active levels, outermost first
# id(tensor) -> (weak reference to the tensor, the ids of its levels, ascending)
_marks = {}
_fallbacks = {}         # op name -> calls that took the fallback loop
_warn_fallback = False
_warned = set()


_next_id = [0]       # level ids never repeat: a tensor of a finished level is recognised


def push_level(size, randomness):
    level = Level(_next_id[0], size, randomness)
    _next_id[0] += 1
    _levels.append(level)
    _core._set_batching_active(True)
    return level


def pop_level(level):
    assert _levels and _levels[-1] is level
    _levels.pop()
    _core._set_batching_active(bool(_levels))


def active_levels():
    return tuple(_levels)


def levels_of(t):
    """The ids of the vmap levels ``t`` is batched at (its leading physical dims), or ()."""
    entry = _marks.get(id(t))
    if entry is None or entry[0]() is not t:
        return ()
    return entry[1]


def logical_dims(t):
    """How many leading dims of ``t``'s array are batch dims (0 while a rule computes)."""
    if not _core.is_batching_active():
        return 0
    return len(levels_of(t))


def _forget(key):
    return lambda ref: _marks.pop(key, None)


def mark(t, levels):
    """Make ``t`` (a fresh tensor, its batch dims first) batched at ``levels``."""
    if not levels:
        return t
    key = id(t)
    _marks[key] = (weakref.ref(t, _forget(key)), tuple(levels))
    if type(t) is not BatchedTensor:
        t.__class__ = BatchedTensor
    return t


def physical(t):
    """``t`` as an ordinary tensor of the same array and history (for a result leaving vmap)."""
    if type(t) is BatchedTensor:
        _marks.pop(id(t), None)
        t.__class__ = Tensor
    return t


def _refuse(what):
    raise RuntimeError(
        f"vmap: It looks like you're calling {what} on a batched Tensor inside vmap: each "
        "sample has its own values, so there is no single one. Compute it outside vmap, or "
        "keep it a tensor (data-dependent Python control flow cannot be vmapped).")


def _refusing(method, what):
    """``Tensor.method``, refused on a batched tensor while its vmap's function runs."""
    def call(self, *args, **kwargs):
        if logical_dims(self):
            _refuse(what)
        return getattr(Tensor, method)(self, *args, **kwargs)
    call.__name__ = method
    return call


class BatchedTensor(Tensor):
    """A tensor batched by vmap: its array holds every sample; its shape is one sample's
    (while the vmap's function runs)."""

    __slots__ = ()
    __module__ = "autogradx.func"

    @property
    def shape(self):
        return Size(self._data.shape[logical_dims(self):])

    def size(self, dim=None):
        shape = self.shape
        if dim is None:
            return shape
        n = max(len(shape), 1)
        if not -n <= dim < n:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-n}, {n - 1}], but got {dim})")
        return shape[dim]

    @property
    def ndim(self):
        return self._data.ndim - logical_dims(self)

    def dim(self):
        return self._data.ndim - logical_dims(self)

    def numel(self):
        return math.prod(self.shape)

    nelement = numel

    def __len__(self):
        shape = self.shape
        if not shape:
            raise TypeError("len() of a 0-d tensor")
        return shape[0]

    def stride(self, dim=None):
        k = logical_dims(self)
        strides = tuple(s // self._data.itemsize for s in self._data.strides[k:])
        return strides if dim is None else strides[dim]

    def detach(self):
        out = Tensor.detach(self)
        return mark(out, levels_of(self)) if logical_dims(self) else out

    @property
    def data(self):
        return self.detach()

    item = _refusing("item", ".item()")
    tolist = _refusing("tolist", ".tolist()")
    numpy = _refusing("numpy", ".numpy()")
    __array__ = _refusing("__array__", "a NumPy conversion")
    __bool__ = _refusing("__bool__", "bool() (an if or while on a tensor)")
    __float__ = _refusing("__float__", "float()")
    __int__ = _refusing("__int__", "int()")
    __index__ = _refusing("__index__", "an index conversion")

    def __repr__(self, *, tensor_contents=None):
        if not logical_dims(self):
            return Tensor.__repr__(self, tensor_contents=tensor_contents)
        # The whole batch, batch dims first (printed as the tensor it is outside vmap).
        prev = _core._set_batching_active(False)
        try:
            inner = Tensor.__repr__(self, tensor_contents=tensor_contents)
        finally:
            _core._set_batching_active(prev)
        return (f"BatchedTensor(lvls={list(levels_of(self))}, bdims=first, "
                f"sample shape={list(self.shape)}, value=\n{inner})")

    __str__ = __repr__


# -- dispatch ---------------------------------------------------------------------------


def walk(value, fn):
    """``value`` with ``fn`` applied to every tensor in it (tuples, lists, dicts)."""
    if isinstance(value, TensorBase):
        return fn(value)
    if isinstance(value, (tuple, list)):
        items = [walk(v, fn) for v in value]
        if hasattr(value, "_fields"):
            return type(value)(*items)
        return type(value)(items)
    if isinstance(value, dict):
        return {k: walk(v, fn) for k, v in value.items()}
    return value


def _tensors_in(value, out):
    if isinstance(value, TensorBase):
        out.append(value)
    elif isinstance(value, (tuple, list)):
        for v in value:
            _tensors_in(v, out)
    elif isinstance(value, dict):
        for v in value.values():
            _tensors_in(v, out)
    return out


def _tangent_table():
    from autogradx.autograd import forward_ad
    return forward_ad if forward_ad._current_level >= 0 else None


def dispatch(op, args, kwargs):
    """The core's hook while vmap is active: ``op`` applied to ``args`` (parsed), batched,
    or NOT_BATCHED when no input (nor, in forward mode, its tangent) is batched."""
    tensors = _tensors_in(args, [])
    if kwargs:
        _tensors_in(kwargs, tensors)
    fw = _tangent_table()
    union = set()
    for t in tensors:
        union.update(levels_of(t))
        if fw is not None:
            tangent = fw.tangent_of(t)
            if tangent is not None:
                union.update(levels_of(tangent))
    if not union:
        return _core.NOT_BATCHED
    active = {level.id for level in _levels}
    if not union <= active:
        raise RuntimeError(
            f"vmap: {op.name}() got a batched tensor of a vmap that has returned (a tensor "
            "saved from inside a vmapped function and used later); return it from the function "
            "instead")
    levels = tuple(sorted(union))
    prev = _core._set_batching_active(False)
    try:
        return _batched(op, args, kwargs or None, levels, fw)
    finally:
        _core._set_batching_active(prev)


def _sizes(levels):
    sizes = {level.id: level.size for level in _levels}
    return tuple(sizes[i] for i in levels)


def align(t, levels, fw=None):
    """``t`` (batched at a subset of ``levels``, or not at all) with a batch dim for every
    level of ``levels`` (a missing one expanded: a view), physical; its tangent too."""
    have = levels_of(t)
    out = t
    if have != levels:
        import contextlib
        # The tangent is aligned on its own below (it may be batched where t is not).
        with fw.suspended() if fw is not None else contextlib.nullcontext():
            for k, level in enumerate(levels):
                if level not in have:
                    out = out.unsqueeze(k)
            out = out.expand(_sizes(levels) + tuple(out._data.shape[len(levels):]))
    if fw is not None:
        tangent = fw.tangent_of(t)
        if tangent is not None and (out is not t or levels_of(tangent) != levels):
            with fw.suspended():
                if out is t:
                    out = t.view_as(t)
                aligned = align(tangent, levels)
            fw.set_tangent(out, aligned)
    return out


def _batched(op, args, kwargs, levels, fw):
    from autogradx._batching import rules
    n = len(levels)
    batched = []

    def prepare(t):
        if levels_of(t) or (fw is not None and fw.tangent_of(t) is not None
                            and levels_of(fw.tangent_of(t))):
            a = align(t, levels, fw)
            batched.append(a)
            return a
        return t
    p_args = walk(args, prepare)
    p_kwargs = walk(kwargs, prepare) if kwargs else kwargs
    rule = rules.rule_for(op)
    inputs = {id(t) for t in _tensors_in(args, _tensors_in(kwargs or {}, []))} | {
        id(t) for t in batched}
    res = None
    if rule is not None:
        from autogradx import _factories
        draws = _factories.Generator._draws
        try:
            res = rule(rules.Call(op, p_args, p_kwargs, n, {id(t) for t in batched}, args))
        except Exception:
            # Unsupported, or arguments the batched call refuses: the loop runs the op on
            # each sample, and raises the op's own error where a sample's call is wrong.
            res = None
        if res is not None and _factories.Generator._draws != draws and _same_randomness(levels):
            res = None      # a random op where every sample must draw the same values
    if res is None:
        res = _loop(op, p_args, p_kwargs, levels, {id(t) for t in batched})
    return walk(res, lambda t: _claim(t, levels, inputs, fw))


def _same_randomness(levels):
    return any(level.randomness == "same" for level in _levels if level.id in levels)


def _claim(t, levels, inputs, fw):
    """Mark a result batched at ``levels`` (an input returned as is gets a new alias first)."""
    have = levels_of(t)
    if have and have != levels:
        t = align(t, levels, fw)        # a composite rule's result, batched at fewer levels
    if id(t) in inputs:
        t = t.view_as(t) if fw is None else _alias_dual(t, fw)
    if fw is not None:
        tangent = fw.tangent_of(t)
        if tangent is not None and levels_of(tangent) != levels:
            if levels_of(tangent) or id(tangent) in inputs:
                with fw.suspended():
                    tangent = tangent.view_as(tangent)
            fw.set_tangent(t, mark(tangent, levels))
    return mark(t, levels)


def _alias_dual(t, fw):
    tangent = fw.tangent_of(t)
    with fw.suspended():
        out = t.view_as(t)
        if tangent is not None:
            tangent = tangent.view_as(tangent)
    if tangent is not None:
        fw.set_tangent(out, tangent)
    return out


# -- entering and leaving a level ------------------------------------------------------


def enter(t, dim, level):
    """``t`` batched at ``level`` along its (sample) dim ``dim``: that dim moved behind its
    batch dims of outer levels (a view); its tangent too."""
    prev = _core._set_batching_active(False)
    try:
        fw = _tangent_table()
        have = levels_of(t)
        if fw is not None and fw.tangent_of(t) is not None:
            union = tuple(sorted(set(have) | set(levels_of(fw.tangent_of(t)))))
            if union != have:
                t, have = align(t, union, fw), union
        k = len(have)
        out = t.movedim(k + dim % (t._data.ndim - k), k)
        if out is t:
            out = t.view_as(t)
        levels = have + (level.id,)
        if fw is not None and fw.tangent_of(out) is not None:
            fw.set_tangent(out, mark(_fresh(fw.tangent_of(out), fw), levels))
        return mark(out, levels)
    finally:
        _core._set_batching_active(prev)


def _fresh(t, fw):
    with fw.suspended():
        return t.view_as(t)


def leave(t, level, out_dim):
    """An output of the function vmapped at ``level``: its batch dim of that level moved to
    the sample dim ``out_dim`` (expanded there if it does not depend on the level)."""
    prev = _core._set_batching_active(False)
    try:
        fw = _tangent_table()
        have = levels_of(t)
        if fw is not None and fw.tangent_of(t) is not None and levels_of(fw.tangent_of(t)) != have:
            union = tuple(sorted(set(have) | set(levels_of(fw.tangent_of(t)))))
            t, have = align(t, union, fw), union
        rest = tuple(i for i in have if i != level.id)
        k = len(rest)
        rank = t._data.ndim - len(have)
        if out_dim is None:
            if level.id in have:
                raise ValueError(
                    "vmap: out_dims=None is for outputs that do not depend on the mapped "
                    "inputs, but this output does (give it an out_dim)")
            out = t.view_as(t)
        else:
            if not -(rank + 1) <= out_dim < rank + 1:
                raise IndexError(f"Dimension out of range (expected to be in range of "
                                 f"[{-(rank + 1)}, {rank}], but got {out_dim})")
            target = k + out_dim % (rank + 1)
            if level.id in have:
                out = t.movedim(len(have) - 1, target)
            else:
                out = t.unsqueeze(target)
                shape = list(out._data.shape)
                shape[target] = level.size
                out = out.expand(tuple(shape))
            if out is t:
                out = t.view_as(t)
        if fw is not None and fw.tangent_of(out) is not None:
            tangent = _fresh(fw.tangent_of(out), fw)
            fw.set_tangent(out, mark(tangent, rest) if rest else physical(tangent))
        return mark(out, rest) if rest else physical(out)
    finally:
        _core._set_batching_active(prev)


def grad(outputs, inputs, grad_outputs, **kwargs):
    """``autograd.grad`` inside vmap: on the batched arrays, each output's gradient batched
    as it is (ones where none is given), each input's gradient batched as the input."""
    from autogradx import autograd, ones
    prev = _core._set_batching_active(False)
    try:
        gos = []
        for k, o in enumerate(outputs):
            g = None if grad_outputs is None else grad_outputs[k]
            have = levels_of(o)
            if g is None:
                g = ones(tuple(o._data.shape), dtype=o.dtype, device=o.device)
            else:
                extra = set(levels_of(g)) - set(have)
                if extra:
                    raise NotImplementedError(
                        "vmap: a vjp's cotangent is batched by a vmap that its output is not "
                        "(vjp_fn called inside a vmap, vjp outside it): call vjp inside the vmap")
                g = align(g, have) if have else g
            gos.append(g)
        res = autograd.grad(list(outputs), list(inputs), gos, **kwargs)
        # A tangent (forward over reverse) was computed on the same arrays: batched alike.
        return [None if g is None else _claim(g, levels_of(x), (), _tangent_table()) if levels_of(x)
                else g for g, x in zip(res, inputs)]
    finally:
        _core._set_batching_active(prev)


def batch_all(t):
    """``t`` batched at every active level (expanded where it is not: a view)."""
    levels = tuple(level.id for level in _levels)
    if levels_of(t) == levels:
        return t
    prev = _core._set_batching_active(False)
    try:
        return mark(align(t, levels, _tangent_table()), levels)
    finally:
        _core._set_batching_active(prev)


# -- the fallback loop ------------------------------------------------------------------


def _loop(op, args, kwargs, levels, batched):
    """``op`` applied sample by sample, the results stacked: for ops without a rule."""
    _fallbacks[op.name] = _fallbacks.get(op.name, 0) + 1
    if _warn_fallback and op.name not in _warned:
        _warned.add(op.name)
        warnings.warn(f"vmap: there is no batching rule for {op.name!r}: it runs once per "
                      "sample (autogradx.func.vmap_fallback_stats() counts these)",
                      VmapFallbackWarning, stacklevel=4)
    from autogradx import _factories, stack
    sizes = _sizes(levels)
    n = len(levels)
    count = math.prod(sizes)
    flat = {}

    def flatten(t):
        if id(t) in batched and id(t) not in flat:
            flat[id(t)] = t.reshape((count,) + tuple(t._data.shape[n:]))
        return t
    walk(args, flatten)
    walk(kwargs, flatten)
    gen = _factories.default_generator
    state = gen.get_state() if _same_randomness(levels) else None
    results = []
    for i in range(count):
        def pick(t, i=i):
            if id(t) not in flat:
                return t
            # A view op (as_strided) sees a sample as a tensor of its own, as torch.func's
            # vmap shows it, not a slice at an offset of the batch's memory.
            return flat[id(t)][i].clone() if op.view else flat[id(t)][i]
        if state is not None:
            gen.set_state(state)
        results.append(apply_parsed(op, walk(args, pick), walk(kwargs, pick)))
    first = results[0]
    leaves = _tensors_in(first, [])
    per_sample = [_tensors_in(r, []) for r in results]
    if not isinstance(first, (TensorBase, tuple, list)) or any(
            len(p) != len(leaves) for p in per_sample):
        raise RuntimeError(
            f"vmap: {op.name}() gives {type(first).__name__} per sample, not tensors of one "
            "structure: it cannot be batched (use it outside vmap)")
    stacked = []
    for j in range(len(leaves)):
        column = stack([p[j] for p in per_sample])
        stacked.append(column.reshape(sizes + tuple(column._data.shape[1:])))
    it = iter(stacked)
    return walk(first, lambda t: next(it))


def fallback_stats():
    """``{op name: calls}``: the ops that ran vmap's fallback loop (once per sample) since
    the last :func:`reset_fallback_stats`, for want of a batching rule for that call."""
    return dict(_fallbacks)


def reset_fallback_stats():
    _fallbacks.clear()
    _warned.clear()


def set_fallback_warning(enabled):
    """Warn (:class:`VmapFallbackWarning`, once per op) when an op runs vmap's fallback loop
    (off by default, as in PyTorch); returns the previous setting."""
    global _warn_fallback
    prev, _warn_fallback = _warn_fallback, bool(enabled)
    return prev


_core.install_dispatch(dispatch)
