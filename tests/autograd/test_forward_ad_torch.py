"""forward_ad against torch.autograd.forward_ad: the same functions give the same primal
and tangent; the API's errors are PyTorch's."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

# torch's forward AD loads its decompositions through torch.jit.script, which warns.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

import autogradx as agx
from autogradx.autograd import forward_ad as fwAD

FUNCTIONS = {
    "polynomial": lambda lib, x, y: (x * x * y + 3 * x - y / 2).sum(),
    "transcendental": lambda lib, x, y: lib.sin(x) * lib.exp(y) + lib.tanh(x * y) + lib.log1p(x * x),
    "broadcasting": lambda lib, x, y: x[:, None] * y.sum(0) - x.unsqueeze(0).mean(1, keepdim=True),
    "matmul": lambda lib, x, y: (x.reshape(2, 2) @ y[:2, :2]).sigmoid(),
    "reductions": lambda lib, x, y: lib.cat([x.max().reshape(1), y.sum(1), y.mean(0)]).softmax(0),
    "shapes": lambda lib, x, y: lib.stack([x, x.flip(0)]).t().reshape(-1).relu() * 2,
    "indexing": lambda lib, x, y: y[1:, ::2].transpose(0, 1).pow(2) + x[[0, 2]].sqrt().sum(),
    "norms": lambda lib, x, y: lib.nn.functional.layer_norm(y, (4,)).abs() + x.norm(),
}


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 2.0, 4), rng.standard_normal((3, 4)),
            rng.standard_normal(4), rng.standard_normal((3, 4)))


def _jvp(lib, fw, fn, x, y, tx, ty):
    with fw.dual_level():
        dx = fw.make_dual(lib.tensor(x), lib.tensor(tx))
        dy = fw.make_dual(lib.tensor(y), lib.tensor(ty))
        primal, tangent = fw.unpack_dual(fn(lib, dx, dy))
        return primal.detach().numpy(), tangent.numpy()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_same_primal_and_tangent_as_torch(name):
    x, y, tx, ty = _pair()
    ours = _jvp(agx, fwAD, FUNCTIONS[name], x, y, tx, ty)
    theirs = _jvp(torch, torch.autograd.forward_ad, FUNCTIONS[name], x, y, tx, ty)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_tangent_matches_finite_differences(name):
    x, y, tx, ty = _pair(1)
    fn = FUNCTIONS[name]
    _, tangent = _jvp(agx, fwAD, fn, x, y, tx, ty)
    eps = 1e-6
    f = lambda s: fn(agx, agx.tensor(x + s * tx), agx.tensor(y + s * ty)).numpy()
    np.testing.assert_allclose(tangent, (f(eps) - f(-eps)) / (2 * eps), rtol=1e-5, atol=1e-6)


def _errors(lib, fw, action):
    try:
        action(lib, fw)
    except Exception as e:
        return type(e).__name__, str(e)
    return None


ERRORS = {
    "make_dual without a level": lambda lib, fw: fw.make_dual(lib.ones(2), lib.ones(2)),
    "shape mismatch": lambda lib, fw: _in_level(fw, lambda: fw.make_dual(lib.ones(2), lib.ones(3))),
    "integer primal": lambda lib, fw: _in_level(fw, lambda: fw.make_dual(lib.ones(2, dtype=lib.int64), lib.ones(2))),
    "integer tangent": lambda lib, fw: _in_level(fw, lambda: fw.make_dual(lib.ones(2), lib.ones(2, dtype=lib.int64))),
    "nested levels": lambda lib, fw: _in_level(fw, fw.enter_dual_level),
    "exit without a level": lambda lib, fw: fw.exit_dual_level(),
    # PyTorch has no forward derivative for the incomplete gamma functions
    "igamma": lambda lib, fw: _in_level(fw, lambda: lib.igamma(
        fw.make_dual(lib.ones(2), lib.ones(2)), lib.ones(2))),
    "igammac of a dual other": lambda lib, fw: _in_level(fw, lambda: lib.igammac(
        lib.ones(2), fw.make_dual(lib.ones(2), lib.ones(2)))),
}


def _in_level(fw, action):
    with fw.dual_level():
        action()


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_are_torchs(name):
    assert _errors(agx, fwAD, ERRORS[name]) == _errors(torch, torch.autograd.forward_ad, ERRORS[name])


def test_unpack_dual_and_levels():
    x = agx.tensor([1.0, 2.0], requires_grad=True)
    with fwAD.dual_level() as level:
        assert level == 0
        d = fwAD.make_dual(x, agx.tensor([1.0, 0.0]))
        unpacked = fwAD.unpack_dual(d)
        assert isinstance(unpacked, tuple) and unpacked._fields == ("primal", "tangent")
        assert fwAD.unpack_dual(x).tangent is None
        y = d * d
        assert fwAD.unpack_dual(y).tangent.tolist() == [2.0, 0.0]
        # make_dual is backward differentiable: the gradient reaches the primal.
        y.sum().backward()
        assert x.grad.tolist() == [2.0, 4.0]
    # Leaving the level drops the tangents.
    assert fwAD.unpack_dual(y).tangent is None
    with fwAD.dual_level():
        assert fwAD.unpack_dual(y).tangent is None


def test_in_place_ops_carry_the_tangent():
    def f(lib, fw):
        with fw.dual_level():
            x = fw.make_dual(lib.tensor([1.0, 2.0, 3.0]), lib.tensor([1.0, 1.0, 1.0]))
            y = x.clone()
            y.mul_(x)
            y.add_(1.0)
            return fw.unpack_dual(y).tangent.tolist()
    assert f(agx, fwAD) == f(torch, torch.autograd.forward_ad)


def test_reverse_over_forward_differentiates_the_tangent():
    def f(lib, fw):
        x = lib.tensor([0.5, 1.5], dtype=lib.float64, requires_grad=True)
        with fw.dual_level():
            d = fw.make_dual(x, lib.tensor([1.0, 2.0], dtype=lib.float64))
            t = fw.unpack_dual((d.sin() * d).sum()).tangent
            g, = lib.autograd.grad(t, x)
        return g.tolist()
    np.testing.assert_allclose(f(agx, fwAD), f(torch, torch.autograd.forward_ad), rtol=1e-12)


def _custom(lib, with_jvp):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            ctx.save_for_forward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * g * x ** 2

    if with_jvp:
        Cube.jvp = staticmethod(lambda ctx, t: 3 * t * ctx.saved_tensors[0] ** 2)
    return Cube


def test_custom_function_jvp_and_its_absence():
    def run(lib, fw, with_jvp):
        with fw.dual_level():
            x = fw.make_dual(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 0.5]))
            return fw.unpack_dual(_custom(lib, with_jvp).apply(x)).tangent.tolist()
    assert run(agx, fwAD, True) == run(torch, torch.autograd.forward_ad, True) == [3.0, 6.0]
    assert _errors(agx, fwAD, lambda lib, fw: run(lib, fw, False)) == _errors(
        torch, torch.autograd.forward_ad, lambda lib, fw: run(lib, fw, False))


def _view_function(lib, jvp):
    """x -> x[:2] (a view of its input) with the tangent ``jvp(t)``."""
    class Narrow(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.narrow(0, 0, 2)

        @staticmethod
        def backward(ctx, g):
            return lib.cat([g, g.new_zeros(1)])

    Narrow.jvp = staticmethod(lambda ctx, t: jvp(t))
    return Narrow


def _as_is_function(lib, jvp):
    """x -> (x * 2, x): the second output is the input as-is (PyTorch: x.view_as(x))."""
    class AsIs(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x

        @staticmethod
        def backward(ctx, g, h):
            return 2 * g + h

    AsIs.jvp = staticmethod(lambda ctx, t: (t * 2, jvp(t)))
    return AsIs


def _in_place_function(lib, jvp):
    """x -> x.mul_(2), marked dirty, with the tangent ``jvp(t)``."""
    class Double(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x.mul_(2)

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    Double.jvp = staticmethod(lambda ctx, t: jvp(t))
    return Double


@pytest.mark.parametrize("make, jvp", [
    (_view_function, lambda t: t.narrow(0, 0, 2)),
    (_view_function, lambda t: t.narrow(0, 0, 2).clone()),
    (_view_function, lambda t: t.narrow(0, 0, 2).clone().view_as(t.narrow(0, 0, 2))),
    (_as_is_function, lambda t: t.view_as(t)),
    (_as_is_function, lambda t: t),
    (_as_is_function, lambda t: t * 1),
    (_in_place_function, lambda t: t.mul_(2)),
    (_in_place_function, lambda t: t * 2),
    (_in_place_function, lambda t: t.clone().mul_(2)),
], ids=["view", "view-not-a-view", "view-of-another", "as-is-view_as", "as-is-itself",
        "as-is-new", "in-place", "in-place-out-of-place", "in-place-other-tensor"])
@pytest.mark.parametrize("through_view", [False, True], ids=["input", "view-input"])
def test_function_jvp_views_and_in_place_changes_are_checked_as_by_torch(make, jvp,
                                                                         through_view):
    """A Function whose output views its input (or is its input) must give a tangent that
    views the input's tangent (of the same base where that is a view); one that changes its
    input in place must change the tangent in place and return it."""
    def run(lib, fw):
        with fw.dual_level():
            x = fw.make_dual(lib.tensor([1.0, 2.0, 3.0]), lib.tensor([0.5, 1.0, 1.5]))
            if through_view or make is _in_place_function:
                x = x.view_as(x) if make is not _in_place_function else x.clone()
            out = make(lib, jvp).apply(x)
            out = out if isinstance(out, tuple) else (out,)
            return [fw.unpack_dual(o).tangent.tolist() for o in out]

    def outcome(lib, fw):
        found = []
        return _errors(lib, fw, lambda *a: found.append(run(*a))) or found

    ours, theirs = outcome(agx, fwAD), outcome(torch, torch.autograd.forward_ad)
    assert ours == theirs


def test_in_place_changes_through_views_reach_the_base():
    def through_view(lib, fw):
        with fw.dual_level():
            base = fw.make_dual(lib.zeros(4), lib.zeros(4))
            v = base[1:3]
            v.mul_(2).add_(fw.make_dual(lib.ones(2), lib.tensor([1.0, 2.0])))
            return fw.unpack_dual(base).tangent.tolist(), fw.unpack_dual(v).tangent.tolist()

    def setitem(lib, fw):
        with fw.dual_level():
            base = lib.zeros(4)
            base[1:3] = fw.make_dual(lib.ones(2), lib.tensor([1.0, 2.0]))
            return fw.unpack_dual(base).tangent.tolist()
    def into_a_view_without_tangent(lib, fw):
        with fw.dual_level():
            base = lib.zeros(3, 2)
            v = base.t()[1]
            v.copy_(fw.make_dual(lib.ones(3), lib.tensor([1.0, 2.0, 3.0])))
            v.mul_(fw.make_dual(lib.full((3,), 2.0), lib.ones(3)))
            base[0].add_(1)
            return fw.unpack_dual(base).tangent.tolist(), fw.unpack_dual(v).tangent.tolist()
    for case in (through_view, setitem, into_a_view_without_tangent):
        assert case(agx, fwAD) == case(torch, torch.autograd.forward_ad)


@pytest.mark.parametrize("name, fn", [
    ("holomorphic", lambda lib, z: (z * z.exp() + 1 / z).sin()),
    ("non-holomorphic", lambda lib, z: z.abs() * z.conj() + z.real * z.imag),
    ("to real", lambda lib, z: (z * z).abs().log().sum()),
])
def test_complex_tangents_match_torch(name, fn):
    rng = np.random.default_rng(4)
    z = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    t = rng.standard_normal(3) + 1j * rng.standard_normal(3)

    def run(lib, fw):
        with fw.dual_level():
            out = fn(lib, fw.make_dual(lib.tensor(z), lib.tensor(t)))
            tangent = fw.unpack_dual(out).tangent
            return (tangent.resolve_conj() if lib is torch else tangent).numpy()
    np.testing.assert_allclose(run(agx, fwAD), run(torch, torch.autograd.forward_ad),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tangents", [lambda t: (t * 2, t), lambda t: t * 2,
                                      lambda t: (t * 2, None)],
                         ids=["a-tangent-for-the-index", "too-few", "right"])
def test_function_jvp_tangents_are_checked_against_the_outputs_as_by_torch(tangents):
    """A tangent for an output marked non-differentiable, or a wrong number of them."""
    def run(lib, fw):
        class WithIndex(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                index = x.argmax().to(x.dtype)
                ctx.mark_non_differentiable(index)
                return x * 2, index

            @staticmethod
            def backward(ctx, g, _):
                return g * 2

            @staticmethod
            def jvp(ctx, t):
                return tangents(t)

        with fw.dual_level():
            x = fw.make_dual(lib.tensor([1.0, 3.0]), lib.tensor([0.5, 1.0]))
            out, _ = WithIndex.apply(x)
            return fw.unpack_dual(out).tangent.tolist()

    assert _errors(agx, fwAD, run) == _errors(torch, torch.autograd.forward_ad, run)


@pytest.mark.parametrize("change", [
    pytest.param(lambda lib, x, z: z.mul_(x.flip(0)), id="mul_"),
    pytest.param(lambda lib, x, z: z[1:3].mul_(x[2:]), id="mul_ on a view"),
])
def test_forward_over_reverse_through_an_in_place_op_that_saved_the_tensor_it_wrote(change):
    # The value mul_ saved (z before it) keeps its tangent: it was read from the tensor's,
    # changed in place since.
    def run(lib, fw):
        with fw.dual_level():
            x = fw.make_dual(lib.tensor([0.1, 0.2, 0.3, 0.4], dtype=lib.float64),
                             lib.tensor([0.5, -1.0, 1.0, 2.0], dtype=lib.float64))
            x.requires_grad_()
            z = x.sin()
            change(lib, x, z)
            g, = lib.autograd.grad(z.exp().sum(), x, create_graph=True)
            return fw.unpack_dual(g).tangent.detach().numpy()
    np.testing.assert_allclose(run(agx, fwAD), run(torch, torch.autograd.forward_ad), rtol=1e-12)
