"""docs/plugins.md's example plugin, built and installed as the guide says, then used.

The guide's code blocks with a file name as title (``smoothloss/__init__.py``,
``pyproject.toml``) become a distribution in a temporary site directory, the way
tests/test_docs.py installs them when it runs the guide's examples; here
``python -m autogradx.conformance`` runs against it, and so does switching
plugins off. Editing the guide into something that does not work fails here.
"""

import os
import subprocess
import sys

import pytest

from test_docs import DOCS, install_files, python_blocks, read_page

GUIDE = DOCS / "plugins.md"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The guide's plugin installed in a site directory; yields (path, plugin name)."""
    root = tmp_path_factory.mktemp("site")
    [name] = install_files(read_page(GUIDE), root)["autogradx.plugins"]
    return root, name


def _python(site_dir, *args, **env):
    env = dict(os.environ, PYTHONPATH=str(site_dir), **env)
    return subprocess.run([sys.executable, "-W", "error", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_the_guide_has_its_plugin_and_examples_using_it():
    titles = [block.title for block in read_page(GUIDE)]
    assert "pyproject.toml" in titles and "smoothloss/__init__.py" in titles
    assert [block.title for block in python_blocks(GUIDE)].count("example") >= 2


def test_conformance_command_passes_on_it(site):
    root, name = site
    out = _python(root, "-m", "autogradx.conformance", name)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"plugin {name!r}: 2 ops checked" in out.stdout
    assert " 0 failed, 0 ops skipped" in out.stdout


def test_disabling_plugins_keeps_its_code_from_running(site):
    root, _ = site
    out = _python(root, "-c", "import autogradx, sys; autogradx.exp; "
                              "print('smoothloss' in sys.modules, hasattr(autogradx, 'logcosh'))",
                  AUTOGRADX_DISABLE_PLUGINS="1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
