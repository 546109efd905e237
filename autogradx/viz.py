"""Pictures of backward graphs: ``to_dot(tensor)`` gives Graphviz DOT text, and
``render(tensor, path)`` turns it into SVG or PNG with the Graphviz ``dot`` tool.

Each node of the graph is a box named like its ``grad_fn`` (``MulBackward0``),
with the shapes of the values it saved for backward; leaves that receive a
gradient (``AccumulateGrad``) are shown with their shape; edges run from each
node to the nodes of its inputs, as the gradient flows.
"""

import shutil
import subprocess

from autogradx._core.node import AccumulateGrad

__all__ = ["to_dot", "render"]


def _label(node):
    if isinstance(node, AccumulateGrad):
        shape = tuple(node.variable.shape)
        return f"{_shape(shape)}\\nleaf", "lightblue"
    lines = [node.name().rpartition("::")[2]]
    saved = getattr(node, "_saved_values", None)
    if saved:
        shapes = [_shape(tuple(v.shape)) for v in saved if hasattr(v, "shape")]
        if shapes:
            lines.append("saved: " + ", ".join(shapes))
    return "\\n".join(lines), "lightgrey"


def _shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def to_dot(tensor, name="autograd"):
    """The backward graph that ends at ``tensor``, as Graphviz DOT source."""
    root = tensor.grad_fn
    lines = [f"digraph {name} {{", '  node [shape=box, style=filled, fontname="monospace"];']
    out_id = "output"
    lines.append(f'  {out_id} [label="{_shape(tuple(tensor.shape))}\\noutput", '
                 'fillcolor=darkolivegreen1];')
    if root is None:
        lines.append("}")
        return "\n".join(lines) + "\n"
    ids = {}
    stack = [root]
    while stack:                     # iterative: graphs may be deep
        node = stack.pop()
        if id(node) in ids:
            continue
        ids[id(node)] = f"n{len(ids)}"
        label, color = _label(node)
        lines.append(f'  {ids[id(node)]} [label="{label}", fillcolor={color}];')
        for nxt, _ in node.next_functions:
            if nxt is not None:
                stack.append(nxt)
    lines.append(f"  {out_id} -> {ids[id(root)]};")
    seen = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for nxt, _ in node.next_functions:
            if nxt is not None:
                lines.append(f"  {ids[id(node)]} -> {ids[id(nxt)]};")
                stack.append(nxt)
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(tensor, path, format=None):
    """Write the graph of ``tensor`` to ``path`` (``.svg``, ``.png`` or ``.dot``).

    SVG and PNG need Graphviz's ``dot`` program (``apt-get install graphviz``);
    without it, a ``.dot`` file can still be written and rendered elsewhere.
    """
    path = str(path)
    format = format or path.rpartition(".")[2].lower()
    source = to_dot(tensor)
    if format == "dot":
        with open(path, "w") as f:
            f.write(source)
        return path
    if format not in ("svg", "png", "pdf"):
        raise ValueError(f"render: unknown format {format!r}; use svg, png, pdf or dot")
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "render: Graphviz's 'dot' program was not found on PATH (install graphviz), "
            "or write the DOT source with to_dot() / a '.dot' path")
    subprocess.run([dot, f"-T{format}", "-o", path], input=source.encode(), check=True)
    return path
