"""Anomaly mode: a NaN produced in backward is an error naming the node and showing the
forward call that created it; off by default."""

import numpy as np
import pytest

import autogradx as agx
from autogradx.autograd import detect_anomaly, is_anomaly_enabled, set_detect_anomaly

NAN = float("nan")


@pytest.fixture(autouse=True)
def anomaly_off_after():
    yield
    set_detect_anomaly(False)


def nan_in_second_gradient():
    """``a / b`` whose gradient for ``b`` (the node's output 1) is NaN; no NumPy warnings."""
    a = agx.tensor([NAN, 1.0], dtype=agx.float64)
    b = agx.tensor([2.0, 4.0], dtype=agx.float64, requires_grad=True)
    return b, (a / b).sum()        # marker: the forward line the traceback must show


def anomaly_error(fn):
    """Run ``fn`` expecting anomaly mode's error; returns (error text, warning texts)."""
    with pytest.warns(Warning) as warned, pytest.raises(RuntimeError) as info:
        fn()
    return str(info.value), [str(w.message) for w in warned]


def test_off_by_default():
    assert not is_anomaly_enabled()
    b, y = nan_in_second_gradient()
    assert "traceback_" not in y.grad_fn.next_functions[0][0].metadata
    y.backward()                    # NaN gradients pass silently, as in PyTorch
    assert np.isnan(b.grad.numpy()[0])


def test_error_names_the_node_and_the_output_index():
    with detect_anomaly():
        b, y = nan_in_second_gradient()
        text, warned = anomaly_error(y.backward)
    assert text.startswith("Function 'DivBackward0' returned nan values in its 1th output.")
    assert b.grad is None           # the error stopped the sweep before the leaf


def test_error_includes_the_forward_traceback():
    with detect_anomaly():
        b, y = nan_in_second_gradient()
        text, warned = anomaly_error(y.backward)
    assert "Traceback of forward call that caused the error" in text
    assert "return b, (a / b).sum()        # marker" in text
    assert "in nan_in_second_gradient" in text and "test_anomaly.py" in text
    assert any(w.startswith("Error detected in DivBackward0") and "(a / b).sum()" in w
               for w in warned)


def test_first_output_index():
    with detect_anomaly():
        x = agx.tensor([1.0, 2.0], dtype=agx.float64, requires_grad=True)
        y = x * agx.tensor([NAN, 1.0], dtype=agx.float64)
        text, _ = anomaly_error(lambda: y.sum().backward())
    assert text.startswith("Function 'MulBackward0' returned nan values in its 0th output.")


def test_nan_from_autograd_grad_and_create_graph():
    with detect_anomaly():
        b, y = nan_in_second_gradient()
        text, _ = anomaly_error(lambda: agx.autograd.grad(y, b, create_graph=True))
    assert "DivBackward0" in text


def test_custom_function_is_named_with_its_forward_traceback():
    class Poison(agx.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g * NAN

    with detect_anomaly():
        x = agx.tensor([1.0], requires_grad=True)
        y = Poison.apply(x)   # poison marker
        text, _ = anomaly_error(lambda: y.sum().backward())
    assert text.startswith("Function 'PoisonBackward' returned nan values in its 0th output.")
    assert "# poison marker" in text


def test_nodes_recorded_before_enabling_have_no_traceback():
    b, y = nan_in_second_gradient()
    with detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            y.backward()
    assert str(info.value) == "Function 'DivBackward0' returned nan values in its 1th output."


def test_finite_gradients_pass_in_anomaly_mode():
    with detect_anomaly():
        x = agx.tensor([1.0, 2.0], requires_grad=True)
        (x.exp() * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]) * [2.0, 3.0], rtol=1e-6)


def test_check_nan_false_does_not_check():
    with detect_anomaly(check_nan=False):
        b, y = nan_in_second_gradient()
        y.backward()
    assert np.isnan(b.grad.numpy()[0])


def test_detect_anomaly_restores_the_previous_state():
    with detect_anomaly():
        assert is_anomaly_enabled()
        with detect_anomaly():
            assert is_anomaly_enabled()
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()
    with pytest.raises(ValueError):
        with detect_anomaly():
            raise ValueError
    assert not is_anomaly_enabled()


def test_detect_anomaly_as_a_decorator():
    @detect_anomaly()
    def inside():
        return is_anomaly_enabled()

    assert inside() and not is_anomaly_enabled()


def test_set_detect_anomaly_as_a_function():
    set_detect_anomaly(True)
    assert is_anomaly_enabled()
    b, y = nan_in_second_gradient()
    with pytest.warns(Warning), pytest.raises(RuntimeError, match="DivBackward0"):
        y.backward()
    set_detect_anomaly(False)
    assert not is_anomaly_enabled()


def test_set_detect_anomaly_as_a_context_manager():
    with set_detect_anomaly(True):
        assert is_anomaly_enabled()
        with set_detect_anomaly(False):
            assert not is_anomaly_enabled()
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()


def test_exported_where_pytorch_has_them():
    assert agx.autograd.detect_anomaly is detect_anomaly
    assert agx.autograd.set_detect_anomaly is set_detect_anomaly
    assert agx.autograd.is_anomaly_enabled is is_anomaly_enabled


@pytest.mark.torch
def test_error_text_matches_torch():
    torch = pytest.importorskip("torch")

    def run(lib):
        a = lib.tensor([NAN, 1.0], dtype=lib.float64)
        b = lib.tensor([2.0, 4.0], dtype=lib.float64, requires_grad=True)
        # torch also warns when anomaly mode is turned on
        with pytest.warns(Warning) as warned, lib.autograd.detect_anomaly():
            y = (a / b).sum()
            with pytest.raises(RuntimeError) as info:
                y.backward()
        return str(info.value), [str(w.message) for w in warned]

    (ours, _), (theirs, their_warnings) = run(agx), run(torch)
    assert ours.splitlines()[0] == theirs
    assert any(w.startswith("Error detected in DivBackward0") for w in their_warnings)
