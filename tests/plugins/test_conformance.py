"""The conformance kit run over installed plugins, one test per op.

By default every loaded plugin is checked, autogradx's own ops included, with
the samples it supplies (``conformance_cases``), in float32 and float64. To
check one plugin, on the CPU or also on a device against the CPU::

    AUTOGRADX_TEST_PLUGIN=scipy_special python -m pytest tests/plugins/test_conformance.py
    AUTOGRADX_TEST_PLUGIN=myops AUTOGRADX_TEST_DEVICE=cuda \
        python -m pytest tests/plugins/test_conformance.py

Every op of autogradx's own plugins, and of the plugin named by
``AUTOGRADX_TEST_PLUGIN``, must have samples or a ``Skip`` with its reason.
Ops that are not checked (a ``Skip``, or another installed plugin that gives
no samples) are listed together by one test, ``test_unchecked_ops``. A plugin's own
test suite runs the same checks from the installed autogradx with
``autogradx.conformance.pytest`` (docs/plugins.md).
"""

import functools
import os

import pytest

import autogradx as agx
from autogradx._registry import REGISTRY
from autogradx.conformance import Skip, case_problems, check_op, plugin_cases

PLUGIN = os.environ.get("AUTOGRADX_TEST_PLUGIN")
DEVICE = os.environ.get("AUTOGRADX_TEST_DEVICE")
DTYPES = (agx.float32, agx.float64)


def _plugins():
    """The plugins under test: the one AUTOGRADX_TEST_PLUGIN names, else every loaded one."""
    if PLUGIN:
        return [PLUGIN]
    return [name for name, info in REGISTRY.load().plugins.items() if not info.error]


def _held_to_completeness(name):
    """autogradx's own plugins, and the plugin named for the run, must cover every op."""
    info = REGISTRY.load().plugins.get(name)
    return name == PLUGIN or (info is not None and info.builtin)


@functools.lru_cache(maxsize=None)
def _cases(name):
    """``[(op, cases)]`` of plugin ``name`` (see ``plugin_cases``)."""
    return tuple(plugin_cases(name))


def _op_params():
    params = []
    for name in _plugins():
        try:
            cases = _cases(name)
        except LookupError as e:
            # AUTOGRADX_TEST_PLUGIN names a plugin that is not installed, or did not load.
            params.append(pytest.param(None, str(e), id=f"{name}-not-loaded"))
            continue
        params += [pytest.param(op, c, id=f"{name}:{op.name}") for op, c in cases
                   if isinstance(c, (list, tuple))]
    return params


@pytest.mark.parametrize("op, cases", _op_params())
def test_op_conformance(op, cases):
    if op is None:
        pytest.fail(cases)
    check_op(op, cases, DTYPES, device=DEVICE)


def _problems(name):
    """What is wrong with plugin ``name``'s conformance_cases, one line each."""
    return [line for op, cases in _cases(name) for line in case_problems(op.name, cases)]


@pytest.mark.parametrize("name", [n for n in _plugins() if _held_to_completeness(n)])
def test_every_op_has_cases(name):
    """Samples for every op of the plugin (or a Skip with its reason), and a reason wherever
    a sample turns the second order off: derived from the registry, nothing listed here."""
    problems = _problems(name)
    assert not problems, f"plugin {name!r}:\n" + "\n".join(problems)


def test_unchecked_ops():
    """The one report of the ops that are not checked, with the reasons."""
    unchecked = []
    for name in _plugins():
        try:
            cases = _cases(name)
        except LookupError:
            continue        # reported by test_op_conformance
        for op, c in cases:
            if isinstance(c, Skip):
                unchecked.append(f"{name}:{op.name}: {c.reason}")
            elif c is None and not _held_to_completeness(name):
                unchecked.append(f"{name}:{op.name}: the plugin gives no conformance_cases")
    if unchecked:
        pytest.skip(f"{len(unchecked)} ops not checked:\n" + "\n".join(unchecked))
