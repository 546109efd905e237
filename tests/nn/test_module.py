"""nn.Module and nn.Parameter: registration, traversal, modes, state dicts,
conversion, hooks, and the errors PyTorch gives for misuse."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import autogradx as agx
from autogradx import nn
from helpers import backward_cycle_warning


class Net(nn.Module):
    """Two layers, a buffer, a non-persistent buffer and a plain attribute."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2, bias=False)
        self.register_buffer("count", agx.zeros(1))
        self.register_buffer("scratch", agx.ones(2), persistent=False)
        self.scale = 2.0

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


# -- Parameter ---------------------------------------------------------------------------------

def test_parameter_is_a_leaf_tensor_sharing_storage():
    data = agx.zeros(3)
    p = nn.Parameter(data)
    assert isinstance(p, agx.Tensor) and type(p) is nn.Parameter
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert p._data is data._data
    assert not nn.Parameter(data, requires_grad=False).requires_grad


def test_parameter_requires_grad_even_under_no_grad():
    with agx.no_grad():
        assert nn.Parameter(agx.zeros(2)).requires_grad


def test_parameter_repr():
    assert repr(nn.Parameter(agx.tensor([1.0, 2.0]))) == \
        "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert repr(nn.Parameter()) == "Parameter containing:\ntensor([], requires_grad=True)"


def test_ops_on_parameters_return_plain_tensors():
    p = nn.Parameter(agx.ones(2))
    assert type(p * 2) is agx.Tensor
    assert type(p.detach()) is agx.Tensor


def test_parameter_deepcopy_copies_storage():
    p = nn.Parameter(agx.ones(2))
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad
    q.data.zero_()
    assert p.tolist() == [1.0, 1.0]


def test_parameter_rejects_non_tensors():
    with pytest.raises(TypeError, match="Parameter data must be a Tensor"):
        nn.Parameter([1.0])


# -- registration -----------------------------------------------------------------------------

def test_setattr_registers_parameters_buffers_and_modules():
    net = Net()
    assert list(net._parameters) == []
    assert list(net._modules) == ["fc1", "act", "fc2"]
    assert list(net._buffers) == ["count", "scratch"]
    assert net.scale == 2.0 and "scale" in net.__dict__
    assert net.fc2.bias is None and "bias" in net.fc2._parameters


def test_named_parameters_prefixes_and_recurse():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight"]
    assert [n for n, _ in net.named_parameters(prefix="model")] == \
        ["model.fc1.weight", "model.fc1.bias", "model.fc2.weight"]
    assert list(net.parameters(recurse=False)) == []
    assert [n for n, _ in net.fc1.named_parameters(recurse=False)] == ["weight", "bias"]


def test_shared_parameters_and_modules_come_once():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.modules())) == 3
    assert [n for n, _ in seq.named_parameters(remove_duplicate=False)] == \
        ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_buffers_children_modules():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == ["count", "scratch"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2"]
    assert list(net.children())[0] is net.fc1


def test_reassigning_and_deleting():
    net = Net()
    net.fc1 = None
    assert net.fc1 is None and [n for n, _ in net.named_parameters()] == ["fc2.weight"]
    net.count = agx.ones(1)
    assert net._buffers["count"].tolist() == [1.0]
    del net.count
    assert "count" not in net._buffers
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'count'"):
        net.count


def test_assigning_a_parameter_over_a_buffer_moves_it():
    m = nn.Module()
    m.register_buffer("w", agx.zeros(1))
    m.w = nn.Parameter(agx.ones(1))
    assert "w" in m._parameters and "w" not in m._buffers


@pytest.mark.parametrize("action, error, message", [
    (lambda m: setattr(m.fc1, "weight", agx.zeros(4, 3)), TypeError,
     r"cannot assign 'torch.FloatTensor' as parameter 'weight' \(torch.nn.Parameter or None "
     r"expected\)"),
    (lambda m: setattr(m, "fc1", 3), TypeError,
     r"cannot assign 'int' as child module 'fc1' \(torch.nn.Module or None expected\)"),
    (lambda m: setattr(m, "count", 3), TypeError, r"cannot assign 'int' as buffer 'count'"),
    (lambda m: m.register_parameter("a.b", None), KeyError, 'contain "."'),
    (lambda m: m.register_parameter("", None), KeyError, 'be empty string ""'),
    (lambda m: m.register_parameter("scale", None), KeyError, "attribute 'scale' already exists"),
    (lambda m: m.register_parameter(1, None), TypeError,
     "parameter name should be a string. Got int"),
    (lambda m: m.register_parameter("p", agx.zeros(1)), TypeError,
     r"cannot assign 'torch.FloatTensor' object to parameter 'p'"),
    (lambda m: m.register_buffer("b", [1]), TypeError, "cannot assign 'list' object to buffer"),
    (lambda m: m.add_module("x", 3), TypeError, "int is not a Module subclass"),
    (lambda m: m.train(1), ValueError, "training mode is expected to be boolean"),
], ids=["tensor-as-parameter", "int-as-module", "int-as-buffer", "dotted-name", "empty-name",
        "existing-attribute", "non-string-name", "plain-tensor-parameter", "list-buffer",
        "non-module", "non-bool-mode"])
def test_registration_errors(action, error, message):
    with pytest.raises(error, match=message):
        action(Net())


def test_non_leaf_parameter_is_refused():
    p = nn.Parameter(agx.zeros(2), requires_grad=False)
    p.add_(agx.ones(2, requires_grad=True))         # now has a grad_fn
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'q'"):
        nn.Module().register_parameter("q", p)


def test_assigning_before_init_raises():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(agx.ones(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before "
                                             r"Module.__init__\(\) call"):
        Bad()


def test_missing_forward():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required '
                                                  r'"forward" function'):
        nn.Module()(agx.ones(1))


def test_dir_lists_registered_names():
    assert {"fc1", "count", "forward"} <= set(dir(Net()))


def test_get_submodule_and_parameter():
    seq = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 3)))
    assert seq.get_submodule("1.0") is seq[1][0]
    assert seq.get_submodule("") is seq
    assert seq.get_parameter("1.0.bias") is seq[1][0].bias
    with pytest.raises(AttributeError, match="Sequential has no attribute `5`"):
        seq.get_submodule("5")
    with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
        seq.get_submodule("0.weight")


# -- modes, gradients, apply ----------------------------------------------------------------------

def test_train_eval_recurse():
    net = Net()
    assert net.training and net.fc1.training
    assert net.eval() is net
    assert not net.training and not net.fc1.training
    net.train()
    assert net.fc2.training


def test_zero_grad_to_none_or_zeros(rng):
    net = Net()
    net(agx.tensor(rng.standard_normal((5, 3)), dtype=agx.float32)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not p.grad.any().item() and p.grad.grad_fn is None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_():
    net = Net().requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_visits_children_first():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Net"]


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    pre = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    post = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    out = lin(agx.ones(1, 2))
    assert calls == [(1, 2)]
    assert np.allclose(out.detach().numpy(), lin.bias.detach().numpy() + 1)
    pre.remove()
    post.remove()
    assert np.allclose(lin(agx.zeros(1, 2)).detach().numpy(), lin.bias.detach().numpy())


# -- state dicts ------------------------------------------------------------------------------

def test_state_dict_keys_values_and_detachment():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    # A module's own parameters and buffers come before its children's, as in PyTorch.
    assert list(sd) == ["count", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert all(not v.requires_grad for v in sd.values())
    assert sd["fc1.weight"]._data is net.fc1.weight._data      # shares storage
    assert net.state_dict(keep_vars=True)["fc1.weight"] is net.fc1.weight
    assert list(net.state_dict(prefix="m.")) == ["m.count", "m.fc1.weight", "m.fc1.bias",
                                                "m.fc2.weight"]


def test_load_state_dict_round_trip_keeps_parameter_objects():
    agx.manual_seed(0)
    source, target = Net(), Net()
    weight = target.fc1.weight
    assert target.load_state_dict(source.state_dict()).__repr__() == \
        "<All keys matched successfully>"
    assert target.fc1.weight is weight and weight.is_leaf and weight.requires_grad
    for (_, a), (_, b) in zip(source.state_dict().items(), target.state_dict().items()):
        assert np.array_equal(a.numpy(), b.numpy())
    x = agx.ones(2, 3)
    assert np.array_equal(source(x).detach().numpy(), target(x).detach().numpy())


def test_load_state_dict_strict_errors():
    sd = Net().state_dict()
    del sd["fc1.bias"]
    sd["extra"] = agx.zeros(1)
    sd["fc2.weight"] = agx.zeros(5, 5)
    with pytest.raises(RuntimeError) as info:
        Net().load_state_dict(sd)
    assert str(info.value) == (
        'Error(s) in loading state_dict for Net:\n\t'
        'Missing key(s) in state_dict: "fc1.bias". \n\t'
        'Unexpected key(s) in state_dict: "extra". \n\t'
        'size mismatch for fc2.weight: copying a param with shape torch.Size([5, 5]) from '
        'checkpoint, the shape in current model is torch.Size([2, 4]).')


def test_load_state_dict_non_strict_reports_keys():
    sd = Net().state_dict()
    del sd["count"]
    sd["fc1.extra"] = agx.zeros(1)
    result = Net().load_state_dict(sd, strict=False)
    assert result.missing_keys == ["count"] and result.unexpected_keys == ["fc1.extra"]
    assert repr(result) == "_IncompatibleKeys(missing_keys=['count'], " \
                           "unexpected_keys=['fc1.extra'])"


def test_load_state_dict_casts_to_the_parameter_dtype_and_bumps_version():
    lin = nn.Linear(2, 2)
    version = lin.weight._version
    lin.load_state_dict({"weight": agx.ones(2, 2, dtype=agx.float64), "bias": agx.zeros(2)})
    assert lin.weight.dtype == agx.float32 and lin.weight.tolist() == [[1, 1], [1, 1]]
    assert lin.weight._version > version


def test_load_state_dict_assign():
    lin = nn.Linear(2, 2)
    w = agx.ones(2, 2)
    lin.load_state_dict({"weight": w, "bias": agx.zeros(2)}, assign=True)
    assert type(lin.weight) is nn.Parameter and lin.weight._data is w._data


def test_load_state_dict_bad_input():
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        nn.Linear(1, 1).load_state_dict([1])
    with pytest.raises(RuntimeError, match='While copying the parameter named "bias"'):
        nn.Linear(1, 1).load_state_dict({"weight": agx.ones(1, 1), "bias": [0.0]})


# -- conversion -------------------------------------------------------------------------------

def test_double_float_to_keep_objects_and_grads():
    net = Net()
    net(agx.ones(1, 3)).sum().backward()
    weight = net.fc1.weight
    assert net.double() is net
    assert net.fc1.weight is weight and weight.dtype == agx.float64
    assert weight.grad.dtype == agx.float64 and net.count.dtype == agx.float64
    assert weight.is_leaf and weight.requires_grad
    net.to(agx.float32)
    assert weight.dtype == agx.float32
    net.to("cpu")
    net.float()
    assert net(agx.ones(1, 3)).dtype == agx.float32


def test_to_leaves_integer_buffers_alone():
    m = nn.Module()
    m.register_buffer("steps", agx.tensor([1, 2]))
    m.double()
    assert m.steps.dtype == agx.int64


def test_to_errors():
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point"):
        Net().to(agx.int64)
    with pytest.raises(RuntimeError, match="cuda"):
        Net().cuda()


def test_deepcopy_of_a_model():
    lin = nn.Linear(2, 2)
    twin = copy.deepcopy(lin)
    assert twin.weight is not lin.weight
    assert np.array_equal(twin.weight.detach().numpy(), lin.weight.detach().numpy())


# -- repr -------------------------------------------------------------------------------------

def test_repr_of_a_custom_module():
    assert repr(Net()) == (
        "Net(\n"
        "  (fc1): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (act): ReLU()\n"
        "  (fc2): Linear(in_features=4, out_features=2, bias=False)\n"
        ")")


def test_repr_with_extra_and_children():
    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(1, 1))

        def extra_repr(self):
            return "k=1\nj=2"

    assert repr(Wrapper()) == (
        "Wrapper(\n  k=1\n  j=2\n  (inner): Sequential(\n"
        "    (0): Linear(in_features=1, out_features=1, bias=True)\n  )\n)")


def test_nn_exports_every_layer():
    from autogradx.nn import modules
    assert set(modules.__all__) <= set(nn.__all__)
    assert all(getattr(nn, name) is getattr(modules, name) for name in modules.__all__)


def test_zero_grad_keeps_the_gradient_object_and_detaches_it():
    lin = nn.Linear(2, 1)
    with backward_cycle_warning():
        (lin(agx.ones(1, 2)) ** 2).sum().backward(create_graph=True)
    grad = lin.weight.grad
    assert grad.grad_fn is not None
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad is grad and grad.grad_fn is None and grad.tolist() == [[0.0, 0.0]]
