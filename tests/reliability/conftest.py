"""Sizes of the reliability checks.

The suite runs each check at a size that takes a few seconds. With
``AUTOGRADX_LONG_CHECKS=1`` the same tests run at full size (a chain of a million
ops, a million consumers, 100,000 training steps: several minutes, about 1 GB);
docs/reliability.md gives the figures they measured.
"""

import os

import pytest

LONG_CHECKS = os.environ.get("AUTOGRADX_LONG_CHECKS", "") not in ("", "0")


@pytest.fixture
def size():
    """``size(short, long)``: the size to run a check at."""
    return lambda short, long: long if LONG_CHECKS else short
