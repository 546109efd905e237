"""Anomaly detection: a NaN produced in backward becomes an error that names the
node and shows where the forward created it. Off (the default), it costs a flag
check per recorded op."""

from autogradx._core.grad_mode import _set_anomaly_enabled, is_anomaly_enabled

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = _set_anomaly_enabled(self.check_nan)
        return self

    def __exit__(self, *exc):
        _set_anomaly_enabled(self._prev)
        return False

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return func(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Turn anomaly detection on or off: at once, or for a ``with`` block."""

    def __init__(self, mode, check_nan=True):
        self._prev = _set_anomaly_enabled(bool(mode) and check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set_anomaly_enabled(self._prev)
        return False
