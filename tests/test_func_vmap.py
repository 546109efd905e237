"""vmap's batching rules against the loop they replace, over every op of autogradx's own
plugins with the conformance samples (as tests/plugins/test_conformance.py takes them).

For each sample, three draws of its floating tensors are stacked and mapped (integer and
bool tensors, indices and masks, are shared: in_dims None, unless the op takes nothing
else), then only the first of them (weights and other operands shared); the batched
result must be
the stack of the op applied to each draw, in values and dtype, and, for a differentiable
op, vmap(grad) must give each draw's own gradient. Then: which ops have a rule, the
fallback report, randomness, and the batched path of the transforms inside vmap.
"""

import numpy as np
import pytest

import autogradx as agx
import autogradx.func as afunc
from autogradx._batching import rules
from autogradx._registry import REGISTRY
from autogradx.conformance import _Call, plugin_cases

B = 3       # draws per sample


def _builtin_cases():
    out = []
    for name, info in REGISTRY.load().plugins.items():
        if info.builtin and not info.error:
            out += [(op, cases) for op, cases in plugin_cases(name) if isinstance(cases, list)]
    return out


# Cases where the loop's reference is wrong, not vmap (a bug outside vmap, kept visible as a
# strict xfail): none at present.
KNOWN = {}


def _params():
    params = []
    for op, cases in _builtin_cases():
        for k, sample in enumerate(cases):
            if sample.manual_seed is not None:      # random ops: test_randomness
                continue
            for which in ("all", "first"):
                id = f"{op.name}-{k}-{which}"
                marks = (pytest.mark.xfail(strict=True, reason=KNOWN[id]) if id in KNOWN
                         else ())
                params.append(pytest.param(op, sample, which, id=id, marks=marks))
    return params


def _draws(op, sample, which="all"):
    """The op's call, the draws' leaves, and which leaves are batched: the floating ones
    (or all when none is), or only the first of them (``which="first"``: the others, a
    weight, a bias, an operand, are shared)."""
    calls = [_Call(op, sample, 100 + b, np.dtype(np.float64)) for b in range(B)]
    leaves = [[t.detach() for t in c.leaves] for c in calls]
    batched = [t.is_floating_point() or t.is_complex() for t in leaves[0]]
    if not any(batched):        # an op of integers or bools: batch them all
        batched = [True] * len(batched)
    if which == "first":
        first = batched.index(True)
        batched = [i == first for i in range(len(batched))]
    args = [agx.stack([draw[i] for draw in leaves]) if bt else leaves[0][i]
            for i, bt in enumerate(batched)]
    per_draw = [[draw[i] if bt else leaves[0][i] for i, bt in enumerate(batched)]
                for draw in leaves]
    return calls[0], args, per_draw, batched


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize("op, sample, which", _params())
def test_vmap_matches_the_loop(op, sample, which):
    call, args, per_draw, batched = _draws(op, sample, which)
    try:
        expected = [_flat(call(*d)) for d in per_draw]
    except Exception as e:      # a sample of an error case: vmap must raise it too
        with pytest.raises(type(e)):
            afunc.vmap(call, in_dims=tuple(0 if b else None for b in batched))(*args)
        return
    if not all(isinstance(v, agx.Tensor) for v in expected[0]):
        with pytest.raises(RuntimeError, match="cannot be batched"):
            afunc.vmap(call, in_dims=tuple(0 if b else None for b in batched))(*args)
        return
    got = _flat(afunc.vmap(call, in_dims=tuple(0 if b else None for b in batched))(*args))
    assert len(got) == len(expected[0])
    for j, g in enumerate(got):
        want = np.stack([np.asarray(e[j].detach()._data) for e in expected])
        assert g.dtype == expected[0][j].dtype
        assert tuple(g.shape) == want.shape
        np.testing.assert_allclose(np.asarray(g.detach()._data), want, rtol=1e-10, atol=1e-12)
    if op.vjp is None and op.vjps is None:
        return
    # Per-sample gradients: vmap(grad) against grad of each draw.
    floats = [i for i, b in enumerate(batched) if b]

    def loss(*fl):
        full = list(per_draw[0])
        for i, t in zip(floats, fl):
            full[i] = t
        outs = [o for o in _flat(call(*full)) if o.is_floating_point()]
        return sum(o.sum() for o in outs) if outs else None

    if loss(*[per_draw[0][i] for i in floats]) is None:
        return
    grad = afunc.grad(loss, argnums=tuple(range(len(floats))))
    try:
        want = [grad(*[d[i] for i in floats]) for d in per_draw]
    except Exception:
        return      # not differentiable at these values (PyTorch raises for them too)
    got = afunc.vmap(grad)(*[args[i] for i in floats])
    single = any(t.dtype in (agx.float32, agx.float16) for t in args if isinstance(t, agx.Tensor))
    tol = dict(rtol=1e-5, atol=1e-6) if single else dict(rtol=1e-9, atol=1e-11)
    for k in range(len(floats)):
        np.testing.assert_allclose(np.asarray(got[k].detach()._data),
                                   np.stack([np.asarray(w[k].detach()._data) for w in want]),
                                   **tol)


def test_most_ops_have_a_batching_rule():
    """Every op's kind comes from the registry; the report of ops without one is complete."""
    ops = REGISTRY.load().ops
    kinds = {name: rules.kind_of(op) for name, op in ops.items()}
    with_rule = sorted(n for n, k in kinds.items() if k is not None)
    without = sorted(n for n, k in kinds.items() if k is None)
    assert set(with_rule) | set(without) == set(ops)
    assert all(k in rules.KINDS for k in kinds.values() if k is not None)
    assert afunc.batching_rule_kind("matmul") == "matmul"
    assert afunc.batching_rule_kind("sum") == "dims"
    assert afunc.batching_rule_kind("unique") is None
    assert len(with_rule) > 3 * len(without)


def test_fallback_is_reported():
    x = agx.randn(4, 5, dtype=agx.float64)
    afunc.reset_vmap_fallback_stats()
    out = afunc.vmap(lambda r: agx.unique(r, sorted=True, return_counts=True)[1].sum())(
        agx.zeros(4, 5))
    assert afunc.vmap_fallback_stats() == {"unique": 1}
    assert out.tolist() == [5.0] * 4
    afunc.reset_vmap_fallback_stats()
    afunc.vmap(lambda r: (r.sin()[:, None] @ r[None]).sum(0))(x)
    assert afunc.vmap_fallback_stats() == {}
    prev = afunc.set_vmap_fallback_warning(True)
    try:
        with pytest.warns(afunc.VmapFallbackWarning, match="unique"):
            afunc.vmap(lambda r: agx.unique(r, return_counts=True)[1].sum())(agx.zeros(4, 5))
    finally:
        afunc.set_vmap_fallback_warning(prev)
        afunc.reset_vmap_fallback_stats()


def test_batched_tensors_show_a_samples_shape_and_refuse_its_values():
    seen = []

    def f(x):
        seen.append((tuple(x.shape), x.dim(), x.numel(), len(x), x.size(-1)))
        with pytest.raises(RuntimeError, match=r"\.item\(\)"):
            x.sum().item()
        with pytest.raises(RuntimeError, match="bool"):
            bool(x.sum() > 0)
        return x
    x = agx.randn(4, 2, 3)
    assert agx.equal(afunc.vmap(f, in_dims=1)(x), x.movedim(1, 0))
    assert seen == [((4, 3), 2, 12, 4, 3)]


def test_grad_inside_vmap_is_the_batched_computation():
    """vmap(grad) runs each op once on the batch: no op takes the loop, and the parameters'
    gradients are per sample (not summed over the batch)."""
    w = agx.randn(3, 4, dtype=agx.float64)
    xs = agx.randn(5, 4, dtype=agx.float64)

    def loss(w, x):
        return (agx.nn.functional.linear(x, w).tanh() ** 2).sum()
    afunc.reset_vmap_fallback_stats()
    got = afunc.vmap(afunc.grad(loss), in_dims=(None, 0))(w, xs)
    assert afunc.vmap_fallback_stats() == {}
    want = agx.stack([afunc.grad(loss)(w, x) for x in xs])
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_transforms_inside_vmap_use_the_batched_path():
    xs = agx.randn(3, 4, dtype=agx.float64)

    def f(x):
        return (x.sin() * x.exp()).sum() * x.prod()
    for transform in (afunc.jacrev, afunc.jacfwd, afunc.hessian):
        afunc.reset_vmap_fallback_stats()
        got = afunc.vmap(transform(f))(xs)
        assert afunc.vmap_fallback_stats() == {}, transform.__name__
        want = agx.stack([transform(f)(x) for x in xs])
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)


def test_jacfwd_is_vmap_of_jvp_against_finite_differences():
    x = agx.tensor([0.3, -1.2, 2.0, 0.7], dtype=agx.float64)

    def f(x):
        return agx.stack([x.exp().sum(), (x * x).prod(), x.softmax(0)[1] * x[0]])
    jac = afunc.jacfwd(f)(x).numpy()
    eps = 1e-6
    fd = np.stack([(f(x + eps * e).numpy() - f(x - eps * e).numpy()) / (2 * eps)
                   for e in agx.eye(4, dtype=agx.float64)], axis=-1)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-8)


def test_nesting_in_dims_out_dims_and_chunks():
    x = agx.randn(2, 3, 4, dtype=agx.float64)
    y = agx.randn(4, dtype=agx.float64)
    f = afunc.vmap(afunc.vmap(lambda a, b: (a * b).softmax(0), in_dims=(0, None)),
                   in_dims=(1, None), out_dims=1)
    want = agx.stack([agx.stack([(x[i, j] * y).softmax(0) for j in range(3)])
                      for i in range(2)])
    np.testing.assert_allclose(f(x, y).numpy(), want.numpy(), rtol=1e-12)
    g = afunc.vmap(lambda a: (a.sum(), a), out_dims=(0, -1), chunk_size=2)
    s, a = g(x.reshape(6, 4))
    np.testing.assert_allclose(s.numpy(), x.reshape(6, 4).sum(1).numpy(), rtol=1e-12)
    assert agx.equal(a, x.reshape(6, 4).T)
    # An output that does not depend on the mapped input is expanded, or kept (None).
    c, d = afunc.vmap(lambda a: (y * 2, y), out_dims=(0, None))(x)
    assert tuple(c.shape) == (2, 4) and agx.equal(d, y)


def test_randomness():
    x = agx.zeros(4, 3)
    with pytest.raises(RuntimeError, match="randomness"):
        afunc.vmap(lambda a: a + agx.rand_like(a))(x)
    same = afunc.vmap(lambda a: agx.nn.functional.dropout(a + 1, 0.5), randomness="same")(x)
    assert all(agx.equal(same[0], r) for r in same)
    agx.manual_seed(0)
    diff = afunc.vmap(lambda a: a + agx.randn(3), randomness="different")(x)
    assert not agx.equal(diff[0], diff[1])
    agx.manual_seed(0)
    diff = afunc.vmap(lambda a: agx.nn.functional.dropout(a + 1, 0.5), randomness="different")(
        agx.zeros(8, 64))
    assert not all(agx.equal(diff[0], r) for r in diff)


def test_errors():
    with pytest.raises(IndexError, match="Dimension out of range"):
        afunc.vmap(lambda a: a.sum(5))(agx.ones(2, 3))
    with pytest.raises(RuntimeError, match="mm"):
        afunc.vmap(lambda a: agx.mm(a, a))(agx.ones(2, 3))
    leaked = []
    afunc.vmap(lambda a: leaked.append(a) or a)(agx.ones(2, 3))
    with pytest.raises(RuntimeError, match="vmap that has returned"):
        afunc.vmap(lambda a: a + leaked[0])(agx.ones(2, 3))
