"""The documentation in docs/: every Python example of every page runs and prints what
the page shows, and the site builds without a warning.

The pages are read as Markdown, without Sphinx. Their conventions:

* each ```` ```python ```` block runs, in page order, all of a page's blocks in one
  namespace, in a fresh interpreter (``-W error``) working in a temporary directory;
* an ```` ```output ```` block right after a python block is exactly what it prints;
  a line ``print(...)  # text`` says that its block prints ``text`` (a trailing
  ``...`` cuts the text there);
* a block titled with a file name (```` ```python title="pkg/mod.py" ````, a
  ``pyproject.toml``) is a file of the page's example package, not code to run: the
  files are installed, entry points included, where the page's examples import them;
* ``<!-- not run: REASON -->`` on the line before a block leaves it out, and
  ``<!-- needs PROGRAM: REASON -->`` runs it only where PROGRAM is on the PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)

FENCE = re.compile(
    r"(?:^<!-- (?P<marker>.*?) -->\n)?"
    r"^```(?P<lang>[\w-]*)(?:[ \t]+title=\"(?P<title>[^\"]*)\")?[^\n]*\n"
    r"(?P<body>.*?)^```[ \t]*$", re.M | re.S)
MARKER = re.compile(r"(?:not run|needs (?P<program>[\w.-]+)): (?P<reason>\S.*)")
PRINT_COMMENT = re.compile(r"^\s*print\(.*\)\s+# (.*?)(?:\.\.\.)?$", re.M)

# Runs the blocks it reads from stdin in one namespace; writes what each printed.
RUNNER = """\
import contextlib, io, json, sys, traceback
namespace = {"__name__": "__main__"}
results = []
for filename, code in json.load(sys.stdin):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, filename, "exec"), namespace)
    except BaseException:
        results.append((out.getvalue(), traceback.format_exc()))
        break
    results.append((out.getvalue(), None))
sys.__stdout__.write(json.dumps(results))
"""


@dataclass
class Block:
    """One fenced block of a page."""

    page: Path
    line: int                   # of its first code line
    lang: str
    title: str | None
    marker: str | None
    body: str
    output: str | None = None   # the output block that follows it

    @property
    def where(self):
        return f"{self.page.relative_to(DOCS)}:{self.line}"

    @property
    def is_file(self):
        """A file of the page's example package (its title is a file name)."""
        return self.title is not None and ("/" in self.title or "." in self.title)

    def skip_reason(self):
        """Why the block does not run here, or None when it runs."""
        if self.marker is None:
            return None
        match = MARKER.fullmatch(self.marker)
        if match is None:
            return None
        if match["program"] and shutil.which(match["program"]):
            return None
        return match["reason"]


def read_page(page):
    """The fenced blocks of ``page``, output blocks attached to the blocks they follow."""
    text = page.read_text()
    blocks, last_end = [], None
    for m in FENCE.finditer(text):
        if m["lang"] == "output" and blocks and blocks[-1].lang == "python" \
                and not text[last_end:m.start()].strip():
            blocks[-1].output = m["body"]
        else:
            blocks.append(Block(page, text.count("\n", 0, m.start("body")) + 1, m["lang"],
                                m["title"], m["marker"], m["body"]))
        last_end = m.end()
    return blocks


def install_files(blocks, root):
    """Write the file blocks under ``root``; a ``pyproject.toml`` among them becomes the
    distribution's metadata there, entry points included. Returns its entry points
    ``{group: {name: value}}``."""
    files = {b.title: b.body for b in blocks if b.is_file}
    project = {}
    if "pyproject.toml" in files:
        tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")
        project = tomllib.loads(files.pop("pyproject.toml"))["project"]
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)
    entry_points = project.get("entry-points", {})
    if entry_points:
        dist = root / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                       f"Version: {project['version']}\n")
        (dist / "entry_points.txt").write_text("".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
            for group, eps in entry_points.items()))
    return entry_points


def run_blocks(blocks, workdir):
    """Run ``blocks`` as the page's program, in a fresh interpreter working in
    ``workdir``; ``[(printed, traceback or None)]`` for the blocks that ran."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(workdir), os.environ.get("PYTHONPATH")])))
    # Leading newlines put each block's lines at their page line numbers in tracebacks.
    program = [(str(b.page), "\n" * (b.line - 1) + b.body) for b in blocks]
    done = subprocess.run([sys.executable, "-W", "error", "-c", RUNNER], input=json.dumps(program),
                          capture_output=True, text=True, cwd=workdir, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def python_blocks(page):
    return [b for b in read_page(page) if b.lang == "python" and not b.is_file]


@pytest.mark.parametrize(
    "page", [p for p in PAGES if python_blocks(p)], ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples_run_and_print_what_the_page_shows(page, tmp_path):
    blocks = read_page(page)
    install_files(blocks, tmp_path)
    runnable = [b for b in python_blocks(page) if b.skip_reason() is None]
    if not runnable:
        pytest.skip("; ".join(f"{b.where}: {b.skip_reason()}" for b in python_blocks(page)))
    for block, (printed, error) in zip(runnable, run_blocks(runnable, tmp_path)):
        assert error is None, f"the example at {block.where} raised:\n{error}"
        if block.output is not None:
            assert printed == block.output, f"{block.where} printed:\n{printed}"
        for promised in PRINT_COMMENT.findall(block.body):
            assert promised in printed, f"{block.where} printed:\n{printed}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_markers_and_outputs_are_well_formed(page):
    text = page.read_text()
    blocks = read_page(page)
    for block in blocks:
        if block.marker is not None:
            assert MARKER.fullmatch(block.marker), \
                f"{block.where}: unknown marker <!-- {block.marker} -->"
    # Every output block was attached to the python block before it.
    assert text.count("```output") == sum(b.output is not None for b in blocks)


def test_the_runner_reports_what_each_block_printed_and_where_one_failed(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```python\nprint(1 + 1)\n```\n\n```output\n3\n```\n\n"
                    "```python\nraise ValueError('stale')\n```\n")
    ok, bad = read_page(page)
    results = run_blocks([ok, bad], tmp_path)
    assert results[0] == ["2\n", None] and ok.output == "3\n"
    assert "ValueError: stale" in results[1][1] and f"{page}\", line 10" in results[1][1]


def test_site_builds_without_warnings(tmp_path):
    for module in ("sphinx", "myst_parser", "pydata_sphinx_theme"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[docs]')")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and not done.stderr, done.stderr
    documented = inventory_names(tmp_path / "html" / "objects.inv", "py:function")
    assert registry_functions() <= documented
    assert (tmp_path / "html" / "tutorial.html").read_text().count("AddBackward0") >= 1


def inventory_names(path, role):
    """The names of one role (``py:function``) in a Sphinx ``objects.inv``: four header
    lines, then zlib-compressed lines ``name domain:role priority uri display-name``."""
    body = path.read_bytes().split(b"\n", 4)[4]
    entries = re.findall(r"^(.+?)\s+(\S+:\S+)\s+-?\d+\s", zlib.decompress(body).decode(), re.M)
    return {name for name, kind in entries if kind == role}


def registry_functions():
    """Full names of the functions autogradx's own ops provide, from the registry."""
    from autogradx._registry import REGISTRY
    registry = REGISTRY.load()
    builtin = {name for name, info in registry.plugins.items() if info.builtin}
    return {f"autogradx.{ns + '.' if ns else ''}{name}"
            for op in registry.ops.values() if op.plugin in builtin
            for ns in op.namespaces
            for name in (op.name.rpartition(".")[2],) + op.aliases}
