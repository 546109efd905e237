"""Forward rules: the tangent of an op's outputs from its inputs' tangents (forward_ad).

Each op's forward rule comes from its one derivative definition where it can
(``rule_kind`` says which, from the registry's OpDef alone):

``"elementwise"``
    An elementwise op (``ufunc=`` a plain ufunc, or ``jvp="elementwise"`` declared) with one
    vjp formula per input and no complex
    non-holomorphic case: its Jacobian is diagonal, so each formula with ``g`` standing for
    that input's tangent is that input's part of ``J t``; the parts are summed and broadcast
    to the output's shape (the engine's sum back to an input's shape is the vjp's transpose,
    and is not applied).
``"view"``, ``"linear"``
    A view op (``view=True``) or one declared ``jvp="linear"``: linear in its tensor inputs
    jointly, so the op itself, applied to the tangents (zeros where an input has none).
``"multilinear"``
    ``jvp="multilinear"``: linear in each input separately (``matmul``): the sum over the
    inputs with a tangent of the op with that input replaced by its tangent.
``"formula"``
    ``jvp={"input": formula, ...}`` declared: ``formula(xp, t, <what it reads>, **params)``
    per input, summed.
``"transpose"``
    Any other differentiable op: ``J t = d/du <vjp(u), t>``, the op's vjp run on tensors
    (create_graph) and differentiated once more with respect to ``u``. Right for every op
    with a vjp, but two reverse passes per op: ``fallback_ops()`` lists the ops that use it.
    Where the vjp cannot run on tensors (an SVD's), ``J t`` is built row by row, one vjp
    per output element.

Rules are evaluated on tensors with propagation suspended, under the caller's grad mode,
so a tangent is itself differentiable by backward (reverse over forward).
"""

import numpy as np

from autogradx._core.op import apply_parsed
from autogradx._core.tensor import TensorBase
from autogradx._core.views import view_taken_from
from autogradx.autograd.forward_ad import keep_result_tangent, set_tangent, suspended, tangent_of

RULE_KINDS = ("elementwise", "view", "linear", "multilinear", "formula", "transpose")


def rule_kind(op):
    """Which forward rule ``op`` has (one of RULE_KINDS), or None when it has no derivative."""
    if isinstance(op.jvp, tuple):
        return "formula"
    if op.jvp is not None:
        return op.jvp
    if op.vjp is None and op.vjps is None:
        return None
    if op.view:
        return "view"
    if (op.numpy_ufunc is not None and op.numpy_ufunc.signature is None
            and op.reads is not None):
        return "elementwise"    # a plain ufunc (not a gufunc such as matmul)
    return "transpose"


def fallback_ops(registry=None):
    """Names of the registered ops whose forward rule is the transpose trick."""
    from autogradx._registry import REGISTRY
    ops = (registry or REGISTRY).load().ops
    return sorted(name for name, op in ops.items() if rule_kind(op) == "transpose")


def _differentiable(t):
    return isinstance(t, TensorBase) and (t.is_floating_point() or t.is_complex())


def _call(op, args, extra, params):
    """``op`` applied again with the call's parameters (outputs as a tuple)."""
    out = apply_parsed(op, tuple(args) + tuple(extra), params)
    return tuple(out) if isinstance(out, tuple) else (out,)


def _call_params(op, extra, params):
    """The keyword parameters of the call, without those ``_record`` copied in from the
    positional ones (``extra``)."""
    if not params:
        return None
    if not extra or op.varargs:
        return dict(params)
    positional = set(op.params[:len(extra)])
    return {k: v for k, v in params.items() if k not in positional} or None


def _formula_params(op, extra, params):
    """The parameters as the derivative formulas take them: positional ones by name."""
    merged = dict(params or {})
    if extra and not op.varargs:
        for name, value in zip(op.params, extra):
            merged[name] = value
    return merged


def _namespace(t):
    from autogradx._xp import tensor_namespace
    return tensor_namespace if type(t._data) is np.ndarray else tensor_namespace.on(t.device)


def _read(op, names, raw, outs):
    values = []
    for name in names:
        if name == "result":
            values.append(outs[0])
        else:
            v = raw[op.inputs.index(name)]
            values.append(v if not isinstance(v, np.ndarray) else _as_tensor(v))
    return values


def _as_tensor(a):
    import autogradx
    return autogradx.as_tensor(a)


def _fit(t, out):
    """Tangent ``t`` in the shape and dtype of the output ``out``."""
    if t is None:
        return None
    if not isinstance(t, TensorBase):
        t = _as_tensor(np.asarray(t)).to(out.device)
    if tuple(t.shape) != tuple(out.shape):
        t = t.expand(out.shape)
    if t.dtype != out.dtype:
        t = t.real if (t.is_complex() and not out.is_complex()) else t.to(out.dtype)
    return t


def _by_formulas(op, formulas, reads, raw, tangents, extra, params, outs):
    xp = _namespace(outs[0])
    kw = _formula_params(op, extra, params)
    total = None
    for i, t in enumerate(tangents):
        if t is None or formulas[i] is None:
            continue
        part = formulas[i](xp, t, *_read(op, reads[i], raw, outs), **kw)
        total = part if total is None else total + part
    return (_fit(total, outs[0]),)


def _elementwise(op, raw, tangents, extra, params, outs, resid):
    if op.reads is not None:
        names = tuple(tuple(op.save[k] for k in r) for r in op.reads)
        return _by_formulas(op, op.vjps, names, raw, tangents, extra, params, outs)
    # The positional form: the vjp with the saved values and residuals, once per input.
    xp = _namespace(outs[0])
    kw = _formula_params(op, extra, params)
    saved = _read(op, op.save, raw, outs)
    if op.residuals:
        saved.append(_as_tensor(resid) if isinstance(resid, np.ndarray) else resid)
    total = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        if op.vjps is not None:
            part = op.vjps[i](xp, t, *saved, **kw)
        else:
            part = op.vjp(xp, t, *saved, **kw)
            part = part if op.n_inputs == 1 else part[i]
        if part is not None:
            total = part if total is None else total + part
    return (_fit(total, outs[0]),)


def _declared(op, raw, tangents, extra, params, outs, resid):
    return _by_formulas(op, op.jvp, op.jvp_reads, raw, tangents, extra, params, outs)


def _linear(op, raw, tangents, extra, params, outs, resid):
    args = list(raw)
    for i, r in enumerate(raw):
        if _differentiable(r):
            args[i] = tangents[i] if tangents[i] is not None else _zeros_like(r)
    if op.variadic:
        args = [args]
    return _call(op, args, extra, _call_params(op, extra, params))


def _multilinear(op, raw, tangents, extra, params, outs, resid):
    total = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        args = list(raw)
        args[i] = t
        part = _call(op, [args] if op.variadic else args, extra, _call_params(op, extra, params))
        total = part if total is None else tuple(a + b for a, b in zip(total, part))
    return total


# PyTorch gives these ops no forward derivative (derivatives.yaml): refused with its error.
PYTORCH_HAS_NONE = "PyTorch has no forward derivative for it"
# Ops that refuse forward mode, and why. The SVD's transpose-trick tangent is known wrong
# (never a wrong number): its vjp drops the singular vectors' terms when their gradients are
# the zeros the trick passes.
NO_FORWARD = {"linalg_svd": "the tangents of U and V", "svd": "the tangents of U and V",
              "igamma": PYTORCH_HAS_NONE, "igammac": PYTORCH_HAS_NONE}


def _refuse_forward(op):
    if NO_FORWARD[op.name] is PYTORCH_HAS_NONE:
        raise NotImplementedError(
            f"Trying to use forward AD with {op.name} that does not support it because it has "
            "not been implemented yet.\nPlease file an issue to PyTorch at https://github.com/"
            "pytorch/pytorch/issues/new?template=feature-request.yml so that we can prioritize "
            "its implementation or submit a PR adding the implementation to derivatives.yaml")
    raise NotImplementedError(
        f"forward-mode AD of {op.name} is not implemented in autogradx ({NO_FORWARD[op.name]} "
        "would be wrong); use reverse mode (jacrev, vjp)")


def _transpose(op, raw, tangents, extra, params, outs, resid):
    """``J t`` as the gradient with respect to ``u`` of ``<vjp(u), t>`` (two reverse passes)."""
    from autogradx import autograd
    from autogradx.grad_mode import enable_grad
    with enable_grad():
        args = list(raw)
        wrt, ts = [], []
        for i, t in enumerate(tangents):
            if t is not None:
                x = raw[i] if raw[i].requires_grad else raw[i].detach().requires_grad_()
                args[i] = x
                wrt.append(x)
                ts.append(t)
        ys = _call(op, [args] if op.variadic else args, extra, _call_params(op, extra, params))
        # ys line up with outs; those that depend on the inputs with a tangent get one.
        ks = [k for k, y in enumerate(ys) if _differentiable(y) and y.requires_grad]
        if not ks:
            return (None,) * len(outs)
        us = [_zeros_like(ys[k]).requires_grad_() for k in ks]
        try:
            gs = autograd.grad([ys[k] for k in ks], wrt, us, create_graph=True,
                               allow_unused=True)
        except Exception:
            # A vjp that cannot run on tensors (an SVD's): J t row by row instead.
            if any(ys[k].is_complex() for k in ks):
                raise
            jts = [_by_rows(ys[k], wrt, ts) for k in ks]
        else:
            inner = _inner(gs, ts)
            if inner is None or not inner.requires_grad:
                return (None,) * len(outs)
            jts = autograd.grad(inner, us, create_graph=True, allow_unused=True)
    # Differentiable further only where the primals or tangents are (reverse over forward).
    keep = any(isinstance(r, TensorBase) and r.requires_grad for r in raw) or any(
        t is not None and t.requires_grad for t in tangents)
    out = [None] * len(outs)
    for k, jt in zip(ks, jts):
        out[k] = jt if keep or jt is None else jt.detach()
    return tuple(out)


def _inner(gs, ts):
    """Re <g, t> summed over the inputs (PyTorch's complex convention makes its gradient
    with respect to u, where g = vjp(u), the product J t)."""
    inner = None
    for g, t in zip(gs, ts):
        if g is None:
            continue
        term = (g.conj() * t).sum() if g.is_complex() or t.is_complex() else (g * t).sum()
        term = term.real if term.is_complex() else term
        inner = term if inner is None else inner + term
    return inner


def _by_rows(y, wrt, ts):
    """J t for a real output ``y``, one vjp per element of ``y`` (each row of J dotted with
    the tangents): for ops whose vjp runs only on arrays; the tangent is not differentiable
    further."""
    from autogradx import autograd, stack
    rows = []
    for e in range(y.numel()):
        u = _zeros_like(y).reshape(-1)
        u[e] = 1
        gs = autograd.grad(y, wrt, u.reshape(y.shape), retain_graph=True, allow_unused=True)
        inner = _inner(gs, ts)
        rows.append(inner.detach() if inner is not None else _zeros_like(y).reshape(-1)[0])
    return stack(rows).reshape(y.shape) if rows else _zeros_like(y)


_RULES = {"elementwise": _elementwise, "view": _linear, "linear": _linear,
          "multilinear": _multilinear, "formula": _declared, "transpose": _transpose}


def propagate(op, raw, values, extra, params, outs, resid):
    """Give ``outs`` their tangents when an input of ``op`` has one (called by the core
    while a dual level is entered)."""
    tensors = raw
    tangents = [tangent_of(r) if isinstance(r, TensorBase) else None for r in tensors]
    if all(t is None for t in tangents):
        return
    kind = rule_kind(op)
    if kind is None or not any(_differentiable(o) for o in outs):
        return
    if op.name in NO_FORWARD:
        _refuse_forward(op)
    if op.vjps is not None and kind in ("elementwise", "transpose"):
        # Inputs without a derivative take no tangent.
        tangents = [t if op.vjps[i] is not None else None for i, t in enumerate(tangents)]
    if kind == "elementwise" and not op.holomorphic and (
            any(o.is_complex() for o in outs if isinstance(o, TensorBase))
            or any(t is not None and t.is_complex() for t in tangents)):
        kind = "transpose"      # its formulas are not the complex derivative
    with suspended():
        results = _RULES[kind](op, tensors, tangents, extra, params, outs, resid)
    for o, t in zip(outs, results):
        if t is not None and _differentiable(o):
            set_tangent(o, _fit(t, o))


def propagate_inplace(t, result):
    """``t`` was overwritten in place by ``result`` (an op's out-of-place output): it takes
    ``result``'s tangent, written into its own where it has one (views of it share it)."""
    new = tangent_of(result)
    old = tangent_of(t)
    if new is None:
        if old is not None:
            with suspended():
                old.zero_()
        return
    if old is None and t._base is not None:
        # A view without a tangent: as PyTorch, its base gets one (zeros) and the view's is
        # the same view of it, so that the base sees the part written.
        base = t._base
        if tangent_of(base) is None:
            set_tangent(base, _zeros_like(base))
        with suspended():
            old = view_taken_from(t, tangent_of(base))
        set_tangent(t, old)
    if old is None or old.dtype != new.dtype:
        set_tangent(t, new)
    else:
        with suspended():
            # The node t's values came from keeps the tangent as it was: values it saved
            # (x.sin().mul_(x) saves the sine) find theirs through it, under create_graph.
            keep_result_tangent(t, old.clone())
            old._data[...] = new._data


def _zeros_like(t):
    from autogradx import zeros_like
    return zeros_like(t.detach())
