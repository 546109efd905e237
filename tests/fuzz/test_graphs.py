"""Random autograd programs (``programs.py``) run in autogradx and in PyTorch, in float64:
each value as made (values, ``requires_grad``, ``is_leaf``, ``grad_fn`` name), every value
at the end (after the in-place steps), the exception type of the step or phase that fails
(an in-place change of a saved value, of a leaf that requires grad, a second backward), the
gradients returned by ``autograd.grad`` and each leaf's ``.grad`` (None too) must agree."""

import warnings

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from hypothesis import given, settings  # noqa: E402

import autogradx as agx  # noqa: E402
from fuzz.calls import examples  # noqa: E402
from fuzz.known import BUG, Known, missing_regression_tests  # noqa: E402
from fuzz.programs import SQUARED, UNNEEDED, programs, run  # noqa: E402


RTOL, ATOL = 1e-7, 1e-10


def _same_array(what, a, t):
    if a is None or t is None:
        assert (a is None) == (t is None), f"{what}: " + ("None" if a is None else "a tensor") \
            + ", PyTorch's " + ("None" if t is None else "a tensor")
        return
    assert a.shape == t.shape, f"{what}: shape {a.shape} != PyTorch's {t.shape}"
    np.testing.assert_allclose(a, t, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=what)


def _same_snapshot(what, a, t):
    _same_array(what, a[0], t[0])
    # A batched matmul's node (README: a documented difference); PyTorch's result may be
    # one of its internal views, which an in-place step then names AsStridedBackward0.
    if "@" in what and (a[3] == "UnsafeViewBackward0" or t[3] == "AsStridedBackward0"):
        t = t[:3] + (a[3],)
    assert a[1:] == t[1:], f"{what}: (requires_grad, is_leaf, grad_fn) {a[1:]} != PyTorch's " \
                           f"{t[1:]}"


def compare(got, expected, program):
    """Assert that autogradx's trace of ``program`` is PyTorch's."""
    error = got.error and (got.error[0], got.error[1].__name__)
    torch_error = expected.error and (expected.error[0], expected.error[1].__name__)
    assert error == torch_error, f"failure: autogradx {error}, PyTorch {torch_error}"
    texts = program.texts()
    for k, (a, t) in enumerate(zip(got.made, expected.made)):
        step = program.steps[k]
        origin = f", changing {texts[step.operands[0]]}" if step.inplace else ""
        _same_snapshot(f"step {k} ({step.text}{origin})", a, t)
    for text, a, t in zip(texts, got.final, expected.final):
        _same_snapshot(f"{text}, at the end", a, t)
    for i, (a, t) in enumerate(zip(got.returned, expected.returned)):
        _same_array(f"autograd.grad's gradient {i}", a, t)
    for i, (a, t) in enumerate(zip(got.grads, expected.grads)):
        _same_array(f"v{i}.grad", a, t)


_PROGRAM = ["program"]

#: The discrepancies the programs found (see known.py); ``when`` gets the program.
KNOWN = [
    Known(_PROGRAM, r"^failure: autogradx \('second backward', 'RuntimeError'\), PyTorch None",
          BUG + "test_backward_twice_through_a_graph_that_saved_nothing"),
    Known(_PROGRAM, "^failure:", BUG + "test_inplace_change_of_an_input_backward_does_not_need",
          lambda program: UNNEEDED in program.changed),
    Known(_PROGRAM, "^failure:", BUG + "test_inplace_change_of_a_squared_value",
          lambda program: SQUARED in program.changed),
    Known(_PROGRAM, r"\.reshape.*'ViewBackward0'\) != PyTorch's \(.*'UnsafeViewBackward0'\)",
          BUG + "test_grad_fn_name_matches_torch"),
    # a slice from a negative start records the node of the op before it
    Known(_PROGRAM, r"slice\(-.*!= PyTorch's \(.*'SliceBackward0'\)",
          BUG + "test_grad_fn_name_matches_torch"),
    # PyTorch's own aliasing: after a first backward, 0-d leaves' .grad share one buffer
    # of ones, so the second backward adds twice (3 where it is 2); autogradx gives 2
    Known(_PROGRAM, r"v\d+\.grad[\s\S]*ACTUAL: array\(2\.\)\s+DESIRED: array\(3\.\)",
          "PyTorch's bug, not autogradx's: "
          "test_regressions.py::test_stacked_leaves_get_one_gradient_per_backward",
          lambda program: program.mode.startswith("backward twice")),
    Known(_PROGRAM, r"\.grad: None, PyTorch's a tensor",
          BUG + "test_second_order_gradient_through_a_kink_is_zero",
          lambda program: program.mode == "grad, create_graph"),
]


def test_known_bugs_have_regression_tests():
    missing = missing_regression_tests(KNOWN)
    assert not missing, f"no such test in test_regressions.py: {missing}"


@pytest.mark.torch
@settings(max_examples=examples(150))
@given(program=programs())
def test_programs_match_torch(program):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        # NumPy's warnings (overflow, mean of an empty slice) pass through: see the README
        warnings.simplefilter("ignore", RuntimeWarning)
        expected, got = run(torch, program), run(agx, program)
    try:
        compare(got, expected, program)
    except AssertionError as e:
        if not any(known.matches("program", e, program) for known in KNOWN):
            raise
