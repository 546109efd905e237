"""``autograd.Function`` in PyTorch's other forms, run through autogradx and torch side by
side: ``forward`` without ctx and a separate ``setup_context``, classmethods, ``vjp`` as the
name of backward, in-place Functions (``mark_dirty``) and ``save_for_forward``."""

import numpy as np
import pytest

import autogradx as agx
from autogradx.testing import gradcheck
from torch_compare import as_torch_names_a_view, error_of

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


def _stashing_function(lib, kept):
    class Id(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            kept.append(ctx)
            return ctx.saved_tensors

    return Id


def test_a_ctx_kept_while_its_graph_lives_gives_its_saved_tensors(torch):
    def run(lib):
        kept = []
        p = lib.zeros(1, requires_grad=True)
        y = _stashing_function(lib, kept).apply(p)
        y.backward(retain_graph=True)
        return error_of(lambda: kept[0].saved_tensors), len(kept[0].saved_tensors)

    assert run(agx) == run(torch) == (None, 1)


def test_a_ctx_kept_past_its_graph_has_no_saved_tensors():
    # The ported test_naughty_autograd_function_stashing_ctx expects this RuntimeError (the
    # newer PyTorch); torch 2.13 still returns the tensors, so it is not compared here.
    kept = []
    p = agx.zeros(1, requires_grad=True)
    y = _stashing_function(agx, kept).apply(p)
    y.backward(retain_graph=True)
    del y
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        kept[0].saved_tensors


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


# -- mark_dirty on views, PyTorch's refusals, forward mode, saved outputs ------------------

def _scale_in_place(lib, view_at=0):
    """``x *= k`` in place, with ``x`` (marked dirty) the input at ``view_at``."""
    class ScaleInPlace(lib.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            x, k = args if view_at == 0 else args[::-1]
            x.mul_(k)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x, k)     # x: the output, on this Function's node
            return x

        @staticmethod
        def backward(ctx, g):
            y, k = ctx.saved_tensors
            grads = (g * k, (g * y / k).sum())
            return grads if view_at == 0 else grads[::-1]

    return ScaleInPlace


_VIEWS = {"slice": lambda b: b[1:, :2], "view_as": lambda b: b.view_as(b),
          "t": lambda b: b.t(), "diagonal": lambda b: b.diagonal()}


@pytest.mark.parametrize("view", sorted(_VIEWS))
@pytest.mark.parametrize("view_at", [0, 1])
def test_mark_dirty_on_a_view_rebases_its_base(torch, view, view_at):
    # PyTorch's CopySlices hands the view's region the gradient of the Function's input 0,
    # whatever the view's position; autogradx that of the view's input. torch runs the
    # view at input 0 both times, where its numbers are right.
    def run(lib, view_at):
        r = lib.tensor(np.arange(1.0, 10.0).reshape(3, 3), requires_grad=True)
        k = lib.tensor(3.0, dtype=lib.float64, requires_grad=True)
        base = r * 1
        v = _VIEWS[view](base)
        before = base._version
        args = (v, k) if view_at == 0 else (k, v)
        out = _scale_in_place(lib, view_at).apply(*args)
        names = out.grad_fn.name(), base.grad_fn.name()
        (base * lib.arange(9.0, dtype=lib.float64).reshape(3, 3)).sum().backward()
        return (out is v, names, base._version - before, base.tolist(), r.grad.tolist(),
                k.grad.item())

    assert run(agx, view_at) == run(torch, 0)


@pytest.mark.parametrize("view_at", [0, 1])
def test_mark_dirty_on_a_view_passes_gradcheck_and_gradgradcheck(view_at):
    from autogradx.testing import gradgradcheck

    def fn(r, k):
        base = r * 1
        args = (base[1:, :2], k) if view_at == 0 else (k, base[1:, :2])
        _scale_in_place(agx, view_at).apply(*args)
        return base * base

    r = agx.tensor(np.arange(1.0, 10.0).reshape(3, 3), requires_grad=True)
    k = agx.tensor(0.5, dtype=agx.float64, requires_grad=True)
    assert gradcheck(fn, (r, k))
    assert gradgradcheck(fn, (r, k))


def test_mark_dirty_on_a_view_of_a_base_without_grad_gives_it_a_history(torch):
    def run(lib):
        class AddInto(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                ctx.mark_dirty(a)
                return a.add_(b * 2)

            @staticmethod
            def backward(ctx, g):
                return g, g * 2

        x = lib.zeros(4)
        y = lib.ones(2, requires_grad=True)
        v = x[1:3]
        q = AddInto.apply(v, y)
        facts = (q is v, q.grad_fn.name(), x.grad_fn.name(), x.is_leaf, x.tolist())
        (x * lib.arange(4.0)).sum().backward()
        return facts, y.grad.tolist()

    assert run(agx) == run(torch)


def _adds_one(lib, returns=1, inside=None):
    """Adds 1 in place to its input (or, with ``inside``, to ``inside(input)``) and marks
    that dirty."""
    class AddsOne(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            if inside is not None:
                x = inside(x)
            x.add_(1)
            ctx.mark_dirty(x)
            return x if returns == 1 else (x, x * 2)

        @staticmethod
        def backward(ctx, *grads):
            return grads[0]

    return AddsOne


@pytest.mark.parametrize("case", ["view of a leaf", "multi-output view", "leaf",
                                  "view of an intermediate", "view and two outputs"])
def test_mark_dirty_refusals_are_pytorchs(torch, case):
    def run(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        if case == "view of a leaf":
            return error_of(lambda: _adds_one(lib).apply(a.view_as(a)))
        if case == "multi-output view":
            return error_of(lambda: _adds_one(lib).apply(a.split(1)[0]))
        if case == "leaf":
            return error_of(lambda: _adds_one(lib).apply(a))
        if case == "view of an intermediate":
            fn = _adds_one(lib, inside=lambda x: x.clone().view_as(x))
            return error_of(lambda: fn.apply(a * 1))
        return error_of(lambda: _adds_one(lib, returns=2).apply((a * 1)[:1]))

    expected = run(torch)
    got = run(agx)
    assert expected is not None and got is not None
    assert (got[0], as_torch_names_a_view(got[1])) == expected


def test_mark_dirty_of_a_tensor_not_an_input_warns_as_torch(torch):
    import warnings

    def run(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = _adds_one(lib, inside=lambda x: x * 1).apply(a)
        out.sum().backward()
        texts = [str(w.message).split(" (Triggered internally")[0] for w in caught]
        return texts, type(out.grad_fn).__name__, a.grad.tolist()

    assert run(agx) == run(torch)


@pytest.mark.parametrize("kind", ["saved output", "saved dirty input", "saved dirty view"])
def test_a_saved_output_is_freed_with_its_tensor(torch, kind):
    # No reference cycle through ctx: the tensor goes when its last reference does.
    import gc
    import weakref

    def run(lib):
        class Saves(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                if kind == "saved output":
                    x = x.exp()
                else:
                    x.mul_(2)
                    ctx.mark_dirty(x)
                ctx.save_for_backward(x)
                return x

            @staticmethod
            def backward(ctx, g):
                (y,) = ctx.saved_tensors
                return g * y

        def scope():
            x = lib.tensor([1.0, 2.0], requires_grad=True) * 1
            if kind == "saved dirty view":
                x = x[:1]
            return weakref.ref(Saves.apply(x))

        return scope()() is None

    gc.disable()
    try:
        assert run(agx) == run(torch) == True  # noqa: E712 (the results, compared as such)
    finally:
        gc.enable()


def test_a_saved_output_reads_back_on_the_functions_node(torch):
    def run(lib):
        class Exp(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x.exp()
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, g):
                (y,) = ctx.saved_tensors
                return g * y

        x = lib.tensor([0.5, 1.0], dtype=lib.float64, requires_grad=True)
        y = Exp.apply(x)
        (s,) = y.grad_fn.saved_tensors
        (gx,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (ggx,) = lib.autograd.grad(gx.sum(), x)
        y.mul_(2)
        return (s is y, s.grad_fn is y.grad_fn, s.tolist(), ggx.tolist(),
                error_of(lambda: y.grad_fn.saved_tensors)[1].split(", which")[0])

    assert run(agx) == run(torch)


# torch's forward AD loads its decompositions through torch.jit.script, which warns.
@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("jvp", ["in place", "out of place", "another tensor"])
def test_mark_dirty_under_forward_mode_as_torch(torch, jvp):
    def run(lib):
        fwAD = lib.autograd.forward_ad

        class Double(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2

            @staticmethod
            def jvp(ctx, t):
                if jvp == "in place":
                    return t.mul_(2)
                if jvp == "out of place":
                    return t * 2
                return t.clone().mul_(2)     # a new version, not the same tensor

        with fwAD.dual_level():
            tangent = lib.ones(2)
            dual = fwAD.make_dual(lib.tensor([1.0, 2.0]), tangent)
            failed = error_of(lambda: Double.apply(dual))
            if failed:
                return failed
            primal, t = fwAD.unpack_dual(dual)
            return t is tangent, t.tolist(), primal.tolist()

    assert run(agx) == run(torch)


def test_inplace_function_is_a_function_with_an_inplace_flag(torch):
    import warnings

    def run(lib):
        class AddInto(lib.autograd.function.InplaceFunction):
            @staticmethod
            def forward(ctx, a, b):
                ctx.mark_dirty(a)
                return a.add_(b), b + 2

            @staticmethod
            def backward(ctx, grad_a, grad_b):
                return grad_a, grad_a + grad_b

        x = lib.zeros(2, 2)
        y = lib.ones(2, 2, requires_grad=True)
        q, p = AddInto.apply(x, y)
        (q.sum() + p.sum()).backward()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)   # torch's on instantiation
            flags = (AddInto(inplace=True).inplace, AddInto().inplace)
        return (q is x, type(q.grad_fn) is AddInto._backward_cls, y.grad.tolist(), flags,
                error_of(lambda: lib.autograd.function.InplaceFunction.apply(x)))

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


def test_an_input_returned_as_is_and_marked_non_differentiable_needs_no_grad(torch):
    # The mark is looked up on what forward returned, not on the new tensor apply returns.
    def run(lib):
        class Same(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.mark_non_differentiable(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g

        x = lib.ones(2, requires_grad=True)
        y = Same.apply(x)
        return y.requires_grad, y is x, y.grad_fn is None, y.tolist()

    assert run(agx) == run(torch)
