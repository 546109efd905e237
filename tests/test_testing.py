"""Tests of autogradx.testing.gradcheck: it accepts right vjps and rejects wrong ones clearly."""

import doctest

import numpy as np
import pytest

import autogradx as agx
import autogradx.testing
from autogradx.plugin import Op
from autogradx.testing import GradcheckError, gradcheck, gradgradcheck

_BINARY = ("input", "other")

# Ops built directly (not registered): calling one runs it through the engine.
good_square = Op("good_square", lambda xp, x: x * x, vjp=lambda xp, g, x: 2 * g * x,
                 save="input")
bad_square = Op("bad_square", lambda xp, x: x * x, vjp=lambda xp, g, x: g * x, save="input")
slightly_bad_square = Op("slightly_bad_square", lambda xp, x: x * x,
                         vjp=lambda xp, g, x: 2.02 * g * x, save="input")
no_grad_square = Op("no_grad_square", lambda xp, x: x * x, vjp=lambda xp, g, x: None,
                    save="input")
good_mul = Op("good_mul", lambda xp, a, b: a * b, inputs=_BINARY, save=_BINARY,
              vjp=(lambda xp, g, a, b: g * b, lambda xp, g, a, b: g * a))
# Right for ``input``, wrong for ``other`` (the gradient is ``g * a``).
bad_mul = Op("bad_mul", lambda xp, a, b: a * b, inputs=_BINARY, save=_BINARY,
             vjp=(lambda xp, g, a, b: g * b, lambda xp, g, a, b: g * b))
# A forward with a parameter after the inputs, passed through gradcheck untouched.
scaled_sum = Op("scaled_sum", lambda xp, x, dim, scale: scale * x.sum(axis=dim),
                vjp=lambda xp, g, x, dim, scale: xp.broadcast_to(
                    scale * xp.expand_dims(g, dim), x.shape),
                save="input")


def tensor(shape, seed=0, low=-2.0, high=2.0, dtype=agx.float64, requires_grad=True):
    data = np.random.default_rng(seed).uniform(low, high, shape)
    return agx.tensor(data, dtype=dtype, requires_grad=requires_grad)


# ---------------------------------------------------------------- accepts correct ones

@pytest.mark.parametrize("fn, shapes", [
    pytest.param(good_square, [(3,)], id="custom-op"),
    pytest.param(good_mul, [(2, 3), (3,)], id="custom-binary-op-broadcast"),
    pytest.param(lambda x: agx.exp(x) * x, [(2, 3)], id="exp-times-x"),
    pytest.param(lambda x, y: (x @ y).sum(1), [(2, 3), (3, 4)], id="matmul-sum"),
    pytest.param(lambda x, y: (x + y, x * y), [(3, 1), (1, 4)], id="tuple-output"),
    pytest.param(lambda x: x * 3.0, [()], id="0d"),
])
def test_accepts_correct_gradients(fn, shapes):
    inputs = tuple(tensor(s, seed=i) for i, s in enumerate(shapes))
    assert gradcheck(fn, inputs) is True


def test_accepts_a_single_tensor_instead_of_a_tuple():
    assert gradcheck(good_square, tensor((2, 2)))


def test_float32_inputs_are_checked_in_float64():
    x = tensor((4, 5), dtype=agx.float32)
    assert gradcheck(lambda t: agx.log(t * t + 1.0) * t, (x,))


def _doubled_in_float32(xp, g, input):
    """sin's vjp, wrong by a factor 2 only when it runs in float32."""
    return (2 if input.dtype == np.float32 else 1) * g * xp.cos(input)


SIN_WRONG_IN_FLOAT32 = Op("sin_wrong_in_float32", lambda xp, x: xp.sin(x),
                          vjp={"input": _doubled_in_float32})


def test_at_input_dtype_runs_backward_in_float32_against_float64_differences():
    x = tensor((4, 5), dtype=agx.float32)
    assert gradcheck(SIN_WRONG_IN_FLOAT32, (x,))      # float64 copies never see the bug
    with pytest.raises(GradcheckError, match=r"dtype torch.float32\): vjp mismatch in "
                                             r"direction 0 \(backward in torch.float32\)"):
        gradcheck(SIN_WRONG_IN_FLOAT32, (x,), atol=1e-4, at_input_dtype=True)
    # a correct op passes in float32 within float32's tolerance
    assert gradcheck(lambda t: agx.log(t * t + 1.0) * t, (x,), atol=1e-4, at_input_dtype=True)
    assert gradcheck(SIN_WRONG_IN_FLOAT32, (tensor((3,)),), at_input_dtype=True)   # float64


def test_passes_other_values_through():
    x = tensor((2, 3))
    assert gradcheck(scaled_sum, (x, 1, 2.5))


def test_passes_constant_tensors_through_unchanged():
    c = tensor((3,), requires_grad=False, dtype=agx.float32)
    seen = []

    def fn(x, c):
        seen.append(c)
        return x * c

    assert gradcheck(fn, (tensor((2, 3)), c))
    # float constants are float64 copies during the check; the caller's is untouched
    assert all(s.dtype == agx.float64 for s in seen)
    assert c.dtype == agx.float32 and not c.requires_grad


def test_non_tensor_inputs_and_none_pass_through():
    def fn(x, mode, extra):
        assert mode == "double" and extra is None
        return x * 2.0

    assert gradcheck(fn, (tensor((3,)), "double", None))


def test_input_that_does_not_influence_the_output_may_have_no_gradient():
    x, unused = tensor((3,)), tensor((2,), seed=1)
    assert gradcheck(lambda a, b: a * 2.0, (x, unused))


def test_outputs_that_do_not_depend_on_inputs():
    x = tensor((3,))
    assert gradcheck(lambda a: agx.ones(3, dtype=agx.float64), (x,))


def test_leaves_the_callers_inputs_alone():
    x = tensor((2, 3))
    before = x.detach().numpy().copy()
    assert gradcheck(lambda t: t * t, (x,))
    assert x.grad is None
    assert x.dtype == agx.float64 and x.requires_grad and x.is_leaf
    np.testing.assert_array_equal(x.detach().numpy(), before)


def test_deterministic_for_a_seed():
    x = tensor((3, 4))
    reports = []
    for _ in range(2):
        with pytest.raises(GradcheckError) as info:
            gradcheck(bad_square, (x,), seed=7)
        reports.append(str(info.value))
    assert reports[0] == reports[1]
    with pytest.raises(GradcheckError) as info:
        gradcheck(bad_square, (x,), seed=8)
    assert str(info.value) != reports[0]


# ---------------------------------------------------------------- rejects wrong ones

def test_rejects_a_wrong_vjp():
    x = tensor((3,))
    with pytest.raises(GradcheckError):
        gradcheck(bad_square, (x,))
    assert gradcheck(bad_square, (x,), raise_exception=False) is False


def test_gradcheck_error_is_an_assertion_error():
    assert issubclass(GradcheckError, AssertionError)


def test_report_names_the_input_and_the_numbers():
    x = tensor((3,))
    with pytest.raises(GradcheckError) as info:
        gradcheck(bad_square, (x,), atol=1e-5, rtol=1e-3)
    report = str(info.value)
    assert "bad_square" in report
    assert "input 0 (shape (3,), dtype torch.float64)" in report
    assert "analytic" in report and "numerical" in report and "difference" in report
    assert "atol" in report and "1e-05" in report and "rtol" in report and "0.001" in report
    # the numbers: analytic is exactly half the numerical value for this wrong vjp
    analytic = float(report.split("analytic  <vjp(u), v> = ")[1].split()[0])
    numerical = float(report.split("numerical <u, J v>    = ")[1].split()[0])
    assert analytic == pytest.approx(numerical / 2, rel=1e-6)


def test_report_names_only_the_wrong_input():
    a, b = tensor((2, 3)), tensor((3,), seed=1)
    with pytest.raises(GradcheckError) as info:
        gradcheck(bad_mul, (a, b))
    report = str(info.value)
    assert "input 1 (shape (3,), dtype torch.float64)" in report
    assert "input 0" not in report
    assert "inputs 0, 1 jointly" in report


def test_report_gives_the_original_dtype_of_float32_inputs():
    x = tensor((2, 2), dtype=agx.float32)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 2\), dtype torch\.float32\)"):
        gradcheck(bad_square, (x,))


def test_tolerances_are_applied():
    x = tensor((3,))
    assert not gradcheck(slightly_bad_square, (x,), raise_exception=False)
    assert gradcheck(slightly_bad_square, (x,), rtol=0.05)


def test_missing_gradient_of_an_input_the_output_depends_on():
    x = tensor((3,))
    with pytest.raises(GradcheckError, match="no gradient \\(None\\)") as info:
        gradcheck(no_grad_square, (x,))
    assert "input 0 (shape (3,)" in str(info.value)


def _leaves_with_bad_grads(monkeypatch, bad):
    """Make gradcheck's input copies report ``bad(grad)`` as their ``.grad``.

    The engine always conforms gradients to their input, so a wrong one is
    simulated by a Tensor subclass whose ``grad`` lies.
    """
    from autogradx._core.tensor import TensorBase

    class Lying(agx.Tensor):
        __slots__ = ()

        @property
        def grad(self):
            g = TensorBase.grad.__get__(self, type(self))
            return None if g is None else bad(g)

    def leaf(array, requires_grad=False):
        t = Lying.__new__(Lying)
        t._data = array
        if requires_grad:
            t.requires_grad = True
        return t

    monkeypatch.setattr(autogradx.testing, "wrap", leaf)


def test_gradient_of_the_wrong_dtype_is_reported(monkeypatch):
    _leaves_with_bad_grads(monkeypatch, lambda g: agx.tensor(g.numpy().astype(np.float32)))
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\), dtype torch.float64\): "
                                             r"backward \(in float64\) gave a gradient of shape "
                                             r"\(3,\) and dtype torch.float32; expected shape "
                                             r"\(3,\) and dtype torch.float64"):
        gradcheck(lambda x: x * 2.0, (tensor((3,)),))


def test_gradient_of_the_wrong_dtype_at_the_inputs_dtype_is_reported(monkeypatch):
    _leaves_with_bad_grads(monkeypatch, lambda g: agx.tensor(g.numpy().astype(np.float64)))
    with pytest.raises(GradcheckError, match=r"backward \(at the input's dtype\) gave a gradient "
                                             r"of shape \(2,\) and dtype torch.float64; "
                                             r"expected shape \(2,\) and dtype torch.float32"):
        gradcheck(lambda x: x * 2.0, (tensor((2,), dtype=agx.float32),))


def test_gradient_of_the_wrong_shape_is_reported(monkeypatch):
    _leaves_with_bad_grads(monkeypatch, lambda g: agx.tensor(np.zeros((1,) + tuple(g.shape))))
    with pytest.raises(GradcheckError, match=r"gave a gradient of shape \(1, 3\)") as info:
        gradcheck(lambda x, y: x * y, (tensor((3,)), tensor((3,), seed=1)))
    # no value comparison is attempted with a gradient of the wrong shape
    assert "vjp mismatch" not in str(info.value)


# ---------------------------------------------------------------- bad arguments

def test_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="require gradient"):
        gradcheck(lambda x: x * 2.0, (tensor((3,), requires_grad=False),))


def test_fn_must_return_tensors():
    with pytest.raises(TypeError, match="output 0 is a float"):
        gradcheck(lambda x: 1.0, (tensor((3,)),))


def test_docstring_example_runs():
    result = doctest.testmod(autogradx.testing, raise_on_error=False, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0


# ---------------------------------------------------------------- gradgradcheck

def _is_tensor(v):
    return hasattr(v, "detach")


# Right first-order vjps whose gradients-of-gradients go wrong in different ways.
# On arrays (first order) these are 2 g x; on tensors (create_graph) they differ.
detached_square = Op(
    "detached_square", lambda xp, x: x * x, save="input",
    vjp=lambda xp, g, x: 2 * g * (x.detach() if _is_tensor(x) else x))
off_square = Op(
    "off_square", lambda xp, x: x * x, save="input",
    vjp=lambda xp, g, x: 2 * g * x + (5 * g * (x - x.detach()) if _is_tensor(x) else 0))
cut_square = Op(
    "cut_square", lambda xp, x: x * x, save="input",
    vjp=lambda xp, g, x: 2 * (g.detach() if _is_tensor(g) else g) * x)
numpy_only_sin = Op("numpy_only_sin", lambda xp, x: xp.sin(x), save="input",
                    vjp=lambda xp, g, x: g * xp.cos(x) * xp.sinc(0.0))


@pytest.mark.parametrize("fn, shapes", [
    pytest.param(good_square, [(3,)], id="custom-op"),
    pytest.param(good_mul, [(2, 3), (3,)], id="custom-binary-op-broadcast"),
    pytest.param(lambda x: agx.exp(x) * x, [(2, 3)], id="exp-times-x"),
    pytest.param(lambda x, y: (x @ y).sum(1), [(2, 3), (3, 4)], id="matmul-sum"),
    pytest.param(lambda x, y: (x / y, x ** y), [(3, 1), (1, 4)], id="tuple-output"),
    pytest.param(lambda x: x * 3.0 + 1.0, [(2,)], id="linear"),
    pytest.param(lambda x: (x ** 3).sum(), [()], id="0d"),
])
def test_gradgradcheck_accepts_correct_second_derivatives(fn, shapes):
    inputs = tuple(tensor(s, seed=i, low=0.5) for i, s in enumerate(shapes))
    assert gradgradcheck(fn, inputs) is True


def test_gradgradcheck_float32_inputs_and_pass_through_values():
    x = tensor((2, 3), dtype=agx.float32)
    assert gradgradcheck(scaled_sum, (x, 1, 2.5))
    assert gradgradcheck(lambda a, mode: agx.sin(a) * a if mode == "sin" else a, (x, "sin"))


def test_gradgradcheck_missing_second_derivative_is_reported():
    x = tensor((3,))
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(detached_square, (x,))
    report = str(info.value)
    assert report.startswith("gradgradcheck of detached_square failed")
    assert "input 0 (shape (3,), dtype torch.float64): second-order mismatch" in report
    assert "the gradient of <vjp(u), v> is None" in report


def test_gradgradcheck_wrong_second_derivative_is_reported_with_numbers():
    x = tensor((3,))
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(off_square, (x,), n_directions=1)
    report = str(info.value)
    assert "input 0 (shape (3,), dtype torch.float64): second-order mismatch in direction 0" \
        in report
    assert "  grad_output 0 (cotangent" not in report             # only the input is wrong
    analytic = float(report.split("analytic  <grad <vjp(u), v>, w> = ")[1].split()[0])
    numerical = float(report.split("numerical (finite difference)   = ")[1].split()[0])
    assert analytic == pytest.approx(numerical * 3.5, rel=1e-6)    # (2 + 5) / 2
    assert "atol + rtol * |numerical|" in report


def test_gradgradcheck_vjp_cut_from_its_cotangent_is_reported():
    x = tensor((3,))
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(cut_square, (x,))
    report = str(info.value)
    assert "grad_output 0 (cotangent of output 0, shape (3,)): second-order mismatch" in report
    assert "input 0 (shape" not in report.split("\n")[1]


def test_gradgradcheck_reports_an_error_while_differentiating():
    x = tensor((3,))
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(numpy_only_sin, (x,))
    assert "differentiating the gradients (create_graph=True) raised AttributeError: " \
           "numpy.sinc has no autogradx counterpart" in str(info.value)
    assert isinstance(info.value.__cause__, AttributeError)
    assert gradgradcheck(numpy_only_sin, (x,), raise_exception=False) is False


def test_gradgradcheck_fixed_grad_outputs():
    x = tensor((2, 3))
    u = agx.tensor(np.arange(6.0).reshape(2, 3))
    assert gradgradcheck(lambda a: a ** 3, (x,), u)
    # fixed cotangents that do not require grad are not variables: a vjp cut from them passes
    assert gradgradcheck(cut_square, (tensor((3,)),), agx.ones(3, dtype=agx.float64))
    with pytest.raises(GradcheckError, match="grad_output 0"):
        gradgradcheck(cut_square, (tensor((3,)),),
                      agx.ones(3, dtype=agx.float64, requires_grad=True))


def test_gradgradcheck_bad_grad_outputs():
    x = tensor((3,))
    with pytest.raises(ValueError, match="2 grad_outputs given for 1 outputs"):
        gradgradcheck(lambda a: a * a, (x,), (agx.ones(3), agx.ones(3)))
    with pytest.raises(ValueError, match=r"grad_outputs\[0\] must be a tensor of shape \(3,\)"):
        gradgradcheck(lambda a: a * a, (x,), agx.ones(2))


def test_gradgradcheck_leaves_the_callers_inputs_alone():
    x = tensor((2, 3))
    before = x.detach().numpy().copy()
    assert gradgradcheck(lambda a: a.sin() * a, (x,))
    assert x.grad is None and x.is_leaf
    np.testing.assert_array_equal(x.detach().numpy(), before)


def test_gradgradcheck_is_deterministic_for_a_seed():
    x = tensor((3, 2))
    reports = []
    for seed in (1, 1, 2):
        with pytest.raises(GradcheckError) as info:
            gradgradcheck(off_square, (x,), seed=seed)
        reports.append(str(info.value))
    assert reports[0] == reports[1] != reports[2]


def test_gradgradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="gradgradcheck expects at least one input tensor"):
        gradgradcheck(lambda x: x * 2.0, (tensor((3,), requires_grad=False),))
