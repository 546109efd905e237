"""A ported module's ``DIFFERENCES`` ({name: reason}) marks those tests as strict xfails:
they must fail, and the reason says why autogradx differs. When one starts to pass, the run
fails until it is taken off the list. A name is a test method's name or, for a parametrized
test, its parameter id (``test_tutorials.py`` lists programs).
``AUTOGRADX_COMPAT_LIST_PASSING=1`` makes them non-strict, so that
``pytest tests/compat -rX`` lists every one that now passes."""

import os

import pytest

STRICT = os.environ.get("AUTOGRADX_COMPAT_LIST_PASSING", "") in ("", "0")


def pytest_collection_modifyitems(config, items):
    for item in items:
        differences = getattr(item.module, "DIFFERENCES", {})
        names = [item.originalname if hasattr(item, "originalname") else item.name]
        if hasattr(item, "callspec"):
            names.append(item.callspec.id)
        for name in names:
            if name in differences:
                item.add_marker(pytest.mark.xfail(reason=differences[name], strict=STRICT))
