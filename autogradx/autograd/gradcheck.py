"""``autogradx.autograd.gradcheck``: PyTorch's ``gradcheck`` and ``gradgradcheck``, with
PyTorch's signatures, over :mod:`autogradx.testing`'s checks.

Code written for PyTorch calls them as ``torch.autograd.gradcheck(fn, inputs, ...)`` or
imports them (``from torch.autograd.gradcheck import gradcheck``); both work here. What the
keywords mean in autogradx:

- ``eps``, ``atol``, ``rtol``, ``raise_exception``: as in PyTorch. The backward check itself
  is autogradx's: vector-Jacobian products along random unit directions against central
  differences, atol scaled as PyTorch's fast mode scales it, in float64 whatever the inputs'
  dtype (so float32 inputs do not make it fail, and PyTorch's warning about them is not
  given). ``fast_mode`` is accepted either way there: autogradx's backward check is already a
  projected one. A failure names the output and the input as PyTorch does ('Jacobian mismatch
  for output 0 with respect to input 0'; 'Numerical gradient for function expected to be
  zero' where no output requires grad), and outputs whose shape or dtype change when the
  inputs are perturbed raise PyTorch's AssertionError.
- ``nondet_tol``: backward must be reentrant (two runs agree within it), as in PyTorch;
  for gradgradcheck, the backward of the recorded gradients.
- ``check_batched_grad``: ``grad(..., is_grads_batched=True)`` must agree with one
  backward per cotangent (for gradgradcheck, through the recorded gradients).
- ``check_grad_dtypes``: autogradx always checks each gradient's dtype and shape.
- ``check_undefined_grad``: as PyTorch, backward from the outputs through a node that gives
  them no gradient (None) must run and give the inputs no gradient or zeros (each node's
  backward is called with undefined gradients: a hook sees None, a Function's backward
  zeros or None), else GradcheckError 'Expected backward function to handle undefined
  output grads' after PyTorch's warning; with ``check_forward_ad``, a zero tangent and no
  tangent must give the same output tangents. gradgradcheck accepts it and does not run it.
  ``gen_non_contig_grad_outputs`` is accepted; autogradx's arrays are not checked for
  contiguity.
- ``check_forward_ad=True``: also compares forward mode's Jacobian-vector products
  (:mod:`autogradx.autograd.forward_ad`) with central differences: the Jacobian's columns
  (``fast_mode=False``) or one random unit tangent per input (``fast_mode=True``), 'Jacobian
  computed with forward mode mismatch for output 0 with respect to input 0' where they
  differ (_gradcheck_forward.py). ``check_backward_ad=False`` leaves the backward checks out.
- ``check_batched_forward_grad``: ``autogradx.func.vmap`` of the jvp must agree with one jvp
  per tangent; autogradx's vmap is a loop over the batch, so this runs the jvp once per
  batch element, under vmap's rules (no random op inside). ``check_fwd_over_rev`` is refused
  with NotImplementedError (autogradx runs no forward-over-reverse check); ``masked=True``
  (sparse tensors) likewise.

The checks run in this order: backward (with its batched check), forward (with its
undefined-tangent check), batched forward, undefined output gradients; as in PyTorch, a
failure in backward hides one in forward.
"""

import warnings

from autogradx._core.tensor import TensorBase
from autogradx.autograd import _gradcheck_forward as _forward
from autogradx.autograd.function import Function
from autogradx.testing import GradcheckError, gradcheck as _gradcheck
from autogradx.testing import gradgradcheck as _gradgradcheck

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


def _refuse(**flags):
    for name, value in flags.items():
        if value:
            what = "sparse tensors" if name == "masked" else "a check autogradx does not run"
            raise NotImplementedError(f"gradcheck: {name}=True needs {what}, which autogradx "
                                      "does not have")


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False,
              check_forward_ad=False, check_backward_ad=True, fast_mode=False, masked=None):
    """Check the gradients of ``func`` at ``inputs`` against finite differences (see the
    module docstring for the keywords); returns True, or raises GradcheckError (False when
    ``raise_exception=False``)."""
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError(
            "Expected at least one of check_forward_ad or check_backward_ad to be True")
    if check_batched_grad and not check_backward_ad:
        raise AssertionError(
            "Setting check_batched_grad=True requires check_backward_ad to be True")
    if check_batched_forward_grad and not check_forward_ad:
        raise AssertionError(
            "Setting check_batched_forward_grad=True requires check_forward_ad to be True")
    _refuse(masked=masked)
    inputs = (inputs,) if isinstance(inputs, TensorBase) else tuple(inputs)
    if check_backward_ad and not _gradcheck(
            func, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception,
            nondet_tol=nondet_tol, check_batched_grad=check_batched_grad):
        return False
    if check_forward_ad:
        if not _forward.check_jacobian(func, inputs, eps, atol, rtol, fast_mode,
                                       raise_exception):
            return False
        if check_undefined_grad and not _forward.check_undefined(func, inputs,
                                                                 raise_exception):
            return False
    if check_batched_forward_grad and not _forward.check_batched(func, inputs,
                                                                 raise_exception):
        return False
    if check_backward_ad and check_undefined_grad:
        return _check_undefined_backward(func, inputs, raise_exception)
    return True


class _UndefinedGrad(Function):
    """The identity, whose backward gives its input no gradient (None): PyTorch's
    ``torch._C._functions.UndefinedGrad``, through which backward reaches a node with
    undefined gradients."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return None


def _check_undefined_backward(func, inputs, raise_exception):
    """Backward from the outputs, all undefined and then (for several outputs) one at a time,
    runs and gives the inputs that require grad None or zeros (PyTorch's check)."""
    from autogradx import zeros_like
    from autogradx.autograd import grad
    xs = [x for x in inputs if isinstance(x, TensorBase) and x.requires_grad]
    if not xs:
        return _forward._fail("no Tensors requiring grad found in input", raise_exception)

    def outputs():
        out = func(*inputs)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [o for o in outs if isinstance(o, TensorBase) and o.requires_grad]

    cases = [[_UndefinedGrad.apply(o) for o in outputs()]]
    if len(cases[0]) > 1:
        for k in range(len(cases[0])):
            cases.append([_UndefinedGrad.apply(o) if j == k else o
                          for j, o in enumerate(outputs())])
    for outs in cases:
        try:
            grads = grad(outs, xs, [zeros_like(o) for o in outs], allow_unused=True)
        except RuntimeError as e:
            _warn_undefined_grad_check()
            if raise_exception:
                raise GradcheckError(
                    "Expected backward function to handle undefined output grads. Please look "
                    "at \"Notes about undefined output gradients\" in "
                    "\"tools/autograd/derivatives.yaml\"") from e
            return False
        if any(g is not None and not bool((g == 0).all()) for g in grads):
            _warn_undefined_grad_check()
            return _forward._fail(
                "Expected all input grads to be undefined or zero when all output grads are "
                "undefined or zero. Please look at \"Notes about undefined output gradients\" "
                "in \"tools/autograd/derivatives.yaml\"", raise_exception)
    return True


def _warn_undefined_grad_check():
    warnings.warn(
        "Backwards compatibility: New undefined gradient support checking feature is enabled "
        "by default, but it may break existing callers of this function. If this is true for "
        "you, you can call this function with \"check_undefined_grad=False\" to disable the "
        "feature", stacklevel=3)


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """Check the gradients of the gradients of ``func`` (see the module docstring for the
    keywords); returns True, or raises GradcheckError (False when ``raise_exception=False``)."""
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise AssertionError(
            "Expected at least one of check_fwd_over_rev or check_rev_over_rev to be True")
    if check_undefined_grad and not check_rev_over_rev:
        raise AssertionError(
            "Setting check_undefined_grad=True requires check_rev_over_rev to be True")
    if check_batched_grad and not check_rev_over_rev:
        raise AssertionError(
            "Setting check_batched_grad=True requires check_rev_over_rev to be True")
    _refuse(check_fwd_over_rev=check_fwd_over_rev, masked=masked)
    return _gradgradcheck(func, inputs, grad_outputs, eps=eps, atol=atol, rtol=rtol,
                          raise_exception=raise_exception, nondet_tol=nondet_tol,
                          check_batched_grad=check_batched_grad)
