"""autogradx.viz: the backward graph as Graphviz DOT, rendered when Graphviz is there."""

import re
import shutil

import pytest

import autogradx as agx
from autogradx import viz


def seed_loss():
    x = agx.ones(5)
    w = agx.rand(5, 3, requires_grad=True)
    b = agx.rand(3, requires_grad=True)
    return agx.nn.functional.binary_cross_entropy_with_logits(x @ w + b, agx.zeros(3))


def test_dot_has_every_node_leaf_and_edge():
    dot = viz.to_dot(seed_loss())
    labels = re.findall(r'label="([^"]*)"', dot)
    names = [label.split("\\n")[0] for label in labels]
    assert names == ["()", "BinaryCrossEntropyWithLogitsBackward0", "AddBackward0", "(3,)",
                     "SqueezeBackward4", "(5, 3)"]
    # The matmul kept what the weight's gradient reads, the input; not the weight itself,
    # which only the input's gradient (not needed: x needs no grad) would read.
    assert 'saved: (5,)"' in dot
    assert dot.count("->") == 5                          # output->loss, 4 graph edges
    assert dot.count("leaf") == 2


def test_dot_of_a_leaf_and_of_a_shared_node():
    assert "->" not in viz.to_dot(agx.ones(2))
    x = agx.ones(2, requires_grad=True)
    y = x * 2
    z = y * y                                            # y's node feeds z twice
    assert viz.to_dot(z).count("MulBackward0") == 2


def test_render_dot_file(tmp_path):
    path = viz.render(seed_loss(), tmp_path / "graph.dot")
    assert (tmp_path / "graph.dot").read_text().startswith("digraph autograd {")


def test_render_svg_or_a_clear_error(tmp_path):
    if shutil.which("dot"):
        path = viz.render(seed_loss(), tmp_path / "graph.svg")
        assert "<svg" in (tmp_path / "graph.svg").read_text()
    else:
        with pytest.raises(RuntimeError, match="Graphviz's 'dot' program was not found"):
            viz.render(seed_loss(), tmp_path / "graph.svg")
    with pytest.raises(ValueError, match="unknown format 'gif'"):
        viz.render(seed_loss(), tmp_path / "graph.gif")


def test_the_docs_example_runs(tmp_path, monkeypatch):
    import pathlib
    page = pathlib.Path(__file__).resolve().parents[1] / "docs" / "graphs.md"
    code = re.search(r"```python\n(.*?)```", page.read_text(), re.S).group(1)
    # Written as DOT, so that the example runs where Graphviz is not installed.
    code = code.replace('"seed_graph.svg"', '"seed_graph.dot"')
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(page), "exec"), {})
    assert (tmp_path / "seed_graph.dot").read_text().startswith("digraph autograd {")
