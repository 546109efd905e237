"""``autograd.Function``: differentiable functions defined at run time in Python.

A subclass gives ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)``
(or ``vjp``, its other name); ``MyFunction.apply(*args)`` runs the forward
without recording it, then records a single node whose backward calls
``MyFunction.backward``. As in PyTorch, a subclass may instead give
``forward(*args)`` without ctx and a separate ``setup_context(ctx, inputs,
output)`` that saves what backward needs. An in-place Function marks the inputs
it changed with ``ctx.mark_dirty``: they are returned, their version is bumped, and
they take its node as their history (a view's base takes a CopySlices node, as
after an in-place op on a view: autogradx/_core/views.pyx). A saved output is kept
without its history, which leads back to the ctx, so that no reference cycle holds it.
"""

import functools
import inspect
import warnings
import weakref

from autogradx._core import saved as _saved_hooks
from autogradx._core.forward import _set_forward_active
from autogradx._core.grad_mode import _set_grad_enabled, is_anomaly_enabled, is_grad_enabled
from autogradx._core.node import PyNode, make_node
from autogradx._core.opnode import on_history, saved_history
from autogradx._core.dispatch import get_array_module
from autogradx._core.errors import SECOND_BACKWARD, _describe, record_forward
from autogradx._core.tensor import TensorBase, wrap
from autogradx._core.views import check_inplace_on_view, mark_function_views, rebase_on_node

__all__ = ["Function", "FunctionCtx", "InplaceFunction", "once_differentiable"]

_NOT_AN_INPUT = ("ctx.mark_dirty() received a tensor that was not an input. Only input Tensors "
                 "that have been mutated should be passed to ctx.mark_dirty().")


class FunctionCtx:
    """The ``ctx`` of a Function: what forward leaves for backward."""

    def __init__(self, needs_input_grad, name, clear_on_access=False):
        self.needs_input_grad = needs_input_grad
        self._name = name
        self._saved = ()
        self._packed = None         # (packed, history) per saved tensor under saved-tensor hooks
        self._out_slots = None      # per saved tensor: its output number on the node, or None
        self._node = None           # weak reference to the node, once made
        self._in_copy_slices = False    # the node is also inside a CopySlices node (a dirty view)
        self._released = False
        self._clear_on_access = clear_on_access     # the Function's clear_saved_tensors_on_access
        self._accessed = False
        self._non_differentiable = set()
        self._dirty = ()
        self.materialize_grads = True
        self.saved_for_forward = ()
        self._in_jvp = False

    def save_for_backward(self, *tensors):
        """Keep ``tensors`` (or None) for backward, where ``ctx.saved_tensors`` returns them."""
        for t in tensors:
            if t is not None and not isinstance(t, TensorBase):
                raise TypeError(
                    f"save_for_backward can only save tensors or None, got {type(t).__name__}")
        self._saved = tuple(tensors)
        self._versions = tuple(None if t is None else t._version for t in tensors)

    @property
    def saved_tensors(self):
        if self._in_jvp:
            return self.saved_for_forward
        if self._released or (self._node is not None and self._node() is None):
            # Freed with backward, or with the graph: a ctx kept past its node has no saved
            # tensors (as the ported PyTorch tests expect; torch 2.13 still returns them).
            raise RuntimeError(SECOND_BACKWARD)
        if self._accessed:
            raise RuntimeError(
                "saved_tensors can only be accessed once when clear_saved_tensors_on_access=True "
                "is set on the autograd.Function. Either access saved_tensors only once, or set "
                "clear_saved_tensors_on_access=False.")
        if self._packed is not None:    # unpacked at each access; no version check, as in PyTorch
            return tuple(None if p is None else _unpack(p, h, self._node) for p, h in self._packed)
        saved = self._saved
        if self._out_slots is not None:
            node = self._node()
            saved = tuple(t if k is None or node is None else on_history(t, (node, k, None))
                          for t, k in zip(saved, self._out_slots))
        for i, (t, v) in enumerate(zip(self._saved, self._versions)):
            if t is not None and t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: {_describe(saved[i], None)} is at version "
                    f"{t._version}; expected version {v} instead. Hint: {self._name} saved it "
                    f"(saved tensor {i}) with ctx.save_for_backward; clone() the tensor before "
                    "changing it in place.")
        if self._clear_on_access:
            # Only the caller holds them now: backward may free each as it goes.
            self._saved = ()
            self._accessed = True
        return saved

    @property
    def saved_variables(self):
        """PyTorch's old name of ``saved_tensors``, kept with its warning."""
        warnings.warn("'saved_variables' is deprecated; use 'saved_tensors'", DeprecationWarning,
                      stacklevel=2)
        return self.saved_tensors

    def mark_non_differentiable(self, *tensors):
        """Outputs that get no gradient (an index, a mask)."""
        self._non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        """Whether backward sees zeros (True, the default) or None for outputs without gradient."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors):
        """Inputs that forward changed in place; forward must return them. They get this
        Function's node as their history, and their version is bumped."""
        for t in tensors:
            if not isinstance(t, TensorBase):
                raise TypeError(f"mark_dirty can only mark tensors, got {type(t).__name__}")
        self._dirty = tuple(tensors)

    def save_for_forward(self, *tensors):
        """Kept for the forward-mode ``jvp``, where ``ctx.saved_tensors`` returns them (as in
        PyTorch)."""
        if not all(t is None or isinstance(t, TensorBase) for t in tensors):
            raise AssertionError("save_for_forward expects all arguments to be tensors; you "
                                 "should save non-tensors as attributes on ctx.")
        self.saved_for_forward = tuple(tensors)

    def _hold(self, node, outputs):
        """``node`` is made, with ``outputs``: a saved output keeps only its output number
        (the node itself is found at each access, as it is held weakly), so that no cycle
        holds it. Under saved-tensor hooks, what the pack hook makes of each saved tensor is
        kept instead of the tensor, with where its gradient flows."""
        self._node = weakref.ref(node)
        slots = tuple(None if t is None else next((k for k, o in enumerate(outputs) if o is t),
                                                  None)
                      for t in self._saved)
        if _saved_hooks.active():
            saved, self._saved = self._saved, ()    # nothing kept if a pack hook raises
            self._packed = tuple(
                None if t is None else
                (_saved_hooks.pack(t), saved_history(t) if k is None else k)
                for t, k in zip(saved, slots))
        elif any(k is not None for k in slots):
            # An alias without history: the same memory and version counter.
            self._saved = tuple(t if k is None else t.detach() for t, k in zip(self._saved, slots))
            self._out_slots = slots

    def _release(self):
        if self._in_copy_slices:
            # Its node, in a CopySlices node (a dirty view), is reached through it and through
            # the saved outputs, in either order: what it saved goes with the node.
            return
        self._saved = ()
        self.saved_for_forward = ()
        self._packed = None
        self._released = True

    def _bump_dirty(self, outputs):
        """After forward: each dirty tensor has a new version, which what was saved of it
        expects, and is among ``outputs``."""
        for t in self._dirty:
            t._bump_version()
        self._versions = tuple(None if t is None else t._version for t in self._saved)
        for t in self._dirty:
            if not any(t is o for o in outputs):
                raise RuntimeError(
                    "Some elements marked as dirty during the forward method were not returned "
                    "as output. The inputs that are modified inplace must all be outputs of the "
                    "Function.")

    def _differentiable(self, t):
        """``t``, an output, gets a gradient from this Function's node (where one is made)."""
        return (isinstance(t, TensorBase) and id(t) not in self._non_differentiable
                and (t.dtype.is_floating_point or t.dtype.is_complex))

    def _kept_dirty(self, recorded):
        """The dirty tensors returned as themselves (``recorded``: the node is made): the
        differentiable ones, and those that need no gradient; PyTorch returns the others
        detached, as an input returned unchanged."""
        return tuple(t for t in self._dirty
                     if not t.requires_grad or (recorded and self._differentiable(t)))


class Function:
    """Base class of user-defined differentiable functions (see the module docstring)."""

    def __init_subclass__(cls, **kwargs):
        # Its graph nodes' class, made once per Function class as PyTorch's FunctionMeta
        # does: type(grad_fn).__name__ is "<Name>Backward".
        super().__init_subclass__(**kwargs)
        cls._backward_cls = type(f"{cls.__name__}Backward", (PyNode,),
                                 {"__module__": cls.__module__, "_forward_cls": cls})

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD.")

    def __call__(self, *args, **kwargs):
        # Calling an instance is PyTorch's removed legacy protocol (non-static forward).
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use "
            "new-style autograd function with static forward method. (Example: "
            "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    vjp = backward          # the other name PyTorch gives backward: a subclass defines one

    # PyTorch's vmap protocol: a Function runs under torch.vmap with its own ``vmap`` rule or,
    # where this is True, a generated one. autogradx.func.vmap calls the Function once per batch
    # element and needs neither; they are here as PyTorch defines them.
    generate_vmap_rule = False

    @staticmethod
    def vmap(info, in_dims, *args):
        """The Function's rule under PyTorch's vmap (not called by autogradx.func.vmap)."""
        raise NotImplementedError(
            "To use autograd.Function with vmap, you must either override the vmap staticmethod "
            "or set generate_vmap_rule=True.")

    @staticmethod
    def jvp(ctx, *grad_inputs):
        """Forward mode (autograd.forward_ad, autogradx.func.jvp): the tangent of each output
        from the tangents of the inputs (None for an input without one)."""
        raise NotImplementedError(
            "You must implement the jvp function for custom autograd.Function to use it with "
            "forward mode AD.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Defined by a subclass whose ``forward`` takes no ctx: saves on ``ctx`` what
        backward needs, from the inputs (a tuple, defaults filled in) and forward's output."""
        raise NotImplementedError("setup_context is not implemented.")

    @classmethod
    def apply(cls, *args, **kwargs):
        separate = cls.setup_context != Function.setup_context
        if separate:
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        needs = tuple(isinstance(a, TensorBase) and a.requires_grad for a in args)
        name = f"{cls.__name__}Backward"
        ctx = FunctionCtx(needs, name, bool(getattr(cls, "clear_saved_tensors_on_access", False)))
        tangents = _input_tangents(args)
        prev = _set_grad_enabled(False)
        # The forward's own ops carry no tangents: the Function's jvp gives them.
        prev_fw = _set_forward_active(False) if tangents is not None else False
        try:
            if separate:
                result = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, result)
            else:
                result = cls.forward(ctx, *args, **kwargs)
        finally:
            _set_grad_enabled(prev)
            if tangents is not None:
                _set_forward_active(prev_fw)
        single = not isinstance(result, tuple)
        outputs = (result,) if single else result
        pure_view = _pure_view(ctx, args, outputs)
        if ctx._dirty:
            ctx._bump_dirty(outputs)
        if not (any(needs) and is_grad_enabled()):
            if tangents is not None:
                raw, outputs = outputs, tuple(_fresh(o, args, ctx._kept_dirty(False))
                                              for o in outputs)
                mark_function_views(outputs, args, 0, pure_view)
                _set_output_tangents(cls, ctx, args, tangents, raw, outputs)
                return outputs[0] if single else outputs
            mark_function_views(outputs, args, 0, pure_view)
            return result
        raw, outputs = outputs, tuple(_fresh(o, args, ctx._kept_dirty(True)) for o in outputs)
        # Marks are looked up on what forward returned (an input returned as-is is a new
        # tensor in ``outputs``).
        diff = [i for i, (r, o) in enumerate(zip(raw, outputs))
                if ctx._differentiable(o) and id(r) not in ctx._non_differentiable]
        mark_function_views(outputs, args, len(diff), pure_view)
        dirty_views = _check_dirty(ctx, args, outputs, diff)
        if diff:
            # Every tensor output's shape and dtype: the zeros backward sees where no gradient
            # arrived (non-differentiable outputs included, as in PyTorch).
            metas = [(get_array_module(o._data), o._data.shape, o._data.dtype)
                     if isinstance(o, TensorBase) else None for o in outputs]
            # One slot per output, as PyTorch's node: None where no gradient can flow.
            slots = [o if i in diff else None for i, o in enumerate(outputs)]
            node = make_node(name, args, slots,
                             functools.partial(_run_backward, cls, ctx, metas,
                                               tuple(isinstance(a, TensorBase) for a in args),
                                               name),
                             ctx._release, f"autogradx.autograd.function.{name}", ctx=ctx,
                             node_type=cls._backward_cls)
            for view, slot in dirty_views:
                rebase_on_node(view, node, slot)
                ctx._in_copy_slices = True
            ctx._hold(node, slots)
            if is_anomaly_enabled():
                record_forward(node)
        if tangents is not None:
            _set_output_tangents(cls, ctx, args, tangents, raw, outputs)
        ctx._dirty = ()     # a dirty output's history leads to ctx: no reference back to it
        return outputs[0] if single else outputs


class InplaceFunction(Function):
    """PyTorch's ``torch.autograd.function.InplaceFunction``, kept for old code: a Function
    whose instances carry an ``inplace`` flag (``apply`` is used as with any Function)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace


def _check_dirty(ctx, args, outputs, diff):
    """PyTorch's refusals of the differentiable outputs (at ``diff``) marked dirty. Gives
    each view among them, with its position among the inputs, for its base to be rebased."""
    views = []
    for i in diff:
        t = outputs[i]
        if not any(t is d for d in ctx._dirty):
            continue
        if _leaf_requiring_grad(t):
            raise RuntimeError("a leaf Variable that requires grad has been used in an in-place "
                               "operation.")
        slot = next((k for k, a in enumerate(args) if a is t), None)
        if slot is None:
            if t._base is not None:     # a view of one of forward's intermediates
                raise RuntimeError(_NOT_AN_INPUT)
            warnings.warn(_NOT_AN_INPUT, stacklevel=3)
        if t._base is not None:
            if len(outputs) > 1:
                # The base's CopySlices node takes the gradient of one output.
                raise RuntimeError(
                    "If your Function modifies inplace an input that is a view of another "
                    "Tensor, your Function cannot return more than one Tensor. This is not "
                    "supported by the current autograd engine. You should either make sure the "
                    "input is not a view (using .clone() for example) or make your Function "
                    "only return one Tensor (potentially splitting it into two Functions: one "
                    "doing the inplace that returns a single Tensor and a second one that does "
                    "the other operations). You can ask on the forum "
                    "https://discuss.pytorch.org/ if you need help to do this change.")
            check_inplace_on_view(t)
            views.append((t, slot))
    return views


def _leaf_requiring_grad(t):
    # A view of a base that needs a gradient is no leaf; is_leaf would rebuild its history,
    # which is refused for a view made under no_grad: check_inplace_on_view reports that.
    return (t.requires_grad and not (t._base is not None and t._base.requires_grad)
            and t.is_leaf)


def _unpack(packed, history, node_ref):
    """A saved tensor, unpacked, on its history (``history``: an output number of the node)."""
    if type(history) is int:
        history = (node_ref(), history, None)
    return on_history(_saved_hooks.unpack(packed), history)


def _input_tangents(args):
    """The tangents of the tensor arguments (None where none) while a dual level is
    entered and one has a tangent; else None."""
    from autogradx.autograd import forward_ad
    if forward_ad._current_level < 0:
        return None
    from autogradx.autograd.forward_ad import tangent_of
    tangents = [tangent_of(a) if isinstance(a, TensorBase) else None for a in args]
    return tangents if any(t is not None for t in tangents) else None


def _set_output_tangents(cls, ctx, args, tangents, raw, outputs):
    """The user's jvp, with the tangents of the inputs, gives the outputs' tangents (``raw``:
    the outputs as forward returned them; ``outputs``: as apply returns them). As PyTorch
    checks, the tangent of an output that is a view of an input (or that input itself, which
    counts as ``x.view_as(x)``) must be a view of that input's tangent, and the tangent of
    an input changed in place (``mark_dirty``) must be changed in place and returned."""
    from autogradx.autograd.forward_ad import set_tangent, suspended
    versions = [None if t is None else t._version for t in tangents]
    ctx._in_jvp = True
    try:
        with suspended():
            if ctx.materialize_grads:   # as PyTorch: zeros for a tensor without a tangent
                from autogradx import zeros_like
                given = [zeros_like(a.detach()) if t is None and isinstance(a, TensorBase)
                         and (a.is_floating_point() or a.is_complex()) else t
                         for a, t in zip(args, tangents)]
            else:
                given = tangents
            result = cls.jvp(ctx, *given)
    finally:
        ctx._in_jvp = False
    result = result if isinstance(result, tuple) else (result,)
    if len(result) != len(outputs):
        raise RuntimeError(f"Function's jvp returned an invalid number of forward gradients "
                           f"(expected {len(outputs)} but got {len(result)})")
    bases = {id(_root(a)): i for i, a in enumerate(args) if isinstance(a, TensorBase)}
    for k, (r, o, t) in enumerate(zip(raw, outputs, result)):
        if t is not None and (not isinstance(o, TensorBase) or id(r) in ctx._non_differentiable
                              or not (o.is_floating_point() or o.is_complex())):
            raise RuntimeError(f"Function's jvp returned a gradient at position {k}, but  the "
                               "corresponding forward output is not a differentiable Tensor.You "
                               "should return None at that position instead.")
        if t is None:
            continue
        if tuple(t.shape) != tuple(o.shape):
            raise RuntimeError(f"{cls.__name__}.jvp returned a tangent of shape "
                               f"{tuple(t.shape)} for an output of shape {tuple(o.shape)}")
        if any(r is d for d in ctx._dirty):
            i = next((i for i, a in enumerate(args) if a is r), None)
            if i is None:
                raise RuntimeError("Only input Tensors should be given to ctx.mark_dirty(). If a "
                                   "Tensor is not an input, there is no need to pass it to "
                                   "mark_dirty().")
            if tangents[i] is not None:
                _check_inplace_tangent(t, tangents[i], versions[i])
        elif any(r is a for a in args) or r._base is not None:
            i = bases.get(id(_root(r)))
            if i is not None and tangents[i] is not None:
                _check_view_tangent(t, tangents[i])
        set_tangent(o, t)


def _root(t):
    """The tensor whose memory ``t`` views (``t`` itself if it is no view)."""
    return t if t._base is None else t._base


def _check_inplace_tangent(out_tangent, in_tangent, version):
    """The jvp of an in-place Function changed its input's tangent in place and returned it."""
    if out_tangent._version == version:
        raise RuntimeError(
            "An inplace custom Function is not modifying the forward mode gradients inplace. If "
            "the forward is modifying an input inplace, then the jvp function must modify the "
            "corresponding gradient inplace.")
    if out_tangent is not in_tangent:
        raise RuntimeError(
            "An inplace custom Function is not returning the forward mode gradients as-is. If "
            "the forward is modifying an input inplace, then the jvp function must modify the "
            "gradient inplace and return it as-is.")


def _check_view_tangent(out_tangent, in_tangent):
    """The tangent of an output that views an input is a view of that input's tangent (of
    the same base, where that tangent is itself a view)."""
    if out_tangent._base is None:
        raise RuntimeError("A custom Function's forward is returning a view (or an input as-is) "
                           "but the jvp is not returning a view.")
    if in_tangent._base is not None:
        if out_tangent._base is not in_tangent._base:
            raise RuntimeError("A custom Function is returning a view but the jvp is not "
                               "returning a view of the same base as the given grad input.")
    elif out_tangent._base is not in_tangent:
        raise RuntimeError("A custom Function is returning a view but the jvp is not returning "
                           "a view of the given grad input.")


def _pure_view(ctx, args, outputs):
    """Whether forward declared the Function a view (``ctx._is_pure_view``, as PyTorch's
    DTensor functions do): its output view is then a plain view of the input, and an in-place
    change of it is recorded as one of that view."""
    if not getattr(ctx, "_is_pure_view", False):
        return False
    if sum(isinstance(a, TensorBase) for a in args) != 1 or len(outputs) != 1:
        raise RuntimeError("Pure view custom Function can only have one input Tensor and one "
                           "output Tensor. Open an issue if you need to support more.")
    return True


def _fresh(out, args, dirty):
    """An output that is one of the inputs is returned as a new tensor sharing its data,
    unless forward changed it in place and it is returned as itself (``dirty``: see
    ``FunctionCtx._kept_dirty``), its history continued by this Function's node."""
    if not (isinstance(out, TensorBase) and any(out is a for a in args)):
        return out
    if not any(out is d for d in dirty):
        return out.detach()
    return out


def _run_backward(cls, ctx, metas, tensor_args, name, grads, create_graph):
    # tensor_args: which of forward's inputs were tensors (the node holds no input itself,
    # so that only ctx keeps what was saved)
    full = list(grads)
    for i, g in enumerate(full):
        if g is None and ctx.materialize_grads and metas[i] is not None:
            xp, shape, dtype = metas[i]
            g = xp.zeros(shape, dtype)
        if g is not None and not isinstance(g, TensorBase):
            g = wrap(g)
        full[i] = g
    prev = _set_grad_enabled(create_graph)
    try:
        result = _user_backward(cls)(ctx, *full)
    finally:
        _set_grad_enabled(prev)
    if not isinstance(result, tuple):
        result = (result,)
    n = len(tensor_args)
    if len(result) < n or any(r is not None for r in result[n:]):
        raise RuntimeError(
            f"function {name} returned an incorrect number of gradients "
            f"(expected {n}, got {len(result)})")
    out = []
    for i, (r, is_tensor, needed) in enumerate(zip(result, tensor_args, ctx.needs_input_grad)):
        if r is not None and not isinstance(r, TensorBase):
            raise RuntimeError(
                f"function {name} returned a {type(r).__name__} as gradient {i}: expected "
                "Variable or None (a Tensor or None)")
        if r is not None and not is_tensor:
            raise RuntimeError(
                f"function {name} returned a gradient different than None at position {i + 1}, "
                "but the corresponding forward input was not a Variable")
        if r is None or not needed:
            out.append(None)
        else:
            out.append(r if create_graph else r._data)
    return out



def _user_backward(cls):
    """The subclass's ``backward`` or ``vjp`` (one name for the same method, as in PyTorch)."""
    backward, vjp = cls.backward, cls.vjp
    if backward is not Function.backward and vjp is not Function.vjp:
        raise RuntimeError("Implementing both 'backward' and 'vjp' for a custom Function is not "
                           "allowed. You should only implement one of them.")
    return vjp if vjp is not Function.vjp else backward


def once_differentiable(fn):
    """Mark a backward as not itself differentiable: it runs without recording, and where
    create_graph asks for its gradients' history (one of the gradients it gets requires grad),
    they lead to an ``Error`` node that raises if differentiated, as in PyTorch."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = _set_grad_enabled(False)
        try:
            outputs = fn(ctx, *args)
        finally:
            _set_grad_enabled(prev)
        if not (prev and any(isinstance(a, TensorBase) and a.requires_grad for a in args)):
            return outputs
        single = not isinstance(outputs, tuple)
        # As PyTorch's: each gradient an alias of a new leaf that requires grad, all of them
        # made by one Error node.
        leaves = [o.detach().requires_grad_() if isinstance(o, TensorBase) else None
                  for o in ((outputs,) if single else outputs)]
        aliases = [None if t is None else t.detach() for t in leaves]
        make_node("Error", leaves, aliases, _differentiated_twice, node_type=Error)
        return aliases[0] if single else tuple(aliases)
    return wrapper


class Error(PyNode):
    """PyTorch's DelayedError node: the history of what a ``once_differentiable`` backward
    returned under create_graph."""

    def name(self):
        return "torch::autograd::Error"


def _differentiated_twice(grads, create_graph):
    raise RuntimeError(
        "trying to differentiate twice a function that was marked with @once_differentiable")
