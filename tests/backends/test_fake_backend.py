"""The stand-in backend catches what would break on CuPy: these ops are wrong on purpose."""

import numpy as np
import pytest

from autogradx.conformance import Arg, ConformanceError, Sample, compare_on_device
from autogradx.plugin import Op

X = [Sample(Arg((2, 3)))]


def _op(name, forward, vjp):
    return Op(name, forward, vjp=vjp, save="input")


WRONG = [
    pytest.param(_op("np_in_forward", lambda xp, x: np.exp(x), lambda xp, g, x: g * xp.exp(x)),
                 "numpy.exp was called directly on a fake-device array", id="np.exp-forward"),
    pytest.param(_op("np_in_vjp", lambda xp, x: xp.exp(x), lambda xp, g, x: g * np.exp(x)),
                 "backward on fake raised FakeDeviceError: numpy.exp", id="np.exp-vjp"),
    pytest.param(_op("host_array", lambda xp, x: x * np.ones(x.shape),
                     lambda xp, g, x: g),
                 "numpy.multiply got a NumPy array", id="host-array-operand"),
    pytest.param(_op("np_function", lambda xp, x: np.sum(x, axis=0),
                     lambda xp, g, x: xp.broadcast_to(g, x.shape)),
                 "numpy.sum was called on a fake-device array", id="np.sum"),
    pytest.param(_op("host_result", lambda xp, x: np.asarray(x) * 2, lambda xp, g, x: 2 * g),
                 "output 0 is on cpu", id="host-result"),
]


@pytest.mark.parametrize("op, message", WRONG)
def test_numpy_only_code_fails_with_the_function_named(fake_device, op, message):
    with pytest.raises(ConformanceError, match=message):
        compare_on_device(op, X, "fake")


def test_code_written_against_xp_passes(fake_device):
    relu = _op("xp_relu", lambda xp, x: xp.where(x > 0, x, 0) + xp.asarray(np.zeros(x.shape)),
               lambda xp, g, x: g * (x > 0))
    report = compare_on_device(relu, X, "fake")
    assert report.ok and report.passed == 2


def test_fake_arrays_behave_like_cupy_arrays(fake_device):
    xp = fake_device.module
    a = xp.asarray(np.arange(6.0).reshape(2, 3))
    assert type(a) is fake_device.array_type and type(a.sum()) is fake_device.array_type
    assert type(xp.sum(a)) is fake_device.array_type and xp.sum(a).ndim == 0  # no NumPy scalar
    assert type(a + 1) is fake_device.array_type and type(a[0]) is fake_device.array_type
    out = xp.zeros(3)
    xp.add.at(out, xp.asarray(np.array([0, 0, 2])), 1.0)
    np.testing.assert_array_equal(out.get(), [2.0, 0.0, 1.0])
    assert isinstance(xp.linalg.slogdet(xp.eye(2)), tuple)
