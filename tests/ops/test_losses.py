"""The loss functions on their own: finite-difference gradient checks (float64)
over reductions, weights, ignored targets, label smoothing, probability
targets and input ranks; then stability at extreme inputs, the legacy
``size_average``/``reduce`` arguments, and results known by hand.

Gradcheck cases are one line each: an id, the function, and input specs:
``R(shape)`` real values, ``P(shape)`` positive values, ``U(shape)`` values in
(0, 1), ``Prob(shape)`` rows of probabilities along dim 1, ``Idx(shape, C)``
class indices (a few set to ``ignore``), ``K(spec)`` a constant (no grad).
The comparison with PyTorch is in ``test_losses_torch.py``.
"""

import math
import warnings

import numpy as np
import pytest

import autogradx as agx
from autogradx.testing import gradcheck, gradgradcheck
from helpers import Idx, K, P, Prob, R, U, case, make_inputs

F = agx.nn.functional


REDUCTIONS = ("none", "mean", "sum")
broadcast_warning = pytest.mark.filterwarnings("ignore:Using a target size")


def pointwise_cases(name, fn, params=({},), weight=True):
    out = []
    for kw in params:
        label = ",".join(f"{k}={v}" for k, v in kw.items())
        for red in REDUCTIONS:
            out.append(case(f"{name}-{red}{'-' + label if label else ''}",
                            lambda x, y, f=fn, r=red, kw=kw: f(x, y, reduction=r, **kw),
                            R(3, 4), R(3, 4)))
            if weight:
                out.append(case(f"{name}-weight-{red}{'-' + label if label else ''}",
                                lambda x, y, w, f=fn, r=red, kw=kw: f(x, y, reduction=r,
                                                                      weight=w, **kw),
                                R(3, 4), R(3, 4), P(3, 4)))
    return out + [
        case(f"{name}-0d", lambda x, y, f=fn: f(x, y), R(), R()),
        case(f"{name}-const-target", lambda x, y, f=fn: f(x, y), R(2, 3), K(R(2, 3))),
        case(f"{name}-broadcast-target", lambda x, y, f=fn: f(x, y), R(2, 3), R(3),
             marks=broadcast_warning),
    ]


POINTWISE = [
    *pointwise_cases("mse", F.mse_loss),
    *pointwise_cases("l1", F.l1_loss),
    *pointwise_cases("smooth_l1", F.smooth_l1_loss, ({}, {"beta": 0.5}, {"beta": 0.0}),
                     weight=False),
    *pointwise_cases("huber", F.huber_loss, ({}, {"delta": 0.5})),
    case("mse-weight-positional", lambda x, y, w: F.mse_loss(x, y, None, None, "mean", w),
         R(3, 4), R(3, 4), P(3, 4)),
    case("huber-delta-positional", lambda x, y: F.huber_loss(x, y, "sum", 0.3), R(3, 4), R(3, 4)),
]

BCE = [
    *[case(f"bce-{red}", lambda x, y, r=red: F.binary_cross_entropy(x, y, reduction=r),
           U(3, 4), U(3, 4)) for red in REDUCTIONS],
    *[case(f"bce-weight-{red}",
           lambda x, y, w, r=red: F.binary_cross_entropy(x, y, w, reduction=r),
           U(3, 4), U(3, 4), K(P(4))) for red in REDUCTIONS],
    case("bce-0d", lambda x, y: F.binary_cross_entropy(x, y), U(), U()),
    case("bce-const-target", lambda x, y: F.binary_cross_entropy(x, y), U(5), K(U(5))),
]


def nll(**kw):
    return lambda x, t, *w: F.nll_loss(x, t, *w, **kw)


def ce(**kw):
    return lambda x, t, *w: F.cross_entropy(x, t, *w, **kw)


NLL = [
    *[case(f"nll-{red}", nll(reduction=red), R(5, 4), Idx((5,), 4)) for red in REDUCTIONS],
    *[case(f"nll-weight-{red}", nll(reduction=red), R(5, 4), Idx((5,), 4), K(P(4)))
      for red in REDUCTIONS],
    case("nll-ignore_index=2", nll(ignore_index=2), R(6, 4), Idx((6,), 4, ignore=2, n_ignored=2)),
    case("nll-no-ignored", nll(), R(5, 3), Idx((5,), 3, n_ignored=0)),
    case("nll-1d", nll(), R(4), Idx((), 4, n_ignored=0)),
    case("nll-1d-none", nll(reduction="none"), R(4), Idx((), 4, n_ignored=0)),
    case("nll-3d", nll(), R(2, 3, 4), Idx((2, 4), 3)),
    case("nll-3d-none", nll(reduction="none"), R(2, 3, 4), Idx((2, 4), 3)),
    case("nll-4d-weight", nll(), R(2, 3, 2, 2), Idx((2, 2, 2), 3), K(P(3))),
    case("nll-5d-sum", nll(reduction="sum"), R(2, 3, 2, 1, 2), Idx((2, 2, 1, 2), 3)),
]

CE = [
    *[case(f"ce-{red}", ce(reduction=red), R(5, 4), Idx((5,), 4)) for red in REDUCTIONS],
    *[case(f"ce-weight-{red}", ce(reduction=red), R(5, 4), Idx((5,), 4), K(P(4)))
      for red in REDUCTIONS],
    *[case(f"ce-label_smoothing-{red}", ce(reduction=red, label_smoothing=0.2),
           R(5, 4), Idx((5,), 4)) for red in REDUCTIONS],
    *[case(f"ce-label_smoothing-weight-{red}", ce(reduction=red, label_smoothing=0.3),
           R(5, 4), Idx((5,), 4, n_ignored=2), K(P(4))) for red in REDUCTIONS],
    *[case(f"ce-probs-{red}", ce(reduction=red), R(5, 4), Prob(5, 4)) for red in REDUCTIONS],
    *[case(f"ce-probs-weight-label_smoothing-{red}", ce(reduction=red, label_smoothing=0.1),
           R(5, 4), Prob(5, 4), K(P(4))) for red in REDUCTIONS],
    case("ce-ignore_index=0", ce(ignore_index=0), R(6, 3), Idx((6,), 3, ignore=0, n_ignored=3)),
    case("ce-1d", ce(), R(4), Idx((), 4, n_ignored=0)),
    case("ce-1d-probs", ce(), R(4), Prob(4)),
    case("ce-1d-label_smoothing", ce(label_smoothing=0.5), R(4), Idx((), 4, n_ignored=0)),
    case("ce-3d-none", ce(reduction="none"), R(2, 3, 4), Idx((2, 4), 3)),
    case("ce-4d", ce(), R(2, 3, 2, 2), Idx((2, 2, 2), 3)),
    case("ce-4d-probs-none", ce(reduction="none"), R(2, 3, 2, 2), Prob(2, 3, 2, 2)),
    case("ce-4d-label_smoothing-weight", ce(label_smoothing=0.1), R(2, 3, 2, 2),
         Idx((2, 2, 2), 3), K(P(3))),
    case("ce-const-probs", ce(), R(3, 4), K(Prob(3, 4))),
    case("ce-large-logits", lambda x, t: F.cross_entropy(x * 1e3, t), R(3, 4),
         Idx((3,), 4, n_ignored=0)),
]

ALL = POINTWISE + BCE + NLL + CE


@pytest.mark.parametrize("fn, specs", ALL)
def test_gradcheck(fn, specs):
    assert gradcheck(fn, make_inputs(specs, seed=1234))


@pytest.mark.parametrize("fn, specs", [
    case("mse-weight", lambda x, y, w: F.mse_loss(x, y, weight=w), R(3, 4), R(3, 4), P(3, 4)),
    case("ce-probs-label_smoothing", ce(label_smoothing=0.2), R(5, 4), Prob(5, 4)),
    case("nll-4d", nll(), R(2, 3, 2, 2), Idx((2, 2, 2), 3)),
])
def test_gradcheck_float32_inputs(fn, specs):
    inputs = make_inputs(specs, seed=1234)
    inputs = tuple(t.to(agx.float32).detach().requires_grad_(t.requires_grad)
                   if t.dtype == agx.float64 else t for t in inputs)
    assert gradcheck(fn, inputs)


# Gradients of gradients (create_graph=True): the vjps run again on tensors.
SECOND_ORDER = [
    case("mse-weight-mean", lambda x, y, w: F.mse_loss(x, y, weight=w), R(2, 3), R(2, 3), P(2, 3)),
    case("l1-weight-mean", lambda x, y, w: F.l1_loss(x * x, y, weight=w), R(2, 3), R(2, 3),
         P(2, 3)),
    case("smooth_l1-beta", lambda x, y: F.smooth_l1_loss(x, y, beta=0.5, reduction="sum"),
         R(2, 3), R(2, 3)),
    case("huber-weight", lambda x, y, w: F.huber_loss(x, y, delta=0.5, weight=w), R(2, 3),
         R(2, 3), P(2, 3)),
    case("bce-weight", lambda x, y: F.binary_cross_entropy(x, y, agx.tensor([0.5, 2.0])),
         U(3, 2), U(3, 2)),
    case("nll-4d-weight", lambda x, t, w: F.nll_loss(x * x, t, w), R(2, 3, 2, 1),
         Idx((2, 2, 1), 3), K(P(3))),
    case("ce-weight-label_smoothing", ce(label_smoothing=0.2), R(4, 3), Idx((4,), 3), K(P(3))),
    case("ce-probs-none", ce(reduction="none"), R(3, 4), Prob(3, 4)),
]


@pytest.mark.parametrize("fn, specs", SECOND_ORDER)
def test_gradgradcheck(fn, specs):
    assert gradgradcheck(fn, make_inputs(specs, seed=1234), n_directions=2)


# ---------------------------------------------------------------- by hand, stability

def test_values_by_hand():
    x = agx.tensor([[1.0, 2.0], [3.0, 5.0]])
    y = agx.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert F.mse_loss(x, y).item() == pytest.approx((0 + 4 + 4 + 16) / 4)
    assert F.l1_loss(x, y, reduction="sum").item() == pytest.approx(0 + 2 + 2 + 4)
    # smooth_l1 with beta=1: 0.5 d^2 inside, |d| - 0.5 outside
    d = agx.tensor([0.5, -3.0])
    assert F.smooth_l1_loss(d, agx.zeros(2), reduction="none").tolist() == [0.125, 2.5]
    assert F.huber_loss(d, agx.zeros(2), delta=2.0, reduction="none").tolist() == [0.125, 4.0]
    # nll picks -input[target], weighted; the mean divides by the kept weights
    logp = agx.tensor([[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0]])
    w = agx.tensor([1.0, 2.0, 3.0])
    assert F.nll_loss(logp, agx.tensor([2, 1]), w).item() == pytest.approx((9 + 10) / 5)
    assert F.nll_loss(logp, agx.tensor([2, -100]), w).item() == pytest.approx(3.0)


def test_cross_entropy_is_log_softmax_then_nll():
    x = np.array([[0.5, -1.0, 2.0], [0.0, 0.1, 0.2]])
    t = np.array([2, 0])
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    expected = -(logp[0, 2] + logp[1, 0]) / 2
    assert F.cross_entropy(agx.tensor(x), agx.tensor(t)).item() == pytest.approx(expected)
    # a one-hot probability target gives the same loss
    onehot = np.eye(3)[t]
    assert F.cross_entropy(agx.tensor(x), agx.tensor(onehot)).item() == pytest.approx(expected)
    # label smoothing eps mixes in the mean of -logp over the classes
    smooth = -(logp[0].mean() + logp[1].mean()) / 2
    got = F.cross_entropy(agx.tensor(x), agx.tensor(t), label_smoothing=0.3).item()
    assert got == pytest.approx(0.7 * expected + 0.3 * smooth)


@pytest.mark.filterwarnings("error")
def test_large_logits_stay_finite():
    x = agx.tensor([[1e4, -1e4, 0.0], [-5e3, 5e3, 1e4]], dtype=agx.float32, requires_grad=True)
    loss = F.cross_entropy(x, agx.tensor([1, 2]), label_smoothing=0.1)
    loss.backward()
    assert math.isfinite(loss.item()) and loss.item() > 1e3
    assert np.isfinite(x.grad.numpy()).all()
    p = agx.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    F.cross_entropy(p, agx.tensor([[0.2, 0.3, 0.5]])).backward()
    assert np.isfinite(p.grad.numpy()).all()


@pytest.mark.filterwarnings("error")
def test_bce_clamps_log_at_minus_100():
    x = agx.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    y = agx.tensor([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(x, y, reduction="none")
    assert loss.tolist() == [100.0, 100.0, 0.0, 0.0]
    loss.sum().backward()
    # (x - y) / max(x (1 - x), 1e-12): finite at 0 and 1
    assert x.grad.tolist() == pytest.approx([-1e12, 1e12, 0.0, 0.0])


def test_bce_gradient_of_target_is_minus_logit():
    x = agx.tensor([0.2, 0.5, 0.9], dtype=agx.float64)
    y = agx.tensor([0.3, 0.3, 0.3], dtype=agx.float64, requires_grad=True)
    F.binary_cross_entropy(x, y, reduction="sum").backward()
    p = np.array([0.2, 0.5, 0.9])
    np.testing.assert_allclose(y.grad.numpy(), np.log(1 - p) - np.log(p))


@pytest.mark.filterwarnings("error")
def test_nll_all_targets_ignored():
    x = agx.tensor([[0.1, 0.2], [0.3, 0.4]], requires_grad=True)
    t = agx.tensor([-100, -100])
    mean = F.nll_loss(x, t)
    assert math.isnan(mean.item())
    mean.backward()
    assert x.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert F.nll_loss(x, t, reduction="sum").item() == 0.0
    assert F.cross_entropy(x, t, reduction="none").tolist() == [0.0, 0.0]


IGNORED_ROW_CALLS = [
    pytest.param(lambda x, t, r: F.nll_loss(x, t, reduction=r), id="nll"),
    pytest.param(lambda x, t, r: F.nll_loss(x, t, agx.tensor([1.0, 2.0, 3.0]), reduction=r),
                 id="nll-weight"),
    pytest.param(lambda x, t, r: F.cross_entropy(x, t, reduction=r), id="ce"),
    pytest.param(lambda x, t, r: F.cross_entropy(x, t, reduction=r, label_smoothing=0.2),
                 id="ce-label_smoothing"),
]


def ignored_row_case(call, reduction, values):
    """``call`` on 3 samples whose middle one is ignored and holds ``values``: the loss and
    the input's gradient."""
    x = agx.tensor([[-1.0, -2.0, -0.5], values, [-0.3, -1.5, -2.5]], requires_grad=True)
    loss = call(x, agx.tensor([0, -100, 2]), reduction)
    loss.sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("values", [[np.nan, 1.0, 2.0], [-np.inf, 0.0, 1.0], [np.inf, 1.0, 0.0]],
                         ids=["nan", "-inf", "inf"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("call", IGNORED_ROW_CALLS)
def test_an_ignored_sample_counts_for_nothing_whatever_its_values(call, reduction, values):
    # As in PyTorch: not a weight of 0 times its values, which a NaN or inf would survive.
    with np.errstate(invalid="ignore"):
        loss, grad = ignored_row_case(call, reduction, values)
    clean_loss, clean_grad = ignored_row_case(call, reduction, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(loss, clean_loss)
    np.testing.assert_array_equal(grad[[0, 2]], clean_grad[[0, 2]])


@pytest.mark.filterwarnings("error")
def test_empty_batch():
    x = agx.zeros((0, 3), requires_grad=True)
    assert math.isnan(F.cross_entropy(x, agx.zeros(0, dtype=agx.int64)).item())
    assert math.isnan(F.cross_entropy(x, agx.zeros((0, 3))).item())
    assert F.nll_loss(x, agx.zeros(0, dtype=agx.int64), reduction="sum").item() == 0.0


def test_uint8_targets_are_accepted():
    x = agx.tensor([[0.1, 0.9], [0.8, 0.2]])
    a = F.cross_entropy(x, agx.tensor([1, 0], dtype=agx.uint8)).item()
    assert a == pytest.approx(F.cross_entropy(x, agx.tensor([1, 0])).item())


# ---------------------------------------------------------------- legacy arguments

@pytest.mark.parametrize("kw, reduction", [
    (dict(size_average=False), "sum"),
    (dict(reduce=False), "none"),
    (dict(size_average=True, reduce=True), "mean"),
], ids=["size_average=False", "reduce=False", "both-true"])
@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss", "nll_loss",
                                  "cross_entropy", "binary_cross_entropy"])
def test_legacy_reduction_arguments(loss, kw, reduction):
    rng = np.random.default_rng(0)
    x = agx.tensor(rng.uniform(0.1, 0.9, (3, 4)), requires_grad=True)
    y = (agx.tensor([0, 3, 1]) if loss in ("nll_loss", "cross_entropy")
         else agx.tensor(rng.uniform(0.1, 0.9, (3, 4))))
    fn = getattr(F, loss)
    with pytest.warns(UserWarning, match=f"please use reduction='{reduction}' instead") as rec:
        out = fn(x, y, **kw)
    assert len(rec) == 1 and rec[0].filename == __file__     # points at the caller
    expected = fn(x, y, reduction=reduction)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # backward maps the arguments again, quietly
        out.sum().backward()


def test_target_size_warning_points_at_the_caller():
    with pytest.warns(UserWarning, match=r"Using a target size \(torch.Size\(\[3\]\)\) that is "
                                         r"different to the input size \(torch.Size\(\[2, 3\]\)\)"
                      ) as rec:
        F.mse_loss(agx.ones((2, 3)), agx.ones(3))
    assert rec[0].filename == __file__


def test_every_loss_is_covered():
    ids = " ".join(p.id for p in ALL)
    for name in ("mse", "l1", "smooth_l1", "huber", "bce", "nll", "ce"):
        assert f" {name}-" in " " + ids, name


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_common_case_gives_the_general_paths_bits(reduction, dtype, monkeypatch):
    """(N, C) logits with in-range class indices take a shorter computation: the same bits
    as the general one (weights, ignore_index, smoothing), NaN and inf logits, zero and
    non-finite output gradients included."""
    from autogradx.ops import losses
    rng = np.random.default_rng(7)
    cases = []
    for k in range(150):
        n, c = int(rng.integers(1, 40)), int(rng.integers(1, 12))
        x = (rng.standard_normal((n, c)) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
        if k % 5 == 0:
            x[rng.integers(0, n), rng.integers(0, c)] = rng.choice([np.inf, -np.inf, np.nan])
        t = rng.integers(0, c, n).astype(np.uint8 if k % 3 == 0 else np.int64)
        g = np.asarray(rng.standard_normal(() if reduction != "none" else (n,)), dtype)
        if k % 7 == 0:
            g[...] = rng.choice([0.0, -0.0, np.inf, np.nan])
        cases.append((x, t, g))

    def run():
        out = []
        with np.errstate(all="ignore"):
            for x, t, g in cases:
                loss, res = losses._cross_entropy(np, x, t, reduction=reduction)
                grad = losses._ce_grad_input(np, g, x, t, None, res, reduction=reduction)
                out.append((np.asarray(loss), grad))
        return out

    assert losses._plain_targets(np, *cases[0][:2], None, -100, 0.0)
    fast = run()
    monkeypatch.setattr(losses, "_plain_targets", lambda *args: False)
    general = run()
    for (fl, fg), (gl, gg) in zip(fast, general):
        for a, b in ((fl, gl), (fg, gg)):
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("target, kw", [
    ([0, 2, 1], {"ignore_index": 1}),           # an ignored target
    ([0, 3, 1], {}),                            # out of range: the general path raises
    ([0, 2, 1], {"weight": np.ones(3, np.float32)}),
    ([0, 2, 1], {"label_smoothing": 0.1}),
])
def test_cross_entropy_other_calls_take_the_general_path(target, kw):
    from autogradx.ops import losses
    x = np.zeros((3, 3), np.float32)
    assert not losses._plain_targets(np, x, np.array(target), kw.get("weight"),
                                     kw.get("ignore_index", -100), kw.get("label_smoothing", 0.0))
