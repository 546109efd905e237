"""The discrepancies with PyTorch 2.13 that the fuzz tests found, each reduced to a minimal
deterministic case. Every test states what PyTorch does (checked against it when the case
was written; torch is not needed to run them) and is a strict expected failure until
autogradx does the same: when one starts to pass, remove its mark here and its entry in
``KNOWN`` (test_op_gradients.py) or ``_known`` (test_graphs.py, test_printer.py).
"""

import numpy as np
import pytest

import autogradx as agx

F = agx.nn.functional


def bug(reason):
    return pytest.mark.xfail(strict=True, reason=reason)


def leaf(values, dtype="float64"):
    return agx.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def node(t):
    """The name of ``t``'s node, without the namespace PyTorch gives its C++ nodes."""
    return t.grad_fn.name().rpartition("::")[2]


def _assign(x, index, value):
    x[index] = value
    return x


# ---------------------------------------------------------------- wrong gradients

def test_in_place_reading_a_partly_overlapping_tensor_is_refused():
    # As PyTorch: 'some elements of the input tensor and the written-to tensor refer to a
    # single memory location' (tests/_core/test_inplace_views_torch.py compares more cases).
    y = leaf(0.3).tanh()
    with pytest.raises(RuntimeError, match="refer to a single memory location"):
        y.unsqueeze(0).add_(y)


def test_stacked_leaves_get_one_gradient_per_backward():
    """Found by the graph fuzzer in PyTorch 2.13, not in autogradx: after a first backward
    of a sum over 0-d leaves (``stack([a, b]).sum()``, ``a.sum() + b.sum()``), PyTorch's
    leaves' ``.grad`` alias one buffer, so a second backward makes ``a.grad`` 3 where it is
    2."""
    a, b = leaf(0.5), leaf(0.2)
    total = agx.stack([a, b]).sum() + a.detach().sum()
    total.backward(retain_graph=True)
    total.backward()
    assert a.grad.item() == 2.0 and b.grad.item() == 2.0


def test_inplace_change_of_a_base_reaches_its_views():
    x = leaf([1.0, 1.0])
    base = x * 2
    view = base[0]
    base.mul_(5)
    view.backward()
    assert node(view) == "AsStridedBackward0"
    assert x.grad.tolist() == [10.0, 0.0]


def test_pow_gradient_of_the_exponent_at_zero():
    y = leaf(-1.5)
    with np.errstate(all="ignore"):
        (agx.tensor(0.0, dtype=agx.float64) ** y).backward()
    assert y.grad.item() == -np.inf


# abs's gradient is grad * sign(input), whose sign node connects it to the input (zeros).
@pytest.mark.parametrize("kink", [
    pytest.param("relu", marks=bug(
        "the gradient of relu (piecewise constant) is not connected to its input in a "
        "double-backward graph: the input's second-order .grad is None where PyTorch gives "
        "zeros")),
    "abs"])
def test_second_order_gradient_through_a_kink_is_zero(kink):
    x, w = leaf([0.5, -1.0]), leaf([2.0, 3.0])
    g, = agx.autograd.grad((getattr(x, kink)() * w).sum(), x, create_graph=True)
    (g * g).sum().backward()
    assert x.grad is not None and not x.grad.any()


# ---------------------------------------------------------------- in-place checks

def _constant():
    return agx.tensor([2.0, 3.0], dtype=agx.float64)


_SAVES_X = ("2 / x saves x; PyTorch computes it as reciprocal(x) * 2, whose node saves the "
            "result instead, so x may change in place")


@pytest.mark.parametrize("op", [
    pytest.param(lambda y: y * 3, id="x*3"),
    pytest.param(lambda y: 3 * y, id="3*x"),
    pytest.param(lambda y: y / 2, id="x/2"),
    pytest.param(lambda y: 2 / y, id="2/x", marks=pytest.mark.xfail(strict=True, reason=_SAVES_X)),
    pytest.param(lambda y: y * _constant(), id="x*c"),
    pytest.param(lambda y: y / _constant(), id="x/c"),
    pytest.param(lambda y: y @ _constant(), id="x@c"),
    pytest.param(lambda y: _constant().mul_(y), id="c.mul_(x)"),
])
def test_inplace_change_of_an_input_backward_does_not_need(op):
    """Only what the gradients of the inputs that require grad read is saved (as PyTorch):
    x's values are not needed here, so changing x in place is fine."""
    y = leaf([0.7, 0.2]) * 1
    out = op(y)
    y.add_(1)
    out.sum().backward()


def test_inplace_change_of_a_squared_value():
    x = leaf([0.7])
    y = x ** 2
    y.add_(1)
    y.sum().backward()
    assert x.grad.tolist() == pytest.approx([1.4])


@pytest.mark.parametrize("through", ["itself", "a view", "its base"])
def test_inplace_change_of_a_result_saved_in_place_is_refused(through):
    def run(lib):
        y = lib.tensor([0.3, 0.1, -0.2], dtype=lib.float64, requires_grad=True) * 3
        (y[1:] if through == "a view" else y).tanh_()
        (y if through == "its base" else y[1:]).mul_(2.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation") as e:
            y.sum().backward()
        return str(e.value).split(" is at ")[1].split(";")[0]
    torch = pytest.importorskip("torch")
    assert run(agx) == run(torch)


def test_backward_twice_through_a_graph_that_saved_nothing():
    x = leaf([1.0, 2.0])
    out = (x + 3).sum()
    out.backward()
    out.backward()
    assert x.grad.tolist() == [2.0, 2.0]


# ---------------------------------------------------------------- grad_fn names

def _comparison_in_place(name):
    return getattr(leaf([0.3, 1.2]).clone(), name)(agx.tensor([0.5, 0.5], dtype=agx.float64))


def _transposed_contiguous():
    return leaf([[1.0]]).transpose(0, 1).contiguous()


@pytest.mark.parametrize("make, expected", [
    *[pytest.param(lambda n=n: _comparison_in_place(n + "_"), n.capitalize() + "Backward1",
                   id=f"{n}_-tensor") for n in ("eq", "ne", "lt", "le", "gt", "ge")],
    pytest.param(lambda: leaf([1.5]).clone().fill_(0.0), "FillBackward2", id="fill_-number"),
    pytest.param(lambda: leaf([1.5]).clone().fill_(leaf(2.0)), "FillBackward3",
                 id="fill_-tensor"),
    pytest.param(_transposed_contiguous, "TransposeBackward0", id="contiguous-of-1x1"),
    pytest.param(lambda: agx.movedim(leaf(1.0), 0, 0), "AliasBackward0", id="movedim-0d"),
    pytest.param(lambda: leaf([1.0]).to(agx.float64, copy=True), "ToCopyBackward0",
                 id="to-copy"),
    pytest.param(lambda: leaf([[1.0]])[0, -1:], "SliceBackward0", id="slice-from--1"),
    pytest.param(lambda: (leaf(np.ones((2, 3))).t() + leaf(np.ones((3, 2)))).reshape(6),
                 "UnsafeViewBackward0", id="reshape-of-a-transpose-plus-a-tensor"),
    pytest.param(lambda: _assign(leaf([0.5, 0.3]).clone(), slice(0, None), leaf(0.2)),
                 "FillBackward3", id="setitem-full-slice-0d-value"),
    pytest.param(lambda: _assign(leaf([0.5]).clone(), slice(-1, None), leaf(0.2)),
                 "CopySlices", id="setitem-slice-from--1"),
])
@bug("the grad_fn name differs from PyTorch's")
def test_grad_fn_name_matches_torch(make, expected):
    assert node(make()) == expected


# ---------------------------------------------------------------- dtypes

@bug("binary_cross_entropy_with_logits promotes; PyTorch's result has the target's dtype")
def test_bce_with_logits_has_the_dtype_of_the_target():
    out = F.binary_cross_entropy_with_logits(agx.tensor(0.3, dtype=agx.float64),
                                             agx.tensor(0.5, dtype=agx.float32))
    assert out.dtype == agx.float32


def test_einsum_sums_integers_as_sum_does():
    assert agx.einsum("ii", agx.tensor([[3]], dtype=agx.int32)).dtype == agx.int64


@bug("einsum of several integer operands keeps their dtype; PyTorch first sums the subscripts "
     "that one operand alone has with sum(), which gives int64, then multiplies")
def test_einsum_of_several_integer_operands_sums_as_sum_does():
    out = agx.einsum("ij,k->k", agx.ones(2, 2, dtype=agx.int32), agx.ones(3, dtype=agx.int32))
    assert out.dtype == agx.int64


@bug("integer ** integer with negative exponents raises NumPy's ValueError; PyTorch computes "
     "it (1 ** -1 is 1, other bases give 0)")
def test_integer_pow_with_negative_integer_exponents():
    out = agx.pow(agx.tensor([2, 0, 1, -2]), agx.tensor([-1, -2, -1, -1]))
    assert out.tolist() == [0, 0, 1, 0]


@bug("index_add of integer tensors applies a fractional alpha as a float; PyTorch casts it "
     "to the tensor's dtype first (-0.5 becomes 0)")
def test_index_add_casts_alpha_to_an_integer_dtype():
    x = agx.index_add(agx.tensor([1, 2, 3]), 0, agx.tensor([0, 1, 1]), agx.tensor([4, 5, 6]),
                      alpha=-0.5)
    assert x.tolist() == [1, 2, 3]


@bug("a weighted l1_loss of uint8 tensors computes |input - target| without wrapping "
     "around; PyTorch subtracts in uint8 first (3 - 5 is 254)")
def test_weighted_l1_loss_of_uint8_wraps_around():
    out = F.l1_loss(agx.tensor([3], dtype=agx.uint8), agx.tensor([5], dtype=agx.uint8),
                    weight=agx.tensor([1.5], dtype=agx.float64))
    assert out.item() == 254.0


@bug("l1_loss(reduction='sum') of uint8 tensors computes NumPy's uint64, for which autogradx "
     "has no dtype (the forward's result is refused with a TypeError); PyTorch's sum is int64")
def test_l1_loss_sum_of_uint8_is_int64():
    out = F.l1_loss(agx.tensor([3], dtype=agx.uint8), agx.tensor([5], dtype=agx.uint8),
                    reduction="sum")
    assert out.dtype == agx.int64


@bug("add of bool tensors with alpha=2 computes in int64 (True + 2 * True is 3); PyTorch casts "
     "alpha to bool and gives True")
def test_add_of_bools_with_alpha_is_bool():
    out = agx.add(agx.tensor(True), agx.tensor(True), alpha=2)
    assert out.dtype == agx.bool and out.item() is True


@bug("dropout of an integer tensor with p=1 raises; PyTorch returns zeros")
def test_dropout_of_integers_with_p_1():
    assert F.dropout(agx.tensor([1, 2]), 1.0, True).tolist() == [0, 0]


@pytest.mark.parametrize("call", [
    pytest.param(lambda: agx.einsum("i,i", agx.tensor([1.5], dtype=agx.float64),
                                    agx.tensor([2.5], dtype=agx.float32)), id="einsum"),
    pytest.param(lambda: F.layer_norm(agx.tensor([1.0], dtype=agx.float16), [1],
                                      weight=agx.tensor([1.0], dtype=agx.float32)),
                 id="layer_norm-float16-input-float32-weight"),
    pytest.param(lambda: _assign(leaf([0.5]).clone(), agx.tensor([True]), leaf(0.25, "float32")),
                 id="setitem-float32-value"),
    pytest.param(lambda: agx.lerp(agx.tensor(1.0), agx.tensor(2.0),
                                  agx.tensor(0.5, dtype=agx.float64)), id="lerp-float64-weight"),
    pytest.param(lambda: agx.lerp(agx.tensor(1), agx.tensor(2),
                                  agx.tensor(0.5, dtype=agx.float64)),
                 id="lerp-int-float64-weight"),
])
@bug("autogradx refuses inputs of two dtypes where PyTorch promotes or casts")
def test_mixed_dtypes_that_pytorch_accepts(call):
    call()


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("call", [
    pytest.param(lambda: agx.sub(agx.tensor([1.5]), agx.tensor([True])), id="sub"),
    pytest.param(lambda: agx.rsub(agx.tensor([1.5]), agx.tensor([True])), id="rsub"),
    pytest.param(lambda: agx.tensor([1.5]) - agx.tensor([True]), id="operator"),
    pytest.param(lambda: F.l1_loss(agx.tensor([0.3]), agx.tensor([True])), id="l1_loss"),
    pytest.param(lambda: F.smooth_l1_loss(agx.tensor([0.3]), agx.tensor([True]), beta=0.0),
                 id="smooth_l1_loss-beta-0"),
    pytest.param(lambda: F.mse_loss(agx.tensor([0.3]), agx.tensor([True]),
                                    weight=agx.tensor([1.5])), id="mse_loss-weight"),
    pytest.param(lambda: F.smooth_l1_loss(agx.tensor(True), agx.tensor(False), beta=0.0),
                 id="smooth_l1_loss-two-bools"),
])
@bug("subtraction with one bool tensor is computed (with two, NumPy's TypeError is raised); "
     "PyTorch refuses any bool operand with a RuntimeError")
def test_subtracting_a_bool_tensor_is_refused(call):
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with (a|two) bool"):
        call()


def _masked_fill_int_with_grad():
    return agx.masked_fill(agx.tensor(3), agx.tensor(True), leaf(0.5))


@pytest.mark.parametrize("call, error", [
    pytest.param(lambda: F.binary_cross_entropy_with_logits(
        agx.tensor(2), agx.tensor(0.5, dtype=agx.float64)), NotImplementedError,
        id="bce_with_logits-int-input"),
    pytest.param(lambda: F.binary_cross_entropy_with_logits(
        leaf(0.3), agx.tensor(1)), RuntimeError, id="bce_with_logits-int-target"),
    pytest.param(lambda: agx.round(agx.tensor(3), decimals=0), NotImplementedError,
                 id="round-int-decimals"),
    pytest.param(lambda: agx.einsum("i,i", agx.tensor([True, False]), agx.tensor([True, True])),
                 NotImplementedError, id="einsum-bool"),
    pytest.param(_masked_fill_int_with_grad, RuntimeError, id="masked_fill-int-value-with-grad"),
    pytest.param(lambda: agx.add(agx.tensor(3), agx.tensor(5), alpha=-0.5), RuntimeError,
                 id="add-int-float-alpha"),
    pytest.param(lambda: agx.matmul(agx.tensor([[True]]), agx.tensor([[True]])),
                 NotImplementedError, id="matmul-bool"),
    pytest.param(lambda: agx.pow(agx.tensor(True), agx.tensor(False)), NotImplementedError,
                 id="pow-bool"),
    pytest.param(lambda: agx.clamp(agx.tensor(True), min=agx.tensor(True), max=agx.tensor(False)),
                 NotImplementedError, id="clamp-bool"),
    pytest.param(lambda: F.pad(agx.tensor([[True, False], [False, True]]), (0, 0), "reflect"),
                 NotImplementedError, id="pad-bool-reflect"),
    pytest.param(lambda: F.smooth_l1_loss(agx.tensor(3), agx.tensor(5), beta=0.0), RuntimeError,
                 id="smooth_l1_loss-int-beta-0"),
    pytest.param(lambda: agx.tensor(3, dtype=agx.uint8).clone().fill_(-1.0), RuntimeError,
                 id="fill_-uint8-negative"),
    pytest.param(lambda: agx.masked_fill(agx.tensor(3, dtype=agx.uint8), agx.tensor(True), -0.5),
                 RuntimeError, id="masked_fill-uint8-negative"),
    pytest.param(lambda: _assign(agx.tensor([3], dtype=agx.uint8), agx.tensor([], dtype=agx.int64),
                                 -0.5), RuntimeError, id="setitem-uint8-negative-no-element"),
    pytest.param(lambda: agx.index_add(agx.tensor([1], dtype=agx.uint8), 0,
                                       agx.tensor([], dtype=agx.int64),
                                       agx.tensor([], dtype=agx.uint8), alpha=-0.5),
                 RuntimeError, id="index_add-uint8-negative-alpha"),
])
@bug("autogradx computes what PyTorch refuses")
def test_pytorch_refuses_it(call, error):
    with pytest.raises(error):
        call()


def _f16():
    return agx.tensor([[2.0]], dtype=agx.float16)


@pytest.mark.parametrize("call, error", [
    pytest.param(lambda: agx.lerp(agx.tensor(1), agx.tensor(2.0, dtype=agx.float64), 0.0),
                 RuntimeError, id="lerp-int-input"),
    pytest.param(lambda: agx.pow(agx.tensor([2]), -1), RuntimeError, id="pow-int-negative"),
    pytest.param(lambda: F.binary_cross_entropy(agx.tensor([0]), agx.tensor([0.5],
                                                dtype=agx.float64)),
                 RuntimeError, id="bce-int-input"),
    pytest.param(lambda: F.huber_loss(agx.tensor(2), agx.tensor(1.5, dtype=agx.float64)),
                 RuntimeError, id="huber_loss-int-input"),
    pytest.param(lambda: F.layer_norm(agx.tensor([1, 2]), [2], weight=agx.tensor([1.0, 1.0])),
                 RuntimeError, id="layer_norm-int-input"),
    pytest.param(lambda: F.conv1d(agx.tensor(np.ones((1, 1)), dtype=agx.int32),
                                  agx.tensor(np.ones((1, 1, 1))), None, padding="same",
                                  dilation=2), NotImplementedError, id="conv1d-int-dilated"),
    pytest.param(lambda: F.conv1d(agx.tensor([[True]]), agx.tensor([[[1.5]]], dtype=agx.float64),
                                  agx.tensor([0.5], dtype=agx.float64)),
                 RuntimeError, id="conv1d-bool-input"),
    pytest.param(lambda: agx.matmul(agx.tensor([[True]]),
                                    agx.tensor([[[1.5]]], dtype=agx.float64)),
                 NotImplementedError, id="matmul-bool-float"),
    pytest.param(lambda: agx.bmm(agx.tensor([[[True]]]), agx.tensor([[[1.5]]], dtype=agx.float64)),
                 NotImplementedError, id="bmm-bool-float"),
    pytest.param(lambda: F.binary_cross_entropy_with_logits(agx.tensor(True), agx.tensor(False)),
                 NotImplementedError, id="bce_with_logits-bool"),
    pytest.param(lambda: F.nll_loss(agx.tensor([1]), agx.tensor(0),
                                    weight=agx.tensor([1.0], dtype=agx.float64)),
                 NotImplementedError, id="nll_loss-int-input-weight"),
    pytest.param(lambda: agx.einsum("i,i", agx.tensor([True, False]),
                                    agx.tensor([1.5, 2.0], dtype=agx.float64)),
                 NotImplementedError, id="einsum-bool-float"),
    pytest.param(lambda: agx.masked_fill(agx.tensor(1, dtype=agx.uint8), agx.tensor(True), -1.0),
                 RuntimeError, id="masked_fill-uint8-overflow"),
    pytest.param(lambda: _assign(agx.tensor([3], dtype=agx.uint8), agx.tensor([0]), -1.0),
                 RuntimeError, id="setitem-uint8-overflow"),
    pytest.param(lambda: agx.linalg.det(_f16()), NotImplementedError, id="det-float16"),
    pytest.param(lambda: agx.linalg.inv(_f16()), RuntimeError, id="inv-float16"),
    pytest.param(lambda: agx.linalg.norm(_f16(), "nuc"), RuntimeError, id="norm-float16"),
])
@bug("the exception type differs from PyTorch's")
def test_error_type_matches_torch(call, error):
    with pytest.raises(Exception) as raised:
        call()
    assert type(raised.value) is error


# ---------------------------------------------------------------- printing

@bug("complex tensors print as Python complex numbers, with a dtype suffix for complex64")
def test_complex_tensors_print_as_pytorch_does():
    x = agx.tensor(np.array([1 + 2j, 3.5 - 1j], np.complex64))
    assert repr(x) == "tensor([1.0000+2.j, 3.5000-1.j])"
