"""docs/plugins.md's example plugin, built and installed as the guide says, then used.

The guide's code blocks with a file name as title (``smoothloss/__init__.py``,
``pyproject.toml``, ``tests/test_conformance.py``) become a distribution in a temporary
site directory, the way tests/test_docs.py installs them when it runs the guide's
examples; here ``python -m autogradx.conformance`` and the guide's pytest file run
against it from that directory, outside autogradx's source tree, and so does switching
plugins off. A deliberately broken copy (a vjp wrong by a factor 2 only in float32,
another wrong everywhere) must fail both. Editing the guide into something that does
not work fails here.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import autogradx
from test_docs import DOCS, install_files, python_blocks, read_page

GUIDE = DOCS / "plugins.md"
# The autogradx under test, for interpreters started outside its source tree.
ROOT = Path(autogradx.__file__).resolve().parents[1]

# What the broken copy changes in the guide's plugin: (the guide's text, the broken text).
BREAKAGES = [
    # logcosh's vjp, wrong by a factor 2 when it runs in float32 and only then
    ('vjp={"input": lambda xp, g, input: g * xp.tanh(input)}',
     'vjp={"input": lambda xp, g, input: (2 if str(input.dtype).endswith("float32") else 1)'
     ' * g * xp.tanh(input)}'),
    # pseudo_huber's slope, wrong by a factor 2 everywhere (for both of its inputs)
    ("    return g * (input - target) / xp.sqrt(1 + r * r)",
     "    return 2 * g * (input - target) / xp.sqrt(1 + r * r)"),
]


def _install(root, broken):
    [name] = install_files(read_page(GUIDE), root)["autogradx.plugins"]
    if broken:
        module = root / name / "__init__.py"
        source = module.read_text()
        for guide_text, broken_text in BREAKAGES:
            assert source.count(guide_text) == 1, f"the guide's plugin no longer has {guide_text!r}"
            source = source.replace(guide_text, broken_text)
        module.write_text(source)
    return root, name


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The guide's plugin installed in a site directory; yields (path, plugin name)."""
    return _install(tmp_path_factory.mktemp("site"), broken=False)


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory):
    """The broken copy of the guide's plugin, installed the same way."""
    return _install(tmp_path_factory.mktemp("broken"), broken=True)


def _python(site_dir, *args, **env):
    """A fresh interpreter working in ``site_dir``, which is on its path with autogradx."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site_dir), str(ROOT)]), **env)
    return subprocess.run([sys.executable, "-W", "error", *args], capture_output=True,
                          text=True, env=env, cwd=site_dir, timeout=300)


def test_the_guide_has_its_plugin_and_examples_using_it():
    titles = [block.title for block in read_page(GUIDE)]
    assert {"pyproject.toml", "smoothloss/__init__.py", "tests/test_conformance.py"} <= set(titles)
    assert [block.title for block in python_blocks(GUIDE)].count("example") >= 2


def test_conformance_command_passes_on_it(site):
    root, name = site
    out = _python(root, "-m", "autogradx.conformance", name)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines() == [
        f"autogradx conformance of plugin {name!r}: 2 ops checked, "
        f"{out.stdout.split(' checks passed')[0].rsplit(' ', 1)[1]} checks passed, 0 failed, "
        "0 ops skipped"]
    verbose = _python(root, "-m", "autogradx.conformance", name, "-v")
    assert verbose.stdout.splitlines()[1:] == [
        line for line in verbose.stdout.splitlines() if line.startswith("PASS ")]
    assert len(verbose.stdout.splitlines()) == 3


def test_conformance_command_fails_the_broken_copy(broken_site):
    root, name = broken_site
    out = _python(root, "-m", "autogradx.conformance", name)
    assert out.returncode == 1, out.stdout + out.stderr
    failures = [line for line in out.stdout.splitlines() if line.startswith("FAIL ")]
    # logcosh is wrong in float32 only, and is reported there, labelled float32
    logcosh = [line for line in failures if line.startswith("FAIL logcosh (")]
    assert logcosh and all("; float32; gradients)" in line for line in logcosh)
    assert "(backward in torch.float32)" in out.stdout
    # pseudo_huber is wrong everywhere: in both dtypes (not in its second order, which
    # differentiates the vjp as written, consistently with its finite differences)
    huber = " ".join(line for line in failures if line.startswith("FAIL pseudo_huber ("))
    assert "; float32; gradients)" in huber and "; float64; gradients)" in huber


def _pytest(root):
    return _python(root, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "tests/test_conformance.py")


def test_the_guides_pytest_file_passes_on_it_outside_the_source_tree(site):
    root, name = site
    assert not (root / "pyproject.toml").exists() and ROOT not in root.parents
    out = _pytest(root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed" in out.stdout


def test_the_guides_pytest_file_fails_the_broken_copy(broken_site):
    root, name = broken_site
    out = _pytest(root)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"FAILED tests/test_conformance.py::test_conformance[{name}:logcosh]" in out.stdout
    assert f"FAILED tests/test_conformance.py::test_conformance[{name}:pseudo_huber]" in out.stdout
    assert "FAIL logcosh (2x3; float32; gradients)" in out.stdout


def test_disabling_plugins_keeps_its_code_from_running(site):
    root, _ = site
    out = _python(root, "-c", "import autogradx, sys; autogradx.exp; "
                              "print('smoothloss' in sys.modules, hasattr(autogradx, 'logcosh'))",
                  AUTOGRADX_DISABLE_PLUGINS="1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
