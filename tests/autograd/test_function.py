"""autograd.Function: custom forward/backward pairs, their ctx, and the errors they meet.

The scenarios are written once over a library ``lib`` (autogradx, or torch in
the torch-marked section) so that both run the same code.
"""

import importlib.util
import pathlib

import numpy as np
import pytest

import autogradx as agx
from autogradx.autograd import once_differentiable
from autogradx.testing import gradcheck, gradgradcheck
from helpers import backward_cycle_warning, close
from helpers import float_tensor as t

grad = agx.autograd.grad
LEGENDRE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "legendre_function.py"


def load_legendre():
    spec = importlib.util.spec_from_file_location("legendre_function", LEGENDRE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


P3 = load_legendre().LegendrePolynomial3


X = [0.5, -1.5, 2.0]


# ------------------------------------------------------------------ Functions over a library

def functions(lib):
    """The test Functions, built on ``lib.autograd.Function``."""

    class MulAdd(lib.autograd.Function):
        """Two inputs, two outputs: (a * b, a + 2 b)."""

        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b, a + 2 * b

        @staticmethod
        def backward(ctx, g_prod, g_sum):
            a, b = ctx.saved_tensors
            return g_prod * b + g_sum, g_prod * a + 2 * g_sum

    class Scale(lib.autograd.Function):
        """Non-tensor arguments: a number, a string and None pass through forward."""

        @staticmethod
        def forward(ctx, x, factor, mode, nothing):
            assert nothing is None
            ctx.factor = factor
            return x * factor if mode == "mul" else x / factor

        @staticmethod
        def backward(ctx, g):
            return g * ctx.factor, None, None, None

    class Needs(lib.autograd.Function):
        """Records ``needs_input_grad`` and computes only the gradients that are needed."""

        seen = []

        @staticmethod
        def forward(ctx, a, b, k):
            Needs.seen.append(ctx.needs_input_grad)
            ctx.save_for_backward(a, b)
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ga = g * b * 2.0 if ctx.needs_input_grad[0] else None
            gb = g * a * 2.0 if ctx.needs_input_grad[1] else None
            return ga, gb, None

    class SortIndex(lib.autograd.Function):
        """A non-differentiable integer output and a float one marked non-differentiable."""

        received = []

        @staticmethod
        def forward(ctx, x):
            doubled = x * 2
            ctx.mark_non_differentiable(doubled)
            return x.argmax(), x * 3, doubled

        @staticmethod
        def backward(ctx, g_index, g_values, g_doubled):
            SortIndex.received.append((g_index, g_doubled))
            return g_values * 3

    class Split(lib.autograd.Function):
        """Two outputs; with materialize_grads off, backward sees None for unused ones."""

        received = []

        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            Split.received.append((g1, g2))
            total = None
            for g, k in ((g1, 1), (g2, 2)):
                if g is not None:
                    total = g * k if total is None else total + g * k
            return total, None

    class Exp(lib.autograd.Function):
        """Saves its output; differentiable backward."""

        @staticmethod
        def forward(ctx, x):
            out = x.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out

    return MulAdd, Scale, Needs, SortIndex, Split, Exp


MulAdd, Scale, Needs, SortIndex, Split, Exp = functions(agx)


# ------------------------------------------------------------------ the Legendre example

def test_legendre_values_and_gradients():
    x = t(X)
    y = P3.apply(x)
    xs = np.array(X)
    close(y, 0.5 * (5 * xs ** 3 - 3 * xs))
    assert y.grad_fn.name() == "LegendrePolynomial3Backward"
    y.sum().backward()
    close(x.grad, 1.5 * (5 * xs ** 2 - 1))


def test_legendre_gradcheck_and_gradgradcheck():
    x = t(X)
    assert gradcheck(P3.apply, (x,))
    assert gradgradcheck(P3.apply, (x,))     # its backward is made of recorded ops


def test_legendre_second_derivative():
    x = t(X)
    (g,) = grad(P3.apply(x).sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    close(h, 15 * np.array(X))


# ------------------------------------------------------------------ inputs and outputs

def test_several_inputs_and_outputs():
    a, b = t(X), t([1.0, 2.0, 3.0])
    prod, total = MulAdd.apply(a, b)
    close(prod, np.array(X) * [1, 2, 3])
    assert prod.grad_fn is total.grad_fn and prod.grad_fn.name() == "MulAddBackward"
    (prod.sum() + 10 * total.sum()).backward()
    close(a.grad, np.array([1, 2, 3]) + 10)
    close(b.grad, np.array(X) + 20)


def test_only_one_output_used_gets_zeros_for_the_other():
    a, b = t(X), t([1.0, 2.0, 3.0])
    prod, _ = MulAdd.apply(a, b)
    prod.sum().backward()
    close(a.grad, [1, 2, 3])
    close(b.grad, X)


def test_next_functions_follow_the_inputs():
    a, b = t(X), t([1.0, 2.0, 3.0], requires_grad=False)
    prod, _ = MulAdd.apply(a * 1, b)
    (first, _), (second, _) = prod.grad_fn.next_functions
    assert first.name() == "MulBackward0" and second is None


def test_non_tensor_arguments():
    x = t(X)
    y = Scale.apply(x, 2.5, "mul", None)
    close(y, np.array(X) * 2.5)
    y.sum().backward()
    close(x.grad, [2.5, 2.5, 2.5])


def test_gradient_for_a_non_tensor_argument_is_an_error():
    class Bad(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * 2, g

    with pytest.raises(RuntimeError, match="function BadBackward returned a gradient different "
                                           "than None at position 2, but the corresponding "
                                           "forward input was not a Variable"):
        Bad.apply(t(X), 3.0).sum().backward()


def test_none_gradient_leaves_the_input_without_grad():
    class FirstOnly(agx.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return None, g

    a, b = t(X), t(X)
    FirstOnly.apply(a, b).sum().backward()
    assert a.grad is None
    close(b.grad, [1, 1, 1])


def test_needs_input_grad():
    a, b = t(X), t(X, requires_grad=False)
    Needs.seen.clear()
    y = Needs.apply(a, b, 3)
    assert Needs.seen == [(True, False, False)]
    y.sum().backward()
    close(a.grad, np.array(X) * 2.0)


def test_no_node_without_inputs_that_require_grad():
    y = Needs.apply(t(X, requires_grad=False), t(X, requires_grad=False), 1)
    assert y.grad_fn is None and not y.requires_grad
    with agx.no_grad():
        y = Needs.apply(t(X), t(X), 1)
    assert y.grad_fn is None and not y.requires_grad


def test_mark_non_differentiable_and_integer_outputs():
    x = t(X)
    SortIndex.received.clear()
    index, values, doubled = SortIndex.apply(x)
    assert index.item() == 2 and index.dtype == agx.int64
    assert not index.requires_grad and not doubled.requires_grad
    assert values.requires_grad
    (values.sum() + doubled.sum()).backward()
    close(x.grad, [3, 3, 3])
    ((g_index, g_doubled),) = SortIndex.received
    # as in PyTorch, backward sees zeros for outputs that cannot have a gradient
    assert g_index.shape == () and g_index.item() == 0
    close(g_doubled, [0, 0, 0])


def test_materialize_grads_default_gives_zeros():
    x = t(X)
    Split.received.clear()
    first, _ = Split.apply(x, True)
    first.sum().backward()
    ((g1, g2),) = Split.received
    close(g1, [1, 1, 1])
    close(g2, [0, 0, 0])
    close(x.grad, [1, 1, 1])


def test_materialize_grads_false_gives_none():
    x = t(X)
    Split.received.clear()
    _, second = Split.apply(x, False)
    second.sum().backward()
    ((g1, g2),) = Split.received
    assert g1 is None
    close(g2, [1, 1, 1])
    close(x.grad, [2, 2, 2])


def test_returning_an_input_gives_a_new_tensor():
    class Identity(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    x = t(X)
    y = Identity.apply(x)
    assert y is not x and y.grad_fn is not None and x.is_leaf
    y.sum().backward()
    close(x.grad, [5, 5, 5])


def test_gradient_dtype_and_broadcast_shape_are_conformed():
    class Loose(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return agx.ones(4, 3, dtype=agx.float64)     # broadcast shape, other dtype

    x = t(X, dtype=agx.float32)
    Loose.apply(x).sum().backward()
    assert x.grad.dtype == agx.float32
    close(x.grad, [4, 4, 4])


# ------------------------------------------------------------------ errors

def _returning(result):
    class Returns(agx.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            return xs[0] * 2

        @staticmethod
        def backward(ctx, g):
            return result(g)

    Returns.__name__ = "Returns"
    return Returns


@pytest.mark.parametrize("result, n_inputs, message", [
    pytest.param(lambda g: (g, g, g), 2, r"function ReturnsBackward returned an incorrect "
                 r"number of gradients \(expected 2, got 3\)", id="too-many"),
    pytest.param(lambda g: g, 2, r"function ReturnsBackward returned an incorrect number of "
                 r"gradients \(expected 2, got 1\)", id="too-few"),
    pytest.param(lambda g: agx.ones(4, dtype=agx.float64), 1,
                 r"Function ReturnsBackward returned an invalid gradient at index 0 - got \[4\] "
                 r"but expected shape compatible with \[3\]", id="wrong-shape"),
    pytest.param(lambda g: 3.0, 1, r"function ReturnsBackward returned a float as gradient 0",
                 id="not-a-tensor"),
])
def test_bad_backward_results_name_the_function(result, n_inputs, message):
    fn = _returning(result)
    xs = [t(X) for _ in range(n_inputs)]
    for x in xs:
        x.grad = agx.full((3,), 7.0, dtype=agx.float64)
    with pytest.raises(RuntimeError, match=message):
        fn.apply(*xs).sum().backward()
    for x in xs:
        close(x.grad, [7, 7, 7])           # nothing accumulated


def _holding(data):
    """A tensor whose storage was replaced by ``data`` (user code can set ``_data``)."""
    out = agx.ones(1)
    out._data = data
    return out


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("data", [lambda g: np.asmatrix(g), lambda g: np.ma.masked_array(g)],
                         ids=["matrix", "masked"])
@pytest.mark.parametrize("create_graph", [False, True], ids=["", "create_graph"])
def test_a_gradient_holding_an_array_subclass_is_refused(data, create_graph):
    # It would reach .grad, where arithmetic on a matrix or a masked array means another thing.
    fn = _returning(lambda g: _holding(data(np.asarray(g._data))))
    x = t(X)
    with pytest.raises(TypeError, match=r"ReturnsBackward returned a numpy.(matrix|ma.MaskedArray) "
                                        r"as gradient 0, expected an array"), \
            backward_cycle_warning(create_graph):
        fn.apply(x).sum().backward(create_graph=create_graph)
    assert x.grad is None


def test_second_backward_through_a_function_raises():
    x = t(X)
    y = Exp.apply(x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.sum().backward()


def test_saved_tensors_after_backward_raise():
    x = t(X)
    kept = []

    class Keep(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            kept.append(ctx)
            ctx.save_for_backward(x)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g

    Keep.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match="Specify retain_graph=True"):
        kept[0].saved_tensors


def test_saved_tensors_survive_retain_graph():
    x = t(X)
    y = Exp.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    close(x.grad, 2 * np.exp(X))


def test_grad_fn_is_the_ctx():
    x = t(X)
    y = Exp.apply(x)
    close(y.grad_fn.saved_tensors[0], np.exp(X))


def test_in_place_change_of_a_saved_tensor_is_detected():
    x = t(X)
    h = x * 1
    y = MulAdd.apply(h, t([1.0, 2.0, 3.0]))[0]
    h.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: "
                                           r"\[torch.DoubleTensor \[3\]\], which is output 0 of "
                                           r"AddBackward0, is at version 1; expected version 0 "
                                           r"instead. Hint: MulAddBackward saved it"):
        y.sum().backward()
    assert x.grad is None


def test_save_for_backward_takes_tensors_only():
    class SavesNumber(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 1

    with pytest.raises(TypeError, match="save_for_backward can only save tensors or None, got int"):
        SavesNumber.apply(t(X))


def test_forward_error_propagates_and_restores_grad_mode():
    class Fails(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            assert not agx.is_grad_enabled()          # forward runs without recording
            raise ValueError("forward failed")

    with pytest.raises(ValueError, match="forward failed"):
        Fails.apply(t(X))
    assert agx.is_grad_enabled()


def test_backward_error_propagates_and_restores_grad_mode():
    class Fails(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("backward failed")

    x = t(X)
    with pytest.raises(ValueError, match="backward failed"):
        Fails.apply(x).sum().backward()
    assert agx.is_grad_enabled() and x.grad is None


def test_missing_forward_or_backward():
    class NoBackward(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

    with pytest.raises(NotImplementedError, match="backward"):
        NoBackward.apply(t(X)).sum().backward()
    with pytest.raises(NotImplementedError, match="forward"):
        agx.autograd.Function.apply(t(X))


@pytest.mark.torch
def test_missing_forward_or_backward_messages_are_torchs(torch):
    messages = []
    for lib in (agx, torch):
        class NoBackward(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 1

        class NoForward(lib.autograd.Function):
            @staticmethod
            def backward(ctx, g):
                return g

        x = lib.tensor(X, requires_grad=True)
        for call in (lambda: NoBackward.apply(x).sum().backward(), lambda: NoForward.apply(x)):
            with pytest.raises(NotImplementedError) as info:
                call()
            messages.append(str(info.value))
    assert messages[:2] == messages[2:]


# ------------------------------------------------------------------ gradients of gradients

def test_grad_of_grad_through_a_saved_output():
    x = t(X)
    (g,) = grad(Exp.apply(x).sum(), x, create_graph=True)
    close(g, np.exp(X))
    (h,) = grad(g.sum(), x)
    close(h, np.exp(X))


def test_gradgradcheck_of_a_two_output_function():
    a, b = t(X), t([1.0, 2.0, 3.0])
    assert gradgradcheck(MulAdd.apply, (a, b))


def test_backward_runs_with_grad_mode_of_create_graph():
    modes = []

    class Probe(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            modes.append(agx.is_grad_enabled())
            return g

    x = t(X)
    grad(Probe.apply(x).sum(), x)
    grad(Probe.apply(x).sum(), x, create_graph=True)
    assert modes == [False, True]


def test_once_differentiable_backward_is_not_recorded():
    class Square(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            assert not agx.is_grad_enabled()
            (x,) = ctx.saved_tensors
            return 2 * g * x

    x = t(X)
    (g,) = grad(Square.apply(x).sum(), x, create_graph=True)
    close(g, 2 * np.array(X))
    assert not g.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad(g.sum(), x)


# ------------------------------------------------------------------ against torch
# (the ``torch`` fixture is in conftest.py)


def scenario(lib, create_graph=False):
    """Run every Function on fixed inputs; return the outputs and gradients as arrays."""
    MulAdd_, Scale_, Needs_, SortIndex_, Split_, Exp_ = functions(lib)
    f64 = lib.float64
    a = lib.tensor(np.array(X), dtype=f64, requires_grad=True)
    b = lib.tensor(np.array([1.0, 2.0, 3.0]), dtype=f64, requires_grad=True)
    prod, total = MulAdd_.apply(a * 1.5, b)
    scaled = Scale_.apply(prod, 0.5, "div", None)
    need = Needs_.apply(total, b.detach(), 2)
    _, values, doubled = SortIndex_.apply(scaled)
    first, second = Split_.apply(values, False)
    e = Exp_.apply(first * 0.1)
    loss = (e * second).sum() + need.sum() + doubled.sum()
    ga, gb = lib.autograd.grad(loss, (a, b), create_graph=create_graph)
    out = [loss, ga, gb]
    if create_graph:
        out += list(lib.autograd.grad((ga * ga).sum() + gb.sum(), (a, b)))
    return [o.detach().numpy() for o in out]


@pytest.mark.torch
@pytest.mark.parametrize("create_graph", [False, True], ids=["first-order", "second-order"])
def test_functions_match_torch(torch, create_graph):
    ours, theirs = scenario(agx, create_graph), scenario(torch, create_graph)
    assert len(ours) == len(theirs)
    for o, r in zip(ours, theirs):
        np.testing.assert_allclose(o, r, rtol=1e-12, atol=1e-12)


@pytest.mark.torch
def test_legendre_training_matches_torch_autograd(torch):
    """The custom Function trains exactly like torch's built-in autograd of the same
    polynomial (same init, 200 steps, float32)."""
    steps, lr = 200, 5e-6

    def train(lib, p3):
        x = lib.linspace(-np.pi, np.pi, 2000, dtype=lib.float32)
        y = lib.sin(x)
        params = [lib.full((), v, dtype=lib.float32, requires_grad=True)
                  for v in (0.0, -1.0, 0.0, 0.3)]
        losses = []
        for _ in range(steps):
            a, b, c, d = params
            loss = (a + b * p3(c + d * x) - y).pow(2).sum()
            losses.append(loss.item())
            loss.backward()
            with lib.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad = None
        return np.array(losses)

    ours = train(agx, P3.apply)
    theirs = train(torch, lambda z: 0.5 * (5 * z ** 3 - 3 * z))
    np.testing.assert_allclose(ours, theirs, rtol=2e-5)
    assert ours[-1] < ours[0] / 3


def legacy_calls(lib):
    """What PyTorch's old Function protocols give: the error of calling an instance, and
    the warning and tensors of ``ctx.saved_variables``."""
    import warnings

    class Identity(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_variables
            return g * x

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch warns on instantiation
        instance = Identity()
    try:
        instance(x)
    except RuntimeError as e:
        error = str(e)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Identity.apply(x).sum().backward()
    return error, [(w.category, str(w.message)) for w in caught], x.grad.tolist()


@pytest.mark.torch
def test_legacy_calls_match_torch(torch):
    error, warned, grad_ = legacy_calls(agx)
    assert (error, warned, grad_) == legacy_calls(torch)
    assert "non-static forward method is deprecated" in error
    assert warned == [(DeprecationWarning, "'saved_variables' is deprecated; use 'saved_tensors'")]
