"""The error catalogue: common mistakes raise PyTorch's exception and leave no trace.

Each case builds its tensors with ``lib`` (autogradx or torch), then makes one
mistake. With autogradx the exception must have PyTorch's type, its message must
name what was wrong, and every tensor involved must keep its ``.grad``, its
``._version`` and its values (a failed call changes nothing). With torch, only
the exception type is compared. docs/errors.md lists these cases and messages.
"""

import numpy as np
import pytest

import autogradx as agx


def _function(lib, backward):
    """An autograd.Function multiplying its inputs, with the given backward."""

    class Mul(lib.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            out = xs[0]
            for x in xs[1:]:
                out = out * x
            return out

        @staticmethod
        def backward(ctx, g):
            return backward(lib, g)

    return Mul


# Each builder returns (tensors involved, the failing call).

def binary_shape(lib):
    a, b = lib.ones(2, 3, requires_grad=True), lib.ones(4, requires_grad=True)
    return [a, b], lambda: a + b


def matmul_shape(lib):
    a, b = lib.ones(2, 3, requires_grad=True), lib.ones(4, 5, requires_grad=True)
    return [a, b], lambda: a @ b


def matmul_dtype(lib):
    a = lib.ones(2, 3, dtype=lib.float32, requires_grad=True)
    b = lib.ones(3, 2, dtype=lib.float64, requires_grad=True)
    return [a, b], lambda: a @ b


def backward_twice(lib):
    x = lib.ones(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    return [x, y], y.backward


def nonscalar_backward(lib):
    x = lib.ones(3, requires_grad=True)
    y = x * 2
    return [x, y], y.backward


def wrong_grad_shape(lib):
    x = lib.ones(3, requires_grad=True)
    y = x * 2
    return [x, y], lambda: y.backward(lib.ones(4))


def inplace_saved(lib):
    x = lib.ones(3, requires_grad=True)
    a = x * 1
    y = (a * a).sum()
    a.mul_(2)  # a is saved by the product: backward must notice
    return [x, a, y], y.backward


def inplace_leaf(lib):
    x = lib.ones(3, requires_grad=True)
    return [x], lambda: x.add_(1)


def int_requires_grad(lib):
    x = lib.tensor([1, 2])

    def call():
        x.requires_grad = True
    return [x], call


def bad_dim(lib):
    x = lib.ones(2, 3, requires_grad=True)
    return [x], lambda: x.sum(dim=5)


def index_out_of_range(lib):
    x = lib.ones(2, 3, requires_grad=True)
    return [x], lambda: x[5]


def function_grad_count(lib):
    x, y = lib.ones(3, requires_grad=True), lib.ones(3, requires_grad=True)
    out = _function(lib, lambda lib, g: g).apply(x, y).sum()  # one gradient for two inputs
    return [x, y], out.backward


def function_grad_shape(lib):
    x = lib.ones(3, requires_grad=True)
    out = _function(lib, lambda lib, g: lib.ones(4)).apply(x).sum()
    return [x], out.backward


def backward_in_hook(lib):
    # Backward runs with grad mode off, so z * z inside the hook records no graph.
    x, z = lib.ones(3, requires_grad=True), lib.ones(3, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: (z * z).sum().backward())
    return [x, z], y.sum().backward


def hook_grad_shape(lib):
    x = lib.ones(3, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: lib.ones(4))
    return [x, y], y.sum().backward


def node_hook_dtype(lib):
    x = lib.ones(3, requires_grad=True)
    y = x * 2
    y.grad_fn.register_prehook(lambda grads: (grads[0].long(),))
    return [x, y], y.sum().backward


def data_int(lib):
    x = lib.ones(3, requires_grad=True)

    def call():
        x.data = lib.tensor([1, 2, 3])
    return [x], call


def tensor_of_objects(lib):
    return [], lambda: lib.tensor(np.array([1, "a"], dtype=object))


def tensor_big_endian(lib):
    return [], lambda: lib.tensor(np.array([1.0, 2.0], dtype=">f8"))


def nonleaf_requires_grad(lib):
    y = lib.ones(3, requires_grad=True) * 2

    def call():
        y.requires_grad = False
    return [y], call


def numpy_requires_grad(lib):
    x = lib.ones(3, requires_grad=True)
    return [x], x.numpy


def item_multi(lib):
    x = lib.ones(3, requires_grad=True)
    return [x], x.item


def unknown_op(lib):
    return [], lambda: lib.frobnicate


# (id, builder, exception type, pattern the message must match, xfail reason or None)
CASES = [
    ("binary-shape", binary_shape, RuntimeError, r"add.*\(2, 3\).*\(4,\)", None),
    ("matmul-shape", matmul_shape, RuntimeError, r"matmul.*\(2, 3\).*\(4, 5\)", None),
    ("matmul-dtype", matmul_dtype, RuntimeError, r"same dtype.*float32 != float64", None),
    ("backward-twice", backward_twice, RuntimeError, r"backward through the graph a second time.*retain_graph", None),
    ("nonscalar-backward", nonscalar_backward, RuntimeError, r"implicitly created only for scalar outputs", None),
    ("wrong-grad-shape", wrong_grad_shape, RuntimeError, r"Mismatch in shape.*\[4\].*\[3\]", None),
    ("inplace-saved", inplace_saved, RuntimeError, r"modified by an inplace operation.*version 1; expected version 0", None),
    ("inplace-leaf", inplace_leaf, RuntimeError, r"leaf Variable that requires grad.*in-place", None),
    ("int-requires-grad", int_requires_grad, RuntimeError, r"floating point and complex dtype.*int64", None),
    ("bad-dim", bad_dim, IndexError, r"Dimension out of range.*\[-2, 1\].*got 5", None),
    ("index-out-of-range", index_out_of_range, IndexError, r"index 5 is out of bounds for dimension 0 with size 2", None),
    ("function-grad-count", function_grad_count, RuntimeError, r"MulBackward.*incorrect number of gradients \(expected 2, got 1\)", None),
    ("function-grad-shape", function_grad_shape, RuntimeError, r"MulBackward.*invalid gradient at index 0.*\[4\].*\[3\]", None),
    ("backward-in-hook", backward_in_hook, RuntimeError, r"does not require grad and does not have a grad_fn", None),
    ("hook-grad-shape", hook_grad_shape, RuntimeError, r"hook '<lambda>' has changed the size", None),
    ("node-hook-dtype", node_hook_dtype, RuntimeError, r"hook '<lambda>' has changed the type of value \(was float32 got int64\)", None),
    ("data-int", data_int, RuntimeError, r"data set to a tensor that requires gradients must be floating point or complex dtype", None),
    ("tensor-of-objects", tensor_of_objects, TypeError, r"can't convert np.ndarray of type numpy.object_\. The only supported types are: float16, .*complex128\.", None),
    ("tensor-big-endian", tensor_big_endian, ValueError, r"byte order different from the native byte order", None),
    ("nonleaf-requires-grad", nonleaf_requires_grad, RuntimeError, r"only change requires_grad flags of leaf variables", None),
    ("numpy-requires-grad", numpy_requires_grad, RuntimeError, r"numpy\(\) on Tensor that requires grad.*detach", None),
    ("item-multi-element", item_multi, RuntimeError, r"Tensor with 3 elements cannot be converted to Scalar", None),
    ("unknown-op", unknown_op, AttributeError, r"autogradx.*frobnicate", None),
]


def _params():
    # A list, not a generator: pytest reads argvalues as a collection.
    return [
        pytest.param(build, exc, pattern, id=id,
                     marks=[pytest.mark.xfail(strict=True, reason=bug)] if bug else [])
        for id, build, exc, pattern, bug in CASES
    ]


def _state(tensors):
    """What a failed call must not change: grad, version, values, requires_grad."""
    return [(_grad(t), t._version, t.detach().numpy().copy(), t.requires_grad) for t in tensors]


def _grad(t):
    # A non-leaf's .grad stays None (reading it warns): only leaves accumulate.
    if not t.is_leaf or t.grad is None:
        return None
    return t.grad.detach().numpy().copy()


def _assert_same_state(before, after):
    for (grad0, version0, value0, rg0), (grad1, version1, value1, rg1) in zip(before, after):
        assert (grad0 is None) == (grad1 is None)
        if grad0 is not None:
            np.testing.assert_array_equal(grad1, grad0)
        assert (version1, rg1) == (version0, rg0)
        np.testing.assert_array_equal(value1, value0)


@pytest.mark.parametrize("build, exc, pattern", _params())
def test_error(build, exc, pattern):
    tensors, call = build(agx)
    before = _state(tensors)
    with pytest.raises(Exception, match=pattern) as info:
        call()
    assert info.type is exc
    _assert_same_state(before, _state(tensors))


@pytest.mark.torch
@pytest.mark.parametrize("build, exc, pattern", _params())
def test_error_type_matches_torch(build, exc, pattern):
    torch = pytest.importorskip("torch")
    _, call = build(torch)
    with pytest.raises(Exception) as info:
        call()
    assert info.type is exc


def test_backward_in_hook_with_grad_enabled_works():
    """A reentrant backward under enable_grad runs fully and leaves the outer one intact."""
    x, z = agx.ones(3, requires_grad=True), agx.ones(3, requires_grad=True)
    y = x * 2

    def hook(g):
        with agx.enable_grad():
            (z * z * 3).sum().backward()
        return g

    y.register_hook(hook)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(z.grad.numpy(), [6.0, 6.0, 6.0])


@pytest.mark.parametrize("first", ["a", "b"])
def test_a_backward_that_fails_part_way_leaves_each_leaf_whole_or_untouched(first):
    """The documented exception to the guarantee: a leaf another branch finished keeps its
    whole gradient (a, used twice, gets both terms or none), the failing branch's leaf none."""
    a = agx.tensor([1.0, 2.0], requires_grad=True)
    b = agx.tensor([3.0, 4.0], requires_grad=True)

    def fail(g):
        raise ValueError("hook")

    b.register_hook(fail)
    branches = {"a": (a * 2).sum() + (a * a).sum(), "b": (b * 3).sum()}
    other = "b" if first == "a" else "a"
    y = branches[first] + branches[other]
    with pytest.raises(ValueError, match="hook"):
        y.backward()
    assert b.grad is None
    assert a.grad is None or a.grad.tolist() == [4.0, 6.0]
