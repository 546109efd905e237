"""Random factories (``rand``, ``randn``) with a complex dtype draw as PyTorch's do: the real
and imaginary parts independently, ``randn``'s each with variance 1/2 (a unit-variance
complex normal), ``rand``'s each uniform on [0, 1)."""

import numpy as np
import pytest

import autogradx as agx

torch = pytest.importorskip("torch")

N = 200_000


@pytest.mark.parametrize("factory", ["rand", "randn"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_random_parts_are_distributed_as_torch_draws_them(factory, dtype):
    agx.manual_seed(0)
    torch.manual_seed(0)
    ours = getattr(agx, factory)(N, dtype=getattr(agx, dtype)).detach().numpy()
    theirs = getattr(torch, factory)(N, dtype=getattr(torch, dtype)).numpy()
    assert ours.dtype == theirs.dtype
    for part in (np.real, np.imag):
        # The statistics of N draws: means within 5 standard errors, variances within 2%.
        mine, ref = part(ours), part(theirs)
        assert abs(mine.mean() - ref.mean()) < 5 * np.sqrt(ref.var() / N) * 2
        assert mine.var() == pytest.approx(ref.var(), rel=0.02)
        assert (mine.min() >= 0) == (ref.min() >= 0)
    # The parts are drawn independently.
    assert abs(np.corrcoef(ours.real, ours.imag)[0, 1]) < 0.02


def test_real_dtypes_are_drawn_as_before():
    agx.manual_seed(3)
    a = agx.randn(4, dtype=agx.float16)
    agx.manual_seed(3)
    b = agx.randn(4, dtype=agx.float32)
    assert a.dtype == agx.float16
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy().astype(np.float16))
