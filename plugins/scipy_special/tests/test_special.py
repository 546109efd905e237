"""The plugin's ops through autogradx's kit: conformance over every op, gradients at the
points that need care, and the Tensor methods. The comparison with torch.special is in
test_special_torch.py."""

import math

import numpy as np
import pytest
import scipy.special

import autogradx as agx
import autogradx.special as special
from autogradx._registry import REGISTRY
from autogradx.conformance import check_op, plugin_cases
from autogradx.testing import gradcheck, gradgradcheck

PLUGIN = "scipy_special"


def leaf(values, dtype=agx.float64):
    return agx.tensor(np.asarray(values, dtype=float), dtype=dtype, requires_grad=True)


def test_found_through_its_entry_point():
    info = REGISTRY.load().plugins[PLUGIN]
    assert info.dist == "autogradx-scipy-special" and not info.error
    assert sorted(info.ops) == sorted(op.name for op, _ in plugin_cases(PLUGIN))
    assert special.erf is REGISTRY.ops["special.erf"]


@pytest.mark.parametrize("op, cases", [pytest.param(op, cases, id=op.name)
                                       for op, cases in plugin_cases(PLUGIN)])
def test_conformance(op, cases):
    assert cases is not None, f"{op.name} has no conformance cases"
    check_op(op, cases, (agx.float32, agx.float64))


GRADCHECK = [
    pytest.param(lambda x: special.erf(x) * special.erfc(x), [-1.5, 0.0, 2.0], id="erf*erfc"),
    pytest.param(lambda x: special.erfinv(x), [-0.99, 0.0, 0.5], id="erfinv-near-1"),
    pytest.param(lambda x: special.gammaln(x), [0.1, 1.0, 7.5], id="gammaln"),
    pytest.param(lambda x: special.gammaln(x), [-0.5, -2.5], id="gammaln-negative"),
    pytest.param(lambda x: special.polygamma(4, x), [0.7, 2.0], id="polygamma-4"),
    pytest.param(lambda x: special.i1(x), [0.0, 1e-9, -2.0], id="i1-at-0"),
    pytest.param(lambda x: special.i0e(x), [-30.0, 30.0], id="i0e-large"),
    pytest.param(lambda x: special.expit(x), [-30.0, 0.0, 30.0], id="expit-tails"),
]


@pytest.mark.parametrize("fn, values", GRADCHECK)
def test_gradients_at_points_that_need_care(fn, values):
    x = leaf(values)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_i1e_gradient_near_zero():
    # exp(-|x|) has a kink at 0: i1e is differentiable once there (slope 1/2), not twice.
    x = leaf([0.0, -1e-9, 1e-9, 40.0])
    assert gradcheck(special.i1e, (x,))
    special.i1e(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:3], 0.5)


def test_digamma_derivatives_chain_through_polygamma():
    x = leaf([0.5, 1.0, 3.0])
    g1, = agx.autograd.grad(special.digamma(x).sum(), x, create_graph=True)
    g2, = agx.autograd.grad(g1.sum(), x, create_graph=True)
    g3, = agx.autograd.grad(g2.sum(), x)
    values = x.detach().numpy()
    for k, g in enumerate((g1, g2, g3), start=1):
        np.testing.assert_allclose(g.detach().numpy(), scipy.special.polygamma(k, values))
    assert g2.grad_fn.name() == "MulBackward0"


def test_i1_gradient_is_one_half_at_zero():
    x = leaf([0.0])
    special.i1(x).sum().backward()
    assert x.grad.item() == 0.5


def test_xlogy_gradient_where_x_is_zero():
    x, y = leaf([0.0, 0.0, 2.0]), leaf([0.0, 1.0, 3.0])
    out = special.xlogy(x, y)
    np.testing.assert_array_equal(out.detach().numpy(), [0.0, 0.0, 2.0 * math.log(3.0)])
    with np.errstate(invalid="ignore"):     # d/dy = x / y is 0/0 at (0, 0): NaN, as in PyTorch
        out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, math.log(3.0)])  # xlogy(x != 0, y)
    np.testing.assert_allclose(y.grad.numpy(), [np.nan, 0.0, 2.0 / 3.0])


def test_tensor_methods_and_in_place_variants():
    x = agx.tensor([0.25, 0.5])
    np.testing.assert_allclose(x.erf().numpy(), scipy.special.erf([0.25, 0.5]), rtol=1e-6)
    np.testing.assert_allclose(x.lgamma().numpy(), scipy.special.gammaln([0.25, 0.5]), rtol=1e-6)
    np.testing.assert_allclose(x.polygamma(1).numpy(), scipy.special.polygamma(1, [0.25, 0.5]),
                               rtol=1e-6)
    np.testing.assert_allclose(x.polygamma(n=1).numpy(), x.polygamma(1).numpy())
    y = x.clone()
    assert y.erfinv_() is y
    np.testing.assert_allclose(y.numpy(), scipy.special.erfinv([0.25, 0.5]), rtol=1e-6)
    for name in ("erf", "erfc", "erfinv", "lgamma", "digamma", "polygamma", "i0", "xlogy"):
        assert callable(getattr(x, name)) and callable(getattr(x, name + "_"))


def test_integer_inputs_give_the_default_float():
    assert special.erf(agx.tensor([0, 1])).dtype == agx.float32
    assert special.xlogy(agx.tensor([1, 2]), agx.tensor([3, 4])).dtype == agx.float32
    assert special.polygamma(1, agx.tensor([1, 2])).dtype == agx.float32


@pytest.mark.parametrize("n, error, match", [
    (-1, RuntimeError, r"polygamma\(n, x\) does not support negative n"),
    (1.5, TypeError, "argument 'n' .* must be int, not float"),
])
def test_polygamma_order_must_be_a_natural_number(n, error, match):
    with pytest.raises(error, match=match):
        special.polygamma(n, agx.tensor([1.0]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_polygamma_gives_scipys_values_bit_for_bit(dtype):
    """The plugin computes polygamma by SciPy's formula without SciPy's Python wrapper."""
    x = np.concatenate([np.linspace(-5, 12, 2001), [0.0, -1.0, 1e-3, 1e30, np.inf, -np.inf,
                                                     np.nan]]).astype(dtype)
    for n in (0, 1, 2, 3, 7):
        want = scipy.special.polygamma(n, x).astype(dtype)
        np.testing.assert_array_equal(special.polygamma(n, agx.tensor(x)).numpy(), want)


def test_an_array_module_without_special_functions_is_named():
    from autogradx_scipy_special import _kernels
    with pytest.raises(TypeError, match="no special functions for arrays of 'fakenumpy'"):
        _kernels(type("M", (), {"__name__": "fakenumpy"})())
