"""Tensors on another device, through the stand-in ``fake`` backend: moving them,
creating them there, gradients across the move, and PyTorch's error for mixed devices."""

import numpy as np
import pytest

import autogradx as agx


@pytest.fixture
def fake(fake_device):
    return fake_device


def test_to_moves_the_data_and_back(fake):
    x = agx.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = x.to("fake")
    assert type(y._data) is fake.array_type and y.device == agx.device("fake", 0)
    assert str(y.device) == "fake:0" and y.dtype == agx.float32
    back = y.cpu()
    assert type(back._data) is np.ndarray and back.device == agx.device("cpu")
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    assert x.cpu() is x


def test_to_with_device_and_dtype(fake):
    y = agx.tensor([1, 2, 3]).to("fake", agx.float64)
    assert y.device.type == "fake" and y.dtype == agx.float64
    z = agx.zeros(2).to(y)          # to(other): its device and dtype
    assert z.device == y.device and z.dtype == agx.float64


def test_to_the_device_it_is_on_returns_itself(fake):
    y = agx.ones(2).to("fake")
    assert y.to("fake") is y


def test_factories_take_device(fake):
    for t in (agx.zeros(2, 3, device="fake"), agx.ones(2, device="fake:0"),
              agx.tensor([1.0, 2.0], device="fake"), agx.arange(3, device="fake"),
              agx.full((2,), 1.5, device=agx.device("fake")),
              agx.randn(2, 2, device="fake"), agx.zeros_like(agx.ones(3), device="fake")):
        assert t.device.type == "fake" and type(t._data) is fake.array_type


@pytest.mark.parametrize("like", ["zeros_like", "ones_like", "empty_like", "rand_like",
                                  "randn_like", "full_like"])
def test_like_factories_follow_the_input_device(fake, like):
    args = (7.0,) if like == "full_like" else ()
    src = agx.ones(2, 3, dtype=agx.float64).to("fake")
    t = getattr(agx, like)(src, *args)
    assert t.device == src.device and t.dtype == agx.float64 and t.shape == (2, 3)
    assert getattr(agx, like)(src, *args, device="cpu").device.type == "cpu"


def test_gradient_flows_back_across_the_move(fake):
    x = agx.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.to("fake")
    assert y.grad_fn.name() == "ToCopyBackward0"
    (y * y).sum().backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 6.0])


def test_leaf_on_the_device_gets_its_gradient_there(fake):
    w = agx.tensor([0.5, 1.5], device="fake", requires_grad=True)
    loss = (w.exp() * agx.tensor([1.0, 2.0]).to("fake")).sum()
    assert loss.device.type == "fake"
    loss.backward()
    assert w.grad.device.type == "fake" and type(w.grad._data) is fake.array_type
    np.testing.assert_allclose(w.grad.cpu().numpy(), np.exp([0.5, 1.5]) * [1.0, 2.0], rtol=1e-6)


def test_repr_names_the_device(fake):
    y = agx.tensor([1.0, 2.0]).to("fake")
    assert repr(y) == "tensor([1., 2.], device='fake:0')"
    assert repr(agx.tensor([1.0], requires_grad=True).to("fake")) == \
        "tensor([1.], device='fake:0', grad_fn=<ToCopyBackward0>)"


def test_numpy_of_a_device_tensor_asks_for_cpu_first(fake):
    y = agx.ones(2).to("fake")
    with pytest.raises(TypeError, match=r"cpu\(\)"):
        y.numpy()
    assert y.sum().item() == 2.0


MIXED = [
    pytest.param(lambda c, f: c + f, "cpu and fake:0", "argument 'other' of add()", id="add"),
    pytest.param(lambda c, f: f * c, "fake:0 and cpu", "argument 'other' of mul()", id="mul"),
    pytest.param(lambda c, f: agx.cat([c, f]), "cpu and fake:0", "'*tensors' of cat()",
                 id="cat"),
    pytest.param(lambda c, f: agx.matmul(f, c.reshape(2, 1)), "fake:0 and cpu",
                 "argument 'other' of matmul()", id="matmul"),
    pytest.param(lambda c, f: agx.where(f > 0, c, f), "cpu and fake:0",
                 "argument 'other' of where()", id="where"),
]


@pytest.mark.parametrize("fn, devices, where", MIXED)
def test_mixing_devices_names_both_and_the_op(fake, fn, devices, where):
    c = agx.tensor([1.0, 2.0])
    f = agx.tensor([3.0, 4.0]).to("fake")
    with pytest.raises(RuntimeError) as info:
        fn(c, f)
    msg = str(info.value)
    assert msg.startswith("Expected all tensors to be on the same device, but found at least "
                          "two devices")
    assert devices in msg and where in msg


@pytest.mark.xfail(strict=True, raises=TypeError,
                   reason="core: tensors passed as parameters (where's condition, an index) are "
                          "not checked for their device; the forward then gets a foreign array "
                          "and fails inside NumPy instead of naming the devices")
def test_a_tensor_parameter_on_another_device_is_named(fake):
    c = agx.tensor([1.0, 2.0])
    condition = agx.tensor([True, False]).to("fake")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        agx.where(condition, c, c)


def test_unknown_device_type_is_refused():
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda device type"):
        agx.zeros(2).to("nodevice")


def test_cuda_without_a_backend_says_why():
    # No GPU here: whether or not the CuPy plugin is installed, cuda is unavailable, and
    # the error says what is missing.
    assert not agx.cuda.is_available()
    assert agx.cuda.device_count() == 0
    reason = agx.cuda.unavailable_reason()
    assert "cuda" in reason
    with pytest.raises(RuntimeError, match="cuda") as info:
        agx.zeros(2).to("cuda")
    assert str(info.value) == reason


def test_a_device_without_index_is_the_backends_current_one(fake, monkeypatch):
    # "cuda" means the current CUDA device (autogradx.cuda.set_device), not always 0.
    indices = []
    monkeypatch.setattr(fake, "current_index", lambda: 3)
    monkeypatch.setattr(fake, "to_device",
                        lambda a, index: indices.append(index) or a.view(fake.array_type))
    agx.tensor([1.0]).to("fake")
    agx.tensor([1.0]).to("fake:1")
    assert indices == [3, 1]
