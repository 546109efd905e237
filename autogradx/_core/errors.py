"""The core's error messages: PyTorch's wording where it has one, naming the op and shapes."""

import sys
import threading
import warnings

import numpy as np

from .names import tensor_type_name
from .thread_state import carry

SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved "
    "tensors after they have already been freed). Saved intermediate values of the graph "
    "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
    "you need to backward through the graph a second time or if you need to access saved "
    "tensors after calling backward."
)



def _describe(src, node):
    """How PyTorch names a saved tensor in its in-place error: ``[torch.FloatTensor [2]]``,
    followed by ``, which is output 0 of MulBackward0,`` where it has a history."""
    if hasattr(src, "_data"):           # a tensor
        desc = f"[torch.{tensor_type_name(src._data.dtype)} {list(src._data.shape)}]"
        if src.grad_fn is not None:
            desc += f", which is output {src.output_nr} of {src.grad_fn.name()},"
        return desc
    return f"[the output of {node.name()}],"


def _forward_trace():
    import traceback
    return "".join(traceback.format_stack())    # compiled frames do not appear in it


# -- anomaly mode (autograd.detect_anomaly) ------------------------------------------------

# The node whose backward runs on this thread while anomaly mode records the nodes that
# backward makes (create_graph): their "parent".
_anomaly = threading.local()
carry(lambda: getattr(_anomaly, "parent", None), lambda parent: setattr(_anomaly, "parent", parent))


def record_forward(node):
    """Anomaly mode: keep on ``node``, just made, the traceback of the forward call that made
    it and the node whose backward made it, if any, for ``warn_failed_node``."""
    meta = node.metadata
    meta["traceback_"] = _forward_trace()
    parent = getattr(_anomaly, "parent", None)
    if parent is not None:
        meta["parent_"] = parent


def warn_failed_node(node):
    """Anomaly mode, once ``node``'s backward failed: PyTorch's warnings, with where the
    forward made it and, for each node whose backward made the one before, where that one
    was made. A warning that the filters turn into an error goes to stderr instead, so that
    the backward's own error is the one raised."""
    meta = node.metadata
    texts = [_stack_text(node.name(), meta.get("traceback_"), parent=False)]
    parent = meta.get("parent_")
    while parent is not None:
        meta = parent.metadata
        texts.append(_stack_text(parent.name(), meta.get("traceback_"), parent=True))
        parent = meta.get("parent_")
    for text in texts:
        try:
            warnings.warn(text, UserWarning, stacklevel=3)
        except Warning as w:
            sys.stderr.write(f"{type(w).__name__}: {w}\n")


def _stack_text(name, trace, parent):
    if trace is None:
        return (f"Error detected in {name}. No forward pass information available. Enable "
                "detect anomaly during forward pass for more information.")
    if parent:
        return (f"\n\nPrevious calculation was induced by {name}. Traceback of forward call "
                f"that induced the previous calculation:\n{trace}")
    return f"Error detected in {name}. Traceback of forward call that caused the error:\n{trace}"



def _shape_error(op, exc, values):
    """A ValueError about shapes becomes PyTorch's RuntimeError naming the op and the shapes:
    one raised inside the array library, or one the input shapes explain themselves (a
    ufunc operator raises from C, with no frame to tell). An op's own ValueError (PyTorch
    raises some too) passes through unchanged."""
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "")
    shapes = [tuple(v.shape) for v in values if hasattr(v, "shape")]
    explained = _torch_message(op, shapes)
    if module.partition(".")[0] in ("numpy", "cupy", "cupyx") or explained is not None:
        raise RuntimeError(f"{op.name}(): {explained or exc} "
                           f"(input shapes: {_shapes(values)})") from exc


def _torch_message(op, shapes):
    """PyTorch's wording for two shapes that do not broadcast, or two matrices that do not
    multiply; None when the shapes are not the problem."""
    if len(shapes) != 2:
        return None
    a, b = shapes
    if op.promote != "elementwise" and op.numpy_ufunc is None:
        return None                 # shapes that need not broadcast: the op's own message
    if op.numpy_ufunc is np.matmul:
        if len(a) == len(b) == 2 and a[1] != b[0]:
            return f"mat1 and mat2 shapes cannot be multiplied ({a[0]}x{a[1]} and {b[0]}x{b[1]})"
        return None
    for i in range(1, min(len(a), len(b)) + 1):
        if a[-i] != b[-i] and a[-i] != 1 and b[-i] != 1:
            return (f"The size of tensor a ({a[-i]}) must match the size of tensor b ({b[-i]}) "
                    f"at non-singleton dimension {max(len(a), len(b)) - i}")
    return None


def _type_names(values):
    return ", ".join(type(a).__name__ for a in values if a is not None) or "none"


def _shapes(values):
    return ", ".join(str(tuple(getattr(x, "shape", ()))) for x in values if x is not None)
