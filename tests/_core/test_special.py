"""autogradx/_core/special.pyx: the C loops the ops use on NumPy arrays give the values
of the NumPy-vectorised formulas the ops keep for other backends, and PyTorch's (float64
as the reference), at ordinary and at special points (0, -0, inf, NaN, negative, poles)."""

import math

import numpy as np
import pytest

from autogradx._core import special
from autogradx.ops.activations import _erf_xp
from autogradx.ops.elementwise import _incomplete_gamma_xp

torch = pytest.importorskip("torch")

_SPECIAL = [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e-8, -1e-8, 1.0, -1.0, 6.0, -6.0,
            30.0, -30.0, np.inf, -np.inf, np.nan]


def _sweep(lo, hi, n=4001):
    return np.concatenate([np.linspace(lo, hi, n), _SPECIAL])


def test_erf_float64_matches_torch_and_the_vectorised_formula():
    x = _sweep(-7, 7)
    got = special.erf(x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, torch.erf(torch.from_numpy(x)).numpy(), rtol=4e-16, atol=0)
    np.testing.assert_allclose(got, _erf_xp(np, x), rtol=1e-15, atol=1e-300)
    assert np.signbit(special.erf(np.array([-0.0]))).all()


def test_erf_float32_stays_float32_within_an_ulp_of_torch():
    x = _sweep(-7, 7).astype(np.float32)
    got = special.erf(x)
    assert got.dtype == np.float32
    want = torch.erf(torch.from_numpy(x)).numpy()
    finite = np.isfinite(want)
    np.testing.assert_array_max_ulp(got[finite], want[finite], maxulp=1)
    np.testing.assert_array_equal(got[~finite], want[~finite])


def test_erf_reads_strided_arrays_and_keeps_the_shape():
    x = np.linspace(-3, 3, 24).reshape(4, 6)[:, ::2].T     # neither C- nor F-contiguous
    np.testing.assert_array_equal(special.erf(x), special.erf(x.copy()))
    assert special.erf(x).shape == (3, 4)
    assert special.erf(np.array(0.5)).shape == ()


def test_erf_refuses_other_dtypes_by_name():
    with pytest.raises(TypeError, match="float32 or float64 array, got float16"):
        special.erf(np.zeros(2, np.float16))


def test_lgamma_matches_torch_with_inf_at_the_poles():
    x = np.concatenate([_sweep(-20, 50), [-1.0, -2.0, -100.0, 171.5, -2.5]])
    for v in (x, np.append(x, 1e300), x.astype(np.float32)):
        got = special.lgamma(v)
        assert got.dtype == np.float64
        want = torch.lgamma(torch.from_numpy(v.astype(np.float64))).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def _gamma_sweep(n, a_range, seed=0):
    """Log-uniform ``a`` and ``x`` around it, and every pair of special points."""
    rng = np.random.default_rng(seed)
    a = np.exp(rng.uniform(*np.log(a_range), n))
    x = a * np.exp(rng.uniform(-3, 3, n))
    x[:5] = 1e-300
    edges = np.array([0.0, -1.0, 0.5, 3.0, np.inf, -np.inf, np.nan])
    ea, ex = np.meshgrid(edges, edges)
    return np.concatenate([a, ea.ravel()]), np.concatenate([x, ex.ravel()])


def test_incomplete_gamma_matches_the_vectorised_formula():
    a, x = _gamma_sweep(3000, (1e-3, 1e3))
    p, q = special.incomplete_gamma(a, x)
    p_xp, q_xp = _incomplete_gamma_xp(np, a, x)
    assert p.dtype == q.dtype == np.float64
    np.testing.assert_allclose(p, p_xp, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(q, q_xp, rtol=1e-10, atol=1e-300)



def test_incomplete_gamma_matches_torch_float64():
    # PyTorch's own values are accurate to ~1e-15 for a up to 20; beyond it switches to
    # an asymptotic series good to ~2e-9 only (mpmath sides with autogradx there).
    for a_range, rtol in (((1e-3, 20.0), 1e-12), ((20.0, 1e3), 3e-9)):
        a, x = _gamma_sweep(5000, a_range, seed=1)
        ta, tx = torch.from_numpy(a), torch.from_numpy(x)
        for got, fn in zip(special.incomplete_gamma(a, x), (torch.igamma, torch.igammac)):
            want = fn(ta, tx).numpy()
            np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-280)   # NaN as NaN


def test_incomplete_gamma_broadcasts_and_converts():
    a = np.array([[0.5], [2.0]])
    p, q = special.incomplete_gamma(a, np.array([0.1, 1.0, 9.0], np.float32))
    assert p.shape == q.shape == (2, 3)
    p_xp, _ = _incomplete_gamma_xp(np, a, np.array([0.1, 1.0, 9.0], np.float32))
    np.testing.assert_allclose(p, p_xp, rtol=1e-12)
    p0, q0 = special.incomplete_gamma(2.0, 3.0)
    assert p0.shape == () and math.isclose(float(p0 + q0), 1.0, rel_tol=1e-15)
    with pytest.raises(ValueError, match="broadcast"):
        special.incomplete_gamma(np.ones(2), np.ones(3))
