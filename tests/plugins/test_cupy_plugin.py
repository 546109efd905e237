"""The CuPy plugin (plugins/cupy) where there is no GPU: it loads, never raises, says why
the cuda device is off, and its kernels keep the contract of the ops they replace.

CuPy is simulated by stub modules; the kernels themselves run in
plugins/cupy/tests (on a GPU machine).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import autogradx as agx
from autogradx import backends
from autogradx._registry import REGISTRY, PluginWarning, Registry

PLUGIN_DIR = Path(__file__).resolve().parents[2] / "plugins" / "cupy"


@pytest.fixture
def load_plugin(monkeypatch):
    """``load_plugin(cupy)``: a fresh import of autogradx_cupy, with ``cupy`` a stub module,
    "missing" (not installed), or "import" (imported from sys.path); returns the entry
    point's Plugin."""
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))

    def load(cupy):
        for name in [m for m in sys.modules if m.startswith("autogradx_cupy")]:
            monkeypatch.delitem(sys.modules, name)
        if cupy == "import":
            monkeypatch.delitem(sys.modules, "cupy", raising=False)
        else:
            monkeypatch.setitem(sys.modules, "cupy", None if cupy == "missing" else cupy)
        import autogradx_cupy
        return autogradx_cupy.make_plugin()

    yield load
    for name in [m for m in sys.modules if m.startswith("autogradx_cupy")]:
        del sys.modules[name]


def stub_cupy(device_count):
    """A module standing in for cupy: only what the plugin touches before a kernel runs."""
    def count():
        if isinstance(device_count, Exception):
            raise device_count
        return device_count
    cupy = types.ModuleType("cupy")
    cupy.__version__ = "0.0-stub"
    cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=count),
                                      Device=None)
    cupy.ndarray = type("ndarray", (), {})
    cupy.asnumpy = None
    cupy.ElementwiseKernel = None       # never called here: kernels compile on first use
    return cupy


def _backend(plugin):
    assert plugin.name == "cupy" and len(plugin.backends) == 1
    backend = plugin.backends[0]
    assert backend.device_type == "cuda" and backend.name == "cupy"
    return backend


@pytest.mark.parametrize("cupy, reason", [
    ("missing", "CuPy is not installed"),
    (stub_cupy(RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")),
     "no CUDA device: cudaErrorNoDevice: no CUDA-capable device is detected"),
    (stub_cupy(0), "no CUDA device: the CUDA runtime reports 0 devices"),
], ids=["no-cupy", "no-device", "zero-devices"])
def test_without_a_gpu_the_backend_is_off_with_the_reason(load_plugin, cupy, reason):
    plugin = load_plugin(cupy)
    backend = _backend(plugin)
    assert not backend.available and backend.reason.startswith(reason)
    assert plugin.overrides == [] and plugin.ops == []


def test_a_cupy_that_fails_to_import_is_reported(load_plugin, tmp_path, monkeypatch):
    (tmp_path / "cupy.py").write_text("raise OSError('libcuda.so.1: cannot open shared object')")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin = load_plugin("import")
    assert _backend(plugin).reason == ("CuPy failed to import: OSError: libcuda.so.1: cannot "
                                       "open shared object")


def test_with_a_gpu_the_backend_and_kernels_are_offered(load_plugin):
    cupy = stub_cupy(1)
    plugin = load_plugin(cupy)
    backend = _backend(plugin)
    assert backend.available and backend.module is cupy and backend.array_type is cupy.ndarray
    assert [(name, module) for name, module, _ in plugin.overrides] == [
        ("sigmoid", "cupy"), ("binary_cross_entropy_with_logits", "cupy")]


def test_overrides_keep_the_contract_of_the_ops_they_replace(load_plugin):
    for name, _, override in load_plugin(stub_cupy(1)).overrides:
        shared = REGISTRY.load().ops[name]
        for attr in ("inputs", "save", "reads", "promote", "grad_fn", "n_outputs", "params",
                     "residuals"):
            assert getattr(override, attr) == getattr(shared, attr), (name, attr)
        assert (override.vjps is None) == (shared.vjps is None), name
        if shared.vjps is not None:
            assert [v is None for v in override.vjps] == [v is None for v in shared.vjps]


def test_bce_override_falls_back_to_the_shared_op_off_the_fast_path(load_plugin):
    # NumPy arrays are not (stub) CuPy arrays: the override defers to the shared forward, and
    # its vjps are the shared ones.
    _, _, override = load_plugin(stub_cupy(1)).overrides[1]
    shared = agx.nn.functional.binary_cross_entropy_with_logits
    rng = np.random.default_rng(0)
    x, t, w = rng.normal(size=(2, 3)), rng.uniform(size=(2, 3)), rng.uniform(size=3)
    for args in [(x, t), (x, t, w), (x, t, None, None, None, "sum")]:
        np.testing.assert_allclose(override.forward(np, *args), shared.forward(np, *args))
    g = np.float64(0.5)
    values = {"input": x, "target": t, "weight": w}
    for i in (0, 1):
        read = [values[shared.save[k]] for k in shared.reads[i]]     # what formula i reads
        np.testing.assert_allclose(override.vjps[i](np, g, *read, reduction="sum"),
                                   shared.vjps[i](np, g, *read, reduction="sum"))


def test_sigmoid_vjp_on_other_arrays_is_the_formula(load_plugin):
    _, _, override = load_plugin(stub_cupy(1)).overrides[0]
    y, g = np.array([0.2, 0.5]), np.array([1.0, 2.0])
    np.testing.assert_allclose(override.vjps[0](np, g, y), g * y * (1 - y))


def _site_with_the_plugin(root):
    """autogradx_cupy installed in ``root`` as pip would: the package and its metadata."""
    shutil.copytree(PLUGIN_DIR / "autogradx_cupy", root / "autogradx_cupy")
    info = root / "autogradx_cupy-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: autogradx-cupy\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(
        "[autogradx.plugins]\ncupy = autogradx_cupy:make_plugin\n")


def test_loaded_through_its_entry_point_without_cupy(load_plugin, tmp_path, monkeypatch):
    _site_with_the_plugin(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path)] + [p for p in sys.path
                                                         if p != str(PLUGIN_DIR)])
    monkeypatch.setitem(sys.modules, "cupy", None)
    # The loader registers backends in the process-wide table: give it a copy to write to.
    monkeypatch.setattr(backends, "_BACKENDS", dict(backends._BACKENDS))
    reg = Registry()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)
        reg.load()
    assert reg.plugins["cupy"].dist == "autogradx-cupy" and not reg.plugins["cupy"].error
    [cuda] = [b for b in reg.backends if b.device_type == "cuda"]
    assert cuda.plugin == "cupy" and not cuda.available
    with pytest.raises(RuntimeError, match="device type 'cuda' is not available: CuPy is not "
                                           "installed"):
        backends.get_backend("cuda")


def test_info_lists_the_cuda_backend_and_its_state(tmp_path):
    _site_with_the_plugin(tmp_path)
    out = subprocess.run([sys.executable, "-m", "autogradx", "info"], capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(tmp_path)), check=True)
    line = next(l for l in out.stdout.splitlines() if l.strip().startswith("cuda"))
    # (the name column is as wide as the longest name: tests/test_registry.py checks it)
    assert line.split()[:4] == ["cuda", "cupy", "(plugin", "cupy):"], line
    if importlib.util.find_spec("cupy") is None:
        assert line.endswith("unavailable: CuPy is not installed (pip install cupy-cuda12x)")
    assert any(l.split() == ["cupy", "autogradx-cupy", "0.1.0", "(autogradx_cupy:make_plugin):",
                             "0", "ops"] for l in out.stdout.splitlines()), out.stdout
