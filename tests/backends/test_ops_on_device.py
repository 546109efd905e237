"""Every built-in op on another device against the CPU: the stand-in ``fake`` device
(``conftest.py``), or the device named by ``AUTOGRADX_TEST_DEVICE``
(``AUTOGRADX_TEST_DEVICE=cuda python -m pytest tests/backends`` on a GPU machine).

The op list comes from the registry (every op of autogradx's own plugins), so
a new op is covered the day it is registered. Each op runs the same small
calls on the CPU and on the device, in float32 and float64; values, gradients
and gradients of gradients must agree, and outputs and gradients must be
arrays of the device. On the fake device, an op that calls NumPy directly, or
hands back a NumPy array, fails with the NumPy function named.

Calls: the ``conformance_cases`` an op's module gives the conformance kit, if
any; else a line in ``SAMPLES``; else, for an op that is elementwise over its
inputs, ``conformance.generated_samples`` (those the CPU accepts). Ops that
cannot run on another array module are listed, with the reason, in
``CANNOT_RUN`` (``SECOND_ORDER`` for gradients of gradients) and nowhere else.
"""

import functools

import numpy as np
import pytest

import autogradx as agx
from autogradx._registry import REGISTRY
from autogradx.conformance import (Arg, Sample, Skip, check_op, compare_on_device,
                                   generated_samples, plugin_cases)

DTYPES = (agx.float32, agx.float64)


def A(*shape, low=0.1, high=0.9):
    """A float tensor that requires grad, values in a range every op accepts."""
    return Arg(shape, low, high)


def K(*shape, low=0.1, high=0.9, dtype=None):
    """A tensor without gradient (a constant operand, an integer or bool tensor)."""
    return Arg(shape, low, high, dtype=dtype, requires_grad=False)


def I(values):
    """An index tensor (int64)."""
    return Arg(values=values)


def M():
    """A well-conditioned 3x3 matrix."""
    return Arg(values=[[2.0, 0.5, 0.1], [0.3, 1.5, 0.2], [0.1, 0.4, 1.8]])


S = Sample

# Calls of the ops that generated_samples cannot make: parameters, index tensors, shapes.
SAMPLES = {
    "floor_divide": [S(K(2, 3, low=1, high=5), K(2, 3, low=1, high=3))],
    "clamp": [S(A(2, 3), 0.3, 0.6), S(A(2, 3), A(2, 3), A(1, 3))],
    "where": [S(K(2, 3, dtype="bool"), A(2, 3), A(1, 3)), S(K(2, 3, dtype="bool"), A(2, 3), 0.5)],
    "tensor_where": [S(A(2, 3), K(2, 3, dtype="bool"), A(2, 3))],
    "bitwise_and": [S(K(2, 3, high=7, dtype="int64"), K(2, 3, high=7, dtype="int64"))],
    "bitwise_or": [S(K(2, 3, high=7, dtype="int64"), K(2, 3, high=7, dtype="int64"))],
    "bitwise_xor": [S(K(2, 3, high=7, dtype="int64"), K(2, 3, high=7, dtype="bool"))],
    "bitwise_not": [S(K(2, 3, high=7, dtype="int64")), S(K(4, dtype="bool"))],
    "allclose": [S(A(2, 3), A(2, 3))],
    "equal": [S(A(2, 3), A(2, 3))],
    "cumsum": [S(A(2, 3), 1), S(A(2, 3), dim=-2)],
    "cumprod": [S(A(2, 3), 1), S(A(2, 3), dim=0)],
    "logsumexp": [S(A(2, 3), 1), S(A(2, 3), (0, 1), True)],
    "unflatten": [S(A(2, 6), 1, (2, 3))],
    "unsqueeze": [S(A(2, 3), 1), S(A(), 0)],
    "transpose": [S(A(2, 3, 4), 0, 2)],
    "movedim": [S(A(2, 3, 4), 0, -1)],
    "broadcast_to": [S(A(3, 1), (2, 3, 4))],
    "tile": [S(A(2, 3), (2, 1))],
    "split": [S(A(5, 3), 2), S(A(5, 3), [1, 2], dim=1)],
    "chunk": [S(A(5, 3), 2), S(A(5, 3), 3, 1)],
    "getitem": [S(A(4, 3), (slice(1, 3), 0)), S(A(4, 3), (None, Ellipsis, -1))],
    "index": [S(A(4, 3), I([0, 2, 2])), S(A(4, 3), K(4, dtype="bool"))],
    "setitem": [S(A(4, 3), A(3), (slice(1, 3),)), S(A(4, 3), A(3), I([0, 2]))],
    "narrow": [S(A(4, 3), 0, 1, 2)],
    "select": [S(A(4, 3), 1, -1)],
    "index_select": [S(A(4, 3), 0, I([0, 2, 2]))],
    "gather": [S(A(3, 4), 1, I([[0, 1], [3, 3], [2, 0]]))],
    "take_along_dim": [S(A(3, 4), I([[0], [3], [2]]), 1)],
    "scatter_add": [S(A(3, 4), 1, I([[0, 1], [3, 3], [2, 0]]), A(3, 2))],
    "index_add": [S(A(4, 3), 0, I([0, 2, 2]), A(3, 3))],
    "masked_fill": [S(A(2, 3), K(2, 3, dtype="bool"), 0.5), S(A(2, 3), K(1, 3, dtype="bool"), A())],
    "bmm": [S(A(2, 3, 4), A(2, 4, 5))],
    "mv": [S(A(3, 4), A(4))],
    "dot": [S(A(4), A(4))],
    "einsum": [S("ij,jk->ik", A(2, 3), A(3, 4)), S("bii->b", A(2, 3, 3))],
    "inv": [S(M())],
    "solve": [S(M(), A(3, 2))],
    "det": [S(M())],
    "slogdet": [S(M())],
    "softmax": [S(A(2, 3), 1), S(A(2, 3), dim=0)],
    "log_softmax": [S(A(2, 3), 1), S(A(2, 3), dim=0)],
    "dropout": [S(A(4, 5), 0.5).options(manual_seed=0), S(A(4, 5), 0.5, False)],
    "one_hot": [S(I([0, 2, 1]), 3)],
    "pad": [S(A(2, 3), (1, 2)), S(A(1, 2, 3, 3), (1, 1, 1, 1), "reflect"),
            S(A(1, 2, 3), (2, 1), "replicate")],
    "layer_norm": [S(A(2, 3), (3,), A(3), A(3)), S(A(2, 3, 4), (3, 4))],
    "embedding": [S(I([[0, 2], [1, 0]]), A(3, 4))],
    "nll_loss": [S(A(3, 4), I([0, 3, 1])), S(A(3, 4), I([0, 3, 1]), reduction="none")],
    "conv1d": [S(A(1, 2, 5), A(3, 2, 3), A(3), padding=1)],
    "conv2d": [S(A(1, 2, 5, 5), A(3, 2, 3, 3), A(3), stride=2, padding=1),
               S(A(1, 4, 4, 4), A(2, 2, 2, 2), groups=2, dilation=2)],
    "conv3d": [S(A(1, 1, 4, 4, 4), A(2, 1, 2, 2, 2))],
    "max_pool2d": [S(A(1, 2, 4, 4), 2), S(A(1, 2, 5, 5), 3, stride=2, padding=1)],
    "max_pool2d_with_indices": [S(A(1, 2, 4, 4), 2)],
    "avg_pool2d": [S(A(1, 2, 4, 4), 2), S(A(1, 2, 5, 5), 3, stride=2, padding=1)],
    "_to_copy": [S(A(2, 3), np.dtype("float32")).options(out_dtype="float32")],
    "fill": [S(A(2, 3), 1.5), S(A(2, 3), A())],
    # A device object can only be made once its backend is registered: built in the test.
    "_to_device": lambda device: [S(A(2, 3), agx.device(device))],
}

# The one place listing built-in ops that cannot run on an array module other than
# NumPy, with the reason: CANNOT_RUN for values and gradients, SECOND_ORDER for
# gradients of gradients (create_graph=True). Each runs as xfail(strict=True): once
# an op is fixed its test fails as XPASS, and it leaves the list.
CANNOT_RUN = {}

# With create_graph=True a vjp runs on tensors through autogradx/_xp.py, some of whose
# helpers still make their constants as CPU tensors whatever the device of the operands.
_XP_FACTORIES = ("create_graph: _xp.zeros/full/eye/arange, given no operand to take a device "
                 "from, make CPU tensors")
_XP_ADD_AT = "create_graph: _xp.add.at computes positions with a CPU arange"
SECOND_ORDER = {
    "remainder": "fails on the CPU too: its vjp calls floor_divide, which has no derivative",
    "setitem": "create_graph: its index residual reaches where() as a NumPy bool array",
    "getitem": _XP_FACTORIES, "narrow": _XP_FACTORIES, "select": _XP_FACTORIES,
    "einsum": _XP_FACTORIES, "pad": _XP_FACTORIES, "nll_loss": _XP_FACTORIES,
    "conv1d": _XP_FACTORIES, "conv2d": _XP_FACTORIES, "conv3d": _XP_FACTORIES,
    "max_pool2d": _XP_FACTORIES, "max_pool2d_with_indices": _XP_FACTORIES,
    "avg_pool2d": _XP_FACTORIES,
    "index": _XP_ADD_AT, "index_select": _XP_ADD_AT, "gather": _XP_ADD_AT,
    "take_along_dim": _XP_ADD_AT, "embedding": _XP_ADD_AT,
}


def builtin_ops():
    REGISTRY.load()
    return [name for info in REGISTRY.plugins.values() if info.builtin for name in info.ops]


def _param(name, known=CANNOT_RUN):
    reason = known.get(name)
    marks = (pytest.mark.xfail(strict=True, reason=reason),) if reason else ()
    return pytest.param(name, marks=marks, id=name)


@functools.lru_cache(maxsize=None)
def provided_cases():
    """The samples autogradx's own plugins give the conformance kit (``conformance_cases``
    beside an op's definition), by op name."""
    return {op.name: cases for info in REGISTRY.load().plugins.values() if info.builtin
            for op, cases in plugin_cases(info.name) if cases is not None}


@functools.lru_cache(maxsize=None)
def samples_for(op, device):
    """The op's conformance cases, else SAMPLES' calls, else the generated ones that the op
    accepts on the CPU."""
    if op.name in provided_cases():
        return provided_cases()[op.name]
    if op.name in SAMPLES:
        samples = SAMPLES[op.name]
        return samples(device) if callable(samples) else samples
    return tuple(s for s in generated_samples(op, 0.1, 0.9)
                 if check_op(op, s, second_order=False, raise_exception=False).ok)


@pytest.mark.parametrize("name", [_param(n) for n in builtin_ops()])
def test_op_on_device_matches_cpu(device_under_test, name):
    op = REGISTRY.ops[name]
    samples = samples_for(op, device_under_test)
    if isinstance(samples, Skip):
        pytest.skip(samples.reason)
    assert samples, (f"op {name!r}: no call of it could be generated; add one to SAMPLES in "
                     "tests/backends/test_ops_on_device.py")
    compare_on_device(op, samples, device_under_test, DTYPES)


def test_lists_name_registered_ops_only():
    ops = set(builtin_ops())
    assert not (set(SAMPLES) | set(CANNOT_RUN) | set(SECOND_ORDER)) - ops, \
        "entries for ops that no longer exist"


@pytest.mark.parametrize("name", [_param(n, SECOND_ORDER) for n in builtin_ops()])
def test_second_order_on_device_matches_cpu(device_under_test, name):
    op = REGISTRY.ops[name]
    samples = samples_for(op, device_under_test)
    if isinstance(samples, Skip):
        pytest.skip(samples.reason)
    compare_on_device(op, [s for s in samples if s.second_order], device_under_test,
                      (agx.float64,), order=2)
