"""The activations and nn.functional basics against PyTorch, in float32 and float64: values,
output dtype, the gradient of every input (same random output gradient) and the grad_fn
name; then integer inputs and the errors (same exception type, a message naming the problem).
"""

import numpy as np
import pytest

import autogradx as agx

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

DTYPES = ["float32", "float64"]
TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


class Spec:
    """A random input: ``shape``, values in [low, high), or fixed integer ``values``."""

    def __init__(self, shape, low=-2.0, high=2.0, requires_grad=True, values=None):
        self.shape, self.low, self.high = shape, low, high
        self.requires_grad, self.values = requires_grad, values

    def array(self, rng, dtype):
        if self.values is not None:
            return np.asarray(self.values, dtype=np.int64)
        return rng.uniform(self.low, self.high, self.shape).astype(dtype)


def R(*shape):
    return Spec(shape)


def W(*shape):
    return Spec(shape, -30.0, 30.0)


def K(spec):
    return Spec(spec.shape, spec.low, spec.high, requires_grad=False)


def I(values):
    return Spec(None, requires_grad=False, values=values)


def case(id, fn, specs, grad_fn):
    """``grad_fn``: PyTorch's node name, or (PyTorch's, autogradx's) where they differ on
    purpose (see autogradx/ops/activations.py)."""
    return pytest.param(fn, specs, grad_fn, id=id)


def nn(L):
    return L.nn.functional


CASES = [
    case("leaky_relu", lambda L, x: nn(L).leaky_relu(x), (R(2, 3),), "LeakyReluBackward0"),
    case("leaky_relu-slope", lambda L, x: nn(L).leaky_relu(x, 0.3), (R(5),), "LeakyReluBackward0"),
    case("elu", lambda L, x: nn(L).elu(x), (W(2, 5),), "EluBackward0"),
    case("elu-alpha", lambda L, x: nn(L).elu(x, alpha=0.4), (R(3),), "EluBackward0"),
    case("gelu", lambda L, x: nn(L).gelu(x), (W(4, 5),), "GeluBackward0"),
    case("gelu-small", lambda L, x: nn(L).gelu(x), (R(2, 3),), "GeluBackward0"),
    case("gelu-tanh", lambda L, x: nn(L).gelu(x, approximate="tanh"), (W(3, 4),), "GeluBackward0"),
    case("silu", lambda L, x: nn(L).silu(x), (W(3, 4),), "SiluBackward0"),
    case("softplus", lambda L, x: nn(L).softplus(x), (W(3, 4),), "SoftplusBackward0"),
    case("softplus-beta-threshold", lambda L, x: nn(L).softplus(x, 2, 1), (R(3, 4),),
         "SoftplusBackward0"),
    *[case(f"{f}-dim{d}", lambda L, x, f=f, d=d: getattr(nn(L), f)(x, d), (R(2, 3, 4),),
           name)
      for f, name in (("softmax", "SoftmaxBackward0"), ("log_softmax", "LogSoftmaxBackward0"))
      for d in (0, -1)],
    case("softmax-wide", lambda L, x: nn(L).softmax(x, 0), (W(6),), "SoftmaxBackward0"),
    case("softmax-0d", lambda L, x: nn(L).softmax(x, 0), (R(),), "SoftmaxBackward0"),
    case("softmax-top-level-dtype", lambda L, x: L.softmax(x, 1, L.float64), (R(2, 3),),
         "SoftmaxBackward0"),
    case("softmax-method", lambda L, x: x.softmax(-1), (R(2, 3),), "SoftmaxBackward0"),
    case("log_softmax-method-dtype", lambda L, x: x.log_softmax(0, dtype=L.float32), (R(3, 2),),
         "LogSoftmaxBackward0"),
    case("log_softmax-wide", lambda L, x: nn(L).log_softmax(x, 1), (W(2, 6),),
         "LogSoftmaxBackward0"),
    # PyTorch returns the input itself (here made by a mul), autogradx a view of it.
    case("dropout-eval", lambda L, x: nn(L).dropout(x * 1, training=False), (R(2, 3),),
         ("MulBackward0", "AliasBackward0")),
    case("dropout-p1", lambda L, x: nn(L).dropout(x, 1.0), (R(2, 3),), "MulBackward0"),
    case("linear", lambda L, x, w, b: nn(L).linear(x, w, b), (R(3, 4), R(5, 4), R(5)),
         "AddmmBackward0"),
    case("linear-no-bias", lambda L, x, w: nn(L).linear(x, w), (R(3, 4), R(5, 4)), "MmBackward0"),
    case("linear-1d", lambda L, x, w, b: nn(L).linear(x, w, b), (R(4), R(5, 4), R(5)),
         "ViewBackward0"),
    case("linear-1d-no-bias", lambda L, x, w: nn(L).linear(x, w), (R(4), R(5, 4)),
         "SqueezeBackward4"),
    case("linear-3d", lambda L, x, w, b: nn(L).linear(x, w, b), (R(2, 3, 4), R(5, 4), R(5)),
         "ViewBackward0"),
    case("linear-3d-no-bias", lambda L, x, w: nn(L).linear(x, w), (R(2, 3, 4), R(5, 4)),
         "UnsafeViewBackward0"),
    case("linear-1d-weight", lambda L, x, w: nn(L).linear(x, w), (R(3, 4), R(4)), "MvBackward0"),
    case("linear-const-input", lambda L, x, w, b: nn(L).linear(x, w, b),
         (K(R(3, 4)), R(2, 4), R(1)), "AddmmBackward0"),
    case("pad", lambda L, x: nn(L).pad(x, (1, 2)), (R(2, 3),), "ConstantPadNdBackward0"),
    case("pad-value-crop", lambda L, x: nn(L).pad(x, (1, -1, 2, 0, -1, 1), value=-2.5),
         (R(2, 3, 4),), "ConstantPadNdBackward0"),
    case("pad-reflect-1d", lambda L, x: nn(L).pad(x, (2, 1), mode="reflect"), (R(2, 3, 4),),
         "ReflectionPad1DBackward0"),
    case("pad-reflect-2d", lambda L, x: nn(L).pad(x, (2, 1, 0, 2), mode="reflect"),
         (R(2, 3, 4),), "ReflectionPad2DBackward0"),
    case("pad-reflect-3d", lambda L, x: nn(L).pad(x, (1, 1, 1, 0, 0, 1), mode="reflect"),
         (R(2, 3, 3, 3),), "ReflectionPad3DBackward0"),
    case("pad-replicate-1d", lambda L, x: nn(L).pad(x, (3, 1), mode="replicate"), (R(2, 3),),
         "ReplicationPad1DBackward0"),
    case("pad-replicate-2d", lambda L, x: nn(L).pad(x, (1, 2, 2, 1), mode="replicate"),
         (R(1, 2, 3, 4),), "ReplicationPad2DBackward0"),
    case("pad-circular", lambda L, x: nn(L).pad(x, (1, 2, 2, 1), mode="circular"),
         (R(2, 3, 4),), "torch::autograd::CopySlices"),
    case("layer_norm", lambda L, x: nn(L).layer_norm(x, (4,)), (R(3, 4),),
         "NativeLayerNormBackward0"),
    case("layer_norm-affine", lambda L, x, w, b: nn(L).layer_norm(x, [3, 4], w, b, 1e-3),
         (R(2, 3, 4), R(3, 4), R(3, 4)), "NativeLayerNormBackward0"),
    case("layer_norm-weight-keyword", lambda L, x, w: nn(L).layer_norm(x, (3,), weight=w),
         (R(4, 3), R(3)), "NativeLayerNormBackward0"),
    case("embedding", lambda L, i, w: nn(L).embedding(i, w), (I([[1, 2, 1], [0, 4, 1]]), R(5, 3)),
         "EmbeddingBackward0"),
    case("embedding-padding", lambda L, i, w: nn(L).embedding(i, w, padding_idx=-4),
         (I([1, 2, 1, 0]), R(5, 3)), "EmbeddingBackward0"),
    case("embedding-freq", lambda L, i, w: nn(L).embedding(i, w, scale_grad_by_freq=True),
         (I([[1, 2], [1, 1]]), R(3, 2)), "EmbeddingBackward0"),
]


def _close(a, t, what):
    a = np.asarray(a.detach().numpy())
    t = t.detach().numpy()
    assert a.shape == t.shape, f"{what}: shape {a.shape} != torch's {t.shape}"
    np.testing.assert_allclose(a, t, err_msg=what, **TOL[str(t.dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, specs, grad_fn", CASES)
def test_against_torch(fn, specs, grad_fn, dtype):
    rng = np.random.default_rng(0)
    arrays = [s.array(rng, dtype) for s in specs]
    a_in = [agx.tensor(x, requires_grad=s.requires_grad) for x, s in zip(arrays, specs)]
    t_in = [torch.tensor(x, requires_grad=s.requires_grad) for x, s in zip(arrays, specs)]
    a, t = fn(agx, *a_in), fn(torch, *t_in)
    assert str(a.dtype) == str(t.dtype)
    _close(a, t, "forward")
    torch_name, name = grad_fn if isinstance(grad_fn, tuple) else (grad_fn, grad_fn)
    assert t.grad_fn.name() == torch_name, "the case's expected name is PyTorch's"
    assert a.grad_fn.name() == name
    grad = rng.standard_normal(tuple(t.shape)).astype(str(t.dtype)[6:])
    a.backward(agx.tensor(grad))
    t.backward(torch.tensor(grad))
    for i, (x, tx) in enumerate(zip(a_in, t_in)):
        assert (x.grad is None) == (tx.grad is None), f"input {i}: gradient presence"
        if tx.grad is not None:
            assert str(x.grad.dtype) == str(tx.grad.dtype), f"input {i}: gradient dtype"
            _close(x.grad, tx.grad, f"gradient of input {i}")


def test_dropout_in_training_is_a_mul_node():
    a = agx.nn.functional.dropout(agx.ones(3, requires_grad=True) * 1, 0.5)
    t = torch.nn.functional.dropout(torch.ones(3, requires_grad=True) * 1, 0.5)
    assert a.grad_fn.name() == t.grad_fn.name() == "MulBackward0"


INTEGER_CASES = [
    pytest.param(lambda L, x: nn(L).one_hot(x), [[0, 3], [2, 2]], id="one_hot"),
    pytest.param(lambda L, x: nn(L).one_hot(x, 5), [1, 0, 4], id="one_hot-num_classes"),
    pytest.param(lambda L, x: nn(L).one_hot(input=x, num_classes=3), 2, id="one_hot-0d"),
    pytest.param(lambda L, x: nn(L).pad(x, (1, 1), value=2.5), [[1, 2], [3, 4]],
                 id="pad-int-float-value"),
    pytest.param(lambda L, x: nn(L).pad(x, (1, 1), mode="reflect"), [[1, 2, 3]],
                 id="pad-reflect-int"),
    pytest.param(lambda L, x: nn(L).pad(x > 1, (1, 0), value=1), [[1, 2], [3, 4]],
                 id="pad-bool"),
    pytest.param(lambda L, x: nn(L).linear(x, x), [[1, 2], [3, 4]], id="linear-int"),
    pytest.param(lambda L, x: nn(L).dropout(x, training=False), [1, 2], id="dropout-eval-int"),
    pytest.param(lambda L, x: nn(L).softmax(x, 0, dtype=L.float64), [1, 2, 3],
                 id="softmax-int-with-dtype"),
]


@pytest.mark.parametrize("fn, values", INTEGER_CASES)
def test_integer_inputs(fn, values):
    a = fn(agx, agx.tensor(values))
    t = fn(torch, torch.tensor(values))
    assert str(a.dtype) == str(t.dtype)
    np.testing.assert_allclose(a.numpy(), t.numpy())


def err(id, fn, match):
    return pytest.param(fn, match, id=id)


def _t(L, shape, dtype="float32"):
    return L.ones(shape, dtype=getattr(L, dtype))


ERRORS = [
    *[err(f"{name}-int", lambda L, n=name: getattr(nn(L), n)(_t(L, (2,), "int64")), "int64")
      for name in ("leaky_relu", "elu", "gelu", "silu", "softplus")],
    err("leaky_relu-bool", lambda L: nn(L).leaky_relu(_t(L, (2,), "bool")), "bool"),
    err("gelu-approximate", lambda L: nn(L).gelu(_t(L, (2,)), approximate="erf"),
        "approximate argument must be either none or tanh"),
    err("softmax-int", lambda L: nn(L).softmax(_t(L, (2,), "int64"), 0), "int64"),
    err("softmax-int-dtype", lambda L: nn(L).softmax(_t(L, (2,)), 0, dtype=L.int64), "int64"),
    err("log_softmax-int", lambda L: nn(L).log_softmax(_t(L, (2,), "int32"), 0), "int32"),
    err("softmax-dim", lambda L: nn(L).softmax(_t(L, (2, 3)), 2), "out of range"),
    err("dropout-p", lambda L: nn(L).dropout(_t(L, (2,)), 1.5), "between 0 and 1"),
    err("dropout-int", lambda L: nn(L).dropout(_t(L, (2,), "int64")), "can't be cast"),
    err("linear-dtypes", lambda L: nn(L).linear(_t(L, (2, 3)), _t(L, (4, 3), "float64")),
        "same dtype"),
    err("linear-shapes", lambda L: nn(L).linear(_t(L, (2, 3)), _t(L, (4, 2))),
        r"2x3 and 2x4"),
    err("linear-0d", lambda L: nn(L).linear(_t(L, ()), _t(L, (4, 2))), "at least 1D"),
    err("linear-1d-weight-bias", lambda L: nn(L).linear(_t(L, (2, 3)), _t(L, (3,)), _t(L, ())),
        "must be a matrix"),
    err("linear-bias-dtype",
        lambda L: nn(L).linear(_t(L, (2, 3)), _t(L, (4, 3)), _t(L, (4,), "float64")), "dtype"),
    err("one_hot-int32", lambda L: nn(L).one_hot(_t(L, (2,), "int32")), "LongTensor"),
    err("one_hot-negative", lambda L: nn(L).one_hot(L.tensor([-1, 2])), "non-negative"),
    err("one_hot-too-large", lambda L: nn(L).one_hot(L.tensor([1, 5]), 3), "smaller than"),
    err("one_hot-empty", lambda L: nn(L).one_hot(L.tensor([], dtype=L.int64)), "empty"),
    err("pad-odd", lambda L: nn(L).pad(_t(L, (2, 3)), (1,)), "divisible by 2"),
    err("pad-too-long", lambda L: nn(L).pad(_t(L, (2, 3)), (1,) * 6), "two times"),
    err("pad-negative-size", lambda L: nn(L).pad(_t(L, (2, 3)), (-2, -2)), "negative"),
    err("pad-mode", lambda L: nn(L).pad(_t(L, (2, 3)), (1, 1), mode="wrap"), "wrap"),
    err("pad-reflect-too-wide", lambda L: nn(L).pad(_t(L, (2, 3)), (3, 3), mode="reflect"),
        "Padding size should be less than"),
    err("pad-reflect-dims", lambda L: nn(L).pad(_t(L, (3, 4)), (1,) * 4, mode="reflect"),
        "not supported for 2D input"),
    err("pad-replicate-value", lambda L: nn(L).pad(_t(L, (2, 3)), (1, 1), "replicate", 1.0),
        "doesn't take in value"),
    err("pad-circular-wraps", lambda L: nn(L).pad(_t(L, (2, 3)), (4, 4), mode="circular"),
        "wrapping around more than once"),
    err("layer_norm-int-shape", lambda L: nn(L).layer_norm(_t(L, (2, 3)), 3), "normalized_shape"),
    err("layer_norm-empty-shape", lambda L: nn(L).layer_norm(_t(L, (2, 3)), ()),
        "at least 1-dimensional"),
    err("layer_norm-shape", lambda L: nn(L).layer_norm(_t(L, (2, 3)), (2,)), r"\[\*, 2\]"),
    err("layer_norm-weight-shape", lambda L: nn(L).layer_norm(_t(L, (2, 3)), (3,), _t(L, (2,))),
        "weight"),
    err("layer_norm-int", lambda L: nn(L).layer_norm(_t(L, (2, 3), "int64"), (3,)), "int64"),
    err("layer_norm-mixed-dtype",
        lambda L: nn(L).layer_norm(_t(L, (2, 3)), (3,), _t(L, (3,), "float64")), "dtype"),
    err("embedding-float-indices", lambda L: nn(L).embedding(_t(L, (2,)), _t(L, (3, 2))),
        "indices"),
    err("embedding-out-of-range", lambda L: nn(L).embedding(L.tensor([3]), _t(L, (3, 2))),
        "index out of range"),
    err("embedding-negative-index", lambda L: nn(L).embedding(L.tensor([-1]), _t(L, (3, 2))),
        "index out of range"),
    err("embedding-1d-weight", lambda L: nn(L).embedding(L.tensor([0]), _t(L, (3,))), "2-D"),
    err("embedding-padding-idx", lambda L: nn(L).embedding(L.tensor([0]), _t(L, (3, 2)),
                                                             padding_idx=3), "Padding_idx"),
]


def _builtin_base(exc_type):
    return next(c for c in exc_type.__mro__ if c.__module__ == "builtins")


@pytest.mark.parametrize("fn, match", ERRORS)
def test_errors(fn, match):
    with pytest.raises(Exception) as t_err:
        fn(torch)
    with pytest.raises(_builtin_base(type(t_err.value)), match=match):
        fn(agx)
