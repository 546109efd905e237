"""Hooks as PyTorch orders them, run through autogradx and torch side by side:
``register_post_accumulate_grad_hook``, a leaf's tensor hooks before its AccumulateGrad
pre-hook, ``retain_grad()`` followed by an in-place op, and ``materialize_grads`` with
``create_graph``."""

import random
import warnings

import numpy as np
import pytest

import autogradx as agx
from helpers import backward_cycle_warning
from torch_compare import error_of

pytest.importorskip("torch")


def _leaf(lib, values=(1.0, 2.0)):
    return lib.tensor(list(values), requires_grad=True)


def _accumulator(loss):
    """The AccumulateGrad node of the leaf under ``(x * 2).sum()``."""
    return loss.grad_fn.next_functions[0][0].next_functions[0][0]


def _hook_order(lib):
    x = _leaf(lib)
    seen = []
    x.register_hook(lambda g: seen.append(("tensor hook", g.tolist())))
    loss = (x * 2).sum()
    acc = _accumulator(loss)
    acc.register_prehook(lambda gs: seen.append(("pre-hook", gs[0].tolist())))
    acc.register_hook(lambda gi, go: seen.append(("post-hook", go[0].tolist())))
    x.register_post_accumulate_grad_hook(
        lambda t: seen.append(("post-accumulate", t is x, t.grad.tolist())))
    loss.backward()
    return seen


def test_hooks_of_a_leaf_run_in_pytorchs_order(torch):
    assert _hook_order(agx) == _hook_order(torch)


def test_a_tensor_hooks_replacement_reaches_the_pre_hook_and_grad(torch):
    def run(lib):
        x = _leaf(lib)
        seen = []
        x.register_hook(lambda g: g * 10)
        loss = (x * 2).sum()
        _accumulator(loss).register_prehook(lambda gs: seen.append(gs[0].tolist()))
        loss.backward()
        return seen, x.grad.tolist()

    assert run(agx) == run(torch)


def _post_accumulate(lib, create_graph):
    x = _leaf(lib)
    seen = []
    handle = x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (x * x).sum().backward(create_graph=create_graph)
    (x * 3).sum().backward()                      # accumulates: the hook sees the sum
    handle.remove()
    (x * 3).sum().backward()                      # removed: not called again
    return seen, x.grad.tolist()


@pytest.mark.parametrize("create_graph", [False, True])
def test_post_accumulate_hook_sees_the_accumulated_grad(torch, create_graph):
    # Both warn of the reference cycle under create_graph (torch only once a process).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Using backward\\(\\) with create_graph=True")
        expected = _post_accumulate(torch, create_graph)
    with backward_cycle_warning(create_graph):
        assert _post_accumulate(agx, create_graph) == expected


def test_post_accumulate_hook_does_not_run_for_autograd_grad(torch):
    def run(lib):
        x = _leaf(lib)
        seen = []
        x.register_post_accumulate_grad_hook(lambda t: seen.append(1))
        lib.autograd.grad((x * 2).sum(), x)
        (x * 2).sum().backward(inputs=[x])
        return seen

    assert run(agx) == run(torch) == [1]


@pytest.mark.parametrize("case", ["non-leaf", "no-grad", "returns-int", "returns-tensor"])
def test_post_accumulate_hook_errors_are_pytorchs(torch, case):
    def run(lib):
        x = _leaf(lib)
        if case == "non-leaf":
            return error_of(lambda: (x * 2).register_post_accumulate_grad_hook(lambda t: None))
        if case == "no-grad":
            return error_of(lambda: lib.ones(2).register_post_accumulate_grad_hook(lambda t: None))
        result = 1 if case == "returns-int" else lib.ones(2)
        x.register_post_accumulate_grad_hook(lambda t: result)
        return error_of(lambda: (x * 2).sum().backward())

    got, expected = run(agx), run(torch)
    assert expected is not None and got == expected


def test_post_accumulate_hook_may_update_the_leaf_in_place(torch):
    """The optimizer-in-backward pattern PyTorch documents for this hook."""
    def run(lib):
        x = _leaf(lib, (1.0, -2.0, 3.0))

        def step(p):
            with lib.no_grad():
                p.sub_(0.1 * p.grad)
            p.grad = None

        x.register_post_accumulate_grad_hook(step)
        (x * x).sum().backward()
        (x * x).sum().backward()
        return x.detach().numpy().copy(), x.grad

    (got, got_grad), (expected, expected_grad) = run(agx), run(torch)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got_grad is None and expected_grad is None


# ------------------------------------------------------------ retain_grad and in place

def _retain_then_in_place(lib):
    a = _leaf(lib)
    b = a * 2
    seen = []
    b.register_hook(lambda g: seen.append(g.tolist()))   # before: stays with the old version
    b.retain_grad()
    b.mul_(3)
    (b * b).sum().backward()
    return b.grad.tolist(), seen, a.grad.tolist(), b.retains_grad


def test_retain_grad_follows_an_in_place_op(torch):
    assert _retain_then_in_place(agx) == _retain_then_in_place(torch)


def test_retain_grad_after_the_in_place_op(torch):
    def run(lib):
        a = _leaf(lib)
        b = a * 2
        b.add_(1)
        b.retain_grad()
        (b ** 2).sum().backward()
        return b.grad.tolist(), a.grad.tolist()

    assert run(agx) == run(torch)


# ------------------------------------------------------------------ materialize_grads

@pytest.mark.parametrize("create_graph", [False, True])
def test_materialize_grads_zeros_require_grad_under_create_graph(torch, create_graph):
    def run(lib):
        a, unused = _leaf(lib), _leaf(lib, (5.0,))
        ga, gu = lib.autograd.grad((a * a).sum(), [a, unused], create_graph=create_graph,
                                   materialize_grads=True)
        return ga.tolist(), ga.requires_grad, gu.tolist(), gu.requires_grad, gu.is_leaf

    assert run(agx) == run(torch)


def test_materialized_zeros_can_be_differentiated_again(torch):
    def run(lib):
        a, unused = _leaf(lib), _leaf(lib, (5.0,))
        _, gu = lib.autograd.grad((a * a).sum(), [a, unused], create_graph=True,
                                  materialize_grads=True)
        (ggu,) = lib.autograd.grad(gu.sum(), gu)
        return ggu.tolist()

    assert run(agx) == run(torch)


def test_materialize_grads_refuses_allow_unused_false(torch):
    def run(lib):
        a = _leaf(lib)
        return error_of(lambda: lib.autograd.grad((a * 2).sum(), a, allow_unused=False,
                                                materialize_grads=True))

    assert run(agx) == run(torch) != None  # noqa: E711


def _all_hooks_order(lib, post_hook_sets_grad):
    """A leaf's four kinds of hooks, each changing the gradient (PyTorch's
    test_post_accumulate_grad_hook_ordering): their order shows in ``.grad``."""
    x = _leaf(lib, (1.0, 1.0, 1.0))
    acc = x.view_as(x).grad_fn.next_functions[0][0]
    x.register_hook(lambda g: g.sub(2.0))
    acc.register_prehook(lambda gs: (gs[0].div(5.0),))
    x.register_post_accumulate_grad_hook(lambda t: [t.grad.add_(0.5)] and None)
    if post_hook_sets_grad:
        # The gradient the post-hook sees is the one .grad took (stolen, not copied).
        def post(grad_in, grad_out):
            x.grad = grad_out[0].mul(10)
    else:
        def post(grad_in, grad_out):
            post.seen = grad_out[0].tolist()
    acc.register_hook(post)
    x.sum().backward()
    return x.grad.tolist(), getattr(post, "seen", None)


@pytest.mark.parametrize("post_hook_sets_grad", [True, False])
def test_a_leafs_hooks_compose_in_pytorchs_order(torch, post_hook_sets_grad):
    assert _all_hooks_order(agx, post_hook_sets_grad) == _all_hooks_order(torch, post_hook_sets_grad)


def _node_order(lib, build):
    """The nodes of ``build(lib)``'s graph (each as its place in a walk from the root, and
    its name) in the order backward runs them."""
    order = []
    loss = build(lib)
    stack, seen = [loss.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        node.register_prehook(lambda gs, me=(len(seen), node.name()): order.append(me))
        stack.extend(n for n, _ in node.next_functions)
    loss.backward()
    return order


def _branches(lib):
    # Nodes made later run first among those ready at once; accumulators before all.
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.tensor([3.0, 4.0], requires_grad=True)
    a = x.exp()
    b = (y * 2).sin()
    c = x * y
    return (a + b * c + c.cos()).sum()


def _leaves_at_once(lib):
    # Several accumulators ready at once: PyTorch's priority queue decides between equals.
    xs = [lib.tensor([float(i)], requires_grad=True) for i in range(5)]
    return (lib.stack(xs) * lib.stack(xs[::-1])).sum()


@pytest.mark.parametrize("build", [_branches, _leaves_at_once])
def test_nodes_run_in_pytorchs_order(torch, build):
    assert _node_order(agx, build) == _node_order(torch, build)


def _created_first_runs_last(lib):
    """PyTorch's test_pynode_destruction_deadlock: the Function node, made first, runs after
    PowBackward0, whose saved input was changed in place: its error comes first."""
    class Foo(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            raise AssertionError("Foo's backward ran first")

    inp = lib.ones(2, requires_grad=True)
    right = Foo.apply(inp)
    left1 = inp.clone()
    left2 = left1 ** 2
    left1 += 1
    error = error_of(lambda: (left2 + right).sum().backward())
    return error[0], error[1].split(":")[0]


def test_the_node_made_last_runs_first(torch):
    assert _created_first_runs_last(agx) == _created_first_runs_last(torch)


def test_a_nodes_sequence_nr_follows_creation_order(torch):
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        a = x * 2
        b = a.exp()
        acc = a.grad_fn.next_functions[0][0]
        return (b.grad_fn._sequence_nr() > a.grad_fn._sequence_nr(),
                acc._sequence_nr() == 2 ** 63 - 1 if lib is agx else acc._sequence_nr() == 2 ** 64 - 1)

    assert run(agx) == run(torch) == (True, True)


def _random_graph(lib, seed):
    """A small random graph of unary and binary ops over 1 to 4 leaves, and its loss."""
    rng = random.Random(seed)
    leaves = [lib.tensor([0.1 * i, 0.5], requires_grad=True) for i in range(rng.randint(1, 4))]
    values = list(leaves)
    for _ in range(rng.randint(1, 12)):
        a, b = rng.choice(values), rng.choice(values)
        values.append(rng.choice([lambda: a.sin(), lambda: a * b, lambda: a + b,
                                  lambda: a.tanh()])())
    made = values[len(leaves):]
    return sum(r.sum() for r in rng.sample(made, rng.randint(1, min(2, len(made)))))


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_run_their_nodes_in_pytorchs_order(torch, seed):
    def run(lib):
        return _node_order(lib, lambda lib: _random_graph(lib, seed))

    assert run(agx) == run(torch)
