"""The conformance kit as pytest tests, from the installed autogradx: a plugin's own test
suite runs it without autogradx's source tree. One file in the plugin's tests::

    # tests/test_conformance.py
    from autogradx.conformance.pytest import conformance_tests

    test_conformance = conformance_tests("smoothloss")

collects one test per op of the installed plugin ``smoothloss`` (ids such as
``smoothloss:logcosh``), each running :func:`autogradx.conformance.check_op` on the op's
``conformance_cases``. An op without samples fails (``allow_skips=True`` skips it
instead), an op given ``Skip(reason)`` is skipped with its reason, and a plugin that is
not installed, failed to load, or gets no op checked at all fails.
"""

import pytest

import autogradx._dtype as _dtype
from autogradx.conformance import Skip, case_problems, check_op, plugin_cases

__all__ = ["conformance_tests"]


def conformance_tests(plugin, dtypes=(_dtype.float32, _dtype.float64), *, device=None,
                      second_order=True, allow_skips=False):
    """A pytest test function, parametrised over the ops of the installed ``plugin``:
    bind it to a ``test_`` name in a test module."""
    try:
        cases = plugin_cases(plugin)
    except LookupError as e:
        params = [pytest.param(None, str(e), id=f"{plugin}:not-loaded")]
    else:
        params = [pytest.param(op, c, id=f"{plugin}:{op.name}") for op, c in cases]
        if not allow_skips and not any(isinstance(c, (list, tuple)) for _, c in cases):
            params.append(pytest.param(None, f"no op of plugin {plugin!r} has samples to check: "
                                             "give conformance_cases (docs/plugins.md)",
                                       id=f"{plugin}:nothing-checked"))

    @pytest.mark.parametrize("op, cases", params)
    def test(op, cases):
        if op is None:
            pytest.fail(cases, pytrace=False)
        if cases is None and allow_skips:
            pytest.skip(f"{op.name}: the plugin gives no conformance_cases for it")
        problems = case_problems(op.name, cases)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)
        if isinstance(cases, Skip):
            pytest.skip(f"{op.name}: {cases.reason}")
        check_op(op, cases, dtypes, device=device, second_order=second_order)

    test.__doc__ = f"The conformance kit on each op of plugin {plugin!r}."
    return test
