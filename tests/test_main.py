"""``python -m autogradx``: the coverage page and the plugin listing."""

import pathlib
import subprocess
import sys

from test_registry import GOOD, make_dist, site  # noqa: F401 (site: a fixture)

from autogradx.__main__ import coverage_markdown
from autogradx._registry import REGISTRY, Registry

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "ops.md"


def test_docs_coverage_page_is_the_registry():
    # Regenerate with: python -m autogradx coverage --builtin > docs/ops.md
    assert DOCS.read_text() == coverage_markdown(all_plugins=False)


def _rows(page):
    return sorted(line.split(" | ")[0] for line in page.splitlines() if line.startswith("| `"))


def test_coverage_lists_every_builtin_op_once():
    builtin = [name for name, op in REGISTRY.load().ops.items() if op.plugin == "numpy"]
    page = coverage_markdown(all_plugins=False)
    assert _rows(page) == sorted(f"| `{name}`" for name in builtin)
    assert f"{len(builtin)} ops." in page
    from autogradx._batching.rules import kind_of
    batched = sum(kind_of(REGISTRY.load().ops[name]) is not None for name in builtin)
    assert f"{batched} have a batching rule, {len(builtin) - batched} take" in page


def test_coverage_lists_every_plugins_ops_by_default(site):
    make_dist(site, "agxtest-good", "agxtest_good", GOOD, {"goodplug": "agxtest_good:plugin"})
    reg = Registry().load()
    page = coverage_markdown(reg)
    assert _rows(page) == sorted(f"| `{name}`" for name in reg.ops)
    assert "| `test_cube` | goodplug | `autogradx.test_cube` | `test_cube` |" in page
    assert "| `test_cube` |" not in coverage_markdown(reg, all_plugins=False)


def test_info_lists_plugins_and_backends():
    out = subprocess.run([sys.executable, "-m", "autogradx", "info"], capture_output=True,
                         text=True, check=True).stdout
    assert "numpy" in out and "backends:" in out and "cpu" in out
