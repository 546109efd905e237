"""The core's error messages: PyTorch's wording where it has one, naming the op and shapes."""

import numpy as np

from .names import tensor_type_name

SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved "
    "tensors after they have already been freed). Saved intermediate values of the graph "
    "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
    "you need to backward through the graph a second time or if you need to access saved "
    "tensors after calling backward."
)



def _describe(src, node):
    """How PyTorch names a saved tensor in its in-place error: ``[torch.FloatTensor [2]]``."""
    if hasattr(src, "_data"):           # a tensor
        desc = f"[torch.{tensor_type_name(src._data.dtype)} {list(src._data.shape)}]"
        if src.grad_fn is not None:
            desc += f", which is output {src.output_nr} of {src.grad_fn.name()}"
        return desc
    return f"[the output of {node.name()}]"


def _forward_trace():
    import traceback
    return "".join(traceback.format_stack())    # compiled frames do not appear in it


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
