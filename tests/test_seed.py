"""The seed tutorial (examples/autograd_tutorial.py), replayed cell by cell.

Deterministic cells must print exactly what the tutorial shows (its text is
reproduced below); with PyTorch installed, the whole tutorial runs through
both libraries on the same random values and the outputs must agree line by
line, object addresses aside.
"""

import contextlib
import io
import pathlib
import re

import numpy as np
import pytest

import autogradx

TUTORIAL = pathlib.Path(__file__).resolve().parents[1] / "examples" / "autograd_tutorial.py"

# What the tutorial prints for its deterministic cells, as PyTorch printed it.
EXPECTED = {
    4: "current grad without performing loss.backward() is w's None, bias's None\n",
    6: "True\nFalse\nTrue\nFalse\n",
    20: """Current inp matrix is :
{tensor([[1., 0., 0., 0., 0.],
        [0., 1., 0., 0., 0.],
        [0., 0., 1., 0., 0.],
        [0., 0., 0., 1., 0.],
        [0., 0., 0., 0., 1.]], requires_grad=True)}
""",
    21: """Output is
tensor([[4., 1., 1., 1., 1.],
        [1., 4., 1., 1., 1.],
        [1., 1., 4., 1., 1.],
        [1., 1., 1., 4., 1.],
        [1., 1., 1., 1., 4.]], grad_fn=<PowBackward0>)
""",
    22: """First call
 tensor([[4., 2., 2., 2., 2.],
        [2., 4., 2., 2., 2.],
        [2., 2., 4., 2., 2.],
        [2., 2., 2., 4., 2.],
        [2., 2., 2., 2., 4.]])

Second call
 tensor([[8., 4., 4., 4., 4.],
        [4., 8., 4., 4., 4.],
        [4., 4., 8., 4., 4.],
        [4., 4., 4., 8., 4.],
        [4., 4., 4., 4., 8.]])

Call after zeroing gradients
 tensor([[4., 2., 2., 2., 2.],
        [2., 4., 2., 2., 2.],
        [2., 2., 4., 2., 2.],
        [2., 2., 2., 4., 2.],
        [2., 2., 2., 2., 4.]])
""",
}


def cells():
    """``{cell number: source}`` of the tutorial, split at its ``# In [N]:`` markers."""
    parts = re.split(r"^# In \[(\d+)\]:\n", TUTORIAL.read_text(), flags=re.M)
    return {int(n): src for n, src in zip(parts[1::2], parts[2::2])}


def replay(module):
    """Run every cell but the import with ``torch`` bound to ``module``; outputs per cell."""
    namespace = {"torch": module}
    outputs = {}
    for n, src in cells().items():
        if n == 1:
            assert src.strip() == "import autogradx as torch"
            continue
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(src, f"<cell {n}>", "exec"), namespace)
        outputs[n] = buf.getvalue()
    return outputs, namespace


def fixed_rand(module, values):
    """A ``rand`` for ``module`` that hands out ``values`` in order (same numbers for both)."""
    queue = list(values)

    def rand(*size, requires_grad=False, **kw):
        arr = queue.pop(0)
        return module.tensor(arr, requires_grad=requires_grad)

    return rand


SEED_VALUES = [np.random.default_rng(7).random((5, 3), dtype=np.float32),
               np.random.default_rng(8).random(3, dtype=np.float32)]


def mask_addresses(text):
    return re.sub(r"0x[0-9a-fA-F]+", "0x?", text)


def test_tutorial_cells_are_the_seed():
    assert sorted(cells()) == [1, 2, 3, 4, 5, 6, 20, 21, 22]


def test_deterministic_cells_print_exactly_the_tutorial_output():
    outputs, _ = replay(autogradx)
    for n, expected in EXPECTED.items():
        assert outputs[n] == expected, f"cell {n}"


def test_grad_fn_cell_names_the_nodes():
    outputs, _ = replay(autogradx)
    assert re.fullmatch(
        r"Gradient function for z = <AddBackward0 object at 0x[0-9a-f]+>\n"
        r"Gradient function for loss = <BinaryCrossEntropyWithLogitsBackward0 object at 0x[0-9a-f]+>\n",
        outputs[3])


def test_loss_gradients_are_right(monkeypatch):
    monkeypatch.setattr(autogradx, "rand", fixed_rand(autogradx, SEED_VALUES))
    outputs, ns = replay(autogradx)
    w, b = SEED_VALUES
    z = np.ones(5, np.float32) @ w + b
    expected = (1 / (1 + np.exp(-z))) / 3          # d/dz of mean BCE against zeros
    np.testing.assert_allclose(ns["b"].grad.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(ns["w"].grad.numpy(), np.tile(expected, (5, 1)), rtol=1e-6)
    lines = outputs[5].splitlines()
    assert lines[0] == "current grad after performing loss.backward()"
    row = ", ".join(f"{v:.4f}" for v in expected)
    assert lines[1] == f"tensor([[{row}],"
    assert lines[-1] == f"tensor([{row}])"


@pytest.mark.torch
def test_tutorial_prints_what_pytorch_prints(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(autogradx, "rand", fixed_rand(autogradx, SEED_VALUES))
    monkeypatch.setattr(torch, "rand", fixed_rand(torch, SEED_VALUES))
    ours, _ = replay(autogradx)
    theirs, _ = replay(torch)
    assert ours.keys() == theirs.keys()
    for n in ours:
        assert mask_addresses(ours[n]).splitlines() == mask_addresses(theirs[n]).splitlines(), \
            f"cell {n}"
