"""The layers against PyTorch's: the same constructor call in both libraries,
the weights copied across through state dicts, then the repr, the state dict
keys, the output (values, dtype, grad_fn name) and the gradients of the input
and of every parameter must match, in float32 and float64."""

import numpy as np
import pytest

import autogradx as agx
from autogradx import nn

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


def floats(*shape, low=-2.0, high=2.0):
    return lambda rng: rng.uniform(low, high, shape)


def probs(*shape):
    return floats(*shape, low=0.05, high=0.95)


def ints(high, *shape):
    return lambda rng: rng.integers(0, high, shape)


class Case:
    """``make(nn)`` builds the layer from either library's ``nn``; ``inputs`` make the
    arguments of its call (float arrays require grad, integer ones do not)."""

    def __init__(self, id, make, *inputs, same_node=True):
        self.id, self.make, self.inputs, self.same_node = id, make, inputs, same_node

    def __repr__(self):
        return self.id


CASES = [
    Case("Linear", lambda nn: nn.Linear(5, 3), floats(4, 5)),
    Case("Linear-no-bias", lambda nn: nn.Linear(5, 3, bias=False), floats(2, 4, 5)),
    Case("Identity", lambda nn: nn.Identity(7, unused=1), floats(3)),
    Case("Conv2d", lambda nn: nn.Conv2d(2, 4, 3), floats(2, 2, 6, 6)),
    Case("Conv2d-strided-grouped", lambda nn: nn.Conv2d(
        2, 4, (3, 2), stride=2, padding=1, dilation=(1, 2), groups=2, bias=False),
        floats(1, 2, 7, 8)),
    Case("Conv2d-same", lambda nn: nn.Conv2d(1, 2, 3, padding="same", dilation=2),
         floats(2, 1, 5, 5)),
    Case("Conv2d-valid", lambda nn: nn.Conv2d(1, 2, 3, padding="valid"), floats(2, 1, 5, 5)),
    Case("Conv2d-reflect", lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
         floats(1, 2, 5, 4)),
    Case("Conv2d-circular", lambda nn: nn.Conv2d(1, 1, 3, padding=(1, 2),
                                                 padding_mode="circular"), floats(1, 1, 5, 5)),
    Case("Conv2d-replicate-same", lambda nn: nn.Conv2d(1, 1, (2, 3), padding="same",
                                                       padding_mode="replicate"),
         floats(1, 1, 4, 4)),
    Case("MaxPool2d", lambda nn: nn.MaxPool2d(2), floats(2, 3, 6, 6)),
    Case("MaxPool2d-padded", lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True),
         floats(1, 2, 7, 7)),
    Case("Flatten", lambda nn: nn.Flatten(), floats(2, 3, 4)),
    Case("Flatten-range", lambda nn: nn.Flatten(0, 1), floats(2, 3, 4)),
    # F.dropout in eval mode returns a view (AliasBackward0) where PyTorch returns the
    # input itself: a documented difference of the op (autogradx/ops/activations.py).
    Case("Dropout-eval", lambda nn: nn.Dropout(0.3), floats(4, 5), same_node=False),
    Case("Embedding", lambda nn: nn.Embedding(10, 3), ints(10, 2, 4)),
    Case("Embedding-padding", lambda nn: nn.Embedding(6, 2, padding_idx=-1), ints(6, 12)),
    Case("LayerNorm", lambda nn: nn.LayerNorm(4), floats(3, 4)),
    Case("LayerNorm-2d-no-affine", lambda nn: nn.LayerNorm((2, 4), elementwise_affine=False),
         floats(3, 2, 4)),
    Case("LayerNorm-no-bias", lambda nn: nn.LayerNorm(4, eps=1e-3, bias=False), floats(2, 4)),
    # Evaluation mode: the running statistics (training: test_normalization_torch.py).
    Case("BatchNorm1d", lambda nn: nn.BatchNorm1d(4), floats(3, 4)),
    Case("BatchNorm1d-no-stats", lambda nn: nn.BatchNorm1d(
        3, affine=False, track_running_stats=False), floats(2, 3, 5)),
    Case("BatchNorm2d", lambda nn: nn.BatchNorm2d(2, eps=1e-3, bias=False), floats(2, 2, 3, 3)),
    Case("BatchNorm3d", lambda nn: nn.BatchNorm3d(2, momentum=None), floats(2, 2, 2, 2, 3)),
    Case("InstanceNorm1d", lambda nn: nn.InstanceNorm1d(3, affine=True), floats(2, 3, 5)),
    Case("InstanceNorm1d-unbatched", lambda nn: nn.InstanceNorm1d(3), floats(3, 5)),
    Case("InstanceNorm2d-stats", lambda nn: nn.InstanceNorm2d(2, track_running_stats=True),
         floats(2, 2, 3, 3)),
    Case("InstanceNorm3d", lambda nn: nn.InstanceNorm3d(2, affine=True), floats(1, 2, 2, 2, 3)),
    Case("GroupNorm", lambda nn: nn.GroupNorm(2, 4), floats(3, 4, 5)),
    Case("GroupNorm-no-affine", lambda nn: nn.GroupNorm(1, 3, affine=False), floats(2, 3, 2, 2)),
    Case("ReLU", lambda nn: nn.ReLU(), floats(3, 4)),
    Case("LeakyReLU", lambda nn: nn.LeakyReLU(0.2), floats(3, 4)),
    Case("ELU", lambda nn: nn.ELU(alpha=0.5), floats(3, 4)),
    Case("GELU", lambda nn: nn.GELU(), floats(3, 4)),
    Case("GELU-tanh", lambda nn: nn.GELU("tanh"), floats(3, 4)),
    Case("SiLU", lambda nn: nn.SiLU(), floats(3, 4)),
    Case("Sigmoid", lambda nn: nn.Sigmoid(), floats(3, 4)),
    Case("Tanh", lambda nn: nn.Tanh(), floats(3, 4)),
    Case("Softmax", lambda nn: nn.Softmax(dim=1), floats(3, 4)),
    Case("LogSoftmax", lambda nn: nn.LogSoftmax(dim=-1), floats(3, 4)),
    Case("Softplus", lambda nn: nn.Softplus(beta=2, threshold=3), floats(3, 4)),
    Case("Sequential", lambda nn: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(),
                                                nn.Linear(8, 2)), floats(5, 4)),
    Case("MSELoss", lambda nn: nn.MSELoss(), floats(3, 4), floats(3, 4)),
    Case("L1Loss-sum", lambda nn: nn.L1Loss(reduction="sum"), floats(3, 4), floats(3, 4)),
    Case("CrossEntropyLoss", lambda nn: nn.CrossEntropyLoss(), floats(5, 4), ints(4, 5)),
    Case("CrossEntropyLoss-smoothing", lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1,
                                                                      ignore_index=1),
         floats(6, 3), ints(3, 6)),
    Case("NLLLoss-none", lambda nn: nn.NLLLoss(reduction="none"), floats(5, 4), ints(4, 5)),
    Case("BCELoss", lambda nn: nn.BCELoss(), probs(3, 2), probs(3, 2)),
    Case("BCEWithLogitsLoss", lambda nn: nn.BCEWithLogitsLoss(), floats(3, 2), probs(3, 2)),
]


def build_pair(case, dtype):
    ours = case.make(nn)
    theirs = case.make(torch.nn)
    if dtype == "float64":
        ours.double()
        theirs.double()
    ours.eval()          # dropout off: the same function in both
    theirs.eval()
    # Our weights into theirs, so that initialisation plays no part.
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    return ours, theirs


def node_name(t):
    return None if t.grad_fn is None else t.grad_fn.name()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_layer_matches_torch(case, dtype):
    rng = np.random.default_rng(0)
    ours, theirs = build_pair(case, dtype)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    arrays = [make(rng) for make in case.inputs]
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    xs = [agx.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ts = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    out, expected = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), **TOL[dtype])
    assert str(out.dtype) == str(expected.dtype)
    if case.same_node:
        assert node_name(out) == node_name(expected)

    g = rng.standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(agx.tensor(g))
    expected.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        if t.requires_grad:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOL[dtype])
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(),
                                   **TOL[dtype], err_msg=name)


@pytest.mark.parametrize("make", [
    lambda nn: nn.ReLU(inplace=True), lambda nn: nn.LeakyReLU(0.2, True),
    lambda nn: nn.ELU(0.5, True), lambda nn: nn.SiLU(True), lambda nn: nn.Dropout(0.2, True),
    lambda nn: nn.Softmax(), lambda nn: nn.Embedding(
        10, 3, padding_idx=0, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True, sparse=True),
    lambda nn: nn.Conv2d(1, 2, 3, padding="same", padding_mode="reflect"),
    lambda nn: nn.MaxPool2d((2, 3), 1, 1, 2, True, True),
    lambda nn: nn.CrossEntropyLoss(weight=torch.ones(3) if nn is torch.nn else agx.ones(3)),
    lambda nn: nn.BCEWithLogitsLoss(pos_weight=torch.ones(2) if nn is torch.nn else agx.ones(2)),
    lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)]),
    lambda nn: nn.ModuleList([nn.Sequential(nn.Linear(1, 1))] * 2),
    lambda nn: nn.ModuleList(), lambda nn: nn.Sequential(),
    lambda nn: nn.ModuleDict({"a": nn.ReLU(), "b": nn.Sequential(nn.Tanh())}),
], ids=["ReLU-inplace", "LeakyReLU-inplace", "ELU-inplace", "SiLU-inplace", "Dropout-inplace",
        "Softmax-no-dim", "Embedding-options", "Conv2d-options", "MaxPool2d-options",
        "CrossEntropyLoss-weight", "BCEWithLogitsLoss-pos-weight", "ModuleList-runs",
        "ModuleList-nested", "ModuleList-empty", "Sequential-empty", "ModuleDict"])
def test_repr_matches_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))


def test_loss_weight_buffers_match_torch():
    ours = nn.BCEWithLogitsLoss(weight=agx.ones(2), pos_weight=agx.ones(2))
    theirs = torch.nn.BCEWithLogitsLoss(weight=torch.ones(2), pos_weight=torch.ones(2))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "pos_weight"]


def test_legacy_reduction_flags_warn_like_torch():
    with pytest.warns(UserWarning) as ours:
        ours_loss = nn.MSELoss(size_average=False)
    with pytest.warns(UserWarning) as theirs:
        theirs_loss = torch.nn.MSELoss(size_average=False)
    assert str(ours[0].message) == str(theirs[0].message)
    assert ours_loss.reduction == theirs_loss.reduction == "sum"


def test_load_state_dict_error_matches_torch():
    def net(lib):
        return lib.Sequential(lib.Linear(3, 4), lib.ReLU(), lib.Linear(4, 2))

    ours_sd = net(nn).state_dict()
    theirs_sd = net(torch.nn).state_dict()
    for sd, zeros in ((ours_sd, agx.zeros), (theirs_sd, torch.zeros)):
        del sd["0.bias"]
        sd["1.weight"] = zeros(1)
        sd["2.weight"] = zeros(5, 5)
    with pytest.raises(RuntimeError) as ours:
        net(nn).load_state_dict(ours_sd)
    with pytest.raises(RuntimeError) as theirs:
        net(torch.nn).load_state_dict(theirs_sd)
    assert str(ours.value) == str(theirs.value)


def test_state_dict_loads_into_torch_and_back():
    ours = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.LayerNorm(8), nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(),
                                 torch.nn.LayerNorm(8), torch.nn.Linear(8, 3))
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in
                            ours.state_dict().items()})
    back = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.LayerNorm(8), nn.Linear(8, 3))
    back.load_state_dict({k: agx.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 1, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(back(agx.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_data_parallel_calls_the_module_as_torch_does_without_gpus():
    if torch.cuda.is_available():
        pytest.skip("PyTorch's DataParallel splits the batch across the GPUs")
    results = []
    for lib in (agx, torch):
        lib.manual_seed(0)
        inner = lib.nn.Linear(3, 2)
        inner.load_state_dict({"weight": lib.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]),
                               "bias": lib.tensor([0.1, -0.2])})
        model = lib.nn.DataParallel(inner)
        x = lib.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
        out = model(x)
        out.sum().backward()
        results.append((sorted(model.state_dict()), model.module is inner, model.device_ids,
                        out.detach().numpy().tolist(), x.grad.numpy().tolist(),
                        inner.weight.grad.numpy().tolist()))
    assert results[0] == results[1]


def test_data_parallel_over_several_devices_is_refused():
    with pytest.raises(RuntimeError, match=r"one device, got device_ids=\[0, 1\]"):
        nn.DataParallel(nn.Linear(2, 2), device_ids=[0, 1])
