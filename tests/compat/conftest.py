"""A ported module's ``DIFFERENCES`` ({method name: reason}) marks those methods as strict
xfails: they must fail, and the reason says why autogradx differs. When one starts to pass,
the run fails until it is taken off the list. ``AUTOGRADX_COMPAT_LIST_PASSING=1`` makes
them non-strict, so that ``pytest tests/compat -rX`` lists every one that now passes."""

import os

import pytest

STRICT = os.environ.get("AUTOGRADX_COMPAT_LIST_PASSING", "") in ("", "0")


def pytest_collection_modifyitems(config, items):
    for item in items:
        differences = getattr(item.module, "DIFFERENCES", {})
        name = item.originalname if hasattr(item, "originalname") else item.name
        if name in differences:
            item.add_marker(pytest.mark.xfail(reason=differences[name], strict=STRICT))
