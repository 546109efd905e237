"""autograd.grad, backward(inputs=...) and create_graph (gradients of gradients).

Analytic results first, then gradgradcheck over the op set (one line per op),
then the same computations against torch.autograd.
"""

import re
import warnings

import numpy as np
import pytest

import autogradx as agx
from autogradx.testing import gradgradcheck
from helpers import K, P, R, U, arr, backward_cycle_warning, close, error_in_child
from helpers import make_inputs
from helpers import float_tensor as t

F = agx.nn.functional
grad = agx.autograd.grad


X = [0.5, -1.5, 2.0]


# ------------------------------------------------------------------ grad: values

def test_single_output_single_input():
    x = t(X)
    (g,) = grad((3 * x ** 2).sum(), x)
    close(g, 6 * np.array(X))
    assert g.shape == x.shape and g.dtype == agx.float64
    assert not g.requires_grad and g.grad_fn is None


def test_returns_a_tuple_for_a_single_tensor_or_a_list():
    x = t(X)
    y = (x * x).sum()
    assert isinstance(grad(y, x, retain_graph=True), tuple)
    assert len(grad(y, [x])) == 1


def test_several_outputs_are_summed():
    x = t(X)
    g1, = grad([(x ** 2).sum(), x.exp().sum()], [x])
    close(g1, 2 * np.array(X) + np.exp(X))


def test_several_inputs():
    x, w = t(X), t([2.0, 3.0, -1.0])
    gx, gw = grad((x * w).sum() + (w ** 2).sum(), (x, w))
    close(gx, [2.0, 3.0, -1.0])
    close(gw, np.array(X) + 2 * np.array([2.0, 3.0, -1.0]))


def test_grad_outputs_weight_non_scalar_outputs():
    x = t(X)
    v = t([1.0, 10.0, 100.0], requires_grad=False)
    (g,) = grad(x ** 2, x, grad_outputs=v)
    close(g, 2 * np.array(X) * [1, 10, 100])


def test_grad_outputs_per_output():
    x = t(X)
    y1, y2 = x * 2, x ** 3
    gx, = grad([y1, y2], [x], [agx.ones(3, dtype=agx.float64), agx.full((3,), 2.0, dtype=agx.float64)])
    close(gx, 2 + 2 * 3 * np.array(X) ** 2)


def test_grad_output_dtype_is_cast_to_the_outputs():
    x = t(X)
    (g,) = grad(x * 3, x, grad_outputs=agx.ones(3, dtype=agx.float32))
    assert g.dtype == agx.float64
    close(g, [3.0, 3.0, 3.0])


def test_non_leaf_inputs():
    x = t(X)
    h = x * 2
    y = (h ** 3).sum()
    gh, gx = grad(y, (h, x))
    close(gh, 3 * (2 * np.array(X)) ** 2)
    close(gx, 2 * 3 * (2 * np.array(X)) ** 2)


def test_grad_of_an_output_with_respect_to_itself():
    x = t(X)
    y = x * 2
    (g,) = grad(y, y, agx.full((3,), 5.0, dtype=agx.float64))
    close(g, [5.0, 5.0, 5.0])


def test_the_same_input_twice():
    x = t(X)
    g1, g2 = grad((x ** 2).sum(), [x, x])
    close(g1, 2 * np.array(X))
    close(g2, 2 * np.array(X))


def test_leaves_grad_is_left_alone():
    x, w = t(X), t([1.0, 2.0, 3.0])
    x.grad = agx.full((3,), 7.0, dtype=agx.float64)
    before = x.grad
    h = x * w
    h.retain_grad()
    grad((h ** 2).sum(), x)
    assert x.grad is before
    close(x.grad, [7.0, 7.0, 7.0])
    assert w.grad is None             # w is in the graph but not asked for


def test_only_the_nodes_leading_to_the_inputs_run():
    class Explodes(agx.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 1.0

        @staticmethod
        def backward(ctx, g):
            raise AssertionError("a node off the path to the inputs ran")

    x, w = t(X), t(X)
    y = (x * 2).sum() + Explodes.apply(w).sum()
    (g,) = grad(y, x)
    close(g, [2.0, 2.0, 2.0])


# ------------------------------------------------------------------ grad: unused and errors

def test_unused_input_is_an_error_naming_its_index():
    x, z = t(X), t([1.0])
    with pytest.raises(RuntimeError, match=r"Tensor at index 1 appears to not have been used "
                                           r"in the graph\. Set allow_unused=True"):
        grad((x * 2).sum(), [x, z])


def test_allow_unused_gives_none():
    x, z = t(X), t([1.0])
    gx, gz = grad((x * 2).sum(), [x, z], allow_unused=True)
    close(gx, [2.0, 2.0, 2.0])
    assert gz is None


def test_materialize_grads_gives_zeros_of_the_inputs_shape_and_dtype():
    x, z = t(X), t([[1.0, 2.0]], dtype=agx.float32)
    gx, gz = grad((x * 2).sum(), [x, z], materialize_grads=True)
    close(gx, [2.0, 2.0, 2.0])
    assert gz.shape == (1, 2) and gz.dtype == agx.float32
    close(gz, [[0.0, 0.0]])


def test_input_that_does_not_require_grad_is_an_error():
    x, c = t(X), t(X, requires_grad=False)
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors .*does not require grad"):
        grad((x * c).sum(), [x, c])


def test_output_that_does_not_require_grad_is_an_error():
    x = t(X)
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        grad(t(X, requires_grad=False).sum(), x)


def test_non_scalar_output_needs_grad_outputs():
    x = t(X)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        grad(x * 2, x)


def test_grad_outputs_of_the_wrong_shape():
    x = t(X)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of "
                                           r"torch.Size\(\[2\]\) and output\[0\] has a shape of "
                                           r"torch.Size\(\[3\]\)"):
        grad(x * 2, x, agx.ones(2, dtype=agx.float64))


def test_grad_outputs_of_the_wrong_count():
    x = t(X)
    with pytest.raises(RuntimeError, match="one grad_output per output"):
        grad([x * 2], [x], [agx.ones(3), agx.ones(3)])


def test_empty_inputs():
    # PyTorch's engine text (the ported test_grad_empty_inputs); torch 2.13's wrapper raises
    # RuntimeError "`inputs` argument to `grad()` cannot be empty." before the engine does.
    x = t(X)
    with pytest.raises(ValueError, match=r"^grad requires non-empty inputs\.$"):
        grad((x * 2).sum(), [])


def test_non_tensor_inputs():
    x = t(X)
    with pytest.raises(TypeError, match="inputs must be Tensors or GradientEdges, got ndarray"):
        grad((x * 2).sum(), [np.ones(3)])


# A None among the tensors once reached the engine, which took it for a tensor: the process
# died. PyTorch raises AssertionError ("Expected output to be a torch.Tensor") or, for
# inputs, RuntimeError; autogradx raises the TypeError it raises for other non-tensors.
NONE_AMONG_THE_TENSORS = {
    "backward([None])": ("lib.autograd.backward([None])", "tensors", 0),
    "backward([y, None])": ("lib.autograd.backward([y, None])", "tensors", 1),
    "backward(None)": ("lib.autograd.backward(None)", "tensors", 0),
    "backward(inputs=[None])": ("lib.autograd.backward(y, inputs=[None])", "inputs", 0),
    "grad([None], [x])": ("lib.autograd.grad([None], [x])", "outputs", 0),
    "grad(y, [x, None])": ("lib.autograd.grad(y, [x, None])", "inputs", 1),
}


@pytest.mark.parametrize("call, what, index", NONE_AMONG_THE_TENSORS.values(),
                         ids=NONE_AMONG_THE_TENSORS)
def test_none_among_the_tensors_is_a_type_error(call, what, index):
    assert error_in_child(f"""
        lib = agx
        x = agx.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        {call}
        """) == f"TypeError: {what} must be Tensors or GradientEdges, got NoneType at index {index}"


def test_none_among_the_grad_outputs_is_an_implicit_one():
    x = t(X)
    (g,) = grad([(x * x).sum(), x.sum()], [x], [None, agx.tensor(2.0, dtype=agx.float64)])
    close(g, 2 * np.array(X) + 2)


COMPLEX_MISMATCH = [
    pytest.param(lambda lib, x: lib.autograd.grad(x * 2, x, lib.ones(3, dtype=lib.complex128)),
                 "grad_output[0] has a dtype of torch.complex128 and output[0] has a dtype of "
                 "torch.float64.", id="complex-for-real"),
    pytest.param(lambda lib, x: (x * 2).backward(lib.ones(3, dtype=lib.complex64)),
                 "grad_output[0] has a dtype of torch.complex64 and output[0] has a dtype of "
                 "torch.float64.", id="complex-for-real-backward"),
    pytest.param(lambda lib, x: lib.autograd.grad(x.to(lib.complex128) * 2, x,
                                                 lib.ones(3, dtype=lib.float64)),
                 "grad_output[0] has a dtype of torch.float64 and output[0] has a dtype of "
                 "torch.complex128.", id="real-for-complex"),
]


@pytest.mark.parametrize("call, message", COMPLEX_MISMATCH)
def test_a_gradient_between_real_and_complex_is_refused(call, message):
    # A cast would drop the imaginary part (or make one up); other dtypes are cast.
    x = t(X)
    with pytest.raises(RuntimeError, match=re.escape(
            "For complex Tensors, both grad_output and output are required to have the same "
            "dtype. Mismatch in dtype: " + message)):
        call(agx, x)
    assert x.grad is None


def test_second_use_without_retain_graph():
    x = t(X)
    y = (x.exp() * x).sum()
    grad(y, x)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        grad(y, x)


def test_retain_graph_allows_a_second_use_with_the_same_result():
    x = t(X)
    y = (x.exp() * x).sum()
    (g1,) = grad(y, x, retain_graph=True)
    (g2,) = grad(y, x)
    close(g1, g2)
    close(g1, np.exp(X) * (1 + np.array(X)))


def test_create_graph_retains_the_graph_by_default():
    x = t(X)
    y = (x.exp() * x).sum()
    grad(y, x, create_graph=True)
    (g,) = grad(y, x)
    close(g, np.exp(X) * (1 + np.array(X)))


def test_errors_leave_leaves_grad_untouched():
    x = t(X)
    x.grad = agx.ones(3, dtype=agx.float64)
    with pytest.raises(RuntimeError):
        grad(x * 2, x, agx.ones(2, dtype=agx.float64))
    close(x.grad, [1.0, 1.0, 1.0])


def batched_grads(lib, create_graph):
    """Rows of a Jacobian by ``is_grads_batched``, an input without gradient (None, then
    materialized unbatched), and with create_graph the gradient of their sum."""
    x = lib.tensor([[0.5, -1.5], [2.0, 0.25]], dtype=lib.float64, requires_grad=True)
    unused = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
    out = (x ** 3).sum(1)
    eye = lib.eye(2, dtype=lib.float64)
    rows, none = lib.autograd.grad(out, (x, unused), eye, retain_graph=True,
                                   create_graph=create_graph, allow_unused=True,
                                   is_grads_batched=True)
    (scalar,) = lib.autograd.grad(out.sum(), x, lib.arange(3), retain_graph=True,
                                  is_grads_batched=True)
    zeros = lib.autograd.grad(out, (x, unused), eye, retain_graph=True,
                              is_grads_batched=True, materialize_grads=True)[1]
    result = [rows, scalar, zeros]
    if create_graph:
        result += lib.autograd.grad(rows.sum(), x)
    assert none is None
    return [r.detach().numpy() for r in result]


@pytest.mark.torch
@pytest.mark.parametrize("create_graph", [False, True])
def test_is_grads_batched_matches_torch(torch, create_graph):
    ours, theirs = batched_grads(agx, create_graph), batched_grads(torch, create_graph)
    for o, r in zip(ours, theirs):
        assert o.shape == r.shape and o.dtype == r.dtype
        np.testing.assert_allclose(o, r, rtol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(2, 2), (2, 1)])
def test_is_grads_batched_shape_mismatch_is_refused_as_torch_does(torch, shape):
    for lib in (agx, torch):
        x = lib.ones(2, 2, requires_grad=True)
        with pytest.raises(RuntimeError, match="If `is_grads_batched=True`, we interpret the first "
                                               "dimension of each grad_output as the batch"):
            lib.autograd.grad(x.sum(), x, lib.ones(*shape), is_grads_batched=True)
    x = t(X)
    with pytest.raises(RuntimeError, match=r"grad_output\[0\] has a shape of torch.Size\(\[2\]\) "
                                           r"and output\[0\] has a shape of torch.Size\(\[3\]\)"):
        grad(x * 2, x, agx.ones(2, 2, dtype=agx.float64), is_grads_batched=True)


# ------------------------------------------------------------------ backward(inputs=...)

def test_backward_inputs_accumulates_only_into_those():
    x, w = t(X), t([1.0, 2.0, 3.0])
    y = (x * w).sum()
    y.backward(inputs=[w], retain_graph=True)
    close(w.grad, X)
    assert x.grad is None
    agx.autograd.backward(y, inputs=w)
    close(w.grad, 2 * np.array(X))
    assert x.grad is None


def test_backward_inputs_non_leaf_gets_its_grad():
    x, w = t(X), t([1.0, 1.0, 2.0])
    h = x * w
    (h ** 2).sum().backward(inputs=[h, w])
    close(h.grad, 2 * arr(h))
    close(w.grad, 2 * arr(h) * np.array(X))
    assert x.grad is None


def test_backward_inputs_empty_is_an_error():
    x = t(X)
    with pytest.raises(RuntimeError, match=r"`inputs` argument to `backward\(\)` cannot be empty"):
        agx.autograd.backward((x * 2).sum(), inputs=[])


def test_backward_inputs_must_require_grad():
    x = t(X)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward(inputs=[t(X, requires_grad=False)])


def test_backward_several_tensors_with_grad_tensors():
    x = t(X)
    agx.autograd.backward([x * 2, (x ** 2).sum()], [agx.full((3,), 3.0, dtype=agx.float64), None])
    close(x.grad, 6 + 2 * np.array(X))


# ------------------------------------------------------------------ create_graph

def test_gradient_is_differentiable_with_create_graph():
    x = t(X)
    (g,) = grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    close(g, 3 * np.array(X) ** 2)
    (h,) = grad(g.sum(), x)
    close(h, 6 * np.array(X))


def test_hessian_vector_product():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    A = agx.tensor(a)
    x, v = t(X), t([1.0, -2.0, 0.5], requires_grad=False)
    f = (x @ A @ x) / 2 + x.sin().sum()
    (g,) = grad(f, x, create_graph=True)
    (hv,) = grad((g * v).sum(), x)
    hessian = (a + a.T) / 2 - np.diag(np.sin(X))
    close(hv, hessian @ arr(v))


def test_third_derivatives():
    x = t(X)
    y = (x ** 4).sum() + (2 * x).exp().sum() + x.sin().sum()
    (g1,) = grad(y, x, create_graph=True)
    (g2,) = grad(g1.sum(), x, create_graph=True)
    (g3,) = grad(g2.sum(), x)
    xs = np.array(X)
    close(g3, 24 * xs + 8 * np.exp(2 * xs) - np.cos(xs))


@pytest.mark.parametrize("call", [
    lambda lib, y, x: y.backward(create_graph=True),
    lambda lib, y, x: lib.autograd.backward(y, create_graph=True),
    lambda lib, y, x: lib.autograd.grad(y, x, create_graph=True),
    lambda lib, y, x: y.backward()], ids=["Tensor.backward", "autograd.backward", "grad", "plain"])
def test_backward_with_create_graph_warns_of_the_cycle_as_torch_does(call):
    torch = pytest.importorskip("torch")

    def warned(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        with warnings.catch_warnings(record=True) as ws:
            # torch warns once a process unless warn_always (Python's filters do that here)
            warnings.simplefilter("always")
            call(lib, (x ** 3).sum(), x)
        # torch adds where its engine warned: " (Triggered internally at ...)"
        return [str(w.message).split(" (Triggered internally")[0] for w in ws
                if "reference cycle" in str(w.message)]

    warn_always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        assert warned(agx) == warned(torch)
    finally:
        torch.set_warn_always(warn_always)


def test_backward_create_graph_makes_grad_differentiable():
    x = t(X)
    with backward_cycle_warning():
        (x ** 3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    close(x.grad, 6 * np.array(X))


def _penalty_model(x, w, b):
    out = agx.tanh(x @ w + b).sum()
    (gx,) = grad(out, x, create_graph=True)
    return (gx ** 2).sum()


def test_gradient_penalty_reaches_the_parameters():
    rng = np.random.default_rng(1)
    x = agx.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = agx.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = agx.tensor(rng.standard_normal(2), requires_grad=True)
    _penalty_model(x, w, b).backward()
    # finite differences of the penalty (itself computed from a first-order gradient)
    for p in (w, b):
        base = arr(p).copy()
        direction = rng.standard_normal(base.shape)
        vals = []
        for sign in (1, -1):
            p.data = agx.tensor(base + sign * 1e-6 * direction)
            vals.append(_penalty_model(x, w, b).item())
        p.data = agx.tensor(base)
        numerical = (vals[0] - vals[1]) / 2e-6
        assert float((arr(p.grad) * direction).sum()) == pytest.approx(numerical, rel=1e-6)


def test_gradient_penalty_of_a_linear_model_has_a_closed_form():
    # out = sum(x @ w): d out/dx = 1 w^T, penalty = n * ||w.sum(1)||^2, d penalty/dw = 2 n s 1^T
    x = t([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    w = t([[1.0, -1.0, 2.0], [0.5, 0.0, 1.0]])
    (gx,) = grad((x @ w).sum(), x, create_graph=True)
    (gw,) = grad((gx ** 2).sum(), w)
    s = arr(w).sum(1, keepdims=True)
    close(gw, 2 * 3 * np.broadcast_to(s, (2, 3)))


def test_grad_of_grad_through_a_function():
    class Cube(agx.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a ** 3

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 3 * g * a ** 2

    x = t(X)
    (g,) = grad(Cube.apply(x).sum(), x, create_graph=True)
    close(g, 3 * np.array(X) ** 2)
    (h,) = grad(g.sum(), x)
    close(h, 6 * np.array(X))


def test_second_derivative_of_a_piecewise_linear_op_is_zero():
    x = t(X)
    (g,) = grad(agx.relu(x).sum() + x.abs().sum(), x, create_graph=True)
    (h,) = grad((g * x).sum(), x, allow_unused=True)   # d/dx <g(x), x> = g (+ 0 second order)
    close(h, arr(g))


def test_create_graph_gradients_accumulate_across_outputs():
    x = t(X)
    (g,) = grad([(x ** 2).sum(), (x ** 3).sum()], x, create_graph=True)
    (h,) = grad(g.sum(), x)
    close(h, 2 + 6 * np.array(X))


def test_create_graph_through_an_op_with_residuals():
    from autogradx.plugin import Op

    # residuals follow the saved values: under create_graph they are constants
    scale = Op("scale_by_residual", lambda xp, x: (x * x * 2.0, 2.0), save="input",
               residuals=True, vjp=lambda xp, g, x, r: g * x * 2 * r)
    x = t(X)
    (g,) = grad(scale(x).sum(), x, create_graph=True)
    close(g, 4 * np.array(X))
    (h,) = grad(g.sum(), x)
    close(h, [4.0, 4.0, 4.0])


def test_zero_dim_gradients_summed_stay_tensors():
    x = t(2.0)
    b = t([1.0, 2.0])
    y = (x * b).sum() + (x * b).sum()
    (g,) = grad(y, x, retain_graph=True)
    assert isinstance(g.numpy(), np.ndarray) and g.shape == ()
    assert g.item() == 6.0
    y.backward()
    assert isinstance(x.grad.numpy(), np.ndarray) and x.grad.item() == 6.0


# ------------------------------------------------------------------ gradgradcheck, op by op

def spd(x):
    """A symmetric positive definite matrix made from ``x`` (for det, inv, solve)."""
    return x @ x.mT + 2 * agx.eye(x.shape[-1], dtype=x.dtype) if hasattr(agx, "eye") else \
        x @ x.mT + agx.tensor(2 * np.eye(x.shape[-1]))


IDX = np.array([2, 0, 1])

OPS = [
    # arithmetic
    ("add", lambda x, y: x + y, R(2, 3), R(3)),
    ("sub", lambda x, y: x - y, R(2, 3), R(3)),
    ("rsub", lambda x: 2.0 - x * x, R(2, 3)),
    ("mul", lambda x, y: x * y, R(3, 1), R(1, 4)),
    ("div", lambda x, y: x / y, R(2, 3), P(3)),
    ("pow", lambda x, y: x ** y, P(2, 3), R(2, 3)),
    ("pow-scalar", lambda x: x ** 3, R(2, 3)),
    ("pow-scalar-base", lambda x: 2.0 ** x, R(2, 3)),
    ("neg", lambda x: -(x * x), R(2, 3)),
    ("reciprocal", lambda x: agx.reciprocal(x), P(2, 3)),
    ("square", lambda x: agx.square(x), R(2, 3)),
    ("sqrt", lambda x: agx.sqrt(x), P(2, 3)),
    ("rsqrt", lambda x: agx.rsqrt(x), P(2, 3)),
    ("lerp", lambda x, y, w: agx.lerp(x, y, w), R(2, 3), R(2, 3), U(2, 3)),
    ("fmod", lambda x: agx.fmod(x * x, 1.5), R(2, 3)),
    ("remainder", lambda x: agx.remainder(x * x, 1.5), R(2, 3)),
    # transcendental
    ("exp", lambda x: agx.exp(x), R(2, 3)),
    ("expm1", lambda x: agx.expm1(x), R(2, 3)),
    ("log", lambda x: agx.log(x), P(2, 3)),
    ("log1p", lambda x: agx.log1p(x), P(2, 3)),
    ("log2", lambda x: agx.log2(x), P(2, 3)),
    ("log10", lambda x: agx.log10(x), P(2, 3)),
    ("sin", lambda x: agx.sin(x), R(2, 3)),
    ("cos", lambda x: agx.cos(x), R(2, 3)),
    ("tan", lambda x: agx.tan(x), U(2, 3)),
    ("tanh", lambda x: agx.tanh(x), R(2, 3)),
    ("sigmoid", lambda x: agx.sigmoid(x), R(2, 3)),
    # piecewise (second derivatives are zero away from the kinks)
    ("abs", lambda x: agx.abs(x) * x, R(2, 3)),
    ("relu", lambda x: agx.relu(x) * x, R(2, 3)),
    ("clamp", lambda x: agx.clamp(x, -1.0, 1.0) * x, R(2, 3)),
    ("clamp_min", lambda x: agx.clamp_min(x, 0.5) * x, R(2, 3)),
    ("clamp_max", lambda x: agx.clamp_max(x, 0.5) * x, R(2, 3)),
    ("maximum", lambda x, y: agx.maximum(x, y) * x, R(2, 3), R(2, 3)),
    ("minimum", lambda x, y: agx.minimum(x, y) * y, R(2, 3), R(2, 3)),
    ("where", lambda x, y: agx.where(x > 0, x * y, y * y), R(2, 3), R(2, 3)),
    ("masked_fill", lambda x: agx.masked_fill(x * x, x > 0, 1.0), R(2, 3)),
    ("sign-sgn", lambda x: (agx.sign(x) + agx.sgn(x)) * x * x, R(2, 3)),
    ("floor-ceil-round-trunc-frac",
     lambda x: (agx.floor(x) + agx.ceil(x) + agx.round(x) + agx.trunc(x)) * x + agx.frac(x) * x,
     R(2, 3)),
    # reductions
    ("sum", lambda x: (x * x).sum(1), R(2, 3)),
    ("sum-all", lambda x: (x ** 3).sum(), R(2, 3)),
    ("mean", lambda x: (x * x).mean(0, keepdim=True), R(2, 3)),
    ("nansum", lambda x: agx.nansum(x * x, 1), R(2, 3)),
    ("prod", lambda x: x.prod(1), R(2, 3)),
    ("prod-all", lambda x: x.prod(), R(2, 3)),
    ("amax", lambda x: agx.amax(x * x, 1), R(2, 3)),
    ("amin", lambda x: agx.amin(x * x, 0), R(2, 3)),
    ("max-dim", lambda x: agx.max(x * x, 1).values, R(2, 3)),
    ("min-dim", lambda x: agx.min(x * x, 1).values, R(2, 3)),
    ("max-all", lambda x: agx.max(x * x), R(2, 3)),
    ("min-all", lambda x: agx.min(x * x), R(2, 3)),
    ("logsumexp", lambda x: agx.logsumexp(x, 1), R(2, 3)),
    ("var", lambda x: agx.var(x, 1), R(2, 3)),
    ("std", lambda x: agx.std(x, 1), R(2, 3)),
    ("var_mean", lambda x: agx.var_mean(x, 1), R(2, 3)),
    ("std_mean", lambda x: agx.std_mean(x, 0), R(2, 3)),
    ("norm", lambda x: agx.norm(x), R(2, 3)),
    ("norm-p3-dim", lambda x: agx.norm(x, 3, 1), R(2, 3)),
    ("cumsum", lambda x: agx.cumsum(x * x, 1), R(2, 3)),
    ("cumprod", lambda x: agx.cumprod(x, 1), R(2, 3)),
    # linear algebra
    ("matmul", lambda a, b: a @ b, R(2, 3), R(3, 4)),
    ("matmul-batched", lambda a, b: agx.matmul(a, b), R(2, 2, 3), R(3, 2)),
    ("mm", lambda a, b: agx.mm(a, b), R(2, 3), R(3, 2)),
    ("bmm", lambda a, b: agx.bmm(a, b), R(2, 2, 3), R(2, 3, 2)),
    ("mv", lambda a, b: agx.mv(a, b), R(2, 3), R(3)),
    ("dot", lambda a, b: agx.dot(a, b), R(3), R(3)),
    ("outer", lambda a, b: agx.outer(a, b), R(3), R(2)),
    ("einsum", lambda a, b: agx.einsum("ij,jk->ik", a, b), R(2, 3), R(3, 2)),
    ("det", lambda a: agx.linalg.det(spd(a)), R(3, 3)),
    ("slogdet", lambda a: agx.linalg.slogdet(spd(a)).logabsdet, R(3, 3)),
    ("inv", lambda a: agx.linalg.inv(spd(a)), R(3, 3)),
    ("solve", lambda a, b: agx.linalg.solve(spd(a), b), R(3, 3), R(3, 2)),
    ("vector_norm", lambda x: agx.linalg.vector_norm(x, dim=1), R(2, 3)),
    ("matrix_norm", lambda x: agx.linalg.matrix_norm(x), R(2, 3)),
    ("linalg_norm", lambda x: agx.linalg.norm(x), R(2, 3)),
    # shape
    ("reshape", lambda x: (x * x).reshape(3, 2), R(2, 3)),
    ("view", lambda x: (x * x).view(6), R(2, 3)),
    ("view_as-reshape_as", lambda x, y: (x * x).view_as(y) + (x * y.reshape(2, 3)).reshape_as(y),
     R(2, 3), R(3, 2)),
    ("flatten-unflatten", lambda x: agx.unflatten(agx.flatten(x * x), 0, (3, 2)), R(2, 3)),
    ("ravel", lambda x: agx.ravel(x * x), R(2, 3)),
    ("permute", lambda x: (x * x).permute(2, 0, 1), R(2, 3, 2)),
    ("transpose", lambda x: agx.transpose(x * x, 0, 1), R(2, 3)),
    ("t", lambda x: agx.t(x * x), R(2, 3)),
    ("movedim", lambda x: agx.movedim(x * x, 0, 2), R(2, 3, 2)),
    ("squeeze-unsqueeze", lambda x: agx.squeeze(agx.unsqueeze(x * x, 1)), R(2, 3)),
    ("expand", lambda x: (x * x).expand(2, 3), R(1, 3)),
    ("expand_as", lambda x, y: (x * x).expand_as(y) * y, R(1, 3), R(2, 3)),
    ("broadcast_to", lambda x: agx.broadcast_to(x * x, (2, 3)), R(3)),
    ("repeat", lambda x: (x * x).repeat(2, 2), R(2, 3)),
    ("tile", lambda x: agx.tile(x * x, (2,)), R(2, 3)),
    ("flip", lambda x: agx.flip(x * x, (1,)), R(2, 3)),
    ("fliplr-flipud", lambda x: agx.fliplr(x * x) + agx.flipud(x), R(2, 3)),
    ("cat", lambda x, y: agx.cat([x * x, y * x], 0), R(2, 3), R(2, 3)),
    ("stack", lambda x, y: agx.stack([x * x, y * x], 1), R(2, 3), R(2, 3)),
    ("hstack-vstack-dstack", lambda x, y: (agx.hstack([x * y, y]), agx.vstack([x, x * y]),
                                           agx.dstack([x * x, y])), R(2, 3), R(2, 3)),
    ("narrow", lambda x: agx.narrow(x * x, 1, 1, 2), R(2, 3)),
    ("select", lambda x: agx.select(x * x, 1, 2), R(2, 3)),
    ("clone-contiguous", lambda x: (x * x).clone().contiguous(), R(2, 3)),
    ("to-copy", lambda x: (x * x).to(agx.float64, copy=True), R(2, 3)),
    # indexing
    ("getitem-slice", lambda x: (x * x)[0, 1:], R(2, 3)),
    ("index-advanced", lambda x: (x * x)[[0, 1, 1], [2, 0, 0]], R(2, 3)),
    ("index_select", lambda x: agx.index_select(x * x, 1, agx.tensor(IDX)), R(2, 3)),
    ("gather", lambda x: agx.gather(x * x, 1, agx.tensor([[0, 0], [2, 1]])), R(2, 3)),
    ("take_along_dim", lambda x: agx.take_along_dim(x * x, agx.tensor([[0], [2]]), 1), R(2, 3)),
    ("index_add", lambda x, s: agx.index_add(x * x, 0, agx.tensor([1, 0, 1]), s * x[0]),
     R(2, 3), R(3, 3)),
    ("scatter_add", lambda x, s: agx.scatter_add(x * x, 1, agx.tensor([[0, 1], [2, 2]]), s * s),
     R(2, 3), R(2, 2)),
    ("setitem", lambda x, y: _setitem(x, y), R(2, 3), R(3)),
    ("fill-zero", lambda x: (x * x).clone().fill_(2.0) * x + (x * x).clone().zero_(), R(2, 3)),
    ("copy", lambda x, y: (x * x).clone().copy_(y * y) * x, R(2, 3), R(3)),
    # nn.functional: losses, pooling, convolution
    ("binary_cross_entropy_with_logits",
     lambda x, y: F.binary_cross_entropy_with_logits(x, y), R(2, 3), U(2, 3)),
    ("binary_cross_entropy_with_logits-weights",
     lambda x, y, w: F.binary_cross_entropy_with_logits(x, y, weight=w, reduction="sum",
                                                         pos_weight=agx.tensor([2.0, 0.5, 1.0])),
     R(2, 3), U(2, 3), K(P(2, 3))),
    ("binary_cross_entropy", lambda x, y: F.binary_cross_entropy(x, y), U(2, 3), U(2, 3)),
    ("mse_loss", lambda x, y: F.mse_loss(x, y), R(2, 3), R(2, 3)),
    ("l1_loss", lambda x, y: F.l1_loss(x * x, y), R(2, 3), R(2, 3)),
    ("smooth_l1_loss", lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), R(2, 3), R(2, 3)),
    ("huber_loss", lambda x, y: F.huber_loss(x, y, delta=0.5), R(2, 3), R(2, 3)),
    ("cross_entropy", lambda x: F.cross_entropy(x, agx.tensor([2, 0])), R(2, 3)),
    ("cross_entropy-probs", lambda x, p: F.cross_entropy(x, p), R(2, 3), U(2, 3)),
    ("nll_loss", lambda x: F.nll_loss(x * x, agx.tensor([2, 0])), R(2, 3)),
    ("avg_pool2d", lambda x: F.avg_pool2d(x * x, 2), R(1, 1, 4, 4)),
    ("max_pool2d", lambda x: F.max_pool2d(x * x, 2), R(1, 1, 4, 4)),
    ("conv1d", lambda x, w, b: F.conv1d(x, w, b), R(1, 2, 5), R(3, 2, 2), R(3)),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1), R(1, 2, 3, 3), R(2, 2, 2, 2), R(2)),
    ("conv3d", lambda x, w: F.conv3d(x, w), R(1, 1, 3, 3, 2), R(2, 1, 2, 2, 2)),
    # nn.functional: activations and layers
    ("softmax", lambda x: F.softmax(x, dim=1), R(2, 3)),
    ("log_softmax", lambda x: F.log_softmax(x, dim=0), R(2, 3)),
    ("gelu", lambda x: F.gelu(x), R(2, 3)),
    ("gelu-tanh", lambda x: F.gelu(x, approximate="tanh"), R(2, 3)),
    ("elu", lambda x: F.elu(x, alpha=0.7), R(2, 3)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1) * x, R(2, 3)),
    ("silu", lambda x: F.silu(x), R(2, 3)),
    ("softplus", lambda x: F.softplus(x, beta=2.0), R(2, 3)),
    ("layer_norm", lambda x, w, b: F.layer_norm(x, (3,), w, b), R(2, 3), R(3), R(3)),
    ("linear", lambda x, w, b: F.linear(x, w, b), R(2, 3), R(4, 3), R(4)),
    ("pad", lambda x: F.pad(x * x, (1, 2)), R(2, 3)),
    ("embedding", lambda w: F.embedding(agx.tensor([[0, 2], [2, 1]]), w * w), R(3, 2)),
    ("dropout", lambda x: _seeded(lambda: F.dropout(x * x, p=0.4)), R(4, 5)),
    # a composite: a small network
    ("mlp", lambda x, w1, w2: (agx.tanh(x @ w1) @ w2).sigmoid(), R(2, 3), R(3, 4), R(4, 2)),
]


def _seeded(fn):
    """``fn()`` with the same random draws on every call (gradgradcheck calls it many times)."""
    agx.manual_seed(0)
    return fn()


def _setitem(x, y):
    z = (x * x).clone()
    z[1] = y * x[0]
    return z


@pytest.mark.parametrize("fn, specs", [pytest.param(fn, specs, id=name)
                                       for name, fn, *specs in OPS])
def test_gradgradcheck(fn, specs):
    assert gradgradcheck(fn, make_inputs(specs, seed=0), n_directions=2)


# ------------------------------------------------------------------ against torch
# (the ``torch`` fixture is in conftest.py)


def _lib_tensor(lib, values, requires_grad=True):
    return lib.tensor(np.asarray(values, dtype=float), dtype=lib.float64,
                      requires_grad=requires_grad)


def _first_order(lib):
    rng = np.random.default_rng(3)
    x = _lib_tensor(lib, rng.standard_normal((3, 4)))
    w = _lib_tensor(lib, rng.standard_normal((4, 2)))
    h = (x @ w).tanh()
    y1 = (h ** 2).sum(1)
    y2 = (x.exp() / (1 + x ** 2)).mean()
    v = _lib_tensor(lib, [1.0, -2.0, 0.5], requires_grad=False)
    return lib.autograd.grad([y1, y2], [x, w, h], [v, None])


def _second_order(lib):
    rng = np.random.default_rng(4)
    x = _lib_tensor(lib, rng.standard_normal((3, 4)))
    w = _lib_tensor(lib, rng.standard_normal((4, 2)))
    b = _lib_tensor(lib, rng.standard_normal(2))
    # a gradient penalty: ||d out / d x||^2, backpropagated into the parameters
    out = lib.sigmoid(x @ w + b).log().sum()
    (gx,) = lib.autograd.grad(out, x, create_graph=True)
    penalty = (gx ** 2).sum()
    # a Hessian-vector product
    (gw,) = lib.autograd.grad((w ** 3).sum() * b.sum(), w, create_graph=True)
    vec = _lib_tensor(lib, np.ones((4, 2)), requires_grad=False)
    (hv,) = lib.autograd.grad((gw * vec).sum(), w, create_graph=True)
    # and a third derivative of a 0-d function
    z = _lib_tensor(lib, 0.7)
    (d1,) = lib.autograd.grad(z.exp() * z.sin(), z, create_graph=True)
    (d2,) = lib.autograd.grad(d1, z, create_graph=True)
    (d3,) = lib.autograd.grad(d2, z)
    gp = lib.autograd.grad(penalty + (hv ** 2).sum(), [w, b, x])
    return list(gp) + [hv, d3]


@pytest.mark.torch
@pytest.mark.parametrize("scenario", [_first_order, _second_order],
                         ids=["first-order", "second-order"])
def test_gradients_match_torch(torch, scenario):
    ours, theirs = scenario(agx), scenario(torch)
    assert len(ours) == len(theirs)
    for o, r in zip(ours, theirs):
        assert tuple(o.shape) == tuple(r.shape)
        np.testing.assert_allclose(arr(o), r.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("call", [
    lambda lib, x, z: lib.autograd.grad((x * 2).sum(), [x, z]),
    lambda lib, x, z: lib.autograd.grad(x * 2, x),
    lambda lib, x, z: lib.autograd.grad(x * 2, x, lib.ones(2, dtype=lib.float64)),
    # grad(..., []) is not here: autogradx follows the ported tests' ValueError, not torch
    # 2.13's RuntimeError (test_empty_inputs).
    lambda lib, x, z: lib.autograd.backward((x * 2).sum(), inputs=[]),
    lambda lib, x, z: lib.autograd.grad(x.detach().sum(), x),
], ids=["unused", "non-scalar", "shape", "empty-backward-inputs", "no-grad-output"])
def test_error_messages_match_torch(torch, call):
    def run(lib):
        x, z = _lib_tensor(lib, X), _lib_tensor(lib, [1.0])
        with pytest.raises(RuntimeError) as info:
            call(lib, x, z)
        return str(info.value)

    assert run(agx) == run(torch)


@pytest.mark.torch
@pytest.mark.parametrize("call, what, index", NONE_AMONG_THE_TENSORS.values(),
                         ids=NONE_AMONG_THE_TENSORS)
def test_none_among_the_tensors_is_refused_by_torch_too(torch, call, what, index):
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises((AssertionError, RuntimeError, TypeError)):
        exec(call, {"lib": torch, "x": x, "y": (x * x).sum()})


@pytest.mark.torch
@pytest.mark.parametrize("call, message", COMPLEX_MISMATCH)
def test_complex_mismatch_messages_match_torch(torch, call, message):
    def run(lib):
        with pytest.raises(RuntimeError) as info:
            call(lib, _lib_tensor(lib, X))
        return str(info.value)

    assert run(agx) == run(torch)


@pytest.mark.torch
def test_second_backward_message_matches_torch(torch):
    def run(lib):
        x = _lib_tensor(lib, X)
        y = (x.exp() * x).sum()
        lib.autograd.grad(y, x)
        with pytest.raises(RuntimeError) as info:
            lib.autograd.grad(y, x)
        return str(info.value)

    assert run(agx) == run(torch)
