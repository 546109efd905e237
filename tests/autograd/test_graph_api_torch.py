"""``autograd.graph``: GradientEdge and get_gradient_edge as outputs and inputs of
``autograd.grad`` / ``autograd.backward``, register_multi_grad_hook, which hooks a
backward calls, and a ``grad_fn`` called directly: each case runs on autogradx and on
PyTorch, and both must agree."""

import numpy as np
import pytest

import autogradx as agx

torch = pytest.importorskip("torch")


def both(fn):
    """``fn(lib)`` on autogradx and on PyTorch, with tensors turned into nested lists."""
    return plain(fn(agx)), plain(fn(torch))


def plain(v):
    if isinstance(v, (agx.Tensor, torch.Tensor)):
        return np.asarray(v.detach().numpy()).round(5).tolist()
    if isinstance(v, (tuple, list)):
        return [plain(x) for x in v]
    return v


def error(fn, lib):
    """The type and text of what ``fn(lib)`` raises."""
    with pytest.raises(Exception) as info:
        fn(lib)
    return type(info.value).__name__, str(info.value)


def x_of(lib, values=(0.5, -1.0, 2.0)):
    return lib.tensor(values, dtype=lib.float64, requires_grad=True)


# ------------------------------------------------------------------ get_gradient_edge

def test_edge_of_a_leaf_and_of_a_non_leaf():
    def edges(lib):
        x = x_of(lib)
        a, b = (x * 2).unbind()[1:]
        return [(e.node.name(), e.output_nr) for e in
                map(lib.autograd.graph.get_gradient_edge, (x, a, b))]
    ours, theirs = both(edges)
    assert ours == theirs == [["torch::autograd::AccumulateGrad", 0], ["UnbindBackward0", 1],
                              ["UnbindBackward0", 2]]


def test_edge_of_a_leaf_is_its_accumulator():
    x = x_of(agx)
    edge = agx.autograd.graph.get_gradient_edge(x)
    assert edge.node is (x * 2).grad_fn.next_functions[0][0]
    assert isinstance(edge.node, agx.autograd.graph.Node) and edge.ownership_token is None


def test_no_edge_for_a_tensor_that_does_not_require_grad():
    fn = lambda lib: lib.autograd.graph.get_gradient_edge(lib.ones(2))
    assert error(fn, agx) == error(fn, torch)


# ------------------------------------------------------------------ edges as inputs

def test_grad_to_edges_is_grad_to_their_tensors():
    def grads(lib):
        x = x_of(lib)
        parts = (x * x).unbind()
        out = (parts[0] * parts[2] + x.exp()).sum()
        edges = [lib.autograd.graph.get_gradient_edge(t) for t in (x, parts[0], parts[2])]
        return [lib.autograd.grad(out, edges, retain_graph=True),
                lib.autograd.grad(out, (x, parts[0], parts[2]))]
    ours, theirs = both(grads)
    assert ours == theirs and ours[0] == ours[1]


def test_an_edge_keeps_the_place_of_a_tensor_changed_in_place():
    def grads(lib):
        x = x_of(lib).clone()
        edge = lib.autograd.graph.get_gradient_edge(x)
        x *= 3
        return lib.autograd.grad((x * x).sum(), (edge, x))
    ours, theirs = both(grads)
    assert ours == theirs and ours[0] != ours[1]


def test_unused_edge_gives_none_and_refuses_materialize_grads():
    def unused(lib, **kw):
        x, y = x_of(lib).clone(), x_of(lib).clone()
        return lib.autograd.grad(x.sum(), (x, lib.autograd.graph.get_gradient_edge(y)),
                                 allow_unused=True, **kw)
    ours, theirs = both(unused)
    assert ours == theirs and ours[1] is None
    fn = lambda lib: unused(lib, materialize_grads=True)
    assert error(fn, agx) == error(fn, torch)


def test_backward_to_an_edge_accumulates_into_that_leaf_only():
    def grads(lib):
        x, y = x_of(lib), x_of(lib, (1.0, 2.0, 3.0))
        out = (x * y).sum()
        lib.autograd.backward(out, inputs=(lib.autograd.graph.get_gradient_edge(x),))
        return x.grad, y.grad
    ours, theirs = both(grads)
    assert ours == theirs and ours[1] is None


# ------------------------------------------------------------------ edges as outputs

def test_backward_in_two_steps_through_an_edge():
    def grads(lib):
        x = x_of(lib)
        mid = x.sin() * x
        out = mid.exp().sum()
        edge = lib.autograd.graph.get_gradient_edge(mid)
        (g_mid,) = lib.autograd.grad(out, (edge,), retain_graph=True)
        (g_x,) = lib.autograd.grad(edge, (x,), grad_outputs=(g_mid,), retain_graph=True)
        (g_ref,) = lib.autograd.grad(out, x, retain_graph=True)
        lib.autograd.backward(edge, g_mid)
        return g_x, g_ref, x.grad
    ours, theirs = both(grads)
    assert ours == theirs and ours[0] == ours[1] == ours[2]


def test_implicit_gradient_for_a_scalar_edge():
    def grads(lib):
        x = x_of(lib)
        edge = lib.autograd.graph.get_gradient_edge((x * x).sum())
        return lib.autograd.grad(edge, x, retain_graph=True), lib.autograd.grad((edge,), x)
    ours, theirs = both(grads)
    assert ours == theirs


@pytest.mark.parametrize("grad_output", [
    None,
    lambda lib: lib.ones(4, dtype=lib.float64),
    lambda lib: lib.ones(3, dtype=lib.complex128),
], ids=["implicit-for-non-scalar", "wrong-shape", "complex-for-real"])
def test_bad_gradient_for_an_edge_is_refused_as_in_torch(grad_output):
    def fn(lib):
        x = x_of(lib)
        edge = lib.autograd.graph.get_gradient_edge(x * 2)
        return lib.autograd.grad(edge, x, None if grad_output is None else grad_output(lib))
    assert error(fn, agx) == error(fn, torch)


def test_edge_to_an_output_that_the_node_does_not_have():
    x = x_of(agx)
    edge = agx.autograd.graph.GradientEdge((x * 2).grad_fn, 1)
    with pytest.raises(RuntimeError, match="GradientEdge to output 1 of MulBackward0, which "
                                           "has 1 outputs"):
        agx.autograd.grad(x.sum(), edge)


# ------------------------------------------------------------------ which hooks run

def test_hook_on_an_output_without_gradient_gets_none():
    def seen(lib):
        x = x_of(lib)
        parts = x.unbind()
        log = []
        parts[0].register_hook(lambda g: log.append(g))
        parts[1].backward()
        parts[0].backward()
        return log
    ours, theirs = both(seen)
    assert ours == theirs == [None, 0.5 ** 0]


def first_only(lib):
    """A Function whose backward gives a gradient to its first input only."""
    class FirstOnly(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None
    return FirstOnly


def test_hook_on_a_leaf_without_gradient_gets_none():
    def seen(lib):
        a, b = x_of(lib), x_of(lib)
        log = {}
        a.register_hook(lambda g: log.setdefault("a", []).append(g))
        b.register_hook(lambda g: log.setdefault("b", []).append(g))
        y = first_only(lib).apply(a, b).sum()
        lib.autograd.grad(y, (a, b), allow_unused=True, retain_graph=True)
        y.backward()
        return sorted(log.items())
    ours, theirs = both(seen)
    assert ours == theirs and ours[1] == ["b", [None, None]]


def test_a_hook_may_not_replace_a_missing_gradient():
    def fn(lib):
        x = x_of(lib)
        parts = x.unbind()
        parts[0].register_hook(lambda g: lib.ones(()))
        parts[1].backward()
    assert error(fn, agx) == error(fn, torch)


def test_grad_calls_tensor_hooks_of_a_captured_node_but_not_its_node_hooks():
    def counts(lib):
        a = x_of(lib)
        b = a * 2
        c = (b * 2).sum()
        log = []
        for t in (a, b):
            t.register_hook(lambda g, name=("a" if t is a else "b"): log.append("tensor " + name))
        b.grad_fn.register_prehook(lambda g: log.append("prehook"))
        b.grad_fn.register_hook(lambda gi, go: log.append("posthook"))
        lib.autograd.grad(c, b, retain_graph=True)
        log.append("|")
        lib.autograd.grad(c, (a, b), retain_graph=True)
        return log
    ours, theirs = both(counts)
    assert ours == theirs


def test_backward_to_a_non_leaf_runs_its_node():
    def calls(lib):
        a = x_of(lib)
        b = a * 2
        c = (b * b).sum()
        log = []
        b.grad_fn.register_prehook(lambda g: log.append("prehook"))
        b.grad_fn.register_hook(lambda gi, go: log.append("posthook"))
        c.backward(inputs=(b,), retain_graph=True)
        c.backward(inputs=(lib.autograd.graph.get_gradient_edge(b),))
        return log, b.grad, a.grad
    ours, theirs = both(calls)
    assert ours == theirs and ours[0] == ["prehook", "posthook"] * 2 and ours[2] is None


# ------------------------------------------------------------------ register_multi_grad_hook

def test_multi_grad_hook_all_sees_the_gradients_the_backward_computes():
    # The example of torch.autograd.graph.register_multi_grad_hook's docstring.
    def calls(lib):
        a, b = x_of(lib), x_of(lib, (1.0, 2.0, 3.0))
        c, d = a * b, a * b
        log = []
        handle = lib.autograd.graph.register_multi_grad_hook(
            (a, b, c, d), lambda grads: log.append([plain(g) for g in grads]))
        c.sum().backward(retain_graph=True)
        c.sum().backward(inputs=(a,), retain_graph=True)
        handle.remove()
        c.sum().backward()
        return log
    ours, theirs = both(calls)
    assert ours == theirs and len(ours) == 2


def test_multi_grad_hook_all_counts_a_leaf_that_gets_no_gradient():
    def calls(lib):
        a, b = x_of(lib), x_of(lib)
        c = a * 3
        log = []
        lib.autograd.graph.register_multi_grad_hook(
            (a, b, c), lambda grads: log.append([g is not None for g in grads]))
        first_only(lib).apply(c, b).sum().backward()
        return log
    ours, theirs = both(calls)
    assert ours == theirs == [[True, False, True]]


def test_multi_grad_hook_any_runs_once_per_backward_with_the_first_gradient():
    def calls(lib):
        x = x_of(lib)
        a, b = x.sin(), x.cos()
        log = []
        lib.autograd.graph.register_multi_grad_hook((a, b), log.append, mode="any")
        (a * 2 + b * 3).sum().backward(retain_graph=True)
        (a * 5).sum().backward()
        return log
    ours, theirs = both(calls)
    assert ours == theirs and len(ours) == 2


def test_multi_grad_hook_mode_is_checked():
    fn = lambda lib: lib.autograd.graph.register_multi_grad_hook(
        (x_of(lib),), print, mode="every")
    assert error(fn, agx) == error(fn, torch)


# ------------------------------------------------------------------ calling a node

def test_a_node_called_directly_returns_its_input_gradients():
    def calls(lib):
        x, w = x_of(lib), x_of(lib, (1.0, 2.0, 3.0))
        g = lib.tensor([1.0, 10.0, 100.0], dtype=lib.float64)
        parts = (x * w).unbind()
        node = (x * w).grad_fn
        with lib.no_grad():
            plain_call = node(g)
        recorded = node(g)
        return (plain_call, [t.requires_grad for t in recorded],
                parts[1].grad_fn(None, lib.tensor(2.0, dtype=lib.float64), None),
                (x * w).grad_fn(None))
    ours, theirs = both(calls)
    assert ours == theirs


def test_calling_an_accumulator_accumulates():
    def calls(lib):
        x = x_of(lib)
        acc = lib.autograd.graph.get_gradient_edge(x).node
        return acc(lib.ones(3, dtype=lib.float64)), x.grad
    ours, theirs = both(calls)
    assert ours == theirs


@pytest.mark.parametrize("n", [0, 2])
def test_a_node_called_with_a_wrong_number_of_gradients(n):
    fn = lambda lib: (x_of(lib) * x_of(lib)).grad_fn(*[lib.ones(3, dtype=lib.float64)] * n)
    assert error(fn, agx) == error(fn, torch)


def test_a_node_called_with_a_gradient_of_another_shape():
    fn = lambda lib: (x_of(lib) * x_of(lib)).grad_fn(lib.ones(4, dtype=lib.float64))
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape "
                                           r"of torch.Size\(\[4\]\) and output\[0\] has a "
                                           r"shape of torch.Size\(\[3\]\)"):
        fn(agx)
