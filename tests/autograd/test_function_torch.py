"""``autograd.Function`` in PyTorch's other forms, run through autogradx and torch side by
side: ``forward`` without ctx and a separate ``setup_context``, classmethods, ``vjp`` as the
name of backward, in-place Functions (``mark_dirty``) and ``save_for_forward``."""

import numpy as np
import pytest

import autogradx as agx
from autogradx.testing import gradcheck
from torch_compare import error_of

pytest.importorskip("torch")


def _scaled_square(lib):
    class ScaledSquare(lib.autograd.Function):
        @staticmethod
        def forward(x, k=2.0):
            return x ** 2 * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, k = inputs
            ctx.seen = (len(inputs), k, lib.is_grad_enabled(), output.requires_grad)
            ctx.save_for_backward(x)
            ctx.k = k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * ctx.k * x * g, None

    return ScaledSquare


@pytest.mark.parametrize("call", [(), (3.0,), "k=3.0"])
def test_setup_context_gets_the_inputs_with_defaults_and_the_output(torch, call):
    def run(lib):
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        fn = _scaled_square(lib)
        y = fn.apply(x, k=3.0) if call == "k=3.0" else fn.apply(x, *call)
        y.sum().backward()
        return y.tolist(), y.grad_fn.seen, x.grad.tolist(), y.grad_fn.name()

    assert run(agx) == run(torch)


def test_setup_context_function_passes_gradcheck():
    x = agx.tensor(np.array([0.5, -1.5, 2.0]), requires_grad=True)
    assert gradcheck(_scaled_square(agx).apply, (x, 1.5))


def test_setup_context_runs_without_grad_too(torch):
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with lib.no_grad():
            y = _scaled_square(lib).apply(x)
        return y.tolist(), y.requires_grad

    assert run(agx) == run(torch)


def test_classmethods_and_mark_non_differentiable_in_setup_context(torch):
    def run(lib):
        class Twice(lib.autograd.Function):
            @classmethod
            def forward(cls, x):
                return x * 2, (x > 0).to(x.dtype)

            @classmethod
            def setup_context(cls, ctx, inputs, output):
                ctx.mark_non_differentiable(output[1])

            @classmethod
            def backward(cls, ctx, g, g_mask):
                return g * 2

        x = lib.tensor([1.0, -2.0], requires_grad=True)
        y, mask = Twice.apply(x)
        y.sum().backward()
        return y.requires_grad, mask.requires_grad, x.grad.tolist()

    assert run(agx) == run(torch)


def test_forward_without_ctx_needs_setup_context(torch):
    def run(lib):
        class NoSetup(lib.autograd.Function):
            @staticmethod
            def forward(x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g

        return error_of(lambda: NoSetup.apply(lib.ones(2, requires_grad=True)))

    got, expected = run(agx), run(torch)
    assert got == expected and expected[0] == "TypeError"


def _tripled(lib, define_backward_too):
    class Triple(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def vjp(ctx, g):
            return g * 3

    if define_backward_too:
        Triple.backward = staticmethod(lambda ctx, g: g)
    return Triple


@pytest.mark.parametrize("both", [False, True])
def test_vjp_is_the_other_name_of_backward(torch, both):
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        y = _tripled(lib, both).apply(x).sum()
        return error_of(y.backward), None if x.grad is None else x.grad.tolist()

    assert run(agx) == run(torch)


def _add_in_place(lib, save_output):
    class AddInPlace(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            x.add_(y)
            ctx.mark_dirty(x)
            if save_output:
                ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            if save_output:
                (x,) = ctx.saved_tensors
                return g * x, g * 2
            return g, g * 2

    return AddInPlace


@pytest.mark.parametrize("save_output", [False, True])
def test_mark_dirty_continues_the_inputs_history(torch, save_output):
    def run(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = a * 1
        y = lib.ones(2, requires_grad=True)
        v = b._version
        out = _add_in_place(lib, save_output).apply(b, y)
        out.sum().backward()
        return (out is b, b._version - v, b.is_leaf, b.grad_fn.name(),
                a.grad.tolist(), y.grad.tolist())

    assert run(agx) == run(torch)


@pytest.mark.parametrize("case", ["leaf requiring grad", "not returned", "leaf", "no grad"])
def test_mark_dirty_cases(torch, case):
    def run(lib):
        y = lib.ones(2, requires_grad=True)
        fn = _add_in_place(lib, False)
        if case == "leaf requiring grad":
            return error_of(lambda: fn.apply(lib.ones(2, requires_grad=True), y))
        if case == "not returned":
            class Hidden(lib.autograd.Function):
                @staticmethod
                def forward(ctx, x, y):
                    x.add_(y)
                    ctx.mark_dirty(x)
                    return y * 1

            return error_of(lambda: Hidden.apply(lib.ones(2), y))
        c = lib.ones(2)
        v = c._version
        if case == "leaf":
            out = fn.apply(c, y)
        else:
            with lib.no_grad():
                out = fn.apply(c, y)
        return out is c, c._version - v, c.requires_grad, c.is_leaf, c.tolist()

    assert run(agx) == run(torch)


def test_save_for_forward_is_accepted(torch):
    def run(lib, saved):
        class SavesForForward(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_forward(*saved(x))
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2

        x = lib.ones(2, requires_grad=True)
        return error_of(lambda: SavesForForward.apply(x).sum().backward()), x.grad

    got, expected = run(agx, lambda x: (x, None)), run(torch, lambda x: (x, None))
    assert got[0] is expected[0] is None and got[1].tolist() == expected[1].tolist()
    assert run(agx, lambda x: (3,))[0] == run(torch, lambda x: (3,))[0]


def _saving_function(lib, **attributes):
    class MyFn(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2

    for name, value in attributes.items():
        setattr(MyFn, name, value)
    return MyFn


def test_a_functions_node_class_is_named_after_it(torch):
    def names(lib):
        fn = _saving_function(lib)
        y = fn.apply(lib.ones(2, requires_grad=True))
        return type(y.grad_fn).__name__, y.grad_fn.name(), type(y.grad_fn) is fn._backward_cls

    assert names(agx) == names(torch) == ("MyFnBackward", "MyFnBackward", True)


def test_a_ctx_kept_past_its_graph_still_gives_saved_tensors_as_torch_213(torch):
    """PyTorch's test_naughty_autograd_function_stashing_ctx expects a RuntimeError here; the
    torch this project follows (2.13) gives the tensors, and so does autogradx."""
    def run(lib):
        kept = []

        class Id(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x

            @staticmethod
            def backward(ctx, g):
                kept.append(ctx)
                return ctx.saved_tensors

        p = lib.zeros(1, requires_grad=True)
        y = Id.apply(p)
        y.backward(retain_graph=True)
        del y
        return error_of(lambda: kept[0].saved_tensors), len(kept[0].saved_tensors)

    assert run(agx) == run(torch) == (None, 1)


def test_clear_saved_tensors_on_access_frees_them_on_the_first_access(torch):
    import weakref

    def run(lib):
        freed = []

        class MyFn(lib.autograd.Function):
            clear_saved_tensors_on_access = True

            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.clone()

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                ref = weakref.ref(x)
                del x
                freed.append(ref() is None)
                return g

        MyFn.apply(lib.ones(3, requires_grad=True).clone()).sum().backward()
        return freed

    assert run(agx) == run(torch) == [True]


def test_clear_saved_tensors_on_access_refuses_a_second_access(torch):
    def run(lib):
        class MyFn(lib.autograd.Function):
            clear_saved_tensors_on_access = True

            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.clone()

            @staticmethod
            def backward(ctx, g):
                ctx.saved_tensors
                ctx.saved_tensors
                return g

        return error_of(lambda: MyFn.apply(lib.ones(3, requires_grad=True)).sum().backward())

    assert run(agx) == run(torch) is not None


@pytest.mark.parametrize("inplace", [False, True])
def test_a_view_output_changed_inside_forward_keeps_the_functions_node(torch, inplace):
    def run(lib):
        class MyFn(lib.autograd.Function):
            @staticmethod
            def forward(ctx, inp):
                view = inp.clone()[:3]
                if inplace:
                    view += 2
                return view

            @staticmethod
            def backward(ctx, grad):
                return lib.cat([grad, lib.zeros(7, dtype=grad.dtype)])

        base = lib.arange(10, dtype=lib.float64).requires_grad_()
        out = MyFn.apply(base)
        name = type(out.grad_fn).__name__
        (out * out).sum().backward()
        return name, base.grad.tolist()

    assert run(agx) == run(torch)


def test_complex_outputs_are_differentiable_as_in_torch():
    """A Function's complex output takes part in backward (it was left out: only floating
    point outputs were recorded)."""
    import torch

    def run(lib):
        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, z):
                ctx.save_for_backward(z)
                return z * z

            @staticmethod
            def backward(ctx, g):
                (z,) = ctx.saved_tensors
                return g * 2 * z.conj()

        z = lib.tensor(np.array([1 + 2j, -0.5 + 1j]), requires_grad=True)
        y = Square.apply(z)
        (y.abs() ** 2).sum().backward()
        return y.requires_grad, z.grad.numpy()

    (ours_rg, ours), (theirs_rg, theirs) = run(agx), run(torch)
    assert ours_rg is theirs_rg is True
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
