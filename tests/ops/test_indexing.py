"""The indexing ops: finite-difference gradient checks (float64), views, setitem, errors.

Each gradient case is one line: an id, the function, and the shapes of its
float inputs (random values in [-2, 2) that require grad); index tensors are
written into the functions.
"""

import numpy as np
import pytest

import autogradx as agx
from autogradx.testing import gradcheck, gradgradcheck
from helpers import case, err, make_inputs, view_base


def L(*values):
    """An int64 index tensor: ``L(1)`` is 0-d, ``L(2, 0)`` 1-d, ``L([[0, 1]])`` 2-d."""
    return agx.tensor(values[0] if len(values) == 1 else values)


def _mask(shape, seed=0):
    return agx.tensor(np.random.default_rng(seed).uniform(size=shape) > 0.4)


GETITEM = [
    case("int", lambda x: x[1], (3, 4)),
    case("int-negative", lambda x: x[-1], (3, 4)),
    case("ints-to-0d", lambda x: x[1, -2], (3, 4)),
    case("slice", lambda x: x[1:], (3, 4)),
    case("slice-step", lambda x: x[::2, 1::2], (5, 4)),
    case("slice-negative-bounds", lambda x: x[-3:-1], (4, 2)),
    case("slice-empty", lambda x: x[2:1], (3, 2)),
    case("none", lambda x: x[None], (3,)),
    case("none-middle", lambda x: x[:, None, 1], (3, 4)),
    case("ellipsis", lambda x: x[..., 0], (2, 3, 4)),
    case("ellipsis-only", lambda x: x[...], (2, 3)),
    case("combined", lambda x: x[1:, None, ..., ::2], (3, 2, 4)),
    case("0d-ellipsis", lambda x: x[...], ()),
    case("0d-none", lambda x: x[None], ()),
    case("view-then-use-twice", lambda x: x[0] * x[1] + x[0], (2, 3)),
]

INDEX = [
    case("list", lambda x: x[[0, 2]], (3, 4)),
    case("list-repeats", lambda x: x[[1, 1, 0, 1]], (3, 4)),
    case("list-negative", lambda x: x[[-1, 0]], (3, 4)),
    case("tensor", lambda x: x[L(2, 0, 2)], (3, 4)),
    case("tensor-2d", lambda x: x[L([0, 1], [1, 1])], (3, 4)),
    case("tensor-0d", lambda x: x[L(1)], (3, 4)),
    case("tensor-0d-and-int", lambda x: x[L(1), 0], (3, 4)),
    case("mask", lambda x: x[_mask((3, 4))], (3, 4)),
    case("mask-rows", lambda x: x[_mask(3)], (3, 4)),
    case("mask-after-slice", lambda x: x[:, _mask(4, seed=1)], (3, 4)),
    case("bool-true", lambda x: x[True], (3,)),
    case("slice-then-list", lambda x: x[1:, [0, 0]], (3, 4)),
    case("two-lists", lambda x: x[[0, 1, 1], [2, 2, 0]], (3, 4)),
    case("lists-apart", lambda x: x[[0, 1], :, [1, 1]], (2, 3, 4)),
    case("none-and-list", lambda x: x[None, [1, 0]], (3, 2)),
    case("int-and-list", lambda x: x[0, [2, 2]], (3, 4)),
    case("ellipsis-and-list", lambda x: x[..., [3, 0, 3]], (2, 4)),
]


def _set(index, scalar=None):
    """``y = x * 1; y[index] = v`` (or the scalar): gradients reach both x and v."""
    def fn(x, v=None):
        y = x * 1
        y[index] = scalar if v is None else v
        return y
    return fn


SETITEM = [
    case("set-int", _set(1), (3, 4), (4,)),
    case("set-int-broadcast", _set(1), (3, 4), (1,)),
    case("set-int-0d", _set((0, 1)), (3, 4), ()),
    case("set-slice-step", _set((slice(None), slice(None, None, 2))), (3, 4), (3, 1)),
    case("set-scalar", _set(slice(1, None), scalar=2.5), (3, 4)),
    case("set-everything", _set(Ellipsis), (3, 4), (4,)),
    case("set-leading-ones", _set(0), (3, 4), (1, 4)),
    case("set-none", _set(None), (2, 3), (3,)),
    case("set-list", _set([0, 2]), (3, 4), (2, 4)),
    case("set-mask", _set(np.array([True, False, True])), (3, 2), (2,)),
    case("set-slice-list", _set((slice(1, None), [0, 3])), (3, 4), ()),
    case("set-tensor-index", _set(L(2, 0)), (3, 4), (2, 1)),
]

ALONG_DIM = [
    case("narrow", lambda x: x.narrow(1, 1, 2), (3, 4)),
    case("narrow-negative", lambda x: agx.narrow(x, -1, -2, 2), (3, 4)),
    case("select", lambda x: x.select(0, 2), (3, 4)),
    case("select-negative", lambda x: agx.select(x, -1, -1), (3, 4)),
    case("index_select", lambda x: x.index_select(1, L(3, 0, 3)), (2, 4)),
    case("index_select-neg-dim", lambda x: agx.index_select(x, -2, L(1, 1)), (2, 4)),
    case("index_select-0d-index", lambda x: x.index_select(0, L(1)), (2, 4)),
    case("index_select-0d", lambda x: x.index_select(0, L(0)), ()),
    case("gather", lambda x: x.gather(1, L([0, 0], [2, 1])), (2, 3)),
    case("gather-dim0-smaller", lambda x: agx.gather(x, 0, L([[1, 0]])), (2, 3)),
    case("gather-3d-neg", lambda x: x.gather(-1, L([[[1, 1, 0]], [[0, 0, 0]]])), (2, 2, 2)),
    case("gather-0d", lambda x: x.gather(0, L(0)), ()),
    case("take_along_dim", lambda x: agx.take_along_dim(x, L([[2, 0]]), 1), (2, 3)),
    case("take_along_dim-flat", lambda x: x.take_along_dim(L(5, 0, 5)), (2, 3)),
    case("take_along_dim-broadcast", lambda x: x.take_along_dim(L([[0], [1]]), dim=0), (2, 1)),
    case("scatter_add", lambda x, s: x.scatter_add(1, L([[0, 0, 2], [1, 0, 1]]), s),
         (2, 3), (2, 3)),
    case("scatter_add-src-larger", lambda x, s: agx.scatter_add(x, 0, L([[1, 1]]), s),
         (2, 3), (2, 3)),
    case("index_add", lambda x, s: x.index_add(1, L(0, 2, 0), s), (2, 3), (2, 3)),
    case("index_add-alpha", lambda x, s: agx.index_add(x, 0, L(1), s, alpha=-2.5), (2, 3), (1, 3)),
    case("masked_fill", lambda x: x.masked_fill(_mask((2, 3)), 1.5), (2, 3)),
    case("masked_fill-broadcast-mask", lambda x: x.masked_fill(_mask(3), 0.0), (2, 3)),
    case("masked_fill-broadcast-input", lambda x: agx.masked_fill(x, _mask((2, 3)), -1.0), (3,)),
    case("masked_fill-0d-value", lambda x, v: x.masked_fill(_mask((2, 3)), v), (2, 3), ()),
]

ALL = GETITEM + INDEX + SETITEM + ALONG_DIM


@pytest.mark.parametrize("fn, shapes", ALL)
def test_gradcheck(fn, shapes):
    assert gradcheck(fn, make_inputs(shapes, seed=1234))


# Gradients of gradients: the vjps run again on tensors (create_graph=True).
SECOND_ORDER = [
    case("getitem", lambda x: x[1:, None, ::2] ** 2, (3, 4)),
    case("index-repeats", lambda x: x[[0, 0, 2], 1:] ** 2, (3, 4)),
    case("index-mask", lambda x: x[_mask((3, 4))] ** 2, (3, 4)),
    case("setitem", _set((0, slice(1, None))), (2, 3), (2,)),
    case("setitem-advanced", _set([1, 0]), (2, 3), (3,)),
    case("narrow-select", lambda x: x.narrow(1, 1, 2).select(0, -1) ** 2, (2, 3)),
    case("index_select", lambda x: x.index_select(1, L(0, 0)) ** 2, (2, 3)),
    case("gather", lambda x: x.gather(1, L([[0], [2]])) ** 2, (2, 3)),
    case("take_along_dim", lambda x: x.take_along_dim(L([[0], [2]]), 1) ** 2, (2, 3)),
    case("take_along_dim-flat", lambda x: x.take_along_dim(L(4, 0)) ** 2, (2, 3)),
    case("scatter_add", lambda x, s: x.scatter_add(1, L([[0, 0]]), s) ** 2, (2, 3), (1, 2)),
    case("index_add", lambda x, s: x.index_add(1, L(0, 0), s) ** 2, (2, 3), (2, 2)),
    case("masked_fill", lambda x, v: x.masked_fill(L([True, False, True]), v) ** 2, (2, 3), ()),
]


@pytest.mark.parametrize("fn, shapes", SECOND_ORDER)
def test_gradgradcheck(fn, shapes):
    assert gradgradcheck(fn, make_inputs(shapes, seed=1234))


# ---------------------------------------------------------------- gradients by hand

def test_repeated_indices_accumulate():
    x = agx.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 2, 0, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])
    x.grad = None
    x.index_select(0, L(1, 1)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 0.0])
    x.grad = None
    x.gather(0, L(2, 2, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 3.0])


def test_setitem_on_a_non_leaf():
    x = agx.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = agx.tensor([10.0, 20.0], requires_grad=True)
    y = x * 2
    y[:, 1] = v
    assert y.grad_fn.name() == "CopySlices" and y._version == 1
    np.testing.assert_array_equal(y.detach().numpy(), [[0, 10, 4], [6, 20, 10]])
    (y * agx.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 0, 6], [8, 0, 12]])
    np.testing.assert_array_equal(v.grad.numpy(), [2, 5])


def test_setitem_values_into_a_tensor_without_grad():
    z = agx.zeros(2, 3, dtype=agx.float64)
    w = agx.tensor(3.0, dtype=agx.float64, requires_grad=True)
    z[1, ::2] = w
    assert not z.is_leaf and z.grad_fn.name() == "CopySlices"
    (z * 2).sum().backward()
    assert w.grad.item() == 4.0


def test_setitem_gradient_stops_where_values_were_overwritten():
    x = agx.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y[[0, 0]] = agx.tensor([5.0, 6.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0])


def test_setitem_on_a_leaf_that_requires_grad_fails():
    x = agx.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 3.0


def test_setitem_through_a_view_of_a_plain_tensor():
    x = agx.zeros(2, 3)
    x[1][0] = 7.0
    x[:, 2] = agx.tensor([1.0, 2.0])
    np.testing.assert_array_equal(x.numpy(), [[0, 0, 1], [7, 0, 2]])
    assert x._version == 2


def test_setitem_scalar_casts_to_the_tensor_dtype():
    i = agx.zeros(3, dtype=agx.int64)
    i[0] = 2.7
    i[[1, 2]] = True
    assert i.dtype == agx.int64 and i.tolist() == [2, 1, 1]


def test_inplace_variants():
    x = agx.tensor(np.zeros((2, 3)))
    x.masked_fill_(agx.tensor([True, False, True]), 4.0)
    x.scatter_add_(0, L([[1, 0, 1]]), agx.ones(1, 3, dtype=agx.float64))
    x.index_add_(1, L(0), agx.ones(2, 1, dtype=agx.float64), alpha=2)
    np.testing.assert_array_equal(x.numpy(), [[6, 1, 4], [7, 0, 5]])
    assert x._version == 3


def test_masked_fill_value_gradient():
    x = agx.tensor(np.ones((2, 3)), requires_grad=True)
    v = agx.tensor(2.0, dtype=agx.float32, requires_grad=True)
    m = agx.tensor([[True, False, True], [False, False, True]])
    x.masked_fill(m, v).sum().backward()
    assert v.grad.dtype == agx.float32 and v.grad.item() == 3.0
    np.testing.assert_array_equal(x.grad.numpy(), ~m.numpy())


# ---------------------------------------------------------------- views

BASIC = [
    pytest.param(lambda x: x[1], id="int"),
    pytest.param(lambda x: x[0, 1, 2], id="0d"),
    pytest.param(lambda x: x[:, 1::2], id="slice"),
    pytest.param(lambda x: x[None, ..., 0], id="none-ellipsis"),
    pytest.param(lambda x: x[agx.tensor(1)], id="0d-tensor"),
    pytest.param(lambda x: x.narrow(2, 1, 2), id="narrow"),
    pytest.param(lambda x: x.select(1, 0), id="select"),
]

ADVANCED = [
    pytest.param(lambda x: x[[0, 1]], id="list"),
    pytest.param(lambda x: x[:, [0, 1]], id="slice-list"),
    pytest.param(lambda x: x[x > 5], id="mask"),
    pytest.param(lambda x: x[True], id="bool"),
    pytest.param(lambda x: x.index_select(0, L(1)), id="index_select"),
    pytest.param(lambda x: x.gather(0, L([[[1]]])), id="gather"),
]


@pytest.mark.parametrize("fn", BASIC)
def test_basic_indexing_gives_views(fn):
    x = view_base()
    v = fn(x)
    assert v._base is x and np.shares_memory(v.numpy(), x.numpy())
    v.mul_(0)
    assert x._version == v._version == 1
    assert x.sum().item() == 276 - sum(np.ravel(fn(view_base()).numpy()))


@pytest.mark.parametrize("fn", ADVANCED)
def test_advanced_indexing_copies(fn):
    x = view_base()
    c = fn(x)
    assert c._base is None and not np.shares_memory(c.numpy(), x.numpy())
    c.mul_(0)
    assert x._version == 0 and x.sum().item() == 276


# ---------------------------------------------------------------- errors

ERRORS = [
    err("int-out-of-range", lambda x: x[2], IndexError,
        "index 2 is out of bounds for dimension 0 with size 2"),
    err("negative-out-of-range", lambda x: x[:, -4], IndexError,
        "index -4 is out of bounds for dimension 1 with size 3"),
    err("list-out-of-range", lambda x: x[:, [0, 5]], IndexError,
        "index 5 is out of bounds for dimension 1 with size 3"),
    err("too-many", lambda x: x[0, 0, 0, 0], IndexError,
        "too many indices for tensor of dimension 3"),
    err("float-tensor", lambda x: x[agx.tensor([0.0])], IndexError,
        "must be long, int, byte or bool tensors"),
    err("set-out-of-range", lambda x: x.detach().__setitem__(5, 1.0), IndexError,
        "index 5 is out of bounds"),
    err("set-dtype", lambda x: x.detach().__setitem__([0], agx.tensor(1.0)), RuntimeError,
        "Index put requires the source and destination dtypes match, got Double for the "
        "destination and Float for the source"),
    err("set-shape", lambda x: x.detach().__setitem__(0, agx.ones(2)), RuntimeError,
        r"The expanded size of the tensor \(4\) must match the existing size \(2\) at "
        r"non-singleton dimension 1.  Target sizes: \[3, 4\].  Tensor sizes: \[2\]"),
    err("narrow-0d", lambda x: x[0, 0, 0].narrow(0, 0, 1), RuntimeError,
        "cannot be applied to a 0-dim tensor"),
    err("narrow-start", lambda x: x.narrow(1, 4, 0), IndexError,
        r"start out of range \(expected to be in range of \[-3, 3\], but got 4\)"),
    err("narrow-length", lambda x: x.narrow(1, 2, 2), RuntimeError,
        r"start \(2\) \+ length \(2\) exceeds dimension size \(3\)"),
    err("select-index", lambda x: x.select(1, 3), IndexError,
        r"index 3 out of range for tensor of size \[2, 3, 4\] at dimension 1"),
    err("index_select-range", lambda x: x.index_select(2, L(4)), RuntimeError,
        "index 4 is out of bounds for dimension 2 with size 4"),
    err("index_select-matrix", lambda x: x.index_select(0, L([[0]])), IndexError,
        "Index is supposed to be a vector"),
    err("index_select-float", lambda x: x.index_select(0, agx.tensor([0.0])), RuntimeError,
        "Expected dtype int32 or int64 for index"),
    err("gather-ndim", lambda x: x.gather(0, L(0)), RuntimeError,
        "same number of dimensions"),
    err("gather-size", lambda x: x.gather(0, L([[[0]] * 4])), RuntimeError,
        r"expected index \[1, 4, 1\] to be no larger than self \[2, 3, 4\] apart from dimension 0"),
    err("gather-range", lambda x: x.gather(2, L([[[-1]]])), RuntimeError,
        "index -1 is out of bounds for dimension 2 with size 4"),
    err("scatter_add-dtype", lambda x: x.scatter_add(0, L([[[0]]]), agx.ones(1, 1, 1)),
        RuntimeError,
        "Expected self.dtype to be equal to src.dtype"),
    err("index_add-shape", lambda x: x.index_add(0, L(0), x), RuntimeError,
        "source tensor shape must match self tensor shape"),
    err("take_along_dim-dtype", lambda x: x.take_along_dim(agx.tensor([[[0]]], dtype=agx.int32), 0),
        RuntimeError,
        "dtype of indices should be Long but got Int"),
    err("take_along_dim-ndim", lambda x: x.take_along_dim(L(0), 1), RuntimeError,
        "same number of dimensions"),
    err("masked_fill-mask-dtype", lambda x: x.masked_fill(L(1, 0, 1, 0), 0.0), RuntimeError,
        "only supports boolean masks"),
    err("masked_fill-value-ndim", lambda x: x.masked_fill(x > 0, agx.ones(1)), RuntimeError,
        "only supports a 0-dimensional value tensor"),
]


@pytest.mark.parametrize("fn, error, match", ERRORS)
def test_errors(fn, error, match):
    x = agx.tensor(np.zeros((2, 3, 4)), requires_grad=True)
    with pytest.raises(error, match=match):
        fn(x)


@pytest.mark.parametrize("index", [slice(None, None, -1), (0, slice(None, None, 0))],
                         ids=["negative-step", "zero-step"])
def test_slice_steps_must_be_positive(index):
    x = agx.zeros(3, 2)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[index]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[index] = 1.0


@pytest.mark.parametrize("index, values", [(0, (2,)), ((0, 0), (2, 1, 4)), (slice(0, 1), (3, 3, 4))])
def test_values_that_do_not_broadcast_get_torchs_expand_message(index, values):
    x = agx.zeros(2, 3, 4)
    with pytest.raises(RuntimeError) as ours:
        x[index] = agx.ones(*values)
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError) as theirs:
        torch.zeros(2, 3, 4)[index] = torch.ones(*values)
    assert str(ours.value) == str(theirs.value)
