"""Tools for testing gradients: for users and for authors of op plugins.

:func:`gradcheck` compares the vector-Jacobian products that autogradx's
backward computes with central finite differences, in float64, along random
directions. It works for any function of autogradx tensors, so a plugin author
can check a new op in one line::

    >>> import numpy as np
    >>> import autogradx as agx
    >>> from autogradx.plugin import Op
    >>> from autogradx.testing import gradcheck, GradcheckError
    >>> x = agx.tensor(np.linspace(0.5, 2.0, 6).reshape(2, 3), dtype=agx.float32,
    ...                requires_grad=True)
    >>> gradcheck(lambda t: agx.exp(t) * t, (x,))
    True

An op whose vjp is wrong is caught, with a report naming the input::

    >>> bad_square = Op("bad_square", lambda xp, x: x * x, vjp=lambda xp, g, x: g * x,
    ...                 save="input")
    >>> gradcheck(bad_square, (x,), raise_exception=False)
    False
    >>> try:
    ...     gradcheck(bad_square, (x,))
    ... except GradcheckError as e:
    ...     print(str(e).splitlines()[1])
      input 0 (shape (2, 3), dtype torch.float32): vjp mismatch in direction 0
"""

import numpy as np

from autogradx._core.op import get_array_module
from autogradx._core.tensor import TensorBase
from autogradx.autograd import backward as _backward
from autogradx.grad_mode import enable_grad, no_grad

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when analytic and numerical gradients disagree."""


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, n_directions=3, seed=0,
              raise_exception=True):
    """Check the gradients of ``fn`` at ``inputs`` against finite differences.

    ``fn(*inputs)`` must return a tensor or a tuple of tensors. ``inputs`` is a
    tuple (a single tensor is accepted too); the tensors in it with
    ``requires_grad=True`` are checked, everything else (tensors that do not
    require grad, numbers, ``None``, strings) is passed through unchanged.

    The check runs in float64: floating point inputs are replaced by float64
    copies (keeping ``requires_grad``), so float32 ops are checked with the
    precision finite differences need. For each of ``n_directions`` random
    output cotangents ``u`` (one per floating point output) and random input
    directions ``v``, it compares

    * ``<vjp(u), v>``, from autogradx's backward, with
    * ``<u, J v>``, the central difference
      ``(<u, fn(x + eps v)> - <u, fn(x - eps v)>) / (2 eps)``,

    for each checked input on its own and for all of them moved together. The
    two agree if ``|analytic - numerical| <= atol + rtol * |numerical|``.

    It also checks that backward gives every checked input a gradient of its
    own shape and dtype (at the inputs' original dtypes too), and that a
    gradient is ``None`` only for an input the outputs do not depend on (where
    the directional derivative must then be ~0).

    The inputs passed in are not modified and their ``.grad`` is left alone:
    the check works on copies. Returns True when every check passes; otherwise
    raises :class:`GradcheckError` with a report (which input, its shape, the
    analytic and numerical values, their difference and the tolerances), or
    returns False if ``raise_exception`` is False.
    """
    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, v in enumerate(inputs)
               if isinstance(v, TensorBase) and v.requires_grad]
    if not checked:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of the inputs do")
    for i in checked:
        kind = inputs[i]._data.dtype.kind
        if kind != "f":
            raise ValueError(f"gradcheck supports real floating point inputs only; input {i} "
                             f"has dtype {inputs[i].dtype}")
    if eps <= 0 or n_directions < 1:
        raise ValueError("gradcheck needs eps > 0 and n_directions >= 1")

    check = _Check(fn, inputs, checked, eps, atol, rtol, seed)
    check.dtypes_and_shapes()
    for d in range(n_directions):
        check.direction(d)
    if check.failures:
        if raise_exception:
            raise GradcheckError(check.report())
        return False
    return True


class _Check:
    """The state of one :func:`gradcheck` call, collecting its failures."""

    def __init__(self, fn, inputs, checked, eps, atol, rtol, seed):
        self.fn = fn
        self.inputs = inputs
        self.checked = checked
        self.eps = eps
        self.atol = atol
        self.rtol = rtol
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.failures = []
        # float64 copies of every floating point input, as plain arrays.
        self.base = [_as_float64(v._data) if _is_float_tensor(v) else None for v in inputs]

    # -- helpers ----------------------------------------------------------------

    def _label(self, i):
        t = self.inputs[i]
        return f"input {i} (shape {tuple(t.shape)}, dtype {t.dtype})"

    def _call(self, arrays, requires_grad):
        """``fn`` on leaves made from ``arrays`` (None: pass the original input through)."""
        args = []
        leaves = {}
        for i, v in enumerate(self.inputs):
            a = arrays[i]
            if a is None:
                args.append(v)
                continue
            t = _leaf(a, requires_grad and i in self.checked)
            if i in self.checked:
                leaves[i] = t
            args.append(t)
        out = self.fn(*args)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        for k, o in enumerate(outs):
            if not isinstance(o, TensorBase):
                raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors; "
                                f"output {k} is a {type(o).__name__}")
        return tuple(outs), leaves

    def _cotangents(self, outs, dtype=None):
        """Random gradients for the floating point outputs (None for the others)."""
        us = []
        for o in outs:
            data = o._data
            if data.dtype.kind != "f":
                us.append(None)
                continue
            u = self.rng.standard_normal(data.shape)
            xp = get_array_module(data)
            us.append(xp.asarray(u, dtype=data.dtype if dtype is None else dtype))
        return us

    def _vjp(self, outs, us):
        """Run backward from the outputs that need it, weighted by ``us``."""
        roots, grads = [], []
        for o, u in zip(outs, us):
            if u is not None and o.requires_grad:
                roots.append(o)
                grads.append(_leaf(u.astype(o._data.dtype, copy=False), False))
        if roots:
            _backward(roots, grads)

    def _phi(self, shifted, us):
        """``sum_k <u_k, fn(shifted)_k>`` in float64, without recording a graph."""
        with no_grad():
            outs, _ = self._call(shifted, False)
        total = 0.0
        for o, u in zip(outs, us):
            if u is not None:
                total += _dot(_as_float64(o._data), u)
        return total

    def _numerical(self, directions, us):
        eps = self.eps
        plus = list(self.base)
        minus = list(self.base)
        for i, v in directions.items():
            xp = get_array_module(v)
            # asarray: a 0-d array plus a number is a NumPy scalar, not an array
            plus[i] = xp.asarray(self.base[i] + eps * v)
            minus[i] = xp.asarray(self.base[i] - eps * v)
        return (self._phi(plus, us) - self._phi(minus, us)) / (2 * eps)

    def _close(self, analytic, numerical):
        return (np.isfinite(analytic) and np.isfinite(numerical)
                and abs(analytic - numerical) <= self.atol + self.rtol * abs(numerical))

    def _compare(self, what, d, analytic, numerical, note=""):
        if self._close(analytic, numerical):
            return
        tol = self.atol + self.rtol * abs(numerical)
        self.failures.append(
            f"{what}: vjp mismatch in direction {d}{note}\n"
            f"    analytic  <vjp(u), v> = {analytic:.10g}\n"
            f"    numerical <u, J v>    = {numerical:.10g}\n"
            f"    difference            = {abs(analytic - numerical):.3g} > "
            f"atol + rtol * |numerical| = {self.atol:g} + {self.rtol:g} * "
            f"{abs(numerical):.3g} = {tol:.3g}")

    def _check_grad_meta(self, i, grad, dtype, where):
        """Record a failure unless ``grad`` is None or has the input's shape and ``dtype``."""
        t = self.inputs[i]
        if grad is None:
            return True
        g = grad._data
        if tuple(g.shape) != tuple(t.shape) or g.dtype != dtype:
            self.failures.append(
                f"{self._label(i)}: backward ({where}) gave a gradient of shape "
                f"{tuple(g.shape)} and dtype {grad.dtype}; expected shape {tuple(t.shape)} "
                f"and dtype {_dtype_name(dtype)}")
            return False
        return True

    # -- the checks ---------------------------------------------------------------

    def dtypes_and_shapes(self):
        """Backward at the inputs' own dtypes gives gradients of their shape and dtype."""
        if all(self.inputs[i]._data.dtype == np.float64 for i in self.checked):
            return      # the float64 passes below check this
        arrays = [v._data.copy() if _is_float_tensor(v) else None for v in self.inputs]
        with enable_grad():
            outs, leaves = self._call(arrays, True)
            self._vjp(outs, self._cotangents(outs))
        for i in self.checked:
            self._check_grad_meta(i, leaves[i].grad, self.inputs[i]._data.dtype,
                                  "at the input's dtype")

    def direction(self, d):
        with enable_grad():
            outs, leaves = self._call(self.base, True)
            us = self._cotangents(outs, "float64")
            self._vjp(outs, us)
        us = [None if u is None else _as_float64(u) for u in us]
        directions = {}
        total_analytic = 0.0
        joint = True
        for i in self.checked:
            base = self.base[i]
            xp = get_array_module(base)
            v = xp.asarray(self.rng.standard_normal(base.shape), dtype="float64")
            directions[i] = v
            grad = leaves[i].grad
            if not self._check_grad_meta(i, grad, np.dtype(np.float64), "in float64"):
                joint = False       # no inner product with a gradient of the wrong shape
                continue
            numerical = self._numerical({i: v}, us)
            if grad is None:
                analytic = 0.0
                note = (" (backward gave no gradient (None) for this input, but the output "
                        "depends on it)")
            else:
                analytic = _dot(grad._data, v)
                note = ""
            total_analytic += analytic
            self._compare(self._label(i), d, analytic, numerical, note)
        if joint and len(self.checked) > 1:
            numerical = self._numerical(directions, us)
            what = "inputs " + ", ".join(str(i) for i in self.checked) + " jointly"
            self._compare(what, d, total_analytic, numerical)

    def report(self):
        name = getattr(self.fn, "__name__", None) or repr(self.fn)
        head = (f"gradcheck of {name} failed ({len(self.failures)} "
                f"problem{'s' if len(self.failures) != 1 else ''}; eps={self.eps:g}, "
                f"atol={self.atol:g}, rtol={self.rtol:g}, seed={self.seed}):")
        return "\n".join([head] + ["  " + f for f in self.failures])


def _is_float_tensor(v):
    return isinstance(v, TensorBase) and v._data.dtype.kind == "f"


def _as_float64(a):
    return a.astype("float64") if a.dtype != np.float64 else a.copy()


def _leaf(array, requires_grad):
    from autogradx._tensor import Tensor
    t = Tensor.__new__(Tensor)
    t._data = array
    if requires_grad:
        t.requires_grad = True
    return t


def _dot(a, b):
    xp = get_array_module(a)
    return float(xp.sum(a * b))


def _dtype_name(np_dtype):
    from autogradx._dtype import from_numpy_dtype
    return repr(from_numpy_dtype(np_dtype))
