"""Sphinx configuration of the autogradx documentation.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
(``pip install -e ".[docs]"`` first). The build reads nothing from the network.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

# The reference documents autogradx's own ops: plugins installed beside it stay out
# of the build (and their code does not run).
os.environ["AUTOGRADX_DISABLE_PLUGINS"] = "1"

import autogradx  # noqa: E402

project = "autogradx"
author = "the autogradx developers"
copyright = "the autogradx developers"
release = version = autogradx.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "autogradx_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Every cross-reference must resolve; only references to other projects (whose
# inventories are not fetched: the build is offline) are let through.
nitpicky = True
nitpick_ignore_regex = [
    ("py:.*", r"(numpy|np|cupy|collections|typing|contextlib|threading)\..*"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_default_options = {"members": True, "undoc-members": True}

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

html_theme = "pydata_sphinx_theme"
html_title = f"autogradx {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
# The top-level pages have no subpages: no left sidebar ("*" stops at a "/").
html_sidebars = {"*": []}
html_static_path = ["_static"]
html_css_files = ["autogradx.css"]

# Every public name of these modules (and of autogradx.Tensor) must have an entry in
# the API reference: the build warns for one that has none.
autogradx_public_modules = [
    "autogradx", "autogradx.autograd", "autogradx.autograd.functional", "autogradx.nn",
    "autogradx.nn.functional", "autogradx.nn.init", "autogradx.linalg", "autogradx.special",
    "autogradx.optim", "autogradx.optim.lr_scheduler", "autogradx.utils.checkpoint",
    "autogradx.utils.data",
    "autogradx.testing", "autogradx.conformance", "autogradx.plugin", "autogradx.backends",
    "autogradx.cuda", "autogradx.viz", "autogradx.serialization", "autogradx.return_types",
]
# Public names that are not API, each with the reason; the build warns when one of
# them is documented or gone, so that the entry is dropped.
autogradx_undocumented = {}
