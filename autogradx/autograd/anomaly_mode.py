"""Anomaly detection, as in ``torch.autograd.anomaly_mode``: nodes recorded while it is on
keep the traceback of the forward call that made them; when a node's backward fails, a
warning shows that traceback (and those of the nodes whose backward made it); with
``check_nan``, a NaN gradient is such a failure. Off (the default), it costs a flag check
per recorded op and per node run."""

import functools
import warnings

from autogradx._core.grad_mode import (
    _set_anomaly_enabled, is_anomaly_check_nan_enabled, is_anomaly_enabled,
)

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on; it warns, as
    PyTorch does, that this slows everything down."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", UserWarning, stacklevel=2)

    def __enter__(self):
        self._prev = _set_anomaly_enabled(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set_anomaly_enabled(*self._prev)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = _set_anomaly_enabled(True, self.check_nan)
            try:
                return func(*args, **kwargs)
            finally:
                _set_anomaly_enabled(*prev)
        return wrapper


class set_detect_anomaly:
    """Turn anomaly detection on or off: at once, or for a ``with`` block."""

    def __init__(self, mode, check_nan=True):
        self._prev = _set_anomaly_enabled(bool(mode), check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set_anomaly_enabled(*self._prev)
        return False
