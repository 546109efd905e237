"""A stand-in backend for a made-up device type, ``fake``, that runs on the CPU.

CI has no GPU, yet the op definitions must run on any array module with
NumPy's API (CuPy on a GPU). This backend is as strict as CuPy, and stricter
where that catches more:

* its arrays are :class:`FakeArray`, an ``ndarray`` subclass that autogradx's
  NumPy path does not recognise (the core matches ``type(a) is np.ndarray``);
* its module, ``fakenumpy``, forwards NumPy's functions, takes FakeArrays and
  gives FakeArrays back (0-d arrays, never NumPy scalars, as CuPy does: indexing
  one element too), and
  refuses plain ``np.ndarray`` arguments except in the conversion functions
  (``asarray``, ``array``, ...), which copy host data to the device, as
  ``cupy.asarray`` does;
* a NumPy function called directly on a FakeArray (``np.exp(x)`` in an op
  instead of ``xp.exp(x)``) raises, and so does a ufunc mixing a FakeArray
  with a plain ndarray (``x * np.ones(3)``); array methods and operators
  (``x.sum()``, ``x + y``) work, as they do on CuPy arrays.

Each refusal raises :class:`FakeDeviceError` naming the NumPy function, so a
failing op says which line of it is NumPy-only.

What it cannot catch: a FakeArray *is* an ndarray to NumPy's C code and to
``isinstance(x, np.ndarray)``, so NumPy indexing a host array with a device
index array, or an ``isinstance`` test, passes here and would fail on CuPy.
Stricter than CuPy: CuPy serves ``np.exp(cupy_array)`` through NumPy's
dispatch protocols; here that is refused, since an op should use ``xp``.
"""

import os
import threading
import types

import numpy as np
import pytest

from autogradx import backends

DEVICE = "fake"


class FakeDeviceError(TypeError):
    """An op handed NumPy data, or NumPy functions, to the fake device."""


_state = threading.local()


class _Sanctioned:
    """Marks NumPy machinery running on behalf of a FakeArray method or operator."""

    def __enter__(self):
        _state.depth = getattr(_state, "depth", 0) + 1

    def __exit__(self, *exc):
        _state.depth -= 1


_SANCTIONED = _Sanctioned()


def _sanctioned():
    return getattr(_state, "depth", 0) > 0


class FakeArray(np.ndarray):
    """An array on the fake device: NumPy memory under a type autogradx treats as foreign."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        where = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        if not _sanctioned():
            raise FakeDeviceError(
                f"{where} was called directly on a fake-device array: an op must use the "
                f"array module it is handed (xp.{ufunc.__name__}), not NumPy")
        return _call(getattr(ufunc, method), where, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        raise FakeDeviceError(
            f"numpy.{func.__name__} was called on a fake-device array: an op must use the "
            f"array module it is handed (xp.{func.__name__}), not NumPy")

    def __getitem__(self, key):
        # An integer index gives a 0-d array, as on CuPy, not NumPy's scalar (host data).
        out = super().__getitem__(key)
        return np.asarray(out).view(FakeArray) if isinstance(out, np.generic) else out

    def get(self):
        """A host copy (CuPy's ``ndarray.get``)."""
        return np.array(self.view(np.ndarray))

    def __repr__(self):
        return f"FakeArray({self.view(np.ndarray)!r})"


def _sanction(name):
    method = getattr(np.ndarray, name)

    def wrapper(self, *args, **kwargs):
        with _SANCTIONED:
            return method(self, *args, **kwargs)

    wrapper.__name__ = name
    return wrapper


# Operators and methods go through ufuncs (``x.sum()`` is ``np.add.reduce``): allowed.
for _name in (
    "__add__ __radd__ __iadd__ __sub__ __rsub__ __isub__ __mul__ __rmul__ __imul__ "
    "__truediv__ __rtruediv__ __itruediv__ __floordiv__ __rfloordiv__ __ifloordiv__ "
    "__mod__ __rmod__ __imod__ __pow__ __rpow__ __ipow__ __matmul__ __rmatmul__ __divmod__ "
    "__neg__ __pos__ __abs__ __invert__ __and__ __rand__ __iand__ __or__ __ror__ __ior__ "
    "__xor__ __rxor__ __ixor__ __lshift__ __rshift__ __eq__ __ne__ __lt__ __le__ __gt__ "
    "__ge__ __bool__ sum prod mean std var max min all any cumsum cumprod clip round dot "
    "argmax argmin trace"
).split():
    setattr(FakeArray, _name, _sanction(_name))


def _device_value(value, where):
    """An argument for NumPy: FakeArrays as plain views of their memory, host arrays refused."""
    if isinstance(value, FakeArray):
        return value.view(np.ndarray)
    if isinstance(value, np.ndarray):
        raise FakeDeviceError(
            f"{where} got a NumPy array (shape {value.shape}, dtype {value.dtype}) on the fake "
            "device: convert host data with xp.asarray first (CuPy refuses NumPy arrays too)")
    if type(value) in (list, tuple):
        return type(value)(_device_value(v, where) for v in value)
    return value


def _device_result(value):
    """NumPy's result as fake-device data: arrays and NumPy scalars become FakeArrays."""
    if isinstance(value, np.ndarray):
        return value.view(FakeArray)
    if isinstance(value, np.generic):
        return np.asarray(value).view(FakeArray)
    if isinstance(value, tuple):
        items = [_device_result(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [_device_result(v) for v in value]
    return value


def _call(fn, where, args, kwargs):
    args = [_device_value(a, where) for a in args]
    kwargs = {k: _device_value(v, where) for k, v in kwargs.items()}
    out = kwargs.get("out")
    result = fn(*args, **kwargs)
    if out is not None:
        return _out_arrays(out)
    return _device_result(result)


def _out_arrays(out):
    """With ``out=``, NumPy returns the (plain view of the) out array: give the caller's back."""
    if isinstance(out, tuple):
        return tuple(o.view(FakeArray) for o in out) if len(out) > 1 else out[0].view(FakeArray)
    return out.view(FakeArray)


# Conversions copy host data to the device (cupy.asarray(numpy_array)).
_CONVERSIONS = frozenset({"asarray", "array", "asanyarray", "ascontiguousarray"})


class _Ufunc:
    """``fakenumpy.exp``: a NumPy ufunc over fake-device arrays, with its methods (``at``...)."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        return _call(self._ufunc, f"fakenumpy.{self.__name__}", args, kwargs)

    def __getattr__(self, name):
        attr = getattr(self._ufunc, name)
        if not callable(attr):
            return attr
        where = f"fakenumpy.{self.__name__}.{name}"
        return lambda *args, **kwargs: _call(attr, where, args, kwargs)


def _function(fn, qualname):
    if fn.__name__ in _CONVERSIONS:
        def convert(obj, *args, **kwargs):
            if isinstance(obj, FakeArray):
                obj = obj.view(np.ndarray)
            return fn(obj, *args, **kwargs).view(FakeArray)
        return convert

    def forward(*args, **kwargs):
        return _call(fn, qualname, args, kwargs)
    forward.__name__ = fn.__name__
    return forward


# The submodules CuPy has too (cupy.lib.stride_tricks: as_strided, sliding_window_view).
_SUBMODULES = frozenset({"linalg", "fft", "lib", "stride_tricks"})


class FakeNumPy(types.ModuleType):
    """NumPy's namespace over FakeArrays (``fakenumpy.linalg`` too)."""

    def __init__(self, name, target):
        super().__init__(name)
        self._target = target
        self.ndarray = FakeArray

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(self._target, name)
        qualname = f"{self.__name__}.{name}"
        if isinstance(value, np.ufunc):
            value = _Ufunc(value)
        elif isinstance(value, types.ModuleType):
            if name not in _SUBMODULES:
                raise AttributeError(f"the fake backend does not provide numpy.{name}")
            value = FakeNumPy(qualname, value)
        elif callable(value) and not isinstance(value, type):
            value = _function(value, qualname)
        setattr(self, name, value)      # cached: looked up once
        return value


fakenumpy = FakeNumPy("fakenumpy", np)


def to_fake(array, index):
    """A host array copied to the fake device (it has one: ``index`` is always 0)."""
    return np.array(array).view(FakeArray)


def make_backend():
    return backends.Backend(DEVICE, DEVICE, module=fakenumpy, array_type=FakeArray,
                            to_device=to_fake, to_host=lambda a: a.get())


@pytest.fixture(scope="session")
def fake_device():
    """The ``fake`` device, registered for the session; yields its Backend."""
    from autogradx._registry import REGISTRY
    REGISTRY.load()         # first, so that the registry's own loading cannot replace it
    backend = backends.register(make_backend())
    yield backend
    backends._BACKENDS.pop(DEVICE, None)
    backends._BY_ARRAY_TYPE.pop(FakeArray, None)


@pytest.fixture(scope="session")
def device_under_test(request):
    """The device compared with the CPU: ``fake``, or the one ``AUTOGRADX_TEST_DEVICE``
    names (``cuda`` on a GPU machine; skipped where its backend is unavailable)."""
    name = os.environ.get("AUTOGRADX_TEST_DEVICE", DEVICE)
    if name == DEVICE:
        request.getfixturevalue("fake_device")
        return name
    try:
        backends.get_backend(name)
    except RuntimeError as e:
        pytest.skip(f"AUTOGRADX_TEST_DEVICE={name}: {e}")
    return name
