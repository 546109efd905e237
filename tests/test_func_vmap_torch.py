"""vmap against torch.func.vmap on the same op calls: every op of autogradx's own plugins
that torch has under the same name (``torch.<name>``, ``torch.nn.functional.<name>``,
``torch.linalg.<name>``), on its conformance samples, three draws of the floating tensors
stacked (all of them, then only the first: see test_func_vmap.py); and per-sample gradients of a small MLP, vmap(grad), against torch.func's."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

# torch's forward AD loads its decompositions through torch.jit.script, which warns.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

import autogradx as agx
import autogradx.func as afunc
from test_func_vmap import _builtin_cases, _draws, _flat

NAMESPACES = {"": torch, "nn.functional": torch.nn.functional, "linalg": torch.linalg}


def _torch_function(op):
    for ns, module in NAMESPACES.items():
        if ns in op.namespaces:
            fn = getattr(module, op.name.rpartition(".")[2].removeprefix("linalg_"), None)
            if fn is not None:
                return fn
    return None


def _params():
    return [pytest.param(op, cases, fn, id=op.name) for op, cases in _builtin_cases()
            if (fn := _torch_function(op)) is not None]


# Singular vectors are unique up to sign: compared in absolute value.
UP_TO_SIGN = {"svd", "linalg_svd"}


def _torch(t):
    return torch.from_numpy(np.array(t.detach()._data))


@pytest.mark.parametrize("op, cases, torch_fn", _params())
def test_vmap_matches_torch_func(op, cases, torch_fn):
    compared = 0
    for sample, which in [(sample, which) for sample in cases for which in ("all", "first")]:
        if sample.manual_seed is not None:
            continue
        call, args, per_draw, batched = _draws(op, sample, which)
        in_dims = tuple(0 if b else None for b in batched)

        def theirs(*leaves):
            return torch_fn(*call._fill(call.args, leaves),
                            **{k: call._fill(v, leaves) for k, v in call.kwargs.items()})
        try:
            want = _flat(torch.func.vmap(theirs, in_dims=in_dims)(*[_torch(a) for a in args]))
        except Exception:
            continue        # not a call torch batches (or takes): nothing to compare with
        if not all(isinstance(w, torch.Tensor) for w in want):
            continue
        got = _flat(afunc.vmap(call, in_dims=in_dims)(*args))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert tuple(g.shape) == tuple(w.shape)
            assert str(g.dtype) == str(w.dtype)
            a, b = np.asarray(g.detach()._data), w.detach().numpy()
            if op.name in UP_TO_SIGN:
                a, b = np.abs(a), np.abs(b)
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9, equal_nan=True)
        compared += 1
    if not compared:
        pytest.skip(f"torch.func.vmap takes none of {op.name}'s samples as autogradx calls it")


def test_per_sample_gradients_of_an_mlp():
    rng = np.random.default_rng(0)
    shapes = {"w1": (16, 8), "b1": (16,), "w2": (4, 16), "b2": (4,)}
    params = {k: rng.standard_normal(s) for k, s in shapes.items()}
    x, y = rng.standard_normal((32, 8)), rng.integers(0, 4, 32)

    def run(lib, func):
        def loss(p, xi, yi):
            h = lib.nn.functional.linear(xi, p["w1"], p["b1"]).relu()
            out = lib.nn.functional.linear(h, p["w2"], p["b2"])
            return lib.nn.functional.cross_entropy(out, yi)
        p = {k: lib.tensor(v) for k, v in params.items()}
        g = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(p, lib.tensor(x), lib.tensor(y))
        return {k: v.detach().numpy() for k, v in g.items()}
    afunc.reset_vmap_fallback_stats()
    ours = run(agx, afunc)
    assert afunc.vmap_fallback_stats() == {}     # every op batched, none looped
    theirs = run(torch, torch.func)
    for k in shapes:
        assert ours[k].shape == (32,) + shapes[k]
        np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-10, atol=1e-12)


def test_jacobians_in_vmap_match_torch():
    xs = np.random.default_rng(1).standard_normal((3, 4))

    def run(lib, func, transform):
        f = lambda x: (x.sin() * x.exp()).sum() * x.prod()
        return getattr(func, transform)(f)
    for transform in ("jacfwd", "jacrev", "hessian"):
        ours = afunc.vmap(run(agx, afunc, transform))(agx.tensor(xs)).numpy()
        theirs = torch.func.vmap(run(torch, torch.func, transform))(torch.tensor(xs)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_compositions_match_torch():
    """vmap inside and outside jvp, grad, jacrev, jacfwd and hessian, nested vmaps: each as
    torch.func computes it, and no op takes the fallback loop."""
    rng = np.random.default_rng(0)
    X, V, W = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal(4)

    def run(lib, F):
        x, v, w = lib.tensor(X), lib.tensor(V), lib.tensor(W)
        f = lambda x, w: (x.sin() * w).softmax(-1) * x.sum()
        g = lambda x: f(x, w)
        return [t.detach().numpy() for t in (
            F.jvp(F.vmap(f, in_dims=(0, None)), (x, w), (v, lib.zeros_like(w)))[1],
            F.vmap(lambda x, v: F.jvp(g, (x,), (v,))[1])(x, v),
            F.vmap(lambda v: F.jvp(g, (x[0],), (v,))[1])(v),
            F.grad(lambda w: F.vmap(f, in_dims=(0, None))(x, w).pow(2).sum())(w),
            F.vmap(F.vmap(F.grad(lambda a, b: (a * b).sin().sum())), in_dims=(0, None))(x, w),
            F.jacrev(F.vmap(g))(x),
            F.vmap(F.jacfwd(g))(x),
            F.vmap(F.hessian(lambda x: (x.sin() * w).sum() * x.prod()))(x),
        )]
    afunc.reset_vmap_fallback_stats()
    ours = run(agx, afunc)
    assert afunc.vmap_fallback_stats() == {}
    for a, b in zip(ours, run(torch, torch.func)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_indexing_with_a_batched_index_tensor_matches_torch():
    """x[i], x[i] = v and their gradients where i is batched: each sample its own i (it was
    applied whole to every sample)."""
    X = np.arange(12.0).reshape(4, 3)
    I = np.array([[0, 1], [2, 2], [1, 0], [0, 0]])

    def run(lib, F):
        w = lib.tensor(X, requires_grad=True)
        i = lib.tensor(I)

        def put(x, i, v):
            y = x.clone()
            y[i] = v
            return y
        outs = [F.vmap(lambda x, i: x[i])(w, i), F.vmap(lambda x, i: x[None, i, None])(w, i),
                F.vmap(put)(w * 1, i, w[:, 1:] ** 2),
                F.vmap(F.grad(lambda x, i: x[i].sin().sum()))(w.detach(), i)]
        sum(o.sum() for o in outs[:3]).backward()
        return [t.detach().numpy() for t in outs + [w.grad]]
    for a, b in zip(run(agx, afunc), run(torch, torch.func)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_hessian_of_an_in_place_change_through_a_view_matches_torch():
    """jacfwd(jacrev(f)) where f writes into a view: the view's history is rebuilt inside
    vmap on the batch's arrays (it was sent through the batching rule again: IndexError)."""
    X = np.array([0.1, 0.2, 0.3, 0.4])

    def run(lib, F):
        def f(x):
            z = x.clone()
            z[1:3].mul_(x[2:])
            z.t()[::3].add_(x[:2].sin())
            return z.exp().sum()
        x = lib.tensor(X)
        return [F.hessian(f)(x).numpy(), F.vmap(F.jacfwd(F.grad(f)))(lib.stack([x, 2 * x])).numpy()]
    for a, b in zip(run(agx, afunc), run(torch, torch.func)):
        np.testing.assert_allclose(a, b, rtol=1e-12)
