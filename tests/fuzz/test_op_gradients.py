"""Every differentiable op, called with drawn shapes (0-d, size-1 and broadcasting ones),
dims, parameters and values (see the strategies in ``calls_*.py``):

* its gradients agree with finite differences in float64 (``autogradx.testing.gradcheck``);
* with its data inputs in drawn dtypes (float16/32/64, integers, bool), it gives what
  PyTorch gives: the same exception type, or outputs of the same dtype, shape, values,
  ``requires_grad`` and ``grad_fn`` name; then, backward from the same random output
  gradients, the same exception type or the same gradient (or None) for each input.

The ops come from the registry; ``test_every_op_is_covered`` holds autogradx's own plugins
to a strategy (or a stated reason) for each of them.
"""

import warnings

import numpy as np
import pytest

pytest.importorskip("hypothesis")

from hypothesis import given, settings, strategies as st  # noqa: E402

import autogradx as agx  # noqa: E402
from autogradx.testing import gradcheck  # noqa: E402
from fuzz.calls import examples  # noqa: E402
from fuzz.known import BUG, Known, builtin, missing_regression_tests  # noqa: E402
from fuzz.op_strategies import (CALLS, EXCLUDED, NO_GRADCHECK, differentiable_ops,  # noqa: E402
                                drawn_ops, gradcheck_ops, held_to_completeness)


@pytest.mark.parametrize("name", gradcheck_ops())
@settings(max_examples=examples(6))
@given(data=st.data())
def test_gradients_match_finite_differences(name, data):
    call = data.draw(CALLS[name], label="call")
    assert call.n_data, f"the strategy of {name} drew a call without a data input"
    if not call.finite_differences:
        return      # a gradient that differs from them by definition: compared with PyTorch's
    gradcheck(call.bind(agx), call.tensors(agx), eps=call.fd_step)


def test_every_op_is_covered():
    """Each op with a vjp of autogradx's own plugins has a strategy or a reason, and every
    name in the tables is an op (or one of an optional plugin's)."""
    ops = differentiable_ops()
    missing = sorted(name for name, op in ops.items()
                     if held_to_completeness(op) and name not in CALLS and name not in EXCLUDED)
    assert not missing, f"ops with a vjp but no strategy and no reason: {missing}"
    for table in (EXCLUDED, NO_GRADCHECK):
        assert all(str(reason).strip() for reason in table.values())
        stale = sorted(set(table) - set(ops))
        assert not stale, f"not registered ops with a vjp: {stale}"
    assert not set(EXCLUDED) & set(CALLS)


def test_other_plugins_ops():
    """The one report of the ops of other installed plugins that no strategy draws."""
    unchecked = sorted(name for name, op in differentiable_ops().items()
                       if name not in CALLS and not held_to_completeness(op))
    if unchecked:
        pytest.skip(f"{len(unchecked)} ops of other plugins not fuzzed: {unchecked}")


# ---------------------------------------------------------------- against PyTorch

DTYPES = ["float64", "float32", "float16", "int64", "int32", "uint8", "bool"]
TOLERANCES = {"float16": (1e-2, 1e-2), "float32": (1e-4, 1e-5), "float64": (1e-9, 1e-11)}


def _guarded(fn):
    """``(fn(), None)`` or ``(None, the built-in type of the exception it raised)``. Warnings
    count as errors, as in the rest of the suite, but for NumPy's floating point warnings
    (``divide by zero encountered in log``), which autogradx lets through on purpose, and
    a note of PyTorch's."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.filterwarnings("ignore", ".* encountered in ", RuntimeWarning)
            # PyTorch's note on its own implementation (a padded copy), not about the call
            warnings.filterwarnings("ignore", "Using padding='same' with even kernel", UserWarning)
            return fn(), None
    except Exception as e:      # noqa: BLE001 - the type is what is compared
        return None, builtin(type(e))


def _differentiable(out):
    return hasattr(out, "grad_fn") and out.requires_grad and out.dtype.is_floating_point


class _Run:
    """The call in one library: its inputs, then its outputs (a tuple) or the error of the
    forward, then the error of backward, if any, from the floating outputs with the same
    random gradients in both libraries."""

    def __init__(self, lib, call, dtypes):
        self.inputs = call.tensors(lib, dtypes)
        out, self.error = _guarded(lambda: call.bind(lib)(*self.inputs))
        self.outputs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        self.backward_error = None
        roots = [o for o in self.outputs if _differentiable(o)] if self.error is None else []
        if roots:
            rng = np.random.default_rng(0)
            grads = [lib.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype)
                     for o in roots]
            _, self.backward_error = _guarded(lambda: lib.autograd.backward(roots, grads))


def _assert_same_error(what, error, torch_error):
    def raised(e):
        return "nothing" if e is None else e.__name__
    assert error is torch_error, f"{what}: autogradx raises {raised(error)}, PyTorch " \
                                 f"{raised(torch_error)}"


def _node_name(node):
    """A node's name without the namespace of PyTorch's C++ nodes."""
    return node.name().rpartition("::")[2]


def _compare_output(k, a, t, random, dtypes):
    if not hasattr(t, "dtype"):
        assert a == t, f"output {k}: {a!r} != PyTorch's {t!r}"
        return
    what = f"output {k}"
    assert str(a.dtype) == str(t.dtype), f"{what}: dtype {a.dtype} != PyTorch's {t.dtype}"
    assert tuple(a.shape) == tuple(t.shape), f"{what}: shape {tuple(a.shape)} != {tuple(t.shape)}"
    # Only floating point results can require grad in autogradx; PyTorch lets an integer
    # tensor compared in place with a float one that requires grad (x.le_(y)) require it too.
    if t.dtype.is_floating_point:
        assert a.requires_grad == t.requires_grad, f"{what}: requires_grad"
    if t.grad_fn is not None and t.dtype.is_floating_point:
        assert a.grad_fn is not None, f"{what}: no grad_fn"
        assert _node_name(a.grad_fn) == _node_name(t.grad_fn), \
            f"{what}: grad_fn {_node_name(a.grad_fn)} != PyTorch's {_node_name(t.grad_fn)}"
    if not random:
        _assert_values(what, a, t, dtypes)


def _tolerance(dtypes, result):
    """``(rtol, atol)`` for results computed from inputs of ``dtypes``: those of the least
    precise floating dtype among them and the result's."""
    floats = [d for d in list(dtypes) + [str(result)] if d in TOLERANCES]
    return max(TOLERANCES[d] for d in floats)


def _assert_values(what, a, t, dtypes):
    # clone: PyTorch's gradients of sgn are "zero tensors", which refuse numpy()
    got, expected = a.detach().numpy(), t.detach().clone().numpy()
    if expected.dtype.kind == "f":
        rtol, atol = _tolerance(dtypes, expected.dtype)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=what)
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)


def _compare_gradients(got, expected, dtypes):
    for i, (a, t) in enumerate(zip(got.inputs, expected.inputs)):
        what = f"gradient of input {i}"
        assert (a.grad is None) == (t.grad is None), f"{what}: " + (
            "None, PyTorch gives one" if a.grad is None else "PyTorch gives None")
        if t.grad is not None:
            assert str(a.grad.dtype) == str(t.grad.dtype), f"{what}: dtype"
            _assert_values(what, a.grad, t.grad, dtypes)


_NAME = BUG + "test_grad_fn_name_matches_torch"
_ERROR_TYPE = BUG + "test_error_type_matches_torch"
_REFUSED = BUG + "test_pytorch_refuses_it"
_ACCEPTED = BUG + "test_mixed_dtypes_that_pytorch_accepts"
_COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")
_LINALG = ("det", "inv", "slogdet", "solve", "linalg_norm", "matrix_norm")
_SPECIAL = ("special.i0", "special.i0e", "special.i1", "special.i1e", "special.erfinv",
            "special.digamma", "special.polygamma", "special.gammaln")
_CONV = ("conv1d", "conv2d", "conv3d")
_PRODUCTS = ("matmul", "mm", "bmm", "mv", "dot", "linear")


class Case:
    """What ``Known.when`` gets: the drawn call and dtypes."""

    def __init__(self, call, dtypes):
        self.call, self.dtypes = call, dtypes


def _mixed(case):
    return len(set(case.dtypes)) > 1


def _several_inputs(case):
    return len(case.dtypes) > 1


def _has(dtype):
    return lambda case: dtype in case.dtypes


def _first_is_not_float(case):
    return case.dtypes[0][0] in "iub"


#: The discrepancies the comparison with PyTorch found (see known.py), and PyTorch's own bugs,
#: whose reason says why autogradx does not copy them. ``when`` gets a :class:`Case`.
KNOWN = [
    # grad_fn names
    Known(_COMPARISONS, r"grad_fn (\w+)Backward0 != PyTorch's \1Backward1", _NAME),
    Known(["fill"], r"grad_fn FillBackward[01] != PyTorch's FillBackward[23]", _NAME),
    Known(["contiguous"], "grad_fn AliasBackward0 != PyTorch's TransposeBackward0", _NAME),
    Known(["movedim"], "grad_fn PermuteBackward0 != PyTorch's AliasBackward0", _NAME),
    Known(["_to_copy"], "grad_fn CloneBackward0 != PyTorch's ToCopyBackward0", _NAME),
    Known(["getitem"], r"grad_fn \w+ != PyTorch's SliceBackward0", _NAME,     # slice(-1, ...)
          lambda case: "slice(-" in case.call.label),
    Known(["setitem"], r"grad_fn \w+ != PyTorch's CopySlices", _NAME,
          lambda case: "slice(-" in case.call.label),
    Known(["setitem"], "grad_fn CopyBackwards != PyTorch's FillBackward3", _NAME),
    Known(["matmul"], "grad_fn UnsafeViewBackward0 != PyTorch's",
          "a documented difference (README): a batched matmul names its node "
          "UnsafeViewBackward0 where PyTorch sometimes names an internal copy"),
    # dtypes and values
    Known(["binary_cross_entropy_with_logits"], "output 0: dtype",
          BUG + "test_bce_with_logits_has_the_dtype_of_the_target"),
    Known(["index_add"], "output 0", BUG + "test_index_add_casts_alpha_to_an_integer_dtype",
          lambda case: "alpha" in case.call.label and case.dtypes[0][0] in "iu"),
    Known(["einsum"], r"output 0: dtype torch.(u?int\d+|bool) != PyTorch's torch.int64",
          BUG + "test_einsum_of_several_integer_operands_sums_as_sum_does", _several_inputs),
    Known(["pow"], "forward: autogradx raises ValueError, PyTorch nothing",
          BUG + "test_integer_pow_with_negative_integer_exponents"),
    Known(["pow"], "gradient of input 1", BUG + "test_pow_gradient_of_the_exponent_at_zero",
          _first_is_not_float),
    Known(["dropout"], "forward: autogradx raises RuntimeError, PyTorch nothing",
          BUG + "test_dropout_of_integers_with_p_1"),
    Known(["einsum", "layer_norm", "linear", "setitem", "lerp"],
          "forward: autogradx raises (RuntimeError|NotImplementedError), PyTorch nothing",
          _ACCEPTED, _mixed),
    # errors
    Known(["sub", "rsub", "l1_loss", "smooth_l1_loss", "mse_loss"],
          "forward: autogradx raises (nothing|TypeError), PyTorch RuntimeError",
          BUG + "test_subtracting_a_bool_tensor_is_refused", _has("bool")),
    Known(["binary_cross_entropy_with_logits", "round", "smooth_l1_loss"],
          "forward: autogradx raises nothing, PyTorch", _REFUSED),
    Known(("einsum", "pad", "pow", "clamp", "clamp_min", "clamp_max") + _PRODUCTS,
          "forward: autogradx raises nothing, PyTorch NotImplementedError", _REFUSED,
          _has("bool")),
    Known(["add", "sub", "rsub"], "output 0: dtype torch.int64 != PyTorch's torch.bool",
          BUG + "test_add_of_bools_with_alpha_is_bool"),
    Known(["add", "sub", "rsub"], "forward: autogradx raises nothing, PyTorch RuntimeError",
          _REFUSED, lambda case: "alpha" in case.call.label),
    Known(["l1_loss"], "output 0", BUG + "test_weighted_l1_loss_of_uint8_wraps_around",
          _has("uint8")),
    Known(["l1_loss", "smooth_l1_loss", "mse_loss", "huber_loss"],
          "returned an array of dtype uint64",
          BUG + "test_l1_loss_sum_of_uint8_is_int64", _has("uint8")),
    Known(["fill", "masked_fill", "setitem", "index_add"],
          "forward: autogradx raises nothing, PyTorch RuntimeError", _REFUSED, _has("uint8")),
    Known(["masked_fill"], "forward: autogradx raises nothing, PyTorch RuntimeError", _REFUSED,
          lambda case: _first_is_not_float(case) and case.dtypes[-1][0] == "f"),
    Known(("lerp", "binary_cross_entropy", "huber_loss", "layer_norm") + _CONV + _PRODUCTS,
          "forward: autogradx raises NotImplementedError, PyTorch RuntimeError", _ERROR_TYPE),
    Known(_CONV + _PRODUCTS + ("nll_loss", "cross_entropy", "einsum"),
          "forward: autogradx raises RuntimeError, PyTorch NotImplementedError", _ERROR_TYPE),
    Known(["pow"], "forward: autogradx raises ValueError, PyTorch RuntimeError", _ERROR_TYPE),
    Known(["masked_fill", "setitem"], "forward: autogradx raises OverflowError, PyTorch Runtime",
          _ERROR_TYPE),
    Known(_LINALG, "forward: autogradx raises TypeError", _ERROR_TYPE, _has("float16")),
    Known(["binary_cross_entropy_with_logits"], "forward: autogradx raises TypeError",
          _ERROR_TYPE, _has("bool")),
    # PyTorch's own bugs and gaps
    Known(["pow"], "backward: autogradx raises nothing, PyTorch RuntimeError",
          "a PyTorch bug: pow's backward fails for a bool exponent (it subtracts 1 from a "
          "bool tensor); autogradx's gradient is right", _has("bool")),
    Known(["huber_loss"], "backward: autogradx raises nothing, PyTorch RuntimeError",
          "a PyTorch bug: its huber_loss backward fails on inputs of two float dtypes "
          "(Found dtype Float but expected Double); autogradx's gradients are right", _mixed),
    Known(["clamp"], "backward: autogradx raises nothing, PyTorch RuntimeError",
          "a PyTorch bug: clamp's backward fails where a bound tensor is larger than the input "
          "(output with shape [] doesn't match the broadcast shape [1]); autogradx's gradients "
          "are right (gradcheck)"),
    Known(["einsum"], "forward: autogradx raises nothing, PyTorch RuntimeError",
          "a PyTorch bug: an integer einsum that sums a diagonal of one operand fails (expected "
          "scalar type Long but found Int: the sum gives int64, the other operand is int32)",
          lambda case: all(d.startswith(("int", "uint")) for d in case.dtypes)),
    Known(["scatter_add"], "backward: autogradx raises nothing, PyTorch RuntimeError",
          "a PyTorch bug: ScatterAddBackward0 fails where src is larger than index (returned "
          "an invalid gradient at index 1); autogradx's gradients are right (gradcheck)"),
    Known(_CONV, "forward: autogradx raises RuntimeError, PyTorch nothing",
          "a PyTorch inconsistency: some of its convolution paths (an unbatched input with a "
          "1x1 kernel) accept a bias of another dtype, the others refuse it, as autogradx "
          "does", _mixed),
    Known(_CONV, "forward: autogradx raises nothing, PyTorch NotImplementedError",
          "a PyTorch gap: it has no integer kernel for dilated convolutions "
          "(slow_conv_dilated); autogradx computes them"),
    Known(_SPECIAL, "backward: autogradx raises nothing, PyTorch NotImplementedError",
          "a PyTorch gap: it has no float16 kernel for these derivatives", _has("float16")),
    Known(["group_norm"], "backward: autogradx raises nothing, PyTorch RuntimeError",
          "a PyTorch bug: group_norm's backward with a bias and no weight fails ('tensor does "
          "not have a device'); autogradx's gradients are right (gradcheck)",
          lambda case: "bias=" in case.call.label and "weight=" not in case.call.label),
    Known(["instance_norm", "group_norm"], "gradient of input 0",
          "a PyTorch imprecision: its float16 instance_norm and group_norm gradients need not "
          "sum to zero over each group, as the exact ones do; autogradx computes them in "
          "float32",
          _has("float16")),
    Known(["complex", "view_as_complex"], "forward: autogradx raises RuntimeError, PyTorch "
          "(nothing|UserWarning)", "a NumPy gap: float16 parts make a complex32 tensor in PyTorch, a dtype "
          "NumPy lacks (which it warns is experimental, once); autogradx refuses them (the op's "
          "docs say so)", _has("float16")),
]


def test_known_bugs_have_regression_tests():
    missing = missing_regression_tests(KNOWN)
    assert not missing, f"no such test in test_regressions.py: {missing}"


def _compare_with_torch(call, dtypes):
    """Assert that ``call`` in autogradx does what it does in PyTorch (see the module)."""
    expected, got = _Run(_torch(), call, dtypes), _Run(agx, call, dtypes)
    if expected.error is not None or got.error is not None:
        _assert_same_error("forward", got.error, expected.error)
        return
    assert len(got.outputs) == len(expected.outputs), "number of outputs"
    for k, (a, t) in enumerate(zip(got.outputs, expected.outputs)):
        _compare_output(k, a, t, call.random, dtypes)
    if expected.backward_error is not None or got.backward_error is not None:
        _assert_same_error("backward", got.backward_error, expected.backward_error)
    elif not call.random:
        _compare_gradients(got, expected, dtypes)


def _torch():
    import torch        # skipped above when it is not installed
    return torch


@pytest.mark.torch
@pytest.mark.parametrize("name", drawn_ops())
@settings(max_examples=examples(4))
@given(data=st.data())
def test_dtypes_values_gradients_and_errors_match_torch(name, data):
    pytest.importorskip("torch")
    call = data.draw(CALLS[name], label="call")
    dtypes = data.draw(st.lists(st.sampled_from(DTYPES), min_size=call.n_data,
                                max_size=call.n_data), label="dtypes")
    try:
        _compare_with_torch(call, dtypes)
    except Exception as e:      # a mismatch, or an output autogradx cannot even describe
        if not any(known.matches(name, e, Case(call, dtypes)) for known in KNOWN):
            raise
