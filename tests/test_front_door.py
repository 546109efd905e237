"""What a new user and CI meet first: the NumPy floor, the torch requirement in CI, and the
requirement lists CI reads from pyproject.toml (tools/requirements.py)."""
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, **env), timeout=120)


def test_import_names_the_numpy_floor_under_numpy_1():
    done = _run("import numpy; numpy.__version__ = '1.26.4'; import autogradx")
    assert done.returncode != 0
    assert "ImportError: autogradx needs NumPy 2.0 or newer; NumPy 1.26.4 is installed" in done.stderr


def _pytest_without_torch(test_file, require):
    # pytest in a child process where importing torch fails, as on a machine without it.
    code = ("import sys; sys.modules['torch'] = None; import pytest; "
            f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {test_file!r}]))")
    return _run(code, AUTOGRADX_REQUIRE_TORCH=require)


def test_required_torch_that_cannot_be_imported_stops_the_run():
    done = _pytest_without_torch("tests/test_seed.py", require="1")      # as CI runs it
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "AUTOGRADX_REQUIRE_TORCH is set, but torch cannot be imported" in done.stderr


def test_missing_torch_skips_without_the_variable():
    done = _pytest_without_torch("tests/ops/test_shape_torch.py", require="")
    assert done.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, done.stdout + done.stderr
    assert "could not import 'torch'" in done.stdout


@pytest.fixture(scope="module")
def requirements():
    pytest.importorskip("tomllib")      # Python 3.11+, as CI runs it
    spec = importlib.util.spec_from_file_location("requirements", ROOT / "tools" / "requirements.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("requirement, parsed", [
    ("numpy>=2.0", ("numpy", "2.0")),
    ("pytest >= 8", ("pytest", "8")),
    ("pkg[extra,other]>=1.2,<3", ("pkg", "1.2")),
    ('pkg>=1.5; python_version < "3.12"', ("pkg", "1.5")),
    ("pkg<3,>=1.1", ("pkg", "1.1")),
    ("tqdm", ("tqdm", None)),
    ("scikit-learn", ("scikit-learn", None)),
])
def test_requirement_parsing(requirements, requirement, parsed):
    assert requirements._parse(requirement) == parsed


def test_floor_pins_each_lower_bound(requirements):
    pins = requirements.floor()
    assert "numpy==2.0" in pins
    # Only bounded requirements are pinned, each exactly once.
    assert all("==" in p for p in pins) and len(pins) == len(set(pins))
    assert not any(p.startswith(("scikit-learn", "tqdm", "matplotlib")) for p in pins)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["e", "inf", "nan", "pi"])
def test_constants_are_torchs(name):
    torch = pytest.importorskip("torch")
    import autogradx

    ours, theirs = getattr(autogradx, name), getattr(torch, name)
    assert type(ours) is type(theirs) is float
    assert ours == theirs or (ours != ours and theirs != theirs)        # nan
