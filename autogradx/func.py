"""``autogradx.func``: composable function transforms, as ``torch.func``.

``grad``, ``grad_and_value``, ``vjp`` and ``jacrev`` are reverse mode (``autograd.grad``
with ``create_graph=True``, so that an outer transform can differentiate them again);
``jvp`` is true forward mode (``autograd.forward_ad``: one forward pass per tangent) and
``jacfwd`` is ``jvp`` vmapped over the basis vectors of each input; ``hessian`` is
``jacfwd(jacrev(f))``, forward over reverse. ``vmap`` maps a function over a dimension of
its inputs: every op inside runs once on the whole batch by its batching rule
(autogradx/_batching), and an op without one runs once per sample, counted by
``vmap_fallback_stats()``. They compose: ``vmap(grad(f))`` gives per-sample gradients,
differentiating the batched computation (the parameters inside are batched too).

Unlike torch.func, there are no transform levels: an inner transform tracks its inputs on
the same autograd graph as the outer one. Results are detached when no input of the
transform requires grad or carries a tangent (nothing outside can differentiate them).
Forward mode does not nest (``jacfwd(jacfwd(f))``, ``jvp`` inside ``jvp``): one dual level
at a time, as ``forward_ad``.
"""

import functools

from autogradx import _batching
from autogradx._batching import VmapFallbackWarning
from autogradx._core.batching import is_batching_active
from autogradx._core.tensor import TensorBase
from autogradx.autograd import forward_ad as fwAD
from autogradx.grad_mode import enable_grad

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "vmap_fallback_stats", "reset_vmap_fallback_stats",
           "set_vmap_fallback_warning", "batching_rule_kind", "VmapFallbackWarning"]


# -- pytrees of tensors (tuples, lists, dicts) ------------------------------------------


def _flatten(tree):
    """(leaves, rebuild): the tensors of ``tree`` in order, and ``rebuild(leaves)``."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(x) for x in tree]
        counts = [len(p[0]) for p in parts]

        def rebuild(leaves):
            out, k = [], 0
            for (_, rb), c in zip(parts, counts):
                out.append(rb(leaves[k:k + c]))
                k += c
            return type(tree)(out) if not hasattr(tree, "_fields") else type(tree)(*out)
        return [leaf for p in parts for leaf in p[0]], rebuild
    if isinstance(tree, dict):
        keys = list(tree)
        leaves, rebuild_values = _flatten([tree[k] for k in keys])
        return leaves, lambda ls: type(tree)(zip(keys, rebuild_values(ls)))
    return [tree], lambda ls: ls[0]


def _tensors(tree, what):
    leaves, rebuild = _flatten(tree)
    for leaf in leaves:
        if not isinstance(leaf, TensorBase):
            raise ValueError(f"{what}: expected only Tensors (in tuples, lists or dicts), got "
                             f"{type(leaf).__name__}")
    return leaves, rebuild


def _argnums(argnums, n, name):
    if isinstance(argnums, int):
        nums = (argnums,)
    elif isinstance(argnums, tuple) and argnums and all(isinstance(a, int) for a in argnums):
        nums = argnums
    else:
        raise RuntimeError(f"{name}: argnums must be int or Tuple[int, ...], got: {argnums!r}")
    out = []
    for a in nums:
        if not -n <= a < n:
            raise RuntimeError(f"Got argnum={a}, but only {n} positional inputs")
        out.append(a % n)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{name}: argnums must be unique, got {argnums!r}")
    return tuple(out)


def _outer(leaves):
    """Whether something outside this transform can differentiate through ``leaves``."""
    return any(t.requires_grad or fwAD.tangent_of(t) is not None for t in leaves)


def _track(t):
    """``t`` as a tensor this transform differentiates with respect to: a view that keeps
    ``t``'s history and tangent (an outer transform's), requiring grad. Inside vmap it is
    batched at every level (expanded where it is not), so that its gradient is per sample."""
    with enable_grad():
        v = t.view(tuple(t.shape))
        if is_batching_active():
            v = _batching.batch_all(v)
    if not v.requires_grad:
        v.requires_grad_()
    return v


def _grads(outputs, inputs, grad_outputs=None):
    """d outputs / d inputs (zeros for an input the outputs do not depend on)."""
    from autogradx import autograd
    outputs = [o for o in outputs]
    live = [k for k, o in enumerate(outputs) if o.requires_grad]
    res = [None] * len(inputs)
    if live:
        # Inside vmap, on the batched arrays (the gradient of each sample's output).
        grad = _batching.grad if is_batching_active() else autograd.grad
        res = list(grad([outputs[k] for k in live], inputs,
                        None if grad_outputs is None else [grad_outputs[k] for k in live],
                        retain_graph=True, create_graph=True, allow_unused=True))
    return [g if g is not None else _zeros_like(x) for g, x in zip(res, inputs)]


def _detached(tree, keep):
    if keep:
        return tree
    leaves, rebuild = _flatten(tree)
    return rebuild([x.detach() if isinstance(x, TensorBase) else x for x in leaves])


def _split_aux(out, has_aux, name):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{name}(f)(*args): output of function f should be a tuple: "
                           "(output, aux) if has_aux is True")
    return out


# -- reverse mode -----------------------------------------------------------------------


def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning ``(gradient, value)`` of ``func`` (which returns a scalar
    tensor) with respect to the arguments ``argnums``; with ``has_aux``, ``func`` returns
    ``(value, aux)`` and the result is ``(gradient, (value, aux))``."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args), "grad_and_value(f)(*args)")
        args = list(args)
        tracked, rebuilders, originals = [], [], []
        for a in nums:
            leaves, rebuild = _tensors(args[a], "grad_and_value(f)(*args)")
            originals += leaves
            new = [_track(x) for x in leaves]
            tracked.append(new)
            rebuilders.append(rebuild)
            args[a] = rebuild(new)
        with enable_grad():
            out, aux = _split_aux(func(*args, **kwargs), has_aux, "grad_and_value")
            if not isinstance(out, TensorBase):
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"Tensor, got {type(out).__name__}")
            if out.dim() != 0:
                raise RuntimeError(
                    "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                    f"tensor with {out.dim()} dims. Maybe you wanted to use the vjp or jacrev "
                    "APIs instead?")
            flat = [x for group in tracked for x in group]
            gs = _grads([out], flat)
        keep = _outer(originals)
        k, per_arg = 0, []
        for group, rebuild in zip(tracked, rebuilders):
            per_arg.append(rebuild(gs[k:k + len(group)]))
            k += len(group)
        g = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
        g = _detached(g, keep)
        value = _detached(out, keep)
        return (g, (value, _detached(aux, keep))) if has_aux else (g, value)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """The gradient of ``func`` (returning a scalar tensor) with respect to the arguments
    ``argnums``: ``grad(f)(x)`` is df/dx; with ``has_aux``, ``(gradient, aux)``."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)``: ``vjp_fn(cotangents)`` gives the vector-Jacobian
    product for each primal (a tuple); with ``has_aux``, ``(output, vjp_fn, aux)``."""
    leaves, rebuild = _tensors(primals, "vjp(f, *primals)")
    tracked = [_track(x) for x in leaves]
    with enable_grad():
        out, aux = _split_aux(func(*rebuild(tracked)), has_aux, "vjp")
    out_leaves, _ = _tensors(out, "vjp(f, *primals): the output of f")
    keep = _outer(leaves)

    def vjp_fn(cotangents):
        cts, _ = _tensors(cotangents, "vjp_fn(cotangents)")
        if len(cts) != len(out_leaves):
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function: {len(cts)} "
                               f"cotangents for {len(out_leaves)} outputs")
        for c, o in zip(cts, out_leaves):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                                   f"{tuple(c.shape)} and output[0] has a shape of {tuple(o.shape)}.")
        with enable_grad():
            gs = _grads(out_leaves, tracked, cts)
        return _detached(tuple(rebuild(gs)), keep or _outer(cts))

    result = (_detached(out, keep), vjp_fn)
    return result + (_detached(aux, keep),) if has_aux else result


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """The Jacobian of ``func`` with respect to the arguments ``argnums`` by reverse mode
    (one vjp per output element); shaped ``output.shape + input.shape``."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args), "jacrev(f, ...)(*args)")
        args = list(args)
        groups, originals = [], []
        for a in nums:
            leaves, rebuild = _tensors(args[a], "jacrev(f, ...)(*args)")
            originals += leaves
            new = [_track(x) for x in leaves]
            groups.append((new, rebuild))
            args[a] = rebuild(new)
        with enable_grad():
            out, aux = _split_aux(func(*args, **kwargs), has_aux, "jacrev")
            outs, out_rebuild = _tensors(out, "jacrev(f, ...)(*args): the output of f")
            flat = [x for new, _ in groups for x in new]
            jac = [[[] for _ in flat] for _ in outs]     # [output][input]: rows
            for k, o in enumerate(outs):
                for e in range(o.numel()):
                    u = _zeros(o, o.numel())
                    u[e] = 1
                    cts = [u.view(tuple(o.shape)) if j == k else None for j in range(len(outs))]
                    gs = _grads([o], flat, [cts[k]])
                    for i, g in enumerate(gs):
                        jac[k][i].append(g)
        keep = _outer(originals)
        from autogradx import stack
        blocks = []
        for k, o in enumerate(outs):
            per_input = []
            for i, x in enumerate(flat):
                rows = jac[k][i]
                block = (stack(rows).view(tuple(o.shape) + tuple(x.shape)) if rows
                         else _zeros(x, tuple(o.shape) + tuple(x.shape)))
                per_input.append(block)
            blocks.append(per_input)
        return _assemble(blocks, groups, out_rebuild, argnums, aux, keep, has_aux)
    return wrapper


def _assemble(blocks, groups, out_rebuild, argnums, aux, keep, has_aux):
    """Jacobian blocks [output][input] in the structure torch.func gives: per output (its
    pytree), per argnum (a tuple when argnums is a tuple), per input (its pytree)."""
    per_output = []
    for per_input in blocks:
        k, per_arg = 0, []
        for new, rebuild in groups:
            per_arg.append(rebuild(per_input[k:k + len(new)]))
            k += len(new)
        per_output.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
    res = _detached(out_rebuild(per_output), keep)
    return (res, _detached(aux, keep)) if has_aux else res


# -- forward mode -----------------------------------------------------------------------


def _forward_level(name):
    if fwAD._current_level >= 0:
        raise RuntimeError(f"{name}: nested forward mode (jvp or jacfwd inside jvp or jacfwd) "
                           "is not supported; use jacfwd(jacrev(f)) or jacrev(jacfwd(f))")
    return fwAD.dual_level()


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``(func(*primals), J @ tangents)`` by forward mode (one forward pass, tangents
    carried by forward_ad); with ``has_aux``, ``(output, jvp_out, aux)``."""
    for what, v in (("primals", primals), ("tangents", tangents)):
        if not isinstance(v, tuple):
            raise RuntimeError(f"jvp(f, primals, tangents): Expected {what} to be a tuple. "
                               "E.g. it should be valid to call f(*primals).")
    ps, rebuild = _tensors(primals, "jvp(f, primals, tangents)")
    ts, _ = _tensors(tangents, "jvp(f, primals, tangents)")
    if len(ps) != len(ts):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have "
                           "the same python structure.")
    for p, t in zip(ps, ts):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have "
                               f"the same shape, got {tuple(p.shape)} and {tuple(t.shape)}")
    with _forward_level("jvp(f, primals, tangents)"):
        duals = [fwAD.make_dual(p, t) for p, t in zip(ps, ts)]
        out, aux = _split_aux(func(*rebuild(duals)), has_aux, "jvp")
        outs, out_rebuild = _tensors(out, "jvp(f, primals, tangents): the output of f")
        primal_out, tangent_out = [], []
        for o in outs:
            p, t = fwAD.unpack_dual(o)
            primal_out.append(p)
            tangent_out.append(t if t is not None else _zeros_like(o))
    keep = _outer(ps) or _outer(ts)
    res = (_detached(out_rebuild(primal_out), keep), _detached(out_rebuild(tangent_out), keep))
    return res + (_detached(aux, keep),) if has_aux else res


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian of ``func`` with respect to the arguments ``argnums`` by forward mode:
    ``jvp`` vmapped over the basis vectors of each input (one batched forward pass per
    input); shaped ``output.shape + input.shape``."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _argnums(argnums, len(args), "jacfwd(f, ...)(*args)")
        groups, originals = [], []
        for a in nums:
            leaves, rebuild = _tensors(args[a], "jacfwd(f, ...)(*args)")
            originals += leaves
            groups.append((leaves, rebuild))
        flat = [x for leaves, _ in groups for x in leaves]

        def pushforward(i, basis):
            """The outputs of ``func`` and their tangents along ``basis`` for input ``i``."""
            with _forward_level("jacfwd(f, ...)(*args)"):
                new_args, k = list(args), 0
                for a, (leaves, rebuild) in zip(nums, groups):
                    new_args[a] = rebuild([
                        fwAD.make_dual(leaf, basis if k + j == i else _zeros_like(leaf))
                        for j, leaf in enumerate(leaves)])
                    k += len(leaves)
                out, aux = _split_aux(func(*new_args, **kwargs), has_aux, "jacfwd")
                outs, structure["rebuild"] = _tensors(out, "jacfwd(f, ...)(*args): the output of f")
                tangents = []
                for o in outs:
                    t = fwAD.unpack_dual(o).tangent
                    tangents.append(t if t is not None else _zeros_like(o))
                primals = [fwAD.unpack_dual(o).primal for o in outs]
            return (tuple(tangents), tuple(primals)) + ((aux,) if has_aux else ())

        structure = {}
        columns, outs, aux = [], None, None
        for i, x in enumerate(flat):
            if x.numel() == 0:
                columns.append(None)
                continue
            basis = _eye(x.numel(), x).view((x.numel(),) + tuple(x.shape))
            res = vmap(functools.partial(pushforward, i), randomness=randomness)(basis)
            columns.append(res[0])
            # Every sample's primal outputs and aux are the same: the first one's.
            outs = [p[0] for p in res[1]]
            aux = _first_sample(res[2]) if has_aux else None
        if outs is None:        # no input elements at all: evaluate once for the shapes
            out, aux = _split_aux(func(*args, **kwargs), has_aux, "jacfwd")
            outs, structure["rebuild"] = _tensors(out, "jacfwd(f, ...)(*args): the output of f")
        out_rebuild = structure["rebuild"]
        blocks = []
        for k, o in enumerate(outs):
            per_input = []
            for i, x in enumerate(flat):
                shape = tuple(o.shape) + tuple(x.shape)
                per_input.append(columns[i][k].movedim(0, -1).reshape(shape)
                                 if columns[i] is not None else _zeros(o, shape))
            blocks.append(per_input)
        keep = _outer(originals)
        return _assemble(blocks, groups, out_rebuild, argnums, aux, keep, has_aux)
    return wrapper


def _first_sample(tree):
    """The first sample of each tensor of ``tree`` (vmap's results along dim 0)."""
    leaves, rebuild = _flatten(tree)
    return rebuild([x[0] if isinstance(x, TensorBase) else x for x in leaves])


def hessian(func, argnums=0):
    """The Hessian of ``func`` (returning a scalar tensor): ``jacfwd(jacrev(func))``,
    forward over reverse."""
    return jacfwd(jacrev(func, argnums), argnums)


# -- vmap -------------------------------------------------------------------------------


def _in_dims(in_dims, args):
    """Per argument, its in_dims as a pytree matching it (an int or None per leaf)."""
    if isinstance(in_dims, int) or in_dims is None:
        per_arg = [in_dims] * len(args)
    elif isinstance(in_dims, tuple):
        if len(in_dims) != len(args):
            raise ValueError(
                f"vmap(f, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with the "
                f"structure of `inputs`. in_dims has structure {len(in_dims)} but inputs has "
                f"structure {len(args)}.")
        per_arg = list(in_dims)
    else:
        raise ValueError(f"vmap(f, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be "
                         f"int or a (potentially nested) tuple matching the structure of inputs, "
                         f"got: {type(in_dims)}.")
    out = []
    for a, d in zip(args, per_arg):
        leaves, rebuild = _flatten(a)
        if d is None or isinstance(d, int):
            dims = [d] * len(leaves)
        else:
            dims, _ = _flatten(d)
            if len(dims) != len(leaves):
                raise ValueError(f"vmap: in_dims {d!r} does not match the structure of its input")
        for leaf, dim in zip(leaves, dims):
            if dim is not None and not isinstance(leaf, TensorBase):
                raise ValueError(
                    f"vmap(f, in_dims={in_dims}, ...)(<inputs>): Got in_dim={dim} for an input "
                    f"but the input is of type {type(leaf)}. We cannot vmap over non-Tensor "
                    "arguments, please use None as the respective in_dim")
            if dim is not None and not -max(leaf.dim(), 1) <= dim < max(leaf.dim(), 1):
                raise ValueError(
                    f"vmap(f, in_dims={in_dims}, ...)(<inputs>): Got in_dim={dim} for some input, "
                    f"but that input is a Tensor of dimensionality {leaf.dim()} so expected "
                    f"in_dim to satisfy -{leaf.dim()} <= in_dim < {leaf.dim()}.")
        out.append((leaves, rebuild, dims))
    return out


_RANDOM_IN_VMAP = (
    "vmap: called random operation while in randomness error mode. Please either use the "
    "'same' or 'different' randomness flags on vmap or perform the randomness operation out "
    "of vmap")
# The words of torch._vmap_internals._vmap, the vmap of PyTorch's gradcheck.
_RANDOM_IN_LEGACY_VMAP = (
    "vmap: We do not yet support calling random operations inside of vmap. Please perform "
    "random operations outside of vmap as a workaround")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over dimension ``in_dims`` of its inputs, the results stacked along
    ``out_dims``. Each op runs once on the whole batch by its batching rule (an op without
    one runs once per sample: :func:`vmap_fallback_stats` lists them). ``randomness``:
    ``"error"`` (a random op inside raises), ``"different"`` (each sample draws its own)
    or ``"same"`` (every sample draws the same values). ``chunk_size``: map that many
    samples at a time."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")
    return _vmap(func, in_dims, out_dims, randomness, chunk_size,
                 _RANDOM_IN_VMAP if randomness == "error" else None)


def _legacy_vmap(func, in_dims=0, out_dims=0):
    """PyTorch's older ``torch._vmap_internals._vmap``, which its gradcheck uses: ``vmap``
    that refuses random ops in that vmap's words."""
    return _vmap(func, in_dims, out_dims, "error", None, _RANDOM_IN_LEGACY_VMAP)


def _vmap(func, in_dims, out_dims, randomness, chunk_size, refuse_random):
    """vmap (``refuse_random``: the message of the error a random op raises inside, or
    None)."""
    name = getattr(func, "__name__", func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not args:
            raise ValueError(f"vmap({name})(<inputs>): got no inputs. "
                             "Maybe you forgot to add inputs, or you are trying to vmap over a "
                             "function with no inputs. The latter is unsupported.")
        specs = _in_dims(in_dims, args)
        sizes = [leaf.shape[d] for leaves, _, dims in specs
                 for leaf, d in zip(leaves, dims) if d is not None]
        if not sizes:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)"
                             "(<inputs>): at least one input must be batched (in_dims must not "
                             "be None for every input)")
        if len(set(sizes)) != 1:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)"
                             "(<inputs>): Expected all tensors to have the same size in the "
                             f"mapped dimension, got sizes {sizes} for the mapped dimension")
        if chunk_size is not None and sizes[0] > chunk_size:
            return _chunked(specs, sizes[0], kwargs)
        return _mapped(specs, sizes[0], kwargs)

    def _mapped(specs, size, kwargs):
        from autogradx import _factories
        level = _batching.push_level(size, randomness)
        prev = _factories.Generator._refuse_random
        try:
            call_args = [rebuild([leaf if d is None else _batching.enter(leaf, d, level)
                                  for leaf, d in zip(leaves, dims)])
                         for leaves, rebuild, dims in specs]
            _factories.Generator._refuse_random = refuse_random
            out = func(*call_args, **kwargs)
            _factories.Generator._refuse_random = prev
            outs, rebuild_out = _flatten(out)
            odims = _out_dims(out_dims, outs)
            for o in outs:
                if not isinstance(o, TensorBase):
                    raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, "
                                     f"got type {type(o)}. Did you mean to set out_dims= to "
                                     "None for output?")
            return rebuild_out([_batching.leave(o, level, d) for o, d in zip(outs, odims)])
        finally:
            _factories.Generator._refuse_random = prev
            _batching.pop_level(level)

    def _chunked(specs, size, kwargs):
        from autogradx import cat
        pieces = []
        for start in range(0, size, chunk_size):
            length = min(chunk_size, size - start)
            chunk = [(leaves, rebuild, dims, [leaf if d is None else leaf.narrow(d, start, length)
                                              for leaf, d in zip(leaves, dims)])
                     for leaves, rebuild, dims in specs]
            pieces.append(_mapped([(new, rebuild, dims) for _, rebuild, dims, new in chunk],
                                  length, kwargs))
        flat = [_flatten(p)[0] for p in pieces]
        _, rebuild_out = _flatten(pieces[0])
        odims = _out_dims(out_dims, flat[0])
        return rebuild_out([column[0] if d is None else cat(list(column), dim=d)
                            for d, column in zip(odims, zip(*flat))])

    return wrapper


def _out_dims(out_dims, outs):
    if isinstance(out_dims, (int, type(None))):
        return [out_dims] * len(outs)
    odims, _ = _flatten(out_dims)
    if len(odims) != len(outs):
        raise ValueError(f"vmap(f, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                         "compatible with the structure of `outputs`.")
    return odims


def vmap_fallback_stats():
    """``{op name: calls}``: the ops that ran vmap's fallback loop (once per sample, for want
    of a batching rule for that call) since :func:`reset_vmap_fallback_stats`."""
    return _batching.fallback_stats()


def reset_vmap_fallback_stats():
    """Forget the counts of :func:`vmap_fallback_stats`."""
    _batching.reset_fallback_stats()


def set_vmap_fallback_warning(enabled=True):
    """Warn (:class:`VmapFallbackWarning`, once per op) when an op runs vmap's fallback loop;
    off by default, as in PyTorch. Returns the previous setting."""
    return _batching.set_fallback_warning(enabled)


def batching_rule_kind(op_name):
    """The kind of batching rule vmap uses for the registered op ``op_name`` (``"broadcast"``,
    ``"dims"``, ``"matmul"``, ...), or None where it runs the fallback loop."""
    from autogradx._batching import rules
    from autogradx._registry import get_op
    return rules.kind_of(get_op(op_name))


# -- modules ----------------------------------------------------------------------------


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with its parameters and buffers replaced by the tensors
    of ``parameter_and_buffer_dicts`` (a dict of dotted names, or a tuple of dicts), put back
    afterwards."""
    if isinstance(parameter_and_buffer_dicts, dict):
        values = dict(parameter_and_buffer_dicts)
    else:
        values = {}
        for d in parameter_and_buffer_dicts:
            for k, v in d.items():
                if k in values:
                    raise ValueError(f"{k} appeared in multiple dictionaries; behavior of "
                                     "functional call is ambiguous")
                values[k] = v
    known = dict(module.named_parameters())
    known.update(dict(module.named_buffers()))
    if strict:
        missing = sorted(set(known) - set(values))
        unexpected = sorted(set(values) - set(known))
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in reassigning parameters of {type(module).__name__}: "
                               f"missing keys {missing}, unexpected keys {unexpected}")
    args = () if args is None else (args if isinstance(args, tuple) else (args,))
    saved = []
    try:
        for name, value in values.items():
            owner, _, attr = name.rpartition(".")
            target = module.get_submodule(owner) if owner else module
            saved.append((target, attr, _swap(target, attr, value)))
        return module(*args, **(kwargs or {}))
    finally:
        for target, attr, restore in reversed(saved):
            restore()


def _swap(target, attr, value):
    """Put ``value`` in place of ``target.attr`` (a parameter, buffer or attribute) and
    return how to undo it."""
    for store in ("_parameters", "_buffers"):
        table = getattr(target, store, None)
        if table is not None and attr in table:
            old = table[attr]
            table.pop(attr)
            object.__setattr__(target, attr, value)

            def restore(table=table, old=old):
                object.__delattr__(target, attr)
                table[attr] = old
            return restore
    had = attr in target.__dict__
    old = target.__dict__.get(attr)
    object.__setattr__(target, attr, value)

    def restore():
        if had:
            object.__setattr__(target, attr, old)
        else:
            object.__delattr__(target, attr)
    return restore


def _zeros_like(t):
    from autogradx import zeros_like
    return zeros_like(t.detach())


def _eye(n, like):
    from autogradx import eye
    return eye(n, dtype=like.dtype, device=like.device)


def _zeros(like, shape):
    from autogradx import zeros
    return zeros(shape, dtype=like.dtype, device=like.device)
