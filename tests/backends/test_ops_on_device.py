"""Every built-in op on another device against the CPU: the stand-in ``fake`` device
(``conftest.py``), or the device named by ``AUTOGRADX_TEST_DEVICE``
(``AUTOGRADX_TEST_DEVICE=cuda python -m pytest tests/backends`` on a GPU machine).

The op list comes from the registry (every op of autogradx's own plugins), so
a new op is covered the day it is registered. Each op runs the same small
calls on the CPU and on the device, in float32 and float64; values, gradients
and gradients of gradients must agree, and outputs and gradients must be
arrays of the device. On the fake device, an op that calls NumPy directly, or
hands back a NumPy array, fails with the NumPy function named.

Calls: the ``conformance_cases`` that autogradx's own plugins give the
conformance kit (beside each op family's definitions), save the few in
``DEVICE_SAMPLES`` that name the device under test. Samples that turn the
second order off (``Sample.options(second_order=False, reason=...)``) are left
out of the second-order comparison. Ops that cannot run on an array module
other than NumPy are listed, with the reason, in ``CANNOT_RUN`` (``SECOND_ORDER``
for gradients of gradients) and nowhere else.
"""

import functools

import pytest

import autogradx as agx
from autogradx._registry import REGISTRY
from autogradx.conformance import Arg, Sample, Skip, compare_on_device, plugin_cases

DTYPES = (agx.float32, agx.float64)

# Calls that depend on the device under test (the plugin's own copy to the CPU).
DEVICE_SAMPLES = {
    "_to_device": lambda device: [Sample(Arg((2, 3)), agx.device(device)),
                                  Sample(Arg(()), agx.device(device))],
}

# The one place listing built-in ops that cannot run on an array module other than
# NumPy, with the reason: CANNOT_RUN for values and gradients, SECOND_ORDER for
# gradients of gradients (create_graph=True). Each runs as xfail(strict=True): once
# an op is fixed its test fails as XPASS, and it leaves the list.
CANNOT_RUN = {}

# With create_graph=True a vjp runs on tensors; these still meet a device they cannot take.
_XP_DEVICE_PARAM = ("create_graph: a tensor passed as a parameter (pos_weight, running_mean) "
                    "reaches the vjp as an array of the device, and ops run on tensors take "
                    "NumPy arrays only")
SECOND_ORDER = {
    "binary_cross_entropy_with_logits": _XP_DEVICE_PARAM,
    "batch_norm": _XP_DEVICE_PARAM,         # evaluation mode: the running statistics
    "instance_norm": _XP_DEVICE_PARAM,
}


@functools.lru_cache(maxsize=None)
def builtin_cases():
    """The samples autogradx's own plugins give the conformance kit, by op name (None for an
    op without any, a Skip for one that cannot be checked)."""
    return {op.name: cases for info in REGISTRY.load().plugins.values() if info.builtin
            for op, cases in plugin_cases(info.name)}


def builtin_ops():
    """The built-in ops to compare; those the plugin skips are reported by the conformance
    tests (tests/plugins/test_conformance.py), with the reason."""
    return [name for name, cases in builtin_cases().items() if not isinstance(cases, Skip)]


def samples_for(name, device):
    samples = DEVICE_SAMPLES[name](device) if name in DEVICE_SAMPLES else builtin_cases()[name]
    assert samples, (f"op {name!r} has no conformance_cases: add samples beside its definition "
                     "(see docs/plugins.md)")
    return samples


def _second_order_ops():
    """The ops with at least one sample whose gradients of gradients are meant to work."""
    return [name for name in builtin_ops()
            if any(s.second_order for s in builtin_cases()[name] or ())]


def _param(name, known=CANNOT_RUN):
    reason = known.get(name)
    marks = (pytest.mark.xfail(strict=True, reason=reason),) if reason else ()
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_param(n) for n in builtin_ops()])
def test_op_on_device_matches_cpu(device_under_test, name):
    compare_on_device(REGISTRY.ops[name], samples_for(name, device_under_test),
                      device_under_test, DTYPES)


def test_lists_name_registered_ops_only():
    ops = set(builtin_ops())
    assert not (set(DEVICE_SAMPLES) | set(CANNOT_RUN) | set(SECOND_ORDER)) - ops, \
        "entries for ops that no longer exist"
    assert not set(SECOND_ORDER) - set(_second_order_ops()), \
        "SECOND_ORDER lists an op none of whose samples has second order on"


@pytest.mark.parametrize("name", [_param(n, SECOND_ORDER) for n in _second_order_ops()])
def test_second_order_on_device_matches_cpu(device_under_test, name):
    samples = [s for s in samples_for(name, device_under_test) if s.second_order]
    compare_on_device(REGISTRY.ops[name], samples, device_under_test, (agx.float64,), order=2)
