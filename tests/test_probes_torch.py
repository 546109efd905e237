"""What tutorials call first, compared with torch on this (CPU) machine: the availability
probes (``accelerator``, ``cuda``, ``backends.mps``, ``backends.cudnn``, ``xpu``), the
default device and dtype, and that ``import autogradx`` imports no device library."""

import subprocess
import sys

import pytest

import autogradx as agx
from torch_compare import error_of

torch = pytest.importorskip("torch")

PROBES = {
    "accelerator.is_available": lambda lib: lib.accelerator.is_available(),
    "accelerator.current_accelerator": lambda lib: lib.accelerator.current_accelerator(),
    "accelerator.current_accelerator(check)":
        lambda lib: lib.accelerator.current_accelerator(check_available=True),
    "accelerator.device_count": lambda lib: lib.accelerator.device_count(),
    "cuda.is_available": lambda lib: lib.cuda.is_available(),
    "cuda.device_count": lambda lib: lib.cuda.device_count(),
    "cuda.manual_seed_all": lambda lib: lib.cuda.manual_seed_all(0),
    "backends.mps.is_available": lambda lib: lib.backends.mps.is_available(),
    "backends.mps.is_built": lambda lib: lib.backends.mps.is_built(),
    "backends.cudnn.is_available": lambda lib: lib.backends.cudnn.is_available(),
    "backends.cudnn.version": lambda lib: lib.backends.cudnn.version(),
    "backends.cudnn flags": lambda lib: (lib.backends.cudnn.enabled,
                                         lib.backends.cudnn.benchmark,
                                         lib.backends.cudnn.deterministic),
    "xpu.is_available": lambda lib: lib.xpu.is_available(),
    "xpu.device_count": lambda lib: lib.xpu.device_count(),
    "get_default_device": lambda lib: str(lib.get_default_device()),
}

# Answers that follow the build, not the machine: a CUDA build of torch names cuda even
# where no GPU works, and autogradx is such a build once its CuPy plugin is installed
# (this reference torch is a CPU build).
FOLLOW_THE_BUILD = {"accelerator.current_accelerator": "cuda"}


@pytest.mark.parametrize("name", sorted(PROBES))
def test_probe_answers_as_torch_without_a_gpu(name):
    if agx.cuda.is_available() or torch.cuda.is_available():
        pytest.skip("a GPU is usable here: the answers differ by design")
    got, expected = PROBES[name](agx), PROBES[name](torch)
    if name in FOLLOW_THE_BUILD and agx.backends.cuda.is_built() \
            and not torch.backends.cuda.is_built():
        expected = FOLLOW_THE_BUILD[name]
    assert str(got) == str(expected)


def test_probes_are_true_only_with_a_working_cuda_backend():
    usable = agx.cuda.is_available()
    assert agx.accelerator.is_available() is usable
    assert (agx.accelerator.current_accelerator(check_available=True) is not None) is usable
    assert (agx.accelerator.device_count() > 0) is usable
    if not usable:
        assert agx.cuda.unavailable_reason()      # says why


def test_tutorial_device_choice_runs():
    device = (agx.accelerator.current_accelerator().type
              if agx.accelerator.is_available() else "cpu")
    x = agx.ones(2, device=device)
    assert x.device.type == device


def test_tutorial_cudnn_switches_can_be_set():
    import autogradx.backends.cudnn as cudnn     # the import form of PyTorch's examples
    before = cudnn.benchmark, cudnn.deterministic
    cudnn.benchmark, cudnn.deterministic = True, True
    try:
        assert agx.backends.cudnn.benchmark and agx.backends.cudnn.deterministic
    finally:
        cudnn.benchmark, cudnn.deterministic = before
    agx.backends.cuda.matmul.allow_tf32 = agx.backends.cuda.matmul.allow_tf32


def test_import_loads_no_plugin_and_no_device_library():
    code = ("import sys, autogradx\n"
            "assert 'cupy' not in sys.modules and 'autogradx._registry' not in sys.modules\n"
            "import autogradx.backends.cudnn, autogradx.backends.mps\n"
            "assert 'cupy' not in sys.modules and 'autogradx._registry' not in sys.modules\n"
            "print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# ------------------------------------------------------------------ default dtype

@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_set_default_dtype_floating(name):
    def run(lib):
        previous = lib.get_default_dtype()
        lib.set_default_dtype(getattr(lib, name))
        try:
            return [str(d) for d in (lib.get_default_dtype(), lib.tensor([1.5]).dtype,
                                     lib.ones(1).dtype, lib.arange(1.0).dtype,
                                     lib.tensor([1, 2]).dtype)]
        finally:
            lib.set_default_dtype(previous)

    assert run(agx) == run(torch)


@pytest.mark.parametrize("value", ["int64", "bool", "complex64", "'float64'", "float"])
def test_set_default_dtype_refusals_are_pytorchs(value):
    def run(lib):
        d = {"'float64'": "float64", "float": float}.get(value) or getattr(lib, value)
        return error_of(lambda: lib.set_default_dtype(d)), str(lib.get_default_dtype())

    assert run(agx) == run(torch)


def test_default_dtype_sets_the_complex_default():
    previous = agx.get_default_dtype()
    agx.set_default_dtype(agx.float64)
    try:
        assert agx.tensor([1j]).dtype == agx.complex128
    finally:
        agx.set_default_dtype(previous)
    assert agx.tensor([1j]).dtype == agx.complex64


# ------------------------------------------------------------------ default device on the CPU

@pytest.mark.parametrize("dev", ["cpu", "cpu:0", None])
def test_default_device_cpu_as_torch(dev):
    def run(lib):
        lib.set_default_device(dev)
        try:
            return str(lib.get_default_device()), str(lib.ones(1).device)
        finally:
            lib.set_default_device(None)

    assert run(agx) == run(torch)


def test_randint_with_high_and_size():
    def run(lib):
        t = lib.randint(5, (2, 3))
        return tuple(t.shape), str(t.dtype), bool(((t >= 0) & (t < 5)).all())

    assert run(agx) == run(torch)
