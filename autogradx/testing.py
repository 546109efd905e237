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
    ...     print(str(e).splitlines()[1].split(":")[0])
      Jacobian mismatch for output 0 with respect to input 0 (shape (2, 3), dtype torch.float32)

:func:`gradgradcheck` does the same one level up, for gradients of gradients
(``create_graph=True``): the vjp must itself be differentiable, which a vjp
written with NumPy-only calls is not::

    >>> from autogradx.testing import gradgradcheck
    >>> square = Op("square", lambda xp, x: x * x, vjp=lambda xp, g, x: 2 * g * x,
    ...             save="input")
    >>> gradgradcheck(square, (x,))
    True
    >>> numpy_only = Op("numpy_only", lambda xp, x: x * x, save="input",
    ...                 vjp=lambda xp, g, x: 2 * g * x * xp.sinc(0.0))
    >>> try:
    ...     gradgradcheck(numpy_only, (x,))
    ... except GradcheckError as e:
    ...     print(str(e.__cause__).split(",")[0])
    numpy.sinc has no autogradx counterpart
"""

import numpy as np

from autogradx._core.dispatch import get_array_module
from autogradx._core.tensor import TensorBase, wrap
from autogradx.autograd import backward as _backward, grad as _grad
from autogradx.grad_mode import enable_grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(AssertionError, RuntimeError):
    """Raised by :func:`~autogradx.testing.gradcheck` when analytic and numerical gradients
    disagree: a failed assertion, and a RuntimeError as PyTorch's ``GradcheckError`` is."""


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, n_directions=3, seed=0,
              at_input_dtype=False, raise_exception=True, nondet_tol=None,
              check_batched_grad=False):
    """Check the gradients of ``fn`` at ``inputs`` against finite differences.

    ``fn(*inputs)`` must return a tensor or a tuple of tensors. ``inputs`` is a
    tuple (a single tensor is accepted too); the tensors in it with
    ``requires_grad=True`` are checked, everything else (tensors that do not
    require grad, numbers, ``None``, strings) is passed through unchanged.

    The check runs in float64: floating point inputs are replaced by float64
    copies (complex ones by complex128; keeping ``requires_grad``), so float32 ops
    are checked with the precision finite differences need. With ``at_input_dtype=True``
    the gradients (backward) are computed at the inputs' own dtypes instead, on copies of
    their values, and compared with the same float64 finite differences: a vjp that is
    wrong only in float32 is caught (give tolerances fit for that dtype; the conformance
    kit uses ``atol=1e-4`` for float32). For each of ``n_directions`` random output
    cotangents ``u`` (one per floating point or complex output, normal, scaled to norm 1)
    and random input directions ``v`` (uniform in [0, 1) and of norm 1, the real and the
    imaginary part of a complex one each, as PyTorch's fast gradcheck draws them), it
    compares

    * ``<vjp(u), v>``, from autogradx's backward, with
    * ``<u, J v>``, the central difference
      ``(<u, fn(x + eps v)> - <u, fn(x - eps v)>) / (2 eps)``,

    for each checked input on its own and for all of them moved together (for a complex
    ``v``, its real and imaginary parts are stepped apart and the two results make one
    complex number, as in PyTorch's fast gradcheck). The two agree if
    ``|analytic - numerical| <= atol * |u|_1 * |v|_1 + rtol * |numerical|``:
    atol bounds each entry of the Jacobian, as in PyTorch's slow gradcheck, and so bounds
    the projection by ``atol * |u|_1 * |v|_1`` (the 1-norms counting real and imaginary
    parts; PyTorch's fast gradcheck scales atol the same way).

    With ``nondet_tol`` (a number, as in PyTorch), backward is also checked to be
    reentrant: a second forward and backward with the same cotangents must give
    gradients within ``nondet_tol`` of the first (0: the same bits).

    Complex numbers count as pairs of reals: ``<a, b>`` is ``Re(sum(a * conj(b)))``,
    and ``u`` and ``v`` are complex where the outputs and inputs are. So the gradient
    of a complex input is held to PyTorch's convention, ``dL/dx + i dL/dy`` for the
    real ``L = <u, fn(x)>``.

    With ``check_batched_grad``, ``grad(..., is_grads_batched=True)`` from each output
    must agree, row by row, with one backward per cotangent.

    It also checks that backward gives every checked input a gradient of its
    own shape and dtype (at the inputs' original dtypes too), and that a
    gradient is ``None`` only for an input the outputs do not depend on (where
    the directional derivative must then be ~0). ``fn`` runs on inputs that require
    grad (so it may register hooks), also for the finite differences; outputs whose
    shape or dtype change when the inputs are perturbed raise an AssertionError.

    The inputs passed in are not modified and their ``.grad`` is left alone:
    the check works on copies. Returns True when every check passes; otherwise
    raises :class:`GradcheckError` with a report in PyTorch's words where PyTorch has
    them ('Jacobian mismatch for output 0 with respect to input 0', found again one
    output at a time where there are several; 'Numerical gradient for function expected
    to be zero' where no output requires grad; 'Backward is not reentrant'), naming the
    input, its shape, the analytic and numerical values, their difference and the
    tolerances; or returns False if ``raise_exception`` is False.
    """
    inputs, checked = _checked_inputs("gradcheck", inputs, eps, n_directions, complex_ok=True)
    check = _Check(fn, inputs, checked, eps, atol, rtol, seed, at_input_dtype)
    if not at_input_dtype:      # else each direction checks shapes and dtypes itself
        check.dtypes_and_shapes()
    if nondet_tol is not None:
        check.reentrant(nondet_tol)
    for d in range(n_directions):
        check.direction(d)
    if check_batched_grad:
        with enable_grad():
            outs, leaves = check._call(check.base, True)
        check.batched_grad(outs, [leaves[i] for i in check.checked])
    return check.outcome(raise_exception)


def _checked_inputs(what, inputs, eps, n_directions, complex_ok=False):
    """``inputs`` as a tuple, and the indices of those to check (validated)."""
    if not isinstance(inputs, (tuple, list)):
        inputs = (inputs,)
    inputs = tuple(inputs)
    checked = [i for i, v in enumerate(inputs)
               if isinstance(v, TensorBase) and v.requires_grad]
    if not checked:
        raise ValueError(f"{what} expects at least one input tensor to require gradient, "
                         "but none of the inputs do")
    for i in checked:
        kind = inputs[i]._data.dtype.kind
        if kind not in ("fc" if complex_ok else "f"):
            kinds = "floating point and complex" if complex_ok else "real floating point"
            raise ValueError(f"{what} supports {kinds} inputs only; input {i} "
                             f"has dtype {inputs[i].dtype}")
    if eps <= 0 or n_directions < 1:
        raise ValueError(f"{what} needs eps > 0 and n_directions >= 1")
    return inputs, checked


class _Check:
    """The state of one :func:`gradcheck` call, collecting its failures."""

    what = "gradcheck"
    cause = None        # an exception that stopped the check, chained to the report

    def __init__(self, fn, inputs, checked, eps, atol, rtol, seed, at_input_dtype=False):
        self.fn = fn
        self.at_input_dtype = at_input_dtype    # backward at the inputs' dtypes, not float64
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
            t = wrap(a, requires_grad and i in self.checked)
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
            if data.dtype.kind not in "fc":
                us.append(None)
                continue
            u = self.rng.standard_normal(data.shape)
            to = data.dtype if dtype is None else dtype
            if data.dtype.kind == "c":
                u = u + 1j * self.rng.standard_normal(data.shape)
                to = data.dtype if dtype is None else np.complex128
            xp = get_array_module(data)
            us.append(xp.asarray(u, dtype=to))
        return us

    def _vjp(self, outs, us):
        """Run backward from the outputs that need it, weighted by ``us``."""
        roots, grads = [], []
        for o, u in zip(outs, us):
            if u is not None and o.requires_grad:
                roots.append(o)
                grads.append(wrap(u.astype(o._data.dtype, copy=False), False))
        if roots:
            _backward(roots, grads)

    def _phi(self, shifted, us):
        """``sum_k <u_k, fn(shifted)_k>`` in float64; and the outputs. ``fn`` runs on
        inputs that require grad, as in PyTorch, so that it may register hooks."""
        with enable_grad():
            outs, _ = self._call(shifted, True)
        total = 0.0
        for o, u in zip(outs, us):
            if u is not None:
                # u has the shape of the unperturbed output
                self._same_outputs([u], [o], dtypes=False)
                total += _dot(_as_float64(o._data), u)
        return total, outs

    def _numerical(self, directions, us):
        """``<u, J v>`` by central differences along ``directions`` ({input: v}). The real
        and imaginary parts of complex directions are stepped separately, as PyTorch's fast
        gradcheck steps them (each a unit vector): the result is then the complex number
        ``<u, J Re v> + i <u, J i Im v>``, compared with :func:`_projection` as PyTorch
        compares them, by the modulus of the difference."""
        real = {i: v.real if v.dtype.kind == "c" else v for i, v in directions.items()}
        imag = {i: 1j * v.imag for i, v in directions.items() if v.dtype.kind == "c"}
        parts = [self._central_difference(
            {i: get_array_module(directions[i]).asarray(v, dtype=directions[i].dtype)
             for i, v in part.items()}, us) for part in ((real, imag) if imag else (real,))]
        return parts[0] if len(parts) == 1 else complex(parts[0], parts[1])

    def _central_difference(self, directions, us):
        eps = self.eps
        plus = list(self.base)
        minus = list(self.base)
        for i, v in directions.items():
            xp = get_array_module(v)
            # asarray: a 0-d array plus a number is a NumPy scalar, not an array
            plus[i] = xp.asarray(self.base[i] + eps * v)
            minus[i] = xp.asarray(self.base[i] - eps * v)
        phi_plus, outs_plus = self._phi(plus, us)
        phi_minus, outs_minus = self._phi(minus, us)
        self._same_outputs(outs_minus, outs_plus)
        return (phi_plus - phi_minus) / (2 * eps)

    def _same_outputs(self, outs_a, outs_b, dtypes=True):
        _check_same_outputs(self.what, self.eps, outs_a, outs_b, dtypes)

    def _close(self, analytic, numerical, scale=1.0):
        """``|analytic - numerical| <= atol * scale + rtol * |numerical|``."""
        return (np.isfinite(analytic) and np.isfinite(numerical)
                and abs(analytic - numerical) <= self.atol * scale + self.rtol * abs(numerical))

    def _compare(self, what, d, analytic, numerical, directions, us, note=""):
        scale = _atol_scale(directions.values(), us)
        if self._close(analytic, numerical, scale):
            return
        atol = self.atol * scale
        tol = atol + self.rtol * abs(numerical)
        if not any(u is not None for u in us) or note == _NO_DIFFERENTIABLE_OUTPUT:
            head = f"Numerical gradient for function expected to be zero: {what}"
        else:
            k, part = self._output_of_mismatch(directions, us)
            output = "the outputs together" if k is None else f"output {k}"
            head = f"Jacobian mismatch for {output} with respect to {what}"
            if part is not None:
                head = f"While considering the {part} part of complex outputs only, {head}"
        self.failures.append(
            f"{head}: vjp mismatch in direction {d}{note}\n"
            f"    analytic  <vjp(u), v> = {analytic:.10g}\n"
            f"    numerical <u, J v>    = {numerical:.10g}\n"
            f"    difference            = {abs(analytic - numerical):.3g} > "
            f"atol * |u|_1 |v|_1 + rtol * |numerical| = {atol:.3g} + {self.rtol:g} * "
            f"{abs(numerical):.3g} = {tol:.3g}")

    def _output_of_mismatch(self, directions, us):
        """Where the vjp disagrees with finite differences along ``directions`` ({input:
        direction}), as PyTorch's report names it: the first such output's index and, for a
        complex output, which part of it ("imaginary" is tried first, as in PyTorch);
        (None, None) when only the outputs' sum disagrees."""
        live = [k for k, u in enumerate(us) if u is not None]
        for k in live:
            u = us[k]
            if u.dtype.kind != "c":
                if len(live) == 1:
                    return k, None
                parts = [(None, u)]
            else:
                xp = get_array_module(u)
                parts = [("imaginary", xp.asarray(1j * u.imag)),
                         ("real", xp.asarray(u.real, dtype=u.dtype))]
            for part, u_part in parts:
                only = [u_part if j == k else None for j in range(len(us))]
                with enable_grad():
                    outs, leaves = self._call(self.base, True)
                    self._vjp(outs, only)
                analytic = sum(_projection(leaves[i].grad._data, v) for i, v in directions.items()
                               if leaves[i].grad is not None)
                numerical = self._numerical(directions, only)
                if not self._close(analytic, numerical,
                                   _atol_scale(directions.values(), only)):
                    return k, part
        return None, None

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

    def reentrant(self, nondet_tol):
        """Two backward passes with the same cotangents agree within ``nondet_tol``."""
        grads = []
        for _ in range(2):
            self.rng = np.random.default_rng(self.seed)     # the same cotangents each time
            with enable_grad():
                outs, leaves = self._call(self.base, True)
                self._vjp(outs, self._cotangents(outs, "float64"))
            grads.append([leaves[i].grad for i in self.checked])
        for i, first, second in zip(self.checked, *grads):
            if first is None or second is None:
                continue
            diff = _max_abs_diff(first._data, second._data)
            if diff > nondet_tol:
                self.failures.append(_not_reentrant(self._label(i), nondet_tol, diff))

    def batched_grad(self, outs, xs):
        """``grad(..., is_grads_batched=True)`` from each output that requires grad gives,
        row by row, what one backward per cotangent gives (PyTorch's check_batched_grad)."""
        for k, o in enumerate(outs):
            if not o.requires_grad or o._data.dtype.kind not in "fc":
                continue
            rows = [self._cotangents([o], "float64")[0] for _ in range(2)]
            batch = wrap(get_array_module(rows[0]).stack(rows), False)
            try:
                batched = _grad(o, xs, batch, retain_graph=True, allow_unused=True,
                                is_grads_batched=True)
            except Exception as e:     # reported, as PyTorch does, rather than crash
                self.failures.append(f"While computing batched gradients of output {k}, got: "
                                     f"{type(e).__name__}: {e}")
                self.cause = e
                return
            for b, u in enumerate(rows):
                looped = _grad(o, xs, wrap(u, False), retain_graph=True, allow_unused=True)
                for i, g_batched, g in zip(self.checked, batched, looped):
                    row = None if g_batched is None else g_batched._data[b]
                    if g is None and row is None:
                        continue
                    if g is None or row is None or not np.allclose(
                            _as_numpy(row), _as_numpy(g._data), rtol=self.rtol, atol=self.atol):
                        self.failures.append(
                            f"batched grad mismatch for output {k} with respect to "
                            f"{self._label(i)}: row {b} of grad(..., is_grads_batched=True) "
                            "differs from grad() with that row's grad_output")
                        return

    def direction(self, d):
        if self.at_input_dtype:
            # Backward at the inputs' dtypes, from the float64 cotangents rounded to the
            # outputs' dtypes, which the finite differences then use too.
            arrays = [v._data.copy() if _is_float_tensor(v) else None for v in self.inputs]
            grad_dtypes = {i: self.inputs[i]._data.dtype for i in self.checked}
            where = {i: "at the input's dtype" for i in self.checked}
        else:
            arrays = self.base
            grad_dtypes = {i: self.base[i].dtype for i in self.checked}   # float64, complex128
            where = {i: f"in {_dtype_name(self.base[i].dtype)[6:]}" for i in self.checked}
        with enable_grad():
            outs, leaves = self._call(arrays, True)
            us = [None if u is None else _unit(u) for u in
                  self._cotangents(outs, None if self.at_input_dtype else "float64")]
            self._vjp(outs, us)
        differentiable = any(o.requires_grad for o in outs)
        us = [None if u is None else _as_float64(u) for u in us]
        directions = {}
        total_analytic = 0.0
        joint = True
        for i in self.checked:
            base = self.base[i]
            xp = get_array_module(base)
            # As PyTorch's: uniform in [0, 1), real and imaginary parts unit vectors.
            v = _unit(self.rng.random(base.shape))
            if base.dtype.kind == "c":
                v = v + 1j * _unit(self.rng.random(base.shape))
            v = xp.asarray(v, dtype=base.dtype)
            directions[i] = v
            grad = leaves[i].grad
            if not self._check_grad_meta(i, grad, grad_dtypes[i], where[i]):
                joint = False       # no inner product with a gradient of the wrong shape
                continue
            numerical = self._numerical({i: v}, us)
            if grad is None:
                analytic = 0.0
                note = (_NO_DIFFERENTIABLE_OUTPUT if not differentiable else
                        " (backward gave no gradient (None) for this input, but the output "
                        "depends on it)")
            else:
                analytic = _projection(grad._data, v)   # float64 products, whatever its dtype
                note = "" if grad._data.dtype == np.float64 else \
                    f" (backward in {_dtype_name(grad._data.dtype)})"
            total_analytic += analytic
            self._compare(self._label(i), d, analytic, numerical, {i: v}, us, note)
        if joint and len(self.checked) > 1:
            numerical = self._numerical(directions, us)
            what = "inputs " + ", ".join(str(i) for i in self.checked) + " jointly"
            self._compare(what, d, total_analytic, numerical, directions, us)

    def outcome(self, raise_exception):
        if not self.failures:
            return True
        if raise_exception:
            raise GradcheckError(self.report()) from self.cause
        return False

    def report(self):
        name = getattr(self.fn, "__name__", None) or repr(self.fn)
        head = (f"{self.what} of {name} failed ({len(self.failures)} "
                f"problem{'s' if len(self.failures) != 1 else ''}; eps={self.eps:g}, "
                f"atol={self.atol:g}, rtol={self.rtol:g}, seed={self.seed}):")
        return "\n".join([head] + ["  " + f for f in self.failures])


def gradgradcheck(fn, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  n_directions=3, seed=0, raise_exception=True, nondet_tol=None,
                  check_batched_grad=False):
    """Check the gradients of the gradients of ``fn`` (``create_graph=True``) against finite
    differences of its first-order vector-Jacobian products.

    ``fn`` and ``inputs`` are as for :func:`gradcheck`, and the check runs in
    float64 on copies of the inputs in the same way. ``grad_outputs`` (a tensor
    or a tuple of them, one per output) are the cotangents ``u``; when None,
    random ones are drawn for each direction. For random input directions
    ``v`` and ``w`` it takes the scalar

    * ``psi(x, u) = <vjp_x(u), v>``, the first-order gradients of ``fn``
      weighted by ``v``,

    differentiates it with autogradx (the vjp computed with
    ``create_graph=True``, then backpropagated) and compares ``<dpsi/dx, w>``
    with the central difference
    ``(psi(x + eps w, u) - psi(x - eps w, u)) / (2 eps)``, where ``psi`` comes
    from plain first-order backward passes. ``psi`` is also differentiated
    with respect to the cotangents ``u`` (those drawn at random, or those of
    ``grad_outputs`` that require grad), since a vjp must stay connected to the
    gradient it receives. Each variable is checked on its own and all of them
    together, with ``|analytic - numerical| <= atol + rtol * |numerical|``.

    With ``nondet_tol``, the second backward is also checked to be reentrant: run twice
    over the same recorded gradients it must agree within ``nondet_tol``. With
    ``check_batched_grad``, ``grad(..., is_grads_batched=True)`` through the recorded
    gradients must agree with one backward per cotangent.

    An error raised while differentiating the gradients (for instance a vjp
    using a NumPy function that has no tensor counterpart) is reported as a
    failure. Returns True when every check passes; otherwise raises
    :class:`GradcheckError` with a report, or returns False if
    ``raise_exception`` is False.
    """
    inputs, checked = _checked_inputs("gradgradcheck", inputs, eps, n_directions,
                                      complex_ok=True)
    check = _GradGradCheck(fn, inputs, checked, grad_outputs, eps, atol, rtol, seed,
                           nondet_tol)
    for d in range(n_directions):
        if not check.direction(d):
            break
    if check_batched_grad and not check.failures:
        outs, leaves, us, _ = check._outputs_and_cotangents()
        xs = [leaves[i] for i in check.checked]
        roots = [(o, wrap(u, False)) for o, u in zip(outs, us) if u is not None and o.requires_grad]
        if roots:
            with enable_grad():
                gs = _grad([o for o, _ in roots], xs, [u for _, u in roots], create_graph=True,
                           allow_unused=True)
            check.batched_grad([g for g in gs if g is not None], xs)
    return check.outcome(raise_exception)


class _GradGradCheck(_Check):
    """The state of one :func:`gradgradcheck` call, collecting its failures."""

    what = "gradgradcheck"

    def __init__(self, fn, inputs, checked, grad_outputs, eps, atol, rtol, seed, nondet_tol):
        super().__init__(fn, inputs, checked, eps, atol, rtol, seed)
        self.nondet_tol = nondet_tol
        if grad_outputs is not None and not isinstance(grad_outputs, (tuple, list)):
            grad_outputs = (grad_outputs,)
        self.grad_outputs = None if grad_outputs is None else tuple(grad_outputs)

    def _outputs_and_cotangents(self):
        """The outputs at the base point (recorded), and per output its cotangent (float64
        array or None) and whether it is a variable of the check."""
        with enable_grad():
            outs, leaves = self._call(self.base, True)
        if self.grad_outputs is None:
            us = self._cotangents(outs, "float64")
            wrt = [u is not None and o.requires_grad for u, o in zip(us, outs)]
            return outs, leaves, us, wrt
        if len(self.grad_outputs) != len(outs):
            raise ValueError(f"gradgradcheck: {len(self.grad_outputs)} grad_outputs given for "
                             f"{len(outs)} outputs")
        us, wrt = [], []
        for k, (g, o) in enumerate(zip(self.grad_outputs, outs)):
            if g is None or o._data.dtype.kind not in "fc":
                us.append(None)
                wrt.append(False)
                continue
            if not isinstance(g, TensorBase) or tuple(g.shape) != tuple(o.shape):
                raise ValueError(f"gradgradcheck: grad_outputs[{k}] must be a tensor of shape "
                                 f"{tuple(o.shape)}, the shape of output {k}")
            us.append(_as_float64(g._data))
            wrt.append(bool(g.requires_grad) and o.requires_grad)
        return outs, leaves, us, wrt

    def _psi(self, outs, leaves, us, vs, create_graph):
        """``<vjp(u), v>``: a tensor (create_graph) or a float; None when nothing depends
        on the checked inputs."""
        roots = [(o, u) for o, u in zip(outs, us) if u is not None and o.requires_grad]
        if not roots:
            return None
        xs = [leaves[i] for i in self.checked]
        gs = _grad([o for o, _ in roots], xs, [u for _, u in roots],
                   create_graph=create_graph, allow_unused=True)
        terms = [_tensor_dot(g, v) if create_graph else _dot(g._data, v._data)
                 for g, v in zip(gs, vs) if g is not None]
        if not terms:
            return None
        return sum(terms[1:], terms[0])

    def _numerical_psi(self, shifts, us, vs):
        """Central difference of ``psi`` along ``shifts`` ({variable: direction})."""
        vals = []
        for sign in (1.0, -1.0):
            xs = list(self.base)
            ss = list(us)
            for (kind, j), w in shifts.items():
                xp = get_array_module(w)
                if kind == "input":
                    xs[j] = xp.asarray(self.base[j] + sign * self.eps * w)
                else:
                    ss[j] = xp.asarray(us[j] + sign * self.eps * w)
            with enable_grad():
                outs, leaves = self._call(xs, True)
                self._same_outputs([u for u in us if u is not None],
                                   [o for o, u in zip(outs, us) if u is not None], dtypes=False)
                psi = self._psi(outs, leaves, [None if u is None else wrap(u, False)
                                               for u in ss], vs, False)
            vals.append(0.0 if psi is None else psi)
            if sign > 0:
                outs_plus = outs
        self._same_outputs(outs, outs_plus)
        return (vals[0] - vals[1]) / (2 * self.eps)

    def _variable_label(self, kind, j, outs):
        if kind == "input":
            return self._label(j)
        o = outs[j]
        return f"grad_output {j} (cotangent of output {j}, shape {tuple(o.shape)})"

    def direction(self, d):
        """One random direction; False when differentiating the gradients raised."""
        outs, leaves, us, wrt = self._outputs_and_cotangents()
        variables = [("input", i) for i in self.checked] + \
            [("grad_output", k) for k, w in enumerate(wrt) if w]
        vs = [wrap(self._random_like(self.base[i]), False) for i in self.checked]
        ws = {v: self._random_like(self.base[v[1]] if v[0] == "input" else us[v[1]])
              for v in variables}
        u_leaves = [None if u is None else wrap(u.copy(), w) for u, w in zip(us, wrt)]
        try:
            with enable_grad():
                psi = self._psi(outs, leaves, u_leaves, vs, True)
                targets = [leaves[j] if kind == "input" else u_leaves[j] for kind, j in variables]
                if psi is not None and psi.requires_grad:
                    hs = _grad(psi, targets, allow_unused=True,
                               retain_graph=self.nondet_tol is not None)
                    if self.nondet_tol is not None:
                        self._reentrant(hs, _grad(psi, targets, allow_unused=True), variables,
                                        outs)
                else:
                    hs = (None,) * len(targets)      # psi is constant: zero second derivatives
        except Exception as e:     # report it, naming the function, rather than crash the check
            self.failures.append(
                f"differentiating the gradients (create_graph=True) raised "
                f"{type(e).__name__}: {e}")
            self.cause = e
            return False
        total = 0.0
        for (kind, j), h in zip(variables, hs):
            label = self._variable_label(kind, j, outs)
            if kind == "input" and not self._check_grad_meta(j, h, self.base[j].dtype,
                                                             "of the gradient, in float64"):
                return True
            analytic = 0.0 if h is None else _dot(h._data, ws[kind, j])
            note = "" if h is not None else (
                " (the gradient of <vjp(u), v> is None: the recorded vjp does not depend "
                "on it)")
            total += analytic
            numerical = self._numerical_psi({(kind, j): ws[kind, j]}, us, vs)
            self._compare_second(label, d, analytic, numerical, note)
        if len(variables) > 1:
            numerical = self._numerical_psi(ws, us, vs)
            names = [f"{kind} {j}" for kind, j in variables]
            self._compare_second(", ".join(names) + " jointly", d, total, numerical)
        return True

    def _reentrant(self, first, second, variables, outs):
        """Two backward passes over the same recorded gradients agree within nondet_tol."""
        for (kind, j), a, b in zip(variables, first, second):
            if a is None or b is None:
                continue
            diff = _max_abs_diff(a._data, b._data)
            if diff > self.nondet_tol:
                self.failures.append(_not_reentrant(self._variable_label(kind, j, outs),
                                                    self.nondet_tol, diff))

    def _random_like(self, a):
        """A standard normal direction of ``a``'s shape, complex where ``a`` is."""
        v = self.rng.standard_normal(a.shape)
        if a.dtype.kind == "c":
            v = v + 1j * self.rng.standard_normal(a.shape)
        return np.asarray(v)        # an array also for a 0-d ``a``

    def _compare_second(self, what, d, analytic, numerical, note=""):
        if self._close(analytic, numerical):
            return
        tol = self.atol + self.rtol * abs(numerical)
        self.failures.append(
            f"{what}: second-order mismatch in direction {d}{note}\n"
            f"    analytic  <grad <vjp(u), v>, w> = {analytic:.10g}\n"
            f"    numerical (finite difference)   = {numerical:.10g}\n"
            f"    difference                      = {abs(analytic - numerical):.3g} > "
            f"atol + rtol * |numerical| = {self.atol:g} + {self.rtol:g} * "
            f"{abs(numerical):.3g} = {tol:.3g}")


def _not_reentrant(what, nondet_tol, diff):
    """PyTorch's words for a backward that gives different values when run twice."""
    return (f"{what}: Backward is not reentrant, i.e., running backward with same input and "
            "grad_output multiple times gives different values, although analytical gradient "
            f"matches numerical gradient. The tolerance for nondeterminism was {nondet_tol} "
            f"(largest difference {diff:.3g}).")


def _check_same_outputs(what, eps, outs_a, outs_b, dtypes=True):
    """Finite differences mean nothing if the outputs' shapes or dtypes depend on the
    inputs' values: raise PyTorch's AssertionError (whatever ``raise_exception``)."""
    from autogradx import Size
    for a, b in zip(outs_a, outs_b):
        if tuple(a.shape) != tuple(b.shape):
            raise GradcheckError(
                f"Expected `func` in {what} to return outputs with the same shape when "
                f"inputs are perturbed by {eps}, but got: shapes {Size(a.shape)} and "
                f"{Size(b.shape)}.")
        if dtypes and a.dtype != b.dtype:
            raise GradcheckError(
                f"Expected `func` in {what} to return outputs with the same dtype when "
                f"inputs are perturbed by {eps}, but got: dtypes {a.dtype} and {b.dtype}.")


_NO_DIFFERENTIABLE_OUTPUT = " (no output requires grad, but the outputs depend on this input)"


def _is_float_tensor(v):
    """A floating point or complex tensor."""
    return isinstance(v, TensorBase) and v._data.dtype.kind in "fc"


def _max_abs_diff(a, b):
    xp = get_array_module(a)
    delta = xp.asarray(a - b)       # asarray: 0-d arrays subtract to a NumPy scalar
    return float(xp.abs(delta).max()) if delta.size else 0.0


def _as_numpy(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)      # CuPy arrays have .get()


def _as_float64(a):
    """A float64 (complex128 for complex) copy."""
    double = np.complex128 if a.dtype.kind == "c" else np.float64
    return a.astype(double) if a.dtype != double else a.copy()



def _unit(a):
    """``a`` scaled to norm 1 (complex numbers as pairs of reals); an empty or zero ``a``
    as is."""
    if isinstance(a, (float, np.generic)):
        a = np.asarray(a)       # NumPy's random draws of shape () are scalars
    xp = get_array_module(a)
    norm = float(xp.sqrt(xp.sum(xp.abs(a) ** 2)))
    return xp.asarray(a / norm) if norm > 0 else a      # asarray: 0-d / number is a scalar


def _atol_scale(directions, cotangents):
    """What atol is multiplied by in a projected check ``<u, J v>``: with every entry of
    the Jacobian within atol, the projection is within ``atol * |u|_1 * |v|_1``, the 1-norms
    counting real and imaginary parts (PyTorch's fast gradcheck scales atol the same way,
    ``_adjusted_atol``)."""
    def l1(arrays):
        total = 0.0
        for a in arrays:
            if a is not None:
                a = np.asarray(a) if isinstance(a, (float, complex, np.generic)) else a
                xp = get_array_module(a)
                total += float(xp.sum(xp.abs(xp.real(a))) + xp.sum(xp.abs(xp.imag(a))))
        return total
    return l1(directions) * l1(cotangents)


def _projection(g, v):
    """``<g, v>``, as :meth:`_Check._numerical` gives ``<u, J v>``: for a complex ``v``, the
    complex number ``<g, Re v> + i <g, i Im v>``."""
    if v.dtype.kind != "c":
        return _dot(g, v)
    xp = get_array_module(v)
    return complex(_dot(g, xp.asarray(v.real)), _dot(g, xp.asarray(1j * v.imag)))


def _tensor_dot(a, b):
    """:func:`_dot` of tensors, recorded."""
    if a.dtype.is_complex or b.dtype.is_complex:
        return (a * b.conj()).real.sum()
    return (a * b).sum()


def _dot(a, b):
    """The real inner product: complex numbers as pairs of reals, ``Re(sum(a * conj(b)))``."""
    xp = get_array_module(a)
    if a.dtype.kind == "c" or b.dtype.kind == "c":
        return float(xp.sum(xp.real(a * xp.conj(b))))
    return float(xp.sum(a * b))


def _dtype_name(np_dtype):
    from autogradx._dtype import from_numpy_dtype
    return repr(from_numpy_dtype(np_dtype))
