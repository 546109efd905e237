"""The plugin author's kit beyond :func:`~autogradx.testing.gradcheck`: check one op over
sample calls and dtypes, or every op of an installed plugin.

A sample call is a :class:`Sample` of :class:`Arg` placeholders, made into
fresh tensors for each check::

    >>> import autogradx as agx
    >>> from autogradx.conformance import Arg, Sample, check_op
    >>> from autogradx.plugin import Op
    >>> cube = Op("doc_cube", lambda xp, x: x ** 3, vjp=lambda xp, g, x: 3 * g * x ** 2,
    ...           save="input")
    >>> report = check_op(cube, [Sample(Arg((2, 3))), Sample(Arg(()))],
    ...                   dtypes=(agx.float32, agx.float64))
    >>> report.ok
    True

For each sample and dtype, :func:`check_op` checks that

* the op runs and returns tensors, and its forward leaves its inputs unchanged;
  floating outputs have the dtype of the floating inputs (or the sample's
  ``out_dtype``);
* gradients, computed in the dtype under test, agree with float64 finite
  differences within that dtype's tolerance and have each input's shape and
  dtype (:func:`~autogradx.testing.gradcheck` with ``at_input_dtype=True``);
* backward leaves the inputs, the outputs, the incoming gradient and the values
  saved for the vjp unchanged (vjps never write into their arguments);
* the jvp (forward mode, :mod:`autogradx.autograd.forward_ad`) agrees with float64 finite
  differences and with the vjp by the transpose identity ``<u, J v> = <J^T u, v>``,
  unless ``forward_mode=False``;
* gradients of gradients agree with finite differences
  (:func:`~autogradx.testing.gradgradcheck`, in float64), unless the sample
  or the call turns ``second_order`` off;
* with ``device=``, the op gives the same values and gradients on that device
  as on the CPU, as arrays of that device.

:func:`run` checks every op of an installed plugin with the samples the plugin
supplies: a dict ``conformance_cases = {op name: [Sample, ...] or Skip(reason)}``
in the module its entry point names (or in the module that defines an op's
forward). ``python -m autogradx.conformance NAME`` does the same from the
command line, and :mod:`autogradx.conformance.pytest` runs it as one pytest test
per op in a plugin's own test suite.
"""

import argparse
import importlib
import math
import sys

import numpy as np

# Submodules imported by name: ``from autogradx import testing`` would go through
# autogradx's op lookup, and load the plugins, when testing is not imported yet.
import autogradx._dtype as _dtype
import autogradx.testing as testing
from autogradx._core.dispatch import _set_fast_paths
from autogradx._core.promote import get_default_float
from autogradx._core.tensor import TensorBase

__all__ = ["Arg", "Sample", "Skip", "Report", "ConformanceError", "check_op", "compare_on_device",
           "generated_samples", "plugin_cases", "case_problems", "run", "main", "DTYPE_TOLERANCES"]


class ConformanceError(AssertionError):
    """Raised by :func:`check_op` when a check fails (the message is the report)."""


# ---------------------------------------------------------------- samples

class Arg:
    """A tensor argument of a sample call.

    ``shape`` with values drawn uniformly from ``[low, high)``, or fixed
    ``values`` (index tensors, masks). ``dtype=None`` gives the dtype under
    test (or, for integer or bool ``values``, their own dtype); any other
    dtype is kept as given. ``requires_grad=None`` means: if floating point.
    """

    __slots__ = ("shape", "low", "high", "dtype", "values", "requires_grad")

    def __init__(self, shape=(), low=-2.0, high=2.0, *, dtype=None, values=None,
                 requires_grad=None):
        if values is not None:
            values = np.asarray(values)
            shape = values.shape
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.low, self.high = low, high
        self.dtype = None if dtype is None else _dtype.as_numpy_dtype(dtype)
        self.values = values
        self.requires_grad = requires_grad

    def dtype_under(self, dtype):
        """The NumPy dtype this argument takes when the op is checked at ``dtype``."""
        if self.dtype is not None:
            return self.dtype
        if self.values is not None and self.values.dtype.kind in "biu":
            return self.values.dtype
        return dtype

    def make(self, rng, dtype):
        """A fresh tensor for a check at NumPy dtype ``dtype``."""
        import autogradx
        dt = self.dtype_under(dtype)
        if self.values is not None:
            data = self.values.astype(dt)
        elif dt.kind == "b":
            data = rng.uniform(size=self.shape) < 0.5
        elif dt.kind in "iu":
            low, high = math.ceil(self.low), math.floor(self.high)
            data = rng.integers(low, max(low, high) + 1, size=self.shape)
        else:
            data = rng.uniform(self.low, self.high, self.shape)
        t = autogradx.tensor(np.asarray(data).astype(dt))
        grad = dt.kind == "f" if self.requires_grad is None else self.requires_grad
        return t.requires_grad_() if grad else t

    def __repr__(self):
        if self.values is not None:
            return f"Arg(values={self.values.tolist()!r})"
        return f"Arg({self.shape}, {self.low}, {self.high})"

    def describe(self):
        if self.values is not None:
            # floating values take the dtype under test: no dtype to show for them
            kept = self.dtype if self.values.dtype.kind == "f" else self.dtype_under(None)
            return f"{kept or 'values'}{list(self.shape)}"
        dims = "x".join(map(str, self.shape)) or "0-d"
        return dims if self.dtype is None else f"{self.dtype}:{dims}"


class Sample:
    """One call of the op: ``op(*args, **kwargs)``, each :class:`Arg` made into a tensor
    (also inside lists and tuples, for variadic ops). Everything else is passed as is.

    :meth:`options` sets how the call is checked: ``second_order=False`` skips
    gradients of gradients (say why with ``reason``: reports list it), ``atol``/``rtol``
    loosen the gradient checks,
    ``out_dtype`` is the dtype floating outputs must have when it is not the
    inputs', ``manual_seed`` seeds autogradx's generator before each call (for
    random ops: every call then draws the same numbers), ``id`` names the
    sample in reports.
    """

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        self.id = None
        self.second_order = True
        self.reason = None
        self.atol = self.rtol = None
        self.out_dtype = None
        self.manual_seed = None

    def options(self, *, id=None, second_order=None, reason=None, atol=None, rtol=None,
                out_dtype=None, manual_seed=None):
        """Set how this sample is checked (options not given are left as they are);
        returns the sample."""
        if id is not None:
            self.id = id
        if second_order is not None:
            self.second_order = bool(second_order)
        if reason is not None:
            self.reason = str(reason)
        if atol is not None:
            self.atol = atol
        if rtol is not None:
            self.rtol = rtol
        if out_dtype is not None:
            self.out_dtype = _dtype.as_numpy_dtype(out_dtype)
        if manual_seed is not None:
            self.manual_seed = int(manual_seed)
        return self

    def describe(self):
        """A short label: ``2x3, 3x1, dim=1``."""
        if self.id is not None:
            return self.id
        parts = [_describe(a) for a in self.args]
        parts += [f"{k}={_describe(v)}" for k, v in self.kwargs.items()]
        return ", ".join(parts) or "no arguments"

    def __repr__(self):
        return f"<Sample {self.describe()}>"


class Skip:
    """In ``conformance_cases``: this op is not checked, for ``reason``."""

    def __init__(self, reason):
        self.reason = reason

    def __repr__(self):
        return f"Skip({self.reason!r})"


def _describe(value):
    if isinstance(value, Arg):
        return value.describe()
    if type(value) in (list, tuple):
        inner = ", ".join(_describe(v) for v in value)
        return f"[{inner}]" if type(value) is list else f"({inner})"
    return repr(value)


class _Slot:
    """Where leaf ``index`` goes in a call's arguments."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


class _Call:
    """A sample made into tensors: the leaves, and the function of them that calls the op.

    ``labels`` names each leaf by the argument it fills (``'other'``, ``'tensors[1]'``),
    for the reports."""

    def __init__(self, op, sample, seed, dtype):
        self.op = op
        self.seed = sample.manual_seed
        self.leaves = []
        self.labels = []
        rng = np.random.default_rng(seed)
        names = _argument_names(op)
        self.args = tuple(self._template(v, rng, dtype, names[i] if i < len(names)
                                         else f"argument {i}")
                          for i, v in enumerate(sample.args))
        self.kwargs = {k: self._template(v, rng, dtype, k) for k, v in sample.kwargs.items()}

    def _template(self, value, rng, dtype, label):
        if isinstance(value, Arg):
            self.leaves.append(value.make(rng, dtype))
            self.labels.append(label)
            return _Slot(len(self.leaves) - 1)
        if type(value) in (list, tuple):
            return type(value)(self._template(v, rng, dtype, f"{label}[{j}]")
                               for j, v in enumerate(value))
        return value

    def _fill(self, value, leaves):
        if isinstance(value, _Slot):
            return leaves[value.index]
        if type(value) in (list, tuple):
            return type(value)(self._fill(v, leaves) for v in value)
        return value

    def __call__(self, *leaves):
        args = self._fill(self.args, leaves)
        kwargs = {k: self._fill(v, leaves) for k, v in self.kwargs.items()}
        if self.seed is not None:
            import autogradx
            autogradx.manual_seed(self.seed)
        return self.op(*args, **kwargs)

    @property
    def __name__(self):
        return getattr(self.op, "__name__", "op")

    def fresh_leaves(self, device=None):
        """Copies of the leaves (on ``device`` if given), with the same requires_grad."""
        out = []
        for t in self.leaves:
            c = t.detach().clone() if device is None else t.detach().to(device)
            out.append(c.requires_grad_(True) if t.requires_grad else c)
        return out


def _argument_names(op):
    """The names of ``op``'s positional arguments (inputs, then parameters), where the
    call is passed as is; ``()`` for a plain function or an op that reorders its call."""
    if not isinstance(getattr(op, "inputs", None), tuple) or getattr(op, "parse", None):
        return ()
    return tuple(name.lstrip("*") for name in op.inputs) + tuple(op.params)


def generated_samples(op, low=-2.0, high=2.0):
    """Samples for an op that is elementwise over its inputs: shapes from 0-d to 3-d,
    broadcasting between inputs, and size-1 dims; values in ``[low, high)``.
    Ops of another kind need samples of their own."""
    def a(*shape):
        return Arg(shape, low, high)

    if op.variadic:
        return [Sample([a(2, 3), a(2, 3)]), Sample([a(4), a(4), a(4)]), Sample([a(1, 3)])]
    if op.n_required <= 1:
        return [Sample(a(*s)) for s in ((), (5,), (2, 3), (2, 1, 3))]
    n = op.n_required
    pairs = (((2, 3), (2, 3)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (2, 3)), ((1,), (5,)))
    return [Sample(*(a(*first) if i == 0 else a(*rest) for i in range(n)))
            for first, rest in pairs]


# ---------------------------------------------------------------- the report

class Report:
    """What a check found: counts of passed checks, failures, skipped ops, and
    samples whose gradients of gradients were not checked (``second_order=False``).

    ``report.ok`` is True when nothing failed; ``str(report)`` is readable: the first
    failure of each op and check in full, one line for each repeat of it;
    ``report.format(verbose=True)`` gives every failure in full and a line per op
    that passed.
    """

    def __init__(self, title="conformance"):
        self.title = title
        self.ops = []           # the ops checked (not those skipped)
        self.passed = 0
        self.failures = []      # (op name, where, message)
        self.skipped = []       # (op name, reason)
        self.unchecked = []     # (op name, sample, reason): no second order for that sample
        self.results = {}       # op name -> [checks passed, checks failed]

    @property
    def ok(self):
        return not self.failures

    def __bool__(self):
        return self.ok

    def fail(self, op_name, where, message):
        self.failures.append((op_name, where, message))

    def merge(self, other):
        self.ops.extend(other.ops)
        self.passed += other.passed
        self.failures.extend(other.failures)
        self.skipped.extend(other.skipped)
        self.unchecked.extend(other.unchecked)
        self.results.update(other.results)

    def summary(self):
        text = (f"{self.title}: {len(self.ops)} ops checked, {self.passed} checks passed, "
                f"{len(self.failures)} failed, {len(self.skipped)} ops skipped")
        if self.unchecked:
            text += f", {len(self.unchecked)} samples without second order"
        return text

    def format(self, verbose=False):
        """The report as text; ``verbose`` shows every failure in full and each op that
        passed, else the first failure of each op and check in full, and where the same
        check failed again."""
        lines = [self.summary()]
        shown = set()
        for name, where, message in self.failures:
            kind = (name, where.rpartition("; ")[2])      # the op and the check that failed
            if verbose or kind not in shown:
                lines.append(f"FAIL {name} ({where}):")
                lines.extend("    " + line for line in message.splitlines())
            else:
                lines.append(f"FAIL {name} ({where}): as above")
            shown.add(kind)
        if verbose:
            for name, (passed, failed) in self.results.items():
                if not failed:
                    lines.append(f"PASS {name}: {passed} checks")
        for name, reason in self.skipped:
            lines.append(f"SKIP {name}: {reason}")
        for name, sample, reason in self.unchecked:
            lines.append(f"NO SECOND ORDER {name} ({sample}): {reason}")
        return "\n".join(lines)

    def __str__(self):
        return self.format()

    def __repr__(self):
        return f"<Report {self.summary()}>"


# ---------------------------------------------------------------- checking one op

#: The loosest tolerances (atol, rtol) a gradient at each dtype is checked with: its
#: backward runs in that dtype, against float64 finite differences.
DTYPE_TOLERANCES = {"float16": (1e-2, 1e-2), "float32": (1e-4, 1e-3), "float64": (1e-5, 1e-3)}


def _no_forward():
    """The built-in ops that refuse forward mode (autograd/_jvp.py says why)."""
    from autogradx.autograd._jvp import NO_FORWARD
    return NO_FORWARD


def check_op(op, cases=None, dtypes=(_dtype.float32, _dtype.float64), *, device=None,
             second_order=True, forward_mode=True, atol=1e-5, rtol=1e-3, seed=0,
             raise_exception=True):
    """Check ``op`` over ``cases`` (a :class:`Sample`, a list of them, or None for
    :func:`generated_samples`) at each of ``dtypes``.

    Floating dtypes get every check (see the module's documentation); integer
    and bool dtypes check the forward only, with integer-valued inputs
    (``promote="float"`` ops must then return the default float dtype). Gradients
    are computed in each dtype and compared with float64 finite differences, with
    ``atol``/``rtol`` (a sample's own take precedence) or, where looser, the
    dtype's :data:`DTYPE_TOLERANCES`.
    ``device`` (``"cuda"``, or any device type a backend provides) adds the
    comparison with the CPU. Returns a :class:`Report`; raises
    :class:`ConformanceError` with it when a check failed, unless
    ``raise_exception`` is False.
    """
    if cases is None:
        cases = generated_samples(op)
    elif isinstance(cases, Sample):
        cases = [cases]
    name = getattr(op, "name", None) or getattr(op, "__name__", repr(op))
    report = Report(f"check_op({name})")
    if isinstance(cases, Skip):
        report.skipped.append((name, cases.reason))
        return report
    report.ops.append(name)
    np_dtypes = [_dtype.as_numpy_dtype(d) for d in dtypes]
    for k, sample in enumerate(cases):
        if not isinstance(sample, Sample):
            report.fail(name, f"sample {k}", f"{sample!r} is not an autogradx.conformance.Sample")
            continue
        checker = _SampleCheck(report, op, name, sample, seed + k, atol, rtol)
        failures = len(report.failures)
        for dt in np_dtypes:
            checker.first_order(dt)
        if forward_mode and len(report.failures) == failures and op.name not in _no_forward():
            # After a failure of the forward or the vjp, the jvp's would only confuse.
            checker.forward_mode()
        if second_order and sample.second_order:
            checker.second_order()
        elif second_order:
            report.unchecked.append((name, sample.describe(), sample.reason or "no reason given"))
        if device is not None:
            for dt in np_dtypes:
                checker.on_device(dt, device)
                if second_order and sample.second_order:
                    checker.second_order_on_device(dt, device)
    report.results[name] = [report.passed, len(report.failures)]
    if raise_exception and not report.ok:
        raise ConformanceError(str(report))
    return report


def compare_on_device(op, cases, device, dtypes=(_dtype.float32, _dtype.float64), *, order=1,
                      seed=0, raise_exception=True):
    """Only the device part of :func:`check_op`: ``op`` on ``device`` gives the values and
    gradients (``order=1``), or the gradients of gradients (``order=2``), that it gives on
    the CPU, as arrays of that device. Returns a :class:`Report`."""
    if isinstance(cases, Sample):
        cases = [cases]
    name = getattr(op, "name", None) or getattr(op, "__name__", repr(op))
    report = Report(f"compare_on_device({name}, {device!r})")
    if isinstance(cases, Skip):
        report.skipped.append((name, cases.reason))
        return report
    report.ops.append(name)
    for k, sample in enumerate(cases):
        checker = _SampleCheck(report, op, name, sample, seed + k, 0.0, 0.0)
        for dt in dtypes:
            if order == 2:
                checker.second_order_on_device(_dtype.as_numpy_dtype(dt), device)
            else:
                checker.on_device(_dtype.as_numpy_dtype(dt), device)
    if raise_exception and not report.ok:
        raise ConformanceError(str(report))
    return report


class _SampleCheck:
    """The checks of one sample, recording into a report."""

    def __init__(self, report, op, name, sample, seed, atol, rtol):
        self.report, self.op, self.name, self.sample = report, op, name, sample
        self.seed = seed
        self.atol = sample.atol if sample.atol is not None else atol
        self.rtol = sample.rtol if sample.rtol is not None else rtol
        self.differentiable = (getattr(op, "vjp", None) is not None
                               or getattr(op, "vjps", None) is not None)

    def _tolerances(self, dtype):
        """``(atol, rtol)`` for gradients computed at ``dtype``."""
        floor_atol, floor_rtol = DTYPE_TOLERANCES.get(dtype.name, (0.0, 0.0))
        return max(self.atol, floor_atol), max(self.rtol, floor_rtol)

    def _where(self, dtype, what):
        return f"{self.sample.describe()}; {dtype}; {what}"

    def _fail(self, dtype, what, message):
        self.report.fail(self.name, self._where(dtype, what), message)

    def _run(self, call, leaves, dtype, what):
        """``op`` on ``leaves``: its outputs as a tuple, or None after recording a failure."""
        try:
            out = call(*leaves)
        except Exception as e:
            self._fail(dtype, what, f"the op raised {_exc(e)}")
            return None
        outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
        # Tensors, or plain Python values (allclose's bool); never bare arrays.
        bad = [i for i, o in enumerate(outs) if not isinstance(o, (TensorBase, bool, int, float))]
        if bad:
            self._fail(dtype, what, f"output {bad[0]} is a {type(outs[bad[0]]).__name__}, "
                                    "not a Tensor")
            return None
        return outs

    def first_order(self, dtype):
        """The forward, output dtypes, gradients and the contract of backward at ``dtype``."""
        call = _Call(self.op, self.sample, self.seed, dtype)
        inputs = [(f"its input {label!r}", t._data) for label, t in zip(call.labels, call.leaves)]
        before = _snapshot(inputs)
        outs = self._run(call, call.leaves, dtype, "forward")
        if outs is None:
            return
        changed = _changed(before)
        if changed:
            # Reported before the gradient check, which a changing input would only confuse.
            self._fail(dtype, "forward", f"{self._who()} mutated {', '.join(changed)} in forward: "
                                         "a forward must not write into its inputs")
            return
        if not self._output_dtypes(call, outs, dtype):
            return
        self.report.passed += 1
        if dtype.kind != "f" or not self._needs_grad(call, outs):
            return
        atol, rtol = self._tolerances(dtype)
        try:
            # Backward in the dtype under test: a vjp wrong only in float32 is caught there.
            testing.gradcheck(call, tuple(call.leaves), atol=atol, rtol=rtol, seed=self.seed,
                              at_input_dtype=True)
            self.report.passed += 1
        except testing.GradcheckError as e:
            self._fail(dtype, "gradients", str(e))
        except Exception as e:
            self._fail(dtype, "gradients", f"backward raised {_exc(e)}")
        self._untouched(call, dtype)
        self._fast_paths(call, dtype)

    def _fast_paths(self, call, dtype):
        """An op declaring ``ufunc=``, or whose vjp formulas the core evaluates itself
        (arithmetic ones), gives through those exactly the outputs and gradients its forward
        and its formulas give when called."""
        if getattr(self.op, "numpy_ufunc", None) is None and not getattr(self.op, "arithmetic_vjps", ()):
            return
        from autogradx.autograd import backward
        results = []
        for fast in (True, False):
            previous = _set_fast_paths(fast)
            try:
                leaves = call.fresh_leaves()
                outs = self._run(call, leaves, dtype, "ufunc fast path")
                if outs is None:
                    return
                rng = np.random.default_rng(self.seed)
                roots = [o for o in outs if isinstance(o, TensorBase) and o.requires_grad]
                if roots:
                    backward(roots, [_like(o, rng.standard_normal(tuple(o.shape))) for o in roots])
                results.append([o._data for o in outs if isinstance(o, TensorBase)]
                               + [t.grad._data for t in leaves if t.grad is not None])
            except Exception as e:
                state = "on" if fast else "off"
                self._fail(dtype, "ufunc fast path", f"raised {_exc(e)} (fast paths {state})")
                return
            finally:
                _set_fast_paths(previous)
        fast, plain = results
        same = len(fast) == len(plain) and all(
            a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
            for a, b in zip(fast, plain))
        if not same:
            self._fail(dtype, "ufunc fast path",
                       f"{self._who()} gives other outputs or gradients through the core's "
                       "fast paths (its ufunc= declaration, its arithmetic vjp formulas "
                       "evaluated by the core) than through its forward and its formulas called")
        else:
            self.report.passed += 1

    def _needs_grad(self, call, outs):
        return (self.differentiable and any(t.requires_grad for t in call.leaves)
                and any(isinstance(o, TensorBase) and o.requires_grad for o in outs))

    def _output_dtypes(self, call, outs, dtype):
        expected = self.sample.out_dtype
        if expected is None:
            floats = {t._data.dtype for t in call.leaves if t._data.dtype.kind == "f"}
            if len(floats) == 1:
                expected = floats.pop()
            elif not floats and getattr(self.op, "promote", None) == "float":
                expected = get_default_float()
        for i, o in enumerate(outs):
            got = o._data.dtype if isinstance(o, TensorBase) else None
            if expected is not None and got is not None and got.kind == "f" and got != expected:
                self._fail(dtype, "output dtype",
                           f"output {i} has dtype {o.dtype}, expected "
                           f"{_dtype.from_numpy_dtype(expected)} (the dtype of the floating "
                           "inputs; give the sample an out_dtype if the op means another)")
                return False
        return True

    def _untouched(self, call, dtype):
        """Backward must not write into the inputs, the outputs, the incoming gradient or
        the values the op saved for its vjp."""
        from autogradx.autograd import backward
        leaves = call.fresh_leaves()
        outs = self._run(call, leaves, dtype, "contract")
        if outs is None:
            return
        rng = np.random.default_rng(self.seed)
        watched = [(f"its input {label!r}", t._data) for label, t in zip(call.labels, leaves)]
        roots, grads = [], []
        for i, o in enumerate(outs):
            if isinstance(o, TensorBase) and o.requires_grad and o._data.dtype.kind == "f":
                roots.append(o)
                grads.append(_like(o, rng.standard_normal(tuple(o.shape))))
                watched += [(f"output {i}", o._data), (f"the gradient of output {i}",
                                                       grads[-1]._data)]
        if roots:
            watched += self._saved_arrays(roots[0].grad_fn, [a for _, a in watched])
        before = _snapshot(watched)
        try:
            # The graph is kept, so that the saved values can be compared afterwards.
            backward(roots, grads, retain_graph=True)
        except Exception as e:
            self._fail(dtype, "contract", f"backward raised {_exc(e)}")
            return
        changed = _changed(before)
        if changed:
            self._fail(dtype, "contract", f"{self._who()} mutated its arguments in vjp: backward "
                                          f"changed {', '.join(changed)} in place; a vjp must "
                                          "not write into its arguments")
        else:
            self.report.passed += 1

    def _saved_arrays(self, node, seen):
        """``(label, array)`` for each array ``node`` saved for the vjp that is not one of
        ``seen`` (the inputs and outputs): values derived from them, and residuals."""
        saved = getattr(node, "_saved_values", None) or ()
        names = tuple(getattr(self.op, "save", None) or ())
        found = []
        for k, value in enumerate(saved):
            label = f"its saved value {names[k]!r}" if k < len(names) else \
                f"its residual {k - len(names)}"
            parts = enumerate(value) if isinstance(value, tuple) else [(None, value)]
            for j, part in parts:
                if _is_array(part) and not any(part is a for a in seen):
                    found.append((label if j is None else f"{label}[{j}]", part))
        return found

    def _who(self):
        plugin = getattr(self.op, "plugin", None)
        return f"op {self.name!r}" + (f" (plugin {plugin!r})" if plugin else "")

    def second_order(self):
        """Gradients of gradients against finite differences, in float64."""
        if not self.differentiable:
            return
        dtype = np.dtype(np.float64)
        call = _Call(self.op, self.sample, self.seed, dtype)
        try:
            outs = call(*call.leaves)
        except Exception:
            return      # reported by the first-order checks
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        if not self._needs_grad(call, outs):
            return
        try:
            testing.gradgradcheck(call, tuple(call.leaves), atol=self.atol, rtol=self.rtol,
                                  seed=self.seed)
            self.report.passed += 1
        except testing.GradcheckError as e:
            self._fail(dtype, "second order", str(e) + "\n(if the op's vjp is not meant to be "
                       "differentiable, give the sample options(second_order=False))")
        except Exception as e:
            self._fail(dtype, "second order", f"raised {_exc(e)}")

    def forward_mode(self):
        """The jvp (forward_ad) in float64 against central finite differences, and against
        the vjp by the transpose identity ``<u, J v> = <J^T u, v>``."""
        if not self.differentiable:
            return
        dtype = np.dtype(np.float64)
        call = _Call(self.op, self.sample, self.seed, dtype)
        leaves = [t.detach() for t in call.leaves]
        wrt = [i for i, t in enumerate(call.leaves) if t.requires_grad]
        if not wrt:
            return
        rng = np.random.default_rng(self.seed + 7919)
        tangents = {i: _random_like(rng, leaves[i]) for i in wrt}
        try:
            jv, primal = _jvp_of(call, leaves, tangents)
        except Exception as e:
            self._fail(dtype, "forward mode", f"the jvp raised {_exc(e)}")
            return
        if not jv:
            return
        # A leaf held in a lower precision (a float32 src) needs a larger step.
        low = any(leaves[i]._data.dtype.itemsize < (16 if leaves[i].is_complex() else 8)
                  for i in wrt)
        eps = 1e-3 if low else 1e-6
        plus = _float_outputs(call(*[t + eps * tangents[i] if i in tangents else t
                                     for i, t in enumerate(leaves)]))
        minus = _float_outputs(call(*[t - eps * tangents[i] if i in tangents else t
                                      for i, t in enumerate(leaves)]))
        atol, rtol = self._tolerances(np.dtype(np.float32) if low else dtype)
        problems = []
        for k, got in jv.items():
            fd = (_host(plus[k]._data) - _host(minus[k]._data)) / (2 * eps)
            if not np.allclose(_host(got._data), fd, atol=atol, rtol=rtol):
                problems.append(f"output {k}: jvp {_host(got._data).ravel()[:6]} but finite "
                                f"differences give {fd.ravel()[:6]}")
        problems += _transpose_identity(call, leaves, tangents, jv, rng, atol, rtol)
        if problems:
            self._fail(dtype, "forward mode", "; ".join(problems))
        else:
            self.report.passed += 1

    def on_device(self, dtype, device):
        """Values and gradients on ``device`` match the CPU's, as that device's arrays."""
        from autogradx._device import device as as_device
        dev = as_device(device)
        call = _Call(self.op, self.sample, self.seed, dtype)
        what = f"on {dev}"
        try:
            dev_leaves = call.fresh_leaves(dev)
        except Exception as e:
            self._fail(dtype, what, f"moving the inputs to {dev} raised {_exc(e)}")
            return
        cpu_leaves = call.fresh_leaves()
        cpu = self._run(call, cpu_leaves, dtype, "forward on cpu")
        if cpu is None:
            return
        got = self._run(call, dev_leaves, dtype, what)
        if got is None:
            return
        problems = _compare_outputs(cpu, got, dev)
        if not problems and dtype.kind == "f" and self._needs_grad(call, cpu):
            problems = self._compare_gradients(cpu, got, cpu_leaves, dev_leaves, dev)
        if problems:
            self._fail(dtype, what, "\n".join(problems))
        else:
            self.report.passed += 1

    def second_order_on_device(self, dtype, device):
        """Gradients of gradients (``create_graph=True``) on ``device`` match the CPU's."""
        from autogradx._device import device as as_device
        if not self.differentiable or dtype.kind != "f":
            return
        dev = as_device(device)
        call = _Call(self.op, self.sample, self.seed, dtype)
        found = []
        for where in (None, dev):
            try:
                found.append(self._second_order_grads(call, call.fresh_leaves(where)))
            except Exception as e:
                self._fail(dtype, f"second order on {where or 'cpu'}", f"raised {_exc(e)}")
                return
        cpu, got = found
        if cpu is None:
            return      # no gradient depends on the inputs: nothing to compare
        problems = []
        for i, (c, g) in enumerate(zip(cpu, got)):
            if (c is None) != (g is None):
                problems.append(f"second-order gradient of input {i}: "
                                f"{'None' if c is None else 'a tensor'} on cpu, "
                                f"{'None' if g is None else 'a tensor'} on {dev}")
            elif c is not None:
                problems += _compare_tensor(f"second-order gradient of input {i}", c, g, dev)
        if problems:
            self._fail(dtype, f"second order on {dev}", "\n".join(problems))
        else:
            self.report.passed += 1

    def _second_order_grads(self, call, leaves):
        """The gradients of ``<vjp(u), v>`` with respect to the leaves, for random u, v
        drawn alike on every device; None when the first-order gradients are constants."""
        from autogradx.autograd import grad
        rng = np.random.default_rng(self.seed)
        out = call(*leaves)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        roots = [o for o in outs if isinstance(o, TensorBase) and o.requires_grad
                 and o._data.dtype.kind == "f"]
        xs = [t for t in leaves if t.requires_grad]
        if not roots or not xs:
            return None
        us = [_like(o, rng.standard_normal(tuple(o.shape))) for o in roots]
        gs = grad(roots, xs, us, create_graph=True, allow_unused=True)
        terms = [(g * _like(g, rng.standard_normal(tuple(g.shape)))).sum()
                 for g in gs if g is not None and g.requires_grad]
        if not terms:
            return None
        return grad(sum(terms[1:], terms[0]), xs, allow_unused=True)

    def _compare_gradients(self, cpu, got, cpu_leaves, dev_leaves, dev):
        from autogradx.autograd import backward
        rng = np.random.default_rng(self.seed)
        pairs = [(c, g) for c, g in zip(cpu, got)
                 if isinstance(c, TensorBase) and c.requires_grad and c._data.dtype.kind == "f"]
        us = [rng.standard_normal(tuple(c.shape)) for c, _ in pairs]
        try:
            backward([c for c, _ in pairs], [_like(c, u) for (c, _), u in zip(pairs, us)])
        except Exception as e:
            return [f"backward on cpu raised {_exc(e)}"]
        try:
            backward([g for _, g in pairs], [_like(g, u) for (_, g), u in zip(pairs, us)])
        except Exception as e:
            return [f"backward on {dev} raised {_exc(e)}"]
        problems = []
        for i, (c, g) in enumerate(zip(cpu_leaves, dev_leaves)):
            if not c.requires_grad:
                continue
            if (c.grad is None) != (g.grad is None):
                problems.append(f"gradient of input {i}: {c.grad is None and 'None' or 'a tensor'}"
                                f" on cpu, {g.grad is None and 'None' or 'a tensor'} on {dev}")
            elif c.grad is not None:
                problems += _compare_tensor(f"gradient of input {i}", c.grad, g.grad, dev)
        return problems


def _compare_outputs(cpu, got, dev):
    if len(cpu) != len(got):
        return [f"{len(got)} outputs on {dev}, {len(cpu)} on cpu"]
    problems = []
    for i, (c, g) in enumerate(zip(cpu, got)):
        problems += _compare_tensor(f"output {i}", c, g, dev)
    return problems


def _compare_tensor(what, c, g, dev):
    if not isinstance(c, TensorBase):
        return [] if c == g else [f"{what} is {g!r} on {dev}, {c!r} on cpu"]
    if g.device.type != dev.type or dev.index not in (None, g.device.index):
        return [f"{what} is on {g.device} (a {type(g._data).__name__}), expected {dev}"]
    if g._data.dtype != c._data.dtype or tuple(g.shape) != tuple(c.shape):
        return [f"{what}: dtype {g.dtype} shape {tuple(g.shape)} on {dev}, "
                f"dtype {c.dtype} shape {tuple(c.shape)} on cpu"]
    a, b = _host(g._data), _host(c._data)
    tol = 1e-5 if a.dtype.kind == "f" and a.dtype.itemsize <= 4 else 1e-10
    if a.dtype.kind in "fc":
        ok = np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True)
    else:
        ok = np.array_equal(a, b)
    return [] if ok else [f"{what} differs: {a!r} on {dev}, {b!r} on cpu"]


def _host(data):
    if type(data) is np.ndarray:
        return data
    from autogradx.backends import backend_of
    return backend_of(data).to_host(data)


def _like(t, values):
    """A tensor of ``values`` with ``t``'s dtype, on ``t``'s device."""
    import autogradx
    out = autogradx.tensor(np.asarray(values), dtype=t.dtype)
    return out if t.device.type == "cpu" else out.to(t.device)


def _is_array(value):
    """True for a NumPy array or an array of a registered backend."""
    from autogradx.backends import backend_of
    return type(value) is np.ndarray or backend_of(value) is not None


def _random_like(rng, t):
    import autogradx
    values = rng.standard_normal(tuple(t.shape))
    if t.is_complex():
        values = values + 1j * rng.standard_normal(tuple(t.shape))
    return autogradx.as_tensor(values.astype(t._data.dtype))


def _float_outputs(out):
    """{position: tensor} for the floating (and complex) tensor outputs of a call."""
    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    return {k: o for k, o in enumerate(outs)
            if isinstance(o, TensorBase) and (o.is_floating_point() or o.is_complex())}


def _jvp_of(call, leaves, tangents):
    """({output position: its tangent}, the primal outputs) by forward_ad."""
    from autogradx.autograd import forward_ad as fwAD
    with fwAD.dual_level():
        duals = [fwAD.make_dual(t, tangents[i]) if i in tangents else t
                 for i, t in enumerate(leaves)]
        outs = _float_outputs(call(*duals))
        jv = {}
        for k, o in outs.items():
            primal, t = fwAD.unpack_dual(o)
            jv[k] = t if t is not None else primal.detach() * 0
    return jv, outs


def _transpose_identity(call, leaves, tangents, jv, rng, atol, rtol):
    """Problems with ``<u, J v> = <J^T u, v>`` (u random, J^T u by backward)."""
    import autogradx
    xs = [t.clone().requires_grad_() if i in tangents else t for i, t in enumerate(leaves)]
    outs = _float_outputs(call(*xs))
    live = [k for k, o in outs.items() if o.requires_grad]
    if not live:
        return []
    us = {k: _random_like(rng, outs[k]) for k in live}
    inputs = [xs[i] for i in tangents]
    grads = autogradx.autograd.grad([outs[k] for k in live], inputs, [us[k] for k in live],
                                    allow_unused=True)
    lhs = sum(float(np.real(np.vdot(_host(us[k]._data), _host(jv[k]._data)))) for k in live)
    rhs = sum(float(np.real(np.vdot(_host(g._data), _host(tangents[i]._data))))
              for i, g in zip(tangents, grads) if g is not None)
    if abs(lhs - rhs) > atol + rtol * max(abs(lhs), abs(rhs)):
        return [f"<u, J v> = {lhs!r} by the jvp but <J^T u, v> = {rhs!r} by the vjp"]
    return []


def _snapshot(watched):
    """``(label, array, copy of its values)`` for each ``(label, array)``."""
    return [(label, a, _host(a).copy()) for label, a in watched]


def _changed(snapshot):
    """The labels of the arrays of a :func:`_snapshot` whose values have changed since."""
    return [label for label, a, kept in snapshot if not _same(_host(a), kept)]


def _same(a, b):
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def _exc(e):
    return f"{type(e).__name__}: {e}"


# ---------------------------------------------------------------- plugins

def _registry():
    from autogradx._registry import REGISTRY
    return REGISTRY.load()


def plugin_cases(plugin_name):
    """``[(op, cases)]`` for every op of the installed plugin ``plugin_name``, where
    cases are its list of samples, a :class:`Skip`, or None when the plugin gives none.

    Samples come from a dict named ``conformance_cases`` (op name -> Sample,
    list of Samples, or Skip) in the module the plugin's entry point names, or
    else in the module that defines the op's forward.
    """
    registry = _registry()
    info = registry.plugins.get(plugin_name)
    if info is None:
        raise LookupError(f"no autogradx plugin named {plugin_name!r} is installed "
                          f"(installed: {', '.join(registry.plugins) or 'none'})")
    if info.error:
        raise LookupError(f"autogradx plugin {plugin_name!r} failed to load: {info.error}")
    tables = {}         # module name -> its conformance_cases, read once (it may be built lazily)

    def table(module_name):
        if module_name not in tables:
            tables[module_name] = _cases_of(module_name)
        return tables[module_name]

    out = []
    for name in info.ops:
        op = registry.ops[name]
        module = getattr(op.forward, "__module__", None)
        cases = None
        for where in (info.value.partition(":")[0], module):
            if name in table(where):
                cases = table(where)[name]
                break
        out.append((op, [cases] if isinstance(cases, Sample) else cases))
    return out


def _cases_of(module_name):
    if not module_name:
        return {}
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return {}
    return getattr(module, "conformance_cases", None) or {}


def case_problems(op_name, cases):
    """What is wrong with the ``conformance_cases`` entry ``cases`` of op ``op_name``
    (None when the plugin gives none), one line each; ``[]`` when it can be checked."""
    if isinstance(cases, Skip):
        return [] if str(cases.reason or "").strip() else [f"{op_name}: Skip() without a reason"]
    if cases is None:
        return [f"{op_name}: no conformance_cases (give samples, or Skip(reason))"]
    if not cases:
        return [f"{op_name}: an empty list of samples"]
    out = []
    for s in cases:
        if not isinstance(s, Sample):
            out.append(f"{op_name}: {s!r} is not a Sample")
        elif not s.second_order and not s.reason:
            out.append(f"{op_name} ({s.describe()}): second order off without a reason "
                       "(Sample.options(reason=...))")
    return out


def run(plugin_name, dtypes=(_dtype.float32, _dtype.float64), *, device=None,
        second_order=True, allow_skips=False):
    """Check every op of the installed plugin ``plugin_name``; returns a :class:`Report`.

    An op whose entry in ``conformance_cases`` is missing or malformed (see
    :func:`case_problems`) is a failure, and so is a run that checks no op at all: CI
    must not pass on a plugin that ships no samples. With ``allow_skips`` ops without
    samples are listed as skipped instead, and checking nothing passes. An op given
    ``Skip(reason)`` is listed as skipped either way."""
    report = Report(f"autogradx conformance of plugin {plugin_name!r}")
    for op, cases in plugin_cases(plugin_name):
        if cases is None and allow_skips:
            report.skipped.append((op.name, "the plugin gives no conformance_cases for it"))
            continue
        problems = case_problems(op.name, cases)
        if problems:
            report.fail(op.name, "conformance_cases", "\n".join(problems))
            continue
        report.merge(check_op(op, cases, dtypes, device=device, second_order=second_order,
                              raise_exception=False))
    if not report.ops and not allow_skips:
        report.fail(plugin_name, "plugin", "no op was checked: give conformance_cases "
                    "(see docs/plugins.md), or pass --allow-skips to accept checking nothing")
    return report


def main(argv=None):
    """``python -m autogradx.conformance NAME``: exit status 0 if every check passed."""
    parser = argparse.ArgumentParser(
        prog="python -m autogradx.conformance",
        description="Check every op of an installed autogradx plugin: gradients in each "
                    "dtype, dtypes, second order, and optionally a device against the CPU. "
                    "Exit status 1 when a check fails, an op has no conformance_cases, or "
                    "nothing was checked.")
    parser.add_argument("plugin", help="the plugin's name (see python -m autogradx info)")
    parser.add_argument("--dtypes", default="float32,float64",
                        help="comma-separated dtypes to check (default: float32,float64)")
    parser.add_argument("--device", help="also compare with the CPU on this device (cuda)")
    parser.add_argument("--no-second-order", action="store_true",
                        help="skip gradients of gradients")
    parser.add_argument("--allow-skips", action="store_true",
                        help="list ops without conformance_cases as skipped, not failed, and "
                             "pass a run that checks nothing")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="every failure in full, and a line for each op that passed")
    args = parser.parse_args(argv)
    try:
        report = run(args.plugin, tuple(d.strip() for d in args.dtypes.split(",") if d.strip()),
                     device=args.device, second_order=not args.no_second_order,
                     allow_skips=args.allow_skips)
    except LookupError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 1
    print(report.format(verbose=args.verbose))
    return 0 if report.ok else 1
