"""Every op's call strategy, by registry name, and the ops left out with their reasons.

The list of ops under test comes from the registry (:func:`differentiable_ops`); the
strategies here only say how to call each one. ``test_every_op_is_covered`` holds the
ops of autogradx's own plugins to this table: a new op needs a strategy or a reason.
"""

from autogradx._registry import REGISTRY
from fuzz import (calls_conversion, calls_elementwise, calls_indexing, calls_linalg, calls_nn,
                  calls_reductions, calls_shape)

CALLS = {name: strategy for module in (calls_elementwise, calls_reductions, calls_shape,
                                       calls_indexing, calls_linalg, calls_nn, calls_conversion)
         for name, strategy in module.CALLS.items()}

#: Functions composed of ops, as PyTorch composes them (so that their graphs are PyTorch's),
#: drawn as the ops are: the composition is what is under test.
COMPOSED = {"linear": "autogradx/nn/functional.py"}

#: Ops drawn for the comparison with PyTorch, but not checked against finite differences,
#: and why.
NO_GRADCHECK = {
    "unique": "no derivative: backward raises, as PyTorch's does (the comparison with PyTorch "
              "checks the forward, and that backward raises)",
    "floor_divide": "no derivative: backward raises, as PyTorch's does (the comparison with "
                    "PyTorch checks the forward, and that backward raises)",
}

#: Ops with a vjp that no strategy draws, and why.
EXCLUDED = {
    "imag": "refuses the real tensors the strategies draw, as PyTorch does; "
            "tests/ops/test_complex_torch.py checks it on complex ones",
    "view_as_real": "refuses the real tensors the strategies draw, as PyTorch does; "
                    "tests/ops/test_complex_torch.py checks it on complex ones",
    "threshold_backward": "threshold's gradient as an op (its double backward); drawn through "
                          "threshold, whose second-order checks run it",
    "_to_device": "moves a tensor to another device: the CPU alone has none to move to "
                  "(tests/backends checks it with a stand-in device)",
}


def differentiable_ops():
    """The registered ops that have a vjp, by name (every loaded plugin)."""
    return {name: op for name, op in REGISTRY.load().ops.items()
            if op.vjp is not None or op.vjps is not None}


def held_to_completeness(op):
    """Ops of autogradx's own plugins must each have a strategy or a reason."""
    return REGISTRY.load().plugins[op.plugin].builtin


def gradcheck_ops():
    """The op names whose drawn calls are checked against finite differences."""
    return sorted([name for name in differentiable_ops()
                   if name in CALLS and name not in NO_GRADCHECK] + list(COMPOSED))


def drawn_ops():
    """The op names drawn for the comparison with PyTorch."""
    return sorted([name for name in differentiable_ops() if name in CALLS] + list(COMPOSED))
