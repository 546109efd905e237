"""gradcheck's forward-mode checks (``check_forward_ad=True``), as PyTorch's
torch/autograd/gradcheck.py runs them, over :mod:`autogradx.autograd.forward_ad`.

- :func:`check_jacobian`: the Jacobian-vector products of forward mode against central
  differences, one dual call per column. ``fast_mode=False`` takes the columns of the
  Jacobian (a unit tangent per element of each input that requires grad; for a complex
  input, its imaginary and then its real unit) and compares them entry by entry within
  ``atol + rtol * |numerical|``. ``fast_mode=True`` takes one random unit tangent per input
  (per part of a complex one), uniform in [0, 1) as PyTorch's, and compares ``J u`` entry
  by entry, atol scaled by ``|u|_1`` (PyTorch's ``_adjusted_atol``).
  The inputs that require grad are all dual in each call, with zero tangents but the one of
  the column, as in PyTorch (so a Function's ``jvp`` runs once per column).
- :func:`check_undefined`: a tangent that is zeros and a missing one (a plain tensor) give
  the outputs the same tangents, one input at a time.
- :func:`check_batched`: ``vmap`` of the jvp over a batch of two tangents agrees with one jvp
  per tangent. autogradx's ``vmap`` is a loop over the batch (no batching rules), so this
  checks that the jvp runs under vmap (PyTorch's refusal of random ops inside it included) and
  on tangents that are slices of a batch, not a batching rule; a Function's ``jvp`` runs four
  times per input here, where PyTorch's batched jvp runs it three times.

The checks run in float64 (complex128), on detached copies of the floating point inputs,
as autogradx's backward check does. Each returns True, or raises GradcheckError (returns
False when ``raise_exception`` is False); an exception raised by ``func`` or its jvp is
not caught.
"""

import numpy as np

from autogradx._core.dispatch import get_array_module
from autogradx._core.tensor import TensorBase, wrap
from autogradx.autograd import forward_ad as fwAD
from autogradx.testing import (GradcheckError, _as_float64, _as_numpy, _atol_scale,
                               _check_same_outputs, _unit)

__all__ = ["check_jacobian", "check_undefined", "check_batched"]

FAILED_BATCHED_GRAD_MSG_FWD_AD = (
    "gradcheck failed while testing batched gradient computation with forward-mode AD.\n"
    "This test is enabled automatically when both `check_batched_grad=True`\n"
    "and `check_forward_ad=True`; to disable it, call gradcheck with "
    "`check_batched_forward_grad=False`.")


def _fail(message, raise_exception):
    if raise_exception:
        raise GradcheckError(message)
    return False


def _leaves(inputs):
    """Each floating point or complex tensor as a float64 (complex128) detached copy; the
    rest as is; and the indices of those that require grad."""
    leaves = [wrap(_as_float64(x._data), False)
              if isinstance(x, TensorBase) and x._data.dtype.kind in "fc" else x
              for x in inputs]
    checked = [i for i, x in enumerate(inputs) if isinstance(x, TensorBase) and x.requires_grad]
    return leaves, checked


def _floats(out):
    """The floating point and complex tensors among ``func``'s outputs, in order."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs
            if isinstance(o, TensorBase) and (o.is_floating_point() or o.is_complex())]


def _tangents(outs):
    """The tangent of each output (zeros where it has none), at the current level."""
    from autogradx import zeros_like
    found = []
    for o in outs:
        primal, t = fwAD.unpack_dual(o)
        found.append(t if t is not None else zeros_like(primal.detach()))
    return found


def _dual_call(func, leaves, checked, column):
    """The output tangents of ``func`` with every input in ``checked`` dual (``column``:
    {index: tangent}, zeros for the others)."""
    from autogradx import zeros_like
    with fwAD.dual_level():
        args = [fwAD.make_dual(x, column[i] if i in column else zeros_like(x))
                if i in checked else x for i, x in enumerate(leaves)]
        return _tangents(_floats(func(*args)))


def _central_difference(func, leaves, checked, i, direction, eps):
    """``(func(x + eps d) - func(x - eps d)) / (2 eps)`` for each output, ``d`` moving input
    ``i`` (the inputs that require grad do, as in the backward check: ``func`` may hook them)."""
    xp = get_array_module(direction._data)
    outs = []
    for sign in (1, -1):
        # asarray: a 0-d array plus a number is a NumPy scalar
        args = [wrap(xp.asarray(x._data + sign * eps * direction._data), True) if j == i
                else (x.detach().requires_grad_() if j in checked else x)
                for j, x in enumerate(leaves)]
        outs.append(_floats(func(*args)))
    _check_same_outputs("gradcheck", eps, *outs)
    return [_as_numpy(p.detach()._data - m.detach()._data) / (2 * eps) for p, m in zip(*outs)]


def _columns(leaf, fast_mode, rng):
    """(tangent, which part of a complex input it moves, atol scale) for each column."""
    xp = get_array_module(leaf._data)
    shape, dtype = leaf._data.shape, leaf._data.dtype
    # A complex input's imaginary part first, then its real part, as PyTorch checks them.
    units = [(1, None)] if dtype.kind != "c" else [(1j, "imaginary"), (1, "real")]
    if fast_mode:
        for unit, part in units:
            u = _unit(rng.random(shape))
            yield (wrap(xp.asarray(np.asarray(unit * u, dtype=dtype)), False), part,
                   _atol_scale([u], [np.ones(())]))
        return
    for unit, part in units:
        for e in range(leaf.numel()):
            t = np.zeros(shape, dtype)
            t.reshape(-1)[e] = unit
            yield wrap(xp.asarray(t), False), part, 1.0


def check_jacobian(func, inputs, eps, atol, rtol, fast_mode, raise_exception):
    """Forward mode's ``J u`` against central differences (see the module docstring)."""
    leaves, checked = _leaves(inputs)
    rng = np.random.default_rng(0)
    for i in checked:
        for tangent, part, scale in _columns(leaves[i], fast_mode, rng):
            analytical = _dual_call(func, leaves, checked, {i: tangent})
            numerical = _central_difference(func, leaves, checked, i, tangent, eps)
            for k, (a, n) in enumerate(zip(analytical, numerical)):
                a = _as_numpy(a.detach()._data)
                if np.allclose(a, n, rtol=rtol, atol=atol * scale):
                    continue
                head = ("" if part is None else
                        f"While considering the {part} part of complex inputs only, ")
                what = "a random unit tangent" if fast_mode else "the column of one element"
                return _fail(f"{head}Jacobian computed with forward mode mismatch for output "
                             f"{k} with respect to input {i} (along {what}),\n"
                             f"numerical:{n}\nanalytical:{a}\n", raise_exception)
    return True


def check_undefined(func, inputs, raise_exception):
    """For each input that requires grad: its tangent zeros, and no tangent at all, give the
    outputs the same tangents (the other inputs keep random ones)."""
    from autogradx import zeros_like
    leaves, checked = _leaves(inputs)
    rng = np.random.default_rng(0)
    with fwAD.dual_level():
        duals = list(leaves)
        for i in checked:
            x = leaves[i]._data
            u = _unit(np.asarray(rng.random(x.shape), dtype=x.dtype))
            duals[i] = fwAD.make_dual(leaves[i], wrap(get_array_module(x).asarray(u), False))
        for i in checked:
            zero = list(duals)
            zero[i] = fwAD.make_dual(leaves[i], zeros_like(leaves[i]))
            with_zeros = [fwAD.unpack_dual(o).tangent for o in _floats(func(*zero))]
            undefined = list(duals)
            undefined[i] = leaves[i]
            without = [fwAD.unpack_dual(o).tangent for o in _floats(func(*undefined))]
            for k, (t1, t2) in enumerate(zip(with_zeros, without)):
                if t1 is not None and t2 is not None and not np.allclose(
                        _as_numpy(t1.detach()._data), _as_numpy(t2.detach()._data)):
                    return _fail(f"Mismatch in tangent values for output with index: {k} when "
                                 f"input: {i} has an undefined tangent value. Got: {t1} but "
                                 f"expected: {t2}", raise_exception)
    return True


def check_batched(func, inputs, raise_exception):
    """``vmap`` of the jvp along two random tangents of each input that requires grad
    against one jvp per tangent (see the module docstring)."""
    from autogradx import stack
    from autogradx.func import _legacy_vmap
    leaves, checked = _leaves(inputs)
    rng = np.random.default_rng(0)
    for i in checked:
        if leaves[i]._data.dtype.kind not in "fc":
            continue

        def jvp(tangent):
            return tuple(_dual_call(func, leaves, [i], {i: tangent}))

        x = leaves[i]._data
        tangents = [wrap(get_array_module(x).asarray(rng.standard_normal(x.shape), dtype=x.dtype),
                         False) for _ in range(2)]
        expected = [stack(shards) for shards in zip(*[jvp(t) for t in tangents])]
        try:
            result = _legacy_vmap(jvp)(stack(tangents))
        except RuntimeError as e:
            raise GradcheckError(f"While computing batched gradients, got: {e}\n\n"
                                 f"{FAILED_BATCHED_GRAD_MSG_FWD_AD}") from e
        for k, (res, exp) in enumerate(zip(result, expected)):
            if not np.allclose(_as_numpy(res.detach()._data), _as_numpy(exp.detach()._data)):
                return _fail(f"For output {k} and input {i}:\n\n{FAILED_BATCHED_GRAD_MSG_FWD_AD}"
                             f"\n\nGot:\n{res}\n\nExpected:\n{exp}", raise_exception)
    return True
