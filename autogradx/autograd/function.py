"""``autograd.Function``: differentiable functions defined at run time in Python.

A subclass gives ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)``
(or ``vjp``, its other name); ``MyFunction.apply(*args)`` runs the forward
without recording it, then records a single node whose backward calls
``MyFunction.backward``. As in PyTorch, a subclass may instead give
``forward(*args)`` without ctx and a separate ``setup_context(ctx, inputs,
output)`` that saves what backward needs. An in-place Function marks the inputs
it changed with ``ctx.mark_dirty``: they are returned, and take its node as
their history.
"""

import functools
import inspect
import warnings
import weakref

from autogradx._core import saved as _saved_hooks
from autogradx._core.forward import _set_forward_active
from autogradx._core.grad_mode import _set_grad_enabled, is_anomaly_enabled, is_grad_enabled
from autogradx._core.node import PyNode, make_node
from autogradx._core.views import mark_function_views
from autogradx._core.opnode import on_history, saved_history
from autogradx._core.dispatch import get_array_module
from autogradx._core.errors import SECOND_BACKWARD, _describe, record_forward
from autogradx._core.tensor import TensorBase, wrap

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` of a Function: what forward leaves for backward."""

    def __init__(self, needs_input_grad, name, clear_on_access=False):
        self.needs_input_grad = needs_input_grad
        self._name = name
        self._saved = ()
        self._packed = None         # (packed, history) per saved tensor under saved-tensor hooks
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
        if self._released:
            raise RuntimeError(SECOND_BACKWARD)
        if self._accessed:
            raise RuntimeError(
                "saved_tensors can only be accessed once when clear_saved_tensors_on_access=True "
                "is set on the autograd.Function. Either access saved_tensors only once, or set "
                "clear_saved_tensors_on_access=False.")
        if self._packed is not None:    # unpacked at each access; no version check, as in PyTorch
            return tuple(None if p is None else _unpack(p, h, self._node) for p, h in self._packed)
        for i, (t, v) in enumerate(zip(self._saved, self._versions)):
            if t is not None and t._version != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: {_describe(t, None)}, is at version "
                    f"{t._version}; expected version {v} instead. Hint: {self._name} saved it "
                    f"(saved tensor {i}) with ctx.save_for_backward; clone() the tensor before "
                    "changing it in place.")
        saved = self._saved
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

    def _pack(self, node):
        """Saved-tensor hooks are on: keep what the pack hook makes of each saved tensor, and
        where its gradient flows, instead of the tensor. An output of ``node`` keeps only its
        output number (the node itself is found at unpack), so that no cycle holds it."""
        saved, self._saved = self._saved, ()    # nothing kept if a pack hook raises
        self._node = weakref.ref(node)
        self._packed = tuple(
            None if t is None else
            (_saved_hooks.pack(t), t.output_nr if t.grad_fn is node else saved_history(t))
            for t in saved)

    def _release(self):
        self._saved = ()
        self.saved_for_forward = ()
        self._packed = None
        self._released = True

    def _bump_dirty(self, outputs):
        """After forward: each dirty tensor is among ``outputs`` and has a new version, which
        what was saved of it expects."""
        for t in self._dirty:
            if not any(t is o for o in outputs):
                raise RuntimeError(
                    "Some elements marked as dirty during the forward method were not returned "
                    "as output. The inputs that are modified inplace must all be outputs of the "
                    "Function.")
            t._bump_version()
        self._versions = tuple(None if t is None else t._version for t in self._saved)


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
        if ctx._dirty:
            ctx._bump_dirty(outputs)
        if not (any(needs) and is_grad_enabled()):
            if tangents is not None:
                outputs = tuple(_fresh(o, args, ctx._dirty) for o in outputs)
                _set_output_tangents(cls, ctx, args, tangents, outputs)
                return outputs[0] if single else outputs
            return result
        outputs = tuple(_fresh(o, args, ctx._dirty) for o in outputs)
        diff = [i for i, o in enumerate(outputs)
                if isinstance(o, TensorBase) and id(o) not in ctx._non_differentiable
                and o.dtype.is_floating_point]
        if diff:
            # Every tensor output's shape and dtype: the zeros backward sees where no gradient
            # arrived (non-differentiable outputs included, as in PyTorch).
            metas = [(get_array_module(o._data), o._data.shape, o._data.dtype)
                     if isinstance(o, TensorBase) else None for o in outputs]
            node = make_node(name, args, [outputs[i] for i in diff],
                             functools.partial(_run_backward, cls, ctx, diff, metas,
                                               tuple(isinstance(a, TensorBase) for a in args),
                                               name),
                             ctx._release, f"autogradx.autograd.function.{name}", ctx=ctx,
                             node_type=cls._backward_cls)
            mark_function_views(outputs, tuple(args), cls.__name__)
            if _saved_hooks.active():
                ctx._pack(node)
            if is_anomaly_enabled():
                record_forward(node)
        if tangents is not None:
            _set_output_tangents(cls, ctx, args, tangents, outputs)
        return outputs[0] if single else outputs


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


def _set_output_tangents(cls, ctx, args, tangents, outputs):
    """The user's jvp, with the tangents of the inputs, gives the outputs' tangents."""
    from autogradx.autograd.forward_ad import set_tangent, suspended
    ctx._in_jvp = True
    try:
        with suspended():
            if ctx.materialize_grads:   # as PyTorch: zeros for a tensor without a tangent
                from autogradx import zeros_like
                tangents = [zeros_like(a.detach()) if t is None and isinstance(a, TensorBase)
                            and (a.is_floating_point() or a.is_complex()) else t
                            for a, t in zip(args, tangents)]
            result = cls.jvp(ctx, *tangents)
    finally:
        ctx._in_jvp = False
    result = result if isinstance(result, tuple) else (result,)
    if len(result) != len(outputs):
        raise RuntimeError(f"{cls.__name__}.jvp returned {len(result)} tangents for "
                           f"{len(outputs)} outputs")
    for k, (o, t) in enumerate(zip(outputs, result)):
        if t is not None and id(o) in ctx._non_differentiable:
            raise RuntimeError(f"{cls.__name__}.jvp returned a tangent for output {k}, which "
                               "forward marked non-differentiable. You should return None at "
                               "that position instead.")
        if isinstance(o, TensorBase) and t is not None:
            if tuple(t.shape) != tuple(o.shape):
                raise RuntimeError(f"{cls.__name__}.jvp returned a tangent of shape "
                                   f"{tuple(t.shape)} for an output of shape {tuple(o.shape)}")
            set_tangent(o, t)


def _fresh(out, args, dirty):
    """An output that is one of the inputs is returned as a new tensor sharing its data,
    unless forward changed it in place (``mark_dirty``): that tensor itself is returned,
    its history continued by this Function's node."""
    if not (isinstance(out, TensorBase) and any(out is a for a in args)):
        return out
    if not any(out is d for d in dirty):
        return out.detach()
    if out.is_leaf and out.requires_grad:
        raise RuntimeError("a leaf Variable that requires grad has been used in an in-place "
                           "operation.")
    if out._base is not None:
        raise NotImplementedError(
            "mark_dirty on a view of another tensor is not supported by autogradx (PyTorch "
            "rebuilds the base's history); clone() the view before the Function changes it")
    return out


def _run_backward(cls, ctx, diff, metas, tensor_args, name, grads, create_graph):
    # tensor_args: which of forward's inputs were tensors (the node holds no input itself,
    # so that only ctx keeps what was saved)
    full = [None] * len(metas)
    for slot, i in enumerate(diff):
        full[i] = grads[slot]
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
    """Mark a backward as not itself differentiable (it runs without recording)."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = _set_grad_enabled(False)
        try:
            return fn(ctx, *args)
        finally:
            _set_grad_enabled(prev)
    return wrapper
