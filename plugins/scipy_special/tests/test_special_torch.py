"""The plugin's ops against torch.special: values, gradients, dtypes and grad_fn names."""

import numpy as np
import pytest

import autogradx as agx
import autogradx.special as special

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

DTYPES = ["float32", "float64"]


def case(id, ours, theirs, *ranges, grad_fn):
    return pytest.param(ours, theirs, ranges, grad_fn, id=id)


CASES = [
    case("erf", special.erf, torch.special.erf, (-2, 2), grad_fn="ErfBackward0"),
    case("erfc", special.erfc, torch.special.erfc, (-2, 2), grad_fn="ErfcBackward0"),
    case("erfinv", special.erfinv, torch.special.erfinv, (-0.95, 0.95),
         grad_fn="ErfinvBackward0"),
    case("gammaln", special.gammaln, torch.special.gammaln, (0.2, 5), grad_fn="LgammaBackward0"),
    case("lgamma-method", lambda x: x.lgamma(), lambda x: x.lgamma(), (0.2, 5),
         grad_fn="LgammaBackward0"),
    case("digamma", special.digamma, torch.special.digamma, (0.2, 5), grad_fn="DigammaBackward0"),
    case("polygamma-1", lambda x: special.polygamma(1, x), lambda x: torch.special.polygamma(1, x),
         (0.2, 5), grad_fn="PolygammaBackward0"),
    case("polygamma-method", lambda x: x.polygamma(2), lambda x: x.polygamma(2), (0.2, 5),
         grad_fn="PolygammaBackward0"),
    case("i0", special.i0, torch.special.i0, (-3, 3), grad_fn="I0Backward0"),
    case("i0e", special.i0e, torch.special.i0e, (-3, 3), grad_fn="SpecialI0EBackward0"),
    case("i1", special.i1, torch.special.i1, (-3, 3), grad_fn="SpecialI1Backward0"),
    case("i1e", special.i1e, torch.special.i1e, (-3, 3), grad_fn="SpecialI1EBackward0"),
    case("xlogy", special.xlogy, torch.special.xlogy, (-2, 2), (0.2, 3), grad_fn="XlogyBackward0"),
    case("xlogy-method", lambda x, y: x.xlogy(y), lambda x, y: x.xlogy(y), (-2, 2), (0.2, 3),
         grad_fn="XlogyBackward0"),
    case("xlogy-number-input", lambda y: special.xlogy(2.5, y),
         lambda y: torch.special.xlogy(2.5, y), (0.2, 3), grad_fn="XlogyBackward1"),
    case("xlogy-number-other", lambda x: x.xlogy(1.5), lambda x: x.xlogy(1.5), (-2, 2),
         grad_fn="XlogyBackward2"),
    case("expit", special.expit, torch.special.expit, (-4, 4), grad_fn="SigmoidBackward0"),
]


def _inputs(ranges, dtype, seed=0):
    """One tensor per value range: (2, 3), then (3,) (broadcast against it)."""
    rng = np.random.default_rng(seed)
    shapes = [(2, 3), (3,)]
    arrays = [rng.uniform(lo, hi, shape) for (lo, hi), shape in zip(ranges, shapes)]
    ours = [agx.tensor(a, dtype=getattr(agx, dtype), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True) for a in arrays]
    return ours, theirs


def _close(a, t, dtype):
    # SciPy's and PyTorch's float64 polygamma differ by a few 1e-10 (relative).
    tol = 1e-5 if dtype == "float32" else 1e-8
    np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ours, theirs, ranges, grad_fn", CASES)
def test_against_torch(ours, theirs, ranges, grad_fn, dtype):
    xs, ts = _inputs(ranges, dtype)
    out, ref = ours(*xs), theirs(*ts)
    assert str(out.dtype) == str(ref.dtype)
    assert out.grad_fn.name() == ref.grad_fn.name() == grad_fn
    _close(out, ref, dtype)
    g = np.random.default_rng(1).standard_normal(tuple(out.shape))
    out.backward(agx.tensor(g, dtype=out.dtype))
    ref.backward(torch.tensor(g, dtype=ref.dtype))
    for x, t in zip(xs, ts):
        _close(x.grad, t.grad, dtype)


@pytest.mark.parametrize("name, args", [
    ("erf", ([0, 1, 2],)), ("gammaln", ([1, 2, 3],)), ("digamma", ([1, 2, 3],)),
    ("i0", ([0, 1, -2],)), ("xlogy", ([0, 1, 2], [1, 2, 3])), ("expit", ([-1, 0, 1],)),
])
def test_integer_inputs_as_torch(name, args):
    out = getattr(special, name)(*[agx.tensor(a) for a in args])
    ref = getattr(torch.special, name)(*[torch.tensor(a) for a in args])
    assert str(out.dtype) == str(ref.dtype)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-6)


def test_special_values_as_torch():
    x = [-1.0, 1.0, 0.0, float("nan"), float("inf")]
    for name in ("erfinv", "gammaln", "digamma", "erf", "i0e", "expit"):
        ours = getattr(special, name)(agx.tensor(x, dtype=agx.float64)).numpy()
        theirs = getattr(torch.special, name)(torch.tensor(x, dtype=torch.float64)).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-15, err_msg=name)
    y = [0.0, float("nan"), 2.0]
    np.testing.assert_array_equal(
        special.xlogy(agx.tensor([0.0, 0.0, 0.0]), agx.tensor(y)).numpy(),
        torch.special.xlogy(torch.tensor([0.0, 0.0, 0.0]), torch.tensor(y)).numpy())
