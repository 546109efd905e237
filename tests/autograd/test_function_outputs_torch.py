"""What a custom ``autograd.Function`` returns, against torch: its views (an in-place change
of one is refused, as it would bypass the Function's backward, unless the Function declares
itself a pure view), its node's one slot per output, complex outputs, ``once_differentiable``
under create_graph, and the vmap attributes."""

import warnings

import numpy as np
import pytest

import autogradx as agx
from torch_compare import as_torch_names_a_view, error_of

pytest.importorskip("torch")


def _functions(lib):
    class ViewOf(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x[1:]

        @staticmethod
        def backward(ctx, g):
            return lib.cat([g.new_zeros(1), g])

    class Halves(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x[:2], x[2:]

        @staticmethod
        def backward(ctx, g1, g2):
            return lib.cat([g1, g2])

    class NonDiffView(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            v = x[:2]
            ctx.mark_non_differentiable(v)
            return v

        @staticmethod
        def backward(ctx, g):
            return None

    return ViewOf, Halves, NonDiffView


def _in_place_on_output(lib, case):
    ViewOf, Halves, NonDiffView = _functions(lib)
    x = lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    if case == "view_output":
        ViewOf.apply(x * 1).add_(1)
    elif case == "input_without_grad":
        ViewOf.apply(lib.zeros(4, dtype=lib.float64)).add_(x[1:])
    elif case == "under_no_grad":
        with lib.no_grad():
            out = ViewOf.apply(x)
        out.zero_()
    elif case == "view_of_the_output":
        ViewOf.apply(x * 1)[0].add_(1)
    elif case == "several_outputs":
        Halves.apply(x * 1)[1].mul_(2)
    elif case == "non_differentiable_output":
        NonDiffView.apply(x * 1).add_(1)
    elif case == "base_changed":
        y = x * 1
        out = ViewOf.apply(y)
        y.mul_(2)
        out.grad_fn


@pytest.mark.parametrize("case", ["view_output", "input_without_grad", "under_no_grad",
                                  "view_of_the_output", "several_outputs",
                                  "non_differentiable_output", "base_changed"])
def test_in_place_on_a_functions_view_is_refused_as_torch_refuses_it(torch, case):
    theirs = error_of(lambda: _in_place_on_output(torch, case))
    ours = error_of(lambda: _in_place_on_output(agx, case))
    assert theirs is not None and theirs[0] == "RuntimeError"
    assert ours[0] == theirs[0]
    assert as_torch_names_a_view(ours[1]) == theirs[1]


def test_a_view_of_a_functions_output_made_without_grad_changes_in_place(torch):
    def run(lib):
        ViewOf = _functions(lib)[0]
        out = ViewOf.apply(lib.zeros(4, dtype=lib.float64))
        out.add_(1)             # nothing needs a gradient: allowed
        return out.tolist(), out._is_view(), out.requires_grad

    assert run(agx) == run(torch)


def _pure_view(lib, calls):
    class Narrow(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx._is_pure_view = True
            return a.narrow(0, 0, 2)

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return lib.cat([g, g.new_zeros(1)])

    return Narrow


@pytest.mark.parametrize("dtype", ["float64", "complex128"])
def test_a_pure_view_functions_output_changes_in_place_as_a_plain_view(torch, dtype):
    def run(lib):
        calls = []
        x = lib.tensor(np.array([1.0, 2.0, 3.0], dtype=dtype), requires_grad=True)
        a = x * 2
        t = _pure_view(lib, calls).apply(a)
        t += 3
        (t * t).sum().abs().backward()
        # The view's history is rebuilt from its base: the Function's backward is not run.
        return (x.grad.numpy().tolist(), len(calls), t.grad_fn.name(), a.grad_fn.name())

    assert run(agx) == run(torch)


def test_a_pure_view_function_takes_one_tensor_and_returns_one(torch):
    def run(lib):
        class Two(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                ctx._is_pure_view = True
                return a[:1]

            @staticmethod
            def backward(ctx, g):
                return g, None

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        return error_of(lambda: Two.apply(x, x))

    assert run(agx) == run(torch)


def _three_outputs(lib):
    class DoubleMul2(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, a, y):
            ctx.a = a
            return a * x * 2, a, a * y * 2

        @staticmethod
        def backward(ctx, g1, ga, g2):
            return ctx.a * g1 * 2, None, ctx.a * g2 * 2

    return DoubleMul2


def test_a_functions_node_keeps_a_slot_for_each_output(torch):
    def run(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        c, k, d = _three_outputs(lib).apply(a, 3, b)
        seen = []

        def prehook(grads):
            seen.append([None if g is None else g.tolist() for g in grads])
            return grads[0] * 2, None, grads[2] * 2

        c.grad_fn.register_prehook(prehook)
        (c + d * d).sum().backward()
        return k, c.output_nr, d.output_nr, seen, a.grad.tolist(), b.grad.tolist()

    assert run(agx) == run(torch)


def test_a_functions_complex_output_is_differentiable(torch):
    def run(lib):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, z):
                return z * 2j

            @staticmethod
            def backward(ctx, g):
                return g * -2j

        z = lib.tensor(np.array([1 + 1j, 2 - 1j]), requires_grad=True)
        out = Scale.apply(z)
        out.abs().sum().backward()
        return out.requires_grad, out.grad_fn.name(), z.grad.numpy().tolist()

    assert run(agx) == run(torch)


def _without_cycle_warning(run, lib):
    """``run(lib)``, where backward(create_graph=True) warns of the reference cycle it makes
    (torch once per process; tests/autograd/test_grad.py compares that warning)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Using backward\\(\\) with create_graph=True")
        return run(lib)


def _graph_desc(fn):
    """The node types of a graph, as the ported PyTorch tests print them."""
    if fn is None:
        return "None"
    inner = ", ".join(_graph_desc(n) for n, _ in fn.next_functions)
    return f"{type(fn).__name__}({inner})"


def _once_differentiable(lib):
    class MyFunction(lib.autograd.Function):
        @staticmethod
        def forward(ctx, t1, k, t2):
            ctx.k = k
            ctx.save_for_backward(t1, t2)
            return t1 + k * t2 + t1 * t2

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, g):
            t1, t2 = ctx.saved_tensors
            return g + g * t2, None, g * ctx.k + g * t1

    return MyFunction


@pytest.mark.parametrize("grad_output_requires_grad", [True, False])
def test_once_differentiable_under_create_graph(torch, grad_output_requires_grad):
    def run(lib):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        y = lib.tensor([[0.5, -1.0], [2.0, 0.0]], requires_grad=True)
        out = _once_differentiable(lib).apply(x, 2, y)
        go = lib.ones((), dtype=lib.float64, requires_grad=grad_output_requires_grad)
        out.sum().backward(go, create_graph=True)
        nodes = _graph_desc(x.grad.grad_fn)
        names = None if x.grad.grad_fn is None else [
            x.grad.grad_fn.name(), x.grad.grad_fn.next_functions[1][0].name()]
        twice = error_of(lambda: x.grad.sum().backward())
        return x.grad.tolist(), y.grad.tolist(), nodes, names, twice

    assert _without_cycle_warning(run, agx) == _without_cycle_warning(run, torch)


def test_create_graph_makes_grad_a_copy_recorded_as_torch_records_it(torch):
    def run(lib):
        z = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        gradient = lib.tensor([1.0, 1.0, 1.0], requires_grad=True)
        (z * z).backward(gradient, create_graph=True)
        first = (z.grad.grad_fn.name(), [n.name() for n, _ in z.grad.grad_fn.next_functions
                                         if n is not None])
        (z * z).backward(gradient, create_graph=True)      # accumulates: an add, no copy
        second = z.grad.grad_fn.name()
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        plain = lib.ones(2, dtype=lib.float64)
        (w * 2).backward(plain, create_graph=True)
        plain.add_(1)           # the gradient given is not .grad's memory
        z.grad.sum().backward()
        return first, second, w.grad.tolist(), w.grad.grad_fn, gradient.grad.tolist()

    assert _without_cycle_warning(run, agx) == _without_cycle_warning(run, torch)


def test_vmap_attributes_are_torchs(torch):
    def run(lib):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(x):
                return x ** 2

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(*inputs)

            @staticmethod
            def backward(ctx, g):
                return 2 * g * ctx.saved_tensors[0]

        return Square.generate_vmap_rule, error_of(lambda: Square.vmap(None, (0,), None))

    assert run(agx) == run(torch)
