"""docs/plugins.md's example plugin, built and installed as the guide says, then used.

The guide's code blocks with a file name as title (``smoothloss/__init__.py``,
``pyproject.toml``) become a distribution in a temporary site directory; the
blocks titled ``example`` run against it in a fresh interpreter, and so does
``python -m autogradx.conformance``. Editing the guide into something that does
not work fails here.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
BLOCK = re.compile(r'^```(\w+) title="([^"]+)"\n(.*?)^```$', re.M | re.S)


def _blocks():
    return [(lang, title, body) for lang, title, body in BLOCK.findall(GUIDE.read_text())]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The guide's plugin installed in a site directory; yields (path, plugin name)."""
    root = tmp_path_factory.mktemp("site")
    files = {title: body for _, title, body in _blocks() if title != "example"}
    project = tomllib.loads(files.pop("pyproject.toml"))["project"]
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)
    entry_points = project["entry-points"]["autogradx.plugins"]
    dist = root / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    (dist / "entry_points.txt").write_text(
        "[autogradx.plugins]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    [name] = entry_points
    return root, name


def _python(site_dir, *args, **env):
    env = dict(os.environ, PYTHONPATH=str(site_dir), **env)
    return subprocess.run([sys.executable, "-W", "error", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_the_guide_has_its_example():
    titles = [title for _, title, _ in _blocks()]
    assert titles.count("example") >= 2 and "pyproject.toml" in titles


def test_examples_run_against_the_installed_plugin(site):
    root, _ = site
    code = "\n".join(body for _, title, body in _blocks() if title == "example")
    out = _python(root, "-c", code)
    assert out.returncode == 0, out.stderr
    # A print's comment shows what it prints (up to a trailing "...").
    printed = re.findall(r"^print\(.*\)\s+# (.*?)(?:\.\.\.)?$", code, re.M)
    assert printed
    for expected in printed:
        assert expected in out.stdout


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
