"""Grad mode: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, per thread.

Each is a context manager and a decorator, as PyTorch's ``_DecoratorContextManager``:
a decorated generator function runs in the mode while its body runs (each step), and
the caller's mode is back between yields; decorating a class is deprecated (a
FutureWarning) and wraps its construction.
"""

import functools
import inspect
import sys
import warnings

from autogradx._core.grad_mode import (
    _set_grad_enabled, _set_inference_mode, is_grad_enabled, is_inference_mode_enabled,
)

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
           "is_inference_mode_enabled"]


class _GradModeContext:
    """A context manager that is also a decorator (``@no_grad()`` or ``@no_grad``)."""

    _enabled = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if func is not None and callable(func) and cls is not set_grad_enabled:
            return self(func)   # used bare as ``@no_grad``
        return self

    def __enter__(self):
        self._prev = self._switch()
        return self

    def __exit__(self, *exc):
        self._restore(self._prev)
        return False

    def _switch(self):
        """Put this thread in the mode; return what ``_restore`` puts back."""
        return _set_grad_enabled(self._enabled)

    def _restore(self, prev):
        _set_grad_enabled(prev)

    def __call__(self, func):
        if inspect.isclass(func):
            warnings.warn(
                "Decorating classes is deprecated and will be disabled in future versions. You "
                "should only decorate functions or methods. To preserve the current behavior "
                "of class decoration, you can directly decorate the `__init__` method and "
                "nothing else.", FutureWarning, stacklevel=2)
            cls = func
            func = lambda *args, **kwargs: cls(*args, **kwargs)   # noqa: E731  (as PyTorch)
        if inspect.isgeneratorfunction(func):
            return _wrap_generator(self, func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = self._switch()
            try:
                return func(*args, **kwargs)
            finally:
                self._restore(prev)

        return wrapper

    def clone(self):
        return type(self)()


def _wrap_generator(mode, func):
    """``func`` (a generator function) in ``mode`` (a _GradModeContext) around each step of
    the generator: its start, every ``send``/``throw`` and its ``close``."""

    def step(method, *args):
        prev = mode._switch()
        try:
            return method(*args)
        finally:
            mode._restore(prev)

    @functools.wraps(func)
    def generator_context(*args, **kwargs):
        gen = func(*args, **kwargs)
        try:
            response = step(gen.send, None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    step(gen.close)
                    raise
                except BaseException:
                    response = step(gen.throw, sys.exc_info()[1])
                else:
                    response = step(gen.send, request)
        except StopIteration as stop:
            return stop.value

    return generator_context


class no_grad(_GradModeContext):
    """Disable gradient recording on this thread (a context manager or decorator)."""

    _enabled = False


class enable_grad(_GradModeContext):
    """Enable gradient recording on this thread, e.g. inside ``no_grad``."""

    _enabled = True


class inference_mode(_GradModeContext):
    """Like ``no_grad`` (autogradx has no separate inference tensors); a view made in it is
    named as made in inference mode when an in-place change of it is refused."""

    def __init__(self, mode=True):
        self._enabled = not mode

    def _switch(self):
        return _set_grad_enabled(self._enabled), _set_inference_mode(not self._enabled)

    def _restore(self, prev):
        _set_grad_enabled(prev[0])
        _set_inference_mode(prev[1])

    def clone(self):
        return type(self)(not self._enabled)


class set_grad_enabled(_GradModeContext):
    """Set grad mode: as a function call it takes effect at once; as a context
    manager or decorator it is restored afterwards."""

    def __init__(self, mode):
        self._enabled = bool(mode)
        self._prev = _set_grad_enabled(self._enabled)

    def __enter__(self):
        return self

    def __call__(self, func):
        _set_grad_enabled(self._prev)   # as a decorator, only the wrapped calls change mode
        return super().__call__(func)

    def clone(self):
        """A new ``set_grad_enabled`` with the same mode."""
        return type(self)(self._enabled)
