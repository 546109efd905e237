"""The conformance kit run over installed plugins, one test per op.

By default every loaded plugin is checked with the samples it supplies
(``conformance_cases``); ops without samples are skipped. To check one plugin,
on the CPU or also on a device against the CPU::

    AUTOGRADX_TEST_PLUGIN=scipy_special python -m pytest tests/plugins/test_conformance.py
    AUTOGRADX_TEST_PLUGIN=myops AUTOGRADX_TEST_DEVICE=cuda \
        python -m pytest tests/plugins/test_conformance.py
"""

import os

import pytest

import autogradx as agx
from autogradx._registry import REGISTRY
from autogradx.conformance import Skip, check_op, plugin_cases

PLUGIN = os.environ.get("AUTOGRADX_TEST_PLUGIN")
DEVICE = os.environ.get("AUTOGRADX_TEST_DEVICE")
NO_CASES = "the plugin gives no conformance_cases for this op"


def _params():
    names = [PLUGIN] if PLUGIN else [n for n, p in REGISTRY.load().plugins.items() if not p.error]
    out = []
    for name in names:
        try:
            cases = plugin_cases(name)
        except LookupError as e:
            out.append(pytest.param(None, str(e), id=f"{name}-not-loaded"))
            continue
        out += [pytest.param(op, c, id=f"{name}:{op.name}") for op, c in cases]
    return out


@pytest.mark.parametrize("op, cases", _params())
def test_op_conformance(op, cases):
    if op is None:
        pytest.fail(cases)          # AUTOGRADX_TEST_PLUGIN names a plugin that did not load
    if cases is None:
        pytest.skip(NO_CASES)
    if isinstance(cases, Skip):
        pytest.skip(cases.reason)
    check_op(op, cases, (agx.float32, agx.float64), device=DEVICE)
