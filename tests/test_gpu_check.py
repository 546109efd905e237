"""tools/gpu-check.sh and benchmarks/bench_gpu.py on a machine without a GPU: they stop at
once, say what is missing, and run nothing (the GPU path itself needs a lent GPU)."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu-check.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None,
                                reason="gpu-check.sh is a bash script")


def _path_without_nvidia_smi(*first):
    """PATH with ``first`` in front and no directory that holds an nvidia-smi."""
    kept = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not (pathlib.Path(d) / "nvidia-smi").exists()]
    return os.pathsep.join([*map(str, first), *kept])


def _gpu_check(tmp_path, path, **env):
    out = tmp_path / "results"
    done = subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PATH=path, PYTHON=sys.executable,
                                                GPU_CHECK_OUT=str(out), **env))
    return done, out


def _stub_nvidia_smi(tmp_path, body):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "nvidia-smi"
    stub.write_text("#!/bin/sh\n" + body + "\n")
    stub.chmod(0o755)
    return bin_dir


def test_without_nvidia_smi_it_stops_and_says_so(tmp_path):
    done, out = _gpu_check(tmp_path, _path_without_nvidia_smi())
    assert done.returncode == 2
    assert "nvidia-smi is not on PATH" in done.stderr
    assert "nothing was run (this check needs an NVIDIA GPU, CuPy and pytest)" in done.stderr
    assert not out.exists()


def test_when_the_driver_sees_no_gpu_it_shows_nvidia_smis_error(tmp_path):
    message = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
    bin_dir = _stub_nvidia_smi(tmp_path, f"echo \"{message}\"; exit 9")
    done, out = _gpu_check(tmp_path, _path_without_nvidia_smi(bin_dir))
    assert done.returncode == 2
    assert f"nvidia-smi sees no GPU: {message}" in done.stderr
    assert not out.exists()


def test_without_cupy_it_stops_and_shows_the_import_error(tmp_path):
    bin_dir = _stub_nvidia_smi(tmp_path, 'echo "NVIDIA H100 80GB HBM3, 81559 MiB, 550.54"')
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    # Whatever this machine has, `import cupy` fails as where CuPy is not installed.
    (stubs / "cupy.py").write_text("raise ImportError(\"No module named 'cupy' (stub)\")\n")
    done, out = _gpu_check(tmp_path, _path_without_nvidia_smi(bin_dir), PYTHONPATH=str(stubs))
    assert done.returncode == 2
    assert ("CuPy cannot reach the GPU with " + sys.executable
            + ": ImportError: No module named 'cupy' (stub)") in done.stderr
    assert not out.exists()


def test_the_gpu_benchmark_refuses_without_cupy(tmp_path):
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "cupy.py").write_text("raise ImportError(\"No module named 'cupy' (stub)\")\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_gpu.py"), "--out-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(stubs), str(ROOT)])))
    assert done.returncode == 1
    assert "error: CuPy is not importable: the GPU benchmark needs it" in done.stderr
    assert not (tmp_path / "gpu.jsonl").exists()
