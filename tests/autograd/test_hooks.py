"""Hooks: on tensors (leaves and non-leaves), on nodes (before and after), retain_grad,
removal through handles, and hooks that fail."""

import gc
import re
import weakref

import numpy as np
import pytest

import autogradx as agx
from helpers import arr, backward_cycle_warning, float_tensor
from helpers import close as _close

grad = agx.autograd.grad


def t(values, requires_grad=True, lib=agx):
    return float_tensor(values, requires_grad, "float32", lib)


def close(a, b):
    _close(a, b, rtol=1e-6, atol=0.0)      # float32 values


# ------------------------------------------------------------------ tensor hooks

def test_non_leaf_hook_sees_the_gradient_and_may_replace_it():
    x = t([1.0, 2.0])
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(arr(g).copy()) or g * 2)
    (h * h).sum().backward()
    np.testing.assert_allclose(seen[0], [6.0, 12.0])
    close(x.grad, [36.0, 72.0])           # the doubled gradient flowed on


def test_leaf_hook_replaces_what_is_accumulated():
    x = t([1.0, 2.0])
    x.register_hook(lambda g: g + 100)
    (x * x).sum().backward()
    close(x.grad, [102.0, 104.0])


def test_hook_returning_none_keeps_the_gradient():
    x = t([1.0, 2.0])
    x.register_hook(lambda g: None)
    (x * 5).sum().backward()
    close(x.grad, [5.0, 5.0])


def test_hooks_run_in_registration_order_each_on_the_previous_result():
    x = t([1.0, 2.0])
    order = []
    x.register_hook(lambda g: order.append("first") or g + 1)
    x.register_hook(lambda g: order.append("second") or g * 10)
    x.sum().backward()
    assert order == ["first", "second"]
    close(x.grad, [20.0, 20.0])


def test_hook_runs_once_on_the_summed_gradient_of_a_tensor_used_twice():
    x = t([1.0, 2.0])
    h = x * 1
    seen = []
    h.register_hook(lambda g: seen.append(arr(g).copy()))
    (h * 2 + h * 3).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [5.0, 5.0])


def test_hook_on_one_output_of_a_multi_output_op():
    x = t([[1.0, 5.0], [7.0, 2.0]])
    values, indices = agx.max(x, 1)
    values.register_hook(lambda g: g * 10)
    values.sum().backward()
    close(x.grad, [[0.0, 10.0], [10.0, 0.0]])


def test_remove_unregisters():
    x = t([1.0, 2.0])
    h = x * 3
    handle = h.register_hook(lambda g: g * 2)
    y = (h * h).sum()
    handle.remove()
    handle.remove()                       # removing twice is harmless
    y.backward()
    close(x.grad, [18.0, 36.0])


def test_handle_as_a_context_manager():
    x = t([1.0, 2.0])
    with x.register_hook(lambda g: g * 0):
        (x * 1).sum().backward()
    close(x.grad, [0.0, 0.0])
    (x * 1).sum().backward()
    close(x.grad, [1.0, 1.0])


def test_remove_after_the_tensor_is_gone():
    x = t([1.0, 2.0])
    handle = x.register_hook(lambda g: g)
    ref = weakref.ref(x)
    del x
    gc.collect()
    assert ref() is None
    handle.remove()


def test_hook_sees_a_differentiable_gradient_under_create_graph():
    x = t([1.0, 2.0])
    h = x * x
    kept = []
    h.register_hook(lambda g: kept.append(g))
    (g,) = grad((h * h).sum(), x, create_graph=True)
    assert kept[0].requires_grad
    close(g, 4 * np.array([1.0, 8.0]))


def test_hook_on_a_non_leaf_applies_to_its_autograd_grad_result():
    x = t([1.0, 2.0])
    h = x * 3
    h.register_hook(lambda g: g * 10)
    (g,) = grad((h * h).sum(), h)
    close(g, [60.0, 120.0])


def test_hook_on_a_leaf_applies_to_its_autograd_grad_result():
    x = t([1.0, 2.0])
    x.register_hook(lambda g: g * 100)
    (g,) = grad((x * x).sum(), x)
    close(g, [200.0, 400.0])


def test_registering_on_a_tensor_without_grad():
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                           "require gradient"):
        t([1.0], requires_grad=False).register_hook(lambda g: g)


def test_hook_must_be_callable():
    with pytest.raises(TypeError, match="hook must be callable, got int"):
        t([1.0]).register_hook(3)


@pytest.mark.parametrize("replacement, message", [
    pytest.param(lambda g: agx.ones(3), r"hook '<lambda>' has changed the size of value "
                 r"\(was \[2\] got \[3\]\)", id="shape"),
    pytest.param(lambda g: g.double(), r"hook '<lambda>' has changed the type of value "
                 r"\(was float32 got float64\)", id="dtype"),
    pytest.param(lambda g: 3.0, "hook '<lambda>' returned float; expected a Tensor or None",
                 id="not-a-tensor"),
])
@pytest.mark.parametrize("where", ["leaf", "non-leaf"])
def test_bad_replacement(replacement, message, where):
    x = t([1.0, 2.0])
    x.grad = t([5.0, 5.0], requires_grad=False)
    target = x if where == "leaf" else x * 1
    target.register_hook(replacement)
    with pytest.raises((RuntimeError, TypeError), match=message):
        (target * target).sum().backward()
    close(x.grad, [5.0, 5.0])


# ------------------------------------------------------------------ hooks that raise

def _failing(g):
    raise ValueError("hook failed")


@pytest.mark.parametrize("where", ["leaf", "non-leaf", "node-prehook", "node-posthook"])
def test_raising_hook_propagates_and_leaves_grad_unchanged(where):
    x = t([1.0, 2.0])
    w = t([3.0, 4.0])
    x.grad = t([5.0, 5.0], requires_grad=False)
    h = x * w                                # every leaf's gradient passes through h's node
    if where == "leaf":
        handle = x.register_hook(_failing)
    elif where == "non-leaf":
        handle = h.register_hook(_failing)
    elif where == "node-prehook":
        handle = h.grad_fn.register_prehook(_failing)
    else:
        handle = h.grad_fn.register_hook(lambda grad_inputs, grad_outputs: _failing(None))
    y = (h * h).sum()
    with pytest.raises(ValueError, match="hook failed"):
        y.backward(retain_graph=True)
    close(x.grad, [5.0, 5.0])
    if where != "leaf":
        assert w.grad is None
    # (with the hook on x, w's gradient may already have arrived: the sweep does not
    # order unrelated leaves)
    w.grad = None
    # the graph is intact: without the hook, backward runs normally
    handle.remove()
    y.backward()
    close(x.grad, 5.0 + 2 * np.array([3.0, 8.0]) * [3.0, 4.0])
    close(w.grad, 2 * np.array([3.0, 8.0]) * [1.0, 2.0])


# ------------------------------------------------------------------ node hooks

def test_node_prehook_sees_and_replaces_grad_outputs():
    x = t([1.0, 2.0])
    h = x * 3
    seen = []
    h.grad_fn.register_prehook(lambda grad_outputs: seen.append(grad_outputs) or
                               (grad_outputs[0] * 10,))
    (h * h).sum().backward()
    assert len(seen) == 1 and isinstance(seen[0], tuple)
    close(seen[0][0], [6.0, 12.0])
    close(x.grad, [180.0, 360.0])


def test_node_posthook_sees_both_sides_and_replaces_grad_inputs():
    x = t([1.0, 2.0])
    h = x * 3                               # MulBackward0 with inputs (x, 3)
    seen = []

    def hook(grad_inputs, grad_outputs):
        seen.append((grad_inputs, grad_outputs))
        return (grad_inputs[0] + 1, grad_inputs[1])

    h.grad_fn.register_hook(hook)
    (h * h).sum().backward()
    ((grad_inputs, grad_outputs),) = seen
    assert len(grad_inputs) == 2 and grad_inputs[1] is None
    close(grad_inputs[0], [18.0, 36.0])
    close(grad_outputs[0], [6.0, 12.0])
    close(x.grad, [19.0, 37.0])


def test_node_hooks_order_and_removal():
    x = t([1.0, 2.0])
    h = x * 3
    calls = []
    pre = h.grad_fn.register_prehook(lambda go: calls.append("pre"))
    post = h.grad_fn.register_hook(lambda gi, go: calls.append("post"))
    y = (h * h).sum()
    y.backward(retain_graph=True)
    assert calls == ["pre", "post"]
    pre.remove()
    post.remove()
    y.backward()
    assert calls == ["pre", "post"]


def _node_hook_run(lib, where, replace, create_graph=False, w_requires_grad=True):
    """Backward through ``h = x * w`` with a node hook on h's node that returns
    ``replace(gradient)`` in place of the gradient for x; returns x.grad."""
    x, w = t([1.0, 2.0], lib=lib), t([3.0, 4.0], requires_grad=w_requires_grad, lib=lib)
    h = x * w
    if where == "prehook":
        h.grad_fn.register_prehook(lambda go: (replace(go[0]),))
    else:
        h.grad_fn.register_hook(lambda gi, go: (replace(gi[0]), gi[1]))
    (h * h).sum().backward(create_graph=create_graph)
    return x.grad


# What PyTorch checks of each tensor a node hook returns: it keeps the dtype and size of
# the gradient it replaces (an int64 gradient would otherwise flow on, cast or promoted).
NODE_HOOK_CHANGES = [
    pytest.param(lambda g: g.long(), "type of value (was float32 got int64)", id="int64"),
    pytest.param(lambda g: g.double(), "type of value (was float32 got float64)", id="float64"),
    pytest.param(lambda g: g.sum(), "size of value (was [2] got [])", id="size"),
]


@pytest.mark.parametrize("where", ["prehook", "posthook"])
@pytest.mark.parametrize("replace, change", NODE_HOOK_CHANGES)
@pytest.mark.parametrize("create_graph", [False, True], ids=["", "create_graph"])
def test_node_hook_may_not_change_a_gradients_type_or_size(where, replace, change,
                                                            create_graph):
    changed = re.escape(f"hook '<lambda>' has changed the {change}")
    with pytest.raises(RuntimeError, match=changed), backward_cycle_warning(create_graph):
        _node_hook_run(agx, where, replace, create_graph)


def _none_replaced(lib):
    x = t([1.0, 2.0], lib=lib)
    h = x * t([3.0, 4.0], requires_grad=False, lib=lib)
    h.grad_fn.register_hook(lambda gi, go: (gi[0], gi[0]))    # a gradient for w, which has none
    with pytest.raises(RuntimeError, match="can't replace a None gradient with a non-None value"):
        h.sum().backward()


def _posthook_sees(lib):
    """The shape of the gradient for x (shape [1]) that a post hook sees (the vjp gives [2]),
    and x.grad after the hook multiplied it by 10."""
    seen = []
    x = t([2.0], lib=lib)
    h = x * t([3.0, 4.0], requires_grad=False, lib=lib)
    h.grad_fn.register_hook(lambda gi, go: seen.append(tuple(gi[0].shape)) or (gi[0] * 10, None))
    h.sum().backward()
    return seen, x.grad.tolist()


def test_node_posthook_may_not_replace_a_none_gradient():
    _none_replaced(agx)


def test_node_posthook_sees_the_gradients_as_the_inputs_take_them():
    assert _posthook_sees(agx) == ([(1,)], [70.0])      # un-broadcast before the hook


@pytest.mark.parametrize("register", ["register_hook", "register_prehook"])
def test_a_node_hook_is_stored_unchecked_and_fails_when_called_as_in_torch(register):
    # PyTorch stores any object as a node's hook (the compat suite registers one only to
    # see it freed); calling one that is not callable fails in backward.
    torch = pytest.importorskip("torch")
    from torch_compare import error_of

    def run(lib):
        x = lib.tensor([1.0], requires_grad=True)
        y = x * 2
        getattr(y.grad_fn, register)(3)
        y.sum().backward()
    assert error_of(lambda: run(agx)) == error_of(lambda: run(torch)) == \
        ("TypeError", "'int' object is not callable")


# ------------------------------------------------------------------ retain_grad

def test_retain_grad_accumulates_across_backward_calls():
    x = t([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    assert h.retains_grad
    y = (h * h).sum()
    y.backward(retain_graph=True)
    close(h.grad, [6.0, 12.0])
    y.backward()
    close(h.grad, [12.0, 24.0])
    h.grad = None
    assert h.grad is None


def test_retain_grad_is_a_no_op_on_leaves():
    x = t([1.0, 2.0])
    x.retain_grad()
    assert not x.retains_grad
    x.sum().backward()
    close(x.grad, [1.0, 1.0])


def test_retain_grad_sees_hook_replacements_registered_before_it():
    x = t([1.0, 2.0])
    h = x * 1
    h.register_hook(lambda g: g * 100)
    h.retain_grad()
    h.sum().backward()
    close(h.grad, [100.0, 100.0])
    close(x.grad, [100.0, 100.0])


def test_retain_grad_with_create_graph_keeps_a_differentiable_grad():
    x = t([1.0, 2.0])
    h = x * x
    h.retain_grad()
    with backward_cycle_warning():
        (h * h).sum().backward(create_graph=True)
    assert h.grad.requires_grad
    close(h.grad, [2.0, 8.0])


def test_retain_grad_on_a_tensor_without_grad():
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        t([1.0], requires_grad=False).retain_grad()


def test_non_leaf_grad_without_retain_grad_warns_and_is_none():
    h = t([1.0]) * 2
    h.sum().backward()
    with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed"):
        assert h.grad is None


# ------------------------------------------------------------------ against torch

def scenario(lib):
    """Hooks of every kind on one graph; returns what they saw and the resulting grads."""
    record = []
    x = t([1.0, -2.0, 3.0], lib=lib)
    w = t([0.5, 1.5, -1.0], lib=lib)
    x.register_hook(lambda g: record.append(("x", g.tolist())) or g * 2)
    h = x * w
    h.register_hook(lambda g: record.append(("h", g.tolist())) or g + 1)
    h.retain_grad()
    s = h.exp() * w
    s.grad_fn.register_prehook(lambda go: record.append(("pre", go[0].tolist())) or
                               (go[0] * 3,))
    s.grad_fn.register_hook(lambda gi, go: record.append(
        ("post", [g.tolist() for g in gi], [g.tolist() for g in go])))
    y = (s * s).sum()
    y.backward(retain_graph=True)
    y.backward()
    return record, x.grad.tolist(), w.grad.tolist(), h.grad.tolist()


@pytest.mark.torch
@pytest.mark.parametrize("where", ["prehook", "posthook"])
@pytest.mark.parametrize("replace, change", NODE_HOOK_CHANGES)
def test_node_hook_changes_are_refused_by_torch_too(where, replace, change):
    torch = pytest.importorskip("torch")
    kind = change.partition(" (")[0]        # PyTorch names types as torch.FloatTensor
    with pytest.raises(RuntimeError, match=re.escape(f"hook '<lambda>' has changed the {kind}")):
        _node_hook_run(torch, where, replace)


@pytest.mark.torch
def test_node_posthook_none_gradient_and_shape_match_torch():
    torch = pytest.importorskip("torch")
    _none_replaced(torch)
    assert _posthook_sees(torch) == _posthook_sees(agx)


@pytest.mark.torch
def test_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = scenario(agx), scenario(torch)
    assert [r[0] for r in ours[0]] == [r[0] for r in theirs[0]]    # which hooks ran, in order
    for o, r in zip(ours[0], theirs[0]):
        assert str(o[1:]).count("None") == str(r[1:]).count("None")
        np.testing.assert_allclose(_numbers(o[1:]), _numbers(r[1:]), rtol=1e-6)
    for o, r in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(o, r, rtol=1e-6)


def _numbers(nested):
    if isinstance(nested, (list, tuple)):
        return [v for item in nested for v in _numbers(item)]
    return [] if nested is None else [nested]
