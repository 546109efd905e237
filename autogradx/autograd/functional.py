"""Functional transforms: ``vjp``, ``jvp``, ``jacobian``, ``hessian``, ``hvp``, ``vhp``.

They follow ``torch.autograd.functional``: ``func`` takes tensors and returns
a tensor or a tuple of tensors; ``inputs`` is a tensor or a tuple of them.
Everything is built on reverse mode (``autograd.grad``): ``jvp`` uses the
double-vjp trick, and ``jacobian``/``hessian`` take one vjp per output element
(``vectorize=True`` is accepted and ignored; there is no batched path).
"""

import autogradx
from autogradx._core.tensor import TensorBase
from autogradx.autograd import grad as _grad
from autogradx.grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tuple(x, what):
    if isinstance(x, TensorBase):
        return (x,), True
    if isinstance(x, (tuple, list)) and all(isinstance(t, TensorBase) for t in x):
        return tuple(x), False
    raise TypeError(f"The {what} given to the function must be either a Tensor or a tuple of "
                    f"Tensors but the value given is {type(x).__name__}.")


def _prepare(inputs, create_graph):
    """Inputs as fresh leaves that require grad (views of the caller's, or the same graph)."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t * 1)       # a new node, so gradients flow on to the caller's graph
        else:
            out.append(t.detach().requires_grad_(True))
    return tuple(out)


def _zeros_or(g, like):
    return autogradx.zeros_like(like) if g is None else g


def _untuple(x, single):
    return x[0] if single else x


def _grads(outputs, inputs, grad_outputs, create_graph, strict, what="output"):
    diff_out = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not diff_out:
        if strict:
            raise RuntimeError(f"The {what} of the user-provided function does not require "
                               "gradients (strict mode).")
        return tuple(autogradx.zeros_like(x) for x in inputs)
    gs = _grad([o for o, _ in diff_out], inputs, [g for _, g in diff_out],
               create_graph=create_graph, retain_graph=True, allow_unused=True)
    if strict and any(g is None for g in gs):
        i = next(i for i, g in enumerate(gs) if g is None)
        raise RuntimeError(f"The output of the user-provided function is independent of input "
                           f"{i}. This is not allowed in strict mode.")
    return tuple(_zeros_or(g, x) for g, x in zip(gs, inputs))


def _detach(ts, create_graph):
    return tuple(t if create_graph else t.detach() for t in ts)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``."""
    inputs, single_in = _tuple(inputs, "inputs")
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        outputs, single_out = _tuple(func(*xs), "outputs of the user-provided function")
        if v is None:
            if any(o.numel() != 1 for o in outputs):
                raise RuntimeError("The vector v can only be None if the user-provided "
                                   "function returns a single Tensor with a single element.")
            v = tuple(autogradx.ones_like(o) for o in outputs)
        else:
            v, _ = _tuple(v, "v")
        res = _grads(outputs, xs, v, create_graph, strict)
    return _untuple(_detach(outputs, create_graph), single_out), \
        _untuple(_detach(res, create_graph), single_in)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-vjp trick."""
    inputs, single_in = _tuple(inputs, "inputs")
    if v is None:
        if any(x.numel() != 1 for x in inputs):
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        v = tuple(autogradx.ones_like(x) for x in inputs)
    else:
        v, _ = _tuple(v, "v")
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        outputs, single_out = _tuple(func(*xs), "outputs of the user-provided function")
        # u is a dummy cotangent; g(u) = J^T u is linear in u, so d<g(u), v>/du = J v.
        us = tuple(autogradx.zeros_like(o).requires_grad_(True) for o in outputs)
        g = _grads(outputs, xs, us, True, strict)
        res = _grad(g, us, v, create_graph=create_graph, allow_unused=True)
        res = tuple(_zeros_or(r, o) for r, o in zip(res, outputs))
    return _untuple(_detach(outputs, create_graph), single_out), \
        _untuple(_detach(res, create_graph), single_out)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: shape ``output.shape + input.shape``, nested
    in tuples as in PyTorch when there are several outputs or inputs."""
    if strategy != "reverse-mode":
        raise NotImplementedError("only strategy='reverse-mode' is supported")
    inputs, single_in = _tuple(inputs, "inputs")
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        outputs, single_out = _tuple(func(*xs), "outputs of the user-provided function")
        rows = []
        for o in outputs:
            per_input = [[] for _ in xs]
            flat = o.reshape(-1)
            for k in range(flat.numel()):
                if o.requires_grad:
                    gs = _grad(flat[k], xs, retain_graph=True, create_graph=create_graph,
                               allow_unused=True)
                else:
                    gs = (None,) * len(xs)
                if strict and any(g is None for g in gs):
                    raise RuntimeError("Output {} of the user-provided function is independent "
                                       "of input {}. This is not allowed in strict mode."
                                       .format(len(rows), next(i for i, g in enumerate(gs)
                                                                if g is None)))
                for i, (g, x) in enumerate(zip(gs, xs)):
                    per_input[i].append(_zeros_or(g, x))
            row = []
            for x, gs in zip(xs, per_input):
                if gs:
                    j = autogradx.stack(gs).reshape(tuple(o.shape) + tuple(x.shape))
                else:
                    j = autogradx.zeros(tuple(o.shape) + tuple(x.shape), dtype=x.dtype)
                row.append(j if create_graph else j.detach())
            rows.append(_untuple(tuple(row), single_in))
    return _untuple(tuple(rows), single_out)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of scalar ``func`` at ``inputs``."""
    inputs_t, single_in = _tuple(inputs, "inputs")

    def grad_func(*xs):
        out = func(*xs)
        if not isinstance(out, TensorBase) or out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor "
                               "with a single element")
        gs = _grads((out.reshape(()),), xs, (None,), True, strict)
        return _untuple(gs, single_in)

    return jacobian(grad_func, inputs, create_graph=create_graph, strict=strict)


def _scalar_output(func, xs):
    out = func(*xs)
    if not isinstance(out, TensorBase) or out.numel() != 1:
        raise RuntimeError("The function given to hvp/vhp should return a single Tensor with a "
                           "single element")
    return out


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)``: the vector-Hessian product of scalar ``func``."""
    inputs, single_in = _tuple(inputs, "inputs")
    v = _default_v(v, inputs)
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        out = _scalar_output(func, xs)
        g = _grads((out,), xs, (None,), True, strict)
        res = _grads(g, xs, v, create_graph, strict, "gradient")
    return _detach((out,), create_graph)[0], _untuple(_detach(res, create_graph), single_in)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)``; the Hessian is symmetric, so this equals ``vhp``."""
    return vhp(func, inputs, v, create_graph, strict)


def _default_v(v, inputs):
    if v is None:
        if any(x.numel() != 1 for x in inputs):
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        return tuple(autogradx.ones_like(x) for x in inputs)
    v, _ = _tuple(v, "v")
    return v
