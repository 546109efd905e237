"""Grad mode: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, per thread."""

import functools
import inspect

from autogradx._core.grad_mode import _set_grad_enabled, is_grad_enabled

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode"]


class _GradModeContext:
    """A context manager that is also a decorator (``@no_grad()`` or ``@no_grad``)."""

    _enabled = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if func is not None and callable(func) and cls is not set_grad_enabled:
            return self(func)   # used bare as ``@no_grad``
        return self

    def __enter__(self):
        self._prev = _set_grad_enabled(self._enabled)
        return self

    def __exit__(self, *exc):
        _set_grad_enabled(self._prev)
        return False

    def __call__(self, func):
        if inspect.isgeneratorfunction(func):
            raise TypeError(f"{type(self).__name__} cannot decorate generator function "
                            f"{func.__qualname__}")
        enabled = self._enabled

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = _set_grad_enabled(enabled)
            try:
                return func(*args, **kwargs)
            finally:
                _set_grad_enabled(prev)

        return wrapper

    def clone(self):
        return type(self)()


class no_grad(_GradModeContext):
    """Disable gradient recording on this thread (a context manager or decorator)."""

    _enabled = False


class enable_grad(_GradModeContext):
    """Enable gradient recording on this thread, e.g. inside ``no_grad``."""

    _enabled = True


class inference_mode(_GradModeContext):
    """Like ``no_grad`` (autogradx has no separate inference tensors)."""

    def __init__(self, mode=True):
        self._enabled = not mode


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
