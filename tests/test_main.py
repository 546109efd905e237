"""``python -m autogradx``: the coverage page and the plugin listing."""

import pathlib
import subprocess
import sys

from autogradx.__main__ import coverage_markdown
from autogradx._registry import REGISTRY

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "ops.md"


def test_docs_coverage_page_is_the_registry():
    # Regenerate with: python -m autogradx coverage > docs/ops.md
    assert DOCS.read_text() == coverage_markdown()


def test_coverage_lists_every_builtin_op_once():
    rows = [line.split(" | ")[0] for line in coverage_markdown().splitlines()
            if line.startswith("| `")]
    builtin = [name for name, op in REGISTRY.load().ops.items() if op.plugin == "numpy"]
    assert sorted(rows) == sorted(f"| `{name}`" for name in builtin)
    page = coverage_markdown()
    assert f"{len(builtin)} ops." in page


def test_info_lists_plugins_and_backends():
    out = subprocess.run([sys.executable, "-m", "autogradx", "info"], capture_output=True,
                         text=True, check=True).stdout
    assert "numpy" in out and "backends:" in out and "cpu" in out
