"""nn.init: gains, fans, the bounds and spreads of each scheme, reproducibility
through autogradx.manual_seed, and the layers' default initialisation."""

import math

import numpy as np
import pytest

import autogradx as agx
from autogradx import nn
from autogradx.nn import init


@pytest.mark.parametrize("nonlinearity, param, gain", [
    ("linear", None, 1), ("conv2d", None, 1), ("sigmoid", None, 1), ("tanh", None, 5 / 3),
    ("relu", None, math.sqrt(2)), ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))),
    ("leaky_relu", 0.2, math.sqrt(2 / 1.04)), ("leaky_relu", 1, 1.0), ("selu", None, 0.75),
])
def test_calculate_gain(nonlinearity, param, gain):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(gain)


@pytest.mark.parametrize("args, message", [
    (("softsign",), "Unsupported nonlinearity softsign"),
    (("leaky_relu", True), "negative_slope True not a valid number"),
    (("leaky_relu", "0.1"), "negative_slope 0.1 not a valid number"),
])
def test_calculate_gain_errors(args, message):
    with pytest.raises(ValueError, match=message):
        init.calculate_gain(*args)


@pytest.mark.parametrize("shape, fans", [
    ((5, 3), (3, 5)), ((4, 2, 3, 3), (18, 36)), ((6, 1, 5), (5, 30)), ((2, 7, 1, 1), (7, 2)),
])
def test_fans(shape, fans):
    assert init._calculate_fan_in_and_fan_out(agx.empty(shape)) == fans


def test_fans_need_two_dims():
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor "
                                         "with fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(agx.empty(3))


def big(*shape):
    return agx.empty(*shape) if shape else agx.empty(200, 300)


def test_uniform_and_normal_statistics():
    agx.manual_seed(0)
    u = init.uniform_(big(), -2.0, 3.0).numpy()
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.03
    n = init.normal_(big(), 1.0, 0.5).numpy()
    assert abs(n.mean() - 1.0) < 0.01 and abs(n.std() - 0.5) < 0.01


def test_constant_ones_zeros_eye():
    t = agx.empty(2, 3)
    assert init.constant_(t, 0.5) is t and t.tolist() == [[0.5] * 3] * 2
    assert init.ones_(t).tolist() == [[1.0] * 3] * 2
    assert init.zeros_(t).tolist() == [[0.0] * 3] * 2
    assert init.eye_(t).tolist() == [[1, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(agx.empty(3))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "FAN_OUT"])
@pytest.mark.parametrize("nonlinearity, a", [("relu", 0), ("leaky_relu", math.sqrt(5)),
                                             ("tanh", 0)])
def test_kaiming_uniform_bound(mode, nonlinearity, a):
    agx.manual_seed(1)
    w = agx.empty(40, 20, 3, 3)
    fan = 180 if mode == "fan_in" else 360
    bound = init.calculate_gain(nonlinearity, a) * math.sqrt(3 / fan)
    values = init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity).numpy()
    assert np.abs(values).max() <= bound * (1 + 1e-6)
    assert np.abs(values).max() > 0.99 * bound            # the whole range is used
    assert abs(values.std() - bound / math.sqrt(3)) < 0.03 * bound


def test_kaiming_normal_std():
    agx.manual_seed(2)
    values = init.kaiming_normal_(big(), mode="fan_out", nonlinearity="relu").numpy()
    assert abs(values.std() - math.sqrt(2 / 200)) < 0.02 * math.sqrt(2 / 200)


def test_kaiming_errors_and_empty():
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of "
                                         r"\['fan_in', 'fan_out'\]"):
        init.kaiming_uniform_(agx.empty(2, 2), mode="fan_avg")
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_normal_(agx.empty(0, 3))


def test_xavier_statistics():
    agx.manual_seed(3)
    a = 2.0 * math.sqrt(6 / (200 + 300))
    u = init.xavier_uniform_(big(), gain=2.0).numpy()
    assert np.abs(u).max() <= a and np.abs(u).max() > 0.99 * a
    n = init.xavier_normal_(big()).numpy()
    assert abs(n.std() - math.sqrt(2 / 500)) < 0.02 * math.sqrt(2 / 500)


def test_init_writes_in_place_without_recording():
    p = nn.Parameter(agx.zeros(3, 4))
    data, version = p._data, p._version
    init.kaiming_uniform_(p)
    assert p._data is data and p._version > version
    assert p.is_leaf and p.grad_fn is None and p.requires_grad


def test_manual_seed_makes_layers_reproducible():
    agx.manual_seed(7)
    first = nn.Linear(8, 4).weight.tolist()
    agx.manual_seed(7)
    assert nn.Linear(8, 4).weight.tolist() == first
    assert nn.Linear(8, 4).weight.tolist() != first


def test_explicit_generator():
    def draw(seed):
        return init.normal_(agx.empty(5), generator=agx.Generator().manual_seed(seed)).tolist()

    assert draw(3) == draw(3) != draw(4)


@pytest.mark.parametrize("layer, fan_in", [
    (lambda: nn.Linear(50, 200), 50),
    (lambda: nn.Conv2d(6, 64, 3, groups=2), 27),
    (lambda: nn.Conv2d(2, 300, (1, 2)), 4),
], ids=["Linear", "Conv2d-grouped", "Conv2d-rectangular"])
def test_default_layer_initialisation(layer, fan_in):
    """PyTorch's default: weight and bias uniform on +-1/sqrt(fan_in)."""
    agx.manual_seed(4)
    module = layer()
    bound = 1 / math.sqrt(fan_in)
    for p in (module.weight, module.bias):
        values = p.detach().numpy()
        assert np.abs(values).max() <= bound * (1 + 1e-6)
        assert np.abs(values).max() > 0.9 * bound


def test_embedding_initialisation_is_standard_normal():
    agx.manual_seed(5)
    w = nn.Embedding(500, 40).weight.detach().numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02
