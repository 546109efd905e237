"""Neural-network building blocks: layers (``Module`` and its subclasses),
``Parameter``, ``init`` and the functional API."""

from autogradx.nn import functional, init
from autogradx.nn.modules import (
    BatchNorm1d, BatchNorm2d, BatchNorm3d, BCELoss, BCEWithLogitsLoss, Conv2d, CrossEntropyLoss,
    Dropout, ELU, Embedding, Flatten, GELU, GroupNorm, GRU, GRUCell, Identity, InstanceNorm1d,
    InstanceNorm2d, InstanceNorm3d, L1Loss, LayerNorm, LeakyReLU, Linear, LogSoftmax, LSTM,
    LSTMCell, MaxPool2d, Module, ModuleDict, ModuleList, MSELoss, NLLLoss, ReLU, RNN, RNNCell,
    Sequential, Sigmoid, SiLU, Softmax, Softplus, Tanh,
)
from autogradx.nn.parallel import DataParallel
from autogradx.nn.parameter import Parameter

__all__ = [
    "functional", "init", "Parameter", "Module", "Sequential", "ModuleList", "ModuleDict",
    "Identity", "Linear", "Conv2d", "MaxPool2d", "Flatten", "Dropout", "Embedding", "LayerNorm",
    "GroupNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
    "InstanceNorm3d", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
    "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "Softplus", "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss",
    "BCELoss", "DataParallel",
]
