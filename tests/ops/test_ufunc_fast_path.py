"""Ops that declare ``ufunc=`` are computed by that NumPy ufunc when called without
parameters: it must give exactly what their forward gives, and leave errors to it."""

import numpy as np
import pytest

import autogradx as ag
from autogradx._registry import REGISTRY

UFUNC_OPS = sorted(name for name, op in REGISTRY.load().ops.items() if op.numpy_ufunc is not None)

OPERANDS = {
    "float32": np.array([[-1.5, 0.0], [2.25, 3.0]], np.float32),
    "float64": np.array([0.5, -4.0], np.float64),
    "int64": np.array([3, -7], np.int64),
    "bool": np.array([True, False]),
    "0-d": np.array(2.5, np.float32),
    "float": 1.0001,
    "int": 3,
}


def test_the_arithmetic_ops_declare_their_ufunc():
    assert {"add", "sub", "mul", "neg"} <= set(UFUNC_OPS)


@pytest.mark.parametrize("name", UFUNC_OPS)
def test_ufunc_equals_the_forward(name):
    op = REGISTRY.load().ops[name]
    arrays = [k for k, v in OPERANDS.items() if isinstance(v, np.ndarray)]
    combos = ([(k,) for k in arrays] if op.n_inputs == 1
              else [(a, b) for a in arrays for b in OPERANDS])
    checked = 0
    for combo in combos:
        values = [OPERANDS[k] for k in combo]
        try:
            expected = op.forward(np, *values)
        except Exception as e:       # the fast path must fail the same way (through the forward)
            with pytest.raises(type(e)):
                getattr(ag, name)(*[ag.tensor(v) if isinstance(v, np.ndarray) else v for v in values])
            continue
        got = op.numpy_ufunc(*values)
        assert got.dtype == expected.dtype and got.shape == expected.shape, combo
        np.testing.assert_array_equal(got, expected, err_msg=str(combo))
        checked += 1
    assert checked


def test_bool_subtraction_keeps_pytorch_error():
    t = ag.tensor([True, False])
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool"):
        t - t
