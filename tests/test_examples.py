"""The examples run, and with ``torch`` in place of autogradx they give the same results."""

import contextlib
import io
import math
import pathlib
import types

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
LEGENDRE = EXAMPLES / "legendre_function.py"
STEPS = 300


def load(path, replace=None):
    """The example as a module; ``replace`` maps source text to substitute (the import)."""
    source = path.read_text()
    for old, new in (replace or {}).items():
        assert old in source
        source = source.replace(old, new)
    module = types.ModuleType(path.stem)
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def ours():
    """autogradx's run of the Legendre example: (losses, printed text)."""
    return run_legendre(load(LEGENDRE), STEPS)


def run_legendre(module, steps):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        losses = module.main(steps=steps, report=100)
    return losses, out.getvalue()


def test_legendre_example_trains(ours):
    losses, printed = ours
    assert len(losses) == STEPS
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0] / 4            # it learns
    assert np.all(np.diff(losses[50:]) < 0)      # and keeps improving with this learning rate
    lines = printed.splitlines()
    assert lines[0].split()[0] == "99" and lines[-1].startswith("Result: y = ")


def test_legendre_example_only_imports_autogradx_as_torch():
    source = LEGENDRE.read_text()
    assert "import autogradx as torch" in source
    assert "import torch\n" not in source


@pytest.mark.torch
def test_legendre_example_matches_torch(ours):
    torch = pytest.importorskip("torch")
    losses, ours_printed = ours
    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # small tensors: threads only add overhead on busy CPUs
    try:
        theirs, theirs_printed = run_legendre(
            load(LEGENDRE, {"import autogradx as torch": "import torch"}), STEPS)
    finally:
        torch.set_num_threads(threads)
    # float32 all the way: both sum 2000 float32 squares per step, in different orders.
    np.testing.assert_allclose(losses, theirs, rtol=1e-5)
    # The printed progress has the same shape (step numbers, then the fitted formula).
    assert [line.split()[0] for line in ours_printed.splitlines()] == \
        [line.split()[0] for line in theirs_printed.splitlines()]
