"""The default device (``set_default_device``, ``with device(...)``), through the stand-in
``fake`` backend: every factory honours it unless given a device, ``from_numpy`` and the
legacy constructors stay in host memory, ``*_like`` follow their input, and it is per
thread. Unknown or unusable devices are refused at once."""

import threading

import numpy as np
import pytest

import autogradx as agx

FACTORIES = {      # each takes the keywords it is given (device=...)
    "tensor": lambda **kw: agx.tensor([1.0, 2.0], **kw),
    "as_tensor(ndarray)": lambda **kw: agx.as_tensor(np.ones(2), **kw),
    "as_tensor(tensor)": lambda **kw: agx.as_tensor(agx.ones(2, device="cpu"), **kw),
    "zeros": lambda **kw: agx.zeros(2, 3, **kw),
    "ones": lambda **kw: agx.ones(2, **kw),
    "empty": lambda **kw: agx.empty(2, **kw),
    "full": lambda **kw: agx.full((2,), 1.5, **kw),
    "eye": lambda **kw: agx.eye(2, **kw),
    "arange": lambda **kw: agx.arange(3, **kw),
    "linspace": lambda **kw: agx.linspace(0, 1, 3, **kw),
    "rand": lambda **kw: agx.rand(2, **kw),
    "randn": lambda **kw: agx.randn(2, **kw),
    "randint": lambda **kw: agx.randint(5, (2,), **kw),
}


@pytest.fixture
def on_fake(fake_device):
    agx.set_default_device("fake")
    yield fake_device
    agx.set_default_device(None)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories_create_on_the_default_device(on_fake, name):
    t = FACTORIES[name]()
    assert type(t._data) is on_fake.array_type and t.device.type == "fake"


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_an_explicit_device_wins(on_fake, name):
    assert type(FACTORIES[name](device="cpu")._data) is np.ndarray


def test_what_stays_in_host_memory(on_fake):
    assert agx.from_numpy(np.ones(2)).device.type == "cpu"      # shares the ndarray
    assert agx.FloatTensor(2).device.type == "cpu"              # legacy: cpu only
    assert agx.Tensor([1.0]).device.type == "cpu"
    host = agx.ones(2, device="cpu")
    assert agx.zeros_like(host).device.type == "cpu"            # *_like follow their input


def test_get_default_device_names_the_index(on_fake):
    assert agx.get_default_device() == agx.device("fake", 0)


def test_with_device_sets_the_default_for_the_block(fake_device):
    with agx.device("fake"):
        assert agx.ones(1).device.type == "fake"
        with agx.device("cpu"):
            assert agx.ones(1).device.type == "cpu"
        assert agx.ones(1).device.type == "fake"
    assert agx.ones(1).device.type == "cpu" and agx.get_default_device() == agx.device("cpu")


def test_the_default_is_per_thread(on_fake):
    seen = []
    worker = threading.Thread(target=lambda: seen.append(
        (agx.get_default_device(), agx.ones(1).device.type)))
    worker.start()
    worker.join()
    assert seen == [(agx.device("cpu"), "cpu")]
    assert agx.ones(1).device.type == "fake"


def test_none_restores_the_cpu(on_fake):
    agx.set_default_device(None)
    assert agx.get_default_device() == agx.device("cpu") and agx.ones(1).device.type == "cpu"


@pytest.mark.parametrize("bad, error, match", [
    ("nosuchdevice", RuntimeError, "Expected one of cpu, cuda device type"),
    ("cpu:x", RuntimeError, "Invalid device string"),
    (1.5, TypeError, "expects a device, a string or an int"),
])
def test_unknown_devices_are_refused(bad, error, match):
    with pytest.raises(error, match=match):
        agx.set_default_device(bad)
    assert agx.get_default_device() == agx.device("cpu")


def test_an_unusable_device_is_refused_with_the_reason():
    if agx.cuda.is_available():
        pytest.skip("CUDA is usable here")
    with pytest.raises(RuntimeError, match="cuda"):
        agx.set_default_device("cuda")
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is "
                                           "available"):
        agx.set_default_device(0)
    with pytest.raises(RuntimeError, match="cuda"):
        with agx.device("cuda"):
            pass
    assert agx.get_default_device() == agx.device("cpu") and agx.ones(1).device.type == "cpu"
