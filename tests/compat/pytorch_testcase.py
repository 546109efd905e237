"""The parts of PyTorch's test harness (``torch.testing._internal.common_utils``) that its
ported tests call, written over autogradx.

The ported files keep PyTorch's test bodies with the smallest mechanical change: ``import
autogradx as torch``, and ``TestCase`` from here. ``assertEqual`` follows PyTorch's rules:
tensors compare by value with the tolerance of their dtype, the dtypes must agree unless
``exact_dtype=False``, a number compares with a tensor of one element, and sequences compare
item by item.
"""

import contextlib
import functools
import gc
import math
import unittest
import warnings

import numpy as np

import autogradx as torch
from autogradx.autograd.gradcheck import gradcheck as _gradcheck
from autogradx.autograd.gradcheck import gradgradcheck as _gradgradcheck

def gradcheck(fn, inputs, **kwargs):
    """PyTorch's harness wrapper: ``torch.autograd.gradcheck`` with check_batched_grad and
    fast_mode on unless the test says otherwise."""
    return _gradcheck(fn, inputs, **_harness_defaults(kwargs))


def gradgradcheck(fn, inputs, grad_outputs=None, **kwargs):
    """PyTorch's harness wrapper of ``torch.autograd.gradgradcheck``, as :func:`gradcheck`."""
    return _gradgradcheck(fn, inputs, grad_outputs, **_harness_defaults(kwargs))


def _harness_defaults(kwargs):
    for key in ("check_batched_grad", "fast_mode"):
        if kwargs.get(key) is None:
            kwargs[key] = True
    return kwargs


# PyTorch's default tolerances by dtype (torch.testing._comparison).
_TOLERANCES = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}


def _array(x):
    if isinstance(x, torch.Tensor):
        return np.asarray(x.detach().cpu().numpy())
    return np.asarray(x)


def _dtype_name(x):
    return str(np.dtype(_array(x).dtype))


def _is_number(x):
    return isinstance(x, (int, float, complex)) and not isinstance(x, bool)


def _is_tensorish(x):
    return isinstance(x, (torch.Tensor, np.ndarray))


class _Missing:
    """Stands for a name of torch's public API that autogradx lacks: the module imports, and
    each ported method that uses the name fails, naming it."""

    def __init__(self, dotted):
        self._dotted = dotted

    def _fail(self, *args, **kwargs):
        raise AttributeError(f"autogradx has no torch.{self._dotted}")

    __call__ = __getattr__ = __iter__ = __enter__ = _fail


def public(dotted):
    """``torch.<dotted>`` from autogradx (``public("autograd.graph.GradientEdge")``), or a
    stand-in that raises AttributeError naming it when used."""
    try:
        return functools.reduce(getattr, dotted.split("."), torch)
    except AttributeError:
        return _Missing(dotted)


@contextlib.contextmanager
def disable_gc():
    """PyTorch's ``common_utils.disable_gc``: the cyclic collector off inside the block."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextlib.contextmanager
def set_warn_always_context(new_val):
    """PyTorch's ``common_utils.set_warn_always_context``. autogradx's warnings are Python's,
    which the ``warnings`` filters already govern, so where autogradx has no
    ``set_warn_always`` this changes nothing."""
    if not hasattr(torch, "set_warn_always"):
        yield
        return
    old_val = torch.is_warn_always_enabled()
    torch.set_warn_always(new_val)
    try:
        yield
    finally:
        torch.set_warn_always(old_val)


class TestCase(unittest.TestCase):
    """``unittest.TestCase`` with PyTorch's ``assertEqual`` and friends."""

    def run(self, result=None):
        # PyTorch runs these tests under Python's warning filters, where a warning is shown,
        # not raised: several of them trigger one on purpose (``.grad`` of a non-leaf) and
        # count what ``catch_warnings(record=True)`` caught. The project's
        # filterwarnings=error would turn those into failures that PyTorch does not have.
        with warnings.catch_warnings():
            warnings.resetwarnings()
            warnings.simplefilter("default")
            return super().run(result)

    def assertEqual(self, x, y, msg=None, *, atol=None, rtol=None, exact_dtype=True,
                    exact_device=False, equal_nan=True, **kwargs):
        if x is None or y is None:
            if x is not y:
                raise self.failureException(msg or f"{x!r} != {y!r}")
        elif _is_tensorish(x) or _is_tensorish(y):
            self._assert_tensor_equal(x, y, msg, atol, rtol, exact_dtype, equal_nan)
        elif isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
            self.assertEqual(len(x), len(y), msg)
            for a, b in zip(x, y):
                self.assertEqual(a, b, msg, atol=atol, rtol=rtol, exact_dtype=exact_dtype,
                                 equal_nan=equal_nan)
        elif isinstance(x, dict) and isinstance(y, dict):
            self.assertEqual(sorted(x), sorted(y), msg)
            for k in x:
                self.assertEqual(x[k], y[k], msg, atol=atol, rtol=rtol,
                                 exact_dtype=exact_dtype, equal_nan=equal_nan)
        elif _is_number(x) and _is_number(y):
            if atol is None and rtol is None:
                atol, rtol = (0, 0) if isinstance(x, int) and isinstance(y, int) else (1e-5, 1.3e-6)
            if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
                return
            if abs(x - y) > atol + rtol * abs(y):
                raise self.failureException(msg or f"{x!r} != {y!r} (atol={atol}, rtol={rtol})")
        else:
            super().assertEqual(x, y, msg)

    def _assert_tensor_equal(self, x, y, msg, atol, rtol, exact_dtype, equal_nan):
        a, b = _array(x), _array(y)
        if exact_dtype and _is_tensorish(x) and _is_tensorish(y) and a.dtype != b.dtype:
            raise self.failureException(msg or f"dtypes differ: {a.dtype} != {b.dtype}")
        if a.size == 1 and b.size == 1 and (not _is_tensorish(x) or not _is_tensorish(y)):
            a, b = a.reshape(()), b.reshape(())
        if a.shape != b.shape:
            raise self.failureException(msg or f"shapes differ: {a.shape} != {b.shape}")
        if atol is None and rtol is None:
            names = [_dtype_name(v) for v in (x, y) if _is_tensorish(v)]
            rtol, atol = max((_TOLERANCES.get(n, (0.0, 0.0)) for n in names), default=(0, 0))
        atol = 0.0 if atol is None else atol
        rtol = 0.0 if rtol is None else rtol
        if a.dtype == bool or b.dtype == bool or (a.dtype.kind in "iu" and b.dtype.kind in "iu"):
            ok = np.array_equal(a, b)
        else:
            ok = np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
        if not ok:
            raise self.failureException(
                msg or f"tensors differ (atol={atol}, rtol={rtol}):\n{a}\n!=\n{b}")

    def assertNotEqual(self, x, y, msg=None, **kwargs):
        try:
            self.assertEqual(x, y, **kwargs)
        except self.failureException:
            return
        raise self.failureException(msg or f"{x!r} == {y!r}")

    def assertExpected(self, *args, **kwargs):
        # PyTorch compares with a stored expect file; the ports list such methods as not
        # ported instead of calling this.
        raise unittest.SkipTest("assertExpected needs PyTorch's expect files")

    @contextlib.contextmanager
    def assertNotWarn(self, msg=""):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        self.assertEqual(len(caught), 0, msg or [str(w.message) for w in caught])

    @contextlib.contextmanager
    def assertWarnsOnceRegex(self, category, regex):
        with self.assertWarnsRegex(category, regex):
            yield


def parametrize(name, values):
    """PyTorch's ``common_utils.parametrize`` for one argument name: the method runs once for
    each value, as ``<method>_<name>_<value>``, once its class has passed through
    ``instantiate_parametrized_tests``. Stacked decorators give every combination."""
    def mark(fn):
        fn._parametrize = [(name, list(values))] + getattr(fn, "_parametrize", [])
        return fn
    return mark


def _bound(fn, kwargs):
    def test(self):
        return fn(self, **kwargs)
    test.__doc__ = fn.__doc__
    return test


def instantiate_parametrized_tests(cls):
    """Replaces each ``@parametrize``d method of ``cls`` by one method per combination."""
    from itertools import product
    for attr, fn in list(vars(cls).items()):
        params = getattr(fn, "_parametrize", None)
        if not params:
            continue
        delattr(cls, attr)
        names = [name for name, _ in params]
        for combo in product(*(values for _, values in params)):
            suffix = "_".join(f"{name}_{value}" for name, value in zip(names, combo))
            setattr(cls, f"{attr}_{suffix}", _bound(fn, dict(zip(names, combo))))
    return cls
