"""Text of ``repr(tensor)`` / ``str(tensor)``.

The layout follows PyTorch's tensor printing byte for byte (element formatting,
scientific-notation switch, summarisation, line wrapping and the suffixes), so
output can be compared directly with PyTorch's.
"""

import dataclasses
import math
from typing import Optional

import numpy as np

__all__ = ["format_tensor", "set_printoptions", "get_printoptions"]


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: Optional[bool] = None


_OPTS = _PrintOptions()

_PROFILES = {
    "default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}

# Spellings accepted for dtype names; the printed suffix always uses the canonical one.
_DTYPE_ALIASES = {
    "float": "float32", "double": "float64", "half": "float16",
    "long": "int64", "int": "int32", "short": "int16",
}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Set printing options (same meaning and defaults as ``torch.set_printoptions``).

    ``profile`` is one of ``'default'``, ``'short'``, ``'full'`` and is applied
    first; explicit options override it. ``sci_mode`` is always (re)set, so
    omitting it restores automatic choice of scientific notation.
    """
    if profile in _PROFILES:
        for name, value in _PROFILES[profile].items():
            setattr(_OPTS, name, value)
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(_OPTS, name, value)
    _OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """Current options, as keyword arguments accepted by :func:`set_printoptions`."""
    return dataclasses.asdict(_OPTS)


class _Formatter:
    """Picks one notation and one column width shared by all printed elements."""

    def __init__(self, values, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        values = values.reshape(-1)
        if not floating:
            # str() length grows with |x| for each sign, so the extremes are the widest.
            if values.size:
                extremes = (values.min().item(), values.max().item())
                self.max_width = max(len(str(v)) for v in extremes)
            return

        with np.errstate(invalid="ignore"):
            finite = values[np.isfinite(values) & (values != 0)]
        if finite.size == 0:
            return  # only zeros / nan / inf: plain "0." style, no padding
        magnitudes = np.abs(finite).astype(np.float64)
        smallest, largest = float(magnitudes.min()), float(magnitudes.max())
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        if _OPTS.sci_mode is None:
            self.sci_mode = largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
        else:
            self.sci_mode = _OPTS.sci_mode

        if self.sci_mode:
            spec, extra = f".{_OPTS.precision}e", 0
        elif self.int_mode:
            spec, extra = ".0f", 1  # room for the trailing "." marking a float
        else:
            spec, extra = f".{_OPTS.precision}f", 0
        self.max_width = max(len(format(v, spec)) + extra for v in _width_candidates(finite))

    def format(self, value):
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = format(value, f"{self.max_width}.{_OPTS.precision}e")
        elif self.int_mode:
            text = format(value, ".0f")
            if math.isfinite(value):
                text += "."
        else:
            text = format(value, f".{_OPTS.precision}f")
        return text.rjust(self.max_width)


def _width_candidates(finite):
    """Values whose formatted text is the longest of all nonzero finite values.

    Per sign, text length is monotone in |x| for fixed notation; in scientific
    notation the exponent is widest at the smallest or largest |x|. So the
    extremes of each sign are enough, without formatting every element.
    """
    positive, negative = finite[finite > 0], finite[finite < 0]
    picks = [part.min() for part in (positive, negative) if part.size]
    picks += [part.max() for part in (positive, negative) if part.size]
    return [float(v) for v in picks]


def _summarized_data(arr):
    """The elements that survive summarisation, which alone determine the widths."""
    edge = _OPTS.edgeitems
    if arr.ndim >= 2 and not edge:
        return arr.reshape(-1)[:0]  # only "..." gets printed
    for axis, size in enumerate(arr.shape):
        if size > 2 * edge:
            arr = arr.take(np.r_[0:edge, size - edge:size], axis=axis)
    return arr


def _vector_str(vec, indent, summarize, formatter):
    element_length = formatter.max_width + 2  # ", " between elements
    per_line = max(1, math.floor((_OPTS.linewidth - indent) / element_length))
    edge = _OPTS.edgeitems
    if summarize and not edge:
        items = ["..."]
    elif summarize and vec.shape[0] > 2 * edge:
        items = ([formatter.format(v) for v in vec[:edge].tolist()] + [" ..."]
                 + [formatter.format(v) for v in vec[-edge:].tolist()])
    else:
        items = [formatter.format(v) for v in vec.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested_str(arr, indent, summarize, formatter):
    if arr.ndim == 0:
        return formatter.format(arr.item())
    if arr.ndim == 1:
        return _vector_str(arr, indent, summarize, formatter)
    size, edge = arr.shape[0], _OPTS.edgeitems
    if summarize and size > 2 * edge:
        rows = ([_nested_str(arr[i], indent + 1, summarize, formatter) for i in range(edge)]
                + ["..."]
                + [_nested_str(arr[i], indent + 1, summarize, formatter)
                   for i in range(size - edge, size)])
    else:
        rows = [_nested_str(arr[i], indent + 1, summarize, formatter) for i in range(size)]
    # Sub-blocks of rank r are separated by r - 1 newlines (blank lines for rank >= 3).
    separator = "," + "\n" * (arr.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(rows) + "]"


def _body_str(arr, indent):
    summarize = arr.size > _OPTS.threshold
    shown = _summarized_data(arr) if summarize else arr
    formatter = _Formatter(shown, floating=arr.dtype.kind == "f")
    return _nested_str(arr, indent, summarize, formatter)


def _add_suffixes(text, suffixes, indent):
    """Append ", suffix" items, moving one to a new line when it would overflow."""
    parts = [text]
    # Same arithmetic as the reference (counts the newline and the closing paren).
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > _OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def _canonical_dtype(name):
    name = str(name)
    if name.startswith("torch."):
        name = name[len("torch."):]
    return _DTYPE_ALIASES.get(name, name)


def format_tensor(data, *, dtype_name, default_dtype_name="float32", requires_grad=False,
                  grad_fn_name=None, device=None) -> str:
    """The ``repr`` of a tensor holding ``data`` (a NumPy array of any rank).

    dtype_name: the tensor's dtype name, e.g. 'float32', 'int64', 'bool';
    default_dtype_name: the current default float dtype (its suffix is omitted);
    requires_grad: True for a leaf requiring grad (', requires_grad=True');
    grad_fn_name: e.g. 'AddBackward0' (', grad_fn=<AddBackward0>'), None for leaves;
    device: None or 'cpu' prints nothing, otherwise e.g. ", device='cuda:0'".
    """
    dtype_name = _canonical_dtype(dtype_name)
    default_dtype_name = _canonical_dtype(default_dtype_name)
    arr = np.asarray(data)
    try:
        wanted = np.dtype(dtype_name)
    except TypeError:
        wanted = arr.dtype
    if arr.dtype != wanted:
        arr = arr.astype(wanted)

    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if device is not None and str(device) != "cpu":
        suffixes.append(f"device='{device}'")
    dtype_suffix = f"dtype=torch.{dtype_name}"
    if arr.size == 0:
        # Shape and dtype cannot be inferred from "[]", so they are spelled out.
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if dtype_name != default_dtype_name:
            suffixes.append(dtype_suffix)
        body = "[]"
    else:
        if not _OPTS.edgeitems:
            suffixes.append(f"size={tuple(arr.shape)}")
        if dtype_name not in (default_dtype_name, "int64", "bool"):
            suffixes.append(dtype_suffix)
        body = _body_str(arr, indent)
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
