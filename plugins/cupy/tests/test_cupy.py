"""The CuPy plugin on a GPU: the cuda device, its fused kernels against the shared ops and
the CPU. Skipped where CuPy or a CUDA device is missing.

On a GPU machine, run these, then the whole op suite on the device::

    python -m pytest plugins/cupy/tests
    AUTOGRADX_TEST_DEVICE=cuda python -m pytest tests/backends/test_ops_on_device.py
"""

import numpy as np
import pytest

import autogradx as agx
from autogradx._registry import REGISTRY
from autogradx.conformance import Arg, Sample, compare_on_device

cupy = pytest.importorskip("cupy")
if not agx.cuda.is_available():
    pytest.skip(agx.cuda.unavailable_reason(), allow_module_level=True)

pytestmark = pytest.mark.gpu
F = agx.nn.functional
DTYPES = ["float32", "float64"]


def test_the_cuda_device_comes_from_this_plugin():
    assert REGISTRY.load().plugins["cupy"].dist == "autogradx-cupy"
    assert agx.cuda.device_count() >= 1
    x = agx.ones(2, 3, device="cuda")
    assert isinstance(x._data, cupy.ndarray) and str(x.device) == "cuda:0" and x.is_cuda
    assert repr(x.sum()) == "tensor(6., device='cuda:0')"
    assert type(x.cpu()._data) is np.ndarray


@pytest.mark.parametrize("name", ["sigmoid", "binary_cross_entropy_with_logits"])
def test_the_kernels_are_installed_as_overrides(name):
    override = REGISTRY.load().ops[name].overrides["cupy"]
    assert override.plugin == "cupy"


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_kernel_matches_the_shared_op(dtype):
    values = np.array([-1000.0, -30.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 30.0, 1000.0], dtype=dtype)
    x = cupy.asarray(values)
    shared, fused = REGISTRY.ops["sigmoid"], REGISTRY.ops["sigmoid"].overrides["cupy"]
    got = fused.forward(cupy, x)
    assert got.dtype == x.dtype
    want = shared.forward(np, values)
    np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=1e-6 if dtype == "float32" else 1e-15)
    g = cupy.asarray(np.linspace(-1, 1, values.size).astype(dtype))
    # sigmoid's formula reads the result: vjps[0](xp, g, result)
    np.testing.assert_allclose(cupy.asnumpy(fused.vjps[0](cupy, g, got)),
                               shared.vjps[0](np, cupy.asnumpy(g), want), rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_kernel_matches_the_shared_op(dtype, reduction):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=20) * 5, [-800.0, 800.0, 0.0]]).astype(dtype)
    t = rng.uniform(size=x.size).astype(dtype)
    shared = F.binary_cross_entropy_with_logits
    fused = shared.overrides["cupy"]
    got = fused.forward(cupy, cupy.asarray(x), cupy.asarray(t), reduction=reduction)
    want = shared.forward(np, x, t, reduction=reduction)
    assert got.dtype == want.dtype and got.shape == np.shape(want)
    np.testing.assert_allclose(cupy.asnumpy(got), want, rtol=1e-5 if dtype == "float32" else 1e-12)


SAMPLES = {
    "sigmoid": [Sample(Arg((4, 5), -8, 8)), Sample(Arg(()))],
    "binary_cross_entropy_with_logits": [
        Sample(Arg((4, 5)), Arg((4, 5), 0, 1)),
        Sample(Arg((4, 5)), Arg((4, 5), 0, 1), reduction="none"),
        Sample(Arg((4, 5)), Arg((4, 5), 0, 1), Arg((5,), 0.5, 2, requires_grad=False)),
        Sample(Arg((4, 5)), Arg((4, 5), 0, 1), pos_weight=Arg((5,), 0.5, 2,
                                                              requires_grad=False)),
    ],
}


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize("order", [1, 2])
def test_overridden_ops_on_cuda_match_the_cpu(name, order):
    compare_on_device(REGISTRY.ops[name], SAMPLES[name], "cuda",
                      DTYPES if order == 1 else ["float64"], order=order)


def test_a_training_step_on_cuda():
    agx.manual_seed(0)
    w = agx.randn(5, 3, device="cuda", requires_grad=True)
    x, y = agx.randn(8, 5, device="cuda"), agx.rand(8, 3, device="cuda")
    loss = F.binary_cross_entropy_with_logits(x @ w, y)
    loss.backward()
    assert loss.grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"
    assert w.grad.is_cuda and w.grad.shape == w.shape
