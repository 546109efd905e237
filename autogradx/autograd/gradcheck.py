"""``autogradx.autograd.gradcheck``: PyTorch's ``gradcheck`` and ``gradgradcheck``, with
PyTorch's signatures, over :mod:`autogradx.testing`'s checks.

Code written for PyTorch calls them as ``torch.autograd.gradcheck(fn, inputs, ...)`` or
imports them (``from torch.autograd.gradcheck import gradcheck``); both work here. What the
keywords mean in autogradx:

- ``eps``, ``atol``, ``rtol``, ``raise_exception``: as in PyTorch. The check itself is
  autogradx's: vector-Jacobian products along random directions against central
  differences, in float64 whatever the inputs' dtype (so float32 inputs do not make it
  fail, and PyTorch's warning about them is not given). ``fast_mode`` is accepted
  either way: PyTorch's fast mode is an optimization whose verdict agrees with the slow
  check, and autogradx's check is already a projected one. A failure names the output and
  the input as PyTorch does ('Jacobian mismatch for output 0 with respect to input 0'; 'Numerical
  gradient for function expected to be zero' where no output requires grad), and outputs
  whose shape or dtype change when the inputs are perturbed raise PyTorch's AssertionError.
- ``nondet_tol``: backward must be reentrant (two runs agree within it), as in PyTorch;
  for gradgradcheck, the backward of the recorded gradients.
- ``check_batched_grad``: ``grad(..., is_grads_batched=True)`` must agree with one
  backward per cotangent (for gradgradcheck, through the recorded gradients).
- ``check_grad_dtypes``: autogradx always checks each gradient's dtype and shape.
- ``check_undefined_grad``, ``gen_non_contig_grad_outputs``: accepted; these checks are
  not run (autogradx's engine passes no undefined gradients to a node).
- ``check_forward_ad=True``: also compares the Jacobian-vector product of forward mode
  (:mod:`autogradx.autograd.forward_ad`), along a random tangent for the inputs that
  require grad, with central differences (``check_backward_ad=False`` leaves the
  backward check out). ``check_batched_forward_grad`` and ``check_fwd_over_rev`` are
  refused with NotImplementedError (they need vmap batching rules and forward-over-reverse
  checks autogradx does not run); ``masked=True`` (sparse tensors) likewise.
"""

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
    _refuse(check_batched_forward_grad=check_batched_forward_grad, masked=masked)
    if check_forward_ad and not _check_forward(func, inputs, eps, atol, rtol, raise_exception):
        return False
    if not check_backward_ad:
        return True
    return _gradcheck(func, inputs, eps=eps, atol=atol, rtol=rtol,
                      raise_exception=raise_exception, nondet_tol=nondet_tol,
                      check_batched_grad=check_batched_grad)


def _check_forward(func, inputs, eps, atol, rtol, raise_exception):
    """The jvp of ``func`` (forward_ad) along a random tangent of the inputs that require
    grad, against central differences; True, or GradcheckError (False)."""
    import numpy as np

    from autogradx._core.tensor import TensorBase
    from autogradx.conformance import _float_outputs, _jvp_of, _random_like
    inputs = (inputs,) if isinstance(inputs, TensorBase) else tuple(inputs)
    leaves = [x.detach() if isinstance(x, TensorBase) else x for x in inputs]
    rng = np.random.default_rng(0)
    tangents = {i: _random_like(rng, x.detach()) for i, x in enumerate(inputs)
                if isinstance(x, TensorBase) and x.requires_grad}
    if not tangents:
        return True
    jv, _ = _jvp_of(lambda *xs: func(*xs), leaves, tangents)
    shifted = [[x + sign * eps * tangents[i] if i in tangents else x
                for i, x in enumerate(leaves)] for sign in (1, -1)]
    plus, minus = (_float_outputs(func(*xs)) for xs in shifted)
    for k, got in jv.items():
        numerical = (plus[k].detach().numpy() - minus[k].detach().numpy()) / (2 * eps)
        analytical = got.detach().numpy()
        if not np.allclose(analytical, numerical, atol=atol, rtol=rtol):
            message = (f"Jacobian computed with forward mode mismatch for output {k} along a "
                       f"random tangent,\nnumerical:{numerical}\nanalytical:{analytical}\n")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


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
