"""The shape ops against PyTorch: same inputs through both, in float32 and float64.

For every case: the values, the output dtype and shape, whether the output is a
view, the gradient of every input (backward with the same random output
gradient) and the grad_fn name must match PyTorch's. Then integer and bool
inputs, and the exception types of bad calls.
"""

import numpy as np
import pytest

import autogradx as agx
from autogradx.testing import gradcheck, gradgradcheck
from helpers import D, R, transposed
from torch_compare import (DTYPES, assert_close, assert_same_error_type, backward_both, case,
                           compare_input_gradients, error_of, make_both, node_name, random_like,
                           run_both, view_error_of)

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = {"float32": dict(rtol=1e-6, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-12)}


CASES = [
    case("reshape", lambda L, x: x.reshape(6, 4), [(2, 3, 4)], "ViewBackward0"),
    case("reshape-fn-infer", lambda L, x: L.reshape(x, (4, -1)), [(2, 3, 4)], "ViewBackward0"),
    case("reshape-kw", lambda L, x: x.reshape(shape=(24,)), [(2, 3, 4)], "ViewBackward0"),
    case("reshape-copy", lambda L, x: transposed(x).reshape(-1), [(2, 3, 4)],
         "UnsafeViewBackward0"),
    case("reshape-copy-partial", lambda L, x: transposed(x).reshape(3, 8),
         [(2, 3, 4)], "UnsafeViewBackward0"),
    case("reshape-alias", lambda L, x: transposed(x).reshape(3, 2, 2, 2),
         [(2, 3, 4)], "ReshapeAliasBackward0"),
    case("reshape-0d", lambda L, x: x.reshape(1, 1), [()], "ViewBackward0"),
    case("reshape-expanded", lambda L, x: x.expand(2, 3).reshape(6), [(3,)], "UnsafeViewBackward0"),
    case("reshape-expanded-alias", lambda L, x: x.expand(2, 3).reshape(2, 3, 1),
         [(3,)], "ReshapeAliasBackward0"),
    case("flatten-alias", lambda L, x: x[:, :, :1].flatten(1),
         [(2, 3, 4)], "ReshapeAliasBackward0"),
    case("reshape_as", lambda L, x: x.reshape_as(L.zeros(4, 6)), [(2, 3, 4)], "ViewBackward0"),
    case("view", lambda L, x: x.view(4, 6), [(2, 3, 4)], "ViewBackward0"),
    case("view-tuple", lambda L, x: x.view((-1,)), [(2, 3)], "ViewBackward0"),
    case("view-slice", lambda L, x: x[:, 1:].view(3, 1, 3), [(3, 4)], "ViewBackward0"),
    case("view_as", lambda L, x: x.view_as(L.zeros(6, 1)), [(2, 3)], "ViewBackward0"),
    case("flatten", lambda L, x: x.flatten(), [(2, 3, 4)], "ViewBackward0"),
    case("flatten-range", lambda L, x: L.flatten(x, 1, -1), [(2, 3, 4)], "ViewBackward0"),
    case("flatten-copy", lambda L, x: transposed(x).flatten(), [(2, 3, 4)], "UnsafeViewBackward0"),
    case("flatten-0d", lambda L, x: x.flatten(), [()], "ViewBackward0"),
    case("ravel", lambda L, x: x.ravel(), [(2, 3)], "ViewBackward0"),
    case("ravel-copy", lambda L, x: L.ravel(transposed(x)), [(2, 3)], "ViewBackward0"),
    case("unflatten", lambda L, x: x.unflatten(-1, (2, -1)), [(2, 3, 4)], "ViewBackward0"),
    case("squeeze", lambda L, x: x.squeeze(), [(1, 3, 1)], "SqueezeBackward0"),
    case("squeeze-dim", lambda L, x: L.squeeze(x, -1), [(1, 3, 1)], "SqueezeBackward1"),
    case("squeeze-not-1", lambda L, x: x.squeeze(1), [(1, 3, 1)], "SqueezeBackward1"),
    case("squeeze-tuple", lambda L, x: x.squeeze((0, 1)), [(1, 3, 1)], "SqueezeBackward2"),
    case("squeeze-0d", lambda L, x: x.squeeze(), [()], "SqueezeBackward0"),
    case("unsqueeze", lambda L, x: x.unsqueeze(1), [(2, 3)], "UnsqueezeBackward0"),
    case("unsqueeze-neg-0d", lambda L, x: L.unsqueeze(x, -1), [()], "UnsqueezeBackward0"),
    case("transpose", lambda L, x: x.transpose(0, 2), [(2, 3, 4)], "TransposeBackward0"),
    case("transpose-0d", lambda L, x: x.transpose(0, -1), [()], "TransposeBackward0"),
    case("swapaxes", lambda L, x: L.swapaxes(x, -1, 0), [(2, 3)], "TransposeBackward0"),
    case("swapdims", lambda L, x: x.swapdims(1, 0), [(2, 3)], "TransposeBackward0"),
    case("mT", lambda L, x: x.mT, [(2, 3, 4)], "TransposeBackward0"),
    case("as_strided", lambda L, x: x.as_strided((2, 2), (1, 2)), [(2, 3)], "AsStridedBackward0"),
    case("as_strided-overlapping", lambda L, x: L.as_strided(x, (3, 2), (1, 1), 1), [(6,)],
         "AsStridedBackward0"),
    case("as_strided-of-a-view", lambda L, x: x[1:].as_strided((2, 2), (2, 1)), [(6,)],
         "AsStridedBackward0"),
    case("as_strided-empty", lambda L, x: x.as_strided((1, 0), (2, 2)), [(2, 3)],
         "AsStridedBackward0"),
    case("t", lambda L, x: x.t(), [(2, 3)], "TBackward0"),
    case("t-1d", lambda L, x: L.t(x), [(3,)], "TBackward0"),
    case("diagonal", lambda L, x: x.diagonal(), [(3, 4)], "DiagonalBackward0"),
    case("diagonal-offset", lambda L, x: L.diagonal(x, -1), [(4, 3)], "DiagonalBackward0"),
    case("diagonal-dims", lambda L, x: x.diagonal(1, -1, 0), [(2, 3, 4)], "DiagonalBackward0"),
    case("diagonal-adjacent", lambda L, x: x.diagonal(dim1=2, dim2=1), [(2, 3, 4)],
         "DiagonalBackward0"),
    case("diagonal-empty", lambda L, x: x.diagonal(5), [(2, 3)], "DiagonalBackward0"),
    case("permute", lambda L, x: x.permute(1, 2, 0), [(2, 3, 4)], "PermuteBackward0"),
    case("movedim", lambda L, x: L.movedim(x, (0, 1), (2, 0)), [(2, 3, 4)], "PermuteBackward0"),
    case("moveaxis", lambda L, x: x.moveaxis(-1, 0), [(2, 3, 4)], "PermuteBackward0"),
    case("contiguous-copy", lambda L, x: transposed(x).contiguous(), [(2, 3)], "CloneBackward0"),
    case("expand", lambda L, x: x.expand(2, 3, 4), [(3, 1)], "ExpandBackward0"),
    case("expand-minus-one", lambda L, x: x.expand((-1, 4)), [(3, 1)], "ExpandBackward0"),
    case("expand-0d", lambda L, x: x.expand(3), [()], "ExpandBackward0"),
    case("expand_as", lambda L, x, y: x.expand_as(y), [(3, 1), (2, 3, 4)], "ExpandBackward0"),
    case("broadcast_to", lambda L, x: L.broadcast_to(x, (2, 3, 4)), [(1, 4)], "ExpandBackward0"),
    case("repeat", lambda L, x: x.repeat(2, 1, 3), [(2, 3, 4)], "RepeatBackward0"),
    case("repeat-lead", lambda L, x: x.repeat(2, 2, 1), [(3, 4)], "RepeatBackward0"),
    case("repeat-zero", lambda L, x: x.repeat(0, 2), [(3, 4)], "RepeatBackward0"),
    case("repeat-0d", lambda L, x: x.repeat(2, 3), [()], "RepeatBackward0"),
    case("tile", lambda L, x: L.tile(x, (2,)), [(2, 3)], "RepeatBackward0"),
    case("tile-longer", lambda L, x: x.tile((2, 1, 2)), [(2, 3)], "RepeatBackward0"),
    case("flip", lambda L, x: x.flip(0), [(2, 3, 4)], "FlipBackward0"),
    case("flip-tuple", lambda L, x: L.flip(x, (0, -1)), [(2, 3, 4)], "FlipBackward0"),
    case("flip-empty", lambda L, x: x.flip(()), [(2, 3)], "FlipBackward0"),
    case("flip-0d", lambda L, x: x.flip(0), [()], "FlipBackward0"),
    case("fliplr", lambda L, x: x.fliplr(), [(2, 3)], "FlipBackward0"),
    case("flipud", lambda L, x: L.flipud(x), [(2, 3)], "FlipBackward0"),
    case("cat", lambda L, x, y: L.cat([x, y]), [(2, 3), (1, 3)], "CatBackward0"),
    case("cat-dim", lambda L, x, y, z: L.cat((x, y, z), dim=-1),
         [(2, 1), (2, 3), (2, 2)], "CatBackward0"),
    case("cat-legacy-empty", lambda L, x, y: L.cat([x, y], 1), [(2, 3), (0,)], "CatBackward0"),
    case("concat", lambda L, x, y: L.concat([x, y], 1), [(2, 3), (2, 1)], "CatBackward0"),
    case("concatenate-axis", lambda L, x, y: L.concatenate([x, y], axis=0),
         [(2, 3), (1, 3)], "CatBackward0"),
    case("stack", lambda L, x, y: L.stack([x, y]), [(2, 3), (2, 3)], "StackBackward0"),
    case("stack-last", lambda L, x, y: L.stack((x, y), dim=-1), [(2, 3), (2, 3)], "StackBackward0"),
    case("stack-0d", lambda L, x, y: L.stack([x, y]), [(), ()], "StackBackward0"),
    case("hstack", lambda L, x, y: L.hstack([x, y]), [(2, 3), (2, 1)], "CatBackward0"),
    case("hstack-1d", lambda L, x, y: L.hstack([x, y]), [(3,), (2,)], "CatBackward0"),
    case("vstack", lambda L, x, y: L.vstack([x, y]), [(3,), (2, 3)], "CatBackward0"),
    case("dstack", lambda L, x, y: L.dstack([x, y]), [(2, 3), (2, 3, 2)], "CatBackward0"),
]


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
    # (PyTorch's ravel of a non-contiguous tensor is a view of a hidden copy: not of the input.)
    assert any(a_out._base is a for a in a_in) == any(t_out._base is t for t in t_in), \
        "view of the input or copy"
    backward_both(a_out, t_out, random_like(rng, t_out, dtype))
    compare_input_gradients(a_in, t_in, lambda a, t, what: _close(a, t, dtype, what))


# Mixed dtypes: the joined tensor has the promoted dtype; each gradient its input's.
MIXED = [
    case("cat-f32-f64", lambda L, x, y: L.cat([x, y]), [(2, 3), (1, 3)], "CatBackward0"),
    case("stack-f64-f32", lambda L, x, y: L.stack([x, y], 1), [(2, 3), (2, 3)], "StackBackward0"),
]


@pytest.mark.parametrize("fn, shapes, grad_fn", MIXED)
def test_mixed_dtypes(fn, shapes, grad_fn):
    a_in, t_in, _ = make_both([D("float32", R(*shapes[0])), D("float64", R(*shapes[1]))],
                              "float32")
    a_out, t_out = fn(agx, *a_in), fn(torch, *t_in)
    assert str(a_out.dtype) == str(t_out.dtype) == "torch.float64"
    assert a_out.grad_fn.name() == node_name(t_out.grad_fn) == grad_fn
    a_out.sum().backward()
    t_out.sum().backward()
    for a, t in zip(a_in, t_in):
        assert str(a.grad.dtype) == str(t.grad.dtype)
        _close(a.grad, t.grad, "float32", "gradient")


# PyTorch returns the input itself from these; autogradx returns a view of it
# (an op always makes a new tensor), named AliasBackward0. Values and gradients agree.
IDENTITY = [
    case("flatten-same-dim", lambda L, x: x.flatten(1, 1), [(2, 3)], "AliasBackward0"),
    case("contiguous", lambda L, x: x.contiguous(), [(2, 3)], "AliasBackward0"),
]


@pytest.mark.parametrize("fn, shapes, grad_fn", IDENTITY)
def test_identity_ops_return_a_view(fn, shapes, grad_fn):
    (a,), (t,), _ = make_both(shapes, "float64")
    assert fn(torch, t) is t
    out = fn(agx, a)
    assert out._base is a and out.grad_fn.name() == grad_fn
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.ones(shapes[0]))


# ---------------------------------------------------------------- integer and bool inputs

INT_ARRAY = np.arange(24).reshape(2, 3, 4)
BOOL_ARRAY = INT_ARRAY % 3 == 0

NON_FLOAT = [
    pytest.param(lambda L, x: x.reshape(4, 6), id="reshape"),
    pytest.param(lambda L, x: x.transpose(0, 1).reshape(-1), id="reshape-copy"),
    pytest.param(lambda L, x: x.flatten(1), id="flatten"),
    pytest.param(lambda L, x: x.unsqueeze(0).squeeze(), id="squeeze"),
    pytest.param(lambda L, x: x.transpose(0, 2), id="transpose"),
    pytest.param(lambda L, x: x.movedim(0, 1), id="movedim"),
    pytest.param(lambda L, x: x.diagonal(0, 0, 2), id="diagonal"),
    pytest.param(lambda L, x: x[:1].expand(3, 3, 4), id="expand"),
    pytest.param(lambda L, x: x.repeat(1, 2, 1), id="repeat"),
    pytest.param(lambda L, x: x.flip(1), id="flip"),
    pytest.param(lambda L, x: L.cat([x, x], 2), id="cat"),
    pytest.param(lambda L, x: L.stack([x, x]), id="stack"),
    pytest.param(lambda L, x: L.cat([x, x.double()]), id="cat-promotes"),
]


@pytest.mark.parametrize("array", [INT_ARRAY, INT_ARRAY.astype(np.int32), BOOL_ARRAY],
                         ids=["int64", "int32", "bool"])
@pytest.mark.parametrize("fn", NON_FLOAT)
def test_integer_and_bool_inputs(fn, array):
    a, t = fn(agx, agx.tensor(array)), fn(torch, torch.tensor(array))
    assert str(a.dtype) == str(t.dtype)
    np.testing.assert_array_equal(a.numpy(), t.numpy())
    assert a.grad_fn is None


# ---------------------------------------------------------------- errors

BAD_CALLS = [
    pytest.param(lambda L, x: x.reshape(5, 5), id="reshape-size"),
    pytest.param(lambda L, x: x.reshape(-1, -1), id="reshape-infer-twice"),
    pytest.param(lambda L, x: x.transpose(0, 1).view(-1), id="view-strides"),
    pytest.param(lambda L, x: x.flatten(2, 0), id="flatten-order"),
    pytest.param(lambda L, x: x.flatten(0, 3), id="flatten-dim"),
    pytest.param(lambda L, x: x.unflatten(1, (2, 2)), id="unflatten-product"),
    pytest.param(lambda L, x: x.squeeze(3), id="squeeze-dim"),
    pytest.param(lambda L, x: x.squeeze((1, 1)), id="squeeze-repeated"),
    pytest.param(lambda L, x: x.unsqueeze(-5), id="unsqueeze-dim"),
    pytest.param(lambda L, x: x.transpose(-4, 0), id="transpose-dim"),
    pytest.param(lambda L, x: x.t(), id="t-3d"),
    pytest.param(lambda L, x: x.diagonal(0, 1, -2), id="diagonal-same-dims"),
    pytest.param(lambda L, x: x.diagonal(0, 0, 3), id="diagonal-dim"),
    pytest.param(lambda L, x: x.movedim((0, 0), (1, 2)), id="movedim-repeated"),
    pytest.param(lambda L, x: x.expand(2, 5, 4), id="expand-mismatch"),
    pytest.param(lambda L, x: x.expand(4), id="expand-too-few"),
    # Sizes below -1, which NumPy's reshape and broadcast_to would not take as PyTorch does.
    pytest.param(lambda L, x: x.view(-2, 12), id="view-negative"),
    pytest.param(lambda L, x: x.reshape(2, -3, 4), id="reshape-negative"),
    pytest.param(lambda L, x: x[:, :1].expand(2, -2, 4), id="expand-negative"),
    pytest.param(lambda L, x: x.expand(-2, 2, 3, 4), id="expand-negative-leading"),
    pytest.param(lambda L, x: x.repeat(2), id="repeat-too-few"),
    pytest.param(lambda L, x: x.flip(3), id="flip-dim"),
    pytest.param(lambda L, x: x.flip((0, -3)), id="flip-repeated"),
    pytest.param(lambda L, x: x[0, 0].fliplr(), id="fliplr-1d"),
    pytest.param(lambda L, x: L.cat([x, x[:, :1]], 2), id="cat-sizes"),
    pytest.param(lambda L, x: L.cat([x, x[0, 0]]), id="cat-ndim"),
    pytest.param(lambda L, x: L.cat([x[0, 0, 0]]), id="cat-0d"),
    pytest.param(lambda L, x: L.cat([x], -4), id="cat-dim"),
    pytest.param(lambda L, x: L.cat(x), id="cat-tensor"),
    pytest.param(lambda L, x: L.stack([x, x[1:]]), id="stack-shapes"),
    pytest.param(lambda L, x: L.stack([x], 4), id="stack-dim"),
]


@pytest.mark.parametrize("fn", BAD_CALLS)
def test_errors_have_torch_types(fn):
    assert_same_error_type(fn, np.zeros((2, 3, 4), np.float32))


@pytest.mark.parametrize("shape, reps", [((3, 1), (1, 2)), ((2, 3), (1, 1)), ((1,), (4,)),
                                         ((2, 1, 3), (1, 2, 1, 2)), ((), (3,))])
def test_repeat_and_tile_copy_as_torch(shape, reps):
    # Repeats of size-1 dims (or none at all) could be a broadcast view of the input: the
    # result must still be a fresh, writable copy, as PyTorch's is.
    a = np.random.default_rng(0).uniform(-1, 1, shape)
    before = a.copy()
    for call in (lambda L, x: x.repeat(*reps), lambda L, x: L.tile(x, reps)):
        out, expected = (call(L, L.from_numpy(a)) for L in (agx, torch))    # a's memory
        assert out.shape == expected.shape
        np.testing.assert_array_equal(out.numpy(), expected.numpy())
        assert not np.shares_memory(out.numpy(), a)
        out[...] = 7.0      # writable, and the input keeps its values
        np.testing.assert_array_equal(a, before)


@pytest.mark.parametrize("fn", [lambda L, x: x.as_strided((3, 9), (9, 1)),
                                lambda L, x: x.as_strided((2,), (1,), 24),
                                lambda L, x: x.as_strided((2,), (-1,)),
                                lambda L, x: x[1].as_strided((4, 4), (4, 1))],
                         ids=["out-of-bounds", "offset-out-of-bounds", "negative-stride",
                              "view-out-of-bounds"])
def test_as_strided_refusals_are_torch_s(fn):
    data = np.zeros((2, 3, 4), np.float32)
    assert error_of(lambda: fn(agx, agx.tensor(data))) == \
        error_of(lambda: fn(torch, torch.tensor(data)))


# ---------------------------------------------------------------- split, chunk, unbind

SPLITS = [
    case("split", lambda L, x: x.split(2, 1), [(2, 5)], "SplitBackward0"),
    case("split-one-piece", lambda L, x: L.split(x, 7, dim=-1), [(2, 5)], "SplitBackward0"),
    case("split-sizes", lambda L, x: x.split([1, 0, 4], dim=1),
         [(2, 5)], "SplitWithSizesBackward0"),
    case("split-kw", lambda L, x: x.split(split_size=1), [(2, 5)], "SplitBackward0"),
    case("split_with_sizes", lambda L, x: L.split_with_sizes(x, [2, 3], 1), [(2, 5)],
         "SplitWithSizesBackward0"),
    case("split_with_sizes-method-kw", lambda L, x: x.split_with_sizes(split_sizes=[1, 1]),
         [(2, 5)], "SplitWithSizesBackward0"),
    case("chunk", lambda L, x: x.chunk(3, 1), [(2, 5)], "SplitBackward0"),
    case("chunk-fewer", lambda L, x: L.chunk(x, 4, dim=-1), [(2, 5)], "SplitBackward0"),
    case("unbind", lambda L, x: x.unbind(1), [(2, 3)], "UnbindBackward0"),
    case("unbind-fn", lambda L, x: L.unbind(x), [(3, 2)], "UnbindBackward0"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, shapes, grad_fn", SPLITS)
def test_split_against_torch(fn, shapes, grad_fn, dtype):
    (a,), (t,), rng = make_both(shapes, dtype)
    a_out, t_out = fn(agx, a), fn(torch, t)
    assert type(a_out) is type(t_out) is tuple and len(a_out) == len(t_out)
    for ao, to in zip(a_out, t_out):
        assert node_name(to.grad_fn) == grad_fn and ao.grad_fn.name() == grad_fn
        assert ao._base is a and to._base is t
        _close(ao, to, dtype, "forward")
    # Every other output takes part in the loss: the others' gradients are zeros.
    weights = [rng.standard_normal(tuple(o.shape)).astype(dtype) for o in t_out[::2]]
    sum((o * agx.tensor(w)).sum() for o, w in zip(a_out[::2], weights)).backward()
    sum((o * torch.tensor(w)).sum() for o, w in zip(t_out[::2], weights)).backward()
    assert str(a.grad.dtype) == str(t.grad.dtype)
    _close(a.grad, t.grad, dtype, "gradient")


SPLIT_ERRORS = [
    pytest.param(lambda L, x: x.split(0, 1), id="split-zero"),
    pytest.param(lambda L, x: x.split([1, 3], 1), id="split-sum"),
    pytest.param(lambda L, x: x[0, 0, 0].split(1), id="split-0d"),
    pytest.param(lambda L, x: x.chunk(0), id="chunk-zero"),
    pytest.param(lambda L, x: x.unbind(3), id="unbind-dim"),
    pytest.param(lambda L, x: x[0, 0, 0].unbind(), id="unbind-0d"),
]


@pytest.mark.parametrize("fn", SPLIT_ERRORS)
def test_split_errors_have_torch_types(fn):
    test_errors_have_torch_types(fn)


# ---------------------------------------------------------------- in-place view ops

INPLACE_VIEWS = [
    ("unsqueeze_", lambda y: y.unsqueeze_(1)),
    ("unsqueeze_-negative", lambda y: y.unsqueeze_(-1)),
    ("squeeze_", lambda y: y.unsqueeze_(0).squeeze_()),
    ("squeeze_-dim", lambda y: y.unsqueeze_(1).squeeze_(1)),
    ("squeeze_-dims", lambda y: y.unsqueeze_(0).squeeze_((0,))),
    ("t_", lambda y: y.t_()),
    ("transpose_", lambda y: y.transpose_(0, 1)),
    ("chain", lambda y: y.t_().unsqueeze_(0).transpose_(0, 2)),
    ("swapdims_", lambda y: y.swapdims_(0, 1)),
    ("swapaxes_", lambda y: y.swapaxes_(1, 0)),
    ("as_strided_", lambda y: y.as_strided_((2, 2), (1, 2))),
]


@pytest.mark.parametrize("call", [c for _, c in INPLACE_VIEWS], ids=[n for n, _ in INPLACE_VIEWS])
def test_inplace_view_ops_match_torch(call):
    a = np.random.default_rng(5).standard_normal((2, 3))
    got = []
    for lib in (agx, torch):
        x = lib.tensor(a, requires_grad=True)
        y = x * 1
        out = call(y)
        g = lib.tensor(np.arange(float(out.numel())).reshape(tuple(out.shape)))
        (out * g).sum().backward()
        got.append((out is y, tuple(y.shape), y.grad_fn.name(), y._version,
                    y.detach().numpy().tolist(), x.grad.numpy().tolist()))
    assert got[0] == got[1]


def test_inplace_view_ops_differentiate_twice():
    x = agx.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=agx.float64, requires_grad=True)

    def f(x):
        y = x * x
        y.t_()
        return y.unsqueeze_(0)

    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


@pytest.mark.parametrize("call", [lambda L: L.ones(2, 3, requires_grad=True).t_(),
                                  lambda L: L.ones(2, 3, requires_grad=True).unsqueeze_(0),
                                  lambda L: L.ones(2, 3, 4).t_(),
                                  lambda L: L.ones(2, 3).unsqueeze_(3),
                                  lambda L: L.ones(2, 3).transpose_(0, 2)],
                         ids=["leaf-t_", "leaf-unsqueeze_", "t_-3d", "unsqueeze_-dim",
                              "transpose_-dim"])
def test_inplace_view_op_errors_match_torch(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(agx)
    assert str(ours.value) == str(theirs.value)


def test_inplace_view_ops_under_no_grad_and_on_views_without_grad():
    x = agx.ones(2, 3, requires_grad=True)
    with agx.no_grad():
        x.unsqueeze_(0)
    assert tuple(x.shape) == (1, 2, 3) and x.is_leaf
    base = agx.zeros(2, 3)
    row = base[0]
    row.unsqueeze_(0)
    row[0, 1] = 5.0
    assert tuple(row.shape) == (1, 3) and base[0, 1].item() == 5.0   # still its storage


@pytest.mark.parametrize("then", ["nothing", "mul_", "base mul_"])
@pytest.mark.parametrize("call", [c for _, c in INPLACE_VIEWS], ids=[n for n, _ in INPLACE_VIEWS])
def test_inplace_view_ops_on_a_view_match_torch(call, then):
    # The view stays a view of its base, one view op longer: a later in-place change of it
    # (or of its base) rebuilds its history through that op too.
    a = np.random.default_rng(6).standard_normal((3, 2, 3))
    got = []
    for lib in (agx, torch):
        x = lib.tensor(a, requires_grad=True)
        base = x * 1
        view = base[1]
        out = call(view)
        if then == "mul_":
            out.mul_(lib.arange(1.0, out.numel() + 1.0, dtype=lib.float64).reshape(out.shape))
        elif then == "base mul_":
            base.mul_(2)
        g = lib.tensor(np.arange(float(out.numel())).reshape(tuple(out.shape)))
        ((out * g).sum() + (base * base).sum()).backward()
        got.append((out is view, view._base is base, tuple(view.shape), view.grad_fn.name(),
                    view._version, view.detach().numpy().tolist(), x.grad.numpy().tolist()))
    assert got[0] == got[1]


def test_an_inplace_view_op_forgets_itself_after_a_view_changing_the_dtype_as_torch_does():
    """PyTorch's test_autograd_inplace_views_cross_dtype: PyTorch rebuilds a view_as_real
    view with its view function, which does not know the transpose_ made on it since: the
    gradient comes back transposed (PyTorch's TODO calls it a bug; it is its behaviour)."""
    a = np.random.default_rng(7).standard_normal((3, 3, 2))
    grads = []
    for lib in (agx, torch):
        z = lib.view_as_complex(lib.tensor(a)).requires_grad_()
        b = lib.view_as_real(z.clone())
        b.transpose_(0, 1)
        b += 1
        b.backward(lib.arange(0, 18, dtype=lib.float64).view(3, 3, 2))
        grads.append(z.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


def _creation_meta(lib, view_grad, op_grad, make, op):
    base = lib.rand(2, 3, requires_grad=True).clone()
    with lib.set_grad_enabled(view_grad):
        view = base.unbind()[0] if make == "unbind" else base.view_as(base)
    with lib.set_grad_enabled(op_grad):
        op(view)
    view.add_(1)


@pytest.mark.parametrize("op", [lambda v: v.transpose_(0, 0), lambda v: v.unsqueeze_(0),
                                lambda v: v.as_strided_((1, 0), (2, 2))],
                         ids=["transpose_", "unsqueeze_", "as_strided_"])
@pytest.mark.parametrize("make", ["view_as", "unbind"])
@pytest.mark.parametrize("view_grad, op_grad", [(True, True), (True, False), (False, True),
                                                (False, False)])
def test_inplace_view_ops_on_views_keep_torch_s_creation_meta(view_grad, op_grad, make, op):
    # PyTorch's refusals of a view made under no_grad or by a multi-output op: at the
    # in-place view op where it is recorded, else at the next in-place change.
    expected = error_of(lambda: _creation_meta(torch, view_grad, op_grad, make, op))
    assert view_error_of(lambda: _creation_meta(agx, view_grad, op_grad, make, op)) == expected


def test_inplace_view_op_on_a_view_of_a_leaf_is_refused_as_torch_refuses_it():
    def call(lib):
        lib.ones(2, 3, requires_grad=True)[0].unsqueeze_(0)
    assert error_of(lambda: call(agx)) == error_of(lambda: call(torch))
