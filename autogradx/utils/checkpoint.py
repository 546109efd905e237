"""Activation checkpointing: trade compute for memory.

``checkpoint(fn, *args, use_reentrant=...)`` keeps only ``fn``'s inputs and recomputes what
its ops saved for backward during backward. Peak memory then holds one segment's
intermediates at a time instead of every segment's. The two variants are PyTorch's:

- ``use_reentrant=False`` (recommended; _checkpoint_hooks.py): ``fn`` runs once, recorded,
  under saved-tensor hooks that keep placeholders instead of the saved tensors; backward
  recomputes them (stopping as soon as it has them all) and checks the recomputation against
  the first run. Any backward works (``autograd.grad``, ``inputs=``, a backward inside
  ``fn``), keyword arguments are passed on, and ``context_fn``, ``determinism_check``,
  ``debug`` and ``early_stop`` are PyTorch's.
- ``use_reentrant=True`` (the default when ``use_reentrant`` is left out, which warns, as in
  PyTorch): ``fn`` runs without recording; backward runs it again, recorded, and
  backpropagates through that fresh graph with a backward pass of its own, so tensors that
  ``fn`` uses without receiving them as arguments (parameters it closes over) get their
  ``.grad`` accumulated too. As in PyTorch, it refuses ``autograd.grad`` and
  ``backward(inputs=...)``, which must accumulate nothing (``use_reentrant=False`` serves
  them). When no recomputed output requires grad, backward raises PyTorch's reentrant error.
"""

import warnings

from autogradx._core.engine import is_checkpoint_valid, run_backward
from autogradx._core.grad_mode import _set_grad_enabled, is_anomaly_enabled, is_grad_enabled
from autogradx._core.node import AccumulateGrad, make_node
from autogradx._core.errors import SECOND_BACKWARD, record_forward
from autogradx._core.tensor import TensorBase, wrap
from autogradx._factories import default_generator

from autogradx.utils._checkpoint_hooks import (CheckpointError, GraphExecGroup, _noop_context_fn,
                                               checkpoint_without_reentrant,
                                               set_checkpoint_debug_enabled,
                                               set_checkpoint_early_stop)

__all__ = ["checkpoint", "checkpoint_sequential", "set_checkpoint_early_stop",
           "set_checkpoint_debug_enabled", "CheckpointError", "GraphExecGroup"]

noop_context_fn = _noop_context_fn

# PyTorch's warning, less its sentence about PyTorch releases.
_PASS_USE_REENTRANT = (
    "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
    "use_reentrant=False is recommended, but if you need to preserve the current default "
    "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
    "differences between the two variants.")


def checkpoint(function, *args, use_reentrant=None, context_fn=_noop_context_fn,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """``function(*args, **kwargs)``, recomputed during backward instead of stored (see the
    module docstring for the two variants).

    With ``preserve_rng_state`` (a keyword, True by default) the recomputation draws the
    same random numbers as the first run (dropout masks match). ``context_fn`` returns two
    context managers, for the first run and for the recomputation; ``determinism_check``
    is ``"default"`` (compare shapes, dtypes and devices) or ``"none"``; ``debug`` adds where
    each tensor was saved to a mismatch's error; ``early_stop`` stops the recomputation once
    it has what backward needs. These four are for ``use_reentrant=False``.
    """
    if use_reentrant is None:
        warnings.warn(_PASS_USE_REENTRANT, UserWarning, stacklevel=2)
        use_reentrant = True
    preserve_rng_state = kwargs.pop("preserve_rng_state", True)
    if not use_reentrant:
        return checkpoint_without_reentrant(function, preserve_rng_state, context_fn,
                                            determinism_check, debug, early_stop, args, kwargs)
    if context_fn is not _noop_context_fn or debug is not False:
        raise ValueError("Passing `context_fn` or `debug` is only supported when "
                         "use_reentrant=False.")
    return _checkpoint_reentrant(function, args, preserve_rng_state, kwargs)


def _checkpoint_reentrant(function, args, preserve_rng_state, kwargs):
    needs = [isinstance(a, TensorBase) and a.requires_grad for a in args]
    rng_state = default_generator.rng.bit_generator.state if preserve_rng_state else None
    prev = _set_grad_enabled(False)
    try:
        result = function(*args, **kwargs)
    finally:
        _set_grad_enabled(prev)
    if not is_grad_enabled():
        return result
    if not any(needs):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      UserWarning, stacklevel=2)
        return result
    single = isinstance(result, TensorBase)
    outputs = (result,) if single else tuple(result)
    diff = [i for i, o in enumerate(outputs)
            if isinstance(o, TensorBase) and o.dtype.is_floating_point]
    inputs = [a.detach() if isinstance(a, TensorBase) else a for a in args]
    # Kept for create_graph, where the recomputation must stay connected to them.
    originals = [a if n else None for a, n in zip(args, needs)]
    versions = [a._version if isinstance(a, TensorBase) else None for a in args]
    state = {"released": False}

    def backward(grads, create_graph):
        if not is_checkpoint_valid():
            raise RuntimeError(_INCOMPATIBLE)
        if state["released"]:
            raise RuntimeError(SECOND_BACKWARD)
        _check_versions(inputs, versions)
        if create_graph:        # views of the inputs: gradients of gradients reach the caller
            leaves = [o.view_as(o) if n else x for x, o, n in zip(inputs, originals, needs)]
        else:
            leaves = [x.detach().requires_grad_(n) if isinstance(x, TensorBase) else x
                      for x, n in zip(inputs, needs)]
        again = _recompute(function, leaves, kwargs, rng_state)
        if not any(again[i].requires_grad for i in diff):
            raise RuntimeError(_NOT_NECESSARY)
        outs, gouts = [], []
        for slot, i in enumerate(diff):
            if grads[slot] is not None and again[i].requires_grad:
                outs.append(again[i])
                gouts.append(grads[slot] if isinstance(grads[slot], TensorBase)
                             else wrap(grads[slot]))
        targets = tuple(x for x, n in zip(leaves, needs) if n)
        if not outs:
            found = (None,) * len(targets)
        else:
            found = _backpropagate(tuple(outs), tuple(gouts), targets, create_graph)
        found = iter(found)
        return [next(found) if n else None for n in needs]

    def release():
        state["released"] = True

    node = make_node("CheckpointFunctionBackward", args, [outputs[i] for i in diff], backward,
                     release)
    if is_anomaly_enabled():
        record_forward(node)
    return outputs[0] if single else outputs


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (an ``nn.Sequential`` or a list of callables) one after the other
    on ``input``, in ``segments`` parts of ``len(functions) // segments`` functions (the last
    part takes the rest): every part but the last is checkpointed. As PyTorch's, it accepts
    only ``preserve_rng_state`` besides, and warns when ``use_reentrant`` is left out."""
    if use_reentrant is None:
        warnings.warn(_PASS_USE_REENTRANT, UserWarning, stacklevel=2)
        use_reentrant = True
    preserve_rng_state = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    from autogradx.nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())

    def run(part):
        def forward(x):
            for f in part:
                x = f(x)
            return x
        return forward

    size = len(functions) // segments
    if size == 0:       # PyTorch's range() fails here with a ValueError too
        raise ValueError(f"checkpoint_sequential(): {segments} segments of {len(functions)} "
                         f"functions leave a segment with no function")
    checkpointed = size * (segments - 1)
    for start in range(0, checkpointed, size):
        input = checkpoint(run(functions[start:start + size]), input,
                           use_reentrant=use_reentrant, preserve_rng_state=preserve_rng_state)
    return run(functions[checkpointed:])(input)


def _check_versions(inputs, versions):
    for i, (x, v) in enumerate(zip(inputs, versions)):
        if v is not None and x._version != v:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: argument {i} of checkpoint() is at version {x._version}; "
                f"expected version {v} instead. The checkpointed function is recomputed from its "
                "arguments during backward; clone() them before changing them in place.")


def _recompute(function, leaves, kwargs, rng_state):
    """The outputs of ``function`` run again, recorded, with the first run's random state."""
    saved_rng = default_generator.rng.bit_generator.state
    if rng_state is not None:
        default_generator.rng.bit_generator.state = rng_state
    prev = _set_grad_enabled(True)
    try:
        again = function(*leaves, **kwargs)
    finally:
        _set_grad_enabled(prev)
        default_generator.rng.bit_generator.state = saved_rng
    return (again,) if isinstance(again, TensorBase) else tuple(again)


# PyTorch's reentrant checkpoint raises this (its non-reentrant one gives None gradients).
_NOT_NECESSARY = "none of output has requires_grad=True, this checkpoint() is not necessary"

# PyTorch's: its reentrant backward accumulates into .grad, which a backward that delivers
# gradients to chosen inputs only must not do.
_INCOMPATIBLE = (
    "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() or passing "
    "an `inputs` parameter to .backward(). To resolve this error, you can either set "
    "use_reentrant=False, or call .backward() without passing the `inputs` argument.")


def _backpropagate(outs, gouts, targets, create_graph):
    """The gradients of the recomputed ``outs`` at the argument leaves ``targets``: arrays, or
    tensors with ``create_graph`` (None where a target is not used). Tensors the function
    closes over get their ``.grad`` accumulated."""
    if not create_graph:
        # A backward of its own, as PyTorch's reentrant checkpoint: the argument leaves and
        # any tensors the function closes over get their .grad.
        run_backward(outs, gouts, False, False)
        return tuple(None if x.grad is None else x.grad._data for x in targets)
    others = _other_leaves(outs, targets)
    found = run_backward(outs, gouts, create_graph, create_graph, targets + others, False)
    for leaf, g in zip(others, found[len(targets):]):
        if g is not None:
            leaf.grad = g if leaf.grad is None else leaf.grad + g
    return tuple(found[:len(targets)])


def _other_leaves(outs, targets):
    """The leaves that require grad which the graph of ``outs`` reaches besides ``targets``
    (the walk stops at the targets)."""
    own = {id(x) for x in targets} | {id(x.grad_fn) for x in targets if x.grad_fn is not None}
    seen, found = set(), []
    stack = [o.grad_fn for o in outs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen or id(node) in own:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            if id(node.variable) not in own:
                found.append(node.variable)
            continue
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return tuple(found)

