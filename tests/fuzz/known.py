"""Discrepancies with PyTorch the fuzzing found and keeps in view: an example that shows one
is not a failure of a fuzz test, and each autogradx bug among them has a strict xfail test
in test_regressions.py (remove the entry when it is fixed)."""

import re
from pathlib import Path

#: How the entries name an autogradx bug's regression test (``BUG + "test_name"``).
BUG = "an autogradx bug: test_regressions.py::"


class Known:
    """A discrepancy: the comparison of ``ops`` fails with a message matching the regex
    ``message``, where ``when(case)`` holds (``case``: what the test drew, e.g. the
    dtypes); ``where`` says where it is kept in view."""

    def __init__(self, ops, message, where, when=None):
        self.ops, self.message, self.where = set(ops), re.compile(message), where
        self.when = when or (lambda case: True)

    def matches(self, op, error, case):
        return op in self.ops and bool(self.message.search(str(error))) and self.when(case)


def builtin(exc_type):
    """The built-in exception class ``exc_type`` derives from: what autogradx must raise
    where PyTorch raises one of its own subclasses."""
    return next(c for c in exc_type.__mro__ if c.__module__ == "builtins")


def missing_regression_tests(known):
    """The regression tests that entries of ``known`` name but test_regressions.py lacks."""
    text = (Path(__file__).parent / "test_regressions.py").read_text()
    names = {k.where.partition("::")[2] for k in known if k.where.startswith(BUG)}
    return sorted(n for n in names if f"def {n}(" not in text)
