"""Optimizers (``SGD``, ``Adam``, ``AdamW``, ``RMSprop``) and ``lr_scheduler``, as in PyTorch."""

from autogradx.optim import lr_scheduler
from autogradx.optim.adam import Adam, AdamW
from autogradx.optim.optimizer import Optimizer
from autogradx.optim.rmsprop import RMSprop
from autogradx.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]
