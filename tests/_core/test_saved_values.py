"""What a node saves: exactly the values read by the derivative formulas of the inputs that
require grad (PyTorch's derivatives.yaml rule), and a node that saved no array can run again.

Each case runs the same code through PyTorch when it is installed, so "PyTorch allows it"
is checked, not assumed.
"""
import gc
import re
import weakref

import numpy as np
import pytest

import autogradx as agx
from autogradx.plugin import Op


def _libs():
    libs = [agx]
    try:
        import torch
        libs.append(torch)
    except ImportError:
        pass
    return libs


LIBS = pytest.mark.parametrize("lib", _libs(), ids=lambda lib: lib.__name__)


def _leaf(lib, values):
    return lib.tensor(values, dtype=lib.float64, requires_grad=True)


# -- what PyTorch allows: changing in place a value no gradient reads ------------------

@LIBS
@pytest.mark.parametrize("use", [
    pytest.param(lambda x, c: x * 2, id="x*2"),
    pytest.param(lambda x, c: x / 2, id="x/2"),
    pytest.param(lambda x, c: x * c, id="x*c"),
    pytest.param(lambda x, c: c * x, id="c*x"),
    pytest.param(lambda x, c: x @ c.reshape(2, 1), id="x@W"),
    pytest.param(lambda x, c: x.reshape(1, 2).mm(c.reshape(2, 1)), id="mm"),
    pytest.param(lambda x, c: x.reshape(1, 2).matmul(c.reshape(2, 1)), id="matmul-2d"),
    pytest.param(lambda x, c: x.reshape(1, 1, 2).bmm(c.reshape(1, 2, 1)), id="bmm"),
    pytest.param(lambda x, c: c.reshape(1, 2).mv(x), id="mv-vec"),
    pytest.param(lambda x, c: x + c, id="x+c"),
    pytest.param(lambda x, c: x - 3, id="x-3"),
    pytest.param(lambda x, c: x.lerp(c, 0.25), id="lerp"),
    pytest.param(lambda x, c: x.dot(c), id="dot"),
    pytest.param(lambda x, c: c.dot(x), id="dot-tensor"),
    pytest.param(lambda x, c: x.outer(c), id="outer"),
    pytest.param(lambda x, c: c.outer(x), id="outer-vec2"),
    pytest.param(lambda x, c: x.sum() * c, id="sum*c"),
])
def test_a_value_no_gradient_reads_may_change_in_place(lib, use):
    a = _leaf(lib, [0.7, 0.2])
    c = lib.tensor([2.0, 3.0], dtype=lib.float64)
    x = a * 1
    y = use(x, c)
    x.add_(1)
    y.sum().backward()
    # Every use here is linear in x: its gradient does not depend on x's value.
    fresh = _leaf(lib, [0.0, 0.0])
    use(fresh, c).sum().backward()
    assert a.grad.tolist() == pytest.approx(fresh.grad.tolist())


@LIBS
def test_linear_keeps_no_weight_when_only_the_input_needs_a_gradient_of_it(lib):
    x0 = _leaf(lib, [[0.5, -1.0, 2.0]])
    w = lib.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], dtype=lib.float64, requires_grad=True)
    x = x0 * 1
    y = lib.nn.functional.linear(x, w)
    x.mul_(3)                   # the weight's gradient reads x: this must be refused
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def _kept(y):
    return [name for name, value in zip(y.grad_fn.op.save, y.grad_fn._saved_values)
            if value is not None]


# Where autogradx keeps less than PyTorch: PyTorch has one formula for all the inputs of
# each of these ops, which keeps what any of them reads (no PyTorch run to compare with).
@pytest.mark.parametrize("use, kept", [
    pytest.param(lambda F, t, c: F.conv1d(c(1, 1, 4), c(2, 1, 2), t(2)), [], id="conv1d-bias"),
    pytest.param(lambda F, t, c: agx.linalg.solve(c(3, 3) + 3 * agx.eye(3), t(3)), ["A"],
                 id="solve-B"),
    pytest.param(lambda F, t, c: F.binary_cross_entropy_with_logits(c(3), t(3)), ["input"],
                 id="bce_with_logits-target"),
])
def test_a_node_keeps_only_what_the_formulas_of_the_inputs_needing_grad_read(use, kept):
    rng = np.random.default_rng(0)

    def c(*shape):
        return agx.tensor(rng.uniform(0.1, 0.9, shape))

    def t(*shape):
        return c(*shape).requires_grad_()

    assert _kept(use(agx.nn.functional, t, c)) == kept


# -- what must still be refused: a value some needed gradient reads ----------------------

@LIBS
@pytest.mark.parametrize("change", ["w", "x"])
def test_a_value_a_gradient_reads_may_not_change_in_place(lib, change):
    x = _leaf(lib, [0.7, 0.2]) * 1
    w = _leaf(lib, [2.0, 3.0]) * 1
    if change == "w":
        w = w.detach()                      # only x needs a gradient, and x's reads w
    y = x * w
    (w if change == "w" else x).add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("history", [False, True])
def test_the_in_place_error_names_the_tensor_changed_as_torch(history):
    torch = pytest.importorskip("torch")
    def run(lib):
        w = _leaf(lib, [2.0, 3.0]) * 1 if history else lib.tensor([2.0, 3.0], dtype=lib.float64)
        y = _leaf(lib, [0.7, 0.2]) * w
        w.add_(1)
        with pytest.raises(RuntimeError) as e:
            y.sum().backward()
        # torch 2.13 names the node "Mul" where its grad_fn prints MulBackward0
        return re.sub(r"of \w+,", "of <node>,", str(e.value).split("operation: ")[1].split(";")[0])
    assert run(agx) == run(torch)


def test_the_in_place_error_names_the_op_that_saved_the_value():
    x = _leaf(agx, [0.7, 0.2])
    w = agx.tensor([2.0, 3.0], dtype=agx.float64)
    y = x * w
    w.add_(1)
    with pytest.raises(RuntimeError, match=r"MulBackward0 \(op 'mul'\) saved it"):
        y.sum().backward()


# -- a second backward ---------------------------------------------------------------

@LIBS
@pytest.mark.parametrize("use", [
    pytest.param(lambda x: x.sum(), id="sum"),
    pytest.param(lambda x: x.sum(1).sum(), id="sum-dim"),
    pytest.param(lambda x: x.view(6).sum(), id="view"),
    pytest.param(lambda x: x[1].sum(), id="select"),
    pytest.param(lambda x: x.unbind(0)[0].sum(), id="unbind"),
    pytest.param(lambda x: x.chunk(3, 1)[2].sum(), id="chunk"),
    pytest.param(lambda x: x.unsqueeze(0).expand(4, 2, 3).sum(), id="expand"),
    pytest.param(lambda x: (x + 1).sum(), id="shift"),
])
def test_a_second_backward_through_nodes_that_saved_no_array_runs(lib, use):
    x = _leaf(lib, np.arange(6.0).reshape(2, 3).tolist())
    y = use(x)
    y.backward()
    first = x.grad.clone()
    y.backward()
    assert (x.grad == 2 * first).all()


@LIBS
@pytest.mark.parametrize("use", [
    pytest.param(lambda x: (x * x).sum(), id="x*x"),
    # PyTorch saves the number as a tensor, and frees it: refused there too.
    pytest.param(lambda x: (x * 2).sum(), id="x*2"),
    pytest.param(lambda x: (x / 2).sum(), id="x/2"),
    pytest.param(lambda x: x.exp().sum(), id="exp"),
])
def test_a_second_backward_through_a_node_whose_values_were_freed_is_refused(lib, use):
    x = _leaf(lib, [0.5, 1.5])
    y = use(x)
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


# -- memory ------------------------------------------------------------------------------

def test_an_activation_no_gradient_reads_is_not_kept():
    """((x @ W) * mask).sum() with a constant mask: the product's array dies with its tensor."""
    rng = np.random.default_rng(0)
    x = agx.tensor(rng.standard_normal((8, 16)), requires_grad=True)
    w = agx.tensor(rng.standard_normal((16, 4)), requires_grad=True)
    mask = agx.tensor((rng.random((8, 4)) > 0.5).astype(np.float64))
    h = x @ w
    alive = weakref.ref(h.detach().numpy())
    loss = (h * mask).sum()
    del h
    gc.collect()
    assert alive() is None
    assert loss.grad_fn.next_functions[0][0]._saved_values[0] is None    # mul kept the mask only
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), x.detach().numpy().T @ mask.numpy())


def test_saved_attributes_of_values_not_kept_are_none():
    x = _leaf(agx, [1.0, 2.0])
    y = x * 3.0
    assert y.grad_fn._saved_other == 3.0
    assert y.grad_fn._saved_self is None


# -- micrograd's engine test, with in-place updates -------------------------------------

@LIBS
def test_micrograd_more_ops_written_in_place(lib):
    # micrograd's test_more_ops (its expected numbers come from PyTorch), with += where it
    # reassigns: each += changes a value that no gradient reads.
    a = lib.tensor([-4.0], dtype=lib.float64, requires_grad=True)
    b = lib.tensor([2.0], dtype=lib.float64, requires_grad=True)
    c = a + b
    d = a * b + b ** 3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert g.item() == pytest.approx(24.70408163265306, abs=1e-12)
    assert a.grad.item() == pytest.approx(138.83381924198252, abs=1e-10)
    assert b.grad.item() == pytest.approx(645.5772594752186, abs=1e-10)


# -- the contract: formulas named by what they read ---------------------------------------

def _mul(xp, a, b):
    return a * b


def test_save_is_derived_from_the_formulas():
    op = Op("probe_mul", _mul, inputs=("input", "other"),
            vjp={"input": lambda xp, g, other: g * other, "other": lambda xp, g, input: g * input})
    assert op.save == ("input", "other")
    assert op.reads == ((1,), (0,))
    exp = Op("probe_exp", lambda xp, x: np.exp(x), vjp={"input": lambda xp, g, result: g * result})
    assert exp.save == ("result",) and exp.reads == ((0,),)


@pytest.mark.parametrize("kwargs, message", [
    (dict(vjp={"input": lambda xp, g, weight: g}), "reads 'weight', which is neither an input"),
    (dict(vjp={"nope": lambda xp, g: g}), r"vjp names \['nope'\]"),
    (dict(vjp={"input": lambda xp, g, input: g}, save="input"), "save= is not given"),
    (dict(vjp={"input": lambda xp, g, *rest: g}), "reads 'rest', which is neither"),
    (dict(vjp={"input": lambda xp: xp}), r"must take \(xp, g, ...\)"),
    (dict(vjp={"input": 3}), "must be callable"),
])
def test_formulas_are_checked_when_the_op_is_made(kwargs, message):
    def forward(xp, x, other=None, scale=1.0):
        return x * scale
    with pytest.raises((TypeError, ValueError), match=message):
        Op("probe_checked", forward, inputs=("input", "other"), **kwargs)


def test_a_formula_gets_only_what_it_reads_and_the_parameters():
    seen = []

    def forward(xp, a, b, scale=1.0):
        return a * b * scale

    def grad_input(xp, g, other, scale=1.0):
        seen.append(("input", type(other).__name__, scale))
        return g * other * scale

    op = Op("probe_params", forward, inputs=("input", "other"),
            vjp={"input": grad_input, "other": lambda xp, g, input, scale=1.0: g * input * scale})
    seen.clear()            # the core called it once on symbols, to see if it is arithmetic
    x = agx.tensor([1.0, 2.0], requires_grad=True)
    op(x, agx.tensor([3.0, 4.0]), scale=0.5).sum().backward()
    assert seen == [("input", "ndarray", 0.5)]
    np.testing.assert_array_equal(x.grad.numpy(), [1.5, 2.0])


@LIBS
def test_no_unnecessary_save(lib):
    # After PyTorch's test of that name: a buffer refilled in place each step and
    # multiplied by a constant; had x * c kept x, backward would find it changed.
    mu = lib.ones(1, requires_grad=True)
    x = lib.empty(1)
    loss = 0
    for i in range(3):
        x.detach_()
        x.copy_(mu + i)
        loss += (x * lib.tensor([float(i)])).sum()
    loss.backward()
    assert mu.grad.tolist() == [3.0]


@pytest.mark.parametrize("use", ["backward", "_saved_self"])
def test_a_saved_input_detached_in_place_is_refused_on_use(use):
    torch = pytest.importorskip("torch")
    from torch_compare import error_of

    def run(lib, op):
        a = lib.tensor(1.0, requires_grad=True).clone()
        b = op(a)
        a.detach_()
        if use == "backward":
            return error_of(b.backward)
        return error_of(lambda: b.grad_fn._saved_self)     # given, as PyTorch gives it

    # sin saves its input (refused once detached); exp its result (unaffected).
    assert run(agx, lambda a: a.sin()) == run(torch, lambda a: a.sin())
    if use == "backward":
        assert run(agx, lambda a: a.sin())[1].startswith("Trying to use a saved tensor that has "
                                                         "been detached in-place")
        assert run(agx, lambda a: a.exp()) == run(torch, lambda a: a.exp()) is None
