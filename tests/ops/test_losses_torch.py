"""The loss functions against PyTorch, in float32 and float64.

For every case: the forward values, the output dtype, the gradient of every
input (backward with the same random output gradient), the gradients' dtypes
and the name of the ``grad_fn`` must match PyTorch's. Then mixed dtypes,
integer inputs, the errors for bad input (type and message), and the warnings.
"""

import warnings

import numpy as np
import pytest

import autogradx as agx
from helpers import D, Idx, K, P, Prob, R, uniform
from torch_compare import (DTYPES, F, assert_close, backward_both, both, case,
                           compare_input_gradients, random_like, run_both)

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = {"float32": dict(rtol=2e-5, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


def U(*shape):
    """Values in [0.05, 0.95): wider than ``helpers.U``, as these cases were written."""
    return uniform(shape, 0.05, 0.95)


REDS = ("none", "mean", "sum")


def _pointwise(name, node, weighted_nodes, params=({},), weight=True):
    out = []
    for kw in params:
        label = "".join(f"-{k}={v}" for k, v in kw.items())
        for red in REDS:
            out.append(case(f"{name}-{red}{label}",
                            lambda L, x, y, r=red, kw=kw: getattr(F(L), name)(x, y, reduction=r,
                                                                              **kw),
                            (R(3, 4), R(3, 4)), node(red, kw)))
            if weight:
                out.append(case(
                    f"{name}-weight-{red}{label}",
                    lambda L, x, y, w, r=red, kw=kw: getattr(F(L), name)(x, y, reduction=r,
                                                                         weight=w, **kw),
                    (R(3, 4), R(3, 4), P(3, 4)), weighted_nodes[red]))
    return out


WEIGHTED = {"none": "MulBackward0", "mean": "DivBackward0", "sum": "SumBackward0"}
L1_NODES = {"none": "AbsBackward0", "mean": "MeanBackward0", "sum": "SumBackward0"}


def ce(**kw):
    return lambda L, x, t, *w: F(L).cross_entropy(x, t, *w, **kw)


def nll(**kw):
    return lambda L, x, t, *w: F(L).nll_loss(x, t, *w, **kw)


def bce(**kw):
    return lambda L, x, y, *w: F(L).binary_cross_entropy(x, y, *w, **kw)


NLL_NODE = "NllLossBackward0"
CE_PROB = {"none": "NegBackward0", "mean": "DivBackward1", "sum": "NegBackward0"}

CASES = [
    *_pointwise("mse_loss", lambda r, kw: "MseLossBackward0", WEIGHTED),
    *_pointwise("l1_loss", lambda r, kw: L1_NODES[r], WEIGHTED),
    *_pointwise("smooth_l1_loss",
                lambda r, kw: L1_NODES[r] if kw.get("beta") == 0 else "SmoothL1LossBackward0",
                None, params=({}, {"beta": 0.5}, {"beta": 0.0}), weight=False),
    *_pointwise("huber_loss", lambda r, kw: "HuberLossBackward0",
                {"none": "MulBackward0", "mean": "MeanBackward0", "sum": "SumBackward0"},
                params=({}, {"delta": 0.7})),
    case("mse_loss-0d", lambda L, x, y: F(L).mse_loss(x, y), (R(), R()), "MseLossBackward0"),
    case("mse_loss-weight-positional",
         lambda L, x, y, w: F(L).mse_loss(x, y, None, None, "sum", w), (R(3, 4), R(3, 4), P(3, 4)),
         "SumBackward0"),
    case("l1_loss-const-target", lambda L, x, y: F(L).l1_loss(x, y), (R(2, 5), K(R(2, 5))),
         "MeanBackward0"),
    # binary_cross_entropy: probabilities, gradients for input and target
    *[case(f"bce-{red}", bce(reduction=red), (U(3, 4), U(3, 4)), "BinaryCrossEntropyBackward0")
      for red in REDS],
    *[case(f"bce-weight-{red}", bce(reduction=red), (U(3, 4), U(3, 4), K(P(4))),
           "BinaryCrossEntropyBackward0") for red in REDS],
    case("bce-0d", bce(), (U(), U()), "BinaryCrossEntropyBackward0"),
    # nll_loss
    *[case(f"nll-{red}", nll(reduction=red), (R(5, 4), Idx((5,), 4)), NLL_NODE) for red in REDS],
    *[case(f"nll-weight-{red}", nll(reduction=red), (R(5, 4), Idx((5,), 4), K(P(4))), NLL_NODE)
      for red in REDS],
    case("nll-ignore_index=1", nll(ignore_index=1), (R(6, 3), Idx((6,), 3, ignore=1, n_ignored=3)),
         NLL_NODE),
    case("nll-1d", nll(), (R(4), Idx((), 4, n_ignored=0)), NLL_NODE),
    case("nll-1d-none", nll(reduction="none"), (R(4), Idx((), 4, n_ignored=0)), NLL_NODE),
    case("nll-3d-none", nll(reduction="none"), (R(2, 3, 4), Idx((2, 4), 3)), "ViewBackward0"),
    case("nll-3d-mean", nll(), (R(2, 3, 4), Idx((2, 4), 3)), "NllLoss2DBackward0"),
    *[case(f"nll-4d-weight-{red}", nll(reduction=red), (R(2, 3, 2, 3), Idx((2, 2, 3), 3),
                                                        K(P(3))), "NllLoss2DBackward0")
      for red in REDS],
    case("nll-5d-none", nll(reduction="none"), (R(2, 3, 2, 1, 2), Idx((2, 2, 1, 2), 3)),
         "ViewBackward0"),
    case("nll-5d-sum", nll(reduction="sum"), (R(2, 3, 2, 1, 2), Idx((2, 2, 1, 2), 3)),
         "NllLoss2DBackward0"),
    # cross_entropy: class indices
    *[case(f"ce-{red}", ce(reduction=red), (R(5, 4), Idx((5,), 4)), NLL_NODE) for red in REDS],
    *[case(f"ce-weight-{red}", ce(reduction=red), (R(5, 4), Idx((5,), 4), K(P(4))), NLL_NODE)
      for red in REDS],
    case("ce-ignore_index=0", ce(ignore_index=0), (R(6, 3), Idx((6,), 3, ignore=0, n_ignored=2)),
         NLL_NODE),
    case("ce-1d", ce(), (R(4), Idx((), 4, n_ignored=0)), NLL_NODE),
    case("ce-3d-none", ce(reduction="none"), (R(2, 3, 4), Idx((2, 4), 3)), "ViewBackward0"),
    *[case(f"ce-4d-{red}", ce(reduction=red), (R(2, 3, 2, 3), Idx((2, 2, 3), 3)),
           "NllLoss2DBackward0") for red in REDS],
    case("ce-large-logits", lambda L, x, t: F(L).cross_entropy(x * 1e4, t),
         (R(3, 4), Idx((3,), 4, n_ignored=0)), NLL_NODE),
    # label smoothing
    *[case(f"ce-label_smoothing-{red}", ce(reduction=red, label_smoothing=0.2),
           (R(5, 4), Idx((5,), 4)), "AddBackward0") for red in REDS],
    *[case(f"ce-label_smoothing-weight-{red}", ce(reduction=red, label_smoothing=0.3),
           (R(5, 4), Idx((5,), 4, n_ignored=2), K(P(4))), "AddBackward0") for red in REDS],
    case("ce-label_smoothing-4d", ce(label_smoothing=0.1), (R(2, 3, 2, 2), Idx((2, 2, 2), 3)),
         "AddBackward0"),
    case("ce-label_smoothing-1d", ce(label_smoothing=1.0), (R(4), Idx((), 4, n_ignored=0)),
         "AddBackward0"),
    case("ce-label_smoothing-negative", ce(label_smoothing=-0.1), (R(5, 4), Idx((5,), 4)),
         NLL_NODE),
    # class probabilities (the target takes a gradient too)
    *[case(f"ce-probs-{red}", ce(reduction=red), (R(5, 4), Prob(5, 4)), CE_PROB[red])
      for red in REDS],
    *[case(f"ce-probs-weight-label_smoothing-{red}", ce(reduction=red, label_smoothing=0.25),
           (R(5, 4), Prob(5, 4), K(P(4))), CE_PROB[red]) for red in REDS],
    case("ce-probs-1d", ce(), (R(4), Prob(4)), "DivBackward1"),
    case("ce-probs-4d-none", ce(reduction="none"), (R(2, 3, 2, 2), Prob(2, 3, 2, 2)),
         "NegBackward0"),
    case("ce-probs-large-logits", lambda L, x, t: F(L).cross_entropy(x * 1e4, t),
         (R(3, 4), Prob(3, 4)), "DivBackward1"),
]

# Inputs of different dtypes: the output follows PyTorch's promotion, and each
# input's gradient comes back in that input's own dtype.
MIXED = [
    case("mse-f32-f64", lambda L, x, y: F(L).mse_loss(x, y), (R(3, 4), D("float64", R(3, 4))),
         "MseLossBackward0"),
    case("mse-f32-int64", lambda L, x, y: F(L).mse_loss(x, y), (R(3, 4), D("int64", R(3, 4))),
         "MseLossBackward0"),
    case("mse-weight-f64", lambda L, x, y, w: F(L).mse_loss(x, y, weight=w),
         (R(3, 4), R(3, 4), D("float64", P(3, 4))), "DivBackward0"),
    case("l1-int64-f32", lambda L, x, y: F(L).l1_loss(x, y, reduction="sum"),
         (D("int64", R(3, 4)), R(3, 4)), "SumBackward0"),
    case("smooth_l1-f64-f32", lambda L, x, y: F(L).smooth_l1_loss(x, y),
         (D("float64", R(3, 4)), R(3, 4)), "SmoothL1LossBackward0"),
    case("huber-weight-f64", lambda L, x, y, w: F(L).huber_loss(x, y, weight=w),
         (R(3, 4), R(3, 4), D("float64", P(3, 4))), "MeanBackward0"),
    case("bce-weight-f64", bce(), (U(3, 4), U(3, 4), K(D("float64", P(3, 4)))),
         "BinaryCrossEntropyBackward0"),
    case("ce-probs-target-f64", ce(), (R(3, 4), D("float64", Prob(3, 4))), "DivBackward1"),
    case("ce-probs-weight-f64", ce(reduction="sum"), (R(3, 4), Prob(3, 4), K(D("float64", P(4)))),
         "NegBackward0"),
    case("ce-uint8-target", ce(), (R(3, 4), D("uint8", U(3))),
         NLL_NODE),
]


def _close(a, t, dtype, what):
    assert_close(a, t, what, **TOL["float64" if dtype == "float64" else "float32"],
                 equal_nan=True)


def _check(fn, specs, grad_fn, dtype, tol=None):
    # PyTorch warns of the target size of broadcasting cases; autogradx is checked below
    a_in, t_in, a_out, t_out, rng = run_both(fn, specs, dtype, ignore_torch_warnings=True)
    assert str(a_out.dtype) == str(t_out.dtype)
    _close(a_out, t_out, tol or dtype, "forward")
    if not t_out.requires_grad:
        assert a_out.grad_fn is None
        return
    assert t_out.grad_fn.name() == grad_fn, "the case's expected name is PyTorch's"
    assert a_out.grad_fn.name() == grad_fn
    backward_both(a_out, t_out, random_like(rng, t_out))
    compare_input_gradients(a_in, t_in, lambda a, t, what: _close(a, t, tol or dtype, what))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn, specs, grad_fn", CASES)
def test_values_gradients_and_grad_fn(fn, specs, grad_fn, dtype):
    _check(fn, specs, grad_fn, dtype)


@pytest.mark.parametrize("fn, specs, grad_fn", MIXED)
def test_mixed_dtypes(fn, specs, grad_fn):
    _check(fn, specs, grad_fn, "float32", tol="float32")


@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float64", "float32")],
                         ids=["f32-f64", "f64-f32"])
def test_huber_loss_keeps_the_input_dtype(dtypes):
    # PyTorch's own backward fails on mixed dtypes here ("Found dtype Double but
    # expected Float"): compare the forward only.
    x, y = np.linspace(-2, 2, 6).astype(dtypes[0]), np.linspace(1, -1, 6).astype(dtypes[1])
    a = F(agx).huber_loss(agx.tensor(x, requires_grad=True), agx.tensor(y), reduction="none")
    t = F(torch).huber_loss(torch.tensor(x, requires_grad=True), torch.tensor(y), reduction="none")
    assert str(a.dtype) == str(t.dtype) == f"torch.{dtypes[0]}"
    assert a.grad_fn.name() == t.grad_fn.name()
    _close(a, t, "float32", "forward")


@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_integer_l1_loss(reduction):
    x, y = np.array([[1, -2, 3]]), np.array([[0, 2, 3]])
    a = F(agx).l1_loss(agx.tensor(x), agx.tensor(y), reduction=reduction)
    t = F(torch).l1_loss(torch.tensor(x), torch.tensor(y), reduction=reduction)
    assert str(a.dtype) == str(t.dtype) == "torch.int64"
    assert a.tolist() == t.tolist()


@pytest.mark.parametrize("values", [[np.nan, 1.0, 2.0], [-np.inf, 0.0, 1.0], [np.inf, 1.0, 0.0]],
                         ids=["nan", "-inf", "inf"])
@pytest.mark.parametrize("reduction", REDS)
@pytest.mark.parametrize("loss, kw", [("nll_loss", {}), ("cross_entropy", {}),
                                      ("cross_entropy", {"label_smoothing": 0.2})],
                         ids=["nll", "ce", "ce-label_smoothing"])
def test_an_ignored_sample_with_nan_or_inf(loss, kw, reduction, values):
    x = np.array([[-1.0, -2.0, -0.5], values, [-0.3, -1.5, -2.5]])
    a_in, t_in = both([x, np.array([0, -100, 2])])
    with np.errstate(invalid="ignore"):
        a = getattr(F(agx), loss)(*a_in, reduction=reduction, **kw)
        a.sum().backward()
    t = getattr(F(torch), loss)(*t_in, reduction=reduction, **kw)
    t.sum().backward()
    np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(a_in[0].grad.numpy(), t_in[0].grad.numpy(), rtol=1e-12)


def test_binary_cross_entropy_at_0_and_1():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    a_in, t_in = both([x, y])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = F(agx).binary_cross_entropy(*a_in, reduction="sum")
        a.backward()
    t = F(torch).binary_cross_entropy(*t_in, reduction="sum")
    t.backward()
    assert a.item() == pytest.approx(t.item())
    for ai, ti in zip(a_in, t_in):
        np.testing.assert_allclose(ai.grad.numpy(), ti.grad.numpy(), rtol=1e-6)


# ---------------------------------------------------------------- errors and warnings

def _t(lib, data, dtype=None, requires_grad=False):
    return lib.tensor(np.asarray(data), dtype=getattr(lib, dtype) if dtype else None,
                      requires_grad=requires_grad)


X54 = np.linspace(-1, 1, 20).reshape(5, 4)
T5 = np.array([0, 3, 1, 2, 1])

def err(id, fn, message=None, marks=()):
    """An error case; ``message``: the part of PyTorch's message autogradx repeats, when
    not all of it (PyTorch names its internal functions)."""
    return pytest.param(fn, message, id=id, marks=marks)


ERRORS = [
    err("mse-int", lambda L: F(L).mse_loss(_t(L, [1, 2]), _t(L, [1, 2]))),
    err("mse-weight-shape", lambda L: F(L).mse_loss(_t(L, X54), _t(L, X54), weight=_t(L, [1.0]))),
    err("mse-bad-reduction", lambda L: F(L).mse_loss(_t(L, X54), _t(L, X54), reduction="bad")),
    err("l1-int-mean", lambda L: F(L).l1_loss(_t(L, [1, 2]), _t(L, [1, 2]))),
    err("smooth_l1-negative-beta",
        lambda L: F(L).smooth_l1_loss(_t(L, X54), _t(L, X54), beta=-1.0)),
    err("smooth_l1-int", lambda L: F(L).smooth_l1_loss(_t(L, [1, 2]), _t(L, [1, 2]))),
    err("huber-delta-0", lambda L: F(L).huber_loss(_t(L, X54), _t(L, X54), delta=0.0)),
    err("huber-int", lambda L: F(L).huber_loss(_t(L, [1, 2]), _t(L, [1, 2]))),
    err("bce-size", lambda L: F(L).binary_cross_entropy(_t(L, [0.5, 0.5]), _t(L, [0.5]))),
    err("bce-range", lambda L: F(L).binary_cross_entropy(_t(L, [0.5, 2.0]), _t(L, [0.5, 0.5]))),
    err("bce-nan", lambda L: F(L).binary_cross_entropy(_t(L, [0.5, np.nan]), _t(L, [0.5, 0.5]))),
    err("bce-target-dtype",
        lambda L: F(L).binary_cross_entropy(_t(L, [0.5], "float32"), _t(L, [0.5], "float64"))),
    err("bce-int", lambda L: F(L).binary_cross_entropy(_t(L, [0, 1]), _t(L, [0, 1]))),
    err("bce-weight-requires-grad",
        lambda L: F(L).binary_cross_entropy(_t(L, [0.5], requires_grad=True), _t(L, [0.5]),
                                            _t(L, [1.0], requires_grad=True))),
    err("nll-out-of-bounds", lambda L: F(L).nll_loss(_t(L, X54), _t(L, [0, 3, 1, 4, 2]))),
    err("nll-negative-target", lambda L: F(L).nll_loss(_t(L, X54), _t(L, [0, 3, 1, -1, 2]))),
    err("nll-int32-target", lambda L: F(L).nll_loss(_t(L, X54), _t(L, T5, "int32"))),
    err("nll-float-target", lambda L: F(L).nll_loss(_t(L, X54), _t(L, T5, "float32"))),
    err("nll-batch-size", lambda L: F(L).nll_loss(_t(L, X54), _t(L, T5[:3]))),
    err("nll-0d", lambda L: F(L).nll_loss(_t(L, 1.0), _t(L, 0))),
    err("nll-2d-target", lambda L: F(L).nll_loss(_t(L, X54), _t(L, np.zeros((5, 4), int)))),
    err("nll-3d-target-size",
        lambda L: F(L).nll_loss(_t(L, np.zeros((2, 4, 3))), _t(L, np.zeros((2, 4), int)))),
    err("nll-weight-size", lambda L: F(L).nll_loss(_t(L, X54), _t(L, T5), _t(L, [1.0, 2.0]))),
    err("nll-weight-dtype",
        lambda L: F(L).nll_loss(_t(L, X54, "float32"), _t(L, T5), _t(L, np.ones(4), "float64"))),
    err("nll-weight-requires-grad",
        lambda L: F(L).nll_loss(_t(L, X54, requires_grad=True), _t(L, T5),
                                _t(L, np.ones(4), requires_grad=True)),
        message="is not differentiable with respect to argument 'weight'. This input cannot "
                "have requires_grad True."),
    err("nll-int-input", lambda L: F(L).nll_loss(_t(L, np.ones((5, 4), int)), _t(L, T5))),
    err("ce-int-probabilities",
        lambda L: F(L).cross_entropy(_t(L, X54), _t(L, np.ones((5, 4), int)))),
    err("ce-label_smoothing>1", lambda L: F(L).cross_entropy(_t(L, X54), _t(L, T5),
                                                             label_smoothing=1.5)),
    err("ce-probs-label_smoothing>1",
        lambda L: F(L).cross_entropy(_t(L, X54), _t(L, X54), label_smoothing=1.5)),
    err("ce-probs-weight-size",
        lambda L: F(L).cross_entropy(_t(L, X54), _t(L, X54), _t(L, [1.0, 2.0]))),
    err("ce-weight-size", lambda L: F(L).cross_entropy(_t(L, X54), _t(L, T5), _t(L, [1.0, 2.0]))),
    err("ce-weight-dtype",
        lambda L: F(L).cross_entropy(_t(L, X54, "float32"), _t(L, T5), _t(L, np.ones(4), "float64"))),
    err("ce-out-of-bounds", lambda L: F(L).cross_entropy(_t(L, X54), _t(L, [0, 3, 1, 4, 2]))),
    err("ce-batch-size", lambda L: F(L).cross_entropy(_t(L, X54), _t(L, T5[:3]))),
]


@pytest.mark.parametrize("fn", [
    pytest.param(lambda L, x: F(L).mse_loss(x, x, None, None, "mean", None, 1), id="too-many"),
    pytest.param(lambda L, x: F(L).l1_loss(x, x, None, None, "sum", reduction="sum"), id="twice"),
])
def test_argument_errors_match_torch(fn):
    with pytest.raises(TypeError) as t_err:
        fn(torch, torch.ones(2))
    with pytest.raises(TypeError) as a_err:
        fn(agx, agx.ones(2))
    assert str(a_err.value) == str(t_err.value)


@pytest.mark.parametrize("fn, message", ERRORS)
def test_errors_match_torch(fn, message):
    with pytest.raises(Exception) as t_err:
        fn(torch)
    with pytest.raises(Exception) as a_err:
        fn(agx)
    if message is None:
        message = str(t_err.value)
    else:
        assert message in str(t_err.value)
    assert message in str(a_err.value)
    assert a_err.type is t_err.type


def test_target_size_warning_matches_torch():
    with pytest.warns(UserWarning) as t_rec:
        F(torch).l1_loss(torch.ones(2, 3), torch.ones(3))
    with pytest.warns(UserWarning) as a_rec:
        F(agx).l1_loss(agx.ones((2, 3)), agx.ones(3))
    assert [str(w.message) for w in a_rec] == [str(w.message) for w in t_rec]


def test_legacy_reduction_warning_matches_torch():
    with pytest.warns(UserWarning) as t_rec:
        F(torch).nll_loss(torch.zeros(2, 3), torch.tensor([0, 1]), size_average=False)
    with pytest.warns(UserWarning) as a_rec:
        F(agx).nll_loss(agx.zeros((2, 3)), agx.tensor([0, 1]), size_average=False)
    assert [str(w.message) for w in a_rec] == [str(w.message) for w in t_rec]
