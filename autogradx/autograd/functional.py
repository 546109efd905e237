"""Functional transforms: ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``hvp``, ``vhp``.

They follow ``torch.autograd.functional``: ``func`` takes tensors and returns
a tensor or a tuple of tensors; ``inputs`` is a tensor or a tuple of them, and
results nest in tuples the same way. Everything is built on reverse mode
(``autograd.grad``): ``jvp`` uses the double-vjp trick, ``jacobian`` takes one
vjp per output element (``vectorize=True`` is accepted and ignored: there is no
batched path), and ``hvp`` equals ``vhp`` because a Hessian is symmetric.
"""

import autogradx
from autogradx._core.tensor import TensorBase
from autogradx.autograd import grad as _grad
from autogradx.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(x, what, fn):
    """``(was_a_tuple, tensors)``; anything but a tensor or a tuple of tensors is a TypeError."""
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, TensorBase):
            where = f"value at index {i}" if is_tuple else f"given {what}"
            raise TypeError(f"The {what} given to {fn} must be either a Tensor or a tuple of "
                            f"Tensors but the {where} has type {type(t)}.")
    return is_tuple, items


def _untuple(res, is_tuple):
    return res if is_tuple else res[0]


def _prepare(inputs, create_graph):
    """Inputs as tensors that require grad: fresh leaves, or (with create_graph) views that
    keep the caller's graph so that results can be differentiated with respect to it."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad
                 else t.detach().requires_grad_(True) for t in inputs)


def _finish(ts, create_graph):
    return ts if create_graph else tuple(t.detach() for t in ts)


def _validate_v(v, fn, others, others_is_tuple, create_graph):
    _, v = _as_tuple(v, "v", fn)
    if len(v) != len(others):
        if others_is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(others)} but "
                               f"got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, others)):
        if a.shape != b.shape:
            entry = f"Entry {i} in " if others_is_tuple else ""
            raise RuntimeError(f"{entry}v has invalid size: should be {b.shape} but got "
                               f"{a.shape}.")
    # with create_graph the result stays differentiable with respect to v too
    return tuple(a.view_as(a) if create_graph and a.requires_grad else a.detach() for a in v)


def _default_v(others, what):
    if len(others) != 1 or others[0].numel() != 1:
        raise RuntimeError(f"The vector v can only be None if {what} a single Tensor with a "
                           "single element.")
    return (autogradx.ones_like(others[0]),)


_NO_GRAD_OUTPUT = ("Output {} of the user-provided function does not require gradients. The "
                   "outputs must be computed in a differentiable manner from the input when "
                   "running in strict mode.")
_LINEAR = ("While computing the hessian, found that the jacobian of the user-provided function "
           "with respect to input {} is independent of the input. This is not allowed in strict "
           "mode. You should ensure that your function is twice differentiable and that the "
           "jacobian depends on the inputs (this would be violated by a linear function for "
           "example).")


def _check_requires_grad(ts, message, strict):
    if strict:
        for i, t in enumerate(ts):
            if t is None:
                raise RuntimeError(f"The output of the user-provided function is independent "
                                   f"of input {i}. This is not allowed in strict mode.")
            if not t.requires_grad:
                raise RuntimeError(message.format(i))


def _vjps(outputs, inputs, grad_outputs, create_graph):
    """``autograd.grad`` from the outputs that require grad; None where no gradient flows."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=True,
                 create_graph=create_graph, allow_unused=True)


def _fill_zeros(grads, refs, strict, create_graph, independent):
    """Zeros for missing gradients (an error in strict mode, as is a constant gradient under
    create_graph); ``independent`` is the strict-mode message for a missing one."""
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(independent.format(i))
            g = autogradx.zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(f"The jacobian of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode when "
                               "create_graph=True.")
        out.append(g)
    return tuple(out)


def _call(func, xs, fn, strict):
    is_tuple, outputs = _as_tuple(func(*xs), "outputs of the user-provided function", fn)
    _check_requires_grad(outputs, _NO_GRAD_OUTPUT, strict)
    return is_tuple, outputs


_INDEPENDENT = ("The output of the user-provided function is independent of input {}. This is "
                "not allowed in strict mode.")


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        xs = _prepare(inputs, create_graph)
        out_tuple, outputs = _call(func, xs, "vjp", strict)
        v = (_validate_v(v, "vjp", outputs, out_tuple, create_graph) if v is not None else
             _default_v(outputs, "the user-provided function returns"))
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _fill_zeros(_vjps(outputs, xs, v, create_graph), xs, strict, create_graph,
                          _INDEPENDENT)
    return (_untuple(_finish(outputs, create_graph), out_tuple),
            _untuple(_finish(res, create_graph), in_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-vjp trick."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        xs = _prepare(inputs, create_graph)
        v = (_validate_v(v, "jvp", xs, in_tuple, create_graph) if v is not None else
             _default_v(xs, "the input to the user-provided function is"))
        out_tuple, outputs = _call(func, xs, "jvp", strict)
        # u is a dummy cotangent; g(u) = J^T u is linear in u, so d<g(u), v>/du = J v.
        us = tuple(autogradx.zeros_like(o).requires_grad_(True) for o in outputs)
        g = _vjps(outputs, xs, us, True)
        _check_requires_grad(g, "The gradient with respect to input {} is independent of the "
                                "inputs of the user-provided function. This is not allowed in "
                                "strict mode.", strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _fill_zeros(_vjps(g, us, v, create_graph), outputs, strict, create_graph,
                          "The gradient with respect to the input is independent of entry {} "
                          "in the grad_outputs when using the double backward trick to compute "
                          "forward mode gradients. This is not allowed in strict mode.")
    return (_untuple(_finish(outputs, create_graph), out_tuple),
            _untuple(_finish(res, create_graph), out_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output ``i`` and input ``j`` a tensor of shape
    ``outputs[i].shape + inputs[j].shape``, nested as ``((J_00, J_01), (J_10, J_11))`` when
    there are several outputs and inputs, as in PyTorch."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    if strategy == "forward-mode":
        raise NotImplementedError("jacobian: autogradx has reverse mode only; use "
                                  "strategy='reverse-mode'")
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        xs = _prepare(inputs, create_graph)
        out_tuple, outputs = _call(func, xs, "jacobian", strict)
        rows = []
        for i, o in enumerate(outputs):
            columns = [[] for _ in xs]
            flat = o.reshape(-1)
            for k in range(flat.numel()):
                gs = _vjps((flat[k],), xs, None, create_graph)
                message = (f"Output {i} of the user-provided function is independent of input "
                           "{}. This is not allowed in strict mode.")
                for column, g in zip(columns, _fill_zeros(gs, xs, strict, create_graph, message)):
                    column.append(g)
            rows.append(tuple(
                autogradx.stack(column).reshape(tuple(o.shape) + tuple(x.shape)) if column
                else autogradx.zeros(tuple(o.shape) + tuple(x.shape), dtype=x.dtype)
                for column, x in zip(columns, xs)))
    rows = [_untuple(_finish(row, create_graph), in_tuple) for row in rows]
    return _untuple(tuple(rows), out_tuple)


def _single_output(out, fn, strict):
    is_tuple, outs = _as_tuple(out, "outputs of the user-provided function", fn)
    _check_requires_grad(outs, _NO_GRAD_OUTPUT, strict)
    if is_tuple:
        raise RuntimeError(f"The function given to {fn} should return a single Tensor")
    if out.numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn} should contain "
                           "a single element")
    return out


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of scalar ``func`` at ``inputs``: ``H[i][j]`` has shape
    ``inputs[i].shape + inputs[j].shape``, nested like the Jacobian of the gradient."""
    in_tuple, _ = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        out = _single_output(func(*xs), "hessian", strict)
        # zeros for an input the output does not depend on: constant, so strict mode objects
        gs = _fill_zeros(_vjps((out,), xs, None, True), xs, False, True, _INDEPENDENT)
        _check_requires_grad(gs, _LINEAR, strict)
        return gs if in_tuple else gs[0]

    return jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                    strategy=outer_jacobian_strategy)


def _vhp(fn, func, inputs, v, create_graph, strict):
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", fn)
        xs = _prepare(inputs, create_graph)
        v = (_validate_v(v, fn, xs, in_tuple, create_graph) if v is not None else
             _default_v(xs, "the input to the user-provided function is"))
        out = _single_output(func(*xs), fn, strict)
        g = _vjps((out,), xs, None, True)
        _check_requires_grad(g, _LINEAR, strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _fill_zeros(_vjps(g, xs, v, create_graph), xs, strict, create_graph,
                          "The jacobian of the user-provided function is independent of input "
                          "{}. This is not allowed in strict mode.")
    return _finish((out,), create_graph)[0], _untuple(_finish(res, create_graph), in_tuple)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)``: the vector-Hessian product of scalar ``func``."""
    return _vhp("vhp", func, inputs, v, create_graph, strict)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)``; the Hessian is symmetric, so this is ``vhp``'s value."""
    return _vhp("hvp", func, inputs, v, create_graph, strict)
