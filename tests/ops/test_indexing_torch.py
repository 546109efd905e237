"""The indexing ops against PyTorch: same inputs through both, in float32 and float64.

For every case: the values, the output dtype and shape, whether the output is a
view of the input, the gradient of every input (backward with the same random
output gradient) and the grad_fn name must match PyTorch's. Then integer and
bool inputs, and the exception types of bad indices.
"""

import numpy as np
import pytest

import autogradx as agx
from torch_compare import (DTYPES, assert_close, assert_same_error_type, backward_both, case,
                           compare_input_gradients, node_name, random_like, run_both)

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = {"float32": dict(rtol=1e-6, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-12)}


def M(L, shape, seed=0):
    """A boolean mask of ``shape`` in library ``L``."""
    return L.tensor(np.random.default_rng(seed).uniform(size=shape) > 0.4)


GETITEM = [
    case("int", lambda L, x: x[1], [(3, 4)], "SelectBackward0"),
    case("int-negative", lambda L, x: x[-1, -2], [(3, 4)], "SelectBackward0"),
    case("ints-0d", lambda L, x: x[0, 1, 2], [(2, 3, 4)], "SelectBackward0"),
    case("slice", lambda L, x: x[1:], [(3, 4)], "SliceBackward0"),
    case("slice-full", lambda L, x: x[:], [(3, 4)], "SliceBackward0"),
    case("slice-steps", lambda L, x: x[::2, 1::3], [(5, 7)], "SliceBackward0"),
    case("slice-negative-bounds", lambda L, x: x[-3:-1], [(4, 2)], "SliceBackward0"),
    case("slice-beyond", lambda L, x: x[1:100], [(3, 2)], "SliceBackward0"),
    case("slice-empty", lambda L, x: x[2:1], [(3, 2)], "SliceBackward0"),
    case("slices-full", lambda L, x: x[:, 0:4], [(3, 4)], "AliasBackward0"),
    case("ellipsis", lambda L, x: x[...], [(3, 4)], "AliasBackward0"),
    case("ellipsis-int", lambda L, x: x[..., 1], [(2, 3, 4)], "SelectBackward0"),
    case("none", lambda L, x: x[None], [(3,)], "UnsqueezeBackward0"),
    case("int-then-none", lambda L, x: x[0, None], [(3, 4)], "UnsqueezeBackward0"),
    case("none-then-int", lambda L, x: x[None, 0], [(3, 4)], "SelectBackward0"),
    case("int-then-slice", lambda L, x: x[0, 1:3], [(3, 4)], "SliceBackward0"),
    case("slice-then-int", lambda L, x: x[1:3, 0], [(3, 4)], "SelectBackward0"),
    case("slice-ellipsis-none", lambda L, x: x[1:2, ..., None], [(2, 3, 4)], "UnsqueezeBackward0"),
    case("0d-none", lambda L, x: x[None, ...], [()], "UnsqueezeBackward0"),
    case("tensor-0d", lambda L, x: x[L.tensor(1)], [(3, 4)], "SelectBackward0"),
    case("tensor-0d-and-slice", lambda L, x: x[L.tensor(2), 1:], [(3, 4)], "SliceBackward0"),
]

INDEX = [
    case("list", lambda L, x: x[[0, 2]], [(3, 4)], "IndexBackward0"),
    case("list-repeats", lambda L, x: x[[1, 1, 0, 1]], [(3, 4)], "IndexBackward0"),
    case("list-negative", lambda L, x: x[[-1, 0, -3]], [(3, 4)], "IndexBackward0"),
    case("tensor", lambda L, x: x[L.tensor([2, 0, 2])], [(3, 4)], "IndexBackward0"),
    case("tensor-int32", lambda L, x: x[L.tensor(np.array([1, 0], np.int32))],
         [(3, 4)], "IndexBackward0"),
    case("tensor-2d", lambda L, x: x[L.tensor([[0, 1], [1, 1]])], [(3, 4)], "IndexBackward0"),
    case("mask", lambda L, x: x[M(L, (3, 4))], [(3, 4)], "IndexBackward0"),
    case("mask-rows", lambda L, x: x[M(L, 3)], [(3, 4)], "IndexBackward0"),
    case("mask-list", lambda L, x: x[[True, False, True]], [(3, 4)], "IndexBackward0"),
    case("mask-after-slice", lambda L, x: x[:, M(L, 4, seed=1)], [(3, 4)], "IndexBackward0"),
    case("bool-true", lambda L, x: x[True], [(3,)], "IndexBackward0"),
    case("bool-false", lambda L, x: x[False], [(3,)], "IndexBackward0"),
    case("slice-then-list", lambda L, x: x[1:, [0, 0]], [(3, 4)], "IndexBackward0"),
    case("two-lists", lambda L, x: x[[0, 1, 1], [2, 2, 0]], [(3, 4)], "IndexBackward0"),
    case("lists-apart", lambda L, x: x[[0, 1], :, [1, 1]], [(2, 3, 4)], "IndexBackward0"),
    case("list-slice-list", lambda L, x: x[:, [0, 1], [2, 2]], [(2, 3, 4)], "IndexBackward0"),
    case("none-and-list", lambda L, x: x[None, [1, 0]], [(3, 2)], "IndexBackward0"),
    case("int-and-list", lambda L, x: x[0, [2, 2]], [(3, 4)], "IndexBackward0"),
    case("ellipsis-and-list", lambda L, x: x[..., [3, 0, 3]], [(2, 4)], "IndexBackward0"),
]


def _set(index, scalar=None):
    def fn(L, x, v=None):
        y = x * 1
        y[index(L) if callable(index) else index] = scalar if v is None else v
        return y
    return fn


SETITEM = [
    case("set-int", _set(1), [(3, 4), (4,)], "CopySlices"),
    case("set-int-broadcast", _set(1), [(3, 4), (1,)], "CopySlices"),
    case("set-ints-0d", _set((0, 1)), [(3, 4), ()], "CopySlices"),
    case("set-slice-step", _set((slice(None), slice(None, None, 2))), [(3, 4), (3, 1)],
         "CopySlices"),
    case("set-slice-scalar", _set(slice(1, None), scalar=2.5), [(3, 4)], "CopySlices"),
    case("set-leading-ones", _set(0), [(3, 4), (1, 4)], "CopySlices"),
    case("set-none", _set(None), [(2, 3), (3,)], "CopySlices"),
    case("set-everything", _set(Ellipsis), [(3, 4), (4,)], "CopyBackwards"),
    case("set-everything-scalar", _set(slice(None), scalar=-1.0), [(3, 4)], "FillBackward3"),
    case("set-list", _set([0, 2]), [(3, 4), (2, 4)], "IndexPutBackward0"),
    case("set-list-repeats", _set([1, 1]), [(3, 4), (4,)], "IndexPutBackward0"),
    case("set-slice-full-list", _set((slice(None), [0, 3])), [(3, 4), (3, 1)], "IndexPutBackward0"),
    case("set-slice-list", _set((slice(1, None), [0, 3])), [(3, 4), ()], "CopySlices"),
    case("set-mask", _set(lambda L: M(L, 3)), [(3, 2), (2,)], "IndexPutBackward0"),
    case("set-mask-scalar", _set(lambda L: M(L, (3, 2)), scalar=0.0),
         [(3, 2)], "IndexPutBackward0"),
    case("set-tensor", _set(lambda L: L.tensor([2, 0])), [(3, 4), (2, 1)], "IndexPutBackward0"),
    case("set-tensor-0d", _set(lambda L: L.tensor(1)), [(3, 4), (4,)], "CopySlices"),
]

ALONG_DIM = [
    case("narrow", lambda L, x: x.narrow(1, 1, 2), [(3, 4)], "SliceBackward0"),
    case("narrow-negative", lambda L, x: L.narrow(x, -1, -2, 2), [(3, 4)], "SliceBackward0"),
    case("select", lambda L, x: x.select(0, 2), [(3, 4)], "SelectBackward0"),
    case("select-fn-negative", lambda L, x: L.select(x, -1, -1), [(3, 4)], "SelectBackward0"),
    case("index_select", lambda L, x: x.index_select(1, L.tensor([3, 0, 3])),
         [(2, 4)], "IndexSelectBackward0"),
    case("index_select-fn", lambda L, x: L.index_select(x, -2, L.tensor([1, 1])),
         [(2, 4)], "IndexSelectBackward0"),
    case("index_select-0d-index", lambda L, x: x.index_select(0, L.tensor(1)),
         [(2, 4)], "IndexSelectBackward0"),
    case("gather", lambda L, x: x.gather(1, L.tensor([[0, 0], [2, 1]])),
         [(2, 3)], "GatherBackward0"),
    case("gather-smaller", lambda L, x: L.gather(x, 0, L.tensor([[1, 0]])),
         [(2, 3)], "GatherBackward0"),
    case("gather-3d", lambda L, x: x.gather(-1, L.tensor([[[1, 1, 0]], [[0, 0, 0]]])),
         [(2, 2, 2)], "GatherBackward0"),
    case("take_along_dim", lambda L, x: L.take_along_dim(x, L.tensor([[2, 0]]), 1),
         [(2, 3)], "GatherBackward0"),
    case("take_along_dim-broadcast", lambda L, x: x.take_along_dim(L.tensor([[0], [1]]), dim=0),
         [(2, 3)], "GatherBackward0"),
    case("scatter_add", lambda L, x, s: x.scatter_add(1, L.tensor([[0, 0, 2], [1, 0, 1]]), s),
         [(2, 3), (2, 3)], "ScatterAddBackward0"),
    case("scatter_add-fn", lambda L, x, s: L.scatter_add(x, 0, L.tensor([[1, 1, 0]]), s),
         [(2, 3), (1, 3)], "ScatterAddBackward0"),
    case("index_add", lambda L, x, s: x.index_add(1, L.tensor([0, 2, 0]), s),
         [(2, 3), (2, 3)], "IndexAddBackward0"),
    case("index_add-alpha", lambda L, x, s: L.index_add(x, 0, L.tensor([1]), s, alpha=-2.5),
         [(2, 3), (1, 3)], "IndexAddBackward0"),
    case("masked_fill", lambda L, x: x.masked_fill(M(L, (2, 3)), 1.5),
         [(2, 3)], "MaskedFillBackward0"),
    case("masked_fill-broadcast", lambda L, x: L.masked_fill(x, M(L, (2, 3)), 0.0),
         [(3,)], "MaskedFillBackward0"),
    case("masked_fill-tensor-value", lambda L, x, v: x.masked_fill(M(L, 3), v),
         [(2, 3), ()], "MaskedFillBackward1"),
]

CASES = GETITEM + INDEX + SETITEM + ALONG_DIM


def _close(a, t, dtype, what):
    assert_close(a, t, what, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, shapes, grad_fn", CASES)
def test_against_torch(fn, shapes, grad_fn, dtype):
    a_in, t_in, a_out, t_out, rng = run_both(fn, shapes, dtype)
    assert node_name(t_out.grad_fn) == grad_fn, "the case's expected name is PyTorch's"
    assert a_out.grad_fn.name() == grad_fn
    assert str(a_out.dtype) == str(t_out.dtype)
    _close(a_out, t_out, dtype, "forward")
    assert (a_out._base is a_in[0]) == (t_out._base is t_in[0]), "view of the input or copy"
    backward_both(a_out, t_out, random_like(rng, t_out, dtype))
    compare_input_gradients(a_in, t_in, lambda a, t, what: _close(a, t, dtype, what))


def test_setitem_basic_values_of_another_dtype():
    # A basic index copies into a view: the values are converted, their gradient is not.
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    v = np.array([1.5, 2.5, 3.5])
    outs = []
    for lib in (agx, torch):
        xt, vt = lib.tensor(x, requires_grad=True), lib.tensor(v, requires_grad=True)
        y = xt * 1
        y[1] = vt
        (y * 2).sum().backward()
        outs.append((y.detach().numpy(), str(y.dtype), vt.grad.numpy(), str(vt.grad.dtype)))
    (ay, adt, ag, agdt), (ty, tdt, tg, tgdt) = outs
    np.testing.assert_array_equal(ay, ty)
    np.testing.assert_array_equal(ag, tg)
    assert (adt, agdt) == (tdt, tgdt) == ("torch.float32", "torch.float64")


# ---------------------------------------------------------------- integer and bool inputs

INT_ARRAY = np.arange(24).reshape(2, 3, 4)

NON_FLOAT = [
    pytest.param(lambda L, x: x[1, ::2], id="getitem"),
    pytest.param(lambda L, x: x[[1, 0], :, [3, 3]], id="index"),
    pytest.param(lambda L, x: x[x > 5] if x.dtype != L.bool else x[x], id="mask"),
    pytest.param(lambda L, x: x.index_select(2, L.tensor([0, 0])), id="index_select"),
    pytest.param(lambda L, x: x.gather(1, L.tensor([[[2]], [[0]]])), id="gather"),
    pytest.param(lambda L, x: x.take_along_dim(L.tensor([[[1, 2]]]), 2), id="take_along_dim"),
    pytest.param(lambda L, x: x.masked_fill(x[0, 0, 0] == x[0, 0, 0], 1), id="masked_fill"),
    pytest.param(lambda L, x: x.narrow(2, 1, 2), id="narrow"),
    pytest.param(lambda L, x: x.select(0, -1), id="select"),
]


@pytest.mark.parametrize("array", [INT_ARRAY, INT_ARRAY.astype(np.int32), INT_ARRAY % 3 == 0],
                         ids=["int64", "int32", "bool"])
@pytest.mark.parametrize("fn", NON_FLOAT)
def test_integer_and_bool_inputs(fn, array):
    a, t = fn(agx, agx.tensor(array)), fn(torch, torch.tensor(array))
    assert str(a.dtype) == str(t.dtype)
    np.testing.assert_array_equal(a.numpy(), t.numpy())


@pytest.mark.parametrize("value", [2.7, True, 7], ids=["float", "bool", "int"])
def test_setitem_on_integers_casts_like_torch(value):
    a, t = agx.tensor(INT_ARRAY), torch.tensor(INT_ARRAY)
    for x in (a, t):
        x[0, 1:] = value
        x[[1, 1], 0] = value
    np.testing.assert_array_equal(a.numpy(), t.numpy())
    assert str(a.dtype) == str(t.dtype)


# ---------------------------------------------------------------- errors

BAD_CALLS = [
    pytest.param(lambda L, x: x[2], id="int-range"),
    pytest.param(lambda L, x: x[:, -4], id="negative-range"),
    pytest.param(lambda L, x: x[[0, 5]], id="list-range"),
    pytest.param(lambda L, x: x[0, 0, 0, 0], id="too-many"),
    pytest.param(lambda L, x: x[::-1], id="negative-step"),
    pytest.param(lambda L, x: x[L.tensor([0.0])], id="float-index"),
    pytest.param(lambda L, x: x.__setitem__((0, 7), 1.0), id="set-range"),
    pytest.param(lambda L, x: x.__setitem__(slice(None, None, -2), 1.0), id="set-negative-step"),
    pytest.param(lambda L, x: x.__setitem__([0], L.tensor(1.0, dtype=L.float64)), id="set-dtype"),
    pytest.param(lambda L, x: x.__setitem__(0, L.ones(4, 4)), id="set-shape"),
    pytest.param(lambda L, x: x.__setitem__((0, 0), L.ones(2, 1, 4)), id="set-more-dims"),
    pytest.param(lambda L, x: x[0, 0, 0].narrow(0, 0, 1), id="narrow-0d"),
    pytest.param(lambda L, x: x.narrow(1, 4, 0), id="narrow-start"),
    pytest.param(lambda L, x: x.narrow(1, 2, 2), id="narrow-length"),
    pytest.param(lambda L, x: x.select(1, 3), id="select-range"),
    pytest.param(lambda L, x: x[0, 0, 0].select(0, 0), id="select-0d"),
    pytest.param(lambda L, x: x.index_select(0, L.tensor([[0]])), id="index_select-matrix"),
    pytest.param(lambda L, x: x.index_select(0, L.tensor([0.0])), id="index_select-float"),
    pytest.param(lambda L, x: x.gather(0, L.tensor(0)), id="gather-ndim"),
    pytest.param(lambda L, x: x.gather(0, L.tensor([[[0]] * 4])), id="gather-size"),
    pytest.param(lambda L, x: x.gather(2, L.tensor([[[4]]])), id="gather-range"),
    pytest.param(lambda L, x: x.gather(3, L.tensor([[[0]]])), id="gather-dim"),
    pytest.param(lambda L, x: x.scatter_add(0, L.tensor([[[0]]]), L.ones(1, 1, 1, dtype=L.float64)),
                 id="scatter_add-dtype"),
    pytest.param(lambda L, x: x.scatter_add(0, L.tensor([[[0, 5]]]), x), id="scatter_add-range"),
    pytest.param(lambda L, x: x.index_add(0, L.tensor([0]), x), id="index_add-shape"),
    pytest.param(lambda L, x: x.index_add(0, L.tensor([2]), x[:1]), id="index_add-range"),
    pytest.param(lambda L, x: x.take_along_dim(L.tensor([[[0]]], dtype=L.int32), 0),
                 id="take_along_dim-dtype"),
    pytest.param(lambda L, x: x.take_along_dim(L.tensor([0]), 1), id="take_along_dim-ndim"),
    pytest.param(lambda L, x: x.masked_fill(L.tensor([1, 0, 1, 0]), 0.0), id="masked_fill-mask"),
    pytest.param(lambda L, x: x.masked_fill(x > 0, L.ones(1)), id="masked_fill-value"),
    pytest.param(lambda L, x: x.masked_fill_(L.ones(3, 2, 3, 4, dtype=L.bool), 0.0),
                 id="masked_fill_-shape"),
]


@pytest.mark.parametrize("fn", BAD_CALLS)
def test_errors_have_torch_types(fn):
    assert_same_error_type(fn, np.zeros((2, 3, 4), np.float32))


SECOND_BACKWARD = {
    "list": lambda L, b: b[[1, 1]],
    "lists": lambda L, b: b.reshape(3, 1)[[0, 2], [0, 0]],
    "tensor": lambda L, b: b[L.tensor([1, 1])],
    "mask": lambda L, b: b[L.tensor([True, False, True])],
    "slice": lambda L, b: b[1:],
    "int": lambda L, b: b[2],
    "index_select": lambda L, b: b.index_select(0, L.tensor([1, 1])),
    "gather": lambda L, b: b.gather(0, L.tensor([1, 1])),
    "take_along_dim": lambda L, b: L.take_along_dim(b, L.tensor([1, 1])),
    "index_add": lambda L, b: L.zeros(3, dtype=L.float64).index_add(0, L.tensor([0, 1]), b[:2]),
    "masked_fill": lambda L, b: b.masked_fill(L.tensor([True, False, True]), 0.0),
}


@pytest.mark.parametrize("fn", SECOND_BACKWARD.values(), ids=SECOND_BACKWARD)
def test_a_second_backward_needs_retain_graph_where_torch_saved_the_index(fn):
    # PyTorch saves an index or mask tensor for backward and frees it after: a second
    # backward is refused. A basic index saves none, and a second backward runs.
    def second(L):
        b = L.tensor([0.5, -1.0, 2.0], dtype=L.float64, requires_grad=True)
        y = fn(L, b).sum()
        y.backward()
        try:
            y.backward()
        except RuntimeError as e:
            assert "Specify retain_graph=True" in str(e)
            return "refused"
        return b.grad.tolist()
    assert second(agx) == second(torch)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gathers_of_one_index_shape_take_their_own_positions(dtype):
    # The advanced index of gather, take_along_dim and scatter_add is built from coordinates
    # kept per index shape: indices of one shape, with other values and along other dims,
    # in one graph, must each take and give back their own positions.
    def fn(L, x, src):
        i, j = L.tensor([[2, 0], [1, 1], [0, 2]]), L.tensor([[1, 0], [0, 1], [1, 1]])
        return L.stack([x.gather(1, i), x.gather(1, j), x.gather(0, j),
                        L.take_along_dim(x, j, 1), L.scatter_add(x, 1, i, src)[:, :2],
                        L.scatter_add(x, 0, j, src)[:, :2]])

    a_in, t_in, a_out, t_out, rng = run_both(fn, [(3, 3), (3, 2)], dtype)
    assert_close(a_out, t_out, "values", **TOL[dtype])
    backward_both(a_out, t_out, random_like(rng, t_out))
    compare_input_gradients(a_in, t_in, lambda a, t, what: assert_close(a, t, what, **TOL[dtype]),
                            every_input=True)
