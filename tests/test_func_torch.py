"""autogradx.func against torch.func on the same functions, and against finite differences."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

# torch's forward AD loads its decompositions through torch.jit.script, which warns.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

import autogradx as agx
import autogradx.func as afunc
import torch.func as tfunc

LIBS = [(agx, afunc), (torch, tfunc)]


def _t(lib, a):
    return lib.tensor(np.asarray(a, dtype=np.float64))


def _np(x):
    if isinstance(x, (tuple, list)):
        return [_np(v) for v in x]
    if isinstance(x, dict):
        return {k: _np(v) for k, v in x.items()}
    return x.detach().numpy() if hasattr(x, "detach") else x


def _same(fn):
    """fn(lib, func) on both libraries gives the same arrays."""
    ours, theirs = (_np(fn(lib, func)) for lib, func in LIBS)
    _assert_close(ours, theirs)
    return ours


def _assert_close(a, b):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_close(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_close(a[k], b[k])
    else:
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


X = np.array([0.3, -1.2, 2.0, 0.7])
Y = np.array([[0.5, -0.1, 1.1, 0.2], [1.5, 0.4, -0.6, 0.9], [-0.8, 0.3, 0.6, 1.4]])


def scalar_f(lib, x, y):
    return (lib.sin(x) * (y @ x).sum() + (x ** 3).sum() * lib.tanh(y).mean())


def vector_f(lib, x):
    return lib.stack([x.exp().sum(), (x * x).prod(), x.sigmoid().mean() * x[0]])


def wide_to_tall(lib, x):
    return lib.cat([x.sin(), x.cos() * x[1], (x ** 2).cumsum(0)])


def test_grad_and_argnums():
    _same(lambda lib, F: F.grad(lambda x, y: scalar_f(lib, x, y).sum())(_t(lib, X), _t(lib, Y)))
    _same(lambda lib, F: F.grad(lambda x, y: scalar_f(lib, x, y).sum(), argnums=(0, 1))(
        _t(lib, X), _t(lib, Y)))
    _same(lambda lib, F: F.grad(lambda x, y: scalar_f(lib, x, y).sum(), argnums=1)(
        _t(lib, X), _t(lib, Y)))


def test_grad_and_value_with_aux_and_pytrees():
    def fn(lib, F):
        def f(p, scale):
            loss = (p["w"] * p["b"].sum()).exp().sum() * scale
            return loss, {"double": loss * 2}
        (g, (value, aux)) = F.grad_and_value(f, has_aux=True)(
            {"w": _t(lib, X), "b": _t(lib, Y)}, 0.5)
        return [g, value, aux]
    _same(fn)


def test_grad_errors_are_torchs():
    for f, args in ((lambda x: x * 2, (agx.ones(3),)),):
        with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor, got tensor with 1 dims"):
            afunc.grad(f)(*args)
        with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar Tensor, got tensor with 1 dims"):
            tfunc.grad(f)(torch.ones(3))
    with pytest.raises(RuntimeError, match="argnum"):
        afunc.grad(lambda x: x.sum(), argnums=3)(agx.ones(2))


def test_vjp():
    def fn(lib, F):
        out, vjp_fn = F.vjp(lambda x, y: wide_to_tall(lib, x) * y.sum(), _t(lib, X), _t(lib, Y))
        return [out, list(vjp_fn(_t(lib, np.linspace(-1, 1, 12))))]
    _same(fn)


def test_jvp_is_forward_mode_and_matches():
    def fn(lib, F):
        return list(F.jvp(lambda x, y: scalar_f(lib, x, y), (_t(lib, X), _t(lib, Y)),
                          (_t(lib, X[::-1].copy()), _t(lib, Y * 0.5))))
    ours = _same(fn)
    # Finite differences.
    eps = 1e-6
    f = lambda s: scalar_f(agx, _t(agx, X + s * X[::-1]), _t(agx, Y + s * Y * 0.5)).numpy()
    np.testing.assert_allclose(ours[1], (f(eps) - f(-eps)) / (2 * eps), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("fn", [vector_f, wide_to_tall], ids=["wide", "tall"])
def test_jacobians(transform, fn):
    ours = _same(lambda lib, F: getattr(F, transform)(lambda x: fn(lib, x))(_t(lib, X)))
    eps = 1e-6
    cols = [(fn(agx, _t(agx, X + eps * e)).numpy() - fn(agx, _t(agx, X - eps * e)).numpy())
            / (2 * eps) for e in np.eye(4)]
    np.testing.assert_allclose(ours, np.stack(cols, -1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
def test_jacobians_of_several_arguments_and_outputs(transform):
    _same(lambda lib, F: getattr(F, transform)(
        lambda x, y: (y @ x, (x * x).sum()), argnums=(0, 1))(_t(lib, X), _t(lib, Y)))


def test_hessian_and_compositions():
    f = lambda lib: (lambda x: (x.sin() * x.exp()).sum() * x.prod())
    ours = _same(lambda lib, F: F.hessian(f(lib))(_t(lib, X)))
    np.testing.assert_allclose(ours, np.asarray(ours).T, rtol=1e-10)
    _same(lambda lib, F: F.jacfwd(F.jacrev(f(lib)))(_t(lib, X)))
    _same(lambda lib, F: F.jacrev(F.jacrev(f(lib)))(_t(lib, X)))
    _same(lambda lib, F: F.grad(lambda x: F.grad(f(lib))(x).sum())(_t(lib, X)))
    _same(lambda lib, F: F.jacrev(F.jacfwd(f(lib)))(_t(lib, X)))


def test_vmap_in_dims_out_dims_and_nesting():
    _same(lambda lib, F: F.vmap(lambda x, y: (x * y).sum(), in_dims=(None, 0))(
        _t(lib, X), _t(lib, Y)))
    _same(lambda lib, F: F.vmap(lambda y: y.softmax(0), in_dims=1, out_dims=1)(_t(lib, Y)))
    _same(lambda lib, F: F.vmap(F.vmap(lambda a, b: a * b + 1), in_dims=(0, None))(
        _t(lib, Y), _t(lib, X)))
    _same(lambda lib, F: F.vmap(lambda d: d["a"] @ d["b"], in_dims=({"a": 0, "b": None},))(
        {"a": _t(lib, Y), "b": _t(lib, X)}))


def test_vmap_errors_are_torchs():
    for lib, F in LIBS:
        with pytest.raises(ValueError, match="same size in the mapped dimension"):
            F.vmap(lambda a, b: a + b)(lib.ones(2, 3), lib.ones(3, 3))
        with pytest.raises(ValueError, match="in_dim"):
            F.vmap(lambda a: a, in_dims=2)(lib.ones(2, 3))
        with pytest.raises(RuntimeError, match="randomness"):
            F.vmap(lambda a: a + lib.rand(3))(lib.ones(2, 3))
        with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
            F.vmap(lambda a: a, randomness="sometimes")(lib.ones(2))


def test_vmap_randomness_same_and_different():
    for lib, F in LIBS:
        same = F.vmap(lambda a: a + lib.rand(3), randomness="same")(lib.zeros(4, 3))
        assert all((same[i] == same[0]).all() for i in range(4))
        different = F.vmap(lambda a: a + lib.rand(3), randomness="different")(lib.zeros(4, 3))
        assert not (different[1] == different[0]).all()


def test_per_sample_gradients_of_a_model():
    def fn(lib, F):
        lib.manual_seed(0)
        rng = np.random.default_rng(3)
        model = lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.Tanh(), lib.nn.Linear(5, 2)).double()
        params = {k: _t(lib, rng.standard_normal(tuple(v.shape)))
                  for k, v in model.named_parameters()}
        xs, ys = _t(lib, rng.standard_normal((6, 4))), _t(lib, rng.standard_normal((6, 2)))

        def loss(p, x, y):
            out = F.functional_call(model, p, (x.unsqueeze(0),))
            return ((out - y) ** 2).mean()
        return F.vmap(F.grad(loss), in_dims=(None, 0, 0))(params, xs, ys)
    per_sample = _same(fn)
    assert per_sample["0.weight"].shape == (6, 5, 4)


def test_functional_call_restores_the_module():
    model = agx.nn.Linear(3, 2)
    before = model.weight
    out = afunc.functional_call(model, {"weight": agx.zeros(2, 3), "bias": agx.ones(2)},
                                (agx.ones(1, 3),))
    assert out.tolist() == [[1.0, 1.0]]
    assert model.weight is before
