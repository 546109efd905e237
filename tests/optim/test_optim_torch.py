"""Optimizers and schedulers against torch.optim: the same problem, the same
starting point, then the parameters after each of 20 steps must agree (float32
and float64), as must the learning rates the schedulers set and the state."""

import numpy as np
import pytest

import autogradx as agx
import autogradx.optim as optim

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-9, atol=1e-11)}
STEPS = 20


class Problem:
    """A small regression ``tanh(x @ W + b) ~ y`` in either library."""

    def __init__(self, lib, dtype):
        rng = np.random.default_rng(0)
        self.lib = lib
        self.x, self.y = (lib.tensor(rng.standard_normal(s).astype(dtype)) for s in ((8, 4),
                                                                                   (8, 3)))
        self.w = lib.tensor(rng.standard_normal((4, 3)).astype(dtype), requires_grad=True)
        self.b = lib.tensor(rng.standard_normal(3).astype(dtype), requires_grad=True)

    def loss(self):
        return ((self.lib.tanh(self.x @ self.w + self.b) - self.y) ** 2).mean()

    def step(self, opt):
        opt.zero_grad()
        loss = self.loss()
        loss.backward()
        opt.step()
        return loss


def both(dtype):
    return Problem(agx, dtype), Problem(torch, dtype)


def assert_same(ours, theirs, dtype, message=""):
    for a, b in ((ours.w, theirs.w), (ours.b, theirs.b)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **TOL[dtype],
                                   err_msg=message)


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True)),
    ("SGD", dict(lr=0.05, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-6, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.5, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True, maximize=True)),
]


def config_id(value):
    return value if isinstance(value, str) else ",".join(f"{k}={v}" for k, v in value.items())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=config_id)
def test_trajectory_matches_torch(name, kwargs, dtype):
    ours, theirs = both(dtype)
    opt = getattr(optim, name)([ours.w, ours.b], **kwargs)
    ref = getattr(torch.optim, name)([theirs.w, theirs.b], **kwargs)
    for step in range(STEPS):
        ours.step(opt)
        theirs.step(ref)
        assert_same(ours, theirs, dtype, f"after step {step + 1}")
    state, ref_state = opt.state_dict()["state"], ref.state_dict()["state"]
    assert state.keys() == ref_state.keys()
    for index in state:
        assert state[index].keys() == ref_state[index].keys()
        for key, value in state[index].items():
            np.testing.assert_allclose(value.numpy(), ref_state[index][key].numpy(),
                                       **TOL[dtype], err_msg=key)
            assert str(value.dtype) == str(ref_state[index][key].dtype), key


def test_param_groups_with_their_own_options():
    ours, theirs = both("float64")
    opt = optim.SGD([{"params": [ours.w]}, {"params": ours.b, "lr": 0.3, "momentum": 0.5}],
                    lr=0.1, momentum=0.9)
    ref = torch.optim.SGD([{"params": [theirs.w]}, {"params": theirs.b, "lr": 0.3,
                                                    "momentum": 0.5}], lr=0.1, momentum=0.9)
    for _ in range(STEPS):
        ours.step(opt)
        theirs.step(ref)
    assert_same(ours, theirs, "float64")
    common = set(opt.param_groups[1])
    assert {k: opt.param_groups[1][k] for k in common - {"params"}} == \
        {k: ref.param_groups[1][k] for k in common - {"params"}}


def test_loading_a_torch_state_dict_continues_the_trajectory():
    ours, theirs = both("float64")
    ref = torch.optim.Adam([theirs.w, theirs.b], lr=0.02, amsgrad=True)
    for _ in range(5):
        theirs.step(ref)
    with torch.no_grad():
        ours.w.data = agx.tensor(theirs.w.numpy().copy())
        ours.b.data = agx.tensor(theirs.b.numpy().copy())
    sd = ref.state_dict()
    opt = optim.Adam([ours.w, ours.b])
    opt.load_state_dict({
        "state": {i: {k: agx.tensor(v.numpy()) for k, v in s.items()}
                  for i, s in sd["state"].items()},
        "param_groups": sd["param_groups"]})
    for _ in range(10):
        ours.step(opt)
        theirs.step(ref)
    assert_same(ours, theirs, "float64")


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.9 ** epoch)),
], ids=["StepLR", "CosineAnnealingLR", "LambdaLR"])
def test_scheduler_matches_torch(name, kwargs):
    ours, theirs = both("float64")
    opt = optim.SGD([ours.w, ours.b], lr=0.1, momentum=0.9)
    ref = torch.optim.SGD([theirs.w, theirs.b], lr=0.1, momentum=0.9)
    sched = getattr(optim.lr_scheduler, name)(opt, **kwargs)
    ref_sched = getattr(torch.optim.lr_scheduler, name)(ref, **kwargs)
    for epoch in range(30):             # past T_max: the cosine goes back up
        ours.step(opt)
        theirs.step(ref)
        sched.step()
        ref_sched.step()
        assert sched.get_last_lr() == pytest.approx(ref_sched.get_last_lr(), rel=1e-12), epoch
    assert_same(ours, theirs, "float64")
    assert opt.param_groups[0]["initial_lr"] == ref.param_groups[0]["initial_lr"]


def test_scheduler_warns_when_stepped_before_the_optimizer():
    ours, theirs = both("float32")
    sched = optim.lr_scheduler.StepLR(optim.SGD([ours.w]), 1)
    ref_sched = torch.optim.lr_scheduler.StepLR(torch.optim.SGD([theirs.w]), 1)
    with pytest.warns(UserWarning) as ours_warning:
        sched.step()
    with pytest.warns(UserWarning) as theirs_warning:
        ref_sched.step()
    assert str(ours_warning[0].message) in str(theirs_warning[0].message)


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=-1)), ("SGD", dict(momentum=-0.1)), ("SGD", dict(weight_decay=-1)),
    ("SGD", dict(nesterov=True)), ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
    ("Adam", dict(lr=-1)), ("Adam", dict(eps=-1)), ("Adam", dict(betas=(1.0, 0.9))),
    ("Adam", dict(betas=(0.9, -0.1))), ("AdamW", dict(weight_decay=-1)),
    ("RMSprop", dict(alpha=-1)), ("RMSprop", dict(momentum=-1)),
], ids=config_id)
def test_bad_options_match_torch(name, kwargs):
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)([agx.zeros(1, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_repr_matches_torch_for_the_options_both_have():
    opt = optim.SGD([agx.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    ref = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    ours_lines = repr(opt).splitlines()
    assert set(ours_lines) <= set(repr(ref).splitlines())
    assert ours_lines[:2] == ["SGD (", "Parameter Group 0"]
