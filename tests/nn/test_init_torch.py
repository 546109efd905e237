"""nn.init against PyTorch's formulas: gains, fans and the spread each scheme gives
(the random streams differ, so spreads are compared statistically)."""

import numpy as np
import pytest

import autogradx as agx
from autogradx import nn
from autogradx.nn import init

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv1d", None), ("conv_transpose3d", None), ("sigmoid", None),
    ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.3),
    ("leaky_relu", 2), ("selu", None),
])
def test_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == \
        torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("shape", [(3, 4), (8, 2, 5), (6, 3, 2, 2), (2, 1, 1, 1, 4), (0, 3)],
                         ids=str)
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(agx.empty(shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


@pytest.mark.parametrize("scheme, kwargs", [
    ("kaiming_uniform_", dict(a=5 ** 0.5)),
    ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu")),
    ("kaiming_normal_", dict(nonlinearity="tanh")),
    ("xavier_uniform_", dict(gain=1.5)),
    ("xavier_normal_", dict()),
    ("uniform_", dict(a=-0.3, b=0.7)),
    ("normal_", dict(mean=0.2, std=3.0)),
], ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={w}" for k, w in v.items()))
def test_scheme_spread_matches_torch(scheme, kwargs):
    torch.manual_seed(0)
    agx.manual_seed(0)
    shape = (256, 64, 3, 3)
    ours = getattr(init, scheme)(agx.empty(shape), **kwargs).numpy()
    theirs = getattr(torch.nn.init, scheme)(torch.empty(shape), **kwargs).numpy()
    assert ours.mean() == pytest.approx(theirs.mean(), abs=0.01 * float(theirs.std()))
    assert ours.std() == pytest.approx(theirs.std(), rel=0.01)
    assert np.abs(ours).max() <= np.abs(theirs).max() * 1.2      # the same support


@pytest.mark.parametrize("make, bounded", [
    (lambda nn: nn.Linear(30, 500), True), (lambda nn: nn.Conv2d(4, 400, 3, groups=2), True),
    (lambda nn: nn.Embedding(300, 50), False), (lambda nn: nn.LayerNorm(7), True),
], ids=["Linear", "Conv2d", "Embedding", "LayerNorm"])
def test_default_initialisation_matches_torch(make, bounded):
    torch.manual_seed(0)
    agx.manual_seed(0)
    ours = dict(make(nn).named_parameters())
    theirs = dict(make(torch.nn).named_parameters())
    assert list(ours) == list(theirs)
    for name, p in ours.items():
        a, b = p.detach().numpy(), theirs[name].detach().numpy()
        assert a.shape == b.shape and a.dtype == b.dtype
        assert a.std() == pytest.approx(b.std(), rel=0.05, abs=1e-7), name
        if bounded:     # uniform: the same bound
            assert np.abs(a).max() == pytest.approx(np.abs(b).max(), rel=0.05, abs=1e-7), name
