"""The Optimizer machinery on its own: updates outside the graph, parameter
groups, zero_grad, closures, state dicts (also through autogradx.save) and the
learning-rate schedules' closed forms."""

import gc
import io
import math

import numpy as np
import pytest

import autogradx as agx
import autogradx.optim as optim
from autogradx import nn
from autogradx._core.node import Node

ALL = [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    (optim.AdamW, dict(lr=0.01)),
    (optim.RMSprop, dict(lr=0.01, momentum=0.9, centered=True)),
]
IDS = [cls.__name__ for cls, _ in ALL]


def model():
    agx.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))


def batch():
    """Inputs and targets that a linear map explains."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3))
    y = np.tanh(x @ rng.standard_normal((3, 2)))
    return agx.tensor(x, dtype=agx.float32), agx.tensor(y, dtype=agx.float32)


def train(net, opt, steps):
    x, y = batch()
    for _ in range(steps):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return loss.item()


def live_nodes():
    gc.collect()
    # type(), not isinstance(): the latter reads __class__, which some lazy modules warn on.
    return sum(issubclass(type(o), Node) for o in gc.get_objects())


@pytest.mark.parametrize("cls, kwargs", ALL, ids=IDS)
def test_step_updates_in_place_without_recording(cls, kwargs):
    net = model()
    params = list(net.parameters())
    arrays = [p._data for p in params]
    before = [a.copy() for a in arrays]
    versions = [p._version for p in params]
    opt = cls(params, **kwargs)
    x, y = batch()
    ((net(x) - y) ** 2).mean().backward()
    nodes = live_nodes()
    opt.step()
    assert live_nodes() == nodes                  # the update built no graph
    for p, array, old, version in zip(params, arrays, before, versions):
        assert p._data is array and not np.array_equal(array, old)
        assert p.grad_fn is None and p.is_leaf and p.requires_grad
        assert p._version > version
    assert agx.is_grad_enabled()


@pytest.mark.parametrize("cls, kwargs", ALL, ids=IDS)
def test_training_lowers_the_loss(cls, kwargs):
    net = model()
    first = train(net, cls(net.parameters(), **kwargs), 1)
    assert train(net, cls(net.parameters(), **kwargs), 100) < 0.5 * first


def test_parameters_without_gradient_are_left_alone():
    a, b = agx.ones(2, requires_grad=True), agx.ones(2, requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    (a * 2).sum().backward()
    opt.step()
    assert b.tolist() == [1.0, 1.0] and b not in opt.state and a in opt.state


def test_zero_grad():
    net = model()
    opt = optim.SGD(net.parameters(), lr=0.1)
    train(net, opt, 1)
    opt.zero_grad(set_to_none=False)
    assert all(not p.grad.any().item() for p in net.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_closure_runs_with_grad_enabled_and_returns_the_loss():
    w = agx.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss

    with agx.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 5.0 and w.tolist() == [0.0, 0.0]


def test_param_groups_and_add_param_group():
    a, b, c = (agx.zeros(1, requires_grad=True) for _ in range(3))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0.9
    opt.add_param_group({"params": [c], "nesterov": True})
    assert opt.param_groups[2]["nesterov"] and opt.param_groups[2]["lr"] == 0.1


@pytest.mark.parametrize("make, error, message", [
    (lambda p: optim.SGD(p), TypeError, "params argument given to the optimizer should be an "
                                        "iterable of Tensors or dicts, but got torch.FloatTensor"),
    (lambda p: optim.SGD([]), ValueError, "optimizer got an empty parameter list"),
    (lambda p: optim.SGD([{"params": {p}}]), TypeError, "ordering of tensors in sets will "
                                                        "change"),
    (lambda p: optim.SGD([p, 1.0]), TypeError, "optimizer can only optimize Tensors, but one "
                                               "of the params is float"),
    (lambda p: optim.SGD([p * 2]), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda p: optim.SGD([{"params": [p]}, {"params": [p]}]), ValueError,
     "some parameters appear in more than one parameter group"),
    (lambda p: optim.SGD([p]).add_param_group([p]), TypeError, "param_group must be a dict"),
], ids=["tensor", "empty", "set", "non-tensor", "non-leaf", "shared", "group-not-dict"])
def test_bad_params(make, error, message):
    with pytest.raises(error, match=message):
        make(agx.zeros(2, requires_grad=True))


def test_required_option():
    from autogradx.optim.optimizer import Optimizer, required
    with pytest.raises(ValueError, match="parameter group didn't specify a value of required "
                                         "optimization parameter lr"):
        Optimizer([agx.zeros(1, requires_grad=True)], {"lr": required})


def test_duplicate_parameters_warn():
    p = agx.zeros(1, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([p, p])


def test_repr():
    opt = optim.SGD([agx.zeros(1, requires_grad=True)], lr=0.1)
    assert repr(opt) == ("SGD (\nParameter Group 0\n    dampening: 0\n    lr: 0.1\n"
                         "    maximize: False\n    momentum: 0\n    nesterov: False\n"
                         "    weight_decay: 0\n)")


@pytest.mark.parametrize("cls, kwargs", ALL, ids=IDS)
def test_state_dict_through_save_resumes_exactly(cls, kwargs):
    """Five steps, save model and optimizer, load into fresh ones, five more steps:
    the same parameters as ten uninterrupted steps."""
    straight = model()
    train(straight, cls(straight.parameters(), **kwargs), 10)

    first = model()
    opt = cls(first.parameters(), **kwargs)
    train(first, opt, 5)
    buffer = io.BytesIO()
    agx.save({"model": first.state_dict(), "optimizer": opt.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = agx.load(buffer)

    resumed = model()
    resumed.load_state_dict(checkpoint["model"])
    opt2 = cls(resumed.parameters(), lr=123.0)      # options come from the state dict
    opt2.load_state_dict(checkpoint["optimizer"])
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    train(resumed, opt2, 5)
    for a, b in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_state_dict_layout():
    net = model()
    opt = optim.Adam([{"params": net[0].parameters()}, {"params": net[2].parameters(),
                                                        "lr": 0.1}])
    train(net, opt, 1)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert sorted(sd["state"]) == [0, 1, 2, 3]
    assert sorted(sd["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    assert sd["state"][0]["step"].dtype == agx.float32 and sd["state"][0]["step"].item() == 1


def test_load_state_dict_mismatch():
    opt = optim.SGD([agx.zeros(1, requires_grad=True)], lr=0.1)
    two = optim.SGD([{"params": [agx.zeros(1, requires_grad=True)]},
                     {"params": [agx.zeros(1, requires_grad=True)]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(two.state_dict())
    bigger = optim.SGD([agx.zeros(1, requires_grad=True), agx.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(bigger.state_dict())


def test_loaded_state_is_cast_to_the_parameter_dtype_and_copied():
    p = agx.zeros(2, dtype=agx.float64, requires_grad=True)
    opt = optim.Adam([p])
    saved = {"step": agx.tensor(3.0), "exp_avg": agx.ones(2), "exp_avg_sq": agx.ones(2)}
    opt.load_state_dict({"state": {0: saved}, "param_groups": opt.state_dict()["param_groups"]})
    state = opt.state[p]
    assert state["exp_avg"].dtype == agx.float64 and state["step"].dtype == agx.float32
    assert state["exp_avg"]._data is not saved["exp_avg"]._data


# -- schedulers: closed forms -------------------------------------------------------------------

def lrs(make_scheduler, epochs, lr=1.0):
    opt = optim.SGD([agx.zeros(1, requires_grad=True)], lr=lr)
    sched = make_scheduler(opt)
    seen = [sched.get_last_lr()[0]]
    for _ in range(epochs):
        opt.step()
        sched.step()
        seen.append(opt.param_groups[0]["lr"])
    return seen


def test_step_lr():
    assert lrs(lambda o: optim.lr_scheduler.StepLR(o, 2, gamma=0.5), 6) == \
        pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25, 0.125])


def test_cosine_annealing_lr_follows_the_closed_form():
    t_max, eta_min = 8, 0.1
    seen = lrs(lambda o: optim.lr_scheduler.CosineAnnealingLR(o, t_max, eta_min), t_max)
    closed = [eta_min + (1 - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2
              for t in range(t_max + 1)]
    assert seen == pytest.approx(closed)


def test_lambda_lr_and_state_dict():
    seen = lrs(lambda o: optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (e + 1)), 3, lr=0.6)
    assert seen == pytest.approx([0.6, 0.3, 0.2, 0.15])
    opt = optim.SGD([agx.zeros(1, requires_grad=True)], lr=0.6)
    sched = optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5)
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None] and "optimizer" not in state
    sched.load_state_dict(dict(state, last_epoch=7))
    assert sched.last_epoch == 7 and sched.lr_lambdas[0](0) == 0.5


def test_scheduler_step_with_epoch_is_deprecated():
    opt = optim.SGD([agx.zeros(1, requires_grad=True)], lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, 2, gamma=0.1)
    opt.step()
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)`"):
        sched.step(4)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01)


def test_scheduler_errors():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        optim.lr_scheduler.StepLR([], 1)
    opt = optim.SGD([agx.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in "
                                       "param_groups\\[0\\]"):
        optim.lr_scheduler.StepLR(opt, 1, last_epoch=3)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        optim.lr_scheduler.LambdaLR(opt, [lambda e: 1, lambda e: 1])
