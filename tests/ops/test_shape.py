"""The shape ops: finite-difference gradient checks (float64), views and copies, errors.

Each gradient case is one line: an id, the function, and the shapes of its
inputs (random values in [-2, 2) that require grad).
"""

import numpy as np
import pytest

import autogradx as agx
from autogradx.testing import gradcheck, gradgradcheck
from helpers import case, err, make_inputs, transposed, view_base


RESHAPE = [
    case("reshape", lambda x: x.reshape(6, 4), (2, 3, 4)),
    case("reshape-tuple", lambda x: x.reshape((4, -1)), (2, 3, 4)),
    case("reshape-fn-kw", lambda x: agx.reshape(x, shape=(-1,)), (2, 3, 4)),
    case("reshape-copy", lambda x: transposed(x).reshape(-1, 2), (2, 3, 4)),
    case("reshape-to-0d", lambda x: x.reshape(()), (1, 1)),
    case("reshape-from-0d", lambda x: x.reshape(1, 1, 1), ()),
    case("reshape_as", lambda x: x.reshape_as(agx.zeros(3, 8)), (2, 3, 4)),
    case("view", lambda x: x.view(4, 6), (2, 3, 4)),
    case("view-tuple-neg", lambda x: x.view((-1, 3)), (2, 3)),
    case("view-size-kw", lambda x: x.view(size=(6,)), (3, 2)),
    case("view-of-slice", lambda x: x[:, 1:].view(3, 1, 3), (3, 4)),
    case("view_as", lambda x: x.view_as(agx.zeros(6)), (2, 3)),
    case("flatten", lambda x: x.flatten(), (2, 3, 4)),
    case("flatten-start", lambda x: x.flatten(1), (2, 3, 4)),
    case("flatten-range", lambda x: agx.flatten(x, 0, 1), (2, 3, 4)),
    case("flatten-neg", lambda x: x.flatten(start_dim=-2, end_dim=-1), (2, 3, 4)),
    case("flatten-same-dim", lambda x: x.flatten(1, 1), (2, 3)),
    case("flatten-copy", lambda x: transposed(x).flatten(), (2, 3, 4)),
    case("flatten-0d", lambda x: x.flatten(), ()),
    case("ravel", lambda x: x.ravel(), (2, 3)),
    case("ravel-copy", lambda x: agx.ravel(transposed(x)), (2, 3)),
    case("unflatten", lambda x: x.unflatten(1, (3, 1)), (2, 3, 4)),
    case("unflatten-neg-infer", lambda x: agx.unflatten(x, -1, (2, -1)), (2, 3, 4)),
    case("squeeze-all", lambda x: x.squeeze(), (1, 3, 1)),
    case("squeeze-dim", lambda x: x.squeeze(2), (1, 3, 1)),
    case("squeeze-neg", lambda x: agx.squeeze(x, -3), (1, 3, 1)),
    case("squeeze-tuple", lambda x: x.squeeze((0, 2)), (1, 3, 1)),
    case("squeeze-not-1", lambda x: x.squeeze(1), (1, 3, 1)),
    case("squeeze-0d", lambda x: x.squeeze(0), ()),
    case("unsqueeze-0", lambda x: x.unsqueeze(0), (2, 3)),
    case("unsqueeze-mid", lambda x: agx.unsqueeze(x, 1), (2, 3)),
    case("unsqueeze-neg", lambda x: x.unsqueeze(-1), (2, 3)),
    case("unsqueeze-0d", lambda x: x.unsqueeze(0), ()),
]

REORDER = [
    case("transpose", lambda x: x.transpose(0, 2), (2, 3, 4)),
    case("transpose-neg", lambda x: agx.transpose(x, -1, 0), (2, 3, 4)),
    case("transpose-same", lambda x: x.transpose(1, 1), (2, 3)),
    case("transpose-0d", lambda x: x.transpose(0, -1), ()),
    case("swapaxes", lambda x: x.swapaxes(0, 1), (2, 3)),
    case("swapdims", lambda x: agx.swapdims(x, 1, 2), (2, 3, 4)),
    case("t-2d", lambda x: x.t(), (2, 3)),
    case("t-1d", lambda x: agx.t(x), (3,)),
    case("t-0d", lambda x: x.t(), ()),
    case("permute", lambda x: x.permute(2, 0, 1), (2, 3, 4)),
    case("movedim", lambda x: x.movedim(0, 2), (2, 3, 4)),
    case("movedim-tuple", lambda x: agx.movedim(x, (0, 1), (2, 0)), (2, 3, 4)),
    case("movedim-neg", lambda x: x.moveaxis(-1, 0), (2, 3, 4)),
    case("movedim-0d", lambda x: x.movedim(0, -1), ()),
    case("contiguous", lambda x: x.contiguous(), (2, 3)),
    case("contiguous-copy", lambda x: transposed(x).contiguous(), (2, 3)),
]

BROADCAST = [
    case("expand-lead", lambda x: x.expand(2, 3, 4), (3, 4)),
    case("expand-size-1", lambda x: x.expand(-1, 4), (3, 1)),
    case("expand-tuple", lambda x: x.expand((2, 3, 4)), (1, 1)),
    case("expand-same", lambda x: x.expand(3, 4), (3, 4)),
    case("expand-0d", lambda x: x.expand(5), ()),
    case("expand-size-kw", lambda x: x.expand(size=(2, -1)), (3,)),
    case("expand_as", lambda x: x.expand_as(agx.zeros(2, 3, 4)), (3, 1)),
    case("broadcast_to", lambda x: agx.broadcast_to(x, (2, 3, 4)), (1, 4)),
    case("broadcast_to-method", lambda x: x.broadcast_to((3, 2)), (3, 1)),
    case("expand-then-mul", lambda x, y: x.expand(3, 4) * y, (1, 4), (3, 4)),
    case("repeat", lambda x: x.repeat(2, 1, 3), (2, 3, 4)),
    case("repeat-lead", lambda x: x.repeat(2, 2, 1), (3, 4)),
    case("repeat-tuple", lambda x: x.repeat((1, 2)), (3, 1)),
    case("repeat-0d", lambda x: x.repeat(2, 3), ()),
    case("tile", lambda x: agx.tile(x, (2,)), (2, 3)),
    case("tile-longer", lambda x: x.tile((2, 1, 2)), (2, 3)),
    case("tile-0d", lambda x: x.tile((3,)), ()),
]

FLIP = [
    case("flip", lambda x: x.flip(0), (2, 3, 4)),
    case("flip-tuple", lambda x: agx.flip(x, (0, 2)), (2, 3, 4)),
    case("flip-varargs-neg", lambda x: x.flip(-1, 1), (2, 3, 4)),
    case("flip-dims-kw", lambda x: x.flip(dims=[1]), (2, 3)),
    case("flip-none", lambda x: x.flip(()), (2, 3)),
    case("flip-0d", lambda x: x.flip(0), ()),
    case("fliplr", lambda x: x.fliplr(), (2, 3, 4)),
    case("flipud", lambda x: agx.flipud(x), (3,)),
]

JOIN = [
    case("cat", lambda x, y: agx.cat([x, y]), (2, 3), (1, 3)),
    case("cat-dim1", lambda x, y: agx.cat((x, y), 1), (2, 3), (2, 1)),
    case("cat-neg-three", lambda x, y, z: agx.cat([x, y, z], dim=-1),
         (2, 1, 2), (2, 1, 3), (2, 1, 1)),
    case("cat-self", lambda x: agx.cat([x, x * 2, x]), (2, 3)),
    case("cat-one", lambda x: agx.cat([x], 0), (2,)),
    case("concat", lambda x, y: agx.concat([x, y], axis=0), (1, 2), (2, 2)),
    case("concatenate", lambda x, y: agx.concatenate([x, y], 1), (2, 2), (2, 1)),
    case("cat-legacy-empty", lambda x: agx.cat([x, agx.zeros(0, dtype=agx.float64)], 1), (2, 3)),
    case("stack", lambda x, y: agx.stack([x, y]), (2, 3), (2, 3)),
    case("stack-last", lambda x, y: agx.stack((x, y), -1), (2, 3), (2, 3)),
    case("stack-mid-kw", lambda x, y, z: agx.stack([x, y, z], dim=1), (2, 3), (2, 3), (2, 3)),
    case("stack-0d", lambda x, y: agx.stack([x, y]), (), ()),
    case("hstack", lambda x, y: agx.hstack([x, y]), (2, 3), (2, 1)),
    case("hstack-1d", lambda x, y: agx.hstack([x, y]), (2,), ()),
    case("vstack", lambda x, y: agx.vstack([x, y]), (3,), (2, 3)),
    case("dstack", lambda x, y: agx.dstack([x, y]), (2, 3), (2, 3, 2)),
]

ALL = RESHAPE + REORDER + BROADCAST + FLIP + JOIN


@pytest.mark.parametrize("fn, shapes", ALL)
def test_gradcheck(fn, shapes):
    assert gradcheck(fn, make_inputs(shapes, seed=1234))


# Gradients of gradients: the vjps run again on tensors (create_graph=True).
SECOND_ORDER = [
    case("reshape-copy", lambda x: transposed(x).reshape(-1) ** 2, (2, 3, 4)),
    case("flatten", lambda x: x.flatten(1) ** 2, (2, 3, 4)),
    case("squeeze-unsqueeze", lambda x: x.squeeze(0).unsqueeze(-1) ** 2, (1, 3)),
    case("transpose", lambda x: x.transpose(0, 2) ** 2, (2, 3, 4)),
    case("t", lambda x: x.t() ** 2, (2, 3)),
    case("movedim", lambda x: x.movedim(0, -1) ** 2, (2, 3, 4)),
    case("expand", lambda x: x.expand(2, 3, 4) ** 2, (3, 1)),
    case("repeat", lambda x: x.repeat(2, 1, 2) ** 2, (2, 3)),
    case("flip", lambda x: x.flip(0, 1) ** 2, (2, 3)),
    case("cat", lambda x, y: agx.cat([x, y], 1) ** 2, (2, 3), (2, 1)),
    case("stack", lambda x, y: agx.stack([x, y], -1) ** 2, (2, 3), (2, 3)),
    case("hstack", lambda x, y: agx.hstack([x, y]) ** 2, (3,), ()),
    case("split", lambda x: x.split([1, 2], 1)[1] ** 2, (2, 3)),
    case("chunk", lambda x: x.chunk(2)[0] ** 2, (3, 2)),
    case("unbind", lambda x: x.unbind(1)[2] ** 2, (2, 3)),
]


@pytest.mark.parametrize("fn, shapes", SECOND_ORDER)
def test_gradgradcheck(fn, shapes):
    assert gradgradcheck(fn, make_inputs(shapes, seed=1234))


def test_float32_gradients_keep_their_dtype():
    rng = np.random.default_rng(0)
    x = agx.tensor(rng.uniform(-2, 2, (2, 3)), dtype=agx.float32, requires_grad=True)
    y = agx.tensor(rng.uniform(-2, 2, (1, 3)), dtype=agx.float64, requires_grad=True)
    agx.cat([x.flip(0).expand(2, 3), y]).sum().backward()
    assert x.grad.dtype == agx.float32 and y.grad.dtype == agx.float64
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))


# ---------------------------------------------------------------- views and copies

VIEWS = [
    pytest.param(lambda x: x.reshape(4, 6), id="reshape"),
    pytest.param(lambda x: x.view(-1), id="view"),
    pytest.param(lambda x: x.flatten(1), id="flatten"),
    pytest.param(lambda x: x.unflatten(2, (2, 2)), id="unflatten"),
    pytest.param(lambda x: x.unsqueeze(1), id="unsqueeze"),
    pytest.param(lambda x: x[:1].squeeze(0), id="squeeze"),
    pytest.param(lambda x: x.transpose(0, 2), id="transpose"),
    pytest.param(lambda x: x.movedim(0, -1), id="movedim"),
    pytest.param(lambda x: x.permute(1, 0, 2), id="permute"),
    pytest.param(lambda x: x.expand(2, 3, 4), id="expand-same"),
    pytest.param(lambda x: x.contiguous(), id="contiguous"),
]

COPIES = [
    pytest.param(lambda x: x.transpose(0, 1).reshape(-1), id="reshape-noncontiguous"),
    pytest.param(lambda x: x.transpose(0, 1).flatten(), id="flatten-noncontiguous"),
    pytest.param(lambda x: x.flip(0), id="flip"),
    pytest.param(lambda x: x.repeat(1, 1, 1), id="repeat"),
    pytest.param(lambda x: x.tile((1,)), id="tile"),
    pytest.param(lambda x: x.transpose(0, 1).contiguous(), id="contiguous-noncontiguous"),
    pytest.param(lambda x: agx.cat([x]), id="cat"),
    pytest.param(lambda x: agx.stack([x]), id="stack"),
]


@pytest.mark.parametrize("fn", VIEWS)
def test_views_share_storage_and_version(fn):
    x = view_base()
    v = fn(x)
    assert v._base is x
    assert np.shares_memory(v.numpy(), x.numpy())
    v.add_(1)
    assert x._version == v._version == 1
    assert x.sum().item() == 24 * 23 / 2 + v.numel()


@pytest.mark.parametrize("fn", COPIES)
def test_copies_own_their_storage(fn):
    x = view_base()
    c = fn(x)
    assert c._base is None
    c.add_(1)
    assert x._version == 0 and c._version == 1
    np.testing.assert_array_equal(x.numpy(), np.arange(24.0).reshape(2, 3, 4))


def test_view_of_a_view_has_the_first_base():
    x = view_base()
    v = x.reshape(6, 4).transpose(0, 1).unsqueeze(0)
    assert v._base is x


def test_expanded_view_sees_changes_of_its_base():
    x = agx.zeros(3, 1)
    e = x.expand(3, 4)
    x.add_(1)
    assert e._version == 1
    np.testing.assert_array_equal(e.numpy(), np.ones((3, 4)))


def test_saved_tensor_changed_through_a_view_is_detected():
    w = agx.tensor([1.0, 2.0, 3.0], requires_grad=True)
    c = agx.tensor([[1.0, 2.0, 3.0]])
    y = w * c           # saves c
    c.view(-1).mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_reshape_copy_is_not_a_view_for_inplace_rules():
    x = agx.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x.t().reshape(-1)
    y.mul_(2)           # allowed: a copy, not a view of x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


def test_unused_inputs_of_cat_get_no_gradient():
    x = agx.tensor([1.0, 2.0], requires_grad=True)
    y = agx.tensor([3.0], requires_grad=True)
    agx.cat([x, y])[:2].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(y.grad.numpy(), [0.0])


def test_integer_and_bool_inputs_keep_their_dtype():
    i = agx.tensor([[1, 2, 3]])
    b = agx.tensor([[True, False, True]])
    assert i.reshape(-1).dtype == agx.int64 and i.flip(1).tolist() == [[3, 2, 1]]
    assert b.expand(2, 3).dtype == agx.bool and b.repeat(2, 1).shape == (2, 3)
    assert agx.cat([i, b]).dtype == agx.int64
    assert agx.stack([b, b]).dtype == agx.bool
    assert i.t().grad_fn is None


# ---------------------------------------------------------------- errors

ERRORS = [
    err("reshape-size", lambda x: x.reshape(5, 5), RuntimeError,
        r"shape '\[5, 5\]' is invalid for input of size 24"),
    err("reshape-two-minus-one", lambda x: x.reshape(-1, -1), RuntimeError,
        "only one dimension can be inferred"),
    err("reshape-negative", lambda x: x.reshape(-2, 12), RuntimeError,
        "invalid shape dimension -2"),
    err("view-negative", lambda x: x.view(-2, 12), RuntimeError,
        "invalid shape dimension -2"),
    err("expand-negative", lambda x: x[:, :1].expand(2, -2, 4), RuntimeError,
        r"expanded size of the tensor \(-2\) must match the existing size \(1\)"),
    err("reshape-float", lambda x: x.reshape(2.5), TypeError,
        "must be a tuple of ints"),
    err("view-strides", lambda x: x.transpose(0, 1).view(-1), RuntimeError,
        "view size is not compatible"),
    err("flatten-order", lambda x: x.flatten(2, 0), RuntimeError,
        "start_dim cannot come after end_dim"),
    err("flatten-dim", lambda x: x.flatten(0, 5), IndexError,
        r"range of \[-3, 2\], but got 5"),
    err("unflatten-product", lambda x: x.unflatten(1, (2, 2)), RuntimeError,
        r"sizes \[2, 2\] don't multiply up to the size of dim 1 \(3\)"),
    err("unflatten-empty", lambda x: x.unflatten(1, ()), RuntimeError,
        "sizes must be non-empty"),
    err("squeeze-dim", lambda x: x.squeeze(3), IndexError,
        "Dimension out of range"),
    err("squeeze-repeated", lambda x: x.squeeze((0, -3)), RuntimeError,
        "dim 0 appears multiple times"),
    err("unsqueeze-dim", lambda x: x.unsqueeze(4), IndexError,
        r"range of \[-4, 3\], but got 4"),
    err("transpose-dim", lambda x: x.transpose(0, 3), IndexError,
        "Dimension out of range"),
    err("t-3d", lambda x: x.t(), RuntimeError,
        "t\\(\\) expects a tensor with <= 2 dimensions, but self is 3D"),
    err("movedim-lengths", lambda x: x.movedim((0, 1), 0), RuntimeError,
        "should contain the same number of dims"),
    err("movedim-repeated", lambda x: x.movedim((0, 0), (1, 2)), RuntimeError,
        "repeated dim in `source`"),
    err("expand-mismatch", lambda x: x.expand(2, 5, 4), RuntimeError,
        r"expanded size of the tensor \(5\) must match the existing size \(3\) at "
        "non-singleton dimension 1"),
    err("expand-too-few", lambda x: x.expand(4), RuntimeError,
        r"number of sizes provided \(1\) must be greater or equal"),
    err("expand-new-minus-one", lambda x: x.expand(-1, 2, 3, 4), RuntimeError,
        "isn't allowed in a leading, non-existing dimension 0"),
    err("repeat-too-few", lambda x: x.repeat(2), RuntimeError,
        "can not be smaller than number of dimensions"),
    err("repeat-negative", lambda x: x.repeat(-1, 1, 1), RuntimeError,
        "negative dimension"),
    err("flip-dim", lambda x: x.flip(3), IndexError,
        "Dimension out of range"),
    err("fliplr-1d", lambda x: x[0, 0].fliplr(), RuntimeError,
        "Input must be >= 2-d"),
    err("cat-sizes", lambda x: agx.cat([x, agx.zeros(2, 4, 4)], 2), RuntimeError,
        "Sizes of tensors must match except in dimension 2. Expected size 3 but got size 4 for "
        "tensor number 1"),
    err("cat-ndim", lambda x: agx.cat([x, agx.zeros(3)]), RuntimeError,
        "same number of dimensions: got 3 and 1"),
    err("cat-0d", lambda x: agx.cat([x[0, 0, 0], x[0, 0, 1]]), RuntimeError,
        r"zero-dimensional tensor \(at position 0\)"),
    err("cat-dim", lambda x: agx.cat([x], 3), IndexError,
        "Dimension out of range"),
    err("cat-not-a-list", lambda x: agx.cat(x), TypeError,
        "tuple or list of Tensors"),
    err("stack-shapes", lambda x: agx.stack([x, x[:1]]), RuntimeError,
        r"equal size, but got \[2, 3, 4\] at entry 0 and \[1, 3, 4\] at entry 1"),
]


@pytest.mark.parametrize("fn, error, match", ERRORS)
def test_errors(fn, error, match):
    x = agx.tensor(np.zeros((2, 3, 4)), requires_grad=True)
    with pytest.raises(error, match=match):
        fn(x)


# ---------------------------------------------------------------- split, chunk, unbind

SPLITS = [
    case("split-int", lambda x: agx.split(x, 2, 1), (2, 5)),
    case("split-sizes", lambda x: x.split([1, 3], dim=-1), (2, 4)),
    case("chunk", lambda x: x.chunk(3, 1), (2, 5)),
    case("unbind", lambda x: x.unbind(1), (2, 3)),
    case("unbind-fn-0", lambda x: agx.unbind(x), (3, 2)),
]


@pytest.mark.parametrize("fn, shapes", SPLITS)
def test_gradcheck_split(fn, shapes):
    rng = np.random.default_rng(1234)
    x = agx.tensor(rng.uniform(-2, 2, shapes[0]), requires_grad=True)
    assert gradcheck(fn, (x,))


def test_split_outputs_unused_in_the_loss_get_zero_gradients():
    x = agx.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    a, b, c = x.unbind(0)
    (b * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0] * 4, [2] * 4, [0] * 4])
    first, _ = x.split([1, 3], dim=1)
    assert first._base is x
