"""Finds op plugins through entry points, validates them, and serves ops.

Loading is lazy: nothing is scanned until the first op is needed, so that
``import autogradx`` stays cheap. The built-in NumPy ops are loaded through
the same entry point group as any third-party plugin.
"""

import os
import threading
import warnings

from autogradx.plugin import ENTRY_POINT_GROUP, Op, Plugin

#: Set to 1 to load only autogradx's own plugins (third-party code never runs).
DISABLE_ENV = "AUTOGRADX_DISABLE_PLUGINS"

BUILTIN_DIST = "autogradx"


class PluginWarning(UserWarning):
    """A plugin failed to load or conflicts with another one."""


class PluginInfo:
    """What the registry knows of one entry point."""

    __slots__ = ("name", "value", "dist", "version", "ops", "error", "builtin")

    def __init__(self, name, value, dist, version, builtin):
        self.name, self.value, self.dist, self.version = name, value, dist, version
        self.builtin = builtin
        self.ops = []
        self.error = None

    def __repr__(self):
        state = f"failed: {self.error}" if self.error else f"{len(self.ops)} ops"
        return f"<PluginInfo {self.name!r} ({self.dist} {self.version}): {state}>"


class Registry:
    def __init__(self):
        self.ops = {}
        self.plugins = {}
        self.duplicates = []
        self.backends = []
        self._lock = threading.RLock()
        self._loaded = False
        self._loading = False

    def load(self):
        with self._lock:
            if self._loaded or self._loading:
                # Loaded, or loading on this thread: a plugin's import reached autogradx
                # again (e.g. ``from autogradx import testing``); it sees the ops so far.
                return self
            self._loading = True
            try:
                return self._load()
            finally:
                self._loading = False

    def _load(self):
        from importlib.metadata import entry_points

        eps = list(entry_points(group=ENTRY_POINT_GROUP))
        builtin = [ep for ep in eps if _dist_name(ep) == BUILTIN_DIST]
        others = sorted((ep for ep in eps if _dist_name(ep) != BUILTIN_DIST),
                        key=lambda ep: ep.name)
        if not builtin:
            raise ImportError(
                f"autogradx's built-in ops were not found in the {ENTRY_POINT_GROUP!r} "
                "entry points: install autogradx with pip (pip install -e .) so that its "
                "entry points are registered")
        if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
            others = []
        for ep in builtin + others:
            self._load_entry_point(ep, builtin=ep in builtin)
        self._loaded = True
        return self

    def _load_entry_point(self, ep, builtin):
        dist = ep.dist
        info = PluginInfo(ep.name, ep.value, dist.name if dist else None,
                          dist.version if dist else None, builtin)
        self.plugins[ep.name] = info
        try:
            obj = ep.load()
            plugin = obj() if callable(obj) and not isinstance(obj, Plugin) else obj
            if not isinstance(plugin, Plugin):
                raise TypeError(
                    f"entry point {ep.value!r} gave {type(plugin).__name__}, "
                    "expected an autogradx.plugin.Plugin")
        except (Exception, SystemExit) as exc:     # a plugin's sys.exit() must not end the program
            if builtin:
                raise
            info.error = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"autogradx plugin {ep.name!r} ({ep.value}) failed to load and was skipped: "
                f"{info.error}", PluginWarning, stacklevel=4)
            return
        for op in plugin.ops:
            self._add(op, info)
        for op_name, module_name, other in plugin.overrides:
            target = self.ops.get(op_name)
            if target is None:
                warnings.warn(f"autogradx plugin {info.name!r} overrides op {op_name!r}, which "
                              "no plugin registers; skipped", PluginWarning, stacklevel=4)
                continue
            try:
                other._set_plugin(info.name)
                target._add_override(module_name, other)
            except ValueError as exc:
                warnings.warn(f"autogradx plugin {info.name!r}: {exc}; skipped", PluginWarning,
                              stacklevel=4)
        from autogradx.backends import register
        for backend in plugin.backends:
            backend.plugin = info.name
            self.backends.append(register(backend))

    def _add(self, op, info):
        if not isinstance(op, Op):
            warnings.warn(f"autogradx plugin {info.name!r}: skipped {op!r}, not an Op",
                          PluginWarning, stacklevel=5)
            return
        existing = self.ops.get(op.name)
        if existing is not None:
            self.duplicates.append((op.name, existing.plugin, info.name))
            warnings.warn(
                f"autogradx plugin {info.name!r} registers op {op.name!r}, already registered "
                f"by plugin {existing.plugin!r}; the first registration is kept",
                PluginWarning, stacklevel=5)
            return
        if op.plugin is not None and op.plugin != info.name:
            warnings.warn(f"autogradx plugin {info.name!r}: op {op.name!r} already belongs to "
                          f"plugin {op.plugin!r}; skipped", PluginWarning, stacklevel=5)
            return
        op._set_plugin(info.name)
        self.ops[op.name] = op
        info.ops.append(op.name)

    def namespace(self, namespace):
        """``{function name: op}`` for the ops exposed in ``namespace`` (aliases included)."""
        self.load()
        out = {}
        for op in self.ops.values():
            if namespace in op.namespaces:
                for name in (op.name.rpartition(".")[2],) + op.aliases:
                    out.setdefault(name, op)
        return out

    def methods(self):
        """``{method name: callable}`` for the Tensor methods ops declare (and in-place ones)."""
        from autogradx._core.op import InplaceMethod
        self.load()
        out = {}
        for op in self.ops.values():
            if op.method:
                for name in (op.method,) + op.aliases:
                    out.setdefault(name, op)
            if op.inplace:
                inplace = InplaceMethod(op)
                out.setdefault(op.inplace, inplace)
                for alias in op.aliases:             # multiply -> multiply_, as in PyTorch
                    out.setdefault(alias + "_", inplace)
        return out


def _dist_name(ep):
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else None


REGISTRY = Registry()


def get_op(name):
    """The registered op called ``name``."""
    ops = REGISTRY.load().ops
    try:
        return ops[name]
    except KeyError:
        raise NotImplementedError(
            f"no op named {name!r} is registered (plugins: "
            f"{', '.join(REGISTRY.plugins) or 'none'})") from None
