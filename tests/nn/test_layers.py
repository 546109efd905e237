"""The layers on their own: constructor checks, defaults, training-mode behaviour
and the containers' list and dict operations."""

import numpy as np
import pytest

import autogradx as agx
from autogradx import nn


def test_dropout_train_and_eval():
    agx.manual_seed(0)
    drop = nn.Dropout(0.25)
    out = drop(agx.ones(4000)).numpy()
    kept = out != 0
    assert abs(1 - kept.mean() - 0.25) < 0.03
    assert np.allclose(out[kept], 1 / 0.75)
    drop.eval()
    assert np.array_equal(drop(agx.ones(10)).numpy(), np.ones(10))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_probability_range(p):
    with pytest.raises(ValueError, match=f"dropout probability has to be between 0 and 1, "
                                         f"but got {p}"):
        nn.Dropout(p)


@pytest.mark.parametrize("kwargs, message", [
    (dict(groups=0), "groups must be a positive integer"),
    (dict(groups=3), "in_channels must be divisible by groups"),
    (dict(in_channels=4, groups=2, out_channels=3), "out_channels must be divisible by groups"),
    (dict(padding="full"), "Invalid padding string 'full'"),
    (dict(padding="same", stride=2), "padding='same' is not supported for strided"),
    (dict(padding_mode="mirror"), "padding_mode must be one of"),
], ids=["groups-zero", "in-channels", "out-channels", "padding-string", "same-strided",
        "padding-mode"])
def test_conv2d_constructor_errors(kwargs, message):
    args = dict(in_channels=2, out_channels=4, kernel_size=3) | kwargs
    with pytest.raises(ValueError, match=message):
        nn.Conv2d(**args)


def test_conv2d_shapes():
    conv = nn.Conv2d(4, 6, (3, 2), groups=2, bias=False, dtype=agx.float64)
    assert conv.weight.shape == (6, 2, 3, 2) and conv.bias is None
    assert conv.weight.dtype == agx.float64
    assert conv(agx.zeros(1, 4, 5, 5, dtype=agx.float64)).shape == (1, 6, 3, 4)


def test_linear_factory_kwargs():
    lin = nn.Linear(2, 3, dtype=agx.float64, device="cpu")
    assert lin.weight.dtype == lin.bias.dtype == agx.float64


def test_maxpool_return_indices():
    out, idx = nn.MaxPool2d(2, return_indices=True)(agx.arange(16.0).reshape(1, 1, 4, 4))
    assert out.tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
    assert idx.tolist() == [[[[5, 7], [13, 15]]]]


def test_embedding_padding_row_and_gradient():
    emb = nn.Embedding(5, 3, padding_idx=2)
    assert emb.weight[2].tolist() == [0.0, 0.0, 0.0]
    emb(agx.tensor([2, 1, 2])).sum().backward()
    assert emb.weight.grad[2].tolist() == [0.0, 0.0, 0.0]
    assert emb.weight.grad[1].tolist() == [1.0, 1.0, 1.0]


def test_embedding_from_pretrained():
    weights = agx.tensor([[1.0, 2.0], [3.0, 4.0]])
    emb = nn.Embedding.from_pretrained(weights)
    assert not emb.weight.requires_grad and emb(agx.tensor([1])).tolist() == [[3.0, 4.0]]
    assert nn.Embedding.from_pretrained(weights, freeze=False).weight.requires_grad


@pytest.mark.parametrize("padding_idx", [5, -6])
def test_embedding_padding_idx_range(padding_idx):
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=padding_idx)


def test_layer_norm_initialisation():
    ln = nn.LayerNorm((2, 3))
    assert ln.weight.tolist() == [[1.0] * 3] * 2 and ln.bias.tolist() == [[0.0] * 3] * 2
    assert nn.LayerNorm(3, elementwise_affine=False).weight is None


def test_sequential_indexing_and_editing():
    a, b, c = nn.Linear(1, 1), nn.ReLU(), nn.Tanh()
    seq = nn.Sequential(a, b)
    assert seq[0] is a and seq[-1] is b and len(seq) == 2
    assert isinstance(seq[:1], nn.Sequential) and list(seq[:1]) == [a]
    seq.append(c)
    assert list(seq._modules) == ["0", "1", "2"]
    del seq[0]
    assert list(seq._modules) == ["0", "1"] and seq[0] is b
    seq.insert(-1, a)
    assert list(seq) == [b, a, c]
    seq[1] = nn.Identity()
    assert type(seq[1]) is nn.Identity
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]


def test_sequential_from_ordered_dict():
    from collections import OrderedDict
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in seq.named_parameters()] == ["fc.weight", "fc.bias"]
    assert seq.fc is seq[0]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    assert len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers += [nn.Tanh()]
    layers.insert(0, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Identity", "Linear", "Linear", "Linear",
                                                  "ReLU", "Tanh"]
    assert type(layers.pop(0)) is nn.Identity and len(layers) == 5
    del layers[1:3]
    assert list(layers._modules) == ["0", "1", "2"]
    assert isinstance(layers[::2], nn.ModuleList)
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        layers.extend(3)


def test_module_dict():
    d = nn.ModuleDict({"a": nn.Linear(1, 1)})
    d["b"] = nn.ReLU()
    d.update([("c", nn.Tanh())])
    assert list(d) == ["a", "b", "c"] and "b" in d and len(d) == 3
    assert [n for n, _ in d.named_parameters()] == ["a.weight", "a.bias"]
    assert type(d.pop("b")) is nn.ReLU and list(d.keys()) == ["a", "c"]
    d.clear()
    assert len(d) == 0
