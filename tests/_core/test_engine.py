"""Backward-sweep semantics: accumulation, retain_graph, errors, hooks, memory."""

import gc
import re
import sys
import threading
import warnings
import weakref

import numpy as np
import pytest

import autogradx as agx
from autogradx._core.node import AccumulateGrad
from autogradx._core.saved import active as saved_hooks_active
from helpers import error_in_child, leaf


def test_grad_is_none_before_backward():
    x = leaf([1.0, 2.0])
    assert x.grad is None
    (x * 2).sum()
    assert x.grad is None


def test_leaf_grad_accumulates_across_calls_and_zero_resets():
    x = leaf([1.0, 2.0, 3.0])
    out = (x + 1) ** 2
    out.backward(agx.ones_like(x), retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), 2 * (x.detach().numpy() + 1))
    out.backward(agx.ones_like(x), retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), 4 * (x.detach().numpy() + 1))
    g = x.grad
    x.grad.zero_()
    assert x.grad is g
    out.backward(agx.ones_like(x))
    np.testing.assert_array_equal(x.grad.numpy(), 2 * (x.detach().numpy() + 1))


def test_accumulation_is_in_place_into_the_existing_grad_tensor():
    # PyTorch adds into .grad in place when it already exists.
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    g = x.grad
    (x * 3).sum().backward()
    assert x.grad is g
    np.testing.assert_array_equal(g.numpy(), [6.0, 6.0])


def test_first_grad_never_aliases_the_user_gradient():
    x = leaf([1.0, 2.0])
    gout = agx.ones(2, dtype=agx.float64)
    (x * 1).backward(gout)
    (x * 1).backward(gout)
    np.testing.assert_array_equal(gout.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_shared_gradient_buffers_are_not_summed_in_place():
    # add's vjp hands the same array to both inputs; each leaf must get its own.
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x + y).sum().backward()
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])


def test_diamond_sums_gradients_before_running_the_node():
    x = leaf([2.0])
    a = x * 3
    b = a * a + a          # a feeds two consumers
    b.backward()
    np.testing.assert_allclose(x.grad.numpy(), [(2 * 6 + 1) * 3])


def test_second_backward_raises_pytorch_error():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])


def test_saved_values_released_after_backward():
    x = leaf([1.0, 2.0])
    y = x * x
    assert y.grad_fn._saved_values is not None
    y.sum().backward()
    assert y.grad_fn._saved_values is None


def test_implicit_gradient_only_for_scalars():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    (x[None] if False else (x * 2).sum()).backward()   # a one-element output is fine
    leaf([3.0]).mul(2).backward()


def test_gradient_shape_mismatch_is_named():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=re.escape(
            "Mismatch in shape: grad_output[0] has a shape of torch.Size([3]) and output[0] "
            "has a shape of torch.Size([2])")):
        (x * 2).backward(agx.ones(3))
    assert x.grad is None


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        agx.ones(2).sum().backward()


def test_backward_on_leaf_itself():
    x = leaf([1.0, 2.0])
    x.backward(agx.tensor([3.0, 4.0], dtype=agx.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_gradient_dtype_follows_the_input():
    x = agx.tensor([1.0, 2.0], requires_grad=True)                 # float32
    y = agx.tensor([1.0, 2.0], dtype=agx.float64)
    out = x * y                                                      # float64
    assert out.dtype is agx.float64
    out.sum().backward()
    assert x.grad.dtype is agx.float32


def test_unbroadcast_to_each_input_shape():
    a = leaf(np.ones((3, 1)))
    b = leaf(np.ones((1, 4)))
    c = leaf(np.ones(()))
    (a * b + c).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((1, 4), 3.0))
    np.testing.assert_array_equal(c.grad.numpy(), 12.0)


def test_next_functions_and_names():
    x = leaf([1.0])
    y = x * 2
    (acc, idx), (none, zero) = y.grad_fn.next_functions
    assert isinstance(acc, AccumulateGrad) and idx == 0
    assert acc.variable is x
    assert (none, zero) == (None, 0)
    assert y.grad_fn.name() == "MulBackward0"
    assert acc.name() == "torch::autograd::AccumulateGrad"
    assert re.fullmatch(r"<MulBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert re.fullmatch(r"<AccumulateGrad object at 0x[0-9a-f]+>", repr(acc))
    z = (x * 3) + y
    assert z.grad_fn.next_functions[1][0] is y.grad_fn
    # One accumulator per leaf while a graph holds it.
    assert z.grad_fn.next_functions[0][0].next_functions[0][0] is acc
    assert x.grad_fn is None and x.is_leaf and not y.is_leaf


def test_no_grad_and_detach():
    x = leaf([1.0, 2.0])
    with agx.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    z = x * 2
    d = z.detach()
    d.numpy()[0] = 7.0               # shares storage
    assert z.detach().numpy()[0] == 7.0


def test_requires_grad_rules():
    x = agx.ones(2)
    assert not x.requires_grad
    x.requires_grad_()
    assert x.requires_grad
    y = x * 2
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf variables"):
        y.requires_grad = False
    with pytest.raises(RuntimeError, match="floating point"):
        agx.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        agx.arange(3).requires_grad_()


def test_ops_with_no_grad_inputs_record_nothing():
    y = agx.ones(2) * 3
    assert y.grad_fn is None and not y.requires_grad


def test_tensor_hooks_replace_and_remove():
    x = leaf([1.0, 2.0])
    seen = []
    h = x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 3
    hy = y.register_hook(lambda g: g * 10)      # replaces the gradient flowing on
    y.sum().backward()
    np.testing.assert_array_equal(seen[0], [30.0, 30.0])
    np.testing.assert_array_equal(x.grad.numpy(), [30.0, 30.0])
    h.remove()
    hy.remove()
    x.grad = None
    y2 = x * 3
    y2.sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        agx.ones(2).register_hook(lambda g: g)


def test_retain_grad_keeps_non_leaf_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    z = y * y
    z.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(y.grad.numpy(), 2 * y.detach().numpy())
    z.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), 4 * y.detach().numpy())


def test_non_leaf_grad_access_warns():
    y = leaf([1.0]) * 2
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert y.grad is None


def test_node_hooks_run_with_handles():
    x = leaf([1.0, 2.0])
    y = x * 2
    calls = []
    h1 = y.grad_fn.register_prehook(lambda gouts: calls.append("pre"))
    h2 = y.grad_fn.register_hook(lambda gins, gouts: calls.append("post"))
    y.sum().backward(retain_graph=True)
    assert calls == ["pre", "post"]
    h1.remove(), h2.remove()
    y.sum().backward()
    assert calls == ["pre", "post"]


def test_version_counter_shared_by_detach_and_data():
    x = leaf([1.0, 2.0])
    d = x.detach()
    v = x._version
    with agx.no_grad():
        d.zero_()
    assert x._version == v + 1 and d._version == v + 1


def test_deep_chain_backward_and_teardown_do_not_recurse(gc_off):
    limit = sys.getrecursionlimit()
    x = leaf([1.0])
    h = x
    for _ in range(100_000):
        h = h * 1.0
    node_ref = weakref.ref(h.grad_fn)
    sys.setrecursionlimit(100)
    try:
        h.backward()
        del h
    finally:
        sys.setrecursionlimit(limit)
    assert node_ref() is None
    np.testing.assert_array_equal(x.grad.numpy(), [1.0])


def test_graph_freed_by_refcount_alone(gc_off):
    x = leaf(np.ones(4))
    y = (x * 2 + 1).exp().sum()
    refs = [weakref.ref(y.grad_fn)]
    fn = y.grad_fn
    while fn.next_functions:
        fn = fn.next_functions[0][0]
        refs.append(weakref.ref(fn))
    del fn
    y.backward()
    del y
    assert all(r() is None for r in refs)
    assert gc.collect() == 0


def test_hooks_and_retain_grad_create_no_cycles(gc_off):
    x = leaf([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g)
    ref = weakref.ref(y.grad_fn)
    yref = weakref.ref(y)
    y.sum().backward()
    del y
    assert ref() is None and yref() is None


def test_concurrent_backward_into_shared_leaf():
    x = leaf(np.ones(8))
    n_threads, n_iter = 4, 50

    def work():
        for _ in range(n_iter):
            (x * 2).sum().backward()

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(8, 2.0 * n_threads * n_iter))


def test_hook_may_not_change_gradient_dtype_or_shape():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: agx.tensor(np.zeros((1, 2), np.float64)))
    with pytest.raises(RuntimeError, match="has changed the size of value"):
        (x * 2).backward(agx.ones(2, dtype=agx.float64))
    assert x.grad is None
    y = leaf([1.0, 2.0])
    z = y * 2
    z.register_hook(lambda g: agx.ones(2))          # float32 for a float64 gradient
    with pytest.raises(RuntimeError, match="has changed the type of value"):
        z.sum().backward()


def test_op_nodes_are_left_to_reference_counting():
    x = leaf([1.0, 2.0])
    y = x * 2
    assert not gc.is_tracked(y.grad_fn)


def test_cycles_through_hooks_are_still_collected():
    # A hook that holds its own tensor makes a cycle (tensor -> node -> hook ->
    # tensor): the node is tracked again, so the cycle collector frees it.
    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g, y=y: g)
    z = x * 3
    z.grad_fn.register_prehook(lambda gs, z=z: gs)
    w = x * 4
    w.grad_fn.metadata["tensor"] = w
    refs = [weakref.ref(t) for t in (y, z, w)]
    del y, z, w
    gc.collect()
    assert all(r() is None for r in refs)


def test_backward_inside_a_hook_of_a_running_backward():
    """A sweep started by a hook meets nodes the outer sweep holds state on: each keeps
    its own, and both give PyTorch's gradients."""
    x = leaf([1.0, 2.0])
    y = x * 3.0
    z = y * y
    inner = []

    def hook(g):
        with agx.enable_grad():         # backward runs its hooks with grad mode off
            inner.append(agx.autograd.grad(y.sum(), x, retain_graph=True)[0])

    z.register_hook(hook)
    z.sum().backward()
    np.testing.assert_array_equal(inner[0].numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])      # d(9x^2)/dx


def test_a_failed_backward_leaves_the_graph_usable():
    """A vjp that raises stops the sweep; what it left on the nodes is cleared, so the
    next backward over the same graph runs from a clean state."""
    fail = [True]

    class Flaky(agx.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 1.0

        @staticmethod
        def backward(ctx, g):
            if fail[0]:
                raise ValueError("flaky backward")
            return g

    x = leaf([1.0, 2.0])
    a = x * 2.0
    b = Flaky.apply(a) + a * 5.0        # a's node waits for both branches
    with pytest.raises(ValueError, match="flaky backward"):
        b.sum().backward(retain_graph=True)
    assert x.grad is None
    fail[0] = False
    b.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [12.0, 12.0])


# ------------------------------------------------------------------ values from user code
# The engine takes what reaches it for what it should be (a tuple, a tensor, a node's own
# count of gradients): what user code can put there is checked first. Each case once
# crashed the process (or read memory it did not own), so it runs in a child interpreter.

FROM_USER_CODE = {
    "leaf-data-with-a-list-shape": ("""
        class Data:                     # not an array: its shape is a list
            shape, dtype, ndim, size = [2], np.dtype("float32"), 1, 2
        x = agx.tensor([1.0, 2.0], requires_grad=True)
        y = (x * 2).sum()
        x._data = Data()
        y.backward()
        """, "TypeError: AccumulateGrad takes a gradient of shape [2], a list: the tensor it is "
             "for does not hold an array"),
    "run_backward-of-None": ("""
        from autogradx._core.engine import run_backward
        run_backward((None,), (None,), False, False)
        """, "TypeError: element 0 of tensors is a NoneType, expected a Tensor"),
    "run_backward-with-too-few-gradients": ("""
        from autogradx._core.engine import run_backward
        x = agx.tensor([1.0], requires_grad=True)
        run_backward((x * 2, x * 3), (None,), False, False)
        """, "RuntimeError: 1 gradients given for 2 tensors"),
    "run_backward-into-None": ("""
        from autogradx._core.engine import run_backward
        x = agx.tensor([1.0], requires_grad=True)
        run_backward((x * 2,), (None,), False, False, (None,))
        """, "TypeError: element 0 of inputs is a NoneType, expected a Tensor"),
    # None is a slot no tensor holds (a Function's non-tensor output); other objects are refused.
    "make_node-of-int": ("""
        from autogradx._core.node import make_node
        x = agx.tensor([1.0], requires_grad=True)
        make_node("F", [x], [3], lambda grads, create_graph: grads)
        """, "TypeError: make_node: the outputs must be Tensors or None, got int"),
    "node-with-too-few-gradients": ("""
        from autogradx._core.node import make_node
        x, w = agx.tensor([1.0], requires_grad=True), agx.tensor([2.0], requires_grad=True)
        y = x * w
        make_node("F", [x, w], [y], lambda grads, create_graph: [grads[0]])
        y.sum().backward()
        """, "RuntimeError: F returned 1 gradients for 2 inputs"),
    "retain-grad-of-a-non-tensor": ("""
        class Other:
            pass
        x = agx.tensor([1.0], requires_grad=True)
        y = x * 2
        y.grad_fn._retain_grad(0, Other())
        y.sum().backward()
        """, "TypeError: Argument 'tensor' has incorrect type (expected "
             "autogradx._core.tensor.TensorBase, got Other)"),
    "arrays-from-a-node-under-create_graph": ("""
        from autogradx._core.node import make_node
        x = agx.tensor([0.0, 0.0], requires_grad=True)
        e = x.exp()
        h = e * 1
        make_node("F", [e], [h], lambda grads, create_graph: [np.ones(2, np.float32)])
        h.sum().backward(create_graph=True)     # F's arrays reach ExpBackward0
        assert x.grad.tolist() == [1.0, 1.0]
        """, "no error"),
    "operator-op-replaced-in-the-registry": ("""
        from autogradx._registry import REGISTRY
        REGISTRY.load().ops["add"] = object()
        agx.ones(1) + agx.ones(1)
        """, "TypeError: the op registered as 'add' is not an autogradx.plugin.Op but a "
             "'object'"),
    "hook-on-a-missing-output": ("""
        x = agx.tensor([1.0], requires_grad=True)
        y = x * 2
        y.grad_fn._register_tensor_hook(3, lambda g: g)
        y.sum().backward()
        """, "IndexError: MulBackward0 has 1 outputs, not an output 3"),
}


@pytest.mark.parametrize("code, error", FROM_USER_CODE.values(), ids=FROM_USER_CODE)
def test_what_user_code_passes_is_checked(code, error):
    assert error_in_child(code) == error


class _DeepReentrant(agx.autograd.Function):
    """Each backward runs the backward of the next link: a chain of nested backward calls
    (PyTorch's test_deep_reentrant). ``seen`` gets the thread state at each depth."""

    seen = []

    @staticmethod
    def forward(ctx, x):
        with agx.enable_grad():
            ctx.x = agx.tensor(x.detach().numpy(), requires_grad=True) - 1
        return ctx.x.detach()

    @staticmethod
    def backward(ctx, g):
        _DeepReentrant.seen.append((agx.is_grad_enabled(), np.geterr()["divide"],
                                    agx.get_default_device().type, saved_hooks_active()))
        if ctx.x < 0:
            return g
        with agx.enable_grad():
            _DeepReentrant.apply(ctx.x).sum().backward()
        return g


def test_reentrant_backward_thousands_deep_meets_no_recursion_limit():
    v = agx.tensor(2000.0, requires_grad=True)
    _DeepReentrant.seen = []
    _DeepReentrant.apply(v).sum().backward()
    assert v.grad.item() == 1.0 and len(_DeepReentrant.seen) == 2001
    # Past the depth at which a nested backward goes on on a fresh thread, each sees the
    # state it would see on this one: grad mode off in backward, NumPy's error state (silent
    # in backward), the device, no saved-tensor hooks.
    assert set(_DeepReentrant.seen) == {(False, "ignore", "cpu", False)}


def test_a_deep_reentrant_backward_carries_the_callers_errstate_and_hooks():
    from autogradx.autograd.graph import saved_tensors_hooks
    v = agx.tensor(100.0, requires_grad=True)
    _DeepReentrant.seen = []
    with np.errstate(divide="raise"), saved_tensors_hooks(lambda t: t, lambda t: t):
        _DeepReentrant.apply(v).sum().backward()
    assert set(_DeepReentrant.seen) == {(False, "raise", "cpu", True)}


def test_an_error_deep_in_reentrant_backward_reaches_the_caller():
    class Failing(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x, depth):
            ctx.depth = depth
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            if ctx.depth == 0:
                raise ValueError("deepest link")
            with agx.enable_grad():
                y = agx.ones(1, requires_grad=True)
                Failing.apply(y, ctx.depth - 1).sum().backward()
            return g, None

    x = agx.ones(1, requires_grad=True)
    with pytest.raises(ValueError, match="deepest link"):
        Failing.apply(x, 100).sum().backward()
    (x * 2).sum().backward()            # nothing left behind
    assert x.grad.tolist() == [2.0]


def _divide_by_zero_in_backward():
    class Div(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            g = g.clone()
            g[0] /= 0                   # 1/0 and, below, 0/0: NumPy would warn of both
            g[1] = 0
            g[1] /= 0
            return g

    x = agx.ones(3, requires_grad=True)
    Div.apply(x).sum().backward()
    return x.grad


def test_backward_is_silent_on_floating_point_errors_as_torch():
    # pytest turns warnings into errors: a NumPy RuntimeWarning would fail this test.
    grad = _divide_by_zero_in_backward()
    assert np.isinf(grad[0].item()) and np.isnan(grad[1].item())
    assert np.geterr()["divide"] == "warn"      # the caller's state is back


def test_an_errstate_set_by_the_caller_decides_in_backward():
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        _divide_by_zero_in_backward()


def test_anomaly_mode_still_reports_the_nan():
    with pytest.raises(RuntimeError, match="returned nan values in its 0th output"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # anomaly mode's own warnings
            with agx.autograd.detect_anomaly():
                _divide_by_zero_in_backward()
