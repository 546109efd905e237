"""The layers of ``autogradx.nn``, one file per family as in PyTorch."""

from autogradx.nn.modules.activation import (
    ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh,
)
from autogradx.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from autogradx.nn.modules.container import ModuleDict, ModuleList, Sequential
from autogradx.nn.modules.conv import Conv2d
from autogradx.nn.modules.dropout import Dropout
from autogradx.nn.modules.flatten import Flatten
from autogradx.nn.modules.instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from autogradx.nn.modules.linear import Identity, Linear
from autogradx.nn.modules.loss import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss,
)
from autogradx.nn.modules.module import Module
from autogradx.nn.modules.normalization import GroupNorm, LayerNorm
from autogradx.nn.modules.pooling import MaxPool2d
from autogradx.nn.modules.rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell
from autogradx.nn.modules.sparse import Embedding

__all__ = [
    "Module", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Conv2d",
    "MaxPool2d", "Flatten", "Dropout", "Embedding", "LayerNorm",
    "GroupNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
    "InstanceNorm3d", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "ReLU", "LeakyReLU", "ELU",
    "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softplus", "MSELoss", "L1Loss",
    "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss",
]
