"""Anomaly mode: a NaN produced in backward is an error naming the node; a node whose
backward fails is reported in a warning showing the forward call that created it (and
the nodes whose backward created it); off by default."""

import warnings

import numpy as np
import pytest

import autogradx as agx
from autogradx.autograd import detect_anomaly, is_anomaly_enabled, set_detect_anomaly

NAN = float("nan")
ENABLED = ("Anomaly Detection has been enabled. This mode will increase the runtime and should "
           "only be enabled for debugging.")

# Each detect_anomaly() warns ENABLED, as in PyTorch; test_entering_warns checks it, the
# other tests let it pass.
pytestmark = pytest.mark.filterwarnings("ignore:Anomaly Detection has been enabled:UserWarning")


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


def test_warning_shows_the_forward_traceback():
    with detect_anomaly():
        b, y = nan_in_second_gradient()
        text, warned = anomaly_error(y.backward)
    assert text == "Function 'DivBackward0' returned nan values in its 1th output."
    (report,) = warned
    assert report.startswith("Error detected in DivBackward0. Traceback of forward call that "
                             "caused the error:\n")
    assert "return b, (a / b).sum()        # marker" in report
    assert "in nan_in_second_gradient" in report and "test_anomaly.py" in report


def test_entering_warns():
    with pytest.warns(UserWarning) as warned:
        mode = detect_anomaly()
    assert [str(w.message) for w in warned] == [ENABLED]
    assert warned[0].filename == __file__       # the caller's line, as in PyTorch
    assert not is_anomaly_enabled()             # on only inside the with block
    with mode:
        assert is_anomaly_enabled()


def test_any_backward_error_is_reported_with_the_forward_traceback():
    with detect_anomaly():
        a = agx.randn(5, requires_grad=True)
        d1 = a + 1
        d2 = d1 ** 2        # pow marker
        d1 += 1
        with pytest.warns(UserWarning) as warned, pytest.raises(RuntimeError, match="inplace"):
            agx.autograd.grad(d2.sum(), a)
    (report,) = [str(w.message) for w in warned]
    assert report.startswith("Error detected in PowBackward0. Traceback of forward call")
    assert "# pow marker" in report


def test_a_report_the_filters_make_an_error_goes_to_stderr(capsys):
    # The backward's own error is raised, not the warning, as in PyTorch.
    with detect_anomaly():
        b, y = nan_in_second_gradient()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(RuntimeError, match="returned nan values"):
                y.backward()
    err = capsys.readouterr().err
    assert "UserWarning: Error detected in DivBackward0. Traceback of forward call" in err


class Outer(agx.autograd.Function):
    """Its backward applies Inner, whose backward gives NaN for Inner's second input."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return Inner.apply(g * x, g + x)      # inner marker


class Inner(agx.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        return a * 2 + b

    @staticmethod
    def backward(ctx, g):
        return g * 2, g * NAN


def nested_reports(lib, outer, inner, forward_in_anomaly_mode):
    """The warnings of a double backward through ``outer`` (made in anomaly mode or not)
    that fails in the ``inner`` node its backward made."""
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        with lib.autograd.detect_anomaly():
            x = lib.rand(3, requires_grad=True)
            if not forward_in_anomaly_mode:
                with lib.autograd.set_detect_anomaly(False):
                    out = outer.apply(x)
                    (gx,) = lib.autograd.grad(out.sum(), x, create_graph=True)
            else:
                out = outer.apply(x)   # outer marker
                (gx,) = lib.autograd.grad(out.sum(), x, create_graph=True)
            with pytest.raises(RuntimeError) as info:
                gx.sum().backward()
    return str(info.value), [str(w.message) for w in warned][1:]


def test_a_node_made_by_a_backward_reports_that_backward_too():
    text, reports = nested_reports(agx, Outer, Inner, True)
    assert text == "Function 'InnerBackward' returned nan values in its 1th output."
    assert len(reports) == 2
    assert reports[0].startswith("Error detected in InnerBackward. Traceback of forward call")
    assert "# inner marker" in reports[0]
    assert reports[1].startswith("\n\nPrevious calculation was induced by OuterBackward. "
                                 "Traceback of forward call that induced the previous "
                                 "calculation:\n")
    assert "# outer marker" in reports[1]


def test_a_node_made_outside_anomaly_mode_has_no_forward_information():
    text, reports = nested_reports(agx, Outer, Inner, False)
    assert reports == ["Error detected in InnerBackward. No forward pass information available. "
                       "Enable detect anomaly during forward pass for more information."]


@pytest.mark.torch
@pytest.mark.parametrize("forward_in_anomaly_mode", [True, False])
def test_nested_reports_as_in_torch(forward_in_anomaly_mode):
    torch = pytest.importorskip("torch")

    def classes(lib):
        class Outer(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * 2

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return Inner.apply(g * x, g + x)

        class Inner(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                return a * 2 + b

            @staticmethod
            def backward(ctx, g):
                return g * 2, g * NAN
        return Outer, Inner

    def first_lines(lib):
        text, reports = nested_reports(lib, *classes(lib), forward_in_anomaly_mode)
        # torch appends where in its C++ the warning was raised
        return text, [r.split(" (Triggered internally")[0].strip().split(":")[0] for r in reports]

    assert first_lines(agx) == first_lines(torch)


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
        text, warned = anomaly_error(lambda: y.sum().backward())
    assert text == "Function 'PoisonBackward' returned nan values in its 0th output."
    assert warned[0].startswith("Error detected in PoisonBackward. Traceback of forward call")
    assert "# poison marker" in warned[0]


def test_nodes_recorded_before_enabling_have_no_traceback():
    b, y = nan_in_second_gradient()
    with detect_anomaly():
        text, warned = anomaly_error(y.backward)
    assert text == "Function 'DivBackward0' returned nan values in its 1th output."
    assert warned == ["Error detected in DivBackward0. No forward pass information available. "
                      "Enable detect anomaly during forward pass for more information."]


def test_finite_gradients_pass_in_anomaly_mode():
    with detect_anomaly():
        x = agx.tensor([1.0, 2.0], requires_grad=True)
        (x.exp() * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]) * [2.0, 3.0], rtol=1e-6)


def test_check_nan_false_does_not_check():
    with detect_anomaly(check_nan=False):
        assert is_anomaly_enabled() and not agx.is_anomaly_check_nan_enabled()
        b, y = nan_in_second_gradient()
        y.backward()
    assert np.isnan(b.grad.numpy()[0])
    assert "traceback_" in y.grad_fn.metadata       # the tracebacks are kept all the same
    assert agx.is_anomaly_check_nan_enabled()


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
